#!/usr/bin/env python3
"""A reconnect storm: opens N TCP connections to a local server at once and prints how
many the kernel's listen queue dropped (TcpExtListenOverflows, from `nstat`), each of
which costs its client a SYN retry of a second or more.

    python3 tools/connect_storm.py PORT N

The connect times it prints are the client's own (one asyncio thread); compare the
overflow counts between settings in the same run."""
import asyncio, subprocess, sys, time
N = int(sys.argv[2]); port = int(sys.argv[1])
def overflows():
    out = subprocess.run(["nstat", "-az", "TcpExtListenOverflows"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("TcpExtListenOverflows"):
            return int(line.split()[1])
    return 0
async def one():
    t = time.monotonic()
    r, w = await asyncio.open_connection("127.0.0.1", port)
    return time.monotonic() - t, w
async def main():
    before = overflows()
    results = await asyncio.gather(*(one() for _ in range(N)), return_exceptions=True)
    after = overflows()
    ok = [r for r in results if not isinstance(r, Exception)]
    lat = sorted(r[0] for r in ok)
    print(f"connected {len(ok)}/{N}; p50 {lat[len(lat)//2]*1000:.0f} ms, p99 {lat[int(len(lat)*.99)]*1000:.0f} ms, max {lat[-1]*1000:.0f} ms; listen overflows {after-before}")
    for r in ok: r[1].close()
asyncio.run(main())

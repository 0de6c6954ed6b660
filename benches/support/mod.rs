//! What the benchmarks share: the release server as a process of its own, and small
//! HTTP helpers.
// Each bench compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The value of `--name N` on the command line, else `default`.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|pair| pair[0] == name)
        .map(|pair| {
            pair[1]
                .parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// The release server, running against its own fresh database, or joining another
/// node's (`Server::join`).
pub struct Server {
    pub child: Child,
    pub base: String,
    pub database_url: String,
    data_dir: std::path::PathBuf,
    /// Whether stopping this node drops the database (the first node's job).
    owns_database: bool,
}

impl Server {
    /// Starts `switchboard serve` on a free port with `env` added, and waits until it
    /// answers `/readyz`.
    pub async fn start(name: &str, env: &[(&str, String)]) -> Server {
        let base_url = std::env::var("SWITCHBOARD_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into());
        let mut database_url = url::Url::parse(&base_url).unwrap();
        database_url.set_path(&format!("/switchboard_{name}_{}", std::process::id()));
        let data_dir =
            std::env::temp_dir().join(format!("switchboard-{name}-{}", std::process::id()));
        Server::spawn(database_url.to_string(), data_dir, true, env).await
    }

    /// Starts another node of the same deployment: the same database and data
    /// directory (so the same secret key), with `env` added (a shared `REDIS_URL`).
    pub async fn join(&self, env: &[(&str, String)]) -> Server {
        Server::spawn(self.database_url.clone(), self.data_dir.clone(), false, env).await
    }

    async fn spawn(
        database_url: String,
        data_dir: std::path::PathBuf,
        owns_database: bool,
        env: &[(&str, String)],
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `SWITCHBOARD_BENCH_WRAP="valgrind --tool=callgrind"` (say) runs the server
        // under a profiler.
        let wrap = std::env::var("SWITCHBOARD_BENCH_WRAP").unwrap_or_default();
        let mut wrap = wrap.split_whitespace();
        let mut command = match wrap.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(wrap).arg(env!("CARGO_BIN_EXE_switchboard"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_switchboard")),
        };
        command
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("SWITCHBOARD_ADDR", format!("127.0.0.1:{port}"))
            .env("SWITCHBOARD_DATA_DIR", &data_dir)
            // The level a deployment runs at unless told otherwise: each request's span
            // is made at `info`, and costs what it costs there.
            .env("RUST_LOG", "info")
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let server = Server {
            child: command.spawn().expect("the server starts"),
            base: format!("http://127.0.0.1:{port}"),
            database_url,
            data_dir,
            owns_database,
        };
        let http = reqwest::Client::new();
        for _ in 0..1200 {
            if http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server did not come up");
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Runs a `switchboard` CLI command against the server's database.
    pub fn cli(&self, args: &[&str]) -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the CLI runs");
        serde_json::from_slice(&output.stdout).expect("JSON from the CLI")
    }

    /// Creates an organisation and returns its admin's token.
    pub async fn admin_token(&self, http: &reqwest::Client, email: &str) -> String {
        self.cli(&[
            "org",
            "create",
            "--name",
            "Bench",
            "--admin-email",
            email,
            "--admin-password",
            "bench-password",
        ]);
        let login = self
            .post(
                http,
                "/api/auth/login",
                None,
                serde_json::json!({"email": email, "password": "bench-password"}),
            )
            .await;
        login["token"].as_str().unwrap().to_string()
    }

    /// Registers the sending number +1 415 555 0100 and creates `contacts` contacts, one
    /// phone each; answers their ids.
    pub async fn clinic(
        &self,
        http: &reqwest::Client,
        token: &str,
        contacts: usize,
    ) -> Vec<String> {
        let number = serde_json::json!({"phone_number": "+14155550100"});
        self.post(http, "/api/phone-numbers", Some(token), number)
            .await;
        let mut ids = Vec::new();
        for index in 0..contacts {
            // 415-555-1000 onwards: every one a valid US number, however many there are.
            let phone = format!("+1415{}", 5_551_000 + index);
            let contact = serde_json::json!({"name": format!("Bench {index}"), "phones": [{"phone_number": phone}]});
            let contact = self.post(http, "/api/contacts", Some(token), contact).await;
            ids.push(contact["id"].as_str().unwrap().to_string());
        }
        ids
    }

    pub async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Value {
        let mut request = http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Stops the server and, unless it joined another node's, drops its database.
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        if !self.owns_database {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Err(error) = switchboard::db::drop_database(&self.database_url).await {
            eprintln!("could not drop the bench database: {error}");
        }
    }
}

/// CPU time used so far, in seconds: by the whole machine (all cores, from `/proc/stat`),
/// by the server processes (every node of `servers`), by this one and by PostgreSQL's processes, and the time the
/// hypervisor gave this machine's cores to others while they had work (steal). `None`
/// where `/proc` cannot tell (not Linux).
///
/// Steal is kept apart because it is not work of ours, yet it grows with our load: on
/// a shared host it was a third of the machine's time, and it varies from minute to
/// minute, which a single "machine CPU" figure hid.
pub fn cpu_seconds(servers: &[&Server]) -> Option<CpuSeconds> {
    fn ticks_per_second() -> f64 {
        100.0 // USER_HZ, fixed at 100 on Linux for /proc
    }
    /// (command name, utime + stime in seconds) of a process.
    fn process(pid: &str) -> Option<(String, f64)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses (and may hold spaces); utime and stime are
        // the 12th and 13th fields after it.
        let (head, tail) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_string();
        let fields: Vec<&str> = tail.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some((name, ticks / ticks_per_second()))
    }
    let postgres: f64 = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| process(&pid))
        .filter(|(name, _)| name == "postgres")
        .map(|(_, seconds)| seconds)
        .sum();
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<f64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|value| value.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle, iowait and
    // steal.
    let steal = *cpu.get(7)?;
    let busy: f64 = cpu.iter().take(7).sum::<f64>() - cpu.get(3)? - cpu.get(4)?;
    Some(CpuSeconds {
        machine: busy / ticks_per_second(),
        stolen: steal / ticks_per_second(),
        server: servers
            .iter()
            .map(|server| Some(process(&server.child.id().to_string())?.1))
            .sum::<Option<f64>>()?,
        bench: process("self")?.1,
        postgres,
    })
}

#[derive(Clone, Copy)]
pub struct CpuSeconds {
    pub machine: f64,
    pub stolen: f64,
    pub server: f64,
    pub bench: f64,
    pub postgres: f64,
}

impl CpuSeconds {
    /// What was used between `self` and `later`, per item of `count`, in microseconds:
    /// "machine X µs (server, this bench, PostgreSQL, the rest), and S µs stolen".
    pub fn per_item(self, later: CpuSeconds, count: usize) -> String {
        let per = |a: f64, b: f64| (b - a) * 1e6 / count as f64;
        let (machine, server, bench, postgres) = (
            per(self.machine, later.machine),
            per(self.server, later.server),
            per(self.bench, later.bench),
            per(self.postgres, later.postgres),
        );
        format!(
            "machine CPU {machine:.0} µs each (server {server:.0}, bench client and stand-in {bench:.0}, PostgreSQL {postgres:.0}, the rest {:.0}); {:.0} µs more stolen by the hypervisor",
            machine - server - bench - postgres,
            per(self.stolen, later.stolen)
        )
    }
}

#!/usr/bin/env python3
"""Writes tests/data/phi_corpus.jsonl: synthetic, SMS-sized drafts labelled with the PHI
they contain (kind and the exact span), written for this project; no real patient data.

Two sources: drafts filled in from the templates below ("source": "template"), and the
drafts in tools/phi_corpus_handwritten.txt ("source": "hand"), written one by one the
way front desks write (typos, lower case, run-on sentences, numbers split by spaces,
Spanish), about half of them lookalikes that must not block. There, one draft is one line,
`\n` stands for a line break and `{{kind|value}}` marks and labels PHI. The scoring test
holds the hand-written share at a third or more.

Each line: {"text": ..., "findings": [{"kind": ..., "value": ...}], "source": ...} where
`value` is the exact identifier text (the test locates it in `text`). Deterministic (fixed
seed), so the file only changes when the inputs do: run `python3 tools/gen_phi_corpus.py`.
"""
import json
import random
import re
from pathlib import Path

rng = random.Random(20261121)

def luhn_complete(prefix, length):
    digits = [int(c) for c in prefix]
    while len(digits) < length - 1:
        digits.append(rng.randrange(10))
    for check in range(10):
        candidate = digits + [check]
        total = 0
        for index, digit in enumerate(reversed(candidate)):
            if index % 2 == 1:
                digit *= 2
                if digit > 9:
                    digit -= 9
            total += digit
        if total % 10 == 0:
            return "".join(map(str, candidate))

def card():
    number = luhn_complete(rng.choice(["4", "51", "37"]), rng.choice([16, 16, 15]))
    style = rng.choice(["plain", "space", "dash"])
    if style == "plain":
        return number
    sep = " " if style == "space" else "-"
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))

def ssn():
    while True:
        area = rng.randrange(1, 900)
        if area != 666:
            break
    group, serial = rng.randrange(1, 100), rng.randrange(1, 10000)
    sep = rng.choice(["-", " ", "."])
    return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

def npi():
    while True:
        body = "".join(str(rng.randrange(10)) for _ in range(9))
        full = luhn_complete("80840" + body, 15)
        if full:
            return body + full[-1]

def dea():
    letters = rng.choice(["A", "B", "F", "M"]) + rng.choice("ABCDEFGHJKLMNPRSTUVWXY")
    d = [rng.randrange(10) for _ in range(6)]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return letters + "".join(map(str, d)) + str(check)

def mrn():
    return rng.choice(["", "A", "MR", "H"]) + str(rng.randrange(100000, 9999999))

def member_id():
    return rng.choice(["XJ", "W", "ZGP", "MBR"]) + str(rng.randrange(1000000, 999999999))

MBI_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
def mbi():
    c = lambda: rng.choice(MBI_LETTERS)
    n = lambda: str(rng.randrange(10))
    an = lambda: rng.choice(MBI_LETTERS + "0123456789")
    value = f"{rng.randrange(1, 10)}{c()}{an()}{n()}{c()}{an()}{n()}{c()}{c()}{n()}{n()}"
    return value if rng.random() < 0.5 else f"{value[:4]}-{value[4:7]}-{value[7:]}"

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
def birth_date():
    year, month, day = rng.randrange(1925, 2010), rng.randrange(1, 13), rng.randrange(1, 29)
    return rng.choice([f"{month:02d}/{day:02d}/{year}", f"{month}/{day}/{year}", f"{year}-{month:02d}-{day:02d}", f"{MONTHS[month - 1]} {day}, {year}", f"{day} {MONTHS[month - 1][:3]} {year}"])

def phone():
    area, mid, last = rng.choice([212, 312, 646, 718, 503, 617]), rng.randrange(200, 999), rng.randrange(1000, 9999)
    return rng.choice([f"({area}) {mid}-{last}", f"{area}-{mid}-{last}", f"{area}.{mid}.{last}", f"+1 {area} {mid} {last}"])

def email():
    return rng.choice(["jdoe", "maria.g", "tom_obrien", "k.lee", "sam1982"]) + str(rng.randrange(10, 99)) + "@" + rng.choice(["gmail.com", "yahoo.com", "outlook.com", "example.org"])

def street():
    return f"{rng.randrange(1, 9999)} {rng.choice(['Oak', 'Maple', 'Cedar', 'Elm', 'Pine', 'Lake'])} {rng.choice(['Street', 'St', 'Avenue', 'Ave', 'Road', 'Drive', 'Lane'])}"

def vin():
    weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    values = {**{str(i): i for i in range(10)}, **dict(zip("ABCDEFGH", range(1, 9))), **dict(zip("JKLMN", range(1, 6))), "P": 7, "R": 9, **dict(zip("STUVWXYZ", range(2, 10)))}
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    while True:
        v = [rng.choice(chars) for _ in range(17)]
        total = sum(values[c] * w for c, w in zip(v, weights))
        v[8] = "X" if total % 11 == 10 else str(total % 11)
        s = "".join(v)
        if any(c.isdigit() for c in s) and any(c.isalpha() for c in s):
            return s

def ip():
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))

def icd():
    return rng.choice(["E11.9", "F32.1", "I10", "J45.909", "Z34.01", "C50.911", "B20", "F41.1", "E78.5", "M54.50"])

def serial():
    return rng.choice(["PX", "SN", "MD", "G"]) + str(rng.randrange(10000, 999999)) + rng.choice(["", "-A", "-22"])

def account():
    return str(rng.randrange(100000, 99999999))

POSITIVES = [
    ("ssn", lambda v: f"Hi, please confirm the SSN {v} on your intake form.", ssn),
    ("ssn", lambda v: f"social security number: {v} - is this right?", ssn),
    ("ssn", lambda v: f"We have your ssn as {v}, reply YES to confirm", ssn),
    ("credit_card", lambda v: f"Your card {v} was declined for the copay.", card),
    ("credit_card", lambda v: f"Payment failed on {v}. Please call billing.", card),
    ("license", lambda v: f"Referral from Dr. Patel, NPI {v}.", npi),
    ("license", lambda v: f"Prescriber DEA {v} on file.", dea),
    ("medical_record_number", lambda v: f"MRN: {v} - labs are back.", mrn),
    ("medical_record_number", lambda v: f"Chart # {v} updated after your visit", mrn),
    ("medical_record_number", lambda v: f"mrn {v} please bring your card", mrn),
    ("date_of_birth", lambda v: f"DOB {v} - please confirm before your visit.", birth_date),
    ("date_of_birth", lambda v: f"Your date of birth: {v}, is that correct?", birth_date),
    ("date_of_birth", lambda v: f"She was born on {v} per the records.", birth_date),
    ("date_of_birth", lambda v: f"dob: {v}\nthanks!", birth_date),
    ("health_plan_id", lambda v: f"Member ID {v} was not found by the insurer.", member_id),
    ("health_plan_id", lambda v: f"Medicare card shows {v}, please confirm.", mbi),
    ("health_plan_id", lambda v: f"policy number: {v} expired last month", member_id),
    ("account_number", lambda v: f"Your account # {v} has a balance due.", account),
    ("account_number", lambda v: f"acct {v} - payment received, thank you", account),
    ("phone", lambda v: f"Your son asked us to call him at {v}.", phone),
    ("phone", lambda v: f"Emergency contact updated to {v}", phone),
    ("email", lambda v: f"We will send the forms to {v} today.", email),
    ("street_address", lambda v: f"The nurse will visit you at {v} tomorrow.", street),
    ("vehicle", lambda v: f"Ambulance VIN {v} logged for the transport.", vin),
    ("ip_address", lambda v: f"Portal login from {v} was blocked.", ip),
    ("device_serial", lambda v: f"Your pump serial no: {v} is being replaced.", serial),
    ("device_serial", lambda v: f"IMEI {v}12 registered to the glucose monitor", lambda: str(rng.randrange(1000000000000, 9999999999999))),
    ("diagnosis", lambda v: f"Dx {v} - follow up in 3 months.", icd),
    ("age", lambda v: f"Patient is {v} years old and needs a ride.", lambda: str(rng.randrange(90, 110))),
    ("zip_code", lambda v: f"Mail the forms, zip code {v}, attn billing", lambda: f"{rng.randrange(10000, 99999)}"),
    ("zip_code", lambda v: f"New address on file: Springfield, {v}", lambda: f"{rng.choice(['IL', 'MO', 'OR'])} {rng.randrange(10000, 99999)}"),
    ("medication", lambda v: f"Your refill of {v} is ready at the pharmacy.", lambda: f"{rng.choice(['metformin', 'lisinopril', 'atorvastatin', 'sertraline', 'Eliquis', 'levothyroxine'])} {rng.choice(['5', '10', '20', '50', '500'])} mg"),
    ("test_result", lambda v: f"Hi, {v}, please call to go over them.", lambda: f"your {rng.choice(['lab', 'blood work', 'biopsy', 'A1C', 'pap'])} results are back"),
    ("procedure", lambda v: f"Insurance denied CPT {v}; we are appealing.", lambda: rng.choice(["99213", "99214", "45378", "80053", "0001F", "J1100"])),
    ("personal_date", lambda v: f"He was discharged on {v}, follow up in a week.", birth_date),
    ("diagnosis", lambda v: f"Sorry to hear about {v}, we are here to help.", lambda: f"your {rng.choice(['diabetes', 'cancer', 'depression', 'hepatitis C', 'asthma'])}"),
    ("url", lambda v: f"Your results are at {v} today", lambda: f"https://portal.example.com/patient/{rng.randrange(10000, 99999)}"),
]

NEGATIVES = [
    "Your appointment is on {d} at {t}. Reply C to confirm or R to reschedule.",
    "Order #{o} has shipped; total ${p}.",
    "We are open 9-5 Monday to Friday. See you soon!",
    "Your copay is ${p}. Parking is free in lot {n}.",
    "Tracking 1Z{o}{o} arrives Thursday.",
    "Room {n} is on the second floor, next to the lab.",
    "Your 3 month check-up is due. Book at our front desk.",
    "Call us at (415) 555-0100 with any questions.",
    "Reminder: flu shots are available this week from 8am to 4pm.",
    "Please arrive {n} minutes early to fill out paperwork.",
    "Our new address is the same building, suite {n}.",
    "Thanks for visiting! Rate us 1 to 5.",
    "Invoice {o} for ${p} is paid. Thank you!",
    "Your prescription is ready. Pickup code {n}.",
    "The clinic is closed on {d} for the holiday.",
    "Refill requests take 2 business days.",
    "Dr. Chen is running {n} minutes late today.",
    "Your lab appointment moved to {t} on {d}.",
    "Bring a list of your medications to the visit.",
    "We received your payment of ${p}, thank you.",
    "Our diabetes education class meets {d} at {t}.",
    "Questions? Call our nurse line at 1-800-555-{o4} any time.",
    "Write to desk@clinic.example or visit https://clinic.example/forms/{o}",
    "Happy {n}th birthday from all of us at the clinic!",
    "Your visit with Dr. Chen is at {t} on {d}, suite {n}.",
    "Take {n} minutes to fill out our survey, thank you.",
]

def negative():
    template = rng.choice(NEGATIVES)
    return template.format(
        d=rng.choice([f"{rng.randrange(1, 13)}/{rng.randrange(1, 29)}/2026", f"{MONTHS[rng.randrange(12)]} {rng.randrange(1, 29)}", "Friday"]),
        t=rng.choice(["10:30 am", "2pm", "4:15 PM"]),
        o=rng.randrange(1000, 99999),
        p=f"{rng.randrange(5, 500)}.{rng.randrange(0, 99):02d}",
        n=rng.randrange(2, 60),
        o4=rng.randrange(1000, 9999),
    )

rows = []
for _ in range(6):
    for kind, template, value in POSITIVES:
        v = value()
        rows.append({"text": template(v), "findings": [{"kind": kind, "value": v}], "source": "template"})
# Hard positives: lowercase context, numbers split across lines, two identifiers.
for _ in range(10):
    v = ssn()
    rows.append({"text": f"pls update ssn\n{v} thx", "findings": [{"kind": "ssn", "value": v}], "source": "template"})
    d, m = birth_date(), mrn()
    rows.append({"text": f"mrn {m} / d.o.b. {d}", "findings": [{"kind": "medical_record_number", "value": m}, {"kind": "date_of_birth", "value": d}], "source": "template"})
for _ in range(160):
    rows.append({"text": negative(), "findings": [], "source": "template"})
MARK = re.compile(r"\{\{([a-z_]+)\|(.+?)\}\}")
handwritten = Path(__file__).resolve().parent / "phi_corpus_handwritten.txt"
for line in handwritten.read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        line = line.replace("\\n", "\n")
        findings = [{"kind": kind, "value": value} for kind, value in MARK.findall(line)]
        rows.append({"text": MARK.sub(lambda m: m.group(2), line), "findings": findings, "source": "hand"})
rng.shuffle(rows)

out = Path(__file__).resolve().parent.parent / "tests" / "data" / "phi_corpus.jsonl"
out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
print(f"{len(rows)} drafts -> {out}")

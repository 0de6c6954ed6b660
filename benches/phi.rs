//! PHI vetting speed on one core: SMS-sized drafts, clean and with findings, and a
//! 10 KB email body. Prints nanoseconds per draft.
//!
//! Run: `cargo bench --bench phi`

use std::hint::black_box;
use std::time::Instant;

use switchboard::phi::{scan, warm_up, Allowed};

fn measure(label: &str, drafts: &[String], rounds: usize) {
    let allowed = Allowed {
        phones: vec!["+14155550100".into()],
        emails: vec!["desk@clinic.example".into()],
        ..Allowed::default()
    };
    let mut findings = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        for draft in drafts {
            findings += black_box(scan(black_box(draft), &allowed)).len();
        }
    }
    let per_draft = started.elapsed().as_nanos() as f64 / (rounds * drafts.len()) as f64;
    println!(
        "{label}: {per_draft:.0} ns per draft ({:.0} drafts/s), {:.1} findings per draft",
        1e9 / per_draft,
        findings as f64 / (rounds * drafts.len()) as f64
    );
}

fn main() {
    warm_up();
    let clean: Vec<String> = [
        "Hi Maria, this is Demo Clinic reminding you of your visit tomorrow at 10:30 am. Reply C to confirm or R to reschedule.",
        "Your prescription is ready for pickup at the front desk. We are open until 6 pm today. Thank you!",
        "Thanks for your visit today. Please rate us: reply 1 to 5. Your feedback helps us care for you better.",
        "We are closed Monday for the holiday. For urgent questions call the front desk when we reopen Tuesday.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let with_findings: Vec<String> = [
        "Hi Maria, your DOB 04/12/1961 is on file; MRN A1234567. Call (415) 555-0177 with questions.",
        "Member ID XJ4412890 was declined. Card 4111 1111 1111 1111 on file expired. dx E11.9 noted.",
        "Please confirm SSN 123-45-6788 and your address 221 Baker Street, ZIP: 94110 before the visit.",
        "Jane (94 years old) at jane.doe@gmail.com asked about her chemotherapy schedule next week.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let email = [clean[0].as_str(), " "]
        .concat()
        .repeat(10_240 / (clean[0].len() + 1))
        + &with_findings[0];
    measure("SMS-sized, clean", &clean, 50_000);
    measure("SMS-sized, with findings", &with_findings, 20_000);
    measure(
        &format!("email body, {} bytes", email.len()),
        &[email],
        2_000,
    );
}

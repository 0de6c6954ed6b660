//! `PhiActor`: vets large drafts (long emails) on threads of its own, so CPU work never
//! holds up the request threads. SMS-sized drafts are vetted inline: they take a few
//! microseconds, less than the hand-over would.

use actix::prelude::*;

use super::{scan, scan_custom, Allowed, Finding};

pub struct PhiActor;

impl Actor for PhiActor {
    type Context = SyncContext<Self>;
}

/// Scan a draft with the organisation's allowed details and its own patterns.
#[derive(Message)]
#[rtype(result = "Vec<Finding>")]
pub struct Scan {
    pub text: String,
    pub allowed: Allowed,
    pub custom: Vec<(String, regex::Regex)>,
}

impl Handler<Scan> for PhiActor {
    type Result = MessageResult<Scan>;

    fn handle(&mut self, draft: Scan, _: &mut SyncContext<Self>) -> Self::Result {
        let mut findings = scan(&draft.text, &draft.allowed);
        findings.extend(scan_custom(&draft.text, &draft.custom));
        MessageResult(findings)
    }
}

//! The evaluation corpus (`tests/data/phi_corpus.jsonl`, written by
//! `tools/gen_phi_corpus.py` from its templates and the hand-written drafts in
//! `tools/phi_corpus_handwritten.txt`), scored twice and printed per kind:
//! - at the detection level: does a finding of the labelled kind cover the labelled span;
//! - at the block level, what the operator experiences under the default policy: is a
//!   draft with PHI refused, and is a refused draft one that holds PHI.
//!
//! The block level is held to recall ≥ 0.98 and precision ≥ 0.95.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::policy::Policy;
use super::vetting::judge;
use super::{scan, utf16_offset, Allowed, PhiKind};

#[derive(Deserialize)]
struct Draft {
    text: String,
    findings: Vec<Label>,
    source: Source,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(rename_all = "lowercase")]
enum Source {
    Template,
    Hand,
}

#[derive(Deserialize)]
struct Label {
    kind: PhiKind,
    value: String,
}

/// True positives, false positives, false negatives.
#[derive(Default, Clone, Copy)]
struct Tally(u32, u32, u32);

impl Tally {
    fn precision(self) -> f64 {
        f64::from(self.0) / f64::from((self.0 + self.1).max(1))
    }

    fn recall(self) -> f64 {
        f64::from(self.0) / f64::from((self.0 + self.2).max(1))
    }

    fn line(self) -> String {
        format!(
            "precision {:.3}, recall {:.3} ({} right, {} wrong, {} missed)",
            self.precision(),
            self.recall(),
            self.0,
            self.1,
            self.2
        )
    }
}

/// The organisation's own phone, email domain and street address (an allowed term, as
/// the README tells organisations to add it) and the recipient's own phone and email, as
/// `vetting::allowed` builds them for a send.
fn allowed() -> Allowed {
    Allowed {
        phones: vec!["+14155550100".into(), "+14155550111".into()],
        emails: vec!["desk@clinic.example".into(), "recipient@example.net".into()],
        domains: vec!["clinic.example".into()],
        terms: vec!["400 main st".into()],
    }
}

#[test]
fn precision_and_recall_meet_the_bar_at_the_block_level() {
    let allowed = allowed();
    let policy = Policy::from_stored(None);
    let mut detected: BTreeMap<PhiKind, Tally> = BTreeMap::new();
    let mut blocked_by_kind: BTreeMap<PhiKind, Tally> = BTreeMap::new();
    let mut blocked_by_source: BTreeMap<Source, Tally> = BTreeMap::new();
    let mut drafts_by_source: BTreeMap<Source, u32> = BTreeMap::new();
    let mut overall = Tally::default();
    for line in include_str!("../../tests/data/phi_corpus.jsonl").lines() {
        let draft: Draft = serde_json::from_str(line).expect("a corpus line");
        *drafts_by_source.entry(draft.source).or_default() += 1;
        let labels: Vec<(PhiKind, usize, usize)> = draft
            .findings
            .iter()
            .map(|label| {
                let at = draft
                    .text
                    .find(&label.value)
                    .unwrap_or_else(|| panic!("{:?} is not in {:?}", label.value, draft.text));
                (
                    label.kind,
                    utf16_offset(&draft.text, at),
                    utf16_offset(&draft.text, at + label.value.len()),
                )
            })
            .collect();
        let found = scan(&draft.text, &allowed);
        for finding in &found {
            let hit = labels
                .iter()
                .any(|l| l.0 == finding.kind && finding.start < l.2 && l.1 < finding.end);
            let tally = detected.entry(finding.kind).or_default();
            if hit {
                tally.0 += 1;
            } else {
                tally.1 += 1;
                println!("false positive {:?} in {:?}", finding.kind, draft.text);
            }
        }
        for label in &labels {
            if !found
                .iter()
                .any(|f| f.kind == label.0 && f.start < label.2 && label.1 < f.end)
            {
                detected.entry(label.0).or_default().2 += 1;
                println!("missed {:?} in {:?}", label.0, draft.text);
            }
        }

        let verdict = judge(&policy, found);
        let holds_phi = !labels.is_empty();
        let by_source = blocked_by_source.entry(draft.source).or_default();
        match (holds_phi, verdict.blocked) {
            (true, true) => (overall.0, by_source.0) = (overall.0 + 1, by_source.0 + 1),
            (false, true) => {
                (overall.1, by_source.1) = (overall.1 + 1, by_source.1 + 1);
                println!("blocked without PHI: {:?}", draft.text);
            }
            (true, false) => {
                (overall.2, by_source.2) = (overall.2 + 1, by_source.2 + 1);
                println!("sent with PHI: {:?}", draft.text);
            }
            (false, false) => {}
        }
        // Per kind: a draft labelled with the kind is caught if it is refused; a kind's
        // blocking finding is wrong if the draft it refused holds no PHI at all.
        let mut labelled: Vec<PhiKind> = labels.iter().map(|l| l.0).collect();
        labelled.dedup();
        for kind in labelled {
            let tally = blocked_by_kind.entry(kind).or_default();
            if verdict.blocked {
                tally.0 += 1;
            } else {
                tally.2 += 1;
            }
        }
        if !holds_phi {
            let mut blocking: Vec<PhiKind> = verdict
                .findings
                .iter()
                .filter(|f| f.action == super::policy::Action::Block)
                .map(|f| f.finding.kind)
                .collect();
            blocking.dedup();
            for kind in blocking {
                blocked_by_kind.entry(kind).or_default().1 += 1;
            }
        }
    }

    println!("detection level (a finding of the labelled kind on the labelled span):");
    for (kind, tally) in &detected {
        println!("  {kind:?}: {}", tally.line());
    }
    println!("block level (the default policy refuses the draft):");
    for (kind, tally) in &blocked_by_kind {
        println!("  {kind:?}: {}", tally.line());
    }
    for (source, tally) in &blocked_by_source {
        println!(
            "  {source:?} drafts ({}): {}",
            drafts_by_source[source],
            tally.line()
        );
    }
    println!("  overall: {}", overall.line());
    let hand = drafts_by_source.get(&Source::Hand).copied().unwrap_or(0);
    let total: u32 = drafts_by_source.values().sum();
    assert!(
        hand * 3 >= total,
        "at least a third of the corpus is hand-written ({hand} of {total})"
    );
    assert!(
        overall.recall() >= 0.98,
        "block-level recall {:.3} is under 0.98",
        overall.recall()
    );
    assert!(
        overall.precision() >= 0.95,
        "block-level precision {:.3} is under 0.95",
        overall.precision()
    );
}

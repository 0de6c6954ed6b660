//! An organisation's PHI policy: for each kind, block, warn or off; extra patterns of its
//! own (validated when saved); terms that are never PHI for it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::PhiKind;
use crate::db::phi_policies::StoredPolicy;
use crate::error::AppError;

/// Allowed terms are words and names ("Dr. Patel", "Main St clinic"): a list of at most
/// this many, each at most this long, keeps every vetting pass cheap.
const MAX_ALLOWED_TERMS: usize = 500;
const MAX_ALLOWED_TERM_CHARS: usize = 100;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Block,
    Warn,
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraPattern {
    pub name: String,
    pub pattern: String,
    pub action: Action,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Policy {
    /// Every kind, with the organisation's choice or the default.
    pub actions: BTreeMap<PhiKind, Action>,
    /// Only the kinds the organisation chose an action for: these are what is stored, so
    /// every other kind follows the defaults, including stricter defaults of a later
    /// release and kinds added after the organisation saved its policy.
    pub chosen: BTreeMap<PhiKind, Action>,
    pub extra_patterns: Vec<ExtraPattern>,
    pub allowed_terms: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChanges {
    pub actions: Option<HashMap<PhiKind, Action>>,
    pub extra_patterns: Option<Vec<ExtraPattern>>,
    pub allowed_terms: Option<Vec<String>>,
}

/// The default for a healthcare organisation: every kind blocks. Each detector finds
/// either an identifier HIPAA's Safe Harbor list names (45 CFR 164.514(b)(2)) or clinical
/// content tied to a person, and what is not a person's (the organisation's own and the
/// recipient's own numbers and addresses, ages up to 89, dates without a birth, care or
/// death word, health education, generic condition names) is no finding at all, so a
/// warning would only teach operators to send what should not leave. The exception is an
/// attached image: most are not faces, so it is flagged for the operator to look at.
pub fn default_action(kind: PhiKind) -> Action {
    match kind {
        PhiKind::Photo => Action::Warn,
        _ => Action::Block,
    }
}

/// Every kind's action: the organisation's choice, else the default.
fn with_defaults(chosen: &BTreeMap<PhiKind, Action>) -> BTreeMap<PhiKind, Action> {
    PhiKind::ALL
        .iter()
        .map(|kind| {
            (
                *kind,
                chosen
                    .get(kind)
                    .copied()
                    .unwrap_or_else(|| default_action(*kind)),
            )
        })
        .collect()
}

impl Policy {
    pub fn from_stored(stored: Option<StoredPolicy>) -> Policy {
        let stored = stored.unwrap_or(StoredPolicy {
            actions: serde_json::json!({}),
            extra_patterns: serde_json::json!([]),
            allowed_terms: Vec::new(),
        });
        let chosen: BTreeMap<PhiKind, Action> =
            serde_json::from_value(stored.actions).unwrap_or_default();
        Policy {
            actions: with_defaults(&chosen),
            chosen,
            extra_patterns: serde_json::from_value(stored.extra_patterns).unwrap_or_default(),
            allowed_terms: stored.allowed_terms,
        }
    }

    /// The extra patterns, compiled (each was checked when the policy was saved).
    pub fn compiled_patterns(&self) -> Vec<(String, regex::Regex)> {
        self.extra_patterns
            .iter()
            .filter_map(|extra| {
                regex::Regex::new(&extra.pattern)
                    .ok()
                    .map(|regex| (extra.name.clone(), regex))
            })
            .collect()
    }

    pub fn action(&self, kind: PhiKind) -> Action {
        self.actions
            .get(&kind)
            .copied()
            .unwrap_or_else(|| default_action(kind))
    }

    /// Applies changes, refusing a pattern that does not compile or matches the empty
    /// string (it would flag every draft).
    pub fn apply(mut self, changes: PolicyChanges) -> Result<Policy, AppError> {
        if let Some(actions) = changes.actions {
            self.chosen.extend(actions);
            self.actions = with_defaults(&self.chosen);
        }
        if let Some(patterns) = changes.extra_patterns {
            for (index, extra) in patterns.iter().enumerate() {
                let field = format!("extra_patterns[{index}].pattern");
                let regex = regex::RegexBuilder::new(&extra.pattern)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|error| {
                        AppError::invalid(
                            field.clone(),
                            format!("the pattern does not compile: {error}"),
                        )
                    })?;
                if regex.is_match("") {
                    return Err(AppError::invalid(
                        field,
                        "the pattern matches the empty string, so it would flag every draft",
                    ));
                }
                if extra.name.trim().is_empty() {
                    return Err(AppError::invalid(
                        format!("extra_patterns[{index}].name"),
                        "give the pattern a name",
                    ));
                }
            }
            self.extra_patterns = patterns;
        }
        if let Some(terms) = changes.allowed_terms {
            if terms.len() > MAX_ALLOWED_TERMS {
                return Err(AppError::invalid(
                    "allowed_terms",
                    format!("at most {MAX_ALLOWED_TERMS} allowed terms"),
                ));
            }
            if let Some(index) = terms
                .iter()
                .position(|term| term.trim().chars().count() > MAX_ALLOWED_TERM_CHARS)
            {
                return Err(AppError::invalid(
                    format!("allowed_terms[{index}]"),
                    format!("an allowed term is at most {MAX_ALLOWED_TERM_CHARS} characters"),
                ));
            }
            self.allowed_terms = terms
                .into_iter()
                .map(|term| term.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
        }
        Ok(self)
    }

    pub fn to_stored(&self) -> StoredPolicy {
        StoredPolicy {
            actions: serde_json::to_value(&self.chosen).expect("actions serialise"),
            extra_patterns: serde_json::to_value(&self.extra_patterns).expect("patterns serialise"),
            allowed_terms: self.allowed_terms.clone(),
        }
    }
}

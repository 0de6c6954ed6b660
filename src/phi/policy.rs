//! An organisation's PHI policy: for each kind, block, warn or off; extra patterns of its
//! own (validated when saved); terms that are never PHI for it.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::PhiKind;
use crate::db::phi_policies::StoredPolicy;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Block,
    Warn,
    Off,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPattern {
    pub name: String,
    pub pattern: String,
    pub action: Action,
}

#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// Every kind, with the organisation's choice or the default.
    pub actions: BTreeMap<PhiKind, Action>,
    pub extra_patterns: Vec<ExtraPattern>,
    pub allowed_terms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyChanges {
    pub actions: Option<HashMap<PhiKind, Action>>,
    pub extra_patterns: Option<Vec<ExtraPattern>>,
    pub allowed_terms: Option<Vec<String>>,
}

/// The default for a healthcare organisation: identifiers that single a patient out
/// block; contact details, ages and conditions warn (an operator writes "call us at
/// ..." or "diabetes class" all day).
pub fn default_action(kind: PhiKind) -> Action {
    match kind {
        PhiKind::Phone
        | PhiKind::Email
        | PhiKind::StreetAddress
        | PhiKind::ZipCode
        | PhiKind::Url
        | PhiKind::IpAddress
        | PhiKind::Age
        | PhiKind::Diagnosis => Action::Warn,
        _ => Action::Block,
    }
}

impl Policy {
    pub fn from_stored(stored: Option<StoredPolicy>) -> Policy {
        let stored = stored.unwrap_or(StoredPolicy {
            actions: serde_json::json!({}),
            extra_patterns: serde_json::json!([]),
            allowed_terms: Vec::new(),
        });
        let chosen: HashMap<PhiKind, Action> =
            serde_json::from_value(stored.actions).unwrap_or_default();
        Policy {
            actions: PhiKind::ALL
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
                .collect(),
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
            self.actions.extend(actions);
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
            actions: serde_json::to_value(&self.actions).expect("actions serialise"),
            extra_patterns: serde_json::to_value(&self.extra_patterns).expect("patterns serialise"),
            allowed_terms: self.allowed_terms.clone(),
        }
    }
}

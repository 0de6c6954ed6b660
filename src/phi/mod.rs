//! Vetting drafts for protected health information: the HIPAA Safe Harbor identifiers
//! that text patterns can catch, and clinical content (diagnosis and procedure codes,
//! named conditions, medications with dosages, test results). Each finding has a kind, a
//! span, a masked excerpt, a confidence, the rule that fired and the reason it is PHI, in
//! one sentence an operator can act on. Context words are part of the patterns that need
//! them ("MRN: …", "DOB …"); checksums veto numbers that only look like identifiers, and
//! maintained code lists (`vocabulary`) veto codes and drug names that do not exist.
//!
//! Every pattern is compiled once, into a `RegexSet` that tells in one pass which rules
//! can match at all, so a clean draft costs a single scan.

pub mod actor;
pub mod checksums;
pub mod policy;
pub mod vetting;
pub mod vocabulary;

#[cfg(test)]
mod corpus;

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::bytes::{Captures, Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use crate::db::ids::AttachmentId;
use crate::db::message_attachments::Attachment;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PhiKind {
    Ssn,
    MedicalRecordNumber,
    DateOfBirth,
    /// A date of an individual's admission, discharge, surgery or death.
    PersonalDate,
    Age,
    HealthPlanId,
    AccountNumber,
    License,
    CreditCard,
    Email,
    Phone,
    StreetAddress,
    ZipCode,
    Url,
    IpAddress,
    Vehicle,
    DeviceSerial,
    /// A fingerprint, voiceprint, iris or face template's identifier.
    Biometric,
    Diagnosis,
    Procedure,
    Medication,
    TestResult,
    /// A person's name in a draft that holds health information.
    Name,
    /// One of the organisation's own patterns.
    Custom,
    /// An image attached to the draft: it may be a full-face photo, which Safe Harbor
    /// names, and no pattern can tell, so an operator looks at it.
    Photo,
}

impl PhiKind {
    pub const ALL: [PhiKind; 25] = [
        PhiKind::Ssn,
        PhiKind::MedicalRecordNumber,
        PhiKind::DateOfBirth,
        PhiKind::PersonalDate,
        PhiKind::Age,
        PhiKind::HealthPlanId,
        PhiKind::AccountNumber,
        PhiKind::License,
        PhiKind::CreditCard,
        PhiKind::Email,
        PhiKind::Phone,
        PhiKind::StreetAddress,
        PhiKind::ZipCode,
        PhiKind::Url,
        PhiKind::IpAddress,
        PhiKind::Vehicle,
        PhiKind::DeviceSerial,
        PhiKind::Biometric,
        PhiKind::Diagnosis,
        PhiKind::Procedure,
        PhiKind::Medication,
        PhiKind::TestResult,
        PhiKind::Name,
        PhiKind::Custom,
        PhiKind::Photo,
    ];

    /// Health information itself, rather than an identifier.
    fn is_clinical(self) -> bool {
        matches!(
            self,
            PhiKind::Diagnosis | PhiKind::Procedure | PhiKind::Medication | PhiKind::TestResult
        )
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finding {
    pub kind: PhiKind,
    /// Offsets in UTF-16 code units, as JavaScript indexes strings.
    pub start: usize,
    pub end: usize,
    /// The matched text with all but its last two letters or digits masked.
    pub excerpt: String,
    pub confidence: f32,
    pub rule: String,
    /// Why this is PHI, in one sentence for the operator (shown beside the highlight).
    #[schema(value_type = String)]
    pub reason: Cow<'static, str>,
    /// The attachment the finding is about (a photo), rather than a span of the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<AttachmentId>,
}

/// What is not PHI in this draft: the organisation's own and the recipient's own phone
/// numbers (E.164) and email addresses (lowercase).
#[derive(Debug, Default)]
pub struct Allowed {
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// The domains of the organisation's own email addresses (lowercase): its other
    /// addresses and its web links there are its own, not a person's.
    pub domains: Vec<String>,
    /// Lowercase terms that are never PHI for the organisation (its own name, say).
    pub terms: Vec<String>,
}

/// Whether a match stands, and how sure it is; `None` vetoes it.
type Check = fn(&Captures, &Allowed) -> Option<f32>;

struct Rule {
    name: &'static str,
    kind: PhiKind,
    /// One or more patterns, each its own entry in the set. A label's English and
    /// Spanish forms are separate patterns: together, under case folding, their prefixes
    /// are too many for the literal prefilter that makes searching a long email cheap.
    patterns: &'static [&'static str],
    /// For a rule whose patterns start from any word ("your … results are back",
    /// "<drug> 500 mg"), a coarse pattern that matches wherever they can (a result noun,
    /// a dosage): the set holds it instead, so the set's automaton stays small enough to
    /// stay in cache, and the patterns run only on a draft where it fires.
    prefilter: Option<&'static str>,
    check: Check,
    reason: &'static str,
}

fn has_digit(captures: &Captures, group: usize) -> bool {
    captures
        .get(group)
        .is_some_and(|m| m.as_bytes().iter().any(u8::is_ascii_digit))
}

/// A matched span as text (the patterns only match ASCII where this is used).
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The domain of an email address or URL host is the organisation's (or a subdomain).
fn is_org_domain(host: &str, allowed: &Allowed) -> bool {
    let host = host.to_ascii_lowercase();
    allowed.domains.iter().any(|domain| {
        host == *domain
            || host
                .strip_suffix(domain.as_str())
                .is_some_and(|sub| sub.ends_with('.'))
    })
}

/// Toll-free prefixes belong to businesses, never to a patient.
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// Words that never stand between a house number and a street type ("3 pm with Dr.
/// Chen", "2 tablets a day"), so a match through one is not an address.
const NOT_IN_A_STREET_NAME: [&str; 37] = [
    "am", "pm", "with", "w/", "at", "to", "for", "and", "the", "your", "you", "is", "in", "on",
    "of", "per", "by", "every", "each", "a", "today", "tomorrow", "tmrw", "minutes", "min",
    "hours", "hrs", "days", "weeks", "tablets", "pills", "times", "puffs", "drops", "mg", "units",
    "ml",
];

/// What drafts put between a label and its value: "SSN on file is …", "dob says …",
/// "member id: …".
macro_rules! says {
    () => {
        r"\W{0,6}(?:(?:is|was|says|reads|shows|on\s+file|we\s+have|as|es|dice)\W{1,6}){0,3}"
    };
}

/// An identifier after its label: letters and digits, possibly in groups split by single
/// spaces ("YHU 8834 2201", "MR 4410287") as long as each later group starts with a digit.
macro_rules! id {
    () => {
        r"([A-Z0-9][A-Z0-9-]*(?:\s[0-9][A-Z0-9-]*){0,3})"
    };
}

/// Whether a labelled identifier is long enough and holds a digit.
fn is_identifier(captures: &Captures, min_chars: usize) -> bool {
    captures.get(1).is_some_and(|m| {
        let id = m.as_bytes();
        id.iter().any(u8::is_ascii_digit)
            && id.iter().filter(|b| b.is_ascii_alphanumeric()).count() >= min_chars
    })
}

/// A date in the shapes drafts write one: 4/12/1961, 4-12-61, 4 12 1961, 1961-04-12,
/// April 12, 1961, 12 Apr 1961, 12 de abril de 1961.
macro_rules! date {
    () => {
        concat!(
            r"(\d{1,2}[/.\s-]\d{1,2}[/.\s-](?:\d{4}|\d{2})\b|\d{4}-\d{2}-\d{2}",
            r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}",
            r"|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4}",
            r"|\d{1,2}\s+de\s+(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre)\s+(?:de\s+|del\s+)?\d{4})"
        )
    };
}

/// Named conditions (lay terms, English and Spanish). ICD-10-CM's titles are clinical
/// phrases ("Type 2 diabetes mellitus without complications") that drafts do not use, so
/// this list is the project's own; codes are checked against the real code list.
macro_rules! conditions {
    () => {
        concat!(
            r"(hiv|aids|vih|sida|hepatitis(?:\s+[abc])?|chlamydia|clamidia|gonorrh?o?ea|gonorrea|syphilis|s(?:i|í)filis|herpes|hpv|vph|std|sti|its",
            r"|cancer|c(?:a|á)ncer|leukemia|leucemia|lymphoma|linfoma|melanoma|tumou?r|tumor|chemo(?:therapy)?|quimio(?:terapia)?",
            r"|diabetes|prediabetes|hypertension|hipertensi(?:o|ó)n|high\s+blood\s+pressure|presi(?:o|ó)n\s+alta|asthma|asma|copd|epoc",
            r"|depression|depresi(?:o|ó)n|anxiety|ansiedad|bipolar|schizophrenia|esquizofrenia|psychosis|psicosis|ptsd|adhd|tdah|autism|autismo",
            r"|epilepsy|epilepsia|seizures?|dementia|demencia|alzheimer'?s?|parkinson'?s?|multiple\s+sclerosis|esclerosis\s+m(?:u|ú)ltiple",
            r"|overdose|sobredosis|opioid\s+use\s+disorder|substance\s+(?:use|abuse)|alcoholism|alcoholismo|addiction|adicci(?:o|ó)n",
            r"|eating\s+disorder|anorexia|bulimia|pregnan(?:t|cy)|embarazo|embarazada|miscarriage|aborto|abortion|infertility|infertilidad",
            r"|dialysis|di(?:a|á)lisis|kidney\s+disease|heart\s+failure|insuficiencia\s+card(?:i|í)aca|stroke|tuberculosis|covid(?:-19)?|strep|uti|pneumonia|neumon(?:i|í)a)"
        )
    };
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // A label says what the number is: any number in an SSN's shape blocks, the
        // never-issued ranges and advertised sample numbers included (the operator
        // typing it cannot tell them apart).
        Rule {
            name: "ssn_with_context",
            kind: PhiKind::Ssn,
            patterns: &[concat!(
                r"(?i)\b(?:ssn|social(?:\s+security)?(?:\s+(?:number|no\.?|#))?|soc\.?\s*sec\.?|(?:n(?:u|ú)mero\s+de\s+)?seguro\s+social)",
                says!(),
                r"(\d{3})[-\s.]?(\d{2})[-\s.]?(\d{4})\b"
            )],
            prefilter: None,
            check: |_, _| Some(0.97),
            reason: "The draft labels this number as a Social Security number, an identifier HIPAA's Safe Harbor list names.",
        },
        Rule {
            name: "ssn_formatted",
            kind: PhiKind::Ssn,
            patterns: &[r"\b(\d{3})[-\s.](\d{2})[-\s.](\d{4})\b"],
            prefilter: None,
            check: |c, _| checksums::ssn(ascii(&c[1]), ascii(&c[2]), ascii(&c[3])).then_some(0.85),
            reason: "This number has the shape and valid ranges of a Social Security number.",
        },
        Rule {
            name: "credit_card_luhn",
            kind: PhiKind::CreditCard,
            patterns: &[r"\b\d(?:[ -]?\d){12,18}\b"],
            prefilter: None,
            check: |c, _| {
                let d = digits(ascii(&c[0]));
                ((13..=19).contains(&d.len()) && checksums::luhn(&d)).then_some(0.9)
            },
            reason: "This is a payment card number (its check digit is valid): an account number of the patient.",
        },
        Rule {
            name: "npi",
            kind: PhiKind::License,
            patterns: &[r"(?i)\bnpi\b\W{0,10}(?:is\s+)?(\d{10})\b"],
            prefilter: None,
            check: |c, _| checksums::npi(ascii(&c[1])).then_some(0.95),
            reason: "This is a National Provider Identifier (its check digit is valid), a licence number.",
        },
        Rule {
            name: "dea",
            kind: PhiKind::License,
            patterns: &[r"\b([A-Za-z]{2}\d{7})\b"],
            prefilter: None,
            check: |c, _| checksums::dea(ascii(&c[1])).then_some(0.85),
            reason: "This is a DEA registration number (its check digit is valid), a licence number.",
        },
        Rule {
            name: "license_with_context",
            kind: PhiKind::License,
            patterns: &[r"(?i)\b(?:licen[cs]e|certificate|cert\.?|licencia)\s*(?:#|no\.?|number|num|n(?:u|ú)mero)?\s*[:#]?\s*(?:is\s+)?([A-Z0-9][A-Z0-9-]{4,})"],
            prefilter: None,
            check: |c, _| has_digit(c, 1).then_some(0.8),
            reason: "The draft labels this as a licence or certificate number, an identifier Safe Harbor names.",
        },
        Rule {
            name: "mrn_with_context",
            kind: PhiKind::MedicalRecordNumber,
            patterns: &[
                concat!(
                    r"(?i)\b(?:mrn|medical\s+record(?:\s+(?:number|no\.?|#))?|chart(?:\s+(?:number|no\.?|#))?|patient\s+(?:id|number|no\.?|#)|record\s+(?:number|no\.?|#))\s*#?",
                    says!(),
                    id!()
                ),
                concat!(
                    r"(?i)\b(?:expediente|historia\s+cl\S{1,2}nica)\s*#?",
                    says!(),
                    id!()
                ),
            ],
            prefilter: None,
            check: |c, _| is_identifier(c, 4).then_some(0.9),
            reason: "The draft labels this as a medical record number, which identifies the patient.",
        },
        Rule {
            name: "dob_with_context",
            kind: PhiKind::DateOfBirth,
            patterns: &[
                concat!(
                    r"(?i)\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?|birthday)",
                    says!(),
                    date!()
                ),
                concat!(
                    r"(?i)\b(?:fecha\s+(?:de\s+)?nac(?:imiento|\.)?|f\.\s?nac\.?|nacid[oa](?:\s+el)?|cumplea\S{1,2}os)",
                    says!(),
                    date!()
                ),
            ],
            prefilter: None,
            check: |_, _| Some(0.95),
            reason: "A date of birth is one of the Safe Harbor identifiers: it singles the patient out.",
        },
        Rule {
            name: "date_of_care_or_death",
            kind: PhiKind::PersonalDate,
            patterns: &[
                concat!(
                    r"(?i)\b(?:admitted|admission|admit\s+date|discharged?|discharge\s+date|date\s+of\s+(?:death|admission|discharge|surgery)|surgery|died|passed\s+away|deceased|death)\b\W{0,6}(?:on\s+|date\s+|was\s+|is\s+|:\s*)?",
                    date!()
                ),
                concat!(
                    r"(?i)\b(?:ingres\S{1,2}|dad[oa]\s+de\s+alta|falleci\S{1,3})\W{0,6}(?:el\s+|:\s*)?",
                    date!()
                ),
            ],
            prefilter: None,
            check: |_, _| Some(0.85),
            reason: "A date tied to this person's admission, discharge, surgery or death is a Safe Harbor identifier.",
        },
        Rule {
            name: "age_over_89",
            kind: PhiKind::Age,
            patterns: &[r"(?i)\b(?:(?:aged?|edad|turned|turns|turning|cumpli\S{1,2}|cumple)\s*:?\s*(9\d|1[01]\d)\b|(9\d|1[01]\d)[-\s]?(?:years?|yrs?|y/?o|a\S{1,2}os)\b|(?:is|r|are|was|es)\s+(9\d|1[01]\d)\s+(?:now|today|this\s+(?:week|month|year)|ahora|hoy)\b)"],
            prefilter: None,
            check: |_, _| Some(0.85),
            reason: "An age over 89 is rare enough to identify a person, so Safe Harbor removes it.",
        },
        Rule {
            name: "medicare_mbi",
            kind: PhiKind::HealthPlanId,
            patterns: &[r"\b([1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2})\b"],
            prefilter: None,
            check: |_, _| Some(0.9),
            reason: "This has the shape of a Medicare Beneficiary Identifier, a health plan number.",
        },
        Rule {
            name: "member_id_with_context",
            kind: PhiKind::HealthPlanId,
            patterns: &[
                concat!(
                    r"(?i)\b(?:member|subscriber|policy|insurance|medicaid|medicare|plan|group)\s*(?:card\s+)?(?:id|#|no\.?|number|num)\s*#?",
                    says!(),
                    id!()
                ),
                concat!(
                    r"(?i)\b(?:seguro\s*(?:id|#|no\.?)|n(?:u|ú)mero\s+de\s+(?:afiliado|p\S{1,2}liza|miembro)|afiliado)\s*#?",
                    says!(),
                    id!()
                ),
            ],
            prefilter: None,
            check: |c, _| is_identifier(c, 5).then_some(0.9),
            reason: "The draft labels this as a health plan member or policy number, a Safe Harbor identifier.",
        },
        Rule {
            name: "account_with_context",
            kind: PhiKind::AccountNumber,
            patterns: &[concat!(
                r"(?i)\b(?:account|acct|cuenta)\.?\s*(?:#|no\.?|number|num|n(?:u|ú)mero)?",
                says!(),
                r"(\d[\d-]*(?:\s\d[\d-]*){0,3})"
            )],
            prefilter: None,
            check: |c, _| is_identifier(c, 5).then_some(0.85),
            reason: "The draft labels this as an account number, a Safe Harbor identifier.",
        },
        // Above the bare Luhn rule: an IMEI is Luhn-valid too, and its context word says
        // what it is.
        Rule {
            name: "device_serial_with_context",
            kind: PhiKind::DeviceSerial,
            patterns: &[r"(?i)\b(?:serial(?:\s+(?:number|no\.?|#))?|s/n|imei|device\s+id|udi|n(?:u|ú)mero\s+de\s+serie)\s*[:#]?\s*(?:is\s+)?([A-Z0-9][A-Z0-9-]{5,})"],
            prefilter: None,
            check: |c, _| has_digit(c, 1).then_some(0.92),
            reason: "The draft labels this as a device serial number, which points at the patient's device.",
        },
        // Safe Harbor names biometric identifiers; in a text they travel as the id of a
        // stored print or template, named as such ("fingerprint id", "voiceprint #").
        Rule {
            name: "biometric_with_context",
            kind: PhiKind::Biometric,
            patterns: &[r"(?i)\b(?:(?:finger|thumb|palm|voice)\s*-?\s*print|(?:retina|retinal|iris|face|facial)\s+(?:scan|template|print|id)|biometric|huella(?:\s+(?:dactilar|digital))?)\s*(?:id|template|record|hash|scan|plantilla|registro)?\s*(?:#|no\.?|number|n(?:u|ú)mero)?\s*[:#]?\s*(?:is\s+|es\s+)?([A-Z0-9][A-Z0-9-]{5,})"],
            prefilter: None,
            check: |c, _| has_digit(c, 1).then_some(0.9),
            reason: "The draft labels this as a biometric record (a fingerprint, voiceprint, iris or face template), an identifier Safe Harbor names.",
        },
        Rule {
            name: "vin",
            kind: PhiKind::Vehicle,
            patterns: &[r"(?i)\b([A-HJ-NPR-Z0-9]{17})\b"],
            prefilter: None,
            check: |c, _| checksums::vin(ascii(&c[1])).then_some(0.9),
            reason: "This is a vehicle identification number (its check digit is valid).",
        },
        Rule {
            name: "plate_with_context",
            kind: PhiKind::Vehicle,
            patterns: &[r"(?i)\b(?:licen[cs]e\s+plate|plate(?:\s+(?:number|no\.?|#))?|tag\s+(?:number|no\.?|#)|placas?)\s*[:#]?\s*(?:is\s+|es\s+)?([A-Z0-9]{2,4}[\s-]?[A-Z0-9]{2,5})\b"],
            prefilter: None,
            check: |c, _| has_digit(c, 1).then_some(0.9),
            reason: "The draft labels this as a licence plate, a vehicle identifier Safe Harbor names.",
        },
        Rule {
            name: "email",
            kind: PhiKind::Email,
            patterns: &[r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b"],
            prefilter: None,
            check: |c, allowed| {
                let address = ascii(&c[0]).to_ascii_lowercase();
                (!allowed.emails.contains(&address) && !is_org_domain(ascii(&c[1]), allowed))
                    .then_some(0.9)
            },
            reason: "An email address that is neither the recipient's own nor the organisation's may be someone else's, and Safe Harbor names email addresses.",
        },
        Rule {
            name: "phone",
            kind: PhiKind::Phone,
            patterns: &[r"(?:\+?1[\s.-]?)?(?:\(\d{3}\)|\b\d{3})[\s.-]?\d{3}[\s.-]?\d{4}\b"],
            prefilter: None,
            check: |c, allowed| {
                let d = digits(ascii(&c[0]));
                let national = d
                    .strip_prefix('1')
                    .filter(|rest| rest.len() == 10)
                    .unwrap_or(&d);
                let e164 = format!("+1{national}");
                (national.len() == 10
                    && !TOLL_FREE.contains(&&national[..3])
                    && !allowed.phones.contains(&e164))
                .then_some(0.8)
            },
            reason: "A phone number that is neither the recipient's own nor the organisation's may be a relative's or someone else's, and Safe Harbor names phone numbers.",
        },
        Rule {
            name: "ip_address",
            kind: PhiKind::IpAddress,
            patterns: &[r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"],
            prefilter: None,
            check: |_, _| Some(0.8),
            reason: "An IP address can point at the patient's device, and Safe Harbor names IP addresses.",
        },
        Rule {
            name: "url_with_identifier",
            kind: PhiKind::Url,
            patterns: &[r"(?i)\bhttps?://([a-z0-9.-]+)[^\s]*(?:patient|mrn|dob|ssn|member|record|chart|[?&][a-z_]*id=|\d{5,})[^\s]*"],
            prefilter: None,
            check: |c, allowed| (!is_org_domain(ascii(&c[1]), allowed)).then_some(0.75),
            reason: "This link carries what looks like a patient identifier and is not on the organisation's own site.",
        },
        Rule {
            name: "street_address",
            kind: PhiKind::StreetAddress,
            patterns: &[r"(?i)\b\d{1,6}\s+(?:[a-z0-9'.]+\s+){1,4}(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|way|place|pl|terrace|ter|circle|cir|highway|hwy)\b\.?"],
            prefilter: None,
            check: |c, _| {
                let words = ascii(&c[0]).to_ascii_lowercase();
                let mut words = words.split_whitespace();
                words.next();
                (!words.any(|word| NOT_IN_A_STREET_NAME.contains(&word))).then_some(0.75)
            },
            reason: "A street address is a geographic subdivision smaller than a state, a Safe Harbor identifier.",
        },
        Rule {
            name: "street_address_es",
            kind: PhiKind::StreetAddress,
            patterns: &[r"(?i)\b(?:calle|avenida|avda?\.|camino|paseo|carretera)\s+(?:[a-z0-9'.]+\s+){0,4}?(?:n(?:o|º|°)\.?\s*|#\s*)?\d{1,5}\b"],
            prefilter: None,
            check: |_, _| Some(0.75),
            reason: "A street address is a geographic subdivision smaller than a state, a Safe Harbor identifier.",
        },
        // A ZIP code in address context: after the word, or after a state's postal
        // abbreviation (upper case, so "is 12345" is no address).
        Rule {
            name: "zip_with_context",
            kind: PhiKind::ZipCode,
            patterns: &[r"(?:(?i:\bzip(?:\s*code)?|\bc(?:o|ó)digo\s+postal|\bc\.p\.)\s*:?\s*|\b(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|PR|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY),?\s+)(\d{5}(?:-\d{4})?)\b"],
            prefilter: None,
            check: |_, _| Some(0.7),
            reason: "A ZIP code in an address is a geographic subdivision smaller than a state, a Safe Harbor identifier.",
        },
        Rule {
            name: "icd10_code",
            kind: PhiKind::Diagnosis,
            patterns: &[r"(?i)(?:\b(?:dx|diagnos[ie]s|diagnosed(?:\s+with)?|diagn\S{1,2}stico|icd(?:-?10)?(?:-?cm)?(?:\s+code)?)\W{0,15}([A-TV-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?)\b|\b([A-TV-Z]\d[0-9A-Z]\.[0-9A-Z]{1,4})\b)"],
            prefilter: None,
            check: |c, _| match (c.get(1), c.get(2)) {
                // Labelled: a code of an existing category blocks even if mistyped after it.
                (Some(code), _) => vocabulary::is_icd10cm_category(ascii(code.as_bytes()))
                    .then_some(if vocabulary::is_icd10cm_code(ascii(code.as_bytes())) { 0.92 } else { 0.8 }),
                (None, Some(code)) => vocabulary::is_icd10cm_code(ascii(code.as_bytes())).then_some(0.85),
                (None, None) => None,
            },
            reason: "This is an ICD-10-CM diagnosis code: it discloses the patient's diagnosis.",
        },
        Rule {
            name: "procedure_code_with_context",
            kind: PhiKind::Procedure,
            patterns: &[r"(?i)\b(?:cpt|hcpcs|procedure(?:\s+code)?|proc\.?\s+code|billing\s+code|c\S{1,2}digo\s+de\s+procedimiento)\s*(?:code)?\s*[:#]?\s*(?:is\s+)?(\d{4}[0-9FTU]|[A-V]\d{4})\b"],
            prefilter: None,
            check: |c, _| checksums::procedure_code(ascii(&c[1])).then_some(0.9),
            reason: "This is a CPT or HCPCS procedure code: it discloses the care the patient received.",
        },
        Rule {
            name: "medication_with_dosage",
            kind: PhiKind::Medication,
            patterns: &[r"(?i)\b([a-z][a-z-]{3,}(?:\s+[a-z][a-z-]+){0,2})\s+(\d+(?:\.\d+)?\s?(?:mg|mcg|g|ml|units?|unidades|iu|ui|meq|puffs?)\b)"],
            prefilter: Some(r"(?i)\d\s?(?:mg|mcg|g|ml|units?|unidades|iu|ui|meq|puffs?)\b"),
            check: |c, _| vocabulary::medication_start(ascii(&c[1])).map(|_| 0.85),
            reason: "A medication with its dosage discloses the patient's treatment.",
        },
        Rule {
            name: "test_result",
            kind: PhiKind::TestResult,
            patterns: &[
                r"(?i)\b(?:(?:your|ur|his|her|their|the\s+patient'?s)\s+(?:[a-z0-9-]+\s+){0,3}?(?:results?|labs?|tests?|biopsy|scan|culture|panel|screening|pap(?:\s+smear)?|mammogram|x-?rays?|mri|ct|a1c|levels?|potassium|sodium|cholesterol|ldl|glucose|blood\s+sugar|sugar|iron|thyroid|tsh|psa|hemoglobin|inr|vitamin\s+d|blood\s+pressure)\s+(?:(?:is|are|was|were|came|come|have|has|show(?:s|ed)?)\s+){1,2}(?:back|in|ready|positive|negative|normal|abnormal|elevated|high|low)|tested\s+(?:positive|negative)\s+for)",
                r"(?i)\b(?:(?:tus?|sus?)\s+(?:[a-z0-9-]+\s+){0,3}?(?:resultados?|an\S{1,2}lisis|pruebas?|ex(?:a|á)menes)\s+(?:de\s+[a-z]+\s+)?(?:(?:(?:est\S{1,2}n?|sali\S{1,2}|ya)\s+){1,2}(?:listos?|positivos?|negativos?|normal(?:es)?)|ya\s+(?:est\S{1,2}n|llegaron)\b)|(?:dio|sali\S{1,2}|result\S{1,2})\s+positiv[oa])",
            ],
            prefilter: Some(r"(?i)\b(?:results?|labs?|tests?|tested|biopsy|scan|culture|panel|screening|pap|mammogram|x-?rays?|mri|ct|a1c|levels?|potassium|sodium|cholesterol|ldl|glucose|blood|sugar|iron|thyroid|tsh|psa|hemoglobin|inr|vitamin|resultados?|an\S{1,2}lisis|pruebas?|ex(?:a|á)menes|dio|sali|result)"),
            check: |_, _| Some(0.85),
            reason: "A test result tied to the recipient discloses their health information.",
        },
        Rule {
            name: "condition_of_a_person",
            kind: PhiKind::Diagnosis,
            patterns: &[concat!(
                r"(?i)\b(?:(?:your|ur|you(?:'re|\s+are|\s+have|\s+had)|u\s+(?:r|have|had)|his|her|their|patient'?s|has|had|diagnosed\s+with|positive\s+for|negative\s+for|treatment\s+for|being\s+treated\s+for|tiene|tienes|padece|con\s+diagn\S{1,2}stico\s+de|su|tu)\s+(?:[a-z0-9'-]+\s+){0,2}?",
                conditions!(),
                r"\b",
                // A result after the name ("HIV negative", "covid +") is someone's too.
                r"|",
                conditions!(),
                r"\s+(?:test\s+)?(?:positive|negative|positivo|negativo|pos|neg)\b)"
            )],
            prefilter: Some(concat!(r"(?i)\b", conditions!(), r"\b")),
            check: |_, _| Some(0.8),
            reason: "A named condition tied to a person discloses their health information.",
        },
    ]
});

struct Compiled {
    set: RegexSet,
    /// Per entry of the set: the rule, and the regexes to run when the entry matches.
    entries: Vec<(&'static Rule, Vec<Regex>)>,
}

/// The patterns look for ASCII identifiers and ASCII context words, so they run in
/// ASCII mode over the draft's bytes: Unicode-aware `\b` and case folding would cost
/// the lazy DFA dearly, and drafts in other scripts lose nothing by it.
static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let regex = |pattern: &str| {
        RegexBuilder::new(pattern)
            .unicode(false)
            .build()
            .expect("the PHI patterns compile")
    };
    let mut set = Vec::new();
    let mut entries = Vec::new();
    for rule in RULES.iter() {
        match rule.prefilter {
            Some(prefilter) => {
                set.push(prefilter);
                entries.push((rule, rule.patterns.iter().map(|p| regex(p)).collect()));
            }
            None => {
                for pattern in rule.patterns {
                    set.push(*pattern);
                    entries.push((rule, vec![regex(pattern)]));
                }
            }
        }
    }
    Compiled {
        set: RegexSetBuilder::new(set)
            .unicode(false)
            .dfa_size_limit(32 << 20)
            .build()
            .expect("the PHI patterns compile"),
        entries,
    }
});

/// Compiles the patterns now rather than on the first draft.
pub fn warm_up() {
    LazyLock::force(&COMPILED);
    vocabulary::warm_up();
}

/// Every identifier found in `text`, in order. Where findings overlap, the surest wins.
pub fn scan(text: &str, allowed: &Allowed) -> Vec<Finding> {
    let compiled = &*COMPILED;
    let mut found: Vec<(usize, usize, f32, &Rule)> = Vec::new();
    let bytes = text.as_bytes();
    let matching = compiled.set.matches(bytes);
    let searches = matching.iter().flat_map(|index| {
        let (rule, regexes) = &compiled.entries[index];
        regexes.iter().map(move |regex| (*rule, regex))
    });
    for (rule, regex) in searches {
        for captures in regex.captures_iter(bytes) {
            let Some(confidence) = (rule.check)(&captures, allowed) else {
                continue;
            };
            // The identifier itself: from its first captured part to its last (context
            // words are not part of it), else the whole match.
            let parts: Vec<regex::bytes::Match> = (1..captures.len())
                .filter_map(|group| captures.get(group))
                .collect();
            let whole = captures.get(0).expect("a match has group 0");
            let mut start = parts.first().map_or(whole.start(), |part| part.start());
            let end = parts.last().map_or(whole.end(), |part| part.end());
            // The pattern reaches back up to three words for a medication's name ("please
            // take lisinopril 10 mg"); the finding starts at the name.
            if rule.kind == PhiKind::Medication {
                start += vocabulary::medication_start(ascii(&bytes[start..end])).unwrap_or(0);
            }
            if is_allowed_term(&bytes[start..end], allowed) {
                continue;
            }
            found.push((start, end, confidence, rule));
        }
    }
    found.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let mut kept: Vec<(usize, usize, f32, &Rule)> = Vec::new();
    for candidate in found {
        if !kept.iter().any(|k| candidate.0 < k.1 && k.0 < candidate.1) {
            kept.push(candidate);
        }
    }
    let names = if kept.iter().any(|k| k.3.kind.is_clinical()) {
        names_in(text, allowed)
            .filter(|name| !kept.iter().any(|k| name.0 < k.1 && k.0 < name.1))
            .collect()
    } else {
        Vec::new()
    };
    // Spans are byte offsets until the findings are in order, then UTF-16 (see `Finding`).
    let mut findings: Vec<Finding> = kept
        .into_iter()
        .map(|(start, end, confidence, rule)| Finding {
            kind: rule.kind,
            start,
            end,
            excerpt: mask(&String::from_utf8_lossy(&bytes[start..end])),
            confidence,
            rule: rule.name.to_string(),
            reason: Cow::Borrowed(rule.reason),
            attachment_id: None,
        })
        .chain(names.into_iter().map(|(start, end)| Finding {
            kind: PhiKind::Name,
            start,
            end,
            excerpt: mask(&text[start..end]),
            confidence: 0.7,
            rule: "given_name".to_string(),
            reason: Cow::Borrowed(
                "A person's name in a message that holds health information says whose it is.",
            ),
            attachment_id: None,
        }))
        .collect();
    findings.sort_by_key(|finding| finding.start);
    for finding in &mut findings {
        finding.start = utf16_offset(text, finding.start);
        finding.end = utf16_offset(text, finding.end);
    }
    findings
}

/// A capitalised given name and the capitalised word after it, if any (the surname), as
/// byte spans. A given name that starts a sentence counts only with a surname: "Will",
/// "Hope" and "Grace" open sentences as words far more often than as names. Lower-case
/// names are not found; a name is flagged only beside health information, which blocks
/// already, so a miss loses the highlight, never the block.
fn names_in<'t>(text: &'t str, allowed: &'t Allowed) -> impl Iterator<Item = (usize, usize)> + 't {
    static WORD: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\b[A-Z][a-z]{2,}\b").expect("the name pattern compiles")
    });
    static SURNAME: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^[ \t]+[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
            .expect("the name pattern compiles")
    });
    let mut taken_until = 0;
    WORD.find_iter(text).filter_map(move |given| {
        if given.start() < taken_until || !vocabulary::is_given_name(given.as_str()) {
            return None;
        }
        let surname = SURNAME.find(&text[given.end()..]);
        let before = text[..given.start()].trim_end();
        let opens_sentence = before.is_empty() || before.ends_with(['.', '!', '?', ':']);
        if opens_sentence && surname.is_none() {
            return None;
        }
        let end = given.end() + surname.map_or(0, |surname| surname.end());
        taken_until = end;
        (!is_allowed_term(&text.as_bytes()[given.start()..end], allowed))
            .then_some((given.start(), end))
    })
}

fn is_allowed_term(matched: &[u8], allowed: &Allowed) -> bool {
    !allowed.terms.is_empty() && {
        let matched = String::from_utf8_lossy(matched).to_lowercase();
        allowed
            .terms
            .iter()
            .any(|term| matched.contains(term.as_str()) || term.contains(matched.as_str()))
    }
}

/// Findings of the organisation's own patterns (compiled per draft: they are few, and
/// validated when saved).
pub fn scan_custom(text: &str, patterns: &[(String, regex::Regex)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, regex) in patterns {
        for found in regex.find_iter(text) {
            findings.push(Finding {
                kind: PhiKind::Custom,
                start: utf16_offset(text, found.start()),
                end: utf16_offset(text, found.end()),
                excerpt: mask(found.as_str()),
                confidence: 0.9,
                rule: name.clone(),
                reason: Cow::Owned(format!(
                    "It matches \"{name}\", a pattern the organisation marked as PHI."
                )),
                attachment_id: None,
            });
        }
    }
    findings
}

/// A finding for each image among a draft's attachments, for the operator to look at: a
/// full-face photo identifies a person, and no pattern can see one. It has no span of
/// the text; its excerpt is the file's name.
pub fn photos(attachments: &[Attachment]) -> Vec<Finding> {
    attachments
        .iter()
        .filter(|attachment| attachment.content_type.starts_with("image/"))
        .map(|image| Finding {
            kind: PhiKind::Photo,
            start: 0,
            end: 0,
            excerpt: image.file_name.clone(),
            confidence: 0.5,
            rule: "image_attachment".to_string(),
            reason: Cow::Borrowed(
                "An image can show a face, and a full-face photo identifies a person: look at it before sending.",
            ),
            attachment_id: Some(image.id),
        })
        .collect()
}

fn utf16_offset(text: &str, byte_offset: usize) -> usize {
    if text.is_ascii() {
        byte_offset
    } else {
        String::from_utf8_lossy(&text.as_bytes()[..byte_offset])
            .encode_utf16()
            .count()
    }
}

/// All letters and digits but the last two become `•`.
fn mask(value: &str) -> String {
    let visible_from = value
        .chars()
        .filter(|c| c.is_alphanumeric())
        .count()
        .saturating_sub(2);
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen <= visible_from {
                    return '•';
                }
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<PhiKind> {
        scan(text, &Allowed::default())
            .into_iter()
            .map(|finding| finding.kind)
            .collect()
    }

    #[test]
    fn a_name_counts_only_beside_health_information() {
        let found = scan(
            "Please tell Maria Lopez her A1C results are back",
            &Allowed::default(),
        );
        let name = found
            .iter()
            .find(|finding| finding.kind == PhiKind::Name)
            .expect("the name is found");
        assert_eq!((name.start, name.end), (12, 23));
        assert!(found
            .iter()
            .any(|finding| finding.kind == PhiKind::TestResult));
        assert!(!kinds("Please tell Maria Lopez her ride is here").contains(&PhiKind::Name));
        // A sentence may open with a name-like word; with a surname it is a name.
        assert!(!kinds("Will your A1C results be back soon?").contains(&PhiKind::Name));
        assert!(kinds("Grace Chen tested positive for strep").contains(&PhiKind::Name));
        // Months, and names the organisation allows (its doctors), are not.
        assert!(!kinds("your A1C results from May are back").contains(&PhiKind::Name));
        let allowed = Allowed {
            terms: vec!["dr. maria lopez".into()],
            ..Allowed::default()
        };
        assert!(
            !scan("Dr. Maria Lopez says your A1C results are back", &allowed)
                .iter()
                .any(|finding| finding.kind == PhiKind::Name)
        );
    }

    #[test]
    fn a_medication_finding_starts_at_its_name() {
        let text = "please take lisinopril 10 mg daily";
        let found = scan(text, &Allowed::default());
        let medication = found
            .iter()
            .find(|finding| finding.kind == PhiKind::Medication)
            .expect("the medication is found");
        assert_eq!(&text[medication.start..medication.end], "lisinopril 10 mg");
    }

    #[test]
    fn each_kind_is_found() {
        let cases = [
            ("Her SSN is 123-45-6788, please update", PhiKind::Ssn),
            ("ssn 123456788 on file", PhiKind::Ssn),
            ("MRN: A1234567 for the chart", PhiKind::MedicalRecordNumber),
            (
                "patient id 88231-9 needs review",
                PhiKind::MedicalRecordNumber,
            ),
            ("DOB 04/12/1961, confirm please", PhiKind::DateOfBirth),
            ("she was born on March 3, 1950.", PhiKind::DateOfBirth),
            ("the patient is 94 years old", PhiKind::Age),
            ("Member ID: XJ4412890 is active", PhiKind::HealthPlanId),
            ("MBI 1EG4-TE5-MK73 on the card", PhiKind::HealthPlanId),
            ("account # 00447812 is past due", PhiKind::AccountNumber),
            ("Card 4111 1111 1111 1111 was declined", PhiKind::CreditCard),
            ("write to jane.doe@gmail.com today", PhiKind::Email),
            ("call her at (415) 555-0177", PhiKind::Phone),
            ("she lives at 221 Baker Street", PhiKind::StreetAddress),
            ("ZIP: 94110", PhiKind::ZipCode),
            ("see https://portal.example.com/patient/88231", PhiKind::Url),
            ("logged in from 192.168.10.24", PhiKind::IpAddress),
            ("VIN 1M8GDM9AXKP042788 for the ambulance", PhiKind::Vehicle),
            ("pump serial no: PX4471-22 replaced", PhiKind::DeviceSerial),
            (
                "fingerprint id FP-0048213 did not match",
                PhiKind::Biometric,
            ),
            ("dx E11.9, follow up", PhiKind::Diagnosis),
            ("results came back: HIV negative", PhiKind::Diagnosis),
            ("NPI 1234567893 for Dr. Lee", PhiKind::License),
            ("DEA AB1234563 expires soon", PhiKind::License),
        ];
        for (text, kind) in cases {
            assert!(
                kinds(text).contains(&kind),
                "{text:?} should show {kind:?}: {:?}",
                kinds(text)
            );
        }
    }

    #[test]
    fn everyday_drafts_are_clean() {
        for text in [
            "Your appointment is on 04/12/2026 at 3:30 pm. Reply C to confirm.",
            "Order #4471-2210 has shipped; total $129.99.",
            "We are open 9-5 Monday to Friday. See you soon!",
            "Your copay is $25. Parking is free.",
            "Tracking 1Z999AA10123456784 arrives Thursday",
            "Room 101 is on the second floor",
            "Your 3 month check-up is due",
        ] {
            assert!(
                kinds(text).is_empty(),
                "{text:?} is not PHI: {:?}",
                scan(text, &Allowed::default())
            );
        }
    }

    #[test]
    fn checksums_veto_lookalikes() {
        assert!(
            kinds("Card 4111 1111 1111 1112 was declined").is_empty(),
            "one digit off the Luhn check"
        );
        assert!(kinds("000-12-3456").is_empty(), "area 000 is never issued");
        assert!(
            kinds("call 078-05-1120").is_empty(),
            "the advertising dummy"
        );
        assert!(!kinds("NPI 1234567894").contains(&PhiKind::License));
        assert!(!kinds("VIN 1M8GDM9A1KP042788").contains(&PhiKind::Vehicle));
    }

    #[test]
    fn a_label_blocks_whatever_follows_in_its_shape() {
        for text in [
            "SSN 078-05-1120",
            "ssn: 000 12 3456",
            "seguro social 123456789",
        ] {
            assert_eq!(kinds(text), [PhiKind::Ssn], "{text:?}");
        }
        assert_eq!(kinds("dob 4 12 1961"), [PhiKind::DateOfBirth]);
        assert_eq!(kinds("member id: ZZ0000001"), [PhiKind::HealthPlanId]);
    }

    #[test]
    fn clinical_content_is_validated_against_its_vocabulary() {
        assert_eq!(kinds("dx E11.9 noted"), [PhiKind::Diagnosis]);
        assert!(
            kinds("see item I10.0 in the catalogue").is_empty(),
            "not a code"
        );
        assert_eq!(kinds("CPT 99213 billed"), [PhiKind::Procedure]);
        assert!(kinds("CPT 99999 billed").is_empty(), "outside Category I");
        assert_eq!(
            kinds("take metformin 500 mg twice a day"),
            [PhiKind::Medication]
        );
        assert!(kinds("bring 500 mg of patience").is_empty());
        assert_eq!(kinds("your A1C results are back"), [PhiKind::TestResult]);
        assert!(kinds("she tested positive for strep").contains(&PhiKind::TestResult));
        assert_eq!(
            kinds("sorry to hear about your diabetes"),
            [PhiKind::Diagnosis]
        );
        assert!(kinds("our diabetes class meets on Tuesday").is_empty());
        assert!(kinds("flu shots are available this week").is_empty());
    }

    #[test]
    fn the_organisations_own_domain_and_toll_free_numbers_are_not_a_persons() {
        let allowed = Allowed {
            domains: vec!["clinic.example".into()],
            ..Allowed::default()
        };
        assert!(scan(
            "Write billing@clinic.example or see https://portal.clinic.example/patient/88231",
            &allowed
        )
        .is_empty());
        assert_eq!(
            scan("write jane@elsewhere.example", &allowed)[0].kind,
            PhiKind::Email
        );
        assert!(kinds("call 1-800-555-0199 for the pharmacy").is_empty());
    }

    #[test]
    fn appointment_logistics_are_not_an_address() {
        assert!(kinds("See you at 3 pm with Dr. Chen").is_empty());
        assert!(kinds("Take 2 tablets a day on the Dr's advice").is_empty());
        assert_eq!(kinds("she lives at 12 N Main St"), [PhiKind::StreetAddress]);
        assert!(
            kinds("The total is 12345").is_empty(),
            "no ZIP without an address"
        );
        assert_eq!(kinds("Springfield, IL 62704"), [PhiKind::ZipCode]);
    }

    #[test]
    fn a_prefilter_fires_wherever_its_rules_patterns_match() {
        let compile = |p: &str| RegexBuilder::new(p).unicode(false).build().unwrap();
        let drafts = include_str!("../../tests/data/phi_corpus.jsonl");
        let mut checked = 0;
        for rule in RULES.iter() {
            let Some(prefilter) = rule.prefilter else {
                continue;
            };
            let prefilter = compile(prefilter);
            for pattern in rule.patterns.iter().map(|p| compile(p)) {
                for draft in drafts.lines() {
                    if pattern.is_match(draft.as_bytes()) {
                        checked += 1;
                        assert!(
                            prefilter.is_match(draft.as_bytes()),
                            "{}: {draft}",
                            rule.name
                        );
                    }
                }
            }
        }
        assert!(
            checked > 50,
            "the corpus exercises the prefilters ({checked})"
        );
    }

    #[test]
    fn the_clinics_own_number_and_the_recipients_are_allowed() {
        let allowed = Allowed {
            phones: vec!["+14155550100".into(), "+14155550111".into()],
            emails: vec!["desk@clinic.example".into()],
            ..Allowed::default()
        };
        assert!(scan(
            "Call us at (415) 555-0100 or email desk@clinic.example",
            &allowed
        )
        .is_empty());
        assert!(scan("We have you as 415-555-0111", &allowed).is_empty());
        assert_eq!(
            scan("Her husband is 415-555-0199", &allowed)[0].kind,
            PhiKind::Phone
        );
    }

    #[test]
    fn findings_carry_span_mask_and_rule() {
        let text = "Née Zoë, SSN 123-45-6788";
        let finding = &scan(text, &Allowed::default())[0];
        assert_eq!(finding.kind, PhiKind::Ssn);
        let utf16: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(
            String::from_utf16(&utf16[finding.start..finding.end]).unwrap(),
            "123-45-6788"
        );
        assert_eq!(finding.excerpt, "•••-••-••88");
        assert_eq!(finding.rule, "ssn_with_context");
        assert!(finding.reason.contains("Social Security number"));
    }

    #[test]
    fn allowed_terms_are_not_findings() {
        let allowed = Allowed {
            terms: vec!["acct 55512".into()],
            ..Allowed::default()
        };
        assert!(scan("Pay online with Acct 55512 (the clinic's own)", &allowed).is_empty());
        assert_eq!(
            kinds("Pay online with Acct 55512"),
            [PhiKind::AccountNumber]
        );
    }
}

//! Attribute match ("xác thực thông tin", SPEC §5.3): a relying party states what a customer
//! told it — personal id plus any of name, birth date, sex, phone, a live face at its kiosk —
//! and learns, field by field, whether the registry agrees. It never learns the registry's
//! values. Every match is recorded in the citizen's usage history with the relying party and
//! the purpose.

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::IdentityError;
use super::chip_check::{client_requester, kiosk_key};
use super::history::{self, HistoryBatch, UsageEntry};
use crate::biometrics::BiometricError;
use crate::biometrics::liveness::Capture;
use crate::challenges::random_token;
use crate::domain::{PersonFacts, PersonalId, PhoneNumber, Sex, parse_iso_date};
use crate::relying_parties::RelyingParty;
use crate::services::Services;
use crate::store::WriteBatch;

/// What the relying party was told. At least one field besides `personal_id`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    pub personal_id: String,
    #[serde(default)]
    pub full_name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// `male` or `female`.
    #[serde(default)]
    pub sex: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// A live capture signed by the relying party's registered kiosk key.
    #[serde(default)]
    pub face_capture: Option<Capture>,
    /// Why the relying party asks (shown to the citizen in the usage history).
    pub purpose: String,
}

/// The answer: `true`/`false` for each field asked, nothing else about the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MatchResult {
    /// Whether the registry knows this personal id; when `false`, every field is `false`.
    pub personal_id: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face: Option<bool>,
    /// The id of the usage-history entry (absent when the personal id is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_id: Option<String>,
}

/// A batch line: the fields of a [`MatchRequest`], borrowed from the line wherever JSON escapes
/// allow (a million lines should not cost five allocations each).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest<'a> {
    #[serde(borrow)]
    personal_id: Text<'a>,
    #[serde(borrow, default)]
    full_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    birth_date: Option<Text<'a>>,
    #[serde(borrow, default)]
    sex: Option<Text<'a>>,
    #[serde(borrow, default)]
    phone: Option<Text<'a>>,
    /// Refused in batches, so never looked into.
    #[serde(default)]
    face_capture: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    purpose: Text<'a>,
}

/// A JSON string, borrowed unless it holds escapes. (Serde borrows a `Cow` only when it is the
/// field's whole type, not inside an `Option`.)
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// The claimed values as received, before any is checked: what [`MatchRequest`] and a batch
/// line have in common.
struct Claimed<'a> {
    personal_id: Cow<'a, str>,
    full_name: Option<Cow<'a, str>>,
    birth_date: Option<Cow<'a, str>>,
    sex: Option<Cow<'a, str>>,
    phone: Option<Cow<'a, str>>,
    face_capture: bool,
    purpose: Cow<'a, str>,
}

/// A request with every field parsed: bad input is refused before anything is looked up.
pub struct ParsedMatch<'a> {
    pub personal_id: PersonalId,
    full_name: Option<Cow<'a, str>>,
    birth_date: Option<NaiveDate>,
    sex: Option<Sex>,
    phone: Option<PhoneNumber>,
    face_capture: bool,
    pub purpose: Cow<'a, str>,
}

const MAX_PURPOSE: usize = 200;

/// Names compare after trimming, collapsing inner white space and lower-casing; diacritics
/// matter (Hà is not Ha). Compared lazily, character by character: no copy of either name.
fn same_name(a: &str, b: &str) -> bool {
    fn normalized(s: &str) -> impl Iterator<Item = char> + '_ {
        s.split_whitespace().enumerate().flat_map(|(i, word)| {
            (i > 0)
                .then_some(' ')
                .into_iter()
                .chain(word.chars().flat_map(char::to_lowercase))
        })
    }
    a == b || normalized(a).eq(normalized(b))
}

fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) if o.trim().len() == o.len() => Cow::Owned(o),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

impl MatchRequest {
    pub fn parse(&self) -> Result<ParsedMatch<'_>, IdentityError> {
        fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        Claimed {
            personal_id: Cow::Borrowed(&self.personal_id),
            full_name: text(&self.full_name),
            birth_date: text(&self.birth_date),
            sex: text(&self.sex),
            phone: text(&self.phone),
            face_capture: self.face_capture.is_some(),
            purpose: Cow::Borrowed(&self.purpose),
        }
        .parse()
    }
}

impl<'a> BatchRequest<'a> {
    fn claimed(self) -> Claimed<'a> {
        let text = |t: Option<Text<'a>>| t.map(|t| t.0);
        Claimed {
            personal_id: self.personal_id.0,
            full_name: text(self.full_name),
            birth_date: text(self.birth_date),
            sex: text(self.sex),
            phone: text(self.phone),
            face_capture: self.face_capture.is_some(),
            purpose: self.purpose.0,
        }
    }
}

impl<'a> Claimed<'a> {
    fn parse(self) -> Result<ParsedMatch<'a>, IdentityError> {
        let personal_id = PersonalId::parse(&self.personal_id)
            .map_err(|e| IdentityError::invalid("invalid_personal_id", e.to_string()))?;
        let birth_date = match &self.birth_date {
            Some(d) => Some(parse_iso_date(d).ok_or_else(|| {
                IdentityError::invalid("invalid_birth_date", "birth_date is YYYY-MM-DD")
            })?),
            None => None,
        };
        let sex = match self.sex.as_deref() {
            Some("male") => Some(Sex::Male),
            Some("female") => Some(Sex::Female),
            Some(_) => {
                return Err(IdentityError::invalid(
                    "invalid_sex",
                    "sex is male or female",
                ));
            }
            None => None,
        };
        let phone = match &self.phone {
            Some(p) => Some(
                PhoneNumber::parse(p)
                    .map_err(|e| IdentityError::invalid("invalid_phone", e.to_string()))?,
            ),
            None => None,
        };
        if let Some(n) = &self.full_name
            && (n.trim().is_empty() || n.len() > 200)
        {
            return Err(IdentityError::invalid(
                "invalid_full_name",
                "full_name is 1 to 200 characters",
            ));
        }
        let purpose = trimmed(self.purpose);
        if purpose.is_empty() || purpose.len() > MAX_PURPOSE {
            return Err(IdentityError::invalid(
                "invalid_purpose",
                "purpose is 1 to 200 characters",
            ));
        }
        let asked = self.full_name.is_some()
            || birth_date.is_some()
            || sex.is_some()
            || phone.is_some()
            || self.face_capture;
        if !asked {
            return Err(IdentityError::invalid(
                "nothing_to_match",
                "give at least one of full_name, birth_date, sex, phone, face_capture",
            ));
        }
        Ok(ParsedMatch {
            personal_id,
            full_name: self.full_name,
            birth_date,
            sex,
            phone,
            face_capture: self.face_capture,
            purpose,
        })
    }
}

/// The fields a match may ask about, in the order they are named in the usage history.
const FIELDS: [&str; 5] = ["full_name", "birth_date", "sex", "phone", "face"];

impl ParsedMatch<'_> {
    /// The field-by-field answer against a registry record (or none).
    pub fn compare(&self, person: Option<&PersonFacts>, face: Option<bool>) -> MatchResult {
        let found = person.is_some();
        let field = |asked: bool, agrees: &dyn Fn(&PersonFacts) -> bool| {
            asked.then(|| person.is_some_and(agrees))
        };
        MatchResult {
            personal_id: found,
            full_name: field(self.full_name.is_some(), &|p| {
                self.full_name
                    .as_deref()
                    .is_some_and(|n| same_name(n, &p.full_name))
            }),
            birth_date: field(self.birth_date.is_some(), &|p| {
                self.birth_date == Some(p.birth_date)
            }),
            sex: field(self.sex.is_some(), &|p| self.sex == Some(p.sex)),
            phone: field(self.phone.is_some(), &|p| {
                self.phone.as_ref().is_some_and(|n| n.as_str() == p.phone)
            }),
            face: self.face_capture.then_some(found && face == Some(true)),
            match_id: None,
        }
    }

    /// Which of [`FIELDS`] were asked, one bit each.
    fn asked(&self) -> u64 {
        [
            self.full_name.is_some(),
            self.birth_date.is_some(),
            self.sex.is_some(),
            self.phone.is_some(),
            self.face_capture,
        ]
        .iter()
        .enumerate()
        .fold(0, |bits, (i, asked)| bits | (u64::from(*asked) << i))
    }

    /// The names of the fields asked, for the usage history.
    pub fn fields(&self) -> Vec<String> {
        let asked = self.asked();
        FIELDS
            .iter()
            .enumerate()
            .filter(|(i, _)| asked & (1 << i) != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect()
    }
}

/// One match: parse, look up, compare, record in the citizen's history.
pub async fn match_one(
    services: &Services,
    rp: &RelyingParty,
    req: MatchRequest,
) -> Result<MatchResult, IdentityError> {
    let parsed = req.parse()?;
    // The kiosk must be registered before any capture is looked at.
    let kiosk = match &req.face_capture {
        Some(_) => Some(kiosk_key(rp)?),
        None => None,
    };
    let person = services.registry.person(&parsed.personal_id).await?;
    let face = match (&req.face_capture, kiosk, &person) {
        (Some(capture), Some(kiosk), Some(p)) => {
            let template = match services
                .liveness
                .verify(capture, &client_requester(rp), &kiosk)
                .await
            {
                Ok(t) => Some(t),
                Err(BiometricError::Store(s)) => return Err(s.into()),
                Err(BiometricError::Template(t)) => {
                    return Err(IdentityError::invalid("template_invalid", t.to_string()));
                }
                Err(_) => None,
            };
            match (template, services.registry.templates(&p.personal_id).await?) {
                (Some(t), Some(enrolled)) => {
                    Some(services.matcher.face(&t, &enrolled.face).is_ok())
                }
                _ => Some(false),
            }
        }
        _ => None,
    };
    let mut result = parsed.compare(person.as_ref().map(PersonFacts::from).as_ref(), face);
    if person.is_some() {
        let id = random_token()?;
        history::record(
            &services.store,
            &parsed.personal_id,
            &UsageEntry {
                at: services.clock.now().secs(),
                client_id: rp.client_id.to_string(),
                relying_party: rp.name.clone(),
                action: "match".into(),
                claims: parsed.fields(),
                verification_id: id.clone(),
                purpose: Some(parsed.purpose.clone().into_owned()),
            },
        )
        .await?;
        result.match_id = Some(id);
    }
    Ok(result)
}

/// One answered line of a batch: the result, or why the line was refused.
#[derive(Debug)]
pub enum BatchLine {
    Matched { line: u64, result: MatchResult },
    Refused { line: u64, error: LineError },
}

/// `{"line": n, …the result's fields}` or `{"line": n, "error": {…}}`. Written field by field:
/// serde's `flatten` goes through a map and cost a tenth of a batch line's time.
impl Serialize for BatchLine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        match self {
            BatchLine::Matched { line, result: r } => {
                let mut m = s.serialize_struct("MatchedLine", 8)?;
                m.serialize_field("line", line)?;
                m.serialize_field("personal_id", &r.personal_id)?;
                for (name, answer) in [
                    ("full_name", r.full_name),
                    ("birth_date", r.birth_date),
                    ("sex", r.sex),
                    ("phone", r.phone),
                    ("face", r.face),
                ] {
                    match answer {
                        Some(agrees) => m.serialize_field(name, &agrees)?,
                        None => m.skip_field(name)?,
                    }
                }
                match &r.match_id {
                    Some(id) => m.serialize_field("match_id", id)?,
                    None => m.skip_field("match_id")?,
                }
                m.end()
            }
            BatchLine::Refused { line, error } => {
                let mut m = s.serialize_struct("RefusedLine", 2)?;
                m.serialize_field("line", line)?;
                m.serialize_field("error", error)?;
                m.end()
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LineError {
    pub code: String,
    pub detail: String,
}

impl BatchLine {
    pub fn refused(line: u64, code: &str, detail: impl Into<String>) -> Self {
        BatchLine::Refused {
            line,
            error: LineError {
                code: code.to_owned(),
                detail: detail.into(),
            },
        }
    }
}

/// One batch line parsed, or the answer refusing it.
pub(crate) fn parse_line(n: u64, bytes: &[u8]) -> Result<ParsedMatch<'_>, BatchLine> {
    let request: BatchRequest<'_> = serde_json::from_slice(bytes)
        .map_err(|e| BatchLine::refused(n, "invalid_json", e.to_string()))?;
    if request.face_capture.is_some() {
        return Err(BatchLine::refused(
            n,
            "face_not_in_batch",
            "face captures are matched one at a time, with POST /v1/match",
        ));
    }
    request.claimed().parse().map_err(|e| match e {
        IdentityError::Invalid { code, detail } => BatchLine::refused(n, code, detail),
        other => BatchLine::refused(n, "invalid", other.to_string()),
    })
}

/// Matches a chunk of NDJSON lines (`(line number, bytes)`) with one registry read for all of
/// them. A bad line gets its own error and the rest go on. The caller writes the returned
/// history (one atomic, durable write) before sending the answers, so the next chunk can be
/// matched while the previous one commits.
pub async fn match_lines(
    services: &Services,
    rp: &RelyingParty,
    lines: &[(u64, &[u8])],
) -> Result<(Vec<BatchLine>, WriteBatch), crate::store::StoreError> {
    let requests: Vec<(u64, Result<ParsedMatch<'_>, BatchLine>)> = lines
        .iter()
        .map(|(n, bytes)| (*n, parse_line(*n, bytes)))
        .collect();
    let ids: Vec<&PersonalId> = requests
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|p| &p.personal_id))
        .collect();
    let registry = services.registry.stored_facts(&ids).await?;
    let mut history = HistoryBatch::new(
        services.clock.now().secs(),
        rp.client_id.as_str(),
        &rp.name,
        "match",
        ids.len(),
    )?;
    let mut out = Vec::with_capacity(requests.len());
    let mut looked_up = 0;
    for (n, request) in requests {
        out.push(match request {
            Err(refused) => refused,
            Ok(p) => {
                let person = registry.get(looked_up)?;
                looked_up += 1;
                let mut result = p.compare(person.as_ref(), None);
                if person.is_some() {
                    let kind = history.kind(p.asked(), &p.purpose, || p.fields());
                    result.match_id = Some(history.record(&p.personal_id, n, kind));
                }
                BatchLine::Matched { line: n, result }
            }
        });
    }
    Ok((out, history.into_write()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_ignoring_case_and_spacing_but_not_diacritics() {
        assert!(same_name("Nguyễn Văn An", "nguyễn văn an"));
        assert!(same_name("  NGUYỄN   Văn\tAn ", "Nguyễn Văn An"));
        assert!(same_name("Đặng Thị Hà", "ĐẶNG THỊ HÀ"));
        assert!(!same_name("Nguyen Van An", "Nguyễn Văn An"));
        assert!(!same_name("Nguyễn Văn", "Nguyễn Văn An"));
        assert!(!same_name("Nguyễn VănAn", "Nguyễn Văn An"));
        assert!(!same_name("Hà", "Ha"));
    }
}

//! Ready-made citizens for relying-party developers (dev mode only).

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::generator::{PersonTruth, reference_date};

/// A persona: who to log in as, and what that person is ready for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Persona {
    /// Full personal id: personas are synthetic sandbox people.
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: chrono::NaiveDate,
    pub phone: String,
    /// A stable role name, e.g. `adult`.
    pub role: String,
    /// What this persona is ready for, in words.
    pub ready_for: String,
    /// For the ready-made accounts: the state the sandbox put the citizen in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<PersonaState>,
    /// What a relying party (or the app) sees with this persona: where, and the exact code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Expectation>,
    /// The published sandbox credentials of a ready-made account (`eidgw sim persona ROLE`
    /// writes them into a wallet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SandboxCredentials>,
}

/// The states a ready-made sandbox account can be in: one persona each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PersonaState {
    #[serde(rename = "level-1")]
    Level1,
    #[serde(rename = "level-2")]
    Level2,
    Locked,
    CardRevoked,
    ClonedChip,
    TamperedChip,
    ExpiredCard,
    FaceMismatch,
    DeviceChanged,
}

impl PersonaState {
    pub const ALL: [PersonaState; 9] = [
        PersonaState::Level1,
        PersonaState::Level2,
        PersonaState::Locked,
        PersonaState::CardRevoked,
        PersonaState::ClonedChip,
        PersonaState::TamperedChip,
        PersonaState::ExpiredCard,
        PersonaState::FaceMismatch,
        PersonaState::DeviceChanged,
    ];

    pub fn role(self) -> &'static str {
        match self {
            PersonaState::Level1 => "level-1",
            PersonaState::Level2 => "level-2",
            PersonaState::Locked => "locked",
            PersonaState::CardRevoked => "card-revoked",
            PersonaState::ClonedChip => "cloned-chip",
            PersonaState::TamperedChip => "tampered-chip",
            PersonaState::ExpiredCard => "expired-card",
            PersonaState::FaceMismatch => "face-mismatch",
            PersonaState::DeviceChanged => "device-changed",
        }
    }

    fn ready_for(self) -> &'static str {
        match self {
            PersonaState::Level1 => {
                "a level-1 account: logins and presentations where level 1 is enough"
            }
            PersonaState::Level2 => {
                "a level-2 account with a genuine card: boarding, check-in, bank transfers"
            }
            PersonaState::Locked => "a level-2 account the citizen locked",
            PersonaState::CardRevoked => "a level-2 account whose card was reported lost",
            PersonaState::ClonedChip => {
                "a level-2 account holding a cloned chip (copied data, another key)"
            }
            PersonaState::TamperedChip => {
                "a level-2 account holding a chip whose DG13 was edited after sealing"
            }
            PersonaState::ExpiredCard => "a level-2 account holding a card past its expiry date",
            PersonaState::FaceMismatch => {
                "a level-2 account whose live face does not match the registry photo"
            }
            PersonaState::DeviceChanged => {
                "a level-2 account now bound to another phone than the published wallet's"
            }
        }
    }

    /// The codes a relying party (or the app) will see: these are what the tests check.
    pub fn expectations(self) -> Vec<Expectation> {
        let e = |at: &str, code: &str| Expectation {
            at: at.into(),
            code: code.into(),
        };
        match self {
            PersonaState::Level1 => vec![
                e(
                    "POST /v1/presentations for vietsky-air (level 2 needed)",
                    "level_too_low",
                ),
                e(
                    "POST /oauth2/bc-authorize by hanoi-general-hospital",
                    "unmet_authentication_requirements",
                ),
                e(
                    "POST /v1/verify by public-services-portal",
                    "valid (level 1)",
                ),
            ],
            PersonaState::Level2 => vec![
                e(
                    "POST /v1/verify by vietsky-air, after a passcode step-up",
                    "valid (level 2)",
                ),
                e("POST /v1/chip/verify", "authentic"),
                e(
                    "POST /v1/presentations for a 25,000,000 VND lotus-bank transfer with the passcode",
                    "step_up_required",
                ),
            ],
            PersonaState::Locked => vec![
                e("app login", "invalid_credentials"),
                e("POST /oauth2/bc-authorize", "access_denied"),
                e(
                    "POST /v1/verify of a token presented before the lock",
                    "account_locked",
                ),
            ],
            PersonaState::CardRevoked => vec![e("POST /v1/chip/verify", "card_revoked")],
            PersonaState::ClonedChip => vec![e("POST /v1/chip/verify", "aa_failed")],
            PersonaState::TamperedChip => vec![e("POST /v1/chip/verify", "dg_hash_mismatch")],
            PersonaState::ExpiredCard => vec![e("POST /v1/chip/verify", "card_expired")],
            PersonaState::FaceMismatch => vec![
                e(
                    "POST /v1/chip/verify with a kiosk face capture",
                    "face_mismatch",
                ),
                e("app face step-up", "face_mismatch"),
                e("POST /v1/match with face_capture", "face: false"),
            ],
            PersonaState::DeviceChanged => vec![e(
                "app login from the published wallet's (old) phone",
                "invalid_credentials",
            )],
        }
    }
}

/// Where a code shows up, and the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Expectation {
    pub at: String,
    pub code: String,
}

/// Published sandbox credentials: synthetic people, dev mode only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SandboxCredentials {
    pub password: String,
    pub passcode: String,
    /// The seed (base64url) of the phone's Ed25519 device key.
    pub device_seed: String,
}

fn age(truth: &PersonTruth) -> i32 {
    reference_date().year() - truth.person.birth_date.year()
}

/// A persona role: its name, what it is ready for, and which people fit it.
type Role = (&'static str, &'static str, fn(&PersonTruth) -> bool);

/// Picks the personas from a freshly generated population, deterministically: the registry-only
/// ones, then one adult per [`PersonaState`] (their accounts are made by
/// `identity::sandbox::prepare`).
pub fn pick(people: &[PersonTruth]) -> Vec<Persona> {
    let roles: [Role; 4] = [
        (
            "adult",
            "level-1 registration, login and presentations to any relying party",
            |p| (25..=50).contains(&age(p)),
        ),
        (
            "second-adult",
            "a second citizen, e.g. to show that pairwise subjects differ",
            |p| (25..=50).contains(&age(p)),
        ),
        (
            "minor",
            "age_over_18 answers false; level-1 registration",
            |p| (14..=17).contains(&age(p)),
        ),
        (
            "elderly",
            "a citizen over 70, e.g. for hospital check-in",
            |p| age(p) >= 70,
        ),
    ];
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (role, ready_for, fits) in roles {
        if let Some(p) = people
            .iter()
            .find(|p| fits(p) && !used.contains(p.person.personal_id.as_str()))
        {
            used.insert(p.person.personal_id.as_str().to_owned());
            out.push(Persona {
                personal_id: p.person.personal_id.as_str().to_owned(),
                full_name: p.person.full_name.clone(),
                birth_date: p.person.birth_date,
                phone: p.person.phone.as_str().to_owned(),
                role: role.into(),
                ready_for: ready_for.into(),
                state: None,
                expect: Vec::new(),
                credentials: None,
            });
        }
    }
    // From the end of the population: people taken from the start (`sim register` of the first
    // personas, the test suites) stay free of ready-made accounts.
    for state in PersonaState::ALL {
        if let Some(p) = people
            .iter()
            .rev()
            .find(|p| (25..=60).contains(&age(p)) && !used.contains(p.person.personal_id.as_str()))
        {
            used.insert(p.person.personal_id.as_str().to_owned());
            out.push(Persona {
                personal_id: p.person.personal_id.as_str().to_owned(),
                full_name: p.person.full_name.clone(),
                birth_date: p.person.birth_date,
                phone: p.person.phone.as_str().to_owned(),
                role: state.role().into(),
                ready_for: state.ready_for().into(),
                state: Some(state),
                expect: state.expectations(),
                credentials: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_is_named_by_its_role_and_promises_a_code() {
        for state in PersonaState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.role());
            assert!(!state.expectations().is_empty(), "{state:?}");
        }
    }
}

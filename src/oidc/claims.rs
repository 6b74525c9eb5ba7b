//! Scopes and the claims they release, under the relying party's allowed claims.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::Person;
use crate::relying_parties::{ClaimName, RelyingParty};

/// The scopes this provider knows (discovery lists exactly these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Openid,
    Profile,
    Birthdate,
    Address,
    Phone,
    PersonalId,
    HealthInsurance,
    #[serde(rename = "age_over_18")]
    AgeOver18,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::Openid,
        Scope::Profile,
        Scope::Birthdate,
        Scope::Address,
        Scope::Phone,
        Scope::PersonalId,
        Scope::HealthInsurance,
        Scope::AgeOver18,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Openid => "openid",
            Scope::Profile => "profile",
            Scope::Birthdate => "birthdate",
            Scope::Address => "address",
            Scope::Phone => "phone",
            Scope::PersonalId => "personal_id",
            Scope::HealthInsurance => "health_insurance",
            Scope::AgeOver18 => "age_over_18",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The registry data behind the scope. `age_over_18` releases only the boolean.
    pub fn registry_claims(self) -> &'static [ClaimName] {
        match self {
            Scope::Openid => &[],
            Scope::Profile => &[
                ClaimName::FullName,
                ClaimName::Sex,
                ClaimName::Nationality,
                ClaimName::Ethnicity,
                ClaimName::Religion,
                ClaimName::Hometown,
            ],
            Scope::Birthdate => &[ClaimName::BirthDate],
            Scope::Address => &[ClaimName::PermanentAddress],
            Scope::Phone => &[ClaimName::Phone],
            Scope::PersonalId => &[ClaimName::PersonalId],
            Scope::HealthInsurance => &[ClaimName::HealthInsuranceNumber],
            Scope::AgeOver18 => &[ClaimName::AgeOver18],
        }
    }
}

/// Parses a `scope` parameter. Unknown values are ignored (OpenID Connect Core §3.1.2.1) and
/// scopes whose claims the relying party may not receive are not granted.
pub fn grantable(scope: &str, rp: &RelyingParty) -> BTreeSet<Scope> {
    scope
        .split(' ')
        .filter_map(Scope::parse)
        .filter(|s| {
            *s == Scope::Openid
                || s.registry_claims()
                    .iter()
                    .any(|c| rp.allowed_claims.contains(c))
        })
        .collect()
}

pub fn scope_string(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Human-readable names for the consent page.
pub fn describe(scope: Scope) -> &'static str {
    match scope {
        Scope::Openid => "Your identity at this service (a subject identifier only it sees)",
        Scope::Profile => "Name, sex, nationality, ethnicity, religion, hometown",
        Scope::Birthdate => "Date of birth",
        Scope::Address => "Permanent address",
        Scope::Phone => "Phone number",
        Scope::PersonalId => "Personal identification number",
        Scope::HealthInsurance => "Health insurance number",
        Scope::AgeOver18 => "Whether you are over 18 (not your date of birth)",
    }
}

/// The standard (or, for Vietnamese data, product-specific) claims for the granted scopes.
pub fn oidc_claims(
    rp: &RelyingParty,
    scopes: &BTreeSet<Scope>,
    person: &Person,
    today: chrono::NaiveDate,
) -> BTreeMap<String, Value> {
    let allowed: BTreeSet<ClaimName> = scopes
        .iter()
        .flat_map(|s| s.registry_claims().iter().copied())
        .filter(|c| rp.allowed_claims.contains(c))
        .collect();
    let mut narrowed = rp.clone();
    narrowed.allowed_claims = allowed;
    let released = crate::identity::verification::release_claims(&narrowed, person, today);
    let mut out = BTreeMap::new();
    for (name, value) in released {
        let (oidc_name, oidc_value) = match name.as_str() {
            "full_name" => ("name".to_owned(), value),
            "sex" => ("gender".to_owned(), value),
            "birth_date" => ("birthdate".to_owned(), value),
            "permanent_address" => (
                "address".to_owned(),
                json!({ "formatted": value, "country": "VN" }),
            ),
            "phone" => {
                out.insert("phone_number_verified".to_owned(), json!(true));
                ("phone_number".to_owned(), json!(e164(value.as_str())))
            }
            _ => (name, value),
        };
        out.insert(oidc_name, oidc_value);
    }
    out
}

/// `0912345678` → `+84912345678` (OpenID's `phone_number` is E.164).
fn e164(national: Option<&str>) -> String {
    match national {
        Some(n) if n.starts_with('0') => format!("+84{}", &n[1..]),
        Some(n) => n.to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(e164(Some("0912345678")), "+84912345678");
    }
}

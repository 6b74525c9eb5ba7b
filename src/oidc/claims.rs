//! Scopes and the claims they release, under the relying party's allowed claims.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::Person;
use crate::relying_parties::{AGE_THRESHOLDS, ClaimName, RelyingParty};

/// The scopes this provider knows (discovery lists the fixed ones; `age_over_N` exists for the
/// N a client registered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    Openid,
    Profile,
    Birthdate,
    Address,
    Phone,
    PersonalId,
    HealthInsurance,
    AgeOver18,
    /// `age_over_N` for an N the client registered (`age_over` in its registration): releases
    /// only whether the citizen is at least N years old.
    AgeOver(u8),
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.name().into_owned()
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Scope::parse(&s).ok_or_else(|| format!("unknown scope {s}"))
    }
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

    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            Scope::AgeOver(n) => format!("age_over_{n}").into(),
            fixed => fixed.fixed_name().into(),
        }
    }

    fn fixed_name(self) -> &'static str {
        match self {
            Scope::Openid => "openid",
            Scope::Profile => "profile",
            Scope::Birthdate => "birthdate",
            Scope::Address => "address",
            Scope::Phone => "phone",
            Scope::PersonalId => "personal_id",
            Scope::HealthInsurance => "health_insurance",
            Scope::AgeOver18 => "age_over_18",
            Scope::AgeOver(_) => "age_over_N",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        if let Some(fixed) = Self::ALL.into_iter().find(|x| x.fixed_name() == s) {
            return Some(fixed);
        }
        let n: u8 = s.strip_prefix("age_over_")?.parse().ok()?;
        (AGE_THRESHOLDS.contains(&n) && s == format!("age_over_{n}")).then_some(Scope::AgeOver(n))
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
            Scope::AgeOver(_) => &[],
        }
    }
}

/// Parses a `scope` parameter. Unknown values are ignored (OpenID Connect Core §3.1.2.1) and
/// scopes whose claims the relying party may not receive are not granted.
pub fn grantable(scope: &str, rp: &RelyingParty) -> BTreeSet<Scope> {
    scope
        .split(' ')
        .filter_map(Scope::parse)
        .filter(|s| match s {
            Scope::Openid => true,
            Scope::AgeOver(n) => rp.age_over.contains(n),
            other => other
                .registry_claims()
                .iter()
                .any(|c| rp.allowed_claims.contains(c)),
        })
        .collect()
}

pub fn scope_string(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a grant of some scopes releases to one relying party: the registry claims the scopes name
/// *and* its registration allows, and the `age_over_N` answers it registered and asked for. The
/// one computation behind both what the citizen is shown (consent page, kiosk approvals in the
/// app) and what tokens and userinfo carry, so the two cannot differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    pub claims: BTreeSet<ClaimName>,
    pub ages: BTreeSet<u8>,
}

/// One released claim as the citizen is shown it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleasedClaim {
    /// The claim's name in ID tokens and userinfo (`name`, `birthdate`, `age_over_18`, …).
    pub claim: String,
    /// In words, for the citizen.
    pub label: String,
}

/// The release of `scopes` to `rp`.
pub fn release(rp: &RelyingParty, scopes: &BTreeSet<Scope>) -> Release {
    Release {
        claims: scopes
            .iter()
            .flat_map(|s| s.registry_claims().iter().copied())
            .filter(|c| rp.allowed_claims.contains(c))
            .collect(),
        ages: scopes
            .iter()
            .filter_map(|s| match s {
                Scope::AgeOver(n) => Some(*n),
                _ => None,
            })
            .filter(|n| rp.age_over.contains(n))
            .collect(),
    }
}

/// A claim's name in ID tokens and userinfo (the OpenID standard name where there is one).
pub fn oidc_name(claim: ClaimName) -> &'static str {
    match claim {
        ClaimName::PersonalId => "personal_id",
        ClaimName::FullName => "name",
        ClaimName::BirthDate => "birthdate",
        ClaimName::Sex => "gender",
        ClaimName::Nationality => "nationality",
        ClaimName::Ethnicity => "ethnicity",
        ClaimName::Religion => "religion",
        ClaimName::Hometown => "hometown",
        ClaimName::PermanentAddress => "address",
        ClaimName::Phone => "phone_number",
        ClaimName::HealthInsuranceNumber => "health_insurance_number",
        ClaimName::AgeOver18 => "age_over_18",
    }
}

fn label(claim: ClaimName) -> &'static str {
    match claim {
        ClaimName::PersonalId => "Personal identification number",
        ClaimName::FullName => "Full name",
        ClaimName::BirthDate => "Date of birth",
        ClaimName::Sex => "Sex",
        ClaimName::Nationality => "Nationality",
        ClaimName::Ethnicity => "Ethnicity",
        ClaimName::Religion => "Religion",
        ClaimName::Hometown => "Hometown",
        ClaimName::PermanentAddress => "Permanent address",
        ClaimName::Phone => "Phone number",
        ClaimName::HealthInsuranceNumber => "Health insurance number",
        ClaimName::AgeOver18 => "Whether you are over 18 (not your date of birth)",
    }
}

impl Release {
    /// Every released claim, in words, in the order the registration lists them; the subject
    /// identifier (which every login releases) is not among them.
    pub fn shown(&self) -> Vec<ReleasedClaim> {
        let mut out: Vec<ReleasedClaim> = self
            .claims
            .iter()
            .map(|c| ReleasedClaim {
                claim: oidc_name(*c).to_owned(),
                label: label(*c).to_owned(),
            })
            .collect();
        out.extend(self.ages.iter().map(|n| ReleasedClaim {
            claim: format!("age_over_{n}"),
            label: format!("Whether you are {n} or older (not your date of birth)"),
        }));
        out
    }

    /// The relying party narrowed to this release, for the claim filter.
    fn narrowed(&self, rp: &RelyingParty) -> RelyingParty {
        let mut narrowed = rp.clone();
        narrowed.allowed_claims = self.claims.clone();
        narrowed.age_over = self.ages.clone();
        narrowed
    }
}

/// The standard (or, for Vietnamese data, product-specific) claims for the granted scopes.
pub fn oidc_claims(
    rp: &RelyingParty,
    scopes: &BTreeSet<Scope>,
    person: &Person,
    today: chrono::NaiveDate,
) -> BTreeMap<String, Value> {
    let narrowed = release(rp, scopes).narrowed(rp);
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
    fn age_over_scopes_round_trip_and_only_for_sane_ages() {
        for (text, scope) in [
            ("age_over_18", Some(Scope::AgeOver18)),
            ("age_over_21", Some(Scope::AgeOver(21))),
            ("age_over_65", Some(Scope::AgeOver(65))),
            ("age_over_021", None),
            ("age_over_0", None),
            ("age_over_200", None),
            ("age_over_", None),
        ] {
            assert_eq!(Scope::parse(text), scope, "{text}");
            if let Some(s) = scope {
                assert_eq!(s.name(), text);
                let json = serde_json::to_string(&s).unwrap();
                assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), s);
            }
        }
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(e164(Some("0912345678")), "+84912345678");
    }
}

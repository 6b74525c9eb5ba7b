//! `POST /v1/verify`: a relying party checks a presentation token. Every way a token can be
//! wrong has its own reason code; a token passes only if all checks pass, and then only once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::history::{self, UsageEntry};
use super::presentation::{PRESENTATION_TYP, PresentationClaims};
use super::transactions::{self, AuthorizationDetail, Requirement};
use crate::challenges::random_token;
use crate::domain::{AuthLevel, AuthMethod, Level, Person};
use crate::relying_parties::{ClaimName, RelyingParty};
use crate::services::Services;
use crate::store::{StoreError, encode};
use crate::tokens::jws::JwsError;

/// Why a token is not valid (SPEC §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Malformed,
    BadSignature,
    UnknownKey,
    WrongType,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    NonceMismatch,
    Replayed,
    AccountLocked,
    LevelTooLow,
    AuthLevelTooLow,
    /// The relying party named a transaction, and the token approved another one (or none).
    AuthorizationDetailsMismatch,
    /// Issued before the gateway's store restarted or was restored, so whether it was already
    /// used cannot be known: the citizen presents a fresh one.
    IssuedBeforeRestore,
}

impl Reason {
    /// The reason code, as the JSON answer spells it.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::BadSignature => "bad_signature",
            Reason::UnknownKey => "unknown_key",
            Reason::WrongType => "wrong_type",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::NonceMismatch => "nonce_mismatch",
            Reason::Replayed => "replayed",
            Reason::AccountLocked => "account_locked",
            Reason::LevelTooLow => "level_too_low",
            Reason::AuthLevelTooLow => "auth_level_too_low",
            Reason::AuthorizationDetailsMismatch => "authorization_details_mismatch",
            Reason::IssuedBeforeRestore => "issued_before_restore",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub token: String,
    #[serde(default)]
    pub nonce: Option<String>,
    /// The transaction the relying party is about to execute: the token must have approved
    /// exactly this (RFC 9396).
    #[serde(default)]
    #[schema(min_items = 1, max_items = 5)]
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

/// The answer: `{"valid": true, …}` or `{"valid": false, "reason": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum VerifyResponse {
    Valid(ValidToken),
    Invalid { valid: bool, reason: Reason },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ValidToken {
    pub valid: bool,
    pub level: Level,
    pub auth_level: AuthLevel,
    pub amr: Vec<AuthMethod>,
    pub sub: String,
    pub auth_time: i64,
    /// Only what this relying party may receive.
    #[schema(value_type = Object)]
    pub claims: BTreeMap<String, serde_json::Value>,
    pub verification_id: String,
    /// The transaction the citizen approved, if the token carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
}

fn invalid(reason: Reason) -> VerifyResponse {
    VerifyResponse::Invalid {
        valid: false,
        reason,
    }
}

/// The claims from the registry this relying party may receive.
pub fn release_claims(
    rp: &RelyingParty,
    person: &Person,
    today: chrono::NaiveDate,
) -> BTreeMap<String, serde_json::Value> {
    use serde_json::json;
    let mut out = BTreeMap::new();
    for claim in &rp.allowed_claims {
        let (name, value) = match claim {
            ClaimName::PersonalId => ("personal_id", json!(person.personal_id.as_str())),
            ClaimName::FullName => ("full_name", json!(person.full_name)),
            ClaimName::BirthDate => ("birth_date", json!(person.birth_date)),
            ClaimName::Sex => ("sex", json!(person.sex)),
            ClaimName::Nationality => ("nationality", json!(person.nationality)),
            ClaimName::Ethnicity => ("ethnicity", json!(person.ethnicity)),
            ClaimName::Religion => ("religion", json!(person.religion)),
            ClaimName::Hometown => ("hometown", json!(person.hometown)),
            ClaimName::PermanentAddress => ("permanent_address", json!(person.permanent_address)),
            ClaimName::Phone => ("phone", json!(person.phone.as_str())),
            ClaimName::HealthInsuranceNumber => (
                "health_insurance_number",
                json!(person.health_insurance_number),
            ),
            ClaimName::AgeOver18 => ("age_over_18", json!(age_on(person.birth_date, today) >= 18)),
        };
        out.insert(name.to_owned(), value);
    }
    // Selective disclosure: whether the citizen is at least N, for the N the relying party
    // registered, without the birth date.
    for n in &rp.age_over {
        let over = age_on(person.birth_date, today) >= i32::from(*n);
        out.insert(format!("age_over_{n}"), json!(over));
    }
    out
}

/// Completed years of age on `today` (a birthday on 29 February counts from 1 March in
/// non-leap years).
pub fn age_on(birth: chrono::NaiveDate, today: chrono::NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

pub async fn verify(
    services: &Services,
    rp: &RelyingParty,
    req: &VerifyRequest,
) -> Result<VerifyResponse, StoreError> {
    let answer = check(services, rp, req).await?;
    services.metrics.verification(match &answer {
        VerifyResponse::Valid(_) => "valid",
        VerifyResponse::Invalid { reason, .. } => reason.code(),
    });
    Ok(answer)
}

async fn check(
    services: &Services,
    rp: &RelyingParty,
    req: &VerifyRequest,
) -> Result<VerifyResponse, StoreError> {
    let verified = match services.keyring.load().verify(&req.token) {
        Ok(v) => v,
        Err(JwsError::Algorithm(_) | JwsError::BadSignature) => {
            return Ok(invalid(Reason::BadSignature));
        }
        Err(JwsError::UnknownKey) => return Ok(invalid(Reason::UnknownKey)),
        Err(_) => return Ok(invalid(Reason::Malformed)),
    };
    let header = &verified.header;
    let claims: PresentationClaims = match verified.claims() {
        Ok(c) => c,
        // A genuine token of another kind has other claims: say so, rather than "malformed".
        Err(_) if header.typ.as_deref() != Some(PRESENTATION_TYP) => {
            return Ok(invalid(Reason::WrongType));
        }
        Err(_) => return Ok(invalid(Reason::Malformed)),
    };
    if header.typ.as_deref() != Some(PRESENTATION_TYP) {
        return Ok(invalid(Reason::WrongType));
    }
    if claims.iss != services.issuer() {
        return Ok(invalid(Reason::WrongIssuer));
    }
    if claims.aud != rp.client_id.as_str() {
        return Ok(invalid(Reason::WrongAudience));
    }
    let now = services.clock.now();
    let leeway = services.settings.tokens.leeway_secs as i64;
    if claims.exp + leeway <= now.secs() {
        return Ok(invalid(Reason::Expired));
    }
    if claims.iat > now.secs() + leeway || claims.nbf.is_some_and(|n| n > now.secs() + leeway) {
        return Ok(invalid(Reason::NotYetValid));
    }
    if req.nonce.as_ref().is_some_and(|n| *n != claims.nonce) {
        return Ok(invalid(Reason::NonceMismatch));
    }
    let issued_at = crate::clock::Timestamp::from_secs(claims.iat);
    if services.issued_before_fence(issued_at) {
        return Ok(invalid(Reason::IssuedBeforeRestore));
    }
    if req
        .authorization_details
        .as_ref()
        .is_some_and(|asked| claims.authorization_details.as_ref() != Some(asked))
    {
        return Ok(invalid(Reason::AuthorizationDetailsMismatch));
    }
    let Some(personal_id) = services.subjects.resolve(&rp.sector, &claims.sub).await? else {
        return Ok(invalid(Reason::Malformed));
    };
    let Some(account) = services.accounts.get(&personal_id).await? else {
        return Ok(invalid(Reason::Malformed));
    };
    if account.is_locked() {
        return Ok(invalid(Reason::AccountLocked));
    }
    let level = claims.acr;
    if level < rp.min_level {
        return Ok(invalid(Reason::LevelTooLow));
    }
    // The policy as it stands now, for the transaction the token approved.
    let requirement = Requirement::of(rp, claims.authorization_details.as_deref().unwrap_or(&[]));
    let methods: BTreeSet<AuthMethod> = claims.amr.iter().copied().collect();
    if claims.auth_level < requirement.auth_level || !requirement.met_by(&methods) {
        return Ok(invalid(Reason::AuthLevelTooLow));
    }
    let person = services.registry.person(&personal_id).await?;
    let released = person
        .map(|p| release_claims(rp, &p, now.to_datetime().date_naive()))
        .unwrap_or_default();
    let verification_id = random_token()?;
    let entry = UsageEntry {
        at: now.secs(),
        client_id: rp.client_id.to_string(),
        relying_party: rp.name.clone(),
        action: "verify".into(),
        claims: released.keys().cloned().collect(),
        verification_id: verification_id.clone(),
        purpose: claims
            .authorization_details
            .as_deref()
            .map(transactions::describe_all),
    };
    // Single use across every instance, and the history entry with it, in one atomic write:
    // the first verification claims the jti.
    let exp =
        crate::clock::Timestamp::from_secs(claims.exp).plus(Duration::from_secs(leeway as u64));
    // Keyed by expiry first: markers then arrive in time order, so the embedded B-tree appends
    // instead of rewriting a random leaf per verification. `exp` is signed, so a token always
    // maps to the same marker.
    let marker = format!("presentation-used:{:012}:{}", claims.exp, claims.jti);
    let first = services
        .store
        .claim_and_append(
            &marker,
            exp,
            &history::list(&personal_id),
            encode(&entry)?,
            now,
        )
        .await?;
    if !first {
        return Ok(invalid(Reason::Replayed));
    }
    // The claim may have run on a connection to a Redis that had just restarted: the fence it
    // raised is in force by now.
    if services.issued_before_fence(issued_at) {
        return Ok(invalid(Reason::IssuedBeforeRestore));
    }
    Ok(VerifyResponse::Valid(ValidToken {
        valid: true,
        level,
        auth_level: claims.auth_level,
        amr: claims.amr,
        sub: claims.sub,
        auth_time: claims.auth_time,
        claims: released,
        verification_id,
        authorization_details: claims.authorization_details,
    }))
}

#[cfg(test)]
mod reason_codes {
    use super::Reason;

    #[test]
    fn every_reason_code_is_what_the_json_answer_says() {
        use Reason::*;
        for r in [
            Malformed,
            BadSignature,
            UnknownKey,
            WrongType,
            Expired,
            NotYetValid,
            WrongIssuer,
            WrongAudience,
            NonceMismatch,
            Replayed,
            AccountLocked,
            LevelTooLow,
            AuthLevelTooLow,
            AuthorizationDetailsMismatch,
            IssuedBeforeRestore,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
    }
}

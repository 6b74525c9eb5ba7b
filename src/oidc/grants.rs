//! What a citizen granted a client, and the credentials that carry it: single-use codes, signed
//! ID and access tokens, and opaque refresh tokens rotated on every use.
//!
//! Every code and refresh token belongs to a **family** (one login). A replayed code or refresh
//! token is a sign that it leaked, so the whole family is revoked: the refresh tokens stop
//! working and the access tokens (which carry `fam`) stop being accepted by userinfo and
//! introspection.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::claims::{Scope, oidc_claims, scope_string};
use super::{
    ACCESS_TOKEN_TTL, ACCESS_TOKEN_TYP, CODE_TTL, ID_TOKEN_TTL, ID_TOKEN_TYP, OAuthError,
    REFRESH_TOKEN_TTL, pkce, secret_key,
};
use crate::challenges::random_token;
use crate::clock::Timestamp;
use crate::domain::{AuthLevel, AuthMethod, ClientId, Level, PersonalId, auth_level};
use crate::identity::history::{self, UsageEntry};
use crate::identity::pairwise;
use crate::identity::transactions::{self, AuthorizationDetail};
use crate::relying_parties::{IdTokenAlg, RelyingParty};
use crate::services::Services;
use crate::store::{PutMode, StoreError, Table, Taken, decode, encode};

/// One login's outcome for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub client_id: ClientId,
    pub personal_id: PersonalId,
    pub scopes: BTreeSet<Scope>,
    pub auth_time: Timestamp,
    pub methods: BTreeSet<AuthMethod>,
    pub level: Level,
    /// Only for the ID token issued with the code.
    pub nonce: Option<String>,
    /// The transaction the citizen approved with this login (RFC 9396).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
}

#[derive(Serialize, Deserialize)]
struct CodeRecord {
    grant: Grant,
    redirect_uri: String,
    code_challenge: String,
    /// For the restore fence (a record without it counts as issued at the epoch).
    #[serde(default)]
    issued_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct UsedCredential {
    family: String,
}

#[derive(Serialize, Deserialize)]
struct RefreshRecord {
    grant: Grant,
    family: String,
    expires_at: Timestamp,
    /// For the restore fence (a record without it counts as issued at the epoch).
    #[serde(default)]
    issued_at: Timestamp,
    /// The DPoP key the token is bound to, if the client used DPoP.
    #[serde(default)]
    jkt: Option<String>,
}

/// The token endpoint's success answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
    /// The approved transaction (RFC 9396 §7), when the request named one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
}

/// The claims of an access token (RFC 9068).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub auth_time: i64,
    #[serde(with = "crate::domain::as_acr")]
    pub acr: Level,
    pub amr: Vec<AuthMethod>,
    pub auth_level: AuthLevel,
    /// The login family, for revocation.
    pub fam: String,
    /// The DPoP key the token is bound to (RFC 9449 §6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<super::dpop::Confirmation>,
    /// The approved transaction (RFC 9396 §9.1), signed: it cannot change after approval.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
}

/// Issues a code for `grant`, bound to the client, the redirect URI and the PKCE challenge.
pub async fn issue_code(
    services: &Services,
    grant: Grant,
    redirect_uri: &str,
    code_challenge: &str,
) -> Result<String, StoreError> {
    let code = random_token()?;
    let now = services.clock.now();
    let record = CodeRecord {
        grant,
        redirect_uri: redirect_uri.to_owned(),
        code_challenge: code_challenge.to_owned(),
        issued_at: now,
    };
    services
        .store
        .put_expiring(
            &secret_key("code", &code),
            encode(&record)?,
            now.plus(CODE_TTL),
            PutMode::IfAbsent,
            now,
        )
        .await?;
    Ok(code)
}

/// The authorization_code grant.
pub async fn redeem_code(
    services: &Services,
    rp: &RelyingParty,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
    dpop_jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let now = services.clock.now();
    let family = random_token()?;
    let mark = encode(&UsedCredential {
        family: family.clone(),
    })?;
    // Taking the code and marking it used are one atomic step: of two concurrent redemptions
    // exactly one gets the code, and the other always finds the winner's family to revoke
    // (RFC 6749 §4.1.2, RFC 9700 §4.5).
    let taken = services
        .store
        .take_once(
            &secret_key("code", code),
            &secret_key("code-used", code),
            mark,
            now.plus(REFRESH_TOKEN_TTL),
            now,
        )
        .await?;
    let raw = match taken {
        Taken::Value(raw) => raw,
        Taken::Used(raw) => {
            let used: UsedCredential = decode(Table::Meta, &raw)?;
            revoke_family(services, &used.family).await?;
            tracing::warn!(client = %rp.client_id, "authorization code replayed: its tokens are revoked");
            return Err(OAuthError::invalid_grant(
                "the code is invalid, expired or already used",
            ));
        }
        Taken::Absent => {
            return Err(OAuthError::invalid_grant(
                "the code is invalid, expired or already used",
            ));
        }
    };
    let record: CodeRecord = decode(Table::Meta, &raw)?;
    if services.issued_before_fence(record.issued_at) {
        return Err(OAuthError::invalid_grant(
            "the code was issued before the gateway's store was restored: sign in again",
        ));
    }
    if record.grant.client_id != rp.client_id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri must be the one of the authorization request",
        ));
    }
    match verifier {
        None => return Err(OAuthError::invalid_grant("code_verifier is required")),
        Some(v) if !pkce::verifies(v, &record.code_challenge) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the challenge",
            ));
        }
        Some(_) => {}
    }
    issue_tokens(services, rp, record.grant, Family::New(family), dpop_jkt).await
}

/// The refresh_token grant: the presented token is used up and a new one issued in its family.
pub async fn refresh(
    services: &Services,
    rp: &RelyingParty,
    token: &str,
    scope: Option<&str>,
    dpop_jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let now = services.clock.now();
    let key = secret_key("refresh", token);
    let used_key = secret_key("refresh-used", token);
    let Some(raw) = services.store.get_expiring(&key, now).await? else {
        if let Some(raw) = services.store.get_expiring(&used_key, now).await? {
            let used: UsedCredential = decode(Table::Meta, &raw)?;
            revoke_family(services, &used.family).await?;
            tracing::warn!(client = %rp.client_id, "refresh token reused: its family is revoked");
        }
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    };
    let record: RefreshRecord = decode(Table::Meta, &raw)?;
    if record.grant.client_id != rp.client_id {
        // Another client's token: refuse without using it up.
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    }
    if let Some(bound) = &record.jkt {
        // A DPoP-bound refresh token is useless without its key, and is not spent by trying.
        match &dpop_jkt {
            None => {
                return Err(OAuthError::InvalidDpopProof(
                    "this refresh token is bound to a DPoP key: send a DPoP proof".into(),
                ));
            }
            Some(k) if k != bound => {
                return Err(OAuthError::InvalidDpopProof(
                    "the DPoP proof is signed by another key than the token is bound to".into(),
                ));
            }
            Some(_) => {}
        }
    }
    // Spent and marked in one step, so a concurrent or later reuse always finds the family.
    let taken = services
        .store
        .take_once(
            &key,
            &used_key,
            encode(&UsedCredential {
                family: record.family.clone(),
            })?,
            record.expires_at,
            now,
        )
        .await?;
    if !matches!(taken, Taken::Value(_)) {
        revoke_family(services, &record.family).await?;
        tracing::warn!(client = %rp.client_id, "refresh token reused: its family is revoked");
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    }
    if services.issued_before_fence(record.issued_at) {
        // Its used-marker may be among what the store forgot: a reuse could not be told apart.
        revoke_family(services, &record.family).await?;
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued before the gateway's store was restored: sign in again",
        ));
    }
    if family_revoked(services, &record.family).await? {
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    }
    let mut grant = record.grant;
    grant.nonce = None;
    if let Some(scope) = scope {
        let asked = super::claims::grantable(scope, rp);
        if !asked.is_subset(&grant.scopes) || scope.split(' ').count() != asked.len() {
            return Err(OAuthError::InvalidScope(
                "a refresh may only narrow the granted scope".into(),
            ));
        }
        grant.scopes = asked;
    }
    let jkt = record.jkt.or(dpop_jkt);
    issue_tokens(services, rp, grant, Family::Continued(record.family), jkt).await
}

fn revoked_family_key(family: &str) -> String {
    format!("oidc-family-revoked:{family}")
}

pub async fn revoke_family(services: &Services, family: &str) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &revoked_family_key(family),
            b"1".to_vec(),
            now.plus(REFRESH_TOKEN_TTL),
            PutMode::Overwrite,
            now,
        )
        .await
        .map(|_| ())
}

pub async fn family_revoked(services: &Services, family: &str) -> Result<bool, StoreError> {
    let now = services.clock.now();
    Ok(services
        .store
        .get_expiring(&revoked_family_key(family), now)
        .await?
        .is_some())
}

/// The login family tokens are issued in.
pub(super) enum Family {
    /// A new login (a code redeemed, a kiosk request collected).
    New(String),
    /// A refresh within a login.
    Continued(String),
}

/// Issues ID, access and refresh tokens for a grant, after checking the account is still usable.
pub(super) async fn issue_tokens(
    services: &Services,
    rp: &RelyingParty,
    grant: Grant,
    family: Family,
    jkt: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let family = match family {
        Family::New(family) => {
            // Withdrawing consent ends every family the client holds for the citizen.
            let until = services.clock.now().plus(REFRESH_TOKEN_TTL);
            super::consent::remember_family(
                services,
                &grant.personal_id,
                &rp.client_id,
                &family,
                until,
            )
            .await?;
            family
        }
        Family::Continued(family) => family,
    };
    let account = services
        .accounts
        .get(&grant.personal_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the account no longer exists"))?;
    if account.is_locked() {
        revoke_family(services, &family).await?;
        return Err(OAuthError::invalid_grant("the account is locked"));
    }
    let person = services
        .registry
        .person(&grant.personal_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the citizen is not in the registry"))?;
    let now = services.clock.now();
    let issuer = services.issuer().to_owned();
    let sub = pairwise::subject(&services.pairwise_secret, &rp.sector, &grant.personal_id);
    services
        .subjects
        .remember(&rp.sector, &sub, &grant.personal_id)
        .await?;
    let amr: Vec<AuthMethod> = grant.methods.iter().copied().collect();
    let level = auth_level(&grant.methods);
    let jti = random_token()?;
    let scope = scope_string(&grant.scopes);
    let access = AccessClaims {
        iss: issuer.clone(),
        sub: sub.clone(),
        aud: issuer.clone(),
        client_id: rp.client_id.to_string(),
        scope: scope.clone(),
        iat: now.secs(),
        exp: now.plus(ACCESS_TOKEN_TTL).secs(),
        jti,
        auth_time: grant.auth_time.secs(),
        acr: grant.level,
        amr: amr.clone(),
        auth_level: level,
        fam: family.clone(),
        cnf: jkt.clone().map(|jkt| super::dpop::Confirmation { jkt }),
        authorization_details: grant.authorization_details.clone(),
    };
    let today = now.to_datetime().date_naive();
    let released = oidc_claims(rp, &grant.scopes, &person, today);
    let mut id_claims = json!({
        "iss": issuer,
        "sub": sub,
        "aud": rp.client_id.as_str(),
        "azp": rp.client_id.as_str(),
        "iat": now.secs(),
        "exp": now.plus(ID_TOKEN_TTL).secs(),
        "auth_time": grant.auth_time.secs(),
        "acr": grant.level.acr(),
        "amr": amr,
        "auth_level": level,
        "jti": random_token()?,
    });
    if let Some(n) = &grant.nonce {
        id_claims["nonce"] = json!(n);
    }
    for (k, v) in &released {
        id_claims[k] = v.clone();
    }
    let (access_token, id_token) = {
        let keyring = services.keyring.load();
        let signed = |r: Result<String, jsonwebtoken::errors::Error>| {
            r.map_err(|e| OAuthError::Signing(e.to_string()))
        };
        (
            signed(keyring.sign(ACCESS_TOKEN_TYP, &access))?,
            signed(match rp.id_token_signed_response_alg {
                IdTokenAlg::EdDSA => keyring.sign(ID_TOKEN_TYP, &id_claims),
                IdTokenAlg::RS256 => keyring.sign_rs256(ID_TOKEN_TYP, &id_claims),
            })?,
        )
    };

    let refresh_token = random_token()?;
    let expires_at = now.plus(REFRESH_TOKEN_TTL);
    let mut kept = grant.clone();
    kept.nonce = None;
    services
        .store
        .put_expiring(
            &secret_key("refresh", &refresh_token),
            encode(&RefreshRecord {
                grant: kept,
                family,
                expires_at,
                issued_at: now,
                jkt: jkt.clone(),
            })?,
            expires_at,
            PutMode::IfAbsent,
            now,
        )
        .await?;
    history::record(
        &services.store,
        &grant.personal_id,
        &UsageEntry {
            at: now.secs(),
            client_id: rp.client_id.to_string(),
            relying_party: rp.name.clone(),
            action: "oidc_tokens".into(),
            claims: released.keys().cloned().collect(),
            verification_id: access.jti.clone(),
            purpose: (!grant.authorization_details.is_empty())
                .then(|| transactions::describe_all(&grant.authorization_details)),
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: if jkt.is_some() { "DPoP" } else { "Bearer" }.into(),
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        refresh_token,
        id_token,
        scope,
        authorization_details: grant.authorization_details,
    })
}

fn revoked_access_key(jti: &str) -> String {
    format!("oidc-access-revoked:{jti}")
}

/// Revokes one access token until it would have expired anyway.
pub async fn revoke_access(services: &Services, claims: &AccessClaims) -> Result<(), StoreError> {
    let now = services.clock.now();
    services
        .store
        .put_expiring(
            &revoked_access_key(&claims.jti),
            b"1".to_vec(),
            Timestamp::from_secs(claims.exp.max(now.secs() + 1)),
            PutMode::Overwrite,
            now,
        )
        .await
        .map(|_| ())
}

/// An access token this gateway issued, still valid and not revoked. Anything else — an ID
/// token, a presentation token, a session token — is refused by its `typ`.
pub async fn verify_access_token(
    services: &Services,
    token: &str,
) -> Result<AccessClaims, OAuthError> {
    let verified = services
        .keyring
        .load()
        .verify(token)
        .map_err(|_| OAuthError::InvalidToken)?;
    let typ_ok = verified.header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(OAuthError::InvalidToken);
    }
    let claims: AccessClaims = verified.claims().map_err(|_| OAuthError::InvalidToken)?;
    let now = services.clock.now();
    if claims.iss != services.issuer()
        || claims.aud != services.issuer()
        || claims.exp <= now.secs()
    {
        return Err(OAuthError::InvalidToken);
    }
    let revoked = services
        .store
        .get_expiring(&revoked_access_key(&claims.jti), now)
        .await?
        .is_some();
    if revoked || family_revoked(services, &claims.fam).await? {
        return Err(OAuthError::InvalidToken);
    }
    Ok(claims)
}

/// A refresh token's record, if live, not revoked, and issued to `client`.
pub async fn live_refresh_token(
    services: &Services,
    client: &ClientId,
    token: &str,
) -> Result<Option<(Grant, String, Timestamp)>, StoreError> {
    let now = services.clock.now();
    let Some(raw) = services
        .store
        .get_expiring(&secret_key("refresh", token), now)
        .await?
    else {
        return Ok(None);
    };
    let record: RefreshRecord = decode(Table::Meta, &raw)?;
    if &record.grant.client_id != client || family_revoked(services, &record.family).await? {
        return Ok(None);
    }
    Ok(Some((record.grant, record.family, record.expires_at)))
}

/// The person behind an access token's pairwise subject, for userinfo.
pub async fn subject_of(
    services: &Services,
    rp: &RelyingParty,
    sub: &str,
) -> Result<Option<PersonalId>, StoreError> {
    services.subjects.resolve(&rp.sector, sub).await
}

/// JSON for `Value` claims in tests and introspection.
pub fn access_claims_json(c: &AccessClaims) -> Value {
    let mut out = json!({
        "active": true,
        "iss": c.iss,
        "sub": c.sub,
        "aud": c.aud,
        "client_id": c.client_id,
        "scope": c.scope,
        "iat": c.iat,
        "exp": c.exp,
        "jti": c.jti,
        "auth_time": c.auth_time,
        "acr": c.acr.acr(),
        "amr": c.amr,
        "auth_level": c.auth_level,
        "token_type": if c.cnf.is_some() { "DPoP" } else { "Bearer" },
        "cnf": c.cnf,
    });
    if !c.authorization_details.is_empty() {
        out["authorization_details"] = json!(c.authorization_details);
    }
    out
}

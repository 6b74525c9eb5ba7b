//! OpenID Provider metadata (OpenID Connect Discovery 1.0, RFC 8414): exactly what is built.

use serde_json::{Value, json};

use super::authorize::ACR_VALUES;
use super::claims::Scope;

pub const AUTHORIZE_PATH: &str = "/oauth2/authorize";
pub const PAR_PATH: &str = "/oauth2/par";
pub const TOKEN_PATH: &str = "/oauth2/token";
pub const USERINFO_PATH: &str = "/oauth2/userinfo";
pub const INTROSPECTION_PATH: &str = "/oauth2/introspect";
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
pub const LOGOUT_PATH: &str = "/oauth2/logout";
pub const BACKCHANNEL_AUTHENTICATION_PATH: &str = "/oauth2/bc-authorize";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

pub fn metadata(issuer: &str) -> Value {
    let url = |path: &str| format!("{issuer}{path}");
    let client_auth = ["client_secret_basic", "private_key_jwt"];
    // Client assertions: by a registered Ed25519 key (EdDSA, or its RFC 9864 name) or P-256 key.
    let assertion_algs = crate::tokens::client_keys::ClientAlg::NAMES;
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(AUTHORIZE_PATH),
        "pushed_authorization_request_endpoint": url(PAR_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "userinfo_endpoint": url(USERINFO_PATH),
        "jwks_uri": url(JWKS_PATH),
        "introspection_endpoint": url(INTROSPECTION_PATH),
        "revocation_endpoint": url(REVOCATION_PATH),
        "end_session_endpoint": url(LOGOUT_PATH),
        "registration_endpoint": url(super::registration::REGISTRATION_PATH),
        "scopes_supported": Scope::ALL.iter().map(|s| s.name()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", super::ciba::GRANT_TYPE],
        "backchannel_authentication_endpoint": url(BACKCHANNEL_AUTHENTICATION_PATH),
        "backchannel_token_delivery_modes_supported": ["poll"],
        "backchannel_user_code_parameter_supported": false,
        "authorization_details_types_supported": crate::identity::transactions::TYPES,
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["EdDSA", "RS256"],
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "introspection_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_signing_alg_values_supported": assertion_algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": super::dpop::ALGORITHMS,
        "acr_values_supported": ACR_VALUES,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "auth_level",
            "azp", "name", "gender", "nationality", "ethnicity", "religion", "hometown",
            "birthdate", "address", "phone_number", "phone_number_verified", "personal_id",
            "health_insurance_number", "age_over_18"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

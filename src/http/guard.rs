//! The one guard in front of every relying-party route: it authenticates the client, checks the
//! permission the route declares, and counts the client's quota — in that order, always all
//! three. A route states its rule in its handler's signature (`Authorized<needs::Verify>`,
//! `OAuthClient<needs::Ciba>`), so no handler can run for a caller that failed any of them, and
//! none can forget one.
//!
//! [`Authorized`] answers in problem+json (the `/v1` API); [`OAuthClient`] reads the form body of
//! an OAuth back-channel request, authenticates by the `Authorization` header or an RFC 7523
//! `client_assertion`, and answers in RFC 6749 JSON.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::extractors::{authenticate, credentials_from};
use super::problem::ApiError;
use super::{State, rate_limit};
use crate::oidc::{OAuthError, Params};
use crate::relying_parties::{ClientCredentials, Permission, RelyingParty};
use crate::store::StoreError;

/// What a route asks of its caller beyond being an authenticated client.
pub trait RouteRule: 'static {
    /// The permission the client's registration must hold, if any.
    const PERMISSION: Option<Permission>;
}

/// The rules routes declare.
pub mod needs {
    use super::{Permission, RouteRule};

    macro_rules! rules {
        ($($(#[$doc:meta])* $name:ident => $permission:expr),* $(,)?) => {$(
            $(#[$doc])*
            pub struct $name;
            impl RouteRule for $name {
                const PERMISSION: Option<Permission> = $permission;
            }
        )*};
    }

    rules! {
        /// Any registered client (its own registration, the OpenID back channel).
        AnyClient => None,
        Verify => Some(Permission::Verify),
        ChipVerify => Some(Permission::ChipVerify),
        Match => Some(Permission::Match),
        MatchBatch => Some(Permission::MatchBatch),
        Ciba => Some(Permission::Ciba),
    }
}

/// Why an authenticated client was turned away.
#[derive(Debug)]
pub enum Refusal {
    Forbidden(Permission),
    RateLimited { retry_after_secs: u64 },
    Store(StoreError),
}

fn permission_name(p: Permission) -> &'static str {
    match p {
        Permission::Verify => "verify",
        Permission::ChipVerify => "chip_verify",
        Permission::Match => "match",
        Permission::MatchBatch => "match_batch",
        Permission::Ciba => "ciba",
    }
}

/// The permission, then the quota: a client refused for its permission spends nothing.
pub async fn admit(
    state: &State,
    rp: &RelyingParty,
    permission: Option<Permission>,
) -> Result<(), Refusal> {
    if let Some(p) = permission
        && !rp.may(p)
    {
        return Err(Refusal::Forbidden(p));
    }
    match rate_limit::per_client(state, rp).await {
        Ok(()) => Ok(()),
        Err(ApiError::RateLimited { retry_after_secs }) => {
            Err(Refusal::RateLimited { retry_after_secs })
        }
        Err(ApiError::StoreUnavailable(e)) => Err(Refusal::Store(e)),
        Err(other) => Err(Refusal::Store(StoreError::Storage(other.to_string()))),
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Forbidden(p) => ApiError::Forbidden(format!(
                "this client lacks the `{}` permission",
                permission_name(p)
            )),
            Refusal::RateLimited { retry_after_secs } => ApiError::RateLimited { retry_after_secs },
            Refusal::Store(e) => e.into(),
        }
    }
}

impl From<Refusal> for OAuthError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Forbidden(p) => OAuthError::UnauthorizedClient(format!(
                "this client may not use this endpoint (needs the {} permission)",
                permission_name(p)
            )),
            Refusal::RateLimited { retry_after_secs } => {
                OAuthError::RateLimited { retry_after_secs }
            }
            Refusal::Store(e) => OAuthError::Store(e),
        }
    }
}

/// A relying party that authenticated, holds the route's permission and is within its quota —
/// and then the request's body, extracted as `B` (`web::Json<T>`, `web::Payload`, or nothing).
///
/// The body is read only once the guard has passed: actix polls a handler's extractors together,
/// so a body extracted beside the guard could answer `400` before the client had been
/// authenticated or counted, and a malformed body would cost a caller no quota.
pub struct Authorized<R: RouteRule, B = ()> {
    pub rp: RelyingParty,
    pub body: B,
    rule: PhantomData<R>,
}

impl<R: RouteRule, B: FromRequest + 'static> FromRequest for Authorized<R, B> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let credentials = credentials_from(req);
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let rp = async {
                let state =
                    state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
                let rp = authenticate(&state, credentials?).await?;
                admit(&state, &rp, R::PERMISSION).await?;
                Ok::<_, ApiError>(rp)
            }
            .await?;
            let body = B::from_request(&req, &mut payload)
                .await
                .map_err(Into::into)?;
            Ok(Self {
                rp,
                body,
                rule: PhantomData,
            })
        })
    }
}

/// An OAuth error as the extractor's rejection, rendered as RFC 6749 JSON by the OpenID
/// provider's routes.
#[derive(Debug)]
pub struct OAuthRejection(pub OAuthError);

impl std::fmt::Display for OAuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<OAuthError> for OAuthRejection {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

/// A back-channel OAuth request (PAR, token, introspection, revocation, CIBA): its form
/// parameters, and the client that authenticated, holds the route's permission and is within
/// its quota.
pub struct OAuthClient<R: RouteRule> {
    pub rp: RelyingParty,
    pub params: Params,
    rule: PhantomData<R>,
}

impl<R: RouteRule> FromRequest for OAuthClient<R> {
    type Error = OAuthRejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                OAuthError::Store(StoreError::Storage("application state missing".into()))
            })?;
            require_form(&req)?;
            let body = body
                .await
                .map_err(|_| OAuthError::invalid_request("the body could not be read"))?;
            let params = form_params(&body)?;
            let rp = authenticated_client(&state, &req, &params).await?;
            admit(&state, &rp, R::PERMISSION)
                .await
                .map_err(OAuthError::from)?;
            Ok(Self {
                rp,
                params,
                rule: PhantomData,
            })
        })
    }
}

/// Form parameters (`application/x-www-form-urlencoded`, UTF-8, no repeated names).
pub fn form_params(body: &[u8]) -> Result<Params, OAuthError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("the body is not UTF-8"))?;
    Params::parse(text).map_err(OAuthError::InvalidRequest)
}

fn require_form(req: &HttpRequest) -> Result<(), OAuthError> {
    let ok = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}

/// Client authentication on the OAuth endpoints: HTTP Basic, or an RFC 7523 assertion in the
/// form (`client_assertion_type` + `client_assertion`). Exactly one method.
async fn authenticated_client(
    state: &State,
    req: &HttpRequest,
    p: &Params,
) -> Result<RelyingParty, OAuthError> {
    let header = req.headers().contains_key(header::AUTHORIZATION);
    let assertion = p.get("client_assertion");
    let credentials = match (header, assertion) {
        (true, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (true, None) => credentials_from(req).map_err(|_| OAuthError::InvalidClient)?,
        (false, Some(jwt)) => {
            if p.get("client_assertion_type")
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(OAuthError::invalid_request(
                    "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
            }
            ClientCredentials::Assertion {
                jwt: jwt.to_owned(),
            }
        }
        (false, None) => return Err(OAuthError::InvalidClient),
    };
    match authenticate(state, credentials).await {
        Ok(rp) => Ok(rp),
        Err(ApiError::StoreUnavailable(e)) => Err(OAuthError::Store(e)),
        Err(_) => Err(OAuthError::InvalidClient),
    }
}

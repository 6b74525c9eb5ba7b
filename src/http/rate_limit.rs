//! Per-client and per-IP rate limits: fixed one-minute windows counted in the store, so every
//! instance shares them. Over the limit: `429` with `Retry-After`.

use actix_web::HttpRequest;

use super::{ApiError, State};
use crate::relying_parties::RelyingParty;
use crate::services::Services;

const WINDOW_SECS: i64 = 60;

async fn check(state: &State, key: &str, limit: u32) -> Result<(), ApiError> {
    count(&state.services, key, 1, limit).await
}

/// Adds `amount` to this minute's count under `key`; over `limit`, a 429.
async fn count(services: &Services, key: &str, amount: u64, limit: u32) -> Result<(), ApiError> {
    let now = services.clock.now();
    let window = now.secs().div_euclid(WINDOW_SECS);
    let window_end = crate::clock::Timestamp::from_secs((window + 1) * WINDOW_SECS);
    let count = services
        .store
        .count_request(&format!("rate:{key}:{window}"), amount, window_end, now)
        .await?;
    if count > u64::from(limit) {
        return Err(ApiError::RateLimited {
            retry_after_secs: now.until(window_end).as_secs().max(1),
        });
    }
    Ok(())
}

/// The relying party's registered quota per minute.
pub async fn per_client(state: &State, rp: &RelyingParty) -> Result<(), ApiError> {
    check(
        state,
        &format!("client:{}", rp.client_id),
        rp.rate_quota_per_minute,
    )
    .await
}

/// The relying party's quota of matched records per minute (`match_records_per_minute`): one
/// per `match`, one per line of a `match/batch`.
pub async fn match_records(
    services: &Services,
    rp: &RelyingParty,
    records: u64,
) -> Result<(), ApiError> {
    count(
        services,
        &format!("match-records:{}", rp.client_id),
        records,
        rp.match_records_per_minute,
    )
    .await
}

/// The configured limit per client address on the citizen endpoints (login, registration). The
/// address is the one the middleware resolved: behind a trusted proxy, the forwarded client's.
pub async fn per_ip(state: &State, req: &HttpRequest) -> Result<(), ApiError> {
    let client = super::client_address::of(req);
    check(
        state,
        &format!("ip:{client}"),
        state.services.settings.security.ip_requests_per_minute,
    )
    .await
}

//! Attribute match for relying parties (SPEC §5.3): `POST /v1/match`.

use std::collections::VecDeque;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::http::guard::{Authorized, needs};
use crate::http::{ApiError, State};
use crate::identity::attribute_match::{self, MatchRequest, MatchResult};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("").route(web::post().to(match_one)))
        .service(web::resource("/batch").route(web::post().to(match_batch)))
        .service(web::resource("/liveness-challenge").route(web::post().to(liveness_challenge)));
}

/// Does the registry agree with what the customer told you? `true`/`false` per field, never
/// the registry's values. Recorded in the citizen's usage history with your `purpose`.
#[utoipa::path(post, path = "/v1/match", tag = "relying parties", request_body = MatchRequest,
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, body = MatchResult),
        (status = 400, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 401, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 403, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, body = crate::http::Problem, content_type = "application/problem+json"),
    ))]
pub async fn match_one(
    state: State,
    client: Authorized<needs::Match, web::Json<MatchRequest>>,
) -> Result<HttpResponse, ApiError> {
    let Authorized { rp, body, .. } = client;
    // Besides the request quota, a match counts as one record (`match_records_per_minute`).
    crate::http::rate_limit::match_records(&state.services, &rp, 1).await?;
    let result = attribute_match::match_one(&state.services, &rp, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(result))
}

/// A liveness challenge for a face capture by this client's registered kiosk.
#[utoipa::path(post, path = "/v1/match/liveness-challenge", tag = "relying parties",
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses((status = 201, body = crate::biometrics::liveness::LivenessChallenge),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn liveness_challenge(
    state: State,
    client: Authorized<needs::Match>,
) -> Result<HttpResponse, ApiError> {
    super::chip::kiosk_liveness_challenge(&state, &client.rp).await
}

/// The longest line a batch may hold; a longer one gets `line_too_long` and is skipped.
pub const MAX_LINE_BYTES: usize = 4096;
/// Lines matched together: one registry read and one durable history write per chunk, and the
/// unit the records quota is taken in. Larger chunks let the history commit fold several entries
/// of one citizen into one page write.
pub const CHUNK_LINES: usize = 8192;
/// Chunks whose history may be committing while the next is matched. When the store's writer
/// falls behind, the queued chunks share one commit; answers still leave in order, each only
/// once its history is durable. Bounds the memory a batch holds to this many chunks.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Many records at once: an NDJSON body (one match request per line, `face_capture` excepted),
/// streamed in and answered as NDJSON streamed out, line by line in order, each answer carrying
/// its `line` number. Memory stays bounded whatever the size; a bad line gets its own error and
/// the batch goes on.
#[utoipa::path(post, path = "/v1/match/batch", tag = "relying parties",
    request_body(content = String, content_type = "application/x-ndjson",
        description = "One MatchRequest JSON object per line (no face_capture)"),
    security(("client_secret_basic" = []), ("private_key_jwt" = [])),
    responses(
        (status = 200, content_type = "application/x-ndjson",
            description = "One line per input line: `{line, personal_id, …, match_id}` or `{line, error: {code, detail}}`"),
        (status = 403, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 415, body = crate::http::Problem, content_type = "application/problem+json"),
        (status = 429, description = "The client's quota for this minute is spent", body = crate::http::Problem, content_type = "application/problem+json")))]
pub async fn match_batch(
    state: State,
    client: Authorized<needs::MatchBatch, web::Payload>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Authorized {
        rp, body: payload, ..
    } = client;
    let ndjson = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    if !ndjson {
        return Err(ApiError::UnsupportedMediaType);
    }
    // Bounded: the reader waits while the client is slow to take the answers.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let services = state.services.clone();
    actix_web::rt::spawn(async move {
        let mut lines = LineSplitter::default();
        let mut payload = payload;
        let mut refused: Vec<attribute_match::BatchLine> = Vec::new();
        let mut in_flight: VecDeque<(CommitHandle, Bytes)> = VecDeque::new();
        loop {
            let done = match payload.next().await {
                Some(Ok(bytes)) => {
                    lines.feed(&bytes, &mut refused);
                    false
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "match batch body ended early");
                    true
                }
                None => {
                    lines.finish();
                    true
                }
            };
            while let Some(chunk) = lines.next_chunk(done) {
                if let Err(quota) =
                    crate::http::rate_limit::match_records(&services, &rp, chunk.len() as u64).await
                {
                    // What was matched before goes out; the rest waits for the next minute.
                    if !deliver_all(&tx, &mut in_flight).await {
                        return;
                    }
                    stop(&tx, quota).await;
                    return;
                }
                let (answered, writes) =
                    match attribute_match::match_lines(&services, &rp, &chunk.view()).await {
                        Ok(a) => a,
                        Err(err) => {
                            stop(&tx, err.into()).await;
                            return;
                        }
                    };
                // Refusals of lines before what is still pending go out now, in order.
                let boundary = lines.next_line();
                let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut refused)
                    .into_iter()
                    .partition(|l| line_of(l) < boundary);
                refused = later;
                let all = if now.is_empty() {
                    answered
                } else {
                    let mut all = now;
                    all.extend(answered);
                    all.sort_by_key(line_of);
                    all
                };
                let out = as_ndjson(&all);
                // This chunk's history commits (on the store's writer) while the next chunk is
                // matched; answers go out only once their history is durable.
                let store = services.store.clone();
                let commit = tokio::spawn(async move { store.write_batch(writes).await });
                in_flight.push_back((commit, Bytes::from(out)));
                if in_flight.len() >= CHUNKS_IN_FLIGHT
                    && let Some((oldest, answers)) = in_flight.pop_front()
                    && !deliver(&tx, oldest, answers).await
                {
                    return;
                }
            }
            if done {
                // Refusals after the last matched line (an over-long last line, say).
                if !deliver_all(&tx, &mut in_flight).await {
                    return;
                }
                if !refused.is_empty() {
                    let _ = tx.send(Bytes::from(as_ndjson(&refused))).await;
                }
                return;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

type CommitHandle = tokio::task::JoinHandle<Result<(), crate::store::StoreError>>;

/// Sends a chunk's answers once its history is written; `false` when the batch must stop.
async fn deliver(
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    commit: CommitHandle,
    answers: Bytes,
) -> bool {
    match commit.await {
        Ok(Ok(())) => tx.send(answers).await.is_ok(),
        Ok(Err(err)) => {
            stop(tx, err.into()).await;
            false
        }
        Err(err) => {
            tracing::error!(%err, "match batch history write task failed");
            stop(
                tx,
                crate::store::StoreError::Storage("history write failed".into()).into(),
            )
            .await;
            false
        }
    }
}

/// Sends every chunk still in flight, in order; `false` when the batch must stop.
async fn deliver_all(
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    in_flight: &mut VecDeque<(CommitHandle, Bytes)>,
) -> bool {
    while let Some((commit, answers)) = in_flight.pop_front() {
        if !deliver(tx, commit, answers).await {
            return false;
        }
    }
    true
}

/// Ends the answer with a final line saying why the batch stopped there.
async fn stop(tx: &tokio::sync::mpsc::Sender<Bytes>, err: ApiError) {
    let line = match err {
        ApiError::RateLimited { retry_after_secs } => {
            tracing::info!("match batch stopped: records quota reached");
            serde_json::json!({ "error": { "code": "rate_limited", "retry_after": retry_after_secs, "detail": "the per-minute records quota is used up; the batch stopped here: resend the lines not answered later" } })
        }
        err => {
            tracing::error!(%err, "match batch stopped: store failure");
            serde_json::json!({ "error": { "code": "store_unavailable", "detail": "the batch stopped here; resend the lines not answered" } })
        }
    };
    let _ = tx.send(Bytes::from(format!("{line}\n"))).await;
}

/// Answers as NDJSON, a line each.
fn as_ndjson(answers: &[attribute_match::BatchLine]) -> Vec<u8> {
    let mut out = Vec::with_capacity(answers.len() * 96);
    for answer in answers {
        if serde_json::to_writer(&mut out, answer).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

fn line_of(l: &attribute_match::BatchLine) -> u64 {
    match l {
        attribute_match::BatchLine::Matched { line, .. }
        | attribute_match::BatchLine::Refused { line, .. } => *line,
    }
}

/// Lines gathered for one chunk: their bytes back to back in one buffer.
#[derive(Default)]
struct Chunk {
    bytes: Vec<u8>,
    /// (line number, where the line ends in `bytes`).
    lines: Vec<(u64, usize)>,
}

impl Chunk {
    fn len(&self) -> usize {
        self.lines.len()
    }

    /// `(line number, bytes)` for each line.
    fn view(&self) -> Vec<(u64, &[u8])> {
        let mut start = 0;
        self.lines
            .iter()
            .map(|&(n, end)| {
                let line = self.bytes.get(start..end).unwrap_or_default();
                start = end;
                (n, line)
            })
            .collect()
    }
}

/// Splits a streamed body into numbered lines, gathered [`CHUNK_LINES`] at a time, refusing
/// over-long ones without buffering them.
#[derive(Default)]
struct LineSplitter {
    chunk: Chunk,
    /// Full chunks not yet taken.
    ready: VecDeque<Chunk>,
    /// Where the line being read started in `chunk.bytes`.
    line_start: usize,
    /// Lines seen so far, the one being read excepted.
    line: u64,
    /// Inside an over-long line: drop bytes until its end.
    skipping: bool,
}

impl LineSplitter {
    fn feed(&mut self, mut bytes: &[u8], refused: &mut Vec<attribute_match::BatchLine>) {
        while let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
            let (head, rest) = bytes.split_at(pos);
            self.push_bytes(head, refused);
            self.end_line();
            bytes = &rest[1..];
        }
        self.push_bytes(bytes, refused);
    }

    fn push_bytes(&mut self, bytes: &[u8], refused: &mut Vec<attribute_match::BatchLine>) {
        if self.skipping {
            return;
        }
        if self.chunk.bytes.len() - self.line_start + bytes.len() > MAX_LINE_BYTES {
            self.skipping = true;
            self.chunk.bytes.truncate(self.line_start);
            refused.push(attribute_match::BatchLine::refused(
                self.line + 1,
                "line_too_long",
                format!("a line may hold at most {MAX_LINE_BYTES} bytes"),
            ));
            return;
        }
        self.chunk.bytes.extend_from_slice(bytes);
    }

    fn end_line(&mut self) {
        self.line += 1;
        let was_skipping = std::mem::take(&mut self.skipping);
        let text = &self.chunk.bytes[self.line_start..];
        if was_skipping || text.iter().all(|b| b.is_ascii_whitespace()) {
            self.chunk.bytes.truncate(self.line_start);
            return;
        }
        self.chunk.lines.push((self.line, self.chunk.bytes.len()));
        self.line_start = self.chunk.bytes.len();
        if self.chunk.len() == CHUNK_LINES {
            let capacity = self.chunk.bytes.capacity();
            let full = std::mem::replace(
                &mut self.chunk,
                Chunk {
                    bytes: Vec::with_capacity(capacity),
                    lines: Vec::with_capacity(CHUNK_LINES),
                },
            );
            self.ready.push_back(full);
            self.line_start = 0;
        }
    }

    /// Ends the body: a last line without a newline still counts.
    fn finish(&mut self) {
        if self.chunk.bytes.len() > self.line_start || self.skipping {
            self.end_line();
        }
    }

    /// The next full chunk, or once the body has ended (`done`), whatever is left.
    fn next_chunk(&mut self, done: bool) -> Option<Chunk> {
        if let Some(full) = self.ready.pop_front() {
            return Some(full);
        }
        (done && self.chunk.len() > 0).then(|| std::mem::take(&mut self.chunk))
    }

    /// The number of the first line not yet handed out in a chunk.
    fn next_line(&self) -> u64 {
        self.ready
            .front()
            .or(Some(&self.chunk))
            .and_then(|c| c.lines.first())
            .map_or(self.line + 1, |(n, _)| *n)
    }
}

//! The mekong-telecom back office: a subscriber file (NDJSON, or CSV with a header row) checked
//! against the registry with one `POST /v1/match/batch`. The answers stream back through this
//! process to the page as they come (its script draws the progress, the summary — matched,
//! mismatched per field, unknown ids, line errors — and offers the answers as a file).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use futures_util::StreamExt;

use super::State;
use super::pages::Page;
use crate::http::problem::Problem;
use crate::i18n::Texts;

pub const CLIENT_ID: &str = "mekong-telecom";
const CSRF_COOKIE: &str = "demo_telecom_csrf";
/// The largest file the back office takes (the gateway itself streams any size).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// The purpose a CSV line without one is checked for.
const DEFAULT_PURPOSE: &str = "SIM subscriber check";
/// The columns a CSV file may have, as the match request names them.
const COLUMNS: [&str; 6] = [
    "personal_id",
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "purpose",
];

#[derive(Template)]
#[template(path = "demo/telecom.html")]
struct TelecomPage<'a> {
    t: Texts,
    switch: &'a str,
    csrf: String,
}

pub async fn desk(req: HttpRequest) -> HttpResponse {
    let page = Page::of(&req);
    let Ok(csrf) = super::random() else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let mut res = page.render(
        StatusCode::OK,
        &TelecomPage {
            t: page.t,
            switch: &page.switch,
            csrf: csrf.clone(),
        },
    );
    let _ = res.add_cookie(&super::csrf_cookie(CSRF_COOKIE, "/telecom/", csrf));
    res
}

pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(include_str!("../../static/telecom.js"))
}

const PROBLEM_TITLE: &str = "The file cannot be checked";

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> HttpResponse {
    Problem::new(status, code, PROBLEM_TITLE, Some(detail.into())).response()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("the CSV file has no header row naming its columns")]
    NoHeader,
    #[error(
        "unknown column {0:?} (the columns are personal_id, full_name, birth_date, sex, phone, purpose)"
    )]
    UnknownColumn(String),
    #[error("the CSV file has no personal_id column")]
    NoPersonalId,
    #[error("the CSV file is not readable: {0}")]
    Unreadable(String),
}

/// A CSV subscriber file as the batch's NDJSON: one match request per row, empty cells left
/// out, `purpose` from its column or `default_purpose`. A row the gateway will refuse (a bad
/// date, a short id) still becomes its line, so the answers' line numbers are the file's rows.
pub fn csv_to_ndjson(csv: &[u8], default_purpose: &str) -> Result<Vec<u8>, CsvError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv);
    let headers = reader
        .headers()
        .map_err(|e| CsvError::Unreadable(e.to_string()))?
        .clone();
    if headers.is_empty() {
        return Err(CsvError::NoHeader);
    }
    for h in &headers {
        if !COLUMNS.contains(&h) {
            return Err(CsvError::UnknownColumn(h.to_owned()));
        }
    }
    if !headers.iter().any(|h| h == "personal_id") {
        return Err(CsvError::NoPersonalId);
    }
    let mut out = Vec::with_capacity(csv.len() * 2);
    for row in reader.records() {
        let row = row.map_err(|e| CsvError::Unreadable(e.to_string()))?;
        let mut line = serde_json::Map::new();
        for (name, value) in headers.iter().zip(row.iter()) {
            if !value.is_empty() {
                line.insert(name.to_owned(), value.into());
            }
        }
        line.entry("purpose")
            .or_insert_with(|| default_purpose.into());
        serde_json::to_writer(&mut out, &line).map_err(|e| CsvError::Unreadable(e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

#[derive(serde::Deserialize)]
pub struct Upload {
    /// `ndjson` or `csv`.
    format: String,
    #[serde(default)]
    purpose: Option<String>,
}

/// The uploaded file, checked with one batch; the answers stream straight back.
pub async fn batch(
    state: State,
    req: HttpRequest,
    upload: web::Query<Upload>,
    body: web::Bytes,
) -> HttpResponse {
    let token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !super::csrf_ok(&req, CSRF_COOKIE, token) {
        return problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "reload the page: the form has expired",
        );
    }
    let ndjson = match upload.format.as_str() {
        "ndjson" => body.to_vec(),
        "csv" => {
            let purpose = upload
                .purpose
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .unwrap_or(DEFAULT_PURPOSE);
            match csv_to_ndjson(&body, purpose) {
                Ok(lines) => lines,
                Err(e) => {
                    return problem(StatusCode::BAD_REQUEST, "invalid_request", e.to_string());
                }
            }
        }
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "format is ndjson or csv",
            );
        }
    };
    match state.gateway.match_batch(CLIENT_ID, ndjson).await {
        Ok(answers) => HttpResponse::Ok()
            .content_type("application/x-ndjson")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .streaming(
                answers
                    .bytes_stream()
                    .map(|chunk| chunk.map_err(actix_web::error::ErrorBadGateway)),
            ),
        Err(err) => super::passed_on(err, PROBLEM_TITLE, "send a batch"),
    }
}

#[cfg(test)]
mod tests {
    use super::{CsvError, csv_to_ndjson};

    #[test]
    fn a_csv_file_becomes_one_match_request_per_row() {
        let csv = "personal_id,full_name,phone\n087061804876,\"Trần Minh Thịnh\",0968800944\n040168981032,,\n";
        let out = String::from_utf8(csv_to_ndjson(csv.as_bytes(), "SIM check").unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["full_name"], "Trần Minh Thịnh");
        assert_eq!(lines[0]["purpose"], "SIM check");
        assert!(
            lines[1].get("full_name").is_none(),
            "empty cells are not asked"
        );
        assert_eq!(
            csv_to_ndjson(b"id,name\n1,2\n", "x"),
            Err(CsvError::UnknownColumn("id".into()))
        );
        assert_eq!(
            csv_to_ndjson(b"full_name\nAn\n", "x"),
            Err(CsvError::NoPersonalId)
        );
    }
}

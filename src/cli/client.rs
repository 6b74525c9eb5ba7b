//! A small HTTP client for the commands that talk to a running gateway (`sim`, `rp`).

use serde_json::Value;

pub struct GatewayClient {
    base: String,
    http: reqwest::Client,
}

/// An answer that was not a success, with the gateway's problem details.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct GatewayProblem {
    pub status: u16,
    pub code: String,
    pub detail: String,
}

impl GatewayClient {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .pool_idle_timeout(crate::startup::CLIENT_POOL_IDLE)
                .build()?,
        })
    }

    /// The error for a request that never got an answer.
    pub fn unreachable(&self, source: reqwest::Error) -> super::exit::Unreachable {
        super::exit::Unreachable {
            base: self.base.clone(),
            source,
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.base, path))
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let res = req
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        self.send_response(res).await
    }

    /// The JSON of an answer, or its problem details as an error.
    pub async fn send_response(&self, res: reqwest::Response) -> anyhow::Result<Value> {
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status >= 400 {
            let text = |k: &str| {
                body.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            return Err(GatewayProblem {
                status,
                code: text("code"),
                detail: text("detail"),
            }
            .into());
        }
        Ok(body)
    }

    pub async fn post(
        &self,
        path: &str,
        body: &Value,
        bearer: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut req = self.request(reqwest::Method::POST, path).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> anyhow::Result<Value> {
        let mut req = self.request(reqwest::Method::GET, path);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }
}

/// Prints `value` as one JSON document (for `--json`) or as `text`.
pub fn output(json: bool, value: &Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

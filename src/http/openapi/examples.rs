//! Real examples in the document: for every operation, a request it was sent and what it
//! answered, per documented status — recorded from the test suite's traffic by
//! `scripts/openapi-examples` into `examples.json` (synthetic people, test keys, published
//! sandbox credentials only).

use serde_json::{Value, json};

const RECORDED: &str = include_str!("examples.json");

/// The media type a request body of this operation is declared with (the first one).
fn first_content_type(body: &Value) -> Option<String> {
    body.get("content")?.as_object()?.keys().next().cloned()
}

pub fn apply(doc: &mut Value) {
    let Ok(Value::Object(recorded)) = serde_json::from_str::<Value>(RECORDED) else {
        return;
    };
    for (key, example) in recorded {
        let Some((method, path)) = key.split_once(' ') else {
            continue;
        };
        let pointer = format!(
            "/paths/{}/{}",
            path.replace('~', "~0").replace('/', "~1"),
            method.to_lowercase()
        );
        let Some(op) = doc.pointer_mut(&pointer) else {
            continue;
        };
        if let (Some(request), Some(body)) = (example.get("request"), op.get_mut("requestBody"))
            && let Some(ct) = first_content_type(body)
        {
            body["content"][ct.as_str()]["example"] = request.clone();
        }
        if let (Some(query), Some(params)) = (
            example.get("query").and_then(Value::as_object),
            op.get_mut("parameters").and_then(Value::as_array_mut),
        ) {
            for p in params {
                let name = p.get("name").and_then(Value::as_str).map(str::to_owned);
                if let Some(v) = name.and_then(|n| query.get(&n).cloned()) {
                    p["example"] = v;
                }
            }
        }
        let Some(responses) = example.get("responses").and_then(Value::as_object) else {
            continue;
        };
        for (status, recorded) in responses {
            let (Some(ct), Some(body)) = (
                recorded.get("content_type").and_then(Value::as_str),
                recorded.get("body"),
            ) else {
                continue;
            };
            let Some(response) = op.pointer_mut(&format!("/responses/{status}")) else {
                continue;
            };
            let content = response
                .as_object_mut()
                .map(|r| r.entry("content").or_insert_with(|| json!({})));
            let Some(Value::Object(content)) = content else {
                continue;
            };
            // Where the document names the media type, the example goes under it; otherwise
            // under the one the gateway answered with.
            let target = if content.contains_key(ct) || content.is_empty() {
                ct.to_owned()
            } else {
                match content.keys().next() {
                    Some(k) => k.clone(),
                    None => continue,
                }
            };
            content.entry(target).or_insert_with(|| json!({}))["example"] = body.clone();
        }
    }
}

//! The formats the domain's validated types accept, written into the document wherever a
//! property or parameter carries one of them, so that a request the schema calls valid is one
//! the gateway's parsers take (a schema-valid `{"personal_id": ""}` was refused with a 400).
//! Rules no schema can say — an unknown id, an expired challenge, a code already used — stay
//! in the endpoints' documented 4xx answers.

use serde_json::{Value, json};

use crate::domain::province::PROVINCES;

/// What a personal id is (`PersonalId::parse`): a known province, a century-and-sex digit 0–3,
/// then eight digits.
fn personal_id() -> Value {
    let provinces: Vec<&str> = PROVINCES.iter().map(|p| p.code).collect();
    json!({ "pattern": format!("^(?:{})[0-3][0-9]{{8}}$", provinces.join("|")) })
}

/// The constraints of a property or parameter named `name`, if it holds a validated value.
fn constraints(name: &str) -> Option<Value> {
    Some(match name {
        "personal_id" => personal_id(),
        // `PhoneNumber::parse`: national (0…) or international (+84…) form of a mobile number.
        "phone" => json!({ "pattern": "^(?:0|\\+84)(?:3|5|7|8|9)[0-9]{8}$" }),
        // SMS one-time codes and the app's passcode.
        "otp" | "passcode" => json!({ "pattern": "^[0-9]{6}$" }),
        // `ClientId::parse`.
        "client_id" => json!({ "pattern": "^[a-z0-9._-]{1,64}$" }),
        "nonce" => json!({ "minLength": 1, "maxLength": 128 }),
        "purpose" => json!({ "minLength": 1 }),
        _ => return None,
    })
}

/// Adds `extra` to a string schema (never to a `$ref` or a non-string).
fn constrain(schema: &mut Value, extra: &Value) {
    let is_string = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    if !is_string {
        return;
    }
    if let (Some(target), Some(extra)) = (schema.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            target.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

fn constrain_properties(schema: &mut Value) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            if let Some(extra) = constraints(name) {
                constrain(prop, &extra);
            }
            constrain_properties(prop);
        }
    }
    for key in ["items", "allOf", "oneOf", "anyOf"] {
        match schema.get_mut(key) {
            Some(Value::Array(all)) => all.iter_mut().for_each(constrain_properties),
            Some(one @ Value::Object(_)) => constrain_properties(one),
            _ => {}
        }
    }
}

/// Writes the constraints into every component schema and every operation's parameters.
pub fn apply(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.values_mut().for_each(constrain_properties);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            // Logout takes whatever a relying party sends and ignores what it cannot use
            // (OpenID RP-Initiated Logout §2): its parameters have no format to enforce.
            if path == "/oauth2/logout" {
                continue;
            }
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                    for p in params {
                        let name = p.get("name").and_then(Value::as_str).map(str::to_owned);
                        if let (Some(extra), Some(schema)) =
                            (name.as_deref().and_then(constraints), p.get_mut("schema"))
                        {
                            constrain(schema, &extra);
                        }
                    }
                }
                for content in ["application/json", "application/x-www-form-urlencoded"] {
                    let pointer =
                        format!("/requestBody/content/{}/schema", content.replace('/', "~1"));
                    if let Some(schema) = op.pointer_mut(&pointer) {
                        constrain_properties(schema);
                    }
                }
            }
        }
    }
}

//! Every parser of untrusted input, fed with generated input (property tests): compact JWS
//! headers and tokens, DPoP proofs, client assertions, keys from outside, the `Authorization`
//! header, chip reads and their data groups (mutated from a genuine read), MRZ lines, NDJSON
//! batch lines, capture templates, form parameters and the forwarded client address. The one
//! property: whatever arrives, the parser answers — it never panics. (A panic is what dropped
//! connections before these parsers checked lengths themselves.)
//!
//! Test code only (`lib.rs` declares it under `#[cfg(test)]`, and so does this file): the
//! `unwrap()`s here build the fixtures a property needs (a temporary card authority, a person,
//! a proxy list) and a failure there is a broken test setup, reported as the test's panic.
#![cfg(test)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::tokens::jws;

/// Text as a probe sends it: anything printable, control characters, multi-byte characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "[A-Za-z0-9_\\-=.+/]{0,120}",
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect()),
    ]
}

/// base64url of some bytes, or something that only looks like it.
fn b64ish() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|b| STANDARD.encode(b)),
        text(),
    ]
}

/// JSON values of every shape, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        text().prop_map(Value::String),
        b64ish().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JWK as a probe would write one: the right member names with wrong values, and noise.
fn jwk() -> impl Strategy<Value = Value> {
    let kty = prop_oneof![
        Just(json!("OKP")),
        Just(json!("EC")),
        Just(json!("RSA")),
        json_value()
    ];
    let crv = prop_oneof![
        Just(json!("Ed25519")),
        Just(json!("P-256")),
        Just(json!("X25519")),
        json_value()
    ];
    let coordinate = prop_oneof![
        b64ish().prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 30..34)
            .prop_map(|b| json!(URL_SAFE_NO_PAD.encode(b))),
        json_value(),
    ];
    (kty, crv, coordinate.clone(), coordinate, any::<bool>()).prop_map(|(kty, crv, x, y, d)| {
        let mut k = json!({ "kty": kty, "crv": crv, "x": x, "y": y });
        if d {
            k["d"] = json!("AAAA");
        }
        k
    })
}

/// A JOSE header: `alg`, `typ`, `kid`, maybe a key and forbidden members, with odd values.
fn jose_header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just(json!("EdDSA")),
        Just(json!("Ed25519")),
        Just(json!("ES256")),
        Just(json!("none")),
        json_value()
    ];
    let typ = prop_oneof![Just(json!("dpop+jwt")), Just(json!("at+jwt")), json_value()];
    (
        alg,
        typ,
        json_value(),
        proptest::option::of(jwk()),
        any::<u8>(),
    )
        .prop_map(|(alg, typ, kid, key, extra)| {
            let mut h = json!({ "alg": alg, "typ": typ, "kid": kid });
            if let Some(k) = key {
                h["jwk"] = k;
            }
            match extra % 6 {
                0 => h["crit"] = json!(["exp"]),
                1 => h["jku"] = json!("https://evil.example/jwks"),
                2 => h["x5c"] = json!(["MII"]),
                _ => {}
            }
            h
        })
}

/// Compact JWS made of a header, claims and a signature segment, each possibly broken.
fn compact_jws() -> impl Strategy<Value = String> {
    let segment = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    prop_oneof![
        text(),
        (jose_header(), json_value(), b64ish()).prop_map(move |(h, c, s)| format!(
            "{}.{}.{s}",
            segment(h),
            segment(c)
        )),
        (
            jose_header(),
            json_value(),
            proptest::collection::vec(any::<u8>(), 0..70)
        )
            .prop_map(move |(h, c, sig)| format!(
                "{}.{}.{}",
                segment(h),
                segment(c),
                URL_SAFE_NO_PAD.encode(sig)
            )),
        (b64ish(), b64ish(), b64ish(), 0usize..6).prop_map(|(a, b, c, dots)| {
            let mut t = format!("{a}.{b}.{c}");
            for _ in 3..dots {
                t.push('.');
            }
            t
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn compact_jws_headers_and_tokens_never_panic(token in compact_jws()) {
        let _ = jws::inspect(&token);
        let _ = jws::inspect_client_token(&token);
        let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]).verifying_key();
        let _ = jws::verify_ed25519::<Value>(&token, &key);
        if let Ok(verified) = jws::verify_own(&token, |_| Some(&key)) {
            let _ = verified.claims::<Value>();
        }
    }

    #[test]
    fn dpop_proofs_never_panic(proof in compact_jws()) {
        let _ = crate::oidc::dpop::check_signature(&proof);
    }

    #[test]
    fn keys_from_outside_never_panic(jwk in prop_oneof![jwk(), json_value()]) {
        if let Ok(key) = crate::tokens::client_keys::ClientKey::from_jwk(&jwk) {
            let _ = key.thumbprint();
            for alg in [crate::tokens::client_keys::ClientAlg::Ed25519, crate::tokens::client_keys::ClientAlg::Es256] {
                let _ = key.verify(alg, b"input", &[7u8; 64]);
            }
        }
    }

    #[test]
    fn raw_public_keys_never_panic(b64 in b64ish()) {
        let _ = crate::tokens::jwk::parse_ed25519_public_key(&b64);
    }

    #[test]
    fn client_assertions_never_panic(jwt in compact_jws()) {
        use crate::relying_parties::{ClientAuthenticator, ClientCredentials};
        let _ = ClientAuthenticator::claimed_client_id(&ClientCredentials::Assertion { jwt: jwt.clone() });
        let key = ed25519_dalek::SigningKey::from_bytes(&[4u8; 32]).verifying_key();
        let _ = jws::verify_ed25519::<crate::relying_parties::authentication::AssertionClaims>(&jwt, &key);
    }

    #[test]
    fn authorization_headers_never_panic(scheme in prop_oneof![Just("Basic".to_owned()), Just("private_key_jwt".to_owned()), text()], rest in b64ish(), raw in text()) {
        for value in [format!("{scheme} {rest}"), raw.clone(), format!("Basic {}", STANDARD.encode(raw.as_bytes()))] {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                let req = actix_web::test::TestRequest::default()
                    .insert_header((actix_web::http::header::AUTHORIZATION, v))
                    .to_http_request();
                let _ = crate::http::extractors::credentials_from(&req);
            }
        }
    }

    #[test]
    fn ndjson_batch_lines_never_panic(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (text(), text(), text(), text()).prop_map(|(id, name, date, phone)| json!({
            "personal_id": id, "full_name": name, "birth_date": date, "phone": phone, "purpose": "x"
        }).to_string().into_bytes()),
    ]) {
        let _ = crate::identity::attribute_match::parse_line(1, &bytes);
    }

    #[test]
    fn capture_templates_never_panic(template in b64ish(), capture in json_value()) {
        let _ = crate::biometrics::Template::from_base64(&template);
        let _ = serde_json::from_value::<crate::biometrics::Template>(json!(template));
        let _ = serde_json::from_value::<crate::biometrics::liveness::Capture>(capture);
        let floats: Vec<u8> = [f32::NAN, f32::INFINITY, 0.0, -0.0, 1e38]
            .iter().flat_map(|f| f.to_le_bytes()).collect();
        let _ = crate::biometrics::Template::from_base64(&STANDARD.encode(floats));
    }

    #[test]
    fn mrz_lines_never_panic(lines in proptest::collection::vec(prop_oneof![
        "[A-Z0-9<]{30}",
        "[A-Z0-9<]{0,40}",
        proptest::collection::vec(any::<char>(), 30).prop_map(|c| c.into_iter().collect::<String>()),
    ], 0..5)) {
        let _ = crate::chip::mrz::parse(&lines);
    }

    #[test]
    fn form_parameters_and_identifiers_never_panic(s in text()) {
        let _ = crate::oidc::Params::parse(&s);
        let _ = crate::domain::PersonalId::parse(&s);
        let _ = crate::domain::PhoneNumber::parse(&s);
        let _ = crate::domain::ClientId::parse(&s);
        let _ = crate::config::ProxyNetwork::parse(&s);
    }

    #[test]
    fn forwarded_addresses_never_panic(hops in proptest::collection::vec(text(), 0..4)) {
        let mut headers = actix_web::http::header::HeaderMap::new();
        for h in &hops {
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(h) {
                headers.append(actix_web::http::header::HeaderName::from_static("x-forwarded-for"), v);
            }
        }
        let proxies = [crate::config::ProxyNetwork::parse("127.0.0.1").unwrap()];
        let _ = crate::http::client_address::resolve(Some("127.0.0.1".parse().unwrap()), &headers, &proxies);
    }
}

/// A genuine chip read and the trust store it verifies against, made once.
fn genuine_read() -> &'static (crate::chip::ChipRead, crate::chip::TrustStore) {
    static READ: std::sync::OnceLock<(crate::chip::ChipRead, crate::chip::TrustStore)> =
        std::sync::OnceLock::new();
    READ.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let (authority, trust) = (dir.join("authority"), dir.join("trust"));
        std::fs::create_dir_all(&authority).unwrap();
        std::fs::create_dir_all(&trust).unwrap();
        let now = crate::clock::Timestamp::from_secs(1_790_000_000);
        crate::chip::authority::CardAuthority::create(&authority, &trust, now).unwrap();
        let truth = crate::population::generate(1, 3).next().unwrap();
        let (person, templates) = crate::population::import::enrol(&truth, 0.03);
        let card = crate::chip::CardIssuer::new(&authority)
            .issue(
                &person,
                &templates.face,
                now.to_datetime().date_naive(),
                None,
            )
            .unwrap();
        let read = card
            .image
            .answer(&URL_SAFE_NO_PAD.encode([9u8; 32]))
            .unwrap();
        (read, crate::chip::TrustStore::load(&trust).unwrap())
    })
}

/// Flips, cuts or replaces a data group: its base64, or a byte of the JSON inside it.
fn mutate(group: &str, how: u8, at: usize, byte: u8) -> String {
    let Ok(mut bytes) = STANDARD.decode(group) else {
        return group.to_owned();
    };
    match how % 5 {
        0 if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= byte | 1;
            STANDARD.encode(bytes)
        }
        1 => {
            bytes.truncate(at % (bytes.len() + 1));
            STANDARD.encode(bytes)
        }
        2 => {
            let mut s = group.to_owned();
            s.truncate(at % (s.len() + 1));
            s
        }
        3 => STANDARD.encode(vec![byte; at % 64]),
        _ => group.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn chip_reads_and_data_groups_never_panic(
        which in 0usize..6, how in any::<u8>(), at in any::<usize>(), byte in any::<u8>(),
        junk in json_value(),
    ) {
        let (genuine, trust) = genuine_read();
        let mut read = genuine.clone();
        match which {
            0 => read.dg1 = mutate(&read.dg1, how, at, byte),
            1 => read.dg2 = mutate(&read.dg2, how, at, byte),
            2 => read.dg13 = mutate(&read.dg13, how, at, byte),
            3 => read.dg15 = read.dg15.as_deref().map(|g| mutate(g, how, at, byte)),
            4 => read.sod = mutate(&read.sod, how, at, byte),
            _ => read.active_authentication.signature = mutate(&read.active_authentication.signature, how, at, byte),
        }
        let today = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        for candidate in [read, serde_json::from_value(junk).unwrap_or_else(|_| genuine.clone())] {
            if let Ok(parsed) = crate::chip::inspection::parse(&candidate) {
                let _ = crate::chip::inspection::passive_offline(&parsed, trust, today);
                let _ = crate::chip::inspection::active_signature(&parsed);
            }
        }
    }

    #[test]
    fn chip_image_files_never_panic(text in prop_oneof![text(), json_value().prop_map(|v| v.to_string())]) {
        let _ = crate::chip::image::ChipImage::from_json(&text);
    }
}

#[test]
fn the_genuine_read_the_mutations_start_from_is_authentic() {
    let (read, trust) = genuine_read();
    let parsed = crate::chip::inspection::parse(read).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    assert!(crate::chip::inspection::passive_offline(&parsed, trust, today).is_ok());
    assert!(crate::chip::inspection::active_signature(&parsed).is_ok());
}

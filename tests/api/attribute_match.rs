//! Attribute match (SPEC §5.3): true/false per field, never the registry's values; bad input
//! refused; the permission; kiosk faces; the citizen's usage history with the purpose.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use eid_gateway::biometrics::Template;
use rand::SeedableRng;
use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::*;

const TELECOM: &str = "mekong-telecom";

async fn post_match(app: &TestApp, client: &str, body: &Value) -> reqwest::Response {
    rp_post(app, client, "/v1/match", body).await
}

both_backends!(
    the_records_quota_counts_every_line_and_stops_a_batch_cleanly,
    every_field_combination_answers_true_or_false_and_never_the_registry_values,
    bad_input_is_refused_and_records_nothing,
    only_clients_with_the_match_permission_may_match,
    a_kiosk_face_is_matched_against_the_registry,
);

async fn every_field_combination_answers_true_or_false_and_never_the_registry_values(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let p = citizen.truth.person.clone();
    let truth = json!({
        "full_name": format!("  {}  ", p.full_name.to_uppercase()),
        "birth_date": p.birth_date.to_string(),
        "sex": p.sex,
        "phone": p.phone.as_str(),
    });
    let wrong = json!({
        "full_name": deunicode::deunicode(&p.full_name),
        "birth_date": p.birth_date.succ_opt().unwrap().to_string(),
        "sex": if truth["sex"] == "male" { "female" } else { "male" },
        "phone": "0912000111",
    });
    let fields = ["full_name", "birth_date", "sex", "phone"];
    let mut checked = 0;
    for mask in 1u32..16 {
        for wrong_field in fields
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
        {
            let mut body = json!({ "personal_id": citizen.id(), "purpose": "SIM registration" });
            for (i, f) in fields.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    body[f] = if *f == *wrong_field.1 {
                        wrong[f].clone()
                    } else {
                        truth[f].clone()
                    };
                }
            }
            let res = post_match(&app, TELECOM, &body).await;
            assert_eq!(res.status(), 200, "{body}");
            let answer: Value = res.json().await.unwrap();
            assert_eq!(answer["personal_id"], true);
            for (i, f) in fields.iter().enumerate() {
                if mask & (1 << i) == 0 {
                    assert!(answer.get(f).is_none(), "{f} was not asked: {answer}");
                } else {
                    assert_eq!(
                        answer[f],
                        json!(*f != *wrong_field.1),
                        "{f} in {body} → {answer}"
                    );
                }
            }
            // Only booleans and the match id: never a registry value.
            for (k, v) in answer.as_object().unwrap() {
                assert!(v.is_boolean() || k == "match_id", "{k}: {v}");
            }
            checked += 1;
        }
        // And the all-true version of the combination.
        let mut body = json!({ "personal_id": citizen.id(), "purpose": "SIM registration" });
        for (i, f) in fields.iter().enumerate() {
            if mask & (1 << i) != 0 {
                body[f] = truth[f].clone();
            }
        }
        let answer: Value = post_match(&app, TELECOM, &body).await.json().await.unwrap();
        assert!(
            answer
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| k == "match_id" || v == &json!(true)),
            "{answer}"
        );
        checked += 1;
    }
    assert_eq!(checked, 32 + 15);
    // An unknown personal id: everything false, nothing recorded anywhere.
    // A well-formed personal id the registry does not hold (a serial no seed person has).
    let mut stranger = citizen.id().to_owned();
    stranger.replace_range(6..12, "999999");
    let answer: Value = post_match(
        &app,
        TELECOM,
        &json!({ "personal_id": stranger, "sex": "male", "purpose": "x" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(answer, json!({ "personal_id": false, "sex": false }));
    // The citizen sees every match with who asked and why.
    citizen.login(&app).await;
    let history = citizen.history(&app).await;
    let matches: Vec<&Value> = history.iter().filter(|e| e["action"] == "match").collect();
    assert_eq!(matches.len(), 47);
    assert!(
        matches
            .iter()
            .all(|e| e["purpose"] == "SIM registration" && e["client_id"] == TELECOM)
    );
}

async fn bad_input_is_refused_and_records_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let id = citizen.id().to_owned();
    for (body, code) in [
        (
            json!({ "personal_id": "12345", "sex": "male", "purpose": "x" }),
            "invalid_personal_id",
        ),
        (
            json!({ "personal_id": id, "birth_date": "1990-02-30", "purpose": "x" }),
            "invalid_birth_date",
        ),
        (
            json!({ "personal_id": id, "sex": "other", "purpose": "x" }),
            "invalid_sex",
        ),
        (
            json!({ "personal_id": id, "phone": "12", "purpose": "x" }),
            "invalid_phone",
        ),
        (
            json!({ "personal_id": id, "full_name": " ", "purpose": "x" }),
            "invalid_full_name",
        ),
        (
            json!({ "personal_id": id, "purpose": "x" }),
            "nothing_to_match",
        ),
        (
            json!({ "personal_id": id, "sex": "male", "purpose": "" }),
            "invalid_purpose",
        ),
        (
            json!({ "personal_id": id, "sex": "male", "purpose": "x".repeat(201) }),
            "invalid_purpose",
        ),
    ] {
        let res = post_match(&app, TELECOM, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.json::<Value>().await.unwrap()["code"], code, "{body}");
    }
    // Wrong types and unknown or missing fields: the JSON itself is refused.
    for body in [
        json!({ "personal_id": id, "birth_date": 19900101, "purpose": "x" }),
        json!({ "personal_id": 12, "sex": "male", "purpose": "x" }),
        json!({ "personal_id": id, "sex": "male" }),
        json!({ "personal_id": id, "sex": "male", "purpose": "x", "address": "y" }),
        json!(["not", "an", "object"]),
    ] {
        let res = post_match(&app, TELECOM, &body).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    citizen.login(&app).await;
    let history = citizen.history(&app).await;
    assert!(
        history.iter().all(|e| e["action"] != "match"),
        "{history:?}"
    );
}

async fn only_clients_with_the_match_permission_may_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    let body = json!({ "personal_id": citizen.id(), "sex": "male", "purpose": "x" });
    assert_eq!(post_match(&app, "vietsky-air", &body).await.status(), 403);
    let anonymous = app
        .client
        .post(app.url("/v1/match"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(post_match(&app, TELECOM, &body).await.status(), 200);
}

fn lotus_kiosk() -> SigningKey {
    let pem = std::fs::read_to_string(repo().join("config/sandbox/lotus-bank-kiosk.ed25519.pem"))
        .unwrap();
    SigningKey::from_pkcs8_pem(&pem).unwrap()
}

fn noisy(t: &Template) -> Template {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(rand::random());
    t.with_noise(&mut rng, 0.06)
}

async fn a_kiosk_face_is_matched_against_the_registry(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    let other = Citizen::nth(&app, 1);
    let kiosk = lotus_kiosk();
    for (face, expected) in [(&citizen.truth.face, true), (&other.truth.face, false)] {
        let challenge: Value = bank_post(&app, "/v1/match/liveness-challenge", &json!({}))
            .await
            .json()
            .await
            .unwrap();
        let capture = Citizen::capture_with(&challenge, &noisy(face), &kiosk, None);
        let body = json!({ "personal_id": citizen.id(), "face_capture": capture, "purpose": "account opening" });
        let res = bank_post(&app, "/v1/match", &body).await;
        assert_eq!(res.status(), 200);
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["face"], expected, "{answer}");
        // The same capture again: its challenge is used up, so it cannot match twice.
        let again: Value = bank_post(&app, "/v1/match", &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(again["face"], false);
    }
    // A capture signed by a device that is not this client's kiosk does not match.
    let challenge: Value = bank_post(&app, "/v1/match/liveness-challenge", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let capture = Citizen::capture_with(
        &challenge,
        &noisy(&citizen.truth.face),
        &citizen.device,
        None,
    );
    let body = json!({ "personal_id": citizen.id(), "face_capture": capture, "purpose": "x" });
    assert_eq!(
        bank_post(&app, "/v1/match", &body)
            .await
            .json::<Value>()
            .await
            .unwrap()["face"],
        false
    );
    // A client without a registered kiosk cannot send faces at all.
    let res = post_match(
        &app,
        TELECOM,
        &json!({ "personal_id": citizen.id(), "face_capture": capture, "purpose": "x" }),
    )
    .await;
    assert_eq!(res.status(), 403);
}

both_backends!(
    a_hundred_thousand_line_batch_answers_every_line_against_the_registry,
    batch_lines_fail_alone_and_the_endpoint_needs_its_permission_and_ndjson,
    escaped_text_in_a_batch_line_means_what_it_says,
);

/// JSON with every non-ASCII character and quote written as an escape.
fn escaped(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => "\\\"".to_owned(),
            c if c.is_ascii() => c.to_string(),
            c => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|u| format!("\\u{u:04x}"))
                .collect(),
        })
        .collect()
}

async fn escaped_text_in_a_batch_line_means_what_it_says(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    let p = &citizen.truth.person;
    assert!(!p.full_name.is_ascii());
    let line = format!(
        r#"{{"personal_id": "{}", "full_name": "{}", "purpose": "{}"}}"#,
        citizen.id(),
        escaped(&p.full_name),
        escaped("  a \"quoted\" purpose "),
    );
    let other_name = format!(
        r#"{{"personal_id": "{}", "full_name": "{}", "purpose": "x"}}"#,
        citizen.id(),
        escaped(&format!("{} Hà", p.full_name)),
    );
    let res = post_batch(
        &app,
        TELECOM,
        format!("{line}\n{other_name}\n").into_bytes(),
    )
    .await;
    let answers = ndjson_lines(&res.text().await.unwrap());
    assert_eq!(answers[0]["full_name"], true, "{answers:?}");
    assert_eq!(answers[1]["full_name"], false, "{answers:?}");
    let history = eid_gateway::identity::history::recent(&app.store(), &p.personal_id, 10)
        .await
        .unwrap();
    assert_eq!(history[1].purpose.as_deref(), Some(r#"a "quoted" purpose"#));
    assert_eq!(history[0].purpose.as_deref(), Some("x"));
}

async fn post_batch(app: &TestApp, client: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/match/batch"))
        .basic_auth(client, Some(sandbox_secret(client)))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn ndjson_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn a_hundred_thousand_line_batch_answers_every_line_against_the_registry(backend: Backend) {
    let app = spawn_app(backend).await;
    let people = crate::citizen::people(&app);
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(7);
    use rand::Rng;
    let mut body = Vec::new();
    let mut expected = Vec::new();
    const LINES: usize = 100_000;
    for i in 0..LINES {
        let p = &people[i % people.len()].person;
        let mut line =
            json!({ "personal_id": p.personal_id.as_str(), "purpose": "subscriber check" });
        let mut want = json!({ "line": i + 1, "personal_id": true });
        let truthful = |rng: &mut rand_chacha::ChaCha12Rng| rng.random_bool(0.7);
        let t = truthful(&mut rng);
        line["full_name"] = json!(if t {
            p.full_name.clone()
        } else {
            format!("{} X", p.full_name)
        });
        want["full_name"] = json!(t);
        if rng.random_bool(0.5) {
            let t = truthful(&mut rng);
            let d = if t {
                p.birth_date
            } else {
                p.birth_date.pred_opt().unwrap()
            };
            line["birth_date"] = json!(d.to_string());
            want["birth_date"] = json!(t);
        }
        if rng.random_bool(0.5) {
            let t = truthful(&mut rng);
            line["phone"] = json!(if t {
                p.phone.as_str().to_owned()
            } else {
                "0399999999".to_owned()
            });
            want["phone"] = json!(t && p.phone.as_str() != "0399999999");
        }
        serde_json::to_writer(&mut body, &line).unwrap();
        body.push(b'\n');
        expected.push(want);
    }
    let res = post_batch(&app, TELECOM, body).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/x-ndjson")
    );
    let answers = ndjson_lines(&res.text().await.unwrap());
    assert_eq!(answers.len(), LINES);
    for (got, want) in answers.iter().zip(&expected) {
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&got[k], v, "{k}: got {got}, want {want}");
        }
        assert!(got["match_id"].is_string());
    }
    // Every match is in the citizen's history, durably, with the purpose, the fields asked and
    // the match id the relying party was given.
    let first = &people[0].person.personal_id;
    let mut history = eid_gateway::identity::history::recent(&app.store(), first, LINES)
        .await
        .unwrap();
    history.reverse();
    let theirs: Vec<(&Value, &Value)> = answers
        .iter()
        .zip(&expected)
        .step_by(people.len())
        .collect();
    assert_eq!(history.len(), LINES.div_ceil(people.len()));
    assert_eq!(history.len(), theirs.len());
    for (entry, (answer, want)) in history.iter().zip(theirs) {
        assert_eq!(entry.action, "match");
        assert_eq!(entry.client_id, TELECOM);
        assert_eq!(entry.relying_party, "Mekong Telecom");
        assert_eq!(entry.purpose.as_deref(), Some("subscriber check"));
        assert_eq!(entry.verification_id, answer["match_id"].as_str().unwrap());
        let asked: Vec<&str> = ["full_name", "birth_date", "phone"]
            .into_iter()
            .filter(|f| want.get(*f).is_some())
            .collect();
        assert_eq!(entry.claims, asked, "{answer}");
    }
}

async fn batch_lines_fail_alone_and_the_endpoint_needs_its_permission_and_ndjson(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut citizen = Citizen::nth(&app, 0);
    citizen.register(&app).await;
    let id = citizen.id().to_owned();
    let good = json!({ "personal_id": id, "sex": citizen.truth.person.sex, "purpose": "x" });
    let lines = [
        good.to_string(),
        "{not json".to_owned(),
        json!({ "personal_id": id, "sex": 1, "purpose": "x" }).to_string(),
        json!({ "personal_id": "123", "sex": "male", "purpose": "x" }).to_string(),
        format!("{{\"personal_id\": \"{id}\", \"full_name\": \"{}\", \"purpose\": \"x\"}}", "a".repeat(5000)),
        String::new(),
        json!({ "personal_id": id, "face_capture": { "challenge_id": "c", "actions": [], "template": "t", "signature": "s" }, "purpose": "x" }).to_string(),
        good.to_string(),
    ];
    // The last line without a newline still counts.
    let body = lines.join("\n").into_bytes();
    let res = post_batch(&app, TELECOM, body).await;
    assert_eq!(res.status(), 200);
    let answers = ndjson_lines(&res.text().await.unwrap());
    let by_line: std::collections::BTreeMap<u64, &Value> = answers
        .iter()
        .map(|a| (a["line"].as_u64().unwrap(), a))
        .collect();
    assert_eq!(
        by_line.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5, 7, 8],
        "{answers:?}"
    );
    assert_eq!(by_line[&1]["sex"], true);
    assert_eq!(by_line[&2]["error"]["code"], "invalid_json");
    assert_eq!(by_line[&3]["error"]["code"], "invalid_json");
    assert_eq!(by_line[&4]["error"]["code"], "invalid_personal_id");
    assert_eq!(by_line[&5]["error"]["code"], "line_too_long");
    assert_eq!(by_line[&7]["error"]["code"], "face_not_in_batch");
    assert_eq!(by_line[&8]["sex"], true);
    // In order.
    let order: Vec<u64> = answers
        .iter()
        .map(|a| a["line"].as_u64().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    // Only the two good lines were recorded, and the citizen's app shows them whole.
    citizen.login(&app).await;
    let history = citizen.history(&app).await;
    let matches: Vec<&Value> = history.iter().filter(|e| e["action"] == "match").collect();
    assert_eq!(matches.len(), 2, "{history:?}");
    for (entry, line) in matches.iter().rev().zip([1, 8]) {
        assert_eq!(entry["verification_id"], by_line[&line]["match_id"]);
        assert_eq!(entry["client_id"], TELECOM);
        assert_eq!(entry["relying_party"], "Mekong Telecom");
        assert_eq!(entry["purpose"], "x");
        assert_eq!(entry["claims"], json!(["sex"]));
        assert!(entry["at"].as_i64().unwrap() > 0);
    }
    // An over-long last line is answered after everything matched, and a batch of nothing
    // else is answered too.
    let long = format!(
        r#"{{"personal_id": "{id}", "purpose": "{}"}}"#,
        "a".repeat(5000)
    );
    for (body, want) in [
        (format!("{good}\n{long}"), vec![json!(1), json!(2)]),
        (long.clone(), vec![json!(1)]),
    ] {
        let res = post_batch(&app, TELECOM, body.into_bytes()).await;
        let got = ndjson_lines(&res.text().await.unwrap());
        assert_eq!(
            got.iter().map(|a| a["line"].clone()).collect::<Vec<_>>(),
            want
        );
        assert_eq!(
            got.last().unwrap()["error"]["code"],
            "line_too_long",
            "{got:?}"
        );
    }
    // lotus-bank may match one at a time, not in batches; and the body must be NDJSON.
    let assertion = sign_assertion(eddsa_header(), &lotus_claims(&app), &lotus_bank_key_pem());
    let res = app
        .client
        .post(app.url("/v1/match/batch"))
        .header("authorization", format!("private_key_jwt {assertion}"))
        .header("content-type", "application/x-ndjson")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .post(app.url("/v1/match/batch"))
        .basic_auth(TELECOM, Some(sandbox_secret(TELECOM)))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
}

both_backends!(the_rp_cli_streams_a_batch_file_and_sums_it_up);

async fn the_rp_cli_streams_a_batch_file_and_sums_it_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let citizen = Citizen::nth(&app, 0);
    let p = &citizen.truth.person;
    let file = app.dir.path().join("batch.ndjson");
    let lines = [
        json!({ "personal_id": citizen.id(), "sex": p.sex, "purpose": "x" }).to_string(),
        json!({ "personal_id": citizen.id(), "phone": "0399999999", "purpose": "x" }).to_string(),
        "oops".to_owned(),
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let args: Vec<String> = ["rp", "match-batch", "--json", "--gateway", &app.address]
        .into_iter()
        .chain(["--rp", TELECOM, "--secret", sandbox_secret(TELECOM)])
        .map(str::to_owned)
        .chain([file.display().to_string()])
        .collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    // A refused line makes the run a negative answer, for a script to see without parsing.
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 of 3 lines were refused"));
    let printed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        printed.len(),
        4,
        "three answers and the summary: {printed:?}"
    );
    assert_eq!(printed[0]["sex"], true);
    assert_eq!(printed[1]["phone"], p.phone.as_str() == "0399999999");
    assert_eq!(printed[2]["error"]["code"], "invalid_json");
    assert_eq!(
        printed[3]["summary"],
        json!({ "lines": 3, "answered": 2, "refused": 1, "all_true": if p.phone.as_str() == "0399999999" { 2 } else { 1 } })
    );
}

async fn the_records_quota_counts_every_line_and_stops_a_batch_cleanly(backend: Backend) {
    let app = spawn_app(backend).await;
    let id = eid_gateway::domain::ClientId::parse(TELECOM).unwrap();
    let mut rp = app
        .services
        .relying_parties
        .get(&id)
        .await
        .unwrap()
        .unwrap();
    // Chunks are matched and counted whole: the first fits in the quota, the second would not.
    let chunk = eid_gateway::http::routes::attribute_match::CHUNK_LINES;
    rp.match_records_per_minute = u32::try_from(chunk + chunk / 2).unwrap();
    app.services.relying_parties.register(&rp).await.unwrap();
    let people = crate::citizen::people(&app);
    let mut body = Vec::new();
    for i in 0..chunk * 5 / 2 {
        let p = &people[i % people.len()].person;
        let line = json!({ "personal_id": p.personal_id.as_str(), "phone": p.phone.as_str(), "purpose": "SIM check" });
        serde_json::to_writer(&mut body, &line).unwrap();
        body.push(b'\n');
    }
    // One request, two and a half chunks: the answers stop after the first chunk with a final
    // line saying why.
    let res = post_batch(&app, TELECOM, body).await;
    assert_eq!(res.status(), 200);
    let lines = ndjson_lines(&res.text().await.unwrap());
    assert_eq!(lines.len(), chunk + 1);
    for (i, l) in lines[..chunk].iter().enumerate() {
        assert_eq!(l["line"], i + 1);
        assert_eq!(l["phone"], true);
    }
    let last = &lines[chunk]["error"];
    assert_eq!(last["code"], "rate_limited");
    assert!(last["retry_after"].as_u64().unwrap() >= 1);
    // The quota is per minute across match and match/batch: a single match is refused too.
    let p = &people[0].person;
    let res = post_match(&app, TELECOM, &json!({ "personal_id": p.personal_id.as_str(), "phone": p.phone.as_str(), "purpose": "SIM check" })).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    // Next minute, matching goes on.
    app.clock.advance(std::time::Duration::from_secs(61));
    let res = post_match(&app, TELECOM, &json!({ "personal_id": p.personal_id.as_str(), "phone": p.phone.as_str(), "purpose": "SIM check" })).await;
    assert_eq!(res.status(), 200);
}

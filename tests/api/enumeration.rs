//! What a probe cannot learn from time: registration starts and refused logins do the same store
//! work whatever the registry and the accounts hold (counted through a store that records every
//! operation), and the SMS of a genuine start leaves after the answer. `scripts/timing-probe`
//! measures the times themselves.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::both_backends;
use crate::citizen::{Citizen, new_device};
use crate::counting_store::{CountingStore, Journal};
use crate::helpers::{Backend, TestApp, spawn_overridden, test_settings};

async fn counted_app(backend: Backend) -> (TestApp, Arc<Journal>) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(backend, dir.path());
    let journal = Arc::new(Journal::default());
    let wrap_journal = journal.clone();
    let overrides = eid_gateway::startup::Overrides {
        wrap_store: Some(Box::new(move |store| {
            CountingStore::wrap(store, wrap_journal)
        })),
        ..Default::default()
    };
    (spawn_overridden(settings, dir, overrides).await, journal)
}

both_backends!(every_registration_start_does_the_same_work_and_answers_before_the_sms);

async fn every_registration_start_does_the_same_work_and_answers_before_the_sms(b: Backend) {
    let (app, journal) = counted_app(b).await;
    let genuine = Citizen::nth(&app, 0);
    let registered = Citizen::nth(&app, 1);
    registered.register(&app).await;
    let mut wrong_field = genuine.start_body();
    wrong_field["birth_date"] = json!("1901-01-01");
    let mut unknown = genuine.start_body();
    // A well-formed id no one holds (Hà Nội, a man born in 1999, serial 999999).
    unknown["personal_id"] = json!("001099999999");
    let cases = [
        ("matches the registry", genuine.start_body()),
        ("unknown id", unknown),
        ("wrong field", wrong_field),
        ("account exists", registered.start_body()),
    ];
    // SMS outbox appends wait: a start that waited for its SMS would never answer.
    let held = journal.hold_sms().await;
    let mut work = Vec::new();
    for (case, body) in &cases {
        journal.take();
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            Citizen::post(&app, "/v1/citizen/registrations", body, None),
        )
        .await
        .unwrap_or_else(|_| panic!("{case}: the answer waited for the SMS"));
        assert_eq!(res.status(), 202, "{case}");
        let answer: Value = res.json().await.unwrap();
        assert!(answer["registration_id"].is_string());
        work.push((case, journal.take()));
    }
    let (first_case, first) = &work[0];
    assert!(!first.is_empty());
    for (case, ops) in &work[1..] {
        assert_eq!(ops, first, "{case} does other store work than {first_case}");
    }
    // Once released, the genuine start's code reaches the registry's phone, the existing
    // account's holder is warned on theirs, and the decoys send nothing.
    drop(held);
    assert!(genuine.latest_sms(&app).await.is_some());
    let mut sent = journal.take();
    sent.sort();
    assert_eq!(
        sent,
        vec!["list_push sms", "list_push sms", "list_range sms"]
    );
    assert_eq!(
        registered.latest_sms(&app).await.as_deref(),
        Some(eid_gateway::identity::registration::ALREADY_REGISTERED_SMS)
    );
}

both_backends!(every_refused_login_does_the_same_work);

async fn every_refused_login_does_the_same_work(b: Backend) {
    let (app, journal) = counted_app(b).await;
    let mut active = Citizen::nth(&app, 0);
    active.register(&app).await;
    let locked = Citizen::nth(&app, 1);
    locked.register(&app).await;
    let id = eid_gateway::domain::PersonalId::parse(locked.id()).unwrap();
    let mut account = app.services.accounts.get(&id).await.unwrap().unwrap();
    account.status = eid_gateway::accounts::AccountStatus::Locked {
        at: eid_gateway::clock::Timestamp::from_secs(app.clock_now_secs()),
    };
    app.services.accounts.save(&account).await.unwrap();
    let backing_off = Citizen::nth(&app, 2);
    backing_off.register(&app).await;
    for _ in 0..5 {
        let res = backing_off
            .login_with(&app, "not the password", &backing_off.device)
            .await;
        assert_eq!(res.status(), 401);
    }
    let mut unknown = Citizen::nth(&app, 3);
    unknown.password = "whatever it is".into();

    let attempts: [(&str, &Citizen, String, ed25519_dalek::SigningKey); 5] = [
        (
            "unknown account",
            &unknown,
            unknown.password.clone(),
            new_device(),
        ),
        (
            "wrong password",
            &active,
            "not the password".into(),
            active.device.clone(),
        ),
        (
            "wrong device",
            &active,
            active.password.clone(),
            new_device(),
        ),
        (
            "locked account",
            &locked,
            locked.password.clone(),
            locked.device.clone(),
        ),
        (
            "backing off",
            &backing_off,
            backing_off.password.clone(),
            backing_off.device.clone(),
        ),
    ];
    let mut work = Vec::new();
    for (case, citizen, password, device) in &attempts {
        // The challenge is fetched first; only the login itself is compared.
        let challenge: Value = Citizen::post(
            &app,
            "/v1/citizen/login/challenge",
            &json!({ "personal_id": citizen.id() }),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
        journal.take();
        let res = citizen
            .login_with_challenge(&app, password, device, &challenge)
            .await;
        assert_eq!(res.status(), 401, "{case}");
        let body: Value = res.json().await.unwrap();
        work.push((case, journal.take(), body));
    }
    let (first_case, first_ops, first_body) = &work[0];
    for (case, ops, body) in &work[1..] {
        assert_eq!(
            body, first_body,
            "{case} answers otherwise than {first_case}"
        );
        assert_eq!(
            ops, first_ops,
            "{case} does other store work than {first_case}"
        );
    }
    // The active account still logs in: nothing above locked it out.
    assert_eq!(
        active
            .login_with(&app, &active.password.clone(), &active.device.clone())
            .await
            .status(),
        201
    );
    let _ = active.login(&app).await;
}

//! Single use survives a Redis that forgets: killed with SIGKILL and started again from a
//! snapshot taken before tokens were used, it no longer holds their used-markers — and the
//! gateways, noticing the new Redis process, refuse every presentation token, code and refresh
//! token issued before that moment, on every instance. Credentials issued after work as before.

use std::time::Duration;

use serde_json::Value;

use crate::citizen::{logged_in, verify};
use crate::helpers::*;
use crate::oidc::{
    Browser, PORTAL, at_portal, logged_in_at_portal, pkce, query_param, redeem, sign_in,
    token_request,
};
use crate::redis_outage::{RedisProcess, eventually, free_port, settings_for_redis_on};

const SNAPSHOT_ONLY: [&str; 6] = [
    "--save",
    "",
    "--appendonly",
    "no",
    "--dbfilename",
    "dump.rdb",
];

async fn save(port: u16) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SAVE").query_async(&mut c).await.unwrap();
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    token_request(
        app,
        PORTAL,
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

#[tokio::test]
async fn credentials_from_before_a_restore_are_refused_on_every_instance() {
    let port = free_port();
    let redis_dir = tempfile::tempdir().unwrap();
    let redis = RedisProcess::start_with(port, redis_dir.path(), &SNAPSHOT_ONLY);
    let (settings, dir) = settings_for_redis_on(port);
    let app = spawn_with(settings, dir).await;
    let second = spawn_second(&app).await;
    assert!(eventually(&app, "/readyz", 200).await);

    // Before the snapshot: presentation tokens, a code not yet redeemed, a refresh token not yet
    // used.
    let citizen = logged_in(&app, 0).await;
    let used = citizen.token_for(&app, PORTAL, "used").await;
    let never_used = citizen.token_for(&app, PORTAL, "never-used").await;
    let (portal_citizen, tokens) = logged_in_at_portal(&app, 1).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let p = pkce();
    let mut b = Browser::new(&app);
    let back = sign_in(&mut b, &portal_citizen, &at_portal(&p, &[])).await;
    let code = query_param(&back, "code").unwrap();
    save(port).await;
    std::fs::copy(
        redis_dir.path().join("dump.rdb"),
        redis_dir.path().join("snapshot.rdb"),
    )
    .unwrap();

    // After it, all three are used up.
    assert_eq!(verify(&app, PORTAL, &used, None).await["valid"], true);
    assert_eq!(redeem(&app, &code, &p.verifier).await.status(), 200);
    assert_eq!(refresh(&app, &refresh_token).await.status(), 200);
    assert_eq!(
        verify(&second, PORTAL, &used, None).await["reason"],
        "replayed"
    );

    // Redis dies and comes back from the older snapshot: the used-markers are gone.
    redis.kill();
    std::fs::copy(
        redis_dir.path().join("snapshot.rdb"),
        redis_dir.path().join("dump.rdb"),
    )
    .unwrap();
    let _redis = RedisProcess::start_with(port, redis_dir.path(), &SNAPSHOT_ONLY);
    assert!(eventually(&app, "/readyz", 200).await, "recovers");
    assert!(eventually(&second, "/readyz", 200).await, "recovers");
    // The operator sees it: each gateway counted its new connection.
    for gateway in [&app, &second] {
        let metrics = gateway.get("/metrics").await.text().await.unwrap();
        let reconnects = metrics
            .lines()
            .find_map(|l| l.strip_prefix("eidgw_redis_reconnects_total "))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(reconnects >= Some(1), "{reconnects:?}");
    }

    for gateway in [&app, &second] {
        for token in [&used, &never_used] {
            let answer = verify(gateway, PORTAL, token, None).await;
            assert_eq!(answer["valid"], false, "{answer}");
            assert_eq!(answer["reason"], "issued_before_restore", "{answer}");
        }
    }
    let res = redeem(&second, &code, &p.verifier).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = refresh(&second, &refresh_token).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // What is issued after the fence (and the clocks' leeway) works as before, once.
    for gateway in [&app, &second] {
        gateway.clock.advance(Duration::from_secs(31));
    }
    let fresh = citizen.token_for(&app, PORTAL, "fresh").await;
    assert_eq!(verify(&second, PORTAL, &fresh, None).await["valid"], true);
    assert_eq!(
        verify(&app, PORTAL, &fresh, None).await["reason"],
        "replayed"
    );
    let (_, after) = logged_in_at_portal(&app, 2).await;
    let res = refresh(&second, after["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 200);
}

/// A gateway that starts on a Redis holding no epoch but earlier data (its audit chain) fences
/// too: the epoch itself may be what was lost.
#[tokio::test]
async fn a_store_that_lost_its_epoch_but_kept_data_is_fenced() {
    let port = free_port();
    let redis_dir = tempfile::tempdir().unwrap();
    let _redis = RedisProcess::start_with(port, redis_dir.path(), &SNAPSHOT_ONLY);
    let (settings, dir) = settings_for_redis_on(port);
    let prefix = settings.store.redis.key_prefix.clone();
    let app = spawn_with(settings.clone(), dir).await;
    assert!(eventually(&app, "/readyz", 200).await);
    let citizen = logged_in(&app, 0).await;
    let token = citizen.token_for(&app, PORTAL, "n").await;
    assert_eq!(
        app.services.store.restore_fence(),
        None,
        "a new store has no fence"
    );
    // The epoch is deleted, and a gateway that never saw this Redis starts.
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL")
        .arg(eid_gateway::store::redis::layout::epoch(&prefix))
        .query_async(&mut c)
        .await
        .unwrap();
    let newcomer = spawn_second(&app).await;
    assert!(eventually(&newcomer, "/readyz", 200).await);
    assert!(newcomer.services.store.restore_fence().is_some());
    assert_eq!(
        verify(&newcomer, PORTAL, &token, None).await["reason"],
        "issued_before_restore"
    );
}

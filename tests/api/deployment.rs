//! docker-compose.yml cannot be run here (no Docker engine), so its shape is checked: Redis with
//! append-only persistence, two gateway instances on Redis sharing keys, nginx in front,
//! healthchecks. And what the balancer needs of the gateway: client addresses from trusted
//! proxies only.

use eid_gateway::config::ProxyNetwork;

use crate::both_backends;
use crate::citizen::Citizen;
use crate::helpers::{Backend, TestApp, repo, spawn_with, test_settings};

#[test]
fn the_cluster_compose_file_joins_six_nodes_and_puts_two_gateways_on_them() {
    let text = std::fs::read_to_string(repo().join("docker-compose.cluster.yml")).unwrap();
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let nodes: Vec<_> = services
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| k.starts_with("redis-"))
        .collect();
    assert_eq!(nodes.len(), 6, "{nodes:?}");
    let mut addresses = Vec::new();
    for n in &nodes {
        let svc = &doc["services"][*n];
        let command = serde_yaml_ng::to_string(&svc["command"]).unwrap();
        for needed in [
            "--cluster-enabled",
            "--appendonly",
            "--appendfsync",
            "always",
        ] {
            assert!(command.contains(needed), "{n}: {command}");
        }
        assert!(svc["healthcheck"].is_mapping(), "{n}");
        addresses.push(
            svc["networks"]["backend"]["ipv4_address"]
                .as_str()
                .expect("a fixed address")
                .to_owned(),
        );
    }
    let init = serde_yaml_ng::to_string(&doc["services"]["cluster-init"]["entrypoint"]).unwrap();
    assert!(init.contains("--cluster create") && init.contains("--cluster-replicas 1"));
    for a in &addresses {
        assert!(init.contains(&format!("{a}:6379")), "{a} joins the cluster");
    }
    for g in ["gateway-1", "gateway-2"] {
        let env = &doc["services"][g]["environment"];
        assert_eq!(env["EIDGW__STORE__REDIS__CLUSTER"].as_str(), Some("true"));
        assert_eq!(env["EIDGW__STORE__REDIS__REPLICA_ACKS"].as_str(), Some("1"));
        let seeds = env["EIDGW__STORE__REDIS__URL"].as_str().unwrap();
        for a in &addresses {
            assert!(seeds.contains(&format!("redis://{a}:6379")), "{g}: {seeds}");
        }
        // The seeds parse as the gateway's own settings would.
        let mut settings = eid_gateway::config::Settings::load(
            &repo().join("config"),
            eid_gateway::config::Environment::Dev,
        )
        .unwrap();
        settings.store.redis.url = seeds.to_owned().into();
        assert_eq!(settings.store.redis.urls().len(), 6);
    }
}

#[test]
fn the_compose_file_describes_redis_two_gateways_and_a_load_balancer() {
    let text = std::fs::read_to_string(repo().join("docker-compose.yml")).unwrap();
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    doc.apply_merge().unwrap();
    let services = doc["services"].as_mapping().unwrap();
    let redis = &doc["services"]["redis"];
    let command = serde_yaml_ng::to_string(&redis["command"]).unwrap();
    assert!(
        command.contains("--appendonly") && command.contains("yes"),
        "{command}"
    );
    // Acknowledged writes are on disk before Redis answers (single use survives its crash).
    assert!(
        command.contains("--appendfsync") && command.contains("always"),
        "{command}"
    );
    let balancer_ip = doc["services"]["load-balancer"]["networks"]["backend"]["ipv4_address"]
        .as_str()
        .expect("the load balancer has a fixed address")
        .to_owned();
    assert!(redis["healthcheck"].is_mapping());
    let gateways: Vec<_> = services
        .keys()
        .filter_map(|k| k.as_str())
        .filter(|k| k.starts_with("gateway-"))
        .collect();
    assert_eq!(gateways.len(), 2, "{gateways:?}");
    for g in &gateways {
        let svc = &doc["services"][*g];
        let env = serde_yaml_ng::to_string(&svc["environment"]).unwrap();
        assert!(
            env.contains("EIDGW__STORE__BACKEND") && env.contains("redis"),
            "{g}: {env}"
        );
        assert!(svc["healthcheck"].is_mapping(), "{g} has a healthcheck");
        // The gateways believe X-Forwarded-For from the balancer, and only from it.
        assert_eq!(
            svc["environment"]["EIDGW__SERVER__TRUSTED_PROXIES"].as_str(),
            Some(balancer_ip.as_str()),
            "{g}"
        );
        assert!(
            serde_yaml_ng::to_string(&svc["volumes"])
                .unwrap()
                .contains("keys"),
            "{g} shares the key directory"
        );
    }
    let lb = &doc["services"]["load-balancer"];
    assert!(lb["image"].as_str().unwrap().starts_with("nginx"));
    let nginx = std::fs::read_to_string(repo().join("deploy/nginx.conf")).unwrap();
    for g in gateways {
        assert!(nginx.contains(g), "nginx balances over {g}");
    }
    assert!(nginx.contains("X-Forwarded-For $proxy_add_x_forwarded_for"));
    assert!(repo().join("Dockerfile").exists());
    // `COPY . .` must not send build output, local data, keys or wallets to the build.
    let ignored: Vec<String> = std::fs::read_to_string(repo().join(".dockerignore"))
        .expect("a .dockerignore")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    for path in ["target", "data", "keys", "wallet*", ".git"] {
        assert!(
            ignored.iter().any(|l| l == path),
            "{path} is not in .dockerignore"
        );
    }
    for needed in [
        "src",
        "config",
        "templates",
        "static",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(
            !ignored.iter().any(|l| l == needed),
            "{needed} is needed by the build"
        );
    }
}

both_backends!(behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget);

/// Per-address limits count the client the trusted balancer forwarded; from any other peer the
/// header changes nothing.
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(backend: Backend) {
    let start = |app: &TestApp, forwarded: &'static str| {
        let body = Citizen::nth(app, 0).start_body();
        let req = app
            .client
            .post(app.url("/v1/citizen/registrations"))
            .header("x-forwarded-for", forwarded)
            .json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(backend, dir.path());
    settings.security.ip_requests_per_minute = 2;
    settings.server.trusted_proxies = vec![ProxyNetwork::parse("127.0.0.1").unwrap()];
    let behind = spawn_with(settings, dir).await;
    assert_eq!(start(&behind, "198.51.100.1").await, 202);
    assert_eq!(start(&behind, "198.51.100.1").await, 202);
    assert_eq!(start(&behind, "198.51.100.1").await, 429);
    // Another citizen behind the same balancer has a budget of their own.
    assert_eq!(start(&behind, "198.51.100.2").await, 202);
    // A client that writes someone else's address first is still counted as itself: the
    // rightmost hop the balancer did not vouch for.
    assert_eq!(start(&behind, "198.51.100.2, 198.51.100.1").await, 429);
    assert_eq!(start(&behind, "198.51.100.1, 198.51.100.3").await, 202);

    // Not a trusted peer (the default): forged headers all land in the peer's one budget.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(backend, dir.path());
    settings.security.ip_requests_per_minute = 2;
    let direct = spawn_with(settings, dir).await;
    assert_eq!(start(&direct, "198.51.100.1").await, 202);
    assert_eq!(start(&direct, "198.51.100.2").await, 202);
    assert_eq!(start(&direct, "198.51.100.3").await, 429);
}

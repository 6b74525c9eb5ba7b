//! docker-compose.yml cannot be run here (no Docker engine), so its shape is checked: Redis with
//! append-only persistence, two gateway instances on Redis sharing keys, nginx in front,
//! healthchecks.

use crate::helpers::repo;

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
    assert!(repo().join("Dockerfile").exists());
}

//! The population registry: generation, import (library and CLI) and lookups, on both backends.

use eid_gateway::population::{generate, generate_to_file, import_file};
use eid_gateway::registry::Registry;

use crate::both_backends;
use crate::helpers::*;

both_backends!(imported_people_are_found_with_enrolled_not_true_templates);

async fn imported_people_are_found_with_enrolled_not_true_templates(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(b, dir.path());
    let store = eid_gateway::store::open(&settings.store).await.unwrap();
    let registry = Registry::new(store);
    let file = dir.path().join("people.jsonl");
    generate_to_file(&file, 300, 77).unwrap();
    let report = import_file(
        &registry,
        &file,
        0.03,
        eid_gateway::clock::Timestamp::from_secs(1_790_000_000),
    )
    .await
    .unwrap();
    assert_eq!(report.people, 300);
    assert_eq!(registry.population().await.unwrap().unwrap().people, 300);

    let truths: Vec<_> = generate(300, 77).collect();
    for truth in truths.iter().step_by(37) {
        let id = &truth.person.personal_id;
        let person = registry.person(id).await.unwrap().expect("imported");
        assert_eq!(person.full_name, truth.person.full_name);
        assert_eq!(person.birth_date, truth.person.birth_date);
        let enrolled = registry
            .templates(id)
            .await
            .unwrap()
            .expect("templates imported");
        let score = enrolled.face.similarity(&truth.face);
        assert!(
            score > 0.85 && score < 0.9999,
            "enrolment adds noise: {score}"
        );
        // Another person's face does not resemble this enrolment.
        assert!(
            enrolled.face.similarity(&truths[0].face).abs() < 0.5
                || id == &truths[0].person.personal_id
        );
    }
    let ids: Vec<_> = truths
        .iter()
        .take(3)
        .map(|t| &t.person.personal_id)
        .collect();
    let unknown = eid_gateway::domain::PersonalId::parse("001099999999").unwrap();
    let mut query = ids.clone();
    query.push(&unknown);
    let found = registry.stored_people(&query).await.unwrap();
    assert!(found[3].is_none());
    // The facts read from each stored record are the person's own.
    for (truth, stored) in truths.iter().zip(&found[..3]) {
        let stored = stored.as_ref().expect("enrolled person found");
        let facts = stored.facts().unwrap();
        assert!(facts == eid_gateway::domain::PersonFacts::from(&truth.person));
        assert_eq!(facts.full_name, truth.person.full_name);
        assert_eq!(facts.phone, truth.person.phone.as_str());
    }
}

fn eidgw(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_eidgw"))
        .current_dir(repo())
        .args(args)
        .env("EIDGW__KEYS__DIR", dir.join("keys"))
        .output()
        .unwrap()
}

#[test]
fn the_cli_generates_deterministic_files_imports_them_and_benchmarks_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    for out in [&a, &b] {
        let o = eidgw(
            &[
                "population",
                "generate",
                "--count",
                "150",
                "--seed",
                "9",
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same seed, same people"
    );
    let data = dir.path().join("data");
    let o = eidgw(
        &[
            "population",
            "import",
            a.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("imported 150 people"));
    let o = eidgw(
        &[
            "bench",
            "registry",
            "--people",
            a.to_str().unwrap(),
            "--lookups",
            "500",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("p99"));
}

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
    let found = registry.stored_facts(&query).await.unwrap();
    assert!(found.get(3).unwrap().is_none());
    // The facts kept for each person are the person's own.
    for (i, truth) in truths.iter().take(3).enumerate() {
        let facts = found.get(i).unwrap().expect("enrolled person found");
        assert!(facts == eid_gateway::domain::PersonFacts::from(&truth.person));
        assert_eq!(facts.full_name, truth.person.full_name);
        assert_eq!(facts.phone, truth.person.phone.as_str());
    }
    // A record saved again (a card issued, say) keeps its facts in step.
    let mut changed = truths[0].person.clone();
    changed.full_name = "Trần Thị Đổi Tên".into();
    registry.save_person(&changed).await.unwrap();
    let found = registry
        .stored_facts(&[&changed.personal_id])
        .await
        .unwrap();
    assert_eq!(found.get(0).unwrap().unwrap().full_name, "Trần Thị Đổi Tên");
}

both_backends!(a_person_stored_before_facts_were_kept_apart_is_still_found);

async fn a_person_stored_before_facts_were_kept_apart_is_still_found(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(b, dir.path());
    let store = eid_gateway::store::open(&settings.store).await.unwrap();
    let registry = Registry::new(store.clone());
    let people: Vec<_> = generate(3, 5).collect();
    // The record alone, as an older gateway wrote it, between two people with facts.
    let (old, new) = (&people[1].person, [&people[0].person, &people[2].person]);
    store
        .put(
            eid_gateway::store::Table::People,
            old.personal_id.as_str(),
            serde_json::to_vec(old).unwrap(),
        )
        .await
        .unwrap();
    for p in new {
        registry.save_person(p).await.unwrap();
    }
    let unknown = eid_gateway::domain::PersonalId::parse("001099999999").unwrap();
    let ids = [
        &unknown,
        &people[0].person.personal_id,
        &old.personal_id,
        &people[2].person.personal_id,
    ];
    let found = registry.stored_facts(&ids).await.unwrap();
    assert!(found.get(0).unwrap().is_none());
    for (i, p) in [(1, &people[0].person), (2, old), (3, &people[2].person)] {
        let facts = found.get(i).unwrap().expect("found");
        assert!(facts == eid_gateway::domain::PersonFacts::from(p), "{i}");
    }
    assert!(found.get(4).unwrap().is_none());
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

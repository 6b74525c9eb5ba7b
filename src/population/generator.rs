//! Deterministic generator of synthetic people: the same seed always gives the same people.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use rand::prelude::*;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use super::names::*;
use crate::biometrics::{FACE_DIMENSIONS, FINGERPRINT_DIMENSIONS, Template};
use crate::domain::province::PROVINCES;
use crate::domain::{Person, PersonalId, PhoneNumber, Sex};

/// One line of the people file: a person and their true biometric vectors, which only the
/// simulator (the citizen's "body") knows.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonTruth {
    pub person: Person,
    pub face: Template,
    pub fingerprints: [Template; 2],
}

impl std::fmt::Debug for PersonTruth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonTruth")
            .field("person", &self.person)
            .finish_non_exhaustive()
    }
}

/// Ages are computed against a fixed date, not the clock, so a seed gives the same people
/// whenever it is run.
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// Picks from a weighted table by cumulative weights (the tables are constants).
struct Weighted<'a> {
    items: Vec<&'a str>,
    cumulative: Vec<u32>,
}

impl<'a> Weighted<'a> {
    fn new(table: &[(&'a str, u32)]) -> Self {
        let mut total = 0;
        let cumulative = table
            .iter()
            .map(|(_, w)| {
                total += w;
                total
            })
            .collect();
        Self {
            items: table.iter().map(|(s, _)| *s).collect(),
            cumulative,
        }
    }
    fn pick(&self, rng: &mut impl Rng) -> &'a str {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return "";
        }
        let r = rng.random_range(0..total);
        let i = self.cumulative.partition_point(|c| *c <= r);
        self.items.get(i).copied().unwrap_or("")
    }
}

/// An endless, deterministic stream of distinct people for `seed`.
pub struct Generator {
    rng: ChaCha12Rng,
    ids: HashSet<u64>,
    family: Weighted<'static>,
    ethnicity: Weighted<'static>,
    religion: Weighted<'static>,
}

impl Generator {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha12Rng::seed_from_u64(seed),
            ids: HashSet::new(),
            family: Weighted::new(&FAMILY_NAMES),
            ethnicity: Weighted::new(&ETHNICITIES),
            religion: Weighted::new(&RELIGIONS),
        }
    }

    pub fn next_person(&mut self) -> PersonTruth {
        let rng = &mut self.rng;
        let sex = if rng.random_bool(0.5) {
            Sex::Male
        } else {
            Sex::Female
        };
        let today = reference_date();
        // Ages 0–95, uniformly by day.
        let days_old = rng.random_range(0..(95 * 365));
        let birth_date = today - Duration::days(days_old);
        let province = &PROVINCES[rng.random_range(0..PROVINCES.len())];
        let personal_id = loop {
            let serial = rng.random_range(0..1_000_000u32);
            if let Ok(id) = PersonalId::compose(province, birth_date, sex, serial) {
                let n: u64 = id.as_str().parse().unwrap_or(0);
                if self.ids.insert(n) {
                    break id;
                }
            }
        };
        let (middle, given) = match sex {
            Sex::Male => (
                MALE_MIDDLE[rng.random_range(0..10)],
                MALE_GIVEN[rng.random_range(0..30)],
            ),
            Sex::Female => (
                FEMALE_MIDDLE[rng.random_range(0..10)],
                FEMALE_GIVEN[rng.random_range(0..30)],
            ),
        };
        let full_name = format!("{} {} {}", self.family.pick(rng), middle, given);
        let home_province = &PROVINCES[rng.random_range(0..PROVINCES.len())];
        let hometown = format!(
            "{}, {}",
            WARDS[rng.random_range(0..WARDS.len())],
            home_province.name
        );
        let permanent_address = format!(
            "Số {} đường {}, {}, {}",
            rng.random_range(1..400),
            STREETS[rng.random_range(0..STREETS.len())],
            WARDS[rng.random_range(0..WARDS.len())],
            province.name
        );
        let phone = loop {
            let text = format!(
                "{}{:07}",
                MOBILE_PREFIXES[rng.random_range(0..MOBILE_PREFIXES.len())],
                rng.random_range(0..10_000_000u32)
            );
            if let Ok(p) = PhoneNumber::parse(&text) {
                break p;
            }
        };
        let age = today.year() - birth_date.year();
        let group = match age {
            0..=5 => "TE",
            6..=17 => "HS",
            18..=22 => "SV",
            60.. => "HT",
            _ => INSURANCE_GROUPS[rng.random_range(0..4)],
        };
        let health_insurance_number = format!(
            "{group}{}{}{:010}",
            rng.random_range(1..=5),
            &province.code[1..3],
            rng.random_range(0..10_000_000_000u64)
        );
        let ethnicity = self.ethnicity.pick(rng).to_owned();
        let religion = self.religion.pick(rng).to_owned();
        let person = Person {
            personal_id,
            full_name,
            birth_date,
            sex,
            nationality: "VNM".into(),
            ethnicity,
            religion,
            hometown,
            permanent_address,
            phone,
            health_insurance_number,
            card: None,
        };
        let face = Template::random(rng, FACE_DIMENSIONS);
        let fingerprints = [
            Template::random(rng, FINGERPRINT_DIMENSIONS),
            Template::random(rng, FINGERPRINT_DIMENSIONS),
        ];
        PersonTruth {
            person,
            face,
            fingerprints,
        }
    }
}

impl Iterator for Generator {
    type Item = PersonTruth;
    fn next(&mut self) -> Option<PersonTruth> {
        Some(self.next_person())
    }
}

/// The first `count` people for `seed`.
pub fn generate(count: usize, seed: u64) -> impl Iterator<Item = PersonTruth> {
    Generator::new(seed).take(count)
}

/// Writes `count` people for `seed` as JSON Lines.
pub fn generate_to_file(path: &Path, count: usize, seed: u64) -> std::io::Result<()> {
    generate_to_file_with(path, count, seed, |_| {})
}

/// [`generate_to_file`], telling `written` how many people are written so far (every 1,000).
pub fn generate_to_file_with(
    path: &Path,
    count: usize,
    seed: u64,
    mut written: impl FnMut(u64),
) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for (n, truth) in generate(count, seed).enumerate() {
        serde_json::to_writer(&mut out, &truth)?;
        out.write_all(b"\n")?;
        if (n + 1) % 1_000 == 0 {
            written(n as u64 + 1);
        }
    }
    written(count as u64);
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_people_and_another_seed_others() {
        let a: Vec<String> = generate(50, 42)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        let b: Vec<String> = generate(50, 42)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        let c: Vec<String> = generate(50, 43)
            .map(|p| serde_json::to_string(&p).unwrap())
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn generated_people_follow_the_registry_rules() {
        let mut ids = HashSet::new();
        for truth in generate(2_000, 1) {
            let p = &truth.person;
            assert!(ids.insert(p.personal_id.clone()), "ids are unique");
            p.personal_id
                .check_agrees_with(p.birth_date, p.sex)
                .unwrap();
            assert_eq!(p.full_name.split(' ').count(), 3);
            assert_eq!(p.nationality, "VNM");
            assert_eq!(p.health_insurance_number.len(), 15);
            assert_eq!(truth.face.dimensions(), FACE_DIMENSIONS);
            assert!((truth.face.similarity(&truth.face) - 1.0).abs() < 1e-4);
        }
        let nguyen = generate(2_000, 1)
            .filter(|p| p.person.full_name.starts_with("Nguyễn"))
            .count();
        assert!(
            (600..=900).contains(&nguyen),
            "about 38% are Nguyễn, got {nguyen}"
        );
    }
}

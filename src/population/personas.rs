//! Ready-made citizens for relying-party developers (dev mode only).

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::generator::{PersonTruth, reference_date};

/// A persona: who to log in as, and what that person is ready for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Persona {
    /// Full personal id: personas are synthetic sandbox people.
    pub personal_id: String,
    pub full_name: String,
    pub birth_date: chrono::NaiveDate,
    pub phone: String,
    /// A stable role name, e.g. `adult`.
    pub role: String,
    /// What this persona is ready for, in words.
    pub ready_for: String,
}

fn age(truth: &PersonTruth) -> i32 {
    reference_date().year() - truth.person.birth_date.year()
}

/// A persona role: its name, what it is ready for, and which people fit it.
type Role = (&'static str, &'static str, fn(&PersonTruth) -> bool);

/// Picks the personas from a freshly generated population, deterministically.
pub fn pick(people: &[PersonTruth]) -> Vec<Persona> {
    let roles: [Role; 4] = [
        (
            "adult",
            "level-1 registration, login and presentations to any relying party",
            |p| (25..=50).contains(&age(p)),
        ),
        (
            "second-adult",
            "a second citizen, e.g. to show that pairwise subjects differ",
            |p| (25..=50).contains(&age(p)),
        ),
        (
            "minor",
            "age_over_18 answers false; level-1 registration",
            |p| (14..=17).contains(&age(p)),
        ),
        (
            "elderly",
            "a citizen over 70, e.g. for hospital check-in",
            |p| age(p) >= 70,
        ),
    ];
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (role, ready_for, fits) in roles {
        if let Some(p) = people
            .iter()
            .find(|p| fits(p) && !used.contains(p.person.personal_id.as_str()))
        {
            used.insert(p.person.personal_id.as_str().to_owned());
            out.push(Persona {
                personal_id: p.person.personal_id.as_str().to_owned(),
                full_name: p.person.full_name.clone(),
                birth_date: p.person.birth_date,
                phone: p.person.phone.as_str().to_owned(),
                role: role.into(),
                ready_for: ready_for.into(),
            });
        }
    }
    out
}

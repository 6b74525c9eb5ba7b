//! The population registry: what the state knows about people (personal data, enrolled
//! biometric templates, card records), stored through the [`Store`] primitives.

use serde::{Deserialize, Serialize};

use crate::biometrics::EnrolledTemplates;
use crate::clock::Timestamp;
use crate::domain::{Person, PersonalId};
use crate::population::Persona;
use crate::store::{SharedStore, Store, StoreError, Table, decode, encode, get_json, put_json};

const POPULATION_KEY: &str = "population";
const PERSONAS_KEY: &str = "dev_personas";

/// The last import: how many people it loaded, from which file, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationInfo {
    pub people: u64,
    pub imported_at: Timestamp,
    pub source: String,
}

#[derive(Clone)]
pub struct Registry {
    store: SharedStore,
}

impl Registry {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub async fn person(&self, id: &PersonalId) -> Result<Option<Person>, StoreError> {
        get_json(self.store(), Table::People, id.as_str()).await
    }

    pub async fn templates(
        &self,
        id: &PersonalId,
    ) -> Result<Option<EnrolledTemplates>, StoreError> {
        get_json(self.store(), Table::Templates, id.as_str()).await
    }

    /// Looks many people up in one round trip (batch matching).
    pub async fn people(&self, ids: &[&PersonalId]) -> Result<Vec<Option<Person>>, StoreError> {
        let keys: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        self.store()
            .get_many(Table::People, &keys)
            .await?
            .into_iter()
            .map(|raw| raw.map(|b| decode(Table::People, &b)).transpose())
            .collect()
    }

    pub async fn save_person(&self, person: &Person) -> Result<(), StoreError> {
        put_json(
            self.store(),
            Table::People,
            person.personal_id.as_str(),
            person,
        )
        .await
    }

    /// Writes a batch of people and their enrolled templates.
    pub async fn enrol_batch(
        &self,
        batch: Vec<(Person, EnrolledTemplates)>,
    ) -> Result<(), StoreError> {
        let mut people = Vec::with_capacity(batch.len());
        let mut templates = Vec::with_capacity(batch.len());
        for (person, t) in &batch {
            let key = person.personal_id.as_str().to_owned();
            people.push((key.clone(), encode(person)?));
            templates.push((key, encode(t)?));
        }
        // Templates first: a person visible in the registry always has templates.
        self.store().put_many(Table::Templates, templates).await?;
        self.store().put_many(Table::People, people).await
    }

    pub async fn population(&self) -> Result<Option<PopulationInfo>, StoreError> {
        get_json(self.store(), Table::Meta, POPULATION_KEY).await
    }

    pub async fn set_population(&self, info: &PopulationInfo) -> Result<(), StoreError> {
        put_json(self.store(), Table::Meta, POPULATION_KEY, info).await
    }

    pub async fn personas(&self) -> Result<Vec<Persona>, StoreError> {
        Ok(get_json(self.store(), Table::Meta, PERSONAS_KEY)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_personas(&self, personas: &[Persona]) -> Result<(), StoreError> {
        put_json(self.store(), Table::Meta, PERSONAS_KEY, &personas).await
    }
}

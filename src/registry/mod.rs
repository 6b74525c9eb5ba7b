//! The population registry: what the state knows about people (personal data, enrolled
//! biometric templates, card records), stored through the [`Store`] primitives.

use serde::{Deserialize, Serialize};

use crate::biometrics::EnrolledTemplates;
use crate::clock::Timestamp;
use crate::domain::{CardRecord, CardStatus, Person, PersonFacts, PersonalId};
use crate::population::Persona;
use crate::store::{
    Records, SharedStore, Store, StoreError, Table, WriteBatch, decode, encode, get_json, put_json,
};

pub(crate) const POPULATION_KEY: &str = "population";
pub(crate) const PERSONAS_KEY: &str = "dev_personas";

/// A card record as the registry keeps it by card number, with whose card it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredCard {
    pub personal_id: PersonalId,
    pub card: CardRecord,
}

/// The last import: how many people it loaded, from which file, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationInfo {
    pub people: u64,
    pub imported_at: Timestamp,
    pub source: String,
}

/// What attribute matches compare, for many people at once, as stored: each decoded only
/// when asked for, borrowing its text.
pub struct StoredFacts {
    facts: Records,
    /// Positions without a `PersonFacts` record, in order, and their `People` records: a store
    /// written before the facts were kept apart still answers.
    misses: Vec<usize>,
    people: Records,
}

impl StoredFacts {
    /// The facts of the `i`th person asked for, if the registry knows them.
    pub fn get(&self, i: usize) -> Result<Option<PersonFacts<'_>>, StoreError> {
        if let Some(raw) = self.facts.get(i) {
            return decode(Table::PersonFacts, raw).map(Some);
        }
        match self.misses.binary_search(&i) {
            Ok(k) => self
                .people
                .get(k)
                .map(|raw| decode(Table::People, raw))
                .transpose(),
            Err(_) => Ok(None),
        }
    }
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

    /// Looks up what batch matching compares for many people in one round trip, leaving each
    /// record encoded until it is read.
    pub async fn stored_facts(&self, ids: &[&PersonalId]) -> Result<StoredFacts, StoreError> {
        let keys: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        let facts = self.store().get_many(Table::PersonFacts, &keys).await?;
        let misses: Vec<usize> = (0..facts.len())
            .filter(|i| facts.get(*i).is_none())
            .collect();
        let people = if misses.is_empty() {
            Records::default()
        } else {
            let missing: Vec<&str> = misses
                .iter()
                .filter_map(|i| keys.get(*i).copied())
                .collect();
            self.store().get_many(Table::People, &missing).await?
        };
        Ok(StoredFacts {
            facts,
            misses,
            people,
        })
    }

    /// Writes a person's record and its match facts together.
    pub async fn save_person(&self, person: &Person) -> Result<(), StoreError> {
        let key = person.personal_id.as_str();
        self.store()
            .write_batch(WriteBatch {
                records: vec![
                    (
                        Table::PersonFacts,
                        key.to_owned(),
                        encode(&PersonFacts::from(person))?,
                    ),
                    (Table::People, key.to_owned(), encode(person)?),
                ],
                appends: Default::default(),
            })
            .await
    }

    /// Writes a batch of people and their enrolled templates.
    pub async fn enrol_batch(
        &self,
        batch: Vec<(Person, EnrolledTemplates)>,
    ) -> Result<(), StoreError> {
        let mut people = Vec::with_capacity(batch.len());
        let mut facts = Vec::with_capacity(batch.len());
        let mut templates = Vec::with_capacity(batch.len());
        for (person, t) in &batch {
            let key = person.personal_id.as_str().to_owned();
            people.push((key.clone(), encode(person)?));
            facts.push((key.clone(), encode(&PersonFacts::from(person))?));
            templates.push((key, encode(t)?));
        }
        // Templates and facts first: a person visible in the registry always has both.
        self.store().put_many(Table::Templates, templates).await?;
        self.store().put_many(Table::PersonFacts, facts).await?;
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

    pub async fn card(&self, card_number: &str) -> Result<Option<RegisteredCard>, StoreError> {
        get_json(self.store(), Table::Cards, card_number).await
    }

    /// Records a newly issued card and makes it the person's current card.
    pub async fn register_card(
        &self,
        person: &mut Person,
        card: CardRecord,
    ) -> Result<(), StoreError> {
        let entry = RegisteredCard {
            personal_id: person.personal_id.clone(),
            card: card.clone(),
        };
        put_json(self.store(), Table::Cards, &card.card_number, &entry).await?;
        person.card = Some(card);
        self.save_person(person).await
    }

    /// Marks a card revoked (lost or stolen). Returns false for an unknown card number.
    pub async fn revoke_card(&self, card_number: &str) -> Result<bool, StoreError> {
        let Some(mut entry) = self.card(card_number).await? else {
            return Ok(false);
        };
        entry.card.status = CardStatus::Revoked;
        put_json(self.store(), Table::Cards, card_number, &entry).await?;
        if let Some(mut person) = self.person(&entry.personal_id).await?
            && person
                .card
                .as_ref()
                .is_some_and(|c| c.card_number == card_number)
        {
            person.card = Some(entry.card.clone());
            self.save_person(&person).await?;
        }
        Ok(true)
    }
}

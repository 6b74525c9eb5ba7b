//! Domain types: the vocabulary of the gateway, free of HTTP and storage concerns.
//!
//! Each type can only be built by parsing or from valid parts, so code that holds one need not
//! re-check it.

mod auth;
mod client_id;
mod level;
mod person;
mod personal_id;
mod phone;
pub mod province;
pub mod whole_number;

pub use auth::{AuthMethod, Category, auth_level};
pub use client_id::{ClientId, ClientIdError};
pub use level::{AuthLevel, Level, as_acr};
pub use person::{CardRecord, CardStatus, Person, PersonFacts, parse_iso_date};
pub use personal_id::{PersonalId, PersonalIdError};
pub use phone::{PhoneNumber, PhoneNumberError};

use serde::{Deserialize, Serialize};

/// Sex as recorded in the population registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

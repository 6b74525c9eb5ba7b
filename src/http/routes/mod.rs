//! Route handlers, one file per feature.

pub mod attribute_match;
pub mod chip;
pub mod citizen;
pub mod clients;
pub mod dev;
pub mod health;
pub mod home;
pub mod jwks;
pub mod oauth;
pub mod operator;
pub mod relying_parties;
pub mod verify;

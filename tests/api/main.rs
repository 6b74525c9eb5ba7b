//! The integration suite: one binary, one file per feature. Store-backed tests run twice, on the
//! embedded store and on Redis (`both_backends!`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod attribute_match;
mod audit_log;
mod browser_pages;
mod chip_cards;
mod ciba;
mod citizen;
mod citizen_flows;
mod cli_scripting;
mod client_authentication;
mod configuration;
mod counting_store;
mod demo;
mod demo_browser;
mod deployment;
mod durability;
mod enumeration;
mod first_login;
mod full_disk;
mod history_export;
mod http_basics;
mod interop;
mod keys_and_jwks;
mod metrics;
mod oidc;
mod openapi_fuzz;
mod operations;
mod personas;
mod readme_walkthroughs;
mod redis_cluster;
mod redis_outage;
mod redis_restore;
mod registry;
mod relying_party_guard;
mod rp_registration;
mod selective_disclosure;
mod store_contract;
mod transactions;
mod verification;
mod walkthrough;

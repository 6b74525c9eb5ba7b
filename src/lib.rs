//! # eid-gateway
//!
//! An electronic-identity authentication gateway modelled on Vietnam's VNeID (Project 06).
//! Citizens hold level-1 or level-2 identity accounts; the gateway authenticates them and issues
//! EdDSA-signed identity tokens; relying parties (airlines, hospitals, banks, telecoms) check
//! them through its APIs. The registry, the chip card and the biometric sensors are simulated,
//! with real cryptography.
//!
//! ## A tour
//! - [`domain`]: the vocabulary (`PersonalId`, `Level`, `AuthLevel`, `ClientId`, `Person`), built
//!   only by parsing; no HTTP, no storage.
//! - [`store`]: the storage primitives behind one trait, with an embedded (redb) and a Redis
//!   implementation that pass the same contract tests (and a metering decorator over either); the embedded store heals after a disk
//!   failure, the Redis one fences off what a restarted Redis may have forgotten.
//! - [`registry`], [`relying_parties`], [`audit`], [`accounts`]: repositories and rules over the
//!   store (the audit chain with a checkpoint outside it; accounts with their secrets).
//! - [`identity`]: the citizen's use cases — registration, login and sessions, level 2, chip
//!   checks, presentations and their verification, attribute match, usage history.
//! - [`oidc`]: the OpenID provider (code flow with PKCE and PAR, DPoP, CIBA, consent, logout).
//! - [`population`], [`biometrics`], [`chip`]: the simulated world (synthetic people, templates,
//!   the card authority).
//! - [`keys`], [`tokens`]: key files, the signing keyring, the JWKS and safe JWS handling.
//! - [`services`]: the services wired together; [`http`]: the thin HTTP layer over them, where
//!   one guard admits relying parties and one middleware turns panics into 500s;
//!   [`startup`]: building and running the gateway; [`cli`]: the `eidgw` command.
//! - [`telemetry`]: logging, and the Prometheus metrics the domain and the HTTP layer count
//!   (verification outcomes, refused logins, store latency through a metering `Store`).
//! - [`i18n`]: what people read, Vietnamese first: the pages' texts, the message for every code,
//!   Vietnamese formats of amounts, dates and times.
//! - [`clock`]: time is injected everywhere, so expiry is testable without sleeping.

#![forbid(unsafe_code)]

// The pages' and messages' texts, compiled in (see `i18n`).
rust_i18n::i18n!("src/i18n/locales");

pub mod accounts;
pub mod audit;
pub mod biometrics;
pub mod challenges;
pub mod chip;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod i18n;
pub mod identity;
pub mod keys;
pub mod oidc;
pub mod population;
pub mod registry;
pub mod relying_parties;
pub mod services;
pub mod sms;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;

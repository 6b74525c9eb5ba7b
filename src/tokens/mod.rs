//! Token signing and verification: the keyring, the JWKS, and safe JWS handling.

pub mod client_assertion;
pub mod client_keys;
pub mod jwk;
pub mod jws;
pub mod keyring;

pub use keyring::{Keyring, KeyringManifest, SharedKeyring};

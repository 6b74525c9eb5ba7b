//! Relying parties: their registrations (from `config/relying_parties.toml` and the operator
//! API) and how they authenticate to the gateway.

pub(crate) mod authentication;
pub mod management;
pub(crate) mod registration;

pub use authentication::{ClientAuthError, ClientAuthenticator, ClientCredentials};
pub use registration::{
    AGE_THRESHOLDS, ClaimName, ClientAuthentication, IdTokenAlg, Permission, RegisteredKey,
    RegistrationSource, RegistryFile, RelyingParties, RelyingParty, StepUpRule,
};

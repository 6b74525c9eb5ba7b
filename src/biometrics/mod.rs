//! Simulated biometrics: templates, enrolment and capture noise, matching.
//!
//! Templates are unit vectors; a genuine capture is the person's true vector plus sensor noise,
//! re-normalised, and the match score is cosine similarity.

mod template;

pub use template::{FACE_DIMENSIONS, FINGERPRINT_DIMENSIONS, Template, TemplateError};

use serde::{Deserialize, Serialize};

/// The biometric templates the registry enrolled for a person (truth plus enrolment noise).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolledTemplates {
    pub face: Template,
    /// Right and left index fingers.
    pub fingerprints: [Template; 2],
}

impl std::fmt::Debug for EnrolledTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolledTemplates(<redacted>)")
    }
}

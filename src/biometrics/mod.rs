//! Simulated biometrics: templates, enrolment and capture noise, matching, liveness, calibration.
//!
//! Templates are unit vectors; a genuine capture is the person's true vector plus sensor noise,
//! re-normalised, and the match score is cosine similarity against the enrolled template.

pub mod calibration;
pub mod fingerprint;
pub mod liveness;
mod template;

pub use template::{FACE_DIMENSIONS, FINGERPRINT_DIMENSIONS, Template, TemplateError};

use serde::{Deserialize, Serialize};

use crate::config::BiometricSettings;
use crate::store::StoreError;

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

/// Why a biometric check failed; each has the stable reason code clients see.
#[derive(Debug, thiserror::Error)]
pub enum BiometricError {
    #[error("liveness_failed")]
    LivenessFailed,
    #[error("{0}")]
    Challenge(&'static str),
    #[error("device_signature_invalid")]
    DeviceSignatureInvalid,
    #[error("face_mismatch")]
    FaceMismatch,
    #[error("fingerprint_mismatch")]
    FingerprintMismatch,
    #[error("template_invalid")]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BiometricError {
    pub fn code(&self) -> &'static str {
        match self {
            BiometricError::LivenessFailed => "liveness_failed",
            BiometricError::Challenge(code) => code,
            BiometricError::DeviceSignatureInvalid => "device_signature_invalid",
            BiometricError::FaceMismatch => "face_mismatch",
            BiometricError::FingerprintMismatch => "fingerprint_mismatch",
            BiometricError::Template(_) => "template_invalid",
            BiometricError::Store(_) => "store_unavailable",
        }
    }
}

/// Compares captures with enrolled templates at the configured thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    pub face_threshold: f32,
    pub fingerprint_threshold: f32,
}

impl Matcher {
    pub fn from_settings(s: &BiometricSettings) -> Self {
        Self {
            face_threshold: s.face_threshold,
            fingerprint_threshold: s.fingerprint_threshold,
        }
    }

    /// The score, if the face capture matches the enrolled face.
    pub fn face(&self, capture: &Template, enrolled: &Template) -> Result<f32, BiometricError> {
        if capture.dimensions() != FACE_DIMENSIONS {
            return Err(TemplateError::Dimensions {
                expected: FACE_DIMENSIONS,
                found: capture.dimensions(),
            }
            .into());
        }
        let score = capture.similarity(enrolled);
        if score >= self.face_threshold {
            Ok(score)
        } else {
            Err(BiometricError::FaceMismatch)
        }
    }

    /// The score, if the fingerprint capture matches the enrolled finger.
    pub fn fingerprint(
        &self,
        capture: &Template,
        enrolled: &Template,
    ) -> Result<f32, BiometricError> {
        if capture.dimensions() != FINGERPRINT_DIMENSIONS {
            return Err(TemplateError::Dimensions {
                expected: FINGERPRINT_DIMENSIONS,
                found: capture.dimensions(),
            }
            .into());
        }
        let score = capture.similarity(enrolled);
        if score >= self.fingerprint_threshold {
            Ok(score)
        } else {
            Err(BiometricError::FingerprintMismatch)
        }
    }
}

//! The chip ID card (CCCD, ICAO Doc 9303 logic): card authority keys and certificates, the MRZ,
//! the chip image, issuance (with test defects), and passive + active authentication.

pub mod authority;
pub mod image;
pub mod inspection;
pub mod issuance;
pub mod mrz;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::biometrics::{BiometricError, Matcher, Template};
use crate::challenges::{ChallengeError, Challenges};
use crate::clock::SharedClock;
use crate::domain::PersonalId;
use crate::registry::Registry;
use crate::store::StoreError;
pub use image::{ChipImage, ChipRead, Dg13};
pub use inspection::{CardStanding, ChipFailure, MalformedRead, TrustStore};
pub use issuance::{CardIssuer, Defect};

/// Active-authentication challenges: kind in the challenge store, and lifetime.
pub const AA_CHALLENGE_KIND: &str = "chip-aa";
pub const AA_TTL: Duration = Duration::from_secs(60);

/// A fresh active-authentication challenge: the chip signs the bytes of `challenge_id`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChipChallenge {
    /// base64url of 32 random bytes; the chip signs these bytes and the answer names this id.
    pub challenge_id: String,
    pub expires_at: i64,
    pub expires_in: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    #[error(transparent)]
    Malformed(#[from] MalformedRead),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of reading a chip: each check's result, the card's standing, and what the chip
/// holds (only to be trusted when `authentic()`).
#[derive(Debug)]
pub struct ChipInspection {
    pub passive: Result<(), ChipFailure>,
    pub active: Result<(), ChipFailure>,
    pub card: CardStanding,
    /// The card holder as the registry knows them, when passive authentication succeeded.
    pub holder: Option<PersonalId>,
    pub dg13: Dg13,
    /// DG2, the face captured at issuance.
    pub chip_face: Template,
}

impl ChipInspection {
    pub fn authentic(&self) -> bool {
        self.passive.is_ok() && self.active.is_ok()
    }

    /// The first failure: passive authentication's, then active's.
    pub fn failure(&self) -> Option<&ChipFailure> {
        self.passive.as_ref().err().or(self.active.as_ref().err())
    }
}

/// Verifies chip reads for every flow: level-2 enrolment, device change, relying parties.
#[derive(Clone)]
pub struct Chips {
    trust: Arc<TrustStore>,
    registry: Registry,
    challenges: Challenges,
    clock: SharedClock,
}

impl Chips {
    pub fn new(
        trust: TrustStore,
        registry: Registry,
        challenges: Challenges,
        clock: SharedClock,
    ) -> Self {
        Self {
            trust: Arc::new(trust),
            registry,
            challenges,
            clock,
        }
    }

    pub fn today(&self) -> NaiveDate {
        self.clock.now().to_datetime().date_naive()
    }

    /// Issues an active-authentication challenge bound to `requester`.
    pub async fn challenge(&self, requester: &str) -> Result<ChipChallenge, StoreError> {
        let (challenge_id, expires_at) = self
            .challenges
            .issue(AA_CHALLENGE_KIND, requester, AA_TTL, &())
            .await?;
        Ok(ChipChallenge {
            challenge_id,
            expires_at: expires_at.secs(),
            expires_in: AA_TTL.as_secs(),
        })
    }

    /// Passive and active authentication of `read`, whose challenge must have been issued to
    /// `requester`. A malformed read is refused before the challenge is used.
    pub async fn inspect(
        &self,
        read: &ChipRead,
        requester: &str,
    ) -> Result<ChipInspection, ChipError> {
        let parsed = inspection::parse(read)?;
        let challenge = match self
            .challenges
            .consume::<()>(AA_CHALLENGE_KIND, &parsed.challenge_id, requester)
            .await
        {
            Ok(()) => Ok(()),
            Err(ChallengeError::Store(e)) => return Err(e.into()),
            Err(other) => Err(ChipFailure::Challenge(other.code())),
        };
        let today = self.today();
        let (passive, card, holder) = match inspection::passive_offline(&parsed, &self.trust, today)
        {
            Err(f) => (Err(f), CardStanding::Unknown, None),
            Ok(()) => {
                let (outcome, card) =
                    inspection::passive_registry(&parsed, &self.registry, today).await?;
                match outcome {
                    Ok(id) => (Ok(()), card, Some(id)),
                    Err(f) => (Err(f), card, None),
                }
            }
        };
        let active = challenge.and_then(|()| inspection::active_signature(&parsed));
        Ok(ChipInspection {
            passive,
            active,
            card,
            holder,
            dg13: parsed.dg13,
            chip_face: parsed.face,
        })
    }
}

/// A live face compared with the chip's DG2 and with the registry's enrolled face: both must
/// match.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FaceCheck {
    /// The lower of the two scores.
    pub score: f32,
    pub matched: bool,
    pub chip_score: f32,
    pub registry_score: f32,
}

pub fn face_check(
    matcher: &Matcher,
    capture: &Template,
    chip_face: &Template,
    enrolled: &Template,
) -> Result<FaceCheck, BiometricError> {
    let score_of = |r: Result<f32, BiometricError>, against: &Template| match r {
        Ok(s) => Ok(s),
        Err(BiometricError::FaceMismatch) => Ok(capture.similarity(against)),
        Err(e) => Err(e),
    };
    let chip_score = score_of(matcher.face(capture, chip_face), chip_face)?;
    let registry_score = score_of(matcher.face(capture, enrolled), enrolled)?;
    Ok(FaceCheck {
        score: chip_score.min(registry_score),
        matched: chip_score >= matcher.face_threshold && registry_score >= matcher.face_threshold,
        chip_score,
        registry_score,
    })
}

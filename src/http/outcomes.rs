//! How identity use-case outcomes map to HTTP: one exhaustive match per error enum.

use super::problem::ApiError;
use crate::identity::IdentityError;
use crate::identity::presentation::PresentationError;
use crate::identity::session::SessionError;
use crate::oidc::ciba::ApprovalError;
use crate::sms::OtpError;

fn outcome(status: u16, code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::Outcome {
        status,
        code,
        detail: detail.into(),
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid { code, detail } => outcome(400, code, detail),
            IdentityError::RegistrationUnknown => outcome(
                404,
                "registration_unknown",
                "no such registration, or it expired",
            ),
            IdentityError::Otp(OtpError::Invalid) => {
                outcome(400, "otp_invalid", "the code is wrong or no longer valid")
            }
            IdentityError::Otp(OtpError::TooManyAttempts) => outcome(
                429,
                "otp_attempts_exceeded",
                "too many wrong codes; start again",
            ),
            IdentityError::Otp(OtpError::Store(s)) => s.into(),
            IdentityError::Biometric(b) => match b {
                crate::biometrics::BiometricError::Store(s) => s.into(),
                other => outcome(400, other.code(), other.to_string()),
            },
            IdentityError::SecretRule(r) => outcome(400, "secret_rejected", r.to_string()),
            IdentityError::AlreadyRegistered => outcome(
                409,
                "already_registered",
                "this citizen already has an account",
            ),
            IdentityError::Store(s) => s.into(),
            IdentityError::Hash(h) => ApiError::Internal(h.to_string()),
            IdentityError::MalformedChip(m) => outcome(400, "malformed_chip_read", m.0),
            IdentityError::Chip(f) => outcome(400, f.code(), f.to_string()),
            IdentityError::ChipNotYours => outcome(
                403,
                "chip_not_yours",
                "the chip is genuine but belongs to another citizen",
            ),
            IdentityError::Forbidden { code, detail } => outcome(403, code, detail),
            IdentityError::NotFound(what) => outcome(404, "not_found", what),
            IdentityError::InvalidCredentials => outcome(
                401,
                "invalid_credentials",
                "the personal id, password, code or device is not right",
            ),
            IdentityError::Issue(i) => ApiError::Internal(i.to_string()),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Invalid { code, detail } => outcome(400, code, detail),
            SessionError::InvalidCredentials => outcome(
                401,
                "invalid_credentials",
                "the personal id, password or device is not right",
            ),
            SessionError::InvalidSession => outcome(401, "invalid_session", "log in again"),
            SessionError::WrongPasscode => outcome(401, "passcode_invalid", "wrong passcode"),
            SessionError::Biometric(b) => match b {
                crate::biometrics::BiometricError::Store(s) => s.into(),
                other => outcome(400, other.code(), other.to_string()),
            },
            SessionError::Store(s) => s.into(),
            SessionError::Hash(h) => ApiError::Internal(h.to_string()),
            SessionError::Signing(s) => ApiError::Internal(s),
        }
    }
}

impl From<PresentationError> for ApiError {
    fn from(e: PresentationError) -> Self {
        match e {
            PresentationError::Invalid(d) => outcome(400, "invalid_request", d),
            PresentationError::UnknownRelyingParty => outcome(
                404,
                "unknown_relying_party",
                "no relying party with that client_id",
            ),
            PresentationError::AccountLocked => {
                outcome(403, "account_locked", "the account is locked")
            }
            e @ PresentationError::LevelTooLow { .. } => {
                outcome(403, "level_too_low", e.to_string())
            }
            e @ PresentationError::StepUpRequired(_) => {
                outcome(403, "step_up_required", e.to_string())
            }
            PresentationError::Store(s) => s.into(),
            PresentationError::Signing(s) => ApiError::Internal(s),
        }
    }
}

impl From<crate::identity::history_export::ExportError> for ApiError {
    fn from(e: crate::identity::history_export::ExportError) -> Self {
        use crate::identity::history_export::ExportError;
        match e {
            ExportError::Store(s) => s.into(),
            ExportError::Signing(s) => ApiError::Internal(s),
        }
    }
}

impl From<ApprovalError> for ApiError {
    fn from(e: ApprovalError) -> Self {
        match e {
            ApprovalError::NotFound => outcome(
                404,
                "approval_unknown",
                "no such pending request (expired, answered, or not yours)",
            ),
            ApprovalError::AlreadyAnswered => {
                outcome(409, "already_answered", "the request was already answered")
            }
            e @ ApprovalError::StepUpRequired(_) => outcome(403, "step_up_required", e.to_string()),
            ApprovalError::Store(s) => s.into(),
        }
    }
}

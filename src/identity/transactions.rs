//! Transactions a citizen approves (RFC 9396 `authorization_details`) and the authentication a
//! relying party's step-up rules demand for them.
//!
//! A relying party names the transaction when it asks for a presentation, a CIBA approval or an
//! OIDC login; the citizen sees it before approving; the token carries it, signed, so the amount
//! or the creditor cannot change after approval. The policy (`[[relying_party.step_up]]`) decides
//! how strong the approval must be, e.g. `lotus-bank`: above 10,000,000 VND per transfer, level 3
//! with a face match.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::{AuthLevel, AuthMethod, auth_level};
use crate::relying_parties::RelyingParty;

/// The `authorization_details` types this gateway understands (discovery lists them).
pub const TYPES: [&str; 1] = [BANK_TRANSFER];
pub const BANK_TRANSFER: &str = "bank_transfer";
/// At most this many transactions in one request.
const MAX_DETAILS: usize = 5;
/// A transfer amount above this is not a plausible retail payment: refused as malformed.
pub const MAX_AMOUNT_VND: u64 = 1_000_000_000_000;

/// One transaction (RFC 9396 §2). Only the fields below are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationDetail {
    /// `bank_transfer`.
    #[serde(rename = "type")]
    #[schema(pattern = "^bank_transfer$")]
    pub kind: String,
    /// The amount in Vietnamese đồng.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64)]
    #[serde(deserialize_with = "crate::domain::whole_number::deserialize")]
    pub amount_vnd: u64,
    /// Who receives the money, as the citizen should see it.
    #[schema(
        min_length = 1,
        max_length = 140,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    pub creditor: String,
    /// The creditor's account number, if the relying party wants it bound too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 34,
        pattern = r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$"
    )]
    pub creditor_account: Option<String>,
}

impl AuthorizationDetail {
    /// What the citizen's app shows before approval.
    pub fn describe(&self) -> String {
        let account = self
            .creditor_account
            .as_deref()
            .map(|a| format!(" (account {a})"))
            .unwrap_or_default();
        format!(
            "Transfer {} VND to {}{account}",
            group_thousands(self.amount_vnd),
            self.creditor
        )
    }
}

/// Several transactions in words, for the usage history.
pub fn describe_all(details: &[AuthorizationDetail]) -> String {
    details
        .iter()
        .map(AuthorizationDetail::describe)
        .collect::<Vec<_>>()
        .join("; ")
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Why `authorization_details` were refused (RFC 9396 `invalid_authorization_details`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDetails(pub String);

fn text_ok(s: &str, max: usize) -> bool {
    let len = s.chars().count();
    (1..=max).contains(&len) && s.trim() == s && !s.chars().any(char::is_control)
}

/// Checks what the types cannot: known type, a positive plausible amount, readable creditor.
pub fn validate(details: &[AuthorizationDetail]) -> Result<(), InvalidDetails> {
    if details.is_empty() || details.len() > MAX_DETAILS {
        return Err(InvalidDetails(format!(
            "authorization_details must hold 1 to {MAX_DETAILS} transactions"
        )));
    }
    for d in details {
        if !TYPES.contains(&d.kind.as_str()) {
            return Err(InvalidDetails(format!(
                "unknown authorization_details type `{}`; supported: {}",
                d.kind,
                TYPES.join(", ")
            )));
        }
        if d.amount_vnd == 0 || d.amount_vnd > MAX_AMOUNT_VND {
            return Err(InvalidDetails(
                "amount_vnd must be a positive whole number of đồng".into(),
            ));
        }
        if !text_ok(&d.creditor, 140) {
            return Err(InvalidDetails(
                "creditor must be 1 to 140 printable characters".into(),
            ));
        }
        if d.creditor_account
            .as_deref()
            .is_some_and(|a| !text_ok(a, 34))
        {
            return Err(InvalidDetails(
                "creditor_account must be 1 to 34 printable characters".into(),
            ));
        }
    }
    Ok(())
}

/// Parses and validates the `authorization_details` parameter (a JSON array).
pub fn parse(json: &str) -> Result<Vec<AuthorizationDetail>, InvalidDetails> {
    if json.len() > 4096 {
        return Err(InvalidDetails("authorization_details is too long".into()));
    }
    let details: Vec<AuthorizationDetail> = serde_json::from_str(json)
        .map_err(|e| InvalidDetails(format!("authorization_details: {e}")))?;
    validate(&details)?;
    Ok(details)
}

/// The authentication a relying party needs for a request: its minimum, raised by every step-up
/// rule a transaction crosses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Requirement {
    pub auth_level: AuthLevel,
    /// Factors that must be among the `amr`, e.g. `face`.
    pub amr: BTreeSet<AuthMethod>,
}

impl Requirement {
    pub fn of(rp: &RelyingParty, details: &[AuthorizationDetail]) -> Self {
        let mut req = Requirement {
            auth_level: rp.min_auth_level,
            amr: BTreeSet::new(),
        };
        for d in details {
            for rule in rp
                .step_up
                .iter()
                .filter(|r| r.transaction == d.kind && d.amount_vnd > r.above_amount_vnd)
            {
                req.auth_level = req.auth_level.max(rule.min_auth_level);
                req.amr.extend(rule.require.iter().copied());
            }
        }
        req
    }

    pub fn met_by(&self, methods: &BTreeSet<AuthMethod>) -> bool {
        auth_level(methods) >= self.auth_level && self.amr.is_subset(methods)
    }

    /// Whether a live face capture is part of what is needed.
    pub fn needs_face(&self) -> bool {
        self.amr.contains(&AuthMethod::Face) || self.auth_level >= AuthLevel::THREE
    }

    /// In words, for error messages: "authentication level 3 with face".
    pub fn describe(&self) -> String {
        let mut s = format!("authentication level {}", self.auth_level.get());
        if !self.amr.is_empty() {
            let names: Vec<String> = self
                .amr
                .iter()
                .filter_map(|m| serde_json::to_value(m).ok())
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            s.push_str(&format!(" with {}", names.join(" and ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relying_parties::RegistryFile;

    fn lotus_bank() -> RelyingParty {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/relying_parties.toml");
        RegistryFile::load(&path, crate::config::Mode::Dev)
            .unwrap()
            .relying_parties
            .into_iter()
            .find(|r| r.client_id.as_str() == "lotus-bank")
            .unwrap()
    }

    fn transfer(amount_vnd: u64) -> AuthorizationDetail {
        AuthorizationDetail {
            kind: BANK_TRANSFER.into(),
            amount_vnd,
            creditor: "Nguyễn Văn An".into(),
            creditor_account: None,
        }
    }

    fn methods(m: &[AuthMethod]) -> BTreeSet<AuthMethod> {
        m.iter().copied().collect()
    }

    #[test]
    fn lotus_bank_needs_face_only_above_ten_million() {
        let bank = lotus_bank();
        let passcode = methods(&[AuthMethod::Pwd, AuthMethod::Swk, AuthMethod::Pin]);
        let face = methods(&[AuthMethod::Pwd, AuthMethod::Swk, AuthMethod::Face]);
        for (amount, passcode_ok) in [(9_000_000, true), (10_000_000, true), (10_000_001, false)] {
            let req = Requirement::of(&bank, &[transfer(amount)]);
            assert_eq!(req.met_by(&passcode), passcode_ok, "{amount}");
            assert!(req.met_by(&face), "{amount}");
        }
        let big = Requirement::of(&bank, &[transfer(25_000_000)]);
        assert_eq!(big.auth_level, AuthLevel::THREE);
        assert_eq!(big.describe(), "authentication level 3 with face");
        // Level 3 reached with a fingerprint is still not a face.
        assert!(!big.met_by(&methods(&[AuthMethod::Pin, AuthMethod::Fpt])));
    }

    #[test]
    fn bad_details_are_refused() {
        for bad in [
            "[]",
            "{}",
            r#"[{"type":"bank_transfer","amount_vnd":-1,"creditor":"A"}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":0,"creditor":"A"}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":"5","creditor":"A"}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":5.5,"creditor":"A"}]"#,
            r#"[{"type":"card_payment","amount_vnd":5,"creditor":"A"}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":5,"creditor":""}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":5,"creditor":"A\u0007"}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":5,"creditor":"A","extra":1}]"#,
            r#"[{"type":"bank_transfer","amount_vnd":5}]"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let ok =
            parse(r#"[{"type":"bank_transfer","amount_vnd":25000000,"creditor":"B"}]"#).unwrap();
        assert_eq!(ok[0].describe(), "Transfer 25,000,000 VND to B");
    }
}

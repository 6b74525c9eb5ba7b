//! The recommended message for every code the gateway answers with, in Vietnamese and English —
//! what a relying party should tell the citizen, as BankID publishes for its hint codes. Served
//! as `GET /v1/messages?lang=vi`, printed by `eidgw messages`, tabled in the README and the docs
//! page, and used by the gateway's own pages. The texts live in `locales/codes.yml`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{Lang, exact};

/// Every code, by the family that answers with it:
/// - `verify`: `POST /v1/verify`'s `reason`;
/// - `chip`: the chip API's and level 2's reasons;
/// - `biometric`: face and fingerprint checks;
/// - `match`: `POST /v1/match` fields that disagree (`<field>_mismatch`) and refused batch lines;
/// - `oauth`: the OpenID Connect, OAuth and CIBA `error` codes, and the sign-in pages' own;
/// - `problem`: the `code` of RFC 9457 problems on the REST APIs.
pub const CODES: &[(&str, &[&str])] = &[
    (
        "verify",
        &[
            "malformed",
            "bad_signature",
            "unknown_key",
            "wrong_type",
            "expired",
            "not_yet_valid",
            "wrong_issuer",
            "wrong_audience",
            "nonce_mismatch",
            "replayed",
            "account_locked",
            "level_too_low",
            "auth_level_too_low",
            "authorization_details_mismatch",
            "issued_before_restore",
        ],
    ),
    (
        "chip",
        &[
            "ds_untrusted",
            "ds_expired",
            "ds_not_yet_valid",
            "sod_signature_invalid",
            "dg_missing",
            "dg_hash_mismatch",
            "mrz_check_digit",
            "mrz_dg13_mismatch",
            "card_unknown",
            "card_revoked",
            "card_expired",
            "registry_mismatch",
            "aa_failed",
            "challenge_unknown",
            "challenge_expired",
            "challenge_reused",
        ],
    ),
    (
        "biometric",
        &[
            "liveness_failed",
            "device_signature_invalid",
            "face_mismatch",
            "fingerprint_mismatch",
            "template_invalid",
            "challenge_unknown",
            "challenge_expired",
            "challenge_reused",
        ],
    ),
    (
        "match",
        &[
            "personal_id_not_found",
            "full_name_mismatch",
            "birth_date_mismatch",
            "sex_mismatch",
            "phone_mismatch",
            "face_mismatch",
            "invalid_json",
            "invalid",
            "face_not_in_batch",
            "nothing_to_match",
            "invalid_personal_id",
            "invalid_birth_date",
            "invalid_sex",
            "invalid_phone",
            "invalid_full_name",
            "invalid_purpose",
            "template_invalid",
        ],
    ),
    (
        "oauth",
        &[
            "invalid_request",
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
            "invalid_token",
            "invalid_dpop_proof",
            "invalid_authorization_details",
            "unknown_user_id",
            "expired_login_hint_token",
            "invalid_binding_message",
            "unmet_authentication_requirements",
            "access_denied",
            "authorization_pending",
            "slow_down",
            "expired_token",
            "invalid_redirect_uri",
            "invalid_client_metadata",
            "temporarily_unavailable",
            "server_error",
            "login_required",
            "consent_required",
            "interaction_gone",
            "csrf_invalid",
            "rate_limited",
            "invalid_credentials",
            "otp_invalid",
            "otp_attempts_exceeded",
            "logout_unconfirmed",
        ],
    ),
    (
        "problem",
        &[
            "bad_request",
            "unauthorized",
            "forbidden",
            "not_found",
            "method_not_allowed",
            "not_acceptable",
            "request_timeout",
            "length_required",
            "payload_too_large",
            "uri_too_long",
            "unsupported_media_type",
            "rate_limited",
            "headers_too_large",
            "unavailable",
            "store_unavailable",
            "internal_error",
            "invalid_client",
            "malformed_body",
            "malformed_query",
            "invalid_personal_id",
            "invalid_phone",
            "invalid_nonce",
            "invalid_authorization_details",
            "invalid_lang",
            "invalid_registration",
            "invalid_expires_in",
            "client_id_taken",
            "no_client_secret",
            "registered_in_file",
            "invalid_operator",
            "qr_unknown",
            "no_kiosk_key",
            "invalid_kiosk_key",
            "invalid_device_key",
            "level2_in_person_only",
            "fingerprints_required",
            "chip_read_required",
            "approval_factor_required",
            "invalid_step_up",
            "registration_unknown",
            "otp_invalid",
            "otp_attempts_exceeded",
            "secret_rejected",
            "already_registered",
            "malformed_chip_read",
            "chip_not_yours",
            "invalid_credentials",
            "invalid_session",
            "passcode_invalid",
            "invalid_request",
            "unknown_relying_party",
            "account_locked",
            "level_too_low",
            "step_up_required",
            "approval_unknown",
            "already_answered",
        ],
    ),
];

/// The catalogue key of a code.
fn key(family: &str, code: &str) -> String {
    format!("code.{family}.{code}")
}

/// The citizen message for `code` of `family` in `lang`; an unknown code gets the family's
/// generic message rather than a raw code.
pub fn message(lang: Lang, family: &str, code: &str) -> Cow<'static, str> {
    exact(lang, &key(family, code))
        .or_else(|| exact(Lang::Vi, &key(family, code)))
        .unwrap_or_else(|| lang.text("code.unknown"))
}

/// The whole catalogue in one language: family → code → message.
pub fn all(lang: Lang) -> BTreeMap<&'static str, BTreeMap<&'static str, Cow<'static, str>>> {
    CODES
        .iter()
        .map(|(family, codes)| {
            let messages = codes
                .iter()
                .map(|code| (*code, message(lang, family, code)))
                .collect();
            (*family, messages)
        })
        .collect()
}

/// The catalogue as a Markdown table (for the README and the docs page).
pub fn markdown() -> String {
    let mut out =
        String::from("| Family | Code | Tiếng Việt | English |\n| --- | --- | --- | --- |\n");
    for (family, codes) in CODES {
        for code in *codes {
            out.push_str(&format!(
                "| {family} | `{code}` | {} | {} |\n",
                message(Lang::Vi, family, code),
                message(Lang::En, family, code)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn every_code_has_a_vietnamese_and_an_english_message() {
        for (family, codes) in CODES {
            let unique: BTreeSet<_> = codes.iter().collect();
            assert_eq!(unique.len(), codes.len(), "{family} lists a code twice");
            for code in *codes {
                for lang in Lang::ALL {
                    let text = exact(lang, &key(family, code));
                    assert!(
                        text.as_deref().is_some_and(|t| !t.trim().is_empty()),
                        "{family}.{code} has no {} message in locales/codes.yml",
                        lang.code()
                    );
                }
                assert_ne!(
                    exact(Lang::Vi, &key(family, code)),
                    exact(Lang::En, &key(family, code)),
                    "{family}.{code}: the Vietnamese text is the English one"
                );
            }
        }
    }

    /// Every code literal the gateway answers with, found where the source builds answers:
    /// problems, outcomes, OAuth errors and each `fn code()` table.
    fn codes_in_source() -> BTreeMap<String, String> {
        let patterns = [
            r#"outcome\(\s*\d+,\s*"([a-z][a-z0-9_]*)""#,
            r#"bad_request\(\s*"([a-z][a-z0-9_]*)""#,
            r#"Problem::new\(\s*[^,]+,\s*"([a-z][a-z0-9_]*)""#,
            r#"IdentityError::invalid\(\s*"([a-z][a-z0-9_]*)""#,
            r#"refused\(\s*\w+,\s*"([a-z][a-z0-9_]*)""#,
            r#"\.error\(\s*"([a-z][a-z0-9_]*)""#,
            r#"\bfail\(\s*\w+,\s*\w+,\s*"([a-z][a-z0-9_]*)""#,
            r#"=> \("([a-z][a-z0-9_]*)",\s*"[A-Z]"#,
            r#"page_error\(\s*[^,]+,\s*[^,]+,\s*"[a-z]+",\s*"([a-z][a-z0-9_]*)""#,
        ]
        .map(|p| regex::Regex::new(p).unwrap());
        let code_fn =
            regex::Regex::new(r#"(?s)pub fn code\(&?self\) -> &'static str \{(.*?)\n    \}"#)
                .unwrap();
        let arm = regex::Regex::new(r#"=> "([a-z][a-z0-9_]*)""#).unwrap();
        let mut found = BTreeMap::new();
        let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    // The catalogue's own language codes (`vi`, `en`) are not answers.
                    if !path.ends_with("i18n") {
                        stack.push(path);
                    }
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("fuzz.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                // The code under test, not the tests' own literals.
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                let name = path.display().to_string();
                for p in &patterns {
                    for c in p.captures_iter(text) {
                        found.insert(c[1].to_owned(), name.clone());
                    }
                }
                for body in code_fn.captures_iter(text) {
                    for c in arm.captures_iter(&body[1]) {
                        found.insert(c[1].to_owned(), name.clone());
                    }
                }
            }
        }
        found
    }

    #[test]
    fn every_code_the_gateway_answers_with_is_in_the_catalogue() {
        let listed: BTreeSet<&str> = CODES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        let found = codes_in_source();
        // The scan itself must see the codes it exists for, or it proves nothing.
        for sample in [
            "replayed",
            "aa_failed",
            "invalid_grant",
            "store_unavailable",
            "otp_invalid",
        ] {
            assert!(
                found.contains_key(sample),
                "the source scan missed {sample}"
            );
        }
        let missing: Vec<_> = found
            .iter()
            .filter(|(code, _)| !listed.contains(code.as_str()))
            .map(|(code, file)| format!("{code} ({file})"))
            .collect();
        assert!(missing.is_empty(), "codes without a message: {missing:?}");
    }

    #[test]
    fn the_readme_table_is_the_catalogue() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap();
        let start = readme
            .find("<!-- messages -->\n")
            .expect("the README's marker")
            + 18;
        let end = readme.find("<!-- /messages -->").expect("its end marker");
        assert!(
            readme[start..end] == markdown(),
            "README.md's message table is stale: run `eidgw messages --markdown` and paste it between the markers"
        );
    }

    #[test]
    fn an_unknown_code_gets_a_generic_message_not_the_code() {
        let text = message(Lang::En, "verify", "no_such_code");
        assert!(!text.contains("no_such_code") && !text.is_empty(), "{text}");
    }

    #[test]
    fn the_markdown_table_has_a_row_per_code() {
        let rows = markdown().lines().count() - 2;
        assert_eq!(rows, CODES.iter().map(|(_, c)| c.len()).sum::<usize>());
    }
}

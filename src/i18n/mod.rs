//! What people read, in Vietnamese first and English second: one catalogue of texts
//! (`src/i18n/locales/*.yml`, compiled in by `rust-i18n`), the recommended message for every code
//! the gateway answers with ([`catalogue`]), and the Vietnamese ways of writing amounts, dates and
//! times ([`format`]). Knows nothing of HTTP: the pages pick a [`Lang`] and ask here.

use std::borrow::Cow;

pub mod catalogue;
pub mod format;

/// A language the gateway's pages and messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Vietnamese, the default for everyone who does not ask otherwise.
    #[default]
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];

    /// `vi` or `en` (also `vi-VN`, `en-GB`, any case): the primary language subtag decides.
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("vi") {
            Some(Lang::Vi)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The BCP 47 tag: `vi` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The other language, for the page's switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Vi => Lang::En,
            Lang::En => Lang::Vi,
        }
    }

    /// The text for `key`, falling back to Vietnamese (the catalogue's complete language) and, if
    /// even that lacks it, to the key itself so a missing text shows up instead of vanishing.
    pub fn text(self, key: &str) -> Cow<'static, str> {
        exact(self, key)
            .or_else(|| exact(Lang::Vi, key))
            .unwrap_or_else(|| Cow::Owned(key.to_owned()))
    }

    /// [`Lang::text`] with `%{name}` placeholders filled in.
    pub fn text_with(self, key: &str, values: &[(&str, &str)]) -> String {
        let mut out = self.text(key).into_owned();
        for (name, value) in values {
            out = out.replace(&format!("%{{{name}}}"), value);
        }
        out
    }
}

/// The text for `key` in exactly this language, if the catalogue has it.
pub fn exact(lang: Lang, key: &str) -> Option<Cow<'static, str>> {
    // rust-i18n's runtime lookup, the one its `t!` macro expands to; `i18n!` names no fallback
    // locale, so a missing text is `None` here and the fallback above is ours to choose.
    crate::_rust_i18n_try_translate(lang.code(), key)
}

/// The texts of one page in one language, for the templates: `{{ t.get("login.title") }}`.
#[derive(Debug, Clone, Copy)]
pub struct Texts {
    pub lang: Lang,
}

impl Texts {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    pub fn get(&self, key: &str) -> Cow<'static, str> {
        self.lang.text(key)
    }

    /// The recommended citizen message for a code of `family` (see [`catalogue`]).
    pub fn code(&self, family: &str, code: &str) -> Cow<'static, str> {
        catalogue::message(self.lang, family, code)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The top-level keys of a locale file (`key:` at the start of a line).
    fn keys_of(file: &str) -> Vec<String> {
        file.lines()
            .filter(|l| !l.starts_with([' ', '#', '_']) && l.ends_with(':'))
            .map(|l| l.trim_end_matches(':').to_owned())
            .collect()
    }

    #[test]
    fn every_page_text_is_written_in_both_languages() {
        let mut keys = Vec::new();
        for file in ["pages.yml", "demo.yml"] {
            let text = std::fs::read_to_string(format!("src/i18n/locales/{file}")).unwrap();
            keys.extend(keys_of(&text));
        }
        assert!(keys.len() > 50, "{}", keys.len());
        for key in keys {
            let vi = exact(Lang::Vi, &key).unwrap_or_else(|| panic!("{key}: no vi"));
            let en = exact(Lang::En, &key).unwrap_or_else(|| panic!("{key}: no en"));
            assert!(!vi.trim().is_empty() && !en.trim().is_empty(), "{key}");
        }
    }

    /// A typo in a template's key would show the key itself to a citizen.
    #[test]
    fn every_key_a_template_or_page_asks_for_exists() {
        let asked =
            regex::Regex::new(r#"(?:t\.get|\.text|\.text_with)\("([a-z_.\-0-9]+)""#).unwrap();
        let mut files = Vec::new();
        for dir in ["templates", "src/http"] {
            let mut stack = vec![Path::new(dir).to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        stack.push(p);
                    } else {
                        files.push(p);
                    }
                }
            }
        }
        let mut seen = 0;
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for c in asked.captures_iter(&text) {
                let key = &c[1];
                seen += 1;
                assert!(exact(Lang::Vi, key).is_some(), "{}: {key}", f.display());
                assert!(exact(Lang::En, key).is_some(), "{}: {key}", f.display());
            }
        }
        assert!(seen > 40, "{seen}");
    }

    #[test]
    fn a_missing_english_text_falls_back_to_vietnamese_and_a_missing_key_shows_itself() {
        assert_eq!(Lang::En.text("no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("vi-VN"), Some(Lang::Vi));
        assert_eq!(Lang::parse("EN_gb"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(
            Lang::En.text_with("claim.age_over", &[("n", "18")]),
            Lang::En.text("claim.age_over").replace("%{n}", "18")
        );
        assert!(
            !Lang::En
                .text_with("claim.age_over", &[("n", "18")])
                .contains("%{")
        );
    }
}

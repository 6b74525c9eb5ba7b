//! JSON integers as JSON Schema defines them: `228.0` is the integer 228 (JSON Schema
//! 2020-12 §6.1.1: a number with a zero fractional part is an integer), which some encoders
//! write and serde refuses for an integer field. Use with `#[serde(deserialize_with = …)]`.

use serde::{Deserialize, Deserializer, de::Error};

fn whole<T: TryFrom<u64>>(n: serde_json::Number) -> Option<T> {
    let u = match n.as_u64() {
        Some(u) => u,
        None => {
            let f = n.as_f64()?;
            // Below 2^53 every whole f64 is exact.
            if f.fract() != 0.0 || !(0.0..9_007_199_254_740_992.0).contains(&f) {
                return None;
            }
            f as u64
        }
    };
    T::try_from(u).ok()
}

/// A non-negative integer, also written with a zero fraction.
pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    whole(n.clone())
        .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, not {n}")))
}

/// An optional one (`null` or absent is `None`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => whole(n.clone())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, not {n}"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::deserialize")]
        n: u8,
        #[serde(default, deserialize_with = "super::optional")]
        m: Option<u64>,
    }

    #[test]
    fn whole_numbers_with_a_zero_fraction_are_integers_and_nothing_else_is() {
        let t: T = serde_json::from_str(r#"{"n": 7.0, "m": 228.0}"#).unwrap();
        assert_eq!((t.n, t.m), (7, Some(228)));
        let t: T = serde_json::from_str(r#"{"n": 7, "m": null}"#).unwrap();
        assert_eq!((t.n, t.m), (7, None));
        for bad in [
            r#"{"n": 7.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 256}"#,
            r#"{"n": 1e300}"#,
            r#"{"n": "7"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
    }
}

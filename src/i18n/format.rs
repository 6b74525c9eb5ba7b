//! Vietnamese ways of writing numbers, amounts, dates and times (TCVN usage: `.` groups thousands,
//! the đồng sign follows the amount, day before month).

use chrono::{DateTime, FixedOffset, Offset, Utc};

use super::Lang;

/// Asia/Ho_Chi_Minh: UTC+7 all year (Vietnam keeps no daylight saving time).
fn vietnam() -> FixedOffset {
    // 7 hours is within ±24 h, so this cannot fail; UTC is the harmless fallback the type wants.
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `25000000` → `25.000.000` (vi) or `25,000,000` (en).
pub fn whole_number(n: u64, lang: Lang) -> String {
    let separator = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// `25.000.000 ₫` (vi) or `VND 25,000,000` (en).
pub fn amount_vnd(n: u64, lang: Lang) -> String {
    match lang {
        Lang::Vi => format!("{} ₫", whole_number(n, lang)),
        Lang::En => format!("VND {}", whole_number(n, lang)),
    }
}

/// `dd/mm/yyyy`, as Vietnamese documents write dates (the English pages keep it: it is the
/// format on the citizen's card).
pub fn date(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `HH:MM dd/mm/yyyy` in Vietnam's time.
pub fn date_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&vietnam())
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

/// `HH:MM` in Vietnam's time.
pub fn time(t: DateTime<Utc>) -> String {
    t.with_timezone(&vietnam()).format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn amounts_are_grouped_the_vietnamese_way() {
        assert_eq!(amount_vnd(25_000_000, Lang::Vi), "25.000.000 ₫");
        assert_eq!(amount_vnd(25_000_000, Lang::En), "VND 25,000,000");
        assert_eq!(amount_vnd(999, Lang::Vi), "999 ₫");
        assert_eq!(whole_number(1_000, Lang::Vi), "1.000");
        assert_eq!(whole_number(0, Lang::Vi), "0");
    }

    #[test]
    fn dates_and_times_are_written_in_vietnam() {
        let d = chrono::NaiveDate::from_ymd_opt(1990, 3, 7).unwrap();
        assert_eq!(date(d), "07/03/1990");
        // 18:30 UTC on 31 December is 01:30 on 1 January in Hanoi.
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 18, 30, 0).unwrap();
        assert_eq!(date_time(t), "01:30 01/01/2027");
        assert_eq!(time(t), "01:30");
    }
}

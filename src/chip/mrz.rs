//! The TD1 machine-readable zone (ICAO Doc 9303 Part 5): three lines of 30 characters, with the
//! check digits of Part 3 §4.9.
//!
//! Layout used for the simulated CCCD:
//! ```text
//! line 1: I D V N M <document number, 9> <check> <personal id, 12> < < <
//! line 2: <birth YYMMDD> <check> <sex> <expiry YYMMDD> <check> V N M <11 fillers> <composite>
//! line 3: SURNAME<<GIVEN<NAMES (transliterated to A–Z, padded with <)
//! ```

use chrono::NaiveDate;

use crate::domain::Sex;

pub const LINE_LENGTH: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    #[error("the MRZ does not have three lines of 30 characters from A-Z, 0-9 and <")]
    Shape,
    #[error("MRZ check digit for the {0} does not match")]
    CheckDigit(&'static str),
}

/// ICAO 9303 Part 3 §4.9: weights 7, 3, 1 repeating; digits count as themselves, A–Z as 10–35,
/// the filler `<` as 0; the check digit is the sum modulo 10.
pub fn check_digit(field: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += value * [7, 3, 1][i % 3];
    }
    char::from_digit(sum % 10, 10)
}

/// The fields of a TD1 MRZ after its check digits were verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Td1 {
    pub document_code: String,
    pub issuing_state: String,
    pub document_number: String,
    pub optional_data: String,
    pub birth_date: String,
    pub sex: char,
    pub expiry_date: String,
    pub nationality: String,
    pub name: String,
}

/// What goes into a card's MRZ.
pub struct MrzInput<'a> {
    pub document_number: &'a str,
    pub personal_id: &'a str,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub expiry_date: NaiveDate,
    pub full_name: &'a str,
}

fn pad(s: &str, len: usize) -> String {
    let mut out: String = s.chars().take(len).collect();
    while out.len() < len {
        out.push('<');
    }
    out
}

pub fn yymmdd(d: NaiveDate) -> String {
    d.format("%y%m%d").to_string()
}

/// "Nguyễn Thị Hà" → "NGUYEN<<THI<HA": surname first, then the given names (Vietnamese order).
pub fn name_field(full_name: &str) -> String {
    let ascii = deunicode::deunicode(full_name).to_uppercase();
    let words: Vec<String> = ascii
        .split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_ascii_uppercase()).collect())
        .filter(|w: &String| !w.is_empty())
        .collect();
    match words.split_first() {
        Some((surname, given)) => format!("{surname}<<{}", given.join("<")),
        None => String::new(),
    }
}

fn sex_char(sex: Sex) -> char {
    match sex {
        Sex::Male => 'M',
        Sex::Female => 'F',
    }
}

/// Builds the three lines, check digits included.
pub fn compose(input: &MrzInput<'_>) -> [String; 3] {
    let number = pad(input.document_number, 9);
    let number_check = check_digit(&number).unwrap_or('0');
    let line1 = format!("IDVNM{number}{number_check}{}", pad(input.personal_id, 15));
    let birth = yymmdd(input.birth_date);
    let expiry = yymmdd(input.expiry_date);
    let mut line2 = format!(
        "{birth}{}{}{expiry}{}VNM{}",
        check_digit(&birth).unwrap_or('0'),
        sex_char(input.sex),
        check_digit(&expiry).unwrap_or('0'),
        pad("", 11)
    );
    let composite = composite_input(&line1, &line2);
    line2.push(check_digit(&composite).unwrap_or('0'));
    let line3 = pad(&name_field(input.full_name), LINE_LENGTH);
    [line1, line2, line3]
}

/// TD1 composite check digit input: line 1 positions 6–30, line 2 positions 1–7, 9–15, 19–29.
fn composite_input(line1: &str, line2: &str) -> String {
    format!(
        "{}{}{}{}",
        &line1[5..30],
        &line2[0..7],
        &line2[8..15],
        &line2[18..29]
    )
}

/// Parses three lines and verifies every check digit.
pub fn parse(lines: &[String]) -> Result<Td1, MrzError> {
    let [line1, line2, line3] = lines else {
        return Err(MrzError::Shape);
    };
    let allowed = |l: &String| {
        l.len() == LINE_LENGTH
            && l.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == '<')
    };
    if ![line1, line2, line3].into_iter().all(allowed) {
        return Err(MrzError::Shape);
    }
    let check = |field: &str, digit: &str, what: &'static str| {
        if check_digit(field).map(String::from).as_deref() == Some(digit) {
            Ok(())
        } else {
            Err(MrzError::CheckDigit(what))
        }
    };
    check(&line1[5..14], &line1[14..15], "document number")?;
    check(&line2[0..6], &line2[6..7], "birth date")?;
    check(&line2[8..14], &line2[14..15], "expiry date")?;
    check(&composite_input(line1, line2), &line2[29..30], "composite")?;
    Ok(Td1 {
        document_code: line1[0..2].to_owned(),
        issuing_state: line1[2..5].to_owned(),
        document_number: line1[5..14].trim_end_matches('<').to_owned(),
        optional_data: line1[15..30].trim_end_matches('<').to_owned(),
        birth_date: line2[0..6].to_owned(),
        sex: line2.as_bytes()[7] as char,
        expiry_date: line2[8..14].to_owned(),
        nationality: line2[15..18].to_owned(),
        name: line3.trim_end_matches('<').to_owned(),
    })
}

impl Td1 {
    /// Whether the MRZ says what DG13 says (number, id, dates, sex, name).
    pub fn agrees_with(&self, input: &MrzInput<'_>) -> bool {
        self.document_number == input.document_number
            && self.optional_data == input.personal_id
            && self.birth_date == yymmdd(input.birth_date)
            && self.expiry_date == yymmdd(input.expiry_date)
            && self.sex == sex_char(input.sex)
            && self.name
                == name_field(input.full_name)
                    .chars()
                    .take(LINE_LENGTH)
                    .collect::<String>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TD1 specimen of ICAO Doc 9303 Part 5 (Appendix A): Anna Maria Eriksson, Utopia.
    const SPECIMEN: [&str; 3] = [
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ];

    #[test]
    fn check_digits_match_the_icao_specimen() {
        assert_eq!(check_digit("D23145890"), Some('7'));
        assert_eq!(check_digit("740812"), Some('2'));
        assert_eq!(check_digit("120415"), Some('9'));
        let l1 = SPECIMEN[0];
        let l2 = SPECIMEN[1];
        let composite = composite_input(l1, l2);
        assert_eq!(check_digit(&composite), Some('6'));
        // Part 3's worked example: document number L898902C3 → 6; 520727 → 3.
        assert_eq!(check_digit("L898902C3"), Some('6'));
        assert_eq!(check_digit("520727"), Some('3'));
        assert_eq!(check_digit("AB2134<<<"), Some('5'));
    }

    #[test]
    fn the_specimen_parses_and_a_changed_character_is_caught() {
        let lines: Vec<String> = SPECIMEN.iter().map(|s| s.to_string()).collect();
        let td1 = parse(&lines).unwrap();
        assert_eq!(td1.document_number, "D23145890");
        assert_eq!(td1.birth_date, "740812");
        assert_eq!(td1.sex, 'F');
        assert_eq!(td1.name, "ERIKSSON<<ANNA<MARIA");
        let mut bad = lines.clone();
        bad[1].replace_range(0..1, "8");
        assert_eq!(parse(&bad), Err(MrzError::CheckDigit("birth date")));
        let mut bad = lines.clone();
        bad[1].replace_range(18..19, "X");
        assert_eq!(parse(&bad), Err(MrzError::CheckDigit("composite")));
        let mut short = lines;
        short[2].pop();
        assert_eq!(parse(&short), Err(MrzError::Shape));
    }

    #[test]
    fn a_composed_vietnamese_mrz_round_trips() {
        let input = MrzInput {
            document_number: "123456789",
            personal_id: "001190012345",
            birth_date: NaiveDate::from_ymd_opt(1990, 3, 14).unwrap(),
            sex: Sex::Female,
            expiry_date: NaiveDate::from_ymd_opt(2040, 3, 14).unwrap(),
            full_name: "Nguyễn Thị Hà Đào",
        };
        let lines = compose(&input);
        assert!(lines.iter().all(|l| l.len() == LINE_LENGTH));
        assert_eq!(lines[2], "NGUYEN<<THI<HA<DAO<<<<<<<<<<<<");
        let td1 = parse(&lines).unwrap();
        assert!(td1.agrees_with(&input));
        let other = MrzInput {
            full_name: "Nguyễn Thị Hà",
            ..input
        };
        assert!(!td1.agrees_with(&other));
    }
}

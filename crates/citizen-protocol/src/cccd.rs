//! Validation of enrollment input: the 12-digit CCCD number, the date of birth and the phone.
//!
//! Pure functions. The core runs them before any network call, the reference server runs the
//! same ones again (never trust a client), so both sides agree on what a valid number is.
//!
//! Structure of a CCCD number (Circular 07/2016/TT-BCA, Decree 137/2015/ND-CP):
//! `PPP` province code of birth registration · `G` century-and-sex digit · `YY` last two digits
//! of the birth year · six random digits.

use crate::messages::{FieldError, Msg};

/// Province codes of birth registration (the 63 codes of Circular 07/2016/TT-BCA). Cards keep the
/// code of the province of birth registration, so the 2025 merger into 34 provinces does not
/// invalidate any of them.
pub const PROVINCE_CODES: [(&str, &str); 63] = [
    ("001", "Hà Nội"),
    ("002", "Hà Giang"),
    ("004", "Cao Bằng"),
    ("006", "Bắc Kạn"),
    ("008", "Tuyên Quang"),
    ("010", "Lào Cai"),
    ("011", "Điện Biên"),
    ("012", "Lai Châu"),
    ("014", "Sơn La"),
    ("015", "Yên Bái"),
    ("017", "Hòa Bình"),
    ("019", "Thái Nguyên"),
    ("020", "Lạng Sơn"),
    ("022", "Quảng Ninh"),
    ("024", "Bắc Giang"),
    ("025", "Phú Thọ"),
    ("026", "Vĩnh Phúc"),
    ("027", "Bắc Ninh"),
    ("030", "Hải Dương"),
    ("031", "Hải Phòng"),
    ("033", "Hưng Yên"),
    ("034", "Thái Bình"),
    ("035", "Hà Nam"),
    ("036", "Nam Định"),
    ("037", "Ninh Bình"),
    ("038", "Thanh Hóa"),
    ("040", "Nghệ An"),
    ("042", "Hà Tĩnh"),
    ("044", "Quảng Bình"),
    ("045", "Quảng Trị"),
    ("046", "Thừa Thiên Huế"),
    ("048", "Đà Nẵng"),
    ("049", "Quảng Nam"),
    ("051", "Quảng Ngãi"),
    ("052", "Bình Định"),
    ("054", "Phú Yên"),
    ("056", "Khánh Hòa"),
    ("058", "Ninh Thuận"),
    ("060", "Bình Thuận"),
    ("062", "Kon Tum"),
    ("064", "Gia Lai"),
    ("066", "Đắk Lắk"),
    ("067", "Đắk Nông"),
    ("068", "Lâm Đồng"),
    ("070", "Bình Phước"),
    ("072", "Tây Ninh"),
    ("074", "Bình Dương"),
    ("075", "Đồng Nai"),
    ("077", "Bà Rịa - Vũng Tàu"),
    ("079", "Hồ Chí Minh"),
    ("080", "Long An"),
    ("082", "Tiền Giang"),
    ("083", "Bến Tre"),
    ("084", "Trà Vinh"),
    ("086", "Vĩnh Long"),
    ("087", "Đồng Tháp"),
    ("089", "An Giang"),
    ("091", "Kiên Giang"),
    ("092", "Cần Thơ"),
    ("093", "Hậu Giang"),
    ("094", "Sóc Trăng"),
    ("095", "Bạc Liêu"),
    ("096", "Cà Mau"),
];

/// Name of a birth-registration province code, if the code exists.
pub fn province_name(code: &str) -> Option<&'static str> {
    PROVINCE_CODES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// 1..=12.
    pub month: u32,
    /// 1..=31.
    pub day: u32,
}

impl Date {
    /// Parse strict `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let year = i32::try_from(digits(0..4)?).ok()?;
        let month = digits(5..7)?;
        let day = digits(8..10)?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days-from-civil algorithm.
        let y = if self.month <= 2 { i64::from(self.year) - 1 } else { i64::from(self.year) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The civil date of a Unix timestamp (UTC+7, Vietnam time).
    pub fn from_unix_vn(secs: i64) -> Date {
        let days = (secs + 7 * 3600).div_euclid(86_400);
        civil_from_days(days)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

// Howard Hinnant's days-to-civil algorithm.
// Casts: day ∈ 1..=31 and month ∈ 1..=12 by construction; the year fits an i32 for any i64 day
// count a clock can produce (±5.8 million years).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Date { year: (if m <= 2 { y + 1 } else { y }) as i32, month: m, day: d }
}

/// Sex encoded in the century digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    /// Even century digit.
    Male,
    /// Odd century digit.
    Female,
}

/// What a valid number tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CccdInfo {
    /// Province code of birth registration.
    pub province_code: String,
    /// From the century digit.
    pub sex: Sex,
    /// Full birth year from century digit and two-digit year.
    pub birth_year: i32,
}

/// Validate the structure of a CCCD number on its own (no date of birth to compare).
pub fn parse_cccd(number: &str) -> Result<CccdInfo, FieldError> {
    let field = "cccd";
    if number.len() != 12 || !number.bytes().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(field, Msg::CccdFormat));
    }
    let province = &number[0..3];
    if province_name(province).is_none() {
        return Err(FieldError::new(field, Msg::CccdProvince));
    }
    let g = i32::from(number.as_bytes()[3] - b'0');
    let century = 1900 + (g / 2) * 100;
    let sex = if g % 2 == 0 { Sex::Male } else { Sex::Female };
    let yy: i32 = number[4..6].parse().map_err(|_| FieldError::new(field, Msg::CccdFormat))?;
    Ok(CccdInfo { province_code: province.to_string(), sex, birth_year: century + yy })
}

/// Validate a CCCD number against a date of birth (`YYYY-MM-DD`) as of `today`.
/// Returns every field error at once, so a form can mark all wrong fields together.
pub fn validate_identity(number: &str, date_of_birth: &str, today: Date) -> Vec<FieldError> {
    let mut errors = vec![];
    let dob = match Date::parse(date_of_birth) {
        Some(d) if d > today => {
            errors.push(FieldError::new("date_of_birth", Msg::DobInFuture));
            None
        }
        Some(d) if d.year < 1900 => {
            errors.push(FieldError::new("date_of_birth", Msg::DobInvalid));
            None
        }
        Some(d) => Some(d),
        None => {
            errors.push(FieldError::new("date_of_birth", Msg::DobInvalid));
            None
        }
    };
    match parse_cccd(number) {
        Err(e) => errors.push(e),
        Ok(info) => {
            if let Some(dob) = dob {
                let century_digit_ok = info.birth_year / 100 == dob.year / 100;
                if !century_digit_ok {
                    errors.push(FieldError::new("cccd", Msg::CccdCentury));
                } else if info.birth_year != dob.year {
                    errors.push(FieldError::new("cccd", Msg::CccdBirthYear));
                }
            }
        }
    }
    errors
}

/// Normalise a Vietnamese mobile number (`0xxxxxxxxx`, `84xxxxxxxxx` or `+84xxxxxxxxx`, spaces,
/// dots and dashes allowed) to E.164 `+84xxxxxxxxx`.
pub fn normalize_phone(input: &str) -> Result<String, FieldError> {
    let compact: String = input.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let national = if let Some(rest) = compact.strip_prefix("+84") {
        rest.to_string()
    } else if let Some(rest) = compact.strip_prefix("84").filter(|r| r.len() == 9) {
        rest.to_string()
    } else if let Some(rest) = compact.strip_prefix('0') {
        rest.to_string()
    } else {
        return Err(FieldError::new("phone", Msg::PhoneFormat));
    };
    // Mobile prefixes after the trunk 0: 3, 5, 7, 8, 9; nine digits in all.
    if national.len() != 9
        || !national.bytes().all(|c| c.is_ascii_digit())
        || !matches!(national.as_bytes()[0], b'3' | b'5' | b'7' | b'8' | b'9')
    {
        return Err(FieldError::new("phone", Msg::PhoneFormat));
    }
    Ok(format!("+84{national}"))
}

/// Mask a normalised phone for display: `+84 ••• ••• 678`.
pub fn mask_phone(e164: &str) -> String {
    let tail: String = e164.chars().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect();
    format!("+84 ••• ••• {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date { year: 2026, month: 11, day: 29 };

    fn codes(errs: &[FieldError]) -> Vec<(String, String)> {
        errs.iter().map(|e| (e.field.clone(), e.code.clone())).collect()
    }

    #[test]
    fn valid_numbers_pass() {
        // male 1990s, Hà Nội
        assert!(validate_identity("001090000123", "1990-05-17", TODAY).is_empty());
        // female 2000s, Hồ Chí Minh
        assert!(validate_identity("079305000001", "2005-02-28", TODAY).is_empty());
        // female 1900s, Cà Mau, leap day
        assert!(validate_identity("096188000042", "1988-02-29", TODAY).is_empty());
        let info = parse_cccd("079305000001").unwrap();
        assert_eq!(info.sex, Sex::Female);
        assert_eq!(info.birth_year, 2005);
    }

    #[test]
    fn invalid_numbers_have_field_codes() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let table: &[Case] = &[
            ("00109000012", "1990-05-17", &[("cccd", "cccd.format")]),
            ("0010900001234", "1990-05-17", &[("cccd", "cccd.format")]),
            ("00109000012a", "1990-05-17", &[("cccd", "cccd.format")]),
            ("００１090000123", "1990-05-17", &[("cccd", "cccd.format")]),
            ("003090000123", "1990-05-17", &[("cccd", "cccd.province")]),
            ("099090000123", "1990-05-17", &[("cccd", "cccd.province")]),
            ("000090000123", "1990-05-17", &[("cccd", "cccd.province")]),
            // century digit 2 (2000s) but born 1990
            ("001290000123", "1990-05-17", &[("cccd", "cccd.century")]),
            // century right, two-digit year wrong
            ("001091000123", "1990-05-17", &[("cccd", "cccd.birth_year")]),
            ("001090000123", "1990-02-30", &[("date_of_birth", "dob.invalid")]),
            ("001090000123", "17/05/1990", &[("date_of_birth", "dob.invalid")]),
            ("001090000123", "2027-01-01", &[("date_of_birth", "dob.future")]),
            ("1", "x", &[("date_of_birth", "dob.invalid"), ("cccd", "cccd.format")]),
        ];
        for (num, dob, want) in table {
            let got = codes(&validate_identity(num, dob, TODAY));
            let want: Vec<(String, String)> = want.iter().map(|(f, c)| (f.to_string(), c.to_string())).collect();
            assert_eq!(got, want, "{num} {dob}");
        }
    }

    #[test]
    fn errors_carry_both_languages() {
        let e = &validate_identity("003090000123", "1990-05-17", TODAY)[0];
        assert!(e.message_vi.contains("tỉnh"));
        assert!(e.message_en.contains("province"));
    }

    #[test]
    fn phones_normalise() {
        assert_eq!(normalize_phone("0912 345 678").unwrap(), "+84912345678");
        assert_eq!(normalize_phone("+84912345678").unwrap(), "+84912345678");
        assert_eq!(normalize_phone("84912345678").unwrap(), "+84912345678");
        assert_eq!(normalize_phone("0312.345.678").unwrap(), "+84312345678");
        for bad in ["", "0212345678", "091234567", "09123456789", "+8491234567x", "+1 912345678"] {
            assert_eq!(normalize_phone(bad).unwrap_err().code, "phone.format", "{bad}");
        }
        assert_eq!(mask_phone("+84912345678"), "+84 ••• ••• 678");
    }

    #[test]
    fn days_round_trip() {
        for d in [
            Date { year: 1970, month: 1, day: 1 },
            Date { year: 2000, month: 2, day: 29 },
            Date { year: 2026, month: 11, day: 29 },
        ] {
            assert_eq!(civil_from_days(d.days_since_epoch()), d);
        }
        assert_eq!(Date { year: 1970, month: 1, day: 2 }.days_since_epoch(), 1);
    }

    #[test]
    fn vietnam_date_from_unix() {
        // 2026-11-29T00:00:00Z is 07:00 in Vietnam, same day.
        assert_eq!(Date::from_unix_vn(1_795_910_400), Date { year: 2026, month: 11, day: 29 });
        // 2026-11-28T18:00:00Z is already the 29th in Vietnam.
        assert_eq!(Date::from_unix_vn(1_795_910_400 - 6 * 3600), Date { year: 2026, month: 11, day: 29 });
    }
}

//! Italian national holidays (Legge 260/1949 and later amendments), with Easter computed by the
//! anonymous Gregorian algorithm (Meeus/Jones/Butcher).

use chrono::{Datelike, Duration, NaiveDate};

/// Easter Sunday of `year` (Gregorian calendar), by the anonymous Gregorian algorithm.
///
/// Returns `None` only for years chrono cannot represent.
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32)
}

/// The Italian national holiday falling on `date`, by name, if any: 1 Jan, 6 Jan, Easter
/// Sunday, Easter Monday, 25 Apr, 1 May, 2 Jun, 15 Aug, 1 Nov, 8 Dec, 25 Dec, 26 Dec.
pub fn italian_holiday(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Capodanno"),
        (1, 6) => Some("Epifania"),
        (4, 25) => Some("Festa della Liberazione"),
        (5, 1) => Some("Festa del Lavoro"),
        (6, 2) => Some("Festa della Repubblica"),
        (8, 15) => Some("Ferragosto"),
        (11, 1) => Some("Ognissanti"),
        (12, 8) => Some("Immacolata Concezione"),
        (12, 25) => Some("Natale"),
        (12, 26) => Some("Santo Stefano"),
        _ => None,
    };
    if fixed.is_some() {
        return fixed;
    }
    let easter = easter_sunday(date.year())?;
    if date == easter {
        Some("Pasqua")
    } else if date == easter + Duration::days(1) {
        Some("Lunedì dell'Angelo")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_known_years() {
        assert_eq!(easter_sunday(2024), Some(d(2024, 3, 31)));
        assert_eq!(easter_sunday(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter_sunday(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter_sunday(2027), Some(d(2027, 3, 28)));
        // Extremes of the Gregorian range of Easter dates.
        assert_eq!(easter_sunday(2285), Some(d(2285, 3, 22)));
        assert_eq!(easter_sunday(2038), Some(d(2038, 4, 25)));
        assert_eq!(easter_sunday(2000), Some(d(2000, 4, 23)));
    }

    #[test]
    fn easter_monday_and_fixed_holidays() {
        assert_eq!(italian_holiday(d(2025, 4, 21)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(2024, 4, 1)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(2026, 4, 6)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(2027, 3, 29)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(2027, 3, 28)), Some("Pasqua"));
        assert_eq!(italian_holiday(d(2026, 4, 7)), None);
        for y in 2024..=2030 {
            for (m, day) in [
                (1, 1),
                (1, 6),
                (4, 25),
                (5, 1),
                (6, 2),
                (8, 15),
                (11, 1),
                (12, 8),
                (12, 25),
                (12, 26),
            ] {
                assert!(italian_holiday(d(y, m, day)).is_some(), "{y}-{m}-{day}");
            }
            assert_eq!(italian_holiday(d(y, 3, 19)), None);
            assert_eq!(italian_holiday(d(y, 12, 24)), None);
            assert_eq!(italian_holiday(d(y, 11, 4)), None);
        }
    }

    #[test]
    fn holidays_per_year_count_twelve() {
        for y in 2024..=2037 {
            // (2038: Easter falls on 25 April, so that year has eleven.)
            let mut day = d(y, 1, 1);
            let mut n = 0;
            while day.year() == y {
                n += usize::from(italian_holiday(day).is_some());
                day = day.succ_opt().unwrap();
            }
            assert_eq!(n, 12, "{y}");
        }
    }
}

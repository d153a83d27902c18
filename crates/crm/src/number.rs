//! Ticket numbers in OTRS "DateChecksum" form (R-SR-4).
//!
//! `YYYYMMDD` + two-digit system id + five-digit counter (reset every day) + one check digit,
//! e.g. `2019031942000015`. The check digit follows OTRS
//! `Kernel/System/Ticket/Number/DateChecksum.pm` (derived from the Deutsche Bundesbahn vehicle
//! number): multiply the digits left to right alternately by 1 and 2, add the products, take
//! the sum modulo 10 and subtract it from 10; a result of 10 is written as `1`.
//!
//! OTRS pads the counter to *at least* five digits; past 99,999 tickets in one day the counter
//! simply grows longer, and so does the number. The counter itself lives in the database
//! (`ticket_counter`, one row per day, incremented with `INSERT … ON CONFLICT … RETURNING` inside
//! the creating transaction) so that numbers stay unique across processes and nodes.

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// The OTRS check digit over `digits` (ASCII digits only).
///
/// Weights 1, 2, 1, 2, … from the left; `10 - sum % 10`, with 10 written as 1.
pub fn check_digit(digits: &str) -> Result<u8> {
    let mut sum: u32 = 0;
    for (i, c) in digits.chars().enumerate() {
        let d = c
            .to_digit(10)
            .ok_or_else(|| Error::invalid("ticket number", "decimal digits", digits))?;
        let weight = if i % 2 == 0 { 1 } else { 2 };
        sum += weight * d;
    }
    let check = 10 - (sum % 10) as u8;
    Ok(if check == 10 { 1 } else { check })
}

/// A two-digit OTRS system id (`SystemID`, 10 by default in OTRS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemId(u8);

impl SystemId {
    /// A system id from 0 to 99.
    pub fn new(id: u8) -> Result<Self> {
        if id > 99 {
            return Err(Error::invalid("system id", "0..=99", id));
        }
        Ok(SystemId(id))
    }

    /// The numeric value.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for SystemId {
    fn default() -> Self {
        SystemId(10)
    }
}

/// Formats the ticket number for `day`, `system` and the day's `counter` (1-based).
pub fn format_number(day: NaiveDate, system: SystemId, counter: u64) -> String {
    let body = format!("{}{:02}{:05}", day.format("%Y%m%d"), system.get(), counter);
    // `body` is all digits by construction.
    let check = check_digit(&body).unwrap_or(1);
    format!("{body}{check}")
}

/// True when `number` is all digits, at least 16 long, and its last digit is the check digit.
pub fn is_valid_number(number: &str) -> bool {
    if number.len() < 16 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (body, check) = number.split_at(number.len() - 1);
    check_digit(body).ok().map(|c| c.to_string()) == Some(check.to_string())
}

/// The counter key for `day` as stored in `ticket_counter.day`.
pub(crate) fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_seed_example() {
        // The OTRS handbook (seed 001) shows Ticket#2019031942000015.
        let day = NaiveDate::from_ymd_opt(2019, 3, 19).unwrap();
        assert_eq!(
            format_number(day, SystemId::new(42).unwrap(), 1),
            "2019031942000015"
        );
        assert!(is_valid_number("2019031942000015"));
        assert!(!is_valid_number("2019031942000016"));
    }

    #[test]
    fn ten_is_written_as_one() {
        // Sum of weighted digits of "10" is 1 → 9; of "0" is 0 → 10 → 1.
        assert_eq!(check_digit("0").unwrap(), 1);
        assert_eq!(check_digit("10").unwrap(), 9);
        assert_eq!(check_digit("55").unwrap(), 5); // 5 + 10 = 15 → 5
    }

    #[test]
    fn counter_grows_past_five_digits() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let n = format_number(day, SystemId::default(), 123_456);
        assert_eq!(&n[..16], "2026010210123456");
        assert!(is_valid_number(&n));
    }

    #[test]
    fn rejects_bad_system_id_and_digits() {
        assert!(SystemId::new(100).is_err());
        assert!(check_digit("12a").is_err());
    }
}

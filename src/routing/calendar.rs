//! Italian public holidays and office hours, in civil (Europe/Rome) time.
//!
//! National holidays (L. 260/1949 and later amendments, the days public offices close): 1 Jan,
//! 6 Jan, Easter Monday, 25 Apr, 1 May, 2 Jun, 15 Aug, 1 Nov, 8 Dec, 25 Dec, 26 Dec. Easter Sunday
//! itself is always a Sunday, so office hours already leave it closed. Local holidays (the
//! patron saint, extraordinary closures) come from a calendar file per administration.

use jiff::civil::{Date, Time, Weekday};
use std::collections::BTreeMap;

use super::diag::{Severity, Sink};

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    Date::new(year, month as i8, day as i8).unwrap_or(Date::constant(2000, 4, 23))
}

/// Easter Monday of a year.
pub fn easter_monday(year: i16) -> Date {
    easter_sunday(year).tomorrow().unwrap_or(Date::constant(2000, 4, 24))
}

/// The name of the national holiday on `date`, if it is one.
pub fn national_holiday(date: Date) -> Option<&'static str> {
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
    fixed.or_else(|| (date == easter_monday(date.year())).then_some("Lunedì dell'Angelo (Pasquetta)"))
}

/// An administration's local holidays (from its calendar file).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    /// Every year on (month, day).
    pub yearly: BTreeMap<(i8, i8), String>,
    /// One-off dates.
    pub dates: BTreeMap<Date, String>,
}

impl Calendar {
    /// The name of the holiday on `date` (national first, then local), if any.
    pub fn holiday(&self, date: Date) -> Option<&str> {
        national_holiday(date)
            .or_else(|| self.yearly.get(&(date.month(), date.day())).map(String::as_str))
            .or_else(|| self.dates.get(&date).map(String::as_str))
    }

    /// Parses a calendar file: one holiday per line, `MM-DD name` (every year) or
    /// `YYYY-MM-DD name` (that day only); `#` starts a comment; blank lines are ignored.
    pub(crate) fn parse(sink: &mut Sink<'_>) -> Calendar {
        let mut cal = Calendar::default();
        let text = sink.src.text.clone();
        let mut offset = 0;
        for raw in text.split_inclusive('\n') {
            let line_start = offset;
            offset += raw.len();
            let line = raw.split('#').next().unwrap_or("").trim_end();
            let lead = line.len() - line.trim_start().len();
            let line = line.trim_start();
            if line.is_empty() {
                continue;
            }
            let at = line_start + lead;
            let (date, name) = match line.split_once(char::is_whitespace) {
                Some((d, n)) => (d, n.trim()),
                None => (line, ""),
            };
            if name.is_empty() {
                sink.at(Severity::Error, at, format!("holiday {date:?} has no name: write `MM-DD name` or `YYYY-MM-DD name`"));
                continue;
            }
            let parts: Vec<&str> = date.split('-').collect();
            let num =
                |s: &str, len: usize| if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) { s.parse::<i16>().ok() } else { None };
            let parsed = match parts.as_slice() {
                [m, d] => match (num(m, 2), num(d, 2)) {
                    // 2024 is a leap year: accepts 02-29 as a yearly date.
                    (Some(m), Some(d)) if Date::new(2024, m as i8, d as i8).is_ok() => Ok(((m as i8, d as i8), None)),
                    _ => Err(()),
                },
                [y, m, d] => match (num(y, 4), num(m, 2), num(d, 2)) {
                    (Some(y), Some(m), Some(d)) => Date::new(y, m as i8, d as i8).map(|dt| ((0, 0), Some(dt))).map_err(|_| ()),
                    _ => Err(()),
                },
                _ => Err(()),
            };
            match parsed {
                Ok((md, None)) => {
                    if cal.yearly.insert(md, name.to_owned()).is_some() {
                        sink.at(Severity::Warning, at, format!("{date} is listed twice"));
                    }
                }
                Ok((_, Some(d))) => {
                    if cal.dates.insert(d, name.to_owned()).is_some() {
                        sink.at(Severity::Warning, at, format!("{date} is listed twice"));
                    }
                }
                Err(()) => sink.at(Severity::Error, at, format!("bad date {date:?}: expected MM-DD (every year) or YYYY-MM-DD")),
            }
        }
        cal
    }
}

/// A weekday's open windows, minutes from midnight, `[start, end)`.
pub type Windows = Vec<(u16, u16)>;

/// Named office hours: windows per weekday (Monday = 0) and on holidays (closed by default).
#[derive(Debug, Clone, Default)]
pub struct Hours {
    /// Monday..Sunday.
    pub days: [Windows; 7],
    /// Windows on national and local holidays.
    pub holidays: Windows,
}

impl Hours {
    /// Whether `time` on `date` falls in the open windows; `holiday` says whether `date` is one.
    pub fn is_open(&self, date: Date, time: Time, holiday: bool) -> bool {
        let minute = time.hour() as u16 * 60 + time.minute() as u16;
        let windows = if holiday { &self.holidays } else { &self.days[weekday_index(date.weekday())] };
        windows.iter().any(|&(s, e)| s <= minute && minute < e)
    }
}

/// Monday = 0 … Sunday = 6.
pub fn weekday_index(w: Weekday) -> usize {
    w.to_monday_zero_offset() as usize
}

/// Parses `"09:00-13:00, 14:30-17:00"` (or `"closed"` / `""`) into windows; on error returns the
/// byte offset inside the string and a message.
pub fn parse_windows(s: &str) -> Result<Windows, (usize, String)> {
    let mut out: Windows = Vec::new();
    if s.trim().is_empty() || s.trim() == "closed" {
        return Ok(out);
    }
    let mut offset = 0;
    for part in s.split(',') {
        let lead = part.len() - part.trim_start().len();
        let at = offset + lead;
        offset += part.len() + 1;
        let p = part.trim();
        let Some((a, b)) = p.split_once('-') else {
            return Err((at, format!("bad time window {p:?}: expected HH:MM-HH:MM, e.g. \"09:00-13:00\"")));
        };
        let (Some(start), Some(end)) = (parse_hhmm(a.trim()), parse_hhmm(b.trim())) else {
            return Err((at, format!("bad time window {p:?}: expected HH:MM-HH:MM with 00:00..24:00, e.g. \"09:00-13:00\"")));
        };
        if end <= start {
            return Err((at, format!("time window {p:?} ends before it starts: a window cannot cross midnight, split it over two days")));
        }
        if let Some(&(ps, pe)) = out.iter().find(|&&(ps, pe)| start < pe && ps < end) {
            return Err((at, format!("time window {p:?} overlaps {}-{}", fmt_hhmm(ps), fmt_hhmm(pe))));
        }
        out.push((start, end));
    }
    out.sort_unstable();
    Ok(out)
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// `HH:MM` of minutes from midnight.
pub fn fmt_hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn easter_monday_for_several_years() {
        for (y, m, d) in [
            (2011, 4, 25), // the same day as Liberation Day
            (2019, 4, 22),
            (2024, 4, 1),
            (2025, 4, 21),
            (2026, 4, 6),
            (2027, 3, 29),
            (2038, 4, 26),
            (2285, 3, 23), // earliest possible Easter Sunday: 22 March
            (1943, 4, 26), // latest possible Easter Sunday: 25 April
        ] {
            assert_eq!(easter_monday(y), date(y, m, d), "year {y}");
        }
    }

    #[test]
    fn national_holidays() {
        assert_eq!(national_holiday(date(2026, 12, 25)), Some("Natale"));
        assert_eq!(national_holiday(date(2026, 6, 2)), Some("Festa della Repubblica"));
        assert!(national_holiday(date(2026, 4, 6)).unwrap().contains("Pasquetta"));
        assert_eq!(national_holiday(date(2026, 4, 5)), None, "Easter Sunday is a Sunday, not listed");
        assert_eq!(national_holiday(date(2026, 6, 24)), None);
        let n = (1..=365).filter(|&i| national_holiday(date(2026, 1, 1) + jiff::Span::new().days(i - 1)).is_some()).count();
        assert_eq!(n, 11);
    }

    #[test]
    fn windows_parse_and_errors() {
        assert_eq!(parse_windows("09:00-13:00, 14:30-17:00").unwrap(), vec![(540, 780), (870, 1020)]);
        assert_eq!(parse_windows("00:00-24:00").unwrap(), vec![(0, 1440)]);
        assert_eq!(parse_windows("closed").unwrap(), vec![]);
        assert_eq!(parse_windows("09:00-13:00, 9-12").unwrap_err().0, 13);
        assert!(parse_windows("22:00-06:00").unwrap_err().1.contains("cross midnight"));
        assert!(parse_windows("09:00-13:00,12:00-14:00").unwrap_err().1.contains("overlaps"));
        assert!(parse_windows("09:60-10:00").is_err());
        assert!(parse_windows("24:30-24:40").is_err());
    }
}

//! Value types used in configuration files: expanded strings, secrets, durations, cron, time zones.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::env::expand_current;

/// A string after `${VAR}` expansion.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub(crate) struct Text(pub String);

impl Text {
    /// The expanded string.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        expand_current(&raw).map(Text).map_err(de::Error::custom)
    }
}

/// A string that must never be printed: webhook URLs, tokens.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(Text);

impl Secret {
    /// The secret value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        self.0.as_str()
    }

    #[cfg(test)]
    /// A secret from a plain string (tests, programmatic use).
    pub(crate) fn new(s: impl Into<String>) -> Secret {
        Secret(Text(s.into()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// A human duration: `90s`, `10m`, `1h`, `1h30m`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub(crate) struct Dur(pub Duration);

impl Dur {
    /// Seconds as a `Dur`.
    pub(crate) const fn secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
}

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        humantime::parse_duration(s.trim()).map(Dur).map_err(|_| {
            format!(
                "invalid duration `{s}`: expected a number with a unit, like `90s`, `10m` or `1h`"
            )
        })
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        t.parse().map_err(de::Error::custom)
    }
}

/// A cron expression: 5-field crontab (minute hour day month weekday) or 6 fields with seconds.
#[derive(Clone, Debug)]
pub(crate) struct CronExpr {
    /// As written in the file.
    pub text: String,
    /// Parsed schedule (with crontab weekday numbering translated).
    pub schedule: cron::Schedule,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl FromStr for CronExpr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => {
                return Err(format!(
                    "invalid cron expression `{s}`: expected 5 fields (minute hour day month weekday), found {n}"
                ));
            }
        };
        let fields_ok = |e: String| format!("invalid cron expression `{s}`: {e}");
        if sec != "0" {
            check_cron_field("second", sec, 0, 59).map_err(fields_ok)?;
        }
        check_cron_field("minute", rest[0], 0, 59).map_err(fields_ok)?;
        check_cron_field("hour", rest[1], 0, 23).map_err(fields_ok)?;
        check_cron_field("day of month", rest[2], 1, 31).map_err(fields_ok)?;
        check_cron_field("month", rest[3], 1, 12).map_err(fields_ok)?;
        let dow = crontab_weekdays(rest[4]).map_err(fields_ok)?;
        let full = format!(
            "{sec} {} {} {} {} {dow}",
            rest[0], rest[1], rest[2], rest[3]
        );
        let schedule = cron::Schedule::from_str(&full).map_err(|e| {
            // The cron crate's message repeats the expression with a caret; keep its last line.
            let msg = e.to_string();
            let last = msg.lines().last().unwrap_or("").trim().to_string();
            format!("invalid cron expression `{s}`: {last}")
        })?;
        Ok(CronExpr {
            text: s.to_string(),
            schedule,
        })
    }
}

/// Checks the numbers of one crontab field (`5`, `1-5`, `*/15`, `0,30`) against its range,
/// because the `cron` crate's own messages name the wrong bound ("Minutes must be less than
/// 59" while it accepts 59). Names (`JAN`, `MON`) are left to the crate.
fn check_cron_field(name: &str, field: &str, lo: u32, hi: u32) -> Result<(), String> {
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(step) = step
            && step.parse::<u32>().ok().filter(|s| *s > 0).is_none()
        {
            return Err(format!(
                "the step `/{step}` of the {name} must be a whole number over 0"
            ));
        }
        if range == "*" || range == "?" {
            continue;
        }
        let ends: Vec<&str> = match range.split_once('-') {
            Some((a, b)) => vec![a, b],
            None => vec![range],
        };
        for end in ends {
            // A name (`JAN`, `MON-FRI`) is not a number: the crate checks those.
            if end.chars().any(|c| c.is_ascii_alphabetic()) {
                continue;
            }
            match end.parse::<u32>() {
                Ok(n) if (lo..=hi).contains(&n) => {}
                _ => return Err(format!("{name} must be {lo}-{hi}, not `{end}`")),
            }
        }
    }
    Ok(())
}

/// Translates a crontab weekday field (0 or 7 = Sunday, 1 = Monday) to day names,
/// because the `cron` crate numbers weekdays from 1 = Sunday.
fn crontab_weekdays(field: &str) -> Result<String, String> {
    const NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
    if field == "*" || field == "?" {
        return Ok(field.to_string());
    }
    let parse_day = |t: &str| -> Result<usize, String> {
        if let Ok(n) = t.parse::<usize>() {
            if n <= 7 {
                return Ok(n % 7);
            }
            return Err(format!(
                "weekday `{t}` out of range: expected 0-7 or SUN-SAT"
            ));
        }
        let up = t.to_ascii_uppercase();
        NAMES
            .iter()
            .position(|n| up.starts_with(n))
            .ok_or_else(|| format!("unknown weekday `{t}`: expected 0-7 or SUN-SAT"))
    };
    let mut days = [false; 7];
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<usize>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step `{s}` in weekday field"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (0, 6)
        } else if let Some((a, b)) = range.split_once('-') {
            let lo = parse_day(a)?;
            // `1-7` means Monday to Sunday: keep 7 as the top of the range.
            let hi = if b == "7" { 7 } else { parse_day(b)? };
            if hi < lo {
                return Err(format!("weekday range `{range}` runs backwards"));
            }
            (lo, hi)
        } else {
            let d = parse_day(range)?;
            (d, if step > 1 { 6 } else { d })
        };
        let mut d = lo;
        while d <= hi {
            days[d % 7] = true;
            d += step;
        }
    }
    let names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| NAMES[d]).collect();
    Ok(names.join(","))
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        t.parse().map_err(de::Error::custom)
    }
}

impl Serialize for CronExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// An IANA time zone such as `Asia/Seoul`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeZone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let t = Text::deserialize(d)?;
        t.parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            de::Error::custom(format!(
                "unknown time zone `{t}`: expected an IANA name like `Asia/Seoul` or `Europe/Berlin`"
            ))
        })
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

/// A free-form value (template vars, affinity) whose strings get `${VAR}` expansion.
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub(crate) struct Value(pub serde_json::Value);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(Value)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .ok_or_else(|| E::custom("numbers must be finite"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        expand_current(v)
            .map(serde_json::Value::String)
            .map_err(E::custom)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut v = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            v.push(item.0);
        }
        Ok(serde_json::Value::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<KeyString, Value>()? {
            m.insert(k.0, v.0);
        }
        Ok(serde_json::Value::Object(m))
    }
}

/// A mapping key: strings, and numbers or booleans turned into strings.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_yaml::Value::deserialize(d)?;
        match v {
            serde_yaml::Value::String(s) => Ok(KeyString(s)),
            serde_yaml::Value::Number(n) => Ok(KeyString(n.to_string())),
            serde_yaml::Value::Bool(b) => Ok(KeyString(b.to_string())),
            _ => Err(de::Error::custom("mapping keys must be strings")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!("90s".parse::<Dur>().unwrap(), Dur::secs(90));
        assert_eq!("1h30m".parse::<Dur>().unwrap(), Dur::secs(5400));
        assert!("soon".parse::<Dur>().unwrap_err().contains("`soon`"));
    }

    #[test]
    fn crontab_weekdays_are_monday_based() {
        assert_eq!(crontab_weekdays("1-5").unwrap(), "MON,TUE,WED,THU,FRI");
        assert_eq!(crontab_weekdays("0").unwrap(), "SUN");
        assert_eq!(crontab_weekdays("7").unwrap(), "SUN");
        assert_eq!(crontab_weekdays("5-7").unwrap(), "SUN,FRI,SAT");
        assert_eq!(crontab_weekdays("sat,sun").unwrap(), "SUN,SAT");
        assert!(crontab_weekdays("8").is_err());
    }

    #[test]
    fn cron_five_fields_fire_on_weekdays() {
        use chrono::{Datelike, TimeZone as _};
        let c: CronExpr = "0 19 * * 1-5".parse().unwrap();
        // 2026-11-21 is a Saturday: the next run is Monday 23rd 19:00.
        let from = chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .unwrap();
        let next = c.schedule.after(&from).next().unwrap();
        assert_eq!(next.weekday(), chrono::Weekday::Mon);
        assert_eq!(next.format("%d %H:%M").to_string(), "23 19:00");
        assert!(
            "* * *"
                .parse::<CronExpr>()
                .unwrap_err()
                .contains("expected 5 fields")
        );
        assert!("61 * * * *".parse::<CronExpr>().is_err());
    }

    #[test]
    fn cron_ranges_are_named_as_they_are() {
        let err = |s: &str| s.parse::<CronExpr>().unwrap_err();
        assert_eq!(
            err("0 24 * * *"),
            "invalid cron expression `0 24 * * *`: hour must be 0-23, not `24`"
        );
        assert_eq!(
            err("60 * * * *"),
            "invalid cron expression `60 * * * *`: minute must be 0-59, not `60`"
        );
        assert_eq!(
            err("0 0 0 * *"),
            "invalid cron expression `0 0 0 * *`: day of month must be 1-31, not `0`"
        );
        assert_eq!(
            err("0 0 1 1-13 *"),
            "invalid cron expression `0 0 1 1-13 *`: month must be 1-12, not `13`"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "invalid cron expression `*/0 * * * *`: the step `/0` of the minute must be a whole number over 0"
        );
        for ok in [
            "59 23 31 12 *",
            "*/15 8-18 * JAN-MAR mon-fri",
            "0,30 * 1 * 0",
        ] {
            assert!(ok.parse::<CronExpr>().is_ok(), "{ok}");
        }
    }
}

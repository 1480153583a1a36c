//! How each kind of value may be written, as serde helpers for the fields of
//! [`ConfigFlags`](super::ConfigFlags): `#[serde(with = "value::duration")]` and so on.
//!
//! Every source writes values its own way (TOML and YAML numbers, booleans and strings; the
//! environment only strings), so each helper reads any single value and converts it: a
//! duration from `"30s"`, `"5m"` or a bare number of seconds; a port or a count from `5432` or
//! `"5432"`; words (`sslmode`, …) ignoring ASCII case. An empty (or blank) string and a YAML
//! null count as unset. A value that does not fit is refused with serde's `invalid_value`,
//! carrying the value as written and what is allowed; `error::from_figment` turns that into a
//! [`ConfigError`](super::ConfigError) naming the key and where the value came from. Secrets
//! are read as any scalar and never refused, so no error can quote one.
//!
//! Each module also has the `serialize` half, which hands a flag's value to the flags layer in a
//! form the `deserialize` half reads back (a duration as humane text, a secret exposed to that
//! layer only).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Serialize, Serializer};

use super::choices::Choice;

/// What "is not a duration" is followed by; shared with the flag parser.
pub(super) const DURATION_EXPECTED: &str =
    "a duration (examples: 30s, 5m, 1500ms, or a number of seconds)";
/// What "is not a count" is followed by; shared with [`Config::validate`](super::Config::validate).
pub(super) const COUNT_EXPECTED: &str = "a whole number of at least 1";

/// One value as a source wrote it.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    /// A string (never blank: a blank one is unset).
    Text(String),
    /// A whole number.
    Whole(i128),
    /// A number with a fraction (or too large to be whole).
    Fraction(f64),
    /// `true` or `false`.
    Bool(bool),
}

impl Scalar {
    /// The value as it would be written, for error messages.
    fn written(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Whole(n) => n.to_string(),
            Scalar::Fraction(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    /// A non-negative whole number, from a number or a string of digits.
    fn whole(&self) -> Option<u128> {
        match self {
            Scalar::Whole(n) => u128::try_from(*n).ok(),
            Scalar::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The text of a string; `None` for a number or a boolean.
    fn text(&self) -> Option<&str> {
        match self {
            Scalar::Text(s) => Some(s.trim()),
            _ => None,
        }
    }
}

/// Reads any single value; a table or a list is an `invalid_type` error (its content unshown).
struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Option<Scalar>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a single value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Whole(n.into())))
    }

    fn visit_i128<E>(self, n: i128) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Whole(n)))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Whole(n.into())))
    }

    fn visit_u128<E>(self, n: u128) -> Result<Self::Value, E> {
        Ok(Some(match i128::try_from(n) {
            Ok(n) => Scalar::Whole(n),
            Err(_) => Scalar::Text(n.to_string()),
        }))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Self::Value, E> {
        Ok(Some(Scalar::Fraction(f)))
    }

    fn visit_char<E: de::Error>(self, c: char) -> Result<Self::Value, E> {
        self.visit_string(c.to_string())
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        self.visit_string(s.to_owned())
    }

    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok((!s.trim().is_empty()).then_some(Scalar::Text(s)))
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads a value and converts it with `parse`; `None` from `parse` refuses the value as
/// "not {expected}".
fn read<'de, D, T>(
    d: D,
    expected: &str,
    parse: impl FnOnce(&Scalar) -> Option<T>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let Some(scalar) = d.deserialize_any(ScalarVisitor)? else {
        return Ok(None);
    };
    match parse(&scalar) {
        Some(value) => Ok(Some(value)),
        None => Err(de::Error::invalid_value(
            Unexpected::Str(&scalar.written()),
            &expected,
        )),
    }
}

/// Serializes a value as it is, for the modules whose type serde already writes readably.
pub fn as_is<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    value.serialize(s)
}

/// A string, trimmed; a number or a boolean is taken as written.
pub(super) mod text {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        read(d, "", |s| Some(s.written().trim().to_owned()))
    }
}

/// A secret: as [`text`] but not trimmed, and never refused (so never quoted).
pub(super) mod secret {
    use secrecy::{ExposeSecret, SecretString};

    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|v| v.expose_secret()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        read(d, "", |s| Some(SecretString::from(s.written())))
    }
}

/// A file path, trimmed.
pub(super) mod path {
    use std::path::PathBuf;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|p| p.to_string_lossy()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        read(d, "", |s| Some(PathBuf::from(s.written().trim())))
    }
}

/// A TCP port, 1-65535.
pub(super) mod port {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        read(d, "a port number (1-65535)", |s| {
            u16::try_from(s.whole()?).ok().filter(|&p| p != 0)
        })
    }
}

/// A whole number of at least 1.
pub(super) mod count {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        read(d, COUNT_EXPECTED, |s| {
            usize::try_from(s.whole()?).ok().filter(|&n| n >= 1)
        })
    }
}

/// A duration: a humane string ("30s", "1h 30m") or a number of seconds, not negative.
pub(super) mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        v.map(|d| humantime::format_duration(d).to_string())
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        read(d, DURATION_EXPECTED, |s| match s {
            Scalar::Whole(n) => u64::try_from(*n).ok().map(Duration::from_secs),
            Scalar::Fraction(f) => Duration::try_from_secs_f64(*f).ok(),
            Scalar::Text(text) => parse_duration(text),
            Scalar::Bool(_) => None,
        })
    }
}

/// Yes or no: `true`/`false`, also as the words true/false, yes/no, on/off, 1/0.
pub(super) mod boolean {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        read(d, "true or false", |s| match s {
            Scalar::Bool(b) => Some(*b),
            Scalar::Whole(0) => Some(false),
            Scalar::Whole(1) => Some(true),
            Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        })
    }
}

/// An IP address and port.
pub(super) mod address {
    use std::net::SocketAddr;

    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        read(
            d,
            "an IP address and port (e.g. 0.0.0.0:8080 or [::1]:8080)",
            |s| s.text()?.parse().ok(),
        )
    }
}

/// One of a closed set of words ([`Choice`]), ignoring ASCII case.
pub(super) mod word {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Choice,
    {
        let expected = format!("one of {}", T::NAMES.join(", "));
        read(d, &expected, |s| T::from_name(s.text()?))
    }
}

/// Parses "30s", "5m", "1h 30m", "250ms" (humantime) or a bare number of seconds ("30", "1.5").
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    humantime::parse_duration(text).ok()
}

#[cfg(test)]
mod tests {
    use figment::value::{Empty, Value};

    use super::*;

    #[test]
    fn durations_parse_humane_and_bare() {
        let d = |s| parse_duration(s);
        assert_eq!(d("30s"), Some(Duration::from_secs(30)));
        assert_eq!(d("5m"), Some(Duration::from_secs(300)));
        assert_eq!(d("1h 30m"), Some(Duration::from_secs(5400)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d("30"), Some(Duration::from_secs(30)));
        assert_eq!(d(" 1.5 "), Some(Duration::from_millis(1500)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("ten"), None);
        assert_eq!(d("-5"), None);
        assert_eq!(d("NaN"), None);
        assert_eq!(d("inf"), None);
        let n = |v: Value| duration::deserialize(&v).ok().flatten();
        assert_eq!(n(Value::from(0.25)), Some(Duration::from_millis(250)));
        assert_eq!(n(Value::from(-1)), None);
        assert_eq!(n(Value::from(7u64)), Some(Duration::from_secs(7)));
    }

    #[test]
    fn blank_strings_and_nulls_are_unset() {
        let unset = |v: Value| text::deserialize(&v).unwrap();
        assert_eq!(unset(Value::from("  ")), None);
        assert_eq!(unset(Value::from(Empty::None)), None);
        assert_eq!(unset(Value::from(" x ")), Some("x".to_owned()));
        assert_eq!(duration::deserialize(&Value::from("")).unwrap(), None);
    }
}

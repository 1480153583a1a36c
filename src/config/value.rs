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

use std::time::Duration;

use figment::value::{Num, Value};
use serde::de::{self, Deserialize, Deserializer, Unexpected};
use serde::{Serialize, Serializer};

use super::choices::Choice;

/// What "is not a duration" is followed by; shared with the flag parser.
pub(super) const DURATION_EXPECTED: &str =
    "a duration (examples: 30s, 5m, 1500ms, or a number of seconds)";
/// What "is not a count" is followed by; shared with [`Config::validate`](super::Config::validate).
pub(super) const COUNT_EXPECTED: &str = "a whole number of at least 1";

/// Reads one value and converts it with `parse`, which is given the value and its text as
/// written; `None` from `parse` refuses the value as "not {expected}". Unset (`None`): a blank
/// string or a null. A table or a list is refused as "not a single value", its content unshown.
fn read<'de, D, T>(
    d: D,
    expected: &str,
    parse: impl FnOnce(&Value, &str) -> Option<T>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    let value = <Value as Deserialize>::deserialize(d)?;
    let written = match &value {
        Value::Empty(..) => return Ok(None),
        Value::String(_, s) if s.trim().is_empty() => return Ok(None),
        Value::String(_, s) => s.clone(),
        Value::Char(_, c) => c.to_string(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => number_text(*n),
        Value::Dict(..) => return Err(de::Error::invalid_type(Unexpected::Map, &"a single value")),
        Value::Array(..) => {
            return Err(de::Error::invalid_type(Unexpected::Seq, &"a single value"));
        }
    };
    match parse(&value, &written) {
        Some(parsed) => Ok(Some(parsed)),
        None => Err(de::Error::invalid_value(
            Unexpected::Str(&written),
            &expected,
        )),
    }
}

/// A number as it would be written.
fn number_text(n: Num) -> String {
    if let Some(u) = n.to_u128() {
        u.to_string()
    } else if let Some(i) = n.to_i128() {
        i.to_string()
    } else {
        n.to_f64().map(|f| f.to_string()).unwrap_or_default()
    }
}

/// A non-negative whole number from a number or a string of digits.
fn whole_number(value: &Value) -> Option<u128> {
    match value {
        Value::Num(_, n) => n.to_u128_lossy(),
        Value::String(_, s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number of seconds (whole or fractional, not negative) as a duration.
fn seconds(n: Num) -> Option<Duration> {
    match n.to_u128_lossy() {
        Some(secs) => u64::try_from(secs).ok().map(Duration::from_secs),
        None => Duration::try_from_secs_f64(n.to_f64()?).ok(),
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
        read(d, "", |_, written| Some(written.trim().to_owned()))
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
        read(d, "", |_, written| Some(SecretString::from(written)))
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
        read(d, "", |_, written| Some(PathBuf::from(written.trim())))
    }
}

/// A TCP port, 1-65535.
pub(super) mod port {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        read(d, "a port number (1-65535)", |value, _| {
            u16::try_from(whole_number(value)?).ok().filter(|&p| p != 0)
        })
    }
}

/// A whole number of at least 1.
pub(super) mod count {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
        read(d, COUNT_EXPECTED, |value, _| {
            usize::try_from(whole_number(value)?)
                .ok()
                .filter(|&n| n >= 1)
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
        read(d, DURATION_EXPECTED, |value, _| match value {
            Value::Num(_, n) => seconds(*n),
            Value::String(_, s) => parse_duration(s),
            _ => None,
        })
    }
}

/// Yes or no: `true`/`false`, also as the words true/false, yes/no, on/off, 1/0.
pub(super) mod boolean {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        read(d, "true or false", |value, _| match value {
            Value::Bool(_, b) => Some(*b),
            Value::String(_, s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" => Some(false),
                _ => None,
            },
            Value::Num(_, n) => n.to_u128().and_then(|n| match n {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            }),
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
            |value, _| value.as_str()?.trim().parse().ok(),
        )
    }
}

/// An OpenTelemetry collector's OTLP/gRPC address: an `http://` URL with a host (the exporter
/// has no TLS; a collector on the same host or network forwards further).
pub(super) mod otlp_endpoint {
    use super::*;

    pub use super::as_is as serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        read(
            d,
            "an http:// URL of an OTLP/gRPC collector (e.g. http://127.0.0.1:4317)",
            |_, written| {
                let url = url::Url::parse(written.trim()).ok()?;
                (url.scheme() == "http" && url.has_host()).then(|| written.trim().to_owned())
            },
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
        read(d, &expected, |value, _| T::from_name(value.as_str()?))
    }
}

/// A list of function names (or `*` patterns): a list, or one string of names separated by
/// commas (the environment's and the flags' form). Names are lowercased; each may hold letters,
/// digits, `_`, `$` and `*`.
pub(super) mod function_names {
    use super::*;

    pub use super::as_is as serialize;

    pub const EXPECTED: &str = "function names or patterns (letters, digits, _, $ and *), \
                                as a list or separated by commas";

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let value = <Value as Deserialize>::deserialize(d)?;
        let items: Vec<String> = match &value {
            Value::Empty(..) => return Ok(None),
            Value::String(_, s) => s.split(',').map(str::to_owned).collect(),
            Value::Array(_, items) => super::strings(items, &EXPECTED)?,
            _ => return Err(super::not_a_list(&EXPECTED)),
        };
        parse(items)
            .map(Some)
            .map_err(|bad| de::Error::invalid_value(Unexpected::Str(&bad.0), &EXPECTED))
    }

    /// A name that is not a function name or pattern.
    #[derive(Debug, thiserror::Error)]
    #[error("{0:?} is not a function name or pattern ({EXPECTED})")]
    pub struct BadFunctionName(pub String);

    /// The names, trimmed and lowercased, blanks dropped; the error holds the first bad one.
    pub fn parse(items: Vec<String>) -> Result<Vec<String>, BadFunctionName> {
        let mut names = Vec::new();
        for item in items {
            let name = item.trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '*'))
            {
                return Err(BadFunctionName(item));
            }
            names.push(name);
        }
        Ok(names)
    }
}

/// Advertised Flight locations (`advertise`): a list of URIs, or one string holding a JSON list
/// (`["grpc://a:8080", "grpc://b:8080"]`, the environment's form) or URIs separated by commas
/// (the flag's form). Each is `grpc://`, `grpc+tcp://` or `grpc+tls://` with a host and a port;
/// duplicates are refused (every instance is named once).
pub(super) mod locations {
    use super::*;

    pub use super::as_is as serialize;

    pub const EXPECTED: &str = "Flight locations such as \"grpc+tls://pgflight-0.example:8080\" \
                                (grpc, grpc+tcp or grpc+tls, a host and a port, each once), as a \
                                list, a JSON list or separated by commas";

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let value = <Value as Deserialize>::deserialize(d)?;
        let items: Vec<String> = match &value {
            Value::Empty(..) => return Ok(None),
            Value::String(_, s) => split(s)
                .map_err(|bad| de::Error::invalid_value(Unexpected::Str(&bad.0), &EXPECTED))?,
            Value::Array(_, items) => super::strings(items, &EXPECTED)?,
            _ => return Err(super::not_a_list(&EXPECTED)),
        };
        parse(items)
            .map(Some)
            .map_err(|bad| de::Error::invalid_value(Unexpected::Str(&bad.0), &EXPECTED))
    }

    /// A location that is not a Flight URI pgflight can advertise.
    #[derive(Debug, thiserror::Error)]
    #[error("{0:?} is not a Flight location ({EXPECTED})")]
    pub struct BadLocation(pub String);

    /// One string's locations: a JSON list when it starts with `[`, else separated by commas.
    pub fn split(text: &str) -> Result<Vec<String>, BadLocation> {
        let text = text.trim();
        if text.starts_with('[') {
            return serde_json::from_str(text).map_err(|_| BadLocation(text.to_owned()));
        }
        Ok(text.split(',').map(str::to_owned).collect())
    }

    /// The locations, trimmed, blanks dropped; the error holds the first bad (or repeated) one.
    pub fn parse(items: Vec<String>) -> Result<Vec<String>, BadLocation> {
        let mut locations: Vec<String> = Vec::new();
        for item in items {
            let location = item.trim();
            if location.is_empty() {
                continue;
            }
            if !is_location(location) || locations.iter().any(|l| l == location) {
                return Err(BadLocation(item));
            }
            locations.push(location.to_owned());
        }
        Ok(locations)
    }

    /// `grpc[+tcp|+tls]://host:port` with nothing after the port but an optional `/`.
    fn is_location(text: &str) -> bool {
        let Ok(url) = url::Url::parse(text) else {
            return false;
        };
        matches!(url.scheme(), "grpc" | "grpc+tcp" | "grpc+tls")
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.port().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && matches!(url.path(), "" | "/")
            && url.query().is_none()
            && url.fragment().is_none()
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

/// The strings of a TOML/env list (a list key's array form); any other item is `expected`'s error.
fn strings<E: de::Error>(items: &[Value], expected: &dyn de::Expected) -> Result<Vec<String>, E> {
    items
        .iter()
        .map(|item| match item {
            Value::String(_, s) => Ok(s.clone()),
            _ => Err(E::invalid_type(Unexpected::Other("a non-string"), expected)),
        })
        .collect()
}

/// The error of a list key given a single non-string value.
fn not_a_list<E: de::Error>(expected: &dyn de::Expected) -> E {
    E::invalid_type(Unexpected::Other("a single value"), expected)
}

#[cfg(test)]
mod tests {
    use figment::value::Empty;

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
        assert_eq!(seconds(Num::F64(0.25)), Some(Duration::from_millis(250)));
        assert_eq!(seconds(Num::I64(-1)), None);
        assert_eq!(seconds(Num::U64(7)), Some(Duration::from_secs(7)));
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

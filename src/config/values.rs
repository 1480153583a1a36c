//! Typed values out of the merged sources: each getter names the key, the offending value and
//! where it came from when the value does not fit, and treats an empty string as unset.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::value::{Num, Value};
use figment::{Figment, Profile};
use secrecy::SecretString;

use super::ConfigError;
use super::choices::Choice;
use super::layers::URL_LAYER;

/// What "is not a duration" is followed by; shared with the flag parser.
pub(super) const DURATION_EXPECTED: &str =
    "a duration (examples: 30s, 5m, 1500ms, or a number of seconds)";
/// What "is not a count" is followed by.
const COUNT_EXPECTED: &str = "a whole number of at least 1";
/// What "is not a port" is followed by.
const PORT_EXPECTED: &str = "a port number (1-65535)";
/// What "is not a socket address" is followed by.
const ADDR_EXPECTED: &str = "an IP address and port (e.g. 0.0.0.0:8080 or [::1]:8080)";

/// Where a value came from.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    /// A file name, an environment variable, a flag, or "url".
    pub label: String,
    /// Whether it was taken from the parts of `url` (which explicit keys override).
    pub from_url: bool,
}

/// The merged sources, queried one key at a time.
pub(super) struct Values {
    figment: Figment,
}

impl Values {
    /// Wraps a figment whose layers were already checked for unknown keys.
    pub fn new(figment: Figment) -> Self {
        Self { figment }
    }

    /// The value set for `key` in the highest source that sets it; `None` for unset, an empty
    /// string or a YAML null.
    fn get(&self, key: &'static str) -> Option<(Value, Origin)> {
        let value = self.figment.find_value(key).ok()?;
        match &value {
            Value::Empty(..) => return None,
            Value::String(_, s) if s.trim().is_empty() => return None,
            _ => {}
        }
        let metadata = self.figment.find_metadata(key);
        let origin = Origin {
            label: metadata
                .map(|m| m.interpolate(&Profile::Default, &[key]))
                .unwrap_or_else(|| key.to_owned()),
            from_url: metadata.is_some_and(|m| m.name == URL_LAYER),
        };
        Some((value, origin))
    }

    /// A string (a number or boolean is taken as written).
    pub fn string(&self, key: &'static str) -> Result<Option<String>, ConfigError> {
        self.with_origin(key, text)
            .map(|v| v.map(|(s, _)| s.trim().to_owned()))
    }

    /// A secret string, with where it came from. Never echoed in an error.
    pub fn secret(&self, key: &'static str) -> Result<Option<(SecretString, Origin)>, ConfigError> {
        self.with_origin(key, text)
            .map(|v| v.map(|(s, origin)| (SecretString::from(s), origin)))
    }

    /// A file path, with where it came from.
    pub fn path(&self, key: &'static str) -> Result<Option<(PathBuf, Origin)>, ConfigError> {
        self.with_origin(key, text)
            .map(|v| v.map(|(s, origin)| (PathBuf::from(s.trim()), origin)))
    }

    /// A file path.
    pub fn plain_path(&self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        self.path(key).map(|v| v.map(|(p, _)| p))
    }

    /// A TCP port, 1-65535.
    pub fn port(&self, key: &'static str) -> Result<Option<u16>, ConfigError> {
        self.typed(key, PORT_EXPECTED, |value| {
            let n = whole_number(value)?;
            u16::try_from(n).ok().filter(|&p| p != 0)
        })
    }

    /// A whole number of at least 1.
    pub fn count(&self, key: &'static str) -> Result<Option<usize>, ConfigError> {
        self.typed(key, COUNT_EXPECTED, |value| {
            let n = whole_number(value)?;
            usize::try_from(n).ok().filter(|&n| n >= 1)
        })
    }

    /// A duration: a humane string ("30s", "1h 30m") or a number of seconds.
    pub fn duration(&self, key: &'static str) -> Result<Option<Duration>, ConfigError> {
        self.typed(key, DURATION_EXPECTED, |value| match value {
            Value::Num(_, n) => seconds(*n),
            Value::String(_, s) => parse_duration(s),
            _ => None,
        })
    }

    /// A yes/no: `true`/`false` (also as the strings "true", "false", "yes", "no", "1", "0").
    pub fn boolean(&self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        self.typed(key, "true or false", |value| match value {
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

    /// An IP address and port.
    pub fn socket_addr(&self, key: &'static str) -> Result<Option<SocketAddr>, ConfigError> {
        self.typed(key, ADDR_EXPECTED, |value| match value {
            Value::String(_, s) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// One of a closed set of words.
    pub fn choice<T: Choice>(&self, key: &'static str) -> Result<Option<T>, ConfigError> {
        let expected = format!("one of {}", T::NAMES.join(", "));
        self.typed(key, &expected, |value| match value {
            Value::String(_, s) => T::from_name(s),
            _ => None,
        })
    }

    /// Applies `convert` to the value with its origin attached.
    fn with_origin<T>(
        &self,
        key: &'static str,
        convert: impl Fn(&'static str, &Value, &Origin) -> Result<T, ConfigError>,
    ) -> Result<Option<(T, Origin)>, ConfigError> {
        let Some((value, origin)) = self.get(key) else {
            return Ok(None);
        };
        let converted = convert(key, &value, &origin)?;
        Ok(Some((converted, origin)))
    }

    /// Converts a scalar with `parse`; `None` from it means "not allowed: is not {expected}".
    fn typed<T>(
        &self,
        key: &'static str,
        expected: &str,
        parse: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        self.with_origin(key, |key, value, origin| {
            let written = text(key, value, origin)?;
            parse(value).ok_or_else(|| ConfigError::Invalid {
                key,
                value: written,
                expected: expected.to_owned(),
                origin: Some(origin.label.clone()),
            })
        })
        .map(|v| v.map(|(t, _)| t))
    }
}

/// The text of a scalar as written; a table or list is a `WrongType` error (content not shown).
fn text(key: &'static str, value: &Value, origin: &Origin) -> Result<String, ConfigError> {
    let found = match value {
        Value::String(_, s) => return Ok(s.clone()),
        Value::Char(_, c) => return Ok(c.to_string()),
        Value::Bool(_, b) => return Ok(b.to_string()),
        Value::Num(_, n) => return Ok(number_text(*n)),
        Value::Empty(..) => "nothing",
        Value::Dict(..) => "a table",
        Value::Array(..) => "a list",
    };
    Err(ConfigError::WrongType {
        key,
        expected: "a single value",
        found,
        origin: Some(origin.label.clone()),
    })
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
}

//! `ConfigError`: why a configuration was refused, in one line that names the key, the value
//! and what is allowed — and never a password.

use std::path::PathBuf;

use figment::error::{Actual, Kind};

use super::keys;

/// A configuration that cannot be used. `Display` is one line naming the key, the offending
/// value (never a password or a URL's password) and what is allowed, plus where the value came
/// from (a file, an environment variable, a flag or the `url`).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value of the right kind but not an allowed one, e.g. `sslmode: "verify" is not one of …`.
    #[error("{key}: {value:?} is not {expected}{}", from(origin))]
    Invalid {
        /// The configuration key.
        key: &'static str,
        /// The offending value as written.
        value: String,
        /// What is allowed, phrased to follow "is not", e.g. "one of disable, prefer".
        expected: String,
        /// Where the value came from (file name, variable, flag), if known.
        origin: Option<String>,
    },
    /// A value of the wrong kind, e.g. a table where a string belongs. The value is not shown.
    #[error("{key}: expected {expected}, found {found}{}", from(origin))]
    WrongType {
        /// The configuration key.
        key: &'static str,
        /// The kind the key takes, e.g. "a string".
        expected: &'static str,
        /// The kind found, e.g. "a table".
        found: &'static str,
        /// Where the value came from, if known.
        origin: Option<String>,
    },
    /// A key no version of pgflight knows, in a file or as a `PGFLIGHT_*` variable.
    #[error("unknown key {key:?} in {origin} (known keys: {})", keys().join(", "))]
    UnknownKey {
        /// The key as written (lower-cased for environment variables).
        key: String,
        /// The file or environment variable that holds it.
        origin: String,
    },
    /// A required key that no source sets.
    #[error("{key} is required ({hint})")]
    Missing {
        /// The configuration key.
        key: &'static str,
        /// Where it may be set.
        hint: String,
    },
    /// Keys that are each fine but not together (or one that needs another), e.g.
    /// `sslmode = "verify-full"` without `sslrootcert`. The message names the keys.
    #[error("{0}")]
    Conflict(String),
    /// The configuration file is missing, unreadable, of an unknown kind or not valid TOML/YAML.
    #[error("config file {}: {reason}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (no file content is quoted).
        reason: String,
    },
    /// `password_file` cannot be read or is empty.
    #[error("password_file: cannot read {}: {reason}{}", path.display(), from(origin))]
    PasswordFile {
        /// The file named by `password_file`.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
        /// Where `password_file` was set.
        origin: Option<String>,
    },
    /// `url` is not a PostgreSQL URL pgflight understands. The URL itself is never shown.
    #[error("url: {reason}{}", from(origin))]
    Url {
        /// What is wrong (a scheme, port or parameter name may be quoted; never the password).
        #[source]
        reason: UrlError,
        /// Where `url` was set.
        origin: Option<String>,
    },
    /// An environment variable pgflight reads holds something that is not UTF-8.
    #[error("environment variable {name} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        name: String,
    },
}

/// Why `url` cannot be expanded into keys. No variant holds the URL or a part that may be a
/// secret (a password, or its bytes once decoded), in `Display` or in `Debug`.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not a URL at all (`url`'s own reason, e.g. "invalid port number").
    #[error("not a valid URL ({0})")]
    Parse(#[from] url::ParseError),
    /// A URL, but not `postgresql://` or `postgres://`.
    #[error("the scheme is {0:?}; it must be postgresql:// or postgres://")]
    Scheme(String),
    /// A part (user name, password, host, database, parameter) whose percent-decoded bytes are
    /// not UTF-8. The source says where; the bytes themselves are not kept.
    #[error("{part} is not valid UTF-8 once percent-decoded")]
    NotUtf8 {
        /// The part, e.g. "the password".
        part: &'static str,
        /// Where decoding failed.
        source: std::str::Utf8Error,
    },
    /// A query parameter pgflight does not understand.
    #[error("parameter {name:?} is not supported (supported: {})", super::layers::url_params().join(", "))]
    UnsupportedParameter {
        /// The parameter's name, percent-decoded.
        name: String,
    },
}

/// " (from ORIGIN)" or nothing.
fn from(origin: &Option<String>) -> String {
    origin
        .as_deref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
}

/// Folds a multi-line message (a parser's, an OS error) into one line.
pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The error of extracting [`ConfigFlags`](super::ConfigFlags) from the merged layers, in the
/// words of [`ConfigError`]: the key is the first part of figment's path, the origin what the
/// value's layer says about that key. The `value` helpers refuse a value only with
/// `invalid_value` (the value as written; never a secret's, which are never refused) or
/// `invalid_type` (a table or a list, whose content is not shown).
pub(super) fn from_figment(error: figment::Error) -> ConfigError {
    let name = error.path.first().map(String::as_str).unwrap_or_default();
    let key = keys().iter().copied().find(|k| *k == name);
    let profile = error.profile.clone().unwrap_or_default();
    let origin = (error.metadata.as_ref()).map(|m| m.interpolate(&profile, &error.path));
    match (key, error.kind) {
        (Some(key), Kind::InvalidValue(value, expected)) => ConfigError::Invalid {
            key,
            value: match value {
                Actual::Str(written) => written,
                other => other.to_string(),
            },
            expected,
            origin,
        },
        (Some(key), Kind::InvalidType(found, _)) => ConfigError::WrongType {
            key,
            expected: "a single value",
            found: match found {
                Actual::Map => "a table",
                Actual::Seq => "a list",
                _ => "another kind of value",
            },
            origin,
        },
        (_, Kind::UnknownField(key, _)) => ConfigError::UnknownKey {
            key,
            origin: origin.unwrap_or_else(|| "the configuration".into()),
        },
        // Not produced by the helpers (which quote values only in the two arms above).
        (_, kind) => ConfigError::Conflict(format!("{name}: {kind}{}", from(&origin))),
    }
}

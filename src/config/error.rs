//! `ConfigError`: why a configuration was refused, in one line that names the key, the value
//! and what is allowed — and never a password.

use std::path::PathBuf;

use super::KEYS;

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
    #[error("unknown key {key:?} in {origin} (known keys: {})", KEYS.join(", "))]
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
        reason: String,
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

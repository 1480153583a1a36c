//! The sources of configuration as figment layers: the file (TOML or YAML), the environment
//! (libpq's `PG*`, the seed's `POSTGRES_*`, `PGFLIGHT_<KEY>`), the flags, and the parts of `url`.
//!
//! Every layer holds only known keys (unknown ones are refused here, naming their file or
//! variable) and remembers, per key, where the value came from, for error messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml, Yaml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::error::{UrlError, one_line};
use super::{ConfigError, ConfigFlags, keys};

/// The figment metadata name of the layer made from `url`.
pub(super) const URL_LAYER: &str = "url";
/// The environment variable that names the configuration file (below `--config`).
pub(super) const CONFIG_VAR: &str = "PGFLIGHT_CONFIG";
/// The prefix of pgflight's own environment variables, one per key.
const PGFLIGHT_PREFIX: &str = "PGFLIGHT_";

/// libpq's environment variables and the keys they set (lowest environment precedence).
pub(super) const LIBPQ_VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGPORT", "port"),
    ("PGDATABASE", "database"),
    ("PGUSER", "username"),
    ("PGPASSWORD", "password"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
];

/// The seed connector's environment variables (above libpq's, below `PGFLIGHT_*`).
pub(super) const SEED_VARS: &[(&str, &str)] = &[
    ("POSTGRES_HOST", "host"),
    ("POSTGRES_PORT", "port"),
    ("POSTGRES_DATABASE", "database"),
    ("POSTGRES_USERNAME", "username"),
    ("POSTGRES_PASSWORD", "password"),
    ("POSTGRES_SSLMODE", "sslmode"),
    ("POSTGRES_SCHEMA", "schema"),
];

/// Where a value came from.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    /// A file name, an environment variable, a flag, or "url".
    pub label: String,
    /// Whether it was taken from the parts of `url` (which explicit keys override).
    pub from_url: bool,
}

impl Origin {
    /// Where the value of `key` in the merged layers came from (the key itself if unknown).
    pub fn of(figment: &Figment, key: &str) -> Self {
        let metadata = figment.find_metadata(key);
        Self {
            label: metadata
                .map(|m| m.interpolate(&Profile::Default, &[key]))
                .unwrap_or_else(|| key.to_owned()),
            from_url: metadata.is_some_and(|m| m.name == URL_LAYER),
        }
    }
}

/// One source: known keys, their values, and where each came from.
#[derive(Debug, Clone, Default)]
pub(super) struct Layer {
    /// Figment metadata name ("environment", a file name, …).
    name: String,
    values: Dict,
    /// Key → file name, variable name, flag or "url".
    origins: BTreeMap<String, String>,
}

impl Layer {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    fn set(&mut self, key: &str, value: Value, origin: impl Into<String>) {
        self.values.insert(key.to_owned(), value);
        self.origins.insert(key.to_owned(), origin.into());
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        let origins = self.origins.clone();
        let name = self.name.clone();
        Metadata::named(self.name.clone()).interpolater(move |_: &Profile, keys: &[&str]| {
            keys.first()
                .and_then(|key| origins.get(*key))
                .cloned()
                .unwrap_or_else(|| name.clone())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

/// Reads a configuration file; its kind (TOML or YAML) follows from its extension.
pub(super) fn file_layer(path: &Path) -> Result<Layer, ConfigError> {
    let fail = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let is_toml = match extension.as_deref() {
        Some("toml") => true,
        Some("yaml" | "yml") => false,
        _ => return Err(fail("the name must end in .toml, .yaml or .yml".into())),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("cannot read it: {}", one_line(&e.to_string()))))?;
    let values: Dict = if is_toml {
        Toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|span| line_column(&text, span.start));
            let at = at.map(|(l, c)| format!(" at line {l}, column {c}"));
            // The message only: the parser's snippet of the line could hold a password.
            fail(format!(
                "not valid TOML{}: {}",
                at.unwrap_or_default(),
                one_line(e.message())
            ))
        })?
    } else {
        Yaml::from_str::<Option<Dict>>(&text)
            .map_err(|e| fail(format!("not valid YAML: {}", one_line(&e.to_string()))))?
            .unwrap_or_default()
    };
    let label = path.display().to_string();
    let mut layer = Layer::new(label.clone());
    for (key, value) in values {
        if !keys().contains(&key.as_str()) {
            return Err(ConfigError::UnknownKey { key, origin: label });
        }
        layer.set(&key, value, label.clone());
    }
    Ok(layer)
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The three environment layers, lowest first, and `PGFLIGHT_CONFIG`.
#[derive(Debug, Default)]
pub(super) struct EnvLayers {
    /// libpq's `PG*` variables.
    pub libpq: Layer,
    /// The seed's `POSTGRES_*` variables.
    pub seed: Layer,
    /// `PGFLIGHT_<KEY>`.
    pub pgflight: Layer,
    /// `PGFLIGHT_CONFIG`: the configuration file when neither the caller nor `--config` names one.
    pub config_file: Option<PathBuf>,
}

impl EnvLayers {
    /// Sorts the variables pgflight reads into layers. Empty values count as unset; other
    /// variables are ignored, except unknown `PGFLIGHT_*` ones, which are errors.
    pub fn from_vars(mut vars: Vec<(String, String)>) -> Result<Self, ConfigError> {
        vars.sort();
        let mut layers = Self {
            libpq: Layer::new("libpq environment"),
            seed: Layer::new("POSTGRES_* environment"),
            pgflight: Layer::new("PGFLIGHT_* environment"),
            config_file: None,
        };
        for (name, value) in vars {
            if value.is_empty() {
                continue;
            }
            let lookup = |table: &[(&str, &'static str)]| {
                table.iter().find(|(var, _)| *var == name).map(|(_, k)| *k)
            };
            if let Some(key) = lookup(LIBPQ_VARS) {
                layers.libpq.set(key, Value::from(value), name);
            } else if let Some(key) = lookup(SEED_VARS) {
                layers.seed.set(key, Value::from(value), name);
            } else if name == CONFIG_VAR {
                layers.config_file = Some(PathBuf::from(value));
            } else if let Some(rest) = name.strip_prefix(PGFLIGHT_PREFIX) {
                let key = rest.to_ascii_lowercase();
                if !keys().contains(&key.as_str()) {
                    let origin = format!("environment variable {name}");
                    return Err(ConfigError::UnknownKey { key, origin });
                }
                layers.pgflight.set(&key, Value::from(value), name);
            }
        }
        Ok(layers)
    }
}

/// The process environment, limited to the variables pgflight might read (`PG*`, `POSTGRES_*`).
pub(super) fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("PG") || name.starts_with("POSTGRES_")) {
            continue;
        }
        let value = value.into_string().map_err(|_| ConfigError::NotUnicode {
            name: name.to_owned(),
        })?;
        vars.push((name.to_owned(), value));
    }
    Ok(vars)
}

/// The command-line flags that were given, as a layer: `ConfigFlags` serialized (each key's
/// `value` helper writes what its `deserialize` half reads back), unset flags left out.
pub(super) fn flags_layer(flags: &ConfigFlags) -> Result<Layer, ConfigError> {
    let mut layer = Layer::new("command-line flags");
    let values = match Value::serialize(flags) {
        Ok(Value::Dict(_, values)) => values,
        // Unreachable for a struct of scalars; said plainly rather than ignored.
        _ => {
            return Err(ConfigError::Conflict(
                "the command-line flags could not be read".into(),
            ));
        }
    };
    for (key, value) in values {
        if !matches!(value, Value::Empty(..)) {
            let flag = format!("--{}", key.replace('_', "-"));
            layer.set(&key, value, flag);
        }
    }
    Ok(layer)
}

/// URL query parameters pgflight understands, and the keys they set.
const URL_PARAMS: &[(&str, &str)] = &[
    ("host", "host"),
    ("port", "port"),
    ("dbname", "database"),
    ("user", "username"),
    ("password", "password"),
    ("sslmode", "sslmode"),
    ("sslrootcert", "sslrootcert"),
    ("sslcert", "sslcert"),
    ("sslkey", "sslkey"),
    ("connect_timeout", "connect_timeout"),
];

/// The URL query parameters pgflight understands, in the order the error lists them.
pub(super) fn url_params() -> Vec<&'static str> {
    URL_PARAMS.iter().map(|(param, _)| *param).collect()
}

/// Expands a libpq URL (`postgresql://user:pass@host:port/db?sslmode=…`) into a layer of keys.
/// The error never quotes the URL (it may hold a password).
pub(super) fn url_layer(url: &str) -> Result<Layer, UrlError> {
    let parsed = url::Url::parse(url.trim())?;
    if !matches!(parsed.scheme(), "postgresql" | "postgres") {
        return Err(UrlError::Scheme(parsed.scheme().to_owned()));
    }
    let mut layer = Layer::new(URL_LAYER);
    let mut put = |key: &str, value: String| {
        if !value.is_empty() {
            layer.set(key, Value::from(value), URL_LAYER);
        }
    };
    put("username", decode(parsed.username(), "the user name")?);
    put(
        "password",
        decode(parsed.password().unwrap_or(""), "the password")?,
    );
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => decode(name, "the host")?,
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => String::new(),
    };
    put("host", host);
    put(
        "port",
        parsed.port().map(|p| p.to_string()).unwrap_or_default(),
    );
    let path = parsed.path().strip_prefix('/').unwrap_or(parsed.path());
    put("database", decode(path, "the database name")?);
    for pair in parsed
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name, "a parameter name")?;
        let Some((_, key)) = URL_PARAMS.iter().find(|(param, _)| *param == name) else {
            return Err(UrlError::UnsupportedParameter { name });
        };
        put(key, decode(value, "a parameter value")?);
    }
    Ok(layer)
}

/// Percent-decodes a URL part (`+` stays `+`, as in libpq); `part` names it in the error.
fn decode(text: &str, part: &'static str) -> Result<String, UrlError> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some(hex(*bytes.get(i + 1)?)? * 16 + hex(*bytes.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    // The error keeps only where decoding failed, not the bytes (they may be a password).
    String::from_utf8(out).map_err(|e| UrlError::NotUtf8 {
        part,
        source: e.utf8_error(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(layer: &Layer, key: &str) -> Option<String> {
        layer
            .values
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    #[test]
    fn url_expands_into_keys_with_percent_decoding() {
        let layer = url_layer(
            "postgresql://app%40corp:p%40ss%2Fw0rd@db.example.com:6543/my%20db\
             ?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=10",
        )
        .unwrap();
        assert_eq!(text(&layer, "username").as_deref(), Some("app@corp"));
        assert_eq!(text(&layer, "password").as_deref(), Some("p@ss/w0rd"));
        assert_eq!(text(&layer, "host").as_deref(), Some("db.example.com"));
        assert_eq!(text(&layer, "port").as_deref(), Some("6543"));
        assert_eq!(text(&layer, "database").as_deref(), Some("my db"));
        assert_eq!(text(&layer, "sslmode").as_deref(), Some("verify-full"));
        assert_eq!(text(&layer, "sslrootcert").as_deref(), Some("/etc/ca.pem"));
        assert_eq!(text(&layer, "connect_timeout").as_deref(), Some("10"));
    }

    #[test]
    fn url_hosts_ipv6_and_socket_directories() {
        let v6 = url_layer("postgres://[::1]:5433/db").unwrap();
        assert_eq!(text(&v6, "host").as_deref(), Some("::1"));
        let socket = url_layer("postgresql://%2Fvar%2Frun%2Fpostgresql/db").unwrap();
        assert_eq!(
            text(&socket, "host").as_deref(),
            Some("/var/run/postgresql")
        );
        let bare = url_layer("postgresql:///db?host=h&user=u&dbname=other").unwrap();
        assert_eq!(text(&bare, "host").as_deref(), Some("h"));
        assert_eq!(text(&bare, "username").as_deref(), Some("u"));
        assert_eq!(text(&bare, "database").as_deref(), Some("other"));
    }

    #[test]
    fn url_errors_never_quote_the_url() {
        for bad in [
            "http://u:hunter2@h/db",
            "postgresql://u:hunter2@h:99999/db",
            "postgresql://u:hunter2@h/db?application_name=x",
            "postgresql://u:hunter2%FF@h/db",
            "hunter2",
        ] {
            let error = url_layer(bad).unwrap_err();
            for text in [error.to_string(), format!("{error:?}")] {
                assert!(!text.contains("hunter2"), "{text}");
            }
        }
        let reason = url_layer("mysql://h/db").unwrap_err().to_string();
        assert!(reason.contains("\"mysql\""), "{reason}");
        let reason = url_layer("postgresql://h/db?application_name=x")
            .unwrap_err()
            .to_string();
        assert_eq!(
            reason,
            "parameter \"application_name\" is not supported (supported: host, port, dbname, \
             user, password, sslmode, sslrootcert, sslcert, sslkey, connect_timeout)"
        );
        let reason = url_layer("postgresql://u:p%FF@h/db")
            .unwrap_err()
            .to_string();
        assert_eq!(
            reason,
            "the password is not valid UTF-8 once percent-decoded"
        );
    }

    #[test]
    fn env_sorts_vars_into_layers_and_refuses_unknown_pgflight_vars() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let layers = EnvLayers::from_vars(vars(&[
            ("PGHOST", "a"),
            ("POSTGRES_HOST", "b"),
            ("PGFLIGHT_HOST", "c"),
            ("PGAPPNAME", "ignored"),
            ("PGFLIGHT_CONFIG", "/etc/pgflight.yaml"),
            ("PGPORT", ""),
        ]))
        .unwrap();
        assert_eq!(text(&layers.libpq, "host").as_deref(), Some("a"));
        assert_eq!(text(&layers.seed, "host").as_deref(), Some("b"));
        assert_eq!(text(&layers.pgflight, "host").as_deref(), Some("c"));
        assert!(!layers.libpq.values.contains_key("port"));
        assert_eq!(
            layers.config_file.as_deref(),
            Some(Path::new("/etc/pgflight.yaml"))
        );
        let err = EnvLayers::from_vars(vars(&[("PGFLIGHT_HOTS", "x")])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown key \"hots\" in environment variable PGFLIGHT_HOTS (known keys: host, port,"),
            "{err}"
        );
    }

    #[test]
    fn line_column_counts_from_one() {
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("abc", 0), (1, 1));
    }
}

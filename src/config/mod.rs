//! Configuration: defaults < config file (TOML or YAML) < environment < command-line flags.
//!
//! One struct declares every key: [`ConfigFlags`], read by clap as the flags and by serde as
//! every other source. Each source is a figment layer (see `layers`); figment merges them and
//! extracts `ConfigFlags` (`deny_unknown_fields`; each field's `value` helper says how it may be
//! written); `ConfigFlags::into_config` fills in the defaults, and [`Config::validate`] checks
//! the rules between keys. A new key is a field of `ConfigFlags` and of [`Config`], its default
//! in `into_config`, any rule in `validate`, and its line in `flight.toml`.
//!
//! # Sources, lowest precedence first
//!
//! 1. Defaults (see [`Config::new`]).
//! 2. The parts of `url`, if `url` is set anywhere (see below).
//! 3. The configuration file: the `file` argument of [`Config::load`], else `--config`, else
//!    `PGFLIGHT_CONFIG`, else `./flight.toml` if it exists. TOML for `.toml`, YAML for `.yaml`
//!    and `.yml`; any other name is an error. Relative paths in it (`password_file`, certificates)
//!    are relative to the working directory, as in libpq.
//! 4. The environment, itself in three layers, lowest first: libpq's `PGHOST PGPORT PGDATABASE
//!    PGUSER PGPASSWORD PGSSLMODE PGSSLROOTCERT PGSSLCERT PGSSLKEY PGCONNECT_TIMEOUT`; the seed
//!    connector's `POSTGRES_HOST POSTGRES_PORT POSTGRES_DATABASE POSTGRES_USERNAME
//!    POSTGRES_PASSWORD POSTGRES_SSLMODE POSTGRES_SCHEMA`; then `PGFLIGHT_<KEY>` for every key
//!    (`PGFLIGHT_LISTEN`, `PGFLIGHT_BATCH_SIZE`, …). An empty variable counts as unset.
//! 5. Command-line flags ([`ConfigFlags`]).
//!
//! # `url`
//!
//! `url = "postgresql://user:pass@host:port/db?sslmode=…&sslrootcert=…"` (or `postgres://`) is
//! expanded into `host port database username password sslmode sslrootcert sslcert sslkey
//! connect_timeout` (user name, password, host and database percent-decoded). A key set
//! explicitly in *any* source — file, environment or flag — wins over the same part of the URL,
//! wherever the URL itself was set: `PGHOST=a` with `--url postgresql://b/db` connects to `a`.
//!
//! # Values
//!
//! Durations are humane strings (`"30s"`, `"5m"`, `"1h 30m"`, `"250ms"`) or a bare number of
//! seconds, in every source. Words (`sslmode`, `log_level`, …) ignore ASCII case. An empty string
//! counts as unset. Unknown keys, in a file or as `PGFLIGHT_*` variables, are errors.
//!
//! # Secrets
//!
//! `password` (and `url`, which may hold one) are [`SecretString`]s: redacted in `{:?}`, and no
//! [`ConfigError`] ever quotes them.

mod choices;
mod error;
mod flags;
mod layers;
mod value;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::value::{Dict, Value};
use secrecy::{ExposeSecret, SecretString};

pub use choices::{ArrayFormat, AuthMode, LogFormat, LogLevel, NumericNan, SslMode};
pub use error::{ConfigError, UrlError};
pub use flags::ConfigFlags;

use error::{from_figment, one_line};
use layers::{EnvLayers, Layer, Origin};

/// Every configuration key, in the order of [`Config`]'s fields: the serde names of
/// [`ConfigFlags`]'s fields, so the list cannot drift from the struct.
pub fn keys() -> &'static [&'static str] {
    // serde's derived `Deserialize` (with `deny_unknown_fields`) lists the fields it knows in
    // the error for one it does not: the key "" here.
    let probe = Value::from(Dict::from([(String::new(), Value::from(0))]));
    match probe.deserialize::<ConfigFlags>() {
        Err(error) => match error.kind {
            figment::error::Kind::UnknownField(_, known) => known,
            _ => &[],
        },
        Ok(_) => &[],
    }
}

/// The file read when none is named: `flight.toml` in the working directory.
pub const DEFAULT_FILE: &str = "flight.toml";

/// The complete, validated configuration of a pgflight process. Field names are the keys.
///
/// `{:?}` never shows the password (nor `url`, which may contain one).
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL host name, IP address or socket directory. Required (or from `url`).
    pub host: String,
    /// PostgreSQL port. Default 5432.
    pub port: u16,
    /// Database to connect to. Required.
    pub database: String,
    /// PostgreSQL user name. Required.
    pub username: String,
    /// PostgreSQL password: from `password`, `url`, or the content of `password_file`.
    /// Read it with [`ExposeSecret::expose_secret`] only where it is sent to PostgreSQL.
    pub password: Option<SecretString>,
    /// The file the password was read from (already read into `password`; kept for reference).
    pub password_file: Option<PathBuf>,
    /// The libpq URL the connection keys were taken from, if any (it may hold the password).
    pub url: Option<SecretString>,
    /// TLS to PostgreSQL. Default `prefer` (libpq's default).
    pub sslmode: SslMode,
    /// CA certificate(s), PEM, to verify PostgreSQL's certificate; needed by verify-ca/-full.
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate, PEM, presented to PostgreSQL (with `sslkey`).
    pub sslcert: Option<PathBuf>,
    /// The client certificate's private key, PEM (with `sslcert`).
    pub sslkey: Option<PathBuf>,
    /// Default schema for unqualified names. Default `public`.
    pub schema: String,
    /// How long to wait for a PostgreSQL connection (also from the pool). Default 30s.
    pub connect_timeout: Duration,
    /// PostgreSQL `statement_timeout` for every session; zero means none. Default 300s.
    pub statement_timeout: Duration,
    /// Rows per Arrow record batch, at least 1. Default 10000.
    pub batch_size: usize,
    /// Most PostgreSQL connections in the pool, at least 1. Default 10.
    pub max_connections: usize,
    /// Pooled connections idle this long are closed. Default 300s.
    pub idle_timeout: Duration,
    /// Most detailed log level written. Default `info`.
    pub log_level: LogLevel,
    /// Log line format. Default `text`.
    pub log_format: LogFormat,
    /// Address for Flight SQL (gRPC) and the HTTP endpoints. Default `0.0.0.0:8080`.
    pub listen: SocketAddr,
    /// If set, `/metrics`, `/healthz` and `/readyz` are served here instead of on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Certificate chain, PEM, for TLS on the Flight endpoint (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Private key, PEM, for TLS on the Flight endpoint (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// CA, PEM: when set, clients must present a certificate it signed (needs `tls_cert`).
    pub tls_client_ca: Option<PathBuf>,
    /// Client authentication on the Flight endpoint. Default `none`.
    pub auth: AuthMode,
    /// What a `numeric` NaN or ±Infinity becomes. Default `error`.
    pub numeric_nan: NumericNan,
    /// How PostgreSQL arrays are delivered. Default `list`.
    pub arrays: ArrayFormat,
    /// Tables with at least this many rows (PostgreSQL's estimate) are read through several
    /// endpoints. Default 1000000.
    pub partition_min_rows: usize,
    /// Most endpoints one request is split into (also bounded by `max_connections`); 1 turns
    /// splitting off. Default 4.
    pub max_partitions: usize,
    /// How long the snapshot shared by a split request's endpoints is held open (an open
    /// transaction holds back vacuum). Default 60s.
    pub snapshot_ttl: Duration,
    /// Change data capture: a slot retaining more WAL bytes than this is warned about in the log
    /// (at each measurement). Default 1073741824 (1 GiB).
    pub slot_lag_warn_bytes: usize,
    /// Change data capture: how often the pgoutput slots' lag and age are measured for the
    /// metrics and the warning. Default 60s.
    pub slot_check_interval: Duration,
    /// The longest RenewFlightEndpoint may keep a split request's snapshot held, counted from
    /// planning (at least `snapshot_ttl`). Default 10m.
    pub snapshot_max_ttl: Duration,
    /// Flight locations of the instances serving this database (`grpc+tls://pgflight-0:8080`,
    /// …). Each endpoint of a split read lists them all, rotated so that N endpoints name N
    /// different instances first. Default none: endpoints carry no location (the client reads
    /// them on the connection it has).
    pub advertise: Vec<String>,
    /// Key that signs tickets and prepared-statement handles; give every instance behind one
    /// load balancer the same. Random at start when absent (tickets then die with the process).
    pub ticket_secret: Option<SecretString>,
    /// How long a ticket stays valid after GetFlightInfo. Default 1h.
    pub ticket_ttl: Duration,
    /// How long a client's session options last (the sealed session cookie's lifetime).
    /// Default 8h.
    pub session_ttl: Duration,
    /// `auth = "password"`: the file of users, one `name:hash` a line (`pgflight hash-password`
    /// makes the hash).
    pub users_file: Option<PathBuf>,
    /// How long a bearer token from the Handshake stays valid. Default 1h.
    pub token_ttl: Duration,
    /// Whether `/metrics` and `/readyz` need the same credentials as Flight calls (when `auth`
    /// is not `none`). Default true; false lets a scraper and a load balancer in anonymously.
    pub metrics_auth: bool,
    /// Serve even when the role is a superuser, has BYPASSRLS or is a member of
    /// `pg_read_server_files`, `pg_write_server_files` or `pg_execute_server_program` (with a
    /// warning at every start). Default false: such a role is refused.
    pub allow_superuser: bool,
    /// Function names (lowercase; `*` matches any characters) the statement guard refuses in
    /// addition to its own denylist (`auth = "none"` and `"password"`). Default none.
    pub deny_functions: Vec<String>,
    /// One structured log line (target `pgflight::audit`) per Flight call. Default false.
    pub audit: bool,
    /// Most DoGet streams one user (the authenticated identity; everyone is one anonymous user
    /// with `auth = "none"`) may run at once; one more is RESOURCE_EXHAUSTED at once. Default
    /// unlimited (`None`).
    pub max_streams_per_user: Option<usize>,
    /// OpenTelemetry collector (OTLP over gRPC, `http://host:port`) that receives a span per
    /// Flight call and per PostgreSQL statement. Default none: no traces leave the process.
    pub otlp_endpoint: Option<String>,
}

impl Config {
    /// A configuration with the given connection and every other key at its default
    /// (no password, `sslmode = prefer`, `listen = 0.0.0.0:8080`, …). For tests and embedding;
    /// it reads no file and no environment.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        database: impl Into<String>,
        username: impl Into<String>,
    ) -> Config {
        let keys = ConfigFlags {
            port: Some(port),
            ..ConfigFlags::default()
        };
        keys.into_config(host.into(), database.into(), username.into())
    }

    /// Loads the configuration from its sources (see the module documentation) and the
    /// process environment. `file`, if given, is used instead of `flags.config`.
    pub fn load(file: Option<&Path>, flags: &ConfigFlags) -> Result<Config, ConfigError> {
        Self::load_with_env(file, flags, layers::process_env()?)
    }

    /// As [`Config::load`], with the environment given as (name, value) pairs instead of read
    /// from the process; variables pgflight does not read are ignored.
    pub fn load_with_env<I, K, V>(
        file: Option<&Path>,
        flags: &ConfigFlags,
        env: I,
    ) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        load_from(file, flags, env, Path::new(DEFAULT_FILE))
    }

    /// Checks the rules between keys (and the minimums of a hand-built configuration):
    /// verify-ca/verify-full need `sslrootcert`; `sslcert`/`sslkey` and `tls_cert`/`tls_key`
    /// come in pairs; `snapshot_max_ttl` is at least `snapshot_ttl`; `tls_client_ca` needs `tls_cert`. [`Config::load`] calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = |key, n: usize| {
            if n >= 1 {
                return Ok(());
            }
            Err(ConfigError::Invalid {
                key,
                value: n.to_string(),
                expected: value::COUNT_EXPECTED.into(),
                origin: None,
            })
        };
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("max_connections", self.max_connections)?;
        at_least_one("partition_min_rows", self.partition_min_rows)?;
        at_least_one("max_partitions", self.max_partitions)?;
        if self.sslmode.verifies_certificate() && self.sslrootcert.is_none() {
            return Err(ConfigError::Conflict(format!(
                "sslmode: {:?} needs sslrootcert, the CA certificate(s) to check PostgreSQL's \
                 certificate against (or use sslmode require, which encrypts without checking)",
                self.sslmode.as_str()
            )));
        }
        pair("sslcert", &self.sslcert, "sslkey", &self.sslkey)?;
        if self.snapshot_max_ttl < self.snapshot_ttl {
            return Err(ConfigError::Conflict(format!(
                "snapshot_max_ttl: {:?} is shorter than snapshot_ttl ({:?}); renewing can only \
                 extend a snapshot's life, so snapshot_max_ttl must be at least snapshot_ttl",
                self.snapshot_max_ttl, self.snapshot_ttl
            )));
        }
        if self.auth == AuthMode::Password && self.users_file.is_none() {
            return Err(ConfigError::Conflict(
                "auth = \"password\" needs users_file, the file of users and password hashes \
                 (make a hash with `pgflight hash-password`)"
                    .into(),
            ));
        }
        pair("tls_cert", &self.tls_cert, "tls_key", &self.tls_key)?;
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() {
            return Err(ConfigError::Conflict(
                "tls_client_ca is set but tls_cert is not: client certificates can only be \
                 required over TLS (set tls_cert and tls_key too)"
                    .into(),
            ));
        }
        if self.advertise.len() > 1 && self.ticket_secret.is_none() {
            return Err(ConfigError::Conflict(format!(
                "advertise names {} instances but ticket_secret is not set: each instance would \
                 sign with a random key of its own and refuse the others' tickets (give every \
                 instance the same ticket_secret)",
                self.advertise.len()
            )));
        }
        if self.metrics_listen == Some(self.listen) {
            return Err(ConfigError::Conflict(format!(
                "metrics_listen: \"{}\" is the same address as listen; leave metrics_listen unset \
                 to serve /metrics on listen",
                self.listen
            )));
        }
        Ok(())
    }

    /// The PostgreSQL password, if any (from `password`, `url` or `password_file`).
    pub fn password(&self) -> Option<&SecretString> {
        self.password.as_ref()
    }

    /// One line for logs, without secrets: `host:port/database as user, sslmode=…`.
    pub fn summary(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!(
            "{host}:{}/{} as {}, sslmode={}",
            self.port, self.database, self.username, self.sslmode
        )
    }
}

/// Both keys or neither.
fn pair(
    a: &str,
    a_value: &Option<PathBuf>,
    b: &str,
    b_value: &Option<PathBuf>,
) -> Result<(), ConfigError> {
    let (set, unset) = match (a_value, b_value) {
        (Some(_), None) => (a, b),
        (None, Some(_)) => (b, a),
        _ => return Ok(()),
    };
    Err(ConfigError::Conflict(format!(
        "{set} is set but {unset} is not: {a} and {b} go together (set both or neither)"
    )))
}

/// [`Config::load_with_env`] with the default file's path as a parameter, for tests.
fn load_from(
    file: Option<&Path>,
    flags: &ConfigFlags,
    env: Vec<(String, String)>,
    default_file: &Path,
) -> Result<Config, ConfigError> {
    let env = EnvLayers::from_vars(env)?;
    let path = file
        .or(flags.config.as_deref())
        .or(env.config_file.as_deref())
        .map(Path::to_path_buf)
        .or_else(|| default_file.is_file().then(|| default_file.to_path_buf()));
    let file_layer = path.as_deref().map(layers::file_layer).transpose()?;
    let flags_layer = layers::flags_layer(flags)?;
    let explicit = [
        file_layer.as_ref(),
        Some(&env.libpq),
        Some(&env.seed),
        Some(&env.pgflight),
        Some(&flags_layer),
    ];
    let merge = |base: Option<&Layer>| {
        base.into_iter()
            .chain(explicit.into_iter().flatten())
            .fold(Figment::new(), |figment, layer| figment.merge(layer))
    };
    let without_url = merge(None);
    let keys: ConfigFlags = without_url.extract().map_err(from_figment)?;
    let (figment, keys) = match &keys.url {
        Some(url) => {
            let layer = layers::url_layer(url.expose_secret()).map_err(|reason| {
                let origin = Origin::of(&without_url, "url");
                ConfigError::Url {
                    reason,
                    origin: Some(origin.label),
                }
            })?;
            let figment = merge(Some(&layer));
            let keys = figment.extract().map_err(from_figment)?;
            (figment, keys)
        }
        None => (without_url, keys),
    };
    let file_name = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| DEFAULT_FILE.to_owned());
    let config = build(keys, &figment, &file_name)?;
    config.validate()?;
    Ok(config)
}

/// Checks the required keys, settles the password (`password`, the URL's, or the content of
/// `password_file`) and fills in the defaults. `figment` says where each value came from.
fn build(mut keys: ConfigFlags, figment: &Figment, file_name: &str) -> Result<Config, ConfigError> {
    let required = |key: &'static str, value: Option<String>, also: &str, env: &str| {
        value.ok_or_else(|| ConfigError::Missing {
            key,
            hint: format!("set {key}{also} in {file_name}, {env}, or pass --{key}"),
        })
    };
    let host = required(
        "host",
        keys.host.take(),
        " or url",
        "POSTGRES_HOST or PGHOST",
    )?;
    let database = required(
        "database",
        keys.database.take(),
        "",
        "POSTGRES_DATABASE or PGDATABASE",
    )?;
    let username = required(
        "username",
        keys.username.take(),
        "",
        "POSTGRES_USERNAME or PGUSER",
    )?;
    if let Some(path) = &keys.password_file {
        let file_origin = Origin::of(figment, "password_file");
        if keys.password.is_some() {
            let password_origin = Origin::of(figment, "password");
            if !password_origin.from_url {
                return Err(ConfigError::Conflict(format!(
                    "password and password_file are both set (password from {}, password_file \
                     from {}); set only one",
                    password_origin.label, file_origin.label
                )));
            }
        }
        keys.password = Some(read_password_file(path, &file_origin)?);
    }
    Ok(keys.into_config(host, database, username))
}

impl ConfigFlags {
    /// The configuration these keys describe, every unset key at its default: the one place
    /// defaults live. The required keys are given apart, and `password` is taken as settled.
    fn into_config(self, host: String, database: String, username: String) -> Config {
        Config {
            host,
            port: self.port.unwrap_or(5432),
            database,
            username,
            password: self.password,
            password_file: self.password_file,
            url: self.url,
            sslmode: self.sslmode.unwrap_or_default(),
            sslrootcert: self.sslrootcert,
            sslcert: self.sslcert,
            sslkey: self.sslkey,
            schema: self.schema.unwrap_or_else(|| "public".to_owned()),
            connect_timeout: self.connect_timeout.unwrap_or(Duration::from_secs(30)),
            statement_timeout: self.statement_timeout.unwrap_or(Duration::from_secs(300)),
            batch_size: self.batch_size.unwrap_or(10_000),
            max_connections: self.max_connections.unwrap_or(10),
            idle_timeout: self.idle_timeout.unwrap_or(Duration::from_secs(300)),
            log_level: self.log_level.unwrap_or_default(),
            log_format: self.log_format.unwrap_or_default(),
            listen: self
                .listen
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 8080))),
            metrics_listen: self.metrics_listen,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            tls_client_ca: self.tls_client_ca,
            auth: self.auth.unwrap_or_default(),
            numeric_nan: self.numeric_nan.unwrap_or_default(),
            arrays: self.arrays.unwrap_or_default(),
            partition_min_rows: self.partition_min_rows.unwrap_or(1_000_000),
            max_partitions: self.max_partitions.unwrap_or(4),
            snapshot_ttl: self.snapshot_ttl.unwrap_or(Duration::from_secs(60)),
            slot_lag_warn_bytes: self.slot_lag_warn_bytes.unwrap_or(1 << 30),
            slot_check_interval: self.slot_check_interval.unwrap_or(Duration::from_secs(60)),
            snapshot_max_ttl: self.snapshot_max_ttl.unwrap_or(Duration::from_secs(600)),
            advertise: self.advertise.unwrap_or_default(),
            ticket_secret: self.ticket_secret,
            ticket_ttl: self.ticket_ttl.unwrap_or(Duration::from_secs(3600)),
            session_ttl: self.session_ttl.unwrap_or(Duration::from_secs(8 * 3600)),
            users_file: self.users_file,
            token_ttl: self.token_ttl.unwrap_or(Duration::from_secs(3600)),
            metrics_auth: self.metrics_auth.unwrap_or(true),
            allow_superuser: self.allow_superuser.unwrap_or(false),
            deny_functions: self.deny_functions.unwrap_or_default(),
            audit: self.audit.unwrap_or(false),
            max_streams_per_user: self.max_streams_per_user,
            otlp_endpoint: self.otlp_endpoint,
        }
    }
}

/// The content of `password_file`, without its trailing newline(s).
fn read_password_file(path: &Path, origin: &Origin) -> Result<SecretString, ConfigError> {
    let fail = |reason: String| ConfigError::PasswordFile {
        path: path.to_owned(),
        reason,
        origin: Some(origin.label.clone()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(one_line(&e.to_string())))?;
    let password = text.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(fail("the file is empty".into()));
    }
    Ok(SecretString::from(password))
}

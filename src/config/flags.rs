//! `ConfigFlags`: every configuration key, declared once. clap reads it as the command-line
//! flags (one optional `--<key>` per key, plus `--config`); serde reads every other source into
//! the same struct (figment extracts it from the merged layers); and its serde field names are
//! the known keys ([`keys`](super::keys)).
//!
//! Adding a key: a field here (its doc is the flag's `--help`; its `#[serde(with = …)]` says how
//! any source may write it, see [`value`](super::value)), the field of [`Config`](super::Config)
//! with its default in `ConfigFlags::into_config`, and its line in `flight.toml`.
//!
//! Flags are the highest-precedence source. They deliberately do not read the environment
//! themselves (no clap `env`): environment variables are a separate, lower layer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use secrecy::SecretString;

use super::value::{self, DURATION_EXPECTED, parse_duration};
use super::{ArrayFormat, AuthMode, LogFormat, LogLevel, NumericNan, SslMode};

/// Every configuration key, each optional: the command-line flags (`--config PATH`, `--host`,
/// `--batch-size`, …; a flag that is given overrides the file and the environment), and the
/// shape every source is read into. Unknown keys are refused (`deny_unknown_fields`); `config`
/// is not a key, only the flag that names the file.
///
/// `Debug` redacts the secrets, but `Serialize` writes them in the clear: it exists to hand the
/// flags to figment as a layer. Never log or store a serialized `ConfigFlags`.
#[derive(clap::Args, serde::Deserialize, serde::Serialize, Default, Debug, Clone)]
#[serde(default, deny_unknown_fields)]
#[command(next_help_heading = "Configuration")]
pub struct ConfigFlags {
    /// Configuration file, TOML (.toml) or YAML (.yaml, .yml) [default: ./flight.toml if present]
    #[arg(long, value_name = "PATH")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// PostgreSQL host name, IP address or socket directory
    #[arg(long)]
    #[serde(with = "value::text")]
    pub host: Option<String>,
    /// PostgreSQL port [default: 5432]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    #[serde(with = "value::port")]
    pub port: Option<u16>,
    /// Database to connect to
    #[arg(long)]
    #[serde(with = "value::text")]
    pub database: Option<String>,
    /// PostgreSQL user name
    #[arg(long)]
    #[serde(with = "value::text")]
    pub username: Option<String>,
    /// PostgreSQL password. Visible to other local users in the process list: prefer
    /// PGPASSWORD, POSTGRES_PASSWORD or --password-file
    #[arg(long, value_parser = secret)]
    #[serde(with = "value::secret")]
    pub password: Option<SecretString>,
    /// File holding the PostgreSQL password (a trailing newline is ignored)
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub password_file: Option<PathBuf>,
    /// libpq URL postgresql://user:pass@host:port/db?sslmode=… (keys set explicitly win over its parts)
    #[arg(long, value_parser = secret)]
    #[serde(with = "value::secret")]
    pub url: Option<SecretString>,
    /// TLS to PostgreSQL [default: prefer]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub sslmode: Option<SslMode>,
    /// CA certificate(s) (PEM) to verify PostgreSQL's certificate with
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate (PEM) for PostgreSQL
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub sslcert: Option<PathBuf>,
    /// Client certificate's private key (PEM)
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub sslkey: Option<PathBuf>,
    /// Default schema for unqualified names [default: public]
    #[arg(long)]
    #[serde(with = "value::text")]
    pub schema: Option<String>,
    /// How long to wait for a PostgreSQL connection, e.g. 30s [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub connect_timeout: Option<Duration>,
    /// Longest a statement may run, e.g. 5m [default: 300s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub statement_timeout: Option<Duration>,
    /// Rows per Arrow record batch [default: 10000]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub batch_size: Option<usize>,
    /// Most PostgreSQL connections in the pool [default: 10]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub max_connections: Option<usize>,
    /// Close pooled connections idle this long [default: 300s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub idle_timeout: Option<Duration>,
    /// Log level [default: info]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub log_level: Option<LogLevel>,
    /// Log format [default: text]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub log_format: Option<LogFormat>,
    /// Address for Flight SQL and the HTTP endpoints [default: 0.0.0.0:8080]
    #[arg(long, value_name = "ADDR")]
    #[serde(with = "value::address")]
    pub listen: Option<SocketAddr>,
    /// Serve /metrics, /healthz and /readyz on this address instead
    #[arg(long, value_name = "ADDR")]
    #[serde(with = "value::address")]
    pub metrics_listen: Option<SocketAddr>,
    /// Certificate chain (PEM) for TLS on the Flight endpoint
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for TLS on the Flight endpoint
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub tls_key: Option<PathBuf>,
    /// CA (PEM) whose client certificates are required (mutual TLS)
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub tls_client_ca: Option<PathBuf>,
    /// Client authentication on the Flight endpoint [default: none]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub auth: Option<AuthMode>,
    /// What a numeric NaN/Infinity becomes [default: error]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub numeric_nan: Option<NumericNan>,
    /// How PostgreSQL arrays are delivered [default: list]
    #[arg(long)]
    #[serde(with = "value::word")]
    pub arrays: Option<ArrayFormat>,
    /// Split tables with at least this many rows into several endpoints [default: 1000000]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub partition_min_rows: Option<usize>,
    /// Most endpoints per request; 1 turns splitting off [default: 4]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub max_partitions: Option<usize>,
    /// How long a split request's shared snapshot is held open, e.g. 60s [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub snapshot_ttl: Option<Duration>,
    /// Warn when a change slot retains more WAL bytes than this [default: 1073741824]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub slot_lag_warn_bytes: Option<usize>,
    /// How often change slots' lag is measured, e.g. 60s [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub slot_check_interval: Option<Duration>,
    /// Longest a RenewFlightEndpoint may keep a split request's snapshot, e.g. 10m [default: 10m]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub snapshot_max_ttl: Option<Duration>,
    /// Flight locations of the instances behind this service (`grpc+tls://host:port`, …), put on
    /// the endpoints of split reads, comma-separated or a JSON list [default: none]
    #[arg(long, value_name = "LOCATIONS", value_parser = locations)]
    #[serde(with = "value::locations")]
    pub advertise: Option<Locations>,
    /// Key that signs tickets (prefer PGFLIGHT_TICKET_SECRET or the file) [default: random]
    #[arg(long, value_parser = secret)]
    #[serde(with = "value::secret")]
    pub ticket_secret: Option<SecretString>,
    /// How long a ticket stays valid, e.g. 1h [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub ticket_ttl: Option<Duration>,
    /// How long a client's session options (SetSessionOptions) last, e.g. 8h [default: 8h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub session_ttl: Option<Duration>,
    /// auth = "password": file of `name:hash` lines
    #[arg(long, value_name = "PATH")]
    #[serde(with = "value::path")]
    pub users_file: Option<PathBuf>,
    /// How long a Handshake's bearer token stays valid, e.g. 1h [default: 1h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    #[serde(with = "value::duration")]
    pub token_ttl: Option<Duration>,
    /// Whether /metrics and /readyz need credentials when auth is on [default: true]
    #[arg(long)]
    #[serde(with = "value::boolean")]
    pub metrics_auth: Option<bool>,
    /// Serve even when the role is a superuser, has BYPASSRLS or reaches server files (warns) [default: false]
    #[arg(long)]
    #[serde(with = "value::boolean")]
    pub allow_superuser: Option<bool>,
    /// More functions the statement guard refuses (auth none/password), comma-separated; `*` matches any characters
    #[arg(long, value_name = "NAMES", value_parser = function_names)]
    #[serde(with = "value::function_names")]
    pub deny_functions: Option<FunctionNames>,
    /// Write one audit line per Flight call (user, client, method, relation or SQL fingerprint, rows, bytes, duration, status) [default: false]
    #[arg(long)]
    #[serde(with = "value::boolean")]
    pub audit: Option<bool>,
    /// Most DoGet streams one user may run at once; more are RESOURCE_EXHAUSTED [default: unlimited]
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[serde(with = "value::count")]
    pub max_streams_per_user: Option<usize>,
    /// Export traces (OTLP over gRPC, plain http://) to this collector, e.g. http://127.0.0.1:4317 [default: off]
    #[arg(long, value_name = "URL")]
    #[serde(with = "value::otlp_endpoint")]
    pub otlp_endpoint: Option<String>,
}

/// A list of function names (an alias, so that clap takes `--deny-functions a,b` as one value).
pub type FunctionNames = Vec<String>;

/// clap parser for `--deny-functions`.
fn function_names(text: &str) -> Result<FunctionNames, value::function_names::BadFunctionName> {
    value::function_names::parse(text.split(',').map(str::to_owned).collect())
}

/// A list of Flight locations (an alias, so that clap takes `--advertise a,b` as one value).
pub type Locations = Vec<String>;

/// clap parser for `--advertise`.
fn locations(text: &str) -> Result<Locations, value::locations::BadLocation> {
    value::locations::parse(value::locations::split(text)?)
}

/// clap parser for secret flags: any text is a secret.
fn secret(text: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(text))
}

/// A duration flag's value that is not a duration; clap shows it after the flag's name.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not {DURATION_EXPECTED}")]
struct NotADuration(String);

/// clap parser for duration flags.
fn duration(text: &str) -> Result<Duration, NotADuration> {
    parse_duration(text).ok_or_else(|| NotADuration(text.to_owned()))
}

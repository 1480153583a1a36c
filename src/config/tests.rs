//! Loading from every source, precedence, the url rule, and the error texts.
//! The environment is always injected: the real process environment is never read here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use secrecy::ExposeSecret;
use tempfile::TempDir;

use super::*;

/// The seed connector's README example, verbatim.
const SEED_YAML: &str = "\
host: localhost
port: 5432
database: mydb
username: postgres
password: secret
sslmode: require
schema: public
connect_timeout: 30s
statement_timeout: 300s
";

/// A minimal valid TOML file.
const MINIMAL_TOML: &str = r#"
host = "filehost"
database = "filedb"
username = "fileuser"
"#;

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Loads with an explicit environment and a default file that does not exist.
fn load(
    file: Option<&Path>,
    flags: &ConfigFlags,
    env: &[(&str, &str)],
) -> Result<Config, ConfigError> {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_from(
        file,
        flags,
        env,
        Path::new("/nonexistent/pgflight/flight.toml"),
    )
}

/// Loads a file of the given name and content with no environment and no flags.
fn load_file(name: &str, text: &str) -> Result<Config, ConfigError> {
    let dir = TempDir::new().unwrap();
    let path = write(&dir, name, text);
    load(Some(&path), &ConfigFlags::default(), &[])
}

fn error(result: Result<Config, ConfigError>) -> String {
    result
        .expect_err("configuration should be refused")
        .to_string()
}

const BASE_ENV: &[(&str, &str)] = &[
    ("PGHOST", "envhost"),
    ("PGDATABASE", "envdb"),
    ("PGUSER", "envuser"),
];

mod deployment;
mod files;
mod precedence;
mod refusals;
mod url_and_secrets;

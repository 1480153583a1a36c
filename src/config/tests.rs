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

#[test]
fn the_seed_yaml_example_loads_unchanged() {
    let config = load_file("seed.yaml", SEED_YAML).unwrap();
    assert_eq!(config.host, "localhost");
    assert_eq!(config.port, 5432);
    assert_eq!(config.database, "mydb");
    assert_eq!(config.username, "postgres");
    assert_eq!(config.password().unwrap().expose_secret(), "secret");
    assert_eq!(config.sslmode, SslMode::Require);
    assert_eq!(config.schema, "public");
    assert_eq!(config.connect_timeout, Duration::from_secs(30));
    assert_eq!(config.statement_timeout, Duration::from_secs(300));
    // And the README's other snippets, with the .yml extension.
    let more = format!(
        "{SEED_YAML}batch_size: 10000\nmax_connections: 10\nidle_timeout: 300s\nlog_level: debug\n"
    );
    let config = load_file("seed.yml", &more).unwrap();
    assert_eq!(config.idle_timeout, Duration::from_secs(300));
    assert_eq!(config.log_level, LogLevel::Debug);
}

#[test]
fn a_toml_file_sets_every_key() {
    let dir = TempDir::new().unwrap();
    let pw = write(&dir, "pw", "from-file\n");
    let toml = format!(
        r#"
host = "db.internal"
port = 6543
database = "sales"
username = "reader"
password_file = "{}"
sslmode = "verify-full"
sslrootcert = "/ca.pem"
sslcert = "/client.pem"
sslkey = "/client.key"
schema = "app"
connect_timeout = "1m"
statement_timeout = "1h 30m"
batch_size = 500
max_connections = 3
idle_timeout = "250ms"
log_level = "trace"
log_format = "json"
listen = "127.0.0.1:9000"
metrics_listen = "127.0.0.1:9187"
tls_cert = "/server.pem"
tls_key = "/server.key"
tls_client_ca = "/clients.pem"
auth = "postgres"
numeric_nan = "null"
arrays = "json"
"#,
        pw.display()
    );
    let path = write(&dir, "pgflight.toml", &toml);
    let c = load(Some(&path), &ConfigFlags::default(), &[]).unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.database.as_str()),
        ("db.internal", 6543, "sales")
    );
    assert_eq!(c.username, "reader");
    assert_eq!(c.password().unwrap().expose_secret(), "from-file");
    assert_eq!(c.password_file.as_deref(), Some(pw.as_path()));
    assert_eq!(c.sslmode, SslMode::VerifyFull);
    assert_eq!(c.sslrootcert.as_deref(), Some(Path::new("/ca.pem")));
    assert_eq!(c.sslcert.as_deref(), Some(Path::new("/client.pem")));
    assert_eq!(c.sslkey.as_deref(), Some(Path::new("/client.key")));
    assert_eq!(c.schema, "app");
    assert_eq!(c.connect_timeout, Duration::from_secs(60));
    assert_eq!(c.statement_timeout, Duration::from_secs(5400));
    assert_eq!((c.batch_size, c.max_connections), (500, 3));
    assert_eq!(c.idle_timeout, Duration::from_millis(250));
    assert_eq!(
        (c.log_level, c.log_format),
        (LogLevel::Trace, LogFormat::Json)
    );
    assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(c.metrics_listen.unwrap().to_string(), "127.0.0.1:9187");
    assert_eq!(c.tls_cert.as_deref(), Some(Path::new("/server.pem")));
    assert_eq!(c.tls_key.as_deref(), Some(Path::new("/server.key")));
    assert_eq!(c.tls_client_ca.as_deref(), Some(Path::new("/clients.pem")));
    assert_eq!(c.auth, AuthMode::Postgres);
    assert_eq!(c.numeric_nan, NumericNan::Null);
    assert_eq!(c.arrays, ArrayFormat::Json);
}

#[test]
fn unset_keys_take_their_defaults() {
    let c = load_file("min.toml", MINIMAL_TOML).unwrap();
    let d = Config::new("filehost", 5432, "filedb", "fileuser");
    assert_eq!(format!("{c:?}"), format!("{d:?}"));
    assert_eq!(c.port, 5432);
    assert_eq!(c.sslmode, SslMode::Prefer);
    assert_eq!(c.schema, "public");
    assert_eq!(c.connect_timeout, Duration::from_secs(30));
    assert_eq!(c.statement_timeout, Duration::from_secs(300));
    assert_eq!((c.batch_size, c.max_connections), (10_000, 10));
    assert_eq!(c.idle_timeout, Duration::from_secs(300));
    assert_eq!(c.session_ttl, Duration::from_secs(8 * 3600));
    assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(
        (c.snapshot_ttl, c.snapshot_max_ttl),
        (Duration::from_secs(60), Duration::from_secs(600))
    );
    assert!(c.password.is_none() && c.metrics_listen.is_none() && c.url.is_none());
}

#[test]
fn the_repository_flight_toml_loads_and_documents_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("flight.toml");
    let config = load(Some(&path), &ConfigFlags::default(), &[]).unwrap();
    assert_eq!(config.host, "localhost");
    assert_eq!(config.database, "mydb");
    assert_eq!(config.sslmode, SslMode::Prefer);
    let text = std::fs::read_to_string(&path).unwrap();
    for key in keys() {
        let documented = text.lines().any(|line| {
            let line = line.trim_start_matches(['#', ' ']);
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        });
        assert!(documented, "flight.toml does not document {key}");
    }
}

#[test]
fn keys_list_matches_the_config_fields() {
    let debug = format!("{:?}", Config::new("h", 1, "d", "u"));
    let fields = debug.matches(": ").count();
    assert_eq!(fields, keys().len(), "{debug}");
    for key in keys() {
        assert!(
            debug.contains(&format!(" {key}: ")),
            "{key} not a field: {debug}"
        );
    }
}

#[test]
fn every_key_is_a_flag_and_config_is_only_a_flag() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ConfigFlags,
    }
    use clap::CommandFactory;
    let command = Cli::command();
    let mut flags: Vec<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_long())
        .filter(|long| *long != "help")
        .map(|long| long.replace('-', "_"))
        .collect();
    flags.sort();
    let mut expected: Vec<String> = keys().iter().map(|k| k.to_string()).collect();
    expected.push("config".into());
    expected.sort();
    assert_eq!(flags, expected);
    let msg = error(load_file(
        "f.toml",
        &format!("{MINIMAL_TOML}config = \"other.toml\"\n"),
    ));
    assert!(msg.starts_with("unknown key \"config\" in "), "{msg}");
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let dir = TempDir::new().unwrap();
    let path = write(
        &dir,
        "f.toml",
        &format!("{MINIMAL_TOML}port = 1111\nschema = \"s_file\"\n"),
    );
    let env = [("PGFLIGHT_PORT", "2222"), ("POSTGRES_SCHEMA", "s_env")];
    let c = load(Some(&path), &ConfigFlags::default(), &env).unwrap();
    assert_eq!(
        (c.port, c.schema.as_str(), c.host.as_str()),
        (2222, "s_env", "filehost")
    );

    let flags = ConfigFlags {
        port: Some(3333),
        batch_size: Some(7),
        ..ConfigFlags::default()
    };
    let c = load(Some(&path), &flags, &env).unwrap();
    assert_eq!(
        (c.port, c.schema.as_str(), c.batch_size),
        (3333, "s_env", 7)
    );
}

#[test]
fn environment_layers_libpq_then_seed_then_pgflight() {
    let none = ConfigFlags::default();
    let libpq = load(
        None,
        &none,
        &[
            ("PGHOST", "h1"),
            ("PGPORT", "5001"),
            ("PGDATABASE", "d1"),
            ("PGUSER", "u1"),
            ("PGPASSWORD", "p1"),
            ("PGSSLMODE", "disable"),
            ("PGCONNECT_TIMEOUT", "10"),
        ],
    )
    .unwrap();
    assert_eq!(
        (libpq.host.as_str(), libpq.port, libpq.database.as_str()),
        ("h1", 5001, "d1")
    );
    assert_eq!(libpq.username, "u1");
    assert_eq!(libpq.password().unwrap().expose_secret(), "p1");
    assert_eq!(libpq.sslmode, SslMode::Disable);
    assert_eq!(libpq.connect_timeout, Duration::from_secs(10));

    // The seed's Docker line.
    let seed = load(
        None,
        &none,
        &[
            ("POSTGRES_HOST", "h2"),
            ("POSTGRES_PORT", "5002"),
            ("POSTGRES_DATABASE", "d2"),
            ("POSTGRES_USERNAME", "u2"),
            ("POSTGRES_PASSWORD", "p2"),
            ("POSTGRES_SSLMODE", "require"),
            ("POSTGRES_SCHEMA", "app"),
            ("PGHOST", "loses"),
        ],
    )
    .unwrap();
    assert_eq!(
        (seed.host.as_str(), seed.port, seed.database.as_str()),
        ("h2", 5002, "d2")
    );
    assert_eq!(seed.username, "u2");
    assert_eq!(seed.password().unwrap().expose_secret(), "p2");
    assert_eq!(
        (seed.sslmode, seed.schema.as_str()),
        (SslMode::Require, "app")
    );

    let ours = load(
        None,
        &none,
        &[
            ("PGHOST", "loses"),
            ("POSTGRES_HOST", "loses too"),
            ("PGFLIGHT_HOST", "h3"),
            ("PGFLIGHT_DATABASE", "d3"),
            ("PGFLIGHT_USERNAME", "u3"),
        ],
    )
    .unwrap();
    assert_eq!(ours.host, "h3");
}

#[test]
fn every_key_can_be_set_by_a_pgflight_variable() {
    let dir = TempDir::new().unwrap();
    let pw = write(&dir, "pw", "pf\r\n");
    let pw = pw.to_str().unwrap();
    let env = [
        ("PGFLIGHT_HOST", "h"),
        ("PGFLIGHT_PORT", "7000"),
        ("PGFLIGHT_DATABASE", "d"),
        ("PGFLIGHT_USERNAME", "u"),
        ("PGFLIGHT_PASSWORD_FILE", pw),
        ("PGFLIGHT_SSLMODE", "verify-ca"),
        ("PGFLIGHT_SSLROOTCERT", "/ca"),
        ("PGFLIGHT_SSLCERT", "/c"),
        ("PGFLIGHT_SSLKEY", "/k"),
        ("PGFLIGHT_SCHEMA", "s"),
        ("PGFLIGHT_CONNECT_TIMEOUT", "5s"),
        ("PGFLIGHT_STATEMENT_TIMEOUT", "2.5"),
        ("PGFLIGHT_BATCH_SIZE", "42"),
        ("PGFLIGHT_MAX_CONNECTIONS", "4"),
        ("PGFLIGHT_IDLE_TIMEOUT", "1m"),
        ("PGFLIGHT_LOG_LEVEL", "WARN"),
        ("PGFLIGHT_LOG_FORMAT", "json"),
        ("PGFLIGHT_LISTEN", "[::]:8081"),
        ("PGFLIGHT_METRICS_LISTEN", "127.0.0.1:9000"),
        ("PGFLIGHT_TLS_CERT", "/t.pem"),
        ("PGFLIGHT_TLS_KEY", "/t.key"),
        ("PGFLIGHT_TLS_CLIENT_CA", "/ca.pem"),
        ("PGFLIGHT_AUTH", "password"),
        ("PGFLIGHT_NUMERIC_NAN", "null"),
        ("PGFLIGHT_ARRAYS", "json"),
        ("PGFLIGHT_PARTITION_MIN_ROWS", "500"),
        ("PGFLIGHT_MAX_PARTITIONS", "3"),
        ("PGFLIGHT_SNAPSHOT_TTL", "30s"),
        ("PGFLIGHT_SLOT_LAG_WARN_BYTES", "4096"),
        ("PGFLIGHT_SLOT_CHECK_INTERVAL", "5s"),
        ("PGFLIGHT_SNAPSHOT_MAX_TTL", "15m"),
        ("PGFLIGHT_TICKET_SECRET", "shh"),
        ("PGFLIGHT_TICKET_TTL", "10m"),
        ("PGFLIGHT_SESSION_TTL", "30m"),
        ("PGFLIGHT_USERS_FILE", "/users"),
        ("PGFLIGHT_TOKEN_TTL", "2h"),
        ("PGFLIGHT_METRICS_AUTH", "false"),
    ];
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!((c.partition_min_rows, c.max_partitions), (500, 3));
    assert_eq!(c.snapshot_ttl, Duration::from_secs(30));
    assert_eq!(
        (c.slot_lag_warn_bytes, c.slot_check_interval),
        (4096, Duration::from_secs(5))
    );
    assert_eq!(c.snapshot_max_ttl, Duration::from_secs(900));
    assert_eq!(c.ticket_secret.as_ref().unwrap().expose_secret(), "shh");
    assert!(!format!("{c:?}").contains("shh"));
    assert_eq!(
        (c.ticket_ttl, c.session_ttl, c.token_ttl),
        (
            Duration::from_secs(600),
            Duration::from_secs(1800),
            Duration::from_secs(7200)
        )
    );
    assert_eq!(
        c.users_file.as_deref(),
        Some(std::path::Path::new("/users"))
    );
    assert!(!c.metrics_auth);
    assert_eq!(c.summary(), "h:7000/d as u, sslmode=verify-ca");
    assert_eq!(c.password().unwrap().expose_secret(), "pf");
    assert_eq!(c.statement_timeout, Duration::from_millis(2500));
    assert_eq!((c.batch_size, c.max_connections), (42, 4));
    assert_eq!(c.log_level, LogLevel::Warn);
    assert_eq!(c.listen.to_string(), "[::]:8081");
    assert_eq!(
        (c.auth, c.numeric_nan, c.arrays),
        (AuthMode::Password, NumericNan::Null, ArrayFormat::Json)
    );

    let with_url = load(
        None,
        &ConfigFlags::default(),
        &[
            ("PGFLIGHT_URL", "postgresql://uu:pp@hh/dd"),
            ("PGFLIGHT_PASSWORD", "explicit"),
        ],
    )
    .unwrap();
    assert_eq!(with_url.summary(), "hh:5432/dd as uu, sslmode=prefer");
    assert_eq!(with_url.password().unwrap().expose_secret(), "explicit");
}

#[test]
fn empty_variables_count_as_unset() {
    let env = [
        ("PGHOST", "h"),
        ("PGDATABASE", "d"),
        ("PGUSER", "u"),
        ("PGFLIGHT_PORT", ""),
        ("POSTGRES_SSLMODE", ""),
    ];
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!((c.port, c.sslmode), (5432, SslMode::Prefer));
}

#[test]
fn flags_parse_with_clap_and_override_everything() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ConfigFlags,
    }
    use clap::CommandFactory;
    Cli::command().debug_assert();
    let cli = Cli::try_parse_from([
        "pgflight",
        "--host",
        "fh",
        "--port",
        "6000",
        "--database",
        "fd",
        "--username",
        "fu",
        "--password",
        "fp",
        "--sslmode",
        "verify-full",
        "--sslrootcert",
        "/ca",
        "--connect-timeout",
        "1m",
        "--statement-timeout",
        "90",
        "--batch-size",
        "5",
        "--max-connections",
        "2",
        "--idle-timeout",
        "10s",
        "--log-level",
        "debug",
        "--log-format",
        "json",
        "--listen",
        "127.0.0.1:1",
        "--metrics-listen",
        "127.0.0.1:2",
        "--tls-cert",
        "/c",
        "--tls-key",
        "/k",
        "--tls-client-ca",
        "/a",
        "--auth",
        "postgres",
        "--numeric-nan",
        "null",
        "--arrays",
        "json",
        "--schema",
        "fs",
        "--sslcert",
        "/sc",
        "--sslkey",
        "/sk",
    ])
    .unwrap();
    assert!(!format!("{:?}", cli.flags).contains("fp"));
    let env = [
        ("PGFLIGHT_HOST", "eh"),
        ("PGFLIGHT_PORT", "1"),
        ("PGFLIGHT_BATCH_SIZE", "9"),
    ];
    let c = load(None, &cli.flags, &env).unwrap();
    assert_eq!(c.summary(), "fh:6000/fd as fu, sslmode=verify-full");
    assert_eq!(c.password().unwrap().expose_secret(), "fp");
    assert_eq!(c.connect_timeout, Duration::from_secs(60));
    assert_eq!(c.statement_timeout, Duration::from_secs(90));
    assert_eq!(c.idle_timeout, Duration::from_secs(10));
    assert_eq!(
        (c.batch_size, c.max_connections, c.schema.as_str()),
        (5, 2, "fs")
    );
    assert_eq!(
        (c.log_level, c.log_format),
        (LogLevel::Debug, LogFormat::Json)
    );
    assert_eq!(
        (c.auth, c.numeric_nan, c.arrays),
        (AuthMode::Postgres, NumericNan::Null, ArrayFormat::Json)
    );
    assert_eq!(c.metrics_listen.unwrap().to_string(), "127.0.0.1:2");

    let bad = Cli::try_parse_from(["pgflight", "--connect-timeout", "ten"])
        .err()
        .unwrap();
    assert!(
        bad.to_string().contains("\"ten\" is not a duration"),
        "{bad}"
    );
    assert!(Cli::try_parse_from(["pgflight", "--sslmode", "verify"]).is_err());
    assert!(Cli::try_parse_from(["pgflight", "--batch-size", "0"]).is_err());
}

#[test]
fn the_config_file_comes_from_the_argument_then_flag_then_variable_then_default() {
    let dir = TempDir::new().unwrap();
    let file = |name: &str, host: &str| {
        write(
            &dir,
            name,
            &format!("host = \"{host}\"\ndatabase = \"d\"\nusername = \"u\"\n"),
        )
    };
    let (arg, flag, var, default) = (
        file("a.toml", "arg"),
        file("f.toml", "flag"),
        file("v.toml", "var"),
        file("flight.toml", "default"),
    );
    let flags = ConfigFlags {
        config: Some(flag.clone()),
        ..ConfigFlags::default()
    };
    let env = vec![("PGFLIGHT_CONFIG".to_string(), var.display().to_string())];
    let host = |file: Option<&Path>, flags: &ConfigFlags, env: Vec<(String, String)>| {
        load_from(file, flags, env, &default).unwrap().host
    };
    let none = ConfigFlags::default();
    assert_eq!(host(Some(&arg), &flags, env.clone()), "arg");
    assert_eq!(host(None, &flags, env.clone()), "flag");
    assert_eq!(host(None, &none, env), "var");
    assert_eq!(host(None, &none, vec![]), "default");
    // No file at all is fine when the environment says enough.
    let env = BASE_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = load_from(None, &none, env, &dir.path().join("absent.toml")).unwrap();
    assert_eq!(config.host, "envhost");
}

#[test]
fn file_problems_name_the_file() {
    let dir = TempDir::new().unwrap();
    let ini = write(&dir, "pgflight.ini", "host=x");
    let msg = error(load(Some(&ini), &ConfigFlags::default(), &[]));
    assert!(
        msg.starts_with("config file ")
            && msg.ends_with("pgflight.ini: the name must end in .toml, .yaml or .yml"),
        "{msg}"
    );
    let missing = dir.path().join("missing.toml");
    let msg = error(load(Some(&missing), &ConfigFlags::default(), &[]));
    assert!(msg.contains("missing.toml: cannot read it:"), "{msg}");
    // A syntax error points at the place but never quotes the line (it may hold a password).
    let msg = error(load_file(
        "bad.toml",
        "host = \"h\"\npassword = \"hunter2\n",
    ));
    assert!(msg.contains("bad.toml: not valid TOML at line 2"), "{msg}");
    assert!(!msg.contains("hunter2") && !msg.contains('\n'), "{msg}");
    let msg = error(load_file("bad.yaml", "host: h\npassword: \"hunter2\n"));
    assert!(msg.contains("bad.yaml: not valid YAML"), "{msg}");
    assert!(!msg.contains("hunter2") && !msg.contains('\n'), "{msg}");
    // An empty or comment-only file is an empty configuration.
    let env = BASE_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
    for (name, text) in [("e.yaml", ""), ("c.yaml", "# nothing\n"), ("e.toml", "")] {
        let path = write(&dir, name, text);
        let c = load_from(
            Some(&path),
            &ConfigFlags::default(),
            env.clone(),
            Path::new("/nonexistent"),
        )
        .unwrap();
        assert_eq!(c.host, "envhost");
    }
}

#[test]
fn unknown_keys_are_errors_in_files_and_pgflight_variables() {
    let msg = error(load_file(
        "flight.toml",
        &format!("{MINIMAL_TOML}hots = \"x\"\n"),
    ));
    assert!(msg.starts_with("unknown key \"hots\" in "), "{msg}");
    assert!(
        msg.contains("flight.toml (known keys: host, port, database, username, password,"),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "ticket_ttl, session_ttl, users_file, token_ttl, metrics_auth, allow_superuser, deny_functions, audit, max_streams_per_user, otlp_endpoint)"
        ),
        "{msg}"
    );
    let msg = error(load_file("c.yaml", "host: h\npostgres:\n  port: 1\n"));
    assert!(msg.starts_with("unknown key \"postgres\" in "), "{msg}");

    let msg = error(load(
        None,
        &ConfigFlags::default(),
        &[("PGFLIGHT_HOTS", "x")],
    ));
    assert!(
        msg.starts_with(
            "unknown key \"hots\" in environment variable PGFLIGHT_HOTS (known keys: host, port,"
        ),
        "{msg}"
    );
    // Other variables of libpq or the seed that pgflight does not use are ignored.
    let mut env = BASE_ENV.to_vec();
    env.extend([
        ("PGAPPNAME", "x"),
        ("POSTGRES_DB", "y"),
        ("PGPASSFILE", "z"),
    ]);
    load(None, &ConfigFlags::default(), &env).unwrap();
}

#[test]
fn bad_words_name_the_key_value_allowed_words_and_origin() {
    let msg = error(load_file(
        "f.toml",
        &format!("{MINIMAL_TOML}sslmode = \"verify\"\n"),
    ));
    assert!(
        msg.starts_with("sslmode: \"verify\" is not one of disable, prefer, require, verify-ca, verify-full (from "),
        "{msg}"
    );
    assert!(msg.ends_with("f.toml)"), "{msg}");
    let mut env = BASE_ENV.to_vec();
    env.push(("PGSSLMODE", "allow"));
    assert_eq!(
        error(load(None, &ConfigFlags::default(), &env)),
        "sslmode: \"allow\" is not one of disable, prefer, require, verify-ca, verify-full (from PGSSLMODE)"
    );
    let msg = error(load_file(
        "f.yaml",
        "host: h\ndatabase: d\nusername: u\nlog_level: loud\n",
    ));
    assert!(
        msg.starts_with("log_level: \"loud\" is not one of error, warn, info, debug, trace"),
        "{msg}"
    );
    let msg = error(load_file("f.toml", &format!("{MINIMAL_TOML}sslmode = 1\n")));
    assert!(msg.starts_with("sslmode: \"1\" is not one of"), "{msg}");
}

#[test]
fn bad_values_name_the_key_value_and_what_is_allowed() {
    let cases = [
        (
            "connect_timeout = \"ten\"",
            "connect_timeout: \"ten\" is not a duration (examples: 30s, 5m, 1500ms, or a number of seconds)",
        ),
        (
            "idle_timeout = -1",
            "idle_timeout: \"-1\" is not a duration",
        ),
        (
            "port = 70000",
            "port: \"70000\" is not a port number (1-65535)",
        ),
        (
            "port = \"http\"",
            "port: \"http\" is not a port number (1-65535)",
        ),
        (
            "batch_size = 0",
            "batch_size: \"0\" is not a whole number of at least 1",
        ),
        (
            "max_connections = 2.5",
            "max_connections: \"2.5\" is not a whole number of at least 1",
        ),
        (
            "listen = \"localhost:8080\"",
            "listen: \"localhost:8080\" is not an IP address and port",
        ),
        (
            "schema = [\"a\"]",
            "schema: expected a single value, found a list",
        ),
        (
            "password = { a = 1 }",
            "password: expected a single value, found a table",
        ),
    ];
    for (line, expected) in cases {
        let msg = error(load_file("f.toml", &format!("{MINIMAL_TOML}{line}\n")));
        assert!(msg.starts_with(expected), "{line}: {msg}");
        assert!(!msg.contains('\n'));
    }
    let mut env = BASE_ENV.to_vec();
    env.push(("PGFLIGHT_STATEMENT_TIMEOUT", "soon"));
    assert_eq!(
        error(load(None, &ConfigFlags::default(), &env)),
        "statement_timeout: \"soon\" is not a duration (examples: 30s, 5m, 1500ms, or a number of seconds) (from PGFLIGHT_STATEMENT_TIMEOUT)"
    );
}

#[test]
fn bare_numbers_are_seconds_in_every_source() {
    let c = load_file(
        "f.toml",
        &format!(
            "{MINIMAL_TOML}connect_timeout = 30\nstatement_timeout = 1.5\nidle_timeout = \"45\"\n"
        ),
    )
    .unwrap();
    assert_eq!(c.connect_timeout, Duration::from_secs(30));
    assert_eq!(c.statement_timeout, Duration::from_millis(1500));
    assert_eq!(c.idle_timeout, Duration::from_secs(45));
    let c = load_file("f.yaml", "host: h\ndatabase: d\nusername: u\nconnect_timeout: 12\nstatement_timeout: 0.25\nidle_timeout: 5m\n").unwrap();
    assert_eq!(c.connect_timeout, Duration::from_secs(12));
    assert_eq!(c.statement_timeout, Duration::from_millis(250));
    assert_eq!(c.idle_timeout, Duration::from_secs(300));
    let mut env = BASE_ENV.to_vec();
    env.extend([("PGCONNECT_TIMEOUT", "7"), ("PGFLIGHT_IDLE_TIMEOUT", "0")]);
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!(c.connect_timeout, Duration::from_secs(7));
    assert_eq!(c.idle_timeout, Duration::ZERO);
}

#[test]
fn url_is_expanded_and_explicit_keys_win_over_its_parts() {
    let url = "postgresql://app:s3cr%40t@urlhost:6000/urldb?sslmode=require&connect_timeout=15";
    let c = load(None, &ConfigFlags::default(), &[("PGFLIGHT_URL", url)]).unwrap();
    assert_eq!(c.summary(), "urlhost:6000/urldb as app, sslmode=require");
    assert_eq!(c.password().unwrap().expose_secret(), "s3cr@t");
    assert_eq!(c.connect_timeout, Duration::from_secs(15));
    assert_eq!(c.url.as_ref().unwrap().expose_secret(), url);

    // A key in the file beats the part of a URL given as a flag; so does libpq's variable.
    let dir = TempDir::new().unwrap();
    let path = write(&dir, "f.toml", "port = 7777\nsslmode = \"disable\"\n");
    let flags = ConfigFlags {
        url: Some(url.into()),
        ..ConfigFlags::default()
    };
    let c = load(
        Some(&path),
        &flags,
        &[("PGHOST", "envhost"), ("PGPASSWORD", "envpw")],
    )
    .unwrap();
    assert_eq!(c.summary(), "envhost:7777/urldb as app, sslmode=disable");
    assert_eq!(c.password().unwrap().expose_secret(), "envpw");

    // A password_file beats the URL's password without conflict.
    let pw = write(&dir, "pw", "frompf\n");
    let flags = ConfigFlags {
        url: Some(url.into()),
        password_file: Some(pw),
        ..ConfigFlags::default()
    };
    let c = load(None, &flags, &[]).unwrap();
    assert_eq!(c.password().unwrap().expose_secret(), "frompf");

    // The postgres:// scheme and a URL in a YAML file.
    let c = load_file("u.yaml", "url: postgres://bob@[::1]/x\n").unwrap();
    assert_eq!(c.summary(), "[::1]:5432/x as bob, sslmode=prefer");
}

#[test]
fn bad_urls_are_refused_without_quoting_them() {
    for (url, expected) in [
        (
            "http://u:hunter2@h/db",
            "url: the scheme is \"http\"; it must be postgresql:// or postgres:// (from PGFLIGHT_URL)",
        ),
        (
            "postgresql://u:hunter2@h:nope/db",
            "url: not a valid URL (invalid port number) (from PGFLIGHT_URL)",
        ),
        (
            "postgresql://u:hunter2@h/db?sslmode=verify",
            "sslmode: \"verify\" is not one of disable, prefer, require, verify-ca, verify-full (from url)",
        ),
        (
            "postgresql://u:hunter2@h/db?options=-cx",
            "url: parameter \"options\" is not supported",
        ),
    ] {
        let msg = error(load(
            None,
            &ConfigFlags::default(),
            &[("PGFLIGHT_URL", url)],
        ));
        assert!(msg.starts_with(expected), "{url}: {msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }
    let msg = error(load(
        None,
        &ConfigFlags::default(),
        &[("PGFLIGHT_URL", "postgresql:///db?user=u")],
    ));
    assert!(msg.starts_with("host is required"), "{msg}");
}

#[test]
fn password_file_is_read_trimmed_and_exclusive_with_password() {
    let dir = TempDir::new().unwrap();
    let pw = write(&dir, "pw", "  spaced pass \n\n");
    let flags = ConfigFlags {
        password_file: Some(pw.clone()),
        ..ConfigFlags::default()
    };
    let c = load(None, &flags, BASE_ENV).unwrap();
    assert_eq!(c.password().unwrap().expose_secret(), "  spaced pass ");

    let missing = dir.path().join("nope");
    let flags = ConfigFlags {
        password_file: Some(missing.clone()),
        ..ConfigFlags::default()
    };
    let msg = error(load(None, &flags, BASE_ENV));
    assert!(
        msg.starts_with(&format!(
            "password_file: cannot read {}: ",
            missing.display()
        )),
        "{msg}"
    );
    assert!(msg.ends_with("(from --password-file)"), "{msg}");

    let empty = write(&dir, "empty", "\n");
    let flags = ConfigFlags {
        password_file: Some(empty),
        ..ConfigFlags::default()
    };
    assert!(error(load(None, &flags, BASE_ENV)).contains("the file is empty"));

    let mut env = BASE_ENV.to_vec();
    env.push(("PGPASSWORD", "hunter2"));
    let flags = ConfigFlags {
        password_file: Some(pw),
        ..ConfigFlags::default()
    };
    let msg = error(load(None, &flags, &env));
    assert_eq!(
        msg,
        "password and password_file are both set (password from PGPASSWORD, password_file from --password-file); set only one"
    );
}

#[test]
fn passwords_never_appear_in_debug_output_or_errors() {
    let url = "postgresql://u:urlsecret@h/d";
    let c = load(None, &ConfigFlags::default(), &[("PGFLIGHT_URL", url)]).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("urlsecret"), "{debug}");
    assert!(!c.summary().contains("urlsecret"));
    let c = load(
        None,
        &ConfigFlags::default(),
        &[
            ("PGHOST", "h"),
            ("PGDATABASE", "d"),
            ("PGUSER", "u"),
            ("PGPASSWORD", "envsecret"),
        ],
    )
    .unwrap();
    assert!(!format!("{c:?}").contains("envsecret"));
    assert!(!format!("{c:#?}").contains("envsecret"));

    // Every kind of failure, with a password set in every way.
    let dir = TempDir::new().unwrap();
    let password_toml = format!("{MINIMAL_TOML}password = \"filesecret\"\n");
    let path = write(&dir, "f.toml", &password_toml);
    let secret_env = [
        ("PGPASSWORD", "envsecret"),
        ("PGFLIGHT_URL", "postgresql://u:urlsecret@h/d"),
    ];
    let broken: [&[(&str, &str)]; 5] = [
        &[("PGFLIGHT_SSLMODE", "nope")],
        &[("PGFLIGHT_HOTS", "x")],
        &[("PGFLIGHT_CONNECT_TIMEOUT", "ten")],
        &[("PGFLIGHT_SSLMODE", "verify-full")],
        &[("PGFLIGHT_PASSWORD_FILE", "/nonexistent/pw")],
    ];
    for extra in broken {
        let mut env = secret_env.to_vec();
        env.extend_from_slice(extra);
        let err = load(Some(&path), &ConfigFlags::default(), &env).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            for secret in ["filesecret", "envsecret", "urlsecret"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
    }
}

#[test]
fn missing_required_keys_say_where_to_set_them() {
    let none = ConfigFlags::default();
    assert_eq!(
        error(load(None, &none, &[("PGDATABASE", "d"), ("PGUSER", "u")])),
        "host is required (set host or url in flight.toml, POSTGRES_HOST or PGHOST, or pass --host)"
    );
    assert_eq!(
        error(load(None, &none, &[("PGHOST", "h"), ("PGUSER", "u")])),
        "database is required (set database in flight.toml, POSTGRES_DATABASE or PGDATABASE, or pass --database)"
    );
    assert_eq!(
        error(load(None, &none, &[("PGHOST", "h"), ("PGDATABASE", "d")])),
        "username is required (set username in flight.toml, POSTGRES_USERNAME or PGUSER, or pass --username)"
    );
    let msg = error(load_file(
        "mine.yaml",
        "host: h\nusername: u\ndatabase: \"\"\n",
    ));
    assert!(
        msg.starts_with("database is required (set database in ") && msg.contains("mine.yaml"),
        "{msg}"
    );
}

#[test]
fn rules_between_keys_are_enforced() {
    let with = |lines: &str| load_file("f.toml", &format!("{MINIMAL_TOML}{lines}\n"));
    let msg = error(with("sslmode = \"verify-full\""));
    assert!(
        msg.starts_with("sslmode: \"verify-full\" needs sslrootcert"),
        "{msg}"
    );
    let msg = error(with("sslmode = \"verify-ca\""));
    assert!(
        msg.starts_with("sslmode: \"verify-ca\" needs sslrootcert"),
        "{msg}"
    );
    with("sslmode = \"verify-full\"\nsslrootcert = \"/ca\"").unwrap();
    let msg = error(with("sslcert = \"/c\""));
    assert!(msg.starts_with("sslcert is set but sslkey is not"), "{msg}");
    let msg = error(with("sslkey = \"/k\""));
    assert!(msg.starts_with("sslkey is set but sslcert is not"), "{msg}");
    let msg = error(with("tls_cert = \"/c\""));
    assert!(
        msg.starts_with("tls_cert is set but tls_key is not"),
        "{msg}"
    );
    let msg = error(with("tls_client_ca = \"/ca\""));
    assert!(
        msg.starts_with("tls_client_ca is set but tls_cert is not"),
        "{msg}"
    );
    with("tls_cert = \"/c\"\ntls_key = \"/k\"\ntls_client_ca = \"/ca\"").unwrap();
    let msg = error(with("snapshot_ttl = \"2m\"\nsnapshot_max_ttl = \"1m\""));
    assert!(
        msg.starts_with("snapshot_max_ttl: 60s is shorter than snapshot_ttl (120s)"),
        "{msg}"
    );
    with("snapshot_ttl = \"2m\"\nsnapshot_max_ttl = \"2m\"").unwrap();
    let msg = error(with("metrics_listen = \"0.0.0.0:8080\""));
    assert!(
        msg.starts_with("metrics_listen: \"0.0.0.0:8080\" is the same address as listen"),
        "{msg}"
    );

    let mut config = Config::new("h", 5432, "d", "u");
    config.validate().unwrap();
    config.batch_size = 0;
    assert_eq!(
        config.validate().unwrap_err().to_string(),
        "batch_size: \"0\" is not a whole number of at least 1"
    );
}

#[test]
fn summary_is_one_redacted_line() {
    let mut config = Config::new("db.example.com", 5432, "mydb", "postgres");
    config.password = Some("hunter2".into());
    assert_eq!(
        config.summary(),
        "db.example.com:5432/mydb as postgres, sslmode=prefer"
    );
    assert_eq!(
        Config::new("::1", 1, "d", "u").summary(),
        "[::1]:1/d as u, sslmode=prefer"
    );
}

#[test]
fn words_and_yaml_scalars_are_read_leniently() {
    let c = load_file(
        "f.yaml",
        "host: h\ndatabase: 2024\nusername: u\npassword: 12345\nsslmode: REQUIRE\n",
    )
    .unwrap();
    assert_eq!(c.database, "2024");
    assert_eq!(c.password().unwrap().expose_secret(), "12345");
    assert_eq!(c.sslmode, SslMode::Require);
    let c = load_file(
        "f.yaml",
        "host: h\ndatabase: d\nusername: u\npassword:\nmetrics_listen: ~\n",
    )
    .unwrap();
    assert!(c.password.is_none() && c.metrics_listen.is_none());
}

#[test]
fn allow_superuser_and_deny_functions_from_file_environment_and_flags() {
    let c = load_file("flight.toml", MINIMAL_TOML).unwrap();
    assert!(!c.allow_superuser);
    assert!(c.deny_functions.is_empty());
    let c = load_file(
        "flight.toml",
        &format!(
            "{MINIMAL_TOML}allow_superuser = true\ndeny_functions = [\"My_Wrapper\", \"audit_*\"]\n"
        ),
    )
    .unwrap();
    assert!(c.allow_superuser);
    assert_eq!(c.deny_functions, ["my_wrapper", "audit_*"]);
    let env = [
        BASE_ENV,
        &[
            ("PGFLIGHT_ALLOW_SUPERUSER", "yes"),
            ("PGFLIGHT_DENY_FUNCTIONS", "a, b$1 ,"),
        ],
    ]
    .concat();
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert!(c.allow_superuser);
    assert_eq!(c.deny_functions, ["a", "b$1"]);
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ConfigFlags,
    }
    let cli = Cli::parse_from([
        "pgflight",
        "--deny-functions",
        "x,y_*",
        "--allow-superuser",
        "false",
    ]);
    let c = load(None, &cli.flags, BASE_ENV).unwrap();
    assert_eq!(
        (c.allow_superuser, c.deny_functions.clone()),
        (false, vec!["x".into(), "y_*".into()])
    );
    let msg = error(load_file(
        "flight.toml",
        &format!("{MINIMAL_TOML}deny_functions = [\"pg_sleep(1)\"]\n"),
    ));
    assert!(msg.contains("deny_functions"), "{msg}");
    assert!(msg.contains("function names or patterns"), "{msg}");
}

#[test]
fn advertise_from_file_environment_and_flags() {
    let c = load_file("flight.toml", MINIMAL_TOML).unwrap();
    assert!(c.advertise.is_empty(), "no locations by default");
    let c = load_file(
        "flight.toml",
        &format!(
            "{MINIMAL_TOML}ticket_secret = \"s\"\n\
             advertise = [\"grpc+tls://pgflight-0.example:8080\", \"grpc://10.0.0.2:8080/\"]\n"
        ),
    )
    .unwrap();
    assert_eq!(
        c.advertise,
        [
            "grpc+tls://pgflight-0.example:8080",
            "grpc://10.0.0.2:8080/"
        ]
    );
    let env = [
        BASE_ENV,
        &[
            ("PGFLIGHT_TICKET_SECRET", "s"),
            (
                "PGFLIGHT_ADVERTISE",
                r#"["grpc://a:8080", "grpc://b:8080"]"#,
            ),
        ],
    ]
    .concat();
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!(c.advertise, ["grpc://a:8080", "grpc://b:8080"]);
    let env = [
        BASE_ENV,
        &[("PGFLIGHT_ADVERTISE", " grpc+tcp://[::1]:9000 ,")],
    ]
    .concat();
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!(
        c.advertise,
        ["grpc+tcp://[::1]:9000"],
        "one needs no secret"
    );
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ConfigFlags,
    }
    let cli = Cli::parse_from([
        "pgflight",
        "--advertise",
        "grpc://x:1,grpc://y:2",
        "--ticket-secret",
        "s",
    ]);
    let c = load(None, &cli.flags, BASE_ENV).unwrap();
    assert_eq!(c.advertise, ["grpc://x:1", "grpc://y:2"]);

    for bad in [
        r#"["http://a:8080"]"#,
        "grpc://a",
        "grpc://a:1/path",
        "grpc://u:p@a:1",
        "grpc://a:1,grpc://a:1",
        r#"["grpc://a:1""#,
    ] {
        let env = [BASE_ENV, &[("PGFLIGHT_ADVERTISE", bad)]].concat();
        let msg = error(load(None, &ConfigFlags::default(), &env));
        assert!(msg.contains("advertise"), "{bad}: {msg}");
        assert!(msg.contains("Flight locations"), "{bad}: {msg}");
    }
    let env = [BASE_ENV, &[("PGFLIGHT_ADVERTISE", "grpc://a:1,grpc://b:1")]].concat();
    let msg = error(load(None, &ConfigFlags::default(), &env));
    assert!(msg.contains("ticket_secret is not set"), "{msg}");
}

#[test]
fn otlp_endpoint_from_file_environment_and_flags_and_refused_unless_http() {
    assert_eq!(
        load_file("flight.toml", MINIMAL_TOML)
            .unwrap()
            .otlp_endpoint,
        None
    );
    let c = load_file(
        "flight.toml",
        &format!("{MINIMAL_TOML}otlp_endpoint = \"http://collector:4317\"\n"),
    )
    .unwrap();
    assert_eq!(c.otlp_endpoint.as_deref(), Some("http://collector:4317"));
    let env = [
        BASE_ENV,
        &[("PGFLIGHT_OTLP_ENDPOINT", " http://127.0.0.1:4317 ")],
    ]
    .concat();
    let c = load(None, &ConfigFlags::default(), &env).unwrap();
    assert_eq!(c.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4317"));
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        flags: ConfigFlags,
    }
    let cli = Cli::parse_from(["pgflight", "--otlp-endpoint", "http://[::1]:4317"]);
    let c = load(None, &cli.flags, &env).unwrap();
    assert_eq!(c.otlp_endpoint.as_deref(), Some("http://[::1]:4317"));
    for bad in ["collector:4317", "https://collector:4317", "http://"] {
        let env = [BASE_ENV, &[("PGFLIGHT_OTLP_ENDPOINT", bad)]].concat();
        let msg = error(load(None, &ConfigFlags::default(), &env));
        assert!(msg.contains("otlp_endpoint"), "{msg}");
        assert!(
            msg.contains("an http:// URL of an OTLP/gRPC collector"),
            "{msg}"
        );
    }
}

//! Precedence between defaults, file, environment (libpq, seed, pgflight variables) and flags, and where the config file comes from.

use super::*;

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

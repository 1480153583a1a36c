//! What a bad file, an unknown key or a bad value is refused with, and the seconds rule for bare numbers.

use super::*;

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

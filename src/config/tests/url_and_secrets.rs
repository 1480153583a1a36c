//! The url key, passwords and password files (never shown), required keys, rules between keys, the summary line and lenient words.

use super::*;

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

//! The seed's YAML, a TOML file with every key, defaults, the repository's flight.toml, and the key list against the Config fields and flags.

use super::*;

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

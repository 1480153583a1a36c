//! The least-privilege, advertise and OpenTelemetry keys from every source.

use super::*;

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

//! `server::run`: Flight SQL and the HTTP endpoints on one port, readiness, shutdown, and the
//! `pgflight check` command.

use arrow::array::{Array, AsArray};
use arrow_flight::sql::SqlInfo;
use pgflight::config::Config;

use crate::harness::{TestServer, cluster, free_addr, http_get, read_all, sql_client};

#[tokio::test]
async fn one_port_serves_health_readiness_and_flight_sql() {
    let cluster = cluster().await;
    let server = TestServer::start(cluster.config("postgres")).await;

    let (status, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((status, body.trim()), (200, "ok"));
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!((status, body.trim()), (200, "ready"));

    let mut client = sql_client(&server).await;
    client.handshake("anyone", "anything").await.unwrap();
    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerVersion,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .unwrap();
    let batches = read_all(&mut client, &info).await;
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    assert_eq!(batch.num_rows(), 3);
    let names = batch
        .column(0)
        .as_primitive::<arrow::datatypes::UInt32Type>();
    let values = batch.column(1).as_union();
    for row in 0..batch.num_rows() {
        let id = names.value(row);
        let value = values.value(row);
        if id == SqlInfo::FlightSqlServerName as u32 {
            assert_eq!(value.as_string::<i32>().value(0), "pgflight");
        } else if id == SqlInfo::FlightSqlServerVersion as u32 {
            let version = value.as_string::<i32>().value(0).to_string();
            let expected = format!("PostgreSQL {}", cluster.version_num / 10000);
            assert!(version.contains(&expected), "{version}");
        } else if id == SqlInfo::FlightSqlServerReadOnly as u32 {
            assert!(value.as_boolean().value(0));
        } else {
            panic!("unexpected SqlInfo id {id}");
        }
        assert!(!value.is_null(0));
    }
    server.stop().await;
}

#[tokio::test]
async fn readyz_fails_while_postgres_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = Config::new("127.0.0.1", port, "postgres", "postgres");
    config.connect_timeout = std::time::Duration::from_secs(2);
    let server = TestServer::start(config).await;
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200);
    let (status, body) = http_get(server.addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("connection refused"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting() {
    let cluster = cluster().await;
    let server = TestServer::start(cluster.config("postgres")).await;
    let addr = server.addr;
    assert_eq!(http_get(addr, "/healthz").await.0, 200);
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn check_command_reports_version_tls_and_readable_tables() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "check",
            "CREATE TABLE visible (id int); CREATE TABLE hidden (id int);
             CREATE ROLE checker LOGIN PASSWORD 'checker-pw';
             GRANT SELECT ON visible TO checker;",
        )
        .await;
    let run = |user: &str, password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pgflight"))
            .arg("check")
            .env_clear()
            .env("PGFLIGHT_HOST", "127.0.0.1")
            .env("PGFLIGHT_PORT", cluster.port.to_string())
            .env("PGFLIGHT_DATABASE", &db)
            .env("PGFLIGHT_USERNAME", user)
            .env("PGFLIGHT_PASSWORD", password)
            .env("PGFLIGHT_SSLMODE", "require")
            .current_dir(&cluster.dir)
            .output()
            .unwrap()
    };
    let out = run("checker", "checker-pw");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("PostgreSQL "), "{text}");
    assert!(text.contains("TLS: TLSv1.3"), "{text}");
    assert!(text.contains("sessions are read-only: yes"), "{text}");
    assert!(text.contains("  visible"), "{text}");
    assert!(
        text.contains("Not readable by checker (GRANT SELECT to expose them): hidden"),
        "{text}"
    );

    let out = run("checker", "wrong-pw");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(
        text.contains("authentication failed for user \"checker\""),
        "{text}"
    );
    assert!(!text.contains("wrong-pw"), "{text}");
}

#[tokio::test]
async fn metrics_listen_gives_the_http_endpoints_a_port_of_their_own() {
    let cluster = cluster().await;
    let metrics_addr = free_addr();
    let mut config = cluster.config("postgres");
    config.metrics_listen = Some(metrics_addr);
    let server = TestServer::start(config).await;
    // `run` binds metrics_listen itself, a moment after it started.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(metrics_addr).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "metrics_listen never opened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(
            http_get(metrics_addr, path).await.0,
            200,
            "{path} on metrics_listen"
        );
        // The Flight port answers unknown paths the gRPC way (grpc-status 12), not with them.
        let (_, body) = http_get(server.addr, path).await;
        for served in ["ok", "ready", "# TYPE"] {
            assert!(
                !body.contains(served),
                "{path} still on the Flight port: {body}"
            );
        }
    }
    // Flight still answers on its own port.
    let mut client = sql_client(&server).await;
    client.handshake("anyone", "anything").await.unwrap();
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(metrics_addr).await.is_err());
}

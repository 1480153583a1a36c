//! pgflight does not serve as a role that may do more than read: a superuser, a BYPASSRLS role
//! or a member of the roles that reach the server's files is refused at start (with the SQL of
//! a read-only role), unless `allow_superuser = true`; `pgflight check` reports the role's
//! attributes; `auth = "postgres"` refuses such a client role at login.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pgflight::config::AuthMode;
use pgflight::pg::PgError;

use crate::harness::{Cluster, ROLE_PASSWORD, TestServer, cluster, logged_in};

/// `pgflight::server::run` with `config`, expected to stop at once with PostgreSQL's refusal.
async fn refused(config: pgflight::config::Config) -> PgError {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let run = pgflight::server::run(listener, config, std::future::pending());
    let err = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("a refused role stops start-up at once")
        .expect_err("the role must be refused");
    match err {
        pgflight::server::ServeError::Pool(pg) => pg,
        other => panic!("refused for another reason: {other}"),
    }
}

/// `pgflight <args>` with the cluster's connection in the environment, as `user`.
fn pgflight(cluster: &Cluster, db: &str, user: &str, password: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgflight"));
    command
        .args(args)
        .env_clear()
        .env("PGFLIGHT_HOST", "127.0.0.1")
        .env("PGFLIGHT_PORT", cluster.port.to_string())
        .env("PGFLIGHT_DATABASE", db)
        .env("PGFLIGHT_USERNAME", user)
        .env("PGFLIGHT_PASSWORD", password)
        .env("PGFLIGHT_SSLMODE", "disable")
        .env("PGFLIGHT_LISTEN", "127.0.0.1:0")
        .current_dir(&cluster.dir);
    command
}

#[tokio::test]
async fn serve_refuses_a_superuser_and_says_how_to_make_a_reader_role() {
    let cluster = cluster().await;
    let db = cluster.create_db("refuse_super").await;
    let mut config = cluster.superuser_config(&db);
    config.allow_superuser = false;
    let err = refused(config).await;
    assert!(matches!(err, PgError::UnsafeRole { .. }), "{err:?}");
    let text = err.to_string();
    for expected in [
        "refuses to serve as role \"postgres\"",
        "superuser",
        "CREATE ROLE \"pgflight_reader\" LOGIN",
        &format!("GRANT CONNECT ON DATABASE \"{db}\""),
        "GRANT USAGE ON SCHEMA \"public\"",
        "GRANT SELECT ON ALL TABLES IN SCHEMA \"public\"",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA \"public\" GRANT SELECT ON TABLES",
        "allow_superuser = true",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }

    // The README quick start's command, as the superuser: refused, with the message, at once.
    let out = pgflight(
        cluster,
        &db,
        "postgres",
        super::harness::SUPERUSER_PASSWORD,
        &["serve"],
    )
    .output()
    .unwrap();
    let stderr =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refuses to serve as role"), "{stderr}");
    assert!(stderr.contains("CREATE ROLE"), "{stderr}");
    assert!(
        !stderr.contains(super::harness::SUPERUSER_PASSWORD),
        "{stderr}"
    );
}

#[tokio::test]
async fn bypassrls_and_server_file_roles_are_refused_too() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture("refuse_powers", "CREATE TABLE t (id int8)")
        .await;
    for (role, grant) in [
        ("lp_bypass", "ALTER ROLE lp_bypass BYPASSRLS"),
        ("lp_files", "GRANT pg_read_server_files TO lp_files"),
        ("lp_write", "GRANT pg_write_server_files TO lp_write"),
        ("lp_exec", "GRANT pg_execute_server_program TO lp_exec"),
        // Membership of a superuser role (SET ROLE to it) counts.
        (
            "lp_escalate",
            "CREATE ROLE lp_super NOLOGIN SUPERUSER; GRANT lp_super TO lp_escalate",
        ),
        // Membership through another role counts.
        (
            "lp_nested",
            "CREATE ROLE lp_nested_group; GRANT pg_read_server_files TO lp_nested_group; \
             GRANT lp_nested_group TO lp_nested",
        ),
    ] {
        // Roles are the cluster's, made once per test run.
        admin
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{ROLE_PASSWORD}'; {grant};
                 GRANT SELECT ON t TO {role}"
            ))
            .await
            .unwrap();
        let mut config = cluster.config(&db);
        config.username = role.into();
        let err = refused(config.clone()).await;
        assert!(matches!(err, PgError::UnsafeRole { .. }), "{role}: {err:?}");
        let text = err.to_string();
        let why = match role {
            "lp_bypass" => "BYPASSRLS",
            "lp_escalate" => "superuser role(s) lp_super",
            _ => "pg_",
        };
        assert!(text.contains(why), "{role}: {text}");

        // allow_superuser serves it anyway.
        config.allow_superuser = true;
        let server = TestServer::start(config).await;
        let mut client = crate::harness::flight_client(&server).await;
        let info = client
            .get_flight_info(crate::harness::full_table("t"))
            .await
            .unwrap();
        assert_eq!(info.endpoint.len(), 1);
        server.stop().await;
    }

    // The test harness's reader role is served.
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = crate::harness::flight_client(&server).await;
    client
        .get_flight_info(crate::harness::full_table("t"))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn allow_superuser_serves_with_a_warning_at_start() {
    let cluster = cluster().await;
    let db = cluster.create_db("allow_super").await;
    let mut child = pgflight(
        cluster,
        &db,
        "postgres",
        super::harness::SUPERUSER_PASSWORD,
        &["serve"],
    )
    .env("PGFLIGHT_ALLOW_SUPERUSER", "true")
    .env("PGFLIGHT_LOG_FORMAT", "text")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            let done = line.contains("pgflight serving");
            lines.push(line);
            if done {
                break;
            }
        }
        lines.join("\n")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut log = reader.join().unwrap();
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    log.push_str(&stderr);
    assert!(log.contains("pgflight serving"), "{log}");
    assert!(
        log.contains("allow_superuser = true: serving as a role"),
        "{log}"
    );
    assert!(log.contains("superuser"), "{log}");
}

#[tokio::test]
async fn check_reports_attributes_memberships_and_the_refusal() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "check_roles",
            &format!(
                "CREATE TABLE t (id int8);
                 CREATE ROLE lp_monitor LOGIN PASSWORD '{ROLE_PASSWORD}';
                 GRANT pg_monitor TO lp_monitor;"
            ),
        )
        .await;
    let out = pgflight(
        cluster,
        &db,
        "postgres",
        super::harness::SUPERUSER_PASSWORD,
        &["check"],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(text.contains("Role attributes: SUPERUSER"), "{text}");
    assert!(
        text.contains("Refused: pgflight refuses to serve"),
        "{text}"
    );
    assert!(text.contains("CREATE ROLE \"pgflight_reader\""), "{text}");

    let out = pgflight(
        cluster,
        &db,
        "postgres",
        super::harness::SUPERUSER_PASSWORD,
        &["check", "--allow-superuser", "true"],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Warning: allow_superuser = true"), "{text}");

    let out = pgflight(cluster, &db, "lp_monitor", ROLE_PASSWORD, &["check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Role attributes: member of pg_monitor"),
        "{text}"
    );
    assert!(!text.contains("Refused"), "{text}");
}

#[tokio::test]
async fn auth_postgres_refuses_a_superuser_client_role_unless_allowed() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture("pg_auth_super", "CREATE TABLE t AS SELECT 1::int8 AS id")
        .await;
    let mut config = cluster.config(&db);
    config.auth = AuthMode::Postgres;
    let server = TestServer::start(config.clone()).await;
    let err = match logged_in(&server, "postgres", super::harness::SUPERUSER_PASSWORD).await {
        Err(err) => err,
        Ok(mut client) => client
            .get_flight_info(crate::harness::full_table("t"))
            .await
            .unwrap_err()
            .to_string(),
    };
    assert!(err.contains("refuses to serve as role"), "{err}");
    assert!(
        err.contains("PermissionDenied") || err.contains("permission"),
        "{err}"
    );
    let mut reader = logged_in(&server, crate::harness::READER, ROLE_PASSWORD)
        .await
        .unwrap();
    reader
        .get_flight_info(crate::harness::full_table("t"))
        .await
        .unwrap();
    server.stop().await;

    config.allow_superuser = true;
    let server = TestServer::start(config).await;
    let mut root = logged_in(&server, "postgres", super::harness::SUPERUSER_PASSWORD)
        .await
        .unwrap();
    root.get_flight_info(crate::harness::full_table("t"))
        .await
        .unwrap();
    server.stop().await;
}

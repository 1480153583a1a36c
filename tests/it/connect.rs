//! PostgreSQL connections: every sslmode, client certificates, error classification, session
//! settings, read-only sessions, pool limits and idle connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pgflight::config::{Config, SslMode};
use pgflight::pg::{PgError, PgPool};
use secrecy::SecretString;

use crate::harness::{ROLE_PASSWORD, cluster};

async fn ssl_in_use(pool: &PgPool) -> bool {
    let client = pool.get().await.unwrap();
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn connect_error(config: &Config) -> PgError {
    let pool = PgPool::new(config).unwrap();
    match pool.get().await {
        Ok(_) => panic!("connection with {:?} should have failed", config.sslmode),
        Err(err) => err,
    }
}

fn as_sslonly(mut config: Config) -> Config {
    config.username = "sslonly".into();
    config.password = Some(SecretString::from(ROLE_PASSWORD));
    config
}

#[tokio::test]
async fn sslmode_disable_is_refused_by_hostssl_only_hba_with_ssl_words() {
    let cluster = cluster().await;
    let mut config = as_sslonly(cluster.config("postgres"));
    config.sslmode = SslMode::Disable;
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("SSL connection failed"),
        "{err}"
    );
}

#[tokio::test]
async fn sslmode_prefer_and_require_encrypt() {
    let cluster = cluster().await;
    for mode in [SslMode::Prefer, SslMode::Require] {
        let mut config = as_sslonly(cluster.config("postgres"));
        config.sslmode = mode;
        let pool = PgPool::new(&config).unwrap();
        assert!(ssl_in_use(&pool).await, "{mode:?} should encrypt");
    }
}

#[tokio::test]
async fn sslmode_verify_ca_checks_the_chain() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.sslmode = SslMode::VerifyCa;
    config.sslrootcert = Some(cluster.certs.ca.clone());
    let pool = PgPool::new(&config).unwrap();
    assert!(ssl_in_use(&pool).await);

    // verify-ca does not compare names: 127.0.0.2 is not in the certificate, yet it connects.
    config.host = "127.0.0.2".into();
    let pool = PgPool::new(&config).unwrap();
    assert!(ssl_in_use(&pool).await);

    config.sslrootcert = Some(cluster.certs.other_ca.clone());
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn sslmode_verify_full_checks_chain_and_host_name() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.sslmode = SslMode::VerifyFull;
    config.sslrootcert = Some(cluster.certs.ca.clone());
    config.host = "localhost".into();
    let pool = PgPool::new(&config).unwrap();
    assert!(ssl_in_use(&pool).await);

    config.host = "127.0.0.2".into();
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not valid for name \"127.0.0.2\""),
        "{err}"
    );

    config.host = "localhost".into();
    config.sslrootcert = Some(cluster.certs.other_ca.clone());
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn client_certificate_logs_in_where_hba_says_cert() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.username = "certuser".into();
    config.password = None;
    config.sslmode = SslMode::VerifyFull;
    config.host = "localhost".into();
    config.sslrootcert = Some(cluster.certs.ca.clone());
    config.sslcert = Some(cluster.certs.client_cert.clone());
    config.sslkey = Some(cluster.certs.client_key.clone());
    let pool = PgPool::new(&config).unwrap();
    let client = pool.get().await.unwrap();
    let user: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, "certuser");

    // Without the certificate the same login fails.
    config.sslcert = None;
    config.sslkey = None;
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn wrong_password_is_an_authentication_failure() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.password = Some(SecretString::from("not-the-password"));
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "authentication failed for user \"{}\"",
            crate::harness::READER
        )),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Config::new("127.0.0.1", port, "postgres", "postgres");
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(err.to_string().contains("Check host and port"), "{err}");
}

#[tokio::test]
async fn unknown_database_is_named() {
    let cluster = cluster().await;
    let config = cluster.config("no_such_database");
    let err = connect_error(&config).await;
    assert!(matches!(err, PgError::UnknownDatabase { .. }), "{err:?}");
    assert!(err.to_string().contains("no_such_database"), "{err}");
}

#[tokio::test]
async fn statement_timeout_is_a_query_timeout() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.statement_timeout = Duration::from_millis(200);
    let pool = PgPool::new(&config).unwrap();
    let client = pool.get().await.unwrap();
    let err = client.simple_query("SELECT pg_sleep(2)").await.unwrap_err();
    let err = pool.error(err);
    assert!(matches!(err, PgError::QueryTimeout { .. }), "{err:?}");
    assert!(err.to_string().contains("raise statement_timeout"), "{err}");
}

#[tokio::test]
async fn sessions_are_read_only_even_for_a_superuser() {
    let cluster = cluster().await;
    let db = cluster.create_db("readonly").await;
    let pool = PgPool::new(&cluster.config(&db)).unwrap();
    let client = pool.get().await.unwrap();
    let err = client
        .simple_query("CREATE TABLE t (id int)")
        .await
        .unwrap_err();
    let err = pool.error(err);
    assert!(matches!(err, PgError::ReadOnly { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("pgflight is read-only"),
        "{err}"
    );
    let admin = cluster.admin(&db).await;
    let exists: bool = admin
        .query_one("SELECT to_regclass('public.t') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!exists);
}

#[tokio::test]
async fn role_settings_do_not_change_session_settings() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.username = "tokyo".into();
    config.password = Some(SecretString::from(ROLE_PASSWORD));
    let pool = PgPool::new(&config).unwrap();
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('TimeZone'), current_setting('DateStyle'),
                    '2024-01-02 03:04:05+00'::timestamptz::text, current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "UTC");
    assert_eq!(row.get::<_, String>(1), "ISO, MDY");
    assert_eq!(row.get::<_, String>(2), "2024-01-02 03:04:05+00");
    assert_eq!(row.get::<_, String>(3), "pgflight");
}

#[tokio::test]
async fn pool_waits_then_hands_over_or_reports_exhaustion() {
    let cluster = cluster().await;
    let mut config = cluster.config("postgres");
    config.max_connections = 2;
    config.connect_timeout = Duration::from_millis(700);
    let pool = Arc::new(PgPool::new(&config).unwrap());
    let first = pool.get().await.unwrap();
    let second = pool.get().await.unwrap();

    // A third user waits, and gets the connection the first one gives back.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let conn = pool.get().await;
            (conn.is_ok(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(first);
    let (ok, waited) = waiter.await.unwrap();
    assert!(ok, "the waiting request should get the released connection");
    assert!(
        waited >= Duration::from_millis(250),
        "it should have waited, waited {waited:?}"
    );

    // With both still busy, a third request fails after connect_timeout, naming the pool size.
    let _first_again = pool.get().await.unwrap();
    let started = Instant::now();
    let err = pool.get().await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(650));
    assert!(
        matches!(err, PgError::PoolExhausted { size: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("all 2 PostgreSQL connections are busy"),
        "{err}"
    );
    drop(second);
}

#[tokio::test]
async fn idle_connections_are_closed_after_idle_timeout() {
    let cluster = cluster().await;
    let db = cluster.create_db("idle").await;
    let mut config = cluster.config(&db);
    // Long enough that both are still open when counted on a loaded machine.
    config.idle_timeout = Duration::from_secs(3);
    let pool = PgPool::new(&config).unwrap();
    {
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        a.simple_query("").await.unwrap();
        b.simple_query("").await.unwrap();
    }
    let admin = cluster.admin(&db).await;
    let count = || async {
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgflight'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    assert_eq!(count().await, 2);
    assert_eq!(pool.status().idle, 2);
    let deadline = Instant::now() + Duration::from_secs(15);
    while count().await > 0 {
        assert!(
            Instant::now() < deadline,
            "idle connections still open after 15 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pool.status().open, 0);
}

#[tokio::test]
async fn a_broken_connection_is_replaced_not_handed_out() {
    let cluster = cluster().await;
    let db = cluster.create_db("broken").await;
    let mut config = cluster.config(&db);
    config.max_connections = 1;
    let pool = PgPool::new(&config).unwrap();
    let pid: i32 = {
        let client = pool.get().await.unwrap();
        client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .unwrap()
            .get(0)
    };
    let admin = cluster.admin(&db).await;
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = pool.get().await.unwrap();
    let new_pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(pid, new_pid);
}

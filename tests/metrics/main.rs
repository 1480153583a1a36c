//! `/metrics`: scraped before and after a scan, a pass-through statement, a failing query, an
//! authentication failure and a refused connection, the right counters move by exactly what
//! the test caused. The recorder is process-wide, so these tests are a test binary of their
//! own (no other test moves its counters) and run one at a time.

use std::collections::HashMap;
use std::net::SocketAddr;

use arrow_flight::Ticket;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::StreamExt;
use prost::Message;
use secrecy::SecretString;
use tonic::Code;
use tonic::transport::Channel;

#[path = "../it/harness/mod.rs"]
#[allow(dead_code, unused_imports)] // the integration tests' harness; this binary uses part of it
mod harness;

use harness::{TestServer, cluster, full_table, http_get, sql_client};

/// One test at a time: each reads the process-wide counters.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One scrape: sample (`name{labels}` exactly as rendered) → value.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn take(addr: SocketAddr) -> Scrape {
        let (status, body) = http_get(addr, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        let samples = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.to_string(), value.parse().ok()?))
            })
            .collect();
        Scrape(samples)
    }

    fn get(&self, sample: &str) -> f64 {
        self.0.get(sample).copied().unwrap_or(0.0)
    }

    /// How much `sample` grew since `before`.
    fn delta(&self, before: &Scrape, sample: &str) -> f64 {
        self.get(sample) - before.get(sample)
    }

    /// How much the samples whose `name{labels}` starts with `prefix` grew since `before`.
    fn delta_of_prefix(&self, before: &Scrape, prefix: &str) -> f64 {
        let sum = |scrape: &Scrape| -> f64 {
            scrape
                .0
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(_, v)| v)
                .sum()
        };
        sum(self) - sum(before)
    }
}

async fn flight(server: &TestServer) -> FlightServiceClient<Channel> {
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    FlightServiceClient::new(channel)
}

/// GetFlightInfo + DoGet of `entity`; the sum of the encoded FlightData sizes received, or
/// the status of whichever call failed.
async fn extract(
    client: &mut FlightServiceClient<Channel>,
    entity: &str,
) -> Result<(usize, usize), tonic::Status> {
    let info = client
        .get_flight_info(full_table(entity))
        .await?
        .into_inner();
    let ticket: Ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = client.do_get(ticket).await?.into_inner();
    let (mut bytes, mut messages) = (0, 0);
    while let Some(data) = stream.next().await {
        bytes += data?.encoded_len();
        messages += 1;
    }
    Ok((bytes, messages))
}

#[tokio::test]
async fn counters_move_with_scans_failures_and_refusals() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "metrics",
            "CREATE TABLE items (id bigint PRIMARY KEY, name text);
             INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 4321) g;
             CREATE VIEW broken AS SELECT id / (id - id) AS boom FROM items;",
        )
        .await;
    let mut config = cluster.config(&db);
    config.batch_size = 1000;
    let server = TestServer::start(config).await;
    let mut client = flight(&server).await;

    // A scan: one COPY, its rows, its duration, the Flight calls and their bytes.
    let before = Scrape::take(server.addr).await;
    let (bytes, messages) = extract(&mut client, "items").await.unwrap();
    let after = Scrape::take(server.addr).await;
    assert!(messages >= 5, "4321 rows in batches of 1000: {messages}");
    assert_eq!(
        after.delta(&before, "postgres_rows_extracted_total"),
        4321.0
    );
    assert_eq!(
        after.delta(&before, r#"postgres_queries_total{kind="copy"}"#),
        1.0
    );
    // The catalog cache's check and, the relation not cached yet, the read of its columns.
    assert_eq!(
        after.delta(&before, r#"postgres_queries_total{kind="catalog"}"#),
        2.0
    );
    assert_eq!(
        after.delta(
            &before,
            r#"postgres_query_duration_seconds_count{kind="copy"}"#
        ),
        1.0
    );
    assert_eq!(
        after.delta(&before, r#"flight_requests_total{method="GetFlightInfo"}"#),
        1.0
    );
    assert_eq!(
        after.delta(&before, r#"flight_requests_total{method="DoGet"}"#),
        1.0
    );
    // Every FlightData message went out with a 5-byte gRPC prefix.
    let sent = after.delta(&before, r#"flight_bytes_sent_total{method="DoGet"}"#);
    assert!(
        sent >= (bytes + 5 * messages) as f64,
        "DoGet bytes {sent} < {bytes} received"
    );
    assert!(after.get("postgres_pool_size") >= 1.0);
    assert!(after.get("postgres_pool_connections_open") >= 1.0);

    // The same read again: its columns come from the cache, the check is the one catalog query.
    let before = Scrape::take(server.addr).await;
    extract(&mut client, "items").await.unwrap();
    let after = Scrape::take(server.addr).await;
    assert_eq!(
        after.delta(&before, r#"postgres_queries_total{kind="catalog"}"#),
        1.0
    );

    // A pass-through statement: its execution (extended protocol, kind "execute") and its rows
    // count like a scan's COPY.
    let mut sql = sql_client(&server).await;
    let info = sql
        .execute(
            "SELECT id, upper(name) FROM items WHERE id <= 1234".into(),
            None,
        )
        .await
        .unwrap();
    let before = Scrape::take(server.addr).await;
    let stream = sql
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    let rows: usize = futures::TryStreamExt::try_collect::<Vec<_>>(stream)
        .await
        .unwrap()
        .iter()
        .map(|b| b.num_rows())
        .sum();
    let after = Scrape::take(server.addr).await;
    assert_eq!(rows, 1234);
    assert_eq!(
        after.delta(&before, "postgres_rows_extracted_total"),
        1234.0
    );
    assert_eq!(
        after.delta(&before, r#"postgres_queries_total{kind="execute"}"#),
        1.0
    );

    // A failing query: division by zero inside a view, raised by PostgreSQL during the COPY.
    let before = Scrape::take(server.addr).await;
    let status = extract(&mut client, "broken").await.unwrap_err();
    let after = Scrape::take(server.addr).await;
    assert!(status.message().contains("division by zero"), "{status:?}");
    assert_eq!(
        after.delta(&before, r#"postgres_errors_total{kind="sql"}"#),
        1.0
    );
    // The failed call is a Flight error too, whichever call PostgreSQL's error reached.
    assert_eq!(after.delta_of_prefix(&before, "flight_errors_total{"), 1.0);
    assert_eq!(
        after.delta(&before, r#"postgres_queries_total{kind="copy"}"#),
        1.0
    );

    // A connection in use shows up as active while a stream is held open.
    admin
        .batch_execute("INSERT INTO items SELECT g FROM generate_series(4322, 200000) g")
        .await
        .unwrap();
    let info = client
        .get_flight_info(full_table("items"))
        .await
        .unwrap()
        .into_inner();
    let mut stream = client
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap()
        .into_inner();
    stream.next().await.unwrap().unwrap();
    let during = Scrape::take(server.addr).await;
    assert!(during.get("postgres_connections_active") >= 1.0);
    drop(stream);
    server.stop().await;

    // An authentication failure: the same server with a wrong password.
    let mut wrong = cluster.config(&db);
    wrong.password = Some(SecretString::from("not-the-password"));
    let server = TestServer::start(wrong).await;
    let mut client = flight(&server).await;
    let before = Scrape::take(server.addr).await;
    let status = extract(&mut client, "items").await.unwrap_err();
    let after = Scrape::take(server.addr).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(
        after.delta(&before, r#"postgres_errors_total{kind="auth"}"#),
        1.0
    );
    assert_eq!(
        after.delta(&before, r#"flight_requests_total{method="GetFlightInfo"}"#),
        1.0
    );
    server.stop().await;

    // Nothing listens: refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut nowhere = cluster.config(&db);
    nowhere.port = port;
    let server = TestServer::start(nowhere).await;
    let mut client = flight(&server).await;
    let before = Scrape::take(server.addr).await;
    let status = extract(&mut client, "items").await.unwrap_err();
    let after = Scrape::take(server.addr).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        after.delta(&before, r#"postgres_errors_total{kind="refused"}"#),
        1.0
    );
    server.stop().await;
}

/// `auth = "password"`: a wrong password at the Handshake, a call without credentials and a
/// forged bearer token are each counted by reason, and as Unauthenticated Flight errors.
#[tokio::test]
async fn flight_authentication_failures_are_counted() {
    let _alone = ONE_AT_A_TIME.lock().await;
    use arrow_flight::sql::client::FlightSqlServiceClient;
    use pgflight::config::AuthMode;
    use pgflight::flight::password::PasswordHash;

    let cluster = cluster().await;
    let db = cluster.create_db("metrics_auth").await;
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let alice = PasswordHash::new("alice-pw", 1000).unwrap();
    std::fs::write(&users, format!("alice:{alice}\n")).unwrap();
    let mut config = cluster.config(&db);
    config.auth = AuthMode::Password;
    config.users_file = Some(users);
    config.metrics_auth = false; // the scrapes below come without credentials
    let server = TestServer::start(config).await;
    let channel = Channel::from_shared(server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();

    let before = Scrape::take(server.addr).await;
    // A wrong password.
    let mut sql = FlightSqlServiceClient::new(channel.clone());
    let err = sql.handshake("alice", "guess").await.unwrap_err();
    assert!(err.to_string().contains("authentication failed"), "{err}");
    // No credentials.
    let mut client = FlightServiceClient::new(channel.clone());
    let status = client.get_flight_info(full_table("t")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    // A bearer token this server never issued.
    let mut request = tonic::Request::new(full_table("t"));
    request
        .metadata_mut()
        .insert("authorization", "Bearer Zm9yZ2Vk".parse().unwrap());
    let status = client.get_flight_info(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let after = Scrape::take(server.addr).await;

    for reason in ["credentials", "missing", "token"] {
        let sample = format!(r#"flight_auth_failures_total{{reason="{reason}"}}"#);
        assert_eq!(after.delta(&before, &sample), 1.0, "{sample}");
    }
    for (method, calls) in [("Handshake", 1.0), ("GetFlightInfo", 2.0)] {
        let sample = format!(r#"flight_errors_total{{method="{method}",code="unauthenticated"}}"#);
        assert_eq!(after.delta(&before, &sample), calls, "{sample}");
    }

    // The right password still works, and is no failure.
    let before = Scrape::take(server.addr).await;
    sql.handshake("alice", "alice-pw").await.unwrap();
    let after = Scrape::take(server.addr).await;
    assert_eq!(
        after.delta(&before, r#"flight_requests_total{method="Handshake"}"#),
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_help_and_histogram_buckets() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cluster = cluster().await;
    let server = TestServer::start(cluster.config("postgres")).await;
    let mut client = flight(&server).await;
    // One catalog statement, so that the histogram has a sample to render.
    let _ = client
        .list_flights(arrow_flight::Criteria::default())
        .await
        .unwrap();
    let (status, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "# TYPE postgres_queries_total counter",
        "# TYPE postgres_query_duration_seconds histogram",
        "# TYPE flight_requests_total counter",
        "# TYPE postgres_connections_active gauge",
        "# HELP postgres_errors_total",
    ] {
        assert!(body.contains(line), "missing {line:?} in:\n{body}");
    }
    assert!(
        body.contains(r#"postgres_query_duration_seconds_bucket{kind="catalog",le="0.005"}"#),
        "{body}"
    );
    server.stop().await;
}

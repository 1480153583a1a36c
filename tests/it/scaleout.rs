//! Several pgflight instances serving one database, on loopback addresses of the test's own
//! (127.0.0.2, 127.0.0.3, …): endpoints that name the instances (`advertise`), a read planned
//! on one instance and read on the others in one snapshot while writers change the table, the
//! planner's snapshot released once every endpoint started elsewhere, and tokens and tickets
//! accepted across instances with one `ticket_secret` and refused with another.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::FlightClient;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use futures::{StreamExt, TryStreamExt};
use pgflight::config::{AuthMode, Config};
use pgflight::flight::password::PasswordHash;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tonic::Code;

use crate::harness::{TestServer, cluster, do_get_status, full_table, grpc_status};

/// Listeners on `hosts` (port 0 each) and the `grpc://` location of each.
async fn bind(hosts: &[&str]) -> (Vec<TcpListener>, Vec<String>) {
    let mut listeners = Vec::new();
    let mut locations = Vec::new();
    for host in hosts {
        let listener = TcpListener::bind((*host, 0)).await.unwrap();
        locations.push(format!("grpc://{}", listener.local_addr().unwrap()));
        listeners.push(listener);
    }
    (listeners, locations)
}

/// A Flight client on a fresh connection to a `grpc://host:port` location.
async fn connect(location: &str) -> FlightClient {
    FlightClient::new(channel(location).await)
}

fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

/// The exported snapshots' holders (`application_name = 'pgflight snapshot <id>'`) now.
async fn holders(admin: &tokio_postgres::Client) -> Vec<String> {
    admin
        .query(
            "SELECT application_name FROM pg_stat_activity
              WHERE datname = current_database()
                AND application_name LIKE 'pgflight snapshot %'
                AND application_name NOT LIKE '% part %'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Reads every endpoint of `info` on the instance its first location names: one batch each,
/// then, with every stream open (and its backend tagged), waits until the planner has let go
/// of the snapshot — it learns from pg_stat_activity that every endpoint started, long before
/// snapshot_ttl (60 s) — and reads the rest. With `still_reading`, the endpoints are large
/// enough to be still reading then (their backends tagged). The first column's values.
async fn read_on_first_locations(
    admin: &tokio_postgres::Client,
    info: &arrow_flight::FlightInfo,
    still_reading: bool,
) -> Vec<i64> {
    let mut streams: Vec<(FlightRecordBatchStream, Vec<RecordBatch>)> = Vec::new();
    for endpoint in &info.endpoint {
        let mut client = connect(&endpoint.location[0].uri).await;
        let mut stream = client
            .do_get(endpoint.ticket.clone().unwrap())
            .await
            .unwrap();
        let first = stream.next().await.unwrap().unwrap();
        streams.push((stream, vec![first]));
    }
    let started = Instant::now();
    while !holders(admin).await.is_empty() {
        if started.elapsed() > Duration::from_secs(5) {
            let names: Vec<String> = admin
                .query(
                    "SELECT application_name || ' ' || coalesce(state, '') || ' ' || coalesce(query, '')
                       FROM pg_stat_activity WHERE datname = current_database()",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            panic!("the snapshot is still held after every endpoint started: {names:#?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tagged: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                AND application_name LIKE 'pgflight s=%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        !still_reading || tagged > 0,
        "endpoints are still reading, tagged"
    );
    let mut read = Vec::new();
    for (stream, mut batches) in streams {
        batches.extend(stream.try_collect::<Vec<_>>().await.unwrap());
        read.extend(ids(&batches));
    }
    read
}

#[tokio::test]
async fn a_read_planned_on_one_instance_is_read_on_the_others_in_one_snapshot() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "scaleout",
            "CREATE TABLE t (id int8 PRIMARY KEY, moves int4 NOT NULL DEFAULT 0, pad text);
             INSERT INTO t SELECT g, 0, repeat('p', 200) FROM generate_series(1, 60000) g;
             ANALYZE t;",
        )
        .await;
    let expected: (i64, i64) = {
        let row = admin
            .query_one("SELECT count(*), sum(id)::int8 FROM t", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let (listeners, locations) = bind(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]).await;
    let mut servers = Vec::new();
    for listener in listeners {
        let mut config = cluster.config(&db);
        config.partition_min_rows = 1000;
        config.max_partitions = 4;
        config.max_connections = 8;
        // Small batches: a reader that stops after one batch keeps its backend reading.
        config.batch_size = 1000;
        config.snapshot_ttl = Duration::from_secs(60);
        config.ticket_secret = Some(SecretString::from("one secret for every instance"));
        config.advertise = locations.clone();
        servers.push(TestServer::serve(listener, config));
    }

    // Planned on the first instance: four endpoints, each listing every instance, rotated.
    let info = connect(&locations[0])
        .await
        .get_flight_info(full_table("t"))
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 4);
    for (i, endpoint) in info.endpoint.iter().enumerate() {
        let uris: Vec<&str> = endpoint.location.iter().map(|l| l.uri.as_str()).collect();
        let rotated: Vec<&str> = (0..3).map(|k| locations[(i + k) % 3].as_str()).collect();
        assert_eq!(uris, rotated, "endpoint {i}");
    }
    let held = holders(&admin).await;
    assert_eq!(
        held.len(),
        1,
        "the planner holds the exported snapshot: {held:?}"
    );

    // Writers change the table from now on: updates move rows to the table's end, inserts add
    // rows, deletes remove some. One snapshot reads none of it.
    let writer = cluster.admin(&db).await;
    let writing = tokio::spawn(async move {
        for round in 0..i64::MAX {
            let sql = format!(
                "UPDATE t SET moves = moves + 1 WHERE id % 7 = {m};
                 INSERT INTO t (id) SELECT g FROM generate_series({a}, {a} + 99) g;
                 DELETE FROM t WHERE id = {d};",
                m = round % 7,
                a = 100_000 + round * 100,
                d = round * 13 + 1,
            );
            if writer.batch_execute(&sql).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Each endpoint read on the instance its first location names; the planner's (0 and 3)
    // say so in memory, the others only through PostgreSQL.
    let read = read_on_first_locations(&admin, &info, true).await;
    writing.abort();
    let unique: HashSet<i64> = read.iter().copied().collect();
    assert_eq!(unique.len(), read.len(), "a row was read twice");
    assert_eq!(
        (read.len() as i64, read.iter().sum::<i64>()),
        expected,
        "the endpoints' union is the table as it was planned"
    );
    let now: i64 = admin
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(now, expected.0, "the writers changed the table meanwhile");

    // Released early: an endpoint read again (a retry after its instance died) is told to
    // plan again, on any instance, rather than reading another snapshot.
    let mut again = connect(&info.endpoint[1].location[0].uri).await;
    let status = do_get_status(&mut again, info.endpoint[1].ticket.clone().unwrap()).await;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().contains("GetFlightInfo again"),
        "{status:?}"
    );
    for server in servers {
        server.stop().await;
    }
}

async fn channel(location: &str) -> tonic::transport::Channel {
    let url = location.replacen("grpc://", "http://", 1);
    tonic::transport::Channel::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The bearer token the instance at `location` answers a Handshake with.
async fn token(location: &str, user: &str, password: &str) -> String {
    let mut sql = arrow_flight::sql::client::FlightSqlServiceClient::new(channel(location).await);
    sql.handshake(user, password).await.unwrap();
    sql.token().cloned().expect("a bearer token")
}

fn with_token(channel: tonic::transport::Channel, token: &str) -> FlightClient {
    let mut client = FlightClient::new(channel);
    client
        .add_header("authorization", &format!("Bearer {token}"))
        .unwrap();
    client
}

async fn rows(
    client: &mut FlightClient,
    ticket: arrow_flight::Ticket,
) -> Result<usize, FlightError> {
    let batches: Vec<RecordBatch> = client.do_get(ticket).await?.try_collect().await?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

#[tokio::test]
async fn tokens_and_tickets_cross_instances_with_the_same_secret_only() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "crossing",
            "CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 500) g",
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    let hash = PasswordHash::new("alice-pw", 1000).unwrap();
    std::fs::write(&users, format!("alice:{hash}\n")).unwrap();
    let config = |secret: &str| -> Config {
        let mut config = cluster.config(&db);
        config.auth = AuthMode::Password;
        config.users_file = Some(users.clone());
        config.ticket_secret = Some(SecretString::from(secret));
        config
    };
    let (listeners, locations) = bind(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]).await;
    let secrets = ["shared secret", "shared secret", "another secret"];
    let servers: Vec<TestServer> = listeners
        .into_iter()
        .zip(secrets)
        .map(|(listener, secret)| TestServer::serve(listener, config(secret)))
        .collect();

    let token_a = token(&locations[0], "alice", "alice-pw").await;
    let mut on_a = with_token(channel(&locations[0]).await, &token_a);
    let info = on_a.get_flight_info(full_table("t")).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    assert_eq!(rows(&mut on_a, ticket.clone()).await.unwrap(), 500);

    // Same secret: the second instance takes the first one's token and ticket.
    let mut on_b = with_token(channel(&locations[1]).await, &token_a);
    assert_eq!(rows(&mut on_b, ticket.clone()).await.unwrap(), 500);
    on_b.get_flight_info(full_table("t")).await.unwrap();

    // Another secret: the third refuses the token, and the ticket even with its own token.
    let mut on_c = with_token(channel(&locations[2]).await, &token_a);
    let status = grpc_status(on_c.get_flight_info(full_table("t")).await.unwrap_err());
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let token_c = token(&locations[2], "alice", "alice-pw").await;
    let mut own_c = with_token(channel(&locations[2]).await, &token_c);
    let status = grpc_status(rows(&mut own_c, ticket).await.unwrap_err());
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("ticket"), "{status:?}");
    for server in servers {
        server.stop().await;
    }
}

#[tokio::test]
async fn planned_sql_endpoints_are_seen_starting_on_any_instance() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "scaleoutsql",
            "CREATE TABLE t (id int8 PRIMARY KEY, pad text);
             INSERT INTO t SELECT g, repeat('p', 200) FROM generate_series(1, 40000) g;
             ANALYZE t;",
        )
        .await;
    let (listeners, locations) = bind(&["127.0.0.2", "127.0.0.3"]).await;
    let mut servers = Vec::new();
    for listener in listeners {
        let mut config = cluster.config(&db);
        config.partition_min_rows = 1000;
        config.max_partitions = 4;
        config.max_connections = 8;
        config.batch_size = 1000;
        config.ticket_secret = Some(SecretString::from("one secret"));
        config.advertise = locations.clone();
        servers.push(TestServer::serve(listener, config));
    }
    let mut sql =
        arrow_flight::sql::client::FlightSqlServiceClient::new(channel(&locations[1]).await);
    // Read by PostgreSQL alone (pushed filter), and with a filter DataFusion evaluates on each
    // endpoint (planned again at DoGet over the ticket's range): both tag their part.
    for statement in [
        "SELECT id FROM t WHERE id > 100",
        "SELECT id FROM t WHERE pad LIKE 'p%' AND id > 100",
    ] {
        let info = sql.execute(statement.into(), None).await.unwrap();
        assert_eq!(info.endpoint.len(), 4, "{statement}");
        let firsts: Vec<&str> = info
            .endpoint
            .iter()
            .map(|e| e.location[0].uri.as_str())
            .collect();
        assert_eq!(
            firsts,
            [0, 1, 0, 1].map(|i| locations[i].as_str()),
            "{statement}"
        );
        // Ids only: each endpoint ends within milliseconds, before the planner's next look;
        // its backend keeps the tag long enough to be seen all the same.
        let mut read = read_on_first_locations(&admin, &info, false).await;
        read.sort_unstable();
        assert_eq!(read, (101..=40000).collect::<Vec<i64>>(), "{statement}");
    }
    for server in servers {
        server.stop().await;
    }
}

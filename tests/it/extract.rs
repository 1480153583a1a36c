//! Full-table extraction over Flight: JSON and path descriptors, ListFlights, quoted
//! identifiers, empty tables, bad requests, and cancellation when the client goes away.

use std::time::{Duration, Instant};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow_flight::{FlightDescriptor, FlightInfo, Ticket};
use futures::{StreamExt, TryStreamExt};
use tonic::Code;

use crate::harness::{
    TestServer, cluster, do_get_status, flight_client as client, full_table, grpc_status, read_all,
};

fn sum_ids(batches: &[RecordBatch]) -> i64 {
    batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .copied()
        })
        .sum()
}

#[tokio::test]
async fn json_and_path_descriptors_return_every_row() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "extract",
            "CREATE SCHEMA app;
             CREATE TABLE app.users (id bigint PRIMARY KEY, name text NOT NULL, score float8);
             INSERT INTO app.users SELECT g, 'user ' || g, g / 3.0 FROM generate_series(1, 12345) g;
             CREATE TABLE public.users (id bigint);
             ANALYZE app.users;",
        )
        .await;
    let (count, sum): (i64, i64) = {
        let row = admin
            .query_one("SELECT count(*), sum(id)::int8 FROM app.users", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let mut config = cluster.config(&db);
    config.batch_size = 1000;
    let server = TestServer::start(config).await;
    let mut client = client(&server).await;

    for descriptor in [
        full_table("app.users"),
        FlightDescriptor::new_path(vec!["app".into(), "users".into()]),
    ] {
        let info = client.get_flight_info(descriptor).await.unwrap();
        assert_eq!(info.total_records, count);
        let schema = info.clone().try_decode_schema().unwrap();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["id", "name", "score"]);
        let batches = read_all(&mut client, &info).await;
        assert!(batches.iter().all(|b| b.num_rows() <= 1000));
        assert_eq!(
            batches.iter().map(|b| b.num_rows() as i64).sum::<i64>(),
            count
        );
        assert_eq!(sum_ids(&batches), sum);
    }

    // Unqualified names use the configured schema (public), where users is empty.
    let info = client.get_flight_info(full_table("users")).await.unwrap();
    assert!(
        read_all(&mut client, &info)
            .await
            .iter()
            .all(|b| b.num_rows() == 0)
    );
    server.stop().await;
}

#[tokio::test]
async fn empty_table_carries_its_full_schema() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "empty",
            "CREATE TABLE nothing (id int NOT NULL, label text, at timestamptz)",
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = client(&server).await;
    let info = client.get_flight_info(full_table("nothing")).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = client.do_get(ticket).await.unwrap();
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.unwrap().num_rows();
    }
    assert_eq!(rows, 0);
    let schema = stream
        .schema()
        .expect("the stream carries the schema")
        .clone();
    assert_eq!(schema.fields().len(), 3);
    assert!(!schema.field(0).is_nullable());
    assert_eq!(schema.as_ref(), &info.try_decode_schema().unwrap());
    server.stop().await;
}

#[tokio::test]
async fn quoted_identifiers_with_spaces_quotes_and_unicode() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "quoted",
            r#"CREATE SCHEMA "Sales Ops";
               CREATE TABLE "Sales Ops"."Tar""gets ünï" ("Ïd" bigint, "we""ird col" text);
               INSERT INTO "Sales Ops"."Tar""gets ünï" VALUES (1, 'a'), (2, 'b');
               CREATE TABLE "MixedCase" (id bigint);
               INSERT INTO "MixedCase" VALUES (7);"#,
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = client(&server).await;

    let info = client
        .get_flight_info(full_table(r#""Sales Ops"."Tar""gets ünï""#))
        .await
        .unwrap();
    let batches = read_all(&mut client, &info).await;
    assert_eq!(sum_ids(&batches), 3);
    assert_eq!(batches[0].schema().field(1).name(), "we\"ird col");

    let path = FlightDescriptor::new_path(vec!["Sales Ops".into(), "Tar\"gets ünï".into()]);
    let info = client.get_flight_info(path).await.unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 3);

    // An unquoted name matches its exact spelling first.
    let info = client
        .get_flight_info(full_table("MixedCase"))
        .await
        .unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 7);
    server.stop().await;
}

#[tokio::test]
async fn list_flights_lists_readable_relations_with_schemas() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "list",
            "CREATE SCHEMA app;
             CREATE TABLE app.orders (id bigint, total numeric(12,2));
             CREATE VIEW app.big_orders AS SELECT * FROM app.orders WHERE total > 100;
             CREATE TABLE public.secret (id int);
             CREATE ROLE lister LOGIN PASSWORD 'lister-pw';
             GRANT USAGE ON SCHEMA app TO lister;
             GRANT SELECT ON app.orders, app.big_orders TO lister;",
        )
        .await;
    let mut config = cluster.config(&db);
    config.username = "lister".into();
    config.password = Some("lister-pw".into());
    let server = TestServer::start(config).await;
    let mut client = client(&server).await;
    let infos: Vec<FlightInfo> = client
        .list_flights(bytes::Bytes::new())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let paths: Vec<Vec<String>> = infos
        .iter()
        .map(|i| i.flight_descriptor.clone().unwrap().path)
        .collect();
    assert_eq!(
        paths,
        vec![
            vec!["app".to_string(), "big_orders".to_string()],
            vec!["app".to_string(), "orders".to_string()],
        ]
    );
    let schema = infos[1].clone().try_decode_schema().unwrap();
    assert_eq!(
        schema.field(1).data_type(),
        &arrow::datatypes::DataType::Decimal128(12, 2)
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_clear_statuses_and_leave_the_server_healthy() {
    let cluster = cluster().await;
    let db = cluster.create_db("bad").await;
    cluster
        .admin(&db)
        .await
        .batch_execute("CREATE TABLE t (id bigint); INSERT INTO t VALUES (1);")
        .await
        .unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = client(&server).await;

    let err = grpc_status(
        client
            .get_flight_info(full_table("nope"))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("\"nope\""), "{}", err.message());

    let hostile = "t; DROP TABLE t; --";
    let err = grpc_status(
        client
            .get_flight_info(full_table(hostile))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());

    for bad in [
        r#"{"mode":{"fullTabel":{"entity":"t"}}}"#,
        r#"{"mode":"#,
        r#"{"mode":{"fullTable":{"entity":""}}}"#,
        r#"{"mode":{"fullTable":{"entity":"a.b.c"}}}"#,
    ] {
        let err = grpc_status(
            client
                .get_flight_info(FlightDescriptor::new_cmd(bad.to_string()))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "{bad}: {}",
            err.message()
        );
        assert!(err.message().contains("expected") || err.message().contains("entity"));
    }

    let err = grpc_status(
        client
            .get_flight_info(FlightDescriptor::new_path(vec!["only-one".into()]))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code(), Code::InvalidArgument);

    for ticket in [
        Ticket::new("not a ticket"),
        Ticket::new(vec![0x0a, 0x02, 0xff, 0xff]),
        arrow_flight::sql::TicketStatementQuery {
            statement_handle: "SELECT 1".into(),
        }
        .as_any_ticket(),
    ] {
        let err = do_get_status(&mut client, ticket).await;
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    }

    // Still healthy: a good request works.
    let info = client.get_flight_info(full_table("t")).await.unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 1);
    server.stop().await;
}

trait AsAnyTicket {
    fn as_any_ticket(&self) -> Ticket;
}

impl AsAnyTicket for arrow_flight::sql::TicketStatementQuery {
    fn as_any_ticket(&self) -> Ticket {
        use arrow_flight::sql::ProstMessageExt;
        use prost::Message;
        Ticket::new(self.as_any().encode_to_vec())
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_cancels_the_query() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "cancel",
            "CREATE TABLE big AS SELECT g::int8 AS id, repeat('x', 200) AS pad
               FROM generate_series(1, 400000) g;",
        )
        .await;
    let mut config = cluster.config(&db);
    config.batch_size = 1000;
    config.max_connections = 1;
    let server = TestServer::start(config).await;
    let mut client = client(&server).await;
    let info = client.get_flight_info(full_table("big")).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = client.do_get(ticket).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.num_rows(), 1000);

    let running = "SELECT count(*) FROM pg_stat_activity
                    WHERE (application_name = 'pgflight' OR application_name LIKE 'pgflight %') AND state = 'active'
                      AND datname = current_database()";
    let active: i64 = admin.query_one(running, &[]).await.unwrap().get(0);
    assert_eq!(
        active, 1,
        "the COPY should be running while the client reads"
    );
    drop(stream);
    drop(client);

    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let active: i64 = admin.query_one(running, &[]).await.unwrap().get(0);
        if active == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the COPY still runs a second after the client left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The single pooled connection is back and usable.
    let mut client = crate::extract::client(&server).await;
    let info = client.get_flight_info(full_table("big")).await.unwrap();
    let started = Instant::now();
    let rows: usize = read_all(&mut client, &info)
        .await
        .iter()
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 400_000);
    assert!(started.elapsed() < Duration::from_secs(30));
    server.stop().await;
}

#[tokio::test]
async fn a_postgres_restart_is_unavailable_then_healed() {
    let cluster = crate::harness::Cluster::start().await;
    let admin = cluster.admin("postgres").await;
    admin
        .batch_execute(&format!(
            "CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 10) g;
             GRANT SELECT ON t TO {}",
            crate::harness::READER
        ))
        .await
        .unwrap();
    drop(admin);
    let server = TestServer::start(cluster.config("postgres")).await;
    let mut client = client(&server).await;
    let info = client.get_flight_info(full_table("t")).await.unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 55);

    // The pooled connection dies with the restart; the next request gets a fresh one.
    cluster.stop();
    cluster.start_again();
    let info = client.get_flight_info(full_table("t")).await.unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 55);

    // While PostgreSQL is down, requests fail as UNAVAILABLE, naming the cause.
    cluster.stop();
    match client.get_flight_info(full_table("t")).await {
        Err(arrow_flight::error::FlightError::Tonic(status)) => {
            assert_eq!(status.code(), Code::Unavailable, "{}", status.message());
            assert!(
                status.message().contains("connection refused"),
                "{}",
                status.message()
            );
        }
        other => panic!("expected UNAVAILABLE, got {other:?}"),
    }
    let (code, _) = crate::harness::http_get(server.addr, "/readyz").await;
    assert_eq!(code, 503);
    cluster.start_again();
    let info = client.get_flight_info(full_table("t")).await.unwrap();
    assert_eq!(sum_ids(&read_all(&mut client, &info).await), 55);
    server.stop().await;
}

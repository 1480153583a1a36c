//! One privilege rule: a relation the role may not read (no SELECT on it, or no USAGE on its
//! schema) is NOT_FOUND at GetFlightInfo — extraction by JSON or path, incremental, SQL
//! statements, prepared statements and EXPLAIN — exactly like one that does not exist, before
//! any schema is returned; ListFlights and GetTables do not list it. A ticket issued while the
//! relation was readable fails at DoGet with PostgreSQL's PERMISSION_DENIED once revoked.
//! SQL may name a relation the role was granted only some columns of (PostgreSQL checks
//! column privileges when the statement runs).

use arrow_flight::error::FlightError;
use arrow_flight::sql::{CommandGetTables, CommandStatementQuery, ProstMessageExt};
use arrow_flight::{FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use prost::Message;
use tonic::Code;

use crate::harness::{
    READER, TestServer, cluster, do_get_status, flight_client, full_table, read_all, sql_client,
};

fn statement(sql: &str) -> FlightDescriptor {
    FlightDescriptor::new_cmd(
        CommandStatementQuery {
            query: sql.into(),
            transaction_id: None,
        }
        .as_any()
        .encode_to_vec(),
    )
}

async fn info_status(client: &mut FlightClient, descriptor: FlightDescriptor) -> tonic::Status {
    match client.get_flight_info(descriptor).await {
        Err(FlightError::Tonic(status)) => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn unreadable_relations_are_not_found_everywhere() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "privileges",
            &format!(
                "CREATE TABLE t AS SELECT g::int8 AS id, now() AS at FROM generate_series(1, 3) g;
                 CREATE TABLE hidden AS SELECT 42::int8 AS id, now() AS at;
                 CREATE TABLE partial (id int8, secret text);
                 CREATE SCHEMA closed;
                 CREATE TABLE closed.x AS SELECT 1::int8 AS id;
                 REVOKE SELECT ON hidden, partial FROM {READER};
                 GRANT SELECT (id) ON partial TO {READER};
                 REVOKE USAGE ON SCHEMA closed FROM {READER};"
            ),
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;

    let incremental = |entity: &str| {
        FlightDescriptor::new_cmd(format!(
            r#"{{"mode":{{"incremental":{{"entity":"{entity}","cursorField":"id"}}}}}}"#
        ))
    };
    let refused = [
        full_table("hidden"),
        full_table("public.hidden"),
        full_table("partial"),
        full_table("closed.x"),
        FlightDescriptor::new_path(vec!["public".into(), "hidden".into()]),
        FlightDescriptor::new_path(vec!["closed".into(), "x".into()]),
        incremental("hidden"),
        statement("SELECT * FROM hidden"),
        statement("SELECT id FROM hidden WHERE id > 1"),
        statement("SELECT count(*) FROM t JOIN public.hidden h ON h.id = t.id"),
        statement("WITH c AS (SELECT * FROM hidden) SELECT * FROM c"),
        statement("SELECT * FROM t WHERE id IN (SELECT id FROM \"hidden\")"),
        statement("SELECT * FROM closed.x"),
        statement("EXPLAIN SELECT * FROM hidden"),
    ];
    for descriptor in refused {
        let status = info_status(&mut client, descriptor.clone()).await;
        assert_eq!(status.code(), Code::NotFound, "{descriptor:?}: {status:?}");
        assert!(
            status.message().contains("not found"),
            "{descriptor:?}: {}",
            status.message()
        );
    }
    // A relation that does not exist answers the same code.
    let status = info_status(&mut client, full_table("no_such_table")).await;
    assert_eq!(status.code(), Code::NotFound);

    // What the role may read still works: the table, and the column it was granted (column
    // privileges are PostgreSQL's to check when the statement runs).
    client.get_flight_info(full_table("t")).await.unwrap();
    client
        .get_flight_info(statement("SELECT id FROM partial"))
        .await
        .unwrap();

    // ListFlights and GetTables agree.
    let listed: Vec<Vec<String>> = client
        .list_flights(bytes::Bytes::new())
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|info| info.flight_descriptor.unwrap().path)
        .collect();
    assert_eq!(listed, vec![vec!["public".to_string(), "t".to_string()]]);
    let mut sql = sql_client(&server).await;
    let info = sql.get_tables(CommandGetTables::default()).await.unwrap();
    let batches = read_all(&mut sql, &info).await;
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column_by_name("table_name").unwrap();
            let names = arrow::array::AsArray::as_string::<i32>(column);
            names
                .iter()
                .map(|n| n.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, vec!["t".to_string()]);

    // DoGet of a ticket issued while readable: PostgreSQL refuses once SELECT is revoked.
    let info = client.get_flight_info(full_table("t")).await.unwrap();
    admin
        .batch_execute(&format!("REVOKE SELECT ON t FROM {READER}"))
        .await
        .unwrap();
    let status = do_get_status(&mut client, info.endpoint[0].ticket.clone().unwrap()).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    server.stop().await;
}

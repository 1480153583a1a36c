//! The read plan is the ticket: DoGet runs what GetFlightInfo planned without asking the
//! catalog again (counted with pg_stat_statements), statements that DataFusion adds nothing to
//! are answered by PostgreSQL alone, and a ticket stays small for a wide table.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int32Type;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightDescriptor, FlightInfo};
use futures::TryStreamExt;
use tonic::transport::Channel;

use crate::harness::{Cluster, TestServer, cluster, read_all, sql_client, statements_run};

/// GetFlightInfo of a raw Flight descriptor (extraction requests).
async fn info_of(
    client: &mut FlightSqlServiceClient<Channel>,
    descriptor: FlightDescriptor,
) -> FlightInfo {
    client
        .inner_mut()
        .get_flight_info(descriptor)
        .await
        .unwrap()
        .into_inner()
}

fn int_column(batches: &[RecordBatch], index: usize) -> Vec<i32> {
    let mut values: Vec<i32> = batches
        .iter()
        .flat_map(|b| {
            b.column(index)
                .as_primitive::<Int32Type>()
                .values()
                .to_vec()
        })
        .collect();
    values.sort_unstable();
    values
}

/// Each kind of read: GetFlightInfo, then DoGet with pg_stat_statements reset in between;
/// DoGet's statements are the read itself (a COPY, the read-only transaction around client
/// SQL), never a catalog query.
#[tokio::test]
async fn do_get_asks_the_catalog_nothing_that_get_flight_info_asked() {
    let cluster = Cluster::start_with_statement_stats().await;
    let db = cluster.create_db("readplan").await;
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements;
             CREATE TABLE t (id integer PRIMARY KEY, name text, at timestamptz);
             INSERT INTO t SELECT g, 'n' || g, '2024-01-01'::timestamptz + g * interval '1 s'
               FROM generate_series(1, 500) g;",
        )
        .await
        .unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let incremental =
        r#"{"mode":{"incremental":{"entity":"t","cursorField":"id","cursor":"100"}}}"#;
    let reads: Vec<(&str, FlightInfo, usize)> = vec![
        (
            "full table",
            info_of(
                &mut client,
                FlightDescriptor::new_cmd(r#"{"mode":{"fullTable":{"entity":"t"}}}"#),
            )
            .await,
            500,
        ),
        (
            "incremental",
            info_of(&mut client, FlightDescriptor::new_cmd(incremental)).await,
            400,
        ),
        (
            "planned",
            client
                .execute(
                    "SELECT id, name AS label FROM t WHERE id > 250".into(),
                    None,
                )
                .await
                .unwrap(),
            250,
        ),
        (
            "planned with DataFusion",
            client
                .execute("SELECT id FROM t WHERE length(name) = 3".into(), None)
                .await
                .unwrap(),
            90,
        ),
        (
            "pass-through",
            client
                .execute("SELECT id, upper(name) FROM t WHERE id <= 7".into(), None)
                .await
                .unwrap(),
            7,
        ),
    ];
    // A prepared pass-through statement: binding and GetFlightInfo send PostgreSQL nothing (the
    // handle carries PostgreSQL's description), DoGet only the read.
    let mut prepared = client
        .prepare(
            "SELECT id, upper(name) AS up FROM t WHERE id <= ?".into(),
            None,
        )
        .await
        .unwrap();
    prepared
        .set_parameters(
            RecordBatch::try_from_iter([(
                "$1",
                std::sync::Arc::new(arrow::array::Int32Array::from(vec![3])) as _,
            )])
            .unwrap(),
        )
        .unwrap();
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    let prepared_info = prepared.execute().await.unwrap();
    let run = statements_run(&admin, &db).await;
    assert!(run.is_empty(), "binding and GetFlightInfo ran {run:?}");
    let mut reads = reads;
    reads.push(("prepared", prepared_info, 3));
    for (what, info, rows) in reads {
        admin
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
        let batches = read_all(&mut client, &info).await;
        let read: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(read, rows, "{what}");
        let run = statements_run(&admin, &db).await;
        assert!(
            // A scan is a COPY; client SQL runs as itself, its `$n` parameters bound
            // (pg/data_rows.rs). The query's id tags the backend, not the text (pg/backend_tag.rs).
            run.iter().any(|(query, _)| query.starts_with("COPY (")
                || (matches!(what, "pass-through" | "prepared")
                    && !query.contains("COPY")
                    && query.contains("FROM t WHERE id <="))),
            "{what}: no read recorded: {run:?}"
        );
        for (query, _) in &run {
            let lower = query.to_lowercase();
            for catalog in [
                "pg_catalog",
                "pg_class",
                "pg_attribute",
                "format_type",
                "pg_namespace",
            ] {
                assert!(
                    !lower.contains(catalog),
                    "{what}: DoGet asked the catalog: {query}"
                );
            }
        }
    }
    server.stop().await;
}

/// A prepared statement's result keeps the types announced when it was prepared: a column
/// retyped in between is cast back by PostgreSQL, or the execution fails saying why.
#[tokio::test]
async fn prepared_statements_keep_their_announced_types() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "retype",
            "CREATE TABLE r (id integer PRIMARY KEY, n integer);
             INSERT INTO r VALUES (1, 10), (2, 20);",
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let mut prepared = client
        .prepare("SELECT id, n FROM r WHERE id >= $1::int".into(), None)
        .await
        .unwrap();
    let one = RecordBatch::try_from_iter([(
        "$1",
        std::sync::Arc::new(arrow::array::Int32Array::from(vec![1])) as _,
    )])
    .unwrap();
    prepared.set_parameters(one.clone()).unwrap();
    admin
        .batch_execute("ALTER TABLE r ALTER COLUMN n TYPE bigint")
        .await
        .unwrap();
    let info = prepared.execute().await.unwrap();
    let batches = read_all(&mut client, &info).await;
    assert_eq!(
        batches[0].schema().field(1).data_type(),
        &arrow::datatypes::DataType::Int32
    );
    assert_eq!(int_column(&batches, 1), vec![10, 20]);
    admin
        .batch_execute(
            "ALTER TABLE r ALTER COLUMN n TYPE text; UPDATE r SET n = 'ten' WHERE id = 1",
        )
        .await
        .unwrap();
    let info = prepared.execute().await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let status = match client.do_get(ticket).await {
        Ok(stream) => stream
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err()
            .to_string(),
        Err(err) => err.to_string(),
    };
    assert!(
        status.contains("invalid input syntax for type integer"),
        "{status}"
    );
    server.stop().await;
}

/// A statement DataFusion adds nothing to runs as one COPY (EXPLAIN says so) and keeps its
/// aliases and column order; one with a filter PostgreSQL cannot evaluate identically keeps
/// DataFusion, with the same rows as PostgreSQL.
#[tokio::test]
async fn statements_datafusion_adds_nothing_to_are_answered_by_postgresql_alone() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "direct",
            "CREATE TABLE d (id integer PRIMARY KEY, n integer, name text);
             INSERT INTO d SELECT g, g % 7, 'name ' || g FROM generate_series(1, 300) g;",
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let explain = |sql: &str| format!("EXPLAIN {sql}");
    for (sql, alone) in [
        (
            "SELECT n AS k, id FROM d WHERE id > 10 AND n = 3 LIMIT 5",
            true,
        ),
        ("SELECT * FROM d", true),
        ("SELECT id FROM d WHERE length(name) = 8", false),
        ("SELECT id FROM d ORDER BY id DESC LIMIT 3", false),
    ] {
        let info = client.execute(explain(sql), None).await.unwrap();
        let text: Vec<String> = read_all(&mut client, &info)
            .await
            .iter()
            .flat_map(|b| {
                let lines = b.column(0).as_string::<i32>();
                (0..arrow::array::Array::len(lines))
                    .map(|i| lines.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let by_postgres = text
            .iter()
            .any(|l| l.contains("executed: by PostgreSQL alone"));
        assert_eq!(by_postgres, alone, "{sql}: {text:#?}");
    }
    let info = client
        .execute(
            "SELECT n AS k, id FROM d WHERE id > 10 AND n = 3 LIMIT 5".into(),
            None,
        )
        .await
        .unwrap();
    let batches = read_all(&mut client, &info).await;
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["k", "id"]);
    assert_eq!(info.try_decode_schema().unwrap().fields(), schema.fields());
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 5);
    assert!(int_column(&batches, 0).iter().all(|&k| k == 3));
    let info = client
        .execute("SELECT id FROM d WHERE length(name) = 8".into(), None)
        .await
        .unwrap();
    // 'name 100' … 'name 300' have 8 characters.
    assert_eq!(
        int_column(&read_all(&mut client, &info).await, 0),
        (100..=300).collect::<Vec<_>>()
    );
    server.stop().await;
}

/// A ticket carries every column's decoding facts, and stays small: a 300-column table's
/// tickets (full table, and a planned statement) are under 48 bytes a column.
#[tokio::test]
async fn tickets_of_a_300_column_table_stay_small() {
    let cluster = cluster().await;
    let columns: Vec<String> = (0..300)
        .map(|c| {
            format!(
                "a_longish_name_{c:03} {}",
                ["integer", "text", "timestamptz", "numeric(12,2)"][c % 4]
            )
        })
        .collect();
    let (db, _admin) = cluster
        .fixture(
            "wideticket",
            &format!(
                "CREATE TABLE w ({}); INSERT INTO w DEFAULT VALUES;",
                columns.join(", ")
            ),
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let bound = 48 * 300;
    let path = FlightDescriptor::new_path(vec!["public".into(), "w".into()]);
    let full = info_of(&mut client, path).await;
    let planned = client
        .execute(
            "SELECT * FROM w WHERE a_longish_name_000 IS NULL".into(),
            None,
        )
        .await
        .unwrap();
    for info in [&full, &planned] {
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        assert!(ticket.ticket.len() < bound, "{} bytes", ticket.ticket.len());
        let batches = read_all(&mut client, info).await;
        assert_eq!(batches[0].num_columns(), 300);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    }
    server.stop().await;
}

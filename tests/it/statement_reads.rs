//! Client SQL read through the extended protocol (pg/data_rows.rs): typed parameters give the
//! values PostgreSQL gives, a large result streams in batches, repeated executions are one
//! statement to PostgreSQL (plan reuse), and the pool survives its backends being terminated.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType};
use futures::TryStreamExt;

use crate::harness::{Cluster, TestServer, cluster, read_all, sql_client, statements_run};

const FIXTURE: &str = "
CREATE TABLE p (id integer PRIMARY KEY, name text, amount numeric(10,2), at timestamptz);
INSERT INTO p VALUES
 (1, 'a', 1.00, '2024-01-01 00:00:00+00'),
 (2, 'b''c', 1.25, '2024-01-01 00:00:00.5+00'),
 (3, 'ünï', 2.50, '2024-06-30 22:00:00-02'),
 (4, NULL, NULL, NULL),
 (5, 'e', 99999999.99, '1999-12-31 23:59:59.999999+00');
";

/// One result row as text: id, name, amount, microseconds since the epoch, the NULL parameter.
type Row = (i32, Option<String>, Option<String>, Option<i64>, bool);

fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
    let mut rows = Vec::new();
    for batch in batches {
        let id = batch.column(0).as_primitive::<Int32Type>();
        let name = batch.column(1).as_string::<i32>();
        let amount = batch.column(2).as_primitive::<Decimal128Type>();
        let at = batch.column(3).as_primitive::<TimestampMicrosecondType>();
        let nothing = batch.column(4);
        for i in 0..batch.num_rows() {
            rows.push((
                id.value(i),
                name.is_valid(i).then(|| name.value(i).to_string()),
                amount.is_valid(i).then(|| amount.value_as_string(i)),
                at.is_valid(i).then(|| at.value(i)),
                nothing.is_null(i),
            ));
        }
    }
    rows
}

/// PostgreSQL's own answer to the statement with these values as typed literals.
async fn direct(admin: &tokio_postgres::Client, min_id: i32, not_name: &str) -> Vec<Row> {
    admin
        .query(
            "SELECT id, name, amount::text,
                    (extract(epoch FROM at) * 1000000)::int8, $3::text IS NULL
               FROM p
              WHERE id >= $1 AND (name IS NULL OR name <> $2)
                AND (amount IS NULL OR amount >= 1.10)
                AND (at IS NULL OR at >= '1999-01-01 00:00:00+00')
              ORDER BY id",
            &[&min_id, &not_name, &None::<String>],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// A prepared statement with integer, text, numeric, timestamptz and NULL parameters returns
/// exactly PostgreSQL's rows, for each of several bound rows in one execution.
#[tokio::test]
async fn prepared_parameters_of_several_types_give_postgres_values() {
    let cluster = cluster().await;
    let (db, admin) = cluster.fixture("stmtparams", FIXTURE).await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let mut prepared = client
        .prepare(
            "SELECT id, name, amount, at, $5::text AS nothing FROM p
              WHERE id >= $1 AND (name IS NULL OR name <> $2)
                AND (amount IS NULL OR amount >= $3)
                AND (at IS NULL OR at >= $4)
              ORDER BY id"
                .into(),
            None,
        )
        .await
        .unwrap();
    for (min_id, not_name) in [(1, "a"), (2, "b'c"), (3, "zzz")] {
        let params = RecordBatch::try_from_iter([
            ("$1", Arc::new(Int32Array::from(vec![min_id])) as ArrayRef),
            (
                "$2",
                Arc::new(StringArray::from(vec![not_name])) as ArrayRef,
            ),
            ("$3", Arc::new(StringArray::from(vec!["1.10"])) as ArrayRef),
            (
                "$4",
                Arc::new(
                    // 1999-01-01 00:00:00 UTC
                    TimestampMicrosecondArray::from(vec![915_148_800_000_000]).with_timezone("UTC"),
                ) as ArrayRef,
            ),
            (
                "$5",
                Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef,
            ),
        ])
        .unwrap();
        prepared.set_parameters(params).unwrap();
        let info = prepared.execute().await.unwrap();
        let got = rows_of(&read_all(&mut client, &info).await);
        let want = direct(&admin, min_id, not_name).await;
        assert!(!want.is_empty());
        assert_eq!(got, want, "min_id {min_id}, name <> {not_name:?}");
    }
    server.stop().await;
}

/// A 200 000-row statement arrives in batches of `batch_size` rows, streamed (the first batch
/// comes before PostgreSQL could have sent everything), all rows in order.
#[tokio::test]
async fn a_large_statement_result_streams_in_batches() {
    let cluster = cluster().await;
    let (db, _admin) = cluster
        .fixture(
            "stmtlarge",
            "CREATE TABLE big AS SELECT g AS id, repeat('x', 20) AS pad
               FROM generate_series(1, 200000) g;",
        )
        .await;
    let mut config = cluster.config(&db);
    config.batch_size = 7000;
    let server = TestServer::start(config).await;
    let mut client = sql_client(&server).await;
    // A join is passed through to PostgreSQL (not planned as a scan).
    let info = client
        .execute(
            "SELECT b.id::int8, b.pad FROM big b JOIN big c USING (id) ORDER BY b.id".into(),
            None,
        )
        .await
        .unwrap();
    let mut stream = client
        .do_get(info.endpoint[0].ticket.clone().unwrap())
        .await
        .unwrap();
    let mut sizes = Vec::new();
    let mut next_id = 1i64;
    while let Some(batch) = stream.try_next().await.unwrap() {
        sizes.push(batch.num_rows());
        for id in batch.column(0).as_primitive::<Int64Type>().values() {
            assert_eq!(*id, next_id);
            next_id += 1;
        }
    }
    assert_eq!(next_id - 1, 200_000);
    let (last, full) = sizes.split_last().unwrap();
    assert!(full.iter().all(|&n| n == 7000), "{sizes:?}");
    assert_eq!(*last, 200_000 - 7000 * full.len());
    server.stop().await;
}

/// Executions of one prepared statement with different values are one statement to
/// PostgreSQL (pg_stat_statements: one entry, one call per execution), sent as the client's own
/// text with `$n` parameters, not a COPY with literals.
#[tokio::test]
async fn repeated_executions_are_one_statement_to_postgres() {
    let cluster = Cluster::start_with_statement_stats().await;
    let db = cluster.create_db("stmtreuse").await;
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements;
             CREATE TABLE lat (id integer PRIMARY KEY, name text);
             INSERT INTO lat SELECT g, 'n' || g FROM generate_series(1, 100) g;",
        )
        .await
        .unwrap();
    let mut config = cluster.config(&db);
    config.max_connections = 1;
    let server = TestServer::start(config).await;
    let mut client = sql_client(&server).await;
    let mut prepared = client
        .prepare("SELECT id, name FROM lat WHERE id = ?".into(), None)
        .await
        .unwrap();
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    for id in 1..=10 {
        prepared
            .set_parameters(
                RecordBatch::try_from_iter([(
                    "$1",
                    Arc::new(Int32Array::from(vec![id])) as ArrayRef,
                )])
                .unwrap(),
            )
            .unwrap();
        let info = prepared.execute().await.unwrap();
        let batches = read_all(&mut client, &info).await;
        let ids: Vec<i32> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec())
            .collect();
        assert_eq!(ids, vec![id]);
    }
    let run = statements_run(&admin, &db).await;
    let reads: Vec<_> = run
        .iter()
        .filter(|(query, _)| query.contains("FROM lat WHERE id ="))
        .collect();
    assert_eq!(reads.len(), 1, "{run:?}");
    assert_eq!(reads[0].1, 10, "{run:?}");
    assert!(
        reads[0].0.contains("$1") && !reads[0].0.contains("COPY"),
        "{run:?}"
    );
    server.stop().await;
}

/// Backends of the pool terminated behind its back (a failover, a DBA's
/// pg_terminate_backend): the next reads succeed on new connections.
#[tokio::test]
async fn reads_survive_terminated_backends() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "stmtterm",
            "CREATE TABLE t (id integer PRIMARY KEY);
             INSERT INTO t SELECT generate_series(1, 10);",
        )
        .await;
    let mut config = cluster.config(&db);
    config.max_connections = 3;
    let server = TestServer::start(config).await;
    let mut client = sql_client(&server).await;
    let count = |batches: Vec<RecordBatch>| batches.iter().map(|b| b.num_rows()).sum::<usize>();
    for round in 0..3 {
        for _ in 0..4 {
            // Client SQL (the extended protocol) and a planned scan (COPY).
            for sql in [
                "SELECT a.id FROM t a JOIN t b USING (id)",
                "SELECT id FROM t",
            ] {
                let info = client
                    .execute(sql.into(), None)
                    .await
                    .unwrap_or_else(|e| panic!("round {round}, {sql}: {e}"));
                assert_eq!(
                    count(read_all(&mut client, &info).await),
                    10,
                    "round {round}, {sql}"
                );
            }
        }
        let terminated: i64 = admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            terminated > 0,
            "round {round}: no pgflight backend to terminate"
        );
        // The backends have exited (their sockets closed) once PostgreSQL no longer lists them.
        loop {
            let left: i64 = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                      WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    server.stop().await;
}

/// A statement prepared on a connection whose relation changes (a column added, another
/// retyped) is prepared again: the next read answers with the new columns.
#[tokio::test]
async fn a_changed_relation_is_read_with_its_new_columns() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "stmtalter",
            "CREATE TABLE t (id integer PRIMARY KEY, n integer);
             INSERT INTO t VALUES (1, 10), (2, 20);",
        )
        .await;
    let mut config = cluster.config(&db);
    config.max_connections = 1;
    let server = TestServer::start(config).await;
    let mut client = sql_client(&server).await;
    let sql = "SELECT a.* FROM t a JOIN t b USING (id) ORDER BY a.id";
    let info = client.execute(sql.into(), None).await.unwrap();
    let batches = read_all(&mut client, &info).await;
    assert_eq!(batches[0].num_columns(), 2);
    admin
        .batch_execute(
            "ALTER TABLE t ADD COLUMN note text DEFAULT 'x';
             ALTER TABLE t ALTER COLUMN n TYPE bigint;",
        )
        .await
        .unwrap();
    let info = client.execute(sql.into(), None).await.unwrap();
    let batches = read_all(&mut client, &info).await;
    assert_eq!(batches[0].num_columns(), 3);
    assert_eq!(
        batches[0]
            .column(1)
            .as_primitive::<Int64Type>()
            .values()
            .to_vec(),
        vec![10, 20]
    );
    assert_eq!(batches[0].column(2).as_string::<i32>().value(0), "x");
    server.stop().await;
}

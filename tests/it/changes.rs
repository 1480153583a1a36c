//! Change data capture over Flight (issue 17), against PostgreSQL with `wal_level = logical`:
//! each operation and type family, TRUNCATE, a transaction over several tables, a lost cursor,
//! two slots on one table, pgflight and PostgreSQL restarted between runs, a torture test with
//! concurrent writers whose changes, applied in order to the initial copy, reproduce the table,
//! the Flight SQL spelling, DropChangeSlot, and the FAILED_PRECONDITION errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow_flight::{Action, FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use tonic::Code;

use crate::harness::{
    Cluster, READER, TestServer, cluster, cursor_read, flight_client, grpc_status, logical_cluster,
    read_all, sql_client,
};

fn request(entity: &str, slot: &str, cursor: Option<&str>, create: bool) -> FlightDescriptor {
    let json = serde_json::json!({"mode": {"changes": {
        "entity": entity, "slot": slot, "cursor": cursor, "create": create}}});
    FlightDescriptor::new_cmd(json.to_string())
}

/// One run: the change rows, and the next cursor (the same in app_metadata and in the stream's
/// schema metadata).
struct Run {
    batches: Vec<RecordBatch>,
    cursor: String,
}

impl Run {
    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    fn strings(&self, column: &str) -> Vec<Option<String>> {
        self.batches
            .iter()
            .flat_map(|b| {
                let col = b.column_by_name(column).unwrap().as_string::<i32>();
                (0..col.len())
                    .map(|i| col.is_valid(i).then(|| col.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn ops(&self) -> Vec<String> {
        self.strings("_op").into_iter().flatten().collect()
    }

    fn ints(&self, column: &str) -> Vec<Option<i32>> {
        self.batches
            .iter()
            .flat_map(|b| {
                let col = b
                    .column_by_name(column)
                    .unwrap()
                    .as_primitive::<Int32Type>();
                (0..col.len())
                    .map(|i| col.is_valid(i).then(|| col.value(i)))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// PostgreSQL 12 and 13 have no binary pgoutput values: changes are refused there with
/// FAILED_PRECONDITION, which `postgres_12_and_13_refuse_changes_clearly` checks; the tests of
/// what changes deliver stop at once on them.
fn refused_here(cluster: &Cluster) -> bool {
    cluster.version_num < 140_000
}

async fn try_run(
    client: &mut FlightClient,
    descriptor: FlightDescriptor,
) -> Result<Run, tonic::Status> {
    let read = cursor_read(client, descriptor).await?;
    assert_eq!(read.endpoints, 1);
    let cursor = read.metadata["cursor"].as_str().unwrap().to_string();
    Ok(Run {
        batches: read.batches,
        cursor,
    })
}

async fn run(
    client: &mut FlightClient,
    entity: &str,
    slot: &str,
    cursor: Option<&str>,
    create: bool,
) -> Run {
    try_run(client, request(entity, slot, cursor, create))
        .await
        .unwrap_or_else(|s| panic!("{:?}: {}", s.code(), s.message()))
}

/// A database on the logical cluster with `sql` run, and publications for `slots` made by the
/// administrator (the documented way for a reader that owns no table).
async fn fixture(cluster: &Cluster, prefix: &str, sql: &str) -> (String, tokio_postgres::Client) {
    cluster.fixture(prefix, sql).await
}

async fn publish(admin: &tokio_postgres::Client, slot: &str, table: &str) {
    admin
        .batch_execute(&format!("CREATE PUBLICATION {slot} FOR TABLE {table}"))
        .await
        .unwrap();
}

async fn drop_slot(client: &mut FlightClient, slot: &str) -> serde_json::Value {
    let body = serde_json::json!({ "slot": slot }).to_string();
    let mut answers: Vec<bytes::Bytes> = client
        .do_action(Action::new("DropChangeSlot", body))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    serde_json::from_slice(&answers.remove(0)).unwrap()
}

#[tokio::test]
async fn each_operation_and_type_family_comes_through() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_ops",
        "CREATE TABLE t (id int PRIMARY KEY, name text, amount numeric(10,2), at timestamptz,
                         flag boolean, raw bytea, doc jsonb, tags int[], uid uuid, day date,
                         big bigint, ratio float8);",
    )
    .await;
    publish(&admin, "ops", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;

    let first = run(&mut client, "t", "ops", None, true).await;
    assert_eq!(first.rows(), 0);
    admin
        .batch_execute(
            "INSERT INTO t VALUES (1, 'a', 12.50, '2024-01-02 03:04:05.123456+00', true, '\\x0102',
                                  '{\"k\": [1, 2]}', '{1,2,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                                  '2024-02-29', 9000000000, 0.5),
                                 (2, 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
             UPDATE t SET name = 'a2', amount = 1.25 WHERE id = 1;
             UPDATE t SET id = 3 WHERE id = 2;
             DELETE FROM t WHERE id = 1;
             TRUNCATE t;",
        )
        .await
        .unwrap();
    let second = run(&mut client, "t", "ops", Some(&first.cursor), false).await;
    assert_eq!(
        second.ops(),
        [
            "insert", "insert", "update", "delete", "insert", "delete", "truncate"
        ]
    );
    assert_eq!(
        second.ints("id"),
        [Some(1), Some(2), Some(1), Some(2), Some(3), Some(1), None]
    );
    // Deletes carry the key, NULL elsewhere.
    assert_eq!(second.strings("name")[3], None);
    assert_eq!(second.strings("name")[5], None);
    assert_eq!(second.strings("name")[2].as_deref(), Some("a2"));
    let batch = &second.batches[0];
    let schema = batch.schema();
    // The same Arrow types as DoGet.
    let full = {
        let info = client
            .get_flight_info(crate::harness::full_table("t"))
            .await
            .unwrap();
        let stream = client
            .do_get(info.endpoint[0].ticket.clone().unwrap())
            .await
            .unwrap();
        let _: Vec<RecordBatch> = Vec::new();
        let mut stream = stream;
        while stream.try_next().await.unwrap().is_some() {}
        stream.schema().cloned().unwrap()
    };
    for field in full.fields() {
        assert_eq!(
            schema.field_with_name(field.name()).unwrap().data_type(),
            field.data_type(),
            "{}",
            field.name()
        );
    }
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        &names[names.len() - 5..],
        ["_op", "_lsn", "_xid", "_commit_time", "_unchanged"]
    );
    // Values decode as in DoGet.
    let amount = batch.column_by_name("amount").unwrap();
    assert_eq!(
        arrow::util::display::array_value_to_string(amount, 0).unwrap(),
        "12.50"
    );
    let at = batch.column_by_name("at").unwrap();
    assert_eq!(
        arrow::util::display::array_value_to_string(at, 0).unwrap(),
        "2024-01-02T03:04:05.123456Z"
    );
    let tags = batch.column_by_name("tags").unwrap();
    assert_eq!(
        arrow::util::display::array_value_to_string(tags, 0).unwrap(),
        "[1, 2, 3]"
    );
    assert_eq!(
        second.strings("uid")[0].as_deref(),
        Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    );
    assert_eq!(second.strings("doc")[0].as_deref(), Some("{\"k\": [1, 2]}"));
    let big = batch
        .column_by_name("big")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(big.value(0), 9_000_000_000);
    // Every row of one transaction has one commit LSN and xid.
    let lsns = second.strings("_lsn");
    assert!(lsns.windows(2).all(|w| w[0] == w[1]), "{lsns:?}");
    // Nothing new: an empty stream with its schema, the cursor moves on or stays.
    let third = run(&mut client, "t", "ops", Some(&second.cursor), false).await;
    assert_eq!(third.rows(), 0);
    server.stop().await;
}

#[tokio::test]
async fn a_lost_cursor_gets_the_same_changes_again_and_a_stale_one_is_refused() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_again",
        "CREATE TABLE t (id int PRIMARY KEY, v int);",
    )
    .await;
    publish(&admin, "again", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let c0 = run(&mut client, "t", "again", None, true).await.cursor;
    admin
        .batch_execute("INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (2, 2);")
        .await
        .unwrap();
    let r1 = run(&mut client, "t", "again", Some(&c0), false).await;
    assert_eq!(r1.ints("id"), [Some(1), Some(2)]);
    // The client crashed before storing r1.cursor: the old cursor gives the same changes, and
    // those committed since.
    admin
        .batch_execute("UPDATE t SET v = 3 WHERE id = 1")
        .await
        .unwrap();
    let again = run(&mut client, "t", "again", Some(&c0), false).await;
    assert_eq!(again.ints("id"), [Some(1), Some(2), Some(1)]);
    assert_eq!(again.ops(), ["insert", "insert", "update"]);
    // Storing the newest cursor confirms everything before it.
    let after = run(&mut client, "t", "again", Some(&again.cursor), false).await;
    assert_eq!(after.rows(), 0);
    let err = try_run(&mut client, request("t", "again", Some(&c0), false))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("behind"), "{}", err.message());
    // Bad cursors and slot names.
    for (slot, cursor) in [("again", "yesterday"), ("Bad-Slot", "0/0")] {
        let err = try_run(&mut client, request("t", slot, Some(cursor), false))
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    }
    // A slot that does not exist.
    let err = try_run(&mut client, request("t", "nope", None, false))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("\"create\": true"),
        "{}",
        err.message()
    );
    // DropChangeSlot drops the slot and its publication.
    // ListActions names DropChangeSlot.
    let actions: Vec<arrow_flight::ActionType> = client
        .list_actions()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(actions.iter().any(|a| a.r#type == "DropChangeSlot"));
    // DropChangeSlot drops the slot; the administrator's publication stays (theirs to drop).
    let answer = drop_slot(&mut client, "again").await;
    assert_eq!(answer["dropped"], true);
    assert_eq!(answer["publication_dropped"], false);
    assert_eq!(answer["publication_kept_for"], "postgres");
    assert_eq!(drop_slot(&mut client, "again").await["dropped"], false);
    let left: (i64, i64) = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'again'),
                    (SELECT count(*) FROM pg_publication WHERE pubname = 'again')",
            &[],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))
        .unwrap();
    assert_eq!(left, (0, 1));
    server.stop().await;
}

#[tokio::test]
async fn a_transaction_over_several_tables_and_two_slots_on_one_table() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_multi",
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);",
    )
    .await;
    publish(&admin, "multi_a", "a").await;
    publish(&admin, "multi_b", "b").await;
    publish(&admin, "multi_a2", "a").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let ca = run(&mut client, "a", "multi_a", None, true).await.cursor;
    let cb = run(&mut client, "b", "multi_b", None, true).await.cursor;
    let ca2 = run(&mut client, "a", "multi_a2", None, true).await.cursor;
    admin
        .batch_execute(
            "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (10), (11); INSERT INTO a VALUES (2); COMMIT;",
        )
        .await
        .unwrap();
    let ra = run(&mut client, "a", "multi_a", Some(&ca), false).await;
    let rb = run(&mut client, "b", "multi_b", Some(&cb), false).await;
    assert_eq!(ra.ints("id"), [Some(1), Some(2)]);
    assert_eq!(rb.ints("id"), [Some(10), Some(11)]);
    // One transaction: one commit LSN on both sides.
    assert_eq!(ra.strings("_lsn")[0], rb.strings("_lsn")[0]);
    // The second slot on a is independent: moving multi_a on does not move multi_a2.
    let _ = run(&mut client, "a", "multi_a", Some(&ra.cursor), false).await;
    let r2 = run(&mut client, "a", "multi_a2", Some(&ca2), false).await;
    assert_eq!(r2.ints("id"), [Some(1), Some(2)]);
    // A slot's publication serves its own table only.
    let err = try_run(&mut client, request("b", "multi_a", None, false))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    for slot in ["multi_a", "multi_b", "multi_a2"] {
        drop_slot(&mut client, slot).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn the_flight_sql_spelling_returns_the_same_changes() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(cluster, "cdc_sql", "CREATE TABLE t (id int PRIMARY KEY);").await;
    publish(&admin, "viasql", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let c0 = run(&mut client, "t", "viasql", None, true).await.cursor;
    admin
        .batch_execute("INSERT INTO t VALUES (7)")
        .await
        .unwrap();
    let mut sql = sql_client(&server).await;
    let info = sql
        .execute(
            format!("SELECT * FROM pgflight_changes('t', 'viasql', cursor => '{c0}')"),
            None,
        )
        .await
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&info.app_metadata).unwrap();
    assert!(metadata["cursor"].is_string());
    let batches = read_all(&mut sql, &info).await;
    let ids: Vec<i32> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int32Type>().values().to_vec())
        .collect();
    assert_eq!(ids, [7]);
    // EXPLAIN describes and changes nothing: no slot made, no cursor confirmed.
    let info = sql
        .execute(
            "EXPLAIN SELECT * FROM pgflight_changes('t', 'explained', create => 'true')".into(),
            None,
        )
        .await
        .unwrap();
    let lines = read_all(&mut sql, &info).await;
    let text: Vec<String> = lines[0]
        .column(0)
        .as_string::<i32>()
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    assert!(text[0].starts_with("path: changes"), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l.contains("pg_logical_slot_peek_binary_changes")),
        "{text:?}"
    );
    let made: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'explained'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(made, 0);
    drop_slot(&mut client, "viasql").await;
    server.stop().await;
}

#[tokio::test]
async fn clear_failed_preconditions_name_what_is_missing() {
    // wal_level = replica (the shared cluster).
    let plain = cluster().await;
    let db = plain.create_db("cdc_nowal").await;
    plain
        .admin(&db)
        .await
        .batch_execute("CREATE TABLE t (id int PRIMARY KEY)")
        .await
        .unwrap();
    let server = TestServer::start(plain.config(&db)).await;
    let mut client = flight_client(&server).await;
    let err = try_run(&mut client, request("t", "s", None, true))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    let expected = if refused_here(plain) {
        "PostgreSQL 14 or later"
    } else {
        "wal_level = logical"
    };
    assert!(err.message().contains(expected), "{}", err.message());
    server.stop().await;

    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_pre",
        "CREATE TABLE t (id int PRIMARY KEY, addr inet);
                                                  CREATE TABLE u (id int PRIMARY KEY);
                                                  CREATE TABLE nokey (id int);",
    )
    .await;
    admin
        .batch_execute(
            "CREATE ROLE cdc_norepl LOGIN PASSWORD 'pw';
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO cdc_norepl;",
        )
        .await
        .unwrap_or(());
    // Without REPLICATION.
    let mut config = cluster.config(&db);
    config.username = "cdc_norepl".into();
    config.password = Some(secrecy::SecretString::from("pw"));
    let server = TestServer::start(config).await;
    let mut client = flight_client(&server).await;
    let err = try_run(&mut client, request("u", "s", None, true))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("REPLICATION"), "{}", err.message());
    server.stop().await;
    // A reader that owns nothing cannot create the publication: the message gives the SQL.
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let err = try_run(&mut client, request("u", "pre_u", None, true))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(
        err.message()
            .contains("CREATE PUBLICATION \"pre_u\" FOR TABLE \"public\".\"u\""),
        "{}",
        err.message()
    );
    // Once it owns the table (and may create in the database), it creates both itself.
    admin
        .batch_execute(&format!(
            "ALTER TABLE u OWNER TO {READER}; ALTER TABLE nokey OWNER TO {READER};
             GRANT CREATE ON DATABASE \"{db}\" TO {READER};"
        ))
        .await
        .unwrap();
    let first = run(&mut client, "u", "pre_u", None, true).await;
    assert_eq!(first.rows(), 0);
    // A table without a replica identity is not published: its writers' UPDATE and DELETE
    // would fail.
    let err = try_run(&mut client, request("nokey", "pre_nokey", None, true))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(
        err.message().contains("replica identity"),
        "{}",
        err.message()
    );
    admin
        .batch_execute("UPDATE nokey SET id = 1")
        .await
        .unwrap();
    // Columns DoGet has PostgreSQL cast to text cannot be decoded from the change stream.
    let err = try_run(&mut client, request("t", "pre_t", None, true))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Code::Unimplemented, "{}", err.message());
    assert!(err.message().contains("addr"), "{}", err.message());
    // The publication it made, it drops with the slot.
    let answer = drop_slot(&mut client, "pre_u").await;
    assert_eq!(answer["dropped"], true);
    assert_eq!(answer["publication_dropped"], true);
    server.stop().await;
}

#[tokio::test]
async fn pgflight_and_postgres_restarts_between_runs_lose_and_repeat_nothing() {
    let cluster = Cluster::start_logical().await;
    if refused_here(&cluster) {
        return;
    }
    let (db, admin) = fixture(
        &cluster,
        "cdc_restart",
        "CREATE TABLE t (id int PRIMARY KEY);",
    )
    .await;
    publish(&admin, "restart", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let c0 = run(&mut client, "t", "restart", None, true).await.cursor;
    admin
        .batch_execute("INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let r1 = run(&mut client, "t", "restart", Some(&c0), false).await;
    assert_eq!(r1.ints("id"), [Some(1)]);
    server.stop().await;
    drop(admin);

    // pgflight restarted.
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let r2 = run(&mut client, "t", "restart", Some(&r1.cursor), false).await;
    assert_eq!(r2.ints("id"), [Some(2)]);
    admin
        .batch_execute("INSERT INTO t VALUES (3)")
        .await
        .unwrap();
    drop(admin);

    // PostgreSQL restarted.
    cluster.stop();
    cluster.start_again();
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute("INSERT INTO t VALUES (4)")
        .await
        .unwrap();
    let r3 = loop {
        // The pool's old connections broke with the restart: a retry gets new ones.
        match try_run(
            &mut client,
            request("t", "restart", Some(&r2.cursor), false),
        )
        .await
        {
            Ok(run) => break run,
            Err(s) if s.code() == Code::Unavailable => continue,
            Err(s) => panic!("{:?}: {}", s.code(), s.message()),
        }
    };
    assert_eq!(r3.ints("id"), [Some(3), Some(4)]);
    server.stop().await;
    cluster.stop();
}

/// Applies change rows to `table` (id → v), by key, in order.
fn apply(table: &mut BTreeMap<i32, Option<i32>>, run: &Run) {
    let ids = run.ints("id");
    let vs = run.ints("v");
    for (i, op) in run.ops().iter().enumerate() {
        match op.as_str() {
            "insert" | "update" => {
                table.insert(ids[i].unwrap(), vs[i]);
            }
            "delete" => {
                table.remove(&ids[i].unwrap());
            }
            "truncate" => table.clear(),
            other => panic!("unknown op {other}"),
        }
    }
}

#[tokio::test]
async fn torture_concurrent_writers_replayed_on_the_initial_copy_give_the_table() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_torture",
        "CREATE TABLE t (id int PRIMARY KEY, v int);
         INSERT INTO t SELECT g, 0 FROM generate_series(1, 200) g;",
    )
    .await;
    publish(&admin, "torture", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4i32 {
        let stop = stop.clone();
        let writer = cluster.admin(&db).await;
        writers.push(tokio::spawn(async move {
            writer.batch_execute("SET synchronous_commit = on").await.unwrap();
            let mut n = 0i32;
            let mut seed = 7u64 + w as u64;
            let mut next = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let long = next() % 5 == 0;
                writer.batch_execute("BEGIN").await.unwrap();
                for _ in 0..(1 + next() % 4) {
                    let id = (next() % 300) as i32 + 1;
                    let sql = match next() % 3 {
                        0 => format!(
                            "INSERT INTO t VALUES ({id}, {n}) ON CONFLICT (id) DO UPDATE SET v = {n}"
                        ),
                        1 => format!("UPDATE t SET v = v + 1 WHERE id = {id}"),
                        _ => format!("DELETE FROM t WHERE id = {id}"),
                    };
                    // Writers race on rows: a deadlock aborts one transaction, which is fine.
                    if writer.batch_execute(&sql).await.is_err() {
                        break;
                    }
                    if long {
                        tokio::time::sleep(Duration::from_millis(next() % 150)).await;
                    }
                }
                let _ = writer.batch_execute("COMMIT").await;
                let _ = writer.batch_execute("ROLLBACK").await;
                tokio::time::sleep(Duration::from_millis(next() % 10)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The slot, then the initial copy (a full extraction after the slot exists).
    let mut cursor = run(&mut client, "t", "torture", None, true).await.cursor;
    let info = client
        .get_flight_info(crate::harness::full_table("t"))
        .await
        .unwrap();
    let copy = read_all(&mut client, &info).await;
    let mut replica = BTreeMap::new();
    for batch in &copy {
        let ids = batch.column(0).as_primitive::<Int32Type>();
        let vs = batch.column(1).as_primitive::<Int32Type>();
        for i in 0..batch.num_rows() {
            replica.insert(ids.value(i), vs.is_valid(i).then(|| vs.value(i)));
        }
    }
    let mut changes = 0;
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let run = run(&mut client, "t", "torture", Some(&cursor), false).await;
        apply(&mut replica, &run);
        changes += run.rows();
        cursor = run.cursor;
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let last = run(&mut client, "t", "torture", Some(&cursor), false).await;
    apply(&mut replica, &last);
    changes += last.rows();
    assert!(changes > 100, "the writers made only {changes} changes");
    let rows = admin
        .query("SELECT id, v FROM t ORDER BY id", &[])
        .await
        .unwrap();
    let table: BTreeMap<i32, Option<i32>> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(replica, table);
    drop_slot(&mut client, "torture").await;
    server.stop().await;
}

#[tokio::test]
async fn slot_lag_and_age_are_gauges_per_slot() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(cluster, "cdc_lag", "CREATE TABLE t (id int PRIMARY KEY);").await;
    publish(&admin, "lagging", "t").await;
    let mut config = cluster.config(&db);
    config.slot_check_interval = Duration::from_millis(200);
    config.slot_lag_warn_bytes = 1;
    let server = TestServer::start(config).await;
    let mut client = flight_client(&server).await;
    run(&mut client, "t", "lagging", None, true).await;
    admin
        .batch_execute("INSERT INTO t SELECT generate_series(1, 1000)")
        .await
        .unwrap();
    let sample = |body: &str, name: &str| {
        body.lines()
            .find(|l| l.starts_with(&format!("{name}{{slot=\"lagging\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let mut lag = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (code, body) = crate::harness::http_get(server.addr, "/metrics").await;
        assert_eq!(code, 200);
        lag = sample(&body, "pgflight_slot_lag_bytes").filter(|v| *v > 0.0);
        if lag.is_some() {
            assert!(sample(&body, "pgflight_slot_xmin_age").is_some(), "{body}");
            break;
        }
    }
    assert!(lag.is_some(), "no pgflight_slot_lag_bytes for the slot");
    drop_slot(&mut client, "lagging").await;
    server.stop().await;
}

/// `pgflight check`'s line about change data capture, run as the reader on `cluster`.
fn check_line(cluster: &Cluster, db: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgflight"))
        .arg("check")
        .env_clear()
        .env("PGFLIGHT_HOST", "127.0.0.1")
        .env("PGFLIGHT_PORT", cluster.port.to_string())
        .env("PGFLIGHT_DATABASE", db)
        .env("PGFLIGHT_USERNAME", READER)
        .env("PGFLIGHT_PASSWORD", crate::harness::ROLE_PASSWORD)
        .env("PGFLIGHT_SSLMODE", "disable")
        .current_dir(&cluster.dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find(|l| l.starts_with("Change data capture"))
        .unwrap_or_else(|| panic!("no change data capture line in {text}"))
        .to_string()
}

#[tokio::test]
async fn check_reports_wal_level_and_replication() {
    let logical = logical_cluster().await;
    let db = logical.create_db("cdc_check").await;
    let line = check_line(logical, &db);
    if refused_here(logical) {
        assert!(line.contains("PostgreSQL 14 or later"), "{line}");
    } else {
        assert!(line.contains("ready"), "{line}");
    }
    let plain = cluster().await;
    let db = plain.create_db("cdc_check").await;
    let line = check_line(plain, &db);
    assert!(line.contains("wal_level = logical"), "{line}");
    assert!(line.contains("REPLICATION"), "{line}");
}

#[tokio::test]
async fn another_consumers_slot_is_neither_read_nor_confirmed_nor_dropped() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_foreign",
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);
         CREATE PUBLICATION subscriber FOR TABLE a, b;",
    )
    .await;
    // Each slot in a statement of its own (not in a transaction that wrote).
    for slot in ["subscriber", "other_sub"] {
        admin
            .execute(
                "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
                &[&slot],
            )
            .await
            .unwrap();
    }
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    for slot in ["subscriber", "other_sub"] {
        for create in [false, true] {
            let err = try_run(&mut client, request("a", slot, Some("0/FFFFFFFF"), create))
                .await
                .err()
                .unwrap();
            assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
        }
        let body = serde_json::json!({ "slot": slot }).to_string();
        let err = grpc_status(
            client
                .do_action(Action::new("DropChangeSlot", body))
                .await
                .err()
                .unwrap(),
        );
        assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
        assert!(
            err.message().contains("not a change slot"),
            "{}",
            err.message()
        );
    }
    // Untouched: both slots exist, unconfirmed beyond their start.
    let rows = admin
        .query(
            "SELECT slot_name::text, confirmed_flush_lsn < '0/FFFFFFFF'::pg_lsn
               FROM pg_replication_slots WHERE slot_name IN ('subscriber', 'other_sub')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.get::<_, bool>(1)));
    for slot in ["subscriber", "other_sub"] {
        admin
            .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
            .await
            .unwrap();
    }
    server.stop().await;
}

#[tokio::test]
async fn postgres_12_and_13_refuse_changes_clearly() {
    let cluster = logical_cluster().await;
    let (db, admin) = fixture(
        cluster,
        "cdc_version",
        "CREATE TABLE t (id int PRIMARY KEY);",
    )
    .await;
    publish(&admin, "version", "t").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let result = try_run(&mut client, request("t", "version", None, true)).await;
    if refused_here(cluster) {
        let err = result.err().unwrap();
        assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
        assert!(
            err.message().contains("PostgreSQL 14 or later"),
            "{}",
            err.message()
        );
    } else {
        assert_eq!(result.unwrap().rows(), 0);
        drop_slot(&mut client, "version").await;
    }
    server.stop().await;
}

#[tokio::test]
async fn toast_left_unchanged_and_replica_identity_full() {
    let cluster = logical_cluster().await;
    if refused_here(cluster) {
        return;
    }
    let (db, admin) = fixture(
        cluster,
        "cdc_toast",
        "CREATE TABLE t (id int PRIMARY KEY, n int, big text);
         ALTER TABLE t ALTER big SET STORAGE EXTERNAL;
         CREATE TABLE f (id int PRIMARY KEY, n int, note text);
         ALTER TABLE f REPLICA IDENTITY FULL;",
    )
    .await;
    publish(&admin, "toast", "t").await;
    publish(&admin, "fullident", "f").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = flight_client(&server).await;
    let ct = run(&mut client, "t", "toast", None, true).await.cursor;
    let cf = run(&mut client, "f", "fullident", None, true).await.cursor;
    admin
        .batch_execute(
            "INSERT INTO t VALUES (1, 0, repeat('x', 10000));
             UPDATE t SET n = 1 WHERE id = 1;
             INSERT INTO f VALUES (1, 2, 'kept');
             DELETE FROM f WHERE id = 1;",
        )
        .await
        .unwrap();
    let rt = run(&mut client, "t", "toast", Some(&ct), false).await;
    assert_eq!(rt.ops(), ["insert", "update"]);
    let big = rt.strings("big");
    assert_eq!(big[0].as_ref().map(String::len), Some(10000));
    assert_eq!(
        big[1], None,
        "the unchanged TOASTed value is not in the WAL"
    );
    let unchanged = rt.batches[0]
        .column_by_name("_unchanged")
        .unwrap()
        .as_list::<i32>()
        .clone();
    assert!(unchanged.is_null(0));
    assert_eq!(unchanged.value(1).as_string::<i32>().value(0), "big");
    // REPLICA IDENTITY FULL: a delete carries every column.
    let rf = run(&mut client, "f", "fullident", Some(&cf), false).await;
    assert_eq!(rf.ops(), ["insert", "delete"]);
    assert_eq!(rf.strings("note")[1].as_deref(), Some("kept"));
    assert_eq!(rf.ints("n")[1], Some(2));
    drop_slot(&mut client, "toast").await;
    drop_slot(&mut client, "fullident").await;
    server.stop().await;
}

//! Parallel endpoints: large tables split into disjoint ranges that read one snapshot.

use std::collections::HashSet;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use arrow_flight::{FlightDescriptor, FlightInfo};
use futures::TryStreamExt;
use pgflight::config::Config;
use pgflight::pg::partition::Split;
use tonic::Code;

use crate::harness::{
    TestServer, cluster, do_get_status, fetch_all, fetch_all_ids, flight_client as client,
};

fn split_config(config: Config) -> Config {
    let mut config = config;
    config.partition_min_rows = 1000;
    config.max_partitions = 4;
    config.max_connections = 6;
    config.batch_size = 5000;
    config
}

fn request(json: serde_json::Value) -> FlightDescriptor {
    FlightDescriptor::new_cmd(json.to_string())
}

async fn expected(admin: &tokio_postgres::Client, table: &str) -> (i64, i64) {
    let row = admin
        .query_one(
            &format!("SELECT count(*), coalesce(sum(id), 0)::int8 FROM {table}"),
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

fn assert_exact(ids: &[i64], (count, sum): (i64, i64)) {
    let unique: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a row was read twice");
    assert_eq!(ids.len() as i64, count, "rows lost or added");
    assert_eq!(ids.iter().sum::<i64>(), sum);
}

#[tokio::test]
async fn split_tables_are_read_exactly_once() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "split",
            "CREATE TABLE t (id int8 PRIMARY KEY, pad text);
             INSERT INTO t SELECT g, repeat('p', 50) FROM generate_series(1, 120000) g;
             DELETE FROM t WHERE id % 3 = 0;          -- dead tuples and free space
             ANALYZE t;
             -- The primary key lets PostgreSQL 12/13 (no TID Range Scan) split it by key.
             CREATE TABLE parted (id int8 PRIMARY KEY, pad text) PARTITION BY RANGE (id);
             CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (MINVALUE) TO (30000);
             CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (30000) TO (70000);
             CREATE TABLE parted_c PARTITION OF parted FOR VALUES FROM (70000) TO (MAXVALUE);
             INSERT INTO parted SELECT g, 'x' FROM generate_series(1, 100000) g;
             ANALYZE parted;",
        )
        .await;
    let server = TestServer::start(split_config(cluster.config(&db))).await;
    let mut c = client(&server).await;

    let info = c
        .get_flight_info(request(
            serde_json::json!({"mode": {"fullTable": {"entity": "t"}}}),
        ))
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 4, "a large table is split");
    assert!(!info.ordered);
    assert!(info.endpoint.iter().all(|e| e.location.is_empty()));
    assert_exact(
        &fetch_all_ids(&server, &info).await,
        expected(&admin, "t").await,
    );

    admin.batch_execute("VACUUM FULL t").await.unwrap();
    admin.batch_execute("ANALYZE t").await.unwrap();
    let info = c
        .get_flight_info(FlightDescriptor::new_path(vec![
            "public".into(),
            "t".into(),
        ]))
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 4);
    assert_exact(
        &fetch_all_ids(&server, &info).await,
        expected(&admin, "t").await,
    );

    let info = c
        .get_flight_info(request(
            serde_json::json!({"mode": {"fullTable": {"entity": "parted"}}}),
        ))
        .await
        .unwrap();
    assert!(info.endpoint.len() > 1, "a partitioned table is split");
    assert_exact(
        &fetch_all_ids(&server, &info).await,
        expected(&admin, "parted").await,
    );

    // The exporting transactions end once every endpoint has started.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_in_txn: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgflight%'
               AND state LIKE 'idle in transaction%' AND datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(idle_in_txn, 0);
    server.stop().await;
}

#[tokio::test]
async fn key_ranges_and_requested_partition_counts() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "keys",
            "CREATE TABLE small (id int4 PRIMARY KEY, v text);
             INSERT INTO small SELECT g, 'v' FROM generate_series(-50, 949) g;
             CREATE TABLE nokey (id int8, v text);
             INSERT INTO nokey SELECT g, 'v' FROM generate_series(1, 100) g;",
        )
        .await;
    let mut config = split_config(cluster.config(&db));
    config.partition_min_rows = 1_000_000;
    let server = TestServer::start(config).await;
    let mut c = client(&server).await;

    // The PostgreSQL 12/13 path: integer primary key ranges (forced here).
    let keys = serde_json::json!({"mode": {"fullTable": {"entity": "small"}}, "partitions": 3, "split": "keys"});
    let info = c.get_flight_info(request(keys)).await.unwrap();
    assert_eq!(info.endpoint.len(), 3);
    let (count, sum) = expected(&admin, "small").await;
    let ids: Vec<i64> = fetch_ids_int4(&server, &info).await;
    assert_exact(&ids, (count, sum));

    // Small tables are not split unless asked; requests are bounded by max_partitions.
    let plain = serde_json::json!({"mode": {"fullTable": {"entity": "small"}}});
    assert_eq!(
        c.get_flight_info(request(plain))
            .await
            .unwrap()
            .endpoint
            .len(),
        1
    );
    let many = serde_json::json!({"mode": {"fullTable": {"entity": "small"}}, "partitions": 50});
    let info = c.get_flight_info(request(many)).await.unwrap();
    assert_eq!(info.endpoint.len(), 4);
    assert_exact(&fetch_ids_int4(&server, &info).await, (count, sum));

    // Without an integer key, key ranges are impossible: one endpoint.
    let nokey = serde_json::json!({"mode": {"fullTable": {"entity": "nokey"}}, "partitions": 3, "split": "keys"});
    assert_eq!(
        c.get_flight_info(request(nokey))
            .await
            .unwrap()
            .endpoint
            .len(),
        1
    );
    server.stop().await;
}

/// Every endpoint of `info` read at once; the first column's values (an int4 id) widened.
async fn fetch_ids_int4(server: &TestServer, info: &FlightInfo) -> Vec<i64> {
    fetch_all(server, info)
        .await
        .iter()
        .flat_map(|batch| {
            let column = batch.column(0).as_primitive::<Int32Type>();
            column
                .values()
                .iter()
                .map(|v| *v as i64)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn endpoints_read_one_snapshot_while_writers_move_rows() {
    let cluster = cluster().await;
    let (db, admin) = cluster
        .fixture(
            "snapshot",
            "CREATE TABLE t (id int8 PRIMARY KEY, moves int4 NOT NULL DEFAULT 0);
             INSERT INTO t SELECT g FROM generate_series(1, 60000) g;
             ANALYZE t;",
        )
        .await;
    let (count, sum) = expected(&admin, "t").await;
    let server = TestServer::start(split_config(cluster.config(&db))).await;
    let mut c = client(&server).await;
    let info = c
        .get_flight_info(request(
            serde_json::json!({"mode": {"fullTable": {"entity": "t"}}}),
        ))
        .await
        .unwrap();
    assert_eq!(info.endpoint.len(), 4);

    // Updates write new row versions at the table's end: without one snapshot, a row moved
    // from an early range to the last would be read twice (or missed).
    let writer = cluster.admin(&db).await;
    writer
        .batch_execute("UPDATE t SET moves = moves + 1 WHERE id % 7 = 0")
        .await
        .unwrap();
    writer
        .batch_execute("INSERT INTO t SELECT g FROM generate_series(60001, 61000) g")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for endpoint in &info.endpoint {
        let mut client = client(&server).await;
        let batches: Vec<RecordBatch> = client
            .do_get(endpoint.ticket.clone().unwrap())
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for batch in &batches {
            ids.extend(
                batch
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter()
                    .copied(),
            );
        }
        writer
            .batch_execute("UPDATE t SET moves = moves + 1 WHERE id % 5 = 0")
            .await
            .unwrap();
    }
    assert_exact(&ids, (count, sum));
    server.stop().await;
}

#[tokio::test]
async fn an_expired_snapshot_asks_for_a_new_request() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "expired",
            "CREATE TABLE t AS SELECT g::int8 AS id FROM generate_series(1, 20000) g;
             ALTER TABLE t ADD PRIMARY KEY (id); -- splittable by key on 12/13 too
             ANALYZE t;",
        )
        .await;
    let mut config = split_config(cluster.config(&db));
    config.snapshot_ttl = Duration::from_millis(500);
    let server = TestServer::start(config).await;
    let mut c = client(&server).await;
    let info = c
        .get_flight_info(request(
            serde_json::json!({"mode": {"fullTable": {"entity": "t"}}}),
        ))
        .await
        .unwrap();
    assert!(info.endpoint.len() > 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = do_get_status(&mut c, info.endpoint[0].ticket.clone().unwrap()).await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("request expired"),
        "{}",
        status.message()
    );
    assert!(status.message().contains("call GetFlightInfo again"));
    server.stop().await;
}

#[tokio::test]
async fn block_ranges_use_a_tid_range_scan() {
    let cluster = cluster().await;
    if cluster.version_num < 140000 {
        return; // TID Range Scans arrived in PostgreSQL 14; key ranges are used before.
    }
    let (_db, admin) = cluster
        .fixture(
            "tidscan",
            "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 50000) g; ANALYZE t;",
        )
        .await;
    let split = Split::Blocks {
        from: Some(10),
        to: Some(20),
    };
    let plan: Vec<String> = admin
        .query(
            &format!("EXPLAIN SELECT * FROM t WHERE {}", split.filter_sql()),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(plan[0].contains("Tid Range Scan"), "{plan:?}");
}

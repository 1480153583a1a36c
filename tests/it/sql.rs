//! SQL equivalence: each filter over a fixture table of many types and NULLs returns, through
//! pgflight (planned with pushdown where allowed), exactly the rows PostgreSQL returns.

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int32Type;
use arrow_flight::sql::client::FlightSqlServiceClient;
use futures::TryStreamExt;
use tonic::transport::Channel;

use crate::harness::{TestServer, cluster, sql_client};

const FIXTURE: &str = "
CREATE TABLE f (id integer PRIMARY KEY, b boolean, i2 smallint, i4 integer, i8 bigint,
  r real, d double precision, n numeric(10,2), t text, v varchar(10), c char(4),
  day date, ts timestamp, tz timestamptz, by bytea, u uuid, j jsonb, arr integer[]);
INSERT INTO f VALUES
 (1, true, 1, 10, 100, 1.5, 2.5, 1.50, 'apple', 'x', 'ab', '2024-01-01', '2024-01-01 10:00', '2024-01-01 10:00+00', '\\x00ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": 1}', '{1,2}'),
 (2, false, -1, -10, -100, -1.5, -2.5, -1.50, 'Banana', 'y', 'b', '2024-06-30', '2024-06-30 23:59:59.999999', '2024-06-30 22:00-02', '\\x01', 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '{\"k\": 2}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, true, 32767, 2147483647, 9223372036854775807, 'NaN', 'Infinity', 99999999.99, 'ünïcode', 'z', 'cd  ', '1999-12-31', '1970-01-01 00:00', '1999-12-31 23:00-01', '', 'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '[]', '{3}'),
 (5, false, 0, 0, 0, -0.0, 0, 0, '', '', '', '2000-01-01', '2000-01-01 00:00', '2000-01-01 00:00+00', '\\x61', NULL, 'null', NULL),
 (6, true, 5, 5, 5, 5, 5, 5.05, 'it''s', 'it''s', 'x', '2024-01-02', '2024-01-01 10:00:00.5', '2024-01-01 09:00+00', NULL, NULL, NULL, '{NULL}');
";

const FILTERS: &[&str] = &[
    "i4 = 10",
    "i4 <> 10",
    "i2 < 1",
    "i8 >= 100",
    "i8 > 5",
    "b",
    "NOT b",
    "b = false",
    "r > 1",
    "d < 3",
    "n = 1.50",
    "n > 1",
    "t = 'apple'",
    "t <> 'apple'",
    "v = 'it''s'",
    "t IS NULL",
    "t IS NOT NULL",
    "day = '2024-01-01'",
    "day > '2000-01-01'",
    "ts >= '2024-01-01 10:00:00'",
    "ts < '2000-01-01'",
    "tz > '2024-01-01 09:30:00+00'",
    "tz = '2024-07-01 00:00:00+00'",
    "tz = '2024-06-30 22:00:00-02'",
    "tz < '2000-01-01T00:00:00Z'",
    "i4 IN (10, 5, -10)",
    "i4 NOT IN (10, 5)",
    "i4 BETWEEN 0 AND 10",
    "i4 NOT BETWEEN 0 AND 10",
    "i4 = 10 OR t = 'Banana'",
    "NOT (i4 = 10 OR i4 IS NULL)",
    "i4 > 0 AND (d > 2 OR b)",
    "t LIKE 'a%'",
    "t NOT LIKE '%a%'",
    "length(t) > 4",
    "coalesce(i4, 7) = 7",
    "c = 'cd'",
    "t < 'b'",
    "u = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'",
    "j @> '{\"k\": 1}'",
    "arr @> '{1}'",
    "i2 + 1 > 1",
    "by = '\\x00ff'",
];

async fn ids(batches: &[RecordBatch]) -> Vec<i32> {
    let mut ids: Vec<i32> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column(0).as_primitive::<Int32Type>();
            (0..column.len())
                .map(|i| column.value(i))
                .collect::<Vec<_>>()
        })
        .collect();
    ids.sort_unstable();
    ids
}

async fn run(client: &mut FlightSqlServiceClient<Channel>, sql: &str) -> Vec<RecordBatch> {
    let info = client
        .execute(sql.to_string(), None)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    client
        .do_get(ticket)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[tokio::test]
async fn filters_return_exactly_the_rows_postgres_returns() {
    let cluster = cluster().await;
    let db = cluster.create_db("sql").await;
    let admin = cluster.admin(&db).await;
    admin.batch_execute(FIXTURE).await.unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let mut pushed = 0;
    let mut planned = 0;
    for filter in FILTERS {
        let sql = format!("SELECT id FROM f WHERE {filter}");
        let expected: Vec<i32> = admin
            .query(&format!("{sql} ORDER BY id"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let got = ids(&run(&mut client, &sql).await).await;
        assert_eq!(got, expected, "{filter}");
        let explain = run(&mut client, &format!("EXPLAIN {sql}")).await;
        let text: Vec<String> = explain[0]
            .column(0)
            .as_string::<i32>()
            .iter()
            .map(|l| l.unwrap_or_default().to_string())
            .collect();
        let text = text.join("\n");
        if text.contains("path: planned") {
            planned += 1;
        }
        if text.contains("pushed filters: (") {
            pushed += 1;
        }
        println!(
            "{filter:45} → {}",
            text.lines().take(2).collect::<Vec<_>>().join(" | ")
        );
    }
    assert!(FILTERS.len() >= 30);
    // The allow-list must actually go down, and PostgreSQL-only syntax must pass through.
    assert!(pushed >= 25, "only {pushed} filters were pushed down");
    assert!(planned < FILTERS.len(), "nothing passed through");
}

#[tokio::test]
async fn explain_shows_pushed_filter_and_sql_sent() {
    let cluster = cluster().await;
    let db = cluster.create_db("sqlexplain").await;
    let admin = cluster.admin(&db).await;
    admin.batch_execute(FIXTURE).await.unwrap();
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let batches = run(
        &mut client,
        "EXPLAIN SELECT id, t FROM f WHERE tz >= '2024-01-01T00:00:00+02:00' AND t LIKE 'a%' LIMIT 5",
    )
    .await;
    let lines: Vec<String> = batches[0]
        .column(0)
        .as_string::<i32>()
        .iter()
        .map(|l| l.unwrap().to_string())
        .collect();
    let text = lines.join("\n");
    assert!(
        text.contains("path: planned (DataFusion over \"public\".\"f\")"),
        "{text}"
    );
    assert!(
        text.contains("pushed filters: (\"tz\" >= '2023-12-31 22:00:00.000000+00'::timestamptz)"),
        "{text}"
    );
    assert!(text.contains("pushed limit: none"), "{text}");
    assert!(
        text.contains("sql sent: COPY (SELECT \"id\", \"t\" FROM \"public\".\"f\" WHERE"),
        "{text}"
    );
}

mod split {
    use std::collections::HashSet;

    use crate::harness::{TestServer, cluster, sql_client};

    use crate::harness::fetch_all_ids;

    /// PostgreSQL's rows for `sql` (first column), in PostgreSQL's order.
    async fn postgres_rows(admin: &tokio_postgres::Client, sql: &str) -> Vec<i64> {
        admin
            .query(sql, &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// PostgreSQL's rows for `sql` (first column), sorted.
    async fn postgres_ids(admin: &tokio_postgres::Client, sql: &str) -> Vec<i64> {
        let mut ids = postgres_rows(admin, sql).await;
        ids.sort_unstable();
        ids
    }

    fn sorted_unique(ids: Vec<i64>) -> Vec<i64> {
        let unique: HashSet<i64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "a row was read by two endpoints");
        let mut ids = ids;
        ids.sort_unstable();
        ids
    }

    #[tokio::test]
    async fn planned_statements_over_large_tables_give_parallel_endpoints() {
        let cluster = cluster().await;
        let (db, admin) = cluster
            .fixture(
                "sqlsplit",
                "CREATE TABLE big (id int8 PRIMARY KEY, v int4, t text);
                 INSERT INTO big SELECT g, g % 100, g::text FROM generate_series(1, 30000) g;
                 ANALYZE big;",
            )
            .await;
        let mut config = cluster.config(&db);
        config.partition_min_rows = 1000;
        config.max_partitions = 4;
        config.max_connections = 6;
        config.batch_size = 2000;
        let server = TestServer::start(config).await;
        let mut c = sql_client(&server).await;

        // A pushed filter (v < 50) and one DataFusion evaluates (LIKE) on every endpoint.
        for sql in [
            "SELECT id, t FROM big WHERE v < 50",
            "SELECT id FROM big WHERE v < 50 AND t LIKE '1%'",
            "SELECT id, v FROM big",
        ] {
            let info = c.execute(sql.to_string(), None).await.unwrap();
            assert_eq!(info.endpoint.len(), 4, "{sql}: a large table is split");
            assert!(!info.ordered, "{sql}");
            let expected = postgres_ids(&admin, sql).await;
            assert!(!expected.is_empty());
            assert_eq!(
                sorted_unique(fetch_all_ids(&server, &info).await),
                expected,
                "{sql}"
            );
        }

        // PostgreSQL's estimate where every row is read; unknown once there is a filter.
        let info = c.execute("SELECT id FROM big".into(), None).await.unwrap();
        assert_eq!(info.total_records, 30000);
        let info = c
            .execute("SELECT id FROM big WHERE v < 50".into(), None)
            .await
            .unwrap();
        assert_eq!(info.total_records, -1);

        // Every endpoint reads the snapshot taken at planning time.
        let sql = "SELECT id FROM big WHERE v >= 10";
        let before = postgres_ids(&admin, sql).await;
        let info = c.execute(sql.to_string(), None).await.unwrap();
        assert_eq!(info.endpoint.len(), 4);
        admin
            .batch_execute(
                "INSERT INTO big SELECT g, 77, 'late' FROM generate_series(30001, 31000) g;
                 DELETE FROM big WHERE id <= 500;",
            )
            .await
            .unwrap();
        assert_eq!(sorted_unique(fetch_all_ids(&server, &info).await), before);

        // ORDER BY, LIMIT and OFFSET keep one endpoint (each endpoint would apply them).
        for (sql, rows) in [
            ("SELECT id FROM big WHERE v < 50 ORDER BY id", None),
            ("SELECT id FROM big LIMIT 10", Some(10)),
            ("SELECT id FROM big WHERE v = 3 LIMIT 5 OFFSET 2", Some(5)),
            ("SELECT id FROM big ORDER BY v, id", None),
        ] {
            let info = c.execute(sql.to_string(), None).await.unwrap();
            assert_eq!(info.endpoint.len(), 1, "{sql}");
            let got = fetch_all_ids(&server, &info).await;
            match rows {
                Some(n) => assert_eq!(got.len(), n, "{sql}"),
                None => assert!(
                    got == postgres_rows(&admin, sql).await,
                    "{sql}: other rows or order"
                ),
            }
        }
        let ordered = c
            .execute("SELECT id FROM big ORDER BY id DESC".into(), None)
            .await
            .unwrap();
        let got = fetch_all_ids(&server, &ordered).await;
        assert!(got.windows(2).all(|w| w[0] > w[1]), "order kept");

        // Pass-through statements stay one endpoint.
        let info = c
            .execute("SELECT id FROM big WHERE id::text LIKE '7%'".into(), None)
            .await
            .unwrap();
        assert_eq!(info.endpoint.len(), 1);
        assert_eq!(
            sorted_unique(fetch_all_ids(&server, &info).await),
            postgres_ids(&admin, "SELECT id FROM big WHERE id::text LIKE '7%'").await
        );

        // Small tables are not split.
        admin
            .batch_execute("CREATE TABLE small AS SELECT g::int8 AS id FROM generate_series(1, 10) g; ANALYZE small;")
            .await
            .unwrap();
        let info = c
            .execute("SELECT id FROM small".into(), None)
            .await
            .unwrap();
        assert_eq!(info.endpoint.len(), 1);
        assert_eq!(info.total_records, 10);
        server.stop().await;
    }

    #[tokio::test]
    async fn prepared_planned_statements_split_too() {
        let cluster = cluster().await;
        let (db, admin) = cluster
            .fixture(
                "sqlsplitprep",
                "CREATE TABLE big (id int8 PRIMARY KEY, v int4);
                 INSERT INTO big SELECT g, g % 10 FROM generate_series(1, 20000) g;
                 ANALYZE big;",
            )
            .await;
        let mut config = cluster.config(&db);
        config.partition_min_rows = 1000;
        config.max_partitions = 3;
        config.max_connections = 6;
        let server = TestServer::start(config).await;
        let mut c = sql_client(&server).await;
        let sql = "SELECT id FROM big WHERE v IN (1, 2)";
        let mut prepared = c.prepare(sql.to_string(), None).await.unwrap();
        let info = prepared.execute().await.unwrap();
        assert_eq!(info.endpoint.len(), 3);
        assert_eq!(
            sorted_unique(fetch_all_ids(&server, &info).await),
            postgres_ids(&admin, sql).await
        );
        server.stop().await;
    }
}

//! The catalog cache never serves a stale schema: after a query primes it, each change to a
//! relation (ADD, DROP, retype and RENAME COLUMN; DROP and CREATE under the same name; a new
//! table; REVOKE; a column's type renamed) is answered correctly by the very next request, through SQL (planned by
//! DataFusion), extraction by JSON and by path, and incremental extraction. A repeat of a
//! planned statement sends PostgreSQL one catalog query (the check), not the full catalog query,
//! and PostgreSQL does not plan that check again; a statement naming more relations than the
//! check lists as parameters is checked all the same.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::{FlightClient, FlightDescriptor, FlightInfo};
use pgflight::pg::types::TYPE_NAME_KEY;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::{
    Cluster, READER, TestServer, cluster, flight_client, full_table, grpc_status, read_all,
    sql_client, statements_run,
};

/// The schema GetFlightInfo announced and the batches DoGet returned, or the refusal.
type Answer = Result<(SchemaRef, Vec<RecordBatch>), tonic::Status>;

/// A server over a fresh database holding `sql`, with an admin client to change it.
struct Case {
    admin: tokio_postgres::Client,
    _server: TestServer,
    sql: FlightSqlServiceClient<Channel>,
    flight: FlightClient,
}

impl Case {
    async fn start(prefix: &str, fixture: &str) -> Case {
        let (db, admin) = cluster().await.fixture(prefix, fixture).await;
        let server = TestServer::start(cluster().await.config(&db)).await;
        Case {
            sql: sql_client(&server).await,
            flight: flight_client(&server).await,
            admin,
            _server: server,
        }
    }

    async fn change(&self, ddl: &str) {
        self.admin.batch_execute(ddl).await.unwrap();
    }

    /// The schema GetFlightInfo announced and the batches DoGet returned, for SQL.
    async fn query(&mut self, sql: &str) -> Answer {
        let info = self
            .sql
            .execute(sql.to_string(), None)
            .await
            .map_err(|e| tonic::Status::unknown(e.to_string()))?;
        let batches = read_all(&mut self.flight, &info).await;
        Ok((schema_of(&info), batches))
    }

    /// The same for an extraction descriptor.
    async fn extract(&mut self, descriptor: FlightDescriptor) -> Answer {
        let info = self
            .flight
            .get_flight_info(descriptor)
            .await
            .map_err(grpc_status)?;
        let batches = read_all(&mut self.flight, &info).await;
        Ok((schema_of(&info), batches))
    }

    /// Every way of reading `t` (planned SQL, JSON and path extraction, incremental), each
    /// answering its schema's field names and types, and the rows' first two columns as text.
    async fn every_read(&mut self, table: &str) -> Vec<(String, Vec<(String, DataType)>)> {
        let reads: Vec<(&str, Answer)> = vec![
            ("sql *", self.query(&format!("SELECT * FROM {table}")).await),
            (
                "sql where",
                self.query(&format!("SELECT * FROM {table} WHERE id >= 1"))
                    .await,
            ),
            ("json", self.extract(full_table(table)).await),
            (
                "path",
                self.extract(FlightDescriptor::new_path(vec![
                    "public".into(),
                    table.into(),
                ]))
                .await,
            ),
            (
                "incremental",
                self.extract(FlightDescriptor::new_cmd(format!(
                    r#"{{"mode":{{"incremental":{{"entity":"{table}","cursorField":"id","cursor":"0"}}}}}}"#
                )))
                .await,
            ),
        ];
        reads
            .into_iter()
            .map(|(how, read)| {
                let (schema, batches) = read.unwrap_or_else(|e| panic!("{how}: {e:?}"));
                for batch in &batches {
                    assert_eq!(batch.schema().fields(), schema.fields(), "{how}");
                }
                let fields = schema
                    .fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect();
                (how.to_string(), fields)
            })
            .collect()
    }
}

fn schema_of(info: &FlightInfo) -> SchemaRef {
    std::sync::Arc::new(info.clone().try_decode_schema().unwrap())
}

fn fields(names: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    names
        .iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
}

/// Every read of `t` answers exactly `expected` fields.
async fn assert_every_read(case: &mut Case, table: &str, expected: &[(&str, DataType)]) {
    for (how, got) in case.every_read(table).await {
        assert_eq!(got, fields(expected), "{how}");
    }
}

/// The values of column `name` of `batches`, as text.
fn texts(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut values = Vec::new();
    for batch in batches {
        let column = batch.column_by_name(name).unwrap();
        let column = arrow::compute::cast(column, &DataType::Utf8).unwrap();
        let column = column.as_string::<i32>();
        for i in 0..column.len() {
            values.push(if column.is_null(i) {
                "NULL".to_string()
            } else {
                column.value(i).to_string()
            });
        }
    }
    values.sort();
    values
}

const FIXTURE: &str = "CREATE TABLE t (id integer PRIMARY KEY, v integer, name text);
                       INSERT INTO t VALUES (1, 10, 'a'), (2, 20, 'b');";

#[tokio::test]
async fn an_added_column_appears_at_once() {
    let mut case = Case::start("cache_add", FIXTURE).await;
    let before = [
        ("id", DataType::Int32),
        ("v", DataType::Int32),
        ("name", DataType::Utf8),
    ];
    assert_every_read(&mut case, "t", &before).await;
    case.change("ALTER TABLE t ADD COLUMN extra text DEFAULT 'x'")
        .await;
    let after = [
        ("id", DataType::Int32),
        ("v", DataType::Int32),
        ("name", DataType::Utf8),
        ("extra", DataType::Utf8),
    ];
    assert_every_read(&mut case, "t", &after).await;
    let (_, batches) = case.query("SELECT * FROM t WHERE id >= 1").await.unwrap();
    assert_eq!(texts(&batches, "extra"), ["x", "x"]);
    let (_, batches) = case.extract(full_table("t")).await.unwrap();
    assert_eq!(texts(&batches, "extra"), ["x", "x"]);
}

#[tokio::test]
async fn a_dropped_column_is_gone_without_error() {
    let mut case = Case::start("cache_drop", FIXTURE).await;
    case.every_read("t").await;
    case.change("ALTER TABLE t DROP COLUMN v").await;
    assert_every_read(
        &mut case,
        "t",
        &[("id", DataType::Int32), ("name", DataType::Utf8)],
    )
    .await;
    let (_, batches) = case.query("SELECT * FROM t").await.unwrap();
    assert_eq!(texts(&batches, "name"), ["a", "b"]);
}

#[tokio::test]
async fn a_retyped_column_has_its_new_arrow_type() {
    let mut case = Case::start("cache_retype", FIXTURE).await;
    case.every_read("t").await;
    case.change("ALTER TABLE t ALTER COLUMN v TYPE bigint")
        .await;
    assert_every_read(
        &mut case,
        "t",
        &[
            ("id", DataType::Int32),
            ("v", DataType::Int64),
            ("name", DataType::Utf8),
        ],
    )
    .await;
    let (_, batches) = case.query("SELECT v FROM t WHERE id > 0").await.unwrap();
    let values: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(values, [10, 20]);
}

#[tokio::test]
async fn a_renamed_column_answers_by_its_new_name() {
    let mut case = Case::start("cache_rename", FIXTURE).await;
    case.every_read("t").await;
    case.change("ALTER TABLE t RENAME COLUMN v TO w").await;
    assert_every_read(
        &mut case,
        "t",
        &[
            ("id", DataType::Int32),
            ("w", DataType::Int32),
            ("name", DataType::Utf8),
        ],
    )
    .await;
    let (_, batches) = case.query("SELECT w FROM t WHERE w > 15").await.unwrap();
    assert_eq!(texts(&batches, "w"), ["20"]);
}

#[tokio::test]
async fn a_renamed_column_type_shows_its_new_name() {
    let mut case = Case::start(
        "cache_type_rename",
        "CREATE TYPE mood AS ENUM ('calm', 'glad');
         CREATE TABLE m (id integer PRIMARY KEY, feeling mood);
         INSERT INTO m VALUES (1, 'calm'), (2, 'glad');",
    )
    .await;
    let type_name = |answer: Answer| {
        let (schema, _) = answer.unwrap();
        let field = schema.field_with_name("feeling").unwrap().clone();
        field.metadata().get(TYPE_NAME_KEY).cloned()
    };
    assert_eq!(
        type_name(case.query("SELECT * FROM m WHERE id > 0").await).as_deref(),
        Some("mood")
    );
    assert_eq!(
        type_name(case.extract(full_table("m")).await).as_deref(),
        Some("mood")
    );
    case.change("ALTER TYPE mood RENAME TO temper").await;
    assert_eq!(
        type_name(case.query("SELECT * FROM m WHERE id > 0").await).as_deref(),
        Some("temper")
    );
    assert_eq!(
        type_name(case.extract(full_table("m")).await).as_deref(),
        Some("temper")
    );
    let (_, batches) = case
        .query("SELECT feeling FROM m WHERE id > 1")
        .await
        .unwrap();
    assert_eq!(texts(&batches, "feeling"), ["glad"]);
}

#[tokio::test]
async fn a_table_dropped_and_created_again_is_the_new_one() {
    let mut case = Case::start("cache_recreate", FIXTURE).await;
    case.every_read("t").await;
    case.change(
        "DROP TABLE t;
         CREATE TABLE t (id bigint PRIMARY KEY, label varchar(5));
         INSERT INTO t VALUES (7, 'seven');",
    )
    .await;
    assert_every_read(
        &mut case,
        "t",
        &[("id", DataType::Int64), ("label", DataType::Utf8)],
    )
    .await;
    let (_, batches) = case.query("SELECT * FROM t WHERE id = 7").await.unwrap();
    assert_eq!(texts(&batches, "label"), ["seven"]);
}

#[tokio::test]
async fn a_new_table_is_visible_at_once() {
    let mut case = Case::start("cache_new", FIXTURE).await;
    case.every_read("t").await;
    // Asked for before it exists: not found (JSON), an error from PostgreSQL (SQL).
    let refused = case.extract(full_table("fresh")).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert!(case.query("SELECT * FROM fresh").await.is_err());
    case.change(
        "CREATE TABLE fresh (id integer, x numeric(6,2)); INSERT INTO fresh VALUES (1, 2.50)",
    )
    .await;
    assert_every_read(
        &mut case,
        "fresh",
        &[("id", DataType::Int32), ("x", DataType::Decimal128(6, 2))],
    )
    .await;
    let (_, batches) = case
        .query("SELECT x FROM fresh WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(texts(&batches, "x"), ["2.50"]);
}

#[tokio::test]
async fn a_revoked_table_is_refused_at_once() {
    let mut case = Case::start("cache_revoke", FIXTURE).await;
    case.every_read("t").await;
    case.change(&format!("REVOKE SELECT ON t FROM {READER}"))
        .await;
    let refusals = [
        case.query("SELECT * FROM t").await.unwrap_err(),
        case.query("SELECT * FROM t WHERE id = 1")
            .await
            .unwrap_err(),
        case.extract(full_table("t")).await.unwrap_err(),
        case.extract(FlightDescriptor::new_path(vec![
            "public".into(),
            "t".into(),
        ]))
        .await
        .unwrap_err(),
    ];
    for refused in refusals {
        assert!(
            refused.message().contains("not found"),
            "{}",
            refused.message()
        );
    }
    let status = case
        .flight
        .get_flight_info(full_table("t"))
        .await
        .map_err(grpc_status)
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // Granted again: readable again at once.
    case.change(&format!("GRANT SELECT ON t TO {READER}")).await;
    case.every_read("t").await;
}

/// A server over database `name` holding [`FIXTURE`], on a cluster of its own that counts
/// statements (`pg_stat_statements`, planning too), with an admin connection and both clients.
struct Counted {
    _cluster: Cluster,
    db: String,
    admin: tokio_postgres::Client,
    server: TestServer,
    client: FlightSqlServiceClient<Channel>,
    flight: FlightClient,
}

impl Counted {
    async fn start(name: &str) -> Counted {
        let cluster = Cluster::start_with_statement_stats().await;
        let db = cluster.create_db(name).await;
        let admin = cluster.admin(&db).await;
        admin
            .batch_execute(&format!("CREATE EXTENSION pg_stat_statements; {FIXTURE}"))
            .await
            .unwrap();
        let server = TestServer::start(cluster.config(&db)).await;
        Counted {
            client: sql_client(&server).await,
            flight: flight_client(&server).await,
            _cluster: cluster,
            db,
            admin,
            server,
        }
    }
}

/// The statements GetFlightInfo of a planned point query sends: on a repeat, the one check
/// query of the catalog cache (no full catalog query, no `to_regclass` of its own).
#[tokio::test]
async fn a_repeat_plan_sends_one_catalog_query() {
    let Counted {
        _cluster,
        db,
        admin,
        server,
        mut client,
        mut flight,
    } = Counted::start("cache_count").await;
    let point = "SELECT id, v, name FROM t WHERE id = 2";
    client.execute(point.into(), None).await.unwrap();
    let path = || FlightDescriptor::new_path(vec!["public".into(), "t".into()]);
    flight.get_flight_info(full_table("t")).await.unwrap();
    flight.get_flight_info(path()).await.unwrap();
    for what in ["planned SQL", "extraction", "path descriptor"] {
        admin
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
        match what {
            "planned SQL" => drop(client.execute(point.into(), None).await.unwrap()),
            "extraction" => drop(flight.get_flight_info(full_table("t")).await.unwrap()),
            _ => drop(flight.get_flight_info(path()).await.unwrap()),
        }
        let run = statements_run(&admin, &db).await;
        let calls: i64 = run.iter().map(|(_, calls)| calls).sum();
        assert_eq!(calls, 1, "{what}: {run:#?}");
        assert!(run[0].0.contains("AS unreadable"), "{what}: {run:#?}");
    }
    server.stop().await;
}

/// The check query keeps its plan: after its first executions on a connection, PostgreSQL runs
/// it without planning it again (planning it cost more than running it).
#[tokio::test]
async fn the_check_query_is_not_planned_again() {
    let Counted {
        _cluster,
        db,
        admin,
        server,
        mut client,
        mut flight,
    } = Counted::start("cache_plans").await;
    let point = |id: i32| format!("SELECT id, v, name FROM t WHERE id = {id}");
    for id in 0..12 {
        client.execute(point(id), None).await.unwrap();
        flight.get_flight_info(full_table("t")).await.unwrap();
    }
    admin
        .batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    for id in 0..5 {
        client.execute(point(id), None).await.unwrap();
        flight.get_flight_info(full_table("t")).await.unwrap();
    }
    let checks = admin
        .query(
            "SELECT s.calls, s.plans FROM pg_stat_statements s
               JOIN pg_database d ON d.oid = s.dbid
              WHERE d.datname = $1 AND s.query LIKE '%AS unreadable%'",
            &[&db],
        )
        .await
        .unwrap();
    // One check query for SQL, one for extraction, each run 5 times and planned never.
    let counts: Vec<(i64, i64)> = checks.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(counts, vec![(5, 0), (5, 0)], "{counts:?}");
    server.stop().await;
}

/// A statement naming more relations than the check query lists as parameters is checked all
/// the same: readable, it runs; one relation not readable, it is NOT_FOUND.
#[tokio::test]
async fn many_relations_are_checked_too() {
    let count = 20;
    let tables: Vec<String> = (1..=count).map(|i| format!("t{i:02}")).collect();
    let fixture: String = tables
        .iter()
        .map(|t| format!("CREATE TABLE {t} (id integer); INSERT INTO {t} VALUES (1);"))
        .collect();
    let mut case = Case::start("cache_many", &fixture).await;
    let sql = format!(
        "SELECT count(*) AS n FROM {}",
        tables.join(" NATURAL JOIN ")
    );
    let (_, batches) = case.query(&sql).await.unwrap();
    assert_eq!(batches[0].column(0).as_primitive::<Int64Type>().value(0), 1);
    case.change(&format!(
        "REVOKE SELECT ON {} FROM {READER}",
        tables[count - 1]
    ))
    .await;
    let refused = case.query(&sql).await.unwrap_err();
    assert!(
        refused.message().contains("not found"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains(&tables[count - 1]),
        "{}",
        refused.message()
    );
}

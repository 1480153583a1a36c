//! Schema discovery through Flight SQL: GetTables with include_schema (the schema DoGet
//! produces, one catalog statement whatever the number of tables), keys over partitioned
//! tables, GetSqlInfo with an empty id list, GetXdbcTypeInfo, each metadata call one prepared
//! statement whose answer does not change with PostgreSQL's plan, and bad input.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Schema, UInt32Type};
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{
    CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys,
    CommandGetPrimaryKeys, CommandGetTables, CommandGetXdbcTypeInfo,
};
use arrow_flight::{FlightDescriptor, FlightInfo};
use futures::TryStreamExt;
use tonic::transport::Channel;

use crate::harness::{
    Cluster, TestServer, cluster, flight_client, read_all, sql_client, statements_run,
};

/// DoGet of every endpoint, as one batch.
async fn fetch(client: &mut FlightSqlServiceClient<Channel>, info: &FlightInfo) -> RecordBatch {
    let schema = Arc::new(info.clone().try_decode_schema().unwrap());
    let batches = read_all(client, info).await;
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..array.len())
        .map(|i| array.value(i).to_string())
        .collect()
}

/// The schema DoGet produces for a full-table extraction of `entity`.
async fn doget_schema(server: &TestServer, entity: &str) -> Schema {
    let mut client = flight_client(server).await;
    let json = serde_json::json!({"mode": {"fullTable": {"entity": entity}}});
    let info = client
        .get_flight_info(FlightDescriptor::new_cmd(json.to_string()))
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let stream = client.do_get(ticket).await.unwrap();
    let batches: Vec<RecordBatch> = stream.try_collect().await.unwrap();
    batches[0].schema().as_ref().clone()
}

#[tokio::test]
async fn include_schema_is_the_schema_doget_produces() {
    let cluster = cluster().await;
    let (db, _) = cluster
        .fixture(
            "discovery",
            r#"CREATE SCHEMA "S p""q";
               CREATE DOMAIN money2 AS numeric(10,2);
               CREATE TYPE mood AS ENUM ('ok', 'sad');
               CREATE TABLE "S p""q".t (id int8 PRIMARY KEY, price money2, tags text[], doc jsonb,
                   at timestamptz NOT NULL, m mood, v varchar(12), ip inet, n numeric);
               INSERT INTO "S p""q".t VALUES (1, 2.5, '{a}', '{}', now(), 'ok', 'x', '::1', 1);"#,
        )
        .await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let info = client
        .get_tables(CommandGetTables {
            db_schema_filter_pattern: Some("S p\"q".into()),
            table_name_filter_pattern: Some("t".into()),
            include_schema: true,
            ..CommandGetTables::default()
        })
        .await
        .unwrap();
    let batch = fetch(&mut client, &info).await;
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(strings(&batch, "catalog_name"), vec![db.clone()]);
    assert_eq!(strings(&batch, "table_type"), vec!["TABLE".to_string()]);
    let bytes = batch
        .column_by_name("table_schema")
        .unwrap()
        .as_binary::<i32>();
    let listed = arrow::ipc::convert::try_schema_from_ipc_buffer(bytes.value(0)).unwrap();
    let produced = doget_schema(&server, r#""S p""q".t"#).await;
    assert_eq!(listed, produced);
    assert_eq!(listed.fields().len(), 9);
    server.stop().await;
}

#[tokio::test]
async fn keys_of_partitioned_tables_are_listed_once_under_the_parent() {
    let cluster = cluster().await;
    let (db, _) = cluster.fixture("discovery", "CREATE TABLE orders (region int, id int, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
             CREATE TABLE orders_1 PARTITION OF orders FOR VALUES IN (1);
             CREATE TABLE orders_2 PARTITION OF orders FOR VALUES IN (2);
             CREATE TABLE lines (n int, o_region int, o_id int,
                 FOREIGN KEY (o_region, o_id) REFERENCES orders ON DELETE RESTRICT ON UPDATE SET DEFAULT);").await;
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;

    let info = client
        .get_exported_keys(CommandGetExportedKeys {
            db_schema: Some("public".into()),
            table: "orders".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let exported = fetch(&mut client, &info).await;
    assert_eq!(
        strings(&exported, "pk_table_name"),
        vec!["orders", "orders"]
    );
    assert_eq!(strings(&exported, "pk_column_name"), vec!["region", "id"]);
    assert_eq!(
        strings(&exported, "fk_column_name"),
        vec!["o_region", "o_id"]
    );
    assert_eq!(strings(&exported, "pk_key_name"), vec!["orders_pkey"; 2]);
    let seq = exported.column_by_name("key_sequence").unwrap();
    assert_eq!(
        seq.as_primitive::<arrow::datatypes::Int32Type>().values(),
        &[1, 2]
    );
    let rules = |name: &str| {
        exported
            .column_by_name(name)
            .unwrap()
            .as_primitive::<arrow::datatypes::UInt8Type>()
            .values()
            .to_vec()
    };
    assert_eq!(rules("update_rule"), vec![4, 4]); // SET DEFAULT
    assert_eq!(rules("delete_rule"), vec![1, 1]); // RESTRICT

    let info = client
        .get_cross_reference(CommandGetCrossReference {
            pk_table: "orders_1".into(),
            fk_table: "lines".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fetch(&mut client, &info).await.num_rows(), 0);

    let info = client
        .get_tables(CommandGetTables::default())
        .await
        .unwrap();
    let tables = fetch(&mut client, &info).await;
    assert_eq!(strings(&tables, "table_name"), vec!["lines", "orders"]);
    server.stop().await;
}

#[tokio::test]
async fn sql_info_with_no_ids_answers_every_key_and_type_info_every_type() {
    let cluster = cluster().await;
    let server = TestServer::start(cluster.config("postgres")).await;
    let mut client = sql_client(&server).await;
    let info = client.get_sql_info(vec![]).await.unwrap();
    let batch = fetch(&mut client, &info).await;
    let ids = batch
        .column(0)
        .as_primitive::<UInt32Type>()
        .values()
        .to_vec();
    for key in [
        0u32, 1, 3, 4, 8, 503, 504, 505, 508, 513, 525, 526, 562, 563, 549,
    ] {
        assert!(ids.contains(&key), "SqlInfo {key} missing from {ids:?}");
    }

    let info = client
        .get_xdbc_type_info(CommandGetXdbcTypeInfo::default())
        .await
        .unwrap();
    let types = fetch(&mut client, &info).await;
    let names = strings(&types, "type_name");
    for name in [
        "boolean", "bigint", "numeric", "text", "bytea", "date", "jsonb", "uuid",
    ] {
        assert!(
            names.contains(&name.to_string()),
            "{name} missing: {names:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_pattern_ending_in_the_escape_character_is_invalid_argument() {
    let cluster = cluster().await;
    let server = TestServer::start(cluster.config("postgres")).await;
    let mut client = sql_client(&server).await;
    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            db_schema_filter_pattern: Some("public\\".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let err = match client.do_get(ticket).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(err) => err,
    };
    let text = err.to_string();
    assert!(text.contains("escape"), "{text}");
    server.stop().await;
}

/// Statements the pgflight role ran on `db` since the last reset, per pg_stat_statements.
async fn statements(admin: &tokio_postgres::Client, db: &str) -> i64 {
    statements_run(admin, db)
        .await
        .iter()
        .map(|(_, calls)| calls)
        .sum()
}

async fn create_tables(admin: &tokio_postgres::Client, from: i32, to: i32) {
    let columns: Vec<String> = (0..20)
        .map(|c| {
            let ty = ["int4", "int8", "float8", "bool", "date", "timestamptz"][c % 6];
            format!("c{c} {ty}")
        })
        .collect();
    let sql = format!(
        "DO $$ BEGIN FOR i IN {from}..{to} LOOP
            EXECUTE format('CREATE TABLE wide.t%s ({})', i);
         END LOOP; END $$",
        columns.join(", ")
    );
    admin.batch_execute(&sql).await.unwrap();
}

/// GetTables with include_schema reads the catalog once, for 20 tables as for 2 000 (with 20
/// columns each), counted by pg_stat_statements on a cluster of this test's own.
#[tokio::test]
async fn get_tables_with_schemas_costs_one_statement_whatever_the_number_of_tables() {
    let cluster = Cluster::start_with_statement_stats().await;
    let db = cluster.create_db("wide").await;
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute("CREATE EXTENSION pg_stat_statements; CREATE SCHEMA wide;")
        .await
        .unwrap_or_else(|e| panic!("pg_stat_statements (PostgreSQL contrib) is needed: {e}"));
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;
    let command = CommandGetTables {
        db_schema_filter_pattern: Some("wide".into()),
        include_schema: true,
        ..CommandGetTables::default()
    };

    let mut counts = Vec::new();
    for (from, to) in [(1, 20), (21, 2000)] {
        create_tables(&admin, from, to).await;
        admin
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
        let info = client.get_tables(command.clone()).await.unwrap();
        let batch = fetch(&mut client, &info).await;
        assert_eq!(batch.num_rows(), to as usize);
        let bytes = batch
            .column_by_name("table_schema")
            .unwrap()
            .as_binary::<i32>();
        for row in [0, batch.num_rows() - 1] {
            let schema = arrow::ipc::convert::try_schema_from_ipc_buffer(bytes.value(row)).unwrap();
            assert_eq!(schema.fields().len(), 20);
        }
        counts.push(statements(&admin, &db).await);
    }
    assert_eq!(
        counts,
        vec![1, 1],
        "catalog statements for 20 and 2 000 tables"
    );
    server.stop().await;
    cluster.stop();
}

/// A metadata call of [`metadata_calls_are_one_statement_and_answer_the_same_every_time`].
#[derive(Debug, Clone, Copy)]
enum MetadataCall {
    Schemas,
    Tables { include_schema: bool },
    PrimaryKeys,
    ImportedKeys,
    ExportedKeys,
    CrossReference,
}

async fn metadata_answer(
    client: &mut FlightSqlServiceClient<Channel>,
    call: MetadataCall,
) -> RecordBatch {
    let schema = Some("shop".to_string());
    let info = match call {
        MetadataCall::Schemas => client.get_db_schemas(CommandGetDbSchemas::default()).await,
        MetadataCall::Tables { include_schema } => {
            let command = CommandGetTables {
                db_schema_filter_pattern: Some("sh%".into()),
                include_schema,
                ..CommandGetTables::default()
            };
            client.get_tables(command).await
        }
        MetadataCall::PrimaryKeys => {
            let command = CommandGetPrimaryKeys {
                db_schema: schema,
                table: "parent".into(),
                ..Default::default()
            };
            client.get_primary_keys(command).await
        }
        MetadataCall::ImportedKeys => {
            let command = CommandGetImportedKeys {
                db_schema: schema,
                table: "child".into(),
                ..Default::default()
            };
            client.get_imported_keys(command).await
        }
        MetadataCall::ExportedKeys => {
            let command = CommandGetExportedKeys {
                db_schema: schema,
                table: "parent".into(),
                ..Default::default()
            };
            client.get_exported_keys(command).await
        }
        MetadataCall::CrossReference => {
            let command = CommandGetCrossReference {
                pk_db_schema: schema.clone(),
                pk_table: "other".into(),
                fk_db_schema: schema,
                fk_table: "child".into(),
                ..Default::default()
            };
            client.get_cross_reference(command).await
        }
    };
    fetch(client, &info.unwrap()).await
}

/// Each metadata call runs ONE catalog statement, prepared once per connection: asked eight
/// times, its answer stays the same after PostgreSQL moves from custom plans of the prepared
/// statement to its generic plan (from the sixth execution), and it costs eight statements.
#[tokio::test]
async fn metadata_calls_are_one_statement_and_answer_the_same_every_time() {
    let cluster = Cluster::start_with_statement_stats().await;
    let db = cluster.create_db("metadata").await;
    let admin = cluster.admin(&db).await;
    admin
        .batch_execute(
            "CREATE EXTENSION pg_stat_statements; CREATE SCHEMA shop;
             CREATE DOMAIN shop.price AS numeric(10, 2);
             CREATE TABLE shop.parent (a int, b int, PRIMARY KEY (a, b));
             CREATE TABLE shop.other (id int PRIMARY KEY, p shop.price, ps shop.price[]);
             CREATE TABLE shop.child (id serial PRIMARY KEY, pa int, pb int,
                 o int REFERENCES shop.other ON DELETE CASCADE,
                 FOREIGN KEY (pa, pb) REFERENCES shop.parent);
             COMMENT ON COLUMN shop.child.o IS 'the other one';",
        )
        .await
        .unwrap_or_else(|e| panic!("pg_stat_statements (PostgreSQL contrib) is needed: {e}"));
    let server = TestServer::start(cluster.config(&db)).await;
    let mut client = sql_client(&server).await;

    let calls = [
        (MetadataCall::Schemas, 2), // public and shop; the system schemas are hidden
        (
            MetadataCall::Tables {
                include_schema: false,
            },
            3,
        ),
        (
            MetadataCall::Tables {
                include_schema: true,
            },
            3,
        ),
        (MetadataCall::PrimaryKeys, 2),
        (MetadataCall::ImportedKeys, 3),
        (MetadataCall::ExportedKeys, 2),
        (MetadataCall::CrossReference, 1),
    ];
    for (call, rows) in calls {
        admin
            .batch_execute("SELECT pg_stat_statements_reset()")
            .await
            .unwrap();
        let first = metadata_answer(&mut client, call).await;
        assert_eq!(first.num_rows(), rows, "{call:?}: {first:?}");
        for _ in 1..8 {
            assert_eq!(metadata_answer(&mut client, call).await, first, "{call:?}");
        }
        assert_eq!(statements(&admin, &db).await, 8, "{call:?}");
    }
    server.stop().await;
    cluster.stop();
}

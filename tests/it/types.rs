//! Round trips per type family: PostgreSQL values → pgflight (GetFlightInfo with the seed's JSON
//! descriptor, DoGet) → Arrow, checked against DESIGN.md's type table and against what
//! PostgreSQL itself says about the same values (`col::text`, `extract(…)`, `md5`, …).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal256Type, Field, Float32Type, Float64Type,
    Int16Type, Int32Type, Int64Type, IntervalMonthDayNanoType, IntervalUnit, Schema, SchemaRef,
    Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, UInt32Type,
};
use arrow_flight::FlightDescriptor;
use futures::TryStreamExt;
use pgflight::config::{ArrayFormat, Config, NumericNan};
use tokio_postgres::SimpleQueryMessage;
use tonic::Code;

use crate::harness::{TestServer, cluster, flight_client, full_table, grpc_status};

const TYPE_NAME: &str = "ARROW:FLIGHT:SQL:TYPE_NAME";
const IS_NULLABLE: &str = "ARROW:FLIGHT:SQL:IS_NULLABLE";
const SCHEMA_NAME: &str = "ARROW:FLIGHT:SQL:SCHEMA_NAME";
const TABLE_NAME: &str = "ARROW:FLIGHT:SQL:TABLE_NAME";
const PRECISION: &str = "ARROW:FLIGHT:SQL:PRECISION";
const SCALE: &str = "ARROW:FLIGHT:SQL:SCALE";
const EXTENSION_NAME: &str = "ARROW:extension:name";

/// A fresh database with its fixture loaded, a superuser client on it, and a pgflight
/// configuration for it.
struct Db {
    admin: tokio_postgres::Client,
    config: Config,
    version_num: i32,
}

async fn setup(prefix: &str, ddl: &str) -> Db {
    let cluster = cluster().await;
    let name = cluster.create_db(prefix).await;
    let admin = cluster.admin(&name).await;
    // The same session settings pgflight uses, so PostgreSQL's own text forms are comparable.
    admin
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres';
             SET extra_float_digits = 3;",
        )
        .await
        .unwrap();
    admin.batch_execute(ddl).await.unwrap();
    Db {
        admin,
        config: cluster.config(&name),
        version_num: cluster.version_num,
    }
}

/// What a full-table extraction returned.
struct Fetched {
    /// The schema of the FlightInfo.
    schema: SchemaRef,
    /// Row counts of the batches as they arrived.
    batch_rows: Vec<usize>,
    /// Every batch concatenated and sorted by the first column (the `id`).
    batch: RecordBatch,
}

impl Fetched {
    fn column(&self, name: &str) -> &ArrayRef {
        self.batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name:?}"))
    }

    fn field(&self, name: &str) -> &Field {
        self.schema
            .field_with_name(name)
            .unwrap_or_else(|_| panic!("no field {name:?}"))
    }
}

/// [`fetch`], then the fields checked against `pg_attribute` and the listed columns' types.
async fn fetch_checked(db: &Db, table: &str, expected: &[(&str, DataType)]) -> Fetched {
    let fetched = fetch(&db.config, table).await.unwrap();
    check_fields(db, table, &fetched.schema).await;
    check_types(&fetched, expected);
    fetched
}

/// GetFlightInfo for the seed's JSON descriptor of `table`, DoGet of its one endpoint.
async fn fetch(config: &Config, table: &str) -> Result<Fetched, tonic::Status> {
    fetch_descriptor(config, full_table(table)).await
}

async fn fetch_descriptor(
    config: &Config,
    descriptor: FlightDescriptor,
) -> Result<Fetched, tonic::Status> {
    let server = TestServer::start(config.clone()).await;
    let result = fetch_from(&server, descriptor).await;
    server.stop().await;
    result
}

async fn fetch_from(
    server: &TestServer,
    descriptor: FlightDescriptor,
) -> Result<Fetched, tonic::Status> {
    let mut client = flight_client(server).await;
    let info = client
        .get_flight_info(descriptor)
        .await
        .expect("GetFlightInfo");
    assert_eq!(info.endpoint.len(), 1, "one endpoint: {info:?}");
    let ticket = info.endpoint[0].ticket.clone().expect("a ticket");
    let schema = Arc::new(info.try_decode_schema().expect("FlightInfo schema"));
    let mut stream = client.do_get(ticket).await.map_err(grpc_status)?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.try_next().await.map_err(grpc_status)? {
        batches.push(batch);
    }
    let stream_schema = stream
        .schema()
        .expect("the stream carries a schema")
        .clone();
    assert_eq!(
        stream_schema.fields(),
        schema.fields(),
        "DoGet's schema is FlightInfo's"
    );
    for batch in &batches {
        assert_eq!(batch.schema().fields(), schema.fields(), "batch schema");
    }
    let batch_rows = batches.iter().map(RecordBatch::num_rows).collect();
    let batch = arrow::compute::concat_batches(&schema, &batches).unwrap();
    let batch = if batch.num_rows() > 0 {
        let order = arrow::compute::sort_to_indices(batch.column(0), None, None).unwrap();
        arrow::compute::take_record_batch(&batch, &order).unwrap()
    } else {
        batch
    };
    Ok(Fetched {
        schema,
        batch_rows,
        batch,
    })
}

/// Checks every field against `pg_attribute`: order, name, `TYPE_NAME` = `format_type()`,
/// nullability from NOT NULL (flag and `IS_NULLABLE`), schema and table names.
async fn check_fields(db: &Db, table: &str, schema: &Schema) {
    let rows = db
        .admin
        .query(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull
               FROM pg_attribute
              WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum",
            &[&table],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), schema.fields().len(), "{table}: column count");
    for (row, field) in rows.iter().zip(schema.fields()) {
        let name: String = row.get(0);
        let type_name: String = row.get(1);
        let not_null: bool = row.get(2);
        assert_eq!(field.name(), &name);
        let md = field.metadata();
        assert_eq!(md.get(TYPE_NAME), Some(&type_name), "{name}: TYPE_NAME");
        assert_eq!(field.is_nullable(), !not_null, "{name}: nullable");
        let flag = if not_null { "0" } else { "1" };
        assert_eq!(
            md.get(IS_NULLABLE).map(String::as_str),
            Some(flag),
            "{name}"
        );
        assert_eq!(
            md.get(SCHEMA_NAME).map(String::as_str),
            Some("public"),
            "{name}"
        );
        assert_eq!(
            md.get(TABLE_NAME).map(String::as_str),
            Some(table),
            "{name}"
        );
    }
}

/// Checks the Arrow type of each named column (FlightInfo schema and batches alike).
fn check_types(fetched: &Fetched, expected: &[(&str, DataType)]) {
    for (name, data_type) in expected {
        assert_eq!(
            fetched.field(name).data_type(),
            data_type,
            "{name}: FlightInfo type"
        );
        assert_eq!(
            fetched.column(name).data_type(),
            data_type,
            "{name}: batch type"
        );
    }
}

/// One text value per row (ordered by id) from a query whose columns are all text.
async fn pg_texts(db: &Db, sql: &str) -> Vec<Option<String>> {
    db.admin
        .query(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// PostgreSQL's output-function text of `column` per row (the simple query protocol returns
/// every value in its text form), ordered by id.
async fn pg_output(db: &Db, table: &str, column: &str) -> Vec<Option<String>> {
    let sql = format!("SELECT \"{column}\" FROM \"{table}\" ORDER BY id");
    db.admin
        .simple_query(&sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_owned)),
            _ => None,
        })
        .collect()
}

fn utf8_values(array: &ArrayRef) -> Vec<Option<String>> {
    array
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

/// Decimal values as text (`value_as_string` keeps the scale's trailing zeros, like PostgreSQL).
fn decimal_texts(array: &ArrayRef) -> Vec<Option<String>> {
    (0..array.len())
        .map(|i| {
            if array.is_null(i) {
                return None;
            }
            Some(match array.data_type() {
                DataType::Decimal128(..) => {
                    array.as_primitive::<Decimal128Type>().value_as_string(i)
                }
                DataType::Decimal256(..) => {
                    array.as_primitive::<Decimal256Type>().value_as_string(i)
                }
                other => panic!("not a decimal: {other}"),
            })
        })
        .collect()
}

/// An Arrow value rendered as PostgreSQL's `array_to_json` would render it (compact JSON).
fn json_value(array: &dyn Array, i: usize) -> String {
    if array.is_null(i) {
        return "null".to_owned();
    }
    match array.data_type() {
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            let parts: Vec<String> = (0..items.len()).map(|j| json_value(&items, j)).collect();
            format!("[{}]", parts.join(","))
        }
        DataType::Boolean => array.as_boolean().value(i).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value_as_string(i),
        DataType::Date32 => array.as_primitive::<Date32Type>().value(i).to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive::<TimestampMicrosecondType>()
            .value(i)
            .to_string(),
        DataType::Utf8 => serde_json::to_string(array.as_string::<i32>().value(i)).unwrap(),
        other => panic!("no JSON rendering for {other}"),
    }
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

fn assert_status(err: &tonic::Status, code: Code, words: &[&str]) {
    assert_eq!(err.code(), code, "{err:?}");
    for word in words {
        assert!(err.message().contains(word), "{word:?} in {err:?}");
    }
}

#[tokio::test]
async fn booleans_and_integers() {
    let db = setup(
        "types_int",
        "CREATE TABLE t (id int4 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8 NOT NULL);
         INSERT INTO t VALUES
           (1, true, -32768, -2147483648, -9223372036854775808),
           (2, false, 32767, 2147483647, 9223372036854775807),
           (3, NULL, 0, 0, 0),
           (4, true, NULL, NULL, -1);",
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("id", DataType::Int32),
            ("b", DataType::Boolean),
            ("i2", DataType::Int16),
            ("i4", DataType::Int32),
            ("i8", DataType::Int64),
        ],
    )
    .await;
    assert!(!got.field("id").is_nullable() && !got.field("i8").is_nullable());
    assert!(got.field("b").is_nullable());

    let rows = db
        .admin
        .query("SELECT id, b, i2, i4, i8 FROM t ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(got.batch.num_rows(), rows.len());
    let b: Vec<Option<bool>> = got.column("b").as_boolean().iter().collect();
    let i2: Vec<Option<i16>> = got
        .column("i2")
        .as_primitive::<Int16Type>()
        .iter()
        .collect();
    let i4: Vec<Option<i32>> = got
        .column("i4")
        .as_primitive::<Int32Type>()
        .iter()
        .collect();
    let i8: Vec<Option<i64>> = got
        .column("i8")
        .as_primitive::<Int64Type>()
        .iter()
        .collect();
    let id: Vec<Option<i32>> = got
        .column("id")
        .as_primitive::<Int32Type>()
        .iter()
        .collect();
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(id[n], Some(row.get::<_, i32>(0)));
        assert_eq!(b[n], row.get::<_, Option<bool>>(1), "b row {n}");
        assert_eq!(i2[n], row.get::<_, Option<i16>>(2), "i2 row {n}");
        assert_eq!(i4[n], row.get::<_, Option<i32>>(3), "i4 row {n}");
        assert_eq!(i8[n], row.get::<_, Option<i64>>(4), "i8 row {n}");
    }
    // The edges really went through.
    assert!(i2.contains(&Some(i16::MIN)) && i2.contains(&Some(i16::MAX)));
    assert!(i4.contains(&Some(i32::MIN)) && i4.contains(&Some(i32::MAX)));
    assert!(i8.contains(&Some(i64::MIN)) && i8.contains(&Some(i64::MAX)));
    assert_eq!(b, vec![Some(true), Some(false), None, Some(true)]);
}

/// PostgreSQL's float text → the value it denotes.
fn parse_pg_float(text: &str) -> f64 {
    match text {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => text.parse().unwrap(),
    }
}

#[tokio::test]
async fn floats_keep_negative_zero_nan_and_infinities() {
    let db = setup(
        "types_float",
        "CREATE TABLE t (id int4 PRIMARY KEY, f4 real, f8 double precision NOT NULL);
         INSERT INTO t VALUES
           (1, '-0', '-0'), (2, 'NaN', 'NaN'), (3, 'Infinity', 'Infinity'),
           (4, '-Infinity', '-Infinity'), (5, '3.4028235e38', '1.7976931348623157e308'),
           (6, '1.4e-45', '4.9e-324'), (7, '0.1', '0.1'), (8, NULL, '-1.5e-300'),
           (9, '-3.4028235e38', '2.2250738585072014e-308');",
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[("f4", DataType::Float32), ("f8", DataType::Float64)],
    )
    .await;

    let f4_text = pg_texts(&db, "SELECT f4::text FROM t ORDER BY id").await;
    let f8_text = pg_texts(&db, "SELECT f8::text FROM t ORDER BY id").await;
    let f4 = got.column("f4").as_primitive::<Float32Type>();
    let f8 = got.column("f8").as_primitive::<Float64Type>();
    assert_eq!(f4.len(), f4_text.len());
    for i in 0..f4.len() {
        match &f4_text[i] {
            None => assert!(f4.is_null(i), "f4 row {i}"),
            Some(text) => {
                let expected = parse_pg_float(text) as f32;
                let value = f4.value(i);
                assert!(
                    value.to_bits() == expected.to_bits() || (value.is_nan() && expected.is_nan()),
                    "f4 row {i}: {value:e} vs PostgreSQL {text}"
                );
            }
        }
        let text = f8_text[i].as_deref().unwrap();
        let expected = parse_pg_float(text);
        let value = f8.value(i);
        assert!(
            value.to_bits() == expected.to_bits() || (value.is_nan() && expected.is_nan()),
            "f8 row {i}: {value:e} vs PostgreSQL {text}"
        );
    }
    // The edges really went through.
    assert!(f8.value(0) == 0.0 && f8.value(0).is_sign_negative());
    assert!(f4.value(0) == 0.0 && f4.value(0).is_sign_negative());
    assert!(f8.value(1).is_nan() && f4.value(1).is_nan());
    assert_eq!(f8.value(2), f64::INFINITY);
    assert_eq!(f4.value(3), f32::NEG_INFINITY);
    assert_eq!(f8.value(4), f64::MAX);
    assert_eq!(f4.value(5), f32::from_bits(1));
}

#[tokio::test]
async fn numerics_are_exact_decimals_or_text() {
    let db = setup(
        "types_numeric",
        "CREATE TABLE t (
           id int4 PRIMARY KEY,
           n10_2 numeric(10,2), n18_4 numeric(18,4), n38 numeric(38,0), n38_10 numeric(38,10),
           n39_4 numeric(39,4), n76_20 numeric(76,20), n100_3 numeric(100,3),
           free numeric);
         INSERT INTO t VALUES
           (1, 12345678.91, 99999999999999.9999, 99999999999999999999999999999999999999,
            9999999999999999999999999999.9999999999, 99999999999999999999999999999999999.9999,
            (repeat('9', 56) || '.' || repeat('9', 20))::numeric,
            (repeat('9', 97) || '.999')::numeric, 0.0001),
           (2, -12345678.91, -99999999999999.9999, -99999999999999999999999999999999999999,
            -9999999999999999999999999999.9999999999, -99999999999999999999999999999999999.9999,
            ('-' || repeat('9', 56) || '.' || repeat('9', 20))::numeric,
            ('-' || repeat('9', 97) || '.999')::numeric,
            123456789012345678901234567890.123456789),
           (3, 0, 0, 0, 0, 0, 0, 0, -5),
           (4, 0.01, -0.0001, 1, 0.0000000001, 0.0001, 0.00000000000000000001, 0.001, 'NaN'),
           (5, 1.5, 1, -1, -1.5, 1e30, 1e50, 1e90, 1.50),
           (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (7, 10, 10000, 10000, 10000, 10000, 100000000, 10000,
            0.000000000000000000000000000000000000000001),
           (8, 99999999.99, 12.3456, 12345678901234567890123456789012345678, 3.1415926535,
            -1.0001, -1234.5678, -0.5, '1e-20'),
           (9, -0.01, 0.5, 0, 0, 0, 0, 0, '1000000000000000000000000000000000000000000000000');",
    )
    .await;
    let infinities = db.version_num >= 140000;
    if infinities {
        db.admin
            .batch_execute("INSERT INTO t (id, free) VALUES (10, 'Infinity'), (11, '-Infinity');")
            .await
            .unwrap();
    }
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("n10_2", DataType::Decimal128(10, 2)),
            ("n18_4", DataType::Decimal128(18, 4)),
            ("n38", DataType::Decimal128(38, 0)),
            ("n38_10", DataType::Decimal128(38, 10)),
            ("n39_4", DataType::Decimal256(39, 4)),
            ("n76_20", DataType::Decimal256(76, 20)),
            ("n100_3", DataType::Utf8),
            ("free", DataType::Utf8),
        ],
    )
    .await;
    // PRECISION / SCALE as PostgreSQL's information_schema states them.
    let declared = db
        .admin
        .query(
            "SELECT column_name::text, numeric_precision, numeric_scale
               FROM information_schema.columns
              WHERE table_name = 't' AND data_type = 'numeric'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(declared.len(), 8);
    for row in declared {
        let name: String = row.get(0);
        let md = got.field(&name).metadata();
        let precision: Option<i32> = row.get(1);
        let scale: Option<i32> = row.get(2);
        assert_eq!(
            md.get(PRECISION),
            precision.map(|p| p.to_string()).as_ref(),
            "{name}"
        );
        assert_eq!(
            md.get(SCALE),
            scale.map(|s| s.to_string()).as_ref(),
            "{name}"
        );
    }

    for column in ["n10_2", "n18_4", "n38", "n38_10", "n39_4", "n76_20"] {
        let expected = pg_texts(&db, &format!("SELECT {column}::text FROM t ORDER BY id")).await;
        assert_eq!(decimal_texts(got.column(column)), expected, "{column}");
    }
    for column in ["n100_3", "free"] {
        let expected = pg_texts(&db, &format!("SELECT {column}::text FROM t ORDER BY id")).await;
        assert_eq!(utf8_values(got.column(column)), expected, "{column}");
    }
    // The edges really went through.
    let free = utf8_values(got.column("free"));
    for text in [
        "0.0001",
        "123456789012345678901234567890.123456789",
        "-5",
        "NaN",
        "1.50",
    ] {
        assert!(free.contains(&Some(text.to_owned())), "{text} in {free:?}");
    }
    if infinities {
        assert_eq!(free[9].as_deref(), Some("Infinity"));
        assert_eq!(free[10].as_deref(), Some("-Infinity"));
    }
    let n38 = got.column("n38").as_primitive::<Decimal128Type>();
    assert_eq!(n38.value(0), 10i128.pow(38) - 1);
    assert_eq!(n38.value(1), -(10i128.pow(38) - 1));

    // PostgreSQL 15+: negative scale, scale above precision.
    if db.version_num >= 150000 {
        db.admin
            .batch_execute(
                "CREATE TABLE odd (id int4 PRIMARY KEY, neg numeric(5,-2), frac numeric(2,5));
                 INSERT INTO odd VALUES (1, 1234567, 0.00012), (2, -9999900, -0.00099),
                   (3, 0, 0), (4, 50, 0.000001);",
            )
            .await
            .unwrap();
        let odd = fetch_checked(
            &db,
            "odd",
            &[
                ("neg", DataType::Decimal128(7, 0)),
                ("frac", DataType::Decimal128(5, 5)),
            ],
        )
        .await;
        for column in ["neg", "frac"] {
            let expected =
                pg_texts(&db, &format!("SELECT {column}::text FROM odd ORDER BY id")).await;
            assert_eq!(decimal_texts(odd.column(column)), expected, "{column}");
        }
    }
}

#[tokio::test]
async fn numeric_nan_in_a_decimal_column_fails_or_becomes_null() {
    let db = setup(
        "types_nan",
        "CREATE TABLE prices (id int4 PRIMARY KEY, price numeric(10,2), qty int4);
         INSERT INTO prices VALUES (1, 1.50, 1), (2, 'NaN', 2), (3, 3.25, NULL);
         CREATE TABLE totals (id int4 PRIMARY KEY, note text, total numeric(50,2));
         INSERT INTO totals VALUES (1, 'a', 1), (2, 'b', 'NaN'), (3, 'c', -2.5);",
    )
    .await;
    // (A constrained numeric cannot hold ±Infinity: PostgreSQL refuses it on insert.)
    let err = fetch(&db.config, "prices").await.err().expect("NaN fails");
    assert_status(
        &err,
        Code::OutOfRange,
        &["\"price\"", "NaN", "Decimal128(10,2)", "numeric_nan"],
    );
    let err = fetch(&db.config, "totals").await.err().expect("NaN fails");
    assert_status(
        &err,
        Code::OutOfRange,
        &["\"total\"", "NaN", "Decimal256(50,2)"],
    );

    let mut config = db.config.clone();
    config.numeric_nan = NumericNan::Null;
    let got = fetch(&config, "prices").await.unwrap();
    check_types(&got, &[("price", DataType::Decimal128(10, 2))]);
    let expected = pg_texts(
        &db,
        "SELECT CASE WHEN price = 'NaN' THEN NULL ELSE price::text END FROM prices ORDER BY id",
    )
    .await;
    assert_eq!(decimal_texts(got.column("price")), expected);
    assert_eq!(expected[0].as_deref(), Some("1.50"));
    assert_eq!(expected[1], None);
    let qty: Vec<Option<i32>> = got
        .column("qty")
        .as_primitive::<Int32Type>()
        .iter()
        .collect();
    assert_eq!(qty, vec![Some(1), Some(2), None]);

    let got = fetch(&config, "totals").await.unwrap();
    check_types(&got, &[("total", DataType::Decimal256(50, 2))]);
    let expected = pg_texts(
        &db,
        "SELECT CASE WHEN total = 'NaN' THEN NULL ELSE total::text END FROM totals ORDER BY id",
    )
    .await;
    assert_eq!(decimal_texts(got.column("total")), expected);
    assert_eq!(expected[1], None);
    assert_eq!(expected[2].as_deref(), Some("-2.50"));
}

#[tokio::test]
async fn text_types_keep_unicode_padding_and_empty_strings() {
    let db = setup(
        "types_text",
        "CREATE TABLE t (id int4 PRIMARY KEY, t text, v varchar(20), c char(5) NOT NULL,
                         n name, vfree varchar);
         INSERT INTO t VALUES
           (1, 'héllo wörld', 'Grüße', 'ab', 'ünï', 'x'),
           (2, '', '', '', '', ''),
           (3, '🦀 crab 🦀', '日本語テキスト', 'äöü', '名前', '𝄞'),
           (4, E'line\nbreak\ttab \"quote\" back\\\\slash', 'a''b', 'abcde', 'n', ' lead'),
           (5, NULL, NULL, ' ', NULL, NULL),
           (6, repeat('ß', 100000), repeat('z', 20), '12', repeat('n', 63), 'trail  ');",
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("t", DataType::Utf8),
            ("v", DataType::Utf8),
            ("c", DataType::Utf8),
            ("n", DataType::Utf8),
            ("vfree", DataType::Utf8),
        ],
    )
    .await;
    assert!(!got.field("c").is_nullable());
    assert_eq!(got.field("v").metadata().get(PRECISION).unwrap(), "20");
    assert_eq!(got.field("c").metadata().get(PRECISION).unwrap(), "5");
    assert!(!got.field("vfree").metadata().contains_key(PRECISION));
    assert!(!got.field("t").metadata().contains_key(PRECISION));
    for column in ["t", "v", "c", "n", "vfree"] {
        let expected = pg_output(&db, "t", column).await;
        assert_eq!(utf8_values(got.column(column)), expected, "{column}");
    }
    // The edges really went through: char(n) keeps its padding, as PostgreSQL prints it.
    let c = utf8_values(got.column("c"));
    assert_eq!(c[0].as_deref(), Some("ab   "));
    assert_eq!(c[1].as_deref(), Some("     "));
    assert_eq!(c[2].as_deref(), Some("äöü  "));
    let t = utf8_values(got.column("t"));
    assert_eq!(t[1].as_deref(), Some(""));
    assert_eq!(t[2].as_deref(), Some("🦀 crab 🦀"));
    assert_eq!(t[4], None);
}

#[tokio::test]
async fn bytea_keeps_nul_bytes() {
    let db = setup(
        "types_bytea",
        r"CREATE TABLE t (id int4 PRIMARY KEY, b bytea);
          INSERT INTO t VALUES
            (1, '\x00'), (2, '\x00ff00fe0000'), (3, ''), (4, NULL),
            (5, convert_to('héllo', 'UTF8')), (6, decode(repeat('00ff7f80', 100000), 'hex')),
            (7, '\x0000000000');",
    )
    .await;
    let got = fetch_checked(&db, "t", &[("b", DataType::Binary)]).await;
    let rows = db
        .admin
        .query(
            "SELECT length(b)::int8, md5(b), encode(b, 'hex') FROM t ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let b = got.column("b").as_binary::<i32>();
    assert_eq!(b.len(), rows.len());
    for (i, row) in rows.iter().enumerate() {
        let length: Option<i64> = row.get(0);
        let Some(length) = length else {
            assert!(b.is_null(i), "row {i} is NULL");
            continue;
        };
        let bytes = b.value(i);
        assert_eq!(bytes.len() as i64, length, "row {i}: length");
        // PostgreSQL hashes what pgflight delivered.
        let md5: String = db
            .admin
            .query_one("SELECT md5($1::bytea)", &[&bytes])
            .await
            .unwrap()
            .get(0);
        assert_eq!(md5, row.get::<_, String>(1), "row {i}: md5");
        if length < 100 {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, row.get::<_, String>(2), "row {i}");
        }
    }
    assert_eq!(b.value(0), b"\0");
    assert_eq!(b.value(2), b"");
    assert!(!b.is_null(2));
    assert_eq!(b.value(5).len(), 400_000);
}

#[tokio::test]
async fn dates_times_and_timestamps() {
    let db = setup(
        "types_time",
        "CREATE TABLE t (id int4 PRIMARY KEY, d date, tm time, ttz timetz, ts timestamp,
                         tstz timestamptz);
         INSERT INTO t VALUES
           (1, '1969-12-31', '00:00:00', '00:00:00+00', '1969-12-31 23:59:59.999999',
            '1969-12-31 23:59:59.999999+00'),
           (2, '1970-01-01', '23:59:59.999999', '23:59:59.999999-12',
            '1970-01-01 00:00:00.000001', '1970-01-01 00:00:00.000001+00'),
           (3, '1900-02-28', '24:00:00', '12:34:56.789012+05:30', '1900-01-01 00:00:00',
            '1900-01-01 12:00:00+01'),
           (4, '2100-12-31', '12:34:56.789012', '04:05:06.000001-08:00',
            '2100-12-31 23:59:59.999999', '2262-04-11 23:47:16.854776+00'),
           (5, '0001-01-01 BC', NULL, NULL, '4713-11-24 00:00:00 BC',
            '4713-11-24 00:00:00+00 BC'),
           (6, '5874897-12-31', '00:00:00.000001', '00:00:00.000001+14',
            '294246-12-31 23:59:59.999999', '294246-12-31 23:59:59.999999+00'),
           (7, 'infinity', NULL, NULL, 'infinity', 'infinity'),
           (8, '-infinity', NULL, NULL, '-infinity', '-infinity'),
           (9, NULL, NULL, NULL, NULL, NULL),
           (10, '2000-01-01', '00:00:01', '00:00:01-00:30', '2000-01-01 00:00:00',
            '2000-01-01 00:00:00+00'),
           (11, '4713-01-01 BC', '06:07:08.5', '06:07:08.5+03', '2024-03-10 02:30:00.123456',
            '2024-03-10 02:30:00.123456-07');",
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("d", DataType::Date32),
            ("tm", DataType::Time64(TimeUnit::Microsecond)),
            ("ttz", DataType::Utf8),
            ("ts", DataType::Timestamp(TimeUnit::Microsecond, None)),
            (
                "tstz",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
        ],
    )
    .await;

    // Finite values as PostgreSQL computes them; ±infinity saturate (documented in pg::copy).
    let rows = db
        .admin
        .query(
            "SELECT
               CASE WHEN d = 'infinity' THEN 2147483647 WHEN d = '-infinity' THEN -2147483648
                    ELSE d - DATE '1970-01-01' END,
               round(extract(epoch FROM tm) * 1000000)::int8,
               ttz::text,
               CASE WHEN ts = 'infinity' THEN 9223372036854775807
                    WHEN ts = '-infinity' THEN -9223372036854775808
                    ELSE (ts::date - DATE '1970-01-01')::int8 * 86400000000
                         + round(extract(epoch FROM ts::time) * 1000000)::int8 END,
               CASE WHEN tstz = 'infinity' THEN 9223372036854775807
                    WHEN tstz = '-infinity' THEN -9223372036854775808
                    ELSE ((tstz AT TIME ZONE 'UTC')::date - DATE '1970-01-01')::int8 * 86400000000
                         + round(extract(epoch FROM (tstz AT TIME ZONE 'UTC')::time) * 1000000)::int8
               END
             FROM t ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let d: Vec<Option<i32>> = got
        .column("d")
        .as_primitive::<Date32Type>()
        .iter()
        .collect();
    let tm: Vec<Option<i64>> = got
        .column("tm")
        .as_primitive::<Time64MicrosecondType>()
        .iter()
        .collect();
    let ttz = utf8_values(got.column("ttz"));
    let ts: Vec<Option<i64>> = got
        .column("ts")
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    let tstz: Vec<Option<i64>> = got
        .column("tstz")
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .collect();
    assert_eq!(d.len(), rows.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(d[i], row.get::<_, Option<i32>>(0), "d row {i}");
        assert_eq!(tm[i], row.get::<_, Option<i64>>(1), "tm row {i}");
        assert_eq!(ttz[i], row.get::<_, Option<String>>(2), "ttz row {i}");
        assert_eq!(ts[i], row.get::<_, Option<i64>>(3), "ts row {i}");
        assert_eq!(tstz[i], row.get::<_, Option<i64>>(4), "tstz row {i}");
    }
    // The edges really went through.
    assert_eq!(d[0], Some(-1));
    assert_eq!((d[6], d[7]), (Some(i32::MAX), Some(i32::MIN)));
    assert_eq!((ts[6], ts[7]), (Some(i64::MAX), Some(i64::MIN)));
    assert_eq!((tstz[6], tstz[7]), (Some(i64::MAX), Some(i64::MIN)));
    assert_eq!((ts[0], ts[1]), (Some(-1), Some(1)));
    assert_eq!(tm[2], Some(86_400_000_000));
    assert_eq!(tstz[10], Some(1_710_063_000_123_456));
    assert_eq!(ttz[3].as_deref(), Some("04:05:06.000001-08"));

    // Beyond Arrow's microsecond range (years 294247–294276): an error naming the column.
    db.admin
        .batch_execute(
            "CREATE TABLE far (id int4 PRIMARY KEY, late timestamp);
             INSERT INTO far VALUES (1, '2000-01-01'), (2, '294276-12-31 23:59:59.999999');",
        )
        .await
        .unwrap();
    let err = fetch(&db.config, "far").await.err().expect("out of range");
    assert_status(&err, Code::OutOfRange, &["\"late\"", "row 2"]);
}

#[tokio::test]
async fn intervals_keep_months_days_and_microseconds() {
    let db = setup(
        "types_interval",
        "CREATE TABLE t (id int4 PRIMARY KEY, i interval);
         INSERT INTO t VALUES
           (1, '1 year 2 months 3 days 04:05:06.789012'),
           (2, '-1 mon -2 days -00:00:00.000001'),
           (3, '0'),
           (4, '1 day -00:00:00.000001'),
           (5, '-178000000 years'),
           (6, '2000000 hours'),
           (7, '1 mon -30 days'),
           (8, '00:00:00.000001'),
           (9, NULL),
           (10, '177999999 years 11 months 2147483647 days -2000000:00:00.5');",
    )
    .await;
    let infinite = db.version_num >= 170000;
    if infinite {
        db.admin
            .batch_execute("INSERT INTO t VALUES (11, 'infinity'), (12, '-infinity')")
            .await
            .unwrap();
    }
    let got = fetch_checked(
        &db,
        "t",
        &[("i", DataType::Interval(IntervalUnit::MonthDayNano))],
    )
    .await;
    let rows = db
        .admin
        .query(
            "SELECT (extract(year FROM i) * 12 + extract(month FROM i))::int4,
                    extract(day FROM i)::int4,
                    (extract(hour FROM i) * 3600000000 + extract(minute FROM i) * 60000000
                     + extract(microseconds FROM i))::int8
               FROM t WHERE id <= 10 ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let i = got.column("i").as_primitive::<IntervalMonthDayNanoType>();
    for (n, row) in rows.iter().enumerate() {
        let months: Option<i32> = row.get(0);
        let Some(months) = months else {
            assert!(i.is_null(n), "row {n} is NULL");
            continue;
        };
        let value = i.value(n);
        assert_eq!(value.months, months, "row {n}: months");
        assert_eq!(value.days, row.get::<_, i32>(1), "row {n}: days");
        assert_eq!(
            value.nanoseconds,
            row.get::<_, i64>(2) * 1000,
            "row {n}: nanoseconds"
        );
    }
    // The edges really went through.
    let first = i.value(0);
    assert_eq!(
        (first.months, first.days, first.nanoseconds),
        (14, 3, 14_706_789_012_000)
    );
    assert_eq!(i.value(1).nanoseconds, -1000);
    assert_eq!(i.value(4).months, -2_136_000_000);
    assert_eq!(i.value(9).days, i32::MAX);
    if infinite {
        assert_eq!(
            i.value(10),
            arrow::datatypes::IntervalMonthDayNano::MAX,
            "infinity"
        );
        assert_eq!(
            i.value(11),
            arrow::datatypes::IntervalMonthDayNano::MIN,
            "-infinity"
        );
    }
}

#[tokio::test]
async fn uuid_json_oid_enum_and_domains() {
    let db = setup(
        "types_misc",
        r#"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀');
           CREATE DOMAIN money2 AS numeric(10,2);
           CREATE DOMAIN label AS text CHECK (VALUE <> 'forbidden');
           CREATE DOMAIN short_label AS label;
           CREATE TABLE t (id int4 PRIMARY KEY, u uuid, j json, jb jsonb, o oid,
                           m mood NOT NULL, price money2, lbl label, slbl short_label);
           INSERT INTO t VALUES
             (1, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"b": 1,  "a": [true, null]}',
              '{"b": 1, "a": [true, null]}', 0, 'sad', 12345678.91, 'x', 'y'),
             (2, '00000000-0000-0000-0000-000000000000', '"ü 🦀"', '"ü 🦀"', 4294967295,
              'happy 😀', -0.01, '', ''),
             (3, '{ffffffff-ffff-ffff-ffff-ffffffffffff}', '[]', '[]', 1259, 'ok', 0, 'ü', 'z'),
             (4, NULL, 'null', 'null', NULL, 'ok', NULL, NULL, NULL),
             (5, 'a0eebc999c0b4ef8bb6d6bb9bd380a12', '{"k": "line\nbreak", "n": 12345678901234567890.123}',
              '{"k": "line\nbreak", "n": 12345678901234567890.123}', 16384, 'sad', 99999999.99,
              'long', 'long'),
             (6, md5(random()::text)::uuid, NULL, NULL, 1, 'ok', 1.5, NULL, NULL);"#,
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("u", DataType::Utf8),
            ("j", DataType::Utf8),
            ("jb", DataType::Utf8),
            ("o", DataType::UInt32),
            ("m", DataType::Utf8),
            ("price", DataType::Decimal128(10, 2)),
            ("lbl", DataType::Utf8),
            ("slbl", DataType::Utf8),
        ],
    )
    .await;
    for column in ["j", "jb"] {
        let md = got.field(column).metadata();
        assert_eq!(
            md.get(EXTENSION_NAME).map(String::as_str),
            Some("arrow.json"),
            "{column}"
        );
    }
    for column in ["u", "m", "lbl", "o"] {
        assert!(
            !got.field(column).metadata().contains_key(EXTENSION_NAME),
            "{column}"
        );
    }
    let price_md = got.field("price").metadata();
    assert_eq!(price_md.get(PRECISION).map(String::as_str), Some("10"));
    assert_eq!(price_md.get(SCALE).map(String::as_str), Some("2"));
    assert_eq!(price_md.get(TYPE_NAME).map(String::as_str), Some("money2"));
    assert!(!got.field("m").is_nullable());

    for column in ["u", "j", "jb", "m", "lbl", "slbl"] {
        let expected = pg_texts(&db, &format!("SELECT {column}::text FROM t ORDER BY id")).await;
        assert_eq!(utf8_values(got.column(column)), expected, "{column}");
    }
    let expected = pg_texts(&db, "SELECT price::text FROM t ORDER BY id").await;
    assert_eq!(decimal_texts(got.column("price")), expected);
    let oids: Vec<Option<i64>> = db
        .admin
        .query("SELECT o::int8 FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let o: Vec<Option<i64>> = got
        .column("o")
        .as_primitive::<UInt32Type>()
        .iter()
        .map(|v| v.map(i64::from))
        .collect();
    assert_eq!(o, oids);
    // The edges really went through.
    let u = utf8_values(got.column("u"));
    assert_eq!(
        u[0].as_deref(),
        Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    );
    assert_eq!(u[3], None);
    let j = utf8_values(got.column("j"));
    assert_eq!(j[0].as_deref(), Some(r#"{"b": 1,  "a": [true, null]}"#));
    assert_eq!(j[3].as_deref(), Some("null"), "JSON null is not SQL NULL");
    let jb = utf8_values(got.column("jb"));
    assert_eq!(jb[0].as_deref(), Some(r#"{"a": [true, null], "b": 1}"#));
    assert_eq!(o[1], Some(4_294_967_295));
    assert_eq!(utf8_values(got.column("m"))[1].as_deref(), Some("happy 😀"));
}

#[tokio::test]
async fn arrays_become_lists() {
    let db = setup(
        "types_array",
        r#"CREATE DOMAIN money2 AS numeric(10,2);
           CREATE TABLE t (id int4 PRIMARY KEY, a int4[], aa int4[][], tx text[],
                           nm numeric(10,2)[], ips inet[], flags bool[], big int8[],
                           ids uuid[], dm money2[]);
           INSERT INTO t VALUES
             (1, '{1,2,3}', '{{1,2},{3,4}}', '{"a","","ü 🦀","with,comma","quo\"te"}',
              '{1.5,-2.25,NULL}', '{192.168.1.5,::1,10.0.0.0/8}', '{true,false,NULL}',
              '{-9223372036854775808,9223372036854775807}',
              '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}', '{1.5,NULL}'),
             (2, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}'),
             (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
             (4, '{NULL}', '{{NULL,5}}', '{NULL,""}', '{NULL}', '{NULL}', '{NULL}', '{NULL}',
              '{NULL}', '{NULL}'),
             (5, '[0:2]={7,8,9}', '[0:1][5:6]={{1,2},{3,4}}', '[-3:-2]={x,y}',
              '[2:2]={99999999.99}', '[0:0]={2001:db8::/32}', '[5:5]={t}', '[0:0]={0}',
              '[1:1]={00000000-0000-0000-0000-000000000000}', '[0:1]={0,-0.01}'),
             (6, '{2147483647,-2147483648,NULL,0}', '{{1},{2},{3}}', '{"line\nbreak"}',
              '{0.01,-99999999.99}', '{0.0.0.0/0}', '{false}', '{1}', '{}', '{}');"#,
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[
            ("a", list_of(DataType::Int32)),
            ("aa", list_of(list_of(DataType::Int32))),
            ("tx", list_of(DataType::Utf8)),
            ("nm", list_of(DataType::Decimal128(10, 2))),
            ("ips", list_of(DataType::Utf8)),
            ("flags", list_of(DataType::Boolean)),
            ("big", list_of(DataType::Int64)),
            ("ids", list_of(DataType::Utf8)),
            ("dm", list_of(DataType::Decimal128(10, 2))),
        ],
    )
    .await;
    // Each value against PostgreSQL's own JSON of the array (lower bounds dropped as pgflight
    // drops them); inet[] as PostgreSQL's `::text[]`.
    for (column, expression) in [
        ("a", "array_to_json(a)::text"),
        ("aa", "array_to_json(aa)::text"),
        ("tx", "array_to_json(tx)::text"),
        ("nm", "array_to_json(nm)::text"),
        ("ips", "array_to_json(ips::text[])::text"),
        ("flags", "array_to_json(flags)::text"),
        ("big", "array_to_json(big)::text"),
        ("ids", "array_to_json(ids)::text"),
        ("dm", "array_to_json(dm::numeric(10,2)[])::text"),
    ] {
        let expected = pg_texts(&db, &format!("SELECT {expression} FROM t ORDER BY id")).await;
        let array = got.column(column);
        let values: Vec<Option<String>> = (0..array.len())
            .map(|i| (!array.is_null(i)).then(|| json_value(array.as_ref(), i)))
            .collect();
        assert_eq!(values, expected, "{column}");
    }
    // The edges really went through.
    let a = got.column("a").as_list::<i32>();
    assert_eq!(a.value(1).len(), 0, "'{{}}' is an empty list");
    assert!(!a.is_null(1));
    assert!(a.is_null(2));
    assert!(a.value(3).is_null(0), "NULL element");
    let five: Vec<Option<i32>> = a.value(4).as_primitive::<Int32Type>().iter().collect();
    assert_eq!(five, vec![Some(7), Some(8), Some(9)], "'[0:2]={{7,8,9}}'");
    let aa = got.column("aa").as_list::<i32>();
    assert_eq!(json_value(aa, 0), "[[1,2],[3,4]]");
    assert_eq!(json_value(aa, 5), "[[1],[2],[3]]");
    assert_eq!(
        json_value(got.column("ips").as_ref(), 0),
        r#"["192.168.1.5/32","::1/128","10.0.0.0/8"]"#
    );

    // Element types that need more than a JSON number or string, and arrays of enums and of
    // domains over text; dates and timestamps compared as Arrow's day / µs counts.
    db.admin
        .batch_execute(
            r#"CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy 😀');
               CREATE DOMAIN label AS text;
               CREATE TABLE t2 (id int4 PRIMARY KEY, ds date[], tss timestamptz[], docs jsonb[],
                                moods mood[], tags label[]);
               INSERT INTO t2 VALUES
                 (1, '{1969-12-31,2100-01-01,infinity,-infinity,NULL}',
                  '{"1969-12-31 23:59:59.999999+00","2024-03-10 02:30:00.123456-07",infinity,NULL}',
                  ARRAY['{"b": 1, "a": [true]}'::jsonb, 'null', NULL, '"ü"'],
                  '{sad,"happy 😀",NULL}', '{"",x,NULL}'),
                 (2, '{}', '{}', '{}', '{}', '{}'),
                 (3, NULL, NULL, NULL, NULL, NULL),
                 (4, '[0:0]={0001-01-01 BC}', '[0:0]={-infinity}', '[3:3]={"{}"}', '{ok}',
                  '{ü}');"#,
        )
        .await
        .unwrap();
    let got = fetch(&db.config, "t2").await.unwrap();
    check_fields(&db, "t2", &got.schema).await;
    let json_items = DataType::List(Arc::new(
        Field::new_list_field(DataType::Utf8, true).with_metadata(HashMap::from([
            (EXTENSION_NAME.to_owned(), "arrow.json".to_owned()),
            ("ARROW:extension:metadata".to_owned(), String::new()),
        ])),
    ));
    check_types(
        &got,
        &[
            ("ds", list_of(DataType::Date32)),
            (
                "tss",
                list_of(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                )),
            ),
            ("docs", json_items),
            ("moods", list_of(DataType::Utf8)),
            ("tags", list_of(DataType::Utf8)),
        ],
    );
    let per_element = |column: &str, element: &str| {
        format!(
            "SELECT CASE WHEN {column} IS NULL THEN NULL WHEN cardinality({column}) = 0 THEN '[]'
                    ELSE (SELECT array_to_json(array_agg({element} ORDER BY o))::text
                            FROM unnest({column}) WITH ORDINALITY AS u(e, o)) END
               FROM t2 ORDER BY id"
        )
    };
    for (column, expression) in [
        (
            "ds",
            per_element(
                "ds",
                "CASE WHEN e = 'infinity' THEN 2147483647 WHEN e = '-infinity' THEN -2147483648
                      ELSE e - DATE '1970-01-01' END",
            ),
        ),
        (
            "tss",
            per_element(
                "tss",
                "CASE WHEN e = 'infinity' THEN 9223372036854775807
                      WHEN e = '-infinity' THEN -9223372036854775808
                      ELSE ((e AT TIME ZONE 'UTC')::date - DATE '1970-01-01')::int8 * 86400000000
                           + round(extract(epoch FROM (e AT TIME ZONE 'UTC')::time) * 1000000)::int8
                 END",
            ),
        ),
        (
            "docs",
            "SELECT array_to_json(docs::text[])::text FROM t2 ORDER BY id".to_owned(),
        ),
        (
            "moods",
            "SELECT array_to_json(moods)::text FROM t2 ORDER BY id".to_owned(),
        ),
        (
            "tags",
            "SELECT array_to_json(tags)::text FROM t2 ORDER BY id".to_owned(),
        ),
    ] {
        let expected = pg_texts(&db, &expression).await;
        let array = got.column(column);
        let values: Vec<Option<String>> = (0..array.len())
            .map(|i| (!array.is_null(i)).then(|| json_value(array.as_ref(), i)))
            .collect();
        assert_eq!(values, expected, "{column}");
    }
    assert_eq!(
        json_value(got.column("ds").as_ref(), 0),
        format!("[-1,47482,{},{},null]", i32::MAX, i32::MIN)
    );
    assert_eq!(
        json_value(got.column("docs").as_ref(), 0),
        r#"["{\"a\": [true], \"b\": 1}","null",null,"\"ü\""]"#
    );

    // Through a view: views carry no declared dimension count (attndims 0), so their arrays are
    // one level deep; 1-D arrays read as they do from the table, a 2-D array is the documented
    // error naming the column (types.rs: "attndims 0 (views) still means one level").
    db.admin
        .batch_execute("CREATE VIEW v AS SELECT id, a, aa FROM t")
        .await
        .unwrap();
    let err = fetch(&db.config, "v")
        .await
        .err()
        .expect("2-D through a view");
    assert_status(&err, Code::OutOfRange, &["\"aa\"", "arrays = \"json\""]);
    db.admin
        .batch_execute("DROP VIEW v; CREATE VIEW v AS SELECT id, a FROM t")
        .await
        .unwrap();
    let view = fetch(&db.config, "v").await.unwrap();
    check_types(&view, &[("a", list_of(DataType::Int32))]);
    let expected = pg_texts(&db, "SELECT array_to_json(a)::text FROM t ORDER BY id").await;
    let array = view.column("a");
    let values: Vec<Option<String>> = (0..array.len())
        .map(|i| (!array.is_null(i)).then(|| json_value(array.as_ref(), i)))
        .collect();
    assert_eq!(values, expected, "a through the view");

    // A 2-D value in a column declared 1-D: an error naming the column, pointing at
    // arrays = "json".
    db.admin
        .batch_execute(
            "CREATE TABLE shapes (id int4 PRIMARY KEY, v int4[]);
             INSERT INTO shapes VALUES (1, '{1,2}'), (2, '{{1,2},{3,4}}');",
        )
        .await
        .unwrap();
    let err = fetch(&db.config, "shapes").await.err().expect("2-D in 1-D");
    assert_status(&err, Code::OutOfRange, &["\"v\"", "arrays = \"json\""]);
}

#[tokio::test]
async fn arrays_as_json_give_the_seed_form() {
    let db = setup(
        "types_array_json",
        r#"CREATE TABLE t (id int4 PRIMARY KEY, a int4[], aa int4[][], tx text[],
                           nm numeric(10,2)[], ips inet[], ts timestamptz[], n int4);
           INSERT INTO t VALUES
             (1, '{1,NULL,3}', '{{1,2},{3,4}}', '{"a","","ü 🦀","quo\"te"}', '{1.50,NULL}',
              '{192.168.1.5,::1}', '{"2020-01-02 03:04:05.123456+00",infinity}', 7),
             (2, '{}', '{}', '{}', '{}', '{}', '{}', NULL),
             (3, NULL, NULL, NULL, NULL, NULL, NULL, 9),
             (4, '[0:2]={7,8,9}', '[0:1][5:6]={{1,2},{3,4}}', '{NULL}', '{0}', '{NULL}',
              '{NULL}', 0);
           CREATE TABLE shapes (id int4 PRIMARY KEY, v int4[]);
           INSERT INTO shapes VALUES (1, '{1,2}'), (2, '{{1,2},{3,4}}');"#,
    )
    .await;
    let mut config = db.config.clone();
    config.arrays = ArrayFormat::Json;
    let got = fetch(&config, "t").await.unwrap();
    check_fields(&db, "t", &got.schema).await;
    let columns = ["a", "aa", "tx", "nm", "ips", "ts"];
    for column in columns {
        check_types(&got, &[(column, DataType::Utf8)]);
        assert_eq!(
            got.field(column)
                .metadata()
                .get(EXTENSION_NAME)
                .map(String::as_str),
            Some("arrow.json"),
            "{column}"
        );
        let expected = pg_texts(
            &db,
            &format!("SELECT array_to_json({column})::text FROM t ORDER BY id"),
        )
        .await;
        let values = utf8_values(got.column(column));
        assert_eq!(values, expected, "{column}");
        for value in values.iter().flatten() {
            serde_json::from_str::<serde_json::Value>(value)
                .unwrap_or_else(|e| panic!("{column}: {value:?} is not JSON: {e}"));
        }
    }
    check_types(&got, &[("n", DataType::Int32)]);
    assert!(!got.field("n").metadata().contains_key(EXTENSION_NAME));
    assert_eq!(
        utf8_values(got.column("aa"))[0].as_deref(),
        Some("[[1,2],[3,4]]")
    );
    assert_eq!(utf8_values(got.column("a"))[1].as_deref(), Some("[]"));

    // Any shape reads as JSON.
    let got = fetch(&config, "shapes").await.unwrap();
    assert_eq!(
        utf8_values(got.column("v")),
        vec![Some("[1,2]".to_owned()), Some("[[1,2],[3,4]]".to_owned())]
    );
}

#[tokio::test]
async fn other_types_are_postgresql_text() {
    let db = setup(
        "types_other",
        "CREATE TYPE pair AS (x int, label text);
         CREATE TABLE t (id int4 PRIMARY KEY, ip inet, net cidr, mac macaddr, cash money,
                         b3 bit(3), vb varbit, x xml, r int4range, tr tstzrange, p point,
                         c pair, ch \"char\", ttz timetz NOT NULL, \"My \"\"IP\"\" Addr\" inet);
         INSERT INTO t VALUES
           (1, '192.168.1.5', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, B'101', B'1',
            '<a>ü</a>', '[1,10)', '[2020-01-01 00:00:00+00,2021-01-01 00:00:00+02)',
            '(1.5,2)', ROW(1, 'a \"q\"'), 'x', '12:34:56.789012+05:30', '10.1.2.3'),
           (2, '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', -0.01, B'000', B'',
            '<!-- c --><b/>', 'empty', '(,)', '(-0.1,1e300)', ROW(NULL, ''), 'ü', '00:00:00-12',
            NULL),
           (3, '192.168.1.5/24', '192.168.0.0/16', '00:00:00:00:00:00', 0, B'111',
            B'1010101010101', 'text only', '(,5]', 'empty', '(0,0)', ROW(-2, 'ü'), ' ',
            '24:00:00+00', 'fe80::1'),
           (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            '01:02:03+01', '::');",
    )
    .await;
    let got = fetch(&db.config, "t").await.unwrap();
    check_fields(&db, "t", &got.schema).await;
    let columns = [
        "ip",
        "net",
        "mac",
        "cash",
        "b3",
        "vb",
        "x",
        "r",
        "tr",
        "p",
        "c",
        "ch",
        "ttz",
        "My \"IP\" Addr",
    ];
    for column in columns {
        check_types(&got, &[(column, DataType::Utf8)]);
        if column == "ch" && db.version_num < 160_000 {
            // Before 16, `"char"::text` passes 'ü''s first byte through raw (not UTF-8);
            // pgflight renders it as 16+ does (see `char_is_postgresql_16_text_on_every_release`).
            let expected = [Some("x"), Some(r"\303"), Some(" "), None];
            let expected: Vec<_> = expected.iter().map(|v| v.map(str::to_owned)).collect();
            assert_eq!(utf8_values(got.column(column)), expected, "{column}");
            continue;
        }
        let quoted = format!("\"{}\"", column.replace('"', "\"\""));
        let expected = pg_texts(&db, &format!("SELECT {quoted}::text FROM t ORDER BY id")).await;
        assert_eq!(utf8_values(got.column(column)), expected, "{column}");
    }
    assert!(!got.field("ttz").is_nullable());
    // The edges really went through.
    let texts: HashMap<&str, Vec<Option<String>>> = columns
        .iter()
        .map(|c| (*c, utf8_values(got.column(c))))
        .collect();
    assert_eq!(texts["b3"][0].as_deref(), Some("101"));
    assert_eq!(texts["vb"][1].as_deref(), Some(""));
    assert_eq!(texts["r"][0].as_deref(), Some("[1,10)"));
    assert_eq!(texts["c"][0].as_deref(), Some(r#"(1,"a ""q""")"#));
    assert_eq!(texts["cash"][0].as_deref(), Some("$1,234.56"));
    assert_eq!(texts["ip"][3], None);
    // `inet::text` is PostgreSQL's text() cast, which always shows the netmask; psql (the
    // output function) prints 10.1.2.3.
    assert_eq!(texts["My \"IP\" Addr"][0].as_deref(), Some("10.1.2.3/32"));
}

/// `"char"` is one byte; PostgreSQL 16+ prints a byte ≥ 0x80 as `\ooo` and older releases
/// pass it through raw (not UTF-8). pgflight gives 16's text on every release, arrays included.
#[tokio::test]
async fn char_is_postgresql_16_text_on_every_release() {
    let db = setup(
        "types_char",
        "CREATE TABLE t (id int4 PRIMARY KEY, ch \"char\", chs \"char\"[]);
         INSERT INTO t VALUES
           (1, 'a', ARRAY['a', 'Z']::\"char\"[]),
           (2, (-61)::int4::\"char\", ARRAY[(-128)::int4::\"char\", (-1)::int4::\"char\"]),
           (3, 0::int4::\"char\", ARRAY[0::int4::\"char\", NULL, 127::int4::\"char\"]),
           (4, 92::int4::\"char\", NULL),
           (5, NULL, '{}');",
    )
    .await;
    let got = fetch_checked(
        &db,
        "t",
        &[("ch", DataType::Utf8), ("chs", list_of(DataType::Utf8))],
    )
    .await;
    let expected = [Some("a"), Some(r"\303"), Some(""), Some(r"\"), None];
    let expected: Vec<_> = expected.iter().map(|v| v.map(str::to_owned)).collect();
    assert_eq!(utf8_values(got.column("ch")), expected);
    if db.version_num >= 160_000 {
        // The same text PostgreSQL itself prints.
        assert_eq!(
            pg_texts(&db, "SELECT ch::text FROM t ORDER BY id").await,
            expected
        );
    }
    let lists = got.column("chs").as_list::<i32>();
    let items: Vec<Option<Vec<Option<String>>>> = (0..lists.len())
        .map(|i| (!lists.is_null(i)).then(|| utf8_values(&lists.value(i))))
        .collect();
    let some = |v: &[Option<&str>]| Some(v.iter().map(|s| s.map(str::to_owned)).collect());
    assert_eq!(
        items,
        vec![
            some(&[Some("a"), Some("Z")]),
            some(&[Some(r"\200"), Some(r"\377")]),
            some(&[Some(""), None, Some("\u{7f}")]),
            None,
            some(&[]),
        ]
    );
}

#[tokio::test]
async fn an_empty_table_has_its_full_schema_and_no_rows() {
    let db = setup(
        "types_empty",
        "CREATE TABLE empty (id int4 NOT NULL, n numeric(12,3), a int4[][], j jsonb,
                             ts timestamptz, ip inet);",
    )
    .await;
    let expected = [
        ("id", DataType::Int32),
        ("n", DataType::Decimal128(12, 3)),
        ("a", list_of(list_of(DataType::Int32))),
        ("j", DataType::Utf8),
        (
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        ("ip", DataType::Utf8),
    ];
    for descriptor in [
        full_table("empty"),
        FlightDescriptor::new_path(vec!["public".into(), "empty".into()]),
    ] {
        let got = fetch_descriptor(&db.config, descriptor).await.unwrap();
        check_fields(&db, "empty", &got.schema).await;
        check_types(&got, &expected);
        assert_eq!(got.batch.num_rows(), 0);
        assert_eq!(got.batch_rows.iter().sum::<usize>(), 0);
        assert_eq!(
            got.field("j")
                .metadata()
                .get(EXTENSION_NAME)
                .map(String::as_str),
            Some("arrow.json")
        );
    }
}

#[tokio::test]
async fn a_large_table_arrives_in_batches_of_batch_size() {
    let db = setup(
        "types_batches",
        "CREATE TABLE big AS
           SELECT i::int8 AS id, md5(i::text) AS s, (i % 7 = 0) AS flag,
                  CASE WHEN i % 11 = 0 THEN NULL ELSE i * 1.25 END::numeric(12,2) AS amount
             FROM generate_series(1, 25000) AS i;",
    )
    .await;
    let mut config = db.config.clone();
    config.batch_size = 1000;
    let got = fetch(&config, "big").await.unwrap();
    check_fields(&db, "big", &got.schema).await;
    check_types(
        &got,
        &[
            ("id", DataType::Int64),
            ("s", DataType::Utf8),
            ("flag", DataType::Boolean),
            ("amount", DataType::Decimal128(12, 2)),
        ],
    );
    assert!(
        got.batch_rows.iter().all(|rows| (1..=1000).contains(rows)),
        "batch sizes {:?}",
        got.batch_rows
    );
    assert!(got.batch_rows.len() >= 25, "{:?}", got.batch_rows);

    let row = db
        .admin
        .query_one(
            "SELECT count(*), sum(id)::int8, md5(string_agg(s, ',' ORDER BY id)),
                    count(*) FILTER (WHERE flag), sum(amount)::text
               FROM big",
            &[],
        )
        .await
        .unwrap();
    let count: i64 = row.get(0);
    assert_eq!(got.batch.num_rows() as i64, count);
    let ids = got.column("id").as_primitive::<Int64Type>();
    assert_eq!(ids.null_count(), 0);
    let sum: i64 = ids.values().iter().sum();
    assert_eq!(sum, row.get::<_, i64>(1));
    // PostgreSQL hashes the strings pgflight delivered, in id order.
    let joined = got
        .column("s")
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap())
        .collect::<Vec<_>>()
        .join(",");
    let md5: String = db
        .admin
        .query_one("SELECT md5($1::text)", &[&joined])
        .await
        .unwrap()
        .get(0);
    assert_eq!(md5, row.get::<_, String>(2));
    let flags = got.column("flag").as_boolean().true_count() as i64;
    assert_eq!(flags, row.get::<_, i64>(3));
    let amounts = got.column("amount").as_primitive::<Decimal128Type>();
    let total: i128 = amounts.iter().flatten().sum();
    let total = arrow::array::Decimal128Array::from(vec![total])
        .with_precision_and_scale(38, 2)
        .unwrap()
        .value_as_string(0);
    assert_eq!(Some(total), row.get::<_, Option<String>>(4));
    assert_eq!(amounts.null_count(), 25000 / 11);
}

//! Golden tests: DataFusion `Expr` → the SQL text PostgreSQL receives (or `None`: DataFusion
//! evaluates it).

use super::*;
use arrow::datatypes::DataType;
use datafusion::prelude::{cast, col, lit};

fn columns() -> PushColumns {
    let column = |name: &str, comparable: bool, text: bool| PushColumn {
        name: name.into(),
        comparable,
        text,
    };
    PushColumns::new([
        column("id", true, false),
        column("name", true, true),
        column("padded", false, true),
        column("price", true, false),
        column("at", true, false),
        column("ok", true, false),
        column("Odd \"Name\"", true, false),
    ])
}

fn sql(expr: Expr) -> Option<String> {
    to_filter(&expr, &columns()).map(|f| crate::pg::render::filter_sql(&f))
}

#[test]
fn comparisons_of_a_column_with_a_literal() {
    assert_eq!(
        sql(col("id").eq(lit(5i32))).unwrap(),
        "(\"id\" = '5'::integer)"
    );
    assert_eq!(
        sql(col("id").not_eq(lit(5i64))).unwrap(),
        "(\"id\" <> '5'::bigint)"
    );
    assert_eq!(
        sql(lit(5i32).lt(col("id"))).unwrap(),
        "(\"id\" > '5'::integer)"
    );
    assert_eq!(
        sql(col("Odd \"Name\"").gt_eq(lit(1i16))).unwrap(),
        "(\"Odd \"\"Name\"\"\" >= '1'::smallint)"
    );
}

#[test]
fn text_orders_bytewise_and_quotes_are_doubled() {
    assert_eq!(
        sql(col("name").eq(lit("it's"))).unwrap(),
        "(\"name\" = 'it''s'::text)"
    );
    assert_eq!(
        sql(col("name").lt(lit("b"))).unwrap(),
        "(\"name\" COLLATE \"C\" < 'b'::text)"
    );
    assert_eq!(sql(col("padded").eq(lit("a"))), None);
}

#[test]
fn literals_carry_explicit_postgres_types() {
    let ts = ScalarValue::TimestampMicrosecond(Some(1_704_067_200_000_000), Some("UTC".into()));
    assert_eq!(
        sql(col("at").gt(Expr::Literal(ts, None))).unwrap(),
        "(\"at\" > '2024-01-01 00:00:00.000000+00'::timestamptz)"
    );
    let plain = ScalarValue::TimestampNanosecond(Some(1_500), None);
    assert_eq!(
        sql(col("at").gt(Expr::Literal(plain, None))),
        None,
        "sub-microsecond"
    );
    let dec = ScalarValue::Decimal128(Some(150), 10, 2);
    assert_eq!(
        sql(col("price").eq(Expr::Literal(dec, None))).unwrap(),
        "(\"price\" = '1.50'::numeric)"
    );
    let date = ScalarValue::Date32(Some(19723));
    assert_eq!(
        sql(col("at").eq(Expr::Literal(date, None))).unwrap(),
        "(\"at\" = '2024-01-01'::date)"
    );
    assert_eq!(sql(col("price").gt(lit(f64::NAN))), None);
    assert_eq!(sql(col("price").gt(lit(0.0f64))), None);
    assert_eq!(
        sql(col("price").gt(lit(2.5f64))).unwrap(),
        "(\"price\" > '2.5'::double precision)"
    );
}

#[test]
fn null_tests_in_lists_between_and_boolean_logic() {
    assert_eq!(
        sql(col("padded").is_null()).unwrap(),
        "(\"padded\" IS NULL)"
    );
    assert_eq!(
        sql(col("id").is_not_null()).unwrap(),
        "(\"id\" IS NOT NULL)"
    );
    assert_eq!(
        sql(col("id").in_list(vec![lit(1i32), lit(2i32)], true)).unwrap(),
        "(\"id\" NOT IN ('1'::integer, '2'::integer))"
    );
    assert_eq!(
        sql(col("name").between(lit("a"), lit("m"))).unwrap(),
        "(\"name\" COLLATE \"C\" BETWEEN 'a'::text AND 'm'::text)"
    );
    assert_eq!(
        sql(col("id").eq(lit(1i32)).or(!col("ok"))).unwrap(),
        "((\"id\" = '1'::integer) OR (NOT \"ok\"))"
    );
    assert_eq!(
        sql(cast(col("id"), DataType::Int64).lt(lit(7i64))).unwrap(),
        "(\"id\" < '7'::bigint)"
    );
}

#[test]
fn everything_else_stays_with_datafusion() {
    assert_eq!(sql(col("name").like(lit("a%"))), None);
    assert_eq!(sql(col("id").eq(col("price"))), None);
    assert_eq!(
        sql(col("id").eq(lit(1i32)).and(col("name").like(lit("x")))),
        None
    );
    assert_eq!(sql(col("missing").eq(lit(1i32))), None);
    assert_eq!(sql((col("id") + lit(1i32)).eq(lit(2i32))), None);
}

//! Cursor text round trips and the window's SQL (golden, no database).

use super::*;
use crate::pg::catalog::RelationKind;

fn column(name: &str, type_name: &str, base_oid: u32) -> PgColumn {
    PgColumn {
        name: name.into(),
        type_name: type_name.into(),
        base_oid,
        typmod: -1,
        is_enum: false,
        element_oid: None,
        ndims: 0,
        nullable: true,
        schema: "app".into(),
        table: "t".into(),
        remarks: None,
        auto_increment: false,
    }
}

fn relation() -> Relation {
    Relation {
        oid: 1,
        schema: "app".into(),
        name: "t".into(),
        kind: RelationKind::Table,
        estimated_rows: None,
        columns: vec![
            column("Updated At", "timestamp with time zone", 1184),
            column("ts", "timestamp without time zone", 1114),
            column("d", "date", 1082),
            column("n", "bigint", 20),
            column("s", "smallint", 21),
            column("amount", "numeric(20,6)", 1700),
            column("name", "text", 25),
        ],
    }
}

fn window(field: &str, from: Option<&str>, to: Option<&str>) -> CursorWindow {
    CursorWindow {
        field: field.into(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    }
}

#[test]
fn canonical_text_round_trips_exactly() {
    for (kind, input, canonical) in [
        (
            CursorKind::TimestampTz,
            "2024-05-01 12:00:00.5+02",
            "2024-05-01T10:00:00.500000+00:00",
        ),
        (
            CursorKind::TimestampTz,
            "2023-01-01T00:00:00Z",
            "2023-01-01T00:00:00.000000+00:00",
        ),
        (
            CursorKind::TimestampTz,
            "2024-05-01T12:00:00.000001-05:30",
            "2024-05-01T17:30:00.000001+00:00",
        ),
        (
            CursorKind::Timestamp,
            "2024-05-01 12:00:00.123456",
            "2024-05-01T12:00:00.123456",
        ),
        (
            CursorKind::Timestamp,
            "2024-05-01",
            "2024-05-01T00:00:00.000000",
        ),
        (CursorKind::Date, "2024-02-29", "2024-02-29"),
        (
            CursorKind::BigInt,
            "-9223372036854775808",
            "-9223372036854775808",
        ),
        (CursorKind::Numeric, "12.340000", "12.340000"),
        (CursorKind::Numeric, "-0.5", "-0.5"),
        (
            CursorKind::Numeric,
            "123456789012345678901234567890.123456789",
            "123456789012345678901234567890.123456789",
        ),
        (CursorKind::Xmin, "xid:4294967301", "xid:4294967301"),
    ] {
        let value = kind.parse(input).unwrap();
        assert_eq!(value.text, canonical, "{input}");
        assert_eq!(kind.parse(&value.text).unwrap(), value, "{canonical}");
    }
}

#[test]
fn bad_cursors_are_refused() {
    for (kind, input) in [
        (CursorKind::TimestampTz, "yesterday"),
        (CursorKind::TimestampTz, "2024-05-01T12:00:00.0000001Z"),
        (CursorKind::TimestampTz, "2024-13-01T00:00:00Z"),
        (CursorKind::Timestamp, "2024-05-01T12:00:00+02:00"),
        (CursorKind::Date, "2024-05-01'; DROP TABLE t; --"),
        (CursorKind::SmallInt, "40000"),
        (CursorKind::BigInt, "1e3"),
        (CursorKind::BigInt, ""),
        (CursorKind::Numeric, "NaN"),
        (CursorKind::Numeric, "1e5"),
        (CursorKind::Numeric, "."),
        (CursorKind::Xmin, "12345"),
        (CursorKind::Xmin, "xid:-1"),
    ] {
        assert!(kind.parse(input).is_err(), "{kind:?} {input:?}");
    }
}

#[test]
fn windows_render_typed_literals_and_quoted_identifiers() {
    let relation = relation();
    assert_eq!(
        window(
            "Updated At",
            Some("2024-05-01T00:00:00.000001+00:00"),
            Some("2024-05-02T00:00:00.000000+00:00")
        )
        .filter(&relation)
        .map(|f| crate::pg::render::filter_sql(&f))
        .unwrap(),
        "((\"Updated At\" > '2024-05-01 00:00:00.000001+00'::timestamptz) AND (\"Updated At\" <= '2024-05-02 00:00:00.000000+00'::timestamptz))"
    );
    assert_eq!(
        window("ts", None, Some("2024-05-02T00:00:00.000000"))
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap(),
        "(\"ts\" <= '2024-05-02 00:00:00.000000'::timestamp)"
    );
    assert_eq!(
        window("d", Some("2024-01-01"), Some("2024-02-01"))
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap(),
        "((\"d\" > '2024-01-01'::date) AND (\"d\" <= '2024-02-01'::date))"
    );
    assert_eq!(
        window("amount", Some("1.5"), Some("2.250000"))
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap(),
        "((\"amount\" > '1.5'::numeric) AND (\"amount\" <= '2.250000'::numeric))"
    );
    assert_eq!(
        window("s", Some("-3"), Some("7"))
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap(),
        "((\"s\" > '-3'::smallint) AND (\"s\" <= '7'::smallint))"
    );
    assert_eq!(
        window("n", None, None)
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap(),
        "false"
    );
    assert!(
        window("xmin", Some("xid:100"), Some("xid:250"))
            .filter(&relation)
            .map(|f| crate::pg::render::filter_sql(&f))
            .unwrap()
            .contains("BETWEEN 1 AND 150")
    );
}

#[test]
fn unknown_and_unordered_columns_are_named() {
    let relation = relation();
    let err = cursor_kind(&relation, "nope").unwrap_err().to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("not a column"),
        "{err}"
    );
    let err = cursor_kind(&relation, "name").unwrap_err().to_string();
    assert!(
        err.contains("\"name\"") && err.contains("type text"),
        "{err}"
    );
    let err = window("n", Some("x'); --"), Some("1"))
        .filter(&relation)
        .map(|f| crate::pg::render::filter_sql(&f))
        .unwrap_err()
        .to_string();
    assert!(err.contains("bigint") && err.contains("\"n\""), "{err}");
}

#[test]
fn the_next_cursor_never_moves_backwards() {
    let (window, next) =
        plan_window(CursorKind::Numeric, "amount", Some("2.5"), Some("2.250000")).unwrap();
    assert_eq!(next.as_deref(), Some("2.5"));
    assert_eq!(window.to.as_deref(), Some("2.250000"));
    let (_, next) = plan_window(
        CursorKind::Numeric,
        "amount",
        Some("2.25"),
        Some("2.250001"),
    )
    .unwrap();
    assert_eq!(next.as_deref(), Some("2.250001"));
    let (_, next) = plan_window(CursorKind::BigInt, "n", Some("5"), None).unwrap();
    assert_eq!(next.as_deref(), Some("5"));
    let (_, next) = plan_window(CursorKind::BigInt, "n", None, None).unwrap();
    assert_eq!(next, None);
    assert_eq!(
        cursor_json("app.t", "n", Some("5")),
        r#"{"entity":"app.t","cursorField":"n","cursor":"5"}"#
    );
}

//! Unit tests of the PostgreSQL → Arrow type mapping.
use super::*;

fn column(name: &str, type_name: &str, base_oid: u32, typmod: i32) -> PgColumn {
    PgColumn {
        name: name.to_owned(),
        type_name: type_name.to_owned(),
        base_oid,
        typmod,
        is_enum: false,
        element_oid: None,
        ndims: 0,
        nullable: true,
        schema: "public".to_owned(),
        table: "t".to_owned(),
        remarks: None,
        auto_increment: false,
    }
}

fn array(name: &str, type_name: &str, array_oid: u32, element: u32, ndims: i32) -> PgColumn {
    PgColumn {
        element_oid: Some(element),
        ndims,
        ..column(name, type_name, array_oid, -1)
    }
}

fn numeric_typmod_of(p: i32, s: i32) -> i32 {
    ((p << 16) | (s & 0x7ff)) + 4
}

fn plan(col: &PgColumn) -> ColumnPlan {
    plan_column(col, &TypeOptions::default())
}

fn data_type(col: &PgColumn) -> DataType {
    plan(col).field.data_type().clone()
}

fn list(dt: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(dt, true)))
}

#[test]
fn scalar_types_map_per_design() {
    let cases: &[(u32, DataType)] = &[
        (16, DataType::Boolean),
        (21, DataType::Int16),
        (23, DataType::Int32),
        (20, DataType::Int64),
        (700, DataType::Float32),
        (701, DataType::Float64),
        (25, DataType::Utf8),
        (1043, DataType::Utf8),
        (1042, DataType::Utf8),
        (19, DataType::Utf8),
        (17, DataType::Binary),
        (1082, DataType::Date32),
        (1083, DataType::Time64(TimeUnit::Microsecond)),
        (1266, DataType::Utf8),
        (1114, DataType::Timestamp(TimeUnit::Microsecond, None)),
        (
            1184,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ),
        (
            1186,
            DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        ),
        (2950, DataType::Utf8),
        (114, DataType::Utf8),
        (3802, DataType::Utf8),
        (26, DataType::UInt32),
        (1700, DataType::Utf8),
        (18, DataType::Utf8),
    ];
    for (type_oid, expected) in cases {
        let col = column("c", "t", *type_oid, -1);
        assert_eq!(&data_type(&col), expected, "oid {type_oid}");
        if *type_oid != 1266 {
            assert_eq!(plan(&col).select_expr(), "\"c\"", "oid {type_oid}");
        }
    }
    assert_eq!(
        plan(&column("c", "t", 1266, -1)).select_expr(),
        "\"c\"::text"
    );
}

#[test]
fn char_is_decoded_natively_not_cast() {
    let plan_char = plan(&column("ch", "t", 18, -1));
    assert_eq!(plan_char.select_expr(), "\"ch\"");
    assert_eq!(plan_char.decode, Decode::Scalar(ValueKind::Char));
    let array = PgColumn {
        element_oid: Some(18),
        ndims: 1,
        ..column("chs", "t", 1002, -1)
    };
    let plan_array = plan(&array);
    assert_eq!(plan_array.select_expr(), "\"chs\"");
    assert_eq!(
        plan_array.decode,
        Decode::List {
            element: ValueKind::Char,
            depth: 1
        }
    );
}

#[test]
fn other_types_are_cast_to_text() {
    // inet, cidr, macaddr, money, bit, varbit, xml, int4range, point, citext-like unknown oid.
    for type_oid in [869, 650, 829, 790, 1560, 1562, 142, 3904, 600, 123_456] {
        let col = column("addr", "inet", type_oid, -1);
        let plan = plan(&col);
        assert_eq!(plan.field.data_type(), &DataType::Utf8);
        assert_eq!(plan.select_expr(), "\"addr\"::text");
        assert!(plan.is_text_cast());
        assert_eq!(plan.decode, Decode::Scalar(ValueKind::Text));
    }
}

#[test]
fn enums_are_text() {
    let col = PgColumn {
        is_enum: true,
        ..column("mood", "mood", 98_765, -1)
    };
    assert_eq!(data_type(&col), DataType::Utf8);
    assert_eq!(plan(&col).select_expr(), "\"mood\"");
    let col = PgColumn {
        is_enum: true,
        ..array("moods", "mood[]", 98_766, 98_765, 1)
    };
    assert_eq!(data_type(&col), list(DataType::Utf8));
    assert_eq!(plan(&col).select_expr(), "\"moods\"");
}

#[test]
fn numerics_by_precision() {
    let dt = |p, s| data_type(&column("n", "numeric", 1700, numeric_typmod_of(p, s)));
    assert_eq!(dt(12, 2), DataType::Decimal128(12, 2));
    assert_eq!(dt(38, 0), DataType::Decimal128(38, 0));
    assert_eq!(dt(39, 4), DataType::Decimal256(39, 4));
    assert_eq!(dt(76, 10), DataType::Decimal256(76, 10));
    assert_eq!(dt(77, 0), DataType::Utf8);
    assert_eq!(dt(1000, 20), DataType::Utf8);
    // PostgreSQL 15+: negative scale, scale above precision.
    assert_eq!(dt(5, -2), DataType::Decimal128(7, 0));
    assert_eq!(dt(2, 5), DataType::Decimal128(5, 5));
    assert_eq!(dt(38, -1), DataType::Decimal256(39, 0));
    assert_eq!(data_type(&column("n", "numeric", 1700, -1)), DataType::Utf8);
}

#[test]
fn numeric_metadata_and_nan_option() {
    let col = column("price", "numeric(12,2)", 1700, numeric_typmod_of(12, 2));
    let p = plan(&col);
    let md = p.field.metadata();
    assert_eq!(md[PRECISION_KEY], "12");
    assert_eq!(md[SCALE_KEY], "2");
    assert_eq!(md[TYPE_NAME_KEY], "numeric(12,2)");
    assert_eq!(
        p.decode,
        Decode::Scalar(ValueKind::Decimal128 {
            precision: 12,
            scale: 2,
            nan_as_null: false
        })
    );
    let opts = TypeOptions {
        numeric_nan_as_null: true,
        ..TypeOptions::default()
    };
    assert_eq!(
        plan_column(&col, &opts).decode,
        Decode::Scalar(ValueKind::Decimal128 {
            precision: 12,
            scale: 2,
            nan_as_null: true
        })
    );
    let neg = column("n", "numeric(5,-2)", 1700, numeric_typmod_of(5, -2));
    assert_eq!(plan(&neg).field.metadata()[SCALE_KEY], "-2");
    assert!(
        !plan(&column("n", "numeric", 1700, -1))
            .field
            .metadata()
            .contains_key(PRECISION_KEY)
    );
}

#[test]
fn field_metadata_and_nullability() {
    let col = PgColumn {
        nullable: false,
        schema: "app".to_owned(),
        table: "Users".to_owned(),
        remarks: Some("Full name".to_owned()),
        auto_increment: false,
        ..column("name", "character varying(20)", 1043, 24)
    };
    let p = plan(&col);
    assert!(!p.field.is_nullable());
    let md = p.field.metadata();
    assert_eq!(md[TYPE_NAME_KEY], "character varying(20)");
    assert_eq!(md[SCHEMA_NAME_KEY], "app");
    assert_eq!(md[TABLE_NAME_KEY], "Users");
    assert_eq!(md[PRECISION_KEY], "20");
    assert_eq!(md[IS_NULLABLE_KEY], "0");
    assert!(
        !md.contains_key(REMARKS_KEY),
        "a result's field never carries REMARKS"
    );
    assert_eq!(md[IS_AUTO_INCREMENT_KEY], "0");
    assert_eq!(md[IS_READ_ONLY_KEY], "1");
    assert!(!md.contains_key(SCALE_KEY));
    assert!(!md.contains_key(EXTENSION_NAME_KEY));
    let identity = PgColumn {
        auto_increment: true,
        ..col.clone()
    };
    assert_eq!(plan(&identity).field.metadata()[IS_AUTO_INCREMENT_KEY], "1");

    let bare = PgColumn {
        schema: String::new(),
        table: String::new(),
        remarks: None,
        auto_increment: false,
        ..column("x", "integer", 23, -1)
    };
    let md = plan(&bare).field.metadata().clone();
    assert!(!md.contains_key(SCHEMA_NAME_KEY) && !md.contains_key(TABLE_NAME_KEY));
    assert!(!md.contains_key(REMARKS_KEY) && !md.contains_key(IS_AUTO_INCREMENT_KEY));
    assert_eq!(md[IS_NULLABLE_KEY], "1");
    assert_eq!(md[IS_READ_ONLY_KEY], "1");
}

#[test]
fn json_carries_the_canonical_extension() {
    for type_oid in [114, 3802] {
        let p = plan(&column("doc", "jsonb", type_oid, -1));
        assert_eq!(p.field.metadata()[EXTENSION_NAME_KEY], "arrow.json");
        assert_eq!(p.field.metadata()[EXTENSION_METADATA_KEY], "");
    }
    let p = plan(&array("docs", "jsonb[]", 3807, 3802, 1));
    let DataType::List(item) = p.field.data_type() else {
        panic!("not a list");
    };
    assert_eq!(item.metadata()[EXTENSION_NAME_KEY], "arrow.json");
    assert!(!p.field.metadata().contains_key(EXTENSION_NAME_KEY));
}

#[test]
fn arrays_become_lists() {
    assert_eq!(
        data_type(&array("a", "integer[]", 1007, 23, 1)),
        list(DataType::Int32)
    );
    // attndims 0 (views) still means one level.
    assert_eq!(
        data_type(&array("a", "integer[]", 1007, 23, 0)),
        list(DataType::Int32)
    );
    assert_eq!(
        data_type(&array("a", "integer[][]", 1007, 23, 2)),
        list(list(DataType::Int32))
    );
    assert_eq!(
        data_type(&array("a", "text[][][]", 1009, 25, 3)),
        list(list(list(DataType::Utf8)))
    );
    // Element oid taken from the built-in table when the catalog left it out.
    let mut col = column("a", "bigint[]", 1016, -1);
    col.ndims = 1;
    assert_eq!(data_type(&col), list(DataType::Int64));
    let p = plan(&array("a", "numeric(10,3)[]", 1231, 1700, 1));
    let col_typmod = PgColumn {
        typmod: numeric_typmod_of(10, 3),
        ..array("a", "numeric(10,3)[]", 1231, 1700, 1)
    };
    assert_eq!(p.field.data_type(), &list(DataType::Utf8));
    assert_eq!(data_type(&col_typmod), list(DataType::Decimal128(10, 3)));
    assert_eq!(plan(&col_typmod).select_expr(), "\"a\"");
}

#[test]
fn arrays_of_cast_types_select_text_arrays() {
    let p = plan(&array("ips", "inet[]", 1041, 869, 1));
    assert_eq!(p.select_expr(), "\"ips\"::text[]");
    assert_eq!(p.field.data_type(), &list(DataType::Utf8));
    assert_eq!(
        p.decode,
        Decode::List {
            element: ValueKind::Text,
            depth: 1
        }
    );
    let p = plan(&array("t", "time with time zone[]", 1270, 1266, 2));
    assert_eq!(p.select_expr(), "\"t\"::text[]");
    assert_eq!(p.field.data_type(), &list(list(DataType::Utf8)));
}

#[test]
fn arrays_as_json() {
    let opts = TypeOptions {
        arrays_as_json: true,
        ..TypeOptions::default()
    };
    let p = plan_column(&array("my col", "integer[]", 1007, 23, 2), &opts);
    assert_eq!(p.select_expr(), "array_to_json(\"my col\")::text");
    assert_eq!(p.field.data_type(), &DataType::Utf8);
    assert_eq!(p.field.metadata()[EXTENSION_NAME_KEY], "arrow.json");
    assert_eq!(p.field.metadata()[TYPE_NAME_KEY], "integer[]");
    // Non-arrays are unaffected.
    assert_eq!(
        plan_column(&column("i", "integer", 23, -1), &opts)
            .field
            .data_type(),
        &DataType::Int32
    );
}

#[test]
fn subscriptable_scalars_are_not_arrays() {
    // `name` has typelem "char" and `point` float8: a careless catalog query may fill
    // element_oid for them.
    let name = PgColumn {
        element_oid: Some(18),
        ..column("n", "name", 19, -1)
    };
    assert_eq!(data_type(&name), DataType::Utf8);
    assert_eq!(plan(&name).select_expr(), "\"n\"");
    let point = PgColumn {
        element_oid: Some(701),
        ..column("p", "point", 600, -1)
    };
    assert_eq!(data_type(&point), DataType::Utf8);
    assert_eq!(plan(&point).select_expr(), "\"p\"::text");
}

#[test]
fn select_expr_quotes_names() {
    let p = plan(&column("we\"ird name", "integer", 23, -1));
    assert_eq!(p.select_expr(), "\"we\"\"ird name\"");
    assert_eq!(p.name(), "we\"ird name");
    assert_eq!(p.field.name(), "we\"ird name");
}

#[test]
fn schema_keeps_order() {
    let plans = vec![
        plan(&column("a", "integer", 23, -1)),
        plan(&column("b", "text", 25, -1)),
    ];
    let schema = arrow_schema(&plans);
    assert_eq!(schema.fields().len(), 2);
    assert_eq!(schema.field(0).name(), "a");
    assert_eq!(schema.field(1).data_type(), &DataType::Utf8);
}

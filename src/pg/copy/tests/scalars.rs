//! Scalars: booleans, integers, floats, text, JSON, bytea, uuid, dates, times, intervals.

use super::*;

#[test]
fn booleans_and_integers() {
    let b = scalar(
        &[col("b", 16, -1)],
        &[Some(bool(true)), Some(bool(false)), None],
    );
    let a = b.column(0).as_boolean();
    assert!(a.value(0) && !a.value(1) && a.is_null(2));

    let b = scalar(
        &[col("s", 21, -1)],
        &[Some(i16(i16::MIN)), Some(i16(i16::MAX)), None],
    );
    let a = b.column(0).as_primitive::<Int16Type>();
    assert_eq!(
        (a.value(0), a.value(1), a.null_count()),
        (i16::MIN, i16::MAX, 1)
    );

    let b = scalar(
        &[col("i", 23, -1)],
        &[Some(i32(i32::MIN)), Some(i32(-1)), None],
    );
    let a = b.column(0).as_primitive::<Int32Type>();
    assert_eq!((a.value(0), a.value(1)), (i32::MIN, -1));
    assert!(a.is_null(2));

    let b = scalar(
        &[col("l", 20, -1)],
        &[Some(i64(i64::MIN)), Some(i64(i64::MAX)), Some(i64(0)), None],
    );
    let a = b.column(0).as_primitive::<Int64Type>();
    assert_eq!(a.values().to_vec(), vec![i64::MIN, i64::MAX, 0, 0]);
    assert!(a.is_null(3));

    let b = scalar(
        &[col("o", 26, -1)],
        &[Some(u32::MAX.to_be_bytes().to_vec())],
    );
    assert_eq!(b.column(0).as_primitive::<UInt32Type>().value(0), u32::MAX);
}

#[test]
fn floats() {
    let b = scalar(
        &[col("f", 700, -1)],
        &[
            Some(f32(1.5)),
            Some(f32(-0.0)),
            Some(f32(f32::NAN)),
            Some(f32(f32::NEG_INFINITY)),
            None,
        ],
    );
    let a = b.column(0).as_primitive::<Float32Type>();
    assert_eq!(a.value(0), 1.5);
    assert!(a.value(1) == 0.0 && a.value(1).is_sign_negative());
    assert!(a.value(2).is_nan());
    assert_eq!(a.value(3), f32::NEG_INFINITY);
    assert!(a.is_null(4));

    let b = scalar(
        &[col("d", 701, -1)],
        &[
            Some(f64(f64::MAX)),
            Some(f64(-0.0)),
            Some(f64(f64::NAN)),
            Some(f64(f64::MIN_POSITIVE)),
        ],
    );
    let a = b.column(0).as_primitive::<Float64Type>();
    assert_eq!(a.value(0), f64::MAX);
    assert!(a.value(1).is_sign_negative());
    assert!(a.value(2).is_nan());
    assert_eq!(a.value(3), f64::MIN_POSITIVE);
}

#[test]
fn text_types() {
    for type_oid in [25, 1043, 1042, 19, 114] {
        let b = scalar(
            &[col("t", type_oid, -1)],
            &[
                Some(text("héllo wörld ✓ 日本")),
                Some(text("")),
                None,
                Some(text("🦀")),
            ],
        );
        let a = b.column(0).as_string::<i32>();
        assert_eq!(a.value(0), "héllo wörld ✓ 日本");
        assert_eq!(a.value(1), "");
        assert!(a.is_null(2) && !a.is_null(1));
        assert_eq!(a.value(3), "🦀");
    }
    let enum_col = PgColumn {
        is_enum: true,
        ..col("mood", 50_000, -1)
    };
    let b = scalar(&[enum_col], &[Some(text("happy"))]);
    assert_eq!(b.column(0).as_string::<i32>().value(0), "happy");
}

#[test]
fn invalid_utf8_names_the_column() {
    let e = decode_err(
        &[col("title", 25, -1)],
        TypeOptions::default(),
        &[vec![Some(text("ok"))], vec![Some(vec![0xff, 0xfe])]],
    );
    let msg = e.to_string();
    assert!(
        msg.contains("invalid UTF-8") && msg.contains("\"title\""),
        "{msg}"
    );
}

#[test]
fn jsonb_and_json() {
    let b = scalar(
        &[col("j", 3802, -1)],
        &[Some(jsonb(r#"{"a": [1, 2]}"#)), Some(jsonb("")), None],
    );
    let a = b.column(0).as_string::<i32>();
    assert_eq!(a.value(0), r#"{"a": [1, 2]}"#);
    assert_eq!(a.value(1), "");
    assert_eq!(
        b.schema().field(0).metadata()["ARROW:extension:name"],
        "arrow.json"
    );
    let e = decode_err(
        &[col("j", 3802, -1)],
        TypeOptions::default(),
        &[vec![Some(vec![2, b'{', b'}'])]],
    );
    assert!(e.to_string().contains("jsonb binary version 2"), "{e}");
    let e = decode_err(
        &[col("j", 3802, -1)],
        TypeOptions::default(),
        &[vec![Some(vec![])]],
    );
    assert!(e.to_string().contains("\"j\""), "{e}");
}

#[test]
fn bytea_keeps_every_byte() {
    let raw = vec![0, 1, 0, 255, 0];
    let b = scalar(
        &[col("b", 17, -1)],
        &[Some(raw.clone()), Some(vec![]), None],
    );
    let a = b.column(0).as_binary::<i32>();
    assert_eq!(a.value(0), raw.as_slice());
    assert_eq!(a.value(1), b"");
    assert!(a.is_null(2));
}

#[test]
fn uuid_is_canonical_text() {
    let raw: Vec<u8> = (0u8..16).map(|i| i * 17).collect();
    let b = scalar(
        &[col("u", 2950, -1)],
        &[Some(raw), None, Some(vec![0xAB; 16])],
    );
    let a = b.column(0).as_string::<i32>();
    assert_eq!(a.value(0), "00112233-4455-6677-8899-aabbccddeeff");
    assert!(a.is_null(1));
    assert_eq!(a.value(2), "abababab-abab-abab-abab-abababababab");
    let e = decode_err(
        &[col("u", 2950, -1)],
        TypeOptions::default(),
        &[vec![Some(vec![1; 15])]],
    );
    assert!(e.to_string().contains("uuid value has 15 bytes"), "{e}");
}

#[test]
fn dates() {
    // 1999-12-31, 1969-07-20, 2100-03-01, 0001-01-01, 294276-ish, ±infinity
    let values = [
        -1,
        -11_122,
        36_584,
        -730_119,
        2_000_000_000,
        i32::MAX,
        i32::MIN,
    ];
    let mut cells: Vec<_> = values.iter().map(|&d| Some(date(d))).collect();
    cells.push(None);
    let b = scalar(&[col("d", 1082, -1)], &cells);
    let a = b.column(0).as_primitive::<Date32Type>();
    assert_eq!(a.value(0), 10_956);
    assert_eq!(a.value(1), -165); // 1969-07-20
    assert_eq!(a.value(2), 36_584 + 10_957); // 2100-03-01
    assert_eq!(a.value(3), -719_162); // 0001-01-01
    assert_eq!(a.value(4), 2_000_010_957);
    assert_eq!(a.value(5), i32::MAX);
    assert_eq!(a.value(6), i32::MIN);
    assert!(a.is_null(7));
    assert_eq!(
        arrow::array::temporal_conversions::as_date::<Date32Type>(i64::from(a.value(1)))
            .unwrap()
            .to_string(),
        "1969-07-20"
    );
    let e = decode_err(
        &[col("d", 1082, -1)],
        TypeOptions::default(),
        &[vec![Some(date(i32::MAX - 5))]],
    );
    assert!(e.to_string().contains("Date32 range"), "{e}");
}

#[test]
fn times_and_timestamps() {
    let b = scalar(
        &[col("t", 1083, -1)],
        &[
            Some(i64(0)),
            Some(i64(86_400_000_000)),
            Some(i64(45_296_789_012)),
        ],
    );
    let a = b.column(0).as_primitive::<Time64MicrosecondType>();
    assert_eq!(a.values().to_vec(), vec![0, 86_400_000_000, 45_296_789_012]);
    assert!(
        decode_err(
            &[col("t", 1083, -1)],
            TypeOptions::default(),
            &[vec![Some(i64(-1))]]
        )
        .to_string()
        .contains("time of day")
    );

    const EPOCH: i64 = 946_684_800_000_000;
    for type_oid in [1114, 1184] {
        let b = scalar(
            &[col("ts", type_oid, -1)],
            &[
                Some(timestamp(1)),
                Some(timestamp(-EPOCH - 1)),
                Some(timestamp(i64::MAX)),
                Some(timestamp(i64::MIN)),
                Some(timestamp(4_102_444_800_000_000)), // 2130-01-01
                None,
            ],
        );
        let a = b.column(0).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(a.value(0), EPOCH + 1);
        assert_eq!(a.value(1), -1);
        assert_eq!(a.value(2), i64::MAX);
        assert_eq!(a.value(3), i64::MIN);
        assert_eq!(a.value(4), 4_102_444_800_000_000 + EPOCH);
        assert!(a.is_null(5));
        let tz = a.timezone();
        assert_eq!(tz, if type_oid == 1184 { Some("UTC") } else { None });
    }
    let e = decode_err(
        &[col("ts", 1114, -1)],
        TypeOptions::default(),
        &[vec![Some(timestamp(i64::MAX - 1))]],
    );
    assert!(e.to_string().contains("\"ts\""), "{e}");
}

#[test]
fn intervals() {
    let b = scalar(
        &[col("iv", 1186, -1)],
        &[
            Some(interval(3_600_000_001, 2, 14)),
            Some(interval(-1, -3, -1)),
            Some(interval(i64::MAX, i32::MAX, i32::MAX)),
            Some(interval(i64::MIN, i32::MIN, i32::MIN)),
            None,
        ],
    );
    let a = b.column(0).as_primitive::<IntervalMonthDayNanoType>();
    assert_eq!(
        a.value(0),
        IntervalMonthDayNano::new(14, 2, 3_600_000_001_000)
    );
    assert_eq!(a.value(1), IntervalMonthDayNano::new(-1, -3, -1000));
    assert_eq!(a.value(2), IntervalMonthDayNano::MAX);
    assert_eq!(a.value(3), IntervalMonthDayNano::MIN);
    assert!(a.is_null(4));
    let e = decode_err(
        &[col("span", 1186, -1)],
        TypeOptions::default(),
        &[vec![Some(interval(i64::MAX / 100, 0, 0))]],
    );
    let msg = e.to_string();
    assert!(
        msg.contains("\"span\"") && msg.contains("overflows"),
        "{msg}"
    );
}

#[test]
fn wrong_fixed_width_is_an_error() {
    let e = decode_err(
        &[col("n", 23, -1)],
        TypeOptions::default(),
        &[vec![Some(vec![0, 0, 1])]],
    );
    assert_eq!(
        e.to_string(),
        "column \"n\": integer value has 3 bytes, expected 4 (row 1)"
    );
}

#[test]
fn text_casts_decode_as_text() {
    // timetz, inet (selected with ::text) arrive as text.
    let b = scalar(&[col("tz", 1266, -1)], &[Some(text("12:00:00+02"))]);
    assert_eq!(b.column(0).as_string::<i32>().value(0), "12:00:00+02");
}

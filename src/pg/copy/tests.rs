//! Decoder tests over hand-encoded binary COPY streams (no server). The encoders follow
//! PostgreSQL's `*_send` functions.

use arrow::array::{Array, AsArray, ListArray};
use arrow::datatypes::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, Time64MicrosecondType,
    TimestampMicrosecondType, UInt32Type, i256,
};

use super::*;
use crate::pg::types::{PgColumn, TypeOptions, plan_column};

mod fuzz;

// ---------------------------------------------------------------------------------------------
// Encoders (PostgreSQL's binary send forms).

pub(super) mod enc {
    /// Header: signature, flags 0, no extension.
    pub fn header() -> Vec<u8> {
        header_with_extension(&[])
    }

    pub fn header_with_extension(extension: &[u8]) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&(extension.len() as i32).to_be_bytes());
        out.extend_from_slice(extension);
        out
    }

    pub const TRAILER: [u8; 2] = [0xff, 0xff];

    pub fn row(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut out = (fields.len() as i16).to_be_bytes().to_vec();
        for field in fields {
            match field {
                Some(bytes) => {
                    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out
    }

    pub fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = header();
        for r in rows {
            out.extend(row(r));
        }
        out.extend_from_slice(&TRAILER);
        out
    }

    pub fn bool(v: bool) -> Vec<u8> {
        vec![u8::from(v)]
    }
    pub fn i16(v: i16) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    pub fn i32(v: i32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    pub fn i64(v: i64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    pub fn f32(v: f32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    pub fn f64(v: f64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }
    pub fn text(v: &str) -> Vec<u8> {
        v.as_bytes().to_vec()
    }
    pub fn jsonb(v: &str) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(v.as_bytes());
        out
    }
    /// date: days since 2000-01-01.
    pub fn date(days: i32) -> Vec<u8> {
        i32(days)
    }
    /// timestamp: µs since 2000-01-01.
    pub fn timestamp(us: i64) -> Vec<u8> {
        i64(us)
    }
    pub fn interval(us: i64, days: i32, months: i32) -> Vec<u8> {
        let mut out = us.to_be_bytes().to_vec();
        out.extend_from_slice(&days.to_be_bytes());
        out.extend_from_slice(&months.to_be_bytes());
        out
    }

    /// numeric_send of a decimal literal ("-12.50", "0.0001", "NaN", "Infinity", "-Infinity").
    pub fn numeric(literal: &str) -> Vec<u8> {
        let special = |sign: u16| {
            let mut out = vec![0, 0, 0, 0];
            out.extend_from_slice(&sign.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out
        };
        match literal {
            "NaN" => return special(0xC000),
            "Infinity" => return special(0xD000),
            "-Infinity" => return special(0xF000),
            _ => {}
        }
        let (negative, unsigned) = match literal.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, literal),
        };
        let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let dscale = frac_part.len() as u16;
        let int_part = int_part.trim_start_matches('0');
        // Pad to whole base-10000 groups: integer part on the left, fraction on the right.
        let int_groups = int_part.len().div_ceil(4);
        let mut digits_text = "0".repeat(int_groups * 4 - int_part.len());
        digits_text.push_str(int_part);
        digits_text.push_str(frac_part);
        digits_text.push_str(&"0".repeat((4 - frac_part.len() % 4) % 4));
        let mut groups: Vec<u16> = digits_text
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
            .collect();
        let mut weight = int_groups as i16 - 1;
        while groups.first() == Some(&0) {
            groups.remove(0);
            weight -= 1;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let sign: u16 = if negative && !groups.is_empty() {
            0x4000
        } else {
            0
        };
        let mut out = Vec::new();
        out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        out.extend_from_slice(&weight.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&dscale.to_be_bytes());
        for g in groups {
            out.extend_from_slice(&g.to_be_bytes());
        }
        out
    }

    /// array_send: dims are (length, lower bound); elements in row-major order.
    pub fn array(element_oid: u32, dims: &[(i32, i32)], elements: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut out = (dims.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(&i32::from(elements.iter().any(Option::is_none)).to_be_bytes());
        out.extend_from_slice(&element_oid.to_be_bytes());
        for (len, lower) in dims {
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&lower.to_be_bytes());
        }
        for element in elements {
            match element {
                Some(bytes) => {
                    out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                    out.extend_from_slice(bytes);
                }
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        out
    }

    /// The empty array ('{}'): no dimensions.
    pub fn empty_array(element_oid: u32) -> Vec<u8> {
        array(element_oid, &[], &[])
    }
}

use enc::*;

// ---------------------------------------------------------------------------------------------
// Plans.

pub(super) fn col(name: &str, base_oid: u32, typmod: i32) -> PgColumn {
    PgColumn {
        name: name.to_owned(),
        type_name: format!("oid{base_oid}"),
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

pub(super) fn array_col(
    name: &str,
    array_oid: u32,
    element: u32,
    ndims: i32,
    typmod: i32,
) -> PgColumn {
    PgColumn {
        element_oid: Some(element),
        ndims,
        ..col(name, array_oid, typmod)
    }
}

pub(super) fn numeric_typmod(p: i32, s: i32) -> i32 {
    ((p << 16) | (s & 0x7ff)) + 4
}

pub(super) fn plans(cols: &[PgColumn], opts: TypeOptions) -> Vec<ColumnPlan> {
    cols.iter().map(|c| plan_column(c, &opts)).collect()
}

/// Decodes `stream` in one chunk with a huge batch size; returns the single batch.
fn decode_one(cols: &[PgColumn], opts: TypeOptions, rows: &[Vec<Option<Vec<u8>>>]) -> RecordBatch {
    let plans = plans(cols, opts);
    let mut decoder = CopyDecoder::new(&plans, 1_000_000);
    decoder.push(&stream(rows)).unwrap();
    assert!(decoder.next_batch().unwrap().is_none());
    let batch = decoder.finish().unwrap().expect("a batch");
    assert!(decoder.finish().unwrap().is_none());
    batch
}

fn decode_err(cols: &[PgColumn], opts: TypeOptions, rows: &[Vec<Option<Vec<u8>>>]) -> CopyError {
    let plans = plans(cols, opts);
    let mut decoder = CopyDecoder::new(&plans, 1_000_000);
    match decoder.push(&stream(rows)) {
        Err(e) => e,
        Ok(()) => decoder.finish().expect_err("decoding should fail"),
    }
}

fn scalar(cols: &[PgColumn], values: &[Option<Vec<u8>>]) -> RecordBatch {
    let rows: Vec<_> = values.iter().map(|v| vec![v.clone()]).collect();
    decode_one(cols, TypeOptions::default(), &rows)
}

// ---------------------------------------------------------------------------------------------
// Scalars.

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

// ---------------------------------------------------------------------------------------------
// Numerics.

#[test]
fn numeric_decimal128() {
    let c = col("price", 1700, numeric_typmod(12, 2));
    let literals = [
        "0.00",
        "12345.67",
        "-12345.67",
        "0.01",
        "9999999999.99",
        "-9999999999.99",
        "100.00",
        "1.50",
    ];
    let mut cells: Vec<_> = literals.iter().map(|l| Some(numeric(l))).collect();
    cells.push(None);
    let b = scalar(&[c], &cells);
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.precision(), 12);
    assert_eq!(a.scale(), 2);
    let expected = [
        0i128,
        1_234_567,
        -1_234_567,
        1,
        999_999_999_999,
        -999_999_999_999,
        10_000,
        150,
    ];
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(a.value(i), *e, "{}", literals[i]);
        assert_eq!(a.value_as_string(i), literals[i]);
    }
    assert!(a.is_null(8));
}

#[test]
fn numeric_small_and_large_weights() {
    let c = col("n", 1700, numeric_typmod(20, 8));
    let b = scalar(
        &[c],
        &[
            Some(numeric("0.0001")),
            Some(numeric("0.00000001")),
            Some(numeric("123456789012.12345678")),
            Some(numeric("100000000000")),
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.value(0), 10_000);
    assert_eq!(a.value(1), 1);
    assert_eq!(a.value(2), 12_345_678_901_212_345_678);
    assert_eq!(a.value(3), 10_000_000_000_000_000_000);
}

#[test]
fn numeric_38_and_39_digits() {
    let nines38 = "9".repeat(38);
    let b = scalar(
        &[col("n", 1700, numeric_typmod(38, 0))],
        &[
            Some(numeric(&nines38)),
            Some(numeric(&format!("-{nines38}"))),
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!(a.value(0), 10i128.pow(38) - 1);
    assert_eq!(a.value(1), -(10i128.pow(38) - 1));

    let v39 = "123456789012345678901234567890123456789";
    let b = scalar(
        &[col("n", 1700, numeric_typmod(41, 2))],
        &[Some(numeric(&format!("{v39}.25"))), Some(numeric("-0.01"))],
    );
    let a = b.column(0).as_primitive::<Decimal256Type>();
    assert_eq!(a.precision(), 41);
    assert_eq!(a.value(0), i256::from_string(&format!("{v39}25")).unwrap());
    assert_eq!(a.value(1), i256::from_i128(-1));
    assert_eq!(a.value_as_string(0), format!("{v39}.25"));
}

#[test]
fn numeric_negative_scale_and_scale_above_precision() {
    // numeric(5,-2) → Decimal128(7,0); numeric(2,5) → Decimal128(5,5).
    let b = scalar(
        &[col("n", 1700, numeric_typmod(5, -2))],
        &[Some(numeric("9999900")), Some(numeric("-1200"))],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!((a.precision(), a.scale()), (7, 0));
    assert_eq!(a.value(0), 9_999_900);
    assert_eq!(a.value(1), -1200);
    let b = scalar(
        &[col("n", 1700, numeric_typmod(2, 5))],
        &[Some(numeric("0.00099"))],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert_eq!((a.precision(), a.scale()), (5, 5));
    assert_eq!(a.value(0), 99);
}

#[test]
fn numeric_nan_in_decimal_is_an_error_or_null() {
    let c = col("price", 1700, numeric_typmod(12, 2));
    for special in ["NaN", "Infinity", "-Infinity"] {
        let e = decode_err(
            std::slice::from_ref(&c),
            TypeOptions::default(),
            &[vec![Some(numeric("1.00"))], vec![Some(numeric(special))]],
        );
        assert_eq!(
            e.to_string(),
            format!(
                "column \"price\": numeric {special} cannot be stored in Decimal128(12,2); set \
                 numeric_nan = \"null\" to read it as NULL, or select the column as text (row 2)"
            )
        );
    }
    let opts = TypeOptions {
        numeric_nan_as_null: true,
        ..TypeOptions::default()
    };
    let b = decode_one(
        &[c, col("wide", 1700, numeric_typmod(50, 0))],
        opts,
        &[
            vec![Some(numeric("NaN")), Some(numeric("Infinity"))],
            vec![Some(numeric("2.50")), Some(numeric("-Infinity"))],
        ],
    );
    let a = b.column(0).as_primitive::<Decimal128Type>();
    assert!(a.is_null(0) && a.value(1) == 250);
    assert_eq!(b.column(1).null_count(), 2);
    let e = decode_err(
        &[col("wide", 1700, numeric_typmod(50, 0))],
        TypeOptions::default(),
        &[vec![Some(numeric("NaN"))]],
    );
    assert!(e.to_string().contains("Decimal256(50,0)"), "{e}");
}

#[test]
fn numeric_out_of_range_is_an_error() {
    let e = decode_err(
        &[col("n", 1700, numeric_typmod(4, 2))],
        TypeOptions::default(),
        &[vec![Some(numeric("123.45"))]],
    );
    assert!(e.to_string().contains("does not fit"), "{e}");
}

#[test]
fn unconstrained_numeric_is_exact_text() {
    let literals = [
        "0",
        "1",
        "-1",
        "0.0001",
        "12345.678900",
        "-0.5",
        "100000000000000000000000000000000000000000000000000",
        "3.14159265358979323846264338327950288419716939937510",
        "NaN",
        "Infinity",
        "-Infinity",
        "10000",
        "0.10",
    ];
    let mut cells: Vec<_> = literals.iter().map(|l| Some(numeric(l))).collect();
    cells.push(None);
    let b = scalar(&[col("n", 1700, -1)], &cells);
    let a = b.column(0).as_string::<i32>();
    for (i, l) in literals.iter().enumerate() {
        assert_eq!(a.value(i), *l);
    }
    assert!(a.is_null(literals.len()));
    // Wider than 76 digits → Utf8 too.
    let b = scalar(
        &[col("n", 1700, numeric_typmod(100, 3))],
        &[Some(numeric("1.250"))],
    );
    assert_eq!(b.column(0).as_string::<i32>().value(0), "1.250");
}

// ---------------------------------------------------------------------------------------------
// Arrays.

fn list_values(a: &ListArray, i: usize) -> Vec<Option<i32>> {
    a.value(i)
        .as_primitive::<Int32Type>()
        .iter()
        .collect::<Vec<_>>()
}

#[test]
fn one_dimensional_arrays() {
    let c = array_col("a", 1007, 23, 1, -1);
    let b = scalar(
        &[c],
        &[
            Some(array(23, &[(3, 1)], &[Some(i32(1)), None, Some(i32(-3))])),
            Some(empty_array(23)),
            None,
            Some(array(23, &[(2, 0)], &[Some(i32(7)), Some(i32(8))])),
            Some(array(23, &[(1, -5)], &[None])),
        ],
    );
    let a = b.column(0).as_list::<i32>();
    assert_eq!(list_values(a, 0), vec![Some(1), None, Some(-3)]);
    assert!(a.value(1).is_empty() && !a.is_null(1));
    assert!(a.is_null(2));
    // Lower bounds are ignored.
    assert_eq!(list_values(a, 3), vec![Some(7), Some(8)]);
    assert_eq!(list_values(a, 4), vec![None]);
}

#[test]
fn two_dimensional_arrays() {
    let c = array_col("m", 1007, 23, 2, -1);
    let cells: Vec<_> = (1..=6).map(|v| Some(i32(v))).collect();
    let b = scalar(
        &[c],
        &[
            Some(array(23, &[(2, 1), (3, 1)], &cells)),
            Some(empty_array(23)),
            None,
            Some(array(23, &[(1, 1), (1, 1)], &[None])),
        ],
    );
    let outer = b.column(0).as_list::<i32>();
    let rows = outer.value(0);
    let rows = rows.as_list::<i32>();
    assert_eq!(rows.len(), 2);
    assert_eq!(list_values(rows, 0), vec![Some(1), Some(2), Some(3)]);
    assert_eq!(list_values(rows, 1), vec![Some(4), Some(5), Some(6)]);
    assert!(outer.value(1).is_empty());
    assert!(outer.is_null(2));
    let last = outer.value(3);
    assert_eq!(list_values(last.as_list::<i32>(), 0), vec![None]);
}

#[test]
fn array_dimension_mismatch_names_the_column() {
    let e = decode_err(
        &[array_col("tags", 1009, 25, 1, -1)],
        TypeOptions::default(),
        &[vec![Some(array(
            25,
            &[(1, 1), (2, 1)],
            &[Some(text("a")), Some(text("b"))],
        ))]],
    );
    let msg = e.to_string();
    assert!(
        msg.contains("column \"tags\"")
            && msg.contains("2 dimensions")
            && msg.contains("arrays = \"json\""),
        "{msg}"
    );
    // More than MAXDIM dimensions.
    let dims = [(1, 1); 7];
    let e = decode_err(
        &[array_col("a", 1007, 23, 1, -1)],
        TypeOptions::default(),
        &[vec![Some(array(23, &dims, &[Some(i32(1))]))]],
    );
    assert!(e.to_string().contains("dimension count"), "{e}");
}

#[test]
fn arrays_of_every_element_family() {
    let b = decode_one(
        &[
            array_col("t", 1009, 25, 1, -1),
            array_col("n", 1231, 1700, 1, numeric_typmod(6, 2)),
            array_col("u", 1231, 1700, 1, -1),
            array_col("ts", 1185, 1184, 1, -1),
            array_col("j", 3807, 3802, 1, -1),
            array_col("inet", 1041, 869, 1, -1),
            array_col("b", 1001, 17, 1, -1),
        ],
        TypeOptions::default(),
        &[vec![
            Some(array(25, &[(2, 1)], &[Some(text("x")), Some(text("ÿ"))])),
            Some(array(1700, &[(2, 1)], &[Some(numeric("1.25")), None])),
            Some(array(1700, &[(1, 1)], &[Some(numeric("NaN"))])),
            Some(array(1184, &[(1, 1)], &[Some(timestamp(i64::MAX))])),
            Some(array(3802, &[(1, 1)], &[Some(jsonb("[1]"))])),
            Some(array(25, &[(1, 1)], &[Some(text("10.0.0.1/32"))])),
            Some(array(17, &[(1, 1)], &[Some(vec![0, 0])])),
        ]],
    );
    let strings = |i: usize| -> Vec<Option<String>> {
        b.column(i)
            .as_list::<i32>()
            .value(0)
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    };
    assert_eq!(strings(0), vec![Some("x".into()), Some("ÿ".into())]);
    let n = b.column(1).as_list::<i32>().value(0);
    let n = n.as_primitive::<Decimal128Type>();
    assert_eq!((n.value(0), n.is_null(1)), (125, true));
    assert_eq!(strings(2), vec![Some("NaN".into())]);
    let ts = b.column(3).as_list::<i32>().value(0);
    assert_eq!(
        ts.as_primitive::<TimestampMicrosecondType>().value(0),
        i64::MAX
    );
    assert_eq!(strings(4), vec![Some("[1]".into())]);
    assert_eq!(strings(5), vec![Some("10.0.0.1/32".into())]);
    let bytes = b.column(6).as_list::<i32>().value(0);
    assert_eq!(bytes.as_binary::<i32>().value(0), &[0, 0]);
}

#[test]
fn arrays_as_json_are_text() {
    let opts = TypeOptions {
        arrays_as_json: true,
        ..TypeOptions::default()
    };
    let b = decode_one(
        &[array_col("a", 1007, 23, 2, -1)],
        opts,
        &[vec![Some(text("[[1,2],[3,4]]"))]],
    );
    assert_eq!(b.column(0).as_string::<i32>().value(0), "[[1,2],[3,4]]");
}

#[test]
fn malformed_arrays_are_errors() {
    let c = [array_col("a", 1007, 23, 1, -1)];
    let cases: Vec<Vec<u8>> = vec![
        vec![0, 0, 0, 1],                             // truncated header
        array(23, &[(-1, 1)], &[]),                   // negative length
        array(23, &[(0, 1)], &[]),                    // zero length with ndim 1
        array(23, &[(3, 1)], &[Some(i32(1))]),        // too few elements
        array(23, &[(i32::MAX, 1)], &[Some(i32(1))]), // huge count
        {
            let mut v = array(23, &[(1, 1)], &[Some(i32(1))]);
            v.push(0); // trailing byte
            v
        },
        array(23, &[(1, 1)], &[Some(vec![1, 2])]), // wrong element width
        {
            let mut v = empty_array(23);
            v.push(9);
            v
        },
    ];
    for (i, bytes) in cases.into_iter().enumerate() {
        let e = decode_err(&c, TypeOptions::default(), &[vec![Some(bytes)]]);
        assert!(e.to_string().contains("column \"a\""), "case {i}: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Stream framing, chunking and batching.

fn mixed_columns() -> Vec<PgColumn> {
    vec![
        col("id", 20, -1),
        col("name", 25, -1),
        col("price", 1700, numeric_typmod(12, 2)),
        array_col("tags", 1009, 25, 1, -1),
    ]
}

fn mixed_row(i: i64) -> Vec<Option<Vec<u8>>> {
    vec![
        Some(enc::i64(i)),
        if i % 3 == 0 {
            None
        } else {
            Some(text(&"ž".repeat(i as usize % 5)))
        },
        Some(numeric(&format!("{i}.{:02}", i % 100))),
        Some(array(25, &[(2, 1)], &[Some(text(&i.to_string())), None])),
    ]
}

fn collect(decoder: &mut CopyDecoder, out: &mut Vec<RecordBatch>) {
    while let Some(b) = decoder.next_batch().unwrap() {
        out.push(b);
    }
}

fn decode_chunks(chunks: &[&[u8]], batch_size: usize) -> Result<Vec<RecordBatch>, CopyError> {
    let plans = plans(&mixed_columns(), TypeOptions::default());
    let mut decoder = CopyDecoder::new(&plans, batch_size);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk)?;
        collect(&mut decoder, &mut out);
    }
    while let Some(b) = decoder.finish()? {
        out.push(b);
    }
    Ok(out)
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    let schema = arrow_schema(&plans(&mixed_columns(), TypeOptions::default()));
    arrow::compute::concat_batches(&schema, batches).unwrap()
}

#[test]
fn rows_split_at_every_byte_offset() {
    let rows: Vec<_> = (0..4).map(mixed_row).collect();
    let bytes = stream(&rows);
    let whole = concat(&decode_chunks(&[&bytes], 1000).unwrap());
    assert_eq!(whole.num_rows(), 4);
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        let batches = decode_chunks(&[a, b], 1000).unwrap();
        assert_eq!(concat(&batches), whole, "cut at {cut}");
    }
    // Two cuts, and one byte at a time.
    for cut1 in (0..bytes.len()).step_by(7) {
        for cut2 in (cut1..=bytes.len()).step_by(5) {
            let chunks = [&bytes[..cut1], &bytes[cut1..cut2], &bytes[cut2..]];
            assert_eq!(concat(&decode_chunks(&chunks, 3).unwrap()), whole);
        }
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(concat(&decode_chunks(&singles, 2).unwrap()), whole);
}

#[test]
fn one_message_per_row_like_tokio_postgres() {
    // PostgreSQL sends the header with the first row and the trailer on its own.
    let rows: Vec<_> = (0..10).map(mixed_row).collect();
    let mut first = header();
    first.extend(row(&rows[0]));
    let mut chunks = vec![first];
    chunks.extend(rows[1..].iter().map(|r| row(r)));
    chunks.push(TRAILER.to_vec());
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let batches = decode_chunks(&refs, 4).unwrap();
    assert_eq!(
        batches
            .iter()
            .map(RecordBatch::num_rows)
            .collect::<Vec<_>>(),
        vec![4, 4, 2]
    );
    assert_eq!(
        concat(&batches),
        concat(&decode_chunks(&[&stream(&rows)], 1000).unwrap())
    );
}

#[test]
fn batch_size_boundaries() {
    let rows: Vec<_> = (0..10).map(mixed_row).collect();
    let bytes = stream(&rows);
    for (batch_size, expected) in [
        (1, vec![1; 10]),
        (3, vec![3, 3, 3, 1]),
        (5, vec![5, 5]),
        (10, vec![10]),
        (1000, vec![10]),
        (0, vec![1; 10]), // treated as 1
    ] {
        let batches = decode_chunks(&[&bytes], batch_size).unwrap();
        let sizes: Vec<_> = batches.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, expected, "batch_size {batch_size}");
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>());
    }
}

#[test]
fn finish_returns_undrained_batches_first() {
    let rows: Vec<_> = (0..7).map(mixed_row).collect();
    let plans = plans(&mixed_columns(), TypeOptions::default());
    let mut decoder = CopyDecoder::new(&plans, 3);
    decoder.push(&stream(&rows)).unwrap();
    let mut sizes = Vec::new();
    while let Some(b) = decoder.finish().unwrap() {
        sizes.push(b.num_rows());
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(decoder.rows_decoded(), 7);
    assert!(decoder.push(&[]).is_err());
}

#[test]
fn empty_result_has_schema_and_no_batch() {
    let plans = plans(&mixed_columns(), TypeOptions::default());
    let mut decoder = CopyDecoder::new(&plans, 10);
    decoder.push(&stream(&[])).unwrap();
    assert!(decoder.next_batch().unwrap().is_none());
    assert!(decoder.finish().unwrap().is_none());
    let schema = decoder.schema();
    assert_eq!(schema.fields().len(), 4);
    assert_eq!(schema.field(2).data_type(), &DataType::Decimal128(12, 2));
}

#[test]
fn zero_column_rows_are_counted() {
    let mut decoder = CopyDecoder::new(&[], 2);
    decoder.push(&stream(&[vec![], vec![], vec![]])).unwrap();
    let first = decoder.next_batch().unwrap().unwrap();
    assert_eq!((first.num_rows(), first.num_columns()), (2, 0));
    assert_eq!(decoder.finish().unwrap().unwrap().num_rows(), 1);
}

#[test]
fn header_extension_is_skipped_across_chunks() {
    let mut bytes = header_with_extension(b"future stuff");
    bytes.extend(row(&mixed_row(1)));
    bytes.extend_from_slice(&TRAILER);
    for cut in 0..bytes.len() {
        let batches = decode_chunks(&[&bytes[..cut], &bytes[cut..]], 10).unwrap();
        assert_eq!(concat(&batches).num_rows(), 1);
    }
}

#[test]
fn stream_errors() {
    let rows: Vec<_> = (0..3).map(mixed_row).collect();
    let good = stream(&rows);

    // Missing trailer.
    let e = decode_chunks(&[&good[..good.len() - 2]], 10).unwrap_err();
    assert!(matches!(e, CopyError::Truncated(_)), "{e}");
    assert!(e.to_string().contains("without the COPY trailer"), "{e}");
    // Cut inside a row.
    let e = decode_chunks(&[&good[..good.len() - 5]], 10).unwrap_err();
    assert!(e.to_string().starts_with("truncated COPY stream"), "{e}");
    // Trailing garbage, in the same or a later chunk.
    let mut extra = good.clone();
    extra.push(0);
    let e = decode_chunks(&[&extra], 10).unwrap_err();
    assert!(matches!(e, CopyError::TrailingData(1)), "{e}");
    let e = decode_chunks(&[&good, b"xy"], 10).unwrap_err();
    assert!(matches!(e, CopyError::TrailingData(2)), "{e}");
    // Empty input, short header, wrong signature, OIDs flag, negative extension.
    assert!(matches!(
        decode_chunks(&[], 10).unwrap_err(),
        CopyError::Truncated(_)
    ));
    assert!(matches!(
        decode_chunks(&[&good[..10]], 10).unwrap_err(),
        CopyError::Truncated(_)
    ));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(matches!(
        decode_chunks(&[&bad], 10).unwrap_err(),
        CopyError::BadHeader(_)
    ));
    let mut oids = good.clone();
    oids[12] = 1; // flags bit 16
    assert!(
        decode_chunks(&[&oids], 10)
            .unwrap_err()
            .to_string()
            .contains("OIDs")
    );
    let mut neg = good.clone();
    neg[15] = 0xff;
    assert!(matches!(
        decode_chunks(&[&neg], 10).unwrap_err(),
        CopyError::BadHeader(_)
    ));
    // Field count.
    let plans = plans(&mixed_columns()[..2], TypeOptions::default());
    let mut decoder = CopyDecoder::new(&plans, 10);
    let e = decoder.push(&good).unwrap_err();
    assert_eq!(e.to_string(), "row 1 has 4 fields, expected 2");
    // The decoder stays failed.
    assert!(matches!(
        decoder.push(&[]).unwrap_err(),
        CopyError::Unusable(_)
    ));
    assert!(decoder.finish().is_err());
}

#[test]
fn hostile_lengths_do_not_allocate() {
    let plans = plans(&[col("t", 25, -1)], TypeOptions::default());
    // A field claiming 2^31-1 bytes: rejected outright (above PostgreSQL's 1 GiB limit).
    let mut bytes = header();
    bytes.extend_from_slice(&1i16.to_be_bytes());
    bytes.extend_from_slice(&i32::MAX.to_be_bytes());
    bytes.extend_from_slice(b"abc");
    let mut decoder = CopyDecoder::new(&plans, 10);
    let e = decoder.push(&bytes).unwrap_err();
    assert!(
        e.to_string().contains("invalid field length 2147483647"),
        "{e}"
    );
    // A field claiming 512 MiB with 3 bytes present: buffered as it arrives, not reserved.
    let mut bytes = header();
    bytes.extend_from_slice(&1i16.to_be_bytes());
    bytes.extend_from_slice(&(1i32 << 29).to_be_bytes());
    bytes.extend_from_slice(b"abc");
    let mut decoder = CopyDecoder::new(&plans, 10);
    decoder.push(&bytes).unwrap();
    assert!(decoder.carry.capacity() < 1 << 20);
    assert!(matches!(decoder.finish(), Err(CopyError::Truncated(_))));
    // Other negative lengths.
    let mut bytes = header();
    bytes.extend_from_slice(&1i16.to_be_bytes());
    bytes.extend_from_slice(&(-2i32).to_be_bytes());
    let e = CopyDecoder::new(&plans, 10).push(&bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        "column \"t\": invalid field length -2 (row 1)"
    );
}

#[test]
fn non_nullable_field_with_null_is_an_error_not_a_panic() {
    let c = PgColumn {
        nullable: false,
        ..col("id", 23, -1)
    };
    let e = decode_err(&[c], TypeOptions::default(), &[vec![None]]);
    assert!(matches!(e, CopyError::Arrow { .. }), "{e}");
}

#[test]
fn a_tampered_plan_field_is_an_error_not_a_panic() {
    let mut plans = plans(
        &[col("id", 23, -1), array_col("a", 1007, 23, 1, -1)],
        TypeOptions::default(),
    );
    plans[0].field = arrow::datatypes::Field::new("id", DataType::Utf8, true);
    let mut decoder = CopyDecoder::new(&plans, 10);
    decoder
        .push(&stream(&[vec![Some(i32(1)), Some(empty_array(23))]]))
        .unwrap();
    assert!(matches!(decoder.finish(), Err(CopyError::Arrow { .. })));
    let mut plans = plans.clone();
    plans[0].field = arrow::datatypes::Field::new("id", DataType::Int32, true);
    plans[1].field = arrow::datatypes::Field::new("a", DataType::Int32, true);
    let mut decoder = CopyDecoder::new(&plans, 10);
    decoder
        .push(&stream(&[vec![Some(i32(1)), Some(empty_array(23))]]))
        .unwrap();
    assert!(matches!(decoder.finish(), Err(CopyError::Arrow { .. })));
}

// ---------------------------------------------------------------------------------------------
// Raw speed (run with `cargo test --release --lib decoder_speed -- --ignored --nocapture`).

#[test]
#[ignore = "micro-benchmark; run in release mode"]
fn decoder_speed() {
    let cols = [
        col("id", 20, -1),
        col("qty", 23, -1),
        col("score", 701, -1),
        col("name", 25, -1),
        col("at", 1184, -1),
        col("ok", 16, -1),
        col("price", 1700, numeric_typmod(12, 2)),
        col("day", 1082, -1),
    ];
    let plans = plans(&cols, TypeOptions::default());
    const ROWS: i64 = 1_000_000;
    // One chunk per row, as tokio-postgres delivers them.
    let mut chunks: Vec<Vec<u8>> = vec![header()];
    for i in 0..ROWS {
        chunks.push(row(&[
            Some(enc::i64(i)),
            Some(enc::i32(i as i32)),
            Some(f64(i as f64 * 0.5)),
            Some(text(&format!("name-{i:015}"))),
            Some(timestamp(i * 1_000_003)),
            Some(bool(i % 2 == 0)),
            Some(numeric(&format!("{}.{:02}", i % 10_000_000, i % 100))),
            Some(date((i % 20_000) as i32)),
        ]));
    }
    chunks.push(TRAILER.to_vec());
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let mut decoder = CopyDecoder::new(&plans, 10_000);
        let mut rows = 0;
        for chunk in &chunks {
            decoder.push(chunk).unwrap();
            while let Some(b) = decoder.next_batch().unwrap() {
                rows += b.num_rows();
            }
        }
        while let Some(b) = decoder.finish().unwrap() {
            rows += b.num_rows();
        }
        assert_eq!(rows as i64, ROWS);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "decoded {ROWS} rows ({:.1} MB) in {:.3} s: {:.2} M rows/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        best,
        ROWS as f64 / best / 1e6,
        bytes as f64 / best / 1e6
    );
}

#[test]
fn rows_above_one_gib_are_rejected() {
    let plans = plans(
        &[col("a", 25, -1), col("b", 25, -1)],
        TypeOptions::default(),
    );
    let mut bytes = header();
    bytes.extend_from_slice(&2i16.to_be_bytes());
    bytes.extend_from_slice(&((1i32 << 30) - 1).to_be_bytes());
    let mut decoder = CopyDecoder::new(&plans, 10);
    let e = decoder.push(&bytes).unwrap_err();
    assert!(matches!(e, CopyError::RowTooLong { row: 1 }), "{e}");
}

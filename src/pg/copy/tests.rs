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

mod arrays;
mod fuzz;
mod numerics;
mod scalars;
mod sizing;
mod stream;

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

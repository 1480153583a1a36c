//! Deterministic fuzzing of the decoder: valid streams over a schema that uses every decoder
//! kind, then mutated (bit flips, truncation, corrupted length fields, inserted and deleted
//! bytes), fed in random chunks with random batch sizes. The decoder must never panic, a valid
//! stream must decode completely, and any `Ok` result must be self-consistent Arrow data.

use arrow::array::Array;

use super::enc::{self, *};
use super::{array_col, col, numeric_typmod, plans};
use crate::pg::copy::{CopyDecoder, CopyError};
use crate::pg::types::{ColumnPlan, PgColumn, TypeOptions};

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn i64(&mut self) -> i64 {
        match self.below(8) {
            0 => i64::MAX,
            1 => i64::MIN,
            2 => 0,
            3 => -1,
            _ => self.next() as i64 >> self.below(60),
        }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn schema() -> Vec<PgColumn> {
    vec![
        col("bool", 16, -1),
        col("int2", 21, -1),
        col("int4", 23, -1),
        col("int8", 20, -1),
        col("float4", 700, -1),
        col("float8", 701, -1),
        col("oid", 26, -1),
        col("text", 25, -1),
        col("jsonb", 3802, -1),
        col("bytea", 17, -1),
        col("date", 1082, -1),
        col("time", 1083, -1),
        col("timestamptz", 1184, -1),
        col("interval", 1186, -1),
        col("uuid", 2950, -1),
        col("dec128", 1700, numeric_typmod(12, 2)),
        col("dec256", 1700, numeric_typmod(40, 3)),
        col("numeric", 1700, -1),
        array_col("int4_1d", 1007, 23, 1, -1),
        array_col("text_2d", 1009, 25, 2, -1),
        array_col("dec_1d", 1231, 1700, 1, numeric_typmod(6, 1)),
    ]
}

fn string(rng: &mut Rng) -> String {
    let pieces = ["", "a", "é", "日本", "🦀", "\"", " ", "xyz"];
    (0..rng.below(4)).map(|_| *rng.pick(&pieces)).collect()
}

fn decimal(rng: &mut Rng, int_digits: u32, scale: usize) -> String {
    let specials = ["NaN", "Infinity", "-Infinity"];
    if rng.chance(20) {
        return rng.pick(&specials).to_string();
    }
    let int = rng.next() % 10u64.pow(int_digits);
    let frac = rng.next() % 10u64.pow(scale as u32);
    let sign = if rng.chance(2) { "-" } else { "" };
    if scale == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac:0scale$}")
    }
}

/// One random, valid value for column `index` of [`schema`] (or NULL).
fn value(rng: &mut Rng, index: usize) -> Option<Vec<u8>> {
    if rng.chance(8) {
        return None;
    }
    Some(match index {
        0 => bool(rng.chance(2)),
        1 => enc::i16(rng.next() as i16),
        2 => enc::i32(rng.next() as i32),
        3 => enc::i64(rng.i64()),
        4 => f32(f32::from_bits(rng.next() as u32)),
        5 => f64(f64::from_bits(rng.next())),
        6 => (rng.next() as u32).to_be_bytes().to_vec(),
        7 => text(&string(rng)),
        8 => jsonb(&format!("{{\"k\": \"{}\"}}", string(rng))),
        9 => (0..rng.below(5)).map(|_| rng.next() as u8).collect(),
        10 => date(*rng.pick(&[0, -1, i32::MAX, i32::MIN, 100_000, -700_000])),
        11 => enc::i64((rng.next() % 86_400_000_001) as i64),
        12 => timestamp(*rng.pick(&[0, 1, -1, i64::MAX, i64::MIN, 9_000_000_000_000_000])),
        13 => interval(
            rng.next() as i64 >> 20,
            rng.next() as i32,
            rng.next() as i32,
        ),
        14 => (0..16).map(|_| rng.next() as u8).collect(),
        15 => numeric(&decimal(rng, 10, 2)),
        16 => numeric(&decimal(rng, 19, 3)),
        17 => {
            let scale = rng.below(6);
            numeric(&decimal(rng, 19, scale))
        }
        18 => {
            if rng.chance(4) {
                empty_array(23)
            } else {
                let n = 1 + rng.below(3);
                let elements: Vec<_> = (0..n)
                    .map(|_| (!rng.chance(5)).then(|| enc::i32(rng.next() as i32)))
                    .collect();
                array(23, &[(n as i32, 1)], &elements)
            }
        }
        19 => {
            if rng.chance(4) {
                empty_array(25)
            } else {
                let (a, b) = (1 + rng.below(2), 1 + rng.below(3));
                let elements: Vec<_> = (0..a * b).map(|_| Some(text(&string(rng)))).collect();
                array(25, &[(a as i32, 1), (b as i32, 0)], &elements)
            }
        }
        _ => {
            let n = 1 + rng.below(2);
            let elements: Vec<_> = (0..n).map(|_| Some(numeric(&decimal(rng, 5, 1)))).collect();
            array(1700, &[(n as i32, 1)], &elements)
        }
    })
}

fn valid_stream(rng: &mut Rng, ncols: usize) -> (Vec<u8>, usize) {
    let nrows = rng.below(4);
    let mut out = header();
    for _ in 0..nrows {
        let fields: Vec<_> = (0..ncols).map(|i| value(rng, i)).collect();
        out.extend(row(&fields));
    }
    out.extend_from_slice(&TRAILER);
    (out, nrows)
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let len = bytes.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(len + 1)),
            2 if len >= 4 => {
                // Overwrite 4 bytes (often a length field) with an interesting i32.
                let at = rng.below(len - 3);
                let v: i32 = *rng.pick(&[
                    -1,
                    -2,
                    0,
                    1,
                    3,
                    7,
                    i32::MAX,
                    i32::MIN,
                    1 << 30,
                    (1 << 30) - 1,
                    0x4000,
                    6,
                ]);
                bytes[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let inserted: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                bytes.splice(at..at, inserted);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(8)).min(len);
                bytes.drain(at..end);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
            }
            _ if len >= 2 => {
                // Overwrite 2 bytes (field counts, numeric headers) with an interesting i16.
                let at = rng.below(len - 1);
                let v: i16 = *rng.pick(&[-1, 0, 1, 2, i16::MAX, i16::MIN, 21, 22, 20, 0x4000]);
                bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
            }
            _ => {}
        }
    }
}

/// Decodes in random chunks; returns the row count, or the error.
fn decode(rng: &mut Rng, plans: &[ColumnPlan], bytes: &[u8]) -> Result<usize, CopyError> {
    let batch_size = 1 + rng.below(4);
    let mut decoder = CopyDecoder::new(plans, batch_size);
    let mut rows = 0;
    let mut check = |batch: arrow::array::RecordBatch| {
        assert!(batch.num_rows() <= batch_size);
        for column in batch.columns() {
            assert_eq!(column.len(), batch.num_rows());
            column.to_data().validate_full().expect("valid Arrow data");
        }
        rows += batch.num_rows();
    };
    let mut rest = bytes;
    while !rest.is_empty() {
        let take = match rng.below(4) {
            0 => rest.len(),
            1 => 1,
            _ => 1 + rng.below(rest.len()),
        };
        let (chunk, tail) = rest.split_at(take.min(rest.len()));
        rest = tail;
        decoder.push(chunk)?;
        while let Some(batch) = decoder.next_batch()? {
            check(batch);
        }
    }
    while let Some(batch) = decoder.finish()? {
        check(batch);
    }
    assert_eq!(decoder.rows_decoded(), rows as u64);
    Ok(rows)
}

#[test]
fn fuzz_streams_never_panic() {
    let cols = schema();
    let strict = plans(&cols, TypeOptions::default());
    let lenient = plans(
        &cols,
        TypeOptions {
            numeric_nan_as_null: true,
            arrays_as_json: false,
        },
    );
    // PGFLIGHT_FUZZ_SEED and PGFLIGHT_FUZZ_CASES allow longer runs with other seeds.
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mut rng = Rng(env("PGFLIGHT_FUZZ_SEED", 0x9E37_79B9_7F4A_7C15).max(1));
    let (mut valid_ok, mut mutated_ok, mut mutated_err) = (0, 0, 0);
    let cases = env("PGFLIGHT_FUZZ_CASES", 100_000) as usize;
    let mut valid = Vec::new();
    for case in 0..cases {
        if case % 4 == 0 {
            // A fresh valid stream: it must decode completely (NaN/Infinity are allowed with
            // the lenient plan). The next three cases mutate it.
            let nrows;
            (valid, nrows) = valid_stream(&mut rng, cols.len());
            let rows = decode(&mut rng, &lenient, &valid)
                .unwrap_or_else(|e| panic!("case {case}: valid stream failed: {e}"));
            assert_eq!(rows, nrows, "case {case}");
            valid_ok += 1;
            continue;
        }
        let mut bytes = valid.clone();
        mutate(&mut rng, &mut bytes);
        let plans = if rng.chance(2) { &strict } else { &lenient };
        match decode(&mut rng, plans, &bytes) {
            Ok(_) => mutated_ok += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                mutated_err += 1;
            }
        }
    }
    eprintln!("fuzz: {valid_ok} valid, {mutated_ok} mutated ok, {mutated_err} mutated errors");
    assert_eq!(valid_ok + mutated_ok + mutated_err, cases);
    // The mutations must reach both outcomes, or the fuzzer is not exploring.
    assert!(
        mutated_ok > cases / 100 && mutated_err > cases / 10,
        "{mutated_ok} ok, {mutated_err} errors"
    );
}

/// Random bytes after a valid header: framing and value decoding of pure noise.
#[test]
fn fuzz_noise_never_panics() {
    let cols: Vec<PgColumn> = schema();
    let plans = plans(&cols, TypeOptions::default());
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let mut bytes = header();
        let n = rng.below(64);
        bytes.extend((0..n).map(|_| rng.next() as u8));
        let _ = decode(&mut rng, &plans, &bytes);
    }
}

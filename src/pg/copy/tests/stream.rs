//! Stream framing, chunking and batching, and hostile or broken streams.

use super::*;

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

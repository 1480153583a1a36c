//! Builder sizing: a small answer allocates small buffers, a scan's batches start at full size,
//! and the batching does not change what is decoded.

use arrow::array::ArrayData;

use super::*;

fn sized_columns() -> Vec<PgColumn> {
    vec![
        col("id", 20, -1),
        col("name", 25, -1),
        col("amount", 1700, numeric_typmod(12, 2)),
        col("ok", 16, -1),
        array_col("tags", 1009, 25, 1, -1),
    ]
}

fn sized_row(i: i64) -> Vec<Option<Vec<u8>>> {
    vec![
        Some(enc::i64(i)),
        Some(text(&format!("name {i}"))),
        if i % 7 == 0 {
            None
        } else {
            Some(numeric(&format!("{i}.{:02}", i % 100)))
        },
        Some(bool(i % 2 == 0)),
        Some(array(25, &[(2, 1)], &[Some(text(&i.to_string())), None])),
    ]
}

/// Decodes `rows` rows in one chunk; returns the batches in order.
fn decode(rows: i64, batch_size: usize) -> Vec<RecordBatch> {
    let plans = plans(&sized_columns(), TypeOptions::default());
    let rows: Vec<_> = (0..rows).map(sized_row).collect();
    let mut decoder = CopyDecoder::new(&plans, batch_size);
    decoder.push(&stream(&rows)).unwrap();
    let mut out = Vec::new();
    while let Some(b) = decoder.next_batch().unwrap() {
        out.push(b);
    }
    while let Some(b) = decoder.finish().unwrap() {
        out.push(b);
    }
    out
}

/// The largest buffer capacity (bytes) of an array and its children, null buffers included.
fn largest_buffer(data: &ArrayData) -> usize {
    let own = data.buffers().iter().map(|b| b.capacity());
    let nulls = data.nulls().map(|n| n.buffer().capacity());
    let children = data.child_data().iter().map(largest_buffer);
    own.chain(nulls).chain(children).max().unwrap_or(0)
}

fn int8_capacity(batch: &RecordBatch) -> usize {
    batch.column(0).to_data().buffers()[0].capacity()
}

#[test]
fn a_one_row_answer_has_small_buffers() {
    let batches = decode(1, 65_536);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].num_rows(), 1);
    // Room for the first batch's 1 024 rows (16 bytes a row for the widest, Decimal128), not
    // for 65 536 rows (1 MiB for the decimal column alone).
    for (field, column) in batches[0]
        .schema()
        .fields()
        .iter()
        .zip(batches[0].columns())
    {
        let largest = largest_buffer(&column.to_data());
        assert!(
            largest <= FIRST_BATCH_ROWS * 16,
            "column {}: a {largest}-byte buffer for one row",
            field.name()
        );
    }
}

#[test]
fn the_first_batch_grows_and_the_next_start_full() {
    let batch_size = 3 * FIRST_BATCH_ROWS / 2;
    let batches = decode(2 * batch_size as i64 + 10, batch_size);
    let sizes: Vec<_> = batches.iter().map(RecordBatch::num_rows).collect();
    assert_eq!(sizes, [batch_size, batch_size, 10]);
    // The first batch grew past its 1 024 rows by doubling; the others were sized in advance
    // for a full batch, the last one included (it is only known to be the last at the end).
    assert_eq!(int8_capacity(&batches[0]), 2 * FIRST_BATCH_ROWS * 8);
    assert_eq!(int8_capacity(&batches[1]), batch_size * 8);
    assert_eq!(int8_capacity(&batches[2]), batch_size * 8);
}

#[test]
fn batching_does_not_change_the_rows() {
    let rows = 3 * FIRST_BATCH_ROWS as i64 + 5;
    let schema = arrow_schema(&plans(&sized_columns(), TypeOptions::default()));
    let whole = decode(rows, 1_000_000);
    assert_eq!(whole.len(), 1);
    for batch_size in [1, 7, FIRST_BATCH_ROWS, FIRST_BATCH_ROWS + 1, 65_536] {
        let batches = decode(rows, batch_size);
        assert!(batches.iter().all(|b| b.num_rows() <= batch_size));
        let joined = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(joined, whole[0], "batch_size {batch_size}");
    }
}

//! Binary COPY (`COPY … TO STDOUT (FORMAT binary)`) decoder into Arrow record batches.
//!
//! A pure function over byte buffers: no I/O, no async. [`CopyDecoder::push`] takes the stream in
//! chunks of any size (tokio-postgres yields one `CopyData` message per row, but a row may span
//! chunks and a chunk may hold many rows), decodes every complete row straight from the chunk into
//! typed Arrow builders, and copies only an incomplete row's bytes into a carry-over buffer.
//! Every `batch_size` rows become a [`RecordBatch`].
//!
//! Builders are sized to need: the first batch starts with room for 1 024 rows and grows by
//! doubling, so a one-row answer does not allocate (and fault in, and free) a full batch's
//! buffers per column; after a full batch the next starts at the full batch size (up to 65 536
//! rows), so a scan does not grow again; after the last batch no buffers are sized for a batch
//! that will not come.
//!
//! The format: the 11-byte signature `PGCOPY\n\xff\r\n\0`, flags (i32), a header extension
//! (i32 length, then bytes); tuples of an i16 field count and per field an i32 length (-1 for
//! NULL) and that many bytes; the trailer, a field count of -1. Each field is the value's
//! `*_send` binary form; see the submodules for the non-trivial ones.
//!
//! Hostile input is an error, never a panic: every length is bounds-checked, nothing is
//! preallocated from a length read off the wire, a field may not exceed PostgreSQL's 1 GiB
//! limit, and arrays are limited to PostgreSQL's 6 dimensions and to as many elements as their
//! bytes can hold. After an error the decoder stays failed.

mod array;
mod framing;
mod numeric;
mod value;

use std::collections::VecDeque;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;

use self::array::ListBuilder;
use self::framing::{Frame, HEADER_LEN, Span, check_trailing, frame, parse_header};
use self::value::{FinishError, ValueBuilder, ValueError};
use crate::pg::types::{ColumnPlan, Decode, arrow_schema};

/// Builders are sized for at most this many rows up front; they grow past it as needed.
const MAX_PREALLOCATED_ROWS: usize = 1 << 16;
/// Rows the first batch's builders have room for before they grow (by doubling).
const FIRST_BATCH_ROWS: usize = 1 << 10;

/// What went wrong while decoding a binary COPY stream.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The stream does not start with a binary COPY header pgflight can read.
    #[error("bad COPY header: {0}")]
    BadHeader(&'static str),
    /// The stream ended early.
    #[error("truncated COPY stream: {0}")]
    Truncated(String),
    /// A row with another field count than the query's column count.
    #[error("row {row} has {found} fields, expected {expected}")]
    FieldCount {
        /// 1-based row number in the stream.
        row: u64,
        /// Field count the row declares.
        found: i16,
        /// Columns in the plan.
        expected: usize,
    },
    /// A field length that is negative (other than -1) or above PostgreSQL's 1 GiB limit.
    #[error("column \"{column}\": invalid field length {length} (row {row})")]
    FieldLength {
        /// The column's name.
        column: String,
        /// 1-based row number in the stream.
        row: u64,
        /// The length read.
        length: i32,
    },
    /// A row longer than PostgreSQL's 1 GiB message limit.
    #[error("row {row} is longer than 1 GiB")]
    RowTooLong {
        /// 1-based row number in the stream.
        row: u64,
    },
    /// A value that is malformed or cannot be represented in its Arrow type.
    #[error("column \"{column}\": {problem} (row {row})")]
    Value {
        /// The column's name.
        column: String,
        /// 1-based row number in the stream.
        row: u64,
        /// What was wrong, and what to do about it.
        problem: String,
    },
    /// Text in a batch is not valid UTF-8.
    #[error("invalid UTF-8 in column \"{column}\" (rows {first_row}–{last_row})")]
    InvalidUtf8 {
        /// The column's name.
        column: String,
        /// 1-based number of the batch's first row.
        first_row: u64,
        /// 1-based number of the batch's last row.
        last_row: u64,
    },
    /// Bytes after the trailer.
    #[error("{0} bytes of trailing data after the COPY trailer")]
    TrailingData(usize),
    /// Arrow refused a batch (a plan whose field does not match its decoder).
    #[error("column \"{column}\": {source}")]
    Arrow {
        /// The column's name (empty for the batch as a whole).
        column: String,
        /// Arrow's error.
        source: ArrowError,
    },
    /// The decoder was used after an error, or fed after `finish`.
    #[error("the COPY decoder cannot continue: {0}")]
    Unusable(&'static str),
}

/// Where in the stream the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Collecting the fixed 19-byte header (in `carry`).
    Header,
    /// Skipping this many header-extension bytes.
    Extension(usize),
    /// Reading tuples.
    Rows,
    /// The trailer was read.
    Trailer,
    /// `finish` was called after the trailer.
    Finished,
    /// An error occurred.
    Failed,
}

/// One column's builder.
#[derive(Debug)]
enum ColumnBuilder {
    Scalar(ValueBuilder),
    List(ListBuilder),
}

impl ColumnBuilder {
    #[inline]
    fn append(&mut self, value: Option<&[u8]>) -> Result<(), ValueError> {
        match self {
            Self::Scalar(builder) => builder.append(value),
            Self::List(builder) => builder.append(value),
        }
    }

    fn finish(&mut self, data_type: &DataType, next: usize) -> Result<ArrayRef, FinishError> {
        match self {
            Self::Scalar(builder) => builder.finish(data_type, next),
            Self::List(builder) => builder.finish(data_type, next),
        }
    }
}

/// Decodes a binary COPY stream into Arrow record batches of `batch_size` rows.
///
/// Feed chunks with [`push`](Self::push), take full batches with
/// [`next_batch`](Self::next_batch) after each push, and call [`finish`](Self::finish) at the end
/// of the stream for the last, partial batch.
///
/// Value mapping decisions (see also [`crate::pg::types`]):
/// - `±infinity` dates and timestamps saturate to the Arrow extremes: `i32::MAX` / `i32::MIN`
///   days, `i64::MAX` / `i64::MIN` microseconds. Other values outside Arrow's range are errors.
/// - PostgreSQL 17's `±infinity` intervals become `IntervalMonthDayNano::MAX` / `MIN`; another
///   interval whose microseconds overflow i64 nanoseconds is an error.
/// - numeric NaN / ±Infinity in a Decimal column is an error naming the column, or NULL with
///   `numeric_nan = "null"`; a Utf8 numeric column holds `NaN`, `Infinity`, `-Infinity`.
/// - An array value with another dimension count than the column's List depth is an error
///   naming the column (suggesting `arrays = "json"`); the empty array is an empty list; lower
///   bounds are ignored (every list starts at index 0).
#[derive(Debug)]
pub struct CopyDecoder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    batch_size: usize,
    /// Rows in the builders (the batch being filled).
    rows: usize,
    /// Rows decoded from the stream so far.
    rows_total: u64,
    stage: Stage,
    /// An incomplete header or row, waiting for the next chunk.
    carry: Vec<u8>,
    /// Field positions of the row being decoded (reused for every row).
    spans: Vec<Span>,
    /// Full batches not yet taken.
    ready: VecDeque<RecordBatch>,
}

impl CopyDecoder {
    /// A decoder for rows of `plans` (in the order they were selected), producing batches of
    /// `batch_size` rows (at least 1). Its builders start with room for
    /// 1 024 rows (or `batch_size`, when smaller).
    pub fn new(plans: &[ColumnPlan], batch_size: usize) -> Self {
        let batch_size = batch_size.max(1);
        let capacity = batch_size.min(FIRST_BATCH_ROWS);
        let columns = plans
            .iter()
            .map(|plan| match plan.decode {
                Decode::Scalar(kind) => ColumnBuilder::Scalar(ValueBuilder::new(kind, capacity)),
                Decode::List { element, depth } => {
                    ColumnBuilder::List(ListBuilder::new(element, depth, capacity))
                }
            })
            .collect();
        Self {
            schema: arrow_schema(plans),
            columns,
            batch_size,
            rows: 0,
            rows_total: 0,
            stage: Stage::Header,
            carry: Vec::new(),
            spans: vec![Span::default(); plans.len()],
            ready: VecDeque::new(),
        }
    }

    /// A decoder fed row by row ([`push_row`](Self::push_row)) instead of a COPY stream: the
    /// fields of an extended-protocol `DataRow` in binary have the encoding of a COPY BINARY
    /// field, so the same column decoders read them. [`end_rows`](Self::end_rows) marks the end.
    pub fn for_rows(plans: &[ColumnPlan], batch_size: usize) -> Self {
        let mut decoder = Self::new(plans, batch_size);
        decoder.stage = Stage::Rows;
        decoder
    }

    /// Appends one row of binary field values (`None` for NULL), one per column; a full batch
    /// becomes ready for [`next_batch`](Self::next_batch).
    pub fn push_row<'a>(
        &mut self,
        values: impl ExactSizeIterator<Item = Option<&'a [u8]>>,
    ) -> Result<(), CopyError> {
        match self.stage {
            Stage::Rows => {}
            Stage::Failed => return Err(CopyError::Unusable("an earlier row failed")),
            _ => return Err(CopyError::Unusable("a row pushed outside the rows")),
        }
        if values.len() != self.columns.len() {
            self.stage = Stage::Failed;
            return Err(CopyError::FieldCount {
                row: self.rows_total + 1,
                found: i16::try_from(values.len()).unwrap_or(i16::MAX),
                expected: self.columns.len(),
            });
        }
        let result = self.append_row(values);
        if result.is_err() {
            self.stage = Stage::Failed;
        }
        result
    }

    /// The last row was pushed: [`finish`](Self::finish) then returns the partial batch.
    pub fn end_rows(&mut self) {
        if self.stage == Stage::Rows && self.carry.is_empty() {
            self.stage = Stage::Trailer;
        }
    }

    /// The schema of every batch (also for an empty result).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows decoded so far.
    pub fn rows_decoded(&self) -> u64 {
        self.rows_total
    }

    /// Feeds one chunk of the stream. Decodes every complete row; keeps at most one partial row
    /// (or the partial header) buffered for the next chunk.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), CopyError> {
        match self.stage {
            Stage::Failed => return Err(CopyError::Unusable("an earlier chunk failed")),
            Stage::Finished => return Err(CopyError::Unusable("push after finish")),
            _ => {}
        }
        let result = self.push_inner(chunk);
        if result.is_err() {
            self.stage = Stage::Failed;
        }
        result
    }

    /// A full batch of `batch_size` rows, when one is ready (call in a loop after `push`).
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>, CopyError> {
        Ok(self.ready.pop_front())
    }

    /// End of stream: errors if the trailer was not seen; returns the remaining rows as a last
    /// batch (`None` if no rows remain). Full batches not yet taken with `next_batch` come
    /// first, so call it until `None` if `next_batch` was not drained.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, CopyError> {
        match self.stage {
            Stage::Trailer => {
                self.stage = Stage::Finished;
                if self.rows > 0 {
                    // The stream's last batch: the builders are not needed again.
                    match self.build_batch(0) {
                        Ok(batch) => self.ready.push_back(batch),
                        Err(e) => {
                            self.stage = Stage::Failed;
                            return Err(e);
                        }
                    }
                }
                Ok(self.ready.pop_front())
            }
            Stage::Finished => Ok(self.ready.pop_front()),
            Stage::Failed => Err(CopyError::Unusable("an earlier chunk failed")),
            Stage::Header | Stage::Extension(_) => {
                self.stage = Stage::Failed;
                Err(CopyError::Truncated(if self.carry.is_empty() {
                    "the stream is empty (no COPY header)".to_owned()
                } else {
                    format!(
                        "the stream ended inside the header, after {} bytes",
                        self.carry.len()
                    )
                }))
            }
            Stage::Rows => {
                self.stage = Stage::Failed;
                Err(CopyError::Truncated(if self.carry.is_empty() {
                    format!(
                        "the stream ended after {} rows without the COPY trailer",
                        self.rows_total
                    )
                } else {
                    format!(
                        "the stream ended inside row {} ({} bytes of it received)",
                        self.rows_total + 1,
                        self.carry.len()
                    )
                }))
            }
        }
    }

    fn push_inner(&mut self, mut input: &[u8]) -> Result<(), CopyError> {
        loop {
            match self.stage {
                Stage::Header => {
                    let take = (HEADER_LEN - self.carry.len()).min(input.len());
                    let (head, rest) = input.split_at(take);
                    self.carry.extend_from_slice(head);
                    input = rest;
                    if self.carry.len() < HEADER_LEN {
                        return Ok(());
                    }
                    let extension = parse_header(&self.carry)?;
                    self.carry.clear();
                    self.stage = Stage::Extension(extension);
                }
                Stage::Extension(remaining) => {
                    let skip = remaining.min(input.len());
                    input = &input[skip..];
                    if skip < remaining {
                        self.stage = Stage::Extension(remaining - skip);
                        return Ok(());
                    }
                    self.stage = Stage::Rows;
                }
                Stage::Rows => return self.push_rows(input),
                Stage::Trailer => {
                    return if input.is_empty() {
                        Ok(())
                    } else {
                        Err(CopyError::TrailingData(input.len()))
                    };
                }
                Stage::Finished | Stage::Failed => {
                    return Err(CopyError::Unusable("push after the end"));
                }
            }
        }
    }

    fn push_rows(&mut self, mut input: &[u8]) -> Result<(), CopyError> {
        if !self.carry.is_empty() {
            // Complete the partial row with just the bytes it needs.
            loop {
                match self.frame_carry()? {
                    Frame::Incomplete(need) => {
                        let want = need.saturating_sub(self.carry.len());
                        let take = want.min(input.len());
                        let (head, rest) = input.split_at(take);
                        self.carry.extend_from_slice(head);
                        input = rest;
                        if take < want {
                            return Ok(());
                        }
                    }
                    Frame::Row(_) => {
                        let carry = std::mem::take(&mut self.carry);
                        let result = self.decode_row(&carry);
                        self.carry = carry;
                        self.carry.clear();
                        result?;
                        break;
                    }
                    Frame::Trailer => {
                        self.carry.clear();
                        self.stage = Stage::Trailer;
                        return check_trailing(input);
                    }
                }
            }
        }
        while !input.is_empty() {
            match frame(input, &mut self.spans, self.rows_total, &self.schema)? {
                Frame::Row(len) => {
                    let (row, rest) = input.split_at(len);
                    self.decode_row(row)?;
                    input = rest;
                }
                Frame::Trailer => {
                    self.stage = Stage::Trailer;
                    return check_trailing(input.get(2..).unwrap_or_default());
                }
                Frame::Incomplete(_) => {
                    self.carry.extend_from_slice(input);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn frame_carry(&mut self) -> Result<Frame, CopyError> {
        frame(&self.carry, &mut self.spans, self.rows_total, &self.schema)
    }

    /// Appends one framed row (`spans` describe its fields) to the builders.
    fn decode_row(&mut self, row: &[u8]) -> Result<(), CopyError> {
        let spans = std::mem::take(&mut self.spans);
        let values = spans.iter().map(|span| match span.len {
            None => None,
            // The framer checked every span lies inside the row.
            Some(len) => row.get(span.start..span.start + len),
        });
        let result = self.append_row(values);
        self.spans = spans;
        result
    }

    /// Appends one row of field values (one per column) to the builders.
    fn append_row<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> Result<(), CopyError> {
        for (index, (column, value)) in self.columns.iter_mut().zip(values).enumerate() {
            if let Err(problem) = column.append(value) {
                return Err(CopyError::Value {
                    column: self.schema.field(index).name().clone(),
                    row: self.rows_total + 1,
                    problem: problem.to_string(),
                });
            }
        }
        self.rows += 1;
        self.rows_total += 1;
        if self.rows >= self.batch_size {
            // A full batch: more are likely, so the next starts at the full size.
            let batch = self.build_batch(self.batch_size.min(MAX_PREALLOCATED_ROWS))?;
            self.ready.push_back(batch);
        }
        Ok(())
    }

    /// Turns the builders' rows into a batch; the builders start over empty, sized for `next`
    /// rows.
    fn build_batch(&mut self, next: usize) -> Result<RecordBatch, CopyError> {
        let rows = std::mem::take(&mut self.rows);
        let first_row = self.rows_total + 1 - rows as u64;
        let mut arrays = Vec::with_capacity(self.columns.len());
        for (column, field) in self.columns.iter_mut().zip(self.schema.fields()) {
            let array = column
                .finish(field.data_type(), next)
                .map_err(|e| match e {
                    FinishError::Value(ValueError::InvalidUtf8) => CopyError::InvalidUtf8 {
                        column: field.name().clone(),
                        first_row,
                        last_row: self.rows_total,
                    },
                    FinishError::Value(problem) => CopyError::Value {
                        column: field.name().clone(),
                        row: first_row,
                        problem: problem.to_string(),
                    },
                    FinishError::Arrow(source) => CopyError::Arrow {
                        column: field.name().clone(),
                        source,
                    },
                })?;
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options).map_err(|source| {
            CopyError::Arrow {
                column: String::new(),
                source,
            }
        })
    }
}

#[cfg(test)]
mod tests;

//! Typed Arrow builders for one column's values, appended straight from PostgreSQL's big-endian
//! binary forms (the `*_send` functions), and turned into Arrow arrays once per batch.

use std::fmt;
use std::sync::Arc;

use arrow::array::builder::{BooleanBufferBuilder, NullBufferBuilder};
use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, PrimitiveArray, StringArray, types::ArrowPrimitiveType,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type,
    Int32Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, Time64MicrosecondType,
    TimestampMicrosecondType, UInt32Type, i256,
};
use arrow::error::ArrowError;

use super::numeric::{self, Numeric};
use crate::pg::types::ValueKind;

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Microseconds in a day: the largest `time` value (24:00:00).
const DAY_MICROS: i64 = 86_400_000_000;

/// What was wrong with one value (the caller adds the column name and row number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ValueError {
    /// A fixed-width value with the wrong byte count.
    Length {
        /// PostgreSQL type.
        type_name: &'static str,
        /// Bytes the binary form has.
        expected: usize,
        /// Bytes received.
        found: usize,
    },
    /// NaN or ±Infinity in a Decimal column without `numeric_nan = "null"`.
    NumericSpecial {
        /// `NaN`, `Infinity` or `-Infinity`.
        special: &'static str,
        /// The Arrow type, e.g. `Decimal128(12,2)`.
        arrow_type: String,
    },
    /// A numeric value that does not fit its Arrow decimal type.
    NumericRange {
        /// The Arrow type.
        arrow_type: String,
    },
    /// A malformed numeric binary value.
    NumericFormat(&'static str),
    /// Text that is not UTF-8.
    InvalidUtf8,
    /// A jsonb value whose version byte is not 1.
    JsonbVersion(Option<u8>),
    /// An interval whose microseconds overflow Arrow's i64 nanoseconds.
    IntervalOverflow(i64),
    /// A timestamp (µs since 2000-01-01) that overflows Arrow's range.
    TimestampRange(i64),
    /// A date (days since 2000-01-01) that overflows Arrow's range.
    DateRange(i32),
    /// A time of day outside 00:00:00–24:00:00.
    TimeRange(i64),
    /// An array value with another dimension count than the column's List depth.
    ArrayDims {
        /// Dimensions in the value.
        found: i32,
        /// The column's depth.
        expected: usize,
    },
    /// A malformed array binary value.
    ArrayFormat(&'static str),
    /// More than 2^31-1 bytes or list entries in one batch (Arrow's i32 offsets).
    BatchOverflow,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length {
                type_name,
                expected,
                found,
            } => write!(
                f,
                "{type_name} value has {found} bytes, expected {expected}"
            ),
            Self::NumericSpecial {
                special,
                arrow_type,
            } => write!(
                f,
                "numeric {special} cannot be stored in {arrow_type}; set numeric_nan = \"null\" \
                 to read it as NULL, or select the column as text"
            ),
            Self::NumericRange { arrow_type } => {
                write!(f, "numeric value does not fit in {arrow_type}")
            }
            Self::NumericFormat(what) => write!(f, "malformed numeric value: {what}"),
            Self::InvalidUtf8 => write!(f, "invalid UTF-8 in a text value"),
            Self::JsonbVersion(Some(v)) => write!(f, "unsupported jsonb binary version {v}"),
            Self::JsonbVersion(None) => write!(f, "empty jsonb value"),
            Self::IntervalOverflow(us) => write!(
                f,
                "interval of {us} microseconds overflows Arrow's 64-bit nanosecond interval"
            ),
            Self::TimestampRange(us) => write!(
                f,
                "timestamp {us} µs from 2000-01-01 is outside Arrow's microsecond range"
            ),
            Self::DateRange(days) => write!(
                f,
                "date {days} days from 2000-01-01 is outside Arrow's Date32 range"
            ),
            Self::TimeRange(us) => write!(f, "time of day {us} µs is outside 00:00–24:00"),
            Self::ArrayDims { found, expected } => write!(
                f,
                "array has {found} dimensions but the column is read as a {expected}-dimensional \
                 List; set arrays = \"json\" to read arrays of any shape as JSON text"
            ),
            Self::ArrayFormat(what) => write!(f, "malformed array value: {what}"),
            Self::BatchOverflow => write!(
                f,
                "more than 2 GiB of data (or 2^31 list entries) in one batch; lower batch_size"
            ),
        }
    }
}

/// Fixed-width values and their validity.
#[derive(Debug)]
pub(super) struct Fixed<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
}

impl<T: arrow::datatypes::ArrowNativeType> Fixed<T> {
    fn new(capacity: usize) -> Self {
        Self {
            values: Vec::with_capacity(capacity),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    #[inline]
    fn push(&mut self, value: T) {
        self.values.push(value);
        self.nulls.append_non_null();
    }

    #[inline]
    fn push_null(&mut self) {
        self.values.push(T::default());
        self.nulls.append_null();
    }

    /// The values as an array; the builder starts over sized for `next` values.
    fn finish<P>(&mut self, data_type: &DataType, next: usize) -> Result<ArrayRef, ArrowError>
    where
        P: ArrowPrimitiveType<Native = T>,
    {
        if !PrimitiveArray::<P>::is_compatible(data_type) {
            return Err(ArrowError::SchemaError(format!(
                "decoder produces {} values, the field says {data_type}",
                P::DATA_TYPE
            )));
        }
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(next));
        let nulls = std::mem::replace(&mut self.nulls, NullBufferBuilder::new(next)).finish();
        let array = PrimitiveArray::<P>::new(ScalarBuffer::from(values), nulls);
        Ok(Arc::new(array.with_data_type(data_type.clone())))
    }
}

/// Variable-width values (text or bytes): i32 offsets, one value buffer, validity.
#[derive(Debug)]
pub(super) struct Var {
    offsets: Vec<i32>,
    values: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl Var {
    fn new(capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self {
            offsets,
            values: Vec::with_capacity(capacity * 8),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    /// Records the end of the value just written to `values`.
    #[inline]
    fn commit(&mut self) -> Result<(), ValueError> {
        let end = i32::try_from(self.values.len()).map_err(|_| ValueError::BatchOverflow)?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    #[inline]
    fn push(&mut self, bytes: &[u8]) -> Result<(), ValueError> {
        self.values.extend_from_slice(bytes);
        self.commit()
    }

    #[inline]
    fn push_null(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append_null();
    }

    /// The values so far; the builder starts over sized for `next` values (and, when `next` is
    /// not 0, as many value bytes as this batch had, up to 16 MiB).
    fn take(
        &mut self,
        next: usize,
    ) -> (
        OffsetBuffer<i32>,
        arrow::buffer::Buffer,
        Option<arrow::buffer::NullBuffer>,
    ) {
        let mut fresh = Vec::with_capacity(next + 1);
        fresh.push(0);
        let offsets = std::mem::replace(&mut self.offsets, fresh);
        let values_capacity = if next == 0 {
            0
        } else {
            self.values.len().min(1 << 24).max(next)
        };
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(values_capacity));
        let nulls = std::mem::replace(&mut self.nulls, NullBufferBuilder::new(next)).finish();
        (
            // Offsets start at 0 and never decrease: they are value-buffer lengths.
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            arrow::buffer::Buffer::from_vec(values),
            nulls,
        )
    }
}

/// Booleans and their validity.
#[derive(Debug)]
pub(super) struct Bools {
    values: BooleanBufferBuilder,
    nulls: NullBufferBuilder,
}

/// A builder for one kind of value: decodes the binary form and appends it.
#[derive(Debug)]
pub(super) enum ValueBuilder {
    Bool(Bools),
    Int2(Fixed<i16>),
    Int4(Fixed<i32>),
    Int8(Fixed<i64>),
    Float4(Fixed<f32>),
    Float8(Fixed<f64>),
    Oid(Fixed<u32>),
    Date(Fixed<i32>),
    Time(Fixed<i64>),
    Timestamp(Fixed<i64>),
    Interval(Fixed<IntervalMonthDayNano>),
    Text(Var),
    Char(Var),
    Jsonb(Var),
    Uuid(Var),
    NumericText(Var),
    Bytea(Var),
    Decimal128 {
        data: Fixed<i128>,
        precision: u8,
        scale: i8,
        nan_as_null: bool,
    },
    Decimal256 {
        data: Fixed<i256>,
        precision: u8,
        scale: i8,
        nan_as_null: bool,
    },
}

#[inline]
fn fixed<const N: usize>(bytes: &[u8], type_name: &'static str) -> Result<[u8; N], ValueError> {
    bytes.try_into().map_err(|_| ValueError::Length {
        type_name,
        expected: N,
        found: bytes.len(),
    })
}

impl ValueBuilder {
    /// A builder for `kind`, sized for about `capacity` values per batch.
    pub(super) fn new(kind: ValueKind, capacity: usize) -> Self {
        match kind {
            ValueKind::Bool => Self::Bool(Bools {
                values: BooleanBufferBuilder::new(capacity),
                nulls: NullBufferBuilder::new(capacity),
            }),
            ValueKind::Int2 => Self::Int2(Fixed::new(capacity)),
            ValueKind::Int4 => Self::Int4(Fixed::new(capacity)),
            ValueKind::Int8 => Self::Int8(Fixed::new(capacity)),
            ValueKind::Float4 => Self::Float4(Fixed::new(capacity)),
            ValueKind::Float8 => Self::Float8(Fixed::new(capacity)),
            ValueKind::Oid => Self::Oid(Fixed::new(capacity)),
            ValueKind::Date => Self::Date(Fixed::new(capacity)),
            ValueKind::Time => Self::Time(Fixed::new(capacity)),
            ValueKind::Timestamp => Self::Timestamp(Fixed::new(capacity)),
            ValueKind::Interval => Self::Interval(Fixed::new(capacity)),
            ValueKind::Text => Self::Text(Var::new(capacity)),
            ValueKind::Char => Self::Char(Var::new(capacity)),
            ValueKind::Jsonb => Self::Jsonb(Var::new(capacity)),
            ValueKind::Uuid => Self::Uuid(Var::new(capacity)),
            ValueKind::NumericText => Self::NumericText(Var::new(capacity)),
            ValueKind::Bytea => Self::Bytea(Var::new(capacity)),
            ValueKind::Decimal128 {
                precision,
                scale,
                nan_as_null,
            } => Self::Decimal128 {
                data: Fixed::new(capacity),
                precision,
                scale,
                nan_as_null,
            },
            ValueKind::Decimal256 {
                precision,
                scale,
                nan_as_null,
            } => Self::Decimal256 {
                data: Fixed::new(capacity),
                precision,
                scale,
                nan_as_null,
            },
        }
    }

    /// Values appended since the last batch.
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Bool(b) => b.values.len(),
            Self::Int2(f) => f.values.len(),
            Self::Int4(f) | Self::Date(f) => f.values.len(),
            Self::Int8(f) | Self::Time(f) | Self::Timestamp(f) => f.values.len(),
            Self::Float4(f) => f.values.len(),
            Self::Float8(f) => f.values.len(),
            Self::Oid(f) => f.values.len(),
            Self::Interval(f) => f.values.len(),
            Self::Text(v)
            | Self::Char(v)
            | Self::Jsonb(v)
            | Self::Uuid(v)
            | Self::NumericText(v)
            | Self::Bytea(v) => v.offsets.len() - 1,
            Self::Decimal128 { data, .. } => data.values.len(),
            Self::Decimal256 { data, .. } => data.values.len(),
        }
    }

    /// Appends one value given its binary form, or NULL.
    #[inline]
    pub(super) fn append(&mut self, value: Option<&[u8]>) -> Result<(), ValueError> {
        match value {
            Some(bytes) => self.append_value(bytes),
            None => {
                self.append_null();
                Ok(())
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Bool(b) => {
                b.values.append(false);
                b.nulls.append_null();
            }
            Self::Int2(f) => f.push_null(),
            Self::Int4(f) | Self::Date(f) => f.push_null(),
            Self::Int8(f) | Self::Time(f) | Self::Timestamp(f) => f.push_null(),
            Self::Float4(f) => f.push_null(),
            Self::Float8(f) => f.push_null(),
            Self::Oid(f) => f.push_null(),
            Self::Interval(f) => f.push_null(),
            Self::Text(v)
            | Self::Char(v)
            | Self::Jsonb(v)
            | Self::Uuid(v)
            | Self::NumericText(v)
            | Self::Bytea(v) => v.push_null(),
            Self::Decimal128 { data, .. } => data.push_null(),
            Self::Decimal256 { data, .. } => data.push_null(),
        }
    }

    #[inline]
    fn append_value(&mut self, bytes: &[u8]) -> Result<(), ValueError> {
        match self {
            Self::Bool(b) => {
                let [byte] = fixed::<1>(bytes, "boolean")?;
                b.values.append(byte != 0);
                b.nulls.append_non_null();
            }
            Self::Int2(f) => f.push(i16::from_be_bytes(fixed(bytes, "smallint")?)),
            Self::Int4(f) => f.push(i32::from_be_bytes(fixed(bytes, "integer")?)),
            Self::Int8(f) => f.push(i64::from_be_bytes(fixed(bytes, "bigint")?)),
            Self::Float4(f) => f.push(f32::from_be_bytes(fixed(bytes, "real")?)),
            Self::Float8(f) => f.push(f64::from_be_bytes(fixed(bytes, "double precision")?)),
            Self::Oid(f) => f.push(u32::from_be_bytes(fixed(bytes, "oid")?)),
            Self::Date(f) => f.push(date(i32::from_be_bytes(fixed(bytes, "date")?))?),
            Self::Time(f) => {
                let us = i64::from_be_bytes(fixed(bytes, "time")?);
                if !(0..=DAY_MICROS).contains(&us) {
                    return Err(ValueError::TimeRange(us));
                }
                f.push(us);
            }
            Self::Timestamp(f) => {
                f.push(timestamp(i64::from_be_bytes(fixed(bytes, "timestamp")?))?)
            }
            Self::Interval(f) => f.push(interval(fixed(bytes, "interval")?)?),
            Self::Text(v) | Self::Bytea(v) => v.push(bytes)?,
            Self::Char(v) => {
                let [byte] = fixed::<1>(bytes, "\"char\"")?;
                char_text(byte, &mut v.values);
                v.commit()?;
            }
            Self::Jsonb(v) => match bytes.split_first() {
                Some((1, json)) => v.push(json)?,
                Some((version, _)) => return Err(ValueError::JsonbVersion(Some(*version))),
                None => return Err(ValueError::JsonbVersion(None)),
            },
            Self::Uuid(v) => {
                let raw: [u8; 16] = fixed(bytes, "uuid")?;
                v.values.extend_from_slice(&uuid_text(&raw));
                v.commit()?;
            }
            Self::NumericText(v) => {
                numeric::parse(bytes)?.write_text(&mut v.values);
                v.commit()?;
            }
            Self::Decimal128 {
                data,
                precision,
                scale,
                nan_as_null,
            } => match numeric::parse(bytes)? {
                Numeric::Finite(n) => data.push(n.to_i128(*precision, *scale)?),
                Numeric::Special(_) if *nan_as_null => data.push_null(),
                Numeric::Special(special) => {
                    return Err(ValueError::NumericSpecial {
                        special: special.text(),
                        arrow_type: format!("Decimal128({precision},{scale})"),
                    });
                }
            },
            Self::Decimal256 {
                data,
                precision,
                scale,
                nan_as_null,
            } => match numeric::parse(bytes)? {
                Numeric::Finite(n) => data.push(n.to_i256(*precision, *scale)?),
                Numeric::Special(_) if *nan_as_null => data.push_null(),
                Numeric::Special(special) => {
                    return Err(ValueError::NumericSpecial {
                        special: special.text(),
                        arrow_type: format!("Decimal256({precision},{scale})"),
                    });
                }
            },
        }
        Ok(())
    }

    /// The values appended since the last call, as an Arrow array of `data_type`; the builder
    /// starts over empty, sized for `next` values (0 after the stream's last batch).
    pub(super) fn finish(
        &mut self,
        data_type: &DataType,
        next: usize,
    ) -> Result<ArrayRef, FinishError> {
        Ok(match self {
            Self::Bool(b) => {
                if data_type != &DataType::Boolean {
                    return Err(FinishError::Arrow(ArrowError::SchemaError(format!(
                        "decoder produces Boolean values, the field says {data_type}"
                    ))));
                }
                let mut values = std::mem::replace(&mut b.values, BooleanBufferBuilder::new(next));
                let nulls = std::mem::replace(&mut b.nulls, NullBufferBuilder::new(next)).finish();
                Arc::new(BooleanArray::new(values.finish(), nulls))
            }
            Self::Int2(f) => f.finish::<Int16Type>(data_type, next)?,
            Self::Int4(f) => f.finish::<Int32Type>(data_type, next)?,
            Self::Int8(f) => f.finish::<Int64Type>(data_type, next)?,
            Self::Float4(f) => f.finish::<Float32Type>(data_type, next)?,
            Self::Float8(f) => f.finish::<Float64Type>(data_type, next)?,
            Self::Oid(f) => f.finish::<UInt32Type>(data_type, next)?,
            Self::Date(f) => f.finish::<Date32Type>(data_type, next)?,
            Self::Time(f) => f.finish::<Time64MicrosecondType>(data_type, next)?,
            Self::Timestamp(f) => f.finish::<TimestampMicrosecondType>(data_type, next)?,
            Self::Interval(f) => f.finish::<IntervalMonthDayNanoType>(data_type, next)?,
            Self::Decimal128 { data, .. } => data.finish::<Decimal128Type>(data_type, next)?,
            Self::Decimal256 { data, .. } => data.finish::<Decimal256Type>(data_type, next)?,
            Self::Bytea(v) => {
                let (offsets, values, nulls) = v.take(next);
                Arc::new(BinaryArray::try_new(offsets, values, nulls)?)
            }
            Self::Text(v)
            | Self::Char(v)
            | Self::Jsonb(v)
            | Self::Uuid(v)
            | Self::NumericText(v) => {
                if data_type != &DataType::Utf8 {
                    return Err(FinishError::Arrow(ArrowError::SchemaError(format!(
                        "decoder produces Utf8 values, the field says {data_type}"
                    ))));
                }
                let (offsets, values, nulls) = v.take(next);
                // One UTF-8 validation for the whole batch, inside `try_new`.
                Arc::new(
                    StringArray::try_new(offsets, values, nulls)
                        .map_err(|_| FinishError::Value(ValueError::InvalidUtf8))?,
                )
            }
        })
    }
}

/// Why a batch's array could not be built.
#[derive(Debug)]
pub(super) enum FinishError {
    /// A value problem found at batch time (invalid UTF-8).
    Value(ValueError),
    /// Arrow refused the array (a field whose type does not match its decoder).
    Arrow(ArrowError),
}

impl From<ArrowError> for FinishError {
    fn from(e: ArrowError) -> Self {
        Self::Arrow(e)
    }
}

impl From<ValueError> for FinishError {
    fn from(e: ValueError) -> Self {
        Self::Value(e)
    }
}

/// PostgreSQL date (days since 2000-01-01) → Date32 (days since 1970-01-01).
/// `±infinity` (i32::MAX / i32::MIN) saturates to Date32's extremes, i32::MAX / i32::MIN.
#[inline]
fn date(days: i32) -> Result<i32, ValueError> {
    match days {
        i32::MAX | i32::MIN => Ok(days),
        _ => days
            .checked_add(EPOCH_DAYS)
            .ok_or(ValueError::DateRange(days)),
    }
}

/// PostgreSQL timestamp (µs since 2000-01-01) → Arrow µs since 1970-01-01.
/// `±infinity` (i64::MAX / i64::MIN) saturates to i64::MAX / i64::MIN.
#[inline]
fn timestamp(us: i64) -> Result<i64, ValueError> {
    match us {
        i64::MAX | i64::MIN => Ok(us),
        _ => us
            .checked_add(EPOCH_MICROS)
            .ok_or(ValueError::TimestampRange(us)),
    }
}

/// PostgreSQL interval (i64 µs, i32 days, i32 months) → MonthDayNano. PostgreSQL 17's
/// `±infinity` intervals (every field at its maximum / minimum) saturate to
/// `IntervalMonthDayNano::MAX` / `MIN`; any other µs count that overflows nanoseconds is an error.
#[inline]
fn interval(raw: [u8; 16]) -> Result<IntervalMonthDayNano, ValueError> {
    let [
        t0,
        t1,
        t2,
        t3,
        t4,
        t5,
        t6,
        t7,
        d0,
        d1,
        d2,
        d3,
        m0,
        m1,
        m2,
        m3,
    ] = raw;
    let us = i64::from_be_bytes([t0, t1, t2, t3, t4, t5, t6, t7]);
    let days = i32::from_be_bytes([d0, d1, d2, d3]);
    let months = i32::from_be_bytes([m0, m1, m2, m3]);
    match (us, days, months) {
        (i64::MAX, i32::MAX, i32::MAX) => Ok(IntervalMonthDayNano::MAX),
        (i64::MIN, i32::MIN, i32::MIN) => Ok(IntervalMonthDayNano::MIN),
        _ => {
            let nanos = us
                .checked_mul(1000)
                .ok_or(ValueError::IntervalOverflow(us))?;
            Ok(IntervalMonthDayNano::new(months, days, nanos))
        }
    }
}

/// One `"char"` byte → its text, as PostgreSQL 16+'s `charout` writes it (src/backend/utils/adt/
/// char.c): 0 is the empty string, ASCII is itself, a byte with the high bit set is a backslash
/// and three octal digits (0xFC → `\374`), which `charin` reads back to the same byte.
#[inline]
fn char_text(byte: u8, out: &mut Vec<u8>) {
    match byte {
        0 => {}
        0x01..=0x7f => out.push(byte),
        _ => out.extend_from_slice(&[
            b'\\',
            b'0' + (byte >> 6),
            b'0' + ((byte >> 3) & 7),
            b'0' + (byte & 7),
        ]),
    }
}

/// 16 uuid bytes → `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase.
#[inline]
fn uuid_text(raw: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 36];
    let mut pos = 0;
    for (i, byte) in raw.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            pos += 1;
        }
        out[pos] = HEX[usize::from(byte >> 4)];
        out[pos + 1] = HEX[usize::from(byte & 0x0f)];
        pos += 2;
    }
    out
}

#[cfg(test)]
mod tests;

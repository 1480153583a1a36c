//! The binary COPY wire format's framing: the fixed header (signature, flags, extension
//! length), and the row framer that finds each field of a tuple (or the trailer) in a buffer
//! without decoding any value. Every length read off the wire is bounds-checked here.

use arrow::datatypes::SchemaRef;

use super::CopyError;

/// The binary COPY signature.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags and header-extension length.
pub(super) const HEADER_LEN: usize = 19;
/// Flags bit 16: the stream carries row OIDs (never requested by pgflight).
const FLAG_OIDS: u32 = 1 << 16;
/// Flags bits 17–31 are critical: a reader must stop if it does not know them.
const CRITICAL_FLAGS: u32 = 0xFFFE_0000;
/// PostgreSQL cannot send a field (or a row) larger than 1 GiB (`MaxAllocSize`).
const MAX_FIELD_LEN: usize = (1 << 30) - 1;

/// A field's position in a row: start offset and length, or NULL.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Span {
    /// Offset of the field's first byte in the row.
    pub(super) start: usize,
    /// Length in bytes, or `None` for NULL.
    pub(super) len: Option<usize>,
}

/// What the row framer found at the start of a buffer.
pub(super) enum Frame {
    /// A complete row of this many bytes, its fields in `spans`.
    Row(usize),
    /// The trailer (2 bytes).
    Trailer,
    /// More bytes are needed: the buffer must reach at least this length to make progress.
    Incomplete(usize),
}

/// Checks the fixed header; returns the header-extension length to skip.
pub(super) fn parse_header(header: &[u8]) -> Result<usize, CopyError> {
    let Some((signature, rest)) = header.split_first_chunk::<11>() else {
        return Err(CopyError::BadHeader("shorter than 19 bytes"));
    };
    if signature != SIGNATURE {
        return Err(CopyError::BadHeader(
            "missing the PGCOPY signature (not a binary COPY stream)",
        ));
    }
    let Some((flags, rest)) = rest.split_first_chunk::<4>() else {
        return Err(CopyError::BadHeader("shorter than 19 bytes"));
    };
    let Some((extension, _)) = rest.split_first_chunk::<4>() else {
        return Err(CopyError::BadHeader("shorter than 19 bytes"));
    };
    let flags = u32::from_be_bytes(*flags);
    if flags & FLAG_OIDS != 0 {
        return Err(CopyError::BadHeader("the stream includes row OIDs"));
    }
    if flags & CRITICAL_FLAGS != 0 {
        return Err(CopyError::BadHeader("unknown critical flags"));
    }
    usize::try_from(i32::from_be_bytes(*extension))
        .map_err(|_| CopyError::BadHeader("negative header extension length"))
}

/// Nothing may follow the trailer.
pub(super) fn check_trailing(rest: &[u8]) -> Result<(), CopyError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(CopyError::TrailingData(rest.len()))
    }
}

/// Finds the row (or trailer) at the start of `buf` and the position of each of its fields,
/// without decoding any value. `rows_before` and `schema` are for error messages.
#[inline]
pub(super) fn frame(
    buf: &[u8],
    spans: &mut [Span],
    rows_before: u64,
    schema: &SchemaRef,
) -> Result<Frame, CopyError> {
    let Some((count, _)) = buf.split_first_chunk::<2>() else {
        return Ok(Frame::Incomplete(2));
    };
    let count = i16::from_be_bytes(*count);
    if count == -1 {
        return Ok(Frame::Trailer);
    }
    if usize::try_from(count).ok() != Some(spans.len()) {
        return Err(CopyError::FieldCount {
            row: rows_before + 1,
            found: count,
            expected: spans.len(),
        });
    }
    let mut pos = 2;
    for (index, span) in spans.iter_mut().enumerate() {
        let Some(len) = buf.get(pos..pos + 4) else {
            return Ok(Frame::Incomplete(pos + 4));
        };
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        pos += 4;
        if len == -1 {
            *span = Span {
                start: pos,
                len: None,
            };
            continue;
        }
        let Some(len) = usize::try_from(len).ok().filter(|&l| l <= MAX_FIELD_LEN) else {
            return Err(CopyError::FieldLength {
                column: schema.field(index).name().clone(),
                row: rows_before + 1,
                length: len,
            });
        };
        *span = Span {
            start: pos,
            len: Some(len),
        };
        pos += len;
        if pos > MAX_FIELD_LEN + 1 {
            return Err(CopyError::RowTooLong {
                row: rows_before + 1,
            });
        }
        if pos > buf.len() {
            return Ok(Frame::Incomplete(pos));
        }
    }
    Ok(Frame::Row(pos))
}

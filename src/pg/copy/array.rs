//! PostgreSQL array binary form (`array_send`) → nested Arrow lists.
//!
//! The wire form: `ndim` i32, `has_null` i32, element type oid u32, then per dimension its length
//! i32 and lower bound i32, then every element in row-major order as (i32 length, bytes), length
//! -1 for NULL. An array of `ndim` dimensions becomes `ndim` nested lists; the column's depth is
//! fixed by its plan, and a value of another depth is an error (except the empty array, which
//! PostgreSQL sends with `ndim` 0 and becomes an empty list). Lower bounds are ignored: Arrow lists
//! start at 0, so `'[0:2]={1,2,3}'` reads as `[1, 2, 3]`. The element type oid is not checked,
//! because an array of a domain names the domain while its elements use the base type's form.

use std::sync::Arc;

use arrow::array::builder::NullBufferBuilder;
use arrow::array::{ArrayRef, ListArray};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, FieldRef};
use arrow::error::ArrowError;

use super::value::{FinishError, ValueBuilder, ValueError};
use crate::pg::types::ValueKind;

/// PostgreSQL's maximum number of array dimensions (`MAXDIM`).
const MAXDIM: usize = 6;

/// One level of list nesting: offsets into the next level (or the elements) and validity.
#[derive(Debug)]
struct Level {
    offsets: Vec<i32>,
    nulls: NullBufferBuilder,
}

impl Level {
    fn new(capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self {
            offsets,
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn push(&mut self, child_len: usize) -> Result<(), ValueError> {
        let end = i32::try_from(child_len).map_err(|_| ValueError::BatchOverflow)?;
        self.offsets.push(end);
        self.nulls.append_non_null();
        Ok(())
    }

    fn push_null(&mut self) {
        let end = self.offsets.last().copied().unwrap_or(0);
        self.offsets.push(end);
        self.nulls.append_null();
    }
}

/// A column of PostgreSQL arrays read as `depth` nested lists.
#[derive(Debug)]
pub(super) struct ListBuilder {
    /// Outermost first; never empty.
    levels: Vec<Level>,
    element: ValueBuilder,
}

/// A bounds-checked reader over one array value.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn i32(&mut self) -> Result<i32, ValueError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<4>()
            .ok_or(ValueError::ArrayFormat("truncated"))?;
        self.bytes = rest;
        Ok(i32::from_be_bytes(*head))
    }

    fn element(&mut self) -> Result<Option<&'a [u8]>, ValueError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| ValueError::ArrayFormat("negative length"))?;
        if len > self.bytes.len() {
            return Err(ValueError::ArrayFormat("element longer than the array"));
        }
        let (value, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(Some(value))
    }
}

impl ListBuilder {
    /// A builder of `depth` nested lists of `element` values (`depth` is clamped to 1..=6).
    pub(super) fn new(element: ValueKind, depth: usize, capacity: usize) -> Self {
        Self {
            levels: (0..depth.clamp(1, MAXDIM))
                .map(|_| Level::new(capacity))
                .collect(),
            element: ValueBuilder::new(element, capacity),
        }
    }

    /// Appends one array value given its binary form, or NULL.
    pub(super) fn append(&mut self, value: Option<&[u8]>) -> Result<(), ValueError> {
        let Some(bytes) = value else {
            if let Some(outer) = self.levels.first_mut() {
                outer.push_null();
            }
            return Ok(());
        };
        let mut reader = Reader { bytes };
        let ndim = reader.i32()?;
        let _has_null = reader.i32()?;
        let _element_type = reader.i32()?;
        if ndim == 0 {
            if !reader.bytes.is_empty() {
                return Err(ValueError::ArrayFormat("bytes after an empty array"));
            }
            let next_len = match self.levels.get(1) {
                Some(level) => level.len(),
                None => self.element.len(),
            };
            if let Some(outer) = self.levels.first_mut() {
                outer.push(next_len)?;
            }
            return Ok(());
        }
        let depth = self.levels.len();
        match usize::try_from(ndim) {
            Ok(n) if n == depth && n <= MAXDIM => {}
            Ok(n) if n <= MAXDIM => {
                return Err(ValueError::ArrayDims {
                    found: ndim,
                    expected: depth,
                });
            }
            _ => return Err(ValueError::ArrayFormat("dimension count outside 0..=6")),
        }
        let mut dims = [0usize; MAXDIM];
        let mut total: usize = 1;
        for dim in dims.iter_mut().take(depth) {
            let len = reader.i32()?;
            let _lower_bound = reader.i32()?;
            // PostgreSQL sends an array with a zero-length dimension as the empty array.
            if len <= 0 {
                return Err(ValueError::ArrayFormat("dimension length not positive"));
            }
            *dim = usize::try_from(len).map_err(|_| ValueError::ArrayFormat("dimension"))?;
            total = total
                .checked_mul(*dim)
                .ok_or(ValueError::ArrayFormat("too many elements"))?;
        }
        // Every element takes at least its 4-byte length: this bounds all the loops below.
        if total > reader.bytes.len() / 4 {
            return Err(ValueError::ArrayFormat("more elements than bytes"));
        }
        let dims = dims.get(..depth).unwrap_or_default();
        append_levels(&mut self.levels, &mut self.element, dims, &mut reader)?;
        if !reader.bytes.is_empty() {
            return Err(ValueError::ArrayFormat("bytes after the last element"));
        }
        Ok(())
    }

    /// The lists appended since the last call, as an Arrow array of `data_type`; the builder
    /// starts over sized for `next` lists (0 after the stream's last batch).
    pub(super) fn finish(
        &mut self,
        data_type: &DataType,
        next: usize,
    ) -> Result<ArrayRef, FinishError> {
        // The item field of each level, outermost first.
        let mut fields: Vec<FieldRef> = Vec::with_capacity(self.levels.len());
        let mut current = data_type;
        for _ in 0..self.levels.len() {
            let DataType::List(field) = current else {
                return Err(FinishError::Arrow(ArrowError::SchemaError(format!(
                    "decoder produces {} nested lists, the field says {data_type}",
                    self.levels.len()
                ))));
            };
            fields.push(field.clone());
            current = field.data_type();
        }
        let mut array = self.element.finish(current, next)?;
        for (level, field) in self.levels.iter_mut().zip(fields).rev() {
            let mut fresh = Level::new(next);
            std::mem::swap(level, &mut fresh);
            let offsets = OffsetBuffer::new(ScalarBuffer::from(fresh.offsets));
            array = Arc::new(ListArray::try_new(
                field,
                offsets,
                array,
                fresh.nulls.finish(),
            )?);
        }
        Ok(array)
    }
}

/// Appends one (non-null) list of shape `dims` to `levels[0]`, its sublists to the deeper
/// levels, and its elements to `element`.
fn append_levels(
    levels: &mut [Level],
    element: &mut ValueBuilder,
    dims: &[usize],
    reader: &mut Reader<'_>,
) -> Result<(), ValueError> {
    let (Some((level, deeper)), Some((&len, inner_dims))) =
        (levels.split_first_mut(), dims.split_first())
    else {
        return Ok(());
    };
    let child_len = if deeper.is_empty() {
        for _ in 0..len {
            element.append(reader.element()?)?;
        }
        element.len()
    } else {
        for _ in 0..len {
            append_levels(deeper, element, inner_dims, reader)?;
        }
        deeper.first().map_or(0, Level::len)
    };
    level.push(child_len)
}

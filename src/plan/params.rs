//! Bound parameter values: an Arrow value of a DoPut parameter batch as PostgreSQL input text.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::plan::PlanError;

/// The PostgreSQL input text of row `row` of a bound parameter column (`None` for NULL).
pub fn value_text(array: &ArrayRef, row: usize) -> Result<Option<String>, PlanError> {
    if array.is_null(row) || array.data_type() == &DataType::Null {
        return Ok(None);
    }
    let text = match array.data_type() {
        DataType::Binary => hex(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => hex(array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => hex(array.as_fixed_size_binary().value(row)),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::ListView(_)
        | DataType::FixedSizeList(..)
        | DataType::Struct(_)
        | DataType::Map(..)
        | DataType::Union(..)
        | DataType::Dictionary(..) => {
            return Err(PlanError::InvalidRequest(format!(
                "parameters of Arrow type {} are not supported; bind scalars",
                array.data_type()
            )));
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options)
                .map_err(|e| PlanError::InvalidRequest(format!("cannot read a parameter: {e}")))?;
            formatter.value(row).to_string()
        }
    };
    if text.contains('\0') {
        return Err(PlanError::InvalidRequest(
            "a parameter contains a NUL character, which PostgreSQL text cannot hold".into(),
        ));
    }
    Ok(Some(text))
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("\\x");
    for b in bytes {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{BinaryArray, Int64Array, StringArray, TimestampMicrosecondArray};

    #[test]
    fn values_render_as_postgres_input_text() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(-5), None]));
        assert_eq!(value_text(&ints, 0).unwrap().as_deref(), Some("-5"));
        assert_eq!(value_text(&ints, 1).unwrap(), None);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["ü'"]));
        assert_eq!(value_text(&text, 0).unwrap().as_deref(), Some("ü'"));
        let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![&[0u8, 255][..]]));
        assert_eq!(value_text(&bytes, 0).unwrap().as_deref(), Some("\\x00ff"));
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![1_000_001]).with_timezone("UTC"));
        assert_eq!(
            value_text(&ts, 0).unwrap().as_deref(),
            Some("1970-01-01T00:00:01.000001Z")
        );
        let null: ArrayRef = Arc::new(arrow::array::NullArray::new(1));
        assert_eq!(value_text(&null, 0).unwrap(), None);
        let nul: ArrayRef = Arc::new(StringArray::from(vec!["a\0b"]));
        assert!(value_text(&nul, 0).is_err());
    }
}

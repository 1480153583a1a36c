//! Statement parameters: `?` placeholders rewritten to PostgreSQL's `$n`, and bound values put
//! into the statement as typed literals (`CAST('…' AS <type>)`), because a `COPY (query)` takes
//! no parameters.
//!
//! Both work on a small lexer that knows where SQL text is *not* code: string literals
//! (`'…'`, `E'…'` with backslash escapes, `$tag$…$tag$`), quoted identifiers (`"…"`), and
//! comments (`-- …`, nested `/* … */`). A `?` or `$n` inside any of those is left alone.
//!
//! When a statement already uses `$n` placeholders, `?` is PostgreSQL's own operator (jsonb
//! `?`, `?|`, `?&`) and is not rewritten.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::plan::PlanError;

/// A placeholder found in SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    /// `?` at this byte offset.
    Question(usize),
    /// `$n` spanning these bytes, with its number.
    Dollar { start: usize, end: usize, n: usize },
}

/// Every placeholder outside literals, quoted identifiers and comments, in order.
fn placeholders(sql: &str) -> Vec<Placeholder> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident_byte(bytes[i - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'?' => {
                found.push(Placeholder::Question(i));
                i += 1;
            }
            b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let end = i + 1 + digits;
                    let n = sql[i + 1..end].parse().unwrap_or(usize::MAX);
                    found.push(Placeholder::Dollar { start: i, end, n });
                    i = end;
                } else if let Some(tag_end) = dollar_tag(bytes, i) {
                    let tag = &bytes[i..=tag_end];
                    let body = tag_end + 1;
                    i = find(bytes, body, tag).map_or(bytes.len(), |at| at + tag.len());
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The index just past a quoted run starting at `start` (doubled quotes stay inside; with
/// `escapes`, a backslash escapes the next byte).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The index of the closing `$` of a dollar-quote tag (`$$` or `$tag$`) starting at `start`.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'$' => return Some(i),
            b if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 => i += 1,
            _ => return None,
        }
    }
    None
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Rewrites `?` placeholders to `$1, $2, …` (unless the statement already uses `$n`).
pub fn rewrite_placeholders(sql: &str) -> String {
    let found = placeholders(sql);
    if found
        .iter()
        .any(|p| matches!(p, Placeholder::Dollar { .. }))
    {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + found.len() * 2);
    let mut last = 0;
    for (n, placeholder) in found.iter().enumerate() {
        if let Placeholder::Question(at) = placeholder {
            out.push_str(&sql[last..*at]);
            out.push_str(&format!("${}", n + 1));
            last = at + 1;
        }
    }
    out.push_str(&sql[last..]);
    out
}

/// Replaces every `$n` with `literals[n-1]`. A placeholder without a value is an error.
pub fn substitute(sql: &str, literals: &[String]) -> Result<String, PlanError> {
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    for placeholder in placeholders(sql) {
        if let Placeholder::Dollar { start, end, n } = placeholder {
            let literal = n
                .checked_sub(1)
                .and_then(|i| literals.get(i))
                .ok_or_else(|| {
                    PlanError::InvalidRequest(format!(
                        "no value bound for parameter ${n}; the statement has {} parameter(s)",
                        literals.len()
                    ))
                })?;
            out.push_str(&sql[last..start]);
            out.push_str(literal);
            last = end;
        }
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// `CAST('<text>' AS <sql_type>)`, or `CAST(NULL AS <sql_type>)`.
pub fn typed_literal(text: Option<&str>, sql_type: &str) -> String {
    match text {
        Some(text) => format!("CAST({} AS {sql_type})", quote_literal(text)),
        None => format!("CAST(NULL AS {sql_type})"),
    }
}

/// A standard SQL string literal (quotes doubled; `standard_conforming_strings` is on in every
/// pgflight session).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

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
    fn question_marks_become_numbered_outside_literals_identifiers_and_comments() {
        let sql = "SELECT '?', \"a?\", ? -- ?\n, /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\\'?', ?";
        assert_eq!(
            rewrite_placeholders(sql),
            "SELECT '?', \"a?\", $1 -- ?\n, /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\\'?', $2"
        );
        assert_eq!(
            rewrite_placeholders("SELECT 'it''s ?' = ?"),
            "SELECT 'it''s ?' = $1"
        );
    }

    #[test]
    fn statements_with_dollar_placeholders_keep_question_mark_operators() {
        let sql = "SELECT doc ? 'k' FROM t WHERE id = $1";
        assert_eq!(rewrite_placeholders(sql), sql);
    }

    #[test]
    fn substitution_replaces_only_real_placeholders() {
        let sql = "SELECT $1, '$1', a$1, \"$2\", $2 -- $1";
        let out = substitute(sql, &["X".into(), "Y".into()]).unwrap();
        assert_eq!(out, "SELECT X, '$1', a$1, \"$2\", Y -- $1");
        assert!(substitute("SELECT $3", &["X".into()]).is_err());
    }

    #[test]
    fn literals_are_typed_and_quoted() {
        assert_eq!(typed_literal(Some("it's"), "text"), "CAST('it''s' AS text)");
        assert_eq!(typed_literal(None, "integer"), "CAST(NULL AS integer)");
    }

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

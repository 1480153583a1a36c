//! The Flight SQL spelling of an incremental request, recognised before any SQL parser sees it:
//!
//! ```sql
//! SELECT * FROM pgflight_incremental('users', 'updated_at', '2024-05-01T00:00:00.000000+00:00')
//! SELECT * FROM pgflight_incremental('app.users', 'xmin', NULL)   -- first run, commit order
//! ```
//!
//! Arguments are string literals (`''` escapes a quote) or `NULL`; the cursor may be left out.

use crate::plan::PlanError;
use crate::plan::request::{ExtractionMode, ExtractionRequest};

/// The table function's name.
pub const FUNCTION: &str = "pgflight_incremental";

/// What follows `SELECT * FROM <function>` in `sql` (words matched case-insensitively), or
/// `None` when `sql` does not start that way.
pub fn call_of<'a>(sql: &'a str, function: &str) -> Option<&'a str> {
    let mut rest = sql.trim_start();
    for word in ["select", "*", "from", function] {
        rest = strip_word(rest, word)?.trim_start();
    }
    Some(rest)
}

/// `SELECT * FROM pgflight_incremental('entity', 'field'[, 'cursor' | NULL])` → the request;
/// `None` for any statement that does not call the function; an error for a call that does not
/// have exactly that form.
pub fn incremental_call(sql: &str) -> Result<Option<ExtractionRequest>, PlanError> {
    let Some(mut rest) = call_of(sql, FUNCTION) else {
        return Ok(None);
    };
    let usage = || {
        PlanError::InvalidRequest(format!(
            "expected SELECT * FROM {FUNCTION}('<table>', '<cursorField>', '<cursor>' | NULL); \
             arguments are string literals"
        ))
    };
    rest = rest.strip_prefix('(').ok_or_else(usage)?;
    let mut args: Vec<Option<String>> = Vec::new();
    loop {
        rest = rest.trim_start();
        let (arg, after) = literal(rest).ok_or_else(usage)?;
        args.push(arg);
        match after_argument(after).ok_or_else(usage)? {
            AfterArgument::Next(after) => rest = after,
            AfterArgument::End(after) => {
                rest = after;
                break;
            }
        }
    }
    if !nothing_after(rest) {
        return Err(usage());
    }
    let (entity, field, cursor) = match args.as_slice() {
        [Some(entity), Some(field)] => (entity, field, None),
        [Some(entity), Some(field), cursor] => (entity, field, cursor.clone()),
        _ => return Err(usage()),
    };
    Ok(Some(ExtractionRequest {
        mode: ExtractionMode::Incremental {
            entity: entity.clone(),
            cursor_field: field.clone(),
            cursor,
        },
        partitions: Some(1),
        split: None,
    }))
}

/// `text` without a leading `word` (case-insensitive, followed by a non-identifier character).
pub(crate) fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = &text[word.len()..];
    let boundary = word == "*"
        || rest
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (head.eq_ignore_ascii_case(word) && boundary).then_some(rest)
}

/// What follows an argument of a call: another argument, or the end of the call.
pub(crate) enum AfterArgument<'a> {
    /// A comma: the text after it.
    Next(&'a str),
    /// The closing parenthesis: the text after it.
    End(&'a str),
}

/// The separator after an argument (`,` or `)`, after any whitespace), or `None` for anything
/// else.
pub(crate) fn after_argument(text: &str) -> Option<AfterArgument<'_>> {
    let text = text.trim_start();
    match text.strip_prefix(',') {
        Some(after) => Some(AfterArgument::Next(after)),
        None => text.strip_prefix(')').map(AfterArgument::End),
    }
}

/// Whether only semicolons and whitespace follow a call.
pub(crate) fn nothing_after(text: &str) -> bool {
    text.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
        .is_empty()
}

/// A `'…'` literal (`''` is a quote) or `NULL`, and what follows it.
pub(crate) fn literal(text: &str) -> Option<(Option<String>, &str)> {
    if let Some(rest) = strip_word(text, "null") {
        return Some((None, rest));
    }
    let mut chars = text.strip_prefix('\'')?.char_indices().peekable();
    let body = &text[1..];
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|(_, c)| *c == '\'') {
                chars.next();
                value.push('\'');
            } else {
                return Some((Some(value), &body[i + 1..]));
            }
        } else {
            value.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sql: &str) -> Option<(String, String, Option<String>)> {
        match incremental_call(sql).unwrap()?.mode {
            ExtractionMode::Incremental {
                entity,
                cursor_field,
                cursor,
            } => Some((entity, cursor_field, cursor)),
            _ => None,
        }
    }

    #[test]
    fn the_table_function_is_recognised() {
        assert_eq!(
            call(
                "select * from PGFLIGHT_INCREMENTAL ( 'app.users' , 'updated_at', '2024-01-01T00:00:00Z' ) ;"
            ),
            Some((
                "app.users".into(),
                "updated_at".into(),
                Some("2024-01-01T00:00:00Z".into())
            ))
        );
        assert_eq!(
            call("SELECT * FROM pgflight_incremental('t', 'xmin', NULL)"),
            Some(("t".into(), "xmin".into(), None))
        );
        assert_eq!(
            call("SELECT * FROM pgflight_incremental('it''s', 'c')"),
            Some(("it's".into(), "c".into(), None))
        );
        assert_eq!(call("SELECT * FROM users"), None);
        assert_eq!(call("SELECT * FROM pgflight_incremental_log"), None);
    }

    #[test]
    fn malformed_calls_are_refused() {
        for sql in [
            "SELECT * FROM pgflight_incremental('t')",
            "SELECT * FROM pgflight_incremental('t', 'c', '1', '2')",
            "SELECT * FROM pgflight_incremental('t', 'c', 1)",
            "SELECT * FROM pgflight_incremental('t', 'c', '1') WHERE true",
            "SELECT * FROM pgflight_incremental(NULL, 'c')",
            "SELECT * FROM pgflight_incremental('t', 'c",
        ] {
            assert!(incremental_call(sql).is_err(), "{sql}");
        }
    }
}

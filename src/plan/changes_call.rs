//! The Flight SQL spelling of a changes request, recognised before any SQL parser sees it:
//!
//! ```sql
//! SELECT * FROM pgflight_changes('users', 'etl_users', create => 'true')       -- first run
//! SELECT * FROM pgflight_changes('users', 'etl_users', cursor => '0/16B3748')
//! SELECT * FROM pgflight_changes('users', 'etl_users', '0/16B3748')
//! ```
//!
//! Arguments are string literals (`''` escapes a quote) or `NULL`: the table and the slot, then
//! the cursor (by position or as `cursor => …`) and `create => 'true'`.

use crate::plan::PlanError;
use crate::plan::incremental_call::{
    AfterArgument, after_argument, call_of, literal, nothing_after, strip_word,
};
use crate::plan::request::{ExtractionMode, ExtractionRequest};

/// The table function's name.
pub const FUNCTION: &str = "pgflight_changes";

/// `SELECT * FROM pgflight_changes(…)` → the request; `None` for any statement that does not
/// call the function; an error for a call that does not have that form.
pub fn changes_call(sql: &str) -> Result<Option<ExtractionRequest>, PlanError> {
    let Some(mut rest) = call_of(sql, FUNCTION) else {
        return Ok(None);
    };
    let usage = || {
        PlanError::InvalidRequest(format!(
            "expected SELECT * FROM {FUNCTION}('<table>', '<slot>'[, cursor => '<lsn>' | NULL]\
             [, create => 'true']); arguments are string literals"
        ))
    };
    rest = rest.strip_prefix('(').ok_or_else(usage)?;
    let mut positional: Vec<Option<String>> = Vec::new();
    let mut cursor = None;
    let mut create = false;
    loop {
        rest = rest.trim_start();
        let name = ["cursor", "create"].into_iter().find_map(|name| {
            let after = strip_word(rest, name)?.trim_start();
            after
                .strip_prefix("=>")
                .map(|after| (name, after.trim_start()))
        });
        if let Some((name, after)) = name {
            let (arg, after) = literal(after).ok_or_else(usage)?;
            match name {
                "cursor" => cursor = arg,
                _ => {
                    create = match arg.as_deref().map(str::to_ascii_lowercase).as_deref() {
                        Some("true") => true,
                        Some("false") | None => false,
                        Some(_) => return Err(usage()),
                    }
                }
            }
            rest = after;
        } else {
            let (arg, after) = literal(rest).ok_or_else(usage)?;
            positional.push(arg);
            rest = after;
        }
        match after_argument(rest).ok_or_else(usage)? {
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
    let (entity, slot) = match positional.as_slice() {
        [Some(entity), Some(slot)] => (entity.clone(), slot.clone()),
        [Some(entity), Some(slot), by_position] if cursor.is_none() => {
            cursor = by_position.clone();
            (entity.clone(), slot.clone())
        }
        _ => return Err(usage()),
    };
    Ok(Some(ExtractionRequest {
        mode: ExtractionMode::Changes {
            entity,
            slot,
            cursor,
            create,
        },
        partitions: Some(1),
        split: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sql: &str) -> Option<ExtractionMode> {
        changes_call(sql).unwrap().map(|r| r.mode)
    }

    fn changes(cursor: Option<&str>, create: bool) -> Option<ExtractionMode> {
        Some(ExtractionMode::Changes {
            entity: "app.users".into(),
            slot: "etl".into(),
            cursor: cursor.map(str::to_string),
            create,
        })
    }

    #[test]
    fn the_table_function_is_recognised() {
        assert_eq!(
            call("SELECT * FROM pgflight_changes('app.users', 'etl')"),
            changes(None, false)
        );
        assert_eq!(
            call("select * from PGFLIGHT_CHANGES('app.users','etl', cursor => '0/1A');"),
            changes(Some("0/1A"), false)
        );
        assert_eq!(
            call("SELECT * FROM pgflight_changes('app.users', 'etl', '0/1A')"),
            changes(Some("0/1A"), false)
        );
        assert_eq!(
            call("SELECT * FROM pgflight_changes('app.users', 'etl', NULL, create => 'true')"),
            changes(None, true)
        );
        assert_eq!(call("SELECT * FROM users"), None);
        assert_eq!(call("SELECT * FROM pgflight_changes_log"), None);
    }

    #[test]
    fn malformed_calls_are_refused() {
        for sql in [
            "SELECT * FROM pgflight_changes('t')",
            "SELECT * FROM pgflight_changes('t', 's', '1', '2')",
            "SELECT * FROM pgflight_changes('t', 's', create => 'maybe')",
            "SELECT * FROM pgflight_changes('t', 's', cursor => 1)",
            "SELECT * FROM pgflight_changes('t', 's') WHERE true",
            "SELECT * FROM pgflight_changes(NULL, 's')",
        ] {
            assert!(changes_call(sql).is_err(), "{sql}");
        }
    }
}

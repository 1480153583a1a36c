//! A statement's fingerprint: its text with every literal replaced by `?`, for the audit log
//! and trace attributes (what ran, never the values). Parsed with sqlparser's PostgreSQL
//! dialect, the parser DataFusion uses too.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Value, visit_expressions_mut};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// `sql` with every literal replaced by `?` (placeholders such as `$1` stay); a statement the
/// parser cannot read is only described as such.
pub fn fingerprint(sql: &str) -> String {
    let Ok(mut statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return "(a statement pgflight cannot parse)".to_string();
    };
    let _ = visit_expressions_mut(&mut statements, |expr| {
        match expr {
            Expr::Value(value) if !matches!(value.value, Value::Placeholder(_)) => {
                value.value = Value::Placeholder("?".into());
            }
            Expr::TypedString(_) => {
                *expr = Expr::Value(Value::Placeholder("?".into()).into());
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    statements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_drop_every_literal() {
        let text = fingerprint(
            "SELECT * FROM t WHERE name = 'secret' AND n > 42 AND d < DATE '2024-01-01' \
             AND x = $1 LIMIT 5",
        );
        assert_eq!(
            text,
            "SELECT * FROM t WHERE name = ? AND n > ? AND d < ? AND x = $1 LIMIT ?"
        );
        assert!(fingerprint("SELEC 'secret'").contains("cannot parse"));
    }

    #[test]
    fn copy_statements_keep_their_shape_without_values() {
        let text = fingerprint(
            "COPY (SELECT \"id\" FROM \"public\".\"t\" WHERE \"id\" > '41'::int8) \
             TO STDOUT (FORMAT binary)",
        );
        assert!(
            text.starts_with("COPY (SELECT \"id\" FROM \"public\".\"t\""),
            "{text}"
        );
        assert!(!text.contains("41"), "{text}");
    }
}

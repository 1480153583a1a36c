//! Every read request, decoded once into one [`Command`]: the seed's JSON request, a path
//! descriptor, a SQL statement (plain or prepared, with bound values), the
//! `pgflight_incremental(…)` and `pgflight_changes(…)` table functions and pgflight's `EXPLAIN`. The Flight layer decodes
//! the wire forms into a command; [`crate::plan::planner::Planner`] plans it.

use crate::pg::placeholders::rewrite_placeholders;
use crate::pg::read::StatementRead;
use crate::plan::PlanError;
use crate::plan::changes_call::changes_call;
use crate::plan::incremental_call::incremental_call;
use crate::plan::request::{ExtractionRequest, parse_request};

/// One read request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A whole relation or its incremental window (the seed's JSON, `pgflight_incremental`).
    Extract(ExtractionRequest),
    /// A path descriptor `[schema, table]` (exact names).
    Path(Vec<String>),
    /// A SQL statement (placeholders numbered `$n`) and its bound parameter rows.
    Statement {
        /// The statement.
        sql: String,
        /// One row of values per execution (PostgreSQL input text; `None` is NULL).
        params: Vec<Vec<Option<String>>>,
    },
    /// pgflight's EXPLAIN of a command: the path taken, the filters pushed, the SQL sent.
    Explain(Box<Command>),
    /// A prepared pass-through statement as PostgreSQL described it when it was prepared (its
    /// handle carries the description), and its bound parameter rows: nothing left to plan.
    Described {
        /// The statement, its result columns and parameter types.
        statement: StatementRead,
        /// One row of values per execution.
        params: Vec<Vec<Option<String>>>,
    },
}

impl Command {
    /// The seed's JSON request (a command descriptor's bytes).
    pub fn from_json(bytes: &[u8]) -> Result<Command, PlanError> {
        parse_request(bytes).map(Command::Extract)
    }

    /// A SQL statement with `params` bound: `EXPLAIN` and `pgflight_incremental(…)` are
    /// recognised here, once; everything else is a statement.
    pub fn from_sql(sql: &str, params: Vec<Vec<Option<String>>>) -> Result<Command, PlanError> {
        let sql = normalize(sql)?;
        if let Some(inner) = explain_target(&sql)? {
            return Ok(Command::Explain(Box::new(Command::from_sql(
                inner, params,
            )?)));
        }
        if let Some(request) = incremental_call(&sql)? {
            return Ok(Command::Extract(request));
        }
        if let Some(request) = changes_call(&sql)? {
            return Ok(Command::Extract(request));
        }
        Ok(Command::Statement {
            sql: rewrite_placeholders(&sql),
            params,
        })
    }
}

/// The statement without surrounding blanks and trailing semicolons; empty is an error.
fn normalize(sql: &str) -> Result<String, PlanError> {
    let trimmed = sql
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    if trimmed.is_empty() {
        return Err(PlanError::InvalidRequest(
            "the SQL statement is empty".into(),
        ));
    }
    Ok(trimmed.to_string())
}

/// For `EXPLAIN <query>`, the query. EXPLAIN with options (`ANALYZE`, `VERBOSE`, `(…)`) is
/// refused: pgflight's EXPLAIN describes its own plan.
fn explain_target(sql: &str) -> Result<Option<&str>, PlanError> {
    let Some(keyword) = sql.get(..7) else {
        return Ok(None);
    };
    let rest = &sql[7..];
    if !keyword.eq_ignore_ascii_case("explain") || !rest.starts_with(char::is_whitespace) {
        return Ok(None);
    }
    let inner = rest.trim_start();
    let first_word: String = inner
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    if inner.starts_with('(') || matches!(first_word.as_str(), "analyze" | "analyse" | "verbose") {
        return Err(PlanError::InvalidRequest(
            "pgflight's EXPLAIN takes no options: send EXPLAIN <query> to see the path, the \
             pushed filters and the SQL sent to PostgreSQL"
                .into(),
        ));
    }
    Ok(Some(inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_trimmed_of_blanks_and_semicolons() {
        assert_eq!(normalize("  SELECT 1 ;; \n").unwrap(), "SELECT 1");
        assert!(normalize(" ; ").is_err());
    }

    #[test]
    fn explain_is_recognised_without_options_only() {
        assert_eq!(
            explain_target("EXPLAIN SELECT 1").unwrap(),
            Some("SELECT 1")
        );
        assert_eq!(
            explain_target("explain\n select 1").unwrap(),
            Some("select 1")
        );
        assert_eq!(explain_target("EXPLAINED").unwrap(), None);
        assert_eq!(explain_target("SELECT 1").unwrap(), None);
        assert!(explain_target("EXPLAIN ANALYZE SELECT 1").is_err());
        assert!(explain_target("EXPLAIN (COSTS off) SELECT 1").is_err());
    }

    #[test]
    fn sql_decodes_into_one_command() {
        assert_eq!(
            Command::from_sql("SELECT ? ;", vec![]).unwrap(),
            Command::Statement {
                sql: "SELECT $1".into(),
                params: vec![]
            }
        );
        assert!(matches!(
            Command::from_sql("SELECT * FROM pgflight_incremental('t', 'id')", vec![]).unwrap(),
            Command::Extract(_)
        ));
        assert!(matches!(
            Command::from_sql("EXPLAIN SELECT * FROM pgflight_incremental('t', 'id')", vec![])
                .unwrap(),
            Command::Explain(inner) if matches!(*inner, Command::Extract(_))
        ));
    }
}

//! A statement read through the extended protocol in binary, for [`crate::pg::source`]: the
//! statement prepared once per connection with its `$n` parameters (PostgreSQL reuses its plan,
//! and `pg_stat_statements` sees one statement), each execution's values bound as PostgreSQL
//! input text (each parameter's own input function parses it, exactly as a typed literal
//! would be), and the result's `DataRow`s handed field by field to the COPY BINARY column
//! decoders: a field of a binary `DataRow` is encoded as a COPY BINARY field is.

use std::error::Error;

use bytes::BytesMut;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Row, Statement};

use crate::pg::copy::{CopyDecoder, CopyError};
use crate::pg::read::{ParamValue, StatementRead};
use crate::pg::{PgConnection, PgError};

/// Statements kept prepared per connection; past it the connection's cache starts over, so
/// client SQL with literals in it cannot grow it (nor its PostgreSQL backend) without bound.
const MAX_PREPARED: usize = 128;

/// `sql` prepared on `client`, once per connection (PostgreSQL then reuses its plan).
pub async fn prepare(client: &PgConnection, sql: &str) -> Result<Statement, tokio_postgres::Error> {
    if client.statement_cache.size() >= MAX_PREPARED {
        client.statement_cache.clear();
    }
    client.prepare_cached(sql).await
}

/// Whether `err` says that `sql`, prepared earlier on the connection, now has another result
/// type (a relation changed since): then it is forgotten, so that the read can run again.
pub fn forget_if_stale(client: &PgConnection, sql: &str, err: &PgError) -> bool {
    let stale = matches!(err, PgError::Sql(db)
        if db.code() == &SqlState::FEATURE_NOT_SUPPORTED && db.message().contains("cached plan"));
    if stale {
        client.statement_cache.remove(sql, &[]);
    }
    stale
}

/// The parameter rows `statement` runs with: one per bound row, or one empty row when it has no
/// parameters; refused when values are missing or do not match its parameters.
pub fn executions(statement: &StatementRead) -> Result<Vec<Vec<TextParam>>, PgError> {
    if statement.param_types.is_empty() {
        return Ok(vec![Vec::new()]);
    }
    if statement.executions.is_empty() {
        return Err(PgError::InvalidRead(format!(
            "the statement has {} parameter(s); bind values (DoPut) before executing it",
            statement.param_types.len()
        )));
    }
    statement
        .executions
        .iter()
        .map(|row| {
            if row.values.len() != statement.param_types.len() {
                return Err(PgError::InvalidRead(format!(
                    "{} parameter value(s) bound; the statement has {} parameter(s)",
                    row.values.len(),
                    statement.param_types.len()
                )));
            }
            Ok(row.values.iter().map(TextParam::of).collect())
        })
        .collect()
}

/// A parameter value sent as PostgreSQL input text, whatever the parameter's type (`None`:
/// NULL).
#[derive(Debug, Clone)]
pub struct TextParam(Option<String>);

impl TextParam {
    fn of(value: &ParamValue) -> TextParam {
        TextParam(value.text.clone())
    }
}

impl ToSql for TextParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A result field's raw binary bytes, whatever its type.
struct RawField<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawField<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(RawField(raw))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// Appends `row`'s fields to `decoder`, straight from the row (nothing allocated per row).
pub fn push_row(decoder: &mut CopyDecoder, row: &Row) -> Result<(), CopyError> {
    let mut failed = None;
    let fields = (0..row.len()).map(|index| match row.try_get::<_, Option<RawField>>(index) {
        Ok(field) => field.map(|f| f.0),
        Err(err) => {
            failed.get_or_insert((index, err.to_string()));
            None
        }
    });
    let pushed = decoder.push_row(fields);
    match failed {
        Some((index, problem)) => Err(CopyError::Value {
            column: row.columns()[index].name().to_string(),
            row: decoder.rows_decoded(),
            problem,
        }),
        None => pushed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::read::ParamRow;

    fn statement(params: usize, rows: Vec<Vec<Option<&str>>>) -> StatementRead {
        StatementRead {
            sql: "SELECT $1".into(),
            columns: Vec::new(),
            param_types: vec!["integer".into(); params],
            executions: rows
                .into_iter()
                .map(|values| ParamRow {
                    values: values
                        .into_iter()
                        .map(|v| ParamValue {
                            text: v.map(str::to_string),
                        })
                        .collect(),
                })
                .collect(),
            typed: false,
        }
    }

    #[test]
    fn one_execution_per_bound_row_and_mismatches_refused() {
        assert_eq!(executions(&statement(0, vec![])).unwrap().len(), 1);
        let rows = executions(&statement(1, vec![vec![Some("1")], vec![None]])).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0].0.as_deref(), Some("1"));
        assert_eq!(rows[1][0].0, None);
        assert!(executions(&statement(1, vec![])).is_err());
        assert!(executions(&statement(2, vec![vec![Some("1")]])).is_err());
    }

    #[test]
    fn values_go_as_text_and_null_as_null() {
        let mut out = BytesMut::new();
        let value = TextParam(Some("2024-01-02 03:04:05+00".into()));
        assert!(matches!(
            value.to_sql(&Type::TIMESTAMPTZ, &mut out).unwrap(),
            IsNull::No
        ));
        assert_eq!(&out[..], b"2024-01-02 03:04:05+00");
        assert!(matches!(value.encode_format(&Type::INT4), Format::Text));
        assert!(matches!(
            TextParam(None).to_sql(&Type::INT4, &mut out).unwrap(),
            IsNull::Yes
        ));
    }
}

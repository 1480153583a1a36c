//! SQL statements: which path a statement takes, its exact result and parameter schemas, and
//! its execution.
//!
//! # The rule that decides the path
//!
//! A statement is **planned by DataFusion** (filters PostgreSQL can evaluate identically are
//! pushed down, the rest evaluated by pgflight) when all of these hold:
//! - it has no parameters (`?` / `$n`);
//! - it parses (PostgreSQL dialect) as one plain `SELECT` over exactly one relation: no joins,
//!   subqueries, CTEs, set operations, `DISTINCT`, `GROUP BY`, `HAVING`, window functions,
//!   aggregates, `FOR UPDATE`, `INTO`;
//! - every projected item is a column (optionally aliased) or `*`;
//! - `WHERE` uses only columns, literals, comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`,
//!   `IN (list)`, `BETWEEN`, `[NOT] LIKE` and the functions whose result is identical in
//!   both engines (`length`, `char_length`, `character_length`, `octet_length`, `abs`,
//!   `coalesce`); no `::` casts or PostgreSQL operators;
//! - `ORDER BY` (if any) names non-text columns (text order depends on PostgreSQL's collation),
//!   and `LIMIT`/`OFFSET` are numbers;
//! - the relation exists and DataFusion can plan the statement.
//!
//! A planned statement without `ORDER BY` and `LIMIT`/`OFFSET` over a large relation is split
//! into endpoints exactly like full-table extraction ([`split`], [`crate::plan::endpoints`]):
//! each endpoint's handle carries its range and the exported snapshot, and DoGet plans the
//! statement again with the range added to the pushed filters ([`plan_endpoint`]).
//!
//! **Every other statement passes through** to PostgreSQL verbatim, so PostgreSQL SQL behaves
//! exactly as in psql: its result types are learned by preparing it (never running it), and it
//! runs as `COPY (<sql>) TO STDOUT (FORMAT binary)` in a read-only transaction that is rolled
//! back afterwards. Bound parameter values are put into the statement as typed literals
//! (`CAST('…' AS <type PostgreSQL inferred>)`). A statement that returns no rows (INSERT without
//! RETURNING, DDL, transaction control) is refused as read-only; a write that returns rows
//! fails in PostgreSQL's read-only transaction.
//!
//! `EXPLAIN <query>` returns, as one text column, the path taken and why, the filters pushed
//! down, those pgflight evaluates, and the SQL sent to PostgreSQL.

use std::pin::Pin;
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{Stream, StreamExt, TryStreamExt};

use crate::pg::PgPool;
use crate::pg::partition::SplitMethod;
use crate::pg::statement::{self, ParamType};
use crate::pg::types::{ColumnPlan, TypeOptions, arrow_schema};
use crate::plan::PlanError;
use crate::plan::endpoints::{EndpointRange, PartitionOptions, SplitRead, split_relation};
use crate::plan::extract::{ExtractPlan, ExtractionMode};
pub use crate::plan::incremental::incremental_call;
use crate::plan::params::{self, typed_literal};
use crate::plan::single::{self, PlannedScan};

/// What planning a statement needs.
#[derive(Clone)]
pub struct SqlContext {
    /// The PostgreSQL pool.
    pub pool: Arc<PgPool>,
    /// Type-mapping options.
    pub options: TypeOptions,
    /// Rows per record batch.
    pub batch_size: usize,
    /// The schema unqualified names resolve in (the configured `schema`).
    pub default_schema: String,
    /// When and how far planned reads are split into endpoints.
    pub partitions: PartitionOptions,
}

/// A stream of result batches.
pub type QueryStream = Pin<Box<dyn Stream<Item = Result<RecordBatch, PlanError>> + Send>>;

/// A planned statement: its exact result schema, its parameters, and how it runs.
pub struct StatementPlan {
    /// The statement as pgflight runs it (trailing `;` removed, `?` numbered `$n`).
    pub sql: String,
    /// The exact schema of the result.
    pub schema: SchemaRef,
    /// Parameters `$1…$n` as PostgreSQL inferred them.
    pub params: Vec<ParamType>,
    route: Route,
}

enum Route {
    /// PostgreSQL runs the statement; these are its result columns.
    PassThrough {
        columns: Vec<ColumnPlan>,
        reason: String,
    },
    /// DataFusion over one relation.
    Planned(Box<PlannedScan>),
    /// pgflight's EXPLAIN of the inner statement.
    Explain(Box<StatementPlan>),
    /// `SELECT * FROM pgflight_incremental(…)`: one cursor window of one relation.
    Incremental(Box<ExtractPlan>),
}

impl StatementPlan {
    /// The Arrow schema of the parameters (fields `$1…$n`, all nullable).
    pub fn parameter_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .params
            .iter()
            .map(|p| p.column.field.clone().with_nullable(true))
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// PostgreSQL's estimate of the result's rows, where the statement reads every row of one
    /// relation (planned, no `WHERE`, no `LIMIT`).
    pub fn estimated_rows(&self) -> Option<i64> {
        match &self.route {
            Route::Planned(planned) if planned.reads_every_row() => {
                planned.relation().estimated_rows
            }
            _ => None,
        }
    }

    /// Which path the statement takes: `"planned"`, `"pass-through"` or `"explain"`.
    pub fn path(&self) -> &'static str {
        match self.route {
            Route::PassThrough { .. } => "pass-through",
            Route::Planned(_) => "planned",
            Route::Explain(_) => "explain",
            Route::Incremental(_) => "incremental",
        }
    }
}

/// Plans `sql`: decides its path and learns its exact result and parameter schemas, without
/// running it.
pub async fn plan(ctx: &SqlContext, sql: &str) -> Result<StatementPlan, PlanError> {
    plan_endpoint(ctx, sql, None).await
}

/// Plans one endpoint of a split read of `sql` ([`split`]): the same statement, its relation
/// read only in `range`, in the split's snapshot. The statement must still be planned.
pub async fn plan_endpoint(
    ctx: &SqlContext,
    sql: &str,
    range: Option<&EndpointRange>,
) -> Result<StatementPlan, PlanError> {
    let plan = plan_statement(ctx, sql, range).await?;
    if range.is_some() && !matches!(plan.route, Route::Planned(_)) {
        return Err(PlanError::Stale(
            "the statement is no longer planned over one relation, so its endpoints no longer \
             apply; call GetFlightInfo again"
                .into(),
        ));
    }
    Ok(plan)
}

/// Splits a planned statement's read into endpoint ranges, as full-table extraction does,
/// when the statement reads one large relation without `ORDER BY` or `LIMIT` (filters
/// evaluated by DataFusion are fine: each endpoint applies them to its own rows). `None`: one
/// endpoint runs the whole statement.
pub async fn split(ctx: &SqlContext, plan: &StatementPlan) -> Result<Option<SplitRead>, PlanError> {
    match &plan.route {
        Route::Planned(planned) if planned.splittable() => {
            let relation = planned.relation();
            split_relation(
                &ctx.pool,
                relation,
                &ctx.partitions,
                None,
                SplitMethod::Auto,
            )
            .await
        }
        _ => Ok(None),
    }
}

async fn plan_statement(
    ctx: &SqlContext,
    sql: &str,
    range: Option<&EndpointRange>,
) -> Result<StatementPlan, PlanError> {
    let sql = params::rewrite_placeholders(&normalize(sql)?);
    if let Some(inner) = explain_target(&sql)? {
        let inner = Box::pin(plan(ctx, inner)).await?;
        let schema = Arc::new(Schema::new(vec![Field::new("plan", DataType::Utf8, false)]));
        return Ok(StatementPlan {
            sql,
            schema,
            params: inner.params.clone(),
            route: Route::Explain(Box::new(inner)),
        });
    }
    if let Some(request) = incremental_call(&sql)? {
        let ExtractionMode::Incremental {
            entity,
            cursor_field,
            cursor,
        } = &request.mode
        else {
            unreachable!("incremental_call returns incremental requests");
        };
        let planned = crate::plan::incremental::plan_incremental(
            &ctx.pool,
            entity,
            cursor_field,
            cursor.as_deref(),
            &ctx.default_schema,
            &ctx.options,
        )
        .await?;
        return Ok(StatementPlan {
            schema: planned.schema(),
            sql,
            params: Vec::new(),
            route: Route::Incremental(Box::new(planned)),
        });
    }
    let reason = match single::plan(ctx, &sql, range).await? {
        Ok(planned) => {
            return Ok(StatementPlan {
                schema: planned.schema(),
                sql,
                params: Vec::new(),
                route: Route::Planned(Box::new(planned)),
            });
        }
        Err(reason) => reason,
    };
    pass_through(ctx, sql, reason).await
}

async fn pass_through(
    ctx: &SqlContext,
    sql: String,
    reason: String,
) -> Result<StatementPlan, PlanError> {
    let described = statement::describe(&ctx.pool, &sql, &ctx.options).await?;
    if described.columns.is_empty() {
        return Err(PlanError::Pg(crate::pg::PgError::ReadOnly {
            message: "only queries that return rows are accepted; INSERT, UPDATE, DELETE, DDL \
                      and transaction control are refused"
                .into(),
        }));
    }
    Ok(StatementPlan {
        schema: arrow_schema(&described.columns),
        sql,
        params: described.params,
        route: Route::PassThrough {
            columns: described.columns,
            reason,
        },
    })
}

/// Runs a planned statement once per parameter row (once when it has no parameters); results
/// are concatenated in order.
pub fn execute(
    ctx: &SqlContext,
    plan: StatementPlan,
    param_rows: Vec<Vec<Option<String>>>,
) -> Result<QueryStream, PlanError> {
    if !plan.params.is_empty() && param_rows.is_empty() {
        return Err(PlanError::InvalidRequest(format!(
            "the statement has {} parameter(s); bind values (DoPut) before executing it",
            plan.params.len()
        )));
    }
    let schema = plan.schema.clone();
    let stream: QueryStream = match plan.route {
        Route::PassThrough { columns, .. } => {
            let copies = copy_statements(&plan.sql, &plan.params, &columns, param_rows)?;
            let pool = ctx.pool.clone();
            let batch_size = ctx.batch_size;
            Box::pin(
                futures::stream::iter(copies)
                    .flat_map(move |copy| {
                        statement::run_copy(pool.clone(), copy, columns.clone(), batch_size)
                    })
                    .map_err(PlanError::Pg),
            )
        }
        Route::Planned(planned) => planned.execute()?,
        Route::Incremental(planned) => Box::pin(
            crate::pg::scan::scan(ctx.pool.clone(), planned.scan, ctx.batch_size)
                .map_err(PlanError::Pg),
        ),
        Route::Explain(inner) => {
            let lines = explain_lines(&inner);
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(lines))])
                    .map_err(|e| PlanError::InvalidRequest(e.to_string()))?;
            Box::pin(futures::stream::once(async move { Ok(batch) }))
        }
    };
    // Every batch carries exactly the schema announced at planning time.
    Ok(Box::pin(stream.map(move |batch| {
        let batch = batch?;
        RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).map_err(|e| {
            PlanError::InvalidRequest(format!("result does not match its schema: {e}"))
        })
    })))
}

/// One COPY statement per parameter row (one without parameters).
fn copy_statements(
    sql: &str,
    params: &[ParamType],
    columns: &[ColumnPlan],
    param_rows: Vec<Vec<Option<String>>>,
) -> Result<Vec<String>, PlanError> {
    if params.is_empty() {
        return Ok(vec![statement::copy_sql(sql, columns)]);
    }
    param_rows
        .iter()
        .map(|row| {
            if row.len() != params.len() {
                return Err(PlanError::InvalidRequest(format!(
                    "{} parameter value(s) bound; the statement has {} parameter(s)",
                    row.len(),
                    params.len()
                )));
            }
            let literals: Vec<String> = row
                .iter()
                .zip(params)
                .map(|(value, param)| typed_literal(value.as_deref(), &param.sql_type))
                .collect();
            Ok(statement::copy_sql(
                &params::substitute(sql, &literals)?,
                columns,
            ))
        })
        .collect()
}

/// EXPLAIN's lines for a planned statement.
fn explain_lines(plan: &StatementPlan) -> Vec<String> {
    match &plan.route {
        Route::PassThrough { columns, reason } => vec![
            "path: pass-through (PostgreSQL runs the statement verbatim in a read-only transaction)"
                .to_string(),
            format!("reason: {reason}"),
            format!("sql sent: {}", statement::copy_sql(&plan.sql, columns)),
        ],
        Route::Planned(planned) => planned.explain_lines(),
        Route::Incremental(planned) => vec![
            format!(
                "path: incremental (the cursor window of {} on {})",
                crate::pg::sql::qualified_name(&planned.scan.schema, &planned.scan.table),
                planned.window.as_ref().map_or("?", |w| w.field.as_str())
            ),
            format!(
                "pushed filters: {}",
                planned.scan.filter.as_deref().unwrap_or("none")
            ),
            format!(
                "next cursor: {}",
                planned.cursor_metadata.as_deref().unwrap_or("none")
            ),
            format!("sql sent: {}", planned.scan.copy_sql()),
        ],
        Route::Explain(inner) => explain_lines(inner),
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
}

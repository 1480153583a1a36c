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
//! each endpoint's read plan carries its range and the exported snapshot, and DoGet plans the
//! statement again over the columns the ticket carries, the range added to the pushed filters.
//!
//! **Every other statement passes through** to PostgreSQL verbatim, so PostgreSQL SQL behaves
//! exactly as in psql: its result types are learned by preparing it (never running it), and it
//! runs as `COPY (<sql>) TO STDOUT (FORMAT binary)` in a read-only transaction that is rolled
//! back afterwards. Bound parameter values travel typed in the read plan and are rendered by
//! [`crate::pg::render`] as `CAST('…' AS <type PostgreSQL inferred>)`. A statement that returns no rows (INSERT without
//! RETURNING, DDL, transaction control) is refused as read-only; a write that returns rows
//! fails in PostgreSQL's read-only transaction.
//!
//! `EXPLAIN <query>` returns, as one text column, the path taken and why, the filters pushed
//! down, those pgflight evaluates, and the SQL sent to PostgreSQL.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::Statement;

use crate::pg::catalog_cache::Checked;
use crate::pg::describe::{self, ParamType};
use crate::pg::partition::SplitMethod;
use crate::pg::placeholders::has_parameters;
use crate::pg::read::{ParamRow, ParamValue, Read, ReadColumn, StatementRead, read_source::Source};
use crate::pg::render::statement_select;
use crate::pg::types::arrow_schema;
use crate::plan::PlanError;
use crate::plan::context::ReadContext;
use crate::plan::endpoints::split_relation;
use crate::plan::read_plan::{PlannedQuery, ReadPlan};
use crate::plan::single::{self, PassReason, PlannedScan};

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
        columns: Vec<ReadColumn>,
        reason: PassReason,
    },
    /// DataFusion over one relation (PostgreSQL's estimate of its rows alongside).
    Planned(Box<PlannedScan>, Option<crate::pg::catalog::Relation>),
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
            Route::Planned(planned, Some(relation)) if planned.reads_every_row() => {
                relation.estimated_rows
            }
            _ => None,
        }
    }

    /// Which path the statement takes: `"planned"` or `"pass-through"`.
    pub fn path(&self) -> &'static str {
        match self.route {
            Route::PassThrough { .. } => "pass-through",
            Route::Planned(..) => "planned",
        }
    }

    /// EXPLAIN's lines: the path taken and why, what went down, the SQL sent.
    pub async fn explain_lines(&self, ctx: &ReadContext) -> Result<Vec<String>, PlanError> {
        match &self.route {
            Route::PassThrough { columns, reason } => {
                let plans: Vec<_> = columns
                    .iter()
                    .map(|c| c.plan("", "", &ctx.options))
                    .collect();
                Ok(vec![
                    "path: pass-through (PostgreSQL runs the statement verbatim in a read-only \
                     transaction)"
                        .to_string(),
                    format!("reason: {reason}"),
                    format!("sql sent: {}", statement_select(&self.sql, &plans).trim()),
                ])
            }
            Route::Planned(planned, _) => planned.explain_lines().await,
        }
    }

    /// A pass-through statement as PostgreSQL described it (no values bound): what a prepared
    /// statement's handle carries, so that binding and executing it need no planning.
    pub fn described(&self) -> Option<StatementRead> {
        match &self.route {
            Route::PassThrough { columns, .. } => Some(StatementRead {
                sql: self.sql.clone(),
                columns: columns.clone(),
                param_types: self.params.iter().map(|p| p.sql_type.clone()).collect(),
                executions: Vec::new(),
                typed: false,
            }),
            Route::Planned(..) => None,
        }
    }

    /// The read plan of each endpoint, and whether the result is ordered: one endpoint runs
    /// the whole statement (with `params`, one execution per row), unless it is planned over a
    /// large relation without `ORDER BY` or `LIMIT`, whose read is split as full-table
    /// extraction is.
    pub async fn endpoints(
        &self,
        ctx: &ReadContext,
        params: &[Vec<Option<String>>],
    ) -> Result<(Vec<ReadPlan>, bool), PlanError> {
        match &self.route {
            Route::PassThrough { .. } => {
                let described = self.described().unwrap_or_default();
                Ok((vec![bound_statement(described, params)?], true))
            }
            Route::Planned(planned, relation) => {
                let split = match relation {
                    Some(relation) if planned.splittable() => {
                        split_relation(
                            &ctx.pool,
                            relation,
                            &ctx.partitions,
                            None,
                            SplitMethod::Auto,
                        )
                        .await?
                    }
                    _ => None,
                };
                if let Some(direct) = planned.direct() {
                    let Some(split) = split else {
                        return Ok((vec![ReadPlan::read(direct.clone(), None)], true));
                    };
                    let plans = split
                        .splits
                        .iter()
                        .zip(0..)
                        .map(|(range, part)| {
                            let mut read = direct.clone().in_part(part);
                            read.snapshot = split.snapshot.clone();
                            if let Some(Source::Scan(scan)) = &mut read.source {
                                scan.filters.push(range.filter());
                            }
                            ReadPlan::read(read, None)
                        })
                        .collect();
                    return Ok((plans, false));
                }
                let Some(split) = split else {
                    return Ok((vec![ReadPlan::query(planned.query().clone())], true));
                };
                let plans = split
                    .splits
                    .iter()
                    .zip(0..)
                    .map(|(range, part)| {
                        ReadPlan::query(PlannedQuery {
                            snapshot: split.snapshot.clone(),
                            range: Some(range.filter()),
                            part,
                            ..planned.query().clone()
                        })
                    })
                    .collect();
                Ok((plans, false))
            }
        }
    }
}

/// The read plan of a described pass-through `statement` with `params` bound (one execution a
/// row); a statement with parameters needs values.
pub fn bound_statement(
    mut statement: StatementRead,
    params: &[Vec<Option<String>>],
) -> Result<ReadPlan, PlanError> {
    if !statement.param_types.is_empty() && params.is_empty() {
        return Err(PlanError::InvalidRequest(format!(
            "the statement has {} parameter(s); bind values (DoPut) before executing it",
            statement.param_types.len()
        )));
    }
    statement.executions = params
        .iter()
        .map(|row| ParamRow {
            values: row
                .iter()
                .map(|text| ParamValue { text: text.clone() })
                .collect(),
        })
        .collect();
    Ok(ReadPlan::read(Read::statement(statement), None))
}

/// Plans `sql` (placeholders numbered; `parsed`: its statements, when the parser read them):
/// decides its path and learns its exact result and parameter schemas, without running it.
pub async fn plan(
    ctx: &ReadContext,
    sql: &str,
    parsed: Option<Vec<Statement>>,
    checked: &[Checked],
) -> Result<StatementPlan, PlanError> {
    if has_parameters(sql) {
        let reason = PassReason("it has parameters (planned statements have none)".into());
        return pass_through(ctx, sql, reason).await;
    }
    let reason = match single::plan(ctx, sql, parsed, checked).await? {
        (Ok(planned), relation) => {
            return Ok(StatementPlan {
                schema: planned.schema(),
                sql: sql.to_string(),
                params: Vec::new(),
                route: Route::Planned(Box::new(planned), relation),
            });
        }
        (Err(reason), _) => reason,
    };
    pass_through(ctx, sql, reason).await
}

/// Plans `sql` as a statement PostgreSQL runs verbatim: its result and parameter types, learned
/// by preparing it.
async fn pass_through(
    ctx: &ReadContext,
    sql: &str,
    reason: PassReason,
) -> Result<StatementPlan, PlanError> {
    let described = describe::describe(&ctx.pool, ctx.search_path(), sql, &ctx.options).await?;
    if described.columns.is_empty() {
        return Err(PlanError::Pg(crate::pg::PgError::ReadOnly {
            message: "only queries that return rows are accepted; INSERT, UPDATE, DELETE, DDL \
                      and transaction control are refused"
                .into(),
        }));
    }
    let plans: Vec<_> = described
        .columns
        .iter()
        .map(|c| c.plan("", "", &ctx.options))
        .collect();
    Ok(StatementPlan {
        schema: arrow_schema(&plans),
        sql: sql.to_string(),
        params: described.params,
        route: Route::PassThrough {
            columns: described.columns,
            reason,
        },
    })
}

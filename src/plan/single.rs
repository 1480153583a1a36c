//! Statements over one relation, planned by DataFusion (see [`crate::plan::query`] for the rule
//! that sends a statement here). Planning either succeeds, or says in words why the statement
//! passes through to PostgreSQL instead.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{DFSchema, TableReference};
use datafusion::config::Dialect;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::logical_expr::expr::{Alias, InList, Like, ScalarFunction};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::physical_plan::{ExecutionPlan, displayable, execute_stream};
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::{StreamExt, TryStreamExt};

use crate::pg::PgError;
use crate::pg::catalog;
use crate::pg::catalog_cache::{self, Checked};
use crate::pg::read::{Read, ReadColumn, ScanRead};
use crate::pg::render::scan_copy;
use crate::pg::types::{TYPE_NAME_KEY, TypeOptions};
use crate::plan::PlanError;
use crate::plan::context::{QueryStream, ReadContext};
use crate::plan::direct::{direct_read, logical_direct_read};
use crate::plan::one_relation;
use crate::plan::provider::{EndpointRange, PgTable};
use crate::plan::read_plan::PlannedQuery;

/// Functions whose results DataFusion and PostgreSQL agree on for the types allowed here.
const SAME_FUNCTIONS: [&str; 6] = [
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "abs",
    "coalesce",
];

/// Why a statement passes through to PostgreSQL instead of being planned by DataFusion, in
/// words (EXPLAIN shows them). Not an error: a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReason(pub String);

impl std::fmt::Display for PassReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A statement DataFusion planned over one PostgreSQL relation.
pub struct PlannedScan {
    state: Arc<SessionState>,
    /// The optimized logical plan.
    logical: LogicalPlan,
    /// The physical plan, unless the logical plan showed the read PostgreSQL alone answers
    /// (then it is made only when EXPLAIN or DoGet needs it).
    physical: Option<Arc<dyn ExecutionPlan>>,
    schema: SchemaRef,
    /// The statement, the relation and its columns: what DoGet plans again from.
    query: PlannedQuery,
    scans: Vec<ScanRead>,
    options: TypeOptions,
    shape: Shape,
    /// The read PostgreSQL alone answers, when DataFusion adds nothing to the scan.
    direct: Option<Read>,
}

/// What a planned statement does besides reading, as far as splitting and estimates care.
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    /// It has `ORDER BY`.
    sorts: bool,
    /// It has `LIMIT` or `OFFSET`.
    limits: bool,
    /// It has a `WHERE`.
    filters: bool,
}

impl Shape {
    fn of(plan: &LogicalPlan) -> Shape {
        let mut shape = Shape::default();
        let mut node = Some(plan);
        while let Some(plan) = node {
            match plan {
                LogicalPlan::Sort(_) => shape.sorts = true,
                LogicalPlan::Limit(_) => shape.limits = true,
                LogicalPlan::Filter(_) => shape.filters = true,
                LogicalPlan::TableScan(scan) => shape.filters |= !scan.filters.is_empty(),
                _ => {}
            }
            node = plan.inputs().first().copied();
        }
        shape
    }
}

impl PlannedScan {
    /// The exact schema of the result.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The statement over its relation, as a ticket carries it.
    pub fn query(&self) -> &PlannedQuery {
        &self.query
    }

    /// The read PostgreSQL alone answers, when DataFusion adds nothing to its scan
    /// ([`crate::plan::direct`]): DoGet then runs it without DataFusion.
    pub fn direct(&self) -> Option<&Read> {
        self.direct.as_ref()
    }

    /// Whether the read may be split into endpoints whose union is the result: no `ORDER BY`
    /// (endpoints arrive in no order) and no `LIMIT`/`OFFSET` (each endpoint would apply it).
    pub fn splittable(&self) -> bool {
        !self.shape.sorts && !self.shape.limits
    }

    /// Whether the result is every row of the relation (no `WHERE`, no `LIMIT`), so that
    /// PostgreSQL's estimate of the relation's rows is the estimate of the result.
    pub fn reads_every_row(&self) -> bool {
        !self.shape.filters && !self.shape.limits
    }

    /// The physical plan, made now if planning did not need it.
    async fn physical(&self) -> Result<Arc<dyn ExecutionPlan>, PlanError> {
        match &self.physical {
            Some(physical) => Ok(physical.clone()),
            None => physical_plan(&self.state, &self.logical)
                .await
                .map_err(df_error),
        }
    }

    /// Runs the plan.
    pub async fn execute(self) -> Result<QueryStream, PlanError> {
        let physical = self.physical().await?;
        let stream = execute_stream(physical, self.state.task_ctx()).map_err(df_error)?;
        Ok(Box::pin(stream.map_err(df_error).boxed()))
    }

    /// EXPLAIN's lines: the path, what went down, the SQL sent and DataFusion's plan.
    pub async fn explain_lines(&self) -> Result<Vec<String>, PlanError> {
        let relation = crate::pg::sql::qualified_name(&self.query.schema, &self.query.table);
        let mut lines = vec![format!("path: planned (DataFusion over {relation})")];
        for scan in &self.scans {
            let sql = scan_copy(scan, &scan.column_plans(&self.options));
            lines.push(format!(
                "pushed filters: {}",
                if scan.filters.is_empty() {
                    "none".to_string()
                } else {
                    crate::pg::render::conjunction(&scan.filters)
                }
            ));
            lines.push(format!(
                "pushed limit: {}",
                scan.limit.map_or("none".to_string(), |l| l.to_string())
            ));
            lines.push(format!("sql sent: {sql}"));
        }
        lines.push(if self.direct.is_some() {
            "executed: by PostgreSQL alone (DataFusion adds nothing to the scan)".into()
        } else {
            "executed: by DataFusion over the scan".into()
        });
        lines.push(if self.splittable() {
            "endpoints: several when the relation is large (ranges read in one snapshot)".into()
        } else {
            "endpoints: one (ORDER BY / LIMIT apply to the whole result)".into()
        });
        lines.push("DataFusion plan:".to_string());
        let physical = self.physical().await?;
        let plan = displayable(physical.as_ref()).indent(false).to_string();
        lines.extend(plan.lines().map(|l| format!("  {l}")));
        Ok(lines)
    }
}

/// Plans `sql` with DataFusion when it qualifies; `Ok(Err(reason))` when it passes through.
/// The relation it reads comes from the catalog cache, by what the planner's one check query
/// (`checked`, the relations the statement names) answered.
pub async fn plan(
    ctx: &ReadContext,
    sql: &str,
    parsed: Option<Vec<SqlStatement>>,
    checked: &[Checked],
) -> Result<(Result<PlannedScan, PassReason>, Option<catalog::Relation>), PlanError> {
    let state = one_relation::state(ctx.batch_size);
    let (statement, references) = match parse(&state, sql, parsed) {
        Ok(parsed) => parsed,
        Err(reason) => return Ok((Err(reason), None)),
    };
    let [reference] = references.as_slice() else {
        let reason = format!(
            "it reads {} relations (planned statements read exactly one)",
            references.len()
        );
        return Ok((Err(PassReason(reason)), None));
    };
    let (schema, name) = match reference {
        TableReference::Bare { table } => (None, table.to_string()),
        TableReference::Partial { schema, table } => (Some(schema.to_string()), table.to_string()),
        TableReference::Full { .. } => {
            return Ok((
                Err(PassReason("it names a relation with a catalog".to_string())),
                None,
            ));
        }
    };
    let Some(relation) = lookup(ctx, checked, schema.as_deref(), &name).await? else {
        let reason = format!("relation {reference} is not known to pgflight");
        return Ok((Err(PassReason(reason)), None));
    };
    let query = PlannedQuery {
        sql: sql.to_string(),
        schema: relation.schema.clone(),
        table: relation.name.clone(),
        columns: relation.columns.iter().map(ReadColumn::of).collect(),
        snapshot: String::new(),
        range: None,
        part: 0,
    };
    let target = Target {
        state,
        statement,
        reference: reference.clone(),
    };
    let planned = plan_query(ctx, target, query, None, "").await?;
    Ok((planned, Some(relation)))
}

/// Plans a ticket's statement again over the columns it carries (no catalog query), restricted
/// to its range when the read was split, its scans part of query `query_id` (what a cancel
/// names). The statement must still plan as it did.
pub async fn replan(
    ctx: &ReadContext,
    query: PlannedQuery,
    query_id: &str,
) -> Result<PlannedScan, PlanError> {
    let range = query.range.clone().map(|range| EndpointRange {
        range,
        snapshot: query.snapshot.clone(),
        part: query.part,
    });
    let state = one_relation::state(ctx.batch_size);
    let planned = match parse(&state, &query.sql, None) {
        Err(reason) => Err(reason),
        Ok((statement, references)) => match references.as_slice() {
            [reference] => {
                let target = Target {
                    state,
                    statement,
                    reference: reference.clone(),
                };
                plan_query(ctx, target, query, range, query_id).await?
            }
            _ => Err(PassReason("it no longer reads one relation".to_string())),
        },
    };
    planned.map_err(|reason| {
        PlanError::Stale(format!(
            "the statement no longer plans over one relation ({reason}); call GetFlightInfo again"
        ))
    })
}

/// `sql` as DataFusion's statement (PostgreSQL dialect), with the relations it reads. One query
/// the planner already parsed (`parsed`) is taken as it is: DataFusion's parser reads a query
/// exactly as sqlparser does (it only reads some other statements its own way).
fn parse(
    state: &SessionState,
    sql: &str,
    parsed: Option<Vec<SqlStatement>>,
) -> Result<(Statement, Vec<TableReference>), PassReason> {
    let statement = match parsed {
        Some(mut statements)
            if statements.len() == 1 && matches!(statements[0], SqlStatement::Query(_)) =>
        {
            Statement::Statement(Box::new(statements.remove(0)))
        }
        _ => state
            .sql_to_statement(sql, &Dialect::PostgreSQL)
            .map_err(|e| PassReason(format!("DataFusion does not parse it ({})", short(&e))))?,
    };
    let references = state
        .resolve_table_references(&statement)
        .map_err(|e| PassReason(short(&e)))?;
    Ok((statement, references))
}

/// A parsed statement to plan, the one relation it reads, and the state it is planned in.
struct Target {
    state: Arc<SessionState>,
    statement: Statement,
    reference: TableReference,
}

/// Plans `target`'s statement over `query`'s relation and columns (restricted to `range`):
/// physically only when the optimized logical plan is not the scan alone.
async fn plan_query(
    ctx: &ReadContext,
    target: Target,
    query: PlannedQuery,
    range: Option<EndpointRange>,
    query_id: &str,
) -> Result<Result<PlannedScan, PassReason>, PlanError> {
    let Target {
        state,
        statement,
        reference,
    } = target;
    let split = range.is_some();
    let table = Arc::new(
        PgTable::new(
            ctx.pool.clone(),
            &query.schema,
            &query.table,
            query.columns.clone(),
            &ctx.options,
            ctx.batch_size,
        )
        .with_settings(ctx.settings.clone())
        .with_range(range)
        .in_query(query_id),
    );
    let cannot_plan = |e: DataFusionError| {
        Ok(Err(PassReason(format!(
            "DataFusion cannot plan it ({})",
            short(&e)
        ))))
    };
    let logical = match one_relation::logical_plan(&state, statement, &reference, table.clone()) {
        Ok(plan) => plan,
        Err(e) => return cannot_plan(e),
    };
    if let Err(reason) = check_plan(&logical) {
        return Ok(Err(reason));
    }
    let shape = Shape::of(&logical);
    if split && (shape.sorts || shape.limits) {
        return Err(PlanError::Stale(
            "an endpoint of a split read cannot apply ORDER BY or LIMIT; call GetFlightInfo again"
                .into(),
        ));
    }
    let logical = match one_relation::optimize(&state, logical) {
        Ok(plan) => plan,
        Err(e) => return cannot_plan(e),
    };
    let (physical, schema, scans, direct) =
        match logical_direct_read(&logical, &table, &ctx.options) {
            Some(direct) => (None, direct.schema, vec![direct.scan], Some(direct.read)),
            None => {
                let physical = match physical_plan(&state, &logical).await {
                    Ok(plan) => plan,
                    Err(e) => return cannot_plan(e),
                };
                let direct = direct_read(&physical, &ctx.options);
                (
                    Some(physical.clone()),
                    physical.schema(),
                    table.scans(),
                    direct,
                )
            }
        };
    Ok(Ok(PlannedScan {
        state,
        logical,
        physical,
        schema,
        query,
        scans,
        options: ctx.options,
        shape,
        direct,
    }))
}

/// The physical plan of the optimized `logical` plan.
async fn physical_plan(
    state: &SessionState,
    logical: &LogicalPlan,
) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
    state
        .query_planner()
        .create_physical_plan(logical, state)
        .await
}

/// The relation PostgreSQL would read for `schema.name` (or `name` on the search path): by
/// the check already made when `checked` has it (no further query for a cached relation),
/// otherwise looked up.
async fn lookup(
    ctx: &ReadContext,
    checked: &[Checked],
    schema: Option<&str>,
    name: &str,
) -> Result<Option<catalog::Relation>, PgError> {
    match checked
        .iter()
        .find(|c| c.schema.as_deref() == schema && c.name == name)
    {
        Some(checked) => catalog_cache::relation_of(&ctx.pool, checked).await,
        None => catalog::lookup_relation(&ctx.pool, ctx.search_path(), schema, name).await,
    }
}

/// Only projection of columns, filters, sort on non-text columns, limit, aliases and the scan.
fn check_plan(plan: &LogicalPlan) -> Result<(), PassReason> {
    match plan {
        LogicalPlan::Projection(p) => {
            for expr in &p.expr {
                let inner = match expr {
                    Expr::Alias(Alias { expr, .. }) => expr.as_ref(),
                    other => other,
                };
                if !matches!(inner, Expr::Column(_)) {
                    return Err(PassReason(format!(
                        "it computes {expr} (planned statements project columns only)"
                    )));
                }
            }
            check_plan(&p.input)
        }
        LogicalPlan::Filter(f) => {
            check_predicate(&f.predicate, f.input.schema())?;
            check_plan(&f.input)
        }
        LogicalPlan::Sort(s) => {
            for sort in &s.expr {
                let Expr::Column(_) = &sort.expr else {
                    return Err(PassReason(format!(
                        "it orders by {} (not a column)",
                        sort.expr
                    )));
                };
                if !orderable(&sort.expr, s.input.schema()) {
                    return Err(PassReason(format!(
                        "it orders by text column {} (order depends on PostgreSQL's collation)",
                        sort.expr
                    )));
                }
            }
            check_plan(&s.input)
        }
        LogicalPlan::Limit(l) => check_plan(&l.input),
        LogicalPlan::SubqueryAlias(a) => check_plan(&a.input),
        LogicalPlan::TableScan(_) => Ok(()),
        other => Err(PassReason(format!(
            "it needs {} (planned statements are projection, filters, ORDER BY and LIMIT over one relation)",
            other.display()
        ))),
    }
}

fn data_type(expr: &Expr, schema: &DFSchema) -> Option<DataType> {
    expr.get_type(schema).ok()
}

fn orderable(expr: &Expr, schema: &DFSchema) -> bool {
    !matches!(
        data_type(expr, schema),
        None | Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
            | Some(DataType::List(_) | DataType::Interval(_))
    )
}

/// A column that compares the same in both engines: not a list, and text only when it is
/// PostgreSQL `text` or `varchar` (not `char(n)`, citext, enums, uuid, json, …).
fn check_column(expr: &Expr, schema: &DFSchema) -> Result<(), PassReason> {
    let Expr::Column(column) = expr else {
        return Ok(());
    };
    let (_, field) = schema
        .qualified_field_from_column(column)
        .map_err(|e| PassReason(short(&e)))?;
    match field.data_type() {
        // A string literal means hex to PostgreSQL and raw bytes to DataFusion.
        DataType::List(_) | DataType::Interval(_) | DataType::Binary => Err(PassReason(format!(
            "its filter uses {} (a {} column)",
            column.name,
            field.data_type()
        ))),
        DataType::Utf8 => {
            let type_name = field
                .metadata()
                .get(TYPE_NAME_KEY)
                .map(String::as_str)
                .unwrap_or("");
            if type_name == "text" || type_name.starts_with("character varying") {
                Ok(())
            } else {
                Err(PassReason(format!(
                    "its filter uses {} of type {type_name}, which PostgreSQL compares by its own rules",
                    column.name
                )))
            }
        }
        _ => Ok(()),
    }
}

fn check_predicate(expr: &Expr, schema: &DFSchema) -> Result<(), PassReason> {
    let refuse = || {
        Err(PassReason(format!(
            "its filter uses {expr}, which PostgreSQL may evaluate differently"
        )))
    };
    match expr {
        Expr::Column(_) => check_column(expr, schema),
        Expr::Literal(..) => Ok(()),
        Expr::Negative(inner) if matches!(inner.as_ref(), Expr::Literal(..)) => Ok(()),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let ordering = matches!(
                op,
                Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
            );
            let allowed = ordering
                || matches!(
                    op,
                    Operator::Eq | Operator::NotEq | Operator::And | Operator::Or
                );
            if !allowed {
                return refuse();
            }
            let text_column = |e: &Expr| matches!(e, Expr::Column(_)) && !orderable(e, schema);
            if ordering && (text_column(left) || text_column(right)) {
                return Err(PassReason(format!(
                    "its filter {expr} orders text (order depends on PostgreSQL's collation)"
                )));
            }
            check_predicate(left, schema)?;
            check_predicate(right, schema)
        }
        Expr::Not(inner) | Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            check_predicate(inner, schema)
        }
        Expr::InList(InList { expr, list, .. }) => {
            check_predicate(expr, schema)?;
            list.iter().try_for_each(|e| check_predicate(e, schema))
        }
        Expr::Between(Between {
            expr, low, high, ..
        }) => {
            if !orderable(expr, schema) {
                return Err(PassReason(format!(
                    "its filter {expr} orders text (order depends on PostgreSQL's collation)"
                )));
            }
            check_predicate(expr, schema)?;
            check_predicate(low, schema)?;
            check_predicate(high, schema)
        }
        Expr::Like(Like {
            expr,
            pattern,
            case_insensitive: false,
            escape_char: None,
            ..
        }) => {
            check_predicate(expr, schema)?;
            check_predicate(pattern, schema)
        }
        Expr::ScalarFunction(ScalarFunction { func, args })
            if SAME_FUNCTIONS.contains(&func.name()) =>
        {
            args.iter().try_for_each(|e| check_predicate(e, schema))
        }
        _ => refuse(),
    }
}

/// A DataFusion error as a planning error; PostgreSQL's own errors come back out unchanged.
fn df_error(err: DataFusionError) -> PlanError {
    match err {
        DataFusionError::External(inner) => match inner.downcast::<PgError>() {
            Ok(pg) => PlanError::Pg(*pg),
            Err(other) => PlanError::DataFusion(Box::new(DataFusionError::External(other))),
        },
        DataFusionError::Context(_, inner) => df_error(*inner),
        other => PlanError::DataFusion(Box::new(other)),
    }
}

/// DataFusion's message without its backtrace-like prefixes, on one line.
fn short(err: &DataFusionError) -> String {
    err.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
#[path = "single/same_read.rs"]
mod same_read;

//! When DataFusion adds nothing to its PostgreSQL scan — the physical plan is the scan under
//! column projections (renames, reorders), limits and batching nodes — the statement is
//! answered by the scan alone: its read plan is a plain [`Read`], and DoGet runs it through
//! the COPY source without DataFusion. Anything else (a filter PostgreSQL cannot evaluate
//! identically, a sort, an offset) keeps DataFusion at DoGet.
//!
//! The same read is found in the optimized logical plan ([`logical_direct_read`]) — the scan
//! under column projections, aliases and a limit — so that GetFlightInfo of such a statement
//! needs no physical plan at all; a plan of any other shape is planned physically and looked
//! at by [`direct_read`]. Both answer the same read for the same statement (tested in
//! [`crate::plan::single`]).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::expr_rewriter::unnormalize_cols;
use datafusion::logical_expr::{Expr, FetchType, LogicalPlan, SkipType};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;

use crate::pg::read::{Read, ScanRead, read_source::Source};
use crate::pg::types::{TypeOptions, arrow_schema};
use crate::plan::provider::{PgScanExec, PgTable};

/// Nodes that pass every row of their one input through unchanged.
const PASS_THROUGH_NODES: [&str; 3] = [
    "CoalesceBatchesExec",
    "CooperativeExec",
    "CoalescePartitionsExec",
];

/// The read that answers `physical` alone, if DataFusion adds nothing to its scan; its schema
/// is exactly the plan's.
pub fn direct_read(physical: &Arc<dyn ExecutionPlan>, options: &TypeOptions) -> Option<Read> {
    let mut node = physical.clone();
    // Projections from the outside in: each maps its output to (input index, name).
    let mut projections: Vec<Vec<(usize, String)>> = Vec::new();
    let mut limit: Option<usize> = None;
    loop {
        if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
            let columns = projection
                .expr()
                .iter()
                .map(|e| {
                    let column = e.expr.downcast_ref::<Column>()?;
                    Some((column.index(), e.alias.clone()))
                })
                .collect::<Option<Vec<_>>>()?;
            projections.push(columns);
            node = projection.input().clone();
        } else if let Some(global) = node.downcast_ref::<GlobalLimitExec>() {
            if global.skip() != 0 {
                return None;
            }
            limit = narrow(limit, global.fetch());
            node = global.input().clone();
        } else if let Some(local) = node.downcast_ref::<LocalLimitExec>() {
            limit = narrow(limit, Some(local.fetch()));
            node = local.input().clone();
        } else if let Some(scan) = node.downcast_ref::<PgScanExec>() {
            let read = project(scan.read(), &projections, limit)?;
            // The plan's schema, field for field (names, types, metadata), or DataFusion stays.
            let schema = arrow_schema(&read.column_plans(options));
            return (schema.fields() == physical.schema().fields()).then_some(read);
        } else if PASS_THROUGH_NODES.contains(&node.name()) && node.children().len() == 1 {
            node = node.children()[0].clone();
        } else {
            return None;
        }
    }
}

/// A statement PostgreSQL answers alone, as its logical plan shows it.
pub struct DirectScan {
    /// The scan as the table plans it (what EXPLAIN shows).
    pub scan: ScanRead,
    /// The read answering the statement: the scan with the plan's projections and limit.
    pub read: Read,
    /// The read's schema: exactly the plan's.
    pub schema: SchemaRef,
}

/// The read that answers the optimized logical `plan` alone, if it is a scan of `table` under
/// projections of columns (renamed or reordered), subquery aliases and a limit without offset:
/// the read [`direct_read`] finds in the physical plan of such a plan. The scan's filters are
/// all PostgreSQL's (those it could not take stay in a filter above it, and the plan then keeps
/// DataFusion).
pub fn logical_direct_read(
    plan: &LogicalPlan,
    table: &PgTable,
    options: &TypeOptions,
) -> Option<DirectScan> {
    let mut node = plan;
    let mut projections: Vec<Vec<(usize, String)>> = Vec::new();
    let mut limit: Option<usize> = None;
    loop {
        match node {
            LogicalPlan::Projection(projection) => {
                let input = projection.input.schema();
                let columns = projection
                    .expr
                    .iter()
                    .zip(projection.schema.fields())
                    .map(|(expr, field)| {
                        let column = match expr {
                            Expr::Column(column) => column,
                            Expr::Alias(Alias { expr, .. }) => match expr.as_ref() {
                                Expr::Column(column) => column,
                                _ => return None,
                            },
                            _ => return None,
                        };
                        Some((input.index_of_column(column).ok()?, field.name().clone()))
                    })
                    .collect::<Option<Vec<_>>>()?;
                projections.push(columns);
                node = &projection.input;
            }
            LogicalPlan::Limit(l) => {
                let (Ok(SkipType::Literal(0)), Ok(FetchType::Literal(fetch))) =
                    (l.get_skip_type(), l.get_fetch_type())
                else {
                    return None;
                };
                limit = narrow(limit, fetch);
                node = &l.input;
            }
            LogicalPlan::SubqueryAlias(alias) => node = &alias.input,
            LogicalPlan::TableScan(scan) => {
                // As the physical planner hands them to the provider: unqualified.
                let filters: Vec<Expr> = unnormalize_cols(scan.filters.iter().cloned());
                let read = table
                    .read(scan.projection.as_ref(), &filters, scan.fetch)
                    .ok()?;
                let direct = project(&read, &projections, limit)?;
                let schema = arrow_schema(&direct.column_plans(options));
                if schema.fields() != plan.schema().as_arrow().fields() {
                    return None;
                }
                let Some(Source::Scan(scan)) = read.source else {
                    return None;
                };
                return Some(DirectScan {
                    scan,
                    read: direct,
                    schema,
                });
            }
            _ => return None,
        }
    }
}

/// The smaller of two row limits (`None`: no limit).
fn narrow(limit: Option<usize>, fetch: Option<usize>) -> Option<usize> {
    match (limit, fetch) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `read` with `projections` (outermost first) applied to its columns and `limit` pushed.
fn project(
    read: &Read,
    projections: &[Vec<(usize, String)>],
    limit: Option<usize>,
) -> Option<Read> {
    let Some(Source::Scan(scan)) = &read.source else {
        return None;
    };
    let mut columns: Vec<(usize, String)> = scan
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (i, c.name.clone()))
        .collect();
    for projection in projections.iter().rev() {
        columns = projection
            .iter()
            .map(|(index, name)| Some((columns.get(*index)?.0, name.clone())))
            .collect::<Option<Vec<_>>>()?;
    }
    let mut direct = scan.clone();
    direct.columns = columns
        .into_iter()
        .map(|(index, name)| {
            let mut column = scan.columns[index].clone();
            if name != column.name {
                column.output_name = Some(name);
            }
            column
        })
        .collect();
    direct.limit = match (scan.limit, limit) {
        (Some(a), Some(b)) => Some(a.min(b as u64)),
        (a, b) => a.or(b.map(|b| b as u64)),
    };
    Some(Read {
        snapshot: read.snapshot.clone(),
        source: Some(Source::Scan(direct)),
        query_id: read.query_id.clone(),
        part: read.part,
    })
}

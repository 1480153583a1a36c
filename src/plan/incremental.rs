//! Incremental extraction requests → a window-restricted scan and the next cursor.
//!
//! The high-water mark is taken here, at planning (GetFlightInfo): the largest cursor value
//! (or, in commit order, the oldest running transaction of the current snapshot) in a snapshot
//! no later than the one the read will use. The window `cursor < field <= high_water` is fixed
//! in the ticket, so a run is repeatable and the next run starts exactly where this one ended.
//!
//! Flight SQL clients (ADBC) ask for the same with a table function
//! ([`crate::plan::incremental_call`]).

use crate::pg::PgPool;
use crate::pg::catalog::{Relation, RelationKind};
use crate::pg::incremental::{high_water, snapshot_xmin};
use crate::pg::types::TypeOptions;
use crate::plan::PlanError;
use crate::plan::cursor::{self, CursorKind, cursor_json, plan_window};
use crate::plan::scan_plan::{ExtractPlan, full_table, resolve};

/// Plans `{"incremental": {entity, cursorField, cursor}}`.
pub async fn plan_incremental(
    pool: &PgPool,
    entity: &str,
    field: &str,
    cursor: Option<&str>,
    default_schema: &str,
    options: &TypeOptions,
) -> Result<ExtractPlan, PlanError> {
    let relation = resolve(pool, entity, default_schema).await?;
    let kind = cursor::cursor_kind(&relation, field)?;
    // Parse the client's cursor before asking PostgreSQL anything.
    if let Some(text) = cursor {
        plan_window(kind, field, Some(text), None)?;
    }
    let high = match kind {
        CursorKind::Xmin => {
            check_has_xmin(&relation)?;
            Some(format!("xid:{}", snapshot_xmin(pool).await?))
        }
        _ => high_water(pool, &relation.schema, &relation.name, field, kind.finite()).await?,
    };
    let (window, next) = plan_window(kind, field, cursor, high.as_deref())?;
    let filter = window.filter(&relation)?;
    let mut plan = full_table(relation, options);
    plan.scan.filters.push(filter);
    plan.cursor_metadata = Some(cursor_json(entity, field, next.as_deref()));
    Ok(plan)
}

/// Views have no `xmin` of their own.
fn check_has_xmin(relation: &Relation) -> Result<(), PlanError> {
    match relation.kind {
        RelationKind::Table | RelationKind::MaterializedView | RelationKind::PartitionedTable => {
            Ok(())
        }
        RelationKind::View | RelationKind::ForeignTable => Err(PlanError::InvalidRequest(format!(
            "commit order (cursorField \"xmin\") needs a table; {}.{} is a {}",
            relation.schema,
            relation.name,
            relation.kind.table_type().to_lowercase()
        ))),
    }
}

//! Extraction requests (the seed connector's JSON, path descriptors, ListFlights) → planned
//! reads of one relation, split into endpoints when large.

use crate::pg::PgPool;
use crate::pg::catalog::{self, RelationFilter};
use crate::pg::partition::SplitMethod;
use crate::pg::types::TypeOptions;
use crate::plan::PlanError;
use crate::plan::endpoints::{PartitionOptions, split_relation};
use crate::plan::incremental::plan_incremental;
use crate::plan::request::{ExtractionMode, ExtractionRequest, SplitBy};
use crate::plan::scan_plan::{ExtractPlan, exact_relation, full_table, resolve};

/// Plans a request: resolves the entity, maps its columns, splits a large read.
pub async fn plan_request(
    pool: &PgPool,
    request: &ExtractionRequest,
    default_schema: &str,
    options: &TypeOptions,
    partitions: &PartitionOptions,
) -> Result<ExtractPlan, PlanError> {
    let method = match request.split {
        Some(SplitBy::Keys) => SplitMethod::Keys,
        None => SplitMethod::Auto,
    };
    match &request.mode {
        ExtractionMode::FullTable { entity } => {
            let plan = full_table(resolve(pool, entity, default_schema).await?, options);
            split(pool, plan, partitions, request.partitions, method).await
        }
        ExtractionMode::Incremental {
            entity,
            cursor_field,
            cursor,
        } => {
            let plan = plan_incremental(
                pool,
                entity,
                cursor_field,
                cursor.as_deref(),
                default_schema,
                options,
            )
            .await?;
            // A window is usually a small part of its table, read best through an index on
            // the cursor column: it is split only when the request asks for partitions.
            let requested = request.partitions.unwrap_or(1);
            split(pool, plan, partitions, Some(requested), method).await
        }
        // A change stream is no scan: the planner sends it to plan::changes.
        ExtractionMode::Changes { .. } => Err(PlanError::InvalidRequest(
            "a changes request has no scan to plan".into(),
        )),
    }
}

/// Plans a path descriptor `[schema, table]` (exact names).
pub async fn plan_path(
    pool: &PgPool,
    path: &[String],
    options: &TypeOptions,
    partitions: &PartitionOptions,
) -> Result<ExtractPlan, PlanError> {
    let [schema, table] = path else {
        return Err(PlanError::InvalidRequest(format!(
            "a path descriptor names [schema, table]; got {} element(s)",
            path.len()
        )));
    };
    let relation = exact_relation(pool, schema, table).await?;
    let plan = full_table(relation, options);
    split(pool, plan, partitions, None, SplitMethod::Auto).await
}

/// Splits a plan into endpoint ranges when the table is large (or `requested` asks for it);
/// see [`crate::plan::endpoints`].
async fn split(
    pool: &PgPool,
    mut plan: ExtractPlan,
    options: &PartitionOptions,
    requested: Option<usize>,
    method: SplitMethod,
) -> Result<ExtractPlan, PlanError> {
    if let Some(read) = split_relation(pool, &plan.relation, options, requested, method).await? {
        plan.snapshot = Some(read.snapshot);
        plan.splits = read.splits;
    }
    Ok(plan)
}

/// Full-table plans of every relation the role can read (ListFlights), in one catalog query.
pub async fn readable_relations(
    pool: &PgPool,
    options: &TypeOptions,
) -> Result<Vec<ExtractPlan>, PlanError> {
    let relations = catalog::relations(pool, &RelationFilter::default()).await?;
    Ok(relations
        .into_iter()
        .map(|relation| full_table(relation, options))
        .collect())
}

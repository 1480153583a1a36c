//! Extraction requests (the seed connector's JSON, and path descriptors) → what to read.
//!
//! ```json
//! {"mode": {"fullTable":   {"entity": "users"}}}
//! {"mode": {"incremental": {"entity": "users", "cursorField": "updated_at", "cursor": "2023-01-01T00:00:00Z"}}}
//! ```

use serde::Deserialize;

use crate::pg::PgPool;
use crate::pg::catalog::{self, Relation, RelationFilter};
use crate::pg::partition::{Split, SplitMethod};
use crate::pg::scan::ScanSpec;
use crate::pg::types::{ColumnPlan, TypeOptions, plan_column};
use crate::plan::PlanError;
use crate::plan::cursor::CursorWindow;
pub use crate::plan::endpoints::PartitionOptions;
use crate::plan::endpoints::split_relation;
use crate::plan::incremental::plan_incremental;

/// The shape the seed connector sends, with pgflight's optional additions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractionRequest {
    /// Which extraction.
    pub mode: ExtractionMode,
    /// Ask for this many endpoints (bounded by `max_partitions` and the pool), whatever the
    /// table's size; 1 asks for a single endpoint.
    #[serde(default)]
    pub partitions: Option<usize>,
    /// `"keys"`: split by ranges of the integer primary key even where block ranges work.
    #[serde(default)]
    pub split: Option<SplitBy>,
}

/// How a request wants its table split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitBy {
    /// Ranges of the integer primary key.
    Keys,
}

/// Full table or incremental.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum ExtractionMode {
    /// Every row of `entity`.
    FullTable {
        /// `name`, `schema.name` or quoted names.
        entity: String,
    },
    /// Rows changed since `cursor`, by `cursorField`.
    #[serde(rename_all = "camelCase")]
    Incremental {
        /// `name`, `schema.name` or quoted names.
        entity: String,
        /// The column that orders changes.
        cursor_field: String,
        /// The previous run's cursor; absent or null on the first run.
        #[serde(default)]
        cursor: Option<String>,
    },
}

const REQUEST_FORMS: &str = r#"{"mode":{"fullTable":{"entity":"<table>"}}} or {"mode":{"incremental":{"entity":"<table>","cursorField":"<column>","cursor":"<value>"}}}"#;

/// Parses the JSON bytes of a command descriptor.
pub fn parse_request(bytes: &[u8]) -> Result<ExtractionRequest, PlanError> {
    serde_json::from_slice(bytes).map_err(|e| {
        PlanError::InvalidRequest(format!(
            "extraction request is not valid: {e}; expected {REQUEST_FORMS}"
        ))
    })
}

/// A planned read: a whole relation, or the window of an incremental request.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// The relation read.
    pub relation: Relation,
    /// What PostgreSQL is asked for (the whole relation, or its cursor window).
    pub scan: ScanSpec,
    /// Disjoint ranges covering the relation, one endpoint each (one range: no split).
    pub splits: Vec<Split>,
    /// The cursor window of an incremental request (carried by every ticket).
    pub window: Option<CursorWindow>,
    /// The next cursor as JSON `{"entity","cursorField","cursor"}` (incremental requests).
    pub cursor_metadata: Option<String>,
}

impl ExtractPlan {
    /// The Arrow schema of the result, with the next cursor in its metadata (incremental).
    pub fn schema(&self) -> arrow::datatypes::SchemaRef {
        crate::plan::cursor::with_cursor_metadata(
            self.scan.schema(),
            self.cursor_metadata.as_deref(),
        )
    }

    /// The scan of each endpoint: the whole scan, restricted to one range each.
    pub fn endpoint_scans(&self) -> Vec<(ScanSpec, Option<&Split>)> {
        if self.splits.len() < 2 {
            return vec![(self.scan.clone(), None)];
        }
        self.splits
            .iter()
            .map(|split| {
                let mut scan = self.scan.clone();
                scan.filter = Some(and_filters(self.scan.filter.as_deref(), split));
                (scan, Some(split))
            })
            .collect()
    }
}

/// Plans a request: resolves the entity and maps its columns.
pub async fn plan_request(
    pool: &PgPool,
    request: &ExtractionRequest,
    default_schema: &str,
    options: &TypeOptions,
    partitions: &PartitionOptions,
) -> Result<ExtractPlan, PlanError> {
    let plan = match &request.mode {
        ExtractionMode::FullTable { entity } => {
            full_table(resolve(pool, entity, default_schema).await?, options)
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
            return split(
                pool,
                plan,
                partitions,
                Some(requested),
                split_method(request),
            )
            .await;
        }
    };
    split(
        pool,
        plan,
        partitions,
        request.partitions,
        split_method(request),
    )
    .await
}

fn split_method(request: &ExtractionRequest) -> SplitMethod {
    match request.split {
        Some(SplitBy::Keys) => SplitMethod::Keys,
        None => SplitMethod::Auto,
    }
}

/// `filter AND split` (the split's range alone when there is no filter).
fn and_filters(filter: Option<&str>, split: &Split) -> String {
    match filter {
        Some(filter) => format!("({filter}) AND ({})", split.filter_sql()),
        None => split.filter_sql(),
    }
}

/// The relation an extraction request's `entity` names, or NOT_FOUND naming it.
pub(crate) async fn resolve(
    pool: &PgPool,
    entity: &str,
    default_schema: &str,
) -> Result<Relation, PlanError> {
    catalog::resolve_entity(pool, entity, default_schema)
        .await?
        .ok_or_else(|| {
            PlanError::NotFound(format!(
                "entity {entity:?} not found: no table or view of that name in schema {default_schema:?} (or the named schema)"
            ))
        })
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
    split(
        pool,
        full_table(relation, options),
        partitions,
        None,
        SplitMethod::Auto,
    )
    .await
}

/// Splits a full-table plan into endpoint ranges when the table is large (or `requested`
/// asks for it); see [`crate::plan::endpoints`].
async fn split(
    pool: &PgPool,
    mut plan: ExtractPlan,
    options: &PartitionOptions,
    requested: Option<usize>,
    method: SplitMethod,
) -> Result<ExtractPlan, PlanError> {
    if let Some(read) = split_relation(pool, &plan.relation, options, requested, method).await? {
        plan.scan.snapshot = Some(read.snapshot);
        plan.splits = read.splits;
    }
    Ok(plan)
}

/// Re-plans the read a ticket describes: the same relation and columns, which must still exist,
/// restricted to the ticket's cursor window and range.
#[allow(clippy::too_many_arguments)]
pub async fn plan_ticket(
    pool: &PgPool,
    schema: &str,
    table: &str,
    columns: &[String],
    options: &TypeOptions,
    split: Option<&Split>,
    snapshot: Option<&str>,
    window: Option<&CursorWindow>,
) -> Result<ScanSpec, PlanError> {
    let relation = exact_relation(pool, schema, table).await?;
    let mut plans = Vec::with_capacity(columns.len());
    for name in columns {
        let column = relation
            .columns
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                PlanError::Stale(format!(
                    "column {name:?} of {schema}.{table} no longer exists; call GetFlightInfo again"
                ))
            })?;
        plans.push(plan_column(column, options));
    }
    let window = window.map(|w| w.filter_sql(&relation)).transpose()?;
    let filter = match (window, split) {
        (window, Some(split)) => Some(and_filters(window.as_deref(), split)),
        (window, None) => window,
    };
    Ok(ScanSpec {
        schema: relation.schema,
        table: relation.name,
        columns: plans,
        filter,
        limit: None,
        snapshot: snapshot.map(str::to_string),
    })
}

async fn exact_relation(pool: &PgPool, schema: &str, table: &str) -> Result<Relation, PlanError> {
    let filter = RelationFilter {
        schema: Some(schema.to_string()),
        name: Some(table.to_string()),
        readable_only: false,
    };
    catalog::relations(pool, &filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| PlanError::NotFound(format!("relation {schema:?}.{table:?} not found")))
}

/// Full-table plans of every relation the role can read (ListFlights), in one catalog query.
pub async fn readable_relations(
    pool: &PgPool,
    options: &TypeOptions,
) -> Result<Vec<ExtractPlan>, PlanError> {
    let filter = RelationFilter {
        readable_only: true,
        ..RelationFilter::default()
    };
    let relations = catalog::relations(pool, &filter).await?;
    Ok(relations
        .into_iter()
        .map(|relation| full_table(relation, options))
        .collect())
}

/// Every column of `relation`, as a scan without filters.
pub fn full_table(relation: Relation, options: &TypeOptions) -> ExtractPlan {
    let columns: Vec<ColumnPlan> = relation
        .columns
        .iter()
        .map(|c| plan_column(c, options))
        .collect();
    let scan = ScanSpec {
        schema: relation.schema.clone(),
        table: relation.name.clone(),
        columns,
        ..ScanSpec::default()
    };
    ExtractPlan {
        relation,
        scan,
        splits: Vec::new(),
        window: None,
        cursor_metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_requests_parse() {
        let full = parse_request(br#"{"mode":{"fullTable":{"entity":"users"}}}"#).unwrap();
        assert_eq!(
            full.mode,
            ExtractionMode::FullTable {
                entity: "users".into()
            }
        );
        let inc = parse_request(
            br#"{"mode":{"incremental":{"entity":"users","cursorField":"updated_at","cursor":"2023-01-01T00:00:00Z"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            inc.mode,
            ExtractionMode::Incremental {
                cursor: Some(_),
                ..
            }
        ));
        let first = parse_request(
            br#"{"mode":{"incremental":{"entity":"users","cursorField":"id","cursor":null}}}"#,
        )
        .unwrap();
        assert!(matches!(
            first.mode,
            ExtractionMode::Incremental { cursor: None, .. }
        ));
    }

    #[test]
    fn malformed_requests_say_what_was_expected() {
        for bad in [
            &b"{"[..],
            br#"{"mode":{}}"#,
            br#"{"mode":{"fullTabel":{"entity":"users"}}}"#,
            br#"{"mode":{"fullTable":{}}}"#,
            br#"{"mode":{"fullTable":{"entity":7}}}"#,
            br#"{"mode":{"fullTable":{"entity":"u"}},"extra":1}"#,
        ] {
            let err = parse_request(bad).unwrap_err().to_string();
            assert!(err.contains("expected {\"mode\":{\"fullTable\""), "{err}");
        }
    }
}

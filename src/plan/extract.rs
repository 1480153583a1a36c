//! Extraction requests (the seed connector's JSON, and path descriptors) → what to read.
//!
//! ```json
//! {"mode": {"fullTable":   {"entity": "users"}}}
//! {"mode": {"incremental": {"entity": "users", "cursorField": "updated_at", "cursor": "2023-01-01T00:00:00Z"}}}
//! ```

use serde::Deserialize;

use crate::pg::PgPool;
use crate::pg::catalog::{self, Relation, RelationFilter};
use crate::pg::scan::ScanSpec;
use crate::pg::types::{ColumnPlan, TypeOptions, plan_column};
use crate::plan::PlanError;

/// The shape the seed connector sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractionRequest {
    /// Which extraction.
    pub mode: ExtractionMode,
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

/// A planned full-table read.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// The relation read.
    pub relation: Relation,
    /// What PostgreSQL is asked for.
    pub scan: ScanSpec,
}

/// Plans a request: resolves the entity and maps its columns.
pub async fn plan_request(
    pool: &PgPool,
    request: &ExtractionRequest,
    default_schema: &str,
    options: &TypeOptions,
) -> Result<ExtractPlan, PlanError> {
    match &request.mode {
        ExtractionMode::FullTable { entity } => {
            let relation = catalog::resolve_entity(pool, entity, default_schema)
                .await?
                .ok_or_else(|| {
                    PlanError::NotFound(format!(
                        "entity {entity:?} not found: no table or view of that name in schema {default_schema:?} (or the named schema)"
                    ))
                })?;
            Ok(full_table(relation, options))
        }
        ExtractionMode::Incremental { .. } => Err(PlanError::Unsupported(
            "incremental extraction is not available in this version of pgflight; use fullTable"
                .into(),
        )),
    }
}

/// Plans a path descriptor `[schema, table]` (exact names).
pub async fn plan_path(
    pool: &PgPool,
    path: &[String],
    options: &TypeOptions,
) -> Result<ExtractPlan, PlanError> {
    let [schema, table] = path else {
        return Err(PlanError::InvalidRequest(format!(
            "a path descriptor names [schema, table]; got {} element(s)",
            path.len()
        )));
    };
    let relation = exact_relation(pool, schema, table).await?;
    Ok(full_table(relation, options))
}

/// Re-plans the read a ticket describes: the same relation and columns, which must still exist.
pub async fn plan_ticket(
    pool: &PgPool,
    schema: &str,
    table: &str,
    columns: &[String],
    options: &TypeOptions,
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
    Ok(ScanSpec {
        schema: relation.schema,
        table: relation.name,
        columns: plans,
        filter: None,
        limit: None,
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
        filter: None,
        limit: None,
    };
    ExtractPlan { relation, scan }
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

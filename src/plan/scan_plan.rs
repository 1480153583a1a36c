//! A planned read of one relation (a whole table, or an incremental window of it), and the
//! catalog look-ups that find the relation. Each endpoint's [`ReadPlan`] is made here.

use arrow::datatypes::SchemaRef;

use crate::pg::PgPool;
use crate::pg::catalog::{self, Relation};
use crate::pg::catalog_cache;
use crate::pg::partition::Split;
use crate::pg::read::{Read, ReadColumn, ScanRead};
use crate::pg::types::{TypeOptions, arrow_schema};
use crate::plan::PlanError;
use crate::plan::cursor::with_cursor_metadata;
use crate::plan::read_plan::ReadPlan;

/// A planned read: a whole relation, or the window of an incremental request.
#[derive(Debug, Clone)]
pub struct ExtractPlan {
    /// The relation read.
    pub relation: Relation,
    /// What PostgreSQL is asked for (the whole relation, or its cursor window).
    pub scan: ScanRead,
    /// The exported snapshot the endpoints share (split reads only).
    pub snapshot: Option<String>,
    /// Disjoint ranges covering the relation, one endpoint each (none: one endpoint).
    pub splits: Vec<Split>,
    /// The next cursor as JSON `{"entity","cursorField","cursor"}` (incremental requests).
    pub cursor_metadata: Option<String>,
    /// How columns are typed.
    pub options: TypeOptions,
}

impl ExtractPlan {
    /// The Arrow schema of the result, with the next cursor in its metadata (incremental).
    pub fn schema(&self) -> SchemaRef {
        with_cursor_metadata(
            arrow_schema(&self.scan.column_plans(&self.options)),
            self.cursor_metadata.as_deref(),
        )
    }

    /// The `SELECT` of the whole (unsplit) read.
    pub fn select_sql(&self) -> String {
        crate::pg::render::scan_select(&self.scan, &self.scan.column_plans(&self.options))
    }

    /// The `COPY` statement of the whole (unsplit) read.
    pub fn copy_sql(&self) -> String {
        crate::pg::render::scan_copy(&self.scan, &self.scan.column_plans(&self.options))
    }

    /// Each endpoint's plan: the whole scan, or one range of it each, in the shared snapshot.
    pub fn endpoints(&self) -> Vec<ReadPlan> {
        let metadata = self.cursor_metadata.as_deref();
        if self.splits.len() < 2 {
            return vec![ReadPlan::read(
                Read::scan(self.scan.clone(), None),
                metadata,
            )];
        }
        self.splits
            .iter()
            .zip(0..)
            .map(|(split, part)| {
                let mut scan = self.scan.clone();
                scan.filters.push(split.filter());
                let read = Read::scan(scan, self.snapshot.as_deref()).in_part(part);
                ReadPlan::read(read, metadata)
            })
            .collect()
    }
}

/// Every column of `relation`, as a scan without filters.
pub fn full_table(relation: Relation, options: &TypeOptions) -> ExtractPlan {
    let scan = ScanRead {
        schema: relation.schema.clone(),
        table: relation.name.clone(),
        columns: relation.columns.iter().map(ReadColumn::of).collect(),
        filters: Vec::new(),
        limit: None,
    };
    ExtractPlan {
        relation,
        scan,
        snapshot: None,
        splits: Vec::new(),
        cursor_metadata: None,
        options: *options,
    }
}

/// The relation an extraction request's `entity` names, or NOT_FOUND naming it.
pub async fn resolve(
    pool: &PgPool,
    entity: &str,
    default_schema: &str,
) -> Result<Relation, PlanError> {
    catalog::resolve_entity(pool, entity, default_schema)
        .await?
        .ok_or_else(|| {
            PlanError::NotFound(format!(
                "entity {entity:?} not found (or not readable by this role): no table or view of that name in schema {default_schema:?} (or the named schema)"
            ))
        })
}

/// The relation `schema.table` (exact names), or NOT_FOUND: through the catalog cache (one
/// check query; the columns are read only for a relation new or changed since cached).
pub async fn exact_relation(
    pool: &PgPool,
    schema: &str,
    table: &str,
) -> Result<Relation, PlanError> {
    catalog_cache::resolve_exact(pool, &[(schema.to_string(), table.to_string())])
        .await?
        .ok_or_else(|| {
            PlanError::NotFound(format!(
                "relation {schema:?}.{table:?} not found (or not readable by this role)"
            ))
        })
}

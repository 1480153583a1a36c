//! Splitting a read of one relation into endpoint ranges that share one exported snapshot.
//! Full-table extraction and planned SQL statements both split here, so both give the same
//! endpoints for the same relation.
//!
//! A read is split when the relation is a table, materialized view or partitioned table
//! estimated at `partition_min_rows` rows or more (or when the request asks for a number of
//! endpoints). Planning exports a snapshot, computes the ranges inside it
//! ([`crate::pg::partition`]) and holds the exporting transaction for the endpoints
//! ([`crate::pg::snapshot`]); each endpoint reads its range in that snapshot, so their union
//! is the relation as of one moment.

use std::time::Duration;

use crate::pg::PgPool;
use crate::pg::catalog::{Relation, RelationKind};
use crate::pg::partition::{self, Split, SplitMethod};
use crate::pg::snapshot::SnapshotHolder;
use crate::plan::PlanError;

/// Limits and defaults for splitting a read into several endpoints (from configuration).
#[derive(Debug, Clone, Copy)]
pub struct PartitionOptions {
    /// Split tables estimated at this many rows or more.
    pub min_rows: usize,
    /// Most endpoints per request.
    pub max_partitions: usize,
    /// How long the shared snapshot is held (and how far one renewal extends it).
    pub snapshot_ttl: Duration,
    /// The longest renewals may hold the shared snapshot, from planning.
    pub snapshot_max_ttl: Duration,
}

/// A read split into ranges: the exported snapshot every endpoint reads in, and the disjoint
/// ranges covering the relation, one endpoint each (always two or more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitRead {
    /// The exported snapshot's identifier.
    pub snapshot: String,
    /// One range per endpoint.
    pub splits: Vec<Split>,
}

/// Splits the read of `relation` when it is large (or `requested` asks for it): exports a
/// snapshot, computes the ranges inside it, and holds it for the endpoints. `None`: one
/// endpoint reads everything (small relation, views, nothing to split by). Connections are
/// bounded: the held transaction plus one per endpoint fit the pool.
pub async fn split_relation(
    pool: &PgPool,
    relation: &Relation,
    options: &PartitionOptions,
    requested: Option<usize>,
    method: SplitMethod,
) -> Result<Option<SplitRead>, PlanError> {
    let bound = options
        .max_partitions
        .min(pool.max_size().saturating_sub(1));
    let parts = match requested {
        Some(n) => n.min(bound),
        None if relation.estimated_rows.unwrap_or(0) >= options.min_rows as i64 => bound,
        None => 1,
    };
    let splittable = matches!(
        relation.kind,
        RelationKind::Table | RelationKind::MaterializedView | RelationKind::PartitionedTable
    );
    if parts < 2 || !splittable {
        return Ok(None);
    }
    let connection = pool.get().await?;
    let exported = SnapshotHolder::export(&connection).await;
    let id = exported.map_err(|e| pool.error(e))?;
    let splits = partition::plan_splits(pool, &connection, relation.oid, parts, method).await;
    let splits = match splits {
        Ok(splits) if splits.len() > 1 => splits,
        other => {
            let _ = connection.batch_execute("ROLLBACK").await;
            other?;
            return Ok(None);
        }
    };
    pool.snapshots()
        .hold(id.clone(), connection, options.snapshot_ttl, splits.len());
    Ok(Some(SplitRead {
        snapshot: id,
        splits,
    }))
}

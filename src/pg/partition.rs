//! Splitting one relation's rows into disjoint ranges that cover it exactly, so that several
//! endpoints (several PostgreSQL backends) read it side by side.
//!
//! - Block ranges by `ctid` on PostgreSQL 14+ (a TID Range Scan reads only those blocks), for
//!   tables, materialized views and partitioned tables (each partition numbers its own blocks;
//!   the same ranges cover every partition);
//! - ranges of a single-column integer primary key otherwise (PostgreSQL 12/13, or when asked).
//!
//! The first range is open below and the last open above, so rows outside the bounds seen at
//! planning time are still read exactly once. Bounds are computed inside the shared snapshot.

use crate::pg::read::Filter;
use crate::pg::render::filter_sql;
use crate::pg::sql::quote_ident;
use crate::pg::{PgConnection, PgError, PgPool};

/// One range of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// Blocks `[from, to)` by `ctid`; `None` is open.
    Blocks {
        /// First block (inclusive).
        from: Option<u64>,
        /// Block after the last (exclusive).
        to: Option<u64>,
    },
    /// Keys `[from, to)` of an integer column; `None` is open.
    Keys {
        /// The key column.
        column: String,
        /// Lowest key (inclusive).
        from: Option<i64>,
        /// Key after the highest (exclusive).
        to: Option<i64>,
    },
}

impl Split {
    /// The condition selecting this range.
    pub fn filter(&self) -> Filter {
        match self {
            Split::Blocks { from, to } => Filter::blocks(*from, *to),
            Split::Keys { column, from, to } => Filter::keys(column, *from, *to),
        }
    }

    /// The `WHERE` condition selecting this range (identifiers quoted, numbers only).
    pub fn filter_sql(&self) -> String {
        filter_sql(&self.filter())
    }
}

/// How to split, when both ways are possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitMethod {
    /// Block ranges where the server has TID Range Scans (14+), else key ranges.
    Auto,
    /// Ranges of an integer primary key.
    Keys,
}

/// Splits table, materialized view or partitioned table `oid` into at most `parts` ranges,
/// with statements run on `connection` (inside the shared snapshot). One range (`true`) when
/// it cannot be split.
pub async fn plan_splits(
    pool: &PgPool,
    connection: &PgConnection,
    oid: u32,
    parts: usize,
    method: SplitMethod,
) -> Result<Vec<Split>, PgError> {
    if parts < 2 {
        return Ok(vec![Split::Blocks {
            from: None,
            to: None,
        }]);
    }
    let row = connection
        .query_one(
            "SELECT current_setting('server_version_num')::int4,
                    (SELECT max(pg_relation_size(c.oid)) / current_setting('block_size')::int8
                       FROM pg_class c
                      WHERE c.oid = $1 OR c.oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))",
            &[&oid],
        )
        .await
        .map_err(|e| pool.error(e))?;
    let version: i32 = row.get(0);
    let blocks: Option<i64> = row.get(1);
    if method == SplitMethod::Auto && version >= 140000 {
        let blocks = blocks.unwrap_or(0).max(0) as u64;
        return Ok(block_splits(blocks, parts));
    }
    match integer_key(pool, connection, oid).await? {
        Some(column) => {
            let sql = format!(
                "SELECT min({c})::int8, max({c})::int8 FROM {rel}",
                c = quote_ident(&column),
                rel = regclass_name(pool, connection, oid).await?
            );
            let row = connection
                .query_one(sql.as_str(), &[])
                .await
                .map_err(|e| pool.error(e))?;
            let (min, max): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
            Ok(key_splits(&column, min, max, parts))
        }
        None => Ok(vec![Split::Blocks {
            from: None,
            to: None,
        }]),
    }
}

/// `parts` block ranges over `blocks` blocks: `[0,b1) … [bk, ∞)`; fewer when the relation has
/// fewer blocks.
pub fn block_splits(blocks: u64, parts: usize) -> Vec<Split> {
    let parts = (parts as u64).min(blocks).max(1);
    let bounds: Vec<u64> = (1..parts).map(|i| blocks * i / parts).collect();
    let mut splits = Vec::with_capacity(parts as usize);
    let mut from = None;
    for bound in bounds {
        splits.push(Split::Blocks {
            from,
            to: Some(bound),
        });
        from = Some(bound);
    }
    splits.push(Split::Blocks { from, to: None });
    splits
}

/// `parts` key ranges over `[min, max]`: open below and above; one range when empty.
pub fn key_splits(column: &str, min: Option<i64>, max: Option<i64>, parts: usize) -> Vec<Split> {
    let whole = || Split::Keys {
        column: column.to_string(),
        from: None,
        to: None,
    };
    let (Some(min), Some(max)) = (min, max) else {
        return vec![whole()];
    };
    let span = (max as i128) - (min as i128) + 1;
    let parts = (parts as i128).min(span).max(1);
    let mut splits = Vec::with_capacity(parts as usize);
    let mut from = None;
    for i in 1..parts {
        let bound = (min as i128 + span * i / parts) as i64;
        splits.push(Split::Keys {
            column: column.to_string(),
            from,
            to: Some(bound),
        });
        from = Some(bound);
    }
    splits.push(Split::Keys {
        column: column.to_string(),
        from,
        to: None,
    });
    splits
}

/// The relation's single-column smallint/integer/bigint primary key, if it has one.
async fn integer_key(
    pool: &PgPool,
    connection: &PgConnection,
    oid: u32,
) -> Result<Option<String>, PgError> {
    let row = connection
        .query_opt(
            "SELECT a.attname::text
               FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
              WHERE i.indrelid = $1 AND i.indisprimary AND i.indnatts = 1
                AND a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)",
            &[&oid],
        )
        .await
        .map_err(|e| pool.error(e))?;
    Ok(row.map(|r| r.get(0)))
}

/// The relation's name as SQL (`"schema"."name"`), asked of PostgreSQL.
async fn regclass_name(
    pool: &PgPool,
    connection: &PgConnection,
    oid: u32,
) -> Result<String, PgError> {
    let row = connection
        .query_one(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            &[&oid],
        )
        .await
        .map_err(|e| pool.error(e))?;
    Ok(crate::pg::sql::qualified_name(row.get(0), row.get(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ranges_cover_everything_once() {
        assert_eq!(
            block_splits(100, 4)
                .iter()
                .map(Split::filter_sql)
                .collect::<Vec<_>>(),
            vec![
                "ctid < '(25,0)'::tid",
                "ctid >= '(25,0)'::tid AND ctid < '(50,0)'::tid",
                "ctid >= '(50,0)'::tid AND ctid < '(75,0)'::tid",
                "ctid >= '(75,0)'::tid",
            ]
        );
        assert_eq!(block_splits(1, 4).len(), 1);
        assert_eq!(
            block_splits(0, 4),
            vec![Split::Blocks {
                from: None,
                to: None
            }]
        );
    }

    #[test]
    fn key_ranges_cover_everything_once() {
        let splits = key_splits("id", Some(1), Some(10), 3);
        let sql: Vec<String> = splits.iter().map(Split::filter_sql).collect();
        assert_eq!(
            sql,
            vec!["\"id\" < 4", "\"id\" >= 4 AND \"id\" < 7", "\"id\" >= 7"]
        );
        assert_eq!(key_splits("id", None, None, 3).len(), 1);
        assert_eq!(key_splits("id", Some(5), Some(5), 3).len(), 1);
        let extreme = key_splits("id", Some(i64::MIN), Some(i64::MAX), 4);
        assert_eq!(extreme.len(), 4);
    }
}

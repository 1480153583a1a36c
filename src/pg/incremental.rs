//! The PostgreSQL side of incremental extraction: the high-water mark of a cursor column, the
//! snapshot's oldest running transaction, and the commit-ordered (`xmin`) window condition.
//!
//! The cursor-column window itself (`cursor < col <= high_water`) is rendered by the plan's
//! pushdown code; only the commit-ordered condition is written here, because it is
//! PostgreSQL-specific arithmetic on the `xmin` system column that no DataFusion expression
//! describes.

use crate::pg::sql::{qualified_name, quote_ident};
use crate::pg::{PgError, PgPool};

/// 2³²: transaction ids in tuples are 32-bit; pgflight's cursors are 64-bit.
const XID_SPAN: u64 = 1 << 32;

/// Which values of a cursor column take part in its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finite {
    /// Every non-NULL value (integers).
    All,
    /// `isfinite(col)`: dates and timestamps without ±infinity.
    DateTime,
    /// `col <> 'NaN'`: numerics without NaN.
    Numeric,
}

/// The largest non-NULL value of `column` in `schema.table`, as PostgreSQL's text (the session
/// runs with `DateStyle=ISO`, `TimeZone=UTC`); `None` when no row has one. With an index on the
/// column this is a backward index scan of one entry.
pub async fn high_water(
    pool: &PgPool,
    schema: &str,
    table: &str,
    column: &str,
    finite: Finite,
) -> Result<Option<String>, PgError> {
    let col = quote_ident(column);
    let condition = match finite {
        Finite::All => String::new(),
        Finite::DateTime => format!(" WHERE isfinite({col})"),
        Finite::Numeric => format!(" WHERE {col} <> 'NaN'::numeric"),
    };
    let sql = format!(
        "SELECT max({col})::text FROM {}{condition}",
        qualified_name(schema, table)
    );
    let client = pool.get().await?;
    let row = pool
        .observe("incremental", client.query_one(sql.as_str(), &[]))
        .await?;
    Ok(row.get(0))
}

/// The 64-bit id of the oldest transaction still running (every older one has committed or
/// aborted): `pg_snapshot_xmin(pg_current_snapshot())` on PostgreSQL 13+,
/// `txid_snapshot_xmin(txid_current_snapshot())` on 12.
pub async fn snapshot_xmin(pool: &PgPool) -> Result<u64, PgError> {
    let client = pool.get().await?;
    let version: i32 = pool
        .observe(
            "incremental",
            client.query_one("SELECT current_setting('server_version_num')::int", &[]),
        )
        .await?
        .get(0);
    let sql = if version >= 130_000 {
        "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    } else {
        "SELECT txid_snapshot_xmin(txid_current_snapshot())"
    };
    let xmin: i64 = pool
        .observe("incremental", client.query_one(sql, &[]))
        .await?
        .get(0);
    Ok(xmin.max(0) as u64)
}

/// The condition selecting row versions written by transactions with 64-bit ids in
/// `[from, to)` (`from` absent: every id below `to`).
///
/// A tuple's `xmin` holds the low 32 bits of its transaction id. Every id in the window lies in
/// `(to - 2³², to)`, so it is recovered from its distance below `to`:
/// `d = (to mod 2³² - xmin) mod 2³²`, and the row qualifies when `1 <= d <= to - from`. Ids at
/// or above `to` (transactions still running when `to` was taken, or later) have a distance
/// near 2³² and fall outside, as long as fewer than 2³² − (to − from) transactions separate
/// them from `to`. The condition reads every row (no index serves `xmin`).
pub fn xmin_window_sql(from: Option<u64>, to: u64) -> String {
    let span = to.saturating_sub(from.unwrap_or(0)).min(XID_SPAN - 1);
    if span == 0 {
        return "false".to_string();
    }
    let low = to % XID_SPAN;
    format!(
        "((({low}::bigint - xmin::text::bigint + {XID_SPAN}) % {XID_SPAN}) BETWEEN 1 AND {span})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmin_windows_are_numbers_only() {
        assert_eq!(
            xmin_window_sql(Some(100), 250),
            "(((250::bigint - xmin::text::bigint + 4294967296) % 4294967296) BETWEEN 1 AND 150)"
        );
        assert_eq!(xmin_window_sql(Some(250), 250), "false");
        assert_eq!(xmin_window_sql(Some(300), 250), "false");
        // Past a wraparound: the low 32 bits, a span capped below 2³².
        assert_eq!(
            xmin_window_sql(None, (3 << 32) + 7),
            "(((7::bigint - xmin::text::bigint + 4294967296) % 4294967296) BETWEEN 1 AND 4294967295)"
        );
    }
}

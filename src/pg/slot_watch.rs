//! Watches the pgoutput slots of the database: every `slot_check_interval` their lag (WAL bytes
//! retained since the confirmed position) and age (transactions since their `catalog_xmin`)
//! become the gauges `pgflight_slot_lag_bytes{slot}` and `pgflight_slot_xmin_age{slot}`, and a
//! slot retaining more than `slot_lag_warn_bytes` is warned about in the log. A slot nobody
//! reads keeps WAL until the disk fills (or `max_slot_wal_keep_size` invalidates it).

use std::sync::Arc;
use std::time::Duration;

use crate::pg::PgPool;
use crate::pg::slot::{SlotLag, lags};

/// WAL bytes a slot retains, by `slot`.
pub const SLOT_LAG_BYTES: &str = "pgflight_slot_lag_bytes";
/// Transactions since a slot's `catalog_xmin`, by `slot`.
pub const SLOT_XMIN_AGE: &str = "pgflight_slot_xmin_age";

/// Describes the gauges to the recorder (HELP lines).
pub fn describe() {
    metrics::describe_gauge!(
        SLOT_LAG_BYTES,
        metrics::Unit::Bytes,
        "WAL bytes a pgoutput slot of this database retains (current WAL position minus the slot's confirmed position)"
    );
    metrics::describe_gauge!(
        SLOT_XMIN_AGE,
        "Transactions since a pgoutput slot's catalog_xmin (catalog rows vacuum must keep)"
    );
}

/// Measures the slots every `interval`, the first time one interval after start, forever (the
/// server aborts the task when it stops). A failure (PostgreSQL unreachable) is counted in
/// `postgres_errors_total` like any other and logged at debug level.
pub async fn watch(pool: Arc<PgPool>, interval: Duration, warn_bytes: usize) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match lags(&pool).await {
            Ok(slots) => record(&slots, warn_bytes),
            Err(err) => tracing::debug!(error = %err, "could not measure replication slots"),
        }
    }
}

/// Sets the gauges and warns about slots above `warn_bytes`.
fn record(slots: &[SlotLag], warn_bytes: usize) {
    for slot in slots {
        metrics::gauge!(SLOT_LAG_BYTES, "slot" => slot.slot.clone()).set(slot.lag_bytes as f64);
        metrics::gauge!(SLOT_XMIN_AGE, "slot" => slot.slot.clone()).set(slot.xmin_age as f64);
        if slot.lag_bytes > i64::try_from(warn_bytes).unwrap_or(i64::MAX) {
            tracing::warn!(
                slot = %slot.slot,
                lag_bytes = slot.lag_bytes,
                threshold = warn_bytes,
                "replication slot retains more WAL than slot_lag_warn_bytes: read its changes, \
                 or drop it (DropChangeSlot); max_slot_wal_keep_size caps what PostgreSQL keeps"
            );
        }
    }
}

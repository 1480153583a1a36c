//! Exported snapshots shared by the endpoints of one split request.
//!
//! Planning opens a `REPEATABLE READ READ ONLY` transaction and exports its snapshot
//! (`pg_export_snapshot()`); each endpoint's DoGet imports it (`SET TRANSACTION SNAPSHOT`), so
//! the union of the endpoints is the table as of one moment. The exporting transaction must
//! stay open until every endpoint has imported the snapshot: it is held here, bounded in time
//! (`snapshot_ttl`) and released as soon as every endpoint has started. An open transaction
//! holds back vacuum, hence the bound. A slow reader may renew it (RenewFlightEndpoint), by
//! `snapshot_ttl` at a time, never beyond `snapshot_max_ttl` after it was exported. This is
//! the one piece of in-memory state a DoGet depends on; a DoGet after expiry fails with a
//! clear message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::pg::{PgConnection, PgError};

/// How often expired snapshots are looked for.
const REAP_PERIOD: Duration = Duration::from_millis(500);

struct Held {
    connection: PgConnection,
    exported: Instant,
    expires: Instant,
    endpoints_left: usize,
}

/// Exporting transactions held open for their endpoints.
pub struct SnapshotHolder {
    held: Arc<Mutex<HashMap<String, Held>>>,
    reaper: JoinHandle<()>,
}

impl SnapshotHolder {
    /// An empty holder; expired snapshots are released in the background.
    pub fn new() -> SnapshotHolder {
        let held: Arc<Mutex<HashMap<String, Held>>> = Arc::default();
        let reaper = {
            let held = held.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(REAP_PERIOD);
                loop {
                    tick.tick().await;
                    let now = Instant::now();
                    let expired: Vec<Held> = {
                        let mut map = lock(&held);
                        let ids: Vec<String> = map
                            .iter()
                            .filter(|(_, h)| h.expires <= now)
                            .map(|(id, _)| id.clone())
                            .collect();
                        ids.iter().filter_map(|id| map.remove(id)).collect()
                    };
                    for snapshot in expired {
                        release(snapshot).await;
                    }
                }
            })
        };
        SnapshotHolder { held, reaper }
    }

    /// Opens a repeatable-read, read-only transaction on `connection` and exports its
    /// snapshot; returns its identifier. Statements run on `connection` afterwards see that
    /// snapshot, until [`SnapshotHolder::hold`] takes it.
    pub async fn export(connection: &PgConnection) -> Result<String, tokio_postgres::Error> {
        connection
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let row = connection
            .query_one("SELECT pg_export_snapshot()", &[])
            .await?;
        Ok(row.get(0))
    }

    /// Keeps the exporting transaction open for `ttl`, or until `endpoints` endpoints have
    /// imported it.
    pub fn hold(&self, id: String, connection: PgConnection, ttl: Duration, endpoints: usize) {
        let now = Instant::now();
        let held = Held {
            connection,
            exported: now,
            expires: now + ttl,
            endpoints_left: endpoints,
        };
        lock(&self.held).insert(id, held);
    }

    /// When snapshot `id` stops being held, if it is held now.
    pub fn expires(&self, id: &str) -> Option<Instant> {
        lock(&self.held).get(id).map(|held| held.expires)
    }

    /// Holds snapshot `id` until `ttl` from now, but never longer than `max_ttl` after it was
    /// exported (nor shorter than it was held already): its new expiry, or `None` when it is
    /// no longer held (expired, or every endpoint has started).
    pub fn renew(&self, id: &str, ttl: Duration, max_ttl: Duration) -> Option<Instant> {
        let now = Instant::now();
        let mut map = lock(&self.held);
        let held = map.get_mut(id).filter(|held| held.expires > now)?;
        held.expires = renewed(held.exported, held.expires, now, ttl, max_ttl);
        Some(held.expires)
    }

    /// Called once an endpoint has imported snapshot `id`; the last one releases it.
    pub async fn imported(&self, id: &str) {
        let finished = {
            let mut map = lock(&self.held);
            match map.get_mut(id) {
                Some(held) => {
                    held.endpoints_left = held.endpoints_left.saturating_sub(1);
                    if held.endpoints_left == 0 {
                        map.remove(id)
                    } else {
                        None
                    }
                }
                None => None,
            }
        };
        if let Some(held) = finished {
            release(held).await;
        }
    }

    /// Snapshots held now.
    pub fn len(&self) -> usize {
        lock(&self.held).len()
    }

    /// Whether no snapshot is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SnapshotHolder {
    fn default() -> Self {
        SnapshotHolder::new()
    }
}

impl Drop for SnapshotHolder {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

/// A snapshot's expiry after a renewal at `now`: `ttl` from now, but never more than `max_ttl`
/// after it was `exported`, nor earlier than it `expires` already.
fn renewed(
    exported: Instant,
    expires: Instant,
    now: Instant,
    ttl: Duration,
    max_ttl: Duration,
) -> Instant {
    expires.max((now + ttl).min(exported + max_ttl))
}

fn lock(held: &Mutex<HashMap<String, Held>>) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ends the exporting transaction and returns its connection to the pool.
async fn release(held: Held) {
    if let Err(err) = held.connection.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %err, "could not end a snapshot's transaction");
    }
}

/// Whether `id` has the form of a PostgreSQL snapshot identifier (e.g. `00000003-0000001B-1`),
/// so that it can be put into `SET TRANSACTION SNAPSHOT '…'`, which takes no parameters.
pub fn is_snapshot_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The statements an endpoint runs before reading: the exported snapshot, imported.
pub fn import_sql(id: &str) -> Result<String, PgError> {
    if !is_snapshot_id(id) {
        return Err(PgError::SnapshotExpired);
    }
    Ok(format!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{id}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_extend_by_ttl_up_to_max_ttl_and_never_shorten() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Planned at t0 with a 60 s ttl, max 600 s: a renewal at t0+50 holds until t0+110.
        assert_eq!(
            renewed(t0, t0 + s(60), t0 + s(50), s(60), s(600)),
            t0 + s(110)
        );
        // Near the bound it stops at t0+600.
        assert_eq!(
            renewed(t0, t0 + s(580), t0 + s(570), s(60), s(600)),
            t0 + s(600)
        );
        // A renewal never shortens what is held already.
        assert_eq!(
            renewed(t0, t0 + s(100), t0 + s(10), s(60), s(600)),
            t0 + s(100)
        );
    }

    #[test]
    fn only_snapshot_shaped_ids_reach_sql() {
        assert!(is_snapshot_id("00000003-0000001B-1"));
        assert!(
            import_sql("00000003-0000001B-1")
                .unwrap()
                .ends_with("'00000003-0000001B-1'")
        );
        for bad in ["", "1'; DROP TABLE t; --", "abc xyz", &"A".repeat(65)] {
            assert!(!is_snapshot_id(bad), "{bad}");
            assert!(import_sql(bad).is_err());
        }
    }
}

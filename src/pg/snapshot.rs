//! Exported snapshots shared by the endpoints of one split request.
//!
//! Planning opens a `REPEATABLE READ READ ONLY` transaction and exports its snapshot
//! (`pg_export_snapshot()`); each endpoint's DoGet imports it (`SET TRANSACTION SNAPSHOT`), so
//! the union of the endpoints is the table as of one moment, whichever pgflight instance
//! reads each endpoint (the snapshot is PostgreSQL's, not the instance's). The exporting
//! transaction must stay open until every endpoint has imported the snapshot: it is held
//! here, bounded in time (`snapshot_ttl`), and released as soon as every endpoint has started.
//! An open transaction holds back vacuum, hence the bound and the early release. A slow reader
//! may renew it (RenewFlightEndpoint), by `snapshot_ttl` at a time, never beyond
//! `snapshot_max_ttl` after it was exported.
//!
//! How the holder learns that an endpoint started, on any instance: PostgreSQL carries the
//! signal. An endpoint's transaction tags its backend (`s=<id>/<n>` in its `application_name`,
//! undone by its ROLLBACK, [`crate::pg::backend_tag`]), and the holder looks for
//! those tags in `pg_stat_activity` every [`POLL_PERIOD`], on the held connection itself (no
//! extra connection; `application_name` is visible to every role). An endpoint read on the
//! holding instance also says so in memory at once; one read elsewhere that ends before
//! [`TAG_VISIBLE`] keeps its transaction (and tag) open in the background until then, so
//! that no look misses it (the client does not wait for that). Should a look still miss one
//! (the holder's query failed), the snapshot is held to `snapshot_ttl`, as without the signal.
//! The holder's own backend is tagged `pgflight snapshot <id>`, so a DBA sees what it holds.
//!
//! This is the one piece of in-memory state a DoGet depends on; a DoGet after expiry fails
//! with a clear message.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::pg::backend_tag;
use crate::pg::{PgConnection, PgError};

/// How often a holder looks in `pg_stat_activity` for the endpoints that started.
pub const POLL_PERIOD: Duration = Duration::from_millis(200);

/// How long, at least, an endpoint keeps its tag when another instance holds its snapshot:
/// a read that ends sooner keeps its transaction (and tag) open in the background until then,
/// so that the holder, looking every [`POLL_PERIOD`], sees it.
pub const TAG_VISIBLE: Duration = Duration::from_millis(2 * POLL_PERIOD.as_millis() as u64);

/// What the holder of one snapshot knows.
struct Progress {
    exported: Instant,
    expires: Instant,
    endpoints: usize,
    started: HashSet<u32>,
    wake: Arc<Notify>,
    task: Option<AbortHandle>,
}

type HeldMap = Arc<Mutex<HashMap<String, Progress>>>;

/// Exporting transactions held open for their endpoints, one task each.
#[derive(Default)]
pub struct SnapshotHolder {
    held: HeldMap,
}

impl SnapshotHolder {
    /// An empty holder.
    pub fn new() -> SnapshotHolder {
        SnapshotHolder::default()
    }

    /// Opens a repeatable-read, read-only transaction on `connection`, exports its snapshot
    /// and tags the backend with it; returns its identifier. Statements run on `connection`
    /// afterwards see that snapshot, until [`SnapshotHolder::hold`] takes it.
    pub async fn export(connection: &PgConnection) -> Result<String, tokio_postgres::Error> {
        connection
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let row = connection
            .query_one("SELECT pg_export_snapshot()", &[])
            .await?;
        let id: String = row.get(0);
        if is_snapshot_id(&id) {
            let tag = holder_tag(&id);
            connection
                .batch_execute(&format!("SET LOCAL application_name = '{tag}'"))
                .await?;
        }
        Ok(id)
    }

    /// Keeps the exporting transaction open for `ttl`, or until each of the `endpoints`
    /// endpoints (parts `0..endpoints`) has been seen to start.
    pub fn hold(&self, id: String, connection: PgConnection, ttl: Duration, endpoints: usize) {
        let wake = Arc::new(Notify::new());
        let exported = Instant::now();
        let progress = Progress {
            exported,
            expires: exported + ttl,
            endpoints,
            started: HashSet::new(),
            wake: wake.clone(),
            task: None,
        };
        lock(&self.held).insert(id.clone(), progress);
        let task = tokio::spawn(keep(self.held.clone(), id.clone(), connection, wake));
        if let Some(progress) = lock(&self.held).get_mut(&id) {
            progress.task = Some(task.abort_handle());
        }
    }

    /// When snapshot `id` stops being held, if it is held now.
    pub fn expires(&self, id: &str) -> Option<std::time::Instant> {
        lock(&self.held).get(id).map(|held| held.expires.into_std())
    }

    /// Holds snapshot `id` until `ttl` from now, but never longer than `max_ttl` after it was
    /// exported (nor shorter than it was held already): its new expiry, or `None` when it is
    /// no longer held (expired, or every endpoint has started).
    pub fn renew(&self, id: &str, ttl: Duration, max_ttl: Duration) -> Option<std::time::Instant> {
        let now = Instant::now();
        let mut map = lock(&self.held);
        let held = map.get_mut(id).filter(|held| held.expires > now)?;
        held.expires = renewed(held.exported, held.expires, now, ttl, max_ttl);
        held.wake.notify_one();
        Some(held.expires.into_std())
    }

    /// Called once endpoint `part` has imported snapshot `id` on this instance; whether this
    /// instance holds it (otherwise its holder learns from the endpoint's tag).
    pub fn imported(&self, id: &str, part: u32) -> bool {
        let mut held = lock(&self.held);
        let Some(progress) = held.get_mut(id) else {
            return false;
        };
        progress.started.insert(part);
        progress.wake.notify_one();
        true
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

impl Drop for SnapshotHolder {
    fn drop(&mut self) {
        for progress in lock(&self.held).values() {
            if let Some(task) = &progress.task {
                task.abort();
            }
        }
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

fn lock(
    held: &Mutex<HashMap<String, Progress>>,
) -> std::sync::MutexGuard<'_, HashMap<String, Progress>> {
    held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Holds snapshot `id`'s transaction until every endpoint started or it expires (a renewal
/// moves its expiry and wakes this), then ends it.
async fn keep(held: HeldMap, id: String, connection: PgConnection, wake: Arc<Notify>) {
    let token = backend_tag::snapshot_token(&id);
    let mut look = tokio::time::interval(POLL_PERIOD);
    look.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let released_because = loop {
        if every_endpoint_started(&held, &id) {
            break "every endpoint started";
        }
        let Some(deadline) = lock(&held).get(&id).map(|p| p.expires) else {
            break "forgotten";
        };
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => break "snapshot_ttl passed",
            () = wake.notified() => {}
            _ = look.tick() => match started_parts(&connection, &token).await {
                Ok(parts) => {
                    if let Some(progress) = lock(&held).get_mut(&id) {
                        progress.started.extend(parts);
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not look for a snapshot's endpoints");
                    break "its connection failed";
                }
            },
        }
    };
    lock(&held).remove(&id);
    if let Err(err) = connection.batch_execute("ROLLBACK").await {
        tracing::warn!(error = %err, "could not end a snapshot's transaction");
    }
    tracing::debug!(snapshot = %id, reason = released_because, "exported snapshot released");
}

fn every_endpoint_started(held: &Mutex<HashMap<String, Progress>>, id: &str) -> bool {
    lock(held)
        .get(id)
        .is_none_or(|p| (0..p.endpoints).all(|part| p.started.contains(&(part as u32))))
}

/// The parts of the endpoints whose backends carry `token` now (on any instance).
async fn started_parts(
    connection: &PgConnection,
    token: &str,
) -> Result<Vec<u32>, tokio_postgres::Error> {
    // pg_stat_activity is read once per transaction unless its copy is cleared.
    connection
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await?;
    let rows = connection
        .query(
            "SELECT application_name FROM pg_stat_activity
              WHERE position(' ' || $1 IN application_name) > 0",
            &[&token],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| backend_tag::snapshot_part(row.get::<_, Option<&str>>(0)?, token))
        .collect())
}

/// The holder's backend tag (`application_name`) for snapshot `id`.
fn holder_tag(id: &str) -> String {
    format!("pgflight snapshot {id}")
}

/// Whether `id` has the form of a PostgreSQL snapshot identifier (e.g. `00000003-0000001B-1`),
/// so that it can be put into `SET TRANSACTION SNAPSHOT '…'`, which takes no parameters.
pub fn is_snapshot_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The statements an endpoint runs before reading: the exported snapshot imported (its
/// backend is then tagged so that the holder sees it started, [`crate::pg::backend_tag`]).
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
                .ends_with("; SET TRANSACTION SNAPSHOT '00000003-0000001B-1'")
        );
        for bad in ["", "1'; DROP TABLE t; --", "abc xyz", &"A".repeat(65)] {
            assert!(!is_snapshot_id(bad), "{bad}");
            assert!(import_sql(bad).is_err());
        }
    }
}

//! Cancelling a query's reads by its query id (Flight's CancelFlightInfo).
//!
//! Every endpoint of one FlightInfo carries the same random query id. A read with one registers
//! here while it runs (its connection's cancel token, and a stop signal for its read loop) and
//! tags its backend with it (`q=<id>` in its transaction's `application_name`,
//! [`crate::pg::backend_tag`]). A cancel then reaches reads on this instance through
//! PostgreSQL's cancel protocol (no pool connection needed) and stops their loops, and reads of
//! other pgflight instances through PostgreSQL: `pg_cancel_backend` on the active backends of
//! the same role tagged with the query. The id is remembered as cancelled, so a later read of
//! it on this instance is refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::CancelToken;

use crate::pg::backend_tag;
use crate::pg::{PgError, PgPool};

/// Most query ids remembered as cancelled; the oldest are forgotten first.
const MAX_REMEMBERED: usize = 100_000;

/// How many times, at most, the backends of other instances are signalled.
const CANCEL_ROUNDS: usize = 10;

/// The pause before the backends still running the query are signalled again.
const CANCEL_AGAIN_AFTER: Duration = Duration::from_millis(50);

/// Longest query id accepted (pgflight makes 32 hex digits).
const MAX_ID_LEN: usize = 64;

/// Whether `id` has the form of a query id (hex digits only), so it can go into a tag.
pub fn is_query_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit())
}

struct Running {
    serial: u64,
    token: CancelToken,
    stop: watch::Sender<bool>,
}

#[derive(Default)]
struct State {
    running: HashMap<String, Vec<Running>>,
    cancelled: HashMap<String, Instant>,
    serial: u64,
}

/// The reads running on this instance by query id, and the ids cancelled here.
#[derive(Default)]
pub struct RunningReads {
    state: Arc<Mutex<State>>,
}

/// A read's place in [`RunningReads`]; dropping it removes the read.
pub struct Registration {
    state: Arc<Mutex<State>>,
    id: String,
    serial: u64,
    stop: watch::Receiver<bool>,
}

impl Registration {
    /// Resolves once the read's query is cancelled (never, otherwise).
    pub async fn stopped(&mut self) {
        if self.stop.wait_for(|stopped| *stopped).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if let Some(reads) = state.running.get_mut(&self.id) {
            reads.retain(|r| r.serial != self.serial);
            if reads.is_empty() {
                state.running.remove(&self.id);
            }
        }
    }
}

impl RunningReads {
    /// Registers a read of query `id` running on the connection of `token`; refused when the
    /// query was cancelled here already.
    pub fn register(&self, id: &str, token: CancelToken) -> Result<Registration, PgError> {
        let mut state = lock(&self.state);
        if state.cancelled.contains_key(id) {
            return Err(cancelled());
        }
        state.serial += 1;
        let serial = state.serial;
        let (stop, receiver) = watch::channel(false);
        state
            .running
            .entry(id.to_string())
            .or_default()
            .push(Running {
                serial,
                token,
                stop,
            });
        Ok(Registration {
            state: self.state.clone(),
            id: id.to_string(),
            serial,
            stop: receiver,
        })
    }

    /// Whether query `id` was cancelled on this instance.
    pub fn is_cancelled(&self, id: &str) -> bool {
        lock(&self.state).cancelled.contains_key(id)
    }

    /// Marks query `id` cancelled for `remember` (a later read of it is refused), stops its
    /// running reads, and returns their connections' cancel tokens.
    fn mark_cancelled(&self, id: &str, remember: Duration) -> Vec<CancelToken> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state.cancelled.retain(|_, until| *until > now);
        if state.cancelled.len() >= MAX_REMEMBERED
            && let Some(oldest) = state
                .cancelled
                .iter()
                .min_by_key(|(_, until)| **until)
                .map(|(id, _)| id.clone())
        {
            state.cancelled.remove(&oldest);
        }
        state.cancelled.insert(id.to_string(), now + remember);
        let reads = state.running.get(id).map(Vec::as_slice).unwrap_or_default();
        reads
            .iter()
            .map(|read| {
                let _ = read.stop.send(true);
                read.token.clone()
            })
            .collect()
    }
}

/// What a cancel reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled {
    /// Reads of the query running on this instance.
    pub here: usize,
    /// Other backends of the role running the query's statements (other instances).
    pub elsewhere: u64,
}

/// Cancels every read of query `id`: on this instance through the cancel protocol, on other
/// instances through `pg_cancel_backend` (same role); the id stays cancelled here for
/// `remember`.
pub async fn cancel(pool: &PgPool, id: &str, remember: Duration) -> Result<Cancelled, PgError> {
    if !is_query_id(id) {
        return Err(PgError::InvalidRead(format!("{id:?} is not a query id")));
    }
    let tokens = pool.reads().mark_cancelled(id, remember);
    let here = tokens.len();
    for token in tokens {
        pool.cancel(token).await;
    }
    let client = pool.get().await?;
    // Only statements of this role can be cancelled by it (and only they are visible).
    // PostgreSQL drops a cancel that reaches a backend between two protocol messages (a
    // pipelined statement just starting): the backends still running it are signalled again.
    let mut elsewhere = 0;
    for attempt in 0..CANCEL_ROUNDS {
        if attempt > 0 {
            tokio::time::sleep(CANCEL_AGAIN_AFTER).await;
        }
        let row = client
            .query_one(
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND usename = current_user \
                   AND pid <> pg_backend_pid() AND state = 'active' \
                   AND position(' ' || $1 || ' ' IN application_name || ' ') > 0",
                &[&backend_tag::query_token(id)],
            )
            .await
            .map_err(|e| pool.error(e))?;
        let signalled: i64 = row.get(0);
        if signalled == 0 {
            break;
        }
        elsewhere = elsewhere.max(signalled);
    }
    tracing::info!(query = id, here, elsewhere, "query cancelled");
    Ok(Cancelled {
        here,
        elsewhere: elsewhere.max(0) as u64,
    })
}

/// The error of a read whose query was cancelled.
pub fn cancelled() -> PgError {
    PgError::Cancelled {
        message: "the query was cancelled by the client (CancelFlightInfo)".into(),
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hex_ids_are_query_ids() {
        assert!(is_query_id("0123456789abcdef0123456789ABCDEF"));
        for bad in ["", "*/ DROP TABLE t; /*", "abc xyz", &"a".repeat(65)] {
            assert!(!is_query_id(bad), "{bad}");
        }
    }
}

//! `max_streams_per_user`: at most that many DoGet streams of one user run at once; one more
//! is refused at once with RESOURCE_EXHAUSTED instead of queueing for a pooled connection.
//! The user is the authenticated identity (with `auth = "none"` every client is the same,
//! anonymous, user). Counted per pgflight instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A DoGet refused because the user has as many streams running as allowed.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "user {user:?} already has {limit} DoGet stream(s) running (max_streams_per_user); finish or \
     cancel one, then retry"
)]
pub struct TooManyStreams {
    /// The user (empty: anonymous).
    pub user: String,
    /// The configured limit.
    pub limit: usize,
}

/// Running streams per user.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    limit: Option<usize>,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// One running stream; dropping it (the stream ended or was dropped) frees its place.
#[derive(Debug)]
pub struct StreamPermit {
    user: String,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamLimits {
    /// At most `limit` streams per user (`None`: unlimited).
    pub fn new(limit: Option<usize>) -> StreamLimits {
        StreamLimits {
            limit,
            running: Arc::default(),
        }
    }

    /// A place for one more stream of `user`, or the refusal.
    pub fn acquire(&self, user: &str) -> Result<Option<StreamPermit>, TooManyStreams> {
        let Some(limit) = self.limit else {
            return Ok(None);
        };
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let count = running.entry(user.to_string()).or_insert(0);
        if *count >= limit {
            return Err(TooManyStreams {
                user: user.to_string(),
                limit,
            });
        }
        *count += 1;
        Ok(Some(StreamPermit {
            user: user.to_string(),
            running: self.running.clone(),
        }))
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = running.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_limited_per_user_and_freed_on_drop() {
        let limits = StreamLimits::new(Some(2));
        let a1 = limits.acquire("a").unwrap();
        let _a2 = limits.acquire("a").unwrap();
        assert!(limits.acquire("a").is_err());
        let _b = limits.acquire("b").unwrap();
        drop(a1);
        assert!(limits.acquire("a").is_ok());
        assert!(StreamLimits::new(None).acquire("a").unwrap().is_none());
    }
}

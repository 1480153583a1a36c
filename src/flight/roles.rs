//! `auth = "postgres"`: a Flight SQL service, with a connection pool of its own, per
//! PostgreSQL role, so each client's queries run as that role (its privileges, its row-level
//! security). A role's service is made at its first login — which checks the password by
//! logging in — and dropped after `idle_timeout` without use; at most [`MAX_ROLES`] exist at
//! once (the least recently used idle one makes room).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ring::digest;
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinHandle;
use tonic::Status;

use crate::config::Config;
use crate::flight::PgFlightSqlService;
use crate::flight::refusal::Refusal;
use crate::flight::signing::HandleSigner;
use crate::flight::status::{pg_status, refusal_status};
use crate::pg::{PgError, PgPool};

/// Most role services held at once.
pub const MAX_ROLES: usize = 64;

struct Entry {
    service: Arc<PgFlightSqlService>,
    last_used: Instant,
}

type Entries = Arc<Mutex<HashMap<Vec<u8>, Entry>>>;

/// The services of the roles that logged in.
pub struct RoleServices {
    base: Arc<Config>,
    signer: Arc<HandleSigner>,
    entries: Entries,
    reaper: JoinHandle<()>,
}

impl RoleServices {
    /// No roles yet; `base` is the configuration each role's pool copies (its own user and
    /// password instead of the configured ones).
    pub fn new(base: Arc<Config>, signer: Arc<HandleSigner>) -> RoleServices {
        let entries: Entries = Arc::default();
        let reaper = {
            let entries = entries.clone();
            let idle = base.idle_timeout;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval((idle / 4).max(Duration::from_secs(1)));
                loop {
                    tick.tick().await;
                    lock(&entries).retain(|_, e| e.last_used.elapsed() < idle);
                }
            })
        };
        RoleServices {
            base,
            signer,
            entries,
            reaper,
        }
    }

    /// The service of `role`, logging in with `password` the first time (a wrong password is
    /// UNAUTHENTICATED). The cache is keyed by role and password, so a wrong password never
    /// reaches a service made with the right one.
    pub async fn service(
        &self,
        role: &str,
        password: &SecretString,
    ) -> Result<Arc<PgFlightSqlService>, Status> {
        let key = {
            let mut material = role.as_bytes().to_vec();
            material.push(0);
            material.extend_from_slice(password.expose_secret().as_bytes());
            digest::digest(&digest::SHA256, &material).as_ref().to_vec()
        };
        if let Some(entry) = lock(&self.entries).get_mut(&key) {
            entry.last_used = Instant::now();
            return Ok(entry.service.clone());
        }
        let mut config = (*self.base).clone();
        config.username = role.to_string();
        config.password = Some(password.clone());
        let pool = PgPool::new(&config).map_err(|e| pg_status(&e))?;
        if let Err(err) = pool.ping().await {
            return Err(match err {
                PgError::Auth { .. } => {
                    crate::flight::metrics::auth_failure("credentials");
                    refusal_status(&Refusal::Unauthenticated(err.to_string()))
                }
                other => pg_status(&other),
            });
        }
        let service = Arc::new(PgFlightSqlService::new(
            Arc::new(pool),
            Arc::new(config),
            self.signer.clone(),
        ));
        let mut entries = lock(&self.entries);
        if entries.len() >= MAX_ROLES
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(
            key,
            Entry {
                service: service.clone(),
                last_used: Instant::now(),
            },
        );
        Ok(service)
    }
}

impl Drop for RoleServices {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

fn lock(
    entries: &Mutex<HashMap<Vec<u8>, Entry>>,
) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry>> {
    entries.lock().unwrap_or_else(|p| p.into_inner())
}

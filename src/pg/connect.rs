//! The PostgreSQL connection pool: deadpool over tokio-postgres, TLS per sslmode, startup
//! settings that make results independent of the server's and the role's own settings, and a
//! reaper that closes connections idle for longer than `idle_timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::Instrument;

use crate::config::{Config, SslMode};
use crate::pg::cancel::RunningReads;
use crate::pg::catalog_cache::CatalogCache;
use crate::pg::error::{ConnectTarget, PgError};
use crate::pg::metrics::{self, QueryTimer};
use crate::pg::roles;
use crate::pg::snapshot::SnapshotHolder;
use crate::pg::tls;

/// A connection handed out by the pool; it goes back to the pool when dropped.
pub type PgConnection = deadpool_postgres::Object;

/// A bounded pool of read-only PostgreSQL sessions.
pub struct PgPool {
    pool: Pool,
    /// The TLS connector, reused for cancel requests (`None` with sslmode disable).
    tls: Option<MakeRustlsConnect>,
    target: ConnectTarget,
    size: usize,
    reaper: JoinHandle<()>,
    snapshots: SnapshotHolder,
    reads: RunningReads,
    catalog_cache: CatalogCache,
}

impl PgPool {
    /// Builds the pool from the configuration. No connection is opened until one is needed.
    /// Must be called inside a tokio runtime (the idle reaper is spawned here).
    ///
    /// Unless `allow_superuser` is set, every new connection first reads its role's powers
    /// ([`roles::role_powers`]) and is refused with [`PgError::UnsafeRole`] when the role is a
    /// superuser, has BYPASSRLS or reaches the server's files: such a pool never hands out a
    /// connection, whenever PostgreSQL first answers.
    pub fn new(config: &Config) -> Result<Self, PgError> {
        Self::build(config, !config.allow_superuser, None)
    }

    /// As [`PgPool::new`], every session then switched to `role` (`SET ROLE`, which needs the
    /// configured user to be a member of it): the users file's `name:hash:role` lines. The
    /// role, not the login, is checked for unsafe powers.
    pub fn with_role(config: &Config, role: &str) -> Result<Self, PgError> {
        Self::build(config, !config.allow_superuser, Some(role.to_string()))
    }

    /// A pool that serves any role (for `pgflight check`, which reports the role's powers
    /// instead of refusing them).
    pub fn unchecked(config: &Config) -> Result<Self, PgError> {
        Self::build(config, false, None)
    }

    fn build(
        config: &Config,
        refuse_unsafe_roles: bool,
        role: Option<String>,
    ) -> Result<Self, PgError> {
        let pg_config = session_config(config);
        let manager_config = ManagerConfig {
            // No round trip on checkout: a connection whose socket closed (a server restart,
            // a terminated backend) is known closed and replaced; a read that still meets one
            // before PostgreSQL answered retries on a new one ([`crate::pg::source`]).
            recycling_method: RecyclingMethod::Fast,
        };
        let tls_connect = tls::client_config(config)?.map(MakeRustlsConnect::new);
        let manager = match &tls_connect {
            Some(tls) => Manager::from_config(pg_config, tls.clone(), manager_config),
            None => Manager::from_config(pg_config, tokio_postgres::NoTls, manager_config),
        };
        let mut builder = Pool::builder(manager);
        if refuse_unsafe_roles || role.is_some() {
            let database = config.database.clone();
            let schema = config.schema.clone();
            builder = builder.post_create(Hook::async_fn(move |client, _| {
                let (database, schema, role) = (database.clone(), schema.clone(), role.clone());
                Box::pin(async move {
                    if let Some(role) = role {
                        let set = format!("SET ROLE {}", crate::pg::sql::quote_ident(&role));
                        client
                            .batch_execute(&set)
                            .await
                            .map_err(HookError::Backend)?;
                    }
                    if !refuse_unsafe_roles {
                        return Ok(());
                    }
                    let powers = roles::role_powers(client)
                        .await
                        .map_err(HookError::Backend)?;
                    if powers.dangers().is_empty() {
                        Ok(())
                    } else {
                        Err(HookError::message(powers.refusal(&database, &schema)))
                    }
                })
            }));
        }
        let pool = builder
            .max_size(config.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            // Last in, first out: busy periods reuse the warm connections and the rest age out.
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .build()
            .map_err(|e| PgError::Setup(format!("cannot build the connection pool: {e}")))?;
        let reaper = spawn_idle_reaper(pool.clone(), config.idle_timeout);
        Ok(PgPool {
            pool,
            tls: tls_connect,
            target: ConnectTarget {
                address: format!("{}:{}", config.host, config.port),
                user: config.username.clone(),
                database: config.database.clone(),
                connect_timeout: config.connect_timeout,
                statement_timeout: config.statement_timeout,
            },
            size: config.max_connections,
            reaper,
            snapshots: SnapshotHolder::new(),
            reads: RunningReads::default(),
            catalog_cache: CatalogCache::new(),
        })
    }

    /// A connection from the pool, waiting at most `connect_timeout` for one to be free.
    /// A failure is counted in `postgres_errors_total`.
    pub async fn get(&self) -> Result<PgConnection, PgError> {
        self.pool
            .get()
            .await
            .map_err(|e| self.counted(self.pool_error(e)))
    }

    /// A connection whose `search_path` is `path` (a client session's schema), in a read-only
    /// transaction so that the path ends with it ([`OnPath::finish`]); `None`: the role's own
    /// path, no transaction.
    pub async fn get_on_path(&self, path: Option<&str>) -> Result<OnPath, PgError> {
        let client = self.get().await?;
        if let Some(path) = path {
            let set = format!(
                "BEGIN READ ONLY; SELECT set_config('search_path', {}, true)",
                crate::pg::sql::quote_literal(path)
            );
            if let Err(err) = client.batch_execute(&set).await {
                drop(deadpool_postgres::Object::take(client));
                return Err(self.error(err));
            }
        }
        Ok(OnPath {
            client: Some(client),
            in_transaction: path.is_some(),
        })
    }

    fn pool_error(&self, e: PoolError) -> PgError {
        match e {
            PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => PgError::PoolExhausted {
                size: self.size,
                waited: self.target.connect_timeout,
            },
            PoolError::Timeout(_) => PgError::ConnectTimeout {
                target: self.target.address.clone(),
                after: self.target.connect_timeout,
            },
            PoolError::Backend(err) => PgError::classify(err, &self.target),
            PoolError::Closed => PgError::ConnectionLost {
                message: "the connection pool is closed (server shutting down)".into(),
            },
            PoolError::PostCreateHook(HookError::Backend(err)) => {
                PgError::classify(err, &self.target)
            }
            PoolError::PostCreateHook(HookError::Message(message)) => PgError::UnsafeRole {
                message: message.into_owned(),
            },
            PoolError::NoRuntimeSpecified => PgError::Client {
                message: e.to_string(),
            },
        }
    }

    /// Classifies an error raised by a statement on one of this pool's connections, and counts
    /// it in `postgres_errors_total`.
    pub fn error(&self, err: tokio_postgres::Error) -> PgError {
        self.counted(PgError::classify(err, &self.target))
    }

    fn counted(&self, err: PgError) -> PgError {
        metrics::record_error(&err);
        err
    }

    /// Runs one statement of `kind` (`catalog`, `metadata`, …) in a span of its own
    /// (`postgres <kind>`, a child of the caller's), counting it in `postgres_queries_total` and
    /// timing it in `postgres_query_duration_seconds`; its error is classified and counted.
    pub async fn observe<T>(
        &self,
        kind: &'static str,
        statement: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, PgError> {
        let span = tracing::info_span!(
            "postgres",
            otel.name = format!("postgres {kind}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = "postgresql",
            db.operation.name = kind,
        );
        let timer = QueryTimer::start(kind);
        let result = statement
            .instrument(span.clone())
            .await
            .map_err(|e| self.error(e));
        timer.finish();
        if result.is_err() {
            span.record("otel.status_code", "error");
        }
        result
    }

    /// Publishes this pool's occupancy (`postgres_connections_active`, `postgres_pool_*`).
    pub fn record_gauges(&self) {
        metrics::record_pool(self.status());
    }

    /// PostgreSQL's `server_version` (e.g. "15.18 (Debian 15.18-0+deb12u1)").
    pub async fn server_version(&self) -> Result<String, PgError> {
        let client = self.get().await?;
        let row = self
            .observe(
                "metadata",
                client.query_one("SELECT current_setting('server_version')", &[]),
            )
            .await?;
        Ok(row.get(0))
    }

    /// The attributes and memberships of the role this pool's sessions run as.
    pub async fn role_powers(&self) -> Result<roles::RolePowers, PgError> {
        let client = self.get().await?;
        self.observe("metadata", roles::role_powers(&client)).await
    }

    /// Checks that PostgreSQL answers a statement through the pool.
    pub async fn ping(&self) -> Result<(), PgError> {
        let client = self.get().await?;
        client.simple_query("").await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Asks PostgreSQL to cancel the statement running on the token's connection. Best
    /// effort: a failure is logged, as the statement may have ended already.
    pub async fn cancel(&self, token: tokio_postgres::CancelToken) {
        let result = match &self.tls {
            Some(tls) => token.cancel_query(tls.clone()).await,
            None => token.cancel_query(tokio_postgres::NoTls).await,
        };
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not cancel a PostgreSQL statement");
        }
    }

    /// The reads running on this pool by query id (what a cancel reaches).
    pub fn reads(&self) -> &RunningReads {
        &self.reads
    }

    /// Snapshots exported for split requests, held for their endpoints.
    pub fn snapshots(&self) -> &SnapshotHolder {
        &self.snapshots
    }

    /// The relations this pool's role has planned reads of ([`crate::pg::catalog_cache`]).
    pub fn catalog_cache(&self) -> &CatalogCache {
        &self.catalog_cache
    }

    /// The pool's size (`max_connections`).
    pub fn max_size(&self) -> usize {
        self.size
    }

    /// Where and as whom this pool connects.
    pub fn target(&self) -> &ConnectTarget {
        &self.target
    }

    /// Connections currently open (busy or idle) and idle ones.
    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        }
    }

    /// Closes every idle connection and refuses new checkouts.
    pub fn close(&self) {
        self.pool.close();
    }
}

impl Drop for PgPool {
    fn drop(&mut self) {
        self.reaper.abort();
    }
}

/// A snapshot of the pool's occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// `max_connections`.
    pub max_size: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// The tokio-postgres configuration: address, credentials, timeouts and the startup settings
/// every pgflight session runs with.
fn session_config(config: &Config) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&config.host)
        .port(config.port)
        .dbname(&config.database)
        .user(&config.username)
        .application_name("pgflight")
        .connect_timeout(config.connect_timeout)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(60))
        .ssl_mode(match config.sslmode {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
        })
        .options(startup_options(config.statement_timeout));
    if let Some(password) = config.password.as_ref() {
        pg.password(password.expose_secret());
    }
    pg
}

/// `-c name=value` settings sent in the startup packet; they outrank the role's and database's
/// own `ALTER … SET` values, so results never depend on them.
fn startup_options(statement_timeout: Duration) -> String {
    [
        "TimeZone=UTC".to_string(),
        "DateStyle=ISO".to_string(),
        "IntervalStyle=postgres".to_string(),
        "extra_float_digits=3".to_string(),
        "client_encoding=UTF8".to_string(),
        "standard_conforming_strings=on".to_string(),
        "default_transaction_read_only=on".to_string(),
        format!("statement_timeout={}", statement_timeout.as_millis()),
    ]
    .iter()
    .map(|setting| format!("-c {setting}"))
    .collect::<Vec<_>>()
    .join(" ")
}

/// Every `period`, closes pooled connections that were idle for longer than `idle_timeout`.
fn spawn_idle_reaper(pool: Pool, idle_timeout: Duration) -> JoinHandle<()> {
    let period = (idle_timeout / 4).clamp(Duration::from_millis(250), Duration::from_secs(30));
    let pool = Arc::new(pool);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            pool.retain(|_, metrics| metrics.last_used() < idle_timeout);
        }
    })
}

/// A pooled connection on a client session's `search_path` ([`PgPool::get_on_path`]). Its
/// transaction ends with [`OnPath::finish`]; dropped without it (an error on the way), the
/// connection is closed rather than returned mid-transaction.
pub struct OnPath {
    client: Option<PgConnection>,
    in_transaction: bool,
}

impl std::ops::Deref for OnPath {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.client
            .as_ref()
            .expect("an OnPath holds its connection until finished")
    }
}

impl OnPath {
    /// Ends the transaction (rollback: nothing was written) and returns the connection.
    pub async fn finish(mut self) {
        if let Some(client) = self.client.take()
            && self.in_transaction
            && client.batch_execute("ROLLBACK").await.is_err()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Drop for OnPath {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && self.in_transaction
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_options_fix_session_settings() {
        let options = startup_options(Duration::from_secs(300));
        assert!(options.contains("-c TimeZone=UTC"));
        assert!(options.contains("-c default_transaction_read_only=on"));
        assert!(options.contains("-c statement_timeout=300000"));
    }
}

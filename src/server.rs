//! `run`: serves Flight SQL (gRPC over HTTP/2) and the HTTP endpoints on one already-bound
//! listener until `shutdown` resolves, then drains for a bounded time and closes the pool.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::AuthMode;
use crate::config::Config;
use crate::flight::access::{Access, http_guard};
use crate::flight::auth::AuthSetupError;
use crate::flight::signing::{HandleSigner, NoRandomKey};
use crate::flight::tls::TlsError;
use crate::flight::{PgFlightService, PgFlightSqlService};
use crate::pg::{PgError, PgPool};
use crate::telemetry::http::{self, ReadinessCheck};
use crate::telemetry::metrics::{self, GaugeRefresh};

/// How long a client may take to complete the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long running streams may go on after shutdown was asked for.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why [`run`] could not start serving. Each message is the one its room gives.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The connection pool cannot be built from the configuration.
    #[error(transparent)]
    Pool(#[from] PgError),
    /// No random ticket key (without `ticket_secret`).
    #[error(transparent)]
    TicketKey(#[from] NoRandomKey),
    /// The Flight endpoint's TLS cannot be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Authentication cannot be set up (e.g. `users_file`), in the words of `flight::auth`.
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    /// `metrics_listen` cannot be bound.
    #[error("metrics_listen: cannot listen on {addr}: {source}")]
    MetricsListen {
        /// The address from `metrics_listen`.
        addr: SocketAddr,
        /// Why it cannot be bound.
        source: std::io::Error,
    },
}

/// Serves `config`'s database on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let config = Arc::new(config);
    metrics::handle();
    crate::pg::metrics::describe();
    crate::flight::metrics::describe();
    crate::pg::slot_watch::describe();
    let pool = Arc::new(PgPool::new(&config)?);
    check_role(&pool).await?;
    let signer = HandleSigner::new(config.ticket_secret.as_ref(), config.ticket_ttl)?;
    let tls = crate::flight::tls::acceptor(&config)?;
    let signer = Arc::new(signer);
    let shared = PgFlightSqlService::new(pool.clone(), config.clone(), signer.clone());
    let access = Arc::new(Access::new(config.clone(), shared, signer)?);
    access.check_mapped_roles().await?;
    let (grpc, operational) = routes(pool.clone(), &config, access);
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // With `metrics_listen`, the HTTP endpoints get a port of their own (plain HTTP);
    // otherwise they share the Flight port.
    let (flight_router, metrics_listener) = match config.metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::MetricsListen { addr, source })?;
            (grpc, Some((listener, operational)))
        }
        None => (grpc.merge(operational), None),
    };
    if config.ticket_secret.is_none() {
        tracing::warn!(
            "ticket_secret is not set: bearer tokens, tickets and prepared-statement handles are \
             signed with a random key made at start, so they stop working when pgflight \
             restarts (clients that cache a token, such as DBeaver, must log in again) and other \
             instances cannot open them; set ticket_secret (PGFLIGHT_TICKET_SECRET) to keep them"
        );
    }
    tracing::info!(
        listen = %address,
        metrics_listen = ?config.metrics_listen,
        tls = tls.is_some(),
        client_certificates = config.tls_client_ca.is_some(),
        postgres = %config.summary(),
        "pgflight serving Flight SQL and HTTP"
    );

    // Measures change slots' lag for the metrics until the server stops.
    let slot_watch = tokio::spawn(crate::pg::slot_watch::watch(
        pool.clone(),
        config.slot_check_interval,
        config.slot_lag_warn_bytes,
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let graceful = Arc::new(GracefulShutdown::new());
    let metrics_task = metrics_listener.map(|(listener, router)| {
        let stop = stop_rx.clone();
        tokio::spawn(accept_loop(listener, router, None, stop, graceful.clone()))
    });
    let flight_loop = accept_loop(listener, flight_router, tls, stop_rx, graceful.clone());
    tokio::pin!(flight_loop);
    tokio::select! {
        () = &mut flight_loop => {}
        () = shutdown => {
            let _ = stop_tx.send(true);
            flight_loop.await;
        }
    }
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    slot_watch.abort();
    tracing::info!("shutting down: letting running requests finish");
    if let Ok(graceful) = Arc::try_unwrap(graceful)
        && tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
    {
        tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running after the drain timeout; closing");
    }
    pool.close();
    Ok(())
}

/// Refuses to serve as a role that may do more than read (superuser, BYPASSRLS, server files),
/// unless `allow_superuser` is set, which is warned about at every start. When PostgreSQL does
/// not answer yet, the pool checks each new connection instead (see [`PgPool::new`]).
async fn check_role(pool: &PgPool) -> Result<(), PgError> {
    match pool.role_powers().await {
        Ok(powers) => {
            let dangers = powers.dangers();
            if !dangers.is_empty() {
                tracing::warn!(
                    role = %powers.role,
                    "allow_superuser = true: serving as a role that may do more than read ({}); \
                     any client that reaches pgflight runs SQL with these powers. Prefer a \
                     read-only role (`pgflight check` prints the SQL that makes one)",
                    dangers.join("; ")
                );
            }
            Ok(())
        }
        Err(err @ PgError::UnsafeRole { .. }) => Err(err),
        Err(err) => {
            tracing::warn!(
                error = %err,
                "could not check the role's privileges at start; each new PostgreSQL connection \
                 is checked instead"
            );
            Ok(())
        }
    }
}

/// Accepts connections on `listener` (through `tls` when given) and serves `router` on each,
/// HTTP/1.1 and HTTP/2 alike, until `stop` turns true; then drops the listener.
async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<TlsAcceptor>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    graceful: Arc<GracefulShutdown>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(
                    router.clone().layer(axum::Extension(crate::flight::audit::ClientAddr(peer))),
                );
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let result = match tls {
                        None => {
                            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                        Some(tls) => {
                            let stream = match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(stream)).await {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(err)) => {
                                    tracing::info!(%peer, error = %err, "TLS handshake refused");
                                    return;
                                }
                                Err(_) => {
                                    tracing::info!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            watcher.watch(connection.into_owned()).await
                        }
                    };
                    if let Err(err) = result {
                        tracing::debug!(%peer, error = %err, "connection ended with an error");
                    }
                });
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}

/// The gRPC services, and the HTTP endpoints (`/healthz`, `/readyz`, `/metrics`).
fn routes(pool: Arc<PgPool>, config: &Config, access: Arc<Access>) -> (axum::Router, axum::Router) {
    let guard_http = config.auth != AuthMode::None && config.metrics_auth;
    let flight = FlightServiceServer::new(PgFlightService::new(
        access.clone(),
        config.max_streams_per_user,
    ))
    .max_decoding_message_size(64 * 1024 * 1024);
    let mut grpc = tonic::service::Routes::new(flight)
        .into_axum_router()
        .layer(axum::middleware::from_fn(crate::flight::metrics::count));
    if config.otlp_endpoint.is_some() {
        // Inside the audit layer: both read the same record of the call.
        grpc = grpc.layer(axum::middleware::from_fn(crate::flight::trace::trace));
    }
    if config.audit {
        grpc = grpc.layer(axum::middleware::from_fn(crate::flight::audit::audit));
    }
    let gauges_pool = pool.clone();
    let refresh: GaugeRefresh = Arc::new(move || gauges_pool.record_gauges());
    let readiness: ReadinessCheck<PgError> = Arc::new(move || {
        let pool = pool.clone();
        Box::pin(async move { pool.ping().await })
    });
    let mut operational = http::readiness_router(readiness).merge(metrics::router(refresh));
    if guard_http {
        operational = operational.layer(axum::middleware::from_fn_with_state(access, http_guard));
    }
    (grpc, http::health_router().merge(operational))
}

//! Who answers whom: the authenticator admits each caller, and the service that answers it is
//! the shared one, a mapped role's (`auth = "password"` with `name:hash:role` lines), or with
//! `auth = "postgres"` the caller's own role's. Also the HTTP endpoints' guard.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::config::{AuthMode, Config};
use crate::flight::PgFlightSqlService;
use crate::flight::auth::{AuthSetupError, Authenticator, Caller, Reason, refused};
use crate::flight::roles::RoleServices;
use crate::flight::signing::HandleSigner;
use crate::pg::{PgError, PgPool};

/// axum middleware for `/metrics` and `/readyz` (with `metrics_auth`): the same credentials as
/// Flight calls, basic or bearer; 401 otherwise.
pub async fn http_guard(
    State(access): State<Arc<Access>>,
    request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    let metadata = MetadataMap::from_headers(request.headers().clone());
    match access.admit(&metadata).await {
        Ok(_) => next.run(request).await,
        Err(status) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"pgflight\"")],
            format!("{}\n", status.message()),
        )
            .into_response(),
    }
}

/// Authentication and the service that answers each caller: one shared service, or with
/// `auth = "postgres"` one per PostgreSQL role.
pub struct Access {
    auth: Authenticator,
    services: Services,
    /// `auth = "password"`: a service per role the users file maps users to, its pool's
    /// sessions switched to that role (`SET ROLE`), so those users' discovery, planning and
    /// reads all run with the role's privileges and row-level security.
    mapped: HashMap<String, Arc<PgFlightSqlService>>,
}

enum Services {
    Shared(Arc<PgFlightSqlService>),
    PerRole(RoleServices),
}

impl Access {
    /// Access for `config`: `shared` answers everyone, unless `auth = "postgres"`, where each
    /// role gets a service (and pool) of its own, logging in as that role.
    pub fn new(
        config: Arc<Config>,
        shared: PgFlightSqlService,
        signer: Arc<HandleSigner>,
    ) -> Result<Access, AuthSetupError> {
        let auth = Authenticator::new(&config)?;
        let mut mapped = HashMap::new();
        for role in auth.mapped_roles() {
            let pool = PgPool::with_role(&config, &role).map_err(|source| {
                AuthSetupError::MappedRolePool {
                    role: role.clone(),
                    source,
                }
            })?;
            let service = PgFlightSqlService::new(Arc::new(pool), config.clone(), signer.clone());
            mapped.insert(role, Arc::new(service));
        }
        let services = match config.auth {
            AuthMode::Postgres => Services::PerRole(RoleServices::new(config, signer)),
            AuthMode::None | AuthMode::Password => Services::Shared(Arc::new(shared)),
        };
        Ok(Access {
            auth,
            services,
            mapped,
        })
    }

    /// Checks, at start, that the configured role may switch to every role the users file
    /// names and that none may do more than read; a role PostgreSQL refuses stops start-up.
    /// When PostgreSQL does not answer, each new connection is checked instead.
    pub async fn check_mapped_roles(&self) -> Result<(), PgError> {
        for (role, service) in &self.mapped {
            match service.pool().ping().await {
                Ok(()) => {}
                Err(err @ (PgError::UnsafeRole { .. } | PgError::Sql(_))) => {
                    return Err(PgError::Setup(format!(
                        "users_file maps users to role {role:?}, which pgflight cannot serve as: \
                         {err} (the configured username must be a member of it: GRANT {role} TO \
                         <username>)"
                    )));
                }
                Err(err) => {
                    tracing::warn!(%role, error = %err, "could not check a users_file role at start");
                }
            }
        }
        Ok(())
    }

    /// The Handshake: checks the credentials (for PostgreSQL roles by logging in) and returns
    /// the service for the caller and the `authorization` header to answer with.
    pub async fn handshake(
        &self,
        metadata: &MetadataMap,
    ) -> Result<(Caller, Arc<PgFlightSqlService>, String), Status> {
        let caller = self.auth.handshake_caller(metadata)?;
        let service = self.service_for(&caller).await?;
        let bearer = self.auth.issue_token(&caller)?;
        Ok((caller, service, bearer))
    }

    /// Every other call: the caller and the service that answers it.
    pub async fn admit(
        &self,
        metadata: &MetadataMap,
    ) -> Result<(Caller, Arc<PgFlightSqlService>), Status> {
        let caller = self.auth.authorize(metadata)?;
        let service = self.service_for(&caller).await?;
        Ok((caller, service))
    }

    async fn service_for(&self, caller: &Caller) -> Result<Arc<PgFlightSqlService>, Status> {
        match &self.services {
            Services::Shared(service) => Ok(self
                .auth
                .role_of(&caller.identity)
                .and_then(|role| self.mapped.get(role))
                .unwrap_or(service)
                .clone()),
            Services::PerRole(roles) => {
                let password = caller.pg_password.as_ref().ok_or_else(|| {
                    refused(
                        Reason::Missing,
                        "authentication required: PostgreSQL credentials",
                    )
                })?;
                roles.service(&caller.identity.0, password).await
            }
        }
    }
}

//! Who is calling, and whether they may. `auth = "none"`: everyone, anonymously (the seed's
//! model). `auth = "password"`: the Handshake's basic credentials are checked against
//! `users_file` and answered with a bearer token (signed, expiring) in the `authorization`
//! header; later calls send it — or HTTP basic credentials on every call, for clients that skip
//! the Handshake. `auth = "postgres"`: the credentials are PostgreSQL's own; they are checked by
//! logging in (see `flight::roles`), and the bearer token carries the password encrypted
//! (AES-256-GCM) so any instance sharing `ticket_secret` can open the role's sessions. The
//! identity travels in the request's extensions to the handlers that bind tickets to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::config::{AuthMode, Config};
use crate::flight::PgFlightSqlService;
use crate::flight::password::{UserEntry, UsersFileError, read_users};
use crate::flight::refusal::Refusal;
use crate::flight::roles::RoleServices;
use crate::flight::signing::{HandleSigner, NoRandomKey, SealError};
use crate::flight::status::refusal_status;
use crate::pg::{PgError, PgPool};

/// What a bearer token's sealed payload says.
const TOKEN_PAYLOAD: &[u8] = b"pgflight-bearer-v1";
/// How long checked basic credentials are remembered (password hashing is slow on purpose).
const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);
/// Basic credentials' base64, padded or not: RFC 7617 says padded, but clients vary (the Go
/// Flight SQL client behind the ADBC driver sends `user:password` unpadded).
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The caller's identity: the authenticated user name, or empty with `auth = "none"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity(pub String);

/// What a request's credentials establish (`{:?}` never shows the password).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// Who is calling.
    pub identity: Identity,
    /// `auth = "postgres"`: the PostgreSQL password the caller's sessions log in with.
    pub pg_password: Option<SecretString>,
}

/// The identity of `request` (anonymous when none was established).
pub fn identity_of<T>(request: &Request<T>) -> Identity {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_default()
}

/// Why authentication cannot be set up ([`Authenticator::new`], [`Access::new`]). Each message is
/// the one pgflight has always stopped with; none holds a password or a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// `auth = "password"` without `users_file`.
    #[error("auth = \"password\" needs users_file")]
    NoUsersFile,
    /// The users file cannot be read or is malformed.
    #[error(transparent)]
    UsersFile(#[from] UsersFileError),
    /// The system gave no random bytes for the token key (there was no `ticket_secret`; ring's
    /// error says nothing more).
    #[error("no random numbers for the token key")]
    NoRandomTokenKey,
    /// The token key was refused by AES-256-GCM (ring's error says nothing more).
    #[error("cannot make the token key")]
    TokenKey,
    /// No random key for signing tokens (there was no `ticket_secret`).
    #[error(transparent)]
    TokenSigner(#[from] NoRandomKey),
    /// The pool for a role the users file maps users to cannot be built.
    #[error("{source}")]
    MappedRolePool {
        /// The role.
        role: String,
        /// Why its pool cannot be built.
        source: PgError,
    },
}

/// Checks credentials and tokens.
pub struct Authenticator {
    mode: AuthMode,
    users: HashMap<String, UserEntry>,
    tokens: HandleSigner,
    passwords: LessSafeKey,
    checked_basic: Mutex<HashMap<Vec<u8>, (Identity, Instant)>>,
    /// Whether `ticket_secret` is set (tokens then survive a restart).
    shared_secret: bool,
}

/// A bearer token this server cannot open, when it signs with a random key: most likely the
/// server restarted since the token was issued (clients such as DBeaver cache tokens).
const FOREIGN_TOKEN_RANDOM_KEY: &str = "bearer token refused: it was not signed by this pgflight \
     process. pgflight restarted (ticket_secret is not set, so every start signs with a new \
     random key and earlier tokens stop working): log in again (Handshake / reconnect); set \
     ticket_secret to keep tokens valid across restarts";
/// The same with `ticket_secret` set: signed with another secret.
const FOREIGN_TOKEN_SHARED_KEY: &str = "bearer token refused: it was not signed with this \
     server's ticket_secret (was the secret changed, or was it issued by another deployment?): \
     log in again (Handshake / reconnect)";

impl Authenticator {
    /// The authenticator `config` asks for (reads `users_file` for `auth = "password"`).
    pub fn new(config: &Config) -> Result<Authenticator, AuthSetupError> {
        let users = match (config.auth, &config.users_file) {
            (AuthMode::Password, Some(path)) => read_users(path)?,
            (AuthMode::Password, None) => return Err(AuthSetupError::NoUsersFile),
            _ => HashMap::new(),
        };
        // Tokens get a key of their own, derived from the ticket secret, so a ticket can never
        // pass for a token or the other way round.
        let token_secret = config
            .ticket_secret
            .as_ref()
            .map(|s| SecretString::from(format!("{}\u{0}bearer-tokens", s.expose_secret())));
        let mut key = [0u8; 32];
        match &config.ticket_secret {
            Some(secret) => {
                let material =
                    format!("pgflight token password key\u{0}{}", secret.expose_secret());
                key.copy_from_slice(digest::digest(&digest::SHA256, material.as_bytes()).as_ref());
            }
            None => SystemRandom::new()
                .fill(&mut key)
                .map_err(|_| AuthSetupError::NoRandomTokenKey)?,
        }
        let passwords = UnboundKey::new(&AES_256_GCM, &key)
            .map(LessSafeKey::new)
            .map_err(|_| AuthSetupError::TokenKey)?;
        Ok(Authenticator {
            mode: config.auth,
            users,
            tokens: HandleSigner::new(token_secret.as_ref(), config.token_ttl)?,
            passwords,
            checked_basic: Mutex::new(HashMap::new()),
            shared_secret: config.ticket_secret.is_some(),
        })
    }

    /// The PostgreSQL role the users file maps `identity` to (`name:hash:role`), if any.
    pub fn role_of(&self, identity: &Identity) -> Option<&str> {
        self.users.get(&identity.0)?.role.as_deref()
    }

    /// Every role the users file maps a user to.
    pub fn mapped_roles(&self) -> Vec<String> {
        let mut roles: Vec<String> = self.users.values().filter_map(|u| u.role.clone()).collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// Which kind of authentication this is.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The Handshake's caller: anonymous with `auth = "none"` (any or no credentials), the
    /// checked user with `"password"`, the claimed role and password with `"postgres"` (checked
    /// by logging in, by the caller of this function).
    pub fn handshake_caller(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        if self.mode == AuthMode::None {
            return Ok(Caller::default());
        }
        let header = authorization(metadata).ok_or_else(|| {
            refused(
                Reason::Missing,
                "Handshake needs basic credentials in the authorization header",
            )
        })?;
        self.check_basic(header)
    }

    /// The `authorization` header value answering a successful Handshake: a bearer token for
    /// `caller` (with `auth = "none"` an anonymous one: it proves nothing, but clients that
    /// insist on one — the Go ADBC driver, given a user name — work).
    pub fn issue_token(&self, caller: &Caller) -> Result<String, Status> {
        let mut payload = TOKEN_PAYLOAD.to_vec();
        if let Some(password) = &caller.pg_password {
            let mut nonce = [0u8; NONCE_LEN];
            SystemRandom::new()
                .fill(&mut nonce)
                .map_err(|_| refusal_status(&Refusal::NoRandom))?;
            let mut sealed = password.expose_secret().as_bytes().to_vec();
            self.passwords
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut sealed,
                )
                .map_err(|_| refusal_status(&Refusal::TokenEncryption))?;
            payload.push(0);
            payload.extend_from_slice(&nonce);
            payload.extend_from_slice(&sealed);
        }
        let token = self.tokens.seal(payload, &caller.identity.0);
        Ok(format!("Bearer {}", URL_SAFE_NO_PAD.encode(token)))
    }

    /// Every other call: the caller its bearer token or basic credentials prove (with
    /// `auth = "postgres"`, basic credentials are only claimed here: logging in checks them).
    pub fn authorize(&self, metadata: &MetadataMap) -> Result<Caller, Status> {
        if self.mode == AuthMode::None {
            return Ok(Caller::default());
        }
        let header = authorization(metadata).ok_or_else(|| {
            refused(
                Reason::Missing,
                "authentication required: Handshake with basic credentials, then send the bearer token",
            )
        })?;
        if let Some(token) = strip_scheme(header, "Bearer") {
            let sealed = URL_SAFE_NO_PAD
                .decode(token.trim())
                .map_err(|_| refused(Reason::Token, "malformed bearer token"))?;
            let (payload, user) = self.tokens.open_any(&sealed).map_err(|e| match e {
                SealError::Expired => {
                    refused(Reason::Token, "bearer token expired: Handshake again")
                }
                SealError::Forged | SealError::OtherIdentity if self.shared_secret => {
                    refused(Reason::Token, FOREIGN_TOKEN_SHARED_KEY)
                }
                SealError::Forged | SealError::OtherIdentity => {
                    refused(Reason::Token, FOREIGN_TOKEN_RANDOM_KEY)
                }
            })?;
            return self.caller_from_token(&payload, user);
        }
        self.check_basic(header)
    }

    /// The caller a bearer token's payload describes.
    fn caller_from_token(&self, payload: &[u8], user: String) -> Result<Caller, Status> {
        let bad_token = || refused(Reason::Token, "bearer token refused");
        let rest = payload.strip_prefix(TOKEN_PAYLOAD).ok_or_else(bad_token)?;
        let pg_password = match (self.mode, rest) {
            (AuthMode::Postgres, [0, encrypted @ ..]) if encrypted.len() > NONCE_LEN => {
                let (nonce, sealed) = encrypted.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad_token())?;
                let mut sealed = sealed.to_vec();
                let plain = self
                    .passwords
                    .open_in_place(nonce, Aad::empty(), &mut sealed)
                    .map_err(|_| bad_token())?;
                let text = String::from_utf8(plain.to_vec()).map_err(|_| bad_token())?;
                Some(SecretString::from(text))
            }
            (AuthMode::Postgres, _) => return Err(bad_token()),
            (_, []) => None,
            _ => return Err(bad_token()),
        };
        Ok(Caller {
            identity: Identity(user),
            pg_password,
        })
    }

    /// Checks `Basic base64(user:password)`; remembers a success for a minute.
    fn check_basic(&self, header: &str) -> Result<Caller, Status> {
        let wrong = || {
            refused(
                Reason::Credentials,
                "authentication failed: wrong user name or password",
            )
        };
        let encoded = strip_scheme(header, "Basic").ok_or_else(|| {
            refused(
                Reason::Credentials,
                "expected basic credentials or a bearer token",
            )
        })?;
        let fingerprint = digest::digest(&digest::SHA256, header.as_bytes())
            .as_ref()
            .to_vec();
        let decoded = BASIC_BASE64.decode(encoded.trim()).map_err(|_| wrong())?;
        let decoded = String::from_utf8(decoded).map_err(|_| wrong())?;
        // The user name ends at the first colon; the password may hold more (RFC 7617).
        let (user, password) = decoded.split_once(':').ok_or_else(wrong)?;
        if user.is_empty() || password.is_empty() {
            return Err(wrong());
        }
        if self.mode == AuthMode::Postgres {
            return Ok(Caller {
                identity: Identity(user.to_string()),
                pg_password: Some(SecretString::from(password)),
            });
        }
        if let Some((identity, at)) = self.cache().get(&fingerprint)
            && at.elapsed() < BASIC_CACHE_TTL
        {
            return Ok(Caller {
                identity: identity.clone(),
                pg_password: None,
            });
        }
        let known = self.users.get(user).ok_or_else(wrong)?;
        if !known.hash.verify(password) {
            return Err(wrong());
        }
        let identity = Identity(user.to_string());
        let mut cache = self.cache();
        cache.retain(|_, (_, at)| at.elapsed() < BASIC_CACHE_TTL);
        cache.insert(fingerprint, (identity.clone(), Instant::now()));
        Ok(Caller {
            identity,
            pg_password: None,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Identity, Instant)>> {
        self.checked_basic.lock().unwrap_or_else(|p| p.into_inner())
    }
}

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

/// Why a call's authentication was refused (the `reason` label of
/// `flight_auth_failures_total`).
#[derive(Debug, Clone, Copy)]
enum Reason {
    /// No credentials at all.
    Missing,
    /// Basic credentials that are malformed or wrong.
    Credentials,
    /// A bearer token that is malformed, forged or expired.
    Token,
}

/// An `Unauthenticated` status, counted in `flight_auth_failures_total{reason}`.
fn refused(reason: Reason, message: &'static str) -> Status {
    crate::flight::metrics::auth_failure(match reason {
        Reason::Missing => "missing",
        Reason::Credentials => "credentials",
        Reason::Token => "token",
    });
    refusal_status(&Refusal::Unauthenticated(message.to_string()))
}

fn authorization(metadata: &MetadataMap) -> Option<&str> {
    metadata.get("authorization").and_then(|v| v.to_str().ok())
}

/// `value` without its (case-insensitive) `scheme ` prefix, if it has it.
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = value.split_once(' ')?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flight::password::PasswordHash;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    fn password_auth() -> (Authenticator, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let hash = PasswordHash::new("s3cret", 100).unwrap();
        std::fs::write(&path, format!("alice:{hash}\nbob:{hash}:analyst\n")).unwrap();
        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Password;
        config.users_file = Some(path);
        (Authenticator::new(&config).unwrap(), dir)
    }

    #[test]
    fn set_up_errors_keep_their_words_and_source() {
        use std::error::Error as _;

        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Password;
        let err = Authenticator::new(&config).err().expect("no users_file");
        assert!(matches!(err, AuthSetupError::NoUsersFile));
        assert_eq!(err.to_string(), "auth = \"password\" needs users_file");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, "alice\n").unwrap();
        config.users_file = Some(path.clone());
        let err = Authenticator::new(&config).err().expect("a bad users_file");
        assert_eq!(
            err.to_string(),
            format!("users_file {} line 1: expected name:hash", path.display())
        );
        assert!(matches!(
            err,
            AuthSetupError::UsersFile(UsersFileError::MalformedLine { line: 1, .. })
        ));

        config.users_file = Some(dir.path().join("missing"));
        let err = Authenticator::new(&config)
            .err()
            .expect("a missing users_file");
        // Transparent: the source is the io::Error the users file error keeps.
        assert!(
            err.source()
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
        );
    }

    fn with_auth(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", value.parse().unwrap());
        metadata
    }

    #[test]
    fn handshake_answers_a_token_that_later_calls_use() {
        let (auth, _dir) = password_auth();
        let basic = format!("Basic {}", STANDARD.encode("alice:s3cret"));
        let caller = auth.handshake_caller(&with_auth(&basic)).unwrap();
        let bearer = auth.issue_token(&caller).unwrap();
        assert!(bearer.starts_with("Bearer "));
        let alice = Identity("alice".into());
        assert_eq!(auth.authorize(&with_auth(&bearer)).unwrap().identity, alice);
        assert_eq!(auth.authorize(&with_auth(&basic)).unwrap().identity, alice);
        assert_eq!(auth.role_of(&alice), None);
        assert_eq!(auth.role_of(&Identity("bob".into())), Some("analyst"));
        assert_eq!(auth.mapped_roles(), vec!["analyst".to_string()]);
    }

    #[test]
    fn postgres_tokens_carry_the_password_encrypted() {
        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Postgres;
        config.ticket_secret = Some(SecretString::from("shared"));
        let auth = Authenticator::new(&config).unwrap();
        let basic = format!("Basic {}", STANDARD.encode("role:pg-pw-123"));
        let caller = auth.handshake_caller(&with_auth(&basic)).unwrap();
        let bearer = auth.issue_token(&caller).unwrap();
        assert!(!bearer.contains("pg-pw-123"));
        let sealed = URL_SAFE_NO_PAD.decode(&bearer["Bearer ".len()..]).unwrap();
        assert!(
            !sealed.windows(9).any(|w| w == b"pg-pw-123"),
            "password in clear"
        );
        // Another instance with the same secret opens it.
        let again = Authenticator::new(&config).unwrap();
        let caller = again.authorize(&with_auth(&bearer)).unwrap();
        assert_eq!(caller.identity, Identity("role".into()));
        assert_eq!(caller.pg_password.unwrap().expose_secret(), "pg-pw-123");
    }

    #[test]
    fn wrong_missing_and_forged_credentials_are_unauthenticated() {
        let (auth, _dir) = password_auth();
        for header in [
            format!("Basic {}", STANDARD.encode("alice:wrong")),
            format!("Basic {}", STANDARD.encode("mallory:s3cret")),
            "Basic !!!".to_string(),
            "Bearer abc".to_string(),
            format!("Bearer {}", URL_SAFE_NO_PAD.encode(b"forged")),
        ] {
            let status = auth.authorize(&with_auth(&header)).unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{header}");
        }
        assert_eq!(
            auth.authorize(&MetadataMap::new()).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    /// The passwords of the ADBC regression: `user:password` of every length modulo 3 (the Go
    /// client sends them unpadded), non-ASCII, and a colon inside the password.
    const PASSWORDS: [(&str, &str); 7] = [
        ("u0", "ab3"),
        ("u1", "abc!"),
        ("u2", "abc-def"),
        ("u3", "Alice-s3cret-Pw!"),
        ("u4", "pässwörd-€"),
        ("u5", "a:b:c"),
        ("u6", "日本語のパスワード"),
    ];

    fn many_users_auth() -> (Authenticator, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let mut text = String::new();
        for (user, password) in PASSWORDS {
            text += &format!("{user}:{}\n", PasswordHash::new(password, 10).unwrap());
        }
        std::fs::write(&path, text).unwrap();
        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Password;
        config.users_file = Some(path);
        (Authenticator::new(&config).unwrap(), dir)
    }

    #[test]
    fn basic_credentials_are_accepted_padded_and_unpadded() {
        let (auth, _dir) = many_users_auth();
        let lengths: std::collections::BTreeSet<usize> = PASSWORDS
            .iter()
            .map(|(u, p)| (u.len() + 1 + p.len()) % 3)
            .collect();
        assert_eq!(lengths.len(), 3, "every length modulo 3");
        for (user, password) in PASSWORDS {
            let plain = format!("{user}:{password}");
            for encoded in [STANDARD.encode(&plain), STANDARD_NO_PAD.encode(&plain)] {
                for scheme in ["Basic", "basic"] {
                    let header = format!("{scheme} {encoded}");
                    let caller = auth.handshake_caller(&with_auth(&header)).unwrap();
                    assert_eq!(caller.identity, Identity(user.into()), "{header}");
                    assert_eq!(
                        auth.authorize(&with_auth(&header)).unwrap().identity.0,
                        user
                    );
                }
            }
            let wrong = STANDARD_NO_PAD.encode(format!("{user}:{password}x"));
            let status = auth
                .handshake_caller(&with_auth(&format!("Basic {wrong}")))
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::Unauthenticated);
        }
    }

    #[test]
    fn empty_passwords_and_names_are_refused_in_every_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        std::fs::write(&path, format!("e:{}\n", PasswordHash::new("", 10).unwrap())).unwrap();
        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Password;
        config.users_file = Some(path);
        let password = Authenticator::new(&config).unwrap();
        config.auth = AuthMode::Postgres;
        let postgres = Authenticator::new(&config).unwrap();
        for auth in [&password, &postgres] {
            for plain in ["e:", "e", ":", ":pw", ""] {
                for encoded in [STANDARD.encode(plain), STANDARD_NO_PAD.encode(plain)] {
                    let header = format!("Basic {encoded}");
                    let status = auth.handshake_caller(&with_auth(&header)).unwrap_err();
                    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{plain:?}");
                    assert!(auth.authorize(&with_auth(&header)).is_err(), "{plain:?}");
                }
            }
        }
    }

    #[test]
    fn malformed_base64_is_refused() {
        let (auth, _dir) = many_users_auth();
        let good = STANDARD.encode("u1:abc!");
        for encoded in [
            format!("{good}!"),
            format!("{good}{good}"),
            "dTE6YWJjIQ=x".to_string(),
            "@@@@".to_string(),
        ] {
            let header = format!("Basic {encoded}");
            assert!(auth.authorize(&with_auth(&header)).is_err(), "{header}");
        }
    }

    #[test]
    fn a_token_from_before_a_restart_says_to_log_in_again() {
        let (before, dir) = password_auth();
        let basic = format!("Basic {}", STANDARD.encode("alice:s3cret"));
        let caller = before.handshake_caller(&with_auth(&basic)).unwrap();
        let bearer = before.issue_token(&caller).unwrap();
        // A restart without ticket_secret: a new random key.
        let (after, _dir2) = password_auth();
        let status = after.authorize(&with_auth(&bearer)).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        assert!(
            status.message().contains("restarted"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains("log in again"),
            "{}",
            status.message()
        );
        assert!(
            status.message().contains("ticket_secret"),
            "{}",
            status.message()
        );
        // With ticket_secret set, tokens survive the restart.
        let mut config = Config::new("h", 5432, "d", "u");
        config.ticket_secret = Some(SecretString::from("kept"));
        let first = Authenticator::new(&config).unwrap();
        let token = first
            .issue_token(&Caller {
                identity: Identity("alice".into()),
                pg_password: None,
            })
            .unwrap();
        config.auth = AuthMode::Password;
        config.users_file = Some(dir.path().join("users"));
        let restarted = Authenticator::new(&config).unwrap();
        assert_eq!(
            restarted.authorize(&with_auth(&token)).unwrap().identity.0,
            "alice"
        );
        config.ticket_secret = Some(SecretString::from("changed"));
        let changed = Authenticator::new(&config).unwrap();
        let status = changed.authorize(&with_auth(&token)).unwrap_err();
        assert!(
            status.message().contains("ticket_secret"),
            "{}",
            status.message()
        );
    }
}

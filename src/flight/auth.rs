//! Who is calling, and whether they may. `auth = "none"`: everyone, anonymously (the seed's
//! model). `auth = "password"`: the Handshake's basic credentials are checked against
//! `users_file` and answered with a bearer token (signed, expiring) in the `authorization`
//! header; later calls send it — or HTTP basic credentials on every call, for clients that skip
//! the Handshake. `auth = "postgres"`: the credentials are PostgreSQL's own; they are checked by
//! logging in (see `flight::roles`), and the bearer token carries the password encrypted
//! (AES-256-GCM) so any instance sharing `ticket_secret` can open the role's sessions. The
//! identity travels in the request's extensions to the handlers that bind tickets to it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
use crate::flight::password::{UserEntry, UsersFileError, read_users};
use crate::flight::refusal::Refusal;
use crate::flight::signing::{HandleSigner, NoRandomKey, SealError};
use crate::flight::status::refusal_status;
use crate::pg::PgError;

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

/// Why a call's authentication was refused (the `reason` label of
/// `flight_auth_failures_total`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reason {
    /// No credentials at all.
    Missing,
    /// Basic credentials that are malformed or wrong.
    Credentials,
    /// A bearer token that is malformed, forged or expired.
    Token,
}

/// An `Unauthenticated` status, counted in `flight_auth_failures_total{reason}`.
pub(crate) fn refused(reason: Reason, message: &'static str) -> Status {
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
#[path = "auth/tests.rs"]
mod tests;

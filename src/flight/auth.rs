//! Who is calling, and whether they may. `auth = "none"`: everyone, anonymously (the seed's
//! model). `auth = "password"`: the Handshake's basic credentials are checked against
//! `users_file` and answered with a bearer token (signed, expiring) in the `authorization`
//! header; later calls send it — or HTTP basic credentials on every call, for clients that skip
//! the Handshake. The identity travels in the request's extensions to the handlers that bind
//! tickets to it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest;
use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::config::{AuthMode, Config};
use crate::flight::password::{PasswordHash, read_users};
use crate::flight::signing::{HandleSigner, SealError};

/// What a bearer token's sealed payload says.
const TOKEN_PAYLOAD: &[u8] = b"pgflight-bearer-v1";
/// How long checked basic credentials are remembered (password hashing is slow on purpose).
const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

/// The caller's identity: the authenticated user name, or empty with `auth = "none"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity(pub String);

/// The identity of `request` (anonymous when none was established).
pub fn identity_of<T>(request: &Request<T>) -> Identity {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_default()
}

/// Checks credentials and tokens.
pub struct Authenticator {
    mode: AuthMode,
    users: HashMap<String, PasswordHash>,
    tokens: HandleSigner,
    checked_basic: Mutex<HashMap<Vec<u8>, (Identity, Instant)>>,
}

impl Authenticator {
    /// The authenticator `config` asks for (reads `users_file` for `auth = "password"`).
    pub fn new(config: &Config) -> Result<Authenticator, String> {
        let users = match (config.auth, &config.users_file) {
            (AuthMode::Password, Some(path)) => read_users(path)?,
            (AuthMode::Password, None) => return Err("auth = \"password\" needs users_file".into()),
            _ => HashMap::new(),
        };
        // Tokens get a key of their own, derived from the ticket secret, so a ticket can never
        // pass for a token or the other way round.
        let token_secret = config
            .ticket_secret
            .as_ref()
            .map(|s| SecretString::from(format!("{}\u{0}bearer-tokens", s.expose_secret())));
        Ok(Authenticator {
            mode: config.auth,
            users,
            tokens: HandleSigner::new(token_secret.as_ref(), config.token_ttl)?,
            checked_basic: Mutex::new(HashMap::new()),
        })
    }

    /// The Handshake: checks the basic credentials in `metadata` and returns the value of the
    /// `authorization` header to answer with (`Bearer …`). With `auth = "none"` any (or no)
    /// credentials get an anonymous token: it proves nothing, but clients that insist on one
    /// (the Go ADBC driver, given a user name) work.
    pub fn handshake(&self, metadata: &MetadataMap) -> Result<String, Status> {
        let identity = if self.mode == AuthMode::None {
            Identity::default()
        } else {
            let header = authorization(metadata).ok_or_else(|| {
                refused(
                    Reason::Missing,
                    "Handshake needs basic credentials in the authorization header",
                )
            })?;
            self.check_basic(header)?
        };
        let token = self.tokens.seal(TOKEN_PAYLOAD.to_vec(), &identity.0);
        Ok(format!("Bearer {}", URL_SAFE_NO_PAD.encode(token)))
    }

    /// Every other call: the identity its bearer token or basic credentials prove.
    pub fn authorize(&self, metadata: &MetadataMap) -> Result<Identity, Status> {
        if self.mode == AuthMode::None {
            return Ok(Identity::default());
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
                SealError::Forged | SealError::OtherIdentity => refused(
                    Reason::Token,
                    "bearer token refused: not issued by this pgflight",
                ),
            })?;
            if payload != TOKEN_PAYLOAD {
                return Err(refused(Reason::Token, "bearer token refused"));
            }
            return Ok(Identity(user));
        }
        self.check_basic(header)
    }

    /// Checks `Basic base64(user:password)`; remembers a success for a minute.
    fn check_basic(&self, header: &str) -> Result<Identity, Status> {
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
        if let Some((identity, at)) = self.cache().get(&fingerprint)
            && at.elapsed() < BASIC_CACHE_TTL
        {
            return Ok(identity.clone());
        }
        let decoded = STANDARD.decode(encoded.trim()).map_err(|_| wrong())?;
        let decoded = String::from_utf8(decoded).map_err(|_| wrong())?;
        let (user, password) = decoded.split_once(':').ok_or_else(wrong)?;
        let known = self.users.get(user).ok_or_else(wrong)?;
        if !known.verify(password) {
            return Err(wrong());
        }
        let identity = Identity(user.to_string());
        let mut cache = self.cache();
        cache.retain(|_, (_, at)| at.elapsed() < BASIC_CACHE_TTL);
        cache.insert(fingerprint, (identity.clone(), Instant::now()));
        Ok(identity)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Identity, Instant)>> {
        self.checked_basic.lock().unwrap_or_else(|p| p.into_inner())
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
    Status::unauthenticated(message)
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

    fn password_auth() -> (Authenticator, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users");
        let hash = PasswordHash::new("s3cret", 100).unwrap();
        std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
        let mut config = Config::new("h", 5432, "d", "u");
        config.auth = AuthMode::Password;
        config.users_file = Some(path);
        (Authenticator::new(&config).unwrap(), dir)
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
        let bearer = auth.handshake(&with_auth(&basic)).unwrap();
        assert!(bearer.starts_with("Bearer "));
        assert_eq!(
            auth.authorize(&with_auth(&bearer)).unwrap(),
            Identity("alice".into())
        );
        assert_eq!(
            auth.authorize(&with_auth(&basic)).unwrap(),
            Identity("alice".into())
        );
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
}

//! A client's session options, carried by the client: SetSessionOptions answers a
//! `pgflight_session` cookie whose value is the sealed [`SessionState`] (signed with
//! `ticket_secret`, bound to the caller, expiring after `session_ttl`), and every later call
//! sends it back in its `cookie` header, as Flight SQL's session specification describes. No
//! instance keeps a session: any instance sharing the secret reads it, so a load balancer may
//! send each call anywhere. CloseSession answers the cookie expired (`Max-Age=0`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use prost::Message;
use tonic::Request;
use tonic::metadata::MetadataMap;

use crate::flight::compression::Compression;
use crate::flight::refusal::Refusal;
use crate::flight::signing::{SealError, Sealer};
use crate::pg::settings::Setting;
use crate::plan::context::ReadSession;

/// The cookie's name.
pub const COOKIE: &str = "pgflight_session";

/// Layout version of a [`SessionState`]; another version is refused.
const SESSION_VERSION: u32 = 1;

/// The options a client's session set, as checked when they were set.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SessionState {
    /// Layout version.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The schema unqualified names resolve in.
    #[prost(string, optional, tag = "2")]
    pub schema: Option<String>,
    /// PostgreSQL settings, canonical names, values as PostgreSQL normalised them.
    #[prost(message, repeated, tag = "3")]
    pub settings: Vec<Setting>,
    /// Rows per record batch.
    #[prost(uint64, optional, tag = "4")]
    pub batch_size: Option<u64>,
    /// IPC body compression of DoGet streams (`lz4`, `zstd`).
    #[prost(string, optional, tag = "5")]
    pub compression: Option<String>,
}

impl SessionState {
    /// A session with nothing set.
    pub fn empty() -> SessionState {
        SessionState {
            version: SESSION_VERSION,
            ..SessionState::default()
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.schema.is_none()
            && self.settings.is_empty()
            && self.batch_size.is_none()
            && self.compression.is_none()
    }

    /// What the session changes for the planner.
    pub fn read_session(&self) -> ReadSession {
        ReadSession {
            schema: self.schema.clone(),
            settings: self.settings.clone(),
            batch_size: self.batch_size.and_then(|b| usize::try_from(b).ok()),
        }
    }

    /// The compression the session asked for.
    pub fn compression_kind(&self) -> Option<Compression> {
        self.compression
            .as_deref()
            .and_then(Compression::parse)
            .flatten()
    }

    /// Replaces (or, with `None`, removes) the setting `name`.
    pub fn set_setting(&mut self, name: &str, value: Option<String>) {
        self.settings.retain(|s| s.name != name);
        if let Some(value) = value {
            self.settings.push(Setting::new(name, value));
        }
    }

    /// The `set-cookie` header value carrying this state sealed for the caller, valid `ttl`;
    /// an empty state expires the cookie.
    pub fn set_cookie(&self, sealer: &Sealer, ttl: Duration) -> String {
        if self.is_empty() {
            return expired_cookie();
        }
        let sealed = sealer.seal_for(self.encode_to_vec(), ttl);
        format!(
            "{COOKIE}={}; Max-Age={}; Path=/; HttpOnly",
            URL_SAFE_NO_PAD.encode(sealed),
            ttl.as_secs().max(1)
        )
    }
}

/// The `set-cookie` header value that makes the client forget its session.
pub fn expired_cookie() -> String {
    format!("{COOKIE}=; Max-Age=0; Path=/; HttpOnly")
}

/// The session state the caller's `cookie` headers carry (an empty one when there is none);
/// a cookie that is forged, altered, expired or someone else's is refused.
pub fn from_metadata(metadata: &MetadataMap, sealer: &Sealer) -> Result<SessionState, Refusal> {
    let Some(value) = cookie_value(metadata) else {
        return Ok(SessionState::empty());
    };
    if value.is_empty() {
        return Ok(SessionState::empty());
    }
    let sealed = URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| Refusal::SessionCookie("it is not base64".into()))?;
    let bytes = sealer.open(&sealed).map_err(|e| {
        Refusal::SessionCookie(
            match e {
                SealError::Forged => {
                    "not issued by this pgflight (another ticket_secret?) or altered"
                }
                SealError::OtherIdentity => "issued to another user",
                SealError::Expired => "expired",
            }
            .into(),
        )
    })?;
    match SessionState::decode(bytes.as_slice()) {
        Ok(state) if state.version == SESSION_VERSION => Ok(state),
        _ => Err(Refusal::SessionCookie(
            "it is not a session of this pgflight version".into(),
        )),
    }
}

/// The value of the last `pgflight_session` cookie of every `cookie` header (`a=1; b=2`).
fn cookie_value(metadata: &MetadataMap) -> Option<String> {
    metadata
        .get_all("cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().trim_matches('"').to_string())
        .next_back()
}

/// The session the gateway found on `request` (none: an empty one).
pub fn session_of<T>(request: &Request<T>) -> SessionState {
    request
        .extensions()
        .get::<SessionState>()
        .cloned()
        .unwrap_or_else(SessionState::empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::flight::signing::HandleSigner;

    fn sealer(identity: &str, signer: &Arc<HandleSigner>) -> Sealer {
        Sealer::new(signer.clone(), identity.into())
    }

    fn with_cookie(header: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("cookie", header.parse().unwrap());
        metadata
    }

    #[test]
    fn a_session_round_trips_through_its_cookie_for_its_caller_only() {
        let signer = Arc::new(HandleSigner::new(None, Duration::from_secs(60)).unwrap());
        let alice = sealer("alice", &signer);
        let mut state = SessionState::empty();
        state.schema = Some("Sales \"2024\"".into());
        state.set_setting("TimeZone", Some("Europe/Paris".into()));
        state.batch_size = Some(7);
        let cookie = state.set_cookie(&alice, Duration::from_secs(600));
        assert!(cookie.contains("Max-Age=600"), "{cookie}");
        let pair = cookie.split(';').next().unwrap();
        let header = format!("other=1; {pair}; more=2");
        assert_eq!(from_metadata(&with_cookie(&header), &alice).unwrap(), state);
        let bob = sealer("bob", &signer);
        assert!(from_metadata(&with_cookie(&header), &bob).is_err());
        let altered = header.replacen("pgflight_session=", "pgflight_session=A", 1);
        assert!(from_metadata(&with_cookie(&altered), &alice).is_err());
        assert_eq!(
            from_metadata(&MetadataMap::new(), &alice).unwrap(),
            SessionState::empty()
        );
        assert_eq!(
            from_metadata(&with_cookie("pgflight_session="), &alice).unwrap(),
            SessionState::empty()
        );
    }

    #[test]
    fn an_empty_session_expires_the_cookie() {
        let signer = Arc::new(HandleSigner::new(None, Duration::from_secs(60)).unwrap());
        let cookie =
            SessionState::empty().set_cookie(&sealer("a", &signer), Duration::from_secs(9));
        assert_eq!(cookie, expired_cookie());
        assert!(cookie.contains("Max-Age=0"));
    }
}

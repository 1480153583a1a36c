//! Signed, expiring, caller-bound handles. Every ticket and prepared-statement handle pgflight
//! hands out is sealed here: an HMAC-SHA256 (key: `ticket_secret`) over the payload, the
//! identity it was issued to and its expiry. A forged, altered, expired or someone else's
//! handle is refused before anything reaches PostgreSQL. Any instance with the same secret
//! opens it, so instances behind a load balancer share no state.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow_flight::Ticket;
use arrow_flight::sql::{ProstMessageExt, TicketStatementQuery};

use prost::Message;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

/// Envelope layout version.
const SEAL_VERSION: u32 = 1;

/// Why a sealed handle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a pgflight envelope, or its signature does not match (forged or altered).
    #[error("ticket was not issued by this pgflight or was altered")]
    Forged,
    /// Issued to another identity.
    #[error("ticket was issued to another user")]
    OtherIdentity,
    /// Past its expiry.
    #[error("ticket expired; call GetFlightInfo again")]
    Expired,
}

#[derive(Clone, PartialEq, Message)]
struct Envelope {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(bytes = "vec", tag = "2")]
    payload: Vec<u8>,
    #[prost(string, tag = "3")]
    identity: String,
    #[prost(uint64, tag = "4")]
    expires_unix_ms: u64,
    #[prost(bytes = "vec", tag = "5")]
    mac: Vec<u8>,
}

/// The system gave no random bytes for a ticket key (there was no `ticket_secret`).
/// (ring's own error says nothing more, so none is kept.)
#[derive(Debug, thiserror::Error)]
#[error("no random numbers for the ticket key")]
pub struct NoRandomKey;

/// Seals and opens handles with one key.
pub struct HandleSigner {
    key: hmac::Key,
    ttl: Duration,
}

impl HandleSigner {
    /// A signer keyed by `secret`, or by 32 random bytes when there is none (handles then stop
    /// working when the process ends).
    pub fn new(secret: Option<&SecretString>, ttl: Duration) -> Result<HandleSigner, NoRandomKey> {
        let key = match secret {
            Some(secret) => hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
            None => {
                let mut bytes = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| NoRandomKey)?;
                hmac::Key::new(hmac::HMAC_SHA256, &bytes)
            }
        };
        Ok(HandleSigner { key, ttl })
    }

    /// Seals `payload` for `identity`, valid for the configured time.
    pub fn seal(&self, payload: Vec<u8>, identity: &str) -> Vec<u8> {
        let expires = now_ms().saturating_add(self.ttl.as_millis() as u64);
        self.seal_until(payload, identity, expires)
    }

    /// Seals `payload` for `identity`, valid for `ttl` (handles that outlive tickets, such as
    /// session options).
    pub fn seal_for(&self, payload: Vec<u8>, identity: &str, ttl: Duration) -> Vec<u8> {
        let expires = now_ms().saturating_add(ttl.as_millis() as u64);
        self.seal_until(payload, identity, expires)
    }

    fn seal_until(&self, payload: Vec<u8>, identity: &str, expires_unix_ms: u64) -> Vec<u8> {
        let mut envelope = Envelope {
            version: SEAL_VERSION,
            payload,
            identity: identity.to_string(),
            expires_unix_ms,
            mac: Vec::new(),
        };
        envelope.mac = hmac::sign(&self.key, &envelope.encode_to_vec())
            .as_ref()
            .to_vec();
        envelope.encode_to_vec()
    }

    /// The payload of a handle sealed by this key for `identity`, if it is still valid.
    pub fn open(&self, sealed: &[u8], identity: &str) -> Result<Vec<u8>, SealError> {
        let mut envelope = Envelope::decode(sealed).map_err(|_| SealError::Forged)?;
        if envelope.version != SEAL_VERSION {
            return Err(SealError::Forged);
        }
        let mac = std::mem::take(&mut envelope.mac);
        hmac::verify(&self.key, &envelope.encode_to_vec(), &mac).map_err(|_| SealError::Forged)?;
        if envelope.identity != identity {
            return Err(SealError::OtherIdentity);
        }
        if envelope.expires_unix_ms <= now_ms() {
            return Err(SealError::Expired);
        }
        Ok(envelope.payload)
    }
}

impl HandleSigner {
    /// The payload and identity of a handle sealed by this key, if it is still valid (for
    /// bearer tokens, which carry the identity they prove).
    pub fn open_any(&self, sealed: &[u8]) -> Result<(Vec<u8>, String), SealError> {
        let envelope = Envelope::decode(sealed).map_err(|_| SealError::Forged)?;
        let identity = envelope.identity.clone();
        let payload = self.open(sealed, &identity)?;
        Ok((payload, identity))
    }
}

/// A signer together with the caller it seals for: what handlers use.
pub struct Sealer {
    signer: Arc<HandleSigner>,
    identity: String,
}

impl Sealer {
    /// Seals and opens for `identity`.
    pub fn new(signer: Arc<HandleSigner>, identity: String) -> Sealer {
        Sealer { signer, identity }
    }

    /// `payload`, sealed for this caller.
    pub fn seal(&self, payload: Vec<u8>) -> Vec<u8> {
        self.signer.seal(payload, &self.identity)
    }

    /// A Flight ticket (a `TicketStatementQuery`) carrying `payload`, sealed for this caller.
    pub fn ticket(&self, payload: Vec<u8>) -> Ticket {
        let query = TicketStatementQuery {
            statement_handle: self.seal(payload).into(),
        };
        Ticket::new(query.as_any().encode_to_vec())
    }

    /// `payload`, sealed for this caller for `ttl`.
    pub fn seal_for(&self, payload: Vec<u8>, ttl: Duration) -> Vec<u8> {
        self.signer.seal_for(payload, &self.identity, ttl)
    }

    /// The payload of a handle sealed for this caller, if it is valid.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.signer.open(sealed, &self.identity)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> HandleSigner {
        HandleSigner::new(Some(&SecretString::from("s3cret")), Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn a_sealed_handle_opens_for_its_identity_only() {
        let sealed = signer().seal(b"plan".to_vec(), "alice");
        assert_eq!(signer().open(&sealed, "alice").unwrap(), b"plan");
        assert_eq!(signer().open(&sealed, "bob"), Err(SealError::OtherIdentity));
    }

    #[test]
    fn every_altered_byte_is_refused() {
        let sealed = signer().seal(b"plan".to_vec(), "alice");
        for i in 0..sealed.len() {
            for flip in [0x01u8, 0x80] {
                let mut altered = sealed.clone();
                altered[i] ^= flip;
                assert!(
                    signer().open(&altered, "alice").is_err(),
                    "byte {i} ^ {flip:#x}"
                );
            }
        }
    }

    #[test]
    fn other_keys_and_expired_handles_are_refused() {
        let sealed = signer().seal(b"plan".to_vec(), "alice");
        let other = HandleSigner::new(Some(&SecretString::from("other")), Duration::from_secs(60));
        assert_eq!(
            other.unwrap().open(&sealed, "alice"),
            Err(SealError::Forged)
        );
        let random = HandleSigner::new(None, Duration::from_secs(60)).unwrap();
        assert_eq!(random.open(&sealed, "alice"), Err(SealError::Forged));
        let old = signer().seal_until(b"plan".to_vec(), "alice", now_ms() - 1);
        assert_eq!(signer().open(&old, "alice"), Err(SealError::Expired));
        assert_eq!(signer().open(b"garbage", "alice"), Err(SealError::Forged));
    }
}

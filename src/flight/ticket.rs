//! Ticket encoding. Every ticket pgflight issues is a Flight SQL `TicketStatementQuery` whose
//! `statement_handle` is a pgflight message (prost), sealed by [`HandleSigner`] (signed,
//! expiring, bound to the caller), so DoGet has one path for all requests. A ticket names a
//! relation, its columns and the endpoint's range; DoGet re-plans from those names.

use arrow_flight::Ticket;
use arrow_flight::sql::{ProstMessageExt, TicketStatementQuery};
use prost::Message;

use crate::flight::signing::{HandleSigner, SealError};
use crate::pg::partition::Split;

/// Why a ticket was refused.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The seal does not hold (forged, altered, expired, another user's).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Sealed by pgflight but not a handle this version reads.
    #[error("{0}")]
    Malformed(String),
}

/// Version of the handle layout; a handle of another version is refused.
const HANDLE_VERSION: u32 = 1;

/// What one endpoint reads.
#[derive(Clone, PartialEq, Message)]
pub struct ScanHandle {
    /// Layout version ([`HANDLE_VERSION`]).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The relation's schema (exact).
    #[prost(string, tag = "2")]
    pub schema: String,
    /// The relation's name (exact).
    #[prost(string, tag = "3")]
    pub table: String,
    /// Column names, in output order.
    #[prost(string, repeated, tag = "4")]
    pub columns: Vec<String>,
    /// The exported snapshot shared by a split request's endpoints ("" when not split).
    #[prost(string, tag = "5")]
    pub snapshot: String,
    /// Block range start of this endpoint (ctid split).
    #[prost(uint64, optional, tag = "6")]
    pub block_from: Option<u64>,
    /// Block range end, exclusive (ctid split).
    #[prost(uint64, optional, tag = "7")]
    pub block_to: Option<u64>,
    /// The integer key column of a key-range split ("" otherwise).
    #[prost(string, tag = "8")]
    pub key_column: String,
    /// Key range start (key split).
    #[prost(int64, optional, tag = "9")]
    pub key_from: Option<i64>,
    /// Key range end, exclusive (key split).
    #[prost(int64, optional, tag = "10")]
    pub key_to: Option<i64>,
}

impl ScanHandle {
    /// A handle for `columns` of `schema.table`.
    pub fn new(schema: &str, table: &str, columns: Vec<String>) -> ScanHandle {
        ScanHandle {
            version: HANDLE_VERSION,
            schema: schema.to_string(),
            table: table.to_string(),
            columns,
            ..ScanHandle::default()
        }
    }

    /// This handle, restricted to one range of a split request reading `snapshot`.
    pub fn with_split(mut self, snapshot: Option<&str>, split: Option<&Split>) -> ScanHandle {
        self.snapshot = snapshot.unwrap_or_default().to_string();
        match split {
            Some(Split::Blocks { from, to }) => {
                self.block_from = *from;
                self.block_to = *to;
            }
            Some(Split::Keys { column, from, to }) => {
                self.key_column = column.clone();
                self.key_from = *from;
                self.key_to = *to;
            }
            None => {}
        }
        self
    }

    /// The range this endpoint reads, if the request was split.
    pub fn split(&self) -> Option<Split> {
        if !self.key_column.is_empty() {
            Some(Split::Keys {
                column: self.key_column.clone(),
                from: self.key_from,
                to: self.key_to,
            })
        } else if self.block_from.is_some() || self.block_to.is_some() {
            Some(Split::Blocks {
                from: self.block_from,
                to: self.block_to,
            })
        } else {
            None
        }
    }

    /// The snapshot this endpoint reads in, if the request was split.
    pub fn snapshot(&self) -> Option<&str> {
        (!self.snapshot.is_empty()).then_some(self.snapshot.as_str())
    }

    /// The Flight ticket carrying this handle, sealed for `identity`.
    pub fn to_ticket(&self, signer: &HandleSigner, identity: &str) -> Ticket {
        let query = TicketStatementQuery {
            statement_handle: signer.seal(self.encode_to_vec(), identity).into(),
        };
        Ticket::new(query.as_any().encode_to_vec())
    }

    /// Opens the `statement_handle` of a `TicketStatementQuery` sealed for `identity`.
    pub fn open(
        signer: &HandleSigner,
        sealed: &[u8],
        identity: &str,
    ) -> Result<ScanHandle, TicketError> {
        let bytes = signer.open(sealed, identity)?;
        ScanHandle::decode_handle(&bytes).map_err(TicketError::Malformed)
    }

    /// Decodes an (unsealed) handle.
    fn decode_handle(bytes: &[u8]) -> Result<ScanHandle, String> {
        let handle = ScanHandle::decode(bytes).map_err(|_| {
            "ticket was not issued by this pgflight (undecodable handle)".to_string()
        })?;
        if handle.version != HANDLE_VERSION || handle.table.is_empty() {
            return Err("ticket was not issued by this pgflight (unknown handle version)".into());
        }
        Ok(handle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::sql::{Any, Command};

    #[test]
    fn handles_round_trip_through_a_ticket() {
        let signer = HandleSigner::new(None, std::time::Duration::from_secs(60)).unwrap();
        let handle = ScanHandle::new("app", "Users \"x\"", vec!["id".into(), "naïve".into()]);
        let ticket = handle.to_ticket(&signer, "alice");
        let any = Any::decode(&*ticket.ticket).unwrap();
        let Command::TicketStatementQuery(query) = Command::try_from(any).unwrap() else {
            panic!("not a TicketStatementQuery");
        };
        let opened = ScanHandle::open(&signer, &query.statement_handle, "alice").unwrap();
        assert_eq!(opened, handle);
        assert!(ScanHandle::open(&signer, &query.statement_handle, "bob").is_err());
    }

    #[test]
    fn foreign_handles_are_refused() {
        assert!(ScanHandle::decode_handle(b"SELECT 1").is_err());
        assert!(ScanHandle::decode_handle(&[0xff; 7]).is_err());
        let wrong_version = ScanHandle {
            version: 99,
            ..ScanHandle::new("s", "t", vec![])
        };
        assert!(ScanHandle::decode_handle(&wrong_version.encode_to_vec()).is_err());
    }

    #[test]
    fn splits_round_trip() {
        for split in [
            Split::Blocks {
                from: None,
                to: Some(10),
            },
            Split::Blocks {
                from: Some(10),
                to: None,
            },
            Split::Keys {
                column: "id".into(),
                from: Some(-5),
                to: Some(7),
            },
        ] {
            let handle =
                ScanHandle::new("s", "t", vec![]).with_split(Some("0003-1B-1"), Some(&split));
            let decoded = ScanHandle::decode_handle(&handle.encode_to_vec()).unwrap();
            assert_eq!(decoded.split(), Some(split));
            assert_eq!(decoded.snapshot(), Some("0003-1B-1"));
        }
        let plain = ScanHandle::new("s", "t", vec![]);
        assert_eq!((plain.split(), plain.snapshot()), (None, None));
    }
}

//! Ticket encoding. Every ticket pgflight issues is a Flight SQL `TicketStatementQuery` whose
//! `statement_handle` is a pgflight message (prost), so DoGet has one path for all requests.
//! A ticket names a relation and its columns; DoGet re-plans from those names, so a ticket
//! never carries SQL. (Signing and expiry come with the security work.)

use arrow_flight::Ticket;
use arrow_flight::sql::{ProstMessageExt, TicketStatementQuery};
use prost::Message;

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
}

impl ScanHandle {
    /// A handle for `columns` of `schema.table`.
    pub fn new(schema: &str, table: &str, columns: Vec<String>) -> ScanHandle {
        ScanHandle {
            version: HANDLE_VERSION,
            schema: schema.to_string(),
            table: table.to_string(),
            columns,
        }
    }

    /// The Flight ticket carrying this handle.
    pub fn to_ticket(&self) -> Ticket {
        let query = TicketStatementQuery {
            statement_handle: self.encode_to_vec().into(),
        };
        Ticket::new(query.as_any().encode_to_vec())
    }

    /// Decodes the `statement_handle` of a `TicketStatementQuery`.
    pub fn decode_handle(bytes: &[u8]) -> Result<ScanHandle, String> {
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
        let handle = ScanHandle::new("app", "Users \"x\"", vec!["id".into(), "naïve".into()]);
        let ticket = handle.to_ticket();
        let any = Any::decode(&*ticket.ticket).unwrap();
        let Command::TicketStatementQuery(query) = Command::try_from(any).unwrap() else {
            panic!("not a TicketStatementQuery");
        };
        assert_eq!(
            ScanHandle::decode_handle(&query.statement_handle).unwrap(),
            handle
        );
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
}

//! Ticket encoding. Every ticket pgflight issues is a Flight SQL `TicketStatementQuery` whose
//! `statement_handle` is a pgflight message (prost), so DoGet has one path for all requests.
//! A ticket names a relation and its columns; DoGet re-plans from those names, so a ticket
//! never carries SQL. A SQL statement's handle ([`QueryHandle`]) carries the client's SQL text
//! and bound parameter values, and DoGet plans it again from scratch, exactly as GetFlightInfo
//! did, so the handle can ask for nothing a client could not ask for directly. (Signing and
//! expiry come with the security work.)

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

/// Layout version of a [`QueryHandle`]; distinct from [`HANDLE_VERSION`] so that the two kinds
/// of handle are told apart by their first field.
const QUERY_HANDLE_VERSION: u32 = 2;

/// A SQL statement (CommandStatementQuery ticket, or a prepared statement's handle): the
/// statement text and, once parameters are bound, one row of values per execution.
#[derive(Clone, PartialEq, Message)]
pub struct QueryHandle {
    /// Layout version ([`QUERY_HANDLE_VERSION`]).
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The client's SQL text (placeholders already numbered `$n`).
    #[prost(string, tag = "5")]
    pub sql: String,
    /// Bound parameter rows; each row is one execution, results concatenated.
    #[prost(message, repeated, tag = "6")]
    pub params: Vec<ParamRow>,
}

/// One execution's parameter values, as PostgreSQL input text (absent = NULL).
#[derive(Clone, PartialEq, Message)]
pub struct ParamRow {
    /// Values of `$1…$n`.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<ParamValue>,
}

/// One parameter value.
#[derive(Clone, PartialEq, Message)]
pub struct ParamValue {
    /// PostgreSQL input text; `None` is SQL NULL.
    #[prost(string, optional, tag = "1")]
    pub text: Option<String>,
}

impl QueryHandle {
    /// A handle for `sql` with no parameters bound.
    pub fn new(sql: &str) -> QueryHandle {
        QueryHandle {
            version: QUERY_HANDLE_VERSION,
            sql: sql.to_string(),
            params: Vec::new(),
        }
    }

    /// Bound parameter rows as plain values.
    pub fn param_rows(&self) -> Vec<Vec<Option<String>>> {
        self.params
            .iter()
            .map(|row| row.values.iter().map(|v| v.text.clone()).collect())
            .collect()
    }

    /// This handle with `rows` bound (replacing earlier ones).
    pub fn with_params(mut self, rows: Vec<Vec<Option<String>>>) -> QueryHandle {
        self.params = rows
            .into_iter()
            .map(|row| ParamRow {
                values: row.into_iter().map(|text| ParamValue { text }).collect(),
            })
            .collect();
        self
    }

    /// The Flight ticket carrying this handle.
    pub fn to_ticket(&self) -> Ticket {
        let query = TicketStatementQuery {
            statement_handle: self.encode_to_vec().into(),
        };
        Ticket::new(query.as_any().encode_to_vec())
    }

    /// Decodes a prepared-statement or statement handle.
    pub fn decode_handle(bytes: &[u8]) -> Result<QueryHandle, String> {
        let handle = QueryHandle::decode(bytes).map_err(|_| {
            "statement handle was not issued by this pgflight (undecodable handle)".to_string()
        })?;
        if handle.version != QUERY_HANDLE_VERSION {
            return Err("statement handle was not issued by this pgflight".into());
        }
        Ok(handle)
    }
}

/// Any handle pgflight puts in a `TicketStatementQuery`.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementHandle {
    /// A relation scan (extraction).
    Scan(ScanHandle),
    /// A SQL statement.
    Query(QueryHandle),
}

/// Only the version field, to tell the kinds of handle apart.
#[derive(Clone, PartialEq, Message)]
struct HandleVersion {
    #[prost(uint32, tag = "1")]
    version: u32,
}

impl StatementHandle {
    /// Decodes the `statement_handle` of a `TicketStatementQuery`.
    pub fn decode(bytes: &[u8]) -> Result<StatementHandle, String> {
        match HandleVersion::decode(bytes).map(|h| h.version) {
            Ok(QUERY_HANDLE_VERSION) => QueryHandle::decode_handle(bytes).map(Self::Query),
            _ => ScanHandle::decode_handle(bytes).map(Self::Scan),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::sql::{Any, Command};

    #[test]
    fn query_handles_round_trip_and_are_told_from_scan_handles() {
        let handle = QueryHandle::new("SELECT $1").with_params(vec![vec![Some("1".into()), None]]);
        let bytes = handle.encode_to_vec();
        assert_eq!(
            StatementHandle::decode(&bytes).unwrap(),
            StatementHandle::Query(handle.clone())
        );
        assert_eq!(handle.param_rows(), vec![vec![Some("1".to_string()), None]]);
        let scan = ScanHandle::new("s", "t", vec!["a".into()]);
        assert_eq!(
            StatementHandle::decode(&scan.encode_to_vec()).unwrap(),
            StatementHandle::Scan(scan)
        );
        assert!(StatementHandle::decode(b"SELECT 1").is_err());
    }

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

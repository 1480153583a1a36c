//! Ticket encoding. Every ticket pgflight issues is a Flight SQL `TicketStatementQuery` whose
//! `statement_handle` is a pgflight message (prost), sealed by [`HandleSigner`] (signed,
//! expiring, bound to the caller), so DoGet has one path for all requests. A scan ticket names a
//! relation, its columns and the endpoint's range; DoGet re-plans from those names. A SQL
//! statement's handle ([`QueryHandle`], also a prepared statement's handle) carries the
//! client's SQL text and bound parameter values, and DoGet plans it again from scratch, exactly
//! as GetFlightInfo did, so the handle can ask for nothing a client could not ask for directly.

use arrow_flight::Ticket;
use prost::Message;

use crate::flight::signing::Sealer;
use crate::pg::partition::Split;
use crate::plan::cursor::CursorWindow;
use crate::plan::endpoints::EndpointRange;

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
    /// The cursor column (or `xmin`) of an incremental request ("" for a full read).
    #[prost(string, tag = "11")]
    pub cursor_field: String,
    /// The window's exclusive lower bound (canonical cursor text; absent: from the beginning).
    #[prost(string, optional, tag = "12")]
    pub cursor_from: Option<String>,
    /// The window's inclusive upper bound, the high-water mark (absent: empty window).
    #[prost(string, optional, tag = "13")]
    pub cursor_to: Option<String>,
    /// The next cursor's JSON, put in the stream's schema metadata.
    #[prost(string, tag = "14")]
    pub cursor_metadata: String,
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
        let range = RangeHandle::new(snapshot.unwrap_or_default(), split);
        self.snapshot = range.snapshot;
        self.block_from = range.block_from;
        self.block_to = range.block_to;
        self.key_column = range.key_column;
        self.key_from = range.key_from;
        self.key_to = range.key_to;
        self
    }

    /// This handle, restricted to an incremental request's window.
    pub fn with_window(
        mut self,
        window: Option<&CursorWindow>,
        metadata: Option<&str>,
    ) -> ScanHandle {
        if let Some(window) = window {
            self.cursor_field = window.field.clone();
            self.cursor_from = window.from.clone();
            self.cursor_to = window.to.clone();
        }
        self.cursor_metadata = metadata.unwrap_or_default().to_string();
        self
    }

    /// The cursor window this endpoint reads, if the request was incremental.
    pub fn window(&self) -> Option<CursorWindow> {
        (!self.cursor_field.is_empty()).then(|| CursorWindow {
            field: self.cursor_field.clone(),
            from: self.cursor_from.clone(),
            to: self.cursor_to.clone(),
        })
    }

    /// The next cursor's JSON, if the request was incremental.
    pub fn cursor_metadata(&self) -> Option<&str> {
        (!self.cursor_metadata.is_empty()).then_some(self.cursor_metadata.as_str())
    }

    /// The range this endpoint reads, if the request was split.
    pub fn split(&self) -> Option<Split> {
        RangeHandle {
            snapshot: String::new(),
            block_from: self.block_from,
            block_to: self.block_to,
            key_column: self.key_column.clone(),
            key_from: self.key_from,
            key_to: self.key_to,
        }
        .split()
    }

    /// The snapshot this endpoint reads in, if the request was split.
    pub fn snapshot(&self) -> Option<&str> {
        (!self.snapshot.is_empty()).then_some(self.snapshot.as_str())
    }

    /// The Flight ticket carrying this handle, sealed for the caller.
    pub fn to_ticket(&self, sealer: &Sealer) -> Ticket {
        sealer.ticket(self.encode_to_vec())
    }

    /// Decodes an (unsealed) handle.
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

/// The range one endpoint of a split read covers, and the exported snapshot it reads in.
#[derive(Clone, PartialEq, Message)]
pub struct RangeHandle {
    /// The exported snapshot shared by the endpoints ("" when not split).
    #[prost(string, tag = "1")]
    pub snapshot: String,
    /// Block range start (ctid split).
    #[prost(uint64, optional, tag = "2")]
    pub block_from: Option<u64>,
    /// Block range end, exclusive (ctid split).
    #[prost(uint64, optional, tag = "3")]
    pub block_to: Option<u64>,
    /// The integer key column of a key-range split ("" otherwise).
    #[prost(string, tag = "4")]
    pub key_column: String,
    /// Key range start (key split).
    #[prost(int64, optional, tag = "5")]
    pub key_from: Option<i64>,
    /// Key range end, exclusive (key split).
    #[prost(int64, optional, tag = "6")]
    pub key_to: Option<i64>,
}

impl RangeHandle {
    /// `split` (if any), read in `snapshot`.
    pub fn new(snapshot: &str, split: Option<&Split>) -> RangeHandle {
        let mut range = RangeHandle {
            snapshot: snapshot.to_string(),
            ..RangeHandle::default()
        };
        match split {
            Some(Split::Blocks { from, to }) => {
                range.block_from = *from;
                range.block_to = *to;
            }
            Some(Split::Keys { column, from, to }) => {
                range.key_column = column.clone();
                range.key_from = *from;
                range.key_to = *to;
            }
            None => {}
        }
        range
    }

    /// The range, if there is one.
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
    /// The range this endpoint reads when the statement's read was split (absent otherwise).
    #[prost(message, optional, tag = "7")]
    pub range: Option<RangeHandle>,
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
            range: None,
        }
    }

    /// This handle, restricted to one endpoint's range of a split read.
    pub fn with_range(mut self, range: &EndpointRange) -> QueryHandle {
        self.range = Some(RangeHandle::new(&range.snapshot, Some(&range.split)));
        self
    }

    /// The range this endpoint reads, if the statement's read was split.
    pub fn endpoint_range(&self) -> Result<Option<EndpointRange>, String> {
        let Some(range) = &self.range else {
            return Ok(None);
        };
        match range.split() {
            Some(split) if !range.snapshot.is_empty() => Ok(Some(EndpointRange {
                snapshot: range.snapshot.clone(),
                split,
            })),
            _ => Err("statement handle was not issued by this pgflight (incomplete range)".into()),
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
// Decoded once per DoGet and consumed at once: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
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
        let signer = std::sync::Arc::new(
            crate::flight::signing::HandleSigner::new(None, std::time::Duration::from_secs(60))
                .unwrap(),
        );
        let handle = ScanHandle::new("app", "Users \"x\"", vec!["id".into(), "naïve".into()]);
        let ticket = handle.to_ticket(&Sealer::new(signer.clone(), "alice".into()));
        let any = Any::decode(&*ticket.ticket).unwrap();
        let Command::TicketStatementQuery(query) = Command::try_from(any).unwrap() else {
            panic!("not a TicketStatementQuery");
        };
        let opened = signer.open(&query.statement_handle, "alice").unwrap();
        assert_eq!(ScanHandle::decode_handle(&opened).unwrap(), handle);
        assert!(signer.open(&query.statement_handle, "bob").is_err());
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
        let range = EndpointRange {
            snapshot: "0003-1B-1".into(),
            split: Split::Keys {
                column: "id".into(),
                from: None,
                to: Some(7),
            },
        };
        let query = QueryHandle::new("SELECT 1").with_range(&range);
        let StatementHandle::Query(decoded) =
            StatementHandle::decode(&query.encode_to_vec()).unwrap()
        else {
            panic!("not a query handle");
        };
        assert_eq!(decoded.endpoint_range().unwrap(), Some(range));
        assert_eq!(QueryHandle::new("SELECT 1").endpoint_range().unwrap(), None);
        let plain = ScanHandle::new("s", "t", vec![]);
        assert_eq!((plain.split(), plain.snapshot()), (None, None));
    }

    #[test]
    fn windows_round_trip() {
        let window = CursorWindow {
            field: "updated_at".into(),
            from: None,
            to: Some("2024-01-01T00:00:00.000000+00:00".into()),
        };
        let handle = ScanHandle::new("s", "t", vec![]).with_window(Some(&window), Some("{}"));
        let decoded = ScanHandle::decode_handle(&handle.encode_to_vec()).unwrap();
        assert_eq!(decoded.window(), Some(window));
        assert_eq!(decoded.cursor_metadata(), Some("{}"));
        let plain = ScanHandle::new("s", "t", vec![]);
        assert_eq!((plain.window(), plain.cursor_metadata()), (None, None));
    }
}

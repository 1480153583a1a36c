//! The read plan: what one endpoint reads, fully decided at GetFlightInfo. Encoded with prost
//! and sealed, it **is** the ticket: DoGet opens it and runs it without planning again and
//! without a catalog query (every column carries what its decoder needs).

use prost::Message;

use crate::pg::read::{Filter, Read, ReadColumn};
use crate::pg::settings::Setting;
use crate::plan::PlanError;

/// Layout version; a plan of another version (an older pgflight's ticket) is refused.
const READ_PLAN_VERSION: u32 = 3;

/// What one endpoint reads.
#[derive(Clone, PartialEq, Message)]
pub struct ReadPlan {
    /// Layout version.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The read.
    #[prost(oneof = "plan_body::Body", tags = "2, 3, 4, 6")]
    pub body: Option<plan_body::Body>,
    /// The next cursor's JSON (incremental and changes requests), put in the stream's schema
    /// metadata.
    #[prost(string, tag = "5")]
    pub cursor_metadata: String,
    /// The query every endpoint of one FlightInfo shares ("" for none): what a cancel names.
    #[prost(string, tag = "16")]
    pub query_id: String,
    /// The client session's PostgreSQL settings, applied in the read's transaction (so DoGet
    /// on any instance reads as the session asked).
    #[prost(message, repeated, tag = "17")]
    pub settings: Vec<Setting>,
    /// The client session's rows per record batch, when it set one.
    #[prost(uint64, optional, tag = "18")]
    pub batch_size: Option<u64>,
}

/// The kinds of [`ReadPlan`].
pub mod plan_body {
    /// The read.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Body {
        /// PostgreSQL produces the result: a relation scan or a pass-through statement.
        #[prost(message, tag = "2")]
        Read(crate::pg::read::Read),
        /// DataFusion evaluates a statement over one relation's scan.
        #[prost(message, tag = "3")]
        Query(super::PlannedQuery),
        /// pgflight's EXPLAIN: the lines, decided at planning.
        #[prost(message, tag = "4")]
        Explain(super::ExplainLines),
        /// A logical slot's changes of one relation.
        #[prost(message, tag = "6")]
        Changes(crate::pg::read::ChangesRead),
    }
}

/// A statement DataFusion evaluates over one relation (the filters it can, PostgreSQL does).
#[derive(Clone, PartialEq, Message)]
pub struct PlannedQuery {
    /// The statement.
    #[prost(string, tag = "1")]
    pub sql: String,
    /// The relation's schema.
    #[prost(string, tag = "2")]
    pub schema: String,
    /// The relation's name.
    #[prost(string, tag = "3")]
    pub table: String,
    /// The relation's columns (what DataFusion plans the statement against).
    #[prost(message, repeated, tag = "4")]
    pub columns: Vec<ReadColumn>,
    /// The exported snapshot of a split read ("" when not split).
    #[prost(string, tag = "5")]
    pub snapshot: String,
    /// The range this endpoint reads (split reads only).
    #[prost(message, optional, tag = "6")]
    pub range: Option<Filter>,
    /// Which endpoint of the split read this is (0-based; see [`Read::part`]).
    #[prost(uint32, tag = "7")]
    pub part: u32,
}

/// The text of an EXPLAIN.
#[derive(Clone, PartialEq, Message)]
pub struct ExplainLines {
    /// One line each.
    #[prost(string, repeated, tag = "1")]
    pub lines: Vec<String>,
}

impl ReadPlan {
    fn of(body: plan_body::Body, cursor_metadata: Option<&str>) -> ReadPlan {
        ReadPlan {
            version: READ_PLAN_VERSION,
            body: Some(body),
            cursor_metadata: cursor_metadata.unwrap_or_default().to_string(),
            query_id: String::new(),
            settings: Vec::new(),
            batch_size: None,
        }
    }

    /// This plan as an endpoint of query `query_id`.
    pub fn in_query(mut self, query_id: &str) -> ReadPlan {
        self.query_id = query_id.to_string();
        self
    }

    /// The query this plan is an endpoint of, if any.
    pub fn query_id(&self) -> Option<&str> {
        (!self.query_id.is_empty()).then_some(self.query_id.as_str())
    }

    /// A read PostgreSQL answers alone.
    pub fn read(read: Read, cursor_metadata: Option<&str>) -> ReadPlan {
        ReadPlan::of(plan_body::Body::Read(read), cursor_metadata)
    }

    /// A logical slot's changes, with the next cursor.
    pub fn changes(read: crate::pg::read::ChangesRead, cursor_metadata: &str) -> ReadPlan {
        ReadPlan::of(plan_body::Body::Changes(read), Some(cursor_metadata))
    }

    /// A statement DataFusion evaluates over one relation.
    pub fn query(query: PlannedQuery) -> ReadPlan {
        ReadPlan::of(plan_body::Body::Query(query), None)
    }

    /// An EXPLAIN's lines.
    pub fn explain(lines: Vec<String>) -> ReadPlan {
        ReadPlan::of(plan_body::Body::Explain(ExplainLines { lines }), None)
    }

    /// The next cursor's JSON, if the read is incremental.
    pub fn cursor_metadata(&self) -> Option<&str> {
        (!self.cursor_metadata.is_empty()).then_some(self.cursor_metadata.as_str())
    }

    /// The exported snapshot this endpoint reads in (split reads), if any.
    pub fn snapshot(&self) -> Option<&str> {
        match &self.body {
            Some(plan_body::Body::Read(read)) => read.snapshot(),
            Some(plan_body::Body::Query(query)) => {
                (!query.snapshot.is_empty()).then_some(query.snapshot.as_str())
            }
            _ => None,
        }
    }

    /// The plan's bytes (what is sealed into a ticket).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// A plan from its bytes; anything else than a plan of this version is refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<ReadPlan, PlanError> {
        let foreign = || {
            PlanError::InvalidRequest(
                "ticket was not issued by this pgflight (not a read plan of this version); \
                 call GetFlightInfo again"
                    .into(),
            )
        };
        let plan = ReadPlan::decode(bytes).map_err(|_| foreign())?;
        if plan.version != READ_PLAN_VERSION || plan.body.is_none() {
            return Err(foreign());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::read::ScanRead;

    #[test]
    fn plans_round_trip_and_foreign_bytes_are_refused() {
        let scan = ScanRead {
            schema: "s".into(),
            table: "t".into(),
            ..ScanRead::default()
        };
        let plan = ReadPlan::read(Read::scan(scan, Some("0003-1B-1")), Some("{}"));
        let decoded = ReadPlan::from_bytes(&plan.to_bytes()).unwrap();
        assert_eq!(decoded, plan);
        assert_eq!(decoded.cursor_metadata(), Some("{}"));
        assert!(ReadPlan::from_bytes(b"SELECT 1").is_err());
        assert!(ReadPlan::from_bytes(&[0xff; 7]).is_err());
        let old = ReadPlan { version: 1, ..plan };
        assert!(ReadPlan::from_bytes(&old.to_bytes()).is_err());
    }
}

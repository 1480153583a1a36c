//! What clients hand back, sealed by [`crate::flight::signing`] (signed, expiring, bound to the
//! caller): every ticket is a Flight SQL `TicketStatementQuery` whose `statement_handle` is a
//! sealed [`ReadPlan`], so DoGet has one path for every request and runs what GetFlightInfo
//! planned; a prepared statement's handle is a sealed [`PreparedHandle`] (the statement and
//! its bound values), so any instance can serve it and nothing is held for clients that never
//! close it.

use arrow_flight::Ticket;
use prost::Message;
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::signing::Sealer;
use crate::flight::status::{plan_status, refusal_status, ticket_status};
use crate::pg::read::{ParamRow, ParamValue, StatementRead};
use crate::plan::read_plan::ReadPlan;

/// Layout version of a [`PreparedHandle`]; another version is refused.
const PREPARED_HANDLE_VERSION: u32 = 4;

/// A prepared statement: its SQL text and, once bound, one row of values per execution.
#[derive(Clone, PartialEq, Message)]
pub struct PreparedHandle {
    /// Layout version.
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// The client's SQL text.
    #[prost(string, tag = "2")]
    pub sql: String,
    /// Bound parameter rows; each row is one execution, results concatenated.
    #[prost(message, repeated, tag = "3")]
    pub params: Vec<ParamRow>,
    /// A pass-through statement as PostgreSQL described it at preparation: binding and
    /// executing it then plan nothing (its result columns are cast to these types).
    #[prost(message, optional, tag = "4")]
    pub described: Option<StatementRead>,
}

impl PreparedHandle {
    /// A handle for `sql` with no values bound.
    pub fn new(sql: &str) -> PreparedHandle {
        PreparedHandle {
            version: PREPARED_HANDLE_VERSION,
            sql: sql.to_string(),
            params: Vec::new(),
            described: None,
        }
    }

    /// This handle carrying `described` (a pass-through statement's description).
    pub fn with_described(mut self, described: Option<StatementRead>) -> PreparedHandle {
        self.described = described;
        self
    }

    /// This handle with `rows` bound (replacing earlier ones).
    pub fn with_params(mut self, rows: Vec<Vec<Option<String>>>) -> PreparedHandle {
        self.params = rows
            .into_iter()
            .map(|row| ParamRow {
                values: row.into_iter().map(|text| ParamValue { text }).collect(),
            })
            .collect();
        self
    }

    /// Bound parameter rows as plain values.
    pub fn param_rows(&self) -> Vec<Vec<Option<String>>> {
        self.params
            .iter()
            .map(|row| row.values.iter().map(|v| v.text.clone()).collect())
            .collect()
    }

    /// The handle, sealed for the caller.
    pub fn seal(&self, sealer: &Sealer) -> Vec<u8> {
        sealer.seal(self.encode_to_vec())
    }

    /// A sealed handle, opened for the caller it was sealed for.
    pub fn open(sealer: &Sealer, sealed: &[u8]) -> Result<PreparedHandle, Status> {
        let bytes = sealer.open(sealed).map_err(|e| ticket_status(&e))?;
        match PreparedHandle::decode(bytes.as_slice()) {
            Ok(handle) if handle.version == PREPARED_HANDLE_VERSION => Ok(handle),
            _ => Err(refusal_status(&Refusal::ForeignHandle)),
        }
    }
}

/// The ticket of one endpoint: its read plan, sealed for the caller.
pub fn plan_ticket(sealer: &Sealer, plan: &ReadPlan) -> Ticket {
    sealer.ticket(plan.to_bytes())
}

/// The read plan in a `TicketStatementQuery`'s handle, opened for the caller.
pub fn open_plan(sealer: &Sealer, sealed: &[u8]) -> Result<ReadPlan, Status> {
    let bytes = sealer.open(sealed).map_err(|e| ticket_status(&e))?;
    ReadPlan::from_bytes(&bytes).map_err(|e| plan_status(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::read::{Read, ScanRead};
    use arrow_flight::sql::{Any, Command};

    fn sealer(identity: &str) -> (std::sync::Arc<crate::flight::signing::HandleSigner>, Sealer) {
        let signer = std::sync::Arc::new(
            crate::flight::signing::HandleSigner::new(None, std::time::Duration::from_secs(60))
                .unwrap(),
        );
        (signer.clone(), Sealer::new(signer, identity.into()))
    }

    #[test]
    fn plans_round_trip_through_a_ticket_for_their_caller_only() {
        let (signer, alice) = sealer("alice");
        let scan = ScanRead {
            schema: "app".into(),
            table: "Users \"x\"".into(),
            ..ScanRead::default()
        };
        let plan = ReadPlan::read(Read::scan(scan, None), None);
        let ticket = plan_ticket(&alice, &plan);
        let any = Any::decode(&*ticket.ticket).unwrap();
        let Command::TicketStatementQuery(query) = Command::try_from(any).unwrap() else {
            panic!("not a TicketStatementQuery");
        };
        assert_eq!(open_plan(&alice, &query.statement_handle).unwrap(), plan);
        let bob = Sealer::new(signer, "bob".into());
        assert!(open_plan(&bob, &query.statement_handle).is_err());
    }

    #[test]
    fn prepared_handles_round_trip_with_their_values() {
        let (_, alice) = sealer("alice");
        let handle =
            PreparedHandle::new("SELECT $1").with_params(vec![vec![Some("1".into()), None]]);
        let opened = PreparedHandle::open(&alice, &handle.seal(&alice)).unwrap();
        assert_eq!(opened, handle);
        assert_eq!(opened.param_rows(), vec![vec![Some("1".to_string()), None]]);
        let plan = ReadPlan::explain(vec![]);
        assert!(PreparedHandle::open(&alice, &alice.seal(plan.to_bytes())).is_err());
    }
}

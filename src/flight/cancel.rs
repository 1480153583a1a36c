//! CancelFlightInfo (and Flight SQL's older CancelQuery): every FlightInfo pgflight answers
//! gives its endpoints one random query id, sealed into each ticket's read plan. A cancel
//! opens the tickets of the FlightInfo it names (sealed by this key, for this caller), and
//! cancels their query wherever it runs ([`crate::pg::cancel`] through the planner).

use std::time::Duration;

use arrow_flight::sql::{Any, Command};
use arrow_flight::{
    ActionType, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightInfo,
};
use prost::Message;
use ring::rand::{SecureRandom, SystemRandom};
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::signing::Sealer;
use crate::flight::status::{plan_status, refusal_status};
use crate::flight::ticket::open_plan;
use crate::plan::planner::Planner;

/// The Flight action that cancels a FlightInfo's query.
pub const CANCEL_FLIGHT_INFO: &str = "CancelFlightInfo";

/// CancelFlightInfo as ListActions describes it.
pub fn action_type() -> ActionType {
    ActionType {
        r#type: CANCEL_FLIGHT_INFO.into(),
        description: "Cancels the query of a FlightInfo on every instance sharing ticket_secret. \
                      Request: CancelFlightInfoRequest; result: CancelFlightInfoResult"
            .into(),
    }
}

/// A fresh query id: 16 random bytes as 32 hex digits.
pub fn new_query_id() -> Result<String, Status> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| refusal_status(&Refusal::NoRandom))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The query ids of `info`'s endpoints whose tickets are pgflight read plans (metadata
/// tickets carry none); a ticket that is forged, someone else's or expired is refused.
fn query_ids(sealer: &Sealer, info: &FlightInfo) -> Result<Vec<String>, Status> {
    let mut ids = Vec::new();
    for endpoint in &info.endpoint {
        let Some(ticket) = &endpoint.ticket else {
            continue;
        };
        let Ok(any) = Any::decode(&*ticket.ticket) else {
            continue;
        };
        let Ok(Command::TicketStatementQuery(query)) = Command::try_from(any) else {
            continue;
        };
        let plan = open_plan(sealer, &query.statement_handle)?;
        if let Some(id) = plan.query_id()
            && !ids.iter().any(|known| known == id)
        {
            ids.push(id.to_string());
        }
    }
    Ok(ids)
}

/// Cancels the query of `info`'s endpoints: CANCELLED once every statement of it was asked to
/// stop (running ones on any instance; later DoGets of its tickets on this instance are
/// refused), NOT_CANCELLABLE when no endpoint carries a query (metadata answers).
pub async fn cancel_info(
    planner: &Planner,
    sealer: &Sealer,
    info: &FlightInfo,
    remember: Duration,
) -> Result<CancelStatus, Status> {
    let ids = query_ids(sealer, info)?;
    if ids.is_empty() {
        return Ok(CancelStatus::NotCancellable);
    }
    for id in &ids {
        planner
            .cancel(id, remember)
            .await
            .map_err(|e| plan_status(&e))?;
    }
    Ok(CancelStatus::Cancelled)
}

/// The CancelFlightInfo action: its body decoded, the query cancelled, the result encoded.
pub async fn cancel_flight_info(
    planner: &Planner,
    sealer: &Sealer,
    body: &[u8],
    remember: Duration,
) -> Result<Vec<u8>, Status> {
    let request = CancelFlightInfoRequest::decode(body).map_err(|source| {
        refusal_status(&Refusal::Undecodable {
            action: CANCEL_FLIGHT_INFO,
            message: "CancelFlightInfoRequest",
            source,
        })
    })?;
    let info = request.info.unwrap_or_default();
    let status = cancel_info(planner, sealer, &info, remember).await?;
    Ok(CancelFlightInfoResult {
        status: status as i32,
    }
    .encode_to_vec())
}

/// The FlightInfo in a CancelQuery request (serialized in its `info` bytes).
pub fn cancel_query_info(info: &[u8]) -> Result<FlightInfo, Status> {
    FlightInfo::decode(info).map_err(|source| {
        refusal_status(&Refusal::Undecodable {
            action: "CancelQuery",
            message: "FlightInfo",
            source,
        })
    })
}

/// CancelQuery's result for a cancel status: Flight SQL's `CancelResult` has the same values
/// under the same names (arrow-flight does not export that enum).
pub fn cancel_result(status: CancelStatus) -> arrow_flight::sql::ActionCancelQueryResult {
    arrow_flight::sql::ActionCancelQueryResult {
        result: status as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids_are_fresh_hex() {
        let a = new_query_id().unwrap();
        let b = new_query_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(crate::pg::cancel::is_query_id(&a));
        assert_ne!(a, b);
    }
}

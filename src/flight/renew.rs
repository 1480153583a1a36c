//! RenewFlightEndpoint: the endpoints of a split request read one exported snapshot, held for
//! `snapshot_ttl` (their `expiration_time`); a slow reader renews an endpoint to keep that
//! snapshot `snapshot_ttl` longer, never beyond `snapshot_max_ttl` after planning. The answer
//! is the endpoint with its new expiration time and its ticket sealed again (so the ticket
//! does not expire before the snapshot). An endpoint whose snapshot is gone answers the error a
//! DoGet would.

use std::time::SystemTime;

use arrow_flight::sql::{Any, Command};
use arrow_flight::{ActionType, FlightEndpoint, RenewFlightEndpointRequest};
use prost::Message;
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::signing::Sealer;
use crate::flight::status::{plan_status, refusal_status};
use crate::flight::ticket::{open_plan, plan_ticket};
use crate::plan::planner::Planner;

/// The Flight action that renews an endpoint.
pub const RENEW_FLIGHT_ENDPOINT: &str = "RenewFlightEndpoint";

/// RenewFlightEndpoint as ListActions describes it.
pub fn action_type() -> ActionType {
    ActionType {
        r#type: RENEW_FLIGHT_ENDPOINT.into(),
        description: "Holds a split request's snapshot snapshot_ttl longer (up to \
                      snapshot_max_ttl). Request: RenewFlightEndpointRequest; result: FlightEndpoint"
            .into(),
    }
}

/// `time` as a protobuf timestamp (an endpoint's expiration time).
pub fn timestamp(time: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(time)
}

/// The RenewFlightEndpoint action: the request decoded, the endpoint's snapshot held longer,
/// the renewed endpoint encoded.
pub async fn renew_flight_endpoint(
    planner: &Planner,
    sealer: &Sealer,
    body: &[u8],
) -> Result<Vec<u8>, Status> {
    let undecodable = |message, source| {
        refusal_status(&Refusal::Undecodable {
            action: RENEW_FLIGHT_ENDPOINT,
            message,
            source,
        })
    };
    let request = RenewFlightEndpointRequest::decode(body)
        .map_err(|e| undecodable("RenewFlightEndpointRequest", e))?;
    let endpoint = request.endpoint.unwrap_or_default();
    let not_renewable = || refusal_status(&Refusal::NotRenewable);
    let ticket = endpoint.ticket.clone().ok_or_else(not_renewable)?;
    let any = Any::decode(&*ticket.ticket).map_err(|e| undecodable("ticket", e))?;
    let Ok(Command::TicketStatementQuery(query)) = Command::try_from(any) else {
        return Err(not_renewable());
    };
    let plan = open_plan(sealer, &query.statement_handle)?;
    let snapshot = plan.snapshot().ok_or_else(not_renewable)?;
    let expires = planner
        .renew_snapshot(snapshot)
        .map_err(|e| plan_status(&e))?;
    let renewed = FlightEndpoint {
        ticket: Some(plan_ticket(sealer, &plan)),
        expiration_time: Some(timestamp(expires)),
        ..endpoint
    };
    Ok(renewed.encode_to_vec())
}

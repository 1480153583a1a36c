//! The actions the service answers itself beyond prepared statements: CancelQuery, Flight's
//! CancelFlightInfo and RenewFlightEndpoint (which Flight SQL does not dispatch), and
//! DropChangeSlot.

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::{ActionCancelQueryRequest, ActionCancelQueryResult};
use arrow_flight::{Action, ActionType};
use tonic::{Request, Response, Status};

use super::PgFlightSqlService;
use crate::flight::cancel;
use crate::flight::refusal::Refusal;
use crate::flight::renew;
use crate::flight::status::{plan_status, refusal_status};

impl PgFlightSqlService {
    /// The `DropChangeSlot` action: drops a change slot and its publication; the JSON answer.
    pub async fn drop_change_slot(&self, body: &[u8]) -> Result<String, Status> {
        self.planner
            .drop_change_slot(body)
            .await
            .map_err(|e| plan_status(&e))
    }

    /// CancelQuery: cancels the reads of the FlightInfo it names, for the caller who got it.
    pub(super) async fn cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let info = cancel::cancel_query_info(&query.info)?;
        let remember = self.config.ticket_ttl;
        let sealer = self.sealer(&request);
        let status = cancel::cancel_info(&self.planner, &sealer, &info, remember).await?;
        Ok(cancel::cancel_result(status))
    }

    /// Flight's own actions: CancelFlightInfo and RenewFlightEndpoint; any other is refused.
    pub(super) async fn flight_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let sealer = self.sealer(&request);
        let action = request.into_inner();
        let body = match action.r#type.as_str() {
            cancel::CANCEL_FLIGHT_INFO => {
                let remember = self.config.ticket_ttl;
                cancel::cancel_flight_info(&self.planner, &sealer, &action.body, remember).await?
            }
            renew::RENEW_FLIGHT_ENDPOINT => {
                renew::renew_flight_endpoint(&self.planner, &sealer, &action.body).await?
            }
            other => {
                let action = other.to_string();
                return Err(refusal_status(&Refusal::UnknownAction { action }));
            }
        };
        let result = arrow_flight::Result { body: body.into() };
        Ok(Response::new(Box::pin(futures::stream::once(async {
            Ok(result)
        }))))
    }
}

/// Flight's own actions pgflight answers, for ListActions besides Flight SQL's.
pub(super) fn flight_action_types() -> Vec<Result<ActionType, Status>> {
    vec![Ok(cancel::action_type()), Ok(renew::action_type())]
}

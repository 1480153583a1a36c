//! The `FlightService` pgflight serves. arrow-flight's blanket implementation for a
//! `FlightSqlService` decodes every command descriptor as a protobuf `Any`, which would refuse
//! the seed connector's JSON; this thin layer answers extraction descriptors (JSON commands,
//! path descriptors), ListFlights, the session-option actions and `DropChangeSlot` itself and
//! hands everything else to Flight SQL.

use std::sync::Arc;

use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, PollInfo,
    SchemaAsIpc, SchemaResult, Ticket,
};
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::flight::PgFlightSqlService;
use crate::flight::access::Access;
use crate::flight::audit::{AuditRecord, command_subject};
use crate::flight::auth::identity_of;
use crate::flight::deadline;
use crate::flight::limits::StreamLimits;
use crate::flight::refusal::Refusal;
use crate::flight::session;
use crate::flight::session_cookie::{self, session_of};
use crate::flight::status::{arrow_status, refusal_status, streams_status};
use crate::plan::changes::DROP_CHANGE_SLOT;
use crate::plan::command::Command;

type Sql = PgFlightSqlService;

/// Flight SQL plus the seed connector's extraction descriptors.
pub struct PgFlightService {
    access: Arc<Access>,
    streams: StreamLimits,
}

impl PgFlightService {
    /// Serves the Flight SQL service(s) `access` chooses for each authenticated caller, at most
    /// `max_streams_per_user` DoGet streams of one user at once (`None`: unlimited).
    pub fn new(access: Arc<Access>, max_streams_per_user: Option<usize>) -> Self {
        PgFlightService {
            access,
            streams: StreamLimits::new(max_streams_per_user),
        }
    }

    /// Establishes the caller (or refuses the call), records its identity and its session
    /// (from the `pgflight_session` cookie) in the request, and returns the service that
    /// answers it.
    async fn service<T>(&self, request: &mut Request<T>) -> Result<Arc<Sql>, Status> {
        let (caller, service) = self.access.admit(request.metadata()).await?;
        if let Some(record) = AuditRecord::of(request) {
            record.set_user(&caller.identity.0);
        }
        let sealer = service.sealer_for(&caller.identity);
        let session = session_cookie::from_metadata(request.metadata(), &sealer)
            .map_err(|e| refusal_status(&e))?;
        request.extensions_mut().insert(caller.identity);
        request.extensions_mut().insert(session);
        Ok(service)
    }

    /// GetFlightInfo: extraction descriptors here, everything else to Flight SQL.
    async fn flight_info(
        &self,
        mut request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = self.service(&mut request).await?;
        if is_extraction(request.get_ref()) {
            if let Some(record) = AuditRecord::of(&request) {
                let descriptor = request.get_ref();
                let subject = match descriptor.r#type() {
                    DescriptorType::Path => descriptor.path.join("."),
                    _ => Command::from_json(&descriptor.cmd)
                        .map(|c| command_subject(&c))
                        .unwrap_or_default(),
                };
                record.set_subject(subject);
            }
            let identity = identity_of(&request);
            let session = session_of(&request);
            let info = sql
                .extraction_info(request.into_inner(), &identity, &session)
                .await?;
            return Ok(Response::new(info));
        }
        sql.get_flight_info(request).await
    }
}

/// A path descriptor, or a command whose first non-blank byte is `{` (the seed's JSON).
fn is_extraction(descriptor: &FlightDescriptor) -> bool {
    match descriptor.r#type() {
        DescriptorType::Path => true,
        DescriptorType::Cmd => descriptor
            .cmd
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{'),
        DescriptorType::Unknown => false,
    }
}

#[tonic::async_trait]
impl FlightService for PgFlightService {
    type HandshakeStream = <Sql as FlightService>::HandshakeStream;
    type ListFlightsStream = <Sql as FlightService>::ListFlightsStream;
    type DoGetStream = <Sql as FlightService>::DoGetStream;
    type DoPutStream = <Sql as FlightService>::DoPutStream;
    type DoActionStream = <Sql as FlightService>::DoActionStream;
    type ListActionsStream = <Sql as FlightService>::ListActionsStream;
    type DoExchangeStream = <Sql as FlightService>::DoExchangeStream;

    async fn handshake(
        &self,
        mut request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        let (caller, sql, bearer) = self.access.handshake(request.metadata()).await?;
        if let Some(record) = AuditRecord::of(&request) {
            record.set_user(&caller.identity.0);
        }
        request.extensions_mut().insert(caller.identity);
        let mut response = sql.handshake(request).await?;
        let value = bearer
            .parse()
            .map_err(|_| refusal_status(&Refusal::TokenHeader))?;
        response.metadata_mut().insert("authorization", value);
        Ok(response)
    }

    async fn list_flights(
        &self,
        mut request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let sql = self.service(&mut request).await?;
        let infos = sql.list_relations(&identity_of(&request)).await?;
        let stream = futures::stream::iter(infos.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let metadata = request.metadata().clone();
        deadline::within(&metadata, self.flight_info(request)).await
    }

    /// Planning is quick (GetFlightInfo never runs the read), so a poll is complete at once:
    /// the FlightInfo, progress 1.0, and no descriptor to poll again.
    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        let info = self.get_flight_info(request).await?.into_inner();
        let poll = PollInfo::new()
            .with_info(info)
            .try_with_progress(1.0)
            .map_err(|e| arrow_status(&e))?;
        Ok(Response::new(poll))
    }

    async fn get_schema(
        &self,
        mut request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        let sql = self.service(&mut request).await?;
        if !is_extraction(request.get_ref()) {
            return sql.get_schema(request).await;
        }
        let schema = sql
            .extraction_schema(request.get_ref(), &session_of(&request))
            .await?;
        let result = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| arrow_status(&e))?;
        Ok(Response::new(result))
    }

    async fn do_get(
        &self,
        mut request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let sql = self.service(&mut request).await?;
        let permit = self
            .streams
            .acquire(&identity_of(&request).0)
            .map_err(|e| streams_status(&e))?;
        let response = sql.do_get(request).await?;
        // The permit lives as long as the stream: its end, or the client going away, frees it.
        Ok(response.map(|stream| -> Self::DoGetStream {
            Box::pin(stream.map(move |item| {
                let _held = &permit;
                item
            }))
        }))
    }

    async fn do_put(
        &self,
        mut request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        let sql = self.service(&mut request).await?;
        sql.do_put(request).await
    }

    async fn do_action(
        &self,
        mut request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        let sql = self.service(&mut request).await?;
        let action = request.get_ref();
        if session::is_session_action(&action.r#type) {
            let state = session_of(&request);
            let answer =
                session::answer(&action.r#type, &action.body, state, &sql.session_checks()).await?;
            let result = arrow_flight::Result {
                body: answer.body.into(),
            };
            let mut response: Response<Self::DoActionStream> =
                Response::new(Box::pin(futures::stream::once(async { Ok(result) })));
            if let Some(state) = answer.state {
                let sealer = sql.sealer_for(&identity_of(&request));
                let cookie = state.set_cookie(&sealer, sql.config().session_ttl);
                let value = cookie
                    .parse()
                    .map_err(|_| refusal_status(&Refusal::SessionCookie("unencodable".into())))?;
                response.metadata_mut().insert("set-cookie", value);
            }
            return Ok(response);
        }
        if action.r#type == DROP_CHANGE_SLOT {
            let answer = sql.drop_change_slot(&action.body).await?;
            let result = arrow_flight::Result {
                body: answer.into(),
            };
            return Ok(Response::new(Box::pin(futures::stream::once(async {
                Ok(result)
            }))));
        }
        sql.do_action(request).await
    }

    async fn list_actions(
        &self,
        mut request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        let sql = self.service(&mut request).await?;
        let drop_slot = arrow_flight::ActionType {
            r#type: DROP_CHANGE_SLOT.into(),
            description: "Drops a change data capture slot and its publication (when pgflight's \
                          role owns it); body: JSON {\"slot\": \"<slot>\"}"
                .into(),
        };
        let response = sql.list_actions(request).await?;
        Ok(response.map(|actions| -> Self::ListActionsStream {
            Box::pin(actions.chain(futures::stream::once(async { Ok(drop_slot) })))
        }))
    }

    async fn do_exchange(
        &self,
        mut request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        let sql = self.service(&mut request).await?;
        sql.do_exchange(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_descriptors_are_recognised() {
        assert!(is_extraction(&FlightDescriptor::new_path(vec![
            "s".into(),
            "t".into()
        ])));
        assert!(is_extraction(&FlightDescriptor::new_cmd(
            " \n{\"mode\":{}}"
        )));
        assert!(!is_extraction(&FlightDescriptor::new_cmd(vec![0x0a, 0x1f])));
        assert!(!is_extraction(&FlightDescriptor::new_cmd("")));
    }
}

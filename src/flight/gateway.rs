//! The `FlightService` pgflight serves. arrow-flight's blanket implementation for a
//! `FlightSqlService` decodes every command descriptor as a protobuf `Any`, which would refuse
//! the seed connector's JSON; this thin layer answers extraction descriptors (JSON commands,
//! path descriptors) and ListFlights itself and hands everything else to Flight SQL.

use std::sync::Arc;

use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, PollInfo,
    SchemaAsIpc, SchemaResult, Ticket,
};
use tonic::{Request, Response, Status, Streaming};

use crate::flight::PgFlightSqlService;
use crate::flight::auth::identity_of;

type Sql = PgFlightSqlService;

/// Flight SQL plus the seed connector's extraction descriptors.
pub struct PgFlightService {
    sql: Arc<PgFlightSqlService>,
}

impl PgFlightService {
    /// Wraps the Flight SQL service.
    pub fn new(sql: PgFlightSqlService) -> Self {
        PgFlightService { sql: Arc::new(sql) }
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
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        self.sql.handshake(request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let infos = self.sql.list_relations(&identity_of(&request)).await?;
        let stream = futures::stream::iter(infos.into_iter().map(Ok));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        if is_extraction(request.get_ref()) {
            let identity = identity_of(&request);
            let info = self
                .sql
                .extraction_info(request.into_inner(), &identity)
                .await?;
            return Ok(Response::new(info));
        }
        self.sql.get_flight_info(request).await
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        self.sql.poll_flight_info(request).await
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        if !is_extraction(request.get_ref()) {
            return self.sql.get_schema(request).await;
        }
        let schema = self.sql.extraction_schema(request.get_ref()).await?;
        let result = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(Response::new(result))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        self.sql.do_get(request).await
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        self.sql.do_put(request).await
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        self.sql.do_action(request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        self.sql.list_actions(request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        self.sql.do_exchange(request).await
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

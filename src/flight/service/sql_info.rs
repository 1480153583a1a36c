//! GetSqlInfo and GetXdbcTypeInfo: what the server and its types are, from PostgreSQL's facts
//! (asked once) and pgflight's own keys, through arrow-flight's builders.

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::SqlInfoData;
use arrow_flight::sql::{CommandGetSqlInfo, CommandGetXdbcTypeInfo, ProstMessageExt};
use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use futures::TryStreamExt;
use prost::Message;
use tonic::{Response, Status};

use super::PgFlightSqlService;
use crate::flight::discovery;
use crate::flight::metadata;
use crate::flight::status::{arrow_status, flight_status, pg_status};
use crate::pg::server_facts::{ServerFacts, server_facts};

impl PgFlightSqlService {
    /// What GetSqlInfo says about PostgreSQL, asked once (again later if it failed).
    async fn server_facts(&self) -> Result<&ServerFacts, Status> {
        self.server_facts
            .get_or_try_init(|| async { server_facts(&self.pool).await.map_err(|e| pg_status(&e)) })
            .await
    }

    /// GetSqlInfo's data: PostgreSQL's facts when it answers, pgflight's own keys always.
    async fn sql_info_data(&self) -> Result<SqlInfoData, Status> {
        let facts = self.server_facts().await.ok();
        let timeout_ms =
            i32::try_from(self.config.statement_timeout.as_millis()).unwrap_or(i32::MAX);
        metadata::sql_info(facts, timeout_ms).map_err(|e| flight_status(&e))
    }

    /// GetFlightInfo for GetSqlInfo: the schema of the answer and a ticket that is the command.
    pub(super) async fn sql_info_info(
        &self,
        query: CommandGetSqlInfo,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let data = self.sql_info_data().await?;
        let ticket = Ticket::new(query.as_any().encode_to_vec());
        let schema = query.into_builder(&data).schema();
        let info = FlightInfo::new()
            .try_with_schema(schema.as_ref())
            .map_err(|e| arrow_status(&e))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }

    /// DoGet for GetSqlInfo: the keys asked for (every key when none was).
    pub(super) async fn sql_info_stream(
        &self,
        query: CommandGetSqlInfo,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let data = self.sql_info_data().await?;
        let builder = query.into_builder(&data);
        let schema = builder.schema();
        let batch = builder.build();
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::once(async move { batch }))
            .map_err(|e| flight_status(&e));
        Ok(Response::new(Box::pin(stream)))
    }
}

/// GetFlightInfo for GetXdbcTypeInfo: the schema of the answer and a ticket that is the command.
pub(super) fn xdbc_type_info_info(
    query: CommandGetXdbcTypeInfo,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let data = metadata::xdbc_type_info().map_err(|e| flight_status(&e))?;
    let schema = query.into_builder(&data).schema();
    let info = FlightInfo::new()
        .try_with_schema(schema.as_ref())
        .map_err(|e| arrow_status(&e))?
        .with_endpoint(
            FlightEndpoint::new().with_ticket(Ticket::new(query.as_any().encode_to_vec())),
        )
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

/// DoGet for GetXdbcTypeInfo: the types pgflight maps, filtered to the one asked for.
pub(super) fn xdbc_type_info_stream(
    query: CommandGetXdbcTypeInfo,
) -> Result<Response<<PgFlightSqlService as FlightService>::DoGetStream>, Status> {
    let data = metadata::xdbc_type_info().map_err(|e| flight_status(&e))?;
    let batch = query
        .into_builder(&data)
        .build()
        .map_err(|e| flight_status(&e))?;
    Ok(Response::new(discovery::stream(batch)))
}

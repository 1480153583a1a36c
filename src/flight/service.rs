//! The Flight SQL service: decodes requests, asks the room that knows, encodes the answer.
//! No SQL strings and no catalog queries live here.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::{CommandGetSqlInfo, ProstMessageExt, SqlInfo};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket,
};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::OnceCell;
use tonic::{Request, Response, Status, Streaming};

use crate::config::Config;
use crate::flight::metadata;
use crate::flight::status::pg_status;
use crate::pg::PgPool;

/// pgflight's Flight SQL service over one PostgreSQL pool.
pub struct PgFlightSqlService {
    pool: Arc<PgPool>,
    config: Arc<Config>,
    postgres_version: OnceCell<String>,
}

impl PgFlightSqlService {
    /// A service answering from `pool`, configured by `config`.
    pub fn new(pool: Arc<PgPool>, config: Arc<Config>) -> Self {
        PgFlightSqlService {
            pool,
            config,
            postgres_version: OnceCell::new(),
        }
    }

    /// The configuration this service runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// PostgreSQL's `server_version`, asked once.
    async fn postgres_version(&self) -> Result<&str, Status> {
        self.postgres_version
            .get_or_try_init(|| async {
                self.pool.server_version().await.map_err(|e| pg_status(&e))
            })
            .await
            .map(String::as_str)
    }
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FlightSqlService for PgFlightSqlService {
    type FlightService = PgFlightSqlService;

    /// With `auth = "none"` every caller is accepted: the handshake payload is echoed back, as
    /// Flight's basic handshake expects, and no token is issued.
    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<ResponseStream<HandshakeResponse>>, Status> {
        let mut incoming = request.into_inner();
        let first = incoming.next().await.transpose()?;
        let payload = first.map(|r| r.payload).unwrap_or_default();
        let response = HandshakeResponse {
            protocol_version: 0,
            payload,
        };
        let stream = futures::stream::once(async move { Ok(response) });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let version = self.postgres_version().await.ok();
        let data = metadata::sql_info(version).map_err(|e| Status::internal(e.to_string()))?;
        let ticket = Ticket::new(query.as_any().encode_to_vec());
        let schema = query.into_builder(&data).schema();
        let info = FlightInfo::new()
            .try_with_schema(schema.as_ref())
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(request.into_inner());
        Ok(Response::new(info))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let version = self.postgres_version().await.ok();
        let data = metadata::sql_info(version).map_err(|e| Status::internal(e.to_string()))?;
        let builder = query.into_builder(&data);
        let schema = builder.schema();
        let batch = builder.build();
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(futures::stream::once(async move { batch }))
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

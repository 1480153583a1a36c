//! The Flight SQL service: decodes requests, asks the room that knows, encodes the answer.
//! No SQL strings and no catalog queries live here.

use std::pin::Pin;
use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow_flight::Action;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    ActionCreatePreparedSubstraitPlanRequest, CommandGetSqlInfo, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, Ticket,
};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::OnceCell;
use tonic::{Request, Response, Status, Streaming};

use crate::config::{ArrayFormat, Config, NumericNan};
use crate::flight::metadata;
use crate::flight::statements;
use crate::flight::status::{pg_status, plan_status};
use crate::flight::ticket::{ScanHandle, StatementHandle};
use crate::pg::PgPool;
use crate::pg::scan::scan;
use crate::pg::types::TypeOptions;
use crate::plan::extract::{self, ExtractPlan};
use crate::plan::query::SqlContext;

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

    fn type_options(&self) -> TypeOptions {
        TypeOptions {
            numeric_nan_as_null: self.config.numeric_nan == NumericNan::Null,
            arrays_as_json: self.config.arrays == ArrayFormat::Json,
        }
    }

    /// Plans an extraction descriptor: a path `[schema, table]` or the seed's JSON request.
    async fn plan_extraction(&self, descriptor: &FlightDescriptor) -> Result<ExtractPlan, Status> {
        let options = self.type_options();
        let planned = match descriptor.r#type() {
            DescriptorType::Path => {
                extract::plan_path(&self.pool, &descriptor.path, &options).await
            }
            _ => match extract::parse_request(&descriptor.cmd) {
                Ok(request) => {
                    extract::plan_request(&self.pool, &request, &self.config.schema, &options).await
                }
                Err(err) => Err(err),
            },
        };
        planned.map_err(|e| plan_status(&e))
    }

    /// GetFlightInfo for an extraction descriptor.
    pub async fn extraction_info(
        &self,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        let plan = self.plan_extraction(&descriptor).await?;
        flight_info(&plan, descriptor)
    }

    /// GetSchema for an extraction descriptor.
    pub async fn extraction_schema(&self, descriptor: &FlightDescriptor) -> Result<Schema, Status> {
        let plan = self.plan_extraction(descriptor).await?;
        Ok(plan.scan.schema().as_ref().clone())
    }

    /// ListFlights: every relation the role can read, as a path descriptor with its schema.
    pub async fn list_relations(&self) -> Result<Vec<FlightInfo>, Status> {
        let plans = extract::readable_relations(&self.pool, &self.type_options())
            .await
            .map_err(|e| plan_status(&e))?;
        plans
            .iter()
            .map(|plan| {
                let path = vec![plan.scan.schema.clone(), plan.scan.table.clone()];
                flight_info(plan, FlightDescriptor::new_path(path))
            })
            .collect()
    }

    /// What SQL statements are planned with.
    fn sql_context(&self) -> SqlContext {
        SqlContext {
            pool: self.pool.clone(),
            options: self.type_options(),
            batch_size: self.config.batch_size,
            default_schema: self.config.schema.clone(),
        }
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

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let handle = match StatementHandle::decode(&ticket.statement_handle)
            .map_err(Status::invalid_argument)?
        {
            StatementHandle::Scan(handle) => handle,
            StatementHandle::Query(handle) => {
                let stream = statements::run(&self.sql_context(), handle).await?;
                return Ok(Response::new(stream));
            }
        };
        let spec = extract::plan_ticket(
            &self.pool,
            &handle.schema,
            &handle.table,
            &handle.columns,
            &self.type_options(),
        )
        .await
        .map_err(|e| plan_status(&e))?;
        let schema = spec.schema();
        let batches = scan(self.pool.clone(), spec, self.config.batch_size)
            .map_err(|e| FlightError::Tonic(Box::new(pg_status(&e))));
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = self.sql_context();
        let info = statements::statement_info(&ctx, query, request.into_inner()).await?;
        Ok(Response::new(info))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let ctx = self.sql_context();
        let info = statements::prepared_info(&ctx, query, request.into_inner()).await?;
        Ok(Response::new(info))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        statements::create_prepared(&self.sql_context(), query).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        statements::close_prepared(query)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        statements::bind(&self.sql_context(), query, request.into_inner()).await
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("an update statement"))
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("a prepared update"))
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_write("bulk ingestion"))
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn get_flight_info_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn do_action_create_prepared_substrait_plan(
        &self,
        _query: ActionCreatePreparedSubstraitPlanRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        Err(statements::refuse_unsupported("a Substrait plan"))
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        Err(statements::refuse_unsupported("a transaction"))
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        Err(statements::refuse_unsupported("a savepoint"))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

/// The FlightInfo of a planned extraction: exact schema, one endpoint, PostgreSQL's row
/// estimate.
fn flight_info(plan: &ExtractPlan, descriptor: FlightDescriptor) -> Result<FlightInfo, Status> {
    let columns = plan
        .scan
        .columns
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let handle = ScanHandle::new(&plan.scan.schema, &plan.scan.table, columns);
    let info = FlightInfo::new()
        .try_with_schema(plan.scan.schema().as_ref())
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(handle.to_ticket()))
        .with_descriptor(descriptor)
        .with_total_records(plan.relation.estimated_rows.unwrap_or(-1))
        .with_ordered(false);
    Ok(info)
}

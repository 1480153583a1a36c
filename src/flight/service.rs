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
use arrow_flight::sql::metadata::SqlInfoData;
use arrow_flight::sql::server::FlightSqlService;
use arrow_flight::sql::server::PeekableFlightDataStream;
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionCancelQueryRequest, ActionCancelQueryResult,
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, ActionCreatePreparedSubstraitPlanRequest,
    CommandGetCatalogs, CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys,
    CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetSqlInfo, CommandGetTableTypes,
    CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    ActionType, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    Ticket,
};
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::OnceCell;
use tonic::{Request, Response, Status, Streaming};

use crate::config::{ArrayFormat, AuthMode, Config, NumericNan};
use crate::flight::audit::{AuditRecord, command_subject, plan_subject};
use crate::flight::auth::{Identity, identity_of};
use crate::flight::cancel;
use crate::flight::compression;
use crate::flight::deadline;
use crate::flight::discovery;
use crate::flight::locations::Advertised;
use crate::flight::metadata;
use crate::flight::refusal::Refusal;
use crate::flight::renew;
use crate::flight::session::SessionChecks;
use crate::flight::session_cookie::{SessionState, session_of};
use crate::flight::signing::{HandleSigner, Sealer};
use crate::flight::statements;
use crate::flight::status::{arrow_status, flight_status, pg_status, plan_status, refusal_status};
use crate::flight::ticket::{open_plan, plan_ticket};
use crate::pg::PgPool;
use crate::pg::server_facts::{ServerFacts, server_facts};
use crate::pg::types::TypeOptions;
use crate::plan::command::Command;
use crate::plan::context::ReadContext;
use crate::plan::endpoints::PartitionOptions;
use crate::plan::guard::StatementGuard;
use crate::plan::planner::{Planned, Planner};
use crate::plan::relations::fingerprint;

/// pgflight's Flight SQL service over one PostgreSQL pool.
pub struct PgFlightSqlService {
    pool: Arc<PgPool>,
    config: Arc<Config>,
    signer: Arc<HandleSigner>,
    planner: Planner,
    server_facts: OnceCell<ServerFacts>,
    advertised: Advertised,
}

impl PgFlightSqlService {
    /// A service answering from `pool`, configured by `config`, sealing tickets with `signer`.
    pub fn new(pool: Arc<PgPool>, config: Arc<Config>, signer: Arc<HandleSigner>) -> Self {
        let options = TypeOptions {
            numeric_nan_as_null: config.numeric_nan == NumericNan::Null,
            arrays_as_json: config.arrays == ArrayFormat::Json,
        };
        let planner = Planner::new(ReadContext {
            pool: pool.clone(),
            options,
            batch_size: config.batch_size,
            default_schema: config.schema.clone(),
            partitions: PartitionOptions {
                min_rows: config.partition_min_rows,
                max_partitions: config.max_partitions,
                snapshot_ttl: config.snapshot_ttl,
                snapshot_max_ttl: config.snapshot_max_ttl,
            },
            // Clients share the configured role unless each logs in as its own.
            guard: (config.auth != AuthMode::Postgres)
                .then(|| Arc::new(StatementGuard::new(&config.deny_functions))),
            settings: Vec::new(),
        });
        PgFlightSqlService {
            advertised: Advertised::new(config.advertise.clone()),
            pool,
            config,
            signer,
            planner,
            server_facts: OnceCell::new(),
        }
    }

    /// The pool this service reads through.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration this service runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Plans an extraction descriptor: a path `[schema, table]` or the seed's JSON request.
    async fn plan_extraction(
        &self,
        planner: &Planner,
        descriptor: &FlightDescriptor,
    ) -> Result<Planned, Status> {
        let command = match descriptor.r#type() {
            DescriptorType::Path => Command::Path(descriptor.path.clone()),
            _ => Command::from_json(&descriptor.cmd).map_err(|e| plan_status(&e))?,
        };
        planner.plan(&command).await.map_err(|e| plan_status(&e))
    }

    /// The `DropChangeSlot` action: drops a change slot and its publication; the JSON answer.
    pub async fn drop_change_slot(&self, body: &[u8]) -> Result<String, Status> {
        self.planner
            .drop_change_slot(body)
            .await
            .map_err(|e| plan_status(&e))
    }

    /// The planner for a client with `session`.
    fn session_planner(&self, session: &SessionState) -> Planner {
        self.planner.with_session(&session.read_session())
    }

    /// The planner for the client of `request` (its session's options applied).
    fn planner<T>(&self, request: &Request<T>) -> Planner {
        self.session_planner(&session_of(request))
    }

    /// GetFlightInfo for an extraction descriptor planned in `session`, its tickets sealed
    /// for `identity`.
    pub async fn extraction_info(
        &self,
        descriptor: FlightDescriptor,
        identity: &Identity,
        session: &SessionState,
    ) -> Result<FlightInfo, Status> {
        let planner = self.session_planner(session);
        let planned = self.plan_extraction(&planner, &descriptor).await?;
        self.flight_info(planned, descriptor, identity)
    }

    /// GetSchema for an extraction descriptor planned in `session`.
    pub async fn extraction_schema(
        &self,
        descriptor: &FlightDescriptor,
        session: &SessionState,
    ) -> Result<Schema, Status> {
        let planner = self.session_planner(session);
        let planned = self.plan_extraction(&planner, descriptor).await?;
        Ok(planned.schema.as_ref().clone())
    }

    /// What checking session options needs.
    pub fn session_checks(&self) -> SessionChecks<'_> {
        SessionChecks {
            pool: &self.pool,
            database: &self.config.database,
            schema: &self.config.schema,
            statement_timeout: self.config.statement_timeout,
        }
    }

    /// ListFlights: every relation the role can read, as a path descriptor with its schema.
    pub async fn list_relations(&self, identity: &Identity) -> Result<Vec<FlightInfo>, Status> {
        let listed = self.planner.list().await.map_err(|e| plan_status(&e))?;
        listed
            .into_iter()
            .map(|(path, planned)| {
                self.flight_info(planned, FlightDescriptor::new_path(path), identity)
            })
            .collect()
    }

    /// The FlightInfo of a planned command: exact schema, one endpoint per read plan (each
    /// sealed for `identity`), PostgreSQL's row estimate, the next cursor for incremental reads.
    fn flight_info(
        &self,
        planned: Planned,
        descriptor: FlightDescriptor,
        identity: &Identity,
    ) -> Result<FlightInfo, Status> {
        let sealer = Sealer::new(self.signer.clone(), identity.0.clone());
        let query_id = cancel::new_query_id()?;
        let mut info = FlightInfo::new()
            .try_with_schema(planned.schema.as_ref())
            .map_err(|e| arrow_status(&e))?
            .with_descriptor(descriptor)
            .with_total_records(planned.estimated_rows.unwrap_or(-1))
            .with_ordered(planned.ordered);
        if let Some(cursor) = planned.app_metadata {
            info = info.with_app_metadata(cursor.into_bytes());
        }
        let count = planned.endpoints.len();
        for (index, plan) in planned.endpoints.into_iter().enumerate() {
            let plan = plan.in_query(&query_id);
            let mut endpoint = FlightEndpoint::new().with_ticket(plan_ticket(&sealer, &plan));
            // A split read's endpoints live as long as their shared snapshot is held.
            if let Some(expires) = plan
                .snapshot()
                .and_then(|s| self.planner.snapshot_expiry(s))
            {
                endpoint = endpoint.with_expiration_time(renew::timestamp(expires));
            }
            info = info.with_endpoint(self.advertised.place(endpoint, index, count));
        }
        Ok(info)
    }

    /// GetFlightInfo for a SQL command (a statement or a prepared statement's execution).
    async fn statement_info(
        &self,
        planner: &Planner,
        command: Command,
        descriptor: FlightDescriptor,
        identity: &Identity,
    ) -> Result<FlightInfo, Status> {
        let planned = planner.plan(&command).await.map_err(|e| plan_status(&e))?;
        self.flight_info(planned, descriptor, identity)
    }

    /// Seals and opens handles for the caller of `request`.
    fn sealer<T>(&self, request: &Request<T>) -> Sealer {
        self.sealer_for(&identity_of(request))
    }

    /// Seals and opens handles for `identity`.
    pub fn sealer_for(&self, identity: &Identity) -> Sealer {
        Sealer::new(self.signer.clone(), identity.0.clone())
    }

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
}

type ResponseStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl FlightSqlService for PgFlightSqlService {
    type FlightService = PgFlightSqlService;

    /// The credentials were checked (and the bearer token added) by the gateway; the payload
    /// is echoed back, as Flight's basic handshake expects.
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
        let data = self.sql_info_data().await?;
        let ticket = Ticket::new(query.as_any().encode_to_vec());
        let schema = query.into_builder(&data).schema();
        let info = FlightInfo::new()
            .try_with_schema(schema.as_ref())
            .map_err(|e| arrow_status(&e))?
            .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
            .with_descriptor(request.into_inner());
        Ok(Response::new(info))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
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

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let plan = open_plan(&self.sealer(&request), &ticket.statement_handle)?;
        let compression = compression::requested(request.metadata(), &session_of(&request))
            .map_err(|e| refusal_status(&e))?;
        let timeout =
            deadline::statement_timeout(request.metadata(), self.config.statement_timeout);
        let record = AuditRecord::of(&request);
        if let Some(record) = &record {
            record.set_subject(plan_subject(&plan));
        }
        let (schema, batches) = self
            .planner(&request)
            .execute(plan, timeout)
            .await
            .map_err(|e| plan_status(&e))?;
        let batches = batches
            .inspect_ok(move |batch| {
                if let Some(record) = &record {
                    record.add_rows(batch.num_rows());
                }
            })
            .map_err(|e| FlightError::Tonic(Box::new(plan_status(&e))));
        let stream = FlightDataEncoderBuilder::new()
            .with_options(compression::write_options(compression).map_err(|e| arrow_status(&e))?)
            .with_schema(schema)
            .build(batches)
            .map_err(|e| flight_status(&e));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_catalogs(
        &self,
        _query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(discovery::catalogs(
            &self.config.database,
        )?)))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::db_schemas(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::tables(
                &self.pool,
                &self.config.database,
                self.planner.type_options(),
                query,
            )
            .await?,
        )))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(discovery::table_types(
            query,
        )?)))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::primary_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::imported_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::exported_keys(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        discovery::flight_info(&query, request.into_inner()).map(Response::new)
    }

    async fn do_get_cross_reference(
        &self,
        query: CommandGetCrossReference,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(Response::new(discovery::stream(
            discovery::cross_reference(&self.pool, &self.config.database, query).await?,
        )))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let data = metadata::xdbc_type_info().map_err(|e| flight_status(&e))?;
        let schema = query.into_builder(&data).schema();
        let info = FlightInfo::new()
            .try_with_schema(schema.as_ref())
            .map_err(|e| arrow_status(&e))?
            .with_endpoint(
                FlightEndpoint::new().with_ticket(Ticket::new(query.as_any().encode_to_vec())),
            )
            .with_descriptor(request.into_inner());
        Ok(Response::new(info))
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let data = metadata::xdbc_type_info().map_err(|e| flight_status(&e))?;
        let batch = query
            .into_builder(&data)
            .build()
            .map_err(|e| flight_status(&e))?;
        Ok(Response::new(discovery::stream(batch)))
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let identity = identity_of(&request);
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(fingerprint(&query.query));
        }
        let command = Command::from_sql(&query.query, Vec::new()).map_err(|e| plan_status(&e))?;
        let planner = self.planner(&request);
        let info = self
            .statement_info(&planner, command, request.into_inner(), &identity)
            .await?;
        Ok(Response::new(info))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let identity = identity_of(&request);
        let command =
            statements::prepared_command(&self.sealer(&request), &query.prepared_statement_handle)?;
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(command_subject(&command));
        }
        let planner = self.planner(&request);
        let info = self
            .statement_info(&planner, command, request.into_inner(), &identity)
            .await?;
        Ok(Response::new(info))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        if let Some(record) = AuditRecord::of(&request) {
            record.set_subject(fingerprint(&query.query));
        }
        statements::create_prepared(&self.planner(&request), &self.sealer(&request), query).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        statements::close_prepared(&self.sealer(&request), query)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let sealer = self.sealer(&request);
        let planner = self.planner(&request);
        let handle = query.prepared_statement_handle;
        statements::bind(&planner, &sealer, &handle, request.into_inner()).await
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

    async fn do_action_cancel_query(
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

    /// Flight's own actions that Flight SQL does not dispatch: CancelFlightInfo and
    /// RenewFlightEndpoint.
    async fn do_action_fallback(
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

    /// ListActions names Flight's own actions pgflight answers, besides Flight SQL's.
    async fn list_custom_actions(&self) -> Option<Vec<Result<ActionType, Status>>> {
        Some(vec![Ok(cancel::action_type()), Ok(renew::action_type())])
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

//! A PostgreSQL relation as a DataFusion `TableProvider`. Its schema is the data plane's type
//! mapping; `supports_filters_pushdown` answers `Exact` for the filters [`pushdown`] can render
//! and `Unsupported` for the rest; `scan` becomes a [`PgScanExec`] that reads
//! `COPY (SELECT <projected columns> FROM <relation> WHERE <pushed filters> [LIMIT n])` through
//! the binary COPY decoder.

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::TryStreamExt;

use crate::pg::PgPool;
use crate::pg::read::{Filter, Read, ReadColumn, ScanRead, read_source::Source};
use crate::pg::render::scan_copy;
use crate::pg::settings::Setting;
use crate::pg::source;
use crate::pg::types::{ColumnPlan, TypeOptions, arrow_schema, oid};
use crate::plan::pushdown::{self, PushColumn, PushColumns};

/// PostgreSQL's `text` and `varchar` type oids: the text types whose comparisons match Arrow's.
const TEXT_OIDS: [u32; 2] = [oid::TEXT, oid::VARCHAR];

/// One PostgreSQL relation, readable by DataFusion.
pub struct PgTable {
    pool: Arc<PgPool>,
    schema_name: String,
    table: String,
    read_columns: Vec<ReadColumn>,
    push: PushColumns,
    schema: SchemaRef,
    options: TypeOptions,
    batch_size: usize,
    /// Every scan planned over this table (EXPLAIN shows them).
    scans: Arc<Mutex<Vec<ScanRead>>>,
    /// The one range every scan is restricted to, and the snapshot it is read in: an
    /// endpoint of a split read.
    range: Option<EndpointRange>,
    /// The query its scans belong to ("" for none).
    query_id: String,
    /// The session settings every scan runs with.
    settings: Vec<Setting>,
}

/// One endpoint of a split read: its range, the exported snapshot, its number.
#[derive(Debug, Clone)]
pub struct EndpointRange {
    /// The rows this endpoint reads.
    pub range: Filter,
    /// The exported snapshot every endpoint reads in.
    pub snapshot: String,
    /// Which endpoint this is (0-based).
    pub part: u32,
}

impl PgTable {
    /// A provider for `columns` of `schema.table`, read in batches of `batch_size` rows.
    pub fn new(
        pool: Arc<PgPool>,
        schema: &str,
        table: &str,
        read_columns: Vec<ReadColumn>,
        options: &TypeOptions,
        batch_size: usize,
    ) -> PgTable {
        let columns: Vec<ColumnPlan> = read_columns
            .iter()
            .map(|c| c.plan(schema, table, options))
            .collect();
        let push = PushColumns::new(read_columns.iter().zip(&columns).map(|(pg, plan)| {
            let data_type = plan.field.data_type();
            let text = matches!(data_type, DataType::Utf8);
            let comparable = !plan.is_text_cast()
                && match data_type {
                    DataType::Utf8 => TEXT_OIDS.contains(&pg.base_oid) && !pg.is_enum,
                    DataType::Boolean
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt32
                    | DataType::Float32
                    | DataType::Float64
                    | DataType::Decimal128(..)
                    | DataType::Decimal256(..)
                    | DataType::Date32
                    | DataType::Timestamp(..)
                    | DataType::Binary => true,
                    _ => false,
                };
            PushColumn {
                name: pg.name.clone(),
                comparable,
                text,
            }
        }));
        PgTable {
            pool,
            schema_name: schema.to_string(),
            table: table.to_string(),
            schema: arrow_schema(&columns),
            read_columns,
            push,
            options: *options,
            batch_size,
            scans: Arc::default(),
            range: None,
            query_id: String::new(),
            settings: Vec::new(),
        }
    }

    /// This table read with the session's `settings`.
    pub fn with_settings(mut self, settings: Vec<Setting>) -> PgTable {
        self.settings = settings;
        self
    }

    /// This table restricted to one endpoint's `range`, read in the split's exported `snapshot`.
    pub fn with_range(mut self, range: Option<EndpointRange>) -> PgTable {
        self.range = range;
        self
    }

    /// This table's scans as part of query `query_id` (what a cancel names).
    pub fn in_query(mut self, query_id: &str) -> PgTable {
        self.query_id = query_id.to_string();
        self
    }

    /// The scans planned so far.
    pub fn scans(&self) -> Vec<ScanRead> {
        self.scans.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl fmt::Debug for PgTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgTable({}.{})", self.schema_name, self.table)
    }
}

impl fmt::Debug for PgScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PgScanExec({}.{})", self.scan.schema, self.scan.table)
    }
}

#[async_trait]
impl TableProvider for PgTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match pushdown::to_filter(f, &self.push) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let read = self.read(projection, filters, limit)?;
        let columns = match &read.source {
            Some(Source::Scan(scan)) => {
                if let Ok(mut scans) = self.scans.lock() {
                    scans.push(scan.clone());
                }
                scan.column_plans(&self.options)
            }
            _ => Vec::new(),
        };
        Ok(Arc::new(PgScanExec::new(
            self.pool.clone(),
            read,
            columns,
            self.options,
            self.batch_size,
            self.settings.clone(),
        )))
    }
}

impl PgTable {
    /// The read of a scan of this table: the `projection` of its columns, `filters` (only those `supports_filters_pushdown` answered
    /// `Exact` for, unqualified), at most `limit` rows; restricted to the endpoint's range.
    pub fn read(
        &self,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Read> {
        let columns: Vec<ReadColumn> = match projection {
            Some(indices) => indices
                .iter()
                .map(|&i| {
                    self.read_columns.get(i).cloned().ok_or_else(|| {
                        DataFusionError::Internal(format!("no column {i} in {self:?}"))
                    })
                })
                .collect::<Result<_>>()?,
            None => self.read_columns.clone(),
        };
        let mut pushed = Vec::with_capacity(filters.len() + 1);
        for filter in filters {
            // Only filters answered `Exact` arrive here; all of them must convert.
            let typed = pushdown::to_filter(filter, &self.push).ok_or_else(|| {
                DataFusionError::Internal(format!("filter {filter} cannot be pushed down"))
            })?;
            pushed.push(typed);
        }
        if let Some(endpoint) = &self.range {
            pushed.push(endpoint.range.clone());
        }
        let scan = ScanRead {
            schema: self.schema_name.clone(),
            table: self.table.clone(),
            columns,
            filters: pushed,
            limit: limit.map(|l| l as u64),
        };
        let snapshot = self.range.as_ref().map(|e| e.snapshot.as_str());
        let part = self.range.as_ref().map_or(0, |e| e.part);
        Ok(Read::scan(scan, snapshot)
            .in_query(&self.query_id)
            .in_part(part))
    }
}

/// Runs one scan [`Read`] as a single partition.
pub struct PgScanExec {
    pool: Arc<PgPool>,
    read: Read,
    scan: ScanRead,
    sql: String,
    schema: SchemaRef,
    options: TypeOptions,
    batch_size: usize,
    settings: Vec<Setting>,
    properties: Arc<PlanProperties>,
}

impl PgScanExec {
    /// A plan node running `read` (a scan whose columns are read as `columns`) with the
    /// session's `settings`.
    pub fn new(
        pool: Arc<PgPool>,
        read: Read,
        columns: Vec<ColumnPlan>,
        options: TypeOptions,
        batch_size: usize,
        settings: Vec<Setting>,
    ) -> PgScanExec {
        let scan = match &read.source {
            Some(Source::Scan(scan)) => scan.clone(),
            _ => ScanRead::default(),
        };
        let schema = arrow_schema(&columns);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        PgScanExec {
            pool,
            sql: scan_copy(&scan, &columns),
            read,
            scan,
            schema,
            options,
            batch_size,
            settings,
            properties: Arc::new(properties),
        }
    }
}

impl PgScanExec {
    /// The read this node runs.
    pub fn read(&self) -> &Read {
        &self.read
    }
}

impl DisplayAs for PgScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PgScanExec: {}", self.sql)
    }
}

impl ExecutionPlan for PgScanExec {
    fn name(&self) -> &str {
        "PgScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batches = source::run(
            self.pool.clone(),
            self.read.clone(),
            self.options,
            self.batch_size,
            &self.settings,
        )
        .map_err(|e| DataFusionError::External(Box::new(e)))?
        .map_err(|e| DataFusionError::External(Box::new(e)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            batches,
        )))
    }
}

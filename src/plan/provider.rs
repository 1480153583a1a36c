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
use crate::pg::catalog::Relation;
use crate::pg::scan::{ScanSpec, scan};
use crate::pg::types::{ColumnPlan, TypeOptions, arrow_schema, plan_column};
use crate::plan::endpoints::EndpointRange;
use crate::plan::pushdown::{self, PushColumn, PushColumns};

/// PostgreSQL's `text` and `varchar` type oids: the text types whose comparisons match Arrow's.
const TEXT_OIDS: [u32; 2] = [25, 1043];

/// One PostgreSQL relation, readable by DataFusion.
pub struct PgTable {
    pool: Arc<PgPool>,
    schema_name: String,
    table: String,
    columns: Vec<ColumnPlan>,
    push: PushColumns,
    schema: SchemaRef,
    batch_size: usize,
    /// Every scan planned over this table (EXPLAIN shows them).
    scans: Arc<Mutex<Vec<ScanSpec>>>,
    /// The one range (and snapshot) every scan is restricted to: an endpoint of a split read.
    range: Option<EndpointRange>,
}

impl PgTable {
    /// A provider for `relation`, read in batches of `batch_size` rows.
    pub fn new(
        pool: Arc<PgPool>,
        relation: &Relation,
        options: &TypeOptions,
        batch_size: usize,
    ) -> PgTable {
        let columns: Vec<ColumnPlan> = relation
            .columns
            .iter()
            .map(|c| plan_column(c, options))
            .collect();
        let push = PushColumns::new(relation.columns.iter().zip(&columns).map(|(pg, plan)| {
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
            schema_name: relation.schema.clone(),
            table: relation.name.clone(),
            schema: arrow_schema(&columns),
            columns,
            push,
            batch_size,
            scans: Arc::default(),
            range: None,
        }
    }

    /// This table restricted to one endpoint's range, read in the split's exported snapshot.
    pub fn with_range(mut self, range: Option<EndpointRange>) -> PgTable {
        self.range = range;
        self
    }

    /// The scans planned so far.
    pub fn scans(&self) -> Vec<ScanSpec> {
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
        write!(f, "PgScanExec({})", self.spec.select_sql())
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
            .map(|f| match pushdown::to_sql(f, &self.push) {
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
        let columns: Vec<ColumnPlan> = match projection {
            Some(indices) => indices.iter().map(|&i| self.columns[i].clone()).collect(),
            None => self.columns.clone(),
        };
        let mut pushed = Vec::with_capacity(filters.len());
        for filter in filters {
            // Only filters answered `Exact` arrive here; all of them must render.
            let sql = pushdown::to_sql(filter, &self.push).ok_or_else(|| {
                DataFusionError::Internal(format!("filter {filter} cannot be pushed down"))
            })?;
            pushed.push(sql);
        }
        if let Some(range) = &self.range {
            pushed.push(format!("({})", range.split.filter_sql()));
        }
        let spec = ScanSpec {
            schema: self.schema_name.clone(),
            table: self.table.clone(),
            columns,
            filter: (!pushed.is_empty()).then(|| pushed.join(" AND ")),
            limit: limit.map(|l| l as u64),
            snapshot: self.range.as_ref().map(|r| r.snapshot.clone()),
        };
        if let Ok(mut scans) = self.scans.lock() {
            scans.push(spec.clone());
        }
        Ok(Arc::new(PgScanExec::new(
            self.pool.clone(),
            spec,
            self.batch_size,
        )))
    }
}

/// Runs one [`ScanSpec`] as a single partition.
pub struct PgScanExec {
    pool: Arc<PgPool>,
    spec: ScanSpec,
    batch_size: usize,
    properties: Arc<PlanProperties>,
}

impl PgScanExec {
    /// A plan node reading `spec`.
    pub fn new(pool: Arc<PgPool>, spec: ScanSpec, batch_size: usize) -> PgScanExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(spec.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        PgScanExec {
            pool,
            spec,
            batch_size,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for PgScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PgScanExec: {}", self.spec.copy_sql())
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
        let batches = scan(self.pool.clone(), self.spec.clone(), self.batch_size)
            .map_err(|e| DataFusionError::External(Box::new(e)));
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.spec.schema(),
            batches,
        )))
    }
}

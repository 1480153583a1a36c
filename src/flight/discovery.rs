//! Flight SQL discovery: GetCatalogs, GetDbSchemas, GetTables, GetTableTypes, GetPrimaryKeys,
//! GetImportedKeys, GetExportedKeys and GetCrossReference. Each command's GetFlightInfo answers
//! without touching PostgreSQL (the result schema is fixed; the ticket is the command itself);
//! its DoGet runs one catalog query (pg/listing.rs, pg/keys.rs) and builds the batch with
//! arrow-flight's builders.
//!
//! The catalog is the configured database: a command naming another catalog (or `""`, "no
//! catalog") gets an empty answer with the full schema. LIKE patterns go to PostgreSQL as
//! bound values, never as SQL.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray, UInt8Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::sql::metadata::{GetCatalogsBuilder, GetDbSchemasBuilder, GetTablesBuilder};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetCrossReference, CommandGetDbSchemas, CommandGetExportedKeys,
    CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetTableTypes, CommandGetTables,
    ProstMessageExt, UpdateDeleteRules,
};
use arrow_flight::{FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use futures::{Stream, TryStreamExt};
use prost::Message;
use tonic::Status;

use crate::flight::refusal::Refusal;
use crate::flight::status::{arrow_status, flight_status, pg_status, refusal_status};
use crate::pg::PgPool;
use crate::pg::catalog::RelationKind;
use crate::pg::keys::{self, ForeignKeyColumn, ForeignKeyFilter, ReferentialAction};
use crate::pg::listing::{self, RELATION_KINDS, RelationPattern};
use crate::pg::types::{PgColumn, REMARKS_KEY, TypeOptions};
use crate::plan::scan_plan::full_table;

/// The stream DoGet answers with.
pub type FlightDataStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send>>;

/// A discovery command: it knows the schema of its answer before any query runs.
pub trait DiscoveryCommand: ProstMessageExt + Clone {
    /// The Arrow schema of the answer.
    fn result_schema(&self) -> SchemaRef;
}

impl DiscoveryCommand for CommandGetCatalogs {
    fn result_schema(&self) -> SchemaRef {
        GetCatalogsBuilder::new().schema()
    }
}

impl DiscoveryCommand for CommandGetDbSchemas {
    fn result_schema(&self) -> SchemaRef {
        GetDbSchemasBuilder::new(None::<String>, None::<String>).schema()
    }
}

impl DiscoveryCommand for CommandGetTables {
    fn result_schema(&self) -> SchemaRef {
        tables_builder(self).schema()
    }
}

impl DiscoveryCommand for CommandGetTableTypes {
    fn result_schema(&self) -> SchemaRef {
        self.into_builder().schema()
    }
}

impl DiscoveryCommand for CommandGetPrimaryKeys {
    fn result_schema(&self) -> SchemaRef {
        PRIMARY_KEYS_SCHEMA.clone()
    }
}

macro_rules! foreign_key_command {
    ($($command:ty),*) => {$(
        impl DiscoveryCommand for $command {
            fn result_schema(&self) -> SchemaRef {
                FOREIGN_KEYS_SCHEMA.clone()
            }
        }
    )*};
}
foreign_key_command!(
    CommandGetImportedKeys,
    CommandGetExportedKeys,
    CommandGetCrossReference
);

/// GetFlightInfo for a discovery command: its answer's schema, one endpoint whose ticket is the
/// command itself.
pub fn flight_info<C: DiscoveryCommand>(
    command: &C,
    descriptor: FlightDescriptor,
) -> Result<FlightInfo, Status> {
    let ticket = Ticket::new(command.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(command.result_schema().as_ref())
        .map_err(|e| arrow_status(&e))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(info)
}

/// A one-batch DoGet answer.
pub fn stream(batch: RecordBatch) -> FlightDataStream {
    let schema = batch.schema();
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { Ok(batch) }))
        .map_err(|e| flight_status(&e));
    Box::pin(stream)
}

/// Whether a command's catalog (`None`: any) names the configured database.
fn catalog_matches(catalog: Option<&str>, database: &str) -> bool {
    catalog.is_none_or(|c| c == database)
}

/// Refuses a LIKE pattern that ends in an unescaped escape character (a backslash): it has no
/// meaning, and PostgreSQL would reject it only for some names.
fn check_pattern(pattern: Option<&str>) -> Result<(), Status> {
    let Some(pattern) = pattern else {
        return Ok(());
    };
    let trailing = pattern.chars().rev().take_while(|c| *c == '\\').count();
    if trailing % 2 == 1 {
        let pattern = pattern.to_string();
        return Err(refusal_status(&Refusal::Pattern { pattern }));
    }
    Ok(())
}

fn internal(err: FlightError) -> Status {
    flight_status(&err)
}

/// GetCatalogs: the configured database.
pub fn catalogs(database: &str) -> Result<RecordBatch, Status> {
    let mut builder = GetCatalogsBuilder::new();
    builder.append(database);
    builder.build().map_err(internal)
}

/// GetDbSchemas: the schemas the role can use (system schemas only when named).
pub async fn db_schemas(
    pool: &PgPool,
    database: &str,
    command: CommandGetDbSchemas,
) -> Result<RecordBatch, Status> {
    let mut builder = GetDbSchemasBuilder::new(None::<String>, None::<String>);
    if catalog_matches(command.catalog.as_deref(), database) {
        let pattern = command.db_schema_filter_pattern.as_deref();
        check_pattern(pattern)?;
        let schemas = listing::schemas(pool, pattern)
            .await
            .map_err(|e| pg_status(&e))?;
        for schema in schemas {
            builder.append(database, schema);
        }
    }
    builder.build().map_err(internal)
}

/// A builder that does no filtering of its own: PostgreSQL filtered already.
fn tables_builder(command: &CommandGetTables) -> GetTablesBuilder {
    GetTablesBuilder::new(
        None::<String>,
        None::<String>,
        None::<String>,
        Vec::<String>::new(),
        command.include_schema,
    )
}

/// GetTables: relations the role can read, with (`include_schema`) the exact Arrow schema
/// DoGet produces for each — one catalog query whatever their number. The one difference:
/// columns with a comment carry it as `ARROW:FLIGHT:SQL:REMARKS` here only (JDBC getColumns
/// shows it; in a result's schema the JDBC driver would take it for the column's label).
pub async fn tables(
    pool: &PgPool,
    database: &str,
    options: &TypeOptions,
    command: CommandGetTables,
) -> Result<RecordBatch, Status> {
    check_pattern(command.db_schema_filter_pattern.as_deref())?;
    check_pattern(command.table_name_filter_pattern.as_deref())?;
    let mut builder = tables_builder(&command);
    let kinds: Vec<RelationKind> = RELATION_KINDS
        .into_iter()
        .filter(|k| command.table_types.iter().any(|t| t == k.table_type()))
        .collect();
    let asked_only_unknown_types = !command.table_types.is_empty() && kinds.is_empty();
    if catalog_matches(command.catalog.as_deref(), database) && !asked_only_unknown_types {
        let pattern = RelationPattern {
            schema_like: command.db_schema_filter_pattern.clone(),
            name_like: command.table_name_filter_pattern.clone(),
            kinds,
            with_columns: command.include_schema,
        };
        let relations = listing::relations_like(pool, &pattern)
            .await
            .map_err(|e| pg_status(&e))?;
        let empty = Schema::empty();
        for relation in relations {
            let kind = relation.kind.table_type();
            let (schema, name) = (relation.schema.clone(), relation.name.clone());
            let arrow_schema = if command.include_schema {
                let remarks = column_remarks(&relation.columns);
                with_remarks(&full_table(relation, options).schema(), &remarks)
            } else {
                Arc::new(empty.clone())
            };
            builder
                .append(database, schema, name, kind, &arrow_schema)
                .map_err(internal)?;
        }
    }
    builder.build().map_err(internal)
}

/// Each commented column's name and comment.
fn column_remarks(columns: &[PgColumn]) -> HashMap<String, String> {
    columns
        .iter()
        .filter_map(|c| Some((c.name.clone(), c.remarks.clone()?)))
        .collect()
}

/// `schema` with each commented column's comment in its field metadata (`REMARKS`).
fn with_remarks(schema: &SchemaRef, remarks: &HashMap<String, String>) -> SchemaRef {
    if remarks.is_empty() {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|field| match remarks.get(field.name()) {
            Some(remark) => {
                let mut metadata = field.metadata().clone();
                metadata.insert(REMARKS_KEY.to_owned(), remark.clone());
                field.as_ref().clone().with_metadata(metadata)
            }
            None => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// GetTableTypes: every kind of relation discovery lists.
pub fn table_types(command: CommandGetTableTypes) -> Result<RecordBatch, Status> {
    let mut builder = command.into_builder();
    for kind in RELATION_KINDS {
        builder.append(kind.table_type());
    }
    builder.build().map_err(internal)
}

static PRIMARY_KEYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
});

static FOREIGN_KEYS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("pk_catalog_name", true),
        text("pk_db_schema_name", true),
        text("pk_table_name", false),
        text("pk_column_name", false),
        text("fk_catalog_name", true),
        text("fk_db_schema_name", true),
        text("fk_table_name", false),
        text("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        text("fk_key_name", true),
        text("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
});

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// GetPrimaryKeys: the key's columns in key order.
pub async fn primary_keys(
    pool: &PgPool,
    database: &str,
    command: CommandGetPrimaryKeys,
) -> Result<RecordBatch, Status> {
    let columns = if catalog_matches(command.catalog.as_deref(), database) {
        keys::primary_keys(pool, command.db_schema.as_deref(), &command.table)
            .await
            .map_err(|e| pg_status(&e))?
    } else {
        Vec::new()
    };
    let arrays: Vec<ArrayRef> = vec![
        strings(columns.iter().map(|_| database)),
        strings(columns.iter().map(|c| c.schema.as_str())),
        strings(columns.iter().map(|c| c.table.as_str())),
        strings(columns.iter().map(|c| c.column.as_str())),
        strings(columns.iter().map(|c| c.key_name.as_str())),
        Arc::new(Int32Array::from_iter_values(
            columns.iter().map(|c| c.key_sequence),
        )),
    ];
    RecordBatch::try_new(PRIMARY_KEYS_SCHEMA.clone(), arrays).map_err(|e| arrow_status(&e))
}

/// The Flight SQL `UpdateDeleteRules` byte of a referential action.
fn rule(action: ReferentialAction) -> u8 {
    let rule = match action {
        ReferentialAction::Cascade => UpdateDeleteRules::Cascade,
        ReferentialAction::Restrict => UpdateDeleteRules::Restrict,
        ReferentialAction::SetNull => UpdateDeleteRules::SetNull,
        ReferentialAction::NoAction => UpdateDeleteRules::NoAction,
        ReferentialAction::SetDefault => UpdateDeleteRules::SetDefault,
    };
    rule as u8
}

/// Which end of the foreign keys the answer is ordered by.
#[derive(Clone, Copy)]
enum OrderBy {
    /// Imported keys and cross references: by the referenced (primary key) table.
    PrimaryKeyTable,
    /// Exported keys: by the referencing (foreign key) table.
    ForeignKeyTable,
}

async fn foreign_keys(
    pool: &PgPool,
    database: &str,
    catalogs: [Option<&str>; 2],
    filter: ForeignKeyFilter,
    order: OrderBy,
) -> Result<RecordBatch, Status> {
    let mut rows = if catalogs
        .iter()
        .all(|catalog| catalog_matches(*catalog, database))
    {
        keys::foreign_keys(pool, &filter)
            .await
            .map_err(|e| pg_status(&e))?
    } else {
        Vec::new()
    };
    match order {
        OrderBy::PrimaryKeyTable => rows.sort_by(|a, b| {
            let key = |r: &ForeignKeyColumn| {
                (
                    r.pk_schema.clone(),
                    r.pk_table.clone(),
                    r.pk_key_name.clone(),
                    r.key_sequence,
                )
            };
            key(a).cmp(&key(b))
        }),
        OrderBy::ForeignKeyTable => rows.sort_by(|a, b| {
            let key = |r: &ForeignKeyColumn| {
                (
                    r.fk_schema.clone(),
                    r.fk_table.clone(),
                    r.fk_key_name.clone(),
                    r.key_sequence,
                )
            };
            key(a).cmp(&key(b))
        }),
    }
    let arrays: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|_| database)),
        strings(rows.iter().map(|r| r.pk_schema.as_str())),
        strings(rows.iter().map(|r| r.pk_table.as_str())),
        strings(rows.iter().map(|r| r.pk_column.as_str())),
        strings(rows.iter().map(|_| database)),
        strings(rows.iter().map(|r| r.fk_schema.as_str())),
        strings(rows.iter().map(|r| r.fk_table.as_str())),
        strings(rows.iter().map(|r| r.fk_column.as_str())),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.key_sequence),
        )),
        strings(rows.iter().map(|r| r.fk_key_name.as_str())),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.pk_key_name.as_deref()),
        )),
        Arc::new(UInt8Array::from_iter_values(
            rows.iter().map(|r| rule(r.update_rule)),
        )),
        Arc::new(UInt8Array::from_iter_values(
            rows.iter().map(|r| rule(r.delete_rule)),
        )),
    ];
    RecordBatch::try_new(FOREIGN_KEYS_SCHEMA.clone(), arrays).map_err(|e| arrow_status(&e))
}

/// GetImportedKeys: the foreign keys of `table` (the keys it imports from other tables).
pub async fn imported_keys(
    pool: &PgPool,
    database: &str,
    command: CommandGetImportedKeys,
) -> Result<RecordBatch, Status> {
    let filter = ForeignKeyFilter {
        fk_schema: command.db_schema.clone(),
        fk_table: Some(command.table.clone()),
        ..ForeignKeyFilter::default()
    };
    let catalogs = [command.catalog.as_deref(), None];
    foreign_keys(pool, database, catalogs, filter, OrderBy::PrimaryKeyTable).await
}

/// GetExportedKeys: the foreign keys that reference `table`.
pub async fn exported_keys(
    pool: &PgPool,
    database: &str,
    command: CommandGetExportedKeys,
) -> Result<RecordBatch, Status> {
    let filter = ForeignKeyFilter {
        pk_schema: command.db_schema.clone(),
        pk_table: Some(command.table.clone()),
        ..ForeignKeyFilter::default()
    };
    let catalogs = [command.catalog.as_deref(), None];
    foreign_keys(pool, database, catalogs, filter, OrderBy::ForeignKeyTable).await
}

/// GetCrossReference: the foreign keys of `fk_table` that reference `pk_table`.
pub async fn cross_reference(
    pool: &PgPool,
    database: &str,
    command: CommandGetCrossReference,
) -> Result<RecordBatch, Status> {
    let filter = ForeignKeyFilter {
        pk_schema: command.pk_db_schema.clone(),
        pk_table: Some(command.pk_table.clone()),
        fk_schema: command.fk_db_schema.clone(),
        fk_table: Some(command.fk_table.clone()),
    };
    let catalogs = [command.pk_catalog.as_deref(), command.fk_catalog.as_deref()];
    foreign_keys(pool, database, catalogs, filter, OrderBy::PrimaryKeyTable).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_is_the_configured_database() {
        assert!(catalog_matches(None, "app"));
        assert!(catalog_matches(Some("app"), "app"));
        assert!(!catalog_matches(Some(""), "app"));
        assert!(!catalog_matches(Some("other"), "app"));
    }

    #[test]
    fn a_trailing_escape_is_refused() {
        assert!(check_pattern(None).is_ok());
        assert!(check_pattern(Some("a\\_b%")).is_ok());
        assert!(check_pattern(Some("a\\\\")).is_ok());
        let err = check_pattern(Some("a\\")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(check_pattern(Some("a\\\\\\")).is_err());
    }

    #[test]
    fn rules_map_to_the_flight_sql_enum() {
        assert_eq!(rule(ReferentialAction::Cascade), 0);
        assert_eq!(rule(ReferentialAction::Restrict), 1);
        assert_eq!(rule(ReferentialAction::SetNull), 2);
        assert_eq!(rule(ReferentialAction::NoAction), 3);
        assert_eq!(rule(ReferentialAction::SetDefault), 4);
    }

    #[test]
    fn get_tables_schema_follows_include_schema() {
        let mut command = CommandGetTables::default();
        assert_eq!(command.result_schema().fields().len(), 4);
        command.include_schema = true;
        assert_eq!(command.result_schema().fields().len(), 5);
    }

    #[test]
    fn remarks_go_into_the_commented_fields_only() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        assert!(Arc::ptr_eq(
            &with_remarks(&schema, &HashMap::new()),
            &schema
        ));
        let remarks = HashMap::from([("name".to_string(), "Full name".to_string())]);
        let listed = with_remarks(&schema, &remarks);
        assert!(listed.field(0).metadata().is_empty());
        assert_eq!(listed.field(1).metadata()[REMARKS_KEY], "Full name");
        assert_eq!(listed.field(1).data_type(), &DataType::Utf8);
    }
}

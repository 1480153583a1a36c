//! PostgreSQL type → Arrow `DataType` mapping.
//!
//! For every column pgflight decides, once, how it is read: the SQL expression that selects it
//! (the column itself, or a server-side `::text` cast for types whose binary form pgflight does
//! not decode), the Arrow [`Field`] it becomes (type, nullability, Flight SQL metadata), and the
//! decoder the binary COPY reader uses ([`crate::pg::copy`]). The table is DESIGN.md's "Types".
//!
//! Decisions worth knowing:
//! - `numeric(p,s)` is `Decimal128` up to 38 digits and `Decimal256` up to 76; wider, or
//!   unconstrained `numeric`, is `Utf8` holding PostgreSQL's exact text form. PostgreSQL 15+
//!   allows a negative scale or a scale above the precision: `numeric(5,-2)` becomes
//!   `Decimal(7,0)` and `numeric(2,5)` becomes `Decimal(5,5)`, so every value fits exactly.
//! - Arrays become (nested) `List`s whose depth is the column's declared dimension count
//!   (`attndims`, at least 1). Arrays of types without a native decoder are selected as
//!   `col::text[]` and become `List<Utf8>`. With `arrays = "json"` every array column is
//!   `array_to_json(col)::text` instead (`Utf8` with the `arrow.json` extension).
//! - `json` and `jsonb` carry the canonical `arrow.json` extension type in their field metadata.
//! - `"char"` is decoded from its one-byte binary form, not cast to text: before PostgreSQL 16
//!   `"char"::text` passes a byte ≥ 0x80 through raw (not UTF-8); pgflight renders it as 16+
//!   does (`\ooo`), so every release gives the same `Utf8` text.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::pg::sql::quote_ident;

/// Field metadata key: PostgreSQL's name of the column's type, as `format_type()` prints it.
pub const TYPE_NAME_KEY: &str = "ARROW:FLIGHT:SQL:TYPE_NAME";
/// Field metadata key: the schema of the relation the column belongs to. (The Flight SQL proto
/// comments say `DB_SCHEMA_NAME`; the Java, C++ and Go implementations read `SCHEMA_NAME`.)
pub const SCHEMA_NAME_KEY: &str = "ARROW:FLIGHT:SQL:SCHEMA_NAME";
/// Field metadata key: the relation the column belongs to.
pub const TABLE_NAME_KEY: &str = "ARROW:FLIGHT:SQL:TABLE_NAME";
/// Field metadata key: numeric precision, or the declared length of `varchar(n)` / `char(n)`.
pub const PRECISION_KEY: &str = "ARROW:FLIGHT:SQL:PRECISION";
/// Field metadata key: numeric scale.
pub const SCALE_KEY: &str = "ARROW:FLIGHT:SQL:SCALE";
/// Field metadata key: `"1"` when the column may hold NULL, `"0"` otherwise.
pub const IS_NULLABLE_KEY: &str = "ARROW:FLIGHT:SQL:IS_NULLABLE";
/// Field metadata key: the column's comment (JDBC `getColumns` REMARKS). Only GetTables'
/// schemas carry it (`flight::discovery`), never a result's: the Flight SQL JDBC driver takes
/// it for the column's label, and columns could no longer be found by name.
pub const REMARKS_KEY: &str = "ARROW:FLIGHT:SQL:REMARKS";
/// Field metadata key: `"1"` for identity and serial columns, `"0"` for other columns of a
/// relation (absent for computed result columns).
pub const IS_AUTO_INCREMENT_KEY: &str = "ARROW:FLIGHT:SQL:IS_AUTO_INCREMENT";
/// Field metadata key: always `"1"`: nothing is writable through pgflight.
pub const IS_READ_ONLY_KEY: &str = "ARROW:FLIGHT:SQL:IS_READ_ONLY";
/// Arrow's extension type name key (`ARROW:extension:name`).
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// Arrow's extension type metadata key (`ARROW:extension:metadata`).
pub const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";
/// The canonical JSON extension type's name.
pub const JSON_EXTENSION_NAME: &str = "arrow.json";

/// Built-in PostgreSQL type oids (fixed in `pg_type.dat`, identical in every release).
pub mod oid {
    /// `bool` (oid 16).
    pub const BOOL: u32 = 16;
    /// `bytea` (oid 17).
    pub const BYTEA: u32 = 17;
    /// `char` (oid 18).
    pub const CHAR: u32 = 18;
    /// `name` (oid 19).
    pub const NAME: u32 = 19;
    /// `int8` (oid 20).
    pub const INT8: u32 = 20;
    /// `int2` (oid 21).
    pub const INT2: u32 = 21;
    /// `int4` (oid 23).
    pub const INT4: u32 = 23;
    /// `text` (oid 25).
    pub const TEXT: u32 = 25;
    /// `oid` (oid 26).
    pub const OID: u32 = 26;
    /// `json` (oid 114).
    pub const JSON: u32 = 114;
    /// `point` (oid 600).
    pub const POINT: u32 = 600;
    /// `lseg` (oid 601).
    pub const LSEG: u32 = 601;
    /// `box` (oid 603).
    pub const BOX: u32 = 603;
    /// `line` (oid 628).
    pub const LINE: u32 = 628;
    /// `float4` (oid 700).
    pub const FLOAT4: u32 = 700;
    /// `float8` (oid 701).
    pub const FLOAT8: u32 = 701;
    /// `bpchar` (oid 1042).
    pub const BPCHAR: u32 = 1042;
    /// `varchar` (oid 1043).
    pub const VARCHAR: u32 = 1043;
    /// `date` (oid 1082).
    pub const DATE: u32 = 1082;
    /// `time` (oid 1083).
    pub const TIME: u32 = 1083;
    /// `timestamp` (oid 1114).
    pub const TIMESTAMP: u32 = 1114;
    /// `timestamptz` (oid 1184).
    pub const TIMESTAMPTZ: u32 = 1184;
    /// `interval` (oid 1186).
    pub const INTERVAL: u32 = 1186;
    /// `timetz` (oid 1266).
    pub const TIMETZ: u32 = 1266;
    /// `numeric` (oid 1700).
    pub const NUMERIC: u32 = 1700;
    /// `uuid` (oid 2950).
    pub const UUID: u32 = 2950;
    /// `jsonb` (oid 3802).
    pub const JSONB: u32 = 3802;

    /// The element type of a built-in array type.
    pub fn array_element(array: u32) -> Option<u32> {
        Some(match array {
            1000 => BOOL,
            1001 => BYTEA,
            1002 => CHAR,
            1003 => NAME,
            1016 => INT8,
            1005 => INT2,
            1007 => INT4,
            1009 => TEXT,
            1028 => OID,
            199 => JSON,
            1021 => FLOAT4,
            1022 => FLOAT8,
            1014 => BPCHAR,
            1015 => VARCHAR,
            1182 => DATE,
            1183 => TIME,
            1115 => TIMESTAMP,
            1185 => TIMESTAMPTZ,
            1187 => INTERVAL,
            1270 => TIMETZ,
            1231 => NUMERIC,
            2951 => UUID,
            3807 => JSONB,
            _ => return None,
        })
    }
}

/// One column as pg_catalog describes it (pg/catalog.rs fills this; domains already resolved to
/// their base).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgColumn {
    /// Column name, exactly as the catalog spells it.
    pub name: String,
    /// Declared type as `format_type()` prints it, e.g. `numeric(12,2)`, `character varying(20)`,
    /// `my_domain`, `integer[]`.
    pub type_name: String,
    /// Type oid after domain resolution (for arrays: the array type's oid, e.g. 1007 for int4[]).
    pub base_oid: u32,
    /// Type modifier after domain resolution (-1 if none). For arrays, the element's modifier.
    pub typmod: i32,
    /// The base type (or the array's element type) is an enum.
    pub is_enum: bool,
    /// For true array types (`typcategory = 'A'`): the element type oid after domain resolution.
    pub element_oid: Option<u32>,
    /// `pg_attribute.attndims` (0 when unknown, e.g. for views).
    pub ndims: i32,
    /// The column may hold NULL.
    pub nullable: bool,
    /// The relation's schema, for field metadata (empty when not from a relation).
    pub schema: String,
    /// The relation's name, for field metadata (empty when not from a relation).
    pub table: String,
    /// The column's comment (`COMMENT ON COLUMN`, from `pg_description`), for GetTables'
    /// field metadata (see [`REMARKS_KEY`]).
    pub remarks: Option<String>,
    /// PostgreSQL fills the column itself: an identity column, or a `serial` one (its default
    /// is `nextval(…)`).
    pub auto_increment: bool,
}

/// Type-mapping options from configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeOptions {
    /// `numeric_nan = "null"`: NaN and ±Infinity in a Decimal column become NULL instead of an
    /// error.
    pub numeric_nan_as_null: bool,
    /// `arrays = "json"`: every array column is read as JSON text (`array_to_json(col)::text`).
    pub arrays_as_json: bool,
}

/// How one value's binary form is decoded (the copy decoder's instruction set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// `bool`: one byte.
    Bool,
    /// `int2`.
    Int2,
    /// `int4`.
    Int4,
    /// `int8`.
    Int8,
    /// `float4`.
    Float4,
    /// `float8`.
    Float8,
    /// `oid`: unsigned 32-bit.
    Oid,
    /// Raw UTF-8 text: text, varchar, bpchar, name, enums, json and every `::text` cast.
    Text,
    /// `"char"`: one byte, rendered as PostgreSQL 16+'s `charout` does (ASCII as is, a byte
    /// ≥ 0x80 as `\ooo`, 0 as the empty string) so every release gives the same text.
    Char,
    /// `jsonb`: a version byte (1) then JSON text.
    Jsonb,
    /// `bytea`: raw bytes.
    Bytea,
    /// `date`: i32 days since 2000-01-01.
    Date,
    /// `time`: i64 µs since midnight.
    Time,
    /// `timestamp` / `timestamptz`: i64 µs since 2000-01-01 (UTC for timestamptz).
    Timestamp,
    /// `interval`: i64 µs, i32 days, i32 months.
    Interval,
    /// `uuid`: 16 bytes → canonical lowercase hyphenated text.
    Uuid,
    /// `numeric` into `Decimal128(precision, scale)`.
    Decimal128 {
        /// Arrow precision (≤ 38).
        precision: u8,
        /// Arrow scale (0 ≤ scale ≤ precision).
        scale: i8,
        /// NaN / ±Infinity become NULL instead of an error.
        nan_as_null: bool,
    },
    /// `numeric` into `Decimal256(precision, scale)`.
    Decimal256 {
        /// Arrow precision (≤ 76).
        precision: u8,
        /// Arrow scale (0 ≤ scale ≤ precision).
        scale: i8,
        /// NaN / ±Infinity become NULL instead of an error.
        nan_as_null: bool,
    },
    /// `numeric` into its exact text form (`NaN`, `Infinity`, `-Infinity` included).
    NumericText,
}

/// How one column's binary form is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decode {
    /// One value per row.
    Scalar(ValueKind),
    /// A PostgreSQL array of `depth` dimensions → `depth` nested Arrow lists.
    List {
        /// How each element is decoded.
        element: ValueKind,
        /// Number of dimensions (and of nested lists), at least 1.
        depth: usize,
    },
}

/// How a column is selected in the `COPY (SELECT …)` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    /// The column itself, decoded from its binary form.
    Column,
    /// `col::text`: PostgreSQL renders the value.
    TextCast,
    /// `col::text[]`: an array whose elements PostgreSQL renders.
    TextArrayCast,
    /// `array_to_json(col)::text`: the seed's JSON-string form of arrays.
    ArrayToJson,
}

/// How one column is read: the SQL expression to select, the Arrow field, the decoder.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnPlan {
    /// The Arrow field this column becomes (name, type, nullability, Flight SQL metadata).
    pub field: Field,
    /// The PostgreSQL column name (the field's name).
    name: String,
    select: Select,
    pub(crate) decode: Decode,
}

impl ColumnPlan {
    /// The column's name as PostgreSQL spells it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SQL expression that selects this column for the binary COPY: the quoted column name,
    /// or a server-side cast such as `"name"::text`, `"name"::text[]` or
    /// `array_to_json("name")::text`. Not aliased.
    pub fn select_expr(&self) -> String {
        self.select_expr_over(&quote_ident(&self.name))
    }

    /// [`ColumnPlan::select_expr`] over any SQL expression `column` of the column's type.
    pub fn select_expr_over(&self, column: &str) -> String {
        match self.select {
            Select::Column => column.to_string(),
            Select::TextCast => format!("{column}::text"),
            Select::TextArrayCast => format!("{column}::text[]"),
            Select::ArrayToJson => format!("array_to_json({column})::text"),
        }
    }

    /// True when PostgreSQL converts the column to text server-side (the value's binary form is
    /// not decoded by pgflight).
    pub fn is_text_cast(&self) -> bool {
        self.select != Select::Column
    }
}

/// Decides how `col` is read: its Arrow field and decoder, following DESIGN.md's type table.
pub fn plan_column(col: &PgColumn, opts: &TypeOptions) -> ColumnPlan {
    let element = array_element(col);
    let mut json = false;
    let (select, decode, data_type) = match element {
        Some(_) if opts.arrays_as_json => {
            json = true;
            (
                Select::ArrayToJson,
                Decode::Scalar(ValueKind::Text),
                DataType::Utf8,
            )
        }
        Some(element) => {
            // PostgreSQL arrays have at most 6 dimensions (MAXDIM).
            let depth = usize::try_from(col.ndims).unwrap_or(0).clamp(1, 6);
            let (select, kind) = match value_kind(element, col.is_enum, col.typmod, opts) {
                Some(kind) => (Select::Column, kind),
                None => (Select::TextArrayCast, ValueKind::Text),
            };
            let item_json = select == Select::Column && is_json(element);
            let data_type = list_type(value_data_type(kind, element), item_json, depth);
            (
                select,
                Decode::List {
                    element: kind,
                    depth,
                },
                data_type,
            )
        }
        None => match value_kind(col.base_oid, col.is_enum, col.typmod, opts) {
            Some(kind) => {
                json = is_json(col.base_oid);
                (
                    Select::Column,
                    Decode::Scalar(kind),
                    value_data_type(kind, col.base_oid),
                )
            }
            None => (
                Select::TextCast,
                Decode::Scalar(ValueKind::Text),
                DataType::Utf8,
            ),
        },
    };

    let mut metadata = HashMap::new();
    metadata.insert(TYPE_NAME_KEY.to_owned(), col.type_name.clone());
    if !col.schema.is_empty() {
        metadata.insert(SCHEMA_NAME_KEY.to_owned(), col.schema.clone());
    }
    if !col.table.is_empty() {
        metadata.insert(TABLE_NAME_KEY.to_owned(), col.table.clone());
    }
    let is_nullable = if col.nullable { "1" } else { "0" };
    metadata.insert(IS_NULLABLE_KEY.to_owned(), is_nullable.to_owned());
    metadata.insert(IS_READ_ONLY_KEY.to_owned(), "1".to_owned());
    if !col.table.is_empty() {
        let auto_increment = if col.auto_increment { "1" } else { "0" };
        metadata.insert(IS_AUTO_INCREMENT_KEY.to_owned(), auto_increment.to_owned());
    }

    let value_oid = element.unwrap_or(col.base_oid);
    match value_oid {
        oid::NUMERIC => {
            if let Some((precision, scale)) = numeric_typmod(col.typmod) {
                metadata.insert(PRECISION_KEY.to_owned(), precision.to_string());
                metadata.insert(SCALE_KEY.to_owned(), scale.to_string());
            }
        }
        oid::VARCHAR | oid::BPCHAR if col.typmod >= 4 => {
            metadata.insert(PRECISION_KEY.to_owned(), (col.typmod - 4).to_string());
        }
        _ => {}
    }
    if json {
        insert_json_extension(&mut metadata);
    }

    ColumnPlan {
        field: Field::new(col.name.clone(), data_type, col.nullable).with_metadata(metadata),
        name: col.name.clone(),
        select,
        decode,
    }
}

/// The Arrow schema of a row of `plans`, in order.
pub fn arrow_schema(plans: &[ColumnPlan]) -> SchemaRef {
    Arc::new(Schema::new(
        plans
            .iter()
            .map(|plan| plan.field.clone())
            .collect::<Vec<_>>(),
    ))
}

/// The element type of an array column, if it is one. Fixed-length "subscriptable" scalar types
/// (`name`, `point`, …) have a `typelem` too but are not arrays.
fn array_element(col: &PgColumn) -> Option<u32> {
    match col.base_oid {
        oid::NAME | oid::POINT | oid::LSEG | oid::BOX | oid::LINE => None,
        base => col.element_oid.or_else(|| oid::array_element(base)),
    }
}

fn is_json(type_oid: u32) -> bool {
    matches!(type_oid, oid::JSON | oid::JSONB)
}

fn insert_json_extension(metadata: &mut HashMap<String, String>) {
    metadata.insert(
        EXTENSION_NAME_KEY.to_owned(),
        JSON_EXTENSION_NAME.to_owned(),
    );
    // The canonical JSON extension takes an empty string (or `{}`); arrow-rs writes "".
    metadata.insert(EXTENSION_METADATA_KEY.to_owned(), String::new());
}

/// The native decoder for a (non-array) type, or `None` when PostgreSQL must render it as text.
fn value_kind(type_oid: u32, is_enum: bool, typmod: i32, opts: &TypeOptions) -> Option<ValueKind> {
    if is_enum {
        return Some(ValueKind::Text);
    }
    Some(match type_oid {
        oid::BOOL => ValueKind::Bool,
        oid::INT2 => ValueKind::Int2,
        oid::INT4 => ValueKind::Int4,
        oid::INT8 => ValueKind::Int8,
        oid::FLOAT4 => ValueKind::Float4,
        oid::FLOAT8 => ValueKind::Float8,
        oid::OID => ValueKind::Oid,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::JSON => ValueKind::Text,
        oid::JSONB => ValueKind::Jsonb,
        oid::CHAR => ValueKind::Char,
        oid::BYTEA => ValueKind::Bytea,
        oid::DATE => ValueKind::Date,
        oid::TIME => ValueKind::Time,
        oid::TIMESTAMP | oid::TIMESTAMPTZ => ValueKind::Timestamp,
        oid::INTERVAL => ValueKind::Interval,
        oid::UUID => ValueKind::Uuid,
        oid::NUMERIC => decimal_kind(typmod, opts.numeric_nan_as_null),
        _ => return None,
    })
}

/// `numeric(p,s)`'s typmod → `(p, s)`; `None` for unconstrained numeric. The scale is an 11-bit
/// signed field since PostgreSQL 15 (older releases only produce 0 ≤ s ≤ p, which decodes the same).
fn numeric_typmod(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let t = typmod - 4;
    let precision = (t >> 16) & 0xffff;
    let scale = ((t & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

fn decimal_kind(typmod: i32, nan_as_null: bool) -> ValueKind {
    let Some((p, s)) = numeric_typmod(typmod) else {
        return ValueKind::NumericText;
    };
    // Arrow decimal that holds every value of numeric(p, s) exactly.
    let (precision, scale) = if s < 0 {
        (p - s, 0)
    } else if s > p {
        (s, s)
    } else {
        (p, s)
    };
    match (u8::try_from(precision), i8::try_from(scale)) {
        (Ok(precision @ 1..=38), Ok(scale)) => ValueKind::Decimal128 {
            precision,
            scale,
            nan_as_null,
        },
        (Ok(precision @ 39..=76), Ok(scale)) => ValueKind::Decimal256 {
            precision,
            scale,
            nan_as_null,
        },
        _ => ValueKind::NumericText,
    }
}

fn value_data_type(kind: ValueKind, type_oid: u32) -> DataType {
    match kind {
        ValueKind::Bool => DataType::Boolean,
        ValueKind::Int2 => DataType::Int16,
        ValueKind::Int4 => DataType::Int32,
        ValueKind::Int8 => DataType::Int64,
        ValueKind::Float4 => DataType::Float32,
        ValueKind::Float8 => DataType::Float64,
        ValueKind::Oid => DataType::UInt32,
        ValueKind::Text
        | ValueKind::Char
        | ValueKind::Jsonb
        | ValueKind::Uuid
        | ValueKind::NumericText => DataType::Utf8,
        ValueKind::Bytea => DataType::Binary,
        ValueKind::Date => DataType::Date32,
        ValueKind::Time => DataType::Time64(TimeUnit::Microsecond),
        ValueKind::Timestamp if type_oid == oid::TIMESTAMPTZ => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        ValueKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ValueKind::Interval => DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano),
        ValueKind::Decimal128 {
            precision, scale, ..
        } => DataType::Decimal128(precision, scale),
        ValueKind::Decimal256 {
            precision, scale, ..
        } => DataType::Decimal256(precision, scale),
    }
}

/// `depth` nested lists around `element` (items nullable; JSON items carry `arrow.json`).
fn list_type(element: DataType, json: bool, depth: usize) -> DataType {
    let mut metadata = HashMap::new();
    if json {
        insert_json_extension(&mut metadata);
    }
    let mut data_type = DataType::List(Arc::new(
        Field::new_list_field(element, true).with_metadata(metadata),
    ));
    for _ in 1..depth {
        data_type = DataType::List(Arc::new(Field::new_list_field(data_type, true)));
    }
    data_type
}

#[cfg(test)]
mod tests;

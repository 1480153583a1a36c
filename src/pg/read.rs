//! What one read asks PostgreSQL for, as typed values that travel inside a sealed ticket:
//! a [`ScanRead`] of one relation (columns, typed filters, limit) or a [`StatementRead`] of
//! client SQL (its result columns and typed parameter values), in an exported snapshot or not.
//!
//! These are prost messages so that the plan that carries them can be encoded as the ticket;
//! nothing here is SQL text except a pass-through statement's own. [`crate::pg::render`] turns
//! a read into the statements sent, and [`crate::pg::source`] runs them: DoGet needs no catalog
//! query, because every column carries what its decoder needs.

use prost::Message;

use crate::pg::types::{ColumnPlan, PgColumn, TypeOptions, plan_column};

/// One read: what to run, and the exported snapshot to run it in ("" for none).
#[derive(Clone, PartialEq, Message)]
pub struct Read {
    /// The exported snapshot every endpoint of a split request reads in ("" when not split).
    #[prost(string, tag = "1")]
    pub snapshot: String,
    /// What PostgreSQL runs.
    #[prost(oneof = "read_source::Source", tags = "2, 3")]
    pub source: Option<read_source::Source>,
    /// The query this read belongs to ("" for none): its statements carry it, so that a
    /// cancel of the query finds them ([`crate::pg::cancel`]).
    #[prost(string, tag = "4")]
    pub query_id: String,
    /// Which endpoint of the split read this is (0-based): its backend is tagged with it, so
    /// that the snapshot's holder sees it start, whichever instance reads it.
    #[prost(uint32, tag = "5")]
    pub part: u32,
}

/// The kinds of [`Read`].
pub mod read_source {
    /// What PostgreSQL runs.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Source {
        /// Columns of one relation, filtered.
        #[prost(message, tag = "2")]
        Scan(super::ScanRead),
        /// Client SQL, passed through.
        #[prost(message, tag = "3")]
        Statement(super::StatementRead),
    }
}

/// Columns of one relation, with the filters PostgreSQL evaluates.
#[derive(Clone, PartialEq, Message)]
pub struct ScanRead {
    /// The relation's schema (exact).
    #[prost(string, tag = "1")]
    pub schema: String,
    /// The relation's name (exact).
    #[prost(string, tag = "2")]
    pub table: String,
    /// The columns read, in output order.
    #[prost(message, repeated, tag = "3")]
    pub columns: Vec<ReadColumn>,
    /// Conditions that all hold for every row read (`AND`).
    #[prost(message, repeated, tag = "4")]
    pub filters: Vec<Filter>,
    /// At most this many rows.
    #[prost(uint64, optional, tag = "5")]
    pub limit: Option<u64>,
}

/// The changes of one relation a logical slot holds, up to a bound fixed at planning.
#[derive(Clone, PartialEq, Message)]
pub struct ChangesRead {
    /// The slot (its publication has the same name).
    #[prost(string, tag = "1")]
    pub slot: String,
    /// The relation's schema (exact).
    #[prost(string, tag = "2")]
    pub schema: String,
    /// The relation's name (exact).
    #[prost(string, tag = "3")]
    pub table: String,
    /// The relation's columns, in output order (the change columns follow).
    #[prost(message, repeated, tag = "4")]
    pub columns: Vec<ReadColumn>,
    /// The upper bound: transactions whose commit record starts before this LSN.
    #[prost(uint64, tag = "5")]
    pub upto: u64,
}

impl ChangesRead {
    /// How each column of the result is read (the relation's, then the change columns).
    pub fn column_plans(&self, options: &TypeOptions) -> Vec<ColumnPlan> {
        crate::pg::change_rows::change_column_plans(
            &self.schema,
            &self.table,
            &self.columns,
            options,
        )
    }
}

/// Client SQL that PostgreSQL runs verbatim (placeholders numbered `$n`), once per bound row.
#[derive(Clone, PartialEq, Message)]
pub struct StatementRead {
    /// The statement (trailing `;` removed, `?` numbered `$n`).
    #[prost(string, tag = "1")]
    pub sql: String,
    /// Its result columns, named `c1…cn` for the COPY and `output_name` in Arrow.
    #[prost(message, repeated, tag = "2")]
    pub columns: Vec<ReadColumn>,
    /// Each parameter's type as PostgreSQL's `format_type` wrote it (`timestamp with time zone`).
    #[prost(string, repeated, tag = "3")]
    pub param_types: Vec<String>,
    /// One execution per row of values; results are concatenated in order.
    #[prost(message, repeated, tag = "4")]
    pub executions: Vec<ParamRow>,
    /// Cast every result column to the type `columns` name: the statement was described
    /// earlier (a prepared statement) and its relations may have changed since, so PostgreSQL
    /// converts to the announced types or fails, never sends other ones.
    #[prost(bool, tag = "5")]
    pub typed: bool,
}

/// One execution's parameter values, as PostgreSQL input text.
#[derive(Clone, PartialEq, Message)]
pub struct ParamRow {
    /// Values of `$1…$n`.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<ParamValue>,
}

/// One parameter value.
#[derive(Clone, PartialEq, Message)]
pub struct ParamValue {
    /// PostgreSQL input text; `None` is SQL NULL.
    #[prost(string, optional, tag = "1")]
    pub text: Option<String>,
}

/// A column as its decoder needs it (the catalog's facts, carried so DoGet asks nothing).
#[derive(Clone, PartialEq, Message)]
pub struct ReadColumn {
    /// The column's name as PostgreSQL spells it (for statements: the positional alias).
    #[prost(string, tag = "1")]
    pub name: String,
    /// `format_type(atttypid, atttypmod)`.
    #[prost(string, tag = "2")]
    pub type_name: String,
    /// The type's oid, domains resolved to their base.
    #[prost(uint32, tag = "3")]
    pub base_oid: u32,
    /// The type modifier (-1 for none).
    #[prost(sint32, tag = "4")]
    pub typmod: i32,
    /// The type (or the array's element) is an enum.
    #[prost(bool, tag = "5")]
    pub is_enum: bool,
    /// The element type's oid for arrays.
    #[prost(uint32, optional, tag = "6")]
    pub element_oid: Option<u32>,
    /// Declared array dimensions.
    #[prost(int32, tag = "7")]
    pub ndims: i32,
    /// Whether NULL may occur.
    #[prost(bool, tag = "8")]
    pub nullable: bool,
    /// The Arrow field's name when it differs from `name` (a statement's result column).
    #[prost(string, optional, tag = "9")]
    pub output_name: Option<String>,
    /// An identity or serial column (Flight SQL's IS_AUTO_INCREMENT).
    #[prost(bool, tag = "10")]
    pub auto_increment: bool,
}

impl ReadColumn {
    /// The facts of `column`.
    pub fn of(column: &PgColumn) -> ReadColumn {
        ReadColumn {
            name: column.name.clone(),
            type_name: column.type_name.clone(),
            base_oid: column.base_oid,
            typmod: column.typmod,
            is_enum: column.is_enum,
            element_oid: column.element_oid,
            ndims: column.ndims,
            nullable: column.nullable,
            output_name: None,
            auto_increment: column.auto_increment,
        }
    }

    /// How the column is read, its field carrying `schema` and `table` as Flight SQL metadata.
    pub fn plan(&self, schema: &str, table: &str, options: &TypeOptions) -> ColumnPlan {
        let column = PgColumn {
            name: self.name.clone(),
            type_name: self.type_name.clone(),
            base_oid: self.base_oid,
            typmod: self.typmod,
            is_enum: self.is_enum,
            element_oid: self.element_oid,
            ndims: self.ndims,
            nullable: self.nullable,
            schema: schema.to_string(),
            table: table.to_string(),
            // Comments label columns in JDBC: GetTables shows them, result schemas do not.
            remarks: None,
            auto_increment: self.auto_increment,
        };
        let mut plan = plan_column(&column, options);
        if let Some(name) = &self.output_name {
            plan.field = plan.field.with_name(name);
        }
        plan
    }
}

impl ScanRead {
    /// How each column is read.
    pub fn column_plans(&self, options: &TypeOptions) -> Vec<ColumnPlan> {
        self.columns
            .iter()
            .map(|c| c.plan(&self.schema, &self.table, options))
            .collect()
    }
}

impl StatementRead {
    /// How each result column is read.
    pub fn column_plans(&self, options: &TypeOptions) -> Vec<ColumnPlan> {
        self.columns
            .iter()
            .map(|c| c.plan("", "", options))
            .collect()
    }
}

impl Read {
    /// A read of `scan`, in `snapshot` when given.
    pub fn scan(scan: ScanRead, snapshot: Option<&str>) -> Read {
        Read {
            snapshot: snapshot.unwrap_or_default().to_string(),
            source: Some(read_source::Source::Scan(scan)),
            query_id: String::new(),
            part: 0,
        }
    }

    /// This read as endpoint `part` of a split read.
    pub fn in_part(self, part: u32) -> Read {
        Read { part, ..self }
    }

    /// A read of `statement`.
    pub fn statement(statement: StatementRead) -> Read {
        Read {
            snapshot: String::new(),
            source: Some(read_source::Source::Statement(statement)),
            query_id: String::new(),
            part: 0,
        }
    }

    /// This read as part of query `query_id` ("" for none).
    pub fn in_query(mut self, query_id: &str) -> Read {
        self.query_id = query_id.to_string();
        self
    }

    /// The query this read belongs to, if any.
    pub fn query_id(&self) -> Option<&str> {
        (!self.query_id.is_empty()).then_some(self.query_id.as_str())
    }

    /// The exported snapshot to read in, if any.
    pub fn snapshot(&self) -> Option<&str> {
        (!self.snapshot.is_empty()).then_some(self.snapshot.as_str())
    }

    /// How each column of the result is read.
    pub fn column_plans(&self, options: &TypeOptions) -> Vec<ColumnPlan> {
        match &self.source {
            Some(read_source::Source::Scan(scan)) => scan.column_plans(options),
            Some(read_source::Source::Statement(statement)) => statement.column_plans(options),
            None => Vec::new(),
        }
    }
}

/// A condition PostgreSQL evaluates, as typed parts (rendered by [`crate::pg::render`]).
#[derive(Clone, PartialEq, Message)]
pub struct Filter {
    /// Which condition.
    #[prost(
        oneof = "filter::Condition",
        tags = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"
    )]
    pub condition: Option<filter::Condition>,
}

/// The kinds of [`Filter`].
pub mod filter {
    /// Which condition.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Condition {
        /// `column <op> literal`.
        #[prost(message, tag = "1")]
        Compare(super::Compare),
        /// `column IS [NOT] NULL`.
        #[prost(message, tag = "2")]
        NullTest(super::NullTest),
        /// `column [NOT] IN (literals)`.
        #[prost(message, tag = "3")]
        InList(super::InList),
        /// `column [NOT] BETWEEN low AND high`.
        #[prost(message, tag = "4")]
        Between(super::Between),
        /// Every one of the filters.
        #[prost(message, tag = "5")]
        All(super::FilterList),
        /// At least one of the filters.
        #[prost(message, tag = "6")]
        Any(super::FilterList),
        /// The filter does not hold.
        #[prost(message, tag = "7")]
        Not(::prost::alloc::boxed::Box<super::Filter>),
        /// A boolean column on its own.
        #[prost(string, tag = "8")]
        Column(String),
        /// Rows written by transactions in a commit-order window.
        #[prost(message, tag = "9")]
        XidWindow(super::XidWindow),
        /// Rows in a range of blocks (`ctid`).
        #[prost(message, tag = "10")]
        Blocks(super::BlockRange),
        /// Rows in a range of an integer key.
        #[prost(message, tag = "11")]
        Keys(super::KeyRange),
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum CompareOp {
    /// `=`
    Eq = 0,
    /// `<>`
    NotEq = 1,
    /// `<`
    Lt = 2,
    /// `<=`
    LtEq = 3,
    /// `>`
    Gt = 4,
    /// `>=`
    GtEq = 5,
}

/// `column <op> value`.
#[derive(Clone, PartialEq, Message)]
pub struct Compare {
    /// The column.
    #[prost(string, tag = "1")]
    pub column: String,
    /// The operator.
    #[prost(enumeration = "CompareOp", tag = "2")]
    pub op: i32,
    /// The value.
    #[prost(message, optional, tag = "3")]
    pub value: Option<Literal>,
    /// Compare text in byte order (`COLLATE "C"`, as Arrow compares).
    #[prost(bool, tag = "4")]
    pub byte_order: bool,
}

/// `column IS [NOT] NULL`.
#[derive(Clone, PartialEq, Message)]
pub struct NullTest {
    /// The column.
    #[prost(string, tag = "1")]
    pub column: String,
    /// `IS NOT NULL`.
    #[prost(bool, tag = "2")]
    pub negated: bool,
}

/// `column [NOT] IN (values)`.
#[derive(Clone, PartialEq, Message)]
pub struct InList {
    /// The column.
    #[prost(string, tag = "1")]
    pub column: String,
    /// The values (at least one).
    #[prost(message, repeated, tag = "2")]
    pub values: Vec<Literal>,
    /// `NOT IN`.
    #[prost(bool, tag = "3")]
    pub negated: bool,
}

/// `column [NOT] BETWEEN low AND high`.
#[derive(Clone, PartialEq, Message)]
pub struct Between {
    /// The column.
    #[prost(string, tag = "1")]
    pub column: String,
    /// Lower bound (inclusive).
    #[prost(message, optional, tag = "2")]
    pub low: Option<Literal>,
    /// Upper bound (inclusive).
    #[prost(message, optional, tag = "3")]
    pub high: Option<Literal>,
    /// `NOT BETWEEN`.
    #[prost(bool, tag = "4")]
    pub negated: bool,
    /// Compare text in byte order (`COLLATE "C"`).
    #[prost(bool, tag = "5")]
    pub byte_order: bool,
}

/// Several filters.
#[derive(Clone, PartialEq, Message)]
pub struct FilterList {
    /// The filters.
    #[prost(message, repeated, tag = "1")]
    pub filters: Vec<Filter>,
}

/// Rows whose `xmin` lies in the 64-bit transaction id window `[from, to)` (commit order).
#[derive(Clone, PartialEq, Message)]
pub struct XidWindow {
    /// Lowest id (inclusive); absent: from the beginning.
    #[prost(uint64, optional, tag = "1")]
    pub from: Option<u64>,
    /// The oldest transaction running at planning (exclusive).
    #[prost(uint64, tag = "2")]
    pub to: u64,
}

/// Blocks `[from, to)` by `ctid`; absent bounds are open.
#[derive(Clone, PartialEq, Message)]
pub struct BlockRange {
    /// First block (inclusive).
    #[prost(uint64, optional, tag = "1")]
    pub from: Option<u64>,
    /// Block after the last (exclusive).
    #[prost(uint64, optional, tag = "2")]
    pub to: Option<u64>,
}

/// Keys `[from, to)` of an integer column; absent bounds are open.
#[derive(Clone, PartialEq, Message)]
pub struct KeyRange {
    /// The key column.
    #[prost(string, tag = "1")]
    pub column: String,
    /// Lowest key (inclusive).
    #[prost(int64, optional, tag = "2")]
    pub from: Option<i64>,
    /// Key after the highest (exclusive).
    #[prost(int64, optional, tag = "3")]
    pub to: Option<i64>,
}

/// The PostgreSQL types a [`Literal`] may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum LiteralType {
    /// `boolean` (text `true` or `false`).
    Boolean = 0,
    /// `smallint`.
    Smallint = 1,
    /// `integer`.
    Integer = 2,
    /// `bigint`.
    Bigint = 3,
    /// `numeric`.
    Numeric = 4,
    /// `real`.
    Real = 5,
    /// `double precision`.
    Double = 6,
    /// `text`.
    Text = 7,
    /// `bytea` (hex input form).
    Bytea = 8,
    /// `date`.
    Date = 9,
    /// `timestamp`.
    Timestamp = 10,
    /// `timestamptz`.
    Timestamptz = 11,
}

impl LiteralType {
    /// The type's name in SQL.
    pub fn sql_name(self) -> &'static str {
        match self {
            LiteralType::Boolean => "boolean",
            LiteralType::Smallint => "smallint",
            LiteralType::Integer => "integer",
            LiteralType::Bigint => "bigint",
            LiteralType::Numeric => "numeric",
            LiteralType::Real => "real",
            LiteralType::Double => "double precision",
            LiteralType::Text => "text",
            LiteralType::Bytea => "bytea",
            LiteralType::Date => "date",
            LiteralType::Timestamp => "timestamp",
            LiteralType::Timestamptz => "timestamptz",
        }
    }
}

/// A value with its PostgreSQL type: input text, rendered as `'text'::type`.
#[derive(Clone, PartialEq, Message)]
pub struct Literal {
    /// PostgreSQL input text of the value.
    #[prost(string, tag = "1")]
    pub text: String,
    /// Its type.
    #[prost(enumeration = "LiteralType", tag = "2")]
    pub r#type: i32,
}

impl Literal {
    /// `text` typed as `ty`.
    pub fn new(text: impl Into<String>, ty: LiteralType) -> Literal {
        Literal {
            text: text.into(),
            r#type: ty as i32,
        }
    }
}

impl Filter {
    fn of(condition: filter::Condition) -> Filter {
        Filter {
            condition: Some(condition),
        }
    }

    /// `column <op> value`, text compared in byte order when `byte_order`.
    pub fn compare(column: &str, op: CompareOp, value: Literal, byte_order: bool) -> Filter {
        Filter::of(filter::Condition::Compare(Compare {
            column: column.to_string(),
            op: op as i32,
            value: Some(value),
            byte_order,
        }))
    }

    /// `column IS NULL` (or `IS NOT NULL` when `negated`).
    pub fn null_test(column: &str, negated: bool) -> Filter {
        Filter::of(filter::Condition::NullTest(NullTest {
            column: column.to_string(),
            negated,
        }))
    }

    /// `column [NOT] IN (values)`.
    pub fn in_list(column: &str, values: Vec<Literal>, negated: bool) -> Filter {
        Filter::of(filter::Condition::InList(InList {
            column: column.to_string(),
            values,
            negated,
        }))
    }

    /// `column [NOT] BETWEEN low AND high`.
    pub fn between(
        column: &str,
        low: Literal,
        high: Literal,
        negated: bool,
        byte_order: bool,
    ) -> Filter {
        Filter::of(filter::Condition::Between(Between {
            column: column.to_string(),
            low: Some(low),
            high: Some(high),
            negated,
            byte_order,
        }))
    }

    /// Every one of `filters`.
    pub fn all(filters: Vec<Filter>) -> Filter {
        Filter::of(filter::Condition::All(FilterList { filters }))
    }

    /// At least one of `filters`.
    pub fn any(filters: Vec<Filter>) -> Filter {
        Filter::of(filter::Condition::Any(FilterList { filters }))
    }

    /// `NOT filter`.
    pub fn negate(filter: Filter) -> Filter {
        Filter::of(filter::Condition::Not(Box::new(filter)))
    }

    /// A boolean column on its own.
    pub fn column(column: &str) -> Filter {
        Filter::of(filter::Condition::Column(column.to_string()))
    }

    /// Rows of transactions in `[from, to)` (commit order).
    pub fn xid_window(from: Option<u64>, to: u64) -> Filter {
        Filter::of(filter::Condition::XidWindow(XidWindow { from, to }))
    }

    /// Blocks `[from, to)`.
    pub fn blocks(from: Option<u64>, to: Option<u64>) -> Filter {
        Filter::of(filter::Condition::Blocks(BlockRange { from, to }))
    }

    /// Keys `[from, to)` of `column`.
    pub fn keys(column: &str, from: Option<i64>, to: Option<i64>) -> Filter {
        Filter::of(filter::Condition::Keys(KeyRange {
            column: column.to_string(),
            from,
            to,
        }))
    }
}

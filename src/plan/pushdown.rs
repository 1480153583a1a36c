//! DataFusion `Expr` → PostgreSQL SQL, for the filters whose result is identical in both engines
//! (DESIGN.md "Pushdown"): a column compared with a literal (`= <> < <= > >=`), `IS [NOT] NULL`,
//! `IN (list)`, `BETWEEN`, and `AND`/`OR`/`NOT` of those. Anything else is `None`, and DataFusion
//! evaluates it over the Arrow values.
//!
//! Semantics are those of DataFusion over the Arrow values pgflight decodes, so:
//! - literals are rendered here with an explicit PostgreSQL type (`'1.50'::numeric`,
//!   `'2024-01-01 00:00:00+00'::timestamptz`), never by DataFusion's unparser;
//! - text ordering comparisons carry `COLLATE "C"` (byte order, as Arrow compares);
//! - only columns whose Arrow value equals PostgreSQL's value take part: text and varchar but
//!   not `char(n)` (blank-padded comparison), citext, enums, uuid or types read as text;
//! - float literals NaN and ±0 are not pushed (PostgreSQL and Arrow order them differently).

use std::collections::HashMap;

use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::InList;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

use crate::pg::sql::quote_ident;
use crate::plan::params::quote_literal;

/// How filters may refer to one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushColumn {
    /// The column's name as PostgreSQL spells it.
    pub name: String,
    /// Its value compares in PostgreSQL exactly as its Arrow value does in DataFusion.
    pub comparable: bool,
    /// It is text (ordering comparisons need `COLLATE "C"`).
    pub text: bool,
}

/// The columns of one relation, by name.
#[derive(Debug, Clone, Default)]
pub struct PushColumns {
    columns: HashMap<String, PushColumn>,
}

impl PushColumns {
    /// A lookup over `columns`.
    pub fn new(columns: impl IntoIterator<Item = PushColumn>) -> PushColumns {
        PushColumns {
            columns: columns.into_iter().map(|c| (c.name.clone(), c)).collect(),
        }
    }

    fn get(&self, expr: &Expr) -> Option<&PushColumn> {
        match expr {
            Expr::Column(column) => self.columns.get(&column.name),
            // Widening casts DataFusion adds for comparisons keep the value exact.
            Expr::Cast(cast) if lossless_cast(&cast.expr, cast.field.data_type()) => {
                self.get(&cast.expr)
            }
            _ => None,
        }
    }
}

fn lossless_cast(expr: &Expr, to: &DataType) -> bool {
    let Expr::Column(_) = expr else { return false };
    // The column's own type is not known here; only integer and float widenings are accepted.
    matches!(to, DataType::Int32 | DataType::Int64 | DataType::Float64)
}

/// The SQL of `expr`, or `None` when PostgreSQL would not evaluate it identically.
pub fn to_sql(expr: &Expr, columns: &PushColumns) -> Option<String> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And | Operator::Or => Some(format!(
                "({} {} {})",
                to_sql(left, columns)?,
                if *op == Operator::And { "AND" } else { "OR" },
                to_sql(right, columns)?
            )),
            _ => comparison(left, *op, right, columns),
        },
        Expr::Not(inner) => Some(format!("(NOT {})", to_sql(inner, columns)?)),
        Expr::IsNull(inner) => Some(format!("({} IS NULL)", column_ref(inner, columns, false)?)),
        Expr::IsNotNull(inner) => Some(format!(
            "({} IS NOT NULL)",
            column_ref(inner, columns, false)?
        )),
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let column = comparable(expr, columns)?;
            let items: Option<Vec<String>> = list.iter().map(literal_of).collect();
            let items = items?;
            if items.is_empty() {
                return None;
            }
            let not = if *negated { "NOT " } else { "" };
            Some(format!(
                "({} {not}IN ({}))",
                quote_ident(&column.name),
                items.join(", ")
            ))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let column = comparable(expr, columns)?;
            let collate = if column.text { " COLLATE \"C\"" } else { "" };
            let not = if *negated { "NOT " } else { "" };
            Some(format!(
                "({}{collate} {not}BETWEEN {} AND {})",
                quote_ident(&column.name),
                literal_of(low)?,
                literal_of(high)?
            ))
        }
        // A boolean column on its own.
        Expr::Column(_) => {
            let column = comparable(expr, columns)?;
            Some(quote_ident(&column.name))
        }
        _ => None,
    }
}

fn comparison(left: &Expr, op: Operator, right: &Expr, columns: &PushColumns) -> Option<String> {
    let (column_expr, literal_expr, op) = if columns.get(left).is_some() {
        (left, right, op)
    } else {
        (right, left, op.swap()?)
    };
    let sql_op = match op {
        Operator::Eq => "=",
        Operator::NotEq => "<>",
        Operator::Lt => "<",
        Operator::LtEq => "<=",
        Operator::Gt => ">",
        Operator::GtEq => ">=",
        _ => return None,
    };
    let column = comparable(column_expr, columns)?;
    let literal = literal_of(literal_expr)?;
    let ordering = !matches!(op, Operator::Eq | Operator::NotEq);
    let collate = if column.text && ordering {
        " COLLATE \"C\""
    } else {
        ""
    };
    Some(format!(
        "({}{collate} {sql_op} {literal})",
        quote_ident(&column.name)
    ))
}

fn comparable<'a>(expr: &Expr, columns: &'a PushColumns) -> Option<&'a PushColumn> {
    columns.get(expr).filter(|c| c.comparable)
}

/// Any column (IS NULL works on every type).
fn column_ref(expr: &Expr, columns: &PushColumns, _: bool) -> Option<String> {
    columns.get(expr).map(|c| quote_ident(&c.name))
}

fn literal_of(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(value, _) => literal(value),
        Expr::Negative(inner) => match inner.as_ref() {
            Expr::Literal(value, _) => literal(&value.arithmetic_negate().ok()?),
            _ => None,
        },
        _ => None,
    }
}

/// A scalar as a typed PostgreSQL literal, or `None` when it cannot be rendered exactly.
pub fn literal(value: &ScalarValue) -> Option<String> {
    let typed = |text: String, ty: &str| Some(format!("{}::{ty}", quote_literal(&text)));
    match value {
        ScalarValue::Boolean(Some(b)) => Some(b.to_string()),
        ScalarValue::Int8(Some(v)) => typed(v.to_string(), "smallint"),
        ScalarValue::Int16(Some(v)) => typed(v.to_string(), "smallint"),
        ScalarValue::Int32(Some(v)) => typed(v.to_string(), "integer"),
        ScalarValue::Int64(Some(v)) => typed(v.to_string(), "bigint"),
        ScalarValue::UInt8(Some(v)) => typed(v.to_string(), "smallint"),
        ScalarValue::UInt16(Some(v)) => typed(v.to_string(), "integer"),
        ScalarValue::UInt32(Some(v)) => typed(v.to_string(), "bigint"),
        ScalarValue::UInt64(Some(v)) => typed(v.to_string(), "numeric"),
        ScalarValue::Float32(Some(v)) if v.is_finite() && *v != 0.0 => typed(v.to_string(), "real"),
        ScalarValue::Float64(Some(v)) if v.is_finite() && *v != 0.0 => {
            typed(v.to_string(), "double precision")
        }
        ScalarValue::Decimal128(Some(_), _, _) | ScalarValue::Decimal256(Some(_), _, _) => {
            typed(value.to_string(), "numeric")
        }
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
            if !s.contains('\0') =>
        {
            typed(s.clone(), "text")
        }
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            typed(format!("\\x{hex}"), "bytea")
        }
        ScalarValue::Date32(Some(days)) => {
            let date = NaiveDate::from_num_days_from_ce_opt(719_163 + days)?;
            typed(date.format("%Y-%m-%d").to_string(), "date")
        }
        ScalarValue::TimestampSecond(Some(v), tz) => timestamp(*v, TimeUnit::Second, tz.is_some()),
        ScalarValue::TimestampMillisecond(Some(v), tz) => {
            timestamp(*v, TimeUnit::Millisecond, tz.is_some())
        }
        ScalarValue::TimestampMicrosecond(Some(v), tz) => {
            timestamp(*v, TimeUnit::Microsecond, tz.is_some())
        }
        ScalarValue::TimestampNanosecond(Some(v), tz) => {
            timestamp(*v, TimeUnit::Nanosecond, tz.is_some())
        }
        _ => None,
    }
}

/// A timestamp literal at microsecond precision; a finer value that is not a whole
/// microsecond is not rendered (PostgreSQL would round it).
fn timestamp(value: i64, unit: TimeUnit, zoned: bool) -> Option<String> {
    let micros = match unit {
        TimeUnit::Second => value.checked_mul(1_000_000)?,
        TimeUnit::Millisecond => value.checked_mul(1_000)?,
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond if value % 1_000 == 0 => value / 1_000,
        TimeUnit::Nanosecond => return None,
    };
    let at = DateTime::from_timestamp_micros(micros)?.naive_utc();
    let text = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    Some(if zoned {
        format!("{}::timestamptz", quote_literal(&format!("{text}+00")))
    } else {
        format!("{}::timestamp", quote_literal(&text))
    })
}

#[cfg(test)]
#[path = "pushdown/golden.rs"]
mod golden;

//! DataFusion `Expr` → typed PostgreSQL filters ([`Filter`], rendered by
//! [`crate::pg::render`]), for the filters whose result is identical in both engines
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

use crate::pg::read::{CompareOp, Filter, Literal, LiteralType};

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

/// The typed filter of `expr`, or `None` when PostgreSQL would not evaluate it identically.
pub fn to_filter(expr: &Expr, columns: &PushColumns) -> Option<Filter> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => Some(Filter::all(vec![
                to_filter(left, columns)?,
                to_filter(right, columns)?,
            ])),
            Operator::Or => Some(Filter::any(vec![
                to_filter(left, columns)?,
                to_filter(right, columns)?,
            ])),
            _ => comparison(left, *op, right, columns),
        },
        Expr::Not(inner) => Some(Filter::negate(to_filter(inner, columns)?)),
        Expr::IsNull(inner) => Some(Filter::null_test(&columns.get(inner)?.name, false)),
        Expr::IsNotNull(inner) => Some(Filter::null_test(&columns.get(inner)?.name, true)),
        Expr::InList(InList {
            expr,
            list,
            negated,
        }) => {
            let column = comparable(expr, columns)?;
            let items: Option<Vec<Literal>> = list.iter().map(literal_of).collect();
            let items = items?;
            if items.is_empty() {
                return None;
            }
            Some(Filter::in_list(&column.name, items, *negated))
        }
        Expr::Between(Between {
            expr,
            negated,
            low,
            high,
        }) => {
            let column = comparable(expr, columns)?;
            Some(Filter::between(
                &column.name,
                literal_of(low)?,
                literal_of(high)?,
                *negated,
                column.text,
            ))
        }
        // A boolean column on its own.
        Expr::Column(_) => Some(Filter::column(&comparable(expr, columns)?.name)),
        _ => None,
    }
}

fn comparison(left: &Expr, op: Operator, right: &Expr, columns: &PushColumns) -> Option<Filter> {
    let (column_expr, literal_expr, op) = if columns.get(left).is_some() {
        (left, right, op)
    } else {
        (right, left, op.swap()?)
    };
    let compare = match op {
        Operator::Eq => CompareOp::Eq,
        Operator::NotEq => CompareOp::NotEq,
        Operator::Lt => CompareOp::Lt,
        Operator::LtEq => CompareOp::LtEq,
        Operator::Gt => CompareOp::Gt,
        Operator::GtEq => CompareOp::GtEq,
        _ => return None,
    };
    let column = comparable(column_expr, columns)?;
    let literal = literal_of(literal_expr)?;
    let ordering = !matches!(op, Operator::Eq | Operator::NotEq);
    Some(Filter::compare(
        &column.name,
        compare,
        literal,
        column.text && ordering,
    ))
}

fn comparable<'a>(expr: &Expr, columns: &'a PushColumns) -> Option<&'a PushColumn> {
    columns.get(expr).filter(|c| c.comparable)
}

fn literal_of(expr: &Expr) -> Option<Literal> {
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
pub fn literal(value: &ScalarValue) -> Option<Literal> {
    use LiteralType as T;
    let typed = |text: String, ty: LiteralType| Some(Literal::new(text, ty));
    match value {
        ScalarValue::Boolean(Some(b)) => typed(b.to_string(), T::Boolean),
        ScalarValue::Int8(Some(v)) => typed(v.to_string(), T::Smallint),
        ScalarValue::Int16(Some(v)) => typed(v.to_string(), T::Smallint),
        ScalarValue::Int32(Some(v)) => typed(v.to_string(), T::Integer),
        ScalarValue::Int64(Some(v)) => typed(v.to_string(), T::Bigint),
        ScalarValue::UInt8(Some(v)) => typed(v.to_string(), T::Smallint),
        ScalarValue::UInt16(Some(v)) => typed(v.to_string(), T::Integer),
        ScalarValue::UInt32(Some(v)) => typed(v.to_string(), T::Bigint),
        ScalarValue::UInt64(Some(v)) => typed(v.to_string(), T::Numeric),
        ScalarValue::Float32(Some(v)) if v.is_finite() && *v != 0.0 => {
            typed(v.to_string(), T::Real)
        }
        ScalarValue::Float64(Some(v)) if v.is_finite() && *v != 0.0 => {
            typed(v.to_string(), T::Double)
        }
        ScalarValue::Decimal128(Some(_), _, _) | ScalarValue::Decimal256(Some(_), _, _) => {
            typed(value.to_string(), T::Numeric)
        }
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
            if !s.contains('\0') =>
        {
            typed(s.clone(), T::Text)
        }
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => {
            let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
            typed(format!("\\x{hex}"), T::Bytea)
        }
        ScalarValue::Date32(Some(days)) => {
            let date = NaiveDate::from_num_days_from_ce_opt(719_163 + days)?;
            typed(date.format("%Y-%m-%d").to_string(), T::Date)
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
fn timestamp(value: i64, unit: TimeUnit, zoned: bool) -> Option<Literal> {
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
        Literal::new(format!("{text}+00"), LiteralType::Timestamptz)
    } else {
        Literal::new(text, LiteralType::Timestamp)
    })
}

#[cfg(test)]
#[path = "pushdown/golden.rs"]
mod golden;

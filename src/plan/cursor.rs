//! Cursors of incremental extraction: which columns may order changes, how a cursor's text is
//! parsed and written back (exactly), and the window `cursor < col <= high_water` as DataFusion
//! expressions rendered into PostgreSQL's `WHERE` by the same pushdown code SQL queries use.
//!
//! Cursor text forms (what pgflight returns, and accepts back unchanged):
//!
//! | column type | cursor text |
//! |---|---|
//! | `timestamptz` | `2024-05-01T12:00:00.123456+00:00` (input: any offset, `Z`, or none = UTC) |
//! | `timestamp` | `2024-05-01T12:00:00.123456` (input: no offset, or a UTC one) |
//! | `date` | `2024-05-01` |
//! | `smallint`, `integer`, `bigint` | `42` |
//! | `numeric` | PostgreSQL's exact text, e.g. `12.340` (no exponent, no NaN) |
//! | `xmin` (commit order) | `xid:<64-bit transaction id>` (opaque) |
//!
//! Values finer than a microsecond are refused rather than rounded.
//!
//! The window is built as DataFusion `Expr`s (`col > lit AND col <= lit`, literals typed as the
//! column's Arrow type) and rendered by [`pushdown::to_sql`], the function the `TableProvider`
//! uses for SQL filters, rather than by running DataFusion's optimizer over a scan: the window
//! must go down whole, never be half-evaluated by pgflight, and unconstrained `numeric` (read as
//! text) must still compare as a number in PostgreSQL. Commit order's condition is
//! PostgreSQL-specific and rendered in [`crate::pg::incremental`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef, i256};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::pg::catalog::Relation;
use crate::pg::incremental::Finite;
use crate::pg::read::Filter;
use crate::pg::types::{PgColumn, oid};
use crate::plan::PlanError;
use crate::plan::pushdown::{self, PushColumn, PushColumns};

/// The `cursorField` that asks for commit order instead of a column.
pub const XMIN: &str = "xmin";

/// The schema-metadata key carrying the new cursor (the same JSON as `FlightInfo.app_metadata`).
pub const CURSOR_METADATA_KEY: &str = "pgflight.cursor";

/// Most digits a numeric cursor may have (Arrow's Decimal256).
const MAX_NUMERIC_DIGITS: usize = 76;

/// Why a cursor's text is not a value of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorTextError {
    /// Not `[+-]digits`.
    #[error("expected an integer")]
    NotAnInteger,
    /// A number the column's type cannot hold.
    #[error("out of range for the column's type")]
    OutOfRange,
    /// Not `[+-]digits[.digits]`.
    #[error("expected a decimal number such as 12.50 (no exponent, NaN or infinity)")]
    NotADecimal,
    /// More digits than Decimal256 holds.
    #[error("more than {MAX_NUMERIC_DIGITS} digits")]
    TooManyDigits,
    /// Not `YYYY-MM-DD`.
    #[error("expected YYYY-MM-DD")]
    NotADate,
    /// Not an ISO timestamp.
    #[error("expected YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]")]
    NotATimestamp,
    /// An offset that is not `±HH`, `±HH:MM` or `±HHMM` (or out of range).
    #[error("offset {0:?} is not ±HH, ±HH:MM or ±HHMM")]
    BadOffset(String),
    /// A non-UTC offset on a `timestamp without time zone` cursor.
    #[error("a timestamp without time zone takes no offset (or a UTC one: Z, +00:00)")]
    OffsetOnPlainTimestamp,
    /// A local time the offset cannot place.
    #[error("not a valid local time")]
    NoSuchLocalTime,
    /// Nanoseconds that are not whole microseconds.
    #[error("finer than a microsecond (PostgreSQL keeps microseconds)")]
    FinerThanMicroseconds,
    /// A commit-order cursor without its `xid:` prefix.
    #[error("expected xid:<transaction id>, as a previous run returned it")]
    NotAnXid,
    /// A negative transaction id.
    #[error("negative transaction id")]
    NegativeXid,
}

/// The kinds of cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone`.
    TimestampTz,
    /// `date`.
    Date,
    /// `smallint`.
    SmallInt,
    /// `integer`.
    Integer,
    /// `bigint`.
    BigInt,
    /// `numeric`.
    Numeric,
    /// Commit order: the `xmin` system column, 64-bit transaction ids.
    Xmin,
}

/// A parsed cursor value, comparable within its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct CursorValue {
    /// The value as a typed scalar (pushdown renders it as a typed PostgreSQL literal).
    pub scalar: ScalarValue,
    /// The canonical text form (what goes back to the client).
    pub text: String,
}

impl CursorKind {
    /// The kind for `column`, or `None` when its type cannot order changes.
    pub fn of(column: &PgColumn) -> Option<CursorKind> {
        if column.element_oid.is_some() {
            return None;
        }
        Some(match column.base_oid {
            oid::TIMESTAMP => CursorKind::Timestamp,
            oid::TIMESTAMPTZ => CursorKind::TimestampTz,
            oid::DATE => CursorKind::Date,
            oid::INT2 => CursorKind::SmallInt,
            oid::INT4 => CursorKind::Integer,
            oid::INT8 => CursorKind::BigInt,
            oid::NUMERIC => CursorKind::Numeric,
            _ => return None,
        })
    }

    /// Which values take part in the high-water mark.
    pub fn finite(self) -> Finite {
        match self {
            CursorKind::Timestamp | CursorKind::TimestampTz | CursorKind::Date => Finite::DateTime,
            CursorKind::Numeric => Finite::Numeric,
            _ => Finite::All,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CursorKind::Timestamp => "timestamp",
            CursorKind::TimestampTz => "timestamptz",
            CursorKind::Date => "date",
            CursorKind::SmallInt => "smallint",
            CursorKind::Integer => "integer",
            CursorKind::BigInt => "bigint",
            CursorKind::Numeric => "numeric",
            CursorKind::Xmin => "xmin",
        }
    }

    /// Parses cursor text (a client's, or PostgreSQL's text of a high-water mark).
    pub fn parse(self, text: &str) -> Result<CursorValue, CursorTextError> {
        let scalar = match self {
            CursorKind::SmallInt => ScalarValue::Int16(Some(parse_int(text)?)),
            CursorKind::Integer => ScalarValue::Int32(Some(parse_int(text)?)),
            CursorKind::BigInt => ScalarValue::Int64(Some(parse_int(text)?)),
            CursorKind::Numeric => parse_numeric(text)?,
            CursorKind::Date => {
                let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| CursorTextError::NotADate)?;
                let days = date.signed_duration_since(NaiveDate::default()).num_days();
                ScalarValue::Date32(Some(
                    i32::try_from(days).map_err(|_| CursorTextError::OutOfRange)?,
                ))
            }
            CursorKind::Timestamp => {
                let (at, offset) = parse_timestamp(text)?;
                if offset.is_some_and(|o| o.local_minus_utc() != 0) {
                    return Err(CursorTextError::OffsetOnPlainTimestamp);
                }
                ScalarValue::TimestampMicrosecond(Some(micros(at)?), None)
            }
            CursorKind::TimestampTz => {
                let (at, offset) = parse_timestamp(text)?;
                let utc = match offset {
                    Some(offset) => offset
                        .from_local_datetime(&at)
                        .single()
                        .ok_or(CursorTextError::NoSuchLocalTime)?
                        .naive_utc(),
                    None => at,
                };
                ScalarValue::TimestampMicrosecond(Some(micros(utc)?), Some(Arc::from("UTC")))
            }
            CursorKind::Xmin => {
                let digits = text.strip_prefix("xid:").ok_or(CursorTextError::NotAnXid)?;
                ScalarValue::Int64(Some(parse_int::<i64>(digits).and_then(|v| {
                    if v < 0 {
                        Err(CursorTextError::NegativeXid)
                    } else {
                        Ok(v)
                    }
                })?))
            }
        };
        let text = canonical(&scalar, self);
        Ok(CursorValue { scalar, text })
    }
}

/// Parses a client's cursor for `column` of `relation`, naming both on failure.
fn parse_for(kind: CursorKind, field: &str, text: &str) -> Result<CursorValue, PlanError> {
    kind.parse(text).map_err(|why| {
        PlanError::InvalidRequest(format!(
            "cursor {text:?} is not a valid {} value for cursorField {field:?}: {why}",
            kind.name()
        ))
    })
}

/// The kind of cursor `field` of `relation` orders by; refuses unknown columns and types that
/// are not safely ordered.
pub fn cursor_kind(relation: &Relation, field: &str) -> Result<CursorKind, PlanError> {
    let name = crate::pg::sql::qualified_name(&relation.schema, &relation.name);
    if field == XMIN {
        return Ok(CursorKind::Xmin);
    }
    let column = relation
        .columns
        .iter()
        .find(|c| c.name == field)
        .ok_or_else(|| {
            PlanError::InvalidRequest(format!(
                "cursorField {field:?} is not a column of {name} (use a column name exactly as \
                 PostgreSQL spells it, or \"xmin\" for commit order)"
            ))
        })?;
    CursorKind::of(column).ok_or_else(|| {
        PlanError::InvalidRequest(format!(
            "cursorField {field:?} of {name} has type {}, which cannot order changes; use a \
             timestamp, timestamptz, date, smallint, integer, bigint or numeric column, or \
             \"xmin\" for commit order",
            column.type_name
        ))
    })
}

/// The rows one incremental run reads: `from < field <= to` (commit order: transactions in
/// `[from, to)`). Bounds are canonical cursor text; this is what a ticket carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorWindow {
    /// The cursor column, or [`XMIN`].
    pub field: String,
    /// Exclusive lower bound; `None` from the beginning.
    pub from: Option<String>,
    /// Inclusive upper bound (the high-water mark); `None` when no row had a cursor value,
    /// which makes the window empty.
    pub to: Option<String>,
}

impl CursorWindow {
    /// Checks the window against `relation` and gives its condition.
    pub fn filter(&self, relation: &Relation) -> Result<Filter, PlanError> {
        let kind = cursor_kind(relation, &self.field)?;
        let from = self
            .from
            .as_deref()
            .map(|t| parse_for(kind, &self.field, t))
            .transpose()?;
        let Some(to) = self.to.as_deref() else {
            return Ok(Filter::any(Vec::new()));
        };
        let to = parse_for(kind, &self.field, to)?;
        if kind == CursorKind::Xmin {
            return Ok(Filter::xid_window(from.map(|f| xid(&f)), xid(&to)));
        }
        let column = Expr::Column(Column::new_unqualified(&self.field));
        let bound = |op, value: CursorValue| {
            Expr::BinaryExpr(BinaryExpr::new(
                Box::new(column.clone()),
                op,
                Box::new(Expr::Literal(value.scalar, None)),
            ))
        };
        let mut window = bound(Operator::LtEq, to);
        if let Some(from) = from {
            window = Expr::BinaryExpr(BinaryExpr::new(
                Box::new(bound(Operator::Gt, from)),
                Operator::And,
                Box::new(window),
            ));
        }
        // The cursor column compares exactly: its kinds are numbers, dates and timestamps.
        let columns = PushColumns::new([PushColumn {
            name: self.field.clone(),
            comparable: true,
            text: false,
        }]);
        pushdown::to_filter(&window, &columns).ok_or_else(|| {
            PlanError::InvalidRequest(format!(
                "the window on cursorField {:?} cannot be rendered for PostgreSQL",
                self.field
            ))
        })
    }
}

/// Plans a window from a client's cursor and PostgreSQL's high-water text: the window and the
/// next cursor (the high-water mark, or the old cursor when it is not below it).
pub fn plan_window(
    kind: CursorKind,
    field: &str,
    cursor: Option<&str>,
    high_water: Option<&str>,
) -> Result<(CursorWindow, Option<String>), PlanError> {
    let from = cursor.map(|t| parse_for(kind, field, t)).transpose()?;
    let to = high_water
        .map(|t| {
            kind.parse(t).map_err(|why| {
                PlanError::InvalidRequest(format!(
                    "the largest value of cursorField {field:?} ({t:?}) cannot be carried as a \
                     cursor: {why}"
                ))
            })
        })
        .transpose()?;
    let next = match (&from, &to) {
        (Some(from), Some(to)) if compare(&from.scalar, &to.scalar) != Ordering::Less => {
            Some(from.text.clone())
        }
        (_, Some(to)) => Some(to.text.clone()),
        (from, None) => from.as_ref().map(|f| f.text.clone()),
    };
    let window = CursorWindow {
        field: field.to_string(),
        from: from.map(|f| f.text),
        to: to.map(|t| t.text),
    };
    Ok((window, next))
}

/// The JSON carried in `FlightInfo.app_metadata` and the stream's schema metadata.
pub fn cursor_json(entity: &str, field: &str, cursor: Option<&str>) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct NextCursor<'a> {
        entity: &'a str,
        cursor_field: &'a str,
        cursor: Option<&'a str>,
    }
    let next = NextCursor {
        entity,
        cursor_field: field,
        cursor,
    };
    serde_json::to_string(&next).unwrap_or_default()
}

/// `schema` with the new cursor in its metadata (unchanged when there is none).
pub fn with_cursor_metadata(schema: SchemaRef, json: Option<&str>) -> SchemaRef {
    let Some(json) = json else { return schema };
    let mut metadata: HashMap<String, String> = schema.metadata().clone();
    metadata.insert(CURSOR_METADATA_KEY.to_string(), json.to_string());
    Arc::new(Schema::new_with_metadata(schema.fields().clone(), metadata))
}

/// The 64-bit transaction id of an xmin cursor.
pub fn xid(value: &CursorValue) -> u64 {
    match value.scalar {
        ScalarValue::Int64(Some(v)) => v.max(0) as u64,
        _ => 0,
    }
}

fn compare(a: &ScalarValue, b: &ScalarValue) -> Ordering {
    match (a, b) {
        (ScalarValue::Decimal256(Some(a), _, sa), ScalarValue::Decimal256(Some(b), _, sb)) => {
            // Align scales; numeric cursors have at most 76 digits, so this cannot overflow
            // for the digits that matter (an overflow means the larger one is larger).
            let scale = (*sa).max(*sb);
            let up = |v: i256, s: i8| {
                v.checked_mul(i256::from_i128(10).wrapping_pow((scale - s) as u32))
            };
            match (up(*a, *sa), up(*b, *sb)) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => a.cmp(b),
            }
        }
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

fn canonical(scalar: &ScalarValue, kind: CursorKind) -> String {
    match (scalar, kind) {
        (ScalarValue::Int64(Some(v)), CursorKind::Xmin) => format!("xid:{v}"),
        (ScalarValue::Date32(Some(days)), _) => (NaiveDate::default()
            + chrono::Duration::days(i64::from(*days)))
        .format("%Y-%m-%d")
        .to_string(),
        (ScalarValue::TimestampMicrosecond(Some(v), tz), _) => {
            let at = DateTime::<Utc>::from_timestamp_micros(*v)
                .map(|d| d.naive_utc())
                .unwrap_or_default();
            let text = at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
            if tz.is_some() {
                format!("{text}+00:00")
            } else {
                text
            }
        }
        (other, _) => other.to_string(),
    }
}

fn parse_int<T: std::str::FromStr>(text: &str) -> Result<T, CursorTextError> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty()
        || !digits
            .trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return Err(CursorTextError::NotAnInteger);
    }
    digits.parse().map_err(|_| CursorTextError::OutOfRange)
}

/// `[+-]digits[.digits]` → Decimal256(76, scale), exactly.
fn parse_numeric(text: &str) -> Result<ScalarValue, CursorTextError> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let digit_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digit_only(int) || !digit_only(frac) {
        return Err(CursorTextError::NotADecimal);
    }
    let digits = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0');
    if significant.len() > MAX_NUMERIC_DIGITS || frac.len() > MAX_NUMERIC_DIGITS {
        return Err(CursorTextError::TooManyDigits);
    }
    let magnitude = i256::from_string(if significant.is_empty() {
        "0"
    } else {
        significant
    })
    .ok_or(CursorTextError::NotADecimal)?;
    let value = if negative {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    Ok(ScalarValue::Decimal256(
        Some(value),
        MAX_NUMERIC_DIGITS as u8,
        frac.len() as i8,
    ))
}

/// `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]][Z|±HH[:MM]]` → the local time and its offset, if any.
fn parse_timestamp(text: &str) -> Result<(NaiveDateTime, Option<FixedOffset>), CursorTextError> {
    let (local, offset) = split_offset(text)?;
    let at = if local.len() == 10 {
        NaiveDate::parse_from_str(local, "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN))
    } else {
        NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S%.f"))
    }
    .map_err(|_| CursorTextError::NotATimestamp)?;
    Ok((at, offset))
}

fn split_offset(text: &str) -> Result<(&str, Option<FixedOffset>), CursorTextError> {
    if let Some(local) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Ok((local, FixedOffset::east_opt(0)));
    }
    // An offset starts with the last sign after the date part.
    let Some(at) = text
        .char_indices()
        .skip(10)
        .filter(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)
        .last()
    else {
        return Ok((text, None));
    };
    let (local, offset) = text.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let parts: Vec<&str> = offset[1..].split(':').collect();
    let bad = || CursorTextError::BadOffset(offset.to_string());
    let number = |s: &str| -> Result<i32, CursorTextError> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(s.parse().unwrap_or(0))
        } else {
            Err(bad())
        }
    };
    let seconds = match parts.as_slice() {
        [hh] if hh.len() == 4 => number(&hh[..2])? * 3600 + number(&hh[2..])? * 60,
        [hh] => number(hh)? * 3600,
        [hh, mm] => number(hh)? * 3600 + number(mm)? * 60,
        _ => return Err(bad()),
    };
    let offset = FixedOffset::east_opt(sign * seconds).ok_or_else(bad)?;
    Ok((local, Some(offset)))
}

fn micros(at: NaiveDateTime) -> Result<i64, CursorTextError> {
    if !at.and_utc().timestamp_subsec_nanos().is_multiple_of(1_000) {
        return Err(CursorTextError::FinerThanMicroseconds);
    }
    Ok(at.and_utc().timestamp_micros())
}

#[cfg(test)]
#[path = "cursor/tests.rs"]
mod tests;

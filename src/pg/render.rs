//! The one place a read becomes SQL text: identifiers quoted, literals typed
//! (`'2024-01-01 00:00:00+00'::timestamptz`); a scan a binary `COPY … TO STDOUT`, client SQL
//! its own text with its `$n` parameters (values are bound, [`crate::pg::data_rows`]) and its
//! result cast where its decoders need it.

use crate::pg::incremental::xmin_window_sql;
use crate::pg::read::{
    CompareOp, Filter, Literal, LiteralType, ReadColumn, ScanRead, StatementRead, filter::Condition,
};
use crate::pg::settings::Setting;
use crate::pg::sql::{qualified_name, quote_ident, quote_literal};
use crate::pg::types::ColumnPlan;

/// The `SELECT` a scan runs, its columns selected as `columns` say.
pub fn scan_select(scan: &ScanRead, columns: &[ColumnPlan]) -> String {
    let select: Vec<String> = columns.iter().map(ColumnPlan::select_expr).collect();
    let mut sql = format!(
        "SELECT {} FROM {}",
        select.join(", "),
        qualified_name(&scan.schema, &scan.table)
    );
    if !scan.filters.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conjunction(&scan.filters));
    }
    if let Some(limit) = scan.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

/// The `COPY` statement a scan sends.
pub fn scan_copy(scan: &ScanRead, columns: &[ColumnPlan]) -> String {
    copy(&scan_select(scan, columns))
}

/// The query a pass-through statement runs through the extended protocol: its own text, its
/// `$n` parameters kept (bound as values, so PostgreSQL reuses its plan), its result cast
/// ([`statement_select`]; to the described types for a described statement, so that a relation
/// changed since cannot change them).
pub fn statement_query(statement: &StatementRead, columns: &[ColumnPlan]) -> String {
    match statement.typed && is_plain_query(&statement.sql) {
        true => typed_statement_select(&statement.sql, &statement.columns, columns),
        false => statement_select(&statement.sql, columns),
    }
}

/// The query that reads `sql`'s result. When every column is decoded natively the
/// query is sent verbatim; otherwise it is wrapped so that the columns PostgreSQL must render
/// as text are cast (`SELECT c1, c2::text FROM (<sql>) AS q(c1, c2)`; positional aliases, so
/// duplicate or odd column names do not matter). Line breaks around `sql` keep a trailing
/// `--` comment from swallowing the rest.
pub fn statement_select(sql: &str, columns: &[ColumnPlan]) -> String {
    if columns.iter().any(ColumnPlan::is_text_cast) {
        let select: Vec<String> = columns.iter().map(ColumnPlan::select_expr).collect();
        let aliases: Vec<String> = columns.iter().map(|c| quote_ident(c.name())).collect();
        format!(
            "SELECT {} FROM (\n{sql}\n) AS q({})",
            select.join(", "),
            aliases.join(", ")
        )
    } else {
        format!("\n{sql}\n")
    }
}

/// `sql` with its result cast to the types it was described with
/// (`SELECT CAST(c1 AS integer), CAST(c2 AS inet)::text FROM (<sql>) AS q(c1, c2)`).
fn typed_statement_select(sql: &str, described: &[ReadColumn], columns: &[ColumnPlan]) -> String {
    let select: Vec<String> = described
        .iter()
        .zip(columns)
        .map(|(read, plan)| {
            let cast = format!("CAST({} AS {})", quote_ident(&read.name), read.type_name);
            plan.select_expr_over(&cast)
        })
        .collect();
    let aliases: Vec<String> = described.iter().map(|c| quote_ident(&c.name)).collect();
    format!(
        "SELECT {} FROM (\n{sql}\n) AS q({})",
        select.join(", "),
        aliases.join(", ")
    )
}

/// Whether `sql` starts with `SELECT`, `VALUES` or `TABLE` (after blanks, comments and
/// parentheses): a query that may stand as a subquery. Anything else (`WITH`, which may hold a
/// data-modifying statement, `INSERT … RETURNING`, `SHOW`, …) is sent as it is, so PostgreSQL
/// gives its own answer (read-only, or the syntax error).
fn is_plain_query(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(word.as_str(), "select" | "values" | "table")
}

/// The `SELECT set_config(…, true), …` that applies `settings` in the current transaction, or
/// `None` when there are none. Names come from the allowlist, values are string literals:
/// PostgreSQL parses them as it parses `SET`.
pub fn settings_sql(settings: &[Setting]) -> Option<String> {
    if settings.is_empty() {
        return None;
    }
    let calls: Vec<String> = settings
        .iter()
        .map(|s| {
            format!(
                "set_config({}, {}, true)",
                quote_literal(&s.name),
                quote_literal(&s.value)
            )
        })
        .collect();
    Some(format!("SELECT {}", calls.join(", ")))
}

fn copy(query: &str) -> String {
    format!("COPY ({query}) TO STDOUT (FORMAT binary)")
}

/// `filters` joined with `AND`.
pub fn conjunction(filters: &[Filter]) -> String {
    match filters {
        [] => "true".to_string(),
        [one] => filter_sql(one),
        many => many.iter().map(enclosed).collect::<Vec<_>>().join(" AND "),
    }
}

/// A filter's SQL, in parentheses unless it renders enclosed already.
fn enclosed(filter: &Filter) -> String {
    let sql = filter_sql(filter);
    match &filter.condition {
        Some(Condition::Blocks(_) | Condition::Keys(_) | Condition::Column(_)) => {
            format!("({sql})")
        }
        Some(Condition::All(list) | Condition::Any(list)) if list.filters.len() == 1 => {
            enclosed(&list.filters[0])
        }
        _ => sql,
    }
}

/// A filter as a boolean SQL expression.
pub fn filter_sql(filter: &Filter) -> String {
    let Some(condition) = &filter.condition else {
        return "true".to_string();
    };
    match condition {
        Condition::Compare(c) => {
            let op = match CompareOp::try_from(c.op).unwrap_or(CompareOp::Eq) {
                CompareOp::Eq => "=",
                CompareOp::NotEq => "<>",
                CompareOp::Lt => "<",
                CompareOp::LtEq => "<=",
                CompareOp::Gt => ">",
                CompareOp::GtEq => ">=",
            };
            format!(
                "({}{} {op} {})",
                quote_ident(&c.column),
                collate(c.byte_order),
                literal(c.value.as_ref())
            )
        }
        Condition::NullTest(t) => format!(
            "({} IS {}NULL)",
            quote_ident(&t.column),
            if t.negated { "NOT " } else { "" }
        ),
        Condition::InList(list) => {
            let items: Vec<String> = list.values.iter().map(|v| literal(Some(v))).collect();
            format!(
                "({} {}IN ({}))",
                quote_ident(&list.column),
                if list.negated { "NOT " } else { "" },
                items.join(", ")
            )
        }
        Condition::Between(b) => format!(
            "({}{} {}BETWEEN {} AND {})",
            quote_ident(&b.column),
            collate(b.byte_order),
            if b.negated { "NOT " } else { "" },
            literal(b.low.as_ref()),
            literal(b.high.as_ref())
        ),
        Condition::All(list) => junction(&list.filters, "AND", "true"),
        Condition::Any(list) => junction(&list.filters, "OR", "false"),
        Condition::Not(inner) => format!("(NOT {})", filter_sql(inner)),
        Condition::Column(name) => quote_ident(name),
        Condition::XidWindow(w) => xmin_window_sql(w.from, w.to),
        Condition::Blocks(b) => range(
            "ctid".to_string(),
            b.from.map(|n| format!("'({n},0)'::tid")),
            b.to.map(|n| format!("'({n},0)'::tid")),
        ),
        Condition::Keys(k) => range(
            quote_ident(&k.column),
            k.from.map(|n| n.to_string()),
            k.to.map(|n| n.to_string()),
        ),
    }
}

fn junction(filters: &[Filter], word: &str, empty: &str) -> String {
    match filters {
        [] => empty.to_string(),
        [one] => filter_sql(one),
        many => format!(
            "({})",
            many.iter()
                .map(enclosed)
                .collect::<Vec<_>>()
                .join(&format!(" {word} "))
        ),
    }
}

fn range(lhs: String, from: Option<String>, to: Option<String>) -> String {
    match (from, to) {
        (Some(from), Some(to)) => format!("{lhs} >= {from} AND {lhs} < {to}"),
        (Some(from), None) => format!("{lhs} >= {from}"),
        (None, Some(to)) => format!("{lhs} < {to}"),
        (None, None) => "true".to_string(),
    }
}

fn collate(byte_order: bool) -> &'static str {
    if byte_order { " COLLATE \"C\"" } else { "" }
}

/// A literal as `'text'::type` (booleans bare); a missing one is `NULL`.
fn literal(value: Option<&Literal>) -> String {
    let Some(value) = value else {
        return "NULL".to_string();
    };
    let ty = LiteralType::try_from(value.r#type).unwrap_or(LiteralType::Text);
    match (ty, value.text.as_str()) {
        (LiteralType::Boolean, text @ ("true" | "false")) => text.to_string(),
        (ty, text) => format!("{}::{}", quote_literal(text), ty.sql_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::read::{ParamRow, ParamValue};
    use crate::pg::settings::SEARCH_PATH;
    use crate::pg::types::TypeOptions;

    fn int_column(name: &str) -> ReadColumn {
        ReadColumn {
            name: name.into(),
            type_name: "integer".into(),
            base_oid: 23,
            typmod: -1,
            nullable: true,
            ..ReadColumn::default()
        }
    }

    #[test]
    fn scans_quote_names_and_type_literals() {
        let scan = ScanRead {
            schema: "app".into(),
            table: "Odd \"t\"".into(),
            columns: vec![int_column("id")],
            filters: vec![
                Filter::compare(
                    "id",
                    CompareOp::Gt,
                    Literal::new("5", LiteralType::Integer),
                    false,
                ),
                Filter::blocks(Some(1), Some(9)),
            ],
            limit: Some(3),
        };
        let columns = scan.column_plans(&TypeOptions::default());
        assert_eq!(
            scan_copy(&scan, &columns),
            "COPY (SELECT \"id\" FROM \"app\".\"Odd \"\"t\"\"\" WHERE (\"id\" > '5'::integer) \
             AND (ctid >= '(1,0)'::tid AND ctid < '(9,0)'::tid) LIMIT 3) TO STDOUT (FORMAT binary)"
        );
    }

    #[test]
    fn text_literals_cannot_escape_their_quotes() {
        let filter = Filter::compare(
            "name",
            CompareOp::Eq,
            Literal::new("x'; DROP TABLE t; --", LiteralType::Text),
            false,
        );
        assert_eq!(
            filter_sql(&filter),
            "(\"name\" = 'x''; DROP TABLE t; --'::text)"
        );
        let not_bool = Literal::new("true OR 1=1", LiteralType::Boolean);
        assert_eq!(literal(Some(&not_bool)), "'true OR 1=1'::boolean");
    }

    #[test]
    fn only_plain_queries_are_cast_to_their_described_types() {
        assert!(is_plain_query(" /* c */ -- d\n (SELECT 1)"));
        assert!(is_plain_query("values (1)"));
        assert!(!is_plain_query(
            "WITH x AS (DELETE FROM t RETURNING 1) SELECT * FROM x"
        ));
        assert!(!is_plain_query("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!is_plain_query("SHOW TimeZone"));
    }

    #[test]
    fn empty_junctions_are_constants() {
        assert_eq!(filter_sql(&Filter::any(vec![])), "false");
        assert_eq!(filter_sql(&Filter::all(vec![])), "true");
    }

    #[test]
    fn statements_keep_their_parameters_and_typed_ones_are_cast() {
        let statement = StatementRead {
            sql: "SELECT $1 -- c".into(),
            columns: vec![int_column("c1")],
            param_types: vec!["integer".into()],
            executions: vec![ParamRow {
                values: vec![ParamValue {
                    text: Some("it's".into()),
                }],
            }],
            typed: false,
        };
        let columns = statement.column_plans(&TypeOptions::default());
        assert_eq!(statement_query(&statement, &columns), "\nSELECT $1 -- c\n");
        let typed = StatementRead {
            typed: true,
            ..statement.clone()
        };
        assert_eq!(
            statement_query(&typed, &columns),
            "SELECT CAST(\"c1\" AS integer) FROM (\nSELECT $1 -- c\n) AS q(\"c1\")"
        );
    }

    #[test]
    fn text_rendered_columns_are_cast_by_position() {
        let inet = ReadColumn {
            name: "c2".into(),
            type_name: "inet".into(),
            base_oid: 869,
            typmod: -1,
            nullable: true,
            ..ReadColumn::default()
        };
        let statement = StatementRead {
            sql: "SELECT 1, '::1'::inet".into(),
            columns: vec![int_column("c1"), inet],
            ..StatementRead::default()
        };
        let columns = statement.column_plans(&TypeOptions::default());
        assert_eq!(
            statement_query(&statement, &columns),
            "SELECT \"c1\", \"c2\"::text FROM (\nSELECT 1, '::1'::inet\n) AS q(\"c1\", \"c2\")"
        );
    }

    #[test]
    fn values_are_literals() {
        assert_eq!(settings_sql(&[]), None);
        let sql = settings_sql(&[
            Setting::new("TimeZone", "Europe/Paris"),
            Setting::new(SEARCH_PATH, "\"o'dd\""),
        ])
        .unwrap();
        assert_eq!(
            sql,
            "SELECT set_config('TimeZone', 'Europe/Paris', true), \
             set_config('search_path', '\"o''dd\"', true)"
        );
    }
}

//! Client SQL parsed once (DataFusion's sqlparser, PostgreSQL dialect) for everything that
//! reads its tree — the statement guard, the privilege check, DataFusion's planning — and the
//! relations a statement names, read from that tree, so that the planner applies pgflight's one
//! privilege rule to SQL too: a relation the role may not read is NOT_FOUND at GetFlightInfo,
//! before PostgreSQL describes the statement's result schema.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, ObjectNamePart, Query, Statement, TableFactor, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

pub use crate::pg::fingerprint::fingerprint;

/// A relation as a statement names it: schema (if qualified) and name, folded as PostgreSQL
/// folds unquoted identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamedRelation {
    /// The schema, when the name is qualified.
    pub schema: Option<String>,
    /// The relation's name.
    pub name: String,
}

/// Client SQL as the parser read it: its statements, or why it cannot read them.
pub type Parsed = Result<Vec<Statement>, ParserError>;

/// `sql` parsed (PostgreSQL dialect).
pub fn parse(sql: &str) -> Parsed {
    Parser::parse_sql(&PostgreSqlDialect {}, sql)
}

/// The relations `statements` read (table references in `FROM` and joins, in every subquery
/// and CTE), without the names of their CTEs and without table functions.
pub fn named_relations(statements: &[Statement]) -> Vec<NamedRelation> {
    let mut names = Names::default();
    for statement in statements {
        let _ = statement.visit(&mut names);
    }
    let mut seen = HashSet::new();
    names
        .relations
        .into_iter()
        .filter(|r| r.schema.is_some() || !names.ctes.contains(&r.name))
        .filter(|r| seen.insert(r.clone()))
        .collect()
}

/// PostgreSQL's folding: unquoted identifiers are lower-cased.
fn folded(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

#[derive(Default)]
struct Names {
    relations: Vec<NamedRelation>,
    ctes: HashSet<String>,
}

impl Visitor for Names {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.ctes.insert(folded(&cte.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            name, args: None, ..
        } = factor
        {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(ObjectNamePart::as_ident)
                .map(folded)
                .collect();
            if parts.len() == name.0.len() {
                match parts.as_slice() {
                    [.., schema, table] => self.relations.push(NamedRelation {
                        schema: Some(schema.clone()),
                        name: table.clone(),
                    }),
                    [table] => self.relations.push(NamedRelation {
                        schema: None,
                        name: table.clone(),
                    }),
                    [] => {}
                }
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<(Option<&'static str>, String)> {
        named_relations(&parse(sql).unwrap())
            .into_iter()
            .map(|r| (r.schema.map(|s| &*s.leak()), r.name))
            .collect()
    }

    #[test]
    fn relations_everywhere_but_ctes_and_functions() {
        assert_eq!(
            names(
                "WITH c AS (SELECT * FROM App.\"Orders\") \
                 SELECT * FROM c JOIN t ON true, LATERAL (SELECT * FROM s.u) l, \
                 generate_series(1, 2) g WHERE EXISTS (SELECT 1 FROM T)"
            ),
            vec![
                (Some("app"), "Orders".to_string()),
                (None, "t".to_string()),
                (Some("s"), "u".to_string()),
            ]
        );
        assert!(parse("SELEC 1").is_err());
    }
}

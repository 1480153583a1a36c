//! Integration tests against a throwaway PostgreSQL started by the harness.

mod catalog_cache;
mod changes;
mod connect;
mod discovery;
mod extract;
mod fuzz;
mod guard;
mod harness;
mod incremental;
mod least_privilege;
mod limits;
mod partition;
mod poll;
mod privileges;
mod read_plan;
mod scaleout;
mod security;
mod serve;
mod sessions;
mod sql;
mod statement_reads;
mod traces;
mod types;
mod user_roles;

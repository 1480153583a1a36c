//! Integration tests against a throwaway PostgreSQL started by the harness.

mod connect;
mod discovery;
mod extract;
mod fuzz;
mod harness;
mod incremental;
mod partition;
mod read_plan;
mod security;
mod serve;
mod sql;
mod types;

//! Integration tests against a throwaway PostgreSQL started by the harness.

mod connect;
mod extract;
mod harness;
mod metrics;
mod serve;
mod types;

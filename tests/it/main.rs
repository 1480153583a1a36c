//! Integration tests against a throwaway PostgreSQL started by the harness.

mod connect;
mod harness;
mod serve;
mod types;

//! Planning: what to read and which filters PostgreSQL evaluates. Depends on `pg`, never on
//! `flight`.

pub mod error;
pub mod extract;

pub use error::PlanError;

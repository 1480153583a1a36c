//! Planning: what to read and which filters PostgreSQL evaluates. Depends on `pg`, never on
//! `flight`.

pub mod cursor;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod incremental;
pub mod params;
pub mod provider;
pub mod pushdown;
pub mod query;
pub mod single;

pub use error::PlanError;

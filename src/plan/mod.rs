//! Planning: what to read and which filters PostgreSQL evaluates. Depends on `pg`, never on
//! `flight`. A [`command::Command`] becomes, through [`planner::Planner`], one
//! [`read_plan::ReadPlan`] per endpoint: the sealed ticket that DoGet executes.

pub mod changes;
pub mod changes_call;
pub mod command;
pub mod context;
pub mod cursor;
pub mod direct;
pub mod endpoints;
pub mod error;
pub mod extract;
pub mod guard;
pub mod incremental;
pub mod incremental_call;
pub mod one_relation;
pub mod params;
pub mod planner;
pub mod provider;
pub mod pushdown;
pub mod query;
pub mod read_plan;
pub mod relations;
pub mod request;
pub mod scan_plan;
pub mod single;

pub use error::PlanError;

//! pgflight: an Apache Arrow Flight SQL server in front of PostgreSQL.
//!
//! Rooms (see DESIGN.md): `flight` → `plan` → `pg`, one way; `config` and `telemetry` are leaves
//! used by all. `server` wires them together behind one listening port; `check` is the
//! `pgflight check` command, `demo` the `pgflight demo` command.
#![warn(missing_docs)]

pub mod check;
pub mod config;
pub mod demo;
pub mod flight;
pub mod pg;
pub mod plan;
pub mod server;
pub mod telemetry;

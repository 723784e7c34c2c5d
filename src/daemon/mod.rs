//! The daemon: configuration, wiring of the layers, signals, logging and the admin socket.

pub mod admin;
pub mod alarm;
pub mod cases;
pub mod config;
pub mod control;
pub mod heap;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod persist;
pub mod plans;
pub mod run;
pub mod users;

pub use config::Config;
pub use run::{run, DaemonError};

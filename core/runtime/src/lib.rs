//! The syslane agent: listeners, plugin host, pipeline, journal and shipper.
//!
//! The path of a message, one module per box:
//! [`listen`] (UDP/TCP sockets, framing) → [`pipeline`] (decoder and filter plugins,
//! serialization) → [`journal`] (accepted records, bounded) → [`ship`] (batches to
//! the output plugin, retries, dead letters). [`plugin_host`] loads and checks every
//! plugin, built-in or third-party, through the same C ABI. [`config`] reads the
//! TOML file and [`cli`] is the command line.
//!
//! Unsafe code lives only in `plugin_host` and the ABI callbacks of `pipeline`,
//! each block with its `SAFETY:` argument.

#![deny(unsafe_code)]

pub mod agent;
pub mod cli;
pub mod config;
pub mod health;
pub mod journal;
pub mod listen;
pub mod metrics;
pub mod metrics_http;
pub mod pipeline;
pub mod plugin_host;
pub mod service;
pub mod ship;
pub mod state_dir;
pub mod system;

/// The agent's version, as `syslane --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

//! The syslane agent: listeners, plugin host, pipeline, journal and shipper.
//!
//! The path of a message, one module per box:
//! [`listen`] (UDP/TCP/unix sockets, framing) → [`pipeline`] (decoder and filter
//! plugins, serialization) → [`journal`] (accepted records, bounded) → [`ship`]
//! (batches to the output plugin, retries, dead letters). [`plugin_host`] loads and
//! checks every plugin, built-in or third-party, through the same C ABI. [`agent`]
//! starts, reloads and drains these stages; [`config`] reads the TOML file (and
//! [`config::diff`] decides what a reload changes); [`metrics`] holds every
//! counter and gauge and serves them; [`cli`] is the command line.
//!
//! Unsafe code lives only in `plugin_host` (loading libraries, the typed instance
//! calls and the `extern "C"` callbacks plugins call back into), each block with
//! its `SAFETY:` argument.
//!
//! # Threads and queues
//!
//! ```text
//! listener runtime (tokio, 1 thread "listener"): one task per socket and per
//!   connection; signals, the counters socket, /metrics, the watchdog's pets
//!     │ FrameBatch: bounded crossbeam queue per worker (queue_batches / workers,
//!     │ at least 4); a connection sticks to one worker (round robin)
//!     v
//! worker-0 .. worker-N (threads): decoder → filters → serialize → journal append
//!     │ append blocks while the journal is full (when_full = "block") or, for TCP
//!     │ batches, while its writes fail; RELP batches carry an ack channel
//!     │ answered once the records are durable
//!     v
//! journal (files): "journal-commit" (fsync = "batch": syncs, then shows entries
//!   to the reader) or "journal-sync" (an interval) thread; "journal-recovery"
//!   probes a failing disk
//!     │ the shipper reads what is synced, in order
//!     v
//! shipper (thread): gathers batches, calls the output (which may run threads of
//!   its own: the azure output sends requests in parallel), acknowledges
//! ```
//!
//! Back-pressure runs up the same way: a journal that cannot take appends
//! blocks the workers, their queues fill, and the listeners stop reading: TCP,
//! RELP and unix stream senders wait in their own queues, UDP and unix datagrams
//! beyond the socket buffer are dropped and counted. A reload swaps every stage
//! behind the listener runtime while the senders wait ([`agent`]).

#![deny(unsafe_code)]
#![deny(unreachable_pub)]

mod agent;
mod cli;
mod columns;
mod config;
mod health;
mod journal;
mod listen;
mod metrics;
mod pipeline;
mod plugin_host;
mod service;
mod ship;
mod state_dir;
mod state_format;
mod system;
mod table;
pub mod testing;

/// The command line: `syslane run`, `check-config` and the rest; the process's
/// exit code.
pub fn main() -> std::process::ExitCode {
    cli::main()
}

/// The agent's version, as `syslane --version` prints it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

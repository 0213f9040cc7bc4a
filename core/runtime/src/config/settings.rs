//! Settings in groups that compare whole: what a reload changed is decided by
//! comparing groups ([`super::diff`]), so a setting added to a group is never
//! forgotten there.

use crate::journal::{Fsync, WhenFull};
use std::net::SocketAddr;
use std::time::Duration;

/// What the sockets are opened with: a change reopens them on reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerSettings {
    pub max_message_size: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub udp_receive_buffer: usize,
    /// `SO_RCVBUF` of TCP and RELP connections; 0 leaves it to the kernel.
    pub tcp_receive_buffer: usize,
    /// `/metrics` over HTTP (Prometheus), off when `None`.
    pub metrics_address: Option<SocketAddr>,
}

/// The journal's bound and durability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalSettings {
    pub max_bytes: u64,
    pub when_full: WhenFull,
    pub fsync: Fsync,
}

/// The stages behind the sockets: workers, their queues, the shipper's batches,
/// and how long draining and a silent stage may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipelineSettings {
    pub workers: usize,
    pub queue_batches: usize,
    /// As configured; unset, the output's preference (see [`crate::ship::batch_bytes`]).
    pub batch_max_bytes: Option<usize>,
    pub shutdown_timeout: Duration,
    /// A pipeline stage silent this long is wedged: the watchdog stops being petted.
    pub stall_timeout: Duration,
}

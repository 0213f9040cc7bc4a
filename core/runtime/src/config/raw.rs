//! The configuration as TOML gives it, before it is checked.

use serde::Deserialize;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub state_dir: PathBuf,
    pub plugin_dir: PathBuf,
    pub hostname: Option<String>,
    pub workers: Option<usize>,
    #[serde(default = "defaults::max_message_size")]
    pub max_message_size: usize,
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    #[serde(default = "defaults::idle_timeout_secs")]
    pub idle_timeout_secs: u64,
    #[serde(default = "defaults::shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
    #[serde(default = "defaults::stall_timeout_secs")]
    pub stall_timeout_secs: u64,
    /// Unset: what the output asks for (ABI 1.2), else 1 MiB.
    #[serde(default)]
    pub batch_max_bytes: Option<usize>,
    #[serde(default = "defaults::queue_batches")]
    pub queue_batches: usize,
    #[serde(default = "defaults::udp_receive_buffer")]
    pub udp_receive_buffer: usize,
    /// 0: the kernel sizes the buffer itself (autotuning).
    #[serde(default)]
    pub tcp_receive_buffer: usize,
    #[serde(default = "defaults::journal_max_bytes")]
    pub journal_max_bytes: u64,
    #[serde(default = "defaults::when_full")]
    pub when_full: String,
    #[serde(default = "defaults::fsync")]
    pub fsync: String,
    pub metrics_address: Option<String>,
    #[serde(default)]
    pub listen: Vec<RawListen>,
    #[serde(default)]
    pub filter: Vec<RawPlugin>,
    pub output: Option<RawPlugin>,
}

pub(in crate::config) mod defaults {
    pub(in crate::config) fn max_message_size() -> usize {
        64 * 1024
    }
    pub(in crate::config) fn max_connections() -> usize {
        1024
    }
    pub(in crate::config) fn idle_timeout_secs() -> u64 {
        300
    }
    pub(in crate::config) fn shutdown_timeout_secs() -> u64 {
        30
    }
    pub(in crate::config) fn stall_timeout_secs() -> u64 {
        120
    }
    pub(in crate::config) fn queue_batches() -> usize {
        64
    }
    pub(in crate::config) fn udp_receive_buffer() -> usize {
        8 * 1024 * 1024
    }
    pub(in crate::config) fn journal_max_bytes() -> u64 {
        1 << 30
    }
    pub(in crate::config) fn when_full() -> String {
        "block".into()
    }
    pub(in crate::config) fn fsync() -> String {
        "batch".into()
    }
}

#[derive(Deserialize)]
pub(super) struct RawListen {
    pub address: Option<String>,
    pub input: Option<String>,
    pub socket_mode: Option<toml::Value>,
    pub socket_group: Option<String>,
    #[serde(flatten)]
    pub options: toml::Table,
}

#[derive(Deserialize)]
pub(super) struct RawPlugin {
    pub plugin: Option<String>,
    #[serde(flatten)]
    pub options: toml::Table,
}

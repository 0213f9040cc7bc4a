//! The `syslog` decoder plugin: RFC 5424 and RFC 3164 messages into Syslog-table
//! records. The decoding lives in `syslane-syslog-decoder`, shared with `cef`.

#![forbid(unsafe_code)]

use syslane_plugin_sdk::{export_plugin, Decoder, Emitter, Frame, FrameDecoder, Host};
pub use syslane_syslog_decoder::{Clock, SyslogDecoder};

/// The plugin: a [`SyslogDecoder`] behind the decoder ABI.
pub struct SyslogPlugin(SyslogDecoder);

impl Decoder for SyslogPlugin {
    fn create(_host: Host, config: &str) -> Result<Self, String> {
        SyslogDecoder::from_config(config).map(SyslogPlugin)
    }

    fn decode(&mut self, frames: &[Frame<'_>], out: &mut Emitter<'_>) {
        self.0.decode_frames(frames, out);
    }
}

export_plugin!(
    input,
    SyslogPlugin,
    "syslog",
    "RFC 5424 and RFC 3164 syslog into Syslog-table records"
);

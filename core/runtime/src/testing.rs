//! The agent's parts that tests and fuzz targets outside this crate drive, and
//! nothing else: every other module is private to the crate.

use crate::listen::FrameBatch;
use crate::pipeline::batch::RecordBatch;
use crate::pipeline::decode::{decode, DecodeScratch, ThisHost};
use crate::pipeline::serialize::Serializer;
use crate::plugin_host::{CallOutcome, DecoderInstance, HostInfo, PluginHost};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use syslane_abi::{SL_KIND_INPUT, SL_TRANSPORT_TCP};

/// Reads a configuration file's text as `syslane run` does (without touching the
/// disk beyond what the text names); the error is the one the agent prints.
pub fn parse_config(text: &str) -> Result<(), String> {
    crate::config::Config::parse(text, Path::new("fuzz.toml"), Path::new("/"))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// One received frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub data: &'a [u8],
    pub peer: IpAddr,
    pub receive_time_ns: i64,
}

/// Runs frames, as one TCP batch, through a decoder plugin loaded from
/// `plugin_dir` and the host's record policy, and returns each record as the
/// output receives it (one JSON object per record, in order). This host is named
/// `host_name` at 127.0.0.1.
pub fn decode_to_json(
    plugin_dir: &Path,
    plugin: &str,
    config_json: &str,
    host_name: &str,
    frames: &[Frame<'_>],
) -> Result<Vec<Vec<u8>>, String> {
    let host = PluginHost::new(plugin_dir).map_err(|e| e.to_string())?;
    let loaded = host
        .load(plugin, SL_KIND_INPUT)
        .map_err(|e| e.to_string())?;
    let info = Arc::new(HostInfo {
        host_name: host_name.into(),
        config_dir: ".".into(),
        state_dir: ".".into(),
    });
    let mut decoder =
        DecoderInstance::create(loaded, config_json, info).map_err(|e| e.to_string())?;
    let mut batch = FrameBatch::new(0, SL_TRANSPORT_TCP, 0);
    for f in frames {
        batch.push(f.data, 0, f.peer, f.receive_time_ns);
    }
    let this = ThisHost {
        name: host_name.into(),
        ip: "127.0.0.1".into(),
    };
    let mut records = RecordBatch::default();
    let report = decode(
        &mut decoder,
        &batch,
        &mut records,
        &mut DecodeScratch::default(),
        &this,
    );
    match report.outcome {
        CallOutcome::Done => {}
        other => return Err(format!("the decoder's call failed: {other}")),
    }
    let mut ser = Serializer::new(host_name);
    Ok(records
        .recs
        .iter()
        .map(|r| {
            let mut out = Vec::new();
            ser.write_record(&records, r, &mut out);
            out
        })
        .collect())
}

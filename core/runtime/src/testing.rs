//! The agent's parts that tests and fuzz targets outside this crate drive, and
//! nothing else: every other module is private to the crate.

use crate::agent::components::Components;
use crate::config::Config;
use crate::listen::FrameBatch;
use crate::metrics::Metrics;
use crate::pipeline::batch::RecordBatch;
use crate::pipeline::decode::{decode, DecodeScratch, ThisHost};
use crate::pipeline::serialize::Serializer;
use crate::plugin_host::CallOutcome;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use syslane_abi::SL_TRANSPORT_TCP;

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
///
/// The decoder is created as the agent creates its own: from a configuration
/// with one listener of `plugin` (and, since every configuration has one, the
/// built-in `file` output, which writes nothing here), by the same code.
pub fn decode_to_json(
    plugin_dir: &Path,
    plugin: &str,
    config_json: &str,
    host_name: &str,
    frames: &[Frame<'_>],
) -> Result<Vec<Vec<u8>>, String> {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let text = format!(
        "state_dir = \".\"\nplugin_dir = {}\nhostname = {}\nworkers = 1\n\
         [[listen]]\naddress = \"tcp://127.0.0.1:0\"\ninput = {}\n\
         [output]\nplugin = \"file\"\npath = \"/dev/null\"\n",
        quoted(&plugin_dir.display().to_string()),
        quoted(host_name),
        quoted(plugin)
    );
    let mut config = Config::parse(&text, Path::new("testing.toml"), Path::new("."))
        .map_err(|e| e.to_string())?;
    for l in &mut config.listen {
        l.options_json = config_json.to_string();
    }
    let prepared = Components::instantiate(&config, &Arc::new(Metrics::default()))?;
    let mut decoder = prepared
        .workers
        .into_iter()
        .next()
        .and_then(|w| w.decoders.into_iter().next())
        .ok_or("the configuration has no decoder")?;
    let mut batch = FrameBatch::new(0, SL_TRANSPORT_TCP, 0);
    for f in frames {
        batch.push(f.data, 0, f.peer, f.receive_time_ns);
    }
    let this = ThisHost {
        ip: "127.0.0.1".into(),
        ..prepared.this_host
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

//! Loading the configured plugins and creating their instances, shared by `run`
//! and `check-config` so both refuse exactly the same things.

use crate::config::{Config, Section};
use crate::pipeline::decode::ThisHost;
use crate::plugin_host::{
    DeadLetterSink, DecoderInstance, FilterInstance, HostInfo, LoadedPlugin, OutputInstance,
    PluginError, PluginHost,
};
use crate::system;
use std::sync::Arc;
use syslane_abi::{SL_KIND_FILTER, SL_KIND_INPUT, SL_KIND_OUTPUT};

/// The checked libraries a configuration uses.
pub(crate) struct Components {
    pub info: Arc<HostInfo>,
    pub this_host: ThisHost,
    pub decoders: Vec<&'static LoadedPlugin>,
    pub filters: Vec<&'static LoadedPlugin>,
    pub output: &'static LoadedPlugin,
}

/// A plugin's error, placed in the section (and the file and line) it came from.
fn at(config: &Config, section: Section, plugin: &str, e: PluginError) -> String {
    match e {
        PluginError::Create { message, .. } => config.plugin_error(section, plugin, &message),
        other => config.section_error(section, plugin, &other.to_string()),
    }
}

impl Components {
    pub(crate) fn load(config: &Config) -> Result<Components, String> {
        let host = PluginHost::new(&config.plugin_dir)
            .map_err(|e| config.key_error("plugin_dir", &e.to_string()))?;
        let decoders = config
            .listen
            .iter()
            .map(|l| {
                host.load(&l.input, SL_KIND_INPUT)
                    .map_err(|e| at(config, l.section, &l.input, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let filters = config
            .filters
            .iter()
            .map(|f| {
                host.load(&f.plugin, SL_KIND_FILTER)
                    .map_err(|e| at(config, f.section, &f.plugin, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let o = &config.output;
        let output = host
            .load(&o.plugin, SL_KIND_OUTPUT)
            .map_err(|e| at(config, o.section, &o.plugin, e))?;
        let host_name = config.hostname.clone().unwrap_or_else(system::host_name);
        let this_host = ThisHost {
            ip: system::host_ip(&host_name).to_string(),
            name: host_name.clone(),
        };
        let info = Arc::new(HostInfo {
            host_name,
            config_dir: config.config_dir.display().to_string(),
            state_dir: config.state_dir.display().to_string(),
        });
        Ok(Components {
            info,
            this_host,
            decoders,
            filters,
            output,
        })
    }

    /// One decoder per listener, in listener order.
    pub(crate) fn decoders(&self, config: &Config) -> Result<Vec<DecoderInstance>, String> {
        config
            .listen
            .iter()
            .zip(&self.decoders)
            .map(|(l, p)| {
                DecoderInstance::create(p, &l.options_json, Arc::clone(&self.info))
                    .map_err(|e| at(config, l.section, &l.input, e))
            })
            .collect()
    }

    /// The filter chain, in config order.
    pub(crate) fn filters(&self, config: &Config) -> Result<Vec<FilterInstance>, String> {
        config
            .filters
            .iter()
            .zip(&self.filters)
            .map(|(r, p)| {
                FilterInstance::create(p, &r.options_json, Arc::clone(&self.info))
                    .map_err(|e| at(config, r.section, &r.plugin, e))
            })
            .collect()
    }

    /// The output; records it refuses for good within a batch go to `dead_letters`.
    pub(crate) fn output(
        &self,
        config: &Config,
        dead_letters: Option<DeadLetterSink>,
    ) -> Result<OutputInstance, String> {
        let r = &config.output;
        OutputInstance::create(
            self.output,
            &r.options_json,
            Arc::clone(&self.info),
            dead_letters,
        )
        .map_err(|e| at(config, r.section, &r.plugin, e))
    }
}

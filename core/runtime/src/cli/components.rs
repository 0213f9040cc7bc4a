//! Loading the configured plugins and creating their instances, shared by `run`
//! and `check-config` so both refuse exactly the same things.

use crate::config::{Config, PluginRef};
use crate::plugin_host::{DeadLetterSink, HostInfo, LoadedPlugin, PluginHost, PluginInstance};
use crate::system;
use std::sync::Arc;
use syslane_abi::{SL_KIND_FILTER, SL_KIND_INPUT, SL_KIND_OUTPUT};

/// The checked libraries a configuration uses.
pub struct Components {
    pub info: Arc<HostInfo>,
    pub local_ip: String,
    pub decoders: Vec<&'static LoadedPlugin>,
    pub filters: Vec<&'static LoadedPlugin>,
    pub output: &'static LoadedPlugin,
}

/// A plugin's own complaint about its section, naming the file the section is in.
fn in_section(origin: &str, key: &str, plugin: &str, e: impl std::fmt::Display) -> String {
    format!("{origin}: {key} ({plugin}): {e}")
}

impl Components {
    pub fn load(config: &Config) -> Result<Components, String> {
        let host = PluginHost::new(&config.plugin_dir)
            .map_err(|e| format!("{}: plugin_dir: {e}", config.file.display()))?;
        let decoders = config
            .listen
            .iter()
            .enumerate()
            .map(|(i, l)| {
                host.load(&l.input, SL_KIND_INPUT)
                    .map_err(|e| in_section(&l.origin, &format!("listen[{i}].input"), &l.input, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let filters = config
            .filters
            .iter()
            .map(|f| {
                host.load(&f.plugin, SL_KIND_FILTER)
                    .map_err(|e| in_section(&f.origin, &f.key, &f.plugin, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let o = &config.output;
        let output = host
            .load(&o.plugin, SL_KIND_OUTPUT)
            .map_err(|e| in_section(&o.origin, &o.key, &o.plugin, e))?;
        let host_name = config.hostname.clone().unwrap_or_else(system::host_name);
        let local_ip = system::host_ip(&host_name).to_string();
        let info = Arc::new(HostInfo {
            host_name,
            config_dir: config.config_dir.display().to_string(),
            state_dir: config.state_dir.display().to_string(),
        });
        Ok(Components {
            info,
            local_ip,
            decoders,
            filters,
            output,
        })
    }

    fn create(
        &self,
        plugin: &'static LoadedPlugin,
        r: &PluginRef,
    ) -> Result<PluginInstance, String> {
        PluginInstance::create(plugin, &r.options_json, Arc::clone(&self.info))
            .map_err(|e| in_section(&r.origin, &r.key, &r.plugin, e))
    }

    /// One decoder per listener, in listener order.
    pub fn decoders(&self, config: &Config) -> Result<Vec<PluginInstance>, String> {
        config
            .listen
            .iter()
            .zip(&self.decoders)
            .enumerate()
            .map(|(i, (l, p))| {
                PluginInstance::create(p, &l.options_json, Arc::clone(&self.info))
                    .map_err(|e| in_section(&l.origin, &format!("listen[{i}]"), &l.input, e))
            })
            .collect()
    }

    /// The filter chain, in config order.
    pub fn filters(&self, config: &Config) -> Result<Vec<PluginInstance>, String> {
        config
            .filters
            .iter()
            .zip(&self.filters)
            .map(|(r, p)| self.create(p, r))
            .collect()
    }

    /// The output; records it refuses for good within a batch go to `dead_letters`.
    pub fn output(
        &self,
        config: &Config,
        dead_letters: Option<DeadLetterSink>,
    ) -> Result<PluginInstance, String> {
        let r = &config.output;
        PluginInstance::create_with(
            self.output,
            &r.options_json,
            Arc::clone(&self.info),
            dead_letters,
        )
        .map_err(|e| in_section(&r.origin, &r.key, &r.plugin, e))
    }
}

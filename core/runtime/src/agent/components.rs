//! Loading the configured plugins and creating every instance a configuration
//! needs, once. `run` (start-up and SIGHUP), `check-config`, `dead-letter
//! replay` and [`crate::testing`] all go through [`Components::instantiate`], so
//! they refuse exactly the same things, and a reload creates each instance once:
//! the [`Prepared`] instances that passed the checks are the ones that run.

use crate::config::{Config, Section};
use crate::metrics::Metrics;
use crate::pipeline::decode::ThisHost;
use crate::plugin_host::{
    DecoderInstance, FilterInstance, HostInfo, LoadedPlugin, OutputInstance, PluginError,
    PluginHost,
};
use crate::ship::DeadLetters;
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

/// One worker's plugin instances.
pub(crate) struct WorkerPlugins {
    /// One decoder per `[[listen]]`, in listener order.
    pub decoders: Vec<DecoderInstance>,
    /// The filter chain, in config order.
    pub filters: Vec<FilterInstance>,
}

/// Every instance a configuration runs, created and checked before any thread
/// starts or the journal opens: starting a pipeline from it only opens the
/// journal and spawns threads.
pub(crate) struct Prepared {
    /// The output; records it refuses for good within a batch go to `dead_letters`.
    pub output: OutputInstance,
    /// `state_dir/dead-letter`; nothing is created there before the first letter.
    pub dead_letters: DeadLetters,
    /// One set per worker (`[pipeline] workers`), in worker order.
    pub workers: Vec<WorkerPlugins>,
    /// This host, for records from local senders.
    pub this_host: ThisHost,
    /// This host's name, as the serializer writes it.
    pub host_name: String,
}

/// A plugin's error, placed in the section (and the file and line) it came from.
fn at(config: &Config, section: Section, plugin: &str, e: PluginError) -> String {
    match e {
        PluginError::Create { message, .. } => config.plugin_error(section, plugin, &message),
        other => config.section_error(section, plugin, &other.to_string()),
    }
}

impl Components {
    /// Loads and checks every plugin `config` names and creates all its
    /// instances: per worker its decoders and filters, and the output with its
    /// dead-letter sink (which counts in `metrics`). The first error, placed in
    /// its section, file and line, is the one `check-config` prints.
    pub(crate) fn instantiate(config: &Config, metrics: &Arc<Metrics>) -> Result<Prepared, String> {
        let components = Components::load(config)?;
        let workers = (0..config.pipeline.workers)
            .map(|_| {
                Ok(WorkerPlugins {
                    decoders: components.decoders(config)?,
                    filters: components.filters(config)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let dead_letters = DeadLetters::new(config.state_dir.join("dead-letter"));
        let output = components.output(config, &dead_letters, metrics)?;
        Ok(Prepared {
            output,
            dead_letters,
            workers,
            host_name: components.info.host_name.clone(),
            this_host: components.this_host,
        })
    }

    fn load(config: &Config) -> Result<Components, String> {
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
    fn decoders(&self, config: &Config) -> Result<Vec<DecoderInstance>, String> {
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
    fn filters(&self, config: &Config) -> Result<Vec<FilterInstance>, String> {
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
    fn output(
        &self,
        config: &Config,
        dead_letters: &DeadLetters,
        metrics: &Arc<Metrics>,
    ) -> Result<OutputInstance, String> {
        let r = &config.output;
        OutputInstance::create(
            self.output,
            &r.options_json,
            Arc::clone(&self.info),
            Some(dead_letters.sink(Arc::clone(metrics))),
        )
        .map_err(|e| at(config, r.section, &r.plugin, e))
    }
}

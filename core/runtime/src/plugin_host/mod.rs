//! Loads plugins from `plugin_dir` and checks them before any call.
//!
//! Built-in plugins take exactly this path too. A library is loaded once and never
//! unloaded (its code may still be referenced by instances and their threads).
//! Refused, with the file and both versions named: a missing or foreign descriptor,
//! another ABI major, a newer minor, a struct smaller than this ABI's, a kind other
//! than the configuration expects, and files or directories others could write.
//!
//! An instance is created only from a loaded plugin of its kind, as a
//! [`DecoderInstance`], [`FilterInstance`] or [`OutputInstance`] with safe calls;
//! the `extern "C"` callbacks plugins call back into stay in this module.

#![allow(unsafe_code)]

mod calls;
mod instance;
mod output;

pub(crate) use calls::{
    CallOutcome, Columns, DecoderInstance, Edit, Emitted, FilterInstance, FrameIn, FrameViews,
    RecordViews,
};
#[cfg(test)]
pub(crate) use instance::created;
pub(crate) use instance::{DeadLetter, DeadLetterSink, HostInfo};
pub(crate) use output::{OutputInstance, OutputPreferences, SendOutcome};

use libloading::Library;
use std::collections::HashMap;
use std::ffi::{c_void, CStr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use syslane_abi::*;

/// Why a plugin could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PluginError {
    #[error("plugin `{name}` not found in {dir}: looked for {tried}; build it into that directory or fix the name")]
    NotFound {
        name: String,
        dir: String,
        tried: String,
    },
    #[error("{path}: cannot be loaded: {reason}")]
    Load { path: String, reason: String },
    #[error("{path}: {reason}")]
    Refused { path: String, reason: String },
    #[error("{path}: built for syslane plugin ABI {plugin_major}.{plugin_minor}, but this agent speaks ABI {host_major}.{host_minor}; {advice}")]
    AbiMismatch {
        path: String,
        plugin_major: u16,
        plugin_minor: u16,
        host_major: u16,
        host_minor: u16,
        advice: &'static str,
    },
    #[error(
        "{path}: plugin `{name}` is {actual} plugin, but the configuration uses it as {expected}"
    )]
    WrongKind {
        path: String,
        name: String,
        actual: String,
        expected: String,
    },
    #[error("plugin `{name}` ({path}): {message}")]
    Create {
        name: String,
        path: String,
        message: String,
    },
}

/// A checked plugin library.
#[derive(Debug)]
pub(crate) struct LoadedPlugin {
    pub path: PathBuf,
    pub name: String,
    pub version: String,
    pub kind: SlKind,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub(crate) vtable: *const c_void,
}

// SAFETY: a loaded plugin is immutable static data of a library that is never
// unloaded; its vtable pointer refers to such data.
unsafe impl Send for LoadedPlugin {}
// SAFETY: as above.
unsafe impl Sync for LoadedPlugin {}

/// The name of a kind, for messages.
pub(crate) fn kind_name(kind: SlKind) -> &'static str {
    match kind {
        SL_KIND_INPUT => "input (decoder)",
        SL_KIND_FILTER => "filter",
        SL_KIND_OUTPUT => "output",
        _ => "unknown-kind",
    }
}

/// The name of a kind with its article: "an input (decoder)", "a filter".
pub(crate) fn with_article(kind: SlKind) -> String {
    let name = kind_name(kind);
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// The descriptor's fixed first fields, read before trusting anything else.
#[repr(C)]
struct DescriptorPrefix {
    magic: u32,
    abi_major: u16,
    abi_minor: u16,
    struct_size: u32,
}

/// File names a plugin called `name` may have.
pub(crate) fn candidate_files(name: &str) -> Vec<String> {
    let snake = name.replace('-', "_");
    vec![
        format!("libsyslane_plugin_{snake}.so"),
        format!("lib{snake}.so"),
        format!("{name}.so"),
    ]
}

/// Refuses a path that others could change (group/world-writable, or owned by
/// someone other than root or the agent's user).
fn check_ownership(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot stat: {e}"))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!(
            "is group- or world-writable (mode {mode:04o}); anyone in that group could run code as the agent. Fix: chmod go-w {}",
            path.display()
        ));
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != 0 && meta.uid() != euid {
        return Err(format!(
            "is owned by uid {}, neither root nor the agent's user (uid {euid}). Fix: chown root {}",
            meta.uid(),
            path.display()
        ));
    }
    Ok(())
}

/// Loads and checks plugins from one directory; each library at most once.
pub(crate) struct PluginHost {
    dir: PathBuf,
    loaded: Mutex<HashMap<PathBuf, &'static LoadedPlugin>>,
}

impl PluginHost {
    pub(crate) fn new(dir: &Path) -> Result<PluginHost, PluginError> {
        let dir = std::fs::canonicalize(dir).map_err(|e| PluginError::Refused {
            path: dir.display().to_string(),
            reason: format!("plugin_dir cannot be opened: {e}"),
        })?;
        check_ownership(&dir).map_err(|reason| PluginError::Refused {
            path: dir.display().to_string(),
            reason: format!("plugin_dir {reason}"),
        })?;
        Ok(PluginHost {
            dir,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// Finds, loads and checks plugin `name` of the expected kind.
    pub(crate) fn load(
        &self,
        name: &str,
        expected: SlKind,
    ) -> Result<&'static LoadedPlugin, PluginError> {
        let candidates = candidate_files(name);
        let path = candidates
            .iter()
            .map(|f| self.dir.join(f))
            .find(|p| p.is_file())
            .ok_or_else(|| PluginError::NotFound {
                name: name.to_string(),
                dir: self.dir.display().to_string(),
                tried: candidates.join(", "),
            })?;
        let plugin = self.load_file(&path)?;
        if plugin.name != name {
            return Err(PluginError::Refused {
                path: path.display().to_string(),
                reason: format!("the file declares plugin `{}`, not `{name}`", plugin.name),
            });
        }
        if plugin.kind != expected {
            return Err(PluginError::WrongKind {
                path: path.display().to_string(),
                name: name.to_string(),
                actual: with_article(plugin.kind),
                expected: with_article(expected),
            });
        }
        Ok(plugin)
    }

    /// Every `*.so` in the directory, loaded and checked (for `syslane plugins`).
    pub(crate) fn discover(&self) -> Vec<Result<&'static LoadedPlugin, PluginError>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "so") && p.is_file())
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files.iter().map(|p| self.load_file(p)).collect()
    }

    /// Loads one library file and checks its descriptor.
    pub(crate) fn load_file(&self, path: &Path) -> Result<&'static LoadedPlugin, PluginError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = loaded.get(path) {
            return Ok(p);
        }
        let shown = path.display().to_string();
        check_ownership(path).map_err(|reason| PluginError::Refused {
            path: shown.clone(),
            reason,
        })?;
        // SAFETY: loading a library runs its initialisers. The directory and file were
        // checked to be writable only by root or the agent's user, the trust boundary
        // the operator chose by configuring plugin_dir.
        let library = unsafe { Library::new(path) }.map_err(|e| PluginError::Load {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        // Never unloaded: instances and their threads may run the library's code.
        let library: &'static Library = Box::leak(Box::new(library));
        let plugin = read_descriptor(library, &shown)?;
        let plugin: &'static LoadedPlugin = Box::leak(Box::new(plugin));
        loaded.insert(path.to_path_buf(), plugin);
        Ok(plugin)
    }
}

fn c_text(ptr: *const std::ffi::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: descriptors point to NUL-terminated static strings (checked non-null).
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

fn read_descriptor(library: &'static Library, path: &str) -> Result<LoadedPlugin, PluginError> {
    let refused = |reason: String| PluginError::Refused {
        path: path.to_string(),
        reason,
    };
    // SAFETY: the symbol's type is the ABI's SlDescriptorFn; a library that exports
    // the name with another type is outside the contract the file name promises.
    let describe = unsafe { library.get::<SlDescriptorFn>(SL_DESCRIPTOR_SYMBOL.as_bytes()) }
        .map_err(|_| {
            refused(format!(
                "not a syslane plugin: it does not export `{SL_DESCRIPTOR_SYMBOL}`"
            ))
        })?;
    // SAFETY: calling the plugin's descriptor function, which takes no arguments.
    let ptr = unsafe { describe() };
    if ptr.is_null() {
        return Err(refused("the descriptor function returned NULL".into()));
    }
    // SAFETY: every descriptor starts with this prefix; it is read before the rest.
    let prefix = unsafe { std::ptr::read(ptr.cast::<DescriptorPrefix>()) };
    if prefix.magic != SL_MAGIC {
        return Err(refused(format!(
            "descriptor magic is {:#010x}, not {SL_MAGIC:#010x}: not a syslane plugin, or a corrupt one",
            prefix.magic
        )));
    }
    if prefix.abi_major != SL_ABI_MAJOR || prefix.abi_minor > SL_ABI_MINOR {
        return Err(PluginError::AbiMismatch {
            path: path.to_string(),
            plugin_major: prefix.abi_major,
            plugin_minor: prefix.abi_minor,
            host_major: SL_ABI_MAJOR,
            host_minor: SL_ABI_MINOR,
            advice: if prefix.abi_major != SL_ABI_MAJOR {
                "rebuild the plugin against the syslane_plugin.h (or syslane-plugin-sdk) of this agent's version"
            } else {
                "upgrade the agent, or rebuild the plugin against this agent's syslane_plugin.h"
            },
        });
    }
    if prefix.struct_size < min_size::DESCRIPTOR {
        return Err(refused(format!(
            "descriptor struct_size is {} bytes, smaller than the {} of ABI {SL_ABI_MAJOR}.0",
            prefix.struct_size,
            min_size::DESCRIPTOR
        )));
    }
    // SAFETY: the magic, versions and size were checked; the struct is at least as
    // large as the one read here.
    let d = unsafe { &*ptr };
    let vtable_min = match d.kind {
        SL_KIND_INPUT => min_size::INPUT_VTABLE,
        SL_KIND_FILTER => min_size::FILTER_VTABLE,
        SL_KIND_OUTPUT => min_size::OUTPUT_VTABLE,
        other => return Err(refused(format!("unknown plugin kind {other}"))),
    };
    if d.vtable.is_null() {
        return Err(refused("the descriptor has no vtable".into()));
    }
    // SAFETY: every vtable starts with its struct_size (u32).
    let vtable_size = unsafe { std::ptr::read(d.vtable.cast::<u32>()) };
    if vtable_size < vtable_min {
        return Err(refused(format!(
            "{} vtable is {vtable_size} bytes, smaller than the {vtable_min} of ABI {SL_ABI_MAJOR}.0",
            kind_name(d.kind)
        )));
    }
    let name = c_text(d.name);
    if name.is_empty() {
        return Err(refused("the descriptor has no name".into()));
    }
    Ok(LoadedPlugin {
        path: PathBuf::from(path),
        name,
        version: c_text(d.version),
        kind: d.kind,
        abi_major: prefix.abi_major,
        abi_minor: prefix.abi_minor,
        vtable: d.vtable,
    })
}

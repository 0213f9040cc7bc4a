//! `conf.d/*.toml` beside the configuration file, merged on top of it in name
//! order, so a package (a custom plugin, say) can add its own `[[filter]]` without
//! editing the main file.
//!
//! Merging: tables merge key by key; arrays of tables (`[[listen]]`, `[[filter]]`)
//! are appended to; any other value replaces the one before it.

use super::ConfigError;
use std::path::{Path, PathBuf};

/// The drop-in files for a configuration in `dir`, in name order.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let conf_d = dir.join("conf.d");
    let entries = match std::fs::read_dir(&conf_d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(ConfigError {
                file: conf_d.display().to_string(),
                line: None,
                key: String::new(),
                message: format!("cannot read the drop-in directory: {e}"),
            })
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn is_table_array(v: &toml::Value) -> bool {
    matches!(v, toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table))
}

/// Merges `over` into `base` by the rules above.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (Some(toml::Value::Array(b)), toml::Value::Array(o))
                if is_table_array(&toml::Value::Array(o.clone())) =>
            {
                b.extend(o)
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_arrays_of_tables_append_values_replace() {
        let mut base: toml::Table =
            "hostname = \"a\"\n[[filter]]\nplugin = \"select\"\n[output]\nplugin = \"file\"\npath = \"x\"\n"
                .parse()
                .unwrap();
        let over: toml::Table =
            "hostname = \"b\"\n[[filter]]\nplugin = \"redact\"\n[output]\npath = \"y\"\n"
                .parse()
                .unwrap();
        merge(&mut base, over);
        assert_eq!(base["hostname"].as_str(), Some("b"));
        let filters = base["filter"].as_array().unwrap();
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[1]["plugin"].as_str(), Some("redact"));
        assert_eq!(base["output"]["plugin"].as_str(), Some("file"));
        assert_eq!(base["output"]["path"].as_str(), Some("y"));
    }
}

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
                key: "(directory)".into(),
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

/// Parses one file as a TOML table, with errors naming the file and line.
pub fn parse_table(text: &str, file: &Path) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e.span().map_or("(syntax)".to_string(), |s| {
            format!(
                "line {}",
                text[..s.start.min(text.len())].matches('\n').count() + 1
            )
        });
        ConfigError {
            file: file.display().to_string(),
            key: line,
            message: e.message().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_arrays_of_tables_append_values_replace() {
        let mut base = parse_table(
            "hostname = \"a\"\n[[filter]]\nplugin = \"select\"\n[output]\nplugin = \"file\"\npath = \"x\"\n",
            Path::new("main"),
        )
        .unwrap();
        let over = parse_table(
            "hostname = \"b\"\n[[filter]]\nplugin = \"redact\"\n[output]\npath = \"y\"\n",
            Path::new("drop-in"),
        )
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

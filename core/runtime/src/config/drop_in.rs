//! `conf.d/*.toml` beside the configuration file, merged on top of it in name
//! order, so a package (a custom plugin, say) can add its own `[[filter]]` without
//! editing the main file.
//!
//! Merging: tables merge key by key; arrays of tables (`[[listen]]`, `[[filter]]`)
//! are appended to; any other value replaces the one before it. Each section
//! remembers the file it came from, so a plugin's complaint about it names that
//! file. A `*.toml` entry that is not a regular file (a directory, a fifo, a
//! dangling symlink) is skipped with a warning rather than silently.

use super::{Config, ConfigError};
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
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| match not_a_file(p) {
            None => true,
            Some(what) => {
                tracing::warn!(file = %p.display(), "conf.d: skipping {}: it is {what}, not a regular file; remove it or make it a file", p.display());
                false
            }
        })
        .collect();
    files.sort();
    Ok(files)
}

/// What `path` is when it is not a regular file (symlinks followed).
fn not_a_file(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) if path.is_symlink() => return Some("a dangling symbolic link"),
        Err(_) => return Some("unreadable"),
    };
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a fifo")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("a device")
    }
}

/// Which file each `[[listen]]`, each `[[filter]]` and the `[output]` came from.
#[derive(Debug)]
pub struct Origins {
    listen: Vec<String>,
    filter: Vec<String>,
    output: Vec<String>,
}

fn entries(table: &toml::Table, key: &str) -> Option<usize> {
    match table.get(key)? {
        toml::Value::Array(a) => Some(a.len()),
        _ => Some(0),
    }
}

impl Origins {
    /// The main file's sections.
    pub fn new(main: &toml::Table, file: &Path) -> Origins {
        let mut o = Origins {
            listen: Vec::new(),
            filter: Vec::new(),
            output: Vec::new(),
        };
        o.add(main, file);
        o
    }

    /// A drop-in's sections, before it is merged (appended arrays, replaced values).
    pub fn add(&mut self, table: &toml::Table, file: &Path) {
        let name = file.display().to_string();
        for (key, list) in [("listen", &mut self.listen), ("filter", &mut self.filter)] {
            if let Some(n) = entries(table, key) {
                if !table.get(key).is_some_and(is_table_array) {
                    list.clear();
                }
                list.extend(std::iter::repeat_n(name.clone(), n));
            }
        }
        if table.contains_key("output") && !self.output.contains(&name) {
            self.output.push(name);
        }
    }

    /// Names each section of `config` after its file(s).
    pub fn apply(self, config: &mut Config) {
        for (l, origin) in config.listen.iter_mut().zip(self.listen) {
            l.origin = origin;
        }
        for (f, origin) in config.filters.iter_mut().zip(self.filter) {
            f.origin = origin;
        }
        if !self.output.is_empty() {
            config.output.origin = self.output.join(" and ");
        }
    }
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

    #[test]
    fn entries_that_are_not_files_are_skipped_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let conf_d = dir.path().join("conf.d");
        std::fs::create_dir(&conf_d).unwrap();
        std::fs::write(conf_d.join("10-good.toml"), "").unwrap();
        std::fs::create_dir(conf_d.join("20-dir.toml")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", conf_d.join("30-dangling.toml")).unwrap();
        let fifo = conf_d.join("40-fifo.toml");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        std::fs::write(conf_d.join("README"), "").unwrap();
        let got = files(dir.path()).unwrap();
        assert_eq!(got, vec![conf_d.join("10-good.toml")]);
        assert_eq!(not_a_file(&conf_d.join("20-dir.toml")), Some("a directory"));
        assert_eq!(
            not_a_file(&conf_d.join("30-dangling.toml")),
            Some("a dangling symbolic link")
        );
        assert_eq!(not_a_file(&fifo), Some("a fifo"));
    }
}

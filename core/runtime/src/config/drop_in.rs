//! `conf.d/*.toml` beside the configuration file, merged on top of it in name
//! order, so a package (a custom plugin, say) can add its own `[[filter]]` without
//! editing the main file.
//!
//! Merging: tables merge key by key; arrays of tables (`[[listen]]`, `[[filter]]`)
//! are appended to; any other value replaces the one before it. A plugin's table
//! (one with a `plugin` key, such as `[output]`) that names another plugin than
//! the table before it replaces that table whole, keys and subtables: the keys of
//! the file output (`path`, `keep`) mean nothing to the azure output and would be
//! refused there. Each section
//! remembers the file it came from, so a plugin's complaint about it names that
//! file. A `*.toml` entry that is not a regular file (a directory, a fifo, a
//! dangling symlink) is skipped with a warning rather than silently.

use super::ConfigError;
use std::path::{Path, PathBuf};

/// The drop-in files for a configuration in `dir`, in name order.
pub(super) fn files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
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

fn is_table_array(v: &toml::Value) -> bool {
    matches!(v, toml::Value::Array(a) if !a.is_empty() && a.iter().all(toml::Value::is_table))
}

/// Whether `over` is a plugin's table naming another plugin than `base`.
fn names_another_plugin(base: &toml::Table, over: &toml::Table) -> bool {
    match (base.get("plugin"), over.get("plugin")) {
        (Some(b), Some(o)) => b != o,
        _ => false,
    }
}

/// Merges `over` into `base` by the rules above.
pub(super) fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if names_another_plugin(b, &o) => {
                base.insert(key, toml::Value::Table(o));
            }
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

    #[test]
    fn a_table_naming_another_plugin_replaces_the_whole_table() {
        let mut base: toml::Table =
            "[output]\nplugin = \"file\"\npath = \"x\"\nkeep = 3\n[output.extra]\na = 1\n"
                .parse()
                .unwrap();
        let over: toml::Table =
            "[output]\nplugin = \"azure\"\nendpoint = \"https://e\"\n[output.auth]\nmethod = \"managed_identity\"\n"
                .parse()
                .unwrap();
        merge(&mut base, over);
        let output = base["output"].as_table().unwrap();
        let mut keys: Vec<&str> = output.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["auth", "endpoint", "plugin"]);
        assert_eq!(output["plugin"].as_str(), Some("azure"));
        assert_eq!(output["auth"]["method"].as_str(), Some("managed_identity"));
    }

    #[test]
    fn a_table_naming_the_same_plugin_or_none_still_merges_key_by_key() {
        for over in [
            "[output]\nplugin = \"file\"\nkeep = 9\n",
            "[output]\nkeep = 9\n",
        ] {
            let mut base: toml::Table = "[output]\nplugin = \"file\"\npath = \"x\"\n"
                .parse()
                .unwrap();
            merge(&mut base, over.parse().unwrap());
            assert_eq!(base["output"]["path"].as_str(), Some("x"), "{over}");
            assert_eq!(base["output"]["keep"].as_integer(), Some(9), "{over}");
        }
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

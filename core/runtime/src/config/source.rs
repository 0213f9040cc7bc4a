//! Where each part of a configuration came from: the main file and its
//! `conf.d/` drop-ins, so a message can name the file, the line and the section
//! that an operator has to edit, even after the drop-ins were merged.

use super::drop_in;
use super::explain::{escape, Location};
use super::ConfigError;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One file of a configuration, with its text (for line numbers).
#[derive(Debug)]
struct File {
    path: PathBuf,
    text: String,
}

/// The files of a configuration, merged, and the origin of every part.
#[derive(Debug)]
pub(super) struct Sources {
    files: Vec<File>,
    /// Top-level key, or `output.key` → (file index) of the last file that set it.
    keys: HashMap<String, usize>,
    /// Tables inside `[output]` (`output.auth`), written as `[output.auth]` or inline.
    subtables: HashSet<String>,
    /// `listen` / `filter` entry n of the merged list → (file index, entry index in that file).
    entries: HashMap<(String, usize), (usize, usize)>,
    pub merged: toml::Table,
    /// What more than one file sets, said once at load (see [`Sources::overlaps`]).
    pub overlaps: Vec<String>,
}

/// Arrays of tables in the configuration (`[[listen]]`, `[[filter]]`).
pub(super) const ARRAYS: [&str; 2] = ["listen", "filter"];
/// Tables in the configuration (`[output]`).
pub(super) const TABLES: [&str; 1] = ["output"];

fn syntax_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    ConfigError {
        file: path.display().to_string(),
        line,
        key: String::new(),
        message: format!(
            "not valid TOML: {}",
            escape(e.message().trim_end_matches('\n'))
        ),
    }
}

impl Sources {
    /// The main file's text and the drop-ins' (path, text), merged in that order.
    pub(super) fn new(
        main: (&Path, &str),
        drop_ins: &[(PathBuf, String)],
    ) -> Result<Sources, ConfigError> {
        let mut sources = Sources {
            files: Vec::new(),
            keys: HashMap::new(),
            subtables: HashSet::new(),
            entries: HashMap::new(),
            merged: toml::Table::new(),
            overlaps: Vec::new(),
        };
        // `[output]` (and the like) → the files that set it, with their keys.
        let mut tables: HashMap<String, Vec<(usize, Vec<String>)>> = HashMap::new();
        let mut top: HashMap<String, Vec<usize>> = HashMap::new();
        let all = std::iter::once((main.0.to_path_buf(), main.1.to_string()))
            .chain(drop_ins.iter().cloned());
        for (index, (path, text)) in all.enumerate() {
            let table = text
                .parse::<toml::Table>()
                .map_err(|e| syntax_error(&text, &path, &e))?;
            for (key, value) in &table {
                if ARRAYS.contains(&key.as_str()) {
                    if let toml::Value::Array(list) = value {
                        let before = match sources.merged.get(key) {
                            Some(toml::Value::Array(a)) => a.len(),
                            _ => 0,
                        };
                        for local in 0..list.len() {
                            sources
                                .entries
                                .insert((key.clone(), before + local), (index, local));
                        }
                    }
                } else if let (true, toml::Value::Table(t)) =
                    (TABLES.contains(&key.as_str()), value)
                {
                    tables
                        .entry(key.clone())
                        .or_default()
                        .push((index, t.keys().cloned().collect()));
                    for (sub, v) in t {
                        sources.keys.insert(format!("{key}.{sub}"), index);
                        if v.is_table() {
                            sources.subtables.insert(format!("{key}.{sub}"));
                        }
                    }
                    sources.keys.entry(key.clone()).or_insert(index);
                } else {
                    top.entry(key.clone()).or_default().push(index);
                    sources.keys.insert(key.clone(), index);
                }
            }
            sources.files.push(File { path, text });
            drop_in::merge(&mut sources.merged, table);
        }
        sources.overlaps = sources.overlaps(&tables, &top);
        for o in &sources.overlaps {
            tracing::warn!("{o}");
        }
        Ok(sources)
    }

    /// One sentence per table or key set by more than one file: which files set
    /// it, and which file each of its keys comes from in the end (the later file
    /// wins key by key), so an operator sees why a value is not the one written.
    fn overlaps(
        &self,
        tables: &HashMap<String, Vec<(usize, Vec<String>)>>,
        top: &HashMap<String, Vec<usize>>,
    ) -> Vec<String> {
        let name = |i: usize| {
            self.files
                .get(i)
                .map_or_else(String::new, |f| f.path.display().to_string())
        };
        let mut out = Vec::new();
        let mut names: Vec<&String> = tables.keys().collect();
        names.sort();
        for table in names {
            let setters = &tables[table];
            if setters.len() < 2 {
                continue;
            }
            let files: Vec<String> = setters.iter().map(|(i, _)| name(*i)).collect();
            let mut keys: Vec<&String> = setters.iter().flat_map(|(_, k)| k).collect();
            keys.sort();
            keys.dedup();
            let from: Vec<String> = keys
                .iter()
                .filter_map(|k| {
                    let i = self.keys.get(&format!("{table}.{k}"))?;
                    Some(format!("{k} from {}", name(*i)))
                })
                .collect();
            out.push(format!(
                "[{table}] is set in more than one file ({}); they are merged key by key, the later file winning: {}. Keep [{table}] in one file to avoid surprises",
                files.join(", "),
                from.join(", ")
            ));
        }
        let mut keys: Vec<&String> = top.keys().collect();
        keys.sort();
        for key in keys {
            let setters = &top[key];
            if let (Some(first), Some(last)) = (setters.first(), setters.last()) {
                if setters.len() > 1 {
                    out.push(format!(
                        "{key} is set in {} and again in {}; the value in {} is used",
                        name(*first),
                        name(*last),
                        name(*last)
                    ));
                }
            }
        }
        out
    }

    /// Whether `[table]` holds `name` as a key (`sub`: as a table, `[table.name]`).
    pub(super) fn has(&self, table: &str, name: &str, sub: bool) -> bool {
        let path = format!("{table}.{name}");
        if sub {
            self.subtables.contains(&path)
        } else {
            self.keys.contains_key(&path)
        }
    }

    /// The file and line of `key` in `section` (`None`: the top level).
    pub(super) fn locate(&self, section: Option<(&str, usize)>, key: Option<&str>) -> Location {
        let (file, local) = match section {
            Some((name, n)) if ARRAYS.contains(&name) => {
                match self.entries.get(&(name.to_string(), n)) {
                    Some(&(f, local)) => (f, Some((name, local))),
                    None => (0, None),
                }
            }
            Some((name, _)) => {
                let f = key
                    .and_then(|k| self.keys.get(&format!("{name}.{k}")))
                    .or_else(|| self.keys.get(name))
                    .copied()
                    .unwrap_or(0);
                (f, Some((name, 0)))
            }
            None => (
                key.and_then(|k| self.keys.get(k)).copied().unwrap_or(0),
                None,
            ),
        };
        let Some(f) = self.files.get(file) else {
            return Location::default();
        };
        Location {
            file: f.path.display().to_string(),
            line: find_line(&f.text, local, key),
        }
    }
}

/// The line of `key = ` in the given section of `text` (the `n`th `[[name]]`, or
/// `[name]`), or of the section header when `key` is `None` or not found there.
/// A plain reading of the usual layout: inline tables and dotted keys give `None`.
pub(super) fn find_line(
    text: &str,
    section: Option<(&str, usize)>,
    key: Option<&str>,
) -> Option<usize> {
    let header = |line: &str| {
        let t = line.trim_start();
        t.starts_with('[').then(|| {
            t.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
    };
    let mut in_section = section.is_none();
    let mut seen = 0usize;
    let mut header_line = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(name) = header(line) {
            in_section = match section {
                Some((s, n)) if name == s => {
                    let hit = seen == n || !line.trim_start().starts_with("[[");
                    seen += 1;
                    if hit {
                        header_line = Some(i + 1);
                    }
                    hit
                }
                _ => false,
            };
            if section.is_none() {
                break;
            }
            continue;
        }
        if !in_section {
            continue;
        }
        let Some(key) = key else { continue };
        let t = line.trim_start();
        let rest = t
            .strip_prefix(key)
            .or_else(|| t.strip_prefix(&format!("\"{key}\"")));
        if rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            return Some(i + 1);
        }
    }
    header_line
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "state_dir = \"s\"\n\n[[listen]]\naddress = \"a\"\n[[listen]]\nadress = \"b\"\n[output]\nplugin = \"file\"\npth = \"x\"\n";

    #[test]
    fn lines_of_keys_by_section() {
        assert_eq!(find_line(TEXT, None, Some("state_dir")), Some(1));
        assert_eq!(
            find_line(TEXT, Some(("listen", 1)), Some("adress")),
            Some(6)
        );
        assert_eq!(
            find_line(TEXT, Some(("listen", 0)), Some("adress")),
            Some(3)
        );
        assert_eq!(find_line(TEXT, Some(("output", 0)), Some("pth")), Some(9));
        assert_eq!(find_line(TEXT, Some(("output", 0)), None), Some(7));
        assert_eq!(find_line(TEXT, None, Some("pth")), None);
    }

    #[test]
    fn entries_of_drop_ins_keep_their_file() {
        let s = Sources::new(
            (Path::new("main.toml"), TEXT),
            &[(
                PathBuf::from("conf.d/10.toml"),
                "[[listen]]\naddress = \"c\"\n[output]\npath = \"y\"\n".into(),
            )],
        )
        .unwrap();
        let l = s.locate(Some(("listen", 2)), Some("address"));
        assert_eq!((l.file.as_str(), l.line), ("conf.d/10.toml", Some(2)));
        let l = s.locate(Some(("listen", 1)), Some("adress"));
        assert_eq!((l.file.as_str(), l.line), ("main.toml", Some(6)));
        let l = s.locate(Some(("output", 0)), Some("path"));
        assert_eq!((l.file.as_str(), l.line), ("conf.d/10.toml", Some(4)));
        let l = s.locate(Some(("output", 0)), Some("pth"));
        assert_eq!((l.file.as_str(), l.line), ("main.toml", Some(9)));
    }

    #[test]
    fn a_table_set_in_two_files_is_reported_with_where_each_key_comes_from() {
        let s = Sources::new(
            (Path::new("main.toml"), TEXT),
            &[(
                PathBuf::from("conf.d/10.toml"),
                "state_dir = \"t\"\n[output]\npath = \"y\"\n".into(),
            )],
        )
        .unwrap();
        assert_eq!(s.overlaps.len(), 2, "{:?}", s.overlaps);
        let output = &s.overlaps[0];
        assert!(
            output.contains("[output] is set in more than one file (main.toml, conf.d/10.toml)")
                && output.contains("path from conf.d/10.toml")
                && output.contains("plugin from main.toml")
                && output.contains("pth from main.toml"),
            "{output}"
        );
        assert!(
            s.overlaps[1].contains("state_dir is set in main.toml and again in conf.d/10.toml"),
            "{:?}",
            s.overlaps
        );
        let alone = Sources::new((Path::new("main.toml"), TEXT), &[]).unwrap();
        assert!(alone.overlaps.is_empty());
    }

    #[test]
    fn tables_inside_output_are_found() {
        let s = Sources::new(
            (Path::new("main.toml"), TEXT),
            &[(
                PathBuf::from("conf.d/20.toml"),
                "[output]\nplugin = \"azure\"\n\n[output.auth]\nmethod = \"x\"\ntenant = \"t\"\n"
                    .into(),
            )],
        )
        .unwrap();
        assert!(s.has("output", "auth", true) && !s.has("output", "plugin", true));
        assert!(s.has("output", "plugin", false) && !s.has("output", "nothing", false));
        let l = s.locate(Some(("output.auth", 0)), Some("tenant"));
        assert_eq!((l.file.as_str(), l.line), ("conf.d/20.toml", Some(6)));
    }
}

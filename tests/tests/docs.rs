//! The book in `docs/`: `mdbook build` succeeds without a warning, every page of
//! `docs/src/` is in its table of contents, and every relative link of the book
//! and of README.md resolves: the file exists and, for a page of the book, the
//! `#anchor` is an id of the page mdBook built. Needs mdBook 0.4, which
//! `scripts/test` installs.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use syslane_tests::workspace_root;

/// The version `scripts/test` installs.
const MDBOOK_VERSION: &str = "0.4.52";

fn install_hint() -> String {
    format!(
        "install it with `cargo install --locked mdbook --version {MDBOOK_VERSION} --no-default-features --features search` (scripts/test does)"
    )
}

/// The `mdbook` binary: on PATH, else where `cargo install` puts it.
fn mdbook() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let found = on_path
        .into_iter()
        .chain(cargo_home.map(|c| c.join("bin")))
        .map(|dir| dir.join("mdbook"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("mdbook is not installed: {}", install_hint()));
    let version = Command::new(&found).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(
        version.contains("v0.4."),
        "{} is {}; this book is built with mdBook 0.4: {}",
        found.display(),
        version.trim(),
        install_hint()
    );
    found
}

/// Builds the book in `book` into `out`; fails on any error or warning mdBook logs.
fn build(book: &Path, out: &Path) {
    let started = std::time::Instant::now();
    let run = Command::new(mdbook())
        .arg("build")
        .arg(book)
        .arg("--dest-dir")
        .arg(out)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "mdbook build {} failed:\n{log}",
        book.display()
    );
    assert!(
        !log.contains("[WARN") && !log.contains("[ERROR"),
        "mdbook build {} warned:\n{log}",
        book.display()
    );
    eprintln!(
        "mdbook build {} took {:.1?}",
        book.display(),
        started.elapsed()
    );
}

/// The links of a Markdown text outside code: inline `[text](target)` and
/// reference definitions `[name]: target`.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    Some(open) if open == marker => None,
                    None => Some(marker),
                    other => other,
                };
            }
        }
        if fence.is_some() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            continue;
        }
        // Inline code holds no links.
        let mut text = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                text.push_str(part);
            }
        }
        if let Some(rest) = text.trim_start().strip_prefix('[') {
            if let Some((_, target)) = rest.split_once("]: ") {
                out.push(target.trim().to_string());
                continue;
            }
        }
        let mut rest = text.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push(target.to_string());
            rest = &after[end..];
        }
    }
    out
}

/// The ids of an HTML page.
fn ids(html: &str) -> Vec<String> {
    html.split(" id=\"")
        .skip(1)
        .filter_map(|s| s.split_once('"').map(|(id, _)| id.to_string()))
        .collect()
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// Every problem with the relative links of `files`: a target that does not
/// exist, a page of the book (`src`, built into `out`) that is not in the table
/// of contents, an anchor that is not an id of the built page.
fn broken_links(files: &[PathBuf], src: &Path, out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pages: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let dir = file.parent().unwrap();
        for link in links(&text) {
            if link.is_empty() || link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                file.clone()
            } else {
                normal(&dir.join(path))
            };
            let place = format!("{}: ({link})", file.display());
            if !target.exists() {
                problems.push(format!("{place}: {} does not exist", target.display()));
                continue;
            }
            let Ok(in_book) = target.strip_prefix(src) else {
                if anchor.is_some() {
                    problems.push(format!("{place}: an anchor into a file outside the book"));
                }
                continue;
            };
            // The table of contents is a file of the book, not a page of it.
            if target.extension().is_none_or(|e| e != "md")
                || (in_book == Path::new("SUMMARY.md") && anchor.is_none())
            {
                continue;
            }
            let html = out.join(in_book).with_extension("html");
            let Ok(page) = std::fs::read_to_string(&html) else {
                problems.push(format!(
                    "{place}: {} is not in SUMMARY.md, so the book has no page for it",
                    target.display()
                ));
                continue;
            };
            if let Some(anchor) = anchor {
                let known = pages.entry(html).or_insert_with(|| ids(&page));
                if !known.iter().any(|id| id == anchor) {
                    problems.push(format!(
                        "{place}: no heading or id `{anchor}` in {}",
                        target.display()
                    ));
                }
            }
        }
    }
    problems
}

/// The Markdown files under `dir`, recursively.
fn markdown_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(markdown_files(&path));
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn the_book_builds_and_every_internal_link_resolves() {
    let root = workspace_root();
    let src = root.join("docs/src");
    let out = tempfile::tempdir().unwrap();
    build(&root.join("docs"), out.path());
    let mut files = markdown_files(&src);
    let mut problems = Vec::new();
    for page in &files {
        let rel = page.strip_prefix(&src).unwrap();
        if rel != Path::new("SUMMARY.md") && !out.path().join(rel).with_extension("html").is_file()
        {
            problems.push(format!("{}: not in SUMMARY.md", page.display()));
        }
    }
    files.push(root.join("README.md"));
    problems.extend(broken_links(&files, &src, out.path()));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        links(&readme)
            .iter()
            .any(|l| l.starts_with("docs/src/reference/configuration.md")),
        "README.md links to the configuration reference"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The checker finds a missing page, a missing anchor and a page left out of the
/// table of contents, and takes no link from code.
#[test]
fn the_link_check_finds_broken_links() {
    let book = tempfile::tempdir().unwrap();
    let src = book.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(
        book.path().join("book.toml"),
        "[book]\ntitle = \"t\"\n[build]\ncreate-missing = false\n",
    )
    .unwrap();
    std::fs::write(
        src.join("SUMMARY.md"),
        "# Summary\n\n- [A](a.md)\n- [B](sub/b.md)\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.md"),
        "# A\n\n## The `state_dir` key\n\n[ok](sub/b.md#b-heading) [ok](#the-state_dir-key) [gone](c.md) \
         [bad anchor](sub/b.md#nothing) `[in code](nowhere.md)` [orphan](orphan.md)\n\n```\n[fenced](nowhere.md)\n```\n",
    )
    .unwrap();
    std::fs::write(
        src.join("sub/b.md"),
        "# B heading\n\n[up](../a.md#the-state_dir-key)\n",
    )
    .unwrap();
    std::fs::write(src.join("orphan.md"), "# Orphan\n").unwrap();
    let out = book.path().join("out");
    build(book.path(), &out);
    let problems = broken_links(&markdown_files(&src), &src, &out);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].contains("c.md does not exist"), "{problems:#?}");
    assert!(
        problems[1].contains("no heading or id `nothing`"),
        "{problems:#?}"
    );
    assert!(
        problems[2].contains("orphan.md is not in SUMMARY.md"),
        "{problems:#?}"
    );
}

/// The keys `check-config` lists as valid when a section holds an unknown one.
fn valid_keys(dir: &Path, config: &str) -> Vec<String> {
    let path = dir.join("syslane.toml");
    std::fs::write(&path, config).unwrap();
    let (ok, _, said) = syslane_tests::syslane(&[
        "check-config",
        "--offline",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert!(!ok, "an unknown key was accepted:\n{config}");
    let list = said
        .split("the valid keys are ")
        .nth(1)
        .unwrap_or_else(|| panic!("{said}"));
    list.trim()
        .split(", ")
        .map(str::to_string)
        .filter(|k| !["address", "input", "plugin", "auth"].contains(&k.as_str()))
        .collect()
}

/// Every key of every built-in plugin is on the page that documents it: the
/// plugins' own lists of keys, as `check-config` names them, hold the book to
/// the code.
#[test]
fn every_key_of_every_builtin_plugin_is_documented() {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let plugins = syslane_tests::plugin_dir_with_builtins(dir.path());
    let head = format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\n",
        plugins.display()
    );
    let listen = |input: &str, extra: &str| {
        format!("[[listen]]\naddress = \"udp://127.0.0.1:0\"\ninput = \"{input}\"\n{extra}\n")
    };
    let file = "[output]\nplugin = \"file\"\npath = \"records.jsonl\"\n";
    let azure = |output: &str, auth: &str| {
        format!(
            "[output]\nplugin = \"azure\"\nendpoint = \"https://x.example\"\n\
             dcr_immutable_id = \"dcr-00000000000000000000000000000000\"\n\
             stream = \"Custom-SyslaneSyslog\"\n{output}\n[output.auth]\nmethod = \"managed_identity\"\n{auth}\n"
        )
    };
    let unknown = "zzz_unknown = 1";
    let mut cases = vec![
        (
            "syslog",
            "plugins.md",
            format!("{head}{}{file}", listen("syslog", unknown)),
        ),
        (
            "cef",
            "plugins.md",
            format!("{head}{}{file}", listen("cef", unknown)),
        ),
        (
            "file",
            "plugins.md",
            format!("{head}{}{file}{unknown}\n", listen("syslog", "")),
        ),
        (
            "azure [output]",
            "azure-output.md",
            format!("{head}{}{}", listen("syslog", ""), azure(unknown, "")),
        ),
        (
            "azure [output.auth]",
            "azure-output.md",
            format!("{head}{}{}", listen("syslog", ""), azure("", unknown)),
        ),
    ];
    for filter in ["select", "redact", "enrich"] {
        cases.push((
            filter,
            "plugins.md",
            format!(
                "{head}{}[[filter]]\nplugin = \"{filter}\"\n{unknown}\n{file}",
                listen("syslog", "")
            ),
        ));
    }
    let mut missing = Vec::new();
    for (plugin, page, config) in cases {
        let text = std::fs::read_to_string(root.join("docs/src").join(page)).unwrap();
        // On the built-in plugins' page, the plugin's own row of the table.
        let text = match page {
            "plugins.md" => text
                .lines()
                .find(|l| l.starts_with(&format!("| `{plugin}` |")))
                .unwrap_or_else(|| panic!("no row for {plugin} on docs/src/plugins.md"))
                .to_string(),
            _ => text,
        };
        let keys = valid_keys(dir.path(), &config);
        assert!(!keys.is_empty(), "{plugin}: no keys");
        for key in keys {
            if !text.contains(&format!("`{key}`")) {
                missing.push(format!(
                    "{plugin}: `{key}` is not documented on docs/src/{page}"
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

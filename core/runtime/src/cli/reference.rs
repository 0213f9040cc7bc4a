//! The book's reference pages, generated from the code so that they cannot go
//! stale: the configuration keys (from [`crate::config::keys`]), the metrics (from
//! what [`crate::metrics::Metrics`] serves) and the `--help` of every command
//! (from the command line's own definition). `syslane docs-reference DIR` writes
//! them (hidden: a tool for the book, not for operators); a test fails while the
//! committed pages differ from what this module generates.

use crate::config::keys::{Key, SECTION, TOP_LEVEL};
use crate::metrics::Metrics;
use std::fmt::Write as _;
use std::path::Path;

/// Where the pages live in the repository, and the command that rewrites them.
#[cfg(test)]
pub(crate) const PAGES_DIR: &str = "docs/src/reference";
pub(crate) const REGENERATE: &str =
    "cargo run --release --bin syslane -- docs-reference docs/src/reference";

/// Every generated page: (file name, contents).
pub(crate) fn pages(cli: &clap::Command) -> Vec<(&'static str, String)> {
    vec![
        ("configuration.md", configuration()),
        ("metrics.md", metrics()),
        ("commands.md", commands(cli)),
    ]
}

/// Writes every page into `dir`.
pub(crate) fn write(dir: &Path, cli: &clap::Command) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = String::new();
    for (name, text) in pages(cli) {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = writeln!(written, "wrote {}", path.display());
    }
    Ok(written)
}

fn generated(source: &str) -> String {
    format!(
        "<!-- Generated from {source} by `{REGENERATE}`; do not edit by hand: a test compares this page with the code. -->\n"
    )
}

/// A table cell: pipes escaped, on one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn key_section(out: &mut String, heading: &str, key: &Key) {
    let _ = writeln!(out, "### {heading}\n");
    let _ = writeln!(out, "- type: {}", key.kind);
    let _ = writeln!(out, "- default: {}", key.default_text());
    let _ = writeln!(out, "- on reload (SIGHUP): {}", key.reload.describe());
    let _ = writeln!(out, "- example: `{} = {}`\n", key.name, key.example);
    let _ = writeln!(out, "{}\n", key.doc);
}

/// The configuration keys the runtime reads.
fn configuration() -> String {
    let mut out = generated("core/runtime/src/config/keys.rs");
    out.push_str("\n# Configuration keys\n\n");
    out.push_str(
        "Every key that the agent itself reads from `syslane.toml` (and the `conf.d/*.toml` \
         files merged on top of it), with its type, its default, and what a reload \
         (`systemctl reload syslane`, SIGHUP) does when it changes. How the files are read \
         and merged is in [Configuration](../configuration.md); the keys of each plugin \
         (`[[listen]]` decoder options, `[[filter]]` and `[output]` settings) are in \
         [Built-in plugins](../plugins.md) and, for the azure output, \
         [Azure output keys](../azure-output.md).\n\n",
    );
    out.push_str("| key | type | default | on reload |\n|---|---|---|---|\n");
    for key in TOP_LEVEL {
        let _ = writeln!(
            out,
            "| [`{0}`](#{0}) | {1} | {2} | {3} |",
            key.name,
            cell(key.kind),
            cell(&key.default_text()),
            key.reload.describe()
        );
    }
    for (table, key) in SECTION {
        let _ = writeln!(
            out,
            "| [`{table}` `{name}`](#{anchor}) | {kind} | {default} | {reload} |",
            name = key.name,
            anchor = anchor(table, key.name),
            kind = cell(key.kind),
            default = cell(&key.default_text()),
            reload = key.reload.describe()
        );
    }
    out.push_str("\n## Top-level keys\n\n");
    for key in TOP_LEVEL {
        key_section(&mut out, key.name, key);
    }
    out.push_str("## Keys of the plugin tables\n\n");
    out.push_str(
        "Each `[[listen]]`, `[[filter]]` and `[output]` table passes its other keys to its \
         plugin as a JSON object. A reload applies a plugin's keys with the sockets open: \
         it creates the plugins' instances anew.\n\n",
    );
    for (table, key) in SECTION {
        key_section(&mut out, &format!("`{table}` {}", key.name), key);
    }
    trim_end(out)
}

/// The anchor of a table's key: `listen-address`, `output-plugin`.
fn anchor(table: &str, key: &str) -> String {
    format!("{}-{key}", table.trim_matches(|c| c == '[' || c == ']'))
}

fn trim_end(mut text: String) -> String {
    while text.ends_with("\n\n") {
        text.pop();
    }
    text
}

/// One metric family of the text format.
struct Family {
    name: String,
    kind: String,
    help: String,
    labels: Vec<String>,
}

/// The families of the Prometheus text in order, with the label names of their samples.
fn families(text: &str) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push(Family {
                name: name.to_string(),
                kind: String::new(),
                help: help.to_string(),
                labels: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let (Some(family), Some((_, kind))) = (out.last_mut(), rest.split_once(' ')) {
                family.kind = kind.to_string();
            }
        } else if let (Some(family), Some((_, labels))) = (out.last_mut(), line.split_once('{')) {
            for pair in labels.split(",").filter_map(|p| p.split_once('=')) {
                let name = pair.0.trim().to_string();
                if pair
                    .0
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !family.labels.contains(&name)
                {
                    family.labels.push(name);
                }
            }
        }
    }
    out
}

/// Every metric the agent serves.
fn metrics() -> String {
    let always = families(&Metrics::default().prometheus());
    let failed = Metrics::default();
    failed.output_failed("OUTPUT", "retry", "REASON");
    let mut out = generated("core/runtime/src/metrics/mod.rs");
    out.push_str("\n# Metrics\n\n");
    out.push_str(
        "What the agent serves in the Prometheus text format (version 0.0.4): on its stats \
         socket (`state_dir/syslane.sock`, read by `syslane stats --prometheus`) and, with \
         `metrics_address`, at `GET /metrics` over HTTP. Counters (`_total`) count from the \
         agent's start; gauges are a value now. How to read them when something goes wrong \
         is in [Operating it](../operating.md) and [When things go wrong](../troubleshooting.md).\n\n",
    );
    out.push_str("| metric | type | labels | meaning |\n|---|---|---|---|\n");
    for family in families(&failed.prometheus()) {
        let labels = family
            .labels
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let only = if always.iter().any(|f| f.name == family.name) {
            ""
        } else {
            " Served once the output has failed."
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {}{only} |",
            family.name,
            family.kind,
            labels,
            cell(&family.help)
        );
    }
    out
}

/// Every command and subcommand path, depth first, without hidden ones.
fn paths(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in command.get_subcommands() {
        if sub.is_hide_set() {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        out.push(path.clone());
        paths(sub, &path, out);
    }
}

/// What `--help` prints for the command at `path`.
fn help(cli: &clap::Command, path: &[String]) -> String {
    let mut args: Vec<String> = vec!["syslane".into()];
    args.extend(path.iter().cloned());
    args.push("--help".into());
    match cli.clone().try_get_matches_from(args) {
        Err(e) => e.render().to_string(),
        Ok(_) => String::new(),
    }
}

/// The `--help` of every command.
fn commands(cli: &clap::Command) -> String {
    let mut out = generated("the command line's definitions (core/runtime/src/cli/)");
    out.push_str("\n# Commands\n\n");
    out.push_str(
        "What `--help` prints for `syslane` and each of its commands. Every command that \
         reads a configuration takes `--config FILE` (default `/etc/syslane/syslane.toml`) or \
         `--embedded-config`. How the commands fit into a day of operating the agent is in \
         [Operating it](../operating.md).\n\n",
    );
    let mut all = vec![Vec::new()];
    paths(cli, &[], &mut all);
    for path in all {
        let name = std::iter::once("syslane".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "## {name}\n\n```text\n{}\n```\n",
            help(cli, &path).trim_end()
        );
    }
    trim_end(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn pages_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(PAGES_DIR)
    }

    /// The committed pages are what the code generates; when this fails, run the
    /// command it prints and commit the result.
    #[test]
    fn the_reference_pages_are_what_the_code_generates() {
        let mut stale = Vec::new();
        for (name, generated) in pages(&super::super::command()) {
            let path = pages_dir().join(name);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != generated {
                let line = committed
                    .lines()
                    .zip(generated.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
                stale.push(format!(
                    "{PAGES_DIR}/{name} differs from what the code generates (first at line {}):\n  committed: {}\n  generated: {}",
                    line + 1,
                    committed.lines().nth(line).unwrap_or("(end of file)"),
                    generated.lines().nth(line).unwrap_or("(end of file)")
                ));
            }
        }
        assert!(
            stale.is_empty(),
            "{}\nRegenerate them from the repository's root with:\n  {REGENERATE}",
            stale.join("\n")
        );
    }

    #[test]
    fn every_metric_and_command_is_on_its_page() {
        let pages = pages(&super::super::command());
        let metrics = &pages[1].1;
        for (name, _) in Metrics::default().snapshot() {
            let prefix = format!("`syslane_{name}");
            let family = match name {
                // Labelled series of one family (metrics::LABELLED).
                _ if name.starts_with("records_refused_") => {
                    "`syslane_records_refused_total`".to_string()
                }
                _ => prefix,
            };
            assert!(metrics.contains(&family), "{name} is missing");
        }
        assert!(
            metrics.contains(
                "`syslane_output_last_error_info` | gauge | `output`, `outcome`, `reason` |"
            ),
            "{metrics}"
        );
        let commands = &pages[2].1;
        for command in [
            "## syslane run",
            "## syslane dead-letter replay",
            "## syslane migrate omsagent",
            "## syslane setup",
        ] {
            assert!(commands.contains(command), "{command}");
        }
        assert!(!commands.contains("## syslane docs-reference"));
        let configuration = &pages[0].1;
        for key in TOP_LEVEL {
            assert!(configuration.contains(&format!("### {}\n", key.name)));
        }
    }
}

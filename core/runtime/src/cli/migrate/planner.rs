//! From what the old agent left to what syslane needs: which workspace, the
//! facility/severity selection, whether security events are forwarded, the files
//! to write and the lines to disable, and what cannot be carried.

use super::reader::{DaemonKind, Found, Grid, OldRule, Picks, Workspace, DISABLED};
use super::Root;
use crate::cli::syslog_config::render::{self, Rule, Selection};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syslane_syslog::FACILITY_NAMES;

/// syslane's files.
pub(super) const PROXY_COPY: &str = "/etc/syslane/proxy.conf";
pub(super) const DROP_IN: &str = "/etc/syslane/conf.d/50-omsagent.toml";
pub(super) const RSYSLOG_DROP_IN: &str = "/etc/rsyslog.d/95-syslane.conf";
pub(super) const SYSLOG_NG_DROP_IN: &str = "/etc/syslog-ng/conf.d/syslane.conf";

/// A file to write whole.
#[derive(Debug)]
pub(super) struct NewFile {
    pub path: PathBuf,
    pub text: String,
    pub mode: u32,
    pub why: String,
}

/// An existing file with some lines disabled.
#[derive(Debug)]
pub(super) struct Edit {
    pub path: PathBuf,
    pub text: String,
    /// (line number, the line) newly disabled.
    pub disabled: Vec<(usize, String)>,
    /// Lines added at the end, and why.
    pub appended: Option<(String, String)>,
}

#[derive(Debug)]
pub(super) struct Plan {
    pub workspace: Option<String>,
    pub why_workspace: String,
    pub found: Vec<String>,
    pub files: Vec<NewFile>,
    pub edits: Vec<Edit>,
    pub cannot_carry: Vec<String>,
    pub daemon: DaemonKind,
}

/// syslane's listener ports (syslog, CEF) as `migrate` forwards to them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ports {
    pub syslog: u16,
    pub cef: u16,
}

/// The rules of a facility's severity set: one `from … up` rule when the set is
/// a severity and every one above it, else one rule per severity.
pub(super) fn rules_of(grid: &Grid) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (facility, bits) in grid.0.iter().enumerate() {
        if *bits == 0 {
            continue;
        }
        let facility = Some(facility as u8);
        let top = 7 - bits.leading_zeros() as u8;
        let contiguous = u16::from(*bits) == (1u16 << (top + 1)) - 1;
        if contiguous {
            rules.push(Rule {
                facility,
                min_severity: top,
                only: false,
            });
        } else {
            for s in 0..8u8 {
                if bits & (1 << s) != 0 {
                    rules.push(Rule {
                        facility,
                        min_severity: s,
                        only: true,
                    });
                }
            }
        }
    }
    rules
}

/// Which workspace to carry over, and why.
fn choose(found: &Found, asked: Option<&str>) -> Result<(Option<Workspace>, String), String> {
    let ids: Vec<&str> = found.workspaces.iter().map(|w| w.id.as_str()).collect();
    if let Some(asked) = asked {
        return match found
            .workspaces
            .iter()
            .find(|w| w.id.eq_ignore_ascii_case(asked))
        {
            Some(w) => Ok((Some(w.clone()), "chosen with --workspace".into())),
            None => Err(format!(
                "--workspace {asked}: the old agent has no such workspace here; it has: {}",
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            )),
        };
    }
    match found.workspaces.as_slice() {
        [] => Ok((None, "no workspace folder found".into())),
        [one] => Ok((Some(one.clone()), "the only workspace".into())),
        many => {
            let others = |chosen: &str| {
                many.iter()
                    .filter(|w| w.id != chosen)
                    .map(|w| w.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if let Some(p) = found
                .primary
                .as_ref()
                .and_then(|p| many.iter().find(|w| &w.id == p))
            {
                return Ok((Some(p.clone()), format!(
                    "the primary workspace (/etc/opt/microsoft/omsagent/conf points to it); syslane ships to one workspace, so {} is not carried (choose another with --workspace)",
                    others(&p.id)
                )));
            }
            let first = &many[0];
            Ok((Some(first.clone()), format!(
                "the first of {} workspaces in name order (none is marked primary); syslane ships to one workspace, so {} is not carried (choose another with --workspace)",
                many.len(),
                others(&first.id)
            )))
        }
    }
}

fn describe_rule(r: &OldRule) -> String {
    let what = match &r.picks {
        Picks::Selector(g) => {
            let facs: Vec<&str> =
                g.0.iter()
                    .enumerate()
                    .filter(|(_, b)| **b != 0)
                    .map(|(f, _)| FACILITY_NAMES[f])
                    .collect();
            if facs.is_empty() {
                "no syslog facility (rsyslog's own marks)".to_string()
            } else {
                format!("facilities {}", facs.join(","))
            }
        }
        Picks::Content => "CEF and Cisco ASA lines by content".into(),
        Picks::Unknown(t) => format!("a rule this tool does not read: {t}"),
    };
    format!(
        "{}:{} forwards {what} to 127.0.0.1:{}{}",
        r.file.display(),
        r.lines
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
        r.port,
        if r.disabled {
            " (already disabled by syslane migrate)"
        } else {
            ""
        }
    )
}

/// Builds the plan. `output_is_azure`: the configured output takes `proxy_file`.
pub(super) fn plan(
    root: &Root,
    found: &Found,
    asked: Option<&str>,
    ports: Ports,
    spool_dir: &str,
    output_is_azure: bool,
) -> Result<Plan, String> {
    let daemon = found.daemon.ok_or(
        "neither /etc/rsyslog.conf nor /etc/syslog-ng/syslog-ng.conf exists: the old agent's forwarding lives in one of them; install the host's syslog daemon or give --root",
    )?;
    if found.workspaces.is_empty() && found.rules.is_empty() {
        return Err(format!(
            "no Log Analytics agent here: no workspace under {} and no rule forwarding to it in rsyslog or syslog-ng; nothing to migrate",
            root.path(super::reader::OMS_ETC).display()
        ));
    }
    let (chosen, why_workspace) = choose(found, asked)?;
    let mut found_lines: Vec<String> = found
        .workspaces
        .iter()
        .map(|w| {
            format!(
                "workspace {}: syslog on {}/{}{}",
                w.id,
                if w.syslog_tcp { "tcp" } else { "udp" },
                w.syslog_port,
                w.security_port
                    .map(|p| format!(", security events (CEF, Cisco ASA) on tcp/{p}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    found_lines.extend(found.rules.iter().map(describe_rule));
    if let Some(p) = &found.proxy_file {
        found_lines.push(format!("proxy setting in {}", p.display()));
    }

    // Which rules are carried: the chosen workspace's syslog port, and security.
    let syslog_port = chosen.as_ref().map(|w| w.syslog_port);
    let mut security_ports: BTreeSet<u16> = found
        .workspaces
        .iter()
        .filter_map(|w| w.security_port)
        .collect();
    if security_ports.is_empty() {
        security_ports.insert(25226);
    }
    let mut grid = Grid::default();
    // What the old agent's security forwarding picked: by facility, or (the
    // content-based forms) every message.
    let mut security_grid = Grid::default();
    let mut security = false;
    let mut carried: Vec<&OldRule> = Vec::new();
    let mut cannot_carry = Vec::new();
    for r in &found.rules {
        let is_security = security_ports.contains(&r.port) && Some(r.port) != syslog_port;
        match (&r.picks, is_security) {
            (Picks::Unknown(_), _) => {
                cannot_carry.push(format!(
                    "{}: left as it is; write the same selection with `syslane syslog-config` if it should reach syslane",
                    describe_rule(r)
                ));
                continue;
            }
            // A security rule by facility: its CEF and ASA lines go to syslane's
            // security listener; the facility's other lines are not copied into the
            // syslog selection (the old agent's security input kept only CEF/ASA).
            (Picks::Selector(g), true) => {
                security = true;
                security_grid.union(g);
            }
            (_, true) => {
                security = true;
                security_grid = Grid([0xff; 24]);
            }
            (Picks::Selector(g), false) if Some(r.port) == syslog_port => grid.union(g),
            (_, false) if Some(r.port) == syslog_port => {}
            (_, false) => continue,
        }
        carried.push(r);
    }
    for w in &found.workspaces {
        if Some(&w.id) != chosen.as_ref().map(|c| &c.id) {
            cannot_carry.push(format!(
                "workspace {}: its forwarding (to 127.0.0.1:{}) is left as it is and goes when the old agent is removed; syslane ships to one workspace",
                w.id, w.syslog_port
            ));
        }
    }
    if grid.is_empty() && !security {
        return Err(format!(
            "the old agent forwards nothing here that syslane can carry (no syslog rule for workspace {} and no security forwarding); nothing to migrate",
            chosen.as_ref().map_or("?", |w| w.id.as_str())
        ));
    }

    let mut files = Vec::new();
    let selection = Selection {
        rules: rules_of(&grid),
        port: ports.syslog,
        cef_port: security.then_some(ports.cef),
        security_rules: security.then(|| {
            if security_grid == Grid([0xff; 24]) {
                vec![Rule {
                    facility: None,
                    min_severity: 7,
                    only: false,
                }]
            } else {
                rules_of(&security_grid)
            }
        }),
        spool_dir: spool_dir.to_string(),
        unix_socket: None,
    };
    let (drop_in, text) = match daemon {
        DaemonKind::Rsyslog => (RSYSLOG_DROP_IN, render::rsyslog(&selection)),
        DaemonKind::SyslogNg => {
            let source = carried
                .iter()
                .find_map(|r| r.source.clone())
                .unwrap_or_else(|| "s_src".into());
            (
                SYSLOG_NG_DROP_IN,
                render::syslog_ng(&selection)
                    .replace("source(s_src)", &format!("source({source})")),
            )
        }
    };
    if security && !text.contains("ASA") {
        cannot_carry.push(format!(
            "Cisco ASA lines: this build's {} drop-in sends only CEF to syslane's security listener; ASA lines reach the syslog listener when their facility is in the selection (forward them with a rule of your own until the drop-in routes them)",
            match daemon {
                DaemonKind::Rsyslog => "rsyslog",
                DaemonKind::SyslogNg => "syslog-ng",
            }
        ));
    }
    let header = format!(
        "# Carried over from the Log Analytics agent (workspace {}) by `syslane migrate omsagent`.\n",
        chosen.as_ref().map_or("-", |w| w.id.as_str())
    );
    files.push(NewFile {
        path: drop_in.into(),
        text: format!("{header}{text}"),
        mode: 0o644,
        why: "forwards the old agent's selection to syslane".into(),
    });
    if let Some(p) = &found.proxy_file {
        let copy = std::fs::read(root.path(&p.to_string_lossy()))
            .map_err(|e| format!("{}: cannot read it: {e}", p.display()))?;
        files.push(NewFile {
            path: PROXY_COPY.into(),
            text: String::from_utf8_lossy(&copy).into_owned(),
            mode: 0o600,
            why: format!(
                "a copy of {} (its uninstall deletes the original)",
                p.display()
            ),
        });
    }
    files.push(NewFile {
        path: DROP_IN.into(),
        text: syslane_drop_in(chosen.as_ref(), found.proxy_file.is_some(), output_is_azure),
        mode: 0o644,
        why: "syslane's settings from the old agent".into(),
    });

    let mut edits = disable(root, found, &carried)?;
    include_drop_ins(root, daemon, &mut edits)?;
    cannot_carry.push("the workspace key and the agent's certificate: the Logs Ingestion API takes an Entra identity and a data collection rule instead; set them up as \"Ship to Azure\" in the documentation (docs/src/azure.md) says (`deploy.sh` prints the [output] to use)".into());
    for w in found
        .workspaces
        .iter()
        .filter(|w| Some(&w.id) == chosen.as_ref().map(|c| &c.id))
    {
        for (file, what) in &w.other_sources {
            cannot_carry.push(format!(
                "{}: {what}; syslane collects syslog only: keep collecting it with the Azure Monitor Agent and a data collection rule, or send it to syslog",
                file.display()
            ));
        }
    }
    Ok(Plan {
        workspace: chosen.map(|w| w.id),
        why_workspace,
        found: found_lines,
        files,
        edits,
        cannot_carry,
        daemon,
    })
}

/// syslane's conf.d drop-in.
fn syslane_drop_in(ws: Option<&Workspace>, proxy: bool, output_is_azure: bool) -> String {
    let mut out = format!(
        "# Carried over from the Log Analytics agent (omsagent) by `syslane migrate omsagent`,\n\
         # workspace {}. The syslog daemon now forwards to syslane's own listeners (see\n\
         # syslane.toml); the old agent's ports are not needed.\n",
        ws.map_or("-", |w| w.id.as_str())
    );
    if proxy {
        if output_is_azure {
            out.push_str(&format!(
                "\n# The old agent's proxy, copied (mode 0600).\n[output]\nproxy_file = \"{PROXY_COPY}\"\n"
            ));
        } else {
            out.push_str(&format!(
                "\n# The old agent's proxy, copied (mode 0600). It applies to the azure output:\n\
                 # once [output] is the azure one (\"Ship to Azure\" in the documentation, docs/src/azure.md), remove the '#'\n\
                 # before these two lines (or run `syslane migrate omsagent --apply` again).\n\
                 # [output]\n# proxy_file = \"{PROXY_COPY}\"\n"
            ));
        }
    }
    out
}

/// A daemon configuration that does not read its drop-in directory (rsyslog
/// without `/etc/rsyslog.d`, where the old agent wrote into rsyslog.conf; a
/// syslog-ng.conf without `@include` of `conf.d`): syslane's rules still go into
/// a drop-in, never into the main file, whose `@127.0.0.1:25…` or `_oms` lines
/// the old agent's uninstall strips; the main file is made to read the drop-ins.
fn include_drop_ins(root: &Root, daemon: DaemonKind, edits: &mut Vec<Edit>) -> Result<(), String> {
    let (conf, dir, line) = match daemon {
        DaemonKind::Rsyslog => (
            "/etc/rsyslog.conf",
            "/etc/rsyslog.d/",
            "$IncludeConfig /etc/rsyslog.d/*.conf",
        ),
        DaemonKind::SyslogNg => (
            "/etc/syslog-ng/syslog-ng.conf",
            "/etc/syslog-ng/conf.d/",
            "@include \"/etc/syslog-ng/conf.d/*.conf\"",
        ),
    };
    let at = edits.iter().position(|e| e.path == Path::new(conf));
    let text = match at {
        Some(i) => edits[i].text.clone(),
        None => std::fs::read_to_string(root.path(conf))
            .map_err(|e| format!("{conf}: cannot read it: {e}"))?,
    };
    let reads_drop_ins = text.lines().any(|l| {
        let l = l.trim();
        !l.starts_with('#')
            && l.contains(dir)
            && (l.starts_with("$IncludeConfig")
                || l.starts_with("include(")
                || l.starts_with("@include"))
    });
    if reads_drop_ins {
        return Ok(());
    }
    let added = format!(
        "# Added by syslane migrate: read the drop-ins, where syslane's rules are.\n{line}\n"
    );
    let mut new = text;
    if !new.ends_with('\n') && !new.is_empty() {
        new.push('\n');
    }
    new.push_str(&added);
    let why = format!("it did not read {dir}, where syslane's rules go");
    match at {
        Some(i) => {
            edits[i].text = new;
            edits[i].appended = Some((added, why));
        }
        None => edits.push(Edit {
            path: conf.into(),
            text: new,
            disabled: Vec::new(),
            appended: Some((added, why)),
        }),
    }
    Ok(())
}

/// The old agent's files with the carried rules disabled.
fn disable(root: &Root, found: &Found, carried: &[&OldRule]) -> Result<Vec<Edit>, String> {
    // Lines of rules that stay active must stay (a syslog-ng destination shared
    // by a workspace that is not carried).
    let mut keep: BTreeMap<&PathBuf, BTreeSet<usize>> = BTreeMap::new();
    for r in &found.rules {
        if !carried.iter().any(|c| std::ptr::eq(*c, r)) && !r.disabled {
            keep.entry(&r.file)
                .or_default()
                .extend(r.lines.iter().copied());
        }
    }
    let mut by_file: BTreeMap<&PathBuf, BTreeSet<usize>> = BTreeMap::new();
    for r in carried.iter().filter(|r| !r.disabled) {
        by_file
            .entry(&r.file)
            .or_default()
            .extend(r.lines.iter().copied());
    }
    let mut edits = Vec::new();
    for (file, lines) in by_file {
        let text = std::fs::read_to_string(root.path(&file.to_string_lossy()))
            .map_err(|e| format!("{}: cannot read it: {e}", file.display()))?;
        let kept = keep.get(file);
        let mut disabled = Vec::new();
        let mut out = String::with_capacity(text.len() + 64);
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let n = i + 1;
            if lines.contains(&n)
                && !kept.is_some_and(|k| k.contains(&n))
                && !line.starts_with(DISABLED)
            {
                disabled.push((n, line.trim_end().to_string()));
                out.push_str(DISABLED);
            }
            out.push_str(line);
        }
        if !disabled.is_empty() {
            edits.push(Edit {
                path: file.clone(),
                text: out,
                disabled,
                appended: None,
            });
        }
    }
    Ok(edits)
}

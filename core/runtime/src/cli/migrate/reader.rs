//! Reads what the Log Analytics agent for Linux (omsagent) left on a host: its
//! workspaces and settings under `/etc/opt/microsoft/omsagent/`, and the
//! forwarding rules its configuration scripts (and Microsoft's instructions for
//! CEF and Cisco ASA) put into rsyslog or syslog-ng.
//!
//! The shapes, from the sources that write them:
//! - `<ws>/conf/omsadmin.conf` (`WORKSPACE_ID=...`), `<ws>/conf/omsagent.d/syslog.conf`
//!   (`port 25224`, `protocol_type udp`) and `proxy.conf` beside the workspaces
//!   (microsoft/OMS-Agent-for-Linux, `installer/scripts/omsadmin.sh`);
//! - rsyslog: `# OMS Syslog collection for workspace <ws>` then lines
//!   `auth.=alert;auth.=crit<TAB>@127.0.0.1:25224` in `/etc/rsyslog.d/95-omsagent.conf`,
//!   or in `/etc/rsyslog.conf` where there is no rsyslog.d; syslog-ng:
//!   `destination d_<ws>_oms { udp("127.0.0.1" port(25224)); };`,
//!   `filter f_<fac>_<ws>_oms { level(alert,crit) and facility(<fac>); };` and a
//!   `log { ... }` line in `/etc/syslog-ng/syslog-ng.conf`
//!   (microsoft/PowerShell-DSC-for-Linux, `nxOMSSyslog.py`);
//! - security events on 25226: by facility (`local4.debug @@127.0.0.1:25226`,
//!   OMS-Agent-for-Linux `docs/Security-Events-Preview-Configuration.md`) or by
//!   content (`if $rawmsg contains "CEF:" or $rawmsg contains "ASA-" then ...`, or
//!   syslog-ng `match("CEF\|ASA")`, from the Sentinel CEF installer).

use super::Root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use syslane_syslog::{facility_code, severity_code};

/// A line `migrate` disabled starts with this, followed by the line as it was.
pub(super) const DISABLED: &str = "#syslane-migrate# ";

/// The old agent's settings directory.
pub(super) const OMS_ETC: &str = "/etc/opt/microsoft/omsagent";

/// Which facility/severity pairs a rule selects: `grid[facility]` is a bit set of
/// severities (bit 0 = emerg .. bit 7 = debug).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Grid(pub [u8; 24]);

impl Grid {
    pub(super) fn is_empty(&self) -> bool {
        self.0.iter().all(|s| *s == 0)
    }
    pub(super) fn union(&mut self, other: &Grid) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a |= b;
        }
    }
}

/// A workspace of the old agent.
#[derive(Clone, Debug)]
pub(super) struct Workspace {
    pub id: String,
    /// The syslog port its rules forward to, and whether over TCP.
    pub syslog_port: u16,
    pub syslog_tcp: bool,
    /// The security events listener (`security_events.conf`), if configured.
    pub security_port: Option<u16>,
    /// Sources of the agent this tool cannot carry over: (file, what it is).
    pub other_sources: Vec<(PathBuf, String)>,
}

/// How a forwarding rule picks its messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Picks {
    /// By facility and severity.
    Selector(Grid),
    /// By content: CEF and Cisco ASA lines.
    Content,
    /// A form this tool does not read; left as it is.
    Unknown(String),
}

/// One forwarding rule to the old agent, where it was found.
#[derive(Clone, Debug)]
pub(super) struct OldRule {
    /// The file as the host sees it (without `--root`).
    pub file: PathBuf,
    /// The lines (1-based) that make up the rule.
    pub lines: Vec<usize>,
    pub port: u16,
    pub picks: Picks,
    /// Disabled by an earlier `migrate --apply`.
    pub disabled: bool,
    /// The syslog-ng source it reads (`s_src`, `src`, `s_sys`).
    pub source: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DaemonKind {
    Rsyslog,
    SyslogNg,
}

/// Everything found.
#[derive(Debug)]
pub(super) struct Found {
    pub workspaces: Vec<Workspace>,
    /// The workspace `/etc/opt/microsoft/omsagent/conf` points to (the primary).
    pub primary: Option<String>,
    /// The old agent's proxy file, as the host sees it.
    pub proxy_file: Option<PathBuf>,
    pub daemon: Option<DaemonKind>,
    pub rules: Vec<OldRule>,
}

/// `8-4-4-4-12` hex digits, as omsadmin.sh recognises workspace folders.
pub(super) fn is_workspace_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `key value` lines of the first `<source>` of a fluentd file.
fn fluentd_source_field(text: &str, key: &str) -> Option<String> {
    let first = text.split("</source>").next()?;
    first.lines().find_map(|l| {
        let l = l.trim();
        let (k, v) = l.split_once(char::is_whitespace)?;
        (k == key).then(|| v.trim().to_string())
    })
}

/// The `type`s of every `<source>` in a fluentd file.
fn fluentd_source_types(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for block in text.split("<source>").skip(1) {
        let block = block.split("</source>").next().unwrap_or("");
        if let Some(t) = block.lines().find_map(|l| {
            let l = l.trim();
            l.strip_prefix("type ")
                .or_else(|| l.strip_prefix("@type "))
                .map(|t| t.trim().to_string())
        }) {
            out.push(t);
        }
    }
    out
}

/// Files of `omsagent.d` that are the agent's own housekeeping, not data sources.
const HOUSEKEEPING: [&str; 4] = [
    "heartbeat.conf",
    "monitor.conf",
    "operation.conf",
    "telemetry.conf",
];

fn read_workspace(root: &Root, id: &str) -> Workspace {
    let conf = format!("{OMS_ETC}/{id}/conf");
    let syslog = std::fs::read_to_string(root.path(&format!("{conf}/omsagent.d/syslog.conf")))
        .unwrap_or_default();
    let port = fluentd_source_field(&syslog, "port").and_then(|p| p.parse().ok());
    let tcp = fluentd_source_field(&syslog, "protocol_type").is_some_and(|p| p == "tcp");
    let security =
        std::fs::read_to_string(root.path(&format!("{conf}/omsagent.d/security_events.conf")))
            .ok()
            .map(|t| {
                fluentd_source_field(&t, "port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(25226)
            });
    let mut other_sources = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.path(&format!("{conf}/omsagent.d")))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.push(root.path(&format!("{conf}/omsagent.conf")));
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !name.ends_with(".conf")
            || ["syslog.conf", "security_events.conf"].contains(&name.as_str())
            || HOUSEKEEPING.contains(&name.as_str())
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for t in fluentd_source_types(&text) {
            if ["syslog", "sudo_tail", "omi_heartbeat", "oms_heartbeat"].contains(&t.as_str())
                && name == "omsagent.conf"
            {
                continue;
            }
            let what = match t.as_str() {
                "oms_omi" | "omi" => "performance counters or inventory (OMI)".to_string(),
                "tail" | "sudo_tail" => "a log file tailed by fluentd (custom log)".to_string(),
                "exec" => "a command run by fluentd".to_string(),
                other => format!("a fluentd source of type {other}"),
            };
            other_sources.push((root.strip(&path), what));
        }
    }
    Workspace {
        id: id.to_string(),
        syslog_port: port.unwrap_or(25224),
        syslog_tcp: tcp,
        security_port: security,
        other_sources,
    }
}

/// Reads everything under `root`.
pub(super) fn read(root: &Root) -> Found {
    let mut workspaces: Vec<Workspace> = std::fs::read_dir(root.path(OMS_ETC))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| is_workspace_id(n))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .iter()
        .map(|id| read_workspace(root, id))
        .collect();
    workspaces.sort_by(|a, b| a.id.cmp(&b.id));
    // omsadmin.sh makes `conf` a symbolic link to the primary workspace's folder.
    let primary = std::fs::read_link(root.path(&format!("{OMS_ETC}/conf")))
        .ok()
        .and_then(|target| {
            target
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .find(|c| is_workspace_id(c))
        });
    let proxy_file = [
        format!("{OMS_ETC}/proxy.conf"),
        format!("{OMS_ETC}/conf/proxy.conf"),
    ]
    .into_iter()
    .find(|p| root.path(p).is_file())
    .map(PathBuf::from);
    let daemon = if root.path("/etc/rsyslog.conf").is_file() {
        Some(DaemonKind::Rsyslog)
    } else if root.path("/etc/syslog-ng/syslog-ng.conf").is_file() {
        Some(DaemonKind::SyslogNg)
    } else {
        None
    };
    let mut ports: Vec<u16> = vec![25224, 25226];
    for w in &workspaces {
        ports.push(w.syslog_port);
        ports.extend(w.security_port);
    }
    let rules = match daemon {
        Some(DaemonKind::Rsyslog) => rsyslog_files(root)
            .iter()
            .flat_map(|f| rsyslog_rules(root, f, &ports))
            .collect(),
        Some(DaemonKind::SyslogNg) => syslog_ng_files(root)
            .iter()
            .flat_map(|f| syslog_ng_rules(root, f))
            .collect(),
        None => Vec::new(),
    };
    Found {
        workspaces,
        primary,
        proxy_file,
        daemon,
        rules,
    }
}

/// Files in `dir` (as the host sees it) ending in `.conf`, in name order, but
/// not `skip`.
fn conf_files(root: &Root, dir: &str, skip: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.path(dir))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.ends_with(".conf") && n != skip)
                .map(|n| PathBuf::from(format!("{dir}/{n}")))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn rsyslog_files(root: &Root) -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/rsyslog.conf")];
    files.extend(conf_files(root, "/etc/rsyslog.d", "95-syslane.conf"));
    files
}

fn syslog_ng_files(root: &Root) -> Vec<PathBuf> {
    let mut files = vec![
        PathBuf::from("/etc/syslog-ng/syslog-ng.conf"),
        PathBuf::from("/etc/syslog-ng/security-config-omsagent.conf"),
    ];
    files.extend(conf_files(root, "/etc/syslog-ng/conf.d", "syslane.conf"));
    files.retain(|f| root.path(&f.to_string_lossy()).is_file());
    files
}

/// The line, and whether `migrate` disabled it.
fn undisabled(line: &str) -> (&str, bool) {
    match line.strip_prefix(DISABLED) {
        Some(rest) => (rest, true),
        None => (line, false),
    }
}

/// `@127.0.0.1:25224` or `@@127.0.0.1:25226` (optionally `;Template`): the port.
fn rsyslog_target(action: &str) -> Option<u16> {
    let action = action.trim();
    let rest = action.strip_prefix('@')?;
    let rest = rest.strip_prefix('@').unwrap_or(rest);
    let rest = rest.split(';').next()?;
    let (host, port) = rest.rsplit_once(':')?;
    if !["127.0.0.1", "localhost"].contains(&host) {
        return None;
    }
    port.parse().ok()
}

/// Applies an rsyslog selector (`auth.=info;mail,news.err;*.none`) to a grid.
pub(super) fn parse_selector(selector: &str) -> Result<Grid, String> {
    let mut grid = Grid::default();
    for part in selector.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (facs, sev) = part
            .split_once('.')
            .ok_or_else(|| format!("`{part}` is not facility.severity"))?;
        let mut codes = Vec::new();
        for f in facs.split(',').map(str::trim) {
            if f == "*" {
                codes.extend(0..24u8);
            } else if f == "mark" {
                // rsyslog's own periodic marks (the portal offers the facility);
                // not a syslog facility: nothing to forward.
                continue;
            } else {
                codes.push(facility_code(f).ok_or_else(|| format!("`{f}` is not a facility"))?);
            }
        }
        let sev = sev.trim();
        let (negate, sev) = match sev.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, sev),
        };
        let (exact, sev) = match sev.strip_prefix('=') {
            Some(rest) => (true, rest),
            None => (false, sev),
        };
        let bits: u8 = match sev {
            "*" => 0xff,
            "none" => {
                for c in &codes {
                    grid.0[usize::from(*c)] = 0;
                }
                continue;
            }
            name => {
                let s = severity_code(name).ok_or_else(|| format!("`{name}` is not a severity"))?;
                if exact {
                    1 << s
                } else {
                    // this severity and every one above it (lower codes)
                    (((1u16 << (s + 1)) - 1) & 0xff) as u8
                }
            }
        };
        for c in codes {
            let cell = &mut grid.0[usize::from(c)];
            if negate {
                *cell &= !bits;
            } else {
                *cell |= bits;
            }
        }
    }
    Ok(grid)
}

/// Whether a filter or condition picks CEF or Cisco ASA lines by content.
fn is_content_filter(text: &str) -> bool {
    text.contains("CEF") || text.contains("ASA")
}

/// The rules in one rsyslog file that forward to one of `ports` on loopback.
fn rsyslog_rules(root: &Root, file: &Path, ports: &[u16]) -> Vec<OldRule> {
    let Ok(text) = std::fs::read_to_string(root.path(&file.to_string_lossy())) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let (line, disabled) = undisabled(raw);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('$') {
            continue;
        }
        let Some((head, action)) = line.rsplit_once(|c: char| c.is_whitespace()) else {
            continue;
        };
        let Some(port) = rsyslog_target(action) else {
            continue;
        };
        if !ports.contains(&port) {
            continue;
        }
        let head = head.trim();
        let picks = if head.starts_with("if ") || head.starts_with(':') {
            if is_content_filter(head) {
                Picks::Content
            } else {
                Picks::Unknown(head.to_string())
            }
        } else {
            match parse_selector(head) {
                Ok(g) => Picks::Selector(g),
                Err(e) => Picks::Unknown(format!("{head} ({e})")),
            }
        };
        out.push(OldRule {
            file: file.to_path_buf(),
            lines: vec![i + 1],
            port,
            picks,
            disabled,
            source: None,
        });
    }
    out
}

/// The text between `word(` and its `)`.
fn call_arg<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let start = text.find(&format!("{word}("))? + word.len() + 1;
    let end = text[start..].find(')')? + start;
    Some(text[start..end].trim())
}

/// A syslog-ng `level(...)`: a comma list or a range `a..b`.
fn syslog_ng_levels(arg: &str) -> Result<u8, String> {
    let mut bits = 0u8;
    for item in arg.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let code = |n: &str| severity_code(n).ok_or_else(|| format!("`{n}` is not a severity"));
        match item.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (code(a)?, code(b)?);
                for s in a.min(b)..=a.max(b) {
                    bits |= 1 << s;
                }
            }
            None => bits |= 1 << code(item)?,
        }
    }
    Ok(bits)
}

/// What a syslog-ng filter body picks.
fn syslog_ng_filter(body: &str) -> Picks {
    if body.contains("match(") || body.contains("message(") {
        return if is_content_filter(body) {
            Picks::Content
        } else {
            Picks::Unknown(body.to_string())
        };
    }
    let levels = match call_arg(body, "level") {
        Some(arg) => match syslog_ng_levels(arg) {
            Ok(b) => b,
            Err(e) => return Picks::Unknown(format!("{body} ({e})")),
        },
        None => 0xff,
    };
    let Some(facs) = call_arg(body, "facility") else {
        return Picks::Unknown(body.to_string());
    };
    let mut grid = Grid::default();
    for f in facs.split(',').map(str::trim) {
        match facility_code(f) {
            Some(c) => grid.0[usize::from(c)] |= levels,
            None => return Picks::Unknown(format!("{body} (`{f}` is not a facility)")),
        }
    }
    Picks::Selector(grid)
}

/// One statement of a syslog-ng line: `filter NAME { ... };` and the like.
struct Statement {
    line: usize,
    disabled: bool,
    kind: String,
    name: String,
    body: String,
}

fn syslog_ng_statements(text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let (line, disabled) = undisabled(raw);
        if line.trim_start().starts_with('#') {
            continue;
        }
        for stmt in line.split("};") {
            let stmt = stmt.trim();
            let Some((kind, rest)) = stmt.split_once(|c: char| c.is_whitespace() || c == '{')
            else {
                continue;
            };
            if !["filter", "destination", "log"].contains(&kind) {
                continue;
            }
            let (name, body) = match rest.split_once('{') {
                Some((n, b)) => (n.trim().to_string(), b.trim().to_string()),
                None => (String::new(), rest.trim().to_string()),
            };
            out.push(Statement {
                line: i + 1,
                disabled,
                kind: kind.to_string(),
                name,
                body,
            });
        }
    }
    out
}

/// The `log` paths of one syslog-ng file that reach a loopback destination.
fn syslog_ng_rules(root: &Root, file: &Path) -> Vec<OldRule> {
    let Ok(text) = std::fs::read_to_string(root.path(&file.to_string_lossy())) else {
        return Vec::new();
    };
    let statements = syslog_ng_statements(&text);
    let mut destinations: BTreeMap<&str, (usize, u16)> = BTreeMap::new();
    let mut filters: BTreeMap<&str, (usize, Picks)> = BTreeMap::new();
    for s in &statements {
        match s.kind.as_str() {
            "destination" if s.body.contains("\"127.0.0.1\"") => {
                if let Some(port) = call_arg(&s.body, "port").and_then(|p| p.parse().ok()) {
                    destinations.insert(&s.name, (s.line, port));
                }
            }
            "filter" => {
                filters.insert(&s.name, (s.line, syslog_ng_filter(&s.body)));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in statements.iter().filter(|s| s.kind == "log") {
        let (Some(d), Some(f)) = (
            call_arg(&s.body, "destination"),
            call_arg(&s.body, "filter"),
        ) else {
            continue;
        };
        let (Some((dline, port)), Some((fline, picks))) = (destinations.get(d), filters.get(f))
        else {
            continue;
        };
        let mut lines = vec![s.line, *dline, *fline];
        lines.sort_unstable();
        lines.dedup();
        out.push(OldRule {
            file: file.to_path_buf(),
            lines,
            port: *port,
            picks: picks.clone(),
            disabled: s.disabled,
            source: call_arg(&s.body, "source").map(String::from),
        });
    }
    out
}

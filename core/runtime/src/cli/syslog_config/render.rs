//! The text of the rsyslog and syslog-ng drop-ins for a selection. The files
//! shipped in `rsyslog.d/` and `syslog-ng.d/` are this module's output for the
//! default selection (a test keeps them equal).

use syslane_syslog::{facility_code, severity_code, FACILITY_NAMES, SEVERITY_NAMES};

/// Forward this facility from this severity up (`auth=info`: info, notice, …, emerg).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rule {
    /// `None`: every facility.
    pub facility: Option<u8>,
    pub min_severity: u8,
    /// Only `min_severity` itself, not those above it (rsyslog's `auth.=info`), as
    /// the Log Analytics agent's rules select severities one by one.
    pub only: bool,
}

/// What to forward and where.
#[derive(Clone, Debug)]
pub(crate) struct Selection {
    pub rules: Vec<Rule>,
    pub port: u16,
    /// CEF events go here and never to `port`; `None` leaves CEF in the plain stream.
    pub cef_port: Option<u16>,
    /// Which messages may go to `cef_port` when they are security events; `None`:
    /// the same selection as the plain stream. `syslane migrate omsagent` sets it
    /// where the old agent's security forwarding picked other facilities (e.g.
    /// `local4.debug` to port 25226) or every message by content.
    pub security_rules: Option<Vec<Rule>>,
    /// rsyslog's queue files (survive restarts).
    pub spool_dir: String,
    /// Forward the plain stream to syslane's unix datagram socket here
    /// (`unix://` listener) instead of TCP to `port`.
    pub unix_socket: Option<String>,
}

/// The unix socket the packaged configuration listens on (commented out there).
pub(crate) const UNIX_SOCKET: &str = "/run/syslane/syslog.sock";

impl Selection {
    /// The default of the shipped files: every facility from info up, CEF apart.
    #[cfg(test)]
    pub(crate) fn shipped_default() -> Selection {
        Selection {
            rules: vec![Rule {
                facility: None,
                min_severity: 6,
                only: false,
            }],
            port: 25224,
            cef_port: Some(25226),
            security_rules: None,
            spool_dir: "/var/spool/rsyslog".into(),
            unix_socket: None,
        }
    }

    /// The selection the security port takes from.
    fn security(&self) -> &[Rule] {
        self.security_rules.as_deref().unwrap_or(&self.rules)
    }
}

/// Parses `auth=info` (or `auth.info`); `facility` may be `*` for all.
pub(crate) fn parse_rule(text: &str) -> Result<Rule, String> {
    let (f, s) = text
        .split_once(['=', '.'])
        .ok_or_else(|| format!("`{text}`: write FACILITY=SEVERITY, such as auth=info"))?;
    let facility = if f.trim() == "*" {
        None
    } else {
        Some(facility_code(f).ok_or_else(|| {
            format!(
                "`{f}` is not a facility; use one of {}",
                FACILITY_NAMES.join(" ")
            )
        })?)
    };
    let min_severity = severity_code(s).ok_or_else(|| {
        format!(
            "`{s}` is not a severity; use one of {} (the lowest severity to forward)",
            SEVERITY_NAMES.join(" ")
        )
    })?;
    Ok(Rule {
        facility,
        min_severity,
        only: false,
    })
}

/// One line per rule, for the header comments.
fn describe(sel: &Selection) -> String {
    sel.rules
        .iter()
        .map(|r| {
            let (before, after) = if r.only {
                ("at", "only")
            } else {
                ("from", "up")
            };
            format!(
                "#   {} {before} {} {after}\n",
                r.facility
                    .map_or("every facility", |f| FACILITY_NAMES[usize::from(f)]),
                SEVERITY_NAMES[usize::from(r.min_severity)]
            )
        })
        .collect()
}

/// rsyslog's name of a facility code, as its selectors accept it.
fn rsyslog_facility(code: u8) -> String {
    match code {
        // rsyslog has no names for 12..15 that every version accepts; the selector
        // takes the numeric code.
        12..=15 => code.to_string(),
        _ => FACILITY_NAMES[usize::from(code)].to_string(),
    }
}

/// The `prifilt()` selector: `auth.info;daemon.warning` (`*.none` for no rules:
/// only security events are forwarded).
fn rsyslog_selector(rules: &[Rule]) -> String {
    if rules.is_empty() {
        return "*.none".into();
    }
    rules
        .iter()
        .map(|r| {
            format!(
                "{}.{}{}",
                r.facility.map_or("*".to_string(), rsyslog_facility),
                if r.only { "=" } else { "" },
                SEVERITY_NAMES[usize::from(r.min_severity)]
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// The action parameters shared by every forward: a disk-assisted queue that keeps
/// what it holds across restarts, and retries for ever, bounded so that syslane
/// being away never slows the host's own logging. rsyslog's queue parameters
/// (rsyslog.com, "General Queue Parameters"): `queue.timeoutEnqueue` is how long a
/// message waits for room in a full action queue before it is discarded; its
/// default (2 s) holds up the main queue, and with it every local file action, for
/// each message while syslane is away. At 0 a full queue discards at once.
/// `queue.maxDiskSpace` bounds the spool per action; `action.resumeIntervalMax`
/// caps the retry interval, which otherwise grows to 30 minutes in a long outage.
fn rsyslog_queue(name: &str, spool_dir: &str, indent: &str) -> String {
    format!(
        "{indent}       queue.type=\"LinkedList\" queue.filename=\"{name}\" queue.spoolDirectory=\"{spool_dir}\"\n\
         {indent}       queue.size=\"{QUEUE_SIZE}\" queue.highWatermark=\"80000\" queue.lowWatermark=\"20000\"\n\
         {indent}       queue.maxDiskSpace=\"{QUEUE_DISK}\" queue.saveOnShutdown=\"on\" queue.checkpointInterval=\"100\"\n\
         {indent}       queue.timeoutEnqueue=\"0\"\n\
         {indent}       action.resumeRetryCount=\"-1\" action.resumeInterval=\"5\" action.resumeIntervalMax=\"60\""
    )
}

/// Messages an action queue holds in memory (beyond the high watermark it spills to disk).
const QUEUE_SIZE: u32 = 100_000;
/// The most spool disk one action queue takes while syslane is away.
const QUEUE_DISK: &str = "256m";

/// rsyslog's test for a message the security port takes: CEF (`CEF:`, version
/// digits, `|`, as the syslog-ng filter and the `cef` decoder match it) or a Cisco
/// ASA/FTD message id (`%ASA-6-302013:`). `re_match` is POSIX ERE
/// (<https://www.rsyslog.com/doc/rainerscript/functions/rs-re_match.html>).
const SECURITY_MATCH: &str =
    "re_match($rawmsg, \"CEF:[0-9]+[|]\") or re_match($rawmsg, \"%(ASA|FTD)-[0-9]-[0-9]+:\")";

/// The lines about rsyslog's message size limit, which a drop-in cannot change.
const RSYSLOG_MAX_SIZE: &str = "\
# rsyslog cuts messages at 8 KiB by default. To pass messages up to syslane's
# max_message_size (64 KiB by default), set rsyslog's limit at the top of
# /etc/rsyslog.conf, before any module or input (rsyslog reads it only there, so
# this file cannot set it), then restart rsyslog:
# global(maxMessageSize=\"64k\")
";

/// The rsyslog drop-in (`/etc/rsyslog.d/95-syslane.conf`).
pub(crate) fn rsyslog(sel: &Selection) -> String {
    let mut out = String::new();
    out.push_str(
        "# syslane: forward syslog to the local syslane agent.\n\
         # Written by `syslane syslog-config`; write it again with that command rather\n\
         # than editing it by hand. Forwarded:\n",
    );
    out.push_str(&describe(sel));
    out.push_str(if sel.unix_socket.is_some() {
        "# Delivery: a unix datagram socket, RFC 5424, through a disk-assisted queue\n\
         # that survives restarts of rsyslog and of syslane and retries for ever.\n\
         # Bounded: while syslane is away the queue holds up to 256 MiB on disk, then\n\
         # discards (never holding up rsyslog's own logging).\n"
    } else {
        "# Delivery: TCP on loopback, RFC 5424, octet-counted framing, through a\n\
         # disk-assisted queue that survives restarts of rsyslog and of syslane and\n\
         # retries for ever. Bounded: while syslane is away each queue holds up to\n\
         # 256 MiB on disk, then discards (never holding up rsyslog's own logging).\n"
    });
    out.push_str(RSYSLOG_MAX_SIZE);
    if let Some(path) = &sel.unix_socket {
        out.push_str(&format!(
            "# The plain stream goes to syslane's unix datagram socket (a `unix://{path}`\n\
             # listener) with omuxsock, which ships with rsyslog. Before 8.2512 omuxsock\n\
             # takes only legacy directives: they name the socket and give its action\n\
             # the same disk-assisted queue, saved on shutdown and retried for ever.\n\
             module(load=\"omuxsock\")\n\
             $OMUxSockSocket {path}\n\
             $ActionQueueType LinkedList\n\
             $ActionQueueFileName syslane\n\
             $ActionQueueSize {QUEUE_SIZE}\n\
             $ActionQueueHighWatermark 80000\n\
             $ActionQueueLowWatermark 20000\n\
             $ActionQueueMaxDiskSpace {QUEUE_DISK}\n\
             $ActionQueueSaveOnShutdown on\n\
             $ActionQueueCheckpointInterval 100\n\
             $ActionQueueTimeoutEnqueue 0\n\
             $ActionResumeRetryCount -1\n\
             $ActionResumeInterval 5\n\n"
        ));
    }
    if let Some(cef) = sel.cef_port {
        out.push_str(&format!(
            "# Security events of the selection go to port {cef} instead, never to the plain\n\
             # syslog stream: CEF (`CEF:`, a version and `|`) and Cisco ASA/FTD messages\n\
             # (`%ASA-6-302013:`, `%FTD-...`). They keep their own header, so the agent\n\
             # sees `CEF:`. A message that merely mentions `CEF:` stays in the plain stream.\n\n\
             template(name=\"SyslaneCef\" type=\"string\"\n         \
             string=\"<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% - - - - %syslogtag%%msg%\")\n\n\
             if prifilt(\"{selector}\") and ({SECURITY_MATCH}) then {{\n    \
             action(type=\"omfwd\" name=\"syslane-cef\" target=\"127.0.0.1\" port=\"{cef}\" protocol=\"tcp\"\n           \
             TCP_Framing=\"octet-counted\" template=\"SyslaneCef\"\n{}\n)\n}} else ",
            rsyslog_queue("syslane-cef", &sel.spool_dir, "    "),
            selector = rsyslog_selector(sel.security()),
        ));
    } else {
        out.push('\n');
    }
    match &sel.unix_socket {
        None => out.push_str(&format!(
            "if prifilt(\"{}\") then {{\n    \
             action(type=\"omfwd\" name=\"syslane\" target=\"127.0.0.1\" port=\"{}\" protocol=\"tcp\"\n           \
             TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\"\n{}\n)\n}}\n",
            rsyslog_selector(&sel.rules),
            sel.port,
            rsyslog_queue("syslane", &sel.spool_dir, "    "),
        )),
        Some(_) => out.push_str(&format!(
            "if prifilt(\"{}\") then {{\n    :omuxsock:;RSYSLOG_SyslogProtocol23Format\n}}\n",
            rsyslog_selector(&sel.rules),
        )),
    }
    if sel.unix_socket.is_none() {
        out.push_str(&rsyslog_unix_comment());
    }
    out.push_str(&format!(
        "\n# Lossless hand-off with RELP instead of TCP: every message is acknowledged\n\
         # once syslane has journaled it. Install rsyslog-relp, add a listener\n\
         # `address = \"relp://127.0.0.1:{relp}\"` with `input = \"syslog\"` to\n\
         # /etc/syslane/syslane.toml, and use this action in place of the omfwd one above:\n\
         #\n\
         # module(load=\"omrelp\")\n\
         # action(type=\"omrelp\" name=\"syslane-relp\" target=\"127.0.0.1\" port=\"{relp}\"\n\
         #        template=\"RSYSLOG_SyslogProtocol23Format\"\n\
         #        queue.type=\"LinkedList\" queue.filename=\"syslane-relp\" queue.spoolDirectory=\"{spool}\"\n\
         #        queue.maxDiskSpace=\"256m\" queue.saveOnShutdown=\"on\" queue.timeoutEnqueue=\"0\"\n\
         #        action.resumeRetryCount=\"-1\" action.resumeInterval=\"5\" action.resumeIntervalMax=\"60\")\n",
        relp = sel.port.saturating_add(1),
        spool = sel.spool_dir,
    ));
    out
}

/// The commented unix socket variant, for a file that forwards over TCP.
fn rsyslog_unix_comment() -> String {
    format!(
        "\n# Over a unix datagram socket instead of TCP (as the Azure Monitor Agent\n\
         # received before 1.28): add a listener `address = \"unix://{UNIX_SOCKET}\"` with\n\
         # `input = \"syslog\"` to /etc/syslane/syslane.toml, and write this file with\n\
         # `syslane syslog-config --unix-socket {UNIX_SOCKET} ...`; it forwards with\n\
         # omuxsock (shipped with rsyslog) in place of the omfwd action above.\n"
    )
}

/// A syslog-ng filter expression for the selection (none for no rules).
fn syslog_ng_filter(rules: &[Rule]) -> String {
    if rules.is_empty() {
        return "not level(emerg..debug)".into();
    }
    rules
        .iter()
        .map(|r| {
            let level = format!(
                "level({}{})",
                SEVERITY_NAMES[usize::from(r.min_severity)],
                if r.only { "" } else { "..emerg" }
            );
            match r.facility {
                // syslog-ng names 12..15 differently across versions; the code works.
                Some(f) => format!("(facility({f}) and {level})"),
                None => format!("({level})"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n    or ")
}

/// The global options the syslog-ng drop-in sets, and what it says about the
/// message size. `keep_hostname()` is a global option that sources take unless
/// they set their own, and is read when sources start, so it holds for sources
/// defined before the drop-in is included
/// (<https://syslog-ng.github.io/admin-guide/080_Log/030_Managing_hostnames/README>).
const SYSLOG_NG_OPTIONS: &str = "\
# Relayed messages keep the host name they carry (HostName in the workspace);
# with keep_hostname(no), Debian's default, syslog-ng replaces it with the
# address of the host that relayed it. A source that sets keep_hostname(no)
# itself still does so.
options {
    keep_hostname(yes);
};

# syslog-ng cuts messages at log_msg_size(), 64 KiB by default, as syslane's
# max_message_size does. If you raise max_message_size, raise it to match in
# the options of /etc/syslog-ng/syslog-ng.conf: log_msg_size(262144);

";

/// The syslog-ng drop-in (`/etc/syslog-ng/conf.d/syslane.conf`). It reads the
/// distribution's default source `s_src`.
pub(crate) fn syslog_ng(sel: &Selection) -> String {
    let mut out = String::new();
    out.push_str(
        "# syslane: forward syslog to the local syslane agent.\n\
         # Written by `syslane syslog-config`; write it again with that command rather\n\
         # than editing it by hand. Reads the source s_src of the distribution's\n\
         # syslog-ng.conf. Forwarded:\n",
    );
    out.push_str(&describe(sel));
    out.push_str(if sel.unix_socket.is_some() {
        "# Delivery: syslane's unix datagram socket, RFC 5424 (unix-dgram()), with\n\
         # a bounded buffer and no flow control: when syslane is slow or down, syslog-ng\n\
         # keeps up to 100000 messages for it and then drops (counted in syslog-ng-ctl\n\
         # stats) rather than stop reading, which would hold up the host's own logging.\n\n"
    } else {
        "# Delivery: TCP on loopback, RFC 5424, octet-counted framing (syslog()), with\n\
         # a bounded buffer and no flow control: when syslane is slow or down, syslog-ng\n\
         # keeps up to 100000 messages for it and then drops (counted in syslog-ng-ctl\n\
         # stats) rather than stop reading, which would hold up the host's own logging.\n\n"
    });
    out.push_str(SYSLOG_NG_OPTIONS);
    out.push_str(&format!(
        "filter f_syslane {{\n    {};\n}};\n\n",
        syslog_ng_filter(&sel.rules)
    ));
    // The security path's own selection, where it differs from the plain stream's.
    let security_filter = match &sel.security_rules {
        Some(rules) if sel.cef_port.is_some() => {
            out.push_str(&format!(
                "filter f_syslane_security {{\n    {};\n}};\n\n",
                syslog_ng_filter(rules)
            ));
            "f_syslane_security"
        }
        _ => "f_syslane",
    };
    // The plain stream leaves out what the security path takes, and nothing else.
    let plain_exclusion = if security_filter == "f_syslane" {
        "not filter(f_syslane_cef);".to_string()
    } else {
        format!("not (filter({security_filter}) and filter(f_syslane_cef));")
    };
    match &sel.unix_socket {
        None => out.push_str(&format!(
            "destination d_syslane {{\n    \
             syslog(\"127.0.0.1\" port({}) transport(\"tcp\")\n           \
             log-fifo-size(100000) time-reopen(5));\n}};\n\n\
             # Over a unix datagram socket instead (a `unix://{UNIX_SOCKET}` listener in\n\
             # syslane.toml; `syslane syslog-config --unix-socket {UNIX_SOCKET}` writes it):\n\
             # destination d_syslane {{\n\
             #     unix-dgram(\"{UNIX_SOCKET}\" flags(syslog-protocol)\n\
             #                log-fifo-size(100000) time-reopen(5));\n\
             # }};\n\n",
            sel.port
        )),
        Some(path) => out.push_str(&format!(
            "destination d_syslane {{\n    \
             unix-dgram(\"{path}\" flags(syslog-protocol)\n               \
             log-fifo-size(100000) time-reopen(5));\n}};\n\n"
        )),
    }
    match sel.cef_port {
        Some(cef) => out.push_str(&format!(
            "# Security events of the selection go to port {cef}, never to the plain stream:\n\
             # CEF (`CEF:`, a version and `|`) and Cisco ASA/FTD messages (`%ASA-6-302013:`).\n\
             # The legacy parser splits `CEF:0|...` into PROGRAM and MESSAGE: put them back.\n\
             filter f_syslane_cef {{\n    \
             (program(\"^CEF$\") and message(\"^[0-9]+[|]\")) or message(\"CEF:[0-9]+[|]\")\n    \
             or program(\"^%(ASA|FTD)-[0-9]-[0-9]+$\") or message(\"%(ASA|FTD)-[0-9]-[0-9]+:\");\n}};\n\n\
             destination d_syslane_cef {{\n    \
             network(\"127.0.0.1\" port({cef}) transport(\"tcp\")\n            \
             template(\"<${{PRI}}>1 ${{ISODATE}} ${{HOST}} - - - - ${{PROGRAM}}:${{MESSAGE}}\\n\")\n            \
             log-fifo-size(100000) time-reopen(5));\n}};\n\n\
             log {{\n    source(s_src);\n    filter({security_filter});\n    filter(f_syslane_cef);\n    \
             destination(d_syslane_cef);\n}};\n\n\
             log {{\n    source(s_src);\n    filter(f_syslane);\n    \
             filter {{ {plain_exclusion} }};\n    \
             destination(d_syslane);\n}};\n"
        )),
        None => out.push_str(
            "log {\n    source(s_src);\n    filter(f_syslane);\n    \
             destination(d_syslane);\n};\n",
        ),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_errors_name_the_choices() {
        assert_eq!(
            parse_rule("auth=info").unwrap(),
            Rule {
                facility: Some(4),
                min_severity: 6,
                only: false
            }
        );
        assert_eq!(parse_rule("*.warning").unwrap().facility, None);
        assert!(parse_rule("auth")
            .unwrap_err()
            .contains("FACILITY=SEVERITY"));
        assert!(parse_rule("bogus=info").unwrap_err().contains("local7"));
        assert!(parse_rule("auth=loud").unwrap_err().contains("debug"));
    }

    /// The shipped drop-ins are this module's output for the default selection
    /// (`syslane syslog-config --all=info`): write them again when this changes.
    #[test]
    fn shipped_files_are_the_default_output() {
        let sel = Selection::shipped_default();
        assert_eq!(
            include_str!("../../../../../rsyslog.d/95-syslane.conf"),
            rsyslog(&sel),
            "run: syslane syslog-config --daemon rsyslog --all=info --output rsyslog.d/95-syslane.conf"
        );
        assert_eq!(
            include_str!("../../../../../syslog-ng.d/syslane.conf"),
            syslog_ng(&sel),
            "run: syslane syslog-config --daemon syslog-ng --all=info --output syslog-ng.d/syslane.conf"
        );
    }

    #[test]
    fn selectors() {
        let sel = Selection {
            rules: vec![
                parse_rule("auth=info").unwrap(),
                parse_rule("ntp=err").unwrap(),
            ],
            ..Selection::shipped_default()
        };
        assert_eq!(rsyslog_selector(&sel.rules), "auth.info;12.err");
        assert_eq!(
            syslog_ng_filter(&sel.rules),
            "(facility(4) and level(info..emerg))\n    or (facility(12) and level(err..emerg))"
        );
        let only = Selection {
            rules: vec![Rule {
                facility: Some(4),
                min_severity: 3,
                only: true,
            }],
            ..Selection::shipped_default()
        };
        assert_eq!(rsyslog_selector(&only.rules), "auth.=err");
        assert_eq!(
            syslog_ng_filter(&only.rules),
            "(facility(4) and level(err))"
        );
        assert_eq!(describe(&only), "#   auth at err only\n");
        assert_eq!(
            describe(&sel),
            "#   auth from info up\n#   ntp from err up\n"
        );
    }
}

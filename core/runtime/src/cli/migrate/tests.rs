//! Every file shape the old agent and its configuration scripts write, from the
//! sample trees in `tests/data/omsagent/` (one host each), through the reader,
//! the planner and the writer.

use super::planner::{self, rules_of, Plan, Ports};
use super::reader::{self, parse_selector, DaemonKind, Picks};
use super::{writer, Root};
use crate::cli::syslog_config::render::Rule;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const W1: &str = "11111111-2222-3333-4444-555555555555";
const W2: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const PORTS: Ports = Ports {
    syslog: 25224,
    cef: 25226,
};

/// A copy of a sample tree (symbolic links kept) in a temporary directory.
fn sample(name: &str) -> (tempfile::TempDir, Root) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/omsagent")
        .join(name);
    let tmp = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    let root = Root(tmp.path().to_path_buf());
    (tmp, root)
}

fn plan_of(root: &Root, ws: Option<&str>) -> Plan {
    let found = reader::read(root);
    planner::plan(root, &found, ws, PORTS, "/var/spool/rsyslog", false).unwrap()
}

fn rule(f: u8, s: u8, only: bool) -> Rule {
    Rule {
        facility: Some(f),
        min_severity: s,
        only,
    }
}

fn file<'a>(plan: &'a Plan, path: &str) -> &'a str {
    &plan
        .files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path} not planned: {plan:#?}"))
        .text
}

fn disabled_lines(plan: &Plan, path: &str) -> Vec<usize> {
    plan.edits
        .iter()
        .filter(|e| e.path == Path::new(path))
        .flat_map(|e| e.disabled.iter().map(|(n, _)| *n))
        .collect()
}

/// Applies the plan, then checks that a second run changes nothing.
fn apply_twice(root: &Root, ws: Option<&str>) -> writer::Applied {
    let first = writer::apply(root, &plan_of(root, ws)).unwrap();
    assert!(!first.changed.is_empty());
    let snapshot = tree(&root.0);
    let again = writer::apply(root, &plan_of(root, ws)).unwrap();
    assert!(
        again.changed.is_empty(),
        "second run changed: {:?}",
        again.changed
    );
    assert_eq!(snapshot, tree(&root.0), "a second run changed files");
    first
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_symlink() {
            continue;
        }
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn selectors_read_as_rsyslog_reads_them() {
    let g = parse_selector("auth.=alert;auth.=crit").unwrap();
    assert_eq!(g.0[4], 0b110);
    let g = parse_selector("*.err;mail.none;kern.!=crit").unwrap();
    assert_eq!(g.0[2], 0);
    assert_eq!(g.0[0], 0b1011);
    assert_eq!(g.0[23], 0b1111);
    let g = parse_selector("auth,authpriv.warning").unwrap();
    assert_eq!((g.0[4], g.0[10]), (0b11111, 0b11111));
    assert_eq!(parse_selector("local4.debug").unwrap().0[20], 0xff);
    assert_eq!(parse_selector("local4.*").unwrap().0[20], 0xff);
    assert!(parse_selector("mark.=alert").unwrap().is_empty());
    assert!(parse_selector("bogus.info").unwrap_err().contains("bogus"));
    assert!(parse_selector("auth.loud").unwrap_err().contains("loud"));
}

#[test]
fn severity_sets_become_ranges_where_they_are_ranges() {
    let mut g = reader::Grid::default();
    g.0[4] = 0xff;
    g.0[3] = 0b11111;
    g.0[1] = 0b11000;
    assert_eq!(
        rules_of(&g),
        vec![
            rule(1, 3, true),
            rule(1, 4, true),
            rule(3, 4, false),
            rule(4, 7, false)
        ]
    );
}

#[test]
fn rsyslog_one_workspace_with_security_by_facility_and_sources_it_cannot_carry() {
    let (_tmp, root) = sample("rsyslog-single");
    let found = reader::read(&root);
    assert_eq!(found.daemon, Some(DaemonKind::Rsyslog));
    assert_eq!(found.primary.as_deref(), Some(W1));
    assert_eq!(found.workspaces[0].security_port, Some(25226));
    let plan = plan_of(&root, None);
    assert_eq!(plan.workspace.as_deref(), Some(W1));
    let drop_in = file(&plan, planner::RSYSLOG_DROP_IN);
    // auth every severity, authpriv from info, daemon from warning, kern from
    // err, local0 from info; local4 only as CEF/ASA (the security rule).
    assert!(
        drop_in
            .contains("prifilt(\"kern.err;daemon.warning;auth.debug;authpriv.info;local0.info\")"),
        "{drop_in}"
    );
    assert!(drop_in.contains("port=\"25226\""), "{drop_in}");
    // local4 is the security path's selection, and only there.
    assert!(
        drop_in.contains("if prifilt(\"local4.debug\") and (re_match("),
        "{drop_in}"
    );
    assert_eq!(drop_in.matches("local4").count(), 1, "{drop_in}");
    // What the old agent's uninstall strips never matches syslane's rules.
    assert!(!drop_in.contains("@127.0.0.1:25"), "{drop_in}");
    assert_eq!(
        disabled_lines(&plan, "/etc/rsyslog.d/95-omsagent.conf"),
        vec![2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        disabled_lines(&plan, "/etc/rsyslog.d/security-config-omsagent.conf"),
        vec![2]
    );
    assert_eq!(
        file(&plan, planner::PROXY_COPY),
        "https://user01:password@proxy01.contoso.com:30443"
    );
    let conf = file(&plan, planner::DROP_IN);
    assert!(
        conf.contains("# proxy_file = \"/etc/syslane/proxy.conf\""),
        "{conf}"
    );
    assert!(conf.parse::<toml::Table>().is_ok());
    let cannot = plan.cannot_carry.join("\n");
    for what in [
        "custom_app.conf",
        "custom log",
        "omsconfig.perf.conf",
        "performance counters",
        "workspace key",
        "Ship to Azure",
    ] {
        assert!(cannot.contains(what), "{what}: {cannot}");
    }
    assert!(!cannot.contains("heartbeat.conf"), "{cannot}");

    let applied = apply_twice(&root, None);
    let proxy = root.path(planner::PROXY_COPY);
    assert_eq!(
        std::fs::metadata(&proxy).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let old = std::fs::read_to_string(root.path("/etc/rsyslog.d/95-omsagent.conf")).unwrap();
    assert!(
        old.lines().skip(1).all(|l| l.starts_with(reader::DISABLED)),
        "{old}"
    );
    assert!(root
        .path("/etc/rsyslog.d/95-omsagent.conf.syslane-migrate-backup")
        .is_file());
    let undo = applied.undo.join("\n");
    assert!(undo.contains("mv /etc/rsyslog.d/95-omsagent.conf.syslane-migrate-backup /etc/rsyslog.d/95-omsagent.conf"), "{undo}");
    assert!(undo.contains("rm /etc/syslane/proxy.conf"), "{undo}");
    // The disabled rules are still read (so a second run plans the same).
    let again = plan_of(&root, None);
    assert_eq!(file(&again, planner::RSYSLOG_DROP_IN), drop_in);
}

#[test]
fn rsyslog_conf_lines_of_two_workspaces_and_a_property_filter() {
    let (_tmp, root) = sample("rsyslog-old-two-workspaces");
    let plan = plan_of(&root, None);
    assert_eq!(plan.workspace.as_deref(), Some(W2));
    assert!(
        plan.why_workspace.contains("primary"),
        "{}",
        plan.why_workspace
    );
    let drop_in = file(&plan, planner::RSYSLOG_DROP_IN);
    assert!(
        drop_in.contains("prifilt(\"user.=err;user.=warning;daemon.info\")"),
        "{drop_in}"
    );
    assert!(drop_in.contains("port=\"25226\""), "{drop_in}");
    // W2's lines and the CEF/ASA filter; W1's cron line stays.
    assert_eq!(disabled_lines(&plan, "/etc/rsyslog.conf"), vec![9, 10, 11]);
    assert!(
        plan.cannot_carry.iter().any(|c| c.contains(W1)),
        "{:?}",
        plan.cannot_carry
    );
    // No /etc/rsyslog.d: rsyslog.conf is made to read it.
    let edit = plan
        .edits
        .iter()
        .find(|e| e.path == Path::new("/etc/rsyslog.conf"))
        .unwrap();
    assert!(
        edit.text
            .ends_with("$IncludeConfig /etc/rsyslog.d/*.conf\n"),
        "{}",
        edit.text
    );
    apply_twice(&root, None);
    assert!(root.path(planner::RSYSLOG_DROP_IN).is_file());

    // --workspace picks the other one.
    let (_tmp, root) = sample("rsyslog-old-two-workspaces");
    let plan = plan_of(&root, Some(W1));
    assert!(file(&plan, planner::RSYSLOG_DROP_IN).contains("prifilt(\"cron.err\")"));
    assert_eq!(disabled_lines(&plan, "/etc/rsyslog.conf"), vec![7, 11]);
    let found = reader::read(&root);
    let e = planner::plan(&root, &found, Some("0000"), PORTS, "/s", false).unwrap_err();
    assert!(e.contains(W1) && e.contains(W2), "{e}");
}

#[test]
fn rsyslog_cef_installer_only() {
    let (_tmp, root) = sample("rsyslog-cef-installer");
    let found = reader::read(&root);
    assert_eq!(found.rules.len(), 1);
    assert_eq!(found.rules[0].picks, Picks::Content);
    let plan = plan_of(&root, None);
    let drop_in = file(&plan, planner::RSYSLOG_DROP_IN);
    assert!(drop_in.contains("prifilt(\"*.none\")"), "{drop_in}");
    // ASA lines are said not to be carried exactly when the drop-in does not route them.
    assert_eq!(
        drop_in.contains("ASA"),
        !plan
            .cannot_carry
            .iter()
            .any(|c| c.contains("Cisco ASA lines")),
        "{:?}",
        plan.cannot_carry
    );
    assert!(drop_in.contains("port=\"25226\""), "{drop_in}");
    assert_eq!(
        disabled_lines(&plan, "/etc/rsyslog.d/security-config-omsagent.conf"),
        vec![2]
    );
    apply_twice(&root, None);
}

#[test]
fn rsyslog_rules_edited_by_hand() {
    let (_tmp, root) = sample("rsyslog-edited");
    let plan = plan_of(&root, None);
    let drop_in = file(&plan, planner::RSYSLOG_DROP_IN);
    // kern: *.err without crit; mail: none; local3: err and debug only.
    assert!(
        drop_in.contains("kern.=emerg;kern.=alert;kern.=err;user.err;daemon.err;auth.warning;"),
        "{drop_in}"
    );
    assert!(
        drop_in.contains("local3.=emerg;local3.=alert;local3.=crit;local3.=err;local3.=debug;"),
        "{drop_in}"
    );
    assert!(!drop_in.contains("mail."), "{drop_in}");
    assert!(drop_in.contains("authpriv.warning"), "{drop_in}");
    assert_eq!(
        disabled_lines(&plan, "/etc/rsyslog.d/95-omsagent.conf"),
        vec![2, 3, 4]
    );
    assert!(
        !drop_in.contains("port=\"25226\""),
        "no security forwarding: {drop_in}"
    );
    apply_twice(&root, None);
    let old = std::fs::read_to_string(root.path("/etc/rsyslog.d/95-omsagent.conf")).unwrap();
    assert!(
        old.contains("\n#user.=info\t@127.0.0.1:25224\nlocal7.*\t@logs.example.com:514\n"),
        "{old}"
    );
}

#[test]
fn syslog_ng_two_workspaces_and_the_cef_installer() {
    let (_tmp, root) = sample("syslog-ng-two-workspaces");
    let plan = plan_of(&root, None);
    assert_eq!(plan.daemon, DaemonKind::SyslogNg);
    assert_eq!(plan.workspace.as_deref(), Some(W1));
    assert!(
        plan.why_workspace.contains("first of 2"),
        "{}",
        plan.why_workspace
    );
    let drop_in = file(&plan, planner::SYSLOG_NG_DROP_IN);
    assert!(
        drop_in.contains("(facility(1) and level(err))\n    or (facility(1) and level(info))"),
        "{drop_in}"
    );
    assert!(
        drop_in.contains("(facility(4) and level(debug..emerg))"),
        "{drop_in}"
    );
    assert!(
        drop_in.contains("(facility(17) and level(err..emerg))"),
        "{drop_in}"
    );
    assert!(
        drop_in.contains("port(25226)") && drop_in.contains("source(s_src)"),
        "{drop_in}"
    );
    assert!(
        !drop_in.contains("_oms"),
        "the uninstall strips _oms lines: {drop_in}"
    );
    // W1's destination, filters and log paths; not W2's.
    assert_eq!(
        disabled_lines(&plan, "/etc/syslog-ng/syslog-ng.conf"),
        vec![17, 20, 21, 24, 25, 28, 29]
    );
    assert_eq!(
        disabled_lines(&plan, "/etc/syslog-ng/conf.d/security-config-omsagent.conf"),
        vec![2, 3]
    );
    apply_twice(&root, None);
}

#[test]
fn syslog_ng_single_workspace_blocks_and_security_by_facility() {
    let (_tmp, root) = sample("syslog-ng-facility-security");
    let plan = plan_of(&root, None);
    let drop_in = file(&plan, planner::SYSLOG_NG_DROP_IN);
    assert!(drop_in.contains("(facility(9) and level(warning..emerg))\n    or (facility(18) and level(debug..emerg))"), "{drop_in}");
    assert!(
        drop_in.contains("source(src)") && !drop_in.contains("source(s_src)"),
        "{drop_in}"
    );
    // local4 (20) is the security path's own selection, not the plain stream's.
    assert!(
        drop_in.contains("port(25226)")
            && drop_in.contains(
                "filter f_syslane_security {\n    (facility(20) and level(debug..emerg));\n};"
            )
            && drop_in.matches("facility(20)").count() == 1,
        "{drop_in}"
    );
    assert_eq!(
        disabled_lines(&plan, "/etc/syslog-ng/syslog-ng.conf"),
        vec![9, 12, 13, 16, 17]
    );
    assert_eq!(
        disabled_lines(&plan, "/etc/syslog-ng/security-config-omsagent.conf"),
        vec![2, 3, 4]
    );
    // This syslog-ng.conf does not read conf.d: it is made to.
    let edit = plan
        .edits
        .iter()
        .find(|e| e.path == Path::new("/etc/syslog-ng/syslog-ng.conf"))
        .unwrap();
    assert!(
        edit.text
            .ends_with("\n@include \"/etc/syslog-ng/conf.d/*.conf\"\n"),
        "{}",
        edit.text
    );
    assert!(!edit.text.lines().last().unwrap().contains("_oms"));
    apply_twice(&root, None);
}

#[test]
fn nothing_to_migrate_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Root(tmp.path().to_path_buf());
    std::fs::create_dir_all(root.path("/etc")).unwrap();
    std::fs::write(root.path("/etc/rsyslog.conf"), "*.* /var/log/all\n").unwrap();
    let found = reader::read(&root);
    let e = planner::plan(&root, &found, None, PORTS, "/s", false).unwrap_err();
    assert!(e.contains("no Log Analytics agent here"), "{e}");
}

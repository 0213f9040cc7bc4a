use super::*;

const GOOD: &str = r#"
state_dir  = "data/state"
plugin_dir = "target/release"
[[listen]]
address = "udp://127.0.0.1:25224"
input   = "syslog"
timezone = "UTC"
[[listen]]
address = "tcp://127.0.0.1:25224"
input   = "syslog"
[[filter]]
plugin = "select"
min_severity = "debug"
[output]
plugin = "file"
path   = "data/records.jsonl"
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(
        text,
        Path::new("/etc/syslane/syslane.toml"),
        Path::new("/etc/syslane"),
    )
}

#[test]
fn the_documented_example_parses() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.state_dir, Path::new("/etc/syslane/data/state"));
    assert_eq!(c.plugin_dir, Path::new("/etc/syslane/target/release"));
    assert_eq!(c.listen.len(), 2);
    assert_eq!(
        c.listen[0].address,
        ListenAddress::Udp("127.0.0.1:25224".parse().unwrap())
    );
    assert_eq!(c.listen[0].options_json, r#"{"timezone":"UTC"}"#);
    assert_eq!(c.filters[0].plugin, "select");
    assert_eq!(c.filters[0].options_json, r#"{"min_severity":"debug"}"#);
    assert_eq!(c.output.options_json, r#"{"path":"data/records.jsonl"}"#);
    assert_eq!(c.listeners.max_message_size, 65536);
}

#[test]
fn unknown_top_level_key_is_refused_with_its_line() {
    let e = parse(&format!("colour = \"blue\"\n{GOOD}")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("/etc/syslane/syslane.toml: line 1: colour: unknown key `colour`; the valid keys are state_dir, plugin_dir,"),
        "{text}"
    );
    let e = parse(&GOOD.replace("state_dir", "stat_dir")).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("(did you mean `state_dir`?)"), "{e}");
}

#[test]
fn bad_scheme_names_the_key_and_the_fix() {
    let e = parse(&GOOD.replace("udp://127", "http://127")).unwrap_err();
    assert_eq!(e.key, "[[listen]] 1 address");
    assert_eq!(e.line, Some(5));
    assert!(e.message.contains("udp://"), "{e}");
}

#[test]
fn bad_address_and_duplicates() {
    let e = parse(&GOOD.replace("udp://127.0.0.1:25224", "udp://localhost")).unwrap_err();
    assert!(e.message.contains("has no port"), "{e}");
    let e = parse(&GOOD.replace("udp://127.0.0.1:25224", "udp://localhost:514")).unwrap_err();
    assert!(
        e.message.contains("`localhost` is not an IP address"),
        "{e}"
    );
    let e = parse(&GOOD.replace("tcp://", "udp://")).unwrap_err();
    assert!(
        e.message
            .contains("configured twice (also in [[listen]] 1)"),
        "{e}"
    );
    assert_eq!(e.key, "[[listen]] 2 address");
}

#[test]
fn missing_pieces_are_explained() {
    let e =
        parse("state_dir = \"s\"\nplugin_dir = \"p\"\n[output]\nplugin = \"file\"\n").unwrap_err();
    assert_eq!(e.key, "listen");
    let e = parse(&GOOD.replace(
        "[output]\nplugin = \"file\"\npath   = \"data/records.jsonl\"\n",
        "",
    ))
    .unwrap_err();
    assert_eq!(e.key, "output");
    let e = parse(&GOOD.replace("input   = \"syslog\"\ntimezone", "timezone")).unwrap_err();
    assert_eq!(e.key, "[[listen]] 1 input");
    assert!(e.message.starts_with("missing key `input`"), "{e}");
}

#[test]
fn limits_are_checked() {
    let e = parse(&format!("max_message_size = 10\n{GOOD}")).unwrap_err();
    assert_eq!(e.key, "max_message_size");
    let e = parse(&format!("workers = 0\n{GOOD}")).unwrap_err();
    assert_eq!(e.key, "workers");
}

#[test]
fn syntax_errors_give_a_line() {
    let e = parse("state_dir = \n").unwrap_err();
    assert_eq!(e.line, Some(1), "{e}");
    assert!(e.message.starts_with("not valid TOML"), "{e}");
}

#[test]
fn journal_settings() {
    let c = parse(GOOD).unwrap();
    assert_eq!(
        (c.journal.max_bytes, c.journal.when_full, c.journal.fsync),
        (1 << 30, WhenFull::Block, Fsync::Batch)
    );
    let c = parse(&format!(
        "when_full = \"drop_oldest\"\nfsync = \"250ms\"\n{GOOD}"
    ))
    .unwrap();
    assert_eq!(
        (c.journal.when_full, c.journal.fsync),
        (
            WhenFull::DropOldest,
            Fsync::Interval(Duration::from_millis(250))
        )
    );
    let e = parse(&format!("fsync = \"often\"\n{GOOD}")).unwrap_err();
    assert!(e.key == "fsync" && e.message.contains("batch"), "{e}");
    let e = parse(&format!("when_full = \"spill\"\n{GOOD}")).unwrap_err();
    assert!(
        e.key == "when_full" && e.message.contains("drop_oldest"),
        "{e}"
    );
}

#[test]
fn relp_listeners_parse() {
    let c = parse(&GOOD.replace("tcp://127.0.0.1:25224", "relp://127.0.0.1:25225")).unwrap();
    assert_eq!(
        c.listen[1].address,
        ListenAddress::Relp("127.0.0.1:25225".parse().unwrap())
    );
    assert_eq!(c.listen[1].address.to_string(), "relp://127.0.0.1:25225");
}

#[test]
fn conf_d_drop_ins_merge_in_name_order_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("syslane.toml");
    std::fs::write(&main, GOOD).unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(
        conf_d.join("20-late.toml"),
        "hostname = \"late\"\n[output]\npath = \"other.jsonl\"\n",
    )
    .unwrap();
    std::fs::write(
        conf_d.join("10-vendor.toml"),
        "hostname = \"early\"\n[[filter]]\nplugin = \"vendor-enrich\"\nsite = \"lab\"\n",
    )
    .unwrap();
    std::fs::write(conf_d.join("notes.txt"), "not toml, ignored").unwrap();
    let c = Config::load(&main).unwrap();
    assert_eq!(c.file, main);
    assert_eq!(
        c.hostname.as_deref(),
        Some("late"),
        "name order: 20 after 10"
    );
    let plugins: Vec<&str> = c.filters.iter().map(|f| f.plugin.as_str()).collect();
    assert_eq!(plugins, ["select", "vendor-enrich"]);
    assert!(c.filters[1].options_json.contains("\"site\":\"lab\""));
    assert!(c.output.options_json.contains("other.jsonl"));
    assert_eq!(c.listen.len(), 2);

    std::fs::write(conf_d.join("30-broken.toml"), "[[filter]\nplugin = 1\n").unwrap();
    let e = Config::load(&main).unwrap_err().to_string();
    assert!(e.contains("30-broken.toml") && e.contains("line 1"), "{e}");
    std::fs::write(conf_d.join("30-broken.toml"), "no_such_key = 1\n").unwrap();
    let e = Config::load(&main).unwrap_err().to_string();
    assert!(
        e.contains("30-broken.toml") && e.contains("no_such_key"),
        "{e}"
    );
}

#[test]
fn a_missing_required_key_says_what_to_write() {
    let e = parse(&GOOD.replace("plugin_dir = \"target/release\"\n", "")).unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("plugin_dir", None));
    assert!(
        e.message.starts_with("missing key `plugin_dir`; add the directory holding the plugins, such as plugin_dir = \"/usr/lib/syslane/plugins\""),
        "{e}"
    );
}

#[test]
fn a_misspelled_address_is_named_as_the_unknown_key() {
    let e = parse(&GOOD.replace("address = \"tcp", "adress = \"tcp")).unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("[[listen]] 2 adress", Some(9)));
    assert!(
        e.message
            .starts_with("unknown key `adress` (did you mean `address`?)"),
        "{e}"
    );
}

#[test]
fn values_are_checked_with_what_is_wrong() {
    let e = parse(&GOOD.replace("127.0.0.1:25224", "127.0.0.1:99999")).unwrap_err();
    assert!(e.message.starts_with("port 99999 is out of range"), "{e}");
    let e = parse(&format!("workers = \"two\"\n{GOOD}")).unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("workers", Some(1)));
    assert!(e.message.contains("expected"), "{e}");
    let e = parse(&format!("metrics_address = \"127.0.0.1\"\n{GOOD}")).unwrap_err();
    assert!(
        e.key == "metrics_address" && e.message.contains("has no port"),
        "{e}"
    );
    let c = parse(&format!("metrics_address = \"127.0.0.1:9514\"\n{GOOD}")).unwrap();
    assert_eq!(
        c.listeners.metrics_address,
        Some("127.0.0.1:9514".parse().unwrap())
    );
}

#[test]
fn control_characters_in_values_are_escaped_in_messages() {
    let e = parse(&GOOD.replace("udp://127.0.0.1:25224", "udp://\\u001b[31m:1")).unwrap_err();
    let text = e.to_string();
    assert!(
        !text.contains('\u{1b}') && text.contains("\\u{1b}[31m"),
        "{text}"
    );
}

#[test]
fn unix_socket_listeners() {
    let c = parse(&GOOD.replace(
        "address = \"tcp://127.0.0.1:25224\"",
        "address = \"unix:///run/syslane/syslog.sock\"\nsocket_mode = \"0660\"\nsocket_group = \"syslog\"",
    ))
    .unwrap();
    assert_eq!(
        c.listen[1].address,
        ListenAddress::Unix("/run/syslane/syslog.sock".into())
    );
    assert_eq!(c.listen[1].unix.mode, 0o660);
    assert_eq!(c.listen[1].unix.group.as_deref(), Some("syslog"));
    assert_eq!(c.listen[1].options_json, "{}");
    let e = parse(&GOOD.replace("timezone = \"UTC\"", "socket_mode = \"0660\"")).unwrap_err();
    assert!(
        e.key == "[[listen]] 1 socket_mode" && e.message.contains("only to unix://"),
        "{e}"
    );
}

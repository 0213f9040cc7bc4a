use super::*;
use std::path::PathBuf;

fn generate_header() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("header is UTF-8")
}

/// The checked-in header must be exactly what the Rust definitions generate.
/// Regenerate with `SYSLANE_BLESS=1 cargo test -p syslane-abi`.
#[test]
fn checked_in_header_is_current() {
    let fresh = generate_header();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/syslane_plugin.h");
    if std::env::var_os("SYSLANE_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("write header");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == fresh,
        "include/syslane_plugin.h is stale: run `SYSLANE_BLESS=1 cargo test -p syslane-abi` and commit it"
    );
}

#[test]
fn header_declares_every_public_item() {
    let header = generate_header();
    for name in [
        "SL_MAGIC",
        "SL_ABI_MAJOR",
        "SL_ABI_MINOR",
        "SL_PANICKED",
        "SL_NO_PRI_FACILITY",
        "SL_NO_PRI_SEVERITY",
        "SlPluginDescriptor",
        "SlInputVtable",
        "SlFilterVtable",
        "SlOutputVtable",
        "SlOutputPreferences",
        "SlEditApi",
        "SlPayload",
        "SlRecord",
        "SlDescriptorFn",
    ] {
        assert!(header.contains(name), "header lacks {name}");
    }
}

#[test]
fn magic_spells_slpl() {
    assert_eq!(&SL_MAGIC.to_le_bytes(), b"SLPL");
}

#[test]
fn struct_layouts_are_stable_on_64_bit() {
    if cfg!(target_pointer_width = "64") {
        assert_eq!(min_size::DESCRIPTOR, 56);
        assert_eq!(min_size::INPUT_VTABLE, 32);
        assert_eq!(min_size::RECORD, 168);
        assert_eq!(core::mem::size_of::<SlStr>(), 16);
        assert_eq!(core::mem::size_of::<SlFrame>(), 48);
        // The output vtable as 1.0, 1.1 and 1.2 plugins lay it out.
        assert_eq!(min_size::OUTPUT_VTABLE, 32);
        assert_eq!(core::mem::offset_of!(SlOutputVtable, preferences), 40);
        assert_eq!(core::mem::size_of::<SlOutputVtable>(), 48);
        assert_eq!(core::mem::size_of::<SlOutputPreferences>(), 24);
    }
}

#[test]
fn null_and_empty_strings_differ() {
    // SAFETY: the views point to a live static or are null.
    unsafe {
        assert_eq!(SlStr::NULL.as_bytes(), None);
        assert_eq!(SlStr::from_bytes(b"").as_bytes(), Some(&b""[..]));
        assert_eq!(SlStr::from_bytes(b"ab").as_bytes(), Some(&b"ab"[..]));
    }
}

#[test]
fn header_keeps_rust_only_names_out() {
    let header = generate_header();
    assert!(!header.contains("Table_Syslog") && !header.contains("from_code"));
}

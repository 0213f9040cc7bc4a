//! The Cisco ASA/FTD parser on arbitrary bytes: never panics, every slice it
//! returns lies inside the input, ports are ports, and a message it reads has a
//! tag that `find_asa` finds.
#![no_main]
use libfuzzer_sys::fuzz_target;

fn inside(data: &[u8], s: &[u8]) -> bool {
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let p = s.as_ptr() as usize;
    s.is_empty() || (p >= start && p + s.len() <= end)
}

fuzz_target!(|data: &[u8]| {
    let Ok(a) = syslane_syslog::parse_asa(data) else {
        return;
    };
    assert!(syslane_syslog::find_asa(data).is_some());
    assert!(inside(data, a.id) && a.id.len() == 6);
    assert!(inside(data, a.level) && a.level.len() == 1);
    assert!(inside(data, a.text));
    for (name, value) in a.network.columns() {
        let Some(v) = value else { continue };
        // The action words the parser supplies itself are static.
        assert!(inside(data, v) || name == "DeviceAction", "{name}");
        if name.ends_with("Port") {
            let port: u32 = std::str::from_utf8(v).unwrap().parse().unwrap();
            assert!(port <= 65_535);
        }
    }
});

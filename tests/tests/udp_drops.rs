//! UDP cannot be paused: when the pipeline is stuck, datagrams are lost, but never
//! silently. Every datagram sent is delivered, or counted as dropped by the agent
//! (`udp_dropped`: the pipeline stayed full) or by the kernel
//! (`udp_receive_buffer_drops`: the socket's receive buffer overflowed).

use std::time::Duration;
use syslane_tests::*;

#[test]
fn every_udp_datagram_is_delivered_or_counted_while_the_output_is_stuck() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let plugins = plugin_dir_with_reject_output(dir.path());
    // The output retries until its directory exists; a small journal then fills
    // and the pipeline stops taking batches; a small receive buffer overflows.
    let out_dir = dir.path().join("later");
    let out = out_dir.join("records.jsonl");
    let config = format!(
        "state_dir = \"state\"\nplugin_dir = \"{}\"\njournal_max_bytes = 1048576\nudp_receive_buffer = 65536\n\
         [[listen]]\naddress = \"udp://127.0.0.1:{port}\"\ninput = \"syslog\"\n\
         [output]\nplugin = \"example-reject\"\npath = \"{}\"\nreject = \"never-in-a-message\"\n",
        plugins.display(),
        out.display()
    );
    let agent = Agent::start(dir.path(), &config);
    let n = 40_000;
    send_udp(
        port,
        (0..n).map(|i| format!("<14>1 - h a - - - udp-{i:06} {}", "p".repeat(100))),
        n,
    );
    std::thread::sleep(Duration::from_secs(2));
    std::fs::create_dir_all(&out_dir).unwrap();
    let accounted = || {
        let stats = stats_of(dir.path());
        let dropped = counter(&stats, "syslane_udp_dropped_total");
        let kernel = counter(&stats, "syslane_udp_receive_buffer_drops_total");
        (count_lines(&out) as u64, dropped, kernel)
    };
    let settled = wait_until(Duration::from_secs(30), || {
        let (arrived, dropped, kernel) = accounted();
        arrived + dropped + kernel >= n as u64
    });
    let (arrived, dropped, kernel) = accounted();
    assert!(
        settled,
        "{arrived} arrived + {dropped} dropped by the agent + {kernel} by the kernel of {n}\n{}",
        agent.logs()
    );
    let (status, logs) = agent.stop();
    assert!(status.success(), "{logs}");
    eprintln!("{n} sent: {arrived} arrived, {dropped} dropped by the agent (pipeline full), {kernel} by the kernel (receive buffer full)");
    assert_eq!(
        arrived + dropped + kernel,
        n as u64,
        "every datagram is delivered or counted"
    );
    assert!(dropped > 0 && kernel > 0, "both kinds of drop happened");
    assert!(
        logs.contains("pipeline full; UDP datagrams dropped"),
        "{logs}"
    );
    assert!(logs.contains("the kernel dropped UDP datagrams"), "{logs}");
}

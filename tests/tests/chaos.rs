//! The chaos run, short and seeded: `syslane-bench --chaos` with fixed seeds, so
//! a failure replays. Every kind of fault comes at least once in the first events
//! (kill -9 and restart, a reload with a changed configuration, the disk full and
//! freed, output faults, a connection storm, slow senders, EIO on the journal's
//! reads and syncs, the wall clock stepped, kills during a segment recycle and
//! during a sync); the run then checks
//! that every RELP-acknowledged record was delivered, no id arrived that was never
//! sent, the agent never panicked, stayed under its memory bound and is healthy at
//! the end. Needs root (a tmpfs), as CI has. The long run: docs/src/chaos.md.

use std::process::Command;

fn chaos(seed: u64, secs: u64) {
    // The clock steps need libfaketime: never skipped.
    syslane_tests::tool("faketime");
    let out = Command::new(env!("CARGO_BIN_EXE_syslane-bench"))
        .args([
            "--chaos",
            "--seed",
            &seed.to_string(),
            "--duration",
            &secs.to_string(),
        ])
        .output()
        .expect("syslane-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains(&format!("chaos: PASS seed={seed}")),
        "the chaos run failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Every kind of fault ran.
    for kind in [
        "kill -9 and restart",
        "SIGHUP",
        "disk full",
        "output faults",
        "connection storm",
        "slow senders",
        "EIO on journal",
        "wall clock stepped",
        "during a journal sync",
        "kill -9 during a segment recycle",
    ] {
        assert!(
            stdout.contains(kind),
            "no {kind:?} in the schedule:\n{stdout}"
        );
    }
}

#[test]
fn a_seeded_chaos_run_loses_no_acknowledged_record() {
    chaos(22, 75);
}

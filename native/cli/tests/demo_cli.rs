//! `ferrotp demo`: the let-it-crash story runs to its expected end.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ferrotp");

#[test]
fn demo_tells_the_let_it_crash_story_and_exits_zero() {
    let out = Command::new(BIN)
        .arg("demo")
        .output()
        .expect("run ferrotp demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The narration, in order, with the runtime's reports between.
    let expected = [
        "starting top_sup",
        "gen_server:call(counter, value) -> 15",
        "let it crash",
        "errorContext=\"child_terminated\"",
        "value -> 0: the known-good state",
        "reason=reached_max_restart_intensity",
        "top_sup gave up: {'EXIT', <",
        ", shutdown} — the failure escalates",
        "the story went as expected",
    ];
    let mut at = 0;
    for line in expected {
        match stdout[at..].find(line) {
            Some(i) => at += i + line.len(),
            None => panic!("{line:?} missing (or out of order) in:\n{stdout}"),
        }
    }
    // Every line carries a timestamp (seconds since start).
    assert!(
        stdout.lines().all(|l| l
            .trim_start()
            .split('s')
            .next()
            .is_some_and(|t| t.parse::<f64>().is_ok())),
        "{stdout}"
    );
}

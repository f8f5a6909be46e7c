//! Hostile attempts at I/O: each is observed, counted and logged by name, and the plugin
//! obtains nothing. The `misbehave` plugin reports what it saw, one line per attempt.

use rapha_plugin_artifacts::MISBEHAVE;
use rapha_task_host::{Attempt, TaskPlugin};

use crate::util::{TestHost, behaviour, read_log, report, tight_limits};

/// The report of `name` from a freshly loaded plugin, and the plugin.
fn probe(name: &str) -> (String, TaskPlugin, TestHost) {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    assert!(plugin.denials().is_empty(), "loading attempts nothing: {:?}", plugin.denials());
    let completion = plugin.format_example(0, &behaviour(name)).expect("the probe reports").completion;
    (report(&completion), plugin, host)
}

fn assert_logged(plugin: &TaskPlugin, attempt: Attempt) {
    let count = plugin.denials().count(attempt);
    assert!(count >= 1, "`{attempt}` not counted: {:?}", plugin.denials());
    let log = read_log(plugin.log_path());
    let line = format!("denied `{}` ({}): plugin `misbehave`", attempt.name(), attempt.outcome());
    assert!(log.contains(&line), "`{line}` not in the log:\n{log}");
    assert!(log.contains("call `format-example`, record 0"), "log:\n{log}");
}

#[test]
fn opening_a_file_finds_no_directory_and_is_logged() {
    let (report, plugin, _host) = probe("open-file");
    assert!(report.contains("read `/etc/passwd`: denied: "), "{report}");
    assert!(report.contains("list `.`: denied: "), "{report}");
    assert!(!report.contains("obtained"), "{report}");
    assert_logged(&plugin, Attempt::FilesystemPreopens);
}

#[test]
fn reading_the_environment_finds_it_empty_and_is_logged() {
    let (report, plugin, _host) = probe("read-env");
    assert_eq!(report, "environment: obtained: 0 variables\narguments: obtained: 0 arguments\n");
    assert_logged(&plugin, Attempt::Environment);
    assert_logged(&plugin, Attempt::Arguments);
}

#[test]
fn opening_sockets_is_denied_and_logged() {
    let (report, plugin, _host) = probe("socket");
    assert!(report.contains("tcp connect `127.0.0.1:80`: denied: "), "{report}");
    assert!(report.contains("udp bind `127.0.0.1:0`: denied: "), "{report}");
    assert!(!report.contains("obtained"), "{report}");
    assert_logged(&plugin, Attempt::TcpSocket);
    assert_logged(&plugin, Attempt::UdpSocket);
}

#[test]
fn reading_the_clock_gets_the_fixed_time_and_is_logged() {
    let (report, plugin, _host) = probe("clock");
    // 2024-01-01T00:00:00Z, the host's fixed wall clock; the monotonic clock never moves.
    assert_eq!(
        report,
        "wall clock: obtained: 1704067200000000000 ns since the Unix epoch\n\
         monotonic clock: obtained: 0 ns elapsed\n"
    );
    assert_logged(&plugin, Attempt::WallClock);
    assert_logged(&plugin, Attempt::MonotonicClock);
}

#[test]
fn a_well_behaved_call_attempts_nothing() {
    let (report, plugin, _host) = probe("ok");
    assert_eq!(report, "ok");
    assert!(plugin.denials().is_empty(), "{:?}", plugin.denials());
}

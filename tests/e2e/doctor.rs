//! `rapha-host doctor`: the report of what this machine's kernel offers a run, and
//! `--strict` agreeing with it.

use crate::util::Dir;

const LABELS: &[&str] = &[
    "kernel:",
    "landlock:",
    "seccomp:",
    "strict sandbox:",
    "cpus:",
    "memory:",
];

fn line<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"))
        .trim()
}

#[test]
fn doctor_reports_every_fact_on_its_own_line() {
    let stdout = Dir::new().command().args(["doctor"]).stdout();
    let labels: Vec<&str> = stdout
        .lines()
        .filter_map(|line| LABELS.iter().copied().find(|l| line.starts_with(l)))
        .collect();
    assert_eq!(labels, LABELS, "\n{stdout}");

    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("read the kernel release");
    assert_eq!(line(&stdout, "kernel:"), kernel.trim());
    let cpus = std::thread::available_parallelism().expect("cpu count").get();
    assert_eq!(line(&stdout, "cpus:"), cpus.to_string());
    let memory = line(&stdout, "memory:");
    assert!(memory.ends_with(" GiB"), "memory: {memory}");

    // The kernel lists seccomp's state for every process when it supports seccomp.
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let seccomp = line(&stdout, "seccomp:");
    assert_eq!(
        status.contains("\nSeccomp:"),
        seccomp.starts_with("available"),
        "seccomp: {seccomp}"
    );
}

#[test]
fn doctor_strict_succeeds_exactly_when_the_report_says_strict_can_run() {
    let dir = Dir::new();
    let report = dir.command().args(["doctor"]).stdout();
    let strict = line(&report, "strict sandbox:");
    if strict == "can run here" {
        let landlock = line(&report, "landlock:");
        let abi: i32 = landlock
            .strip_prefix("ABI ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|abi| abi.parse().ok())
            .unwrap_or_else(|| panic!("landlock: {landlock}"));
        assert!(abi >= 4, "strict can run with Landlock ABI {abi}");
        let stdout = dir.command().args(["doctor", "--strict"]).stdout();
        assert_eq!(stdout, report);
    } else {
        let output = dir.command().args(["doctor", "--strict"]).fails_with(1);
        assert_eq!(output.stdout, report);
        assert!(
            output
                .stderr
                .starts_with("error: strict sandbox needs Landlock ABI ≥ 4 and seccomp, found "),
            "{}",
            output.stderr
        );
    }
}

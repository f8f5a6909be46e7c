//! Tests that need a process of their own: the kernel lockdown cannot be undone,
//! and a disk-full condition is simulated with a file-size limit. This binary
//! (no libtest harness, so no extra threads) re-executes itself once per case;
//! the child does the irreversible part and reports what it observed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use rapha_sandbox::lockdown::{Protections, Roots, SandboxMode, lock_down};
use rapha_sandbox::{AuditLog, Error, ExportDir, Policy, VerbatimIndex};

const CHILD: &str = "RAPHA_ISOLATION_CHILD";

/// A test case run in a child process: `Err` says what failed.
type Case = fn() -> Result<(), String>;

fn main() -> ExitCode {
    if let Ok(case) = std::env::var(CHILD) {
        return child(&case);
    }
    let cases: [(&str, Case); 3] = [
        ("lockdown_confines_files_and_denies_the_network", lockdown_confines_files_and_denies_the_network),
        ("strict_lockdown_refuses_a_process_with_threads", strict_lockdown_refuses_a_process_with_threads),
        ("a_disk_full_export_leaves_nothing_behind", a_disk_full_export_leaves_nothing_behind),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, case) in cases {
        match case() {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(why) => {
                println!("test {name} ... FAILED\n{why}");
                failed += 1;
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Run this binary as a child for `case` with extra environment.
fn run_child(case: &str, env: &[(&str, String)]) -> Result<(bool, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command.env(CHILD, case);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().map_err(|e| e.to_string())?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

fn strict_available() -> Result<bool, String> {
    if Protections::probe().meets_strict() {
        return Ok(true);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        return Err("CI=true but this kernel lacks Landlock ABI ≥ 4 or seccomp".into());
    }
    println!("note: skipping, this kernel lacks Landlock ABI ≥ 4 or seccomp");
    Ok(false)
}

fn lockdown_confines_files_and_denies_the_network() -> Result<(), String> {
    if !strict_available()? {
        return Ok(());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (ro, rw, outside) = (dir.path().join("data"), dir.path().join("work"), dir.path().join("elsewhere"));
    for d in [&ro, &rw, &outside] {
        std::fs::create_dir(d).map_err(|e| e.to_string())?;
    }
    std::fs::write(ro.join("train.jsonl"), "{}\n").map_err(|e| e.to_string())?;
    std::fs::write(outside.join("secret.txt"), "patient text").map_err(|e| e.to_string())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let (ok, output) = run_child(
        "lockdown",
        &[
            ("RO", ro.display().to_string()),
            ("RW", rw.display().to_string()),
            ("OUTSIDE", outside.display().to_string()),
            ("PORT", port.to_string()),
        ],
    )?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    if listener.accept().is_ok() {
        return Err(format!("the locked-down child reached 127.0.0.1:{port}\n{output}"));
    }
    if !ok || output.contains("FAIL") {
        return Err(output);
    }
    Ok(())
}

fn strict_lockdown_refuses_a_process_with_threads() -> Result<(), String> {
    if !strict_available()? {
        return Ok(());
    }
    let (ok, output) = run_child("threads", &[])?;
    if ok && output.contains("refused: ") && output.contains("threads") { Ok(()) } else { Err(output) }
}

fn a_disk_full_export_leaves_nothing_behind() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (ok, output) = run_child("disk-full", &[("DIR", dir.path().display().to_string())])?;
    if !ok {
        return Err(output);
    }
    let export = dir.path().join("export");
    let left: Vec<_> = std::fs::read_dir(&export).map_err(|e| e.to_string())?.collect();
    if !left.is_empty() {
        return Err(format!("left behind: {left:?}\n{output}"));
    }
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).map_err(|e| e.to_string())?;
    if !audit.contains("\"decision\":\"failed\"") {
        return Err(format!("the failure was not audited: {audit}"));
    }
    Ok(())
}

/// Refused by the kernel, not merely absent.
fn denied<T>(result: &std::io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied)
}

fn child(case: &str) -> ExitCode {
    let var = |k: &str| PathBuf::from(std::env::var(k).expect("the parent sets this variable"));
    let mut failures = 0;
    let mut check = |name: &str, good: bool, detail: String| {
        println!("{} {name}: {detail}", if good { "ok" } else { "FAIL" });
        failures += usize::from(!good);
    };
    match case {
        "lockdown" => {
            let (ro, rw, outside) = (var("RO"), var("RW"), var("OUTSIDE"));
            let roots = Roots { read_only: vec![ro.clone()], read_write: vec![rw.clone()] };
            match lock_down(&roots, SandboxMode::Strict) {
                Ok(report) => check("lock_down", report.tcp_denied && report.seccomp_socket_filter, format!("{report:?}")),
                Err(e) => {
                    check("lock_down", false, e.to_string());
                    return ExitCode::FAILURE;
                }
            }
            let read = |p: &Path| std::fs::File::open(p).and_then(|mut f| f.read_to_string(&mut String::new()));
            let outside_read = read(&outside.join("secret.txt"));
            check("outside file unreadable", denied(&outside_read), format!("{outside_read:?}"));
            let ro_read = read(&ro.join("train.jsonl"));
            check("data readable", ro_read.is_ok(), format!("{ro_read:?}"));
            let ro_write = std::fs::write(ro.join("new.txt"), "x");
            check("data not writable", denied(&ro_write), format!("{ro_write:?}"));
            let rw_write = std::fs::write(rw.join("checkpoint.bin"), "x");
            check("work writable", rw_write.is_ok(), format!("{rw_write:?}"));
            let etc = read(Path::new("/etc/hostname"));
            check("system file outside the list unreadable", denied(&etc), format!("{etc:?}"));
            let port: u16 = std::env::var("PORT").expect("port").parse().expect("a port number");
            let tcp = std::net::TcpStream::connect(("127.0.0.1", port));
            check("tcp connect denied", tcp.is_err(), format!("{tcp:?}"));
            let bind = std::net::TcpListener::bind("127.0.0.1:0");
            check("tcp bind denied", bind.is_err(), format!("{bind:?}"));
            let udp = std::net::UdpSocket::bind("127.0.0.1:0");
            check("udp socket denied", udp.is_err(), format!("{udp:?}"));
            let unix = std::os::unix::net::UnixStream::pair();
            check("unix socket pair still allowed", unix.is_ok(), format!("{:?}", unix.map(|_| ())));
        }
        "threads" => {
            let handle = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(2)));
            match lock_down(&Roots::default(), SandboxMode::Strict) {
                Ok(report) => check("lock_down", false, format!("locked down with threads running: {report:?}")),
                Err(e) => println!("refused: {e}"),
            }
            handle.join().expect("the sleeper ends");
        }
        "disk-full" => {
            let dir = var("DIR");
            // A 4 KiB file-size limit makes the 16 KiB write fail with EFBIG,
            // as a full disk would fail it with ENOSPC.
            // SAFETY: ignoring SIGXFSZ and lowering a limit of this process.
            unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
                libc::setrlimit(libc::RLIMIT_FSIZE, &limit);
            }
            let audit = Arc::new(AuditLog::open(dir.join("audit.jsonl")).expect("audit"));
            let mut export = ExportDir::open(dir.join("export"), Policy::new(), VerbatimIndex::new(8, [""]), None, audit)
                .expect("export dir");
            let losses: Vec<f64> = (0..1000).map(|i| 2.0 / (1.0 + f64::from(i))).collect();
            let doc = serde_json::json!({"steps": (0..1000).collect::<Vec<_>>(), "loss": losses}).to_string();
            match export.export("loss_history.json", doc.as_bytes(), &[]) {
                Err(Error::Io { .. }) => println!("ok disk-full write failed"),
                other => check("disk full", false, format!("{other:?}")),
            }
        }
        other => {
            println!("FAIL unknown case {other}");
            return ExitCode::FAILURE;
        }
    }
    if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

//! `rapha-host doctor [--strict]`: what this machine offers a run, and what each
//! missing kernel protection would leave open.

use std::fmt::Write as _;
use std::fs;

use anyhow::bail;
use rapha_sandbox::lockdown::{Protections, STRICT_LANDLOCK_ABI};

use crate::args::DoctorArgs;

/// The facts `doctor` reports, gathered once so that rendering is a pure function.
struct Machine {
    /// Kernel release, or why it could not be read.
    kernel: Result<String, String>,
    protections: Protections,
    /// CPUs this process may use (affinity and cgroup quota included).
    cpus: Result<usize, String>,
    /// `MemTotal` in bytes.
    memory: Result<u64, String>,
}

/// Print what this machine offers a run: kernel release (uname via libc or /proc/sys/kernel/osrelease),
/// Landlock ABI (and whether ≥ 4: TCP rules), seccomp, whether `sandbox = "strict"` can run, CPU
/// count (std::thread::available_parallelism), total memory (/proc/meminfo), and what each missing
/// protection means. `--strict`: return an error (exit 1) when strict mode cannot run here.
pub fn run(args: &DoctorArgs) -> anyhow::Result<()> {
    let machine = Machine::probe();
    print!("{}", render(&machine));
    if args.strict && !machine.protections.meets_strict() {
        bail!("{}", strict_refusal(&machine.protections));
    }
    Ok(())
}

impl Machine {
    fn probe() -> Self {
        const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
        const MEMINFO: &str = "/proc/meminfo";
        Machine {
            kernel: fs::read_to_string(OSRELEASE)
                .map(|release| release.trim().to_owned())
                .map_err(|error| format!("cannot read `{OSRELEASE}`: {error}")),
            protections: Protections::probe(),
            cpus: std::thread::available_parallelism()
                .map(usize::from)
                .map_err(|error| format!("cannot tell: {error}")),
            memory: fs::read_to_string(MEMINFO)
                .map_err(|error| format!("cannot read `{MEMINFO}`: {error}"))
                .and_then(|meminfo| {
                    mem_total(&meminfo)
                        .ok_or_else(|| format!("`{MEMINFO}`: expected a `MemTotal` line in kB, found none"))
                }),
        }
    }
}

/// `MemTotal` of a `/proc/meminfo` text, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kilobytes = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kilobytes.checked_mul(1024)
}

fn render(machine: &Machine) -> String {
    let Protections { landlock_abi, seccomp } = machine.protections;
    let landlock = match landlock_abi {
        Some(abi) if abi >= STRICT_LANDLOCK_ABI => {
            format!(
                "ABI {abi} (≥ {STRICT_LANDLOCK_ABI}): file access limited to the run's folders, TCP bind and connect denied"
            )
        }
        Some(abi) => format!(
            "ABI {abi} (< {STRICT_LANDLOCK_ABI}): file access can be limited, but TCP cannot: a run could still connect over TCP"
        ),
        None => "not available: a run could open any file the user can and connect over TCP".to_owned(),
    };
    let seccomp = if seccomp {
        "available: sockets other than AF_UNIX (UDP, raw, netlink) denied".to_owned()
    } else {
        "not available: a run could open UDP, raw and netlink sockets, which Landlock does not cover".to_owned()
    };
    let strict = if machine.protections.meets_strict() {
        "can run here".to_owned()
    } else {
        format!(
            "cannot run here: a recipe with `sandbox = \"strict\"` refuses to start; `sandbox = \"best-effort\"` runs without what is missing and says so in the report and manifest ({})",
            strict_refusal(&machine.protections)
        )
    };
    let memory = machine.memory.as_ref().map_or_else(Clone::clone, |&bytes| {
        format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
    });
    let lines = [
        ("kernel", machine.kernel.clone().unwrap_or_else(|error| error)),
        ("landlock", landlock),
        ("seccomp", seccomp),
        ("strict sandbox", strict),
        (
            "cpus",
            machine.cpus.as_ref().map_or_else(Clone::clone, ToString::to_string),
        ),
        ("memory", memory),
    ];
    let mut out = String::new();
    for (label, value) in lines {
        writeln!(out, "{:16}{value}", format!("{label}:")).expect("writing to a String cannot fail");
    }
    out
}

fn strict_refusal(protections: &Protections) -> String {
    format!(
        "strict sandbox needs Landlock ABI ≥ {STRICT_LANDLOCK_ABI} and seccomp, found Landlock {} and seccomp {}",
        protections
            .landlock_abi
            .map_or_else(|| "none".to_owned(), |abi| format!("ABI {abi}")),
        if protections.seccomp {
            "available"
        } else {
            "not available"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(landlock_abi: Option<i32>, seccomp: bool) -> Machine {
        Machine {
            kernel: Ok("6.8.0-test".into()),
            protections: Protections { landlock_abi, seccomp },
            cpus: Ok(2),
            memory: Ok(24_683_656 * 1024),
        }
    }

    #[test]
    fn a_full_kernel_can_run_strict() {
        let expected = "\
kernel:         6.8.0-test
landlock:       ABI 7 (≥ 4): file access limited to the run's folders, TCP bind and connect denied
seccomp:        available: sockets other than AF_UNIX (UDP, raw, netlink) denied
strict sandbox: can run here
cpus:           2
memory:         23.5 GiB
";
        assert_eq!(render(&machine(Some(7), true)), expected);
    }

    #[test]
    fn landlock_before_abi_4_leaves_tcp_open_and_strict_refused() {
        let out = render(&machine(Some(3), true));
        assert!(
            out.contains("landlock:       ABI 3 (< 4): file access can be limited, but TCP cannot"),
            "{out}"
        );
        assert!(
            out.contains("strict sandbox: cannot run here: a recipe with `sandbox = \"strict\"` refuses to start"),
            "{out}"
        );
        assert!(out.contains("found Landlock ABI 3 and seccomp available"), "{out}");
    }

    #[test]
    fn missing_landlock_and_seccomp_are_explained() {
        let out = render(&machine(None, false));
        assert!(
            out.contains("landlock:       not available: a run could open any file"),
            "{out}"
        );
        assert!(
            out.contains("seccomp:        not available: a run could open UDP, raw and netlink sockets"),
            "{out}"
        );
        assert!(out.contains("found Landlock none and seccomp not available"), "{out}");
    }

    #[test]
    fn strict_needs_both_protections() {
        assert!(
            Protections {
                landlock_abi: Some(4),
                seccomp: true
            }
            .meets_strict()
        );
        assert_eq!(
            strict_refusal(&Protections {
                landlock_abi: Some(7),
                seccomp: false
            }),
            "strict sandbox needs Landlock ABI ≥ 4 and seccomp, found Landlock ABI 7 and seccomp not available"
        );
    }

    #[test]
    fn reads_mem_total_in_bytes() {
        let meminfo = "MemTotal:       24683656 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_683_656 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots\n"), None);
    }

    #[test]
    fn unreadable_facts_are_reported_not_fatal() {
        let mut machine = machine(Some(7), true);
        machine.kernel = Err("cannot read `/proc/sys/kernel/osrelease`: denied".into());
        machine.memory = Err("cannot read `/proc/meminfo`: denied".into());
        let out = render(&machine);
        assert!(
            out.contains("kernel:         cannot read `/proc/sys/kernel/osrelease`: denied\n"),
            "{out}"
        );
        assert!(
            out.contains("memory:         cannot read `/proc/meminfo`: denied\n"),
            "{out}"
        );
    }
}

//! Build every plugin that tests and benchmarks load as a `wasm32-wasip2` component, and
//! hand their paths to `src/lib.rs`.
//!
//! This follows wasmtime's `crates/test-programs/artifacts/build.rs`: a nested
//! `cargo build` with its own target folder, so it never waits on the lock the outer
//! build holds. The folder is `plugin-artifacts/` beside the outer profile folders (in
//! `CARGO_TARGET_DIR`, or its build dir), shared by every build of this crate, so `cargo
//! test`, `cargo clippy` and `cargo bench` reuse one set of components instead of each
//! building its own.
//!
//! The nested build uses the release profile. The components are what `plugin check`,
//! the host's limits and the native-versus-component benchmark measure, so they are
//! built the way a plugin author ships one; release components are also several times
//! smaller, which makes wasmtime compile them faster in every test. The nested folder
//! is separate, so this doubles nothing in the outer build.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A plugin crate built here.
struct Plugin {
    /// Its folder, relative to `plugins/`.
    dir: &'static str,
    /// Its package name.
    package: &'static str,
    /// The variable through which `src/lib.rs` reads the component's path.
    env: &'static str,
}

/// The task plugins that ship with rapha-host; `foreach_plugin!` lists the same four.
const TASK_PLUGINS: [Plugin; 4] = [
    Plugin {
        dir: "summarisation",
        package: "rapha-plugin-summarisation",
        env: "RAPHA_ARTIFACT_SUMMARISATION",
    },
    Plugin {
        dir: "icd-coding",
        package: "rapha-plugin-icd-coding",
        env: "RAPHA_ARTIFACT_ICD_CODING",
    },
    Plugin {
        dir: "fhir-extraction",
        package: "rapha-plugin-fhir-extraction",
        env: "RAPHA_ARTIFACT_FHIR_EXTRACTION",
    },
    Plugin {
        dir: "trial-matching",
        package: "rapha-plugin-trial-matching",
        env: "RAPHA_ARTIFACT_TRIAL_MATCHING",
    },
];

/// Plugins that misbehave on purpose, for the task host's tests.
const TEST_PLUGINS: [Plugin; 4] = [
    Plugin {
        dir: "testing/exfiltrate",
        package: "rapha-test-plugin-exfiltrate",
        env: "RAPHA_ARTIFACT_EXFILTRATE",
    },
    Plugin {
        dir: "testing/misbehave",
        package: "rapha-test-plugin-misbehave",
        env: "RAPHA_ARTIFACT_MISBEHAVE",
    },
    Plugin {
        dir: "testing/wrong-version",
        package: "rapha-test-plugin-wrong-version",
        env: "RAPHA_ARTIFACT_WRONG_VERSION",
    },
    Plugin {
        dir: "testing/forbidden-import",
        package: "rapha-test-plugin-forbidden-import",
        env: "RAPHA_ARTIFACT_FORBIDDEN_IMPORT",
    },
];

/// Folders under `plugins/` that hold a crate but no plugin.
const NOT_PLUGINS: [&str; 3] = ["sdk", "artifacts", "testing"];

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "release";

fn main() {
    if let Err(message) = build() {
        println!("cargo::error={message}");
        // A failing exit, not only the error line, makes cargo print the nested
        // build's output.
        std::process::exit(1);
    }
}

fn build() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let workspace = manifest_dir
        .ancestors()
        .nth(2)
        .ok_or("`CARGO_MANIFEST_DIR` is not `<workspace>/plugins/artifacts`")?
        .to_owned();
    let plugins = workspace.join("plugins");
    let all = || TASK_PLUGINS.iter().chain(&TEST_PLUGINS);

    for dir in all().map(|plugin| plugins.join(plugin.dir)) {
        rerun_if_changed(&dir)?;
    }
    rerun_if_changed(&plugins.join("sdk"))?;
    rerun_if_changed(&workspace.join("wit"))?;
    rerun_if_changed(&workspace.join("Cargo.toml"))?;
    rerun_if_changed(&workspace.join("Cargo.lock"))?;

    check_every_plugin_is_listed(&plugins)?;
    check_target_installed()?;

    let target_dir = nested_target_dir(&PathBuf::from(var("OUT_DIR")?));
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--locked",
            "--profile",
            PROFILE,
            "--target",
            TARGET,
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Cargo's build dir defaults to the target dir, but a configured one would be
        // shared with the outer build, whose lock it holds.
        .env("CARGO_BUILD_BUILD_DIR", &target_dir)
        // DWARF would make each component ten times larger and wasmtime does not read
        // it; stripping only the debug info keeps the name section, which names the
        // functions in a trap's backtrace.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        // The outer build's flags are for the host target (a `target-cpu`, coverage
        // instrumentation), and clippy's wrapper would only slow the nested build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for plugin in all() {
        command.args(["--package", plugin.package]);
    }
    eprintln!("running: {command:?}");
    let status = command
        .status()
        .map_err(|error| format!("cannot run the nested `cargo build`: {error}"))?;
    if !status.success() {
        return Err(format!(
            "the nested `cargo build --target {TARGET}` of the plugins failed ({status}); \
             its output is under `--- stderr` below"
        ));
    }

    let out = target_dir.join(TARGET).join(PROFILE);
    for plugin in all() {
        let wasm = out.join(format!("{}.wasm", plugin.package.replace('-', "_")));
        if !wasm.is_file() {
            return Err(format!(
                "the nested build did not produce `{}`: is `{}` a `cdylib`?",
                wasm.display(),
                plugin.package
            ));
        }
        let wasm = wasm
            .to_str()
            .ok_or_else(|| format!("component path is not UTF-8: `{}`", wasm.display()))?;
        println!("cargo::rustc-env={}={wasm}", plugin.env);
    }
    Ok(())
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|error| format!("`{name}`: {error}"))
}

/// Rerun when `path` changes: a file, or every file below a folder. Cargo watches a folder
/// named on its own by the folder's mtime, which an edit of a file inside it leaves alone.
fn rerun_if_changed(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|error| format!("cannot list `{}`: {error}", path.display()))?;
        for entry in entries {
            let entry = entry.map_err(|error| format!("cannot list `{}`: {error}", path.display()))?;
            if entry.file_name() != "target" {
                rerun_if_changed(&entry.path())?;
            }
        }
    }
    let path = path
        .to_str()
        .ok_or_else(|| format!("path is not UTF-8: `{}`", path.display()))?;
    println!("cargo::rerun-if-changed={path}");
    Ok(())
}

/// A crate folder under `plugins/` (or `plugins/testing/`) that is not built here would
/// be a plugin that no test loads; refuse it, as wasmtime refuses an unclassified test.
fn check_every_plugin_is_listed(plugins: &Path) -> Result<(), String> {
    let listed = |dir: &str| {
        NOT_PLUGINS.contains(&dir)
            || TASK_PLUGINS
                .iter()
                .chain(&TEST_PLUGINS)
                .any(|p| p.dir == dir)
    };
    for (parent, prefix) in [
        (plugins.to_owned(), ""),
        (plugins.join("testing"), "testing/"),
    ] {
        let entries = fs::read_dir(&parent)
            .map_err(|error| format!("cannot list `{}`: {error}", parent.display()))?;
        for entry in entries {
            let entry =
                entry.map_err(|error| format!("cannot list `{}`: {error}", parent.display()))?;
            let dir = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().join("Cargo.toml").is_file() && !listed(&dir) {
                return Err(format!(
                    "plugin crate `plugins/{dir}` is not built by `rapha-plugin-artifacts`: \
                     add it to `TASK_PLUGINS` or `TEST_PLUGINS` in `plugins/artifacts/build.rs` \
                     (and a task plugin to `foreach_plugin!`)"
                ));
            }
        }
    }
    Ok(())
}

/// Fail early, with the fix, rather than with rustc's "can't find crate for `core`".
fn check_target_installed() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|error| format!("cannot run `{}`: {error}", rustc.to_string_lossy()))?;
    let libdir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || !Path::new(&libdir).is_dir() {
        return Err(format!(
            "the `{TARGET}` target is not installed, and the plugins are built for it: \
             run `rustup target add {TARGET}`"
        ));
    }
    Ok(())
}

/// `<dir>/plugin-artifacts`, where `<dir>` holds the outer profile folders: `OUT_DIR` is
/// `<dir>/<profile>/build/<package>-<hash>/out`. Should cargo lay it out otherwise, the
/// components go in `OUT_DIR` itself, as in wasmtime: still apart from the outer lock.
fn nested_target_dir(out_dir: &Path) -> PathBuf {
    let mut ancestors = out_dir.ancestors();
    match (ancestors.nth(2), ancestors.nth(1)) {
        (Some(build), Some(dir)) if build.file_name().is_some_and(|name| name == "build") => {
            dir.join("plugin-artifacts")
        }
        _ => out_dir.join("plugin-artifacts"),
    }
}

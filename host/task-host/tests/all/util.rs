//! Hosts with temporary folders, records, and reading the plugin log.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rapha_task_host::{Limits, TaskHost, TaskPlugin};
use tempfile::TempDir;

/// A host whose log folder is fresh and whose component cache is shared by every test of
/// this binary, so each component is compiled once.
pub struct TestHost {
    pub host: TaskHost,
    pub dir: TempDir,
}

impl TestHost {
    pub fn new(limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let host = TaskHost::new(limits, shared_cache(), dir.path().join("logs")).expect("host starts");
        TestHost { host, dir }
    }

    pub fn load(&self, wasm: &str) -> TaskPlugin {
        TaskPlugin::load(&self.host, wasm).unwrap_or_else(|error| panic!("cannot load `{wasm}`: {error}"))
    }
}

fn shared_cache() -> PathBuf {
    static CACHE: OnceLock<TempDir> = OnceLock::new();
    CACHE
        .get_or_init(|| tempfile::tempdir().expect("temporary cache folder"))
        .path()
        .to_owned()
}

/// Limits small enough that a runaway test plugin stops within a second.
pub fn tight_limits() -> Limits {
    let mut limits = Limits::default();
    limits.fuel_per_call = 200_000_000;
    limits.memory_per_instance = 64 << 20;
    limits
}

/// A `misbehave` record asking for `behaviour`.
pub fn behaviour(name: &str) -> String {
    format!(r#"{{"id": "{name}", "behaviour": "{name}"}}"#)
}

/// The report a `misbehave` completion carries (the completion is a JSON string).
pub fn report(completion: &str) -> String {
    serde_json::from_str(completion).unwrap_or_else(|error| panic!("completion `{completion}` is not a JSON string: {error}"))
}

pub fn read_log(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read log `{}`: {error}", path.display()))
}

/// The first record of the small fixture `tests/data/plugins/<task>.jsonl` (the generated
/// datasets are checked end to end, by `rapha-host plugin check`).
pub fn first_record(task: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/plugins")
        .join(format!("{task}.jsonl"));
    let text = fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()));
    text.lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_else(|| panic!("`{}` has no record", path.display()))
        .to_owned()
}

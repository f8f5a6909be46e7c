//! Per-record call time of the same task in Rust and in Python, JavaScript or C, in one
//! run, so the figures compare as ratios: `cargo bench --profile dev --bench languages`.
//!
//! For each pair it measures, on one component:
//! - compile: wasmtime compiling the component (a cache miss), once;
//! - load: the compiled component read back from the cache and instantiated (median);
//! - cold: a new instance made and its first `format-example` + `score` of a record (median);
//! - warm: `format-example` + `score` per record on a live instance (mean over the
//!   validation set), with its fuel.
//!
//! The foreign components come from `scripts/build-foreign-plugins.sh`; a pair whose
//! component is missing is reported as such.

use std::path::Path;
use std::time::{Duration, Instant};

use rapha_task_host::{Call, Limits, TaskHost, TaskPlugin};

/// Repetitions of the load and cold measurements; their median is reported.
const REPEATS: usize = 5;

struct Figures {
    size_mib: f64,
    compile: Duration,
    load: Duration,
    cold: Duration,
    warm: Duration,
    warm_fuel: u64,
}

fn records(task: &str) -> Vec<String> {
    let path = format!("{}/data/{task}/val.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().filter(|line| !line.trim().is_empty()).map(str::to_owned).collect()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn round_trip(plugin: &mut TaskPlugin, index: usize, record: &str) {
    let formatted = plugin.format_example(index as u64, record).expect("formats the record");
    plugin.score(index as u64, &formatted.completion, record).expect("scores the record");
}

fn measure(wasm: &Path, records: &[String]) -> Figures {
    let work = tempfile::tempdir().expect("a temporary work folder");
    let host = TaskHost::new(Limits::default(), work.path().join("cache"), work.path().join("logs")).expect("host");
    let size_mib = std::fs::metadata(wasm).expect("component exists").len() as f64 / (1 << 20) as f64;

    let start = Instant::now();
    let mut plugin = TaskPlugin::load(&host, wasm).expect("the component loads");
    let compile = start.elapsed();

    let load = median(
        (0..REPEATS)
            .map(|_| {
                let start = Instant::now();
                TaskPlugin::load(&host, wasm).expect("the component loads from the cache");
                start.elapsed()
            })
            .collect(),
    );
    let cold = median(
        (0..REPEATS)
            .map(|i| {
                let start = Instant::now();
                let mut fresh = plugin.fresh().expect("a fresh instance");
                round_trip(&mut fresh, i, &records[i]);
                start.elapsed()
            })
            .collect(),
    );

    for (index, record) in records.iter().enumerate() {
        round_trip(&mut plugin, index, record);
    }
    let format = plugin.summary(Call::FormatExample).expect("format calls were made");
    let score = plugin.summary(Call::Score).expect("score calls were made");
    let calls = u32::try_from(records.len()).expect("a few records");
    Figures {
        size_mib,
        compile,
        load,
        cold,
        warm: (format.total_time + score.total_time) / calls,
        warm_fuel: (format.total_fuel + score.total_fuel) / u64::from(calls),
    }
}

fn millis(time: Duration) -> String {
    format!("{:.3}", time.as_secs_f64() * 1e3)
}

fn main() {
    let pairs = [
        ("icd-coding", rapha_plugin_artifacts::ICD_CODING, "icd-coding-py", "python"),
        ("summarisation", rapha_plugin_artifacts::SUMMARISATION, "summarisation-js", "javascript"),
        ("trial-matching", rapha_plugin_artifacts::TRIAL_MATCHING, "trial-matching-c", "c"),
    ];
    println!(
        "{:<16} {:<11} {:>8} {:>10} {:>9} {:>9} {:>10} {:>12} {:>10}",
        "task", "language", "MiB", "compile ms", "load ms", "cold ms", "warm ms", "warm fuel", "warm/rust"
    );
    for (task, rust_wasm, foreign_id, language) in pairs {
        let records = records(task);
        let rust = measure(Path::new(rust_wasm), &records);
        let foreign_wasm = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("plugins/dist/{foreign_id}.wasm"));
        let foreign = foreign_wasm.is_file().then(|| measure(&foreign_wasm, &records));
        for (name, figures) in [("rust", Some(&rust)), (language, foreign.as_ref())] {
            let Some(f) = figures else {
                println!("{task:<16} {name:<11} missing: run scripts/build-foreign-plugins.sh");
                continue;
            };
            println!(
                "{task:<16} {name:<11} {:>8.2} {:>10} {:>9} {:>9} {:>10} {:>12} {:>10.1}",
                f.size_mib,
                millis(f.compile),
                millis(f.load),
                millis(f.cold),
                millis(f.warm),
                f.warm_fuel,
                f.warm.as_secs_f64() / rust.warm.as_secs_f64()
            );
        }
    }
}

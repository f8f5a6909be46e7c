//! A format + score round trip per record: the plugin's Rust code called
//! natively, against the same code compiled to a component and called through
//! wasmtime with fuel, an epoch deadline and the deny-all WASI in place.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rapha_task_host::{Limits, TaskHost, TaskPlugin};
use rapha_task_sdk::{Task, parse_example};

const RECORDS: usize = 20;

fn records(task: &str) -> Vec<String> {
    let path = format!("{}/data/{task}/val.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().take(RECORDS).map(str::to_owned).collect()
}

fn native_round_trip<T: Task>(records: &[String]) -> f64 {
    let mut total = 0.0;
    for line in records {
        let example = parse_example(line).expect("a dataset record");
        let formatted = T::format_example(&example).expect("formats");
        let score = T::score(&formatted.completion, &example).expect("scores");
        total += score.metrics.first().map_or(0.0, |m| m.value);
    }
    total
}

fn component_round_trip(plugin: &mut TaskPlugin, records: &[String]) -> f64 {
    let mut total = 0.0;
    for (i, line) in records.iter().enumerate() {
        let formatted = plugin.format_example(i as u64, line).expect("formats");
        let score = plugin.score(i as u64, &formatted.completion, line).expect("scores");
        total += score.metrics.first().map_or(0.0, |m| m.value);
    }
    total
}

fn plugin_call(c: &mut Criterion) {
    let work = tempfile::tempdir().expect("a temporary work folder");
    let host = TaskHost::new(Limits::default(), work.path().join("cache"), work.path().join("logs")).expect("host");
    let mut group = c.benchmark_group("plugin_call");
    group.throughput(Throughput::Elements(RECORDS as u64));
    macro_rules! task {
        ($id:literal, $ty:ty, $wasm:expr) => {{
            let records = records($id);
            let mut plugin = TaskPlugin::load(&host, $wasm).expect("the component loads");
            group.bench_with_input(BenchmarkId::new("native", $id), &records, |b, r| b.iter(|| native_round_trip::<$ty>(r)));
            group.bench_with_input(BenchmarkId::new("component", $id), &records, |b, r| {
                b.iter(|| component_round_trip(&mut plugin, r))
            });
        }};
    }
    task!("summarisation", rapha_plugin_summarisation::Summarisation, rapha_plugin_artifacts::SUMMARISATION);
    task!("icd-coding", rapha_plugin_icd_coding::IcdCoding, rapha_plugin_artifacts::ICD_CODING);
    task!("fhir-extraction", rapha_plugin_fhir_extraction::FhirExtraction, rapha_plugin_artifacts::FHIR_EXTRACTION);
    task!("trial-matching", rapha_plugin_trial_matching::TrialMatching, rapha_plugin_artifacts::TRIAL_MATCHING);
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = plugin_call
}

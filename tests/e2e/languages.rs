//! Plugins written in Python, JavaScript and C, loaded through the host: each passes
//! `plugin check`, and gives the same bits as the Rust plugin of the same task on every
//! call — `info`, `format-example`, `score`, `aggregate`, `reward` and `validate` — over
//! the task's validation and test records and a set of predictions built from them.
//!
//! The components are built by `scripts/build-foreign-plugins.sh` into `plugins/dist/`.
//! When one is missing the tests say so and pass, so that a machine without the Python,
//! JavaScript or C toolchain can still run the rest; with `CI=true` they fail instead.

use std::path::PathBuf;
use std::process::Command;

use rapha_plugin_artifacts::{ICD_CODING, SUMMARISATION, TRIAL_MATCHING};
use rapha_task_host::{ExampleScore, Limits, TaskHost, TaskInfo, TaskPlugin};

use crate::util::root;

/// The component of a foreign plugin, or `None` (outside CI) when it was not built.
fn foreign(id: &str) -> Option<PathBuf> {
    let path = root().join("plugins/dist").join(format!("{id}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    let message = format!("`{}` is missing: run scripts/build-foreign-plugins.sh", path.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// The work folder of these tests: kept between runs, so the interpreters' components
/// (tens of MB, several seconds to compile) come from the compiled-component cache.
fn persistent_work() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("languages-work")
}

fn load(path: &str) -> TaskPlugin {
    let work = persistent_work();
    let host = TaskHost::new(Limits::default(), work.join("cache/components"), work.join("logs"))
        .expect("task host starts");
    TaskPlugin::load(&host, path).unwrap_or_else(|error| panic!("cannot load `{path}`: {error:#}"))
}

/// The records of a task's validation and test sets, as JSONL lines.
fn records(task: &str) -> Vec<String> {
    ["val", "test"]
        .iter()
        .flat_map(|split| {
            let path = root().join("data").join(task).join(format!("{split}.jsonl"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()));
            text.lines().filter(|line| !line.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// Predictions for record `index` given every record's target completion: right, wrong
/// (the next record's answer), cut short, empty, not JSON, shouted, and wrapped in prose
/// and a code fence.
fn predictions(completions: &[String], index: usize) -> Vec<String> {
    let own = &completions[index];
    let half: String = own.chars().take(own.chars().count() / 2).collect();
    vec![
        own.clone(),
        completions[(index + 1) % completions.len()].clone(),
        half,
        String::new(),
        "not json".to_owned(),
        own.to_ascii_uppercase(),
        format!("Here is the answer:\n```json\n{own}\n```"),
    ]
}

/// `info` without what names the implementation.
fn contract_part(info: &TaskInfo) -> TaskInfo {
    TaskInfo {
        id: String::new(),
        version: String::new(),
        description: String::new(),
        ..info.clone()
    }
}

/// Metric and count values as bits, so that equality is exact (and NaN-proof).
fn bits(score: &ExampleScore) -> Vec<(String, u64)> {
    let metrics = score.metrics.iter().map(|m| (m.name.clone(), m.value.to_bits()));
    let counts = score.counts.iter().map(|c| (format!("count {}", c.key), c.value.to_bits()));
    metrics.chain(counts).collect()
}

/// Every call of `foreign` returns what the same call of `rust` returns, to the bit.
fn same_results(foreign_wasm: &str, rust_wasm: &str, task: &str) {
    let mut foreign = load(foreign_wasm);
    let mut rust = load(rust_wasm);
    assert_eq!(contract_part(foreign.info()), contract_part(rust.info()), "`info` of `{foreign_wasm}`");

    let records = records(task);
    let mut completions = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let at = format!("`{task}` record {index}");
        let expected = rust.format_example(index as u64, record).expect("rust formats the record");
        let found = foreign.format_example(index as u64, record).unwrap_or_else(|e| panic!("{at}: {e:#}"));
        assert_eq!(found, expected, "`format-example` of {at}");
        completions.push(expected.completion);
    }

    let (mut rust_scores, mut foreign_scores) = (Vec::new(), Vec::new());
    for (index, record) in records.iter().enumerate() {
        for (variant, prediction) in predictions(&completions, index).iter().enumerate() {
            let at = format!("`{task}` record {index}, prediction {variant} {prediction:?}");
            let i = index as u64;
            let expected = rust.score(i, prediction, record).expect("rust scores");
            let found = foreign.score(i, prediction, record).unwrap_or_else(|e| panic!("{at}: {e:#}"));
            assert_eq!(bits(&found), bits(&expected), "`score` of {at}");
            let expected_reward = rust.reward(i, prediction, record).expect("rust rewards");
            let found_reward = foreign.reward(i, prediction, record).unwrap_or_else(|e| panic!("{at}: {e:#}"));
            assert_eq!(found_reward.to_bits(), expected_reward.to_bits(), "`reward` of {at}");
            let expected_verdict = rust.validate(i, prediction).expect("rust validates").is_ok();
            let found_verdict = foreign.validate(i, prediction).unwrap_or_else(|e| panic!("{at}: {e:#}")).is_ok();
            assert_eq!(found_verdict, expected_verdict, "`validate` of {at}");
            rust_scores.push(expected);
            foreign_scores.push(found);
        }
    }
    let expected = rust.aggregate(&rust_scores).expect("rust aggregates");
    let found = foreign.aggregate(&foreign_scores).unwrap_or_else(|e| panic!("`aggregate`: {e:#}"));
    let as_bits = |metrics: &[rapha_task_host::Metric]| -> Vec<(String, u64)> {
        metrics.iter().map(|m| (m.name.clone(), m.value.to_bits())).collect()
    };
    assert_eq!(as_bits(&found), as_bits(&expected), "`aggregate` over {} scores", rust_scores.len());
}

/// `rapha-host plugin check` passes on the task's validation set.
fn check_passes(wasm: &str, task: &str) {
    let data = root().join("data").join(task).join("val.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_rapha-host"))
        .arg("--work")
        .arg(persistent_work())
        .args(["plugin", "check", wasm, "--data"])
        .arg(&data)
        .output()
        .expect("rapha-host runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.ends_with("check passed\n"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

macro_rules! language {
    ($name:ident, $id:literal, $rust:expr, $task:literal) => {
        mod $name {
            use super::*;

            #[test]
            fn passes_plugin_check() {
                if let Some(wasm) = foreign($id) {
                    check_passes(wasm.to_str().expect("UTF-8 path"), $task);
                }
            }

            #[test]
            fn gives_the_rust_plugins_bits() {
                if let Some(wasm) = foreign($id) {
                    same_results(wasm.to_str().expect("UTF-8 path"), $rust, $task);
                }
            }
        }
    };
}

language!(python, "icd-coding-py", ICD_CODING, "icd-coding");
language!(javascript, "summarisation-js", SUMMARISATION, "summarisation");
language!(c, "trial-matching-c", TRIAL_MATCHING, "trial-matching");

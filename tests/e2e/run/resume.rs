//! A run stopped mid-training — killed outright, or interrupted with SIGINT — and continued
//! with `--resume` ends with the adapter an uninterrupted run gives, byte for byte.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use rapha_plugin_artifacts::FHIR_EXTRACTION;
use serde_json::Value;

use super::{Recipe, copy_fhir_data, names, read, read_json, read_text};
use crate::util::{Dir, Spawned};

/// 12 steps, a checkpoint every 2, an evaluation every 4; 5 test records, so the final
/// table falls under the small-cell rule.
fn recipe() -> Recipe {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe
        .set("train", "max_steps", "12")
        .set("train", "checkpoint_every", "2")
        .set("train", "eval_every", "4")
        .set("eval", "records", "4")
        .set("eval", "test_records", "5")
        .set("eval", "max_new_tokens", "8");
    recipe
}

/// The newest complete checkpoint's step (checkpoints are renamed into place whole).
fn latest_checkpoint(work: &Path) -> Option<u64> {
    names(&work.join("checkpoints")).iter().filter_map(|name| name.strip_prefix("checkpoint-")?.parse().ok()).max()
}

/// Wait until the run has a checkpoint after step `after`; its step.
fn wait_for_checkpoint(run: &mut Spawned, work: &Path, after: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(step) = latest_checkpoint(work).filter(|step| *step > after) {
            return step;
        }
        if let Some(status) = run.child.try_wait().expect("poll rapha-host") {
            let checkpoints = names(&work.join("checkpoints"));
            panic!("the run ended ({status}) before a checkpoint after step {after}: {checkpoints:?}");
        }
        assert!(Instant::now() < deadline, "no checkpoint after step {after} within 300 s");
        sleep(Duration::from_millis(20));
    }
}

#[test]
fn killed_and_interrupted_runs_resume_to_the_adapter_of_an_uninterrupted_run() {
    let a = Dir::new();
    copy_fhir_data(&a);
    recipe().write(&a);
    a.command().args(["run", "recipe.toml"]).stdout();
    small_cells_are_suppressed(&a.path().join("export"));

    let b = Dir::new();
    copy_fhir_data(&b);
    recipe().write(&b);
    let work = b.path().join("work");
    let (out, err) = (b.path().join("stdout"), b.path().join("stderr"));

    // SIGKILL: no handler runs; the latest checkpoint is all that is left.
    let mut run = b.command().args(["run", "recipe.toml"]).spawn(&out, &err);
    let killed_after = wait_for_checkpoint(&mut run, &work, 1);
    run.child.kill().expect("SIGKILL");
    let killed = run.wait();
    assert_eq!(killed.code, None, "killed by a signal; stderr:\n{}", killed.stderr);
    assert!(names(&b.path().join("export")).is_empty());

    // SIGINT after the resumed run's next checkpoint: a checkpoint, exit 130, how to go on.
    let mut run = b.command().args(["run", "recipe.toml", "--resume"]).spawn(&out, &err);
    let resumed_to = wait_for_checkpoint(&mut run, &work, killed_after);
    run.signal("INT");
    let interrupted = run.wait();
    assert_eq!(
        interrupted.code,
        Some(130),
        "killed after step {killed_after}, resumed to {resumed_to}; stderr:\n{}",
        interrupted.stderr
    );
    let stderr = &interrupted.stderr;
    assert!(stderr.contains("error: stopped by a signal at step "), "{stderr}");
    assert!(stderr.contains("; continue with `rapha-host run recipe.toml --resume`"), "{stderr}");
    let stopped_at = latest_checkpoint(&work).expect("a checkpoint");
    assert!(stopped_at < 12, "stopped at step {stopped_at}");
    assert!(stderr.contains(&format!("at step {stopped_at} (checkpoint `")), "{stderr}");
    assert!(names(&b.path().join("export")).is_empty());

    b.command().args(["run", "recipe.toml", "--resume"]).stdout();

    let (export_a, export_b) = (a.path().join("export"), b.path().join("export"));
    assert!(
        read(&export_a.join("adapter_model.safetensors")) == read(&export_b.join("adapter_model.safetensors")),
        "the resumed adapter differs from the uninterrupted one (killed after step {killed_after}, \
         interrupted at {stopped_at})"
    );
    assert_eq!(read_json(&export_a.join("loss_history.json")), read_json(&export_b.join("loss_history.json")));
    assert_eq!(read_json(&export_a.join("adapter_config.json")), read_json(&export_b.join("adapter_config.json")));
    for name in ["test-base.jsonl", "test-adapter.jsonl"] {
        let predictions = |dir: &Dir| read_text(&dir.path().join("work/predictions").join(name));
        assert_eq!(predictions(&a), predictions(&b), "{name}");
    }
    let training = |dir: &Path| {
        let mut training = read_json(&dir.join("metrics.json"))["training"].clone();
        training.as_object_mut().expect("`training`").remove("tokens_per_second");
        training
    };
    assert_eq!(training(&export_a), training(&export_b));
}

/// Five test records: their count and every metric leave as suppressed, and the report shows
/// `n<11`.
fn small_cells_are_suppressed(export: &Path) {
    let metrics = read_json(&export.join("metrics.json"));
    let table = &metrics["metrics"];
    assert_eq!(table["records"], "<11");
    assert_eq!(table["suppressed"], "fewer than 11 records");
    for column in ["base", "adapter", "delta"] {
        let values = table[column].as_object().unwrap_or_else(|| panic!("`{column}`: {metrics:#}"));
        assert!(!values.is_empty(), "{metrics:#}");
        assert!(values.values().all(Value::is_null), "`{column}` not suppressed: {metrics:#}");
    }
    // Four evaluations of 4 validation records each: below the cell size too.
    let history = read_json(&export.join("loss_history.json"));
    for eval in history["evals"].as_array().expect("`evals`") {
        assert_eq!(eval["eval_loss"], Value::Null, "{eval}");
    }
    let report = read_text(&export.join("report.txt"));
    assert!(report.contains("n<11"), "{report}");
}

//! Hostile inputs during a real run: the `misbehave` plugin reaching for a file and for
//! sockets (denied and logged, the run goes on), one looping forever (stopped by its
//! deadline, the run fails naming the record), and an export the egress gate refuses
//! (rolled back whole).
//!
//! The records are `tests/data/run/misbehave-*.jsonl`; `train-4` carries a note whose
//! words the gate test smuggles into the report.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rapha_plugin_artifacts::MISBEHAVE;

use super::{Recipe, audit, names, read_text, tiny_model};
use crate::util::{Dir, Output, root};

fn data(split: &str) -> PathBuf {
    root().join("tests/data/run").join(format!("misbehave-{split}.jsonl"))
}

/// Two steps over the misbehave records, one evaluation, four new tokens.
fn recipe() -> Recipe {
    let mut recipe = Recipe::tiny(MISBEHAVE);
    for split in ["train", "val", "test"] {
        recipe.set("data", split, &format!("{:?}", data(split).display().to_string()));
    }
    recipe
        .set("train", "max_steps", "2")
        .set("train", "eval_every", "2")
        .set("eval", "records", "2")
        .set("eval", "test_records", "2")
        .set("eval", "max_new_tokens", "4")
        .set("privacy", "min_records", "1")
        // Four records: too few to hold any out for the leakage audit.
        .set("audit", "enabled", "false")
        // The probes recur in every split by design.
        .set("data", "allow_overlap", "true");
    recipe
}

/// The plugin's log in the work folder (named after the component file).
fn plugin_log(dir: &Dir) -> String {
    let logs = dir.path().join("work/logs");
    let name = format!("plugin-{}.log", PathBuf::from(MISBEHAVE).file_stem().expect("a file name").to_string_lossy());
    assert_eq!(names(&logs), std::slice::from_ref(&name));
    read_text(&logs.join(name))
}

#[test]
fn run_denies_and_logs_a_plugins_file_and_socket_attempts_and_finishes() {
    let dir = Dir::new();
    recipe().write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).output();
    assert_eq!(output.code, Some(0), "stdout:\n{}\nstderr:\n{}", output.stdout, output.stderr);

    let log = plugin_log(&dir);
    for attempt in [
        "denied `wasi:filesystem/preopens.get-directories` (no directories): ",
        "denied `wasi:sockets/tcp-create-socket.create-tcp-socket` (access-denied): ",
        "denied `wasi:sockets/udp-create-socket.create-udp-socket` (access-denied): ",
    ] {
        assert!(log.contains(attempt), "no `{attempt}` in the plugin log:\n{log}");
    }
    // Each denial names the call and record it happened in.
    assert!(log.contains("call `format-example`, record 2"), "{log}");
    assert!(log.contains("call `score`"), "{log}");
    // The operator hears of each kind once, without the plugin's data.
    assert!(output.stderr.contains("plugin attempted something it is not given"), "{}", output.stderr);
    assert!(!output.stderr.contains("obtained"), "{}", output.stderr);
    // The export carries the run as usual.
    assert_eq!(names(&dir.path().join("export")).len(), 6);
}

#[test]
fn run_stops_a_plugin_that_loops_at_its_deadline_naming_the_record() {
    let dir = Dir::new();
    fs::create_dir(dir.path().join("data")).expect("create data/");
    dir.create("data/train.jsonl", "{\"id\": \"a\", \"behaviour\": \"ok\"}\n{\"id\": \"b\", \"behaviour\": \"loop\"}\n");
    let mut recipe = recipe();
    recipe.set("data", "train", "\"data/train.jsonl\"").set("plugin", "deadline_ms", "300").set("data", "max_rejected", "5");
    recipe.write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    let error = output.stderr.lines().find(|line| line.starts_with("error: ")).expect("an error line");
    assert!(error.starts_with("error: data/train.jsonl:2: plugin `misbehave` "), "{error}");
    assert!(error.contains("call `format-example`, record 2"), "{error}");
    assert!(names(&dir.path().join("export")).is_empty());
}

/// SIGTERM while a plugin call spins under a ten-minute deadline and an unbounded fuel budget
/// (scoring the first evaluation): the call is stopped, the run writes its checkpoint and exits
/// with 130 within seconds.
#[test]
fn sigterm_stops_a_spinning_plugin_call_and_the_run_checkpoints_and_exits() {
    let dir = Dir::new();
    unbounded(&dir, "val", "{\"id\": \"v1\", \"behaviour\": \"loop-when-scored\"}\n{\"id\": \"v2\", \"behaviour\": \"ok\"}\n");
    let output = terminate_once(&dir, &dir.path().join("work/predictions/val-step-2.jsonl"));
    assert_eq!(output.code, Some(130), "{}", output.stderr);
    assert!(output.stderr.contains("stopped by a signal at step 2 (checkpoint `"), "{}", output.stderr);
    assert!(dir.path().join("work/checkpoints/checkpoint-2/checksums.json").is_file());
    assert!(names(&dir.path().join("export")).is_empty());
}

/// SIGTERM while formatting the training data spins in a plugin call: the run ends at once,
/// and says that nothing was started to resume.
#[test]
fn sigterm_while_reading_the_data_stops_the_run_with_nothing_to_resume() {
    let dir = Dir::new();
    unbounded(&dir, "train", "{\"id\": \"a\", \"behaviour\": \"ok\"}\n{\"id\": \"b\", \"behaviour\": \"loop\"}\n");
    let output = terminate_once(&dir, &dir.path().join("work/logs"));
    assert_eq!(output.code, Some(130), "{}", output.stderr);
    assert!(
        output.stderr.contains("stopped by a signal at step 0; it stopped before starting anything to resume: run it again"),
        "{}",
        output.stderr
    );
    assert!(!dir.path().join("work/run.json").exists());
}

/// Write the recipe in `dir`, its `split` records being `lines` in `data/`, with a deadline of
/// ten minutes per call and fuel without end: only a stop request ends a spinning call.
fn unbounded(dir: &Dir, split: &str, lines: &str) {
    fs::create_dir(dir.path().join("data")).expect("create data/");
    dir.create(&format!("data/{split}.jsonl"), lines);
    let mut recipe = recipe();
    recipe
        .set("data", split, &format!("\"data/{split}.jsonl\""))
        .set("plugin", "deadline_ms", "600000")
        .set("plugin", "fuel", "1000000000000000000");
    recipe.write(dir);
}

/// Start `rapha-host run recipe.toml` in `dir`, send SIGTERM half a second after `ready`
/// appears, and return what it did; it must end within 10 s of the signal.
fn terminate_once(dir: &Dir, ready: &Path) -> Output {
    let (out, err) = (dir.path().join("out.txt"), dir.path().join("err.txt"));
    let mut run = dir.command().args(["run", "recipe.toml"]).spawn(&out, &err);
    let started = Instant::now();
    while !ready.exists() {
        assert!(run.child.try_wait().expect("poll").is_none(), "the run ended before `{}` appeared", ready.display());
        assert!(started.elapsed() < Duration::from_secs(120), "no `{}` within 120 s", ready.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    run.signal("TERM");
    let signalled = Instant::now();
    while run.child.try_wait().expect("poll").is_none() {
        assert!(signalled.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.wait()
}

/// A plugin whose own `validate` refuses its target completion: the run refuses the record,
/// naming it, before any training.
#[test]
fn run_refuses_a_target_completion_that_the_plugins_own_validate_refuses() {
    let dir = Dir::new();
    fs::create_dir(dir.path().join("data")).expect("create data/");
    dir.create("data/train.jsonl", "{\"id\": \"a\", \"behaviour\": \"ok\"}\n{\"id\": \"b\", \"behaviour\": \"bad-target\"}\n");
    let mut recipe = recipe();
    recipe.set("data", "train", "\"data/train.jsonl\"");
    recipe.write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    let error = output.stderr.lines().find(|line| line.starts_with("error: ")).expect("an error line");
    assert!(
        error.starts_with(
            "error: data/train.jsonl:2: the plugin's `validate` rejects its own target completion for record `b` at `` \
             (the reason is in the plugin's log); "
        ),
        "{error}"
    );
    assert!(error.ends_with("stopping: the recipe's `data.max_rejected` is 0 and 0 lines or records were skipped before"), "{error}");
    assert!(!output.stderr.contains("step 1"), "{}", output.stderr);
    assert!(names(&dir.path().join("export")).is_empty());
}

/// An honest way to make the gate refuse: a model folder named with eight words of a
/// training note. The model's name goes into the adapter config (and the metrics and the
/// report), and the gate's verbatim check covers every exported text.
#[test]
fn run_rolls_back_the_whole_export_when_the_gate_refuses_a_file() {
    let dir = Dir::new();
    let model = dir.path().join("crushing-chest-pain-radiating-to-the-left-arm");
    fs::create_dir(&model).expect("create the model folder");
    for name in names(&tiny_model()) {
        fs::copy(tiny_model().join(&name), model.join(&name)).expect("copy the model");
    }
    let mut recipe = recipe();
    recipe.set("model", "path", &format!("{:?}", model.display().to_string()));
    recipe.write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    let error = output.stderr.lines().find(|line| line.starts_with("error: ")).expect("an error line");
    assert!(error.starts_with("error: the export failed; nothing was left in the export folder: "), "{error}");
    // The adapter config comes second and carries the model's name (`base_model_name_or_path`).
    assert!(
        error.ends_with(
            "export of `adapter_config.json` refused: content: `/base_model_name_or_path`: \
             a run of 8 words copied from the training or evaluation text starts at word 0"
        ),
        "{error}"
    );

    assert!(names(&dir.path().join("export")).is_empty(), "{:?}", names(&dir.path().join("export")));
    let audit = audit(&dir.path().join("work"));
    let refused: Vec<&[String; 4]> = audit.iter().filter(|line| line[2] == "refused").collect();
    assert_eq!(refused.len(), 1, "{audit:#?}");
    assert_eq!(refused[0][1], "adapter_config.json");
    let allowed: Vec<&str> =
        audit.iter().filter(|line| line[0] == "export" && line[2] == "allowed").map(|line| line[1].as_str()).collect();
    let rolled_back: Vec<&str> =
        audit.iter().filter(|line| line[0] == "rollback").map(|line| line[1].as_str()).collect();
    assert_eq!(allowed, ["adapter_model.safetensors"], "{audit:#?}");
    assert_eq!(rolled_back, allowed, "every file let out is removed again: {audit:#?}");
}

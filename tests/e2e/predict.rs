//! `rapha-host predict`: from a run's exported adapter it gives the answers the run's own test
//! evaluation gave, byte for byte, and so does the base model; a stopped file is continued
//! to the same bytes; changed inputs and adapters that do not fit the model are refused.

use std::fs;
use std::path::Path;

use rapha_plugin_artifacts::FHIR_EXTRACTION;

use crate::run::{Recipe, copy_fhir_data, read_text, tiny_model};
use crate::util::{Cmd, Dir, root};

/// `predict data/test.jsonl` with `model` as the tiny recipe's run generates: 16 new tokens,
/// 4 prompts a batch; answers named `name`.
fn predict_with(dir: &Dir, name: &str, model: &Path) -> Cmd {
    let mut cmd = dir.command();
    cmd.args(["predict", "data/test.jsonl", "--plugin", FHIR_EXTRACTION, "--name", name])
        .arg_pair("--model", model)
        .args(["--max-new-tokens", "16", "--batch", "4", "--sandbox", "best-effort"]);
    cmd
}

/// [`predict_with`] the tiny Llama.
fn predict(dir: &Dir, name: &str) -> Cmd {
    predict_with(dir, name, &tiny_model())
}

/// The first `n` lines of `path`, each with its newline.
fn first_lines(path: &Path, n: usize) -> String {
    read_text(path).split_inclusive('\n').take(n).collect()
}

#[test]
fn predict_gives_the_answers_of_a_runs_own_evaluation_and_continues_a_stopped_file() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    Recipe::tiny(FHIR_EXTRACTION).write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let predictions = dir.work().join("predictions");

    let stdout = predict(&dir, "base").stdout();
    assert!(stdout.contains("100 answers in"), "{stdout}");
    let stdout = predict(&dir, "adapter").arg_pair("--adapter", &dir.path().join("export")).stdout();
    assert!(stdout.contains("(0 made by an earlier `predict`)"), "{stdout}");
    // The run evaluated the first 12 test records, 4 at a time, as these commands did.
    for (ours, run) in [("base", "test-base"), ("adapter", "test-adapter")] {
        let theirs = read_text(&predictions.join(format!("{run}.jsonl")));
        assert_eq!(theirs.lines().count(), 12);
        assert_eq!(first_lines(&predictions.join(format!("{ours}.jsonl")), 12), theirs, "{ours}");
    }
    let base = read_text(&predictions.join("base.jsonl"));
    assert_ne!(base, read_text(&predictions.join("adapter.jsonl")), "the trained adapter changes some answer");

    // Stopped after two batches, in the middle of writing the third: the torn line is cut and
    // the rest answered, to the bytes of the uninterrupted command.
    let torn = first_lines(&predictions.join("base.jsonl"), 9);
    fs::write(predictions.join("base.jsonl"), &torn[..torn.len() - 20]).expect("write the stopped file");
    let stdout = predict(&dir, "base").stdout();
    assert!(stdout.contains("(8 made by an earlier `predict`)"), "{stdout}");
    assert_eq!(read_text(&predictions.join("base.jsonl")), base);

    // Another prompt for the same file: refused, naming what changed.
    let refused = predict(&dir, "base").args(["--system-prompt", "Answer in JSON."]).fails_with(1);
    assert!(refused.stderr.contains("holds answers made from other inputs (system_prompt changed)"), "{}", refused.stderr);
    // A run's own predictions are not predict's to continue.
    let refused = predict(&dir, "test-base").fails_with(1);
    assert!(refused.stderr.contains("was not written by `predict`"), "{}", refused.stderr);
    assert_eq!(read_text(&predictions.join("base.jsonl")), base, "nothing rewritten by a refused command");
}

#[test]
fn an_adapter_for_another_model_or_a_missing_input_is_refused_by_name() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    // PEFT's own adapter for the tiny Llama, rank 8 on every projection, on a model whose
    // key/value projections are narrower (one key/value head).
    let adapter = root().join("host/engine/tests/fixtures/peft/llama3-rslora");
    let refused = predict_with(&dir, "x", &root().join("host/engine/tests/fixtures/tiny/mistral"))
        .arg_pair("--adapter", &adapter)
        .fails_with(1);
    assert!(refused.stderr.contains(&format!("the adapter `{}` does not fit the model `mistral`", adapter.display())), "{}", refused.stderr);
    assert!(refused.stderr.contains("v_proj` lora_B: expected shape [16, 4], found [32, 4]"), "{}", refused.stderr);

    let refused = predict(&dir, "x").arg_pair("--adapter", &dir.path().join("no-such-adapter")).fails_with(1);
    assert!(refused.stderr.contains("--adapter: `"), "{}", refused.stderr);
    assert!(refused.stderr.contains("no-such-adapter` does not exist"), "{}", refused.stderr);
    assert!(!dir.work().join("predictions/x.jsonl").exists());
}

/// The first `n` records of `data/<task>/test.jsonl` into `dir/<task>.jsonl`; its path.
fn first_records(dir: &Dir, task: &str, n: usize) -> std::path::PathBuf {
    let records = first_lines(&root().join("data").join(task).join("test.jsonl"), n);
    dir.create(&format!("{task}.jsonl"), &records)
}

#[test]
fn schema_decoding_makes_the_real_base_model_answer_in_valid_json() {
    let dir = Dir::new();
    let model = root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(model.is_file(), "{} is missing: run scripts/fetch-model.sh", model.display());
    for (task, plugin) in [("fhir-extraction", FHIR_EXTRACTION), ("trial-matching", rapha_plugin_artifacts::TRIAL_MATCHING)] {
        let records = first_records(&dir, task, 4);
        let mut cmd = dir.command();
        cmd.args([std::ffi::OsStr::new("predict"), records.as_os_str()]).args(["--plugin", plugin, "--decoding", "schema", "--max-new-tokens", "256"]);
        cmd.arg_pair("--model", &model).args(["--sandbox", "best-effort", "--name", task]).stdout();
        let answers = dir.work().join("predictions").join(format!("{task}.jsonl"));
        let inputs = read_text(&answers.with_extension("inputs.json"));
        assert!(inputs.contains(r#""decoding": "schema""#), "{inputs}");
        let scores = dir.work().join(format!("{task}-scores.json"));
        dir.command().args(["plugin", "score", plugin]).arg_pair("--data", &records).arg_pair("--predictions", &answers).arg_pair("--out", &scores).stdout();
        let scores: serde_json::Value = serde_json::from_str(&read_text(&scores)).expect("scores are JSON");
        for metric in ["schema_valid_rate", "validate_pass_rate"] {
            assert_eq!(scores["host"][metric], 1.0, "{task} {metric}: {scores:#}");
        }
        for line in read_text(&answers).lines() {
            let answer: serde_json::Value = serde_json::from_str(line).expect("a prediction line");
            let text = answer["prediction"].as_str().expect("the answer");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{task}: not JSON: {text}");
        }
    }
}

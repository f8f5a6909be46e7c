//! Bad recipes and bad data: exit 1 with a message that names the file, the line (and
//! column), the key and what was expected; nothing reaches the export folder.

use std::fs;

use rapha_plugin_artifacts::FHIR_EXTRACTION;

use super::{Recipe, copy_fhir_data, names, read_text, sha256_file};
use crate::util::{Dir, Output};

/// Run `recipe` in a folder holding the FHIR data; assert exit 1 and an export folder
/// left absent or empty; the output.
fn refused(recipe: &Recipe, prepare: impl FnOnce(&Dir)) -> Output {
    refused_in(recipe, prepare).1
}

/// [`refused`], with the folder it ran in.
pub(super) fn refused_in(recipe: &Recipe, prepare: impl FnOnce(&Dir)) -> (Dir, Output) {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    prepare(&dir);
    recipe.write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    let export = names(&dir.path().join("export"));
    assert!(export.is_empty(), "the export folder holds {export:?}\nstderr:\n{}", output.stderr);
    (dir, output)
}

/// The `error: …` line.
pub(super) fn error_line(output: &Output) -> &str {
    output
        .stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error:` line in:\n{}", output.stderr))
}

#[test]
fn run_refuses_an_unknown_key_listing_the_known_ones() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("train", "lrate", "1e-3");
    let output = refused(&recipe, |_| {});
    let line = format!("{}:1", recipe.line("train", Some("lrate")));
    let error = error_line(&output);
    assert!(
        error.starts_with(&format!("error: recipe.toml:{line}: unknown key `train.lrate`: expected one of `epochs`, ")),
        "{error}"
    );
    assert!(error.contains("`lr`"), "{error}");
}

#[test]
fn run_refuses_a_value_of_the_wrong_type() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("lora", "rank", "\"4\"");
    let output = refused(&recipe, |_| {});
    crate::eqnice!(
        format!(
            "error: recipe.toml:{}: `lora.rank`: expected an integer from 1 to 256, found a string",
            recipe.position("lora", "rank")
        ),
        error_line(&output)
    );
}

#[test]
fn run_refuses_a_missing_required_key_at_its_table() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.remove("data", "train");
    let output = refused(&recipe, |_| {});
    crate::eqnice!(
        format!(
            "error: recipe.toml:{}: missing key `data.train`: expected the training records: a JSONL file",
            format!("{}:1", recipe.line("data", None))
        ),
        error_line(&output)
    );
}

#[test]
fn run_refuses_a_data_file_that_does_not_exist() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("data", "val", "\"nope.jsonl\"");
    let output = refused(&recipe, |_| {});
    crate::eqnice!(
        format!(
            "error: recipe.toml:{}: `data.val`: expected an existing file, found `nope.jsonl` (no such file)",
            recipe.position("data", "val")
        ),
        error_line(&output)
    );
}

#[test]
fn run_refuses_a_select_metric_the_plugin_does_not_declare() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("train", "select_metric", "\"nope\"");
    let output = refused(&recipe, |_| {});
    let error = error_line(&output);
    let start = format!(
        "error: recipe.toml:{}: `train.select_metric`: expected `eval_loss` or a metric of plugin `fhir-extraction`: ",
        recipe.position("train", "select_metric")
    );
    assert!(error.starts_with(&start), "expected the start:\n{start}\ngot:\n{error}");
    assert!(error.contains("`field_f1`") && error.contains("`json_valid`"), "{error}");
    assert!(error.ends_with(", found `nope`"), "{error}");
}

#[test]
fn run_refuses_a_plugin_whose_sha256_differs_from_the_pinned_one() {
    let pinned = "0".repeat(64);
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("plugin", "sha256", &format!("{pinned:?}"));
    let output = refused(&recipe, |_| {});
    crate::eqnice!(
        format!(
            "error: recipe.toml:{}: `plugin.sha256`: expected the plugin's sha256 `{}`, found `{pinned}`",
            recipe.position("plugin", "sha256"),
            sha256_file(std::path::Path::new(FHIR_EXTRACTION))
        ),
        error_line(&output)
    );
}

/// Replace line `number` (1-based) of `file` in `dir` with `text`.
fn replace_line(dir: &Dir, file: &str, number: usize, text: &str) {
    let path = dir.path().join(file);
    let mut lines: Vec<String> = read_text(&path).lines().map(str::to_owned).collect();
    lines[number - 1] = text.to_owned();
    fs::write(&path, lines.join("\n") + "\n").expect("write the data");
}

#[test]
fn run_stops_at_a_malformed_line_naming_file_line_and_column() {
    let malformed = "{\"id\": \"v\", \"note\" 5}";
    let output = refused(&Recipe::tiny(FHIR_EXTRACTION), |dir| replace_line(dir, "data/val.jsonl", 7, malformed));
    crate::eqnice!(
        "error: data/val.jsonl:7:20: expected a JSON object per line, found invalid JSON (a syntax error); \
         stopping: the recipe's `data.max_rejected` is 0 and 0 lines or records were skipped before",
        error_line(&output)
    );
}

#[test]
fn run_refuses_a_training_plan_that_cannot_work_before_training_naming_the_key() {
    let mut epochs = Recipe::tiny(FHIR_EXTRACTION);
    epochs.remove("train", "max_steps").set("train", "epochs", "1e9");
    let mut warmup = Recipe::tiny(FHIR_EXTRACTION);
    warmup.set("train", "warmup_steps", "6");
    let mut context = Recipe::tiny(FHIR_EXTRACTION);
    context.set("train", "max_seq_len", "512");
    let cases = [
        (epochs, "epochs", "expected epochs that come to at most 10000000 optimizer steps, found `1000000000`: 250000000000 steps of 250 per epoch"),
        (warmup, "warmup_steps", "expected fewer warm-up steps than the run's 6 optimizer steps, found `6`"),
        (context, "max_seq_len", "expected at most the model's context length, 256 tokens, found `512`"),
    ];
    for (recipe, key, expected) in cases {
        let output = refused(&recipe, |_| {});
        let position = recipe.position("train", key);
        crate::eqnice!(format!("error: recipe.toml:{position}: `train.{key}`: {expected}"), error_line(&output));
        assert!(!output.stderr.contains("step 1"), "{}", output.stderr);
        // Its log lines (the plugin and model loaded) go to a pipe here: no colour codes.
        assert!(output.stderr.contains("plugin loaded"), "{}", output.stderr);
        assert!(!output.stderr.contains('\x1b'), "escape codes on a pipe: {:?}", output.stderr);
    }
}

#[test]
fn run_refuses_a_training_note_in_the_validation_split_under_another_id() {
    let output = refused(&Recipe::tiny(FHIR_EXTRACTION), |dir| {
        let first_train = read_text(&dir.path().join("data/train.jsonl")).lines().next().expect("a record").to_owned();
        let mut record: serde_json::Value = serde_json::from_str(&first_train).expect("a JSON record");
        record["id"] = "fhir-val-copy".into();
        // Re-exported: other white space and capitals, the same note.
        let note = record["note"].as_str().expect("a note").to_uppercase().replace(' ', "  ");
        record["note"] = note.into();
        replace_line(dir, "data/val.jsonl", 4, &record.to_string());
    });
    let error = error_line(&output);
    assert!(
        error.starts_with("error: data/val.jsonl:4: the record's text is also in train at line 1 (under another id)"),
        "{error}"
    );
    assert!(error.ends_with("(`data.allow_overlap = true` runs anyway)"), "{error}");
}

#[test]
fn run_refuses_an_id_in_two_splits_naming_both() {
    let output = refused(&Recipe::tiny(FHIR_EXTRACTION), |dir| {
        let first_train = read_text(&dir.path().join("data/train.jsonl")).lines().next().expect("a record").to_owned();
        replace_line(dir, "data/val.jsonl", 4, &first_train);
    });
    crate::eqnice!(
        "error: data/val.jsonl:4: duplicate record id `fhir-train-0001`: expected ids unique across train, val and test, \
         found it already in train at line 1",
        error_line(&output)
    );
}

#[test]
fn run_refuses_fewer_training_records_than_privacy_min_records() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("privacy", "min_records", "501");
    let output = refused(&recipe, |_| {});
    crate::eqnice!(
        format!(
            "error: recipe.toml:{}: `privacy.min_records`: expected at least 501 training records, \
             found 500 usable records in `data/train.jsonl`",
            recipe.position("privacy", "min_records")
        ),
        error_line(&output)
    );
}

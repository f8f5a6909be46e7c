//! `rapha-host eval`: a plan of three candidates (the base, a run's exported adapter, an
//! adapter PEFT wrote) and two plugin labels on one dataset gives item-aligned results,
//! generates each answer once, and a rerun rescores from the cache; bad plans are refused
//! naming line, column and key.

use std::fs;

use rapha_plugin_artifacts::FHIR_EXTRACTION;
use serde_json::Value;

use crate::run::{Recipe, copy_fhir_data, read_text, tiny_model};
use crate::util::{Dir, root};

/// A plan over the first 12 test records with the tiny model, 16 new tokens, 4 a batch.
fn plan(adapter: &str, peft: &str) -> String {
    format!(
        r#"model = "{model}"
max_new_tokens = 16
batch = 4

[[candidate]]
label = "base"

[[candidate]]
label = "run"
adapter = "{adapter}"

[[candidate]]
label = "peft"
adapter = "{peft}"

[[plugin]]
label = "fhir-a"
path = "{plugin}"

[[plugin]]
label = "fhir-b"
path = "{plugin}"

[[dataset]]
label = "test12"
path = "data/test12.jsonl"

[[slice]]
label = "sex"
pointer = "/extract/patient/sex"
"#,
        model = tiny_model().display(),
        plugin = FHIR_EXTRACTION,
    )
}

#[test]
fn eval_aligns_every_candidate_and_plugin_and_generates_each_answer_once() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    Recipe::tiny(FHIR_EXTRACTION).write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let test: String = read_text(&dir.path().join("data/test.jsonl")).split_inclusive('\n').take(12).collect();
    dir.create("data/test12.jsonl", &test);
    let peft = root().join("host/engine/tests/fixtures/peft/llama3-rslora");
    dir.create("plan.toml", &plan("export", &peft.display().to_string()));

    let stdout = dir.command().args(["eval", "plan.toml", "--sandbox", "best-effort"]).stdout();
    for candidate in ["base", "run", "peft"] {
        assert!(stdout.contains(&format!("{candidate} · fhir-a · test12: 12 records (12 generated)")), "{stdout}");
        assert!(stdout.contains(&format!("{candidate} · fhir-b · test12: 12 records (0 generated)")), "{stdout}");
    }
    let cached = fs::read_dir(dir.work().join("cache/generations")).expect("the cache").count();
    assert_eq!(cached, 36, "one answer per candidate and record");

    let results_path = dir.work().join("eval/plan.json");
    let results: Value = serde_json::from_str(&read_text(&results_path)).expect("results are JSON");
    let ids: Vec<String> = test.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect();
    let outcomes = results["results"].as_array().expect("results");
    assert_eq!(outcomes.len(), 6);
    for outcome in outcomes {
        let records = outcome["records"].as_array().expect("records");
        let got: Vec<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(got, ids, "{}", outcome["candidate"]);
        assert!(records.iter().all(|r| r["unit"] == r["id"] && r["metrics"]["json_valid"].is_number()));
        let sexes: Vec<&str> = records.iter().map(|r| r["slices"]["sex"].as_str().expect("a subgroup")).collect();
        assert!(sexes.iter().all(|s| ["female", "male", "missing"].contains(s)), "{sexes:?}");
    }
    // The run's adapter came with its loss history: its curve is in the results; PEFT's has none.
    let history: Value = serde_json::from_str(&read_text(&dir.path().join("export/loss_history.json"))).expect("history");
    let exported: Vec<Value> = history["steps"].as_array().expect("steps").iter().map(|s| serde_json::json!([s["step"], s["loss"]])).collect();
    let training = |label: &str| &results["candidates"].as_array().expect("candidates").iter().find(|c| c["label"] == label).expect("candidate")["training"];
    assert_eq!(training("run")["train"].as_array().expect("a training curve"), &exported);
    assert!(training("base").is_null() && training("peft").is_null());

    // The two labels of one plugin score the same answers the same way.
    let pick = |candidate: &str, plugin: &str| outcomes.iter().find(|o| o["candidate"] == candidate && o["plugin"] == plugin).unwrap();
    assert_eq!(pick("run", "fhir-a")["records"], pick("run", "fhir-b")["records"]);
    // The adapters change answers: the cache holds more distinct answers than one candidate's.
    let distinct: std::collections::BTreeSet<String> = fs::read_dir(dir.work().join("cache/generations"))
        .expect("the cache")
        .map(|entry| read_text(&entry.expect("an entry").path()))
        .collect();
    assert!(distinct.len() > 12, "{} distinct answers", distinct.len());

    let before = read_text(&results_path);
    let again = dir.command().args(["eval", "plan.toml", "--sandbox", "best-effort"]).stdout();
    assert!(!again.contains("(12 generated)"), "a rerun regenerates nothing: {again}");
    assert_eq!(read_text(&results_path), before);

    // `compare` reads them: every candidate against the base, per plugin label.
    let table = dir.command().arg_pair("compare", &results_path).args(["--baseline", "base"]).stdout();
    for line in ["fhir-a · test12", "fhir-b · test12", "fhir-a · test12 · sex = ", "run − baseline  json_valid", "peft − baseline  json_valid"] {
        assert!(table.contains(line), "{line}: {table}");
    }
    assert!(dir.work().join("compare/plan.json").is_file() && dir.work().join("compare/plan.txt").is_file());
}

#[test]
fn a_bad_plan_is_refused_naming_line_column_and_key() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    let good = plan("export", "peft").replace("data/test12.jsonl", "data/test.jsonl");
    let twice = good.replace("label = \"peft\"", "label = \"run\"");
    dir.create("twice.toml", &twice);
    let refused = dir.command().args(["eval", "twice.toml", "--sandbox", "best-effort"]).fails_with(1);
    assert!(refused.stderr.contains("twice.toml:13:9: `candidate.label`: expected labels unique within the table, found `run` a second time"), "{}", refused.stderr);
    dir.create("missing.toml", &good);
    let refused = dir.command().args(["eval", "missing.toml", "--sandbox", "best-effort"]).fails_with(1);
    assert!(refused.stderr.contains("missing.toml:10:11: `candidate.adapter`: expected an existing path"), "{}", refused.stderr);
    assert!(!dir.work().join("eval").exists(), "nothing written");
}

//! `[privacy.dp]`: a private run on the tiny model (DP-SGD with patients as the unit, noise
//! calibrated to ε = 8) and what it exports; the refusals of a plan that cannot hold, each
//! before any training and naming its recipe key.

use std::fs;

use rapha_plugin_artifacts::FHIR_EXTRACTION;
use serde_json::Value;

use super::refusals::{error_line, refused_in};
use super::{Recipe, audit, copy_fhir_data, read_json, read_jsonl, read_text};
use crate::util::Dir;

/// Give each training record a `patient_id`, `patients` of them in turn (record i belongs to
/// patient i mod `patients`).
fn add_patients(dir: &Dir, patients: usize) {
    let path = dir.path().join("data/train.jsonl");
    let lines: Vec<String> = read_text(&path)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut record: Value = serde_json::from_str(line).expect("a JSON record");
            record["patient_id"] = Value::from(format!("p{}", i % patients));
            record.to_string()
        })
        .collect();
    fs::write(&path, lines.join("\n") + "\n").expect("write train.jsonl");
}

fn private_recipe() -> Recipe {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe
        .set("privacy.dp", "unit", "\"/patient_id\"")
        .set("privacy.dp", "epsilon", "8")
        .set("privacy.dp", "insecure_seed", "5");
    recipe
}

#[test]
fn private_run_spends_its_budget_and_says_so() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    add_patients(&dir, 125);
    private_recipe().write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let (work, export) = (dir.path().join("work"), dir.path().join("export"));

    let metrics = read_json(&export.join("metrics.json"));
    let privacy = &metrics["privacy"];
    assert_eq!(privacy["unit"], "patient (/patient_id)");
    // 125 patients, 13 held out by the leakage audit, and its 8 canaries (a unit each).
    assert_eq!(privacy["units"], 120);
    assert_eq!(privacy["steps"], 6);
    assert_eq!(privacy["delta"], 1.0 / 1200.0);
    assert_eq!(privacy["noise_calibrated"], true);
    assert_eq!(privacy["insecure_seed"], true);
    // 2 units a step of 120: q = 1/60; the noise was calibrated so the 6 planned steps spend
    // just under the budget.
    assert_eq!(privacy["sample_rate"], 0.01667);
    let epsilon = privacy["epsilon"].as_f64().expect("ε");
    assert!(epsilon <= 8.0 && epsilon > 7.9, "ε {epsilon}");
    // The training loss is not covered by the guarantee: it stays in the work folder.
    assert_eq!(metrics["training"]["final_train_loss"], Value::Null);
    let history = read_json(&export.join("loss_history.json"));
    assert_eq!(history["steps"], Value::Array(Vec::new()));
    assert_eq!(read_jsonl(&work.join("journal").join("steps.jsonl")).len(), 6);

    let report = read_text(&export.join("report.txt"));
    assert!(report.contains("dp epsilon") && report.contains("of a budget of 8 at delta 8.333e-4"), "{report}");
    assert!(report.contains("INSECURE"), "{report}");
    let accountant = read_json(&work.join("privacy-accountant.json"));
    assert_eq!(accountant["steps"][0]["count"], 6);
    assert!(audit(&work).iter().any(|entry| entry[0] == "privacy" && entry[3].contains("DP-SGD")), "{:?}", audit(&work));
}

/// A refused private plan: exit 1, nothing exported, no training step taken.
fn refused_plan(recipe: &Recipe, patients: Option<usize>) -> String {
    let (dir, output) = refused_in(recipe, |dir| {
        if let Some(patients) = patients {
            add_patients(dir, patients);
        }
    });
    assert!(!dir.path().join("work/journal/steps.jsonl").exists(), "a refused plan trained");
    error_line(&output).to_owned()
}

#[test]
fn private_plans_that_cannot_hold_are_refused_by_key() {
    let mut recipe = private_recipe();
    recipe.set("privacy.dp", "delta", "0.01");
    assert_eq!(
        refused_plan(&recipe, Some(125)),
        format!(
            "error: recipe.toml:{}: `privacy.dp.delta`: expected a δ below 1 / units = 8.333e-3 (120 units), found `0.01`",
            recipe.position("privacy.dp", "delta")
        )
    );

    let recipe = private_recipe();
    let error = refused_plan(&recipe, None);
    assert!(
        error.starts_with(&format!("error: recipe.toml:{}: `privacy.dp.unit`: expected a JSON pointer", recipe.position("privacy.dp", "unit")))
            && error.contains("found `/patient_id` matches nothing in record `fhir-train-0001` (line 1 of `"),
        "{error}"
    );

    let error = refused_plan(&recipe, Some(5));
    assert!(
        error.contains("`privacy.min_records`: expected at least 100 distinct privacy units (`privacy.dp.unit`), found 5 units among 500 records"),
        "{error}"
    );

    let mut recipe = private_recipe();
    recipe.set("privacy.dp", "noise_multiplier", "0.5").set("privacy.dp", "epsilon", "0.1");
    let error = refused_plan(&recipe, Some(125));
    assert!(
        error.starts_with(&format!("error: recipe.toml:{}: `privacy.dp.epsilon`: expected a budget that 6 steps", recipe.position("privacy.dp", "epsilon"))),
        "{error}"
    );
}

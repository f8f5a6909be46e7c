//! The host and the plugins agree on what a prediction is: for 50 tricky predictions
//! each, the host's reading (`value_of`, then the declared output schema) and the
//! `fhir-extraction` and `trial-matching` components' own `json_valid` and `schema_valid`
//! metrics classify every one the same way. Both read a prediction's JSON through
//! `rapha_task_sdk::json_text`; the plugins' typed checks mirror their schemas.

use rapha_plugin_artifacts::{FHIR_EXTRACTION, TRIAL_MATCHING};
use rapha_task_host::{Limits, TaskPlugin};

use crate::util::{TestHost, first_record};

/// Wrappings of a JSON text that test the reading of fences, white space and prose.
fn wrappings(json: &str) -> Vec<String> {
    vec![
        json.to_owned(),
        format!("  \n\t{json}\n  "),
        format!("```json\n{json}\n```"),
        format!("```\n{json}\n```"),
        format!("```json{json}```"),
        format!("  ```json\n{json}\n```  \n"),
        format!("```JSON\n{json}\n```"),
        format!("```jsonc\n{json}\n```"),
        format!("```json\n{json}\n```\n```json\n{json}\n```"),
        format!("```json\n{json}"),
        format!("{json}\n```"),
        format!("Here is the JSON: {json}"),
        format!("{json} Hope this helps."),
        format!("\u{feff}{json}"),
        format!("[{json}]"),
        format!("{json}{json}"),
    ]
}

/// `valid` with its first `from` replaced by `to` (which must be there).
fn replaced(valid: &str, from: &str, to: &str) -> String {
    assert!(valid.contains(from), "{from}");
    valid.replacen(from, to, 1)
}

/// Values around the edges: nothing, scalars, broken JSON.
const EDGES: [&str; 10] = ["", "   ", "```json\n```", "null", "[]", "{}", "\"text\"", "true", "{\"a\": 1,}", "{'a': 1}"];

fn fhir_predictions() -> Vec<String> {
    let valid = r#"{"resourceType":"ClinicalNoteExtract","patient":{"name":"Ann Lee","ageYears":54,"sex":"female"},"complaints":["cough"],"conditions":["asthma"],"medications":[{"name":"salbutamol","dose":{"value":100,"unit":"mcg"}}]}"#;
    let variant = |from: &str, to: &str| replaced(valid, from, to);
    let mut predictions = wrappings(valid);
    predictions.extend(EDGES.map(str::to_owned));
    predictions.extend([
        variant(r#""resourceType":"ClinicalNoteExtract","#, ""),
        variant("ClinicalNoteExtract", "Patient"),
        variant(r#""medications":"#, r#""notes":"x","medications":"#),
        variant("54", "54.0"),
        variant("54", "5.4e1"),
        variant("54", "54.5"),
        variant("54", "\"54\""),
        variant("54", "-1"),
        variant("54", "null"),
        variant("54", "1e400"),
        variant("\"female\"", "\"Female\""),
        variant("\"female\"", "null"),
        variant("\"Ann Lee\"", "null"),
        variant("\"Ann Lee\"", "\"\\u00c9lise\""),
        variant(r#"{"name":"Ann Lee","ageYears":54,"sex":"female"}"#, "null"),
        variant(r#"["cough"]"#, "null"),
        variant(r#"["cough"]"#, "[1]"),
        variant(r#"["cough"]"#, "[]"),
        variant(r#"{"value":100,"unit":"mcg"}"#, "null"),
        variant("100", "\"100\""),
        variant(r#","unit":"mcg""#, ""),
        variant(r#""mcg""#, "null"),
        variant(r#","dose":{"value":100,"unit":"mcg"}"#, ""),
        variant(r#""resourceType":"ClinicalNoteExtract","#, r#""resourceType":"Patient","resourceType":"ClinicalNoteExtract","#),
    ]);
    predictions
}

fn trial_predictions() -> Vec<String> {
    let valid = r#"{"eligible":true,"criteria":[{"index":1,"met":true},{"index":2,"met":false}]}"#;
    let variant = |from: &str, to: &str| replaced(valid, from, to);
    let mut predictions = wrappings(valid);
    predictions.extend(EDGES.map(str::to_owned));
    predictions.extend([
        variant("true,", "\"true\","),
        variant("true,", "1,"),
        variant("true,", "null,"),
        variant(r#""eligible":true,"#, ""),
        variant(r#"{"index":1,"met":true},"#, ""),
        variant(r#"[{"index":1,"met":true},{"index":2,"met":false}]"#, "[]"),
        variant(r#"[{"index":1,"met":true},{"index":2,"met":false}]"#, "null"),
        variant("\"index\":1,", "\"index\":0,"),
        variant("\"index\":1,", "\"index\":1.0,"),
        variant("\"index\":1,", "\"index\":1.5,"),
        variant("\"index\":1,", "\"index\":\"1\","),
        variant("\"index\":1,", "\"index\":-3,"),
        variant("\"index\":1,", ""),
        variant("\"met\":true}", "\"met\":\"yes\"}"),
        variant("\"met\":true}", "\"met\":true,\"why\":\"age\"}"),
        variant("\"criteria\"", "\"reason\":\"fits\",\"criteria\""),
        variant("\"index\":2", "\"index\":1"),
        variant("\"index\":2", "\"index\":1e1"),
        variant("\"index\":2", "\"index\":1e400"),
        variant(r#"{"index":1,"met":true}"#, "[1,true]"),
        variant(r#"{"index":1,"met":true}"#, "null"),
        variant("\"eligible\":true", "\"eligible\":false,\"eligible\":true"),
        variant("\"met\":false", "\"met\":false "),
        variant(r#"{"eligible""#, "{\n  \"eligible\""),
    ]);
    predictions
}

/// The host's and the plugin's classification of each prediction: `(json_valid,
/// schema_valid)` by each, side by side.
fn classify(plugin: &mut TaskPlugin, record: &str, prediction: &str) -> ((bool, bool), (bool, bool)) {
    let host_json = plugin.output_schema().value_of(prediction).is_ok();
    let host_schema = plugin.validate_output(prediction).is_ok();
    let score = plugin.score(0, prediction, record).expect("score runs");
    let metric = |name: &str| {
        let value = score.metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("no `{name}`")).value;
        value == 1.0
    };
    ((host_json, host_schema), (metric("json_valid"), metric("schema_valid")))
}

fn agree(id: &str, wasm: &str, predictions: Vec<String>) {
    assert_eq!(predictions.len(), 50, "{id}: 50 predictions");
    let host = TestHost::new(Limits::default());
    let mut plugin = host.load(wasm);
    let record = first_record(id);
    let mut disagreements = Vec::new();
    let mut kinds = std::collections::BTreeSet::new();
    for prediction in &predictions {
        let (by_host, by_plugin) = classify(&mut plugin, &record, prediction);
        kinds.insert(by_host);
        if by_host != by_plugin {
            disagreements.push(format!("{prediction:?}: host {by_host:?}, plugin {by_plugin:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{id}:\n{}", disagreements.join("\n"));
    // The set exercises every outcome: not JSON, JSON of another shape, valid.
    assert_eq!(kinds.len(), 3, "{id}: {kinds:?}");
}

#[test]
fn fhir_extraction_and_the_host_classify_tricky_predictions_alike() {
    agree("fhir-extraction", FHIR_EXTRACTION, fhir_predictions());
}

#[test]
fn trial_matching_and_the_host_classify_tricky_predictions_alike() {
    agree("trial-matching", TRIAL_MATCHING, trial_predictions());
}

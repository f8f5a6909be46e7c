//! The leakage audit gates the export: canaries trained in many times without DP are
//! memorised (their exposure is far above the threshold), so nothing leaves and the run says
//! which figure failed and by how much; the same run with DP-SGD at ε = 8 passes and exports
//! the audit's figures.

use rapha_plugin_artifacts::FHIR_EXTRACTION;

use super::{Recipe, audit, copy_fhir_data, names, read_json, read_text};
use crate::util::Dir;

/// Two canaries, each trained on 64 times, in 300 steps at a high learning rate: enough for
/// the tiny model to learn them by heart.
fn memorising() -> Recipe {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe
        .set("lora", "rank", "16")
        .set("train", "max_steps", "300")
        .set("train", "batch_size", "4")
        .set("train", "lr", "1e-2")
        .set("train", "eval_every", "300")
        .set("audit", "canaries", "2")
        .set("audit", "canary_repeats", "[64]");
    recipe
}

#[test]
fn memorised_canaries_fail_the_export_and_dp_prevents_it() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    memorising().write(&dir);
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    let (work, export) = (dir.path().join("work"), dir.path().join("export"));
    assert!(names(&export).is_empty(), "an audit that failed exported {:?}", names(&export));
    let error = output.stderr.lines().find(|line| line.starts_with("error: ")).expect("an error line");
    assert!(
        error.starts_with("error: the leakage audit failed: canary exposure (bits, largest) ") && error.contains("> 8 (`audit.max_exposure`), over by "),
        "{error}"
    );
    let findings = read_json(&work.join("audit.json"));
    let exposure = findings["checks"][0]["value"].as_f64().expect("exposure");
    assert!(exposure > 12.0, "memorised canaries: {exposure} bits");
    assert!(read_text(&work.join("audit.txt")).contains("FAIL: canary exposure"));
    assert!(audit(&work).iter().any(|entry| entry[0] == "leakage-audit" && entry[2] == "refused"), "{:?}", audit(&work));

    let dir = Dir::new();
    copy_fhir_data(&dir);
    let mut private = memorising();
    private.set("privacy.dp", "epsilon", "8").set("privacy.dp", "insecure_seed", "1");
    private.write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let metrics = read_json(&dir.path().join("export/metrics.json"));
    let audit = &metrics["audit"];
    assert_eq!(audit["passed"], true, "{audit}");
    let exposure = audit["checks"][0]["value"].as_f64().expect("exposure");
    assert!(exposure < 4.0, "DP at ε = 8 left {exposure} bits of exposure");
    assert_eq!(audit["canaries"][0]["repeats"], 64);
    assert_eq!(audit["membership"]["records_each"], 50);
    assert_eq!(audit["membership"]["attacks"].as_array().map(Vec::len), Some(4));
    let report = read_text(&dir.path().join("export/report.txt"));
    assert!(report.lines().any(|line| line.starts_with("audit ") && line.ends_with("passed")), "{report}");
}

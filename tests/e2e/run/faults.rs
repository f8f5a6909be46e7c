//! Faults around the files a run writes: a run stopped in the middle of its export (and of a
//! checkpoint) resumes by clearing what was half-written and exporting again; a file-size
//! limit ends the run with an error and an empty export folder, not a kill by `SIGXFSZ`.

use std::fs;

use rapha_plugin_artifacts::FHIR_EXTRACTION;

use super::{EXPORTED, Recipe, audit, copy_fhir_data, names};
use crate::util::Dir;

#[test]
fn a_resumed_run_clears_a_stopped_export_and_checkpoint_and_exports_again() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    Recipe::tiny(FHIR_EXTRACTION).write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let (work, export) = (dir.path().join("work"), dir.path().join("export"));

    // What a kill during the export's renames, and during a checkpoint's, leaves.
    fs::remove_file(export.join("manifest.json")).expect("remove the manifest");
    fs::rename(export.join("report.txt"), export.join(".report.txt.partial-4242")).expect("rename");
    let debris = work.join("checkpoints/.checkpoint-8.tmp-4242");
    fs::create_dir(&debris).expect("create");
    fs::write(debris.join("adapter_model.safetensors"), "partial").expect("write");

    dir.command().args(["run", "recipe.toml", "--resume"]).stdout();
    let mut expected: Vec<String> = EXPORTED.iter().map(|name| name.to_string()).collect();
    expected.push("manifest.json".to_owned());
    expected.sort();
    assert_eq!(names(&export), expected);
    assert!(!debris.exists());
    let audit = audit(&work);
    let rolled_back: Vec<&str> =
        audit.iter().filter(|line| line[0] == "rollback").map(|line| line[1].as_str()).collect();
    assert_eq!(rolled_back.len(), 5, "the four files and the partial report: {audit:#?}");
    assert!(rolled_back.contains(&".report.txt.partial-4242"), "{audit:#?}");
    assert!(
        audit.iter().any(|line| line[0] == "resume-sweep" && line[3] == "removed `.checkpoint-8.tmp-4242`"),
        "{audit:#?}"
    );

    // A finished export is not redone.
    let output = dir.command().args(["run", "recipe.toml", "--resume"]).fails_with(1);
    assert!(output.stderr.contains("holds a finished export (`manifest.json`)"), "{}", output.stderr);
}

#[test]
fn a_file_size_limit_ends_the_run_with_an_error_not_a_signal() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    Recipe::tiny(FHIR_EXTRACTION).write(&dir);
    let output = dir.command_with_file_size_limit(8).args(["run", "recipe.toml"]).output();
    assert_eq!(output.code, Some(1), "killed by a signal, or succeeded:\n{}", output.stderr);
    assert!(output.stderr.contains("File too large"), "{}", output.stderr);
    assert!(names(&dir.path().join("export")).is_empty());
}

//! The core promise under attack: a plugin that writes a note into the digits and bits of its
//! metrics gets no more out than the bound the export states; counts of 1 to 10 never leave,
//! whatever the recipe says; every file a run writes is its owner's alone; and work or export
//! folders that overlap the run's inputs are refused before anything is written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rapha_plugin_artifacts::{EXFILTRATE, FHIR_EXTRACTION};
use rapha_sandbox::disclosure;

use super::refusals::{error_line, refused_in};
use super::{Recipe, copy_fhir_data, names, read, read_json, read_text};
use crate::util::Dir;

/// The start of every note: what the `exfiltrate` plugin tries to get out (16 bytes, 128 bits).
const CANARY: &str = "MRN7Q2XK9P4LW8ZD";

/// 110 training, 12 validation and 12 test notes in `data/`, each starting with [`CANARY`].
fn canary_data(dir: &Dir) {
    fs::create_dir(dir.path().join("data")).expect("create data/");
    for (split, count) in [("train", 110), ("val", 12), ("test", 12)] {
        let lines: String = (0..count)
            .map(|i| format!("{{\"id\": \"{split}-{i}\", \"note\": \"{CANARY} seen on {split} ward {i} for chest pain\"}}\n"))
            .collect();
        dir.create(&format!("data/{split}.jsonl"), &lines);
    }
}

/// The byte the plugin's `charNN` encoding, `(100 + byte) / 1000`, carries in `value`.
fn decode_char(value: f64) -> char {
    char::from(((value * 1000.0).round() - 100.0) as u8)
}

#[test]
fn a_plugin_writing_a_note_into_its_metrics_gets_no_more_than_the_stated_bits_out() {
    let dir = Dir::new();
    canary_data(&dir);
    let mut recipe = Recipe::tiny(EXFILTRATE);
    recipe.set("eval", "max_new_tokens", "4");
    recipe.write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let export = dir.path().join("export");

    // Of the 32 metrics the plugin declares, its first four leave, for the base model and the
    // adapter: eight values, each with three significant digits.
    let metrics = read_json(&export.join("metrics.json"));
    let mut carried = String::new();
    for column in ["base", "adapter"] {
        let values = metrics["metrics"][column].as_object().unwrap_or_else(|| panic!("`{column}`: {metrics:#}"));
        let keys: Vec<&str> = values.keys().map(String::as_str).collect();
        assert_eq!(keys, ["char00", "char01", "char02", "char03"], "{metrics:#}");
        for value in values.values() {
            let value = value.as_f64().unwrap_or_else(|| panic!("`{column}`: {metrics:#}"));
            assert!(disclosure::on_grid(value), "`{column}`: {value} has more than three significant digits");
            carried.push(decode_char(value));
        }
    }
    // The channel is real but bounded: the first four bytes, twice, and nothing more.
    assert_eq!(carried, format!("{0}{0}", &CANARY[..4]));
    let stated = metrics["disclosure"]["channel_bits"].as_f64().expect("`disclosure.channel_bits`");
    let evaluations = 2.0_f64;
    let bound = 8.0 * disclosure::bits_per_value() + 2.0 * evaluations.log2();
    assert!((stated - bound).abs() < 0.05, "stated {stated}, expected {bound}");
    assert!(stated < 8.0 * CANARY.len() as f64, "the bound must be below the canary's 128 bits");

    // Nothing else carries the rest: no exported file holds it or another plugin metric, and
    // the loss history holds no plugin metric at all.
    for name in names(&export) {
        let text = String::from_utf8_lossy(&read(&export.join(&name))).into_owned();
        for absent in [&CANARY[4..], "char04", "pack00"] {
            assert!(!text.contains(absent), "`{name}` holds `{absent}`:\n{text}");
        }
    }
    let history = read_json(&export.join("loss_history.json"));
    for eval in history["evals"].as_array().expect("`evals`") {
        assert_eq!(eval.get("metrics"), None, "{eval}");
    }
    let report = read_text(&export.join("report.txt"));
    let channel = report.lines().find(|line| line.starts_with("metric channel")).expect("the channel line");
    assert!(channel.split_whitespace().eq(format!("metric channel at most {stated:.1} bits").split_whitespace()), "{report}");
}

#[test]
fn small_counts_never_leave_and_what_the_run_writes_is_its_owners_alone() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    let train = dir.path().join("data/train.jsonl");
    let first: String = read_text(&train).lines().take(7).map(|line| format!("{line}\n")).collect();
    fs::write(&train, first).expect("write train.jsonl");
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("privacy", "min_records", "5").set("train", "max_steps", "2").set("train", "eval_every", "2");
    // Seven records: too few to hold any out for the leakage audit.
    recipe.set("audit", "enabled", "false");
    recipe.write(&dir);
    dir.command().args(["run", "recipe.toml"]).stdout();
    let export = dir.path().join("export");

    // Seven training records: a count the recipe allowed to train on, but not to leave.
    let metrics = read_json(&export.join("metrics.json"));
    assert_eq!(metrics["records"]["train"], "<11", "{metrics:#}");
    assert_eq!(metrics["records"]["test"], 12, "{metrics:#}");
    let manifest = read_json(&export.join("manifest.json"));
    let train_input = manifest["inputs"]["datasets"]
        .as_array()
        .and_then(|datasets| datasets.iter().find(|d| d["role"] == "train"))
        .unwrap_or_else(|| panic!("no train input: {manifest:#}"));
    assert_eq!(train_input["records"], "<11", "{manifest:#}");
    let report = read_text(&export.join("report.txt"));
    assert!(report.lines().any(|line| line.split_whitespace().eq(["train", "records", "<11"])), "{report}");
    assert!(!report.contains(" 7\n"), "{report}");

    // Every file under the work folder is 0600 and every folder 0700, whatever the umask of
    // the process that started the run.
    assert_private(&dir.path().join("work"));
}

/// Assert that `dir` and everything under it is private to its owner.
fn assert_private(dir: &Path) {
    let mode = fs::symlink_metadata(dir).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "`{}` has mode {mode:o}", dir.display());
    for entry in fs::read_dir(dir).expect("list") {
        let path = entry.expect("an entry").path();
        let meta = fs::symlink_metadata(&path).expect("stat");
        if meta.is_dir() {
            assert_private(&path);
        } else {
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "`{}` has mode {mode:o}", path.display());
        }
    }
}

#[test]
fn work_and_export_folders_overlapping_the_inputs_are_refused_before_anything_is_written() {
    let cases = [
        ("work", "data", "`data` (it holds `data.train`)"),
        ("work", "data/work", "`data/work` (inside the folder of `data.train`)"),
        ("export", "data/export", "`data/export` (inside the folder of `data.train`)"),
    ];
    for (key, folder, found) in cases {
        let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
        recipe.set("paths", key, &format!("{folder:?}"));
        let (dir, output) = refused_in(&recipe, |_| {});
        let error = error_line(&output);
        let position = recipe.position("paths", key);
        assert!(error.starts_with(&format!("error: recipe.toml:{position}: `paths.{key}`: expected a folder apart from the run's inputs")), "{error}");
        assert!(error.ends_with(&format!("found {found}")), "{error}");
        assert_eq!(names(&dir.path().join("data")), ["test.jsonl", "train.jsonl", "val.jsonl"], "{error}");
    }
}

#[test]
fn an_export_path_that_is_a_symlink_is_refused() {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("paths", "export", "\"outbox\"");
    let (dir, output) = refused_in(&recipe, |dir| {
        fs::create_dir(dir.path().join("elsewhere")).expect("create elsewhere/");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("outbox")).expect("symlink");
    });
    let position = recipe.position("paths", "export");
    assert_eq!(
        error_line(&output),
        format!("error: recipe.toml:{position}: `paths.export`: expected a folder that is not a symlink, found `outbox` (a symlink)")
    );
    assert!(names(&dir.path().join("elsewhere")).is_empty());
    assert!(!dir.path().join("work").exists());
}

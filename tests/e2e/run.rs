//! `rapha-host run`: small real runs of the tiny llama (2 layers, vocabulary of 128) with
//! the `fhir-extraction` plugin, checked file by file — the export folder against its
//! manifest, the audit log, the work folder — plus the run's refusals and hostile plugins.

// Stopping a run (SIGKILL, SIGINT) and `--resume`: the same adapter as an uninterrupted run.
mod resume;
// Bad recipes and bad data: exit 1, the precise message, nothing exported.
mod refusals;
// A plugin that reaches for files and sockets; an export the gate refuses.
mod hostile;
// A stopped export resumed; a file-size limit.
mod faults;
// What must not leave: a note written into metrics, small counts; private work files;
// folders overlapping the inputs.
mod leaks;
// `[privacy.dp]`: a private run and the plans it refuses.
mod privacy;
// `[audit]`: memorised canaries fail the export; DP prevents it.
mod audit;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rapha_plugin_artifacts::FHIR_EXTRACTION;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{Dir, root};

/// What a successful run leaves in its export folder, in the manifest's order.
const EXPORTED: [&str; 5] = [
    "adapter_model.safetensors",
    "adapter_config.json",
    "metrics.json",
    "loss_history.json",
    "report.txt",
];

/// The tiny test model: a Hugging Face folder.
pub fn tiny_model() -> PathBuf {
    root().join("host/engine/tests/fixtures/tiny/llama3")
}

/// A recipe as tables of `key = value` lines (values already TOML), written in order so a
/// test knows the line and column of every key.
#[derive(Clone)]
pub struct Recipe {
    tables: Vec<(String, Vec<(String, String)>)>,
}

impl Recipe {
    /// A quick run: the tiny model, rank 4, 6 steps of 2 records, evaluations at steps 3
    /// and 6 on 12 validation records, 12 test records, 16 new tokens; data files and
    /// folders relative to the recipe (so a copied folder has the same recipe hash).
    pub fn tiny(plugin: &str) -> Recipe {
        let text = |value: &str| format!("{value:?}");
        let mut recipe = Recipe { tables: Vec::new() };
        recipe
            .set("plugin", "path", &text(plugin))
            .set("model", "path", &text(&tiny_model().display().to_string()))
            .set("data", "train", &text("data/train.jsonl"))
            .set("data", "val", &text("data/val.jsonl"))
            .set("data", "test", &text("data/test.jsonl"))
            .set("lora", "rank", "4")
            .set("train", "max_steps", "6")
            .set("train", "batch_size", "2")
            .set("train", "eval_every", "3")
            .set("train", "max_seq_len", "256")
            .set("train", "threads", "2")
            .set("eval", "records", "12")
            .set("eval", "test_records", "12")
            .set("eval", "max_new_tokens", "16")
            .set("paths", "work", &text("work"))
            .set("paths", "export", &text("export"))
            // Strict needs Landlock ABI 4 and seccomp; the tests must also pass on kernels
            // without them (the sandbox's own tests cover strict mode).
            .set("privacy", "sandbox", &text("best-effort"));
        recipe
    }

    /// Set `table.key` to the TOML `value`, in place if present, else at the table's end.
    pub fn set(&mut self, table: &str, key: &str, value: &str) -> &mut Recipe {
        let index = match self.tables.iter().position(|(name, _)| name == table) {
            Some(index) => index,
            None => {
                self.tables.push((table.to_owned(), Vec::new()));
                self.tables.len() - 1
            }
        };
        let entries = &mut self.tables[index].1;
        match entries.iter_mut().find(|(name, _)| name == key) {
            Some(entry) => entry.1 = value.to_owned(),
            None => entries.push((key.to_owned(), value.to_owned())),
        }
        self
    }

    /// Leave `table.key` out.
    pub fn remove(&mut self, table: &str, key: &str) -> &mut Recipe {
        for (name, entries) in &mut self.tables {
            if name == table {
                entries.retain(|(name, _)| name != key);
            }
        }
        self
    }

    pub fn text(&self) -> String {
        let mut text = String::new();
        for (table, entries) in &self.tables {
            text.push_str(&format!("[{table}]\n"));
            for (key, value) in entries {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text
    }

    /// The 1-based line of `table.key`, or of the table header when `key` is `None`, as
    /// written by [`Recipe::text`].
    pub fn line(&self, table: &str, key: Option<&str>) -> usize {
        let mut line = 0;
        for (name, entries) in &self.tables {
            line += 1;
            if name == table && key.is_none() {
                return line;
            }
            for (entry, _) in entries {
                line += 1;
                if name == table && Some(entry.as_str()) == key {
                    return line;
                }
            }
        }
        panic!("`{table}.{key:?}` is not in the recipe:\n{}", self.text());
    }

    /// `line:column` of the value of `table.key`, 1-based.
    pub fn position(&self, table: &str, key: &str) -> String {
        format!("{}:{}", self.line(table, Some(key)), key.len() + " = ".len() + 1)
    }

    /// Write the recipe to `recipe.toml` in `dir`.
    pub fn write(&self, dir: &Dir) -> PathBuf {
        dir.create("recipe.toml", &self.text())
    }
}

/// Copy `data/fhir-extraction/{train,val,test}.jsonl` into `dir/data/`, a folder of its own
/// (a run refuses work and export folders inside a data folder).
pub fn copy_fhir_data(dir: &Dir) {
    fs::create_dir_all(dir.path().join("data")).expect("create data/");
    for split in ["train", "val", "test"] {
        let from = root().join("data/fhir-extraction").join(format!("{split}.jsonl"));
        fs::copy(&from, dir.path().join("data").join(format!("{split}.jsonl")))
            .unwrap_or_else(|error| panic!("cannot copy `{}`: {error}", from.display()));
    }
}

pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(read(path)))
}

pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

pub fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|error| panic!("`{}`: not JSON: {error}", path.display()))
}

/// The lines of a JSONL file, each parsed.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    read_text(path)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|error| panic!("`{}`: `{line}`: {error}", path.display()))
        })
        .collect()
}

/// The sorted names in a folder; empty when it is absent.
pub fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> =
        entries.map(|entry| entry.expect("a folder entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The audit log's lines as (action, subject, decision, reason).
pub fn audit(work: &Path) -> Vec<[String; 4]> {
    read_jsonl(&work.join("audit.log"))
        .iter()
        .map(|line| {
            ["action", "subject", "decision", "reason"].map(|field| {
                line[field].as_str().unwrap_or_else(|| panic!("audit line without `{field}`: {line}")).to_owned()
            })
        })
        .collect()
}

/// The model hash as `run.json` and the manifest define it: sha256 over the sorted lines
/// `name sha256\n` of the model folder's files.
pub fn model_sha256(model: &Path) -> String {
    let mut lines: Vec<String> = fs::read_dir(model)
        .expect("the model folder")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.is_file())
        .map(|path| format!("{} {}\n", path.file_name().expect("a name").to_string_lossy(), sha256_file(&path)))
        .collect();
    lines.sort();
    hex::encode(Sha256::digest(lines.concat()))
}

/// The happy path, with one malformed training line that `max_rejected = 1` lets the run
/// skip; then the same folders refuse a second fresh run and a resume over changed data.
#[test]
fn run_exports_exactly_the_gated_files_and_keeps_the_rest_in_the_work_folder() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    let train = dir.path().join("data/train.jsonl");
    let mut lines: Vec<String> = read_text(&train).lines().map(str::to_owned).collect();
    lines.insert(2, "{\"id\": \"fhir-train-broken\", \"note\": ".to_owned());
    fs::write(&train, lines.join("\n") + "\n").expect("write train.jsonl");
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe.set("data", "max_rejected", "1");
    let recipe_path = recipe.write(&dir);
    let (work, export) = (dir.path().join("work"), dir.path().join("export"));

    let stdout = dir.command().args(["run", "recipe.toml"]).stdout();

    // stdout: the base-vs-adapter table, then where the files went.
    assert!(stdout.contains("base vs adapter, each over 12 test records"), "{stdout}");
    let table: Vec<&str> = stdout.lines().skip_while(|line| !line.starts_with("base vs adapter")).collect();
    assert!(table[1].split_whitespace().eq(["metric", "base", "adapter", "delta"]), "{stdout}");
    assert!(table.iter().any(|line| line.starts_with("field_f1 ")), "{stdout}");
    let last = stdout.lines().last().expect("stdout");
    assert!(last.starts_with("exported 6 files to `"), "{stdout}");

    // The export folder: exactly the five files and the manifest, each hashed right.
    let mut expected: Vec<String> = EXPORTED.iter().map(|name| name.to_string()).collect();
    expected.push("manifest.json".to_owned());
    expected.sort();
    assert_eq!(names(&export), expected);
    let manifest = read_json(&export.join("manifest.json"));
    let files = manifest["files"].as_array().expect("manifest `files`");
    let listed: Vec<&str> = files.iter().map(|file| file["name"].as_str().expect("a name")).collect();
    assert_eq!(listed, EXPORTED);
    for file in files {
        let path = export.join(file["name"].as_str().expect("a name"));
        assert_eq!(file["sha256"].as_str(), Some(sha256_file(&path).as_str()), "{}", path.display());
        assert_eq!(file["bytes"].as_u64(), Some(read(&path).len() as u64), "{}", path.display());
    }

    // The manifest's inputs: the files this test wrote and used, by their own hashes.
    let inputs = &manifest["inputs"];
    assert_eq!(inputs["recipe"]["sha256"].as_str(), Some(sha256_file(&recipe_path).as_str()));
    assert_eq!(inputs["plugin"]["sha256"].as_str(), Some(sha256_file(Path::new(FHIR_EXTRACTION)).as_str()));
    assert_eq!(inputs["model"]["sha256"].as_str(), Some(model_sha256(&tiny_model()).as_str()));
    let datasets: BTreeMap<&str, (&str, u64)> = inputs["datasets"]
        .as_array()
        .expect("manifest `inputs.datasets`")
        .iter()
        .map(|d| {
            let record = (d["sha256"].as_str().expect("sha256"), d["records"].as_u64().expect("records"));
            (d["role"].as_str().expect("role"), record)
        })
        .collect();
    let hash = |split: &str| sha256_file(&dir.path().join("data").join(format!("{split}.jsonl")));
    let (train_hash, val_hash, test_hash) = (hash("train"), hash("val"), hash("test"));
    let want = BTreeMap::from([
        ("train", (train_hash.as_str(), 500)),
        ("val", (val_hash.as_str(), 12)),
        ("test", (test_hash.as_str(), 12)),
    ]);
    assert_eq!(datasets, want, "500 of 501 training lines (one skipped), 12 val and 12 test records used");

    // metrics.json: 12 test records, nothing suppressed.
    let metrics = read_json(&export.join("metrics.json"));
    assert_eq!(metrics["metrics"]["records"], 12);
    assert_eq!(metrics["metrics"]["suppressed"], Value::Null);
    // The plugin's first four metrics leave (the recipe selects by `eval_loss`), each a number.
    for column in ["base", "adapter"] {
        let values = metrics["metrics"][column].as_object().unwrap_or_else(|| panic!("{metrics:#}"));
        let names: Vec<&str> = values.keys().map(String::as_str).collect();
        assert_eq!(names, ["field_precision", "field_recall", "json_valid", "schema_valid"], "{metrics:#}");
        assert!(values.values().all(Value::is_number), "{metrics:#}");
    }
    let leaving = stdout.lines().find(|line| line.starts_with("leaving in metrics.json and report.txt: "));
    assert!(leaving.is_some_and(|line| line.contains("field_precision, field_recall")), "{stdout}");
    assert_eq!(metrics["training"]["steps"], 6);
    assert!(!read_text(&export.join("report.txt")).contains("n<11"));

    // The audit log: the lockdown, the skipped line by file and line, an allowed export of
    // every file whose reason carries the file's hash.
    let audit = audit(&work);
    assert_eq!(audit[0][0], "lockdown", "{audit:#?}");
    let start = audit.iter().find(|line| line[0] == "start").expect("a `start` line");
    assert_eq!(start[3], "500 train, 12 val, 12 test records; 1 skipped; resume: false");
    let skip_lines: Vec<&[String; 4]> = audit.iter().filter(|line| line[0] == "skip-record").collect();
    assert_eq!(skip_lines.len(), 1, "{audit:#?}");
    assert!(skip_lines[0][1].ends_with("train.jsonl:3"), "the subject names file and line: {}", skip_lines[0][1]);
    assert!(skip_lines[0][3].contains(":3:"), "the reason names line and column: {}", skip_lines[0][3]);
    for name in expected.iter() {
        let hash = sha256_file(&export.join(name));
        assert!(
            audit.iter().any(|[action, subject, decision, reason]| action == "export"
                && subject == name
                && decision == "allowed"
                && reason.contains(&hash)),
            "no allowed export of `{name}` with sha256 {hash} in {audit:#?}"
        );
    }
    assert!(!audit.iter().any(|line| line[2] == "refused"), "{audit:#?}");

    // The work folder: one prediction per test record, base and adapter, in file order.
    let test_ids: Vec<String> = read_jsonl(&dir.path().join("data/test.jsonl"))
        .iter()
        .take(12)
        .map(|record| record["id"].as_str().expect("id").to_owned())
        .collect();
    for name in ["test-base.jsonl", "test-adapter.jsonl", "val-step-3.jsonl", "val-step-6.jsonl"] {
        let lines = read_jsonl(&work.join("predictions").join(name));
        assert_eq!(lines.len(), 12, "{name}");
        for line in &lines {
            let keys: Vec<&String> = line.as_object().expect("an object").keys().collect();
            assert_eq!(keys, ["id", "prediction", "finish"], "{name}: {line}");
        }
        if name.starts_with("test-") {
            let ids: Vec<&str> = lines.iter().map(|line| line["id"].as_str().expect("id")).collect();
            assert_eq!(ids, test_ids, "{name}");
        }
    }
    let checkpoints = names(&work.join("checkpoints"));
    assert!(checkpoints.contains(&"checkpoint-6".to_owned()), "{checkpoints:?}");
    assert_eq!(read_jsonl(&work.join("journal/steps.jsonl")).len(), 6);
    assert_eq!(read_jsonl(&work.join("journal/evals.jsonl")).len(), 2);
    let best = names(&work.join("best"));
    assert!(best == ["step-3"] || best == ["step-6"], "{best:?}");
    assert!(read_text(&work.join("loss.svg")).contains("<svg"));
    assert!(work.join("run.json").is_file());

    // A second fresh run into the same work folder is refused, pointing at `--resume`.
    fs::rename(&export, dir.path().join("export-first")).expect("move the export away");
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    assert!(output.stderr.contains("already holds a run: continue it with `--resume`"), "{}", output.stderr);
    assert!(names(&export).is_empty(), "{:?}", names(&export));

    // `--resume` after a training record changed is refused, naming the changed input only.
    fs::write(&train, read_text(&train).replacen("Callum Tanaka", "Callum Tanake", 1)).expect("write train.jsonl");
    let output = dir.command().args(["run", "recipe.toml", "--resume"]).fails_with(1);
    let stderr = &output.stderr;
    assert!(stderr.contains("cannot resume the run in `"), "{stderr}");
    assert!(stderr.contains("the train data (sha256 "), "{stderr}");
    assert!(!stderr.contains("the recipe") && !stderr.contains("the val data"), "{stderr}");
    assert!(names(&export).is_empty(), "{:?}", names(&export));
}

/// An export folder with something in it is refused before anything runs.
#[test]
fn run_refuses_a_non_empty_export_folder() {
    let dir = Dir::new();
    copy_fhir_data(&dir);
    Recipe::tiny(FHIR_EXTRACTION).write(&dir);
    fs::create_dir(dir.path().join("export")).expect("create export");
    dir.create("export/old.txt", "an earlier run\n");
    let output = dir.command().args(["run", "recipe.toml"]).fails_with(1);
    assert!(output.stderr.contains("the export folder `export` is not empty"), "{}", output.stderr);
    assert_eq!(names(&dir.path().join("export")), ["old.txt"]);
    assert!(!dir.path().join("work/run.json").exists());
}

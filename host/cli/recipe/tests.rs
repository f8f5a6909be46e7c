//! Recipes accepted with their defaults, and each kind of rejection with its exact message.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rapha_engine::{Decay, Quantization, Target};
use rapha_sandbox::lockdown::SandboxMode;

use super::settings::TrainPlan;
use super::{FederatedStrategy, Length, PrivacyUnit, Recipe, SelectMetric};
use crate::stages::predictions::Decoding;

const TASKS: [&str; 4] = [
    "summarisation",
    "icd-coding",
    "fhir-extraction",
    "trial-matching",
];

/// The required keys only, one per line; extra tables appended start at line 12.
const MINIMAL: &str = r#"[plugin]
path = "../plugins/dist/fhir-extraction.wasm"
[model]
path = "../models/SmolLM2-135M-Instruct.Q4_1.gguf"
[data]
train = "../data/fhir-extraction/train.jsonl"
val = "../data/fhir-extraction/val.jsonl"
test = "../data/fhir-extraction/test.jsonl"
[paths]
work = "../work/default"
export = "../export/default"
"#;

/// `MINIMAL`'s sha256, from `sha256sum` (GNU coreutils) over the same bytes.
const MINIMAL_SHA256: &str = "9378a6475b8832e4dd37bdf7981fb31b4c11bab89d153e957bd85012b570a094";

/// Every key of the schema set to a value other than its default.
const FULL: &str = r#"
[plugin]
path = "../plugins/dist/icd-coding.wasm"
sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
deadline_ms = 2500
fuel = 7
memory_mib = 64
system_prompt = "List the ICD-10-CM codes."

[model]
path = "../models/SmolLM2-135M-Instruct.Q4_1.gguf"
quantization = "none"

[data]
train = "../data/icd-coding/train.jsonl"
val = "../data/icd-coding/val.jsonl"
test = "../data/icd-coding/test.jsonl"
max_rejected = 3
allow_overlap = true

[lora]
rank = 8
alpha = 16
dropout = 0.0
targets = ["v_proj", "q_proj"]
rslora = true

[train]
max_steps = 100
batch_size = 2
grad_accum = 8
lr = 1e-3
warmup_steps = 10
schedule = "linear"
max_seq_len = 384
seed = 7
threads = 2
eval_every = 20
checkpoint_every = 40
patience = 3
select_metric = "micro_f1"
weight_decay = 0.01
max_grad_norm = 0.0
gradient_checkpointing = true

[eval]
records = 12
test_records = 24
max_new_tokens = 160
decoding = "schema"

[paths]
work = "../work/icd"
export = "../export/icd"

[privacy]
sandbox = "best-effort"
min_records = 50

[privacy.dp]
unit = "/patient_id"
epsilon = 8.0
noise_multiplier = 0.9
delta = 1e-6
sample_rate = 0.01
max_grad_norm = 0.5
insecure_seed = 3

[audit]
enabled = true
canaries = 2
canary_repeats = [2, 8]
candidates = 500
holdout = 0.2
extraction_records = 8
max_exposure = 10.5
max_auc_gain = 0.05
max_extraction = 0.2

[federation]
site = "north"
key = "../keys/north.key"
round = 2
global = "../inbox/round-2"
strategy = "fedit"
seed = 7
"#;

/// A folder laid out as the repository is (`recipes/`, `plugins/dist/`, `models/`,
/// `data/<task>/`), with empty stand-ins for the files recipes name.
struct Tree {
    root: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        let root = tempfile::tempdir().expect("temporary folder");
        let tree = Self { root };
        for task in TASKS {
            tree.touch(&format!("plugins/dist/{task}.wasm"));
            for split in ["train", "val", "test"] {
                tree.touch(&format!("data/{task}/{split}.jsonl"));
            }
        }
        tree.touch("models/SmolLM2-135M-Instruct.Q4_1.gguf");
        tree.touch("keys/north.key");
        fs::create_dir_all(tree.path("inbox/round-2")).expect("inbox folder");
        fs::create_dir_all(tree.path("recipes")).expect("recipes folder");
        tree
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    fn touch(&self, relative: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().expect("a file has a folder")).expect("folder");
        fs::write(&path, b"").expect("file");
    }

    /// Write `text` as `recipes/x.toml` and load it. Messages then start with the
    /// temporary folder; [`Tree::message`] strips it.
    fn load(&self, text: &str) -> Result<Recipe, super::RecipeError> {
        let file = self.path("recipes/x.toml");
        fs::write(&file, text).expect("recipe");
        Recipe::load(&file)
    }

    /// The message of the error `text` gives, with `recipes/x.toml` as the file name.
    fn message(&self, text: &str) -> String {
        match self.load(text) {
            Ok(recipe) => panic!("expected a rejection, got {recipe:#?}"),
            Err(error) => {
                let prefix = format!("{}/", self.root.path().display());
                error.to_string().replacen(&prefix, "", 1)
            }
        }
    }
}

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

#[test]
fn minimal_recipe_takes_every_documented_default() {
    let tree = Tree::new();
    let recipe = tree.load(MINIMAL).expect("the minimal recipe is valid");
    let recipes = tree.path("recipes");

    assert_eq!(recipe.sha256, MINIMAL_SHA256);
    assert_eq!(
        recipe.plugin.path,
        recipes.join("../plugins/dist/fhir-extraction.wasm")
    );
    assert_eq!(recipe.plugin.sha256, None);
    assert_eq!(recipe.plugin.deadline, Duration::from_secs(10));
    assert_eq!(recipe.plugin.fuel, 5_000_000_000);
    assert_eq!(recipe.plugin.memory_bytes, 256 * 1024 * 1024);
    assert_eq!(recipe.plugin.system_prompt, None);
    assert_eq!(
        recipe.model.path,
        recipes.join("../models/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert_eq!(recipe.model.quantization, Quantization::Nf4);
    assert_eq!(
        recipe.data.train,
        recipes.join("../data/fhir-extraction/train.jsonl")
    );
    assert_eq!(
        recipe.data.val,
        recipes.join("../data/fhir-extraction/val.jsonl")
    );
    assert_eq!(
        recipe.data.test,
        recipes.join("../data/fhir-extraction/test.jsonl")
    );
    assert_eq!(recipe.data.max_rejected, 0);
    assert!(!recipe.data.allow_overlap);

    assert_eq!(recipe.lora.rank, 16);
    assert_eq!(recipe.lora.alpha, 32.0);
    assert_eq!(recipe.lora.dropout, 0.05);
    assert_eq!(recipe.lora.targets, Target::ALL.to_vec());
    assert!(!recipe.lora.rslora);

    let train = &recipe.train;
    assert_eq!(train.length, Length::Epochs(1.0));
    assert_eq!((train.batch_size, train.grad_accum), (4, 1));
    assert_eq!(train.lr, 2e-4);
    assert_eq!(train.warmup_steps, 0);
    assert_eq!(train.schedule, Decay::Cosine);
    assert_eq!(train.max_seq_len, 512);
    assert_eq!(train.seed, 42);
    assert_eq!(train.threads, None);
    assert_eq!((train.eval_every, train.checkpoint_every), (50, 50));
    assert_eq!(train.patience, None);
    assert_eq!(train.select_metric, SelectMetric::EvalLoss);
    assert_eq!(train.weight_decay, 0.0);
    assert_eq!(train.max_grad_norm, Some(1.0));
    assert!(!train.gradient_checkpointing);

    assert_eq!(recipe.eval.records, 32);
    assert_eq!(recipe.eval.test_records, None);
    assert_eq!(recipe.eval.max_new_tokens, None);
    assert_eq!(recipe.eval.decoding, Decoding::Free);
    assert_eq!(recipe.paths.work, recipes.join("../work/default"));
    assert_eq!(recipe.paths.export, recipes.join("../export/default"));
    assert_eq!(recipe.privacy.sandbox, SandboxMode::Strict);
    assert_eq!(recipe.privacy.min_records, 100);
}

#[test]
fn full_recipe_sets_every_key_and_resolves_units() {
    let tree = Tree::new();
    let recipe = tree.load(FULL).expect("the full recipe is valid");

    assert_eq!(
        recipe.plugin.sha256.as_deref(),
        Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    assert_eq!(recipe.plugin.deadline, Duration::from_millis(2500));
    assert_eq!(recipe.plugin.fuel, 7);
    assert_eq!(recipe.plugin.memory_bytes, 64 * 1024 * 1024);
    assert_eq!(recipe.plugin.system_prompt.as_deref(), Some("List the ICD-10-CM codes."));
    assert_eq!(recipe.model.quantization, Quantization::None);
    assert_eq!(recipe.data.max_rejected, 3);
    assert!(recipe.data.allow_overlap);

    assert_eq!(recipe.lora.rank, 8);
    assert_eq!(recipe.lora.alpha, 16.0, "an integer alpha is accepted");
    assert_eq!(recipe.lora.dropout, 0.0);
    assert_eq!(recipe.lora.targets, vec![Target::VProj, Target::QProj]);
    assert!(recipe.lora.rslora);

    let train = &recipe.train;
    assert_eq!(train.length, Length::MaxSteps(100));
    assert_eq!((train.batch_size, train.grad_accum), (2, 8));
    assert_eq!(train.lr, 1e-3);
    assert_eq!(train.warmup_steps, 10);
    assert_eq!(train.schedule, Decay::Linear);
    assert_eq!(train.max_seq_len, 384);
    assert_eq!(train.seed, 7);
    assert_eq!(train.threads, Some(2));
    assert_eq!((train.eval_every, train.checkpoint_every), (20, 40));
    assert_eq!(train.patience, Some(3));
    assert_eq!(
        train.select_metric,
        SelectMetric::Plugin("micro_f1".to_owned())
    );
    assert_eq!(train.weight_decay, 0.01);
    assert_eq!(train.max_grad_norm, None, "0 turns clipping off");
    assert!(train.gradient_checkpointing);

    assert_eq!(recipe.eval.records, 12);
    assert_eq!(recipe.eval.test_records, Some(24));
    assert_eq!(recipe.eval.max_new_tokens, Some(160));
    assert_eq!(recipe.eval.decoding, Decoding::Schema);
    assert_eq!(recipe.privacy.sandbox, SandboxMode::BestEffort);
    assert_eq!(recipe.privacy.min_records, 50);
    let dp = recipe.privacy.dp.as_ref().expect("[privacy.dp]");
    assert_eq!(dp.unit, PrivacyUnit::Pointer("/patient_id".to_owned()));
    assert_eq!((dp.epsilon, dp.noise_multiplier, dp.delta), (Some(8.0), Some(0.9), Some(1e-6)));
    assert_eq!((dp.sample_rate, dp.max_grad_norm, dp.insecure_seed), (Some(0.01), 0.5, Some(3)));
    let audit = &recipe.audit;
    assert!(audit.enabled);
    assert_eq!((audit.canaries, audit.canary_repeats.as_slice(), audit.candidates), (2, &[2, 8][..], 500));
    assert_eq!((audit.holdout, audit.extraction_records), (0.2, 8));
    assert_eq!((audit.max_exposure, audit.max_auc_gain, audit.max_extraction), (10.5, 0.05, 0.2));
}

/// `[privacy.dp]`: defaults, a required budget or noise, and each key's range, by line.
#[test]
fn differential_privacy_settings() {
    let tree = Tree::new();
    let recipe = tree.load(&with("[privacy.dp]\nepsilon = 3\n")).expect("valid");
    let dp = recipe.privacy.dp.expect("[privacy.dp]");
    assert_eq!((dp.unit, dp.epsilon, dp.noise_multiplier, dp.max_grad_norm), (PrivacyUnit::Record, Some(3.0), None, 1.0));
    assert!(tree.load(MINIMAL).expect("valid").privacy.dp.is_none());
    assert_eq!(
        tree.message(&with("[privacy.dp]\nmax_grad_norm = 1\n")),
        "recipes/x.toml:12:1: missing key `privacy.dp.epsilon`: expected a finite number > 0 (the ε the run may \
         spend) (or `privacy.dp.noise_multiplier`)"
    );
    let cases = [
        ("epsilon = 0", "13:11: `privacy.dp.epsilon`: expected a finite number > 0 (the ε the run may spend), found `0`"),
        ("epsilon = -1", "13:11: `privacy.dp.epsilon`: expected a finite number > 0 (the ε the run may spend), found `-1`"),
        ("delta = 1.0", "13:9: `privacy.dp.delta`: expected a number > 0 below 1 / (privacy units), found `1.0`"),
        ("sample_rate = 0", "13:15: `privacy.dp.sample_rate`: expected a rate in (0, 1]: each unit's chance of joining a step, found `0`"),
        ("unit = \"patient_id\"", "13:8: `privacy.dp.unit`: expected `record`, or a JSON pointer to each record's patient identifier (such as `/patient_id`), found `patient_id`"),
    ];
    for (line, expected) in cases {
        let text = with(&format!("[privacy.dp]\n{line}\nnoise_multiplier = 1\n"));
        assert_eq!(tree.message(&text), format!("recipes/x.toml:{expected}"), "{line}");
    }
    let unknown = tree.message(&with("[privacy.dp]\nepsilon = 1\nsigma = 2\n"));
    assert!(unknown.starts_with("recipes/x.toml:14:1: unknown key `privacy.dp.sigma`"), "{unknown}");
    assert!(unknown.contains("noise_multiplier"), "{unknown}");
    let listed = tree.message(&with("[privacy]\nsandbx = 1\n"));
    assert!(listed.contains("`dp`"), "nested tables are listed: {listed}");
}

/// `FULL` sets `max_steps`, which excludes `epochs`; the next test sets `epochs`.
#[test]
fn full_recipe_sets_every_key_of_the_schema_but_epochs() {
    let document = super::document::Document::parse(FULL).expect("TOML");
    let written = document.positions();
    let unset: Vec<&str> = super::schema::KEYS
        .iter()
        .map(|key| key.path)
        .filter(|path| !written.contains_key(*path))
        .collect();
    assert_eq!(
        unset,
        ["train.epochs"],
        "keys of the schema that FULL leaves out"
    );
}

#[test]
fn checkpoint_every_defaults_to_eval_every() {
    let tree = Tree::new();
    let recipe = tree
        .load(&with("[train]\neval_every = 25\n"))
        .expect("valid");
    assert_eq!(
        (recipe.train.eval_every, recipe.train.checkpoint_every),
        (25, 25)
    );
}

#[test]
fn rejects_unknown_key_listing_its_tables_keys() {
    let tree = Tree::new();
    assert_eq!(
        tree.message(&with("[train]\nlr = 1e-3\nlrate = 1e-3\n")),
        "recipes/x.toml:14:1: unknown key `train.lrate`: expected one of `epochs`, `max_steps`, \
         `batch_size`, `grad_accum`, `lr`, `warmup_steps`, `schedule`, `max_seq_len`, `seed`, \
         `threads`, `eval_every`, `checkpoint_every`, `patience`, `select_metric`, \
         `weight_decay`, `max_grad_norm`, `gradient_checkpointing`"
    );
    assert_eq!(
        tree.message(&with("[paths.extra]\nx = 1\n")),
        "recipes/x.toml:12:8: unknown key `paths.extra`: expected one of `work`, `export`"
    );
}

#[test]
fn rejects_unknown_table_listing_the_tables() {
    let tree = Tree::new();
    assert_eq!(
        tree.message(&with("[trian]\nlr = 1e-3\n")),
        "recipes/x.toml:12:2: unknown table `trian`: expected one of `plugin`, `model`, `data`, \
         `lora`, `train`, `eval`, `paths`, `privacy`, `audit`, `federation`"
    );
}

#[test]
fn rejects_missing_key_at_its_table_header_or_at_the_file() {
    let tree = Tree::new();
    let without_model_path =
        MINIMAL.replace("path = \"../models/SmolLM2-135M-Instruct.Q4_1.gguf\"\n", "");
    assert_eq!(
        tree.message(&without_model_path),
        "recipes/x.toml:3:1: missing key `model.path`: expected the base model: a .gguf file or an HF model folder"
    );
    let without_model = without_model_path.replace("[model]\n", "");
    assert_eq!(
        tree.message(&without_model),
        "recipes/x.toml: missing key `model.path`: expected the base model: a .gguf file or an HF model folder"
    );
    let without_val = MINIMAL.replace("val = \"../data/fhir-extraction/val.jsonl\"\n", "");
    assert_eq!(
        tree.message(&without_val),
        "recipes/x.toml:5:1: missing key `data.val`: expected the validation records: a JSONL file"
    );
}

#[test]
fn reports_toml_syntax_errors_at_their_line_and_column() {
    let tree = Tree::new();
    assert_eq!(
        tree.message(&with("[train]\nlr = 1e-3\nseed = = 4\n")),
        "recipes/x.toml:14:8: extra `=`, expected nothing"
    );
    let duplicate = tree.message(&with("[train]\nseed = 1\nseed = 2\n"));
    assert_eq!(duplicate, "recipes/x.toml:14:1: duplicate key");
}

#[test]
fn rejects_wrong_types_with_what_the_key_expects() {
    let tree = Tree::new();
    assert_eq!(
        tree.message(&with("[lora]\nrank = \"16\"\n")),
        "recipes/x.toml:13:8: `lora.rank`: expected an integer from 1 to 256, found a string"
    );
    assert_eq!(
        tree.message(&with("[train]\nlr = true\n")),
        "recipes/x.toml:13:6: `train.lr`: expected a positive number up to 1, found `true`"
    );
    assert_eq!(
        tree.message(&with("[train]\nbatch_size = 2.5\n")),
        "recipes/x.toml:13:14: `train.batch_size`: expected an integer from 1 to 1024, found `2.5`"
    );
    assert_eq!(
        tree.message(&with("[lora]\ntargets = [\"q_proj\", 3]\n")),
        "recipes/x.toml:13:22: `lora.targets`: expected a non-empty list of distinct projections among \
         `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`, found `3`"
    );
    assert_eq!(
        tree.message(&format!("eval = 5\n{MINIMAL}")),
        "recipes/x.toml:1:8: `eval`: expected a table, found `5`"
    );
}

#[test]
fn rejects_values_out_of_range_as_written() {
    let tree = Tree::new();
    let cases = [
        (
            "[train]\nlr = -1\n",
            "13:6: `train.lr`: expected a positive number up to 1, found `-1`",
        ),
        (
            "[train]\nlr = nan\n",
            "13:6: `train.lr`: expected a positive number up to 1, found `nan`",
        ),
        (
            "[train]\nlr = 1e39\n",
            "13:6: `train.lr`: expected a positive number up to 1, found `1e39`",
        ),
        (
            "[train]\nmax_steps = 99999999999\n",
            "13:13: `train.max_steps`: expected an integer from 1 to 10000000, found `99999999999`",
        ),
        (
            "[lora]\nrank = -4\n",
            "13:8: `lora.rank`: expected an integer from 1 to 256, found `-4`",
        ),
        (
            "[lora]\nrank = 257\n",
            "13:8: `lora.rank`: expected an integer from 1 to 256, found `257`",
        ),
        (
            "[lora]\ndropout = 1.0\n",
            "13:11: `lora.dropout`: expected a number from 0 up to but not including 1, found `1.0`",
        ),
        (
            "[train]\nmax_seq_len = 4\n",
            "13:15: `train.max_seq_len`: expected an integer from 8 to 32768, found `4`",
        ),
        (
            "[train]\nepochs = 0\n",
            "13:10: `train.epochs`: expected a positive finite number, found `0`",
        ),
        (
            "[train]\nweight_decay = -1e-2\n",
            "13:16: `train.weight_decay`: expected a non-negative finite number, found `-1e-2`",
        ),
        (
            "[plugin.x]\n",
            "12:9: unknown key `plugin.x`: expected one of `path`, `sha256`, `deadline_ms`, `fuel`, `memory_mib`, `system_prompt`",
        ),
        (
            "[eval]\nmax_new_tokens = 5000\n",
            "13:18: `eval.max_new_tokens`: expected 0 (the plugin's hint) or an integer from 1 to 4096, found `5000`",
        ),
        (
            "[eval]\nrecords = 0\n",
            "13:11: `eval.records`: expected a positive integer, found `0`",
        ),
        (
            "[privacy]\nmin_records = 0\n",
            "13:15: `privacy.min_records`: expected a positive integer, found `0`",
        ),
        (
            "[privacy]\nsandbox = \"off\"\n",
            "13:11: `privacy.sandbox`: expected `strict` or `best-effort`, found `off`",
        ),
        ("[model]\n", "12:2: duplicate key"),
    ];
    for (extra, expected) in cases {
        assert_eq!(
            tree.message(&with(extra)),
            format!("recipes/x.toml:{expected}"),
            "for {extra:?}"
        );
    }
    let bad_pin = MINIMAL.replace("[model]", "sha256 = \"ABC\"\n[model]");
    assert_eq!(
        tree.message(&bad_pin),
        "recipes/x.toml:3:10: `plugin.sha256`: expected the plugin's sha256: 64 lowercase hex digits, found `ABC`"
    );
    let empty_prompt = MINIMAL.replace("[model]", "system_prompt = \"\"\n[model]");
    assert_eq!(
        tree.message(&empty_prompt),
        "recipes/x.toml:3:17: `plugin.system_prompt`: expected a system prompt of 1 to 4000 characters, found 0 characters"
    );
    let fp16 = MINIMAL.replace("[data]", "quantization = \"fp16\"\n[data]");
    assert_eq!(
        tree.message(&fp16),
        "recipes/x.toml:5:16: `model.quantization`: expected `nf4` or `none`, found `fp16`"
    );
    let grammar = format!("{MINIMAL}[eval]\ndecoding = \"grammar\"\n");
    let line = grammar.lines().count();
    assert_eq!(
        tree.message(&grammar),
        format!("recipes/x.toml:{line}:12: `eval.decoding`: expected `free` or `schema`, found `grammar`")
    );
}

#[test]
fn rejects_paths_that_do_not_exist_or_are_not_files() {
    let tree = Tree::new();
    let nope = MINIMAL.replace("../data/fhir-extraction/train.jsonl", "../data/nope.jsonl");
    assert_eq!(
        tree.message(&nope),
        "recipes/x.toml:6:9: `data.train`: expected an existing file, found `../data/nope.jsonl` (no such file)"
    );
    let folder = MINIMAL.replace("../plugins/dist/fhir-extraction.wasm", "../plugins/dist");
    assert_eq!(
        tree.message(&folder),
        "recipes/x.toml:2:8: `plugin.path`: expected an existing file, found `../plugins/dist` (a folder)"
    );
    let model = "../models/SmolLM2-135M-Instruct.Q4_1.gguf";
    assert_eq!(
        tree.message(&MINIMAL.replace(model, "../models")),
        "recipes/x.toml:4:8: `model.path`: expected an existing .gguf file or HF model folder, \
         found `../models` (a folder without `config.json`)"
    );
    assert_eq!(
        tree.message(&MINIMAL.replace(model, "../data/fhir-extraction/val.jsonl")),
        "recipes/x.toml:4:8: `model.path`: expected an existing .gguf file or HF model folder, \
         found `../data/fhir-extraction/val.jsonl` (not a .gguf file)"
    );
    tree.touch("models/smol/config.json");
    let recipe = tree
        .load(&MINIMAL.replace(model, "../models/smol"))
        .expect("an HF model folder is accepted");
    assert_eq!(recipe.model.path, tree.path("recipes/../models/smol"));
}

#[test]
fn rejects_epochs_and_max_steps_together_at_the_second() {
    let tree = Tree::new();
    assert_eq!(
        tree.message(&with("[train]\nepochs = 2\nlr = 1e-3\nmax_steps = 10\n")),
        "recipes/x.toml:15:13: `train.max_steps`: expected at most one of `train.epochs` and \
         `train.max_steps`, found both"
    );
    assert_eq!(
        tree.message(&with("[train]\nmax_steps = 10\nepochs = 2\n")),
        "recipes/x.toml:14:10: `train.epochs`: expected at most one of `train.epochs` and \
         `train.max_steps`, found both"
    );
}

#[test]
fn rejects_work_and_export_folders_that_overlap() {
    let tree = Tree::new();
    let expected = "`paths.export`: expected a folder apart from `paths.work`: not the same, not inside it, \
                    not containing it, found";
    let cases = [
        (
            "../work/default/",
            "`../work/default/` (the same folder as `paths.work`)",
        ),
        (
            "../work/./x/../default",
            "`../work/./x/../default` (the same folder as `paths.work`)",
        ),
        (
            "../work/default/export",
            "`../work/default/export` (inside `paths.work`)",
        ),
        ("../work", "`../work` (it contains `paths.work`)"),
    ];
    for (export, found) in cases {
        let text = MINIMAL.replace("../export/default", export);
        assert_eq!(
            tree.message(&text),
            format!("recipes/x.toml:11:10: {expected} {found}")
        );
    }
    let apart = tree
        .load(&MINIMAL.replace("../export/default", "../work-export"))
        .expect("a sibling folder");
    assert_eq!(apart.paths.export, tree.path("recipes/../work-export"));
}

#[test]
fn rejects_unknown_duplicate_or_no_lora_targets() {
    let tree = Tree::new();
    let expected = "`lora.targets`: expected a non-empty list of distinct projections among `q_proj`, \
                    `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`, found";
    let cases = [
        ("[\"q_proj\", \"qkv\"]", "13:22", "`qkv`"),
        (
            "[\"q_proj\", \"v_proj\", \"q_proj\"]",
            "13:32",
            "`q_proj` twice",
        ),
        ("[]", "13:11", "`[]`"),
    ];
    for (targets, at, found) in cases {
        let text = with(&format!("[lora]\ntargets = {targets}\n"));
        assert_eq!(
            tree.message(&text),
            format!("recipes/x.toml:{at}: {expected} {found}")
        );
    }
}

#[test]
fn rejects_select_metric_names_outside_the_plugin_alphabet() {
    let tree = Tree::new();
    for name in ["", "Micro_F1", "f1 score", &"a".repeat(49)] {
        let text = with(&format!("[train]\nselect_metric = \"{name}\"\n"));
        assert_eq!(
            tree.message(&text),
            format!(
                "recipes/x.toml:13:17: `train.select_metric`: expected `eval_loss` or a plugin metric name of \
                 1 to 48 characters among `a-z`, `0-9`, `_` and `-`, found `{name}`"
            )
        );
    }
    let recipe = tree
        .load(&with(&format!(
            "[train]\nselect_metric = \"{}\"\n",
            "a".repeat(48)
        )))
        .expect("48 characters");
    assert_eq!(
        recipe.train.select_metric,
        SelectMetric::Plugin("a".repeat(48))
    );
}

#[test]
fn error_at_points_at_the_key_or_at_the_file() {
    let tree = Tree::new();
    let recipe = tree
        .load(&with("[train]\nselect_metric = \"rouge_l\"\n"))
        .expect("valid");
    let strip =
        |message: String| message.replacen(&format!("{}/", tree.root.path().display()), "", 1);
    assert_eq!(
        strip(
            recipe
                .error_at(
                    "train.select_metric",
                    "a metric the plugin declares",
                    "`rouge_l`"
                )
                .to_string()
        ),
        "recipes/x.toml:13:17: `train.select_metric`: expected a metric the plugin declares, found `rouge_l`"
    );
    assert_eq!(
        strip(
            recipe
                .error_at("plugin.sha256", "the pinned sha256", "`00ff`")
                .to_string()
        ),
        "recipes/x.toml: `plugin.sha256`: expected the pinned sha256, found `00ff`"
    );
}

#[test]
fn parse_resolves_paths_against_the_given_files_folder() {
    let tree = Tree::new();
    let file = tree.path("recipes/never-written.toml");
    let recipe = Recipe::parse(MINIMAL, &file).expect("valid");
    assert_eq!(recipe.file, file);
    assert_eq!(recipe.sha256, MINIMAL_SHA256);
    assert_eq!(
        recipe.data.test,
        tree.path("recipes/../data/fhir-extraction/test.jsonl")
    );
}

#[test]
fn load_names_an_unreadable_or_non_utf8_file() {
    let tree = Tree::new();
    let missing = tree.path("recipes/missing.toml");
    let error = Recipe::load(&missing).expect_err("no such file");
    assert_eq!(
        error.to_string(),
        format!("{}: cannot read the recipe", missing.display())
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the io error stays attached"
    );

    let file = tree.path("recipes/latin1.toml");
    fs::write(&file, b"[plugin]\npath = \"caf\xe9.wasm\"\n").expect("write");
    let error = Recipe::load(&file).expect_err("not UTF-8");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:12: expected UTF-8 text, found a byte that is not UTF-8",
            file.display()
        )
    );
}

/// Every shipped recipe loads in a tree laid out like the repository, where the plugins,
/// model and data it names exist (as empty stand-ins: the recipe module checks that they
/// exist, not what they hold). A recipe naming a path outside that layout fails here.
#[test]
fn every_shipped_recipe_loads() {
    let tree = Tree::new();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
    let mut names = Vec::new();
    for entry in fs::read_dir(&shipped).expect("recipes/ is readable") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            let name = path
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let copy = tree.path(&format!("recipes/{name}"));
            fs::copy(&path, &copy).expect("copy");
            let recipe = Recipe::load(&copy).unwrap_or_else(|error| panic!("{name}: {error}"));
            let task = name.trim_end_matches(".toml");
            // The default recipe and its private variant train the FHIR task.
            let task = if task == "default" || task == "private" {
                "fhir-extraction"
            } else {
                task
            };
            assert_eq!(
                recipe.plugin.path,
                tree.path(&format!("recipes/../plugins/dist/{task}.wasm")),
                "{name}"
            );
            assert_eq!(
                recipe.data.train,
                tree.path(&format!("recipes/../data/{task}/train.jsonl")),
                "{name}"
            );
            assert_eq!(recipe.model.quantization, Quantization::Nf4, "{name}");
            assert_eq!(recipe.privacy.dp.is_some(), name == "private.toml", "{name}");
            names.push(name);
        }
    }
    names.sort();
    assert_eq!(
        names,
        [
            "default.toml",
            "fhir-extraction.toml",
            "icd-coding.toml",
            "private.toml",
            "summarisation.toml",
            "trial-matching.toml"
        ]
    );
}

/// `[audit]`: on by default with the documented sizes and thresholds; each key's range.
/// `[federation]`: required site and key, a global adapter after round 1, the strategy.
#[test]
fn federation_settings() {
    let tree = Tree::new();
    assert!(tree.load(MINIMAL).expect("valid").federation.is_none());
    let first = tree.load(&with("[federation]\nsite = \"north\"\nkey = \"../keys/north.key\"\n")).expect("valid");
    let federation = first.federation.clone().expect("[federation]");
    assert_eq!((federation.round, federation.global, federation.strategy, federation.seed), (1, None, FederatedStrategy::Ffa, 0));
    let plan = TrainPlan { max_steps: 1, pad_id: 0, checkpoint_dir: PathBuf::new(), base_model: String::new(), dp: None };
    assert!(first.train_config(plan).freeze_a, "FFA-LoRA trains only B");
    assert_eq!(first.adapter_seed(), 0, "every site draws A from the federation's seed");
    let cases = [
        ("key = \"../keys/north.key\"", "12:1: missing key `federation.site`: expected the site's name: 1 to 48 of lowercase letters, digits and `-`"),
        ("site = \"North\"\nkey = \"../keys/north.key\"", "13:8: `federation.site`: expected the site's name: 1 to 48 of lowercase letters, digits and `-`, found `North`"),
        ("site = \"north\"\nkey = \"../keys/south.key\"", "14:7: `federation.key`: expected an existing file, found `../keys/south.key` (no such file)"),
        ("site = \"north\"\nkey = \"../keys/north.key\"\nround = 2", "12:1: missing key `federation.global`: expected the round's global adapter folder (required after round 1)"),
        ("site = \"north\"\nkey = \"../keys/north.key\"\nstrategy = \"fedavg\"", "15:12: `federation.strategy`: expected `ffa` or `fedit`, found `fedavg`"),
        (
            "site = \"north\"\nkey = \"../keys/north.key\"\nround = 3\nglobal = \"../inbox/round-3\"",
            "16:10: `federation.global`: expected an existing folder, found `../inbox/round-3` (no such file)",
        ),
    ];
    for (lines, expected) in cases {
        assert_eq!(tree.message(&with(&format!("[federation]\n{lines}\n"))), format!("recipes/x.toml:{expected}"), "{lines}");
    }
}

/// `run --round N --global DIR`: the round's own work and export folders, and a global
/// adapter folder that must exist after round 1 (the site's inbox, written by the ClientApp).
#[test]
fn a_round_of_a_federated_recipe() {
    let tree = Tree::new();
    let text = with("[federation]\nsite = \"north\"\nkey = \"../keys/north.key\"\n");
    let round = tree.load(&text).expect("valid").for_round(2, Some(tree.path("inbox/round-2"))).expect("round 2");
    let federation = round.federation.as_ref().expect("[federation]");
    assert_eq!((federation.round, federation.global.clone()), (2, Some(tree.path("inbox/round-2"))));
    assert!(round.paths.work.ends_with("round-2") && round.paths.export.ends_with("round-2"), "{:?}", round.paths);
    let missing = tree.path("inbox/round-3");
    let refused = tree.load(&text).expect("valid").for_round(3, Some(missing.clone())).expect_err("no inbox");
    assert_eq!(refused.to_string(), format!("--global: `{}` is not a folder (the round's global adapter)", missing.display()));
    let refused = tree.load(&text).expect("valid").for_round(3, None).expect_err("no global adapter");
    assert!(refused.to_string().contains("round 3 starts from the round's global adapter folder"), "{refused}");
    assert!(tree.load(MINIMAL).expect("valid").for_round(1, None).is_err(), "a recipe without [federation] runs no round");
}

#[test]
fn audit_settings() {
    let tree = Tree::new();
    let audit = tree.load(MINIMAL).expect("valid").audit;
    assert!(audit.enabled);
    assert_eq!((audit.canaries, audit.canary_repeats.as_slice(), audit.candidates), (4, &[1, 4][..], 100));
    assert_eq!((audit.holdout, audit.extraction_records), (0.1, 16));
    assert_eq!((audit.max_exposure, audit.max_auc_gain, audit.max_extraction), (8.0, 0.05, 0.1));
    let cases = [
        ("canary_repeats = []", "13:18: `audit.canary_repeats`: expected a non-empty list of distinct integers from 1 to 64, found `[]`"),
        ("canary_repeats = [1, 1]", "13:22: `audit.canary_repeats`: expected a non-empty list of distinct integers from 1 to 64, found `1` twice"),
        ("holdout = 0.6", "13:11: `audit.holdout`: expected a share of the training units above 0, at most 0.5, found `0.6`"),
        ("max_auc_gain = 0.7", "13:16: `audit.max_auc_gain`: expected a number from 0 to 0.5, found `0.7`"),
        ("max_exposure = 0", "13:16: `audit.max_exposure`: expected a number of bits > 0, found `0`"),
    ];
    for (line, expected) in cases {
        assert_eq!(tree.message(&with(&format!("[audit]\n{line}\n"))), format!("recipes/x.toml:{expected}"), "{line}");
    }
}

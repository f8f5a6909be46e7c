//! Every key a recipe may hold and what it expects, in one list.
//!
//! The list serves three messages that must agree: an unknown key names the keys its
//! table has, a value of the wrong TOML type and a value out of range both say what the
//! key expects. [`super::raw`] documents each key at length; a test checks that a recipe
//! setting every key here is accepted.

/// One key of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Table and key, such as `train.lr`.
    pub path: &'static str,
    /// What it accepts, as the message after "expected" says it.
    pub expected: &'static str,
}

impl Key {
    /// The key without its table, such as `lr` (`epsilon` of `privacy.dp.epsilon`).
    fn name(&self) -> &'static str {
        self.path
            .rsplit_once('.')
            .map_or(self.path, |(_, name)| name)
    }

    /// Whether the key belongs to `table` (`train`, or a nested table such as `privacy.dp`).
    fn in_table(&self, table: &str) -> bool {
        self.path
            .rsplit_once('.')
            .is_some_and(|(owner, _)| owner == table)
    }
}

macro_rules! keys {
    ($($name:ident = $path:literal: $expected:expr;)*) => {
        $(pub const $name: Key = Key { path: $path, expected: $expected };)*
        /// Every key, in the order of the schema.
        pub const KEYS: &[Key] = &[$($name),*];
    };
}

const POSITIVE: &str = "a positive integer";
const COUNT: &str = "a non-negative integer";
const POSITIVE_FINITE: &str = "a positive finite number";
const BOOLEAN: &str = "`true` or `false`";

keys! {
    PLUGIN_PATH = "plugin.path": "the task plugin: a WebAssembly component file (.wasm)";
    PLUGIN_SHA256 = "plugin.sha256": "the plugin's sha256: 64 lowercase hex digits";
    PLUGIN_DEADLINE_MS = "plugin.deadline_ms": "an integer from 1 to 600000 (milliseconds)";
    PLUGIN_FUEL = "plugin.fuel": POSITIVE;
    PLUGIN_MEMORY_MIB = "plugin.memory_mib": "an integer from 1 to 4096 (MiB)";
    PLUGIN_SYSTEM_PROMPT = "plugin.system_prompt": "a system prompt of 1 to 4000 characters";

    MODEL_PATH = "model.path": "the base model: a .gguf file or an HF model folder";
    MODEL_QUANTIZATION = "model.quantization": "`nf4` or `none`";

    DATA_TRAIN = "data.train": "the training records: a JSONL file";
    DATA_VAL = "data.val": "the validation records: a JSONL file";
    DATA_TEST = "data.test": "the test records: a JSONL file";
    DATA_MAX_REJECTED = "data.max_rejected": COUNT;
    DATA_ALLOW_OVERLAP = "data.allow_overlap": BOOLEAN;

    LORA_RANK = "lora.rank": "an integer from 1 to 256";
    LORA_ALPHA = "lora.alpha": POSITIVE_FINITE;
    LORA_DROPOUT = "lora.dropout": "a number from 0 up to but not including 1";
    LORA_TARGETS = "lora.targets": "a non-empty list of distinct projections among `q_proj`, \
        `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`";
    LORA_RSLORA = "lora.rslora": BOOLEAN;

    TRAIN_EPOCHS = "train.epochs": POSITIVE_FINITE;
    TRAIN_MAX_STEPS = "train.max_steps": "an integer from 1 to 10000000";
    TRAIN_BATCH_SIZE = "train.batch_size": "an integer from 1 to 1024";
    TRAIN_GRAD_ACCUM = "train.grad_accum": "an integer from 1 to 1024";
    TRAIN_LR = "train.lr": "a positive number up to 1";
    TRAIN_WARMUP_STEPS = "train.warmup_steps": COUNT;
    TRAIN_SCHEDULE = "train.schedule": "`cosine` or `linear`";
    TRAIN_MAX_SEQ_LEN = "train.max_seq_len": "an integer from 8 to 32768";
    TRAIN_SEED = "train.seed": COUNT;
    TRAIN_THREADS = "train.threads": "0 (every core) or a number of threads from 1 to 1024";
    TRAIN_EVAL_EVERY = "train.eval_every": POSITIVE;
    TRAIN_CHECKPOINT_EVERY = "train.checkpoint_every": POSITIVE;
    TRAIN_PATIENCE = "train.patience": "a non-negative integer (0: never stop early)";
    TRAIN_SELECT_METRIC = "train.select_metric": "`eval_loss` or a plugin metric name \
        of 1 to 48 characters among `a-z`, `0-9`, `_` and `-`";
    TRAIN_WEIGHT_DECAY = "train.weight_decay": "a non-negative finite number";
    TRAIN_MAX_GRAD_NORM = "train.max_grad_norm": "a non-negative finite number (0: no clipping)";
    TRAIN_GRADIENT_CHECKPOINTING = "train.gradient_checkpointing": BOOLEAN;

    EVAL_RECORDS = "eval.records": POSITIVE;
    EVAL_TEST_RECORDS = "eval.test_records": "a non-negative integer (0: every test record)";
    EVAL_MAX_NEW_TOKENS = "eval.max_new_tokens": "0 (the plugin's hint) or an integer from 1 to 4096";
    EVAL_DECODING = "eval.decoding": "`free` or `schema`";

    PATHS_WORK = "paths.work": "the work folder: a path";
    PATHS_EXPORT = "paths.export": "the export folder: a path";

    PRIVACY_SANDBOX = "privacy.sandbox": "`strict` or `best-effort`";
    PRIVACY_MIN_RECORDS = "privacy.min_records": POSITIVE;

    DP_UNIT = "privacy.dp.unit": "`record`, or a JSON pointer to each record's patient \
        identifier (such as `/patient_id`)";
    DP_EPSILON = "privacy.dp.epsilon": "a finite number > 0 (the ε the run may spend)";
    DP_NOISE_MULTIPLIER = "privacy.dp.noise_multiplier": "a finite number > 0 (noise std over the clipping norm)";
    DP_DELTA = "privacy.dp.delta": "a number > 0 below 1 / (privacy units)";
    DP_SAMPLE_RATE = "privacy.dp.sample_rate": "a rate in (0, 1]: each unit's chance of joining a step";
    DP_MAX_GRAD_NORM = "privacy.dp.max_grad_norm": POSITIVE_FINITE;
    AUDIT_ENABLED = "audit.enabled": BOOLEAN;
    AUDIT_CANARIES = "audit.canaries": "an integer from 1 to 64 (canaries per repetition count)";
    AUDIT_CANARY_REPEATS = "audit.canary_repeats": "a non-empty list of distinct integers from 1 to 64";
    AUDIT_CANDIDATES = "audit.candidates": "an integer from 10 to 100000";
    AUDIT_HOLDOUT = "audit.holdout": "a share of the training units above 0, at most 0.5";
    AUDIT_EXTRACTION_RECORDS = "audit.extraction_records": "an integer from 0 to 1000";
    AUDIT_MAX_EXPOSURE = "audit.max_exposure": "a number of bits > 0";
    AUDIT_MAX_AUC_GAIN = "audit.max_auc_gain": "a number from 0 to 0.5";
    AUDIT_MAX_EXTRACTION = "audit.max_extraction": "a share from 0 to 1";

    DP_INSECURE_SEED = "privacy.dp.insecure_seed": "a non-negative integer (tests only: makes the noise predictable)";

    FEDERATION_SITE = "federation.site": "the site's name: 1 to 48 of lowercase letters, digits and `-`";
    FEDERATION_KEY = "federation.key": "the site's key file (`rapha-host keys new`)";
    FEDERATION_ROUND = "federation.round": "an integer ≥ 1";
    FEDERATION_GLOBAL = "federation.global": "the round's global adapter folder (required after round 1)";
    FEDERATION_STRATEGY = "federation.strategy": "`ffa` or `fedit`";
    FEDERATION_SEED = "federation.seed": "a non-negative integer (the federation's shared seed)";
}

/// The tables, in the order of the schema.
pub const TABLES: &[&str] = &[
    "plugin", "model", "data", "lora", "train", "eval", "paths", "privacy", "privacy.dp", "audit", "federation",
];

/// The key at `path`, if the schema has it.
pub fn key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.path == path)
}

/// The names of `table`'s keys and nested tables, in schema order.
pub fn keys_of(table: &str) -> Vec<&'static str> {
    let nested = TABLES
        .iter()
        .filter_map(|path| path.rsplit_once('.').filter(|(owner, _)| *owner == table).map(|(_, name)| name));
    KEYS.iter()
        .filter(|key| key.in_table(table))
        .map(Key::name)
        .chain(nested)
        .collect()
}

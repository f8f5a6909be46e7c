//! LoRA adapters in PEFT's on-disk format.
//!
//! A PEFT adapter directory (`PeftModel.save_pretrained`) holds:
//! - `adapter_model.safetensors`: for every adapted projection, `lora_A.weight` [r, in] and
//!   `lora_B.weight` [out, r] under the module's name prefixed by `base_model.model.`, e.g.
//!   `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight`;
//! - `adapter_config.json`: PEFT's `LoraConfig.to_dict()`, keys sorted, indented by 2.
//!
//! We write the fields PEFT writes with the values a plain LoRA has, so that PEFT, vLLM and
//! llama.cpp's `convert_lora_to_gguf.py` load the directory unchanged. Reading accepts
//! adapters trained elsewhere, but only what the engine computes the same way: LoRA on the
//! seven projections of the decoder layers, no DoRA, no bias, no per-module rank or alpha, no
//! extra trainable modules. Everything else is refused by name rather than half-applied.
//!
//! Every file is written atomically ([`write_atomic`]): a crash leaves the old file or the
//! new one, never a torn one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::{DType, Device, Tensor};
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::{CandleContext, Error, Result};
use crate::lora::{LoraAdapter, LoraConfig, Target};
use crate::model::Model;

/// File name of the adapter weights.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
/// File name of the adapter config.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// Prefix PEFT puts before module names in saved files (`PeftModel.base_model.model`).
pub const PEFT_PREFIX: &str = "base_model.model.";

/// One adapted projection's matrices, f32.
#[derive(Debug, Clone)]
pub struct LoraPair {
    /// `lora_A.weight` [r, in].
    pub a: Tensor,
    /// `lora_B.weight` [out, r].
    pub b: Tensor,
}

/// A LoRA adapter as PEFT stores it: its config and, per adapted module, `A` and `B`.
#[derive(Debug, Clone)]
pub struct PeftAdapter {
    /// Rank, alpha, dropout, targets, rsLoRA.
    pub lora: LoraConfig,
    /// `base_model_name_or_path` of `adapter_config.json`.
    pub base_model: Option<String>,
    /// Module name without PEFT's prefix (`model.layers.3.mlp.up_proj`) → its matrices.
    pub modules: BTreeMap<String, LoraPair>,
}

impl PeftAdapter {
    /// Copy the adapters of `model`, described by `lora` (the config it was built with).
    pub fn from_model(model: &Model, lora: &LoraConfig, base_model: Option<String>) -> Result<Self> {
        let mut modules = BTreeMap::new();
        for (name, adapter) in model.adapters() {
            check_matches(name, adapter, lora)?;
            let copy = |t: &Tensor| t.copy().context_with(|| format!("copy adapter `{name}`"));
            let pair = LoraPair { a: copy(adapter.a().as_tensor())?, b: copy(adapter.b().as_tensor())? };
            modules.insert(name.to_owned(), pair);
        }
        if modules.is_empty() {
            return Err(Error::Setting {
                field: "lora",
                expected: "a model with LoRA adapters to save",
                found: "a model without any".to_owned(),
            });
        }
        Ok(Self { lora: lora.clone(), base_model, modules })
    }

    /// `adapter_config.json` as PEFT writes it for this adapter.
    pub fn config_json(&self) -> Value {
        let mut targets: Vec<&str> = self.lora.targets.iter().map(|t| t.peft_name()).collect();
        targets.sort_unstable();
        targets.dedup();
        // PEFT writes an integer alpha when it was given one; keep that form when exact.
        let alpha = if self.lora.alpha.fract() == 0.0 && self.lora.alpha.abs() < 1e15 {
            json!(self.lora.alpha as i64)
        } else {
            json!(self.lora.alpha)
        };
        let mut config = json!({
            "alpha_pattern": {},
            "auto_mapping": null,
            "base_model_name_or_path": self.base_model,
            "bias": "none",
            "exclude_modules": null,
            "fan_in_fan_out": false,
            "inference_mode": true,
            "init_lora_weights": true,
            "layer_replication": null,
            "layers_pattern": null,
            "layers_to_transform": null,
            "loftq_config": {},
            "lora_alpha": alpha,
            "lora_bias": false,
            "lora_dropout": self.lora.dropout,
            "megatron_config": null,
            "megatron_core": "megatron.core",
            "modules_to_save": null,
            "peft_type": "LORA",
            "r": self.lora.rank,
            "rank_pattern": {},
            "revision": null,
            "target_modules": targets,
            "task_type": "CAUSAL_LM",
            "use_dora": false,
            "use_rslora": self.lora.rslora,
        });
        // Keys sorted, as PEFT writes them, whatever order a JSON map keeps.
        config.sort_all_objects();
        config
    }

    /// `adapter_model.safetensors` as bytes: f32 tensors under PEFT's names, and the
    /// `{"format": "pt"}` metadata transformers checks for.
    pub fn weights_bytes(&self) -> Result<Vec<u8>> {
        let mut tensors: Vec<(String, F32View)> = Vec::with_capacity(self.modules.len() * 2);
        for (name, pair) in &self.modules {
            for (half, tensor) in [("A", &pair.a), ("B", &pair.b)] {
                let full = format!("{PEFT_PREFIX}{name}.lora_{half}.weight");
                let view = F32View::new(tensor, &full)?;
                tensors.push((full, view));
            }
        }
        let metadata = std::collections::HashMap::from([("format".to_owned(), "pt".to_owned())]);
        safetensors::serialize(tensors, Some(metadata)).map_err(|e| Error::Adapter {
            path: PathBuf::from(ADAPTER_WEIGHTS),
            message: format!("serialising: {e}"),
        })
    }

    /// Write `adapter_model.safetensors` and `adapter_config.json` into `dir` (created if
    /// missing), each atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        write_atomic(&dir.join(ADAPTER_WEIGHTS), &self.weights_bytes()?)?;
        let mut config = serde_json::to_string_pretty(&self.config_json()).expect("a json value serialises");
        config.push('\n');
        write_atomic(&dir.join(ADAPTER_CONFIG), config.as_bytes())
    }

    /// Read a PEFT adapter directory onto `device`, converting f16/bf16 to f32 and refusing
    /// what the engine cannot apply as PEFT would (see the module doc).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config_path = dir.join(ADAPTER_CONFIG);
        let config = std::fs::read(&config_path).map_err(|source| Error::Io { path: config_path.clone(), source })?;
        let weights_path = dir.join(ADAPTER_WEIGHTS);
        if !weights_path.is_file() && dir.join("adapter_model.bin").is_file() {
            return Err(Error::Adapter {
                path: dir.join("adapter_model.bin"),
                message: "pickled adapters are not read (they can run code); re-save with `safe_serialization=True`"
                    .to_owned(),
            });
        }
        let weights = std::fs::read(&weights_path).map_err(|source| Error::Io { path: weights_path.clone(), source })?;
        Self::from_bytes(dir, &config, &weights, device)
    }

    /// The adapter whose `adapter_config.json` and `adapter_model.safetensors` are `config`
    /// and `weights`, as [`PeftAdapter::load`] reads them from `dir` (named in errors): for a
    /// caller that has already read and checked the bytes, so that what it checked is what
    /// is used.
    pub fn from_bytes(dir: &Path, config: &[u8], weights: &[u8], device: &Device) -> Result<Self> {
        let config_path = dir.join(ADAPTER_CONFIG);
        let raw: Value = serde_json::from_slice(config)
            .map_err(|source| Error::Json { path: config_path.clone(), source })?;
        let parsed = parse_config(&raw).map_err(|message| Error::Adapter { path: config_path.clone(), message })?;
        let weights_path = dir.join(ADAPTER_WEIGHTS);
        let tensors = candle_core::safetensors::load_buffer(weights, device)
            .context_with(|| format!("{}: reading safetensors", weights_path.display()))?;
        let invalid = |message: String| Error::Adapter { path: weights_path.clone(), message };

        let mut halves: BTreeMap<String, (Option<Tensor>, Option<Tensor>)> = BTreeMap::new();
        let mut found_targets = BTreeSet::new();
        for (tensor_name, tensor) in tensors {
            let (module, target, half) = parse_tensor_name(&tensor_name).ok_or_else(|| {
                invalid(format!(
                    "unsupported tensor `{tensor_name}`: expected \
                     `{PEFT_PREFIX}model.layers.{{i}}.{{self_attn|mlp}}.{{proj}}.lora_{{A|B}}.weight`"
                ))
            })?;
            if !matches!(tensor.dtype(), DType::F32 | DType::F16 | DType::BF16) {
                return Err(invalid(format!(
                    "tensor `{tensor_name}`: expected dtype f32, f16 or bf16, found {:?}",
                    tensor.dtype()
                )));
            }
            if tensor.rank() != 2 {
                return Err(invalid(format!(
                    "tensor `{tensor_name}`: expected 2 dimensions, found shape {:?}",
                    tensor.dims()
                )));
            }
            let (rows, cols) = tensor.dims2().expect("rank checked");
            let rank_dim = if half == Half::A { rows } else { cols };
            if rank_dim != parsed.lora.rank {
                return Err(invalid(format!(
                    "tensor `{tensor_name}`: expected rank `r` = {} (from {ADAPTER_CONFIG}), found shape {:?}",
                    parsed.lora.rank,
                    tensor.dims()
                )));
            }
            if let Some(listed) = &parsed.listed_targets
                && !listed.contains(&target)
            {
                return Err(invalid(format!(
                    "tensor `{tensor_name}` adapts `{target}`, which `target_modules` in {ADAPTER_CONFIG} does not list"
                )));
            }
            found_targets.insert(target);
            let tensor = tensor.to_dtype(DType::F32).context_with(|| format!("converting `{tensor_name}` to f32"))?;
            let slot = halves.entry(module).or_default();
            match half {
                Half::A => slot.0 = Some(tensor),
                Half::B => slot.1 = Some(tensor),
            }
        }
        let mut modules = BTreeMap::new();
        for (module, pair) in halves {
            match pair {
                (Some(a), Some(b)) => {
                    modules.insert(module, LoraPair { a, b });
                }
                (Some(_), None) => return Err(invalid(format!("module `{module}` has `lora_A` but no `lora_B`"))),
                (None, _) => return Err(invalid(format!("module `{module}` has `lora_B` but no `lora_A`"))),
            }
        }
        if modules.is_empty() {
            return Err(invalid("no LoRA tensors".to_owned()));
        }
        if let Some(listed) = &parsed.listed_targets
            && let Some(missing) = listed.iter().find(|t| !found_targets.contains(t))
        {
            return Err(invalid(format!(
                "`target_modules` in {ADAPTER_CONFIG} lists `{missing}` but no tensor adapts it"
            )));
        }
        let lora = LoraConfig { targets: found_targets.into_iter().collect(), ..parsed.lora };
        Ok(Self { lora, base_model: parsed.base_model, modules })
    }

    /// Check every module against a model of `config`: the layer exists and `A`, `B` have
    /// the shapes the projection needs.
    pub fn validate_for(&self, config: &Config) -> Result<()> {
        for (module, pair) in &self.modules {
            let (layer, target) = parse_module_name(module).expect("module names are checked when built");
            if layer >= config.num_hidden_layers {
                return Err(Error::Adapter {
                    path: PathBuf::from(ADAPTER_WEIGHTS),
                    message: format!(
                        "module `{module}`: the model has {} layers (0..{})",
                        config.num_hidden_layers, config.num_hidden_layers
                    ),
                });
            }
            let (out_features, in_features) = projection_shape(config, target);
            let r = self.lora.rank;
            for (what, tensor, expected) in
                [("lora_A", &pair.a, [r, in_features]), ("lora_B", &pair.b, [out_features, r])]
            {
                if tensor.dims() != expected {
                    return Err(Error::AdapterShape {
                        name: module.clone(),
                        tensor: what,
                        expected: format!("{expected:?}"),
                        found: format!("{:?}", tensor.dims()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Put this adapter on `model`: every projection it names gets its `A` and `B` (as new
    /// trainable variables), every other projection loses any adapter it had.
    pub fn apply(&self, model: &mut Model) -> Result<()> {
        self.validate_for(model.config())?;
        for layer in 0..model.config().num_hidden_layers {
            for target in Target::ALL {
                let name = module_name(layer, target);
                let adapter = match self.modules.get(&name) {
                    Some(pair) => Some(LoraAdapter::from_weights(&name, &pair.a, &pair.b, &self.lora)?),
                    None => None,
                };
                model
                    .linear_mut(layer, target)
                    .expect("layer index is below num_hidden_layers")
                    .set_adapter(adapter)?;
            }
        }
        Ok(())
    }

    /// Overwrite the values of `model`'s existing adapters with this adapter's, keeping the
    /// variables (and so an optimizer's hold on them). The sets of modules must be equal.
    pub fn assign_to(&self, model: &Model) -> Result<()> {
        let present: BTreeSet<&str> = model.adapters().map(|(name, _)| name).collect();
        let saved: BTreeSet<&str> = self.modules.keys().map(String::as_str).collect();
        if present != saved {
            let only_model: Vec<&&str> = present.difference(&saved).collect();
            let only_saved: Vec<&&str> = saved.difference(&present).collect();
            return Err(Error::Adapter {
                path: PathBuf::from(ADAPTER_WEIGHTS),
                message: format!(
                    "adapted modules differ: only in the model {only_model:?}, only in the file {only_saved:?}"
                ),
            });
        }
        for (name, adapter) in model.adapters() {
            check_matches(name, adapter, &self.lora)?;
            let pair = &self.modules[name];
            for (what, var, value) in [("lora_A", adapter.a(), &pair.a), ("lora_B", adapter.b(), &pair.b)] {
                if var.dims() != value.dims() {
                    return Err(Error::AdapterShape {
                        name: name.to_owned(),
                        tensor: what,
                        expected: format!("{:?}", var.dims()),
                        found: format!("{:?}", value.dims()),
                    });
                }
                var.set(&value.to_device(var.device()).context_with(|| format!("restore adapter `{name}`"))?)
                    .context_with(|| format!("restore adapter `{name}`"))?;
            }
        }
        Ok(())
    }
}

/// The module name of projection `target` in layer `layer`, without PEFT's prefix.
pub fn module_name(layer: usize, target: Target) -> String {
    let block = match target {
        Target::QProj | Target::KProj | Target::VProj | Target::OProj => "self_attn",
        Target::GateProj | Target::UpProj | Target::DownProj => "mlp",
    };
    format!("model.layers.{layer}.{block}.{}", target.peft_name())
}

/// `(out, in)` of projection `target` in a model of `config`.
fn projection_shape(config: &Config, target: Target) -> (usize, usize) {
    let h = config.hidden_size;
    let q = config.num_attention_heads * config.head_dim;
    let kv = config.num_key_value_heads * config.head_dim;
    let i = config.intermediate_size;
    match target {
        Target::QProj => (q, h),
        Target::KProj | Target::VProj => (kv, h),
        Target::OProj => (h, q),
        Target::GateProj | Target::UpProj => (i, h),
        Target::DownProj => (h, i),
    }
}

/// A model adapter that does not carry the scale, dropout or rank its config says is a bug
/// in the caller (the model was built with another config); say so before writing a file
/// that would load differently.
fn check_matches(name: &str, adapter: &LoraAdapter, lora: &LoraConfig) -> Result<()> {
    let same = adapter.rank() == lora.rank
        && (adapter.scale() - lora.scale()).abs() <= 1e-12 * lora.scale().abs().max(1.0)
        && adapter.dropout() == lora.dropout;
    if same {
        Ok(())
    } else {
        Err(Error::Setting {
            field: "lora",
            expected: "the LoRA config the model's adapters were built with",
            found: format!(
                "rank {}, scale {}, dropout {} for adapter `{name}` of rank {}, scale {}, dropout {}",
                lora.rank,
                lora.scale(),
                lora.dropout,
                adapter.rank(),
                adapter.scale(),
                adapter.dropout()
            ),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    A,
    B,
}

/// `base_model.model.model.layers.{i}.{block}.{proj}.lora_{A|B}.weight` → (module, target, half).
fn parse_tensor_name(name: &str) -> Option<(String, Target, Half)> {
    let rest = name.strip_prefix(PEFT_PREFIX)?;
    let (module, half) = if let Some(module) = rest.strip_suffix(".lora_A.weight") {
        (module, Half::A)
    } else {
        (rest.strip_suffix(".lora_B.weight")?, Half::B)
    };
    let (_, target) = parse_module_name(module)?;
    Some((module.to_owned(), target, half))
}

/// `model.layers.{i}.{block}.{proj}` → (i, target), with the block the projection lives in.
fn parse_module_name(module: &str) -> Option<(usize, Target)> {
    let rest = module.strip_prefix("model.layers.")?;
    let (index, rest) = rest.split_once('.')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) || (index.len() > 1 && index.starts_with('0')) {
        return None;
    }
    let layer: usize = index.parse().ok()?;
    let (_, proj) = rest.split_once('.')?;
    let target: Target = proj.parse().ok()?;
    (module_name(layer, target) == module).then_some((layer, target))
}

/// What `adapter_config.json` says, once validated.
struct ParsedConfig {
    lora: LoraConfig,
    base_model: Option<String>,
    /// `target_modules` when it is a list; `None` when it is a pattern (PEFT matches a string
    /// as a regex or `all-linear`), in which case the tensors decide.
    listed_targets: Option<BTreeSet<Target>>,
}

/// Validate a parsed `adapter_config.json`; the error names the field.
fn parse_config(raw: &Value) -> std::result::Result<ParsedConfig, String> {
    let obj = raw.as_object().ok_or("expected a JSON object")?;
    let get = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let field = |key: &str, expected: &str, found: &Value| format!("`{key}`: expected {expected}, found `{found}`");

    match get("peft_type") {
        Some(Value::String(t)) if t == "LORA" => {}
        Some(other) => return Err(field("peft_type", "\"LORA\"", other)),
        None => return Err("`peft_type`: missing; expected \"LORA\"".to_owned()),
    }
    if let Some(task) = get("task_type")
        && task != "CAUSAL_LM"
    {
        return Err(field("task_type", "\"CAUSAL_LM\"", task));
    }
    let rank = match get("r") {
        Some(v) => v.as_u64().filter(|&r| r > 0).ok_or_else(|| field("r", "a positive integer", v))?,
        None => return Err("`r`: missing".to_owned()),
    };
    let rank = usize::try_from(rank).map_err(|_| format!("`r`: `{rank}` is too large"))?;
    // PEFT's defaults: lora_alpha 8, lora_dropout 0, use_rslora false.
    let alpha = match get("lora_alpha") {
        Some(v) => v.as_f64().filter(|a| a.is_finite()).ok_or_else(|| field("lora_alpha", "a number", v))?,
        None => 8.0,
    };
    let dropout = match get("lora_dropout") {
        Some(v) => v.as_f64().ok_or_else(|| field("lora_dropout", "a number", v))? as f32,
        None => 0.0,
    };
    let rslora = match get("use_rslora") {
        Some(v) => v.as_bool().ok_or_else(|| field("use_rslora", "true or false", v))?,
        None => false,
    };
    let refuse_true = |key: &str, what: &str| match get(key) {
        Some(Value::Bool(true)) => Err(format!("`{key}` is true: {what} is not supported")),
        _ => Ok(()),
    };
    refuse_true("use_dora", "DoRA")?;
    refuse_true("lora_bias", "a LoRA bias")?;
    refuse_true("fan_in_fan_out", "a transposed (Conv1D) base layer")?;
    refuse_true("use_qalora", "QA-LoRA")?;
    if let Some(bias) = get("bias")
        && bias != "none"
    {
        return Err(field("bias", "\"none\" (trained biases are not supported)", bias));
    }
    let refuse_nonempty = |key: &str, what: &str| match get(key) {
        None => Ok(()),
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(v) => Err(format!("`{key}` is `{v}`: {what} is not supported")),
    };
    refuse_nonempty("rank_pattern", "a per-module rank")?;
    refuse_nonempty("alpha_pattern", "a per-module alpha")?;
    refuse_nonempty("modules_to_save", "training extra modules")?;
    refuse_nonempty("layer_replication", "layer replication")?;
    refuse_nonempty("trainable_token_indices", "training token embeddings")?;
    refuse_nonempty("target_parameters", "adapting parameters directly")?;

    let listed_targets = match get("target_modules") {
        None => return Err("`target_modules`: missing".to_owned()),
        Some(Value::String(_)) => None,
        Some(Value::Array(items)) => {
            let mut set = BTreeSet::new();
            for item in items {
                let name = item.as_str().ok_or_else(|| field("target_modules", "a list of module names", item))?;
                // PEFT matches a listed name against the end of each module's path.
                let last = name.rsplit('.').next().unwrap_or(name);
                let target: Target = last.parse().map_err(|_| {
                    format!(
                        "`target_modules`: `{name}` is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
                    )
                })?;
                set.insert(target);
            }
            Some(set)
        }
        Some(other) => return Err(field("target_modules", "a list of module names or a pattern", other)),
    };
    let base_model = get("base_model_name_or_path").and_then(Value::as_str).map(str::to_owned);
    let lora = LoraConfig {
        rank,
        alpha,
        dropout,
        targets: listed_targets.iter().flatten().copied().collect(),
        rslora,
    };
    lora.validate().map_err(|e| e.to_string())?;
    Ok(ParsedConfig { lora, base_model, listed_targets })
}

/// A tensor's values as little-endian f32 bytes, for `safetensors::serialize` (candle's own
/// `View` impl is for the safetensors version candle links, not the one the engine uses).
pub(crate) struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl F32View {
    /// Copy `tensor` (any float dtype, any device) as f32.
    pub(crate) fn new(tensor: &Tensor, name: &str) -> Result<Self> {
        let values = tensor
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .context_with(|| format!("serialising `{name}`"))?;
        Ok(Self { shape: tensor.dims().to_vec(), bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() })
    }
}

impl safetensors::View for F32View {
    fn dtype(&self) -> safetensors::Dtype {
        safetensors::Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, flushed and
/// fsynced, renamed over `path`, then the directory fsynced so the rename itself survives a
/// power cut.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"),
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = File::options().write(true).create_new(true).open(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage either way, and the original error
        // is the one worth reporting.
        let _ignored = std::fs::remove_file(&tmp);
    }
    result
}

/// fsync a directory, making renames and creations inside it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_names_round_trip_and_reject_others() {
        let name = "base_model.model.model.layers.12.mlp.down_proj.lora_B.weight";
        let (module, target, half) = parse_tensor_name(name).unwrap();
        assert_eq!((module.as_str(), target, half), ("model.layers.12.mlp.down_proj", Target::DownProj, Half::B));
        for bad in [
            "base_model.model.model.layers.0.mlp.q_proj.lora_A.weight",
            "base_model.model.lm_head.lora_A.weight",
            "base_model.model.model.layers.01.self_attn.q_proj.lora_A.weight",
            "model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector",
        ] {
            assert!(parse_tensor_name(bad).is_none(), "accepted `{bad}`");
        }
    }

    #[test]
    fn config_refuses_what_the_engine_cannot_apply() {
        let base = json!({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]});
        let ok = parse_config(&base).unwrap();
        assert_eq!(ok.lora.rank, 4);
        assert_eq!(ok.lora.alpha, 8.0);
        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            v.as_object_mut().unwrap().insert(key.to_owned(), value);
            parse_config(&v).err().unwrap_or_default()
        };
        assert_eq!(with("use_dora", json!(true)), "`use_dora` is true: DoRA is not supported");
        assert_eq!(with("bias", json!("all")), "`bias`: expected \"none\" (trained biases are not supported), found `\"all\"`");
        assert_eq!(
            with("rank_pattern", json!({"q_proj": 8})),
            "`rank_pattern` is `{\"q_proj\":8}`: a per-module rank is not supported"
        );
        assert_eq!(with("peft_type", json!("IA3")), "`peft_type`: expected \"LORA\", found `\"IA3\"`");
        assert_eq!(
            with("target_modules", json!(["q_proj", "lm_head"])),
            "`target_modules`: `lm_head` is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"
        );
        assert_eq!(with("r", json!(0)), "`r`: expected a positive integer, found `0`");
        // A pattern leaves the choice to the tensors; full module paths match by suffix.
        assert!(with("target_modules", json!("all-linear")).is_empty());
        assert!(with("target_modules", json!(["model.layers.0.self_attn.q_proj"])).is_empty());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["f.json".to_owned()]);
    }
}

//! The decoder-only Llama-family network: Llama 2/3, SmolLM2, Qwen2/2.5, Mistral.
//!
//! Architecture: Touvron et al. 2023, "LLaMA" (§2.2: pre-normalisation with RMSNorm,
//! SwiGLU, rotary embeddings) and Ainslie et al. 2023 (grouped-query attention). The
//! code mirrors transformers' `models/llama/modeling_llama.py` (with the q/k/v bias of
//! `modeling_qwen2.py` and the sliding window of `modeling_mistral.py`) and is laid out
//! like candle's `candle-transformers/src/models/llama.rs`: one struct per block,
//! tensors named as in the checkpoint. SmolLM2 is `llama`; no checkpoint gets its own
//! file.
//!
//! Every projection is a [`LoraLinear`] over a [`FrozenLinear`] (NF4 or full precision);
//! the embedding, the norms and the LM head are not quantized, as bitsandbytes leaves them.
//! Everything is f32 on the CPU; on a CUDA GPU the weights the model keeps and the
//! activations are bf16 ([`compute_dtype`]), with RMSNorm's statistics and attention's
//! softmax in f32, as transformers computes them under bf16. The softmax takes an additive
//! f32 mask built from causality, the optional sliding window and the caller's key padding
//! mask. Masked scores get `f32::MIN` rather than `-inf` (as transformers does), so a query
//! that sees no key at all (a left-padding position) gets a uniform distribution instead of
//! NaN.
//!
//! Fused candle kernels (RMSNorm, softmax, RoPE) have no backward pass; each is used
//! only when its input carries no gradient. Training on the CPU takes the kernels' own fused
//! ops instead, which have one; anything else (a GPU, other dtypes) an equivalent composite
//! of differentiable ops. `rapha_kernels::ops` makes that choice for RMSNorm, RoPE with the
//! head split, attention's probabilities and SwiGLU; each adapted projection makes it in
//! [`LoraLinear::forward`].

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::config::Config;
use crate::error::{CandleContext, Error, Result};
use crate::gguf::GgufFile;
use crate::lora::{LoraAdapter, LoraConfig, LoraLinear, Mode, Target};
use rapha_kernels::{FrozenLinear, Quantization, compute_dtype};
use crate::rope::RotaryEmbedding;
use crate::safetensors_dir::HfModelDir;
use crate::tokenizer::Tokenizer;
use crate::weights::Weights;

/// Where a pre-trained model is read from. Both are local paths: the engine never
/// downloads anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A llama-architecture GGUF file.
    Gguf(PathBuf),
    /// A Hugging Face model directory (`config.json`, safetensors, tokenizer files).
    HfDir(PathBuf),
}

impl ModelSource {
    /// A directory is a Hugging Face model directory, anything else a GGUF file.
    pub fn from_path(path: &Path) -> Self {
        if path.is_dir() {
            Self::HfDir(path.to_path_buf())
        } else {
            Self::Gguf(path.to_path_buf())
        }
    }

    /// The path.
    pub fn path(&self) -> &Path {
        match self {
            Self::Gguf(path) | Self::HfDir(path) => path,
        }
    }
}

/// Everything read from a model source: config, f32 weights and tokenizer.
#[derive(Debug)]
pub struct Pretrained {
    /// The validated hyper-parameters.
    pub config: Config,
    /// The tensors under Hugging Face names, shape-checked against `config`.
    pub weights: Weights,
    /// Tokenizer and chat template.
    pub tokenizer: Tokenizer,
}

impl Pretrained {
    /// Read and validate `source`.
    pub fn load(source: &ModelSource) -> Result<Self> {
        match source {
            ModelSource::Gguf(path) => {
                let file = GgufFile::open(path)?;
                let config = file.config()?;
                let weights = file.weights(&config)?;
                let tokenizer = file.tokenizer()?;
                check_token_ids(&config, &tokenizer, path)?;
                Ok(Self {
                    config,
                    weights,
                    tokenizer,
                })
            }
            ModelSource::HfDir(path) => {
                let dir = HfModelDir::open(path)?;
                let config = dir.config()?;
                let weights = dir.weights(&config)?;
                let tokenizer = dir.tokenizer(&config)?;
                check_token_ids(&config, &tokenizer, path)?;
                Ok(Self {
                    config,
                    weights,
                    tokenizer,
                })
            }
        }
    }
}

/// Every id the tokenizer can produce must name a row of the embedding: its special tokens
/// and its whole vocabulary (added tokens included).
fn check_token_ids(config: &Config, tokenizer: &Tokenizer, origin: &Path) -> Result<()> {
    let rows = config.vocab_size;
    let invalid = |field: String, expected: String, found: String| Error::InvalidConfig {
        origin: origin.to_path_buf(),
        field,
        expected,
        found,
    };
    let named = [("bos", tokenizer.bos_token_id()), ("pad", tokenizer.pad_token_id())];
    let special = named.into_iter().filter_map(|(name, id)| Some((name, id?)));
    for (name, id) in special.chain(tokenizer.eos_token_ids().iter().map(|&id| ("eos", id))) {
        if id as usize >= rows {
            let expected = format!("an id below `vocab_size` ({rows}), a row of the embedding");
            return Err(invalid(format!("tokenizer {name} token"), expected, format!("`{id}`")));
        }
    }
    if tokenizer.vocab_size() > rows {
        let expected = format!("at most `vocab_size` ({rows}) tokens, one embedding row each");
        return Err(invalid("tokenizer vocabulary".to_owned(), expected, format!("{} tokens", tokenizer.vocab_size())));
    }
    Ok(())
}

/// Keys and values of past positions, one entry per layer, for incremental decoding.
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerCache>,
}

/// One layer's cached keys and values, each `[b, kv_heads, t_past, head_dim]`.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    kv: Option<(Tensor, Tensor)>,
}

impl LayerCache {
    /// Number of cached positions.
    pub fn seq_len(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }
}

impl KvCache {
    /// An empty cache for a model with `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); num_layers],
        }
    }

    /// Number of cached positions (the same in every layer).
    pub fn seq_len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::seq_len)
    }

    /// Drop everything cached.
    pub fn clear(&mut self) {
        self.layers.iter_mut().for_each(|layer| layer.kv = None);
    }

    /// The cache of layer `index`.
    pub fn layer_mut(&mut self, index: usize) -> Option<&mut LayerCache> {
        self.layers.get_mut(index)
    }

    /// A cache of one sequence repeated `rows` times: a shared prefix continued by as many
    /// rows at once.
    pub fn repeat(&self, rows: usize) -> Result<KvCache> {
        let layers = self
            .layers
            .iter()
            .map(|layer| {
                let kv = match &layer.kv {
                    None => None,
                    Some((k, v)) => Some((k.repeat((rows, 1, 1, 1))?, v.repeat((rows, 1, 1, 1))?)),
                };
                Ok(LayerCache { kv })
            })
            .collect::<candle_core::Result<Vec<_>>>()
            .context_with(|| format!("repeat a key-value cache {rows} times"))?;
        Ok(KvCache { layers })
    }
}

/// What every layer of one forward pass shares: rotary angles and the attention mask.
#[derive(Debug, Clone)]
pub struct LayerInputs {
    cos: Tensor,
    sin: Tensor,
    /// Additive `[b or 1, 1, t, t_kv]`: 0 where a query may attend, `f32::MIN` elsewhere;
    /// `None` when every query may see every key (one new token, no padding or window).
    mask: Option<Tensor>,
}

/// RMSNorm (Zhang & Sennrich 2019): `x / sqrt(mean(x²) + eps) · weight`, the statistics in
/// f32 whatever the input's dtype (transformers' `LlamaRMSNorm`).
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    fn new(weight: Tensor, eps: f64) -> Self {
        Self { weight, eps }
    }

    /// Normalise the last dimension of `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        rapha_kernels::ops::rms_norm(x, &self.weight, self.eps).context_with(|| format!("rms norm of {:?}", x.shape()))
    }
}

/// Grouped-query self-attention with rotary positions.
#[derive(Debug, Clone)]
pub struct Attention {
    q_proj: LoraLinear,
    k_proj: LoraLinear,
    v_proj: LoraLinear,
    o_proj: LoraLinear,
    num_heads: usize,
    num_kv_heads: usize,
    head_dim: usize,
    name: String,
}

impl Attention {
    fn forward(
        &self,
        x: &Tensor,
        inputs: &LayerInputs,
        cache: Option<&mut LayerCache>,
        mode: &Mode,
    ) -> Result<Tensor> {
        let (b, t, _) = x.dims3().context_with(|| format!("{}: input", self.name))?;
        let q = self.q_proj.forward(x, mode)?;
        let k = self.k_proj.forward(x, mode)?;
        let v = self.v_proj.forward(x, mode)?;
        let heads = |x: Tensor, n: usize| {
            x.reshape((b, t, n, self.head_dim))?
                .transpose(1, 2)?
                .contiguous()
        };
        let context = || format!("{}: heads", self.name);
        let rotate = |x: &Tensor, n: usize| rapha_kernels::ops::rotary_heads(x, n, &inputs.cos, &inputs.sin);
        let q = rotate(&q, self.num_heads).context_with(context)?;
        let k = rotate(&k, self.num_kv_heads).context_with(context)?;
        let v = heads(v, self.num_kv_heads).context_with(context)?;
        let (k, v) = match cache {
            None => (k, v),
            Some(cache) => {
                let (k, v) = match &cache.kv {
                    None => (k, v),
                    Some((past_k, past_v)) => (
                        Tensor::cat(&[past_k, &k], 2)
                            .context_with(|| format!("{}: cached keys", self.name))?,
                        Tensor::cat(&[past_v, &v], 2)
                            .context_with(|| format!("{}: cached values", self.name))?,
                    ),
                };
                // The cache serves decoding, where nothing is differentiated: detached
                // copies keep each step's LoRA graph from living as long as the cache.
                cache.kv = Some((k.detach(), v.detach()));
                (k, v)
            }
        };
        let run = || -> candle_core::Result<Tensor> {
            let groups = self.num_heads / self.num_kv_heads;
            // Query heads h = kv · groups + r share key/value head kv (transformers'
            // `repeat_kv`), so folding the group into the query rows lets one batched
            // matmul per key/value head serve all its query heads without copying keys.
            let q = q.reshape((b, self.num_kv_heads, groups * t, self.head_dim))?;
            let scale = 1.0 / (self.head_dim as f64).sqrt();
            let probs = rapha_kernels::ops::attention_probs(&q, &k, inputs.mask.as_ref(), scale, groups)?;
            let out = probs
                .matmul(&v)?
                .reshape((b, self.num_heads, t, self.head_dim))?;
            out.transpose(1, 2)?
                .reshape((b, t, self.num_heads * self.head_dim))
        };
        let out = run().context_with(|| format!("{}: attention", self.name))?;
        self.o_proj.forward(&out, mode)
    }
}


/// SwiGLU feed-forward (Shazeer 2020): `down(silu(gate(x)) · up(x))`.
#[derive(Debug, Clone)]
pub struct Mlp {
    gate_proj: LoraLinear,
    up_proj: LoraLinear,
    down_proj: LoraLinear,
    name: String,
}

impl Mlp {
    fn forward(&self, x: &Tensor, mode: &Mode) -> Result<Tensor> {
        let gate = self.gate_proj.forward(x, mode)?;
        let up = self.up_proj.forward(x, mode)?;
        let hidden = rapha_kernels::ops::swiglu(&gate, &up).context_with(|| format!("{}: swiglu", self.name))?;
        self.down_proj.forward(&hidden, mode)
    }
}

/// One pre-norm decoder block: `x + attn(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    input_layernorm: RmsNorm,
    self_attn: Attention,
    post_attention_layernorm: RmsNorm,
    mlp: Mlp,
}

impl DecoderLayer {
    /// Run the block on `x` `[b, t, hidden]`, appending this call's keys and values to
    /// `cache` when given. Pure in its inputs, so a training loop may run it again
    /// (activation recomputation) with the same `inputs` and `mode`.
    pub fn forward(
        &self,
        x: &Tensor,
        inputs: &LayerInputs,
        cache: Option<&mut LayerCache>,
        mode: &Mode,
    ) -> Result<Tensor> {
        let residual = x;
        let h = self.input_layernorm.forward(x)?;
        let h = self.self_attn.forward(&h, inputs, cache, mode)?;
        let x = (residual + h).context_with(|| format!("{}: residual", self.self_attn.name))?;
        let h = self.post_attention_layernorm.forward(&x)?;
        let h = self.mlp.forward(&h, mode)?;
        (x + h).context_with(|| format!("{}: residual", self.mlp.name))
    }

    /// The projection a LoRA target names.
    pub fn linear(&self, target: Target) -> &LoraLinear {
        match target {
            Target::QProj => &self.self_attn.q_proj,
            Target::KProj => &self.self_attn.k_proj,
            Target::VProj => &self.self_attn.v_proj,
            Target::OProj => &self.self_attn.o_proj,
            Target::GateProj => &self.mlp.gate_proj,
            Target::UpProj => &self.mlp.up_proj,
            Target::DownProj => &self.mlp.down_proj,
        }
    }

    fn linear_mut(&mut self, target: Target) -> &mut LoraLinear {
        match target {
            Target::QProj => &mut self.self_attn.q_proj,
            Target::KProj => &mut self.self_attn.k_proj,
            Target::VProj => &mut self.self_attn.v_proj,
            Target::OProj => &mut self.self_attn.o_proj,
            Target::GateProj => &mut self.mlp.gate_proj,
            Target::UpProj => &mut self.mlp.up_proj,
            Target::DownProj => &mut self.mlp.down_proj,
        }
    }
}

/// Every LoRA target, in the order of the checkpoint's modules.
const TARGETS: [Target; 7] = [
    Target::QProj,
    Target::KProj,
    Target::VProj,
    Target::OProj,
    Target::GateProj,
    Target::UpProj,
    Target::DownProj,
];

/// Parameters and bytes of the frozen base, as loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Parameters of the frozen projections (the ones NF4 quantizes).
    pub linear_params: usize,
    /// Bytes those projections occupy (codes, scales, biases).
    pub linear_bytes: usize,
    /// Parameters not quantized: embedding, norms, an untied LM head (f32 on the CPU, bf16
    /// on a GPU).
    pub other_params: usize,
    /// Bytes of those.
    pub other_bytes: usize,
}

impl Footprint {
    /// Bytes per parameter of the frozen projections (0.5 + scales for NF4, 4 for f32, 2 for
    /// bf16).
    pub fn linear_bytes_per_param(&self) -> f64 {
        self.linear_bytes as f64 / self.linear_params.max(1) as f64
    }

    /// Bytes per parameter of the whole base.
    pub fn bytes_per_param(&self) -> f64 {
        (self.linear_bytes + self.other_bytes) as f64
            / (self.linear_params + self.other_params).max(1) as f64
    }
}

/// A Llama-family causal language model with frozen base weights and optional LoRA.
#[derive(Debug, Clone)]
pub struct Model {
    config: Config,
    embed_tokens: Tensor,
    layers: Vec<DecoderLayer>,
    norm: RmsNorm,
    /// The LM head (the embedding's storage when tied), multiplied through
    /// [`rapha_kernels::ops::logits`].
    lm_head: FrozenLinear,
    rotary: RotaryEmbedding,
    quantization: Quantization,
}

impl Model {
    /// Build from validated weights: every projection is frozen with `quantization`, and
    /// the projections `lora` targets get fresh adapters (A from `seed` and the layer's
    /// name, B zero). Each f32 weight is released once its layer holds it.
    ///
    /// The model lives on the weights' device. On a CUDA GPU the tensors it keeps are
    /// converted to bf16 (NF4 weights are quantized on the host and uploaded); adapters stay
    /// f32.
    pub fn new(
        config: Config,
        mut weights: Weights,
        quantization: Quantization,
        lora: Option<&LoraConfig>,
        seed: u64,
    ) -> Result<Self> {
        // The loaders checked the values (`Weights::validate`); a second pass over every
        // weight would cost as much again at each start.
        weights.validate_shapes(&config)?;
        let embed_tokens = weights.take("model.embed_tokens.weight")?;
        let device = embed_tokens.device().clone();
        let dtype = compute_dtype(&device);
        let embed_tokens = embed_tokens
            .to_dtype(dtype)
            .context_with(|| format!("`model.embed_tokens.weight` to {dtype:?}"))?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let prefix = format!("model.layers.{index}");
            let mut linear = |module: &str, target: Target, bias: bool| -> Result<LoraLinear> {
                let name = format!("{prefix}.{module}.{}", target.peft_name());
                let weight = weights.take(&format!("{name}.weight"))?;
                let bias = if bias {
                    Some(weights.take(&format!("{name}.bias"))?)
                } else {
                    None
                };
                let base = FrozenLinear::new(weight, bias, quantization)?;
                let adapter = match lora {
                    Some(lora) if lora.targets(target) => Some(LoraAdapter::new(
                        base.in_features(),
                        base.out_features(),
                        lora,
                        &name,
                        seed,
                        &device,
                    )?),
                    _ => None,
                };
                LoraLinear::new(base, adapter)
            };
            let self_attn = Attention {
                q_proj: linear("self_attn", Target::QProj, config.qkv_bias)?,
                k_proj: linear("self_attn", Target::KProj, config.qkv_bias)?,
                v_proj: linear("self_attn", Target::VProj, config.qkv_bias)?,
                o_proj: linear("self_attn", Target::OProj, config.o_bias)?,
                num_heads: config.num_attention_heads,
                num_kv_heads: config.num_key_value_heads,
                head_dim: config.head_dim,
                name: format!("{prefix}.self_attn"),
            };
            let mlp = Mlp {
                gate_proj: linear("mlp", Target::GateProj, false)?,
                up_proj: linear("mlp", Target::UpProj, false)?,
                down_proj: linear("mlp", Target::DownProj, false)?,
                name: format!("{prefix}.mlp"),
            };
            layers.push(DecoderLayer {
                input_layernorm: RmsNorm::new(
                    take_as(
                        &mut weights,
                        &format!("{prefix}.input_layernorm.weight"),
                        dtype,
                    )?,
                    config.rms_norm_eps,
                ),
                self_attn,
                post_attention_layernorm: RmsNorm::new(
                    take_as(
                        &mut weights,
                        &format!("{prefix}.post_attention_layernorm.weight"),
                        dtype,
                    )?,
                    config.rms_norm_eps,
                ),
                mlp,
            });
        }
        let norm = RmsNorm::new(
            take_as(&mut weights, "model.norm.weight", dtype)?,
            config.rms_norm_eps,
        );
        let lm_head = if config.tie_word_embeddings {
            embed_tokens.clone()
        } else {
            take_as(&mut weights, "lm_head.weight", dtype)?
        };
        let rotary = RotaryEmbedding::new(&config, &device)?;
        // An NF4 model's LM head multiplies in bf16 operands as its projections do (a bf16
        // QLoRA model's head is bf16); the f32 weight stays as it is, for the embedding.
        let lm_head = FrozenLinear::new(lm_head, None, Quantization::None)?;
        let lm_head = if quantization == Quantization::Nf4 { lm_head.with_bf16_operands() } else { lm_head };
        Ok(Self {
            config,
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary,
            quantization,
        })
    }

    /// An empty KV cache for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.layers.len())
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How the frozen projections are stored.
    pub fn quantization(&self) -> Quantization {
        self.quantization
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.embed_tokens.device()
    }

    /// Final hidden states `[b, t, hidden]`, after the last RMSNorm.
    ///
    /// `input_ids` and `positions` are `[b, t]` u32; `positions` are each token's
    /// position in its own sequence (after left padding, the first real token is 0).
    /// `key_mask` is `[b, t_kv]` (1 real, 0 padding) over the cached and the new tokens,
    /// `t_kv = cache.seq_len() + t`. With a `cache`, the new keys and values are
    /// appended to it.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        positions: &Tensor,
        key_mask: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
        mode: &Mode,
    ) -> Result<Tensor> {
        if let Some(cache) = &cache
            && cache.layers.len() != self.layers.len()
        {
            return Err(Error::KvCache {
                expected_layers: self.layers.len(),
                found_layers: cache.layers.len(),
            });
        }
        let past = cache.as_ref().map_or(0, |c| c.seq_len());
        let inputs = self.layer_inputs(positions, key_mask, past)?;
        let mut x = self.embed(input_ids)?;
        for (index, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().and_then(|c| c.layer_mut(index));
            x = layer.forward(&x, &inputs, layer_cache, mode)?;
        }
        self.norm.forward(&x)
    }

    /// Token embeddings `[b, t, hidden]` of `input_ids` `[b, t]`.
    pub fn embed(&self, input_ids: &Tensor) -> Result<Tensor> {
        let run = || -> candle_core::Result<Tensor> {
            let (b, t) = input_ids.dims2()?;
            let ids = input_ids.flatten_all()?;
            self.embed_tokens
                .index_select(&ids, 0)?
                .reshape((b, t, self.config.hidden_size))
        };
        run().context_with(|| format!("model.embed_tokens: ids {:?}", input_ids.shape()))
    }

    /// Rotary angles and attention mask for `t` new tokens after `past` cached ones.
    pub fn layer_inputs(
        &self,
        positions: &Tensor,
        key_mask: Option<&Tensor>,
        past: usize,
    ) -> Result<LayerInputs> {
        // Angles in f32, rounded once to the activations' dtype (transformers'
        // `LlamaRotaryEmbedding.forward`).
        let dtype = self.embed_tokens.dtype();
        let (cos, sin) = self.rotary.cos_sin(positions)?;
        let (cos, sin) = cos
            .to_dtype(dtype)
            .and_then(|cos| Ok((cos, sin.to_dtype(dtype)?)))
            .context_with(|| format!("rope angles to {dtype:?}"))?;
        let (b, t) = positions
            .dims2()
            .context_with(|| "positions: expected [b, t]".to_owned())?;
        let mask = attention_mask(
            b,
            t,
            past,
            key_mask,
            self.config.sliding_window,
            self.device(),
        )?;
        Ok(LayerInputs { cos, sin, mask })
    }

    /// The decoder layers.
    pub fn layers(&self) -> &[DecoderLayer] {
        &self.layers
    }

    /// The final RMSNorm.
    pub fn norm(&self) -> &RmsNorm {
        &self.norm
    }

    /// The LM head as a frozen linear layer (the embedding's storage when tied): the loss
    /// ([`crate::loss`]) multiplies through it chunk by chunk.
    pub(crate) fn head(&self) -> &FrozenLinear {
        &self.lm_head
    }

    /// Logits `[.., vocab]` of hidden states `[.., hidden]`.
    pub fn lm_head(&self, hidden: &Tensor) -> Result<Tensor> {
        let (rows, out_dims) = self.lm_head.rows_of(hidden)?;
        let run = || -> candle_core::Result<Tensor> {
            let flat = hidden.reshape((rows, self.config.hidden_size))?;
            rapha_kernels::ops::logits(&flat, &self.lm_head)?.reshape(out_dims)
        };
        run().context_with(|| format!("lm_head of {:?}", hidden.shape()))
    }

    /// The projection `target` of layer `layer`, named
    /// `model.layers.{layer}.{self_attn|mlp}.{target}`.
    pub fn linear(&self, layer: usize, target: Target) -> Option<&LoraLinear> {
        self.layers.get(layer).map(|l| l.linear(target))
    }

    /// Mutable access to one projection, e.g. to attach an adapter read from a file.
    pub fn linear_mut(&mut self, layer: usize, target: Target) -> Option<&mut LoraLinear> {
        self.layers.get_mut(layer).map(|l| l.linear_mut(target))
    }

    /// Take every adapter off, leaving the frozen base: one built model then answers as
    /// the base and as each adapter in turn ([`crate::PeftAdapter::apply`] replaces all
    /// adapters), without building and quantizing the base again.
    pub fn remove_adapters(&mut self) {
        for layer in &mut self.layers {
            for target in TARGETS {
                layer.linear_mut(target).set_adapter(None).expect("taking an adapter off checks no shape");
            }
        }
    }

    /// Every projection with its in-memory name (PEFT's without `base_model.model.`).
    pub fn linears(&self) -> impl Iterator<Item = (String, &LoraLinear)> {
        self.layers.iter().enumerate().flat_map(|(index, layer)| {
            TARGETS.iter().map(move |&target| {
                let module = match target {
                    Target::QProj | Target::KProj | Target::VProj | Target::OProj => "self_attn",
                    Target::GateProj | Target::UpProj | Target::DownProj => "mlp",
                };
                (
                    format!("model.layers.{index}.{module}.{}", target.peft_name()),
                    layer.linear(target),
                )
            })
        })
    }

    /// Every adapter with its layer's name (e.g. `model.layers.3.self_attn.q_proj`).
    pub fn adapters(&self) -> impl Iterator<Item = (&str, &LoraAdapter)> {
        self.layers
            .iter()
            .flat_map(|layer| {
                TARGETS
                    .iter()
                    .filter_map(move |&target| layer.linear(target).adapter())
            })
            .map(|adapter| (adapter.name(), adapter))
    }

    /// Parameters and bytes of the frozen base.
    pub fn footprint(&self) -> Footprint {
        let (mut linear_params, mut linear_bytes) = (0, 0);
        for (_, linear) in self.linears() {
            linear_params += linear.base().num_params();
            linear_bytes += linear.base().stored_bytes();
        }
        let norm_weights = self.layers.iter().flat_map(|l| {
            [
                &l.input_layernorm.weight,
                &l.post_attention_layernorm.weight,
            ]
        });
        let mut other_params: usize = norm_weights.map(Tensor::elem_count).sum();
        other_params += self.embed_tokens.elem_count() + self.norm.weight.elem_count();
        if !self.config.tie_word_embeddings {
            other_params += self.lm_head.num_params();
        }
        Footprint {
            linear_params,
            linear_bytes,
            other_params,
            other_bytes: other_params * self.embed_tokens.dtype().size_in_bytes(),
        }
    }
}

/// Remove the tensor `name` from `weights`, in `dtype`.
fn take_as(weights: &mut Weights, name: &str, dtype: DType) -> Result<Tensor> {
    weights
        .take(name)?
        .to_dtype(dtype)
        .context_with(|| format!("`{name}` to {dtype:?}"))
}

/// Additive attention mask `[b or 1, 1, t, past + t]`: query `i` (key index `past + i`)
/// may see key `j` when `j ≤ past + i`, `past + i - j < window`, and `key_mask[b, j] = 1`.
/// `None` when nothing is masked.
fn attention_mask(
    b: usize,
    t: usize,
    past: usize,
    key_mask: Option<&Tensor>,
    sliding_window: Option<usize>,
    device: &Device,
) -> Result<Option<Tensor>> {
    let t_kv = past + t;
    let window_masks = sliding_window.is_some_and(|w| t_kv > w);
    if key_mask.is_none() && t == 1 && !window_masks {
        return Ok(None);
    }
    let mut allowed = vec![0f32; t * t_kv];
    for i in 0..t {
        let query = past + i;
        for j in 0..=query {
            if sliding_window.is_none_or(|w| query - j < w) {
                allowed[i * t_kv + j] = 1.0;
            }
        }
    }
    let run = || -> candle_core::Result<Tensor> {
        let causal = Tensor::from_vec(allowed, (1, 1, t, t_kv), device)?;
        let allowed = match key_mask {
            None => causal,
            Some(keys) => {
                let keys = keys.to_dtype(DType::F32)?.reshape((b, 1, 1, t_kv))?;
                causal.broadcast_mul(&keys.ne(0f32)?.to_dtype(DType::F32)?)?
            }
        };
        // 1 → 0, 0 → f32::MIN, without ever adding two f32::MIN (which overflows).
        (allowed.affine(-1.0, 1.0)? * f64::from(f32::MIN))?.contiguous()
    };
    run()
        .map(Some)
        .context_with(|| format!("attention mask: key mask must be [{b}, {t_kv}]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_combines_causality_window_and_padding() {
        let keys = Tensor::new(&[[0u32, 1, 1, 1]], &Device::Cpu).expect("keys");
        let mask = attention_mask(1, 2, 2, Some(&keys), Some(2), &Device::Cpu)
            .expect("mask")
            .expect("some");
        let allowed: Vec<Vec<bool>> = mask
            .squeeze(0)
            .and_then(|m| m.squeeze(0))
            .and_then(|m| m.to_vec2::<f32>())
            .expect("values")
            .into_iter()
            .map(|row| row.into_iter().map(|v| v == 0.0).collect())
            .collect();
        // Query 0 sits at key index 2: window 2 keeps keys 1 and 2; query 1 keys 2 and 3.
        assert_eq!(
            allowed,
            vec![
                vec![false, true, true, false],
                vec![false, false, true, true]
            ]
        );
    }

    #[test]
    fn single_new_token_without_padding_needs_no_mask() {
        assert!(
            attention_mask(3, 1, 9, None, None, &Device::Cpu)
                .expect("mask")
                .is_none()
        );
    }
}

//! What the engine and the task host are handed, derived from a recipe in one place, so no
//! stage builds an engine config by hand (ripgrep's `HiArgs` → builders shape).

use std::path::PathBuf;

use rapha_engine::dp::DpConfig;
use rapha_engine::{AdamWConfig, GenerateConfig, TrainConfig};
use rapha_task_host::{Limits, TaskInfo};

use super::{FederatedStrategy, Recipe};
use crate::stages::predictions;

/// What a recipe alone cannot say about training: it depends on the data, the model and
/// the work folder.
pub struct TrainPlan {
    /// Optimizer steps, from `max_steps` or `epochs` over the training records.
    pub max_steps: u64,
    /// The tokenizer's pad id.
    pub pad_id: u32,
    /// Where checkpoints go.
    pub checkpoint_dir: PathBuf,
    /// The model's name, written into saved adapters.
    pub base_model: String,
    /// DP-SGD's settings, in a private run.
    pub dp: Option<DpConfig>,
}

impl Recipe {
    /// The limits of each plugin call: `[plugin]`'s fuel, deadline and memory.
    pub fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        limits.fuel_per_call = self.plugin.fuel;
        limits.deadline_per_call = self.plugin.deadline;
        limits.memory_per_instance = self.plugin.memory_bytes;
        limits
    }

    /// The training settings of `[train]`, evaluating every `eval_every` steps and
    /// checkpointing every `checkpoint_every` (the last two kept).
    pub fn train_config(&self, plan: TrainPlan) -> TrainConfig {
        let train = &self.train;
        TrainConfig {
            max_steps: plan.max_steps,
            learning_rate: train.lr,
            adamw: AdamWConfig { weight_decay: train.weight_decay, ..AdamWConfig::default() },
            warmup_steps: train.warmup_steps,
            decay: train.schedule,
            micro_batch_size: train.batch_size,
            grad_accum_steps: train.grad_accum,
            max_seq_len: train.max_seq_len,
            pad_id: plan.pad_id,
            max_grad_norm: train.max_grad_norm,
            seed: train.seed,
            eval_every: Some(train.eval_every),
            checkpoint_every: Some(train.checkpoint_every),
            checkpoint_dir: Some(plan.checkpoint_dir),
            keep_checkpoints: 2,
            gradient_checkpointing: train.gradient_checkpointing,
            loss_chunk_tokens: TrainConfig::default().loss_chunk_tokens,
            base_model: Some(plan.base_model),
            dp: plan.dp,
            freeze_a: self.federation.as_ref().is_some_and(|f| f.strategy == FederatedStrategy::Ffa),
        }
    }

    /// The seed the adapters are drawn from: the federation's in a federated run, so every
    /// site starts from the same `A`; else `[train] seed`.
    pub fn adapter_seed(&self) -> u64 {
        self.federation.as_ref().map_or(self.train.seed, |f| f.seed)
    }

    /// Greedy decoding for evaluation: `[eval] max_new_tokens` or the plugin's, the
    /// plugin's stop strings, the tokenizer's EOS ids.
    pub fn generate_config(&self, task: &TaskInfo, eos_token_ids: Vec<u32>, pad_id: u32) -> GenerateConfig {
        predictions::greedy(task, self.eval.max_new_tokens, self.train.seed, eos_token_ids, pad_id)
    }

    /// Prompts per generation batch.
    pub fn generation_batch(&self) -> usize {
        self.train.batch_size.max(4)
    }
}

//! The training loop over the LoRA parameters only.
//!
//! One optimizer step, as the Hugging Face Trainer takes it with gradient accumulation:
//! 1. draw `grad_accum_steps` micro-batches from the [`Batcher`];
//! 2. for each, the causal-LM loss on completion tokens, **summed** and divided by the number
//!    of scored tokens of the whole step (transformers' `num_items_in_batch`), so the
//!    accumulated gradient is that of the mean loss over every completion token of the step,
//!    however the tokens fall into micro-batches;
//! 3. clip the global gradient norm (`clip_grad_norm_`), stop on a NaN/inf loss or norm;
//! 4. AdamW with the schedule's rate for this step.
//!
//! **Loss without full logits.** Only positions whose next token is scored are gathered, and
//! their logits are formed `loss_chunk_tokens` rows at a time. For each chunk the loss and
//! its gradient `softmax − onehot` are computed directly and multiplied back through the
//! frozen head to the hidden rows (on the CPU on plain slices, `loss::head_loss`; on a GPU
//! through the chunk's graph), and the logits are dropped: the `[b, t, vocab]` tensor never
//! exists, and at most `chunk × vocab` logits are alive. The gradient with respect to the
//! final hidden states is then pushed through the network with the surrogate
//! `sum(hidden · grad)`, whose gradient is exactly `grad`.
//!
//! **Gradient checkpointing** (candle has none): the forward pass runs layer by layer,
//! keeping only each layer's input and cutting the graph after it; the backward pass runs
//! the layers in reverse, recomputing each from its saved input (same [`Mode`], hence the
//! same dropout masks) and back-propagating the surrogate `sum(layer(x) · grad_out)`, which
//! yields the LoRA gradients of that layer and the gradient of its input. Peak activation
//! memory is one layer's graph plus one `[b, t, hidden]` tensor per layer. Each layer's
//! input is a variable in both passes so both use the same kernels, and the loss is the one
//! the plain path computes.
//!
//! **Determinism.** Batches and dropout masks are functions of the seed and counters (see
//! `checkpoint.rs`), candle's CPU kernels reduce in a fixed order for a fixed thread count,
//! so two runs with the same seed, data and settings produce the same losses bit for bit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use rapha_privacy::Spent;
use sha2::{Digest, Sha256};

use crate::adapter::PeftAdapter;
use crate::batch::{Batch, BatchConfig, Batcher, Example};
use crate::checkpoint::{self, Checkpoint};
use crate::dp::{DpConfig, Randomness, Sampler};
use crate::error::{CandleContext, Error, Result};
use crate::lora::{LoraConfig, Mode};
use crate::loss;
use crate::model::Model;
use crate::optim::{AdamW, AdamWConfig, clip_grad_norm};
use crate::schedule::{Decay, Schedule};

mod private;

/// Everything that shapes a training run. [`TrainConfig::default`] gives the Hugging Face
/// Trainer's defaults where it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Optimizer steps to take in total.
    pub max_steps: u64,
    /// Peak learning rate (after warmup).
    pub learning_rate: f64,
    /// AdamW's betas, epsilon and weight decay.
    pub adamw: AdamWConfig,
    /// Steps of linear warmup.
    pub warmup_steps: u64,
    /// Decay after warmup.
    pub decay: Decay,
    /// Rows per micro-batch.
    pub micro_batch_size: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum_steps: usize,
    /// Longest row in tokens; longer examples are truncated (see `batch.rs`).
    pub max_seq_len: usize,
    /// Id written into pad positions.
    pub pad_id: u32,
    /// Clip the global gradient norm to this; `None` does not clip.
    pub max_grad_norm: Option<f64>,
    /// Seed of the shuffle and the dropout masks.
    pub seed: u64,
    /// Evaluate the validation loss every this many steps (and at the end).
    pub eval_every: Option<u64>,
    /// Write a checkpoint every this many steps (and when stopped).
    pub checkpoint_every: Option<u64>,
    /// Where checkpoints go; required with `checkpoint_every`.
    pub checkpoint_dir: Option<PathBuf>,
    /// How many checkpoints to keep; older ones are removed after a new one is complete.
    pub keep_checkpoints: usize,
    /// Recompute each layer's activations in the backward pass instead of keeping them.
    pub gradient_checkpointing: bool,
    /// Scored positions per logits chunk; `None` forms all of a micro-batch's at once.
    /// Defaults to 256: a chunk's logits then take 48 MiB with a 49k vocabulary, where a
    /// batch of 4 × 256 tokens formed at once would hold about a GiB of logits and their
    /// softmax at the top of the step's memory.
    pub loss_chunk_tokens: Option<usize>,
    /// `base_model_name_or_path` written into saved adapters.
    pub base_model: Option<String>,
    /// Train with DP-SGD ([`crate::dp`]): per-unit clipping to its `max_grad_norm` (the
    /// global `max_grad_norm` above is then not applied) and noise.
    pub dp: Option<DpConfig>,
    /// Train only `B`; every `A` keeps the values the model was built with. FFA-LoRA: the
    /// sites of a federation share one `A` (drawn from the federation's seed), so averaging
    /// their `B` averages their updates exactly.
    pub freeze_a: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            max_steps: 100,
            learning_rate: 2e-4,
            adamw: AdamWConfig::default(),
            warmup_steps: 0,
            decay: Decay::Linear,
            micro_batch_size: 8,
            grad_accum_steps: 1,
            max_seq_len: 1024,
            pad_id: 0,
            max_grad_norm: Some(1.0),
            seed: 42,
            eval_every: None,
            checkpoint_every: None,
            checkpoint_dir: None,
            keep_checkpoints: 2,
            gradient_checkpointing: false,
            loss_chunk_tokens: Some(256),
            base_model: None,
            dp: None,
            freeze_a: false,
        }
    }
}

impl TrainConfig {
    /// Reject settings no run can use, naming the field.
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &'static str, value: u64| {
            if value == 0 {
                Err(Error::Setting { field, expected: "a positive integer", found: "0".to_owned() })
            } else {
                Ok(())
            }
        };
        positive("max_steps", self.max_steps)?;
        positive("micro_batch_size", self.micro_batch_size as u64)?;
        positive("grad_accum_steps", self.grad_accum_steps as u64)?;
        positive("keep_checkpoints", self.keep_checkpoints as u64)?;
        if let Some(every) = self.eval_every {
            positive("eval_every", every)?;
        }
        if let Some(every) = self.checkpoint_every {
            positive("checkpoint_every", every)?;
            if self.checkpoint_dir.is_none() {
                return Err(Error::Setting {
                    field: "checkpoint_dir",
                    expected: "a directory when `checkpoint_every` is set",
                    found: "none".to_owned(),
                });
            }
        }
        if let Some(chunk) = self.loss_chunk_tokens {
            positive("loss_chunk_tokens", chunk as u64)?;
        }
        if self.max_seq_len < 2 {
            return Err(Error::Setting {
                field: "max_seq_len",
                expected: "at least 2",
                found: self.max_seq_len.to_string(),
            });
        }
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return Err(Error::Setting {
                field: "learning_rate",
                expected: "a finite number ≥ 0",
                found: self.learning_rate.to_string(),
            });
        }
        if let Some(norm) = self.max_grad_norm
            && !(norm.is_finite() && norm > 0.0)
        {
            return Err(Error::Setting { field: "max_grad_norm", expected: "a positive number", found: norm.to_string() });
        }
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.adamw;
        for (field, value) in [("adam_beta1", beta1), ("adam_beta2", beta2)] {
            if !(0.0..1.0).contains(&value) {
                return Err(Error::Setting { field, expected: "a number in [0, 1)", found: value.to_string() });
            }
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(Error::Setting { field: "adam_epsilon", expected: "a positive number", found: eps.to_string() });
        }
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::Setting {
                field: "weight_decay",
                expected: "a finite number ≥ 0",
                found: weight_decay.to_string(),
            });
        }
        Ok(())
    }
}

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Steps completed, this one included (from 1).
    pub step: u64,
    /// The run's `max_steps`.
    pub max_steps: u64,
    /// Mean loss over the step's completion tokens (with DP, the mean over the sampled units
    /// of each one's mean); `None` for a private step that sampled no unit.
    pub loss: Option<f64>,
    /// The learning rate the update used.
    pub learning_rate: f64,
    /// Global gradient norm before clipping (with DP, the mean of the sampled units' norms).
    pub grad_norm: f64,
    /// Real (non-pad) tokens processed.
    pub tokens: usize,
    /// Completion tokens scored.
    pub scored_tokens: usize,
    /// `tokens` over the step's wall time.
    pub tokens_per_second: f64,
    /// Epochs completed, fractional (with DP, expected: steps · q).
    pub epoch: f64,
    /// With DP: the units sampled and the privacy spent after this step.
    pub privacy: Option<PrivateStep>,
}

/// What a DP-SGD step sampled and what the run has spent after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrivateStep {
    /// Units in the Poisson sample.
    pub units: usize,
    /// Of those, units whose gradient was scaled down to the clipping norm.
    pub clipped: usize,
    /// ε spent so far (earlier runs included) at the configured δ.
    pub spent: Spent,
}

/// What the loop does after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on training.
    Continue,
    /// Stop here (early stopping): the loop checkpoints this step and returns.
    Stop,
}

/// Follows training as [`Trainer::run`] goes: draws progress, keeps a history, scores the
/// adapter at each evaluation and decides when to stop early.
pub trait Observer {
    /// What the callbacks fail with; the engine's errors convert into it, so the loop's
    /// own failures and the observer's come out of [`Trainer::run`] as one type.
    type Error: From<Error>;
    /// After every optimizer step.
    fn on_step(&mut self, _report: &StepReport) -> std::result::Result<(), Self::Error> {
        Ok(())
    }
    /// At each evaluation step (every `eval_every` steps and the last), with the validation
    /// loss (`None` without validation examples). `trainer` is at that step; its adapter
    /// can be read.
    fn on_eval(&mut self, _trainer: &Trainer<'_>, _loss: Option<f64>) -> std::result::Result<Flow, Self::Error> {
        Ok(Flow::Continue)
    }
    /// After a checkpoint is complete on disk.
    fn on_checkpoint(&mut self, _step: u64, _dir: &Path) -> std::result::Result<(), Self::Error> {
        Ok(())
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    type Error = Error;
}

/// Why [`Trainer::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// `max_steps` were taken.
    Completed,
    /// The observer answered [`Flow::Stop`] to an evaluation.
    StoppedEarly,
    /// The stop flag was raised; the state is checkpointed if checkpoints are configured.
    Stopped,
    /// One more DP-SGD step would spend more than the privacy budget.
    BudgetSpent,
}

/// The outcome of [`Trainer::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    /// Why it returned.
    pub finish: Finish,
    /// Steps completed in total (including those before a resume).
    pub steps: u64,
    /// The loss of each step this call took (`None` for a private step that sampled no unit).
    pub losses: Vec<Option<f64>>,
    /// `(step, validation loss)` of each evaluation this call made with validation examples.
    pub evals: Vec<(u64, f64)>,
    /// The newest checkpoint on disk.
    pub last_checkpoint: Option<PathBuf>,
}

/// A named trainable tensor (`{module}.lora_A` / `.lora_B`).
struct Param {
    name: String,
    var: Var,
}

/// What [`Trainer::resume_latest`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    /// The step resumed at, if a checkpoint was.
    pub step: Option<u64>,
    /// Newer checkpoints passed over as not intact, with the reason for each.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Trains the LoRA adapters of one model on one data set.
pub struct Trainer<'m> {
    model: &'m Model,
    lora: LoraConfig,
    config: TrainConfig,
    params: Vec<Param>,
    optimizer: AdamW,
    schedule: Schedule,
    train: Batcher,
    val: Vec<Example>,
    step: u64,
    fingerprint: String,
    /// The newest checkpoint written or resumed from, and its step.
    last_checkpoint: Option<(u64, PathBuf)>,
    /// DP-SGD's sampling and noise, in a private run.
    sampler: Option<Sampler>,
}

impl std::fmt::Debug for Trainer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("step", &self.step)
            .field("params", &self.params.len())
            .field("config", &self.config)
            .finish()
    }
}

impl<'m> Trainer<'m> {
    /// A trainer at step 0 for `model`, whose adapters were built with `lora`.
    pub fn new(model: &'m Model, lora: &LoraConfig, train: Vec<Example>, val: Vec<Example>, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        let params: Vec<Param> = model
            .adapters()
            .flat_map(|(name, adapter)| {
                let a = (!config.freeze_a).then(|| Param { name: format!("{name}.lora_A"), var: adapter.a().clone() });
                a.into_iter().chain([Param { name: format!("{name}.lora_B"), var: adapter.b().clone() }])
            })
            .collect();
        if params.is_empty() {
            return Err(Error::Setting {
                field: "lora",
                expected: "a model built with LoRA adapters",
                found: "a model without any".to_owned(),
            });
        }
        if let Some(dp) = &config.dp {
            dp.validate(train.len())?;
        }
        let sampler = config.dp.as_ref().map(Sampler::new);
        let fingerprint = run_fingerprint(&config, lora, &train);
        let optimizer =
            AdamW::new(params.iter().map(|p| (p.name.clone(), p.var.clone())).collect(), config.adamw)?;
        let schedule = Schedule {
            peak_lr: config.learning_rate,
            warmup_steps: usize::try_from(config.warmup_steps).unwrap_or(usize::MAX),
            total_steps: usize::try_from(config.max_steps).unwrap_or(usize::MAX),
            decay: config.decay,
        };
        let batch_config = BatchConfig {
            micro_batch_size: config.micro_batch_size,
            max_seq_len: config.max_seq_len,
            pad_id: config.pad_id,
            shuffle_seed: Some(config.seed),
        };
        let train = Batcher::new(train, batch_config, model.device())?;
        Ok(Self {
            model,
            lora: lora.clone(),
            config,
            params,
            optimizer,
            schedule,
            train,
            val,
            step: 0,
            fingerprint,
            last_checkpoint: None,
            sampler,
        })
    }

    /// The trainable tensors' names (`{module}.lora_A`, `.lora_B`), in the order of the
    /// gradients [`Trainer::loss_and_gradients`] returns.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// Steps completed.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The newest checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_ref().map(|(_, dir)| dir.as_path())
    }

    /// The current adapter, ready to [`PeftAdapter::save`].
    pub fn adapter(&self) -> Result<PeftAdapter> {
        PeftAdapter::from_model(self.model, &self.lora, self.config.base_model.clone())
    }

    /// Continue from the checkpoint in `dir`: adapter values, optimizer moments, step and
    /// data position. The checkpoint must come from a run with the same settings and data.
    pub fn resume(&mut self, dir: &Path) -> Result<()> {
        let saved = Checkpoint::load(dir, self.model.device())?;
        if saved.run_fingerprint != self.fingerprint {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "written by a run with other settings or data (fingerprint `{}`, this run `{}`)",
                    short(&saved.run_fingerprint),
                    short(&self.fingerprint)
                ),
            });
        }
        saved.adapter.assign_to(self.model)?;
        self.optimizer.load_state(saved.optimizer)?;
        self.train.seek(saved.data_position)?;
        self.step = saved.step;
        self.last_checkpoint = Some((self.step, dir.to_path_buf()));
        Ok(())
    }

    /// Resume from the newest intact checkpoint under `checkpoint_dir`: newer ones that fail
    /// [`checkpoint::verify`] are skipped, each with its reason. An error when checkpoints exist
    /// and none is intact, or when the one resumed belongs to another run.
    pub fn resume_latest(&mut self) -> Result<Resumed> {
        let mut resumed = Resumed { step: None, skipped: Vec::new() };
        let Some(root) = self.config.checkpoint_dir.clone() else {
            return Ok(resumed);
        };
        for dir in checkpoint::newest_first(&root)? {
            match checkpoint::verify(&dir) {
                Ok(()) => {
                    self.resume(&dir)?;
                    resumed.step = Some(self.step);
                    return Ok(resumed);
                }
                Err(reason) => resumed.skipped.push((dir, reason)),
            }
        }
        if resumed.skipped.is_empty() {
            return Ok(resumed);
        }
        let reasons: Vec<String> =
            resumed.skipped.iter().map(|(dir, reason)| format!("`{}`: {reason}", dir.display())).collect();
        Err(Error::Checkpoint {
            path: root,
            message: format!("no checkpoint is intact, so none can be resumed: {}", reasons.join("; ")),
        })
    }

    /// Write a checkpoint of the current state under `checkpoint_dir` and prune old ones.
    pub fn save_checkpoint(&mut self) -> Result<PathBuf> {
        let root = self.config.checkpoint_dir.clone().ok_or_else(|| Error::Setting {
            field: "checkpoint_dir",
            expected: "a directory to write checkpoints to",
            found: "none".to_owned(),
        })?;
        let saved = Checkpoint {
            step: self.step,
            seed: self.config.seed,
            data_position: self.train.position(),
            run_fingerprint: self.fingerprint.clone(),
            adapter: self.adapter()?,
            optimizer: self.optimizer.state(),
        };
        let dir = saved.save(&root)?;
        checkpoint::prune(&root, self.config.keep_checkpoints)?;
        self.last_checkpoint = Some((self.step, dir.clone()));
        Ok(dir)
    }

    /// Train until `max_steps`, until the observer stops early, or until `stop` is raised
    /// (checked between steps). Evaluates every `eval_every` steps and after the last;
    /// checkpoints every `checkpoint_every` steps, after the last, when stopping early and
    /// when stopped (unless that step's checkpoint exists).
    pub fn run<O: Observer>(&mut self, observer: &mut O, stop: &AtomicBool) -> std::result::Result<TrainSummary, O::Error> {
        let mut summary =
            TrainSummary { finish: Finish::Completed, steps: self.step, losses: Vec::new(), evals: Vec::new(), last_checkpoint: None };
        while self.step < self.config.max_steps {
            if stop.load(Ordering::Relaxed) {
                summary.finish = Finish::Stopped;
                break;
            }
            if let Some(dp) = &self.config.dp
                && !dp.affords(self.step)?
            {
                summary.finish = Finish::BudgetSpent;
                break;
            }
            let report = self.step()?;
            summary.losses.push(report.loss);
            observer.on_step(&report)?;
            let last = self.step == self.config.max_steps;
            if self.config.eval_every.is_some_and(|every| self.step.is_multiple_of(every) || last) {
                let loss = self.evaluate()?;
                summary.evals.extend(loss.map(|loss| (self.step, loss)));
                if observer.on_eval(self, loss)? == Flow::Stop {
                    summary.finish = Finish::StoppedEarly;
                }
            }
            let early = summary.finish == Finish::StoppedEarly;
            if self.config.checkpoint_every.is_some_and(|every| self.step.is_multiple_of(every) || last || early) {
                self.checkpoint(observer)?;
            }
            if early {
                break;
            }
        }
        let saved = self.last_checkpoint.as_ref().map(|(step, _)| *step);
        if summary.finish == Finish::Stopped && self.step > 0 && self.config.checkpoint_every.is_some() && saved != Some(self.step)
        {
            self.checkpoint(observer)?;
        }
        summary.steps = self.step;
        summary.last_checkpoint = self.last_checkpoint().map(Path::to_path_buf);
        Ok(summary)
    }

    /// Save a checkpoint and tell the observer.
    fn checkpoint<O: Observer>(&mut self, observer: &mut O) -> std::result::Result<(), O::Error> {
        let dir = self.save_checkpoint()?;
        observer.on_checkpoint(self.step, &dir)
    }

    /// Take one optimizer step (see the module doc). On a NaN/inf loss or gradient norm no
    /// update is applied and [`Error::NonFinite`] names the last good checkpoint.
    pub fn step(&mut self) -> Result<StepReport> {
        if self.config.dp.is_some() {
            return self.private_step();
        }
        let started = Instant::now();
        let step_index = self.step;
        let batches =
            (0..self.config.grad_accum_steps).map(|_| self.train.next_batch()).collect::<Result<Vec<Batch>>>()?;
        let scored: usize = batches.iter().map(Batch::target_count).sum();
        let tokens: usize = batches.iter().map(|b| b.real_tokens).sum();
        if scored == 0 {
            return Err(Error::Batch(format!(
                "step {}: no completion token to score in {} micro-batches (every completion needs a token before it)",
                step_index + 1,
                batches.len()
            )));
        }
        let (loss, mut grads) = self.loss_and_gradients(&batches, step_index, scored)?;
        if !loss.is_finite() {
            return Err(self.non_finite("loss", loss));
        }
        let grad_norm = clip_grad_norm(&mut grads, self.config.max_grad_norm)?;
        if !grad_norm.is_finite() {
            return Err(self.non_finite("gradient norm", grad_norm));
        }
        let learning_rate = self.schedule.lr(usize::try_from(step_index).unwrap_or(usize::MAX));
        self.optimizer.step(&grads, learning_rate)?;
        self.step += 1;
        let elapsed = started.elapsed().as_secs_f64();
        let position = self.train.position();
        let examples = self.train.examples().len() as f64;
        Ok(StepReport {
            step: self.step,
            max_steps: self.config.max_steps,
            loss: Some(loss),
            learning_rate,
            grad_norm,
            tokens,
            scored_tokens: scored,
            tokens_per_second: if elapsed > 0.0 { tokens as f64 / elapsed } else { 0.0 },
            epoch: position.epoch as f64 + position.next as f64 / examples,
            privacy: None,
        })
    }

    /// Mean loss over the `scored` completion tokens of `batches` (one optimizer step's
    /// micro-batches) and its gradient for every parameter, in parameter order (each
    /// adapter's `A` then `B`, in the model's order).
    pub fn loss_and_gradients(&self, batches: &[Batch], step_index: u64, scored: usize) -> Result<(f64, Vec<Tensor>)> {
        self.gradients_over(batches, step_index, 0, scored)
    }

    /// [`Trainer::loss_and_gradients`] with the micro-batches numbered from `first` (their
    /// dropout masks): a private step's units each take their own.
    fn gradients_over(&self, batches: &[Batch], step_index: u64, first: u64, scored: usize) -> Result<(f64, Vec<Tensor>)> {
        let inv_items = 1.0 / scored as f64;
        let mut grads: Vec<Option<Tensor>> = vec![None; self.params.len()];
        let mut loss_sum = 0.0;
        for (k, batch) in (first..).zip(batches) {
            let mode = Mode::Train { seed: self.config.seed, step: step_index, micro_batch: k };
            loss_sum += self.accumulate(batch, &mode, inv_items, &mut grads)?;
        }
        let grads = grads
            .into_iter()
            .zip(&self.params)
            .map(|(g, p)| match g {
                Some(g) => Ok(g),
                None => p.var.zeros_like().context_with(|| format!("gradient of `{}`", p.name)),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((loss_sum * inv_items, grads))
    }

    /// Mean loss per completion token over the validation set (every scored token weighs the
    /// same; `None` without validation data). Dropout off; no graph is kept.
    pub fn evaluate(&self) -> Result<Option<f64>> {
        if self.val.is_empty() {
            return Ok(None);
        }
        let mut sum = 0.0;
        let mut count = 0usize;
        for rows in self.val.chunks(self.config.micro_batch_size) {
            let rows: Vec<&Example> = rows.iter().collect();
            let batch = Batch::new(&rows, self.config.max_seq_len, self.config.pad_id, self.model.device())?;
            if batch.target_count() == 0 {
                continue;
            }
            let hidden = forward_without_graph(self.model, &batch)?;
            sum += self.chunked_loss(&hidden, &batch, None)?.0;
            count += batch.target_count();
        }
        Ok((count > 0).then(|| sum / count as f64))
    }

    /// Forward and backward of one micro-batch; adds `inv_items ·` its gradients into
    /// `grads` and returns its summed loss.
    fn accumulate(&self, batch: &Batch, mode: &Mode, inv_items: f64, grads: &mut [Option<Tensor>]) -> Result<f64> {
        if batch.target_count() == 0 {
            return Ok(0.0);
        }
        let model = self.model;
        if !self.config.gradient_checkpointing {
            let hidden = model.forward(&batch.input_ids, &batch.positions, Some(&batch.key_mask), None, mode)?;
            let (loss, grad_hidden) = self.chunked_loss(&hidden.detach(), batch, Some(inv_items))?;
            let grad_hidden = grad_hidden.expect("gradients were asked for");
            let store = backward_surrogate(&hidden, &grad_hidden, "model")?;
            self.collect(&store, grads)?;
            return Ok(loss);
        }

        let layers = model.layers();
        let inputs = model.layer_inputs(&batch.positions, Some(&batch.key_mask), 0)?;
        // Forward: keep each layer's input, drop its graph.
        let mut saved: Vec<Tensor> = Vec::with_capacity(layers.len());
        let mut x = model.embed(&batch.input_ids)?;
        for (i, layer) in layers.iter().enumerate() {
            let input = as_input(&x, i)?;
            let out = layer.forward(&input, &inputs, None, mode)?.detach();
            saved.push(x);
            x = out;
        }
        let last = Var::from_tensor(&x).context_with(|| "checkpointed forward: final layer output".to_owned())?;
        let hidden = model.norm().forward(last.as_tensor())?;
        let (loss, grad_hidden) = self.chunked_loss(&hidden.detach(), batch, Some(inv_items))?;
        let store = backward_surrogate(&hidden, &grad_hidden.expect("gradients were asked for"), "final norm")?;
        let mut grad_out = input_grad(&store, &last, "final norm")?;
        // Backward: recompute each layer from its input, last layer first.
        for (i, layer) in layers.iter().enumerate().rev() {
            let input = as_input(&saved[i], i)?;
            let out = layer.forward(&input, &inputs, None, mode)?;
            let store = backward_surrogate(&out, &grad_out, "decoder layer")?;
            self.collect(&store, grads)?;
            if i > 0 {
                grad_out = input_grad(&store, &input, "decoder layer")?;
            }
        }
        Ok(loss)
    }

    /// Add every parameter's gradient found in `store` into `grads`.
    fn collect(&self, store: &GradStore, grads: &mut [Option<Tensor>]) -> Result<()> {
        for (slot, param) in grads.iter_mut().zip(&self.params) {
            if let Some(g) = store.get(param.var.as_tensor()) {
                *slot = Some(match slot.take() {
                    None => g.clone(),
                    Some(acc) => (acc + g).context_with(|| format!("accumulate gradient of `{}`", param.name))?,
                });
            }
        }
        Ok(())
    }

    /// Summed cross-entropy of the scored positions of `hidden` (detached, `[b, t, h]`), and,
    /// when `scale` is given, `scale ·` its gradient with respect to `hidden`. Logits are
    /// formed `loss_chunk_tokens` rows at a time.
    fn chunked_loss(&self, hidden: &Tensor, batch: &Batch, scale: Option<f64>) -> Result<(f64, Option<Tensor>)> {
        let context = || format!("loss over {} scored tokens", batch.target_count());
        let device = hidden.device();
        let (b, t, h) = hidden.dims3().context_with(context)?;
        let n = batch.target_count();
        let positions = Tensor::from_slice(&batch.target_positions, n, device).context_with(context)?;
        let rows = hidden
            .reshape((b * t, h))
            .and_then(|flat| flat.index_select(&positions, 0))
            .context_with(context)?;
        let chunk = self.config.loss_chunk_tokens.unwrap_or(n);
        let (loss, grad_rows) = loss::head_loss(self.model.head(), &rows, &batch.target_ids, chunk, scale)?;
        let Some(grad_rows) = grad_rows else {
            return Ok((loss, None));
        };
        let grad_hidden = Tensor::zeros((b * t, h), grad_rows.dtype(), device)
            .and_then(|z| z.index_add(&positions, &grad_rows, 0))
            .and_then(|g| g.reshape((b, t, h)))
            .context_with(context)?;
        Ok((loss, Some(grad_hidden)))
    }

    /// An [`Error::NonFinite`] for the step being taken.
    fn non_finite(&self, what: &'static str, value: f64) -> Error {
        Error::NonFinite { step: self.step + 1, what, value, last_checkpoint: self.last_checkpoint().map(Path::to_path_buf) }
    }
}

/// The input of layer `index` in both passes of checkpointing: a variable, so the gradient
/// with respect to it can be read and both passes take the same (differentiable) kernels.
/// Layer 0's input is the frozen embedding and needs no gradient.
fn as_input(x: &Tensor, index: usize) -> Result<Tensor> {
    if index == 0 {
        return Ok(x.clone());
    }
    Var::from_tensor(x)
        .map(Var::into_inner)
        .context_with(|| format!("checkpointed input of layer {index}"))
}

/// Back-propagate `sum(output · grad)`, whose gradient with respect to `output` is `grad`
/// (taken in `output`'s dtype: the f32 gradient of the logits meets bf16 logits on a GPU, as
/// autograd narrows it through PyTorch's `.float()`).
fn backward_surrogate(output: &Tensor, grad: &Tensor, what: &str) -> Result<GradStore> {
    grad.to_dtype(output.dtype())
        .and_then(|grad| output.mul(&grad))
        .and_then(|p| p.sum_all())
        .and_then(|s| s.backward())
        .context_with(|| format!("backward through the {what}"))
}

/// The gradient `store` holds for `input`.
fn input_grad(store: &GradStore, input: &Tensor, what: &str) -> Result<Tensor> {
    store.get(input).cloned().ok_or_else(|| Error::Candle {
        context: format!("backward through the {what}"),
        source: candle_core::Error::Msg("no gradient reached the input".to_owned()),
    })
}

/// Final hidden states of `batch` in evaluation mode, cutting the graph after every layer so
/// no activation outlives its layer.
fn forward_without_graph(model: &Model, batch: &Batch) -> Result<Tensor> {
    let inputs = model.layer_inputs(&batch.positions, Some(&batch.key_mask), 0)?;
    let mut x = model.embed(&batch.input_ids)?;
    for layer in model.layers() {
        x = layer.forward(&x, &inputs, None, &Mode::Eval)?.detach();
    }
    Ok(model.norm().forward(&x)?.detach())
}

/// SHA-256 over everything that fixes the loss sequence: the numeric settings, the LoRA
/// config and the training tokens. Evaluation and checkpoint cadence are left out.
fn run_fingerprint(config: &TrainConfig, lora: &LoraConfig, train: &[Example]) -> String {
    let settings = serde_json::json!({
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "adamw": config.adamw,
        "warmup_steps": config.warmup_steps,
        "decay": config.decay,
        "micro_batch_size": config.micro_batch_size,
        "grad_accum_steps": config.grad_accum_steps,
        "max_seq_len": config.max_seq_len,
        "pad_id": config.pad_id,
        "max_grad_norm": config.max_grad_norm,
        "seed": config.seed,
        "gradient_checkpointing": config.gradient_checkpointing,
        "loss_chunk_tokens": config.loss_chunk_tokens,
        "freeze_a": config.freeze_a,
        "dp": config.dp.as_ref().map(|dp| serde_json::json!({
            "sample_rate": dp.sample_rate,
            "noise_multiplier": dp.noise_multiplier,
            "max_grad_norm": dp.max_grad_norm,
            "units": dp.units,
            "insecure_seed": match dp.randomness { Randomness::InsecureSeed(seed) => Some(seed), Randomness::OperatingSystem => None },
        })),
        "lora": {
            "rank": lora.rank,
            "alpha": lora.alpha,
            "dropout": lora.dropout,
            "targets": lora.targets,
            "rslora": lora.rslora,
        },
    });
    let mut hasher = Sha256::new();
    hasher.update(settings.to_string().as_bytes());
    for example in train {
        hasher.update((example.prompt.len() as u64).to_le_bytes());
        example.prompt.iter().for_each(|id| hasher.update(id.to_le_bytes()));
        hasher.update((example.completion.len() as u64).to_le_bytes());
        example.completion.iter().for_each(|id| hasher.update(id.to_le_bytes()));
    }
    hex::encode(hasher.finalize())
}

/// The first 12 hex digits of a fingerprint, for messages.
fn short(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::lora::Target;
    use rapha_kernels::Quantization;

    /// A two-layer Llama with seeded weights, a full-precision base (an NF4 base multiplies
    /// in bf16, whose rounding steps finite differences would see) and LoRA (random `B`)
    /// on every projection.
    fn tiny_model(lora: &LoraConfig) -> Model {
        let config = crate::testing::tiny_config();
        let weights = crate::testing::random_weights(&config, 1);
        let model = Model::new(config, weights, Quantization::None, Some(lora), 3).unwrap();
        crate::testing::randomize_b(&model, 2, 0.3);
        model
    }

    /// Every gradient path (plain, checkpointed, chunked loss) against central finite
    /// differences of the step loss, with dropout masks fixed by the mode (the NF4 base's
    /// own gradient is checked in f64 by `lora`'s tests). Gradient scale matters here: AdamW alone would hide a wrong one.
    #[test]
    fn gradients_match_finite_differences() {
        let lora = LoraConfig { rank: 2, alpha: 4.0, dropout: 0.1, targets: Target::ALL.to_vec(), rslora: false };
        let model = tiny_model(&lora);
        let examples: Vec<Example> = (0..5u32)
            .map(|i| Example { prompt: (10 + i..14 + 2 * i).collect(), completion: vec![20 + i, 30 + i, 2] })
            .collect();
        let rows: Vec<&Example> = examples.iter().collect();
        let batches =
            [Batch::new(&rows[..3], 64, 0, &Device::Cpu).unwrap(), Batch::new(&rows[3..], 64, 0, &Device::Cpu).unwrap()];
        let scored: usize = batches.iter().map(Batch::target_count).sum();
        let loss_at = |trainer: &Trainer<'_>| -> f64 {
            let mut sum = 0.0;
            for (k, batch) in batches.iter().enumerate() {
                let mode = Mode::Train { seed: trainer.config.seed, step: 0, micro_batch: k as u64 };
                let hidden = model
                    .forward(&batch.input_ids, &batch.positions, Some(&batch.key_mask), None, &mode)
                    .unwrap();
                sum += trainer.chunked_loss(&hidden.detach(), batch, None).unwrap().0;
            }
            sum / scored as f64
        };
        for (checkpointing, chunk) in [(false, None), (true, Some(4))] {
            let config =
                TrainConfig { gradient_checkpointing: checkpointing, loss_chunk_tokens: chunk, ..TrainConfig::default() };
            let trainer = Trainer::new(&model, &lora, examples.clone(), Vec::new(), config).unwrap();
            let (loss, grads) = trainer.loss_and_gradients(&batches, 0, scored).unwrap();
            assert!((loss - loss_at(&trainer)).abs() < 1e-5, "loss {loss}");
            for (index, param) in trainer.params.iter().enumerate().step_by(5) {
                let original = param.var.as_tensor().copy().unwrap();
                let flat = original.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                let grad = grads[index].flatten_all().unwrap().to_vec1::<f32>().unwrap();
                for element in [0, flat.len() / 2, flat.len() - 1] {
                    let eps = 1e-2f32;
                    let at = |delta: f32| {
                        let mut moved = flat.clone();
                        moved[element] += delta;
                        param.var.set(&Tensor::from_vec(moved, original.shape(), &Device::Cpu).unwrap()).unwrap();
                        loss_at(&trainer)
                    };
                    let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
                    param.var.set(&original).unwrap();
                    let analytic = f64::from(grad[element]);
                    assert!(
                        (numeric - analytic).abs() <= 2e-4 + 2e-2 * analytic.abs(),
                        "checkpointing {checkpointing}, chunk {chunk:?}: d loss / d {}[{element}] = {analytic}, finite differences {numeric}",
                        param.name
                    );
                }
            }
        }
    }

    #[test]
    fn settings_are_checked_by_name() {
        let bad = TrainConfig { checkpoint_every: Some(5), ..TrainConfig::default() };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "setting `checkpoint_dir`: expected a directory when `checkpoint_every` is set, found `none`"
        );
        let bad = TrainConfig { grad_accum_steps: 0, ..TrainConfig::default() };
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "setting `grad_accum_steps`: expected a positive integer, found `0`"
        );
        TrainConfig::default().validate().unwrap();
    }
}

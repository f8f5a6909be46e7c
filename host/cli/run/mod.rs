//! `rapha-host run recipe.toml`: the operator's command.
//!
//! In order: read the recipe; prepare the work and export folders; lock the process down
//! (Landlock, seccomp) while it still has one thread; hash the inputs and load the plugin,
//! the model and the data; evaluate the base model on the test records; train, evaluating
//! on validation records as the recipe says, keeping the best adapter and stopping early
//! when the selected metric stops improving; evaluate the best adapter on the test records;
//! export what may leave through the egress gate. Ctrl-C writes a checkpoint and stops;
//! `--resume` continues from the latest checkpoint, refusing changed inputs.

mod data;
mod evaluate;
mod export;
mod folders;
mod identity;
mod journal;
mod recover;
mod selection;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use rapha_engine::{
    AdamWConfig, GenerateConfig, Model, ModelSource, PeftAdapter, Pretrained, Sampling, TrainConfig, Trainer,
};
use rapha_sandbox::lockdown::{self, Report as SandboxReport};
use rapha_sandbox::disclosure;
use rapha_sandbox::{AuditLog, Count, Decision, ManifestInputs, Policy, VerbatimIndex};
use rapha_task_host::{Limits, MetricInfo, TaskHost, TaskPlugin};

use crate::args::RunArgs;
use crate::plot;
use crate::progress::{Progress, TrainingBar};
use crate::recipe::{Length, MAX_STEPS, Recipe, SelectMetric};
use crate::report::{self, MetricRow, ReportFields};
use data::{Dataset, Formatter, Rejections, Seen, Split};
use evaluate::Generator;
use export::{Export, cell};
use folders::Folders;
use identity::Identity;
use journal::{EvalLine, Journal, StepLine};
use selection::Selection;

/// The run was stopped by a signal after writing a checkpoint; `--resume` continues it.
#[derive(Debug)]
pub struct Interrupted {
    /// Steps done.
    pub step: u64,
    /// The checkpoint written, if training had started.
    pub checkpoint: Option<PathBuf>,
    /// The recipe, for the resume command; `None` when the run stopped before it had begun
    /// anything `--resume` could continue (its `run.json`).
    pub resume_with: Option<PathBuf>,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped by a signal at step {}", self.step)?;
        if let Some(checkpoint) = &self.checkpoint {
            write!(f, " (checkpoint `{}`)", checkpoint.display())?;
        }
        match &self.resume_with {
            Some(recipe) => write!(f, "; continue with `rapha-host run {} --resume`", recipe.display()),
            None => f.write_str("; it stopped before starting anything to resume: run it again"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Run the recipe at `args.recipe`. `progress_visible`: draw progress bars on stderr.
pub fn run(args: &RunArgs, progress_visible: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let recipe = Recipe::load(&args.recipe)?;
    lockdown::owner_only_files();
    let folders = Folders::prepare(&recipe, args.resume)?;
    if let Some(threads) = recipe.train.threads {
        // SAFETY: the process has one thread here (lock_down checks it in strict mode), so
        // no other thread can read the environment while it changes.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", threads.to_string()) };
    }
    let sandbox = lockdown::lock_down(&folders.roots(&recipe), recipe.privacy.sandbox)
        .with_context(|| {
            format!(
                "cannot lock the process down: `rapha-host doctor` shows what this kernel offers; \
                 `privacy.sandbox = \"best-effort\"` in `{}` runs with what it has",
                recipe.file.display()
            )
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut exit_on_second_signal = Vec::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the first is being handled exits at once, until the export.
        let exit = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|id| signal_hook::flag::register(signal, Arc::clone(&stop)).map(|_| id))
            .context("cannot install the signal handlers")?;
        exit_on_second_signal.push(exit);
    }
    let audit = Arc::new(AuditLog::open(folders.work.join("audit.log"))?);
    audit.record("lockdown", "process", Decision::Noted, &describe(&sandbox))?;
    if args.resume {
        recover::recover(&folders.work, &folders.export, &audit)?;
    }
    for missing in &sandbox.missing {
        tracing::warn!("sandbox: {missing}");
    }
    let progress = Progress::new(progress_visible);
    Run {
        recipe: &recipe,
        folders: &folders,
        sandbox: &sandbox,
        audit,
        stop,
        exit_on_second_signal,
        progress,
        started,
        resume: args.resume,
    }
    .execute()
    .map_err(|error| {
        // Stopped in a plugin call before training (reading the data, the base model's test
        // evaluation): nothing to checkpoint.
        if stopped_by_signal(&error) && !error.is::<Interrupted>() {
            let started = folders.work.join("run.json").exists();
            Interrupted { step: 0, checkpoint: None, resume_with: started.then(|| args.recipe.clone()) }.into()
        } else {
            error
        }
    })
}

/// One run, after lockdown.
struct Run<'a> {
    recipe: &'a Recipe,
    folders: &'a Folders,
    sandbox: &'a SandboxReport,
    audit: Arc<AuditLog>,
    stop: Arc<AtomicBool>,
    /// The handlers that make a second SIGINT or SIGTERM exit at once; removed before the
    /// export, which must finish or roll back whatever arrives.
    exit_on_second_signal: Vec<signal_hook::SigId>,
    progress: Progress,
    started: Instant,
    resume: bool,
}

impl Run<'_> {
    fn execute(self) -> anyhow::Result<()> {
        let recipe = self.recipe;
        let work = &self.folders.work;

        let plugin_sha256 = identity::hash_file(&recipe.plugin.path)?;
        if let Some(pinned) = &recipe.plugin.sha256
            && *pinned != plugin_sha256
        {
            return Err(recipe
                .error_at("plugin.sha256", &format!("the plugin's sha256 `{plugin_sha256}`"), &format!("`{pinned}`"))
                .into());
        }
        let mut limits = Limits::default();
        limits.fuel_per_call = recipe.plugin.fuel;
        limits.deadline_per_call = recipe.plugin.deadline;
        limits.memory_per_instance = recipe.plugin.memory_bytes;
        let host = TaskHost::new(limits, work.join("cache").join("components"), work.join("logs"))?
            .with_run_seed(recipe.train.seed)
            .with_stop(Arc::clone(&self.stop));
        let mut plugin = TaskPlugin::load(&host, &recipe.plugin.path)?;
        let selection = self.selection(&plugin)?;
        let info = plugin.info().clone();
        tracing::info!(task = %info.id, version = %info.version, "plugin loaded");

        let pretrained = Pretrained::load(&ModelSource::from_path(&recipe.model.path))
            .with_context(|| format!("cannot load the model `{}`", recipe.model.path.display()))?;
        let tokenizer = pretrained.tokenizer;
        // Hashed once its headers and sizes have been checked by loading it.
        let model_sha256 = identity::hash_model(&recipe.model.path)?;

        let mut seen = Seen::new(recipe.data.allow_overlap);
        let mut rejections = Rejections::new(recipe.data.max_rejected, &self.audit);
        let mut verbatim = VerbatimIndex::new(Policy::new().verbatim_words, []);
        let mut formatter = Formatter {
            plugin: &mut plugin,
            tokenizer: &tokenizer,
            system_prompt: recipe.plugin.system_prompt.as_deref(),
            verbatim: &mut verbatim,
        };
        let mut read = |split: Split, path: &Path, limit: Option<usize>| {
            data::read(split, path, limit, &mut formatter, &mut seen, &mut rejections)
        };
        let train = read(Split::Train, &recipe.data.train, None)?;
        let val = read(Split::Val, &recipe.data.val, Some(recipe.eval.records))?;
        let test = read(Split::Test, &recipe.data.test, recipe.eval.test_records)?;
        let skipped = rejections.used();
        if seen.overlaps > 0 {
            let reason = format!("{} validation or test records hold the text of an earlier split", seen.overlaps);
            tracing::warn!("{reason} (`data.allow_overlap = true`)");
            self.audit.record("overlap", &recipe.file.display().to_string(), Decision::Noted, &reason)?;
        }
        if (train.records.len() as u64) < recipe.privacy.min_records {
            return Err(recipe
                .error_at(
                    "privacy.min_records",
                    &format!("at least {} training records", recipe.privacy.min_records),
                    &format!("{} usable records in `{}`", train.records.len(), train.path.display()),
                )
                .into());
        }

        let max_steps = planned_steps(recipe, train.records.len(), pretrained.config.max_position_embeddings)?;

        let identity = Identity {
            recipe: recipe.sha256.clone(),
            model: model_sha256.clone(),
            plugin: plugin_sha256.clone(),
            datasets: [&train, &val, &test].iter().map(|d| (d.split.name().to_owned(), d.sha256.clone())).collect(),
        };
        let identity_path = work.join("run.json");
        if self.resume {
            identity.check_resumes(&identity_path)?;
        } else {
            identity.save(&identity_path)?;
        }
        self.audit.record(
            "start",
            &recipe.file.display().to_string(),
            Decision::Noted,
            &format!(
                "{} train, {} val, {} test records; {skipped} skipped; resume: {}",
                train.records.len(),
                val.records.len(),
                test.records.len(),
                self.resume
            ),
        )?;

        let model_name = file_name(&recipe.model.path);
        let model = Model::new(pretrained.config, pretrained.weights, recipe.model.quantization, Some(&recipe.lora), recipe.train.seed)
            .context("cannot build the model")?;
        let pad_id = tokenizer.pad_token_id().or_else(|| tokenizer.eos_token_ids().first().copied()).unwrap_or(0);
        let records_per_step = recipe.train.batch_size * recipe.train.grad_accum;
        let config = TrainConfig {
            max_steps,
            learning_rate: recipe.train.lr,
            adamw: AdamWConfig { weight_decay: recipe.train.weight_decay, ..AdamWConfig::default() },
            warmup_steps: recipe.train.warmup_steps,
            decay: recipe.train.schedule,
            micro_batch_size: recipe.train.batch_size,
            grad_accum_steps: recipe.train.grad_accum,
            max_seq_len: recipe.train.max_seq_len,
            pad_id,
            max_grad_norm: recipe.train.max_grad_norm,
            seed: recipe.train.seed,
            eval_every: None,
            checkpoint_every: None,
            checkpoint_dir: Some(work.join("checkpoints")),
            keep_checkpoints: 2,
            gradient_checkpointing: recipe.train.gradient_checkpointing,
            loss_chunk_tokens: TrainConfig::default().loss_chunk_tokens,
            base_model: Some(model_name.clone()),
        };
        let examples = |set: &Dataset| set.records.iter().map(|r| r.example.clone()).collect::<Vec<_>>();
        let mut trainer = Trainer::new(&model, &recipe.lora, examples(&train), examples(&val), config)?;
        let start_step = if self.resume { self.resume_trainer(&mut trainer)? } else { 0 };
        if self.resume {
            tracing::info!(step = start_step, "resuming");
        }
        let mut journal = Journal::open(&work.join("journal"), start_step)?;

        let generator = Generator {
            model: &model,
            tokenizer: &tokenizer,
            config: GenerateConfig {
                max_new_tokens: recipe.eval.max_new_tokens.unwrap_or(info.generation.max_new_tokens) as usize,
                sampling: Sampling::Greedy,
                seed: recipe.train.seed,
                stop_strings: info.generation.stop.clone(),
                eos_token_ids: tokenizer.eos_token_ids().to_vec(),
                pad_id,
                kv_cache: true,
            },
            batch: recipe.train.batch_size.max(4),
        };
        let predictions = work.join("predictions");

        // The base model is the model before its first step: LoRA's B starts at zero, so
        // every adapted projection computes exactly the base weights' output.
        let base_path = predictions.join("test-base.jsonl");
        let base = if base_path.exists() {
            evaluate::load(&base_path, &test.records)?
        } else {
            anyhow::ensure!(
                start_step == 0,
                "cannot resume: `{}` is missing, and the base model can only be evaluated before training",
                base_path.display()
            );
            let bar = self.progress.evaluation("test: base model", test.records.len() as u64);
            let answers = generator.answer(&test.records, &bar)?;
            bar.finish();
            evaluate::save(&base_path, &answers)?;
            answers
        };
        let base_scores = evaluate::score(&mut plugin, &test, &base)?;

        let bar = self.progress.training(start_step, max_steps);
        let mut stopped_early = selection.exhausted(journal.evals());
        let is_eval_step = |step: u64| step.is_multiple_of(recipe.train.eval_every) || step == max_steps;
        // A run stopped while evaluating step N saved step N's checkpoint: the evaluation is
        // done first when it resumes.
        let mut pending_eval = start_step > 0
            && is_eval_step(start_step)
            && journal.evals().last().is_none_or(|eval| eval.step < start_step);
        while pending_eval || (trainer.step_count() < max_steps && !stopped_early) {
            if !pending_eval {
                if self.stop.load(Ordering::Relaxed) {
                    return Err(self.interrupt(&mut trainer, &bar)?);
                }
                let report = trainer.step()?;
                bar.step(&report);
                journal.push_step(StepLine {
                    step: report.step,
                    loss: report.loss,
                    learning_rate: report.learning_rate,
                    tokens: report.tokens as u64,
                    seconds: report.tokens as f64 / report.tokens_per_second.max(f64::MIN_POSITIVE),
                })?;
            }
            pending_eval = false;
            let step = trainer.step_count();
            let last = step == max_steps;
            if is_eval_step(step) {
                let eval_loss = trainer.evaluate()?.context("no validation records to evaluate")?;
                let label = format!("eval step {step}");
                let eval_bar = self.progress.evaluation(&label, val.records.len() as u64);
                let answers = generator.answer(&val.records, &eval_bar)?;
                eval_bar.finish();
                evaluate::save(&predictions.join(format!("val-step-{step}.jsonl")), &answers)?;
                let scored = match evaluate::score(&mut plugin, &val, &answers) {
                    Err(error) if stopped_by_signal(&error) => return Err(self.interrupt(&mut trainer, &bar)?),
                    scored => scored?,
                };
                let line = EvalLine {
                    step,
                    eval_loss,
                    metrics: scored.metrics.iter().map(|m| (m.name.clone(), m.value)).collect(),
                    records: scored.records.len(),
                };
                if selection.improves(journal.evals(), &line) {
                    save_best(work, step, &trainer.adapter()?)?;
                }
                let selected = selection.value(&line);
                tracing::info!(step, eval_loss, metric = %selection.metric, value = ?selected, "evaluated");
                bar.eval(step, Some(eval_loss), selected.map(|v| (selection.metric.as_str(), v)));
                journal.push_eval(line)?;
                stopped_early = selection.exhausted(journal.evals());
            }
            if step % recipe.train.checkpoint_every == 0 || last || stopped_early {
                trainer.save_checkpoint()?;
            }
        }
        bar.finish();
        let steps_done = trainer.step_count();
        drop(trainer);

        let best = selection.best(journal.evals()).context("no evaluation selected a best adapter")?.clone();
        let best_dir = best_dir(work, best.step);
        PeftAdapter::load(&best_dir, model.device())?.assign_to(&model)?;
        let bar = self.progress.evaluation(&format!("test: adapter of step {}", best.step), test.records.len() as u64);
        let tuned = generator.answer(&test.records, &bar)?;
        bar.finish();
        evaluate::save(&predictions.join("test-adapter.jsonl"), &tuned)?;
        // A stop request ends scoring early (its call fails as stopped); the check below says so.
        let tuned_scores = evaluate::score(&mut plugin, &test, &tuned);
        let denials = plugin.denials();
        if !denials.is_empty() {
            let counts: Vec<String> = denials.iter().map(|(attempt, n)| format!("{} ×{n}", attempt.name())).collect();
            let reason = format!("denied attempts (the plugin's log has each): {}", counts.join(", "));
            tracing::warn!(plugin = %info.id, "{reason}");
            self.audit.record("plugin-denials", &info.id, Decision::Noted, &reason)?;
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(Interrupted { step: steps_done, checkpoint: None, resume_with: Some(recipe.file.clone()) }.into());
        }
        let tuned_scores = tuned_scores?;

        let n = test.records.len();
        let row = |metric: &MetricInfo| MetricRow {
            name: metric.name.clone(),
            higher_is_better: metric.higher_is_better,
            base: base_scores.get(&metric.name).and_then(|value| cell(n, value)),
            adapter: tuned_scores.get(&metric.name).and_then(|value| cell(n, value)),
        };
        let shown: Vec<MetricRow> = info
            .metrics
            .iter()
            .filter(|metric| base_scores.get(&metric.name).is_some() && tuned_scores.get(&metric.name).is_some())
            .map(row)
            .collect();
        let exported = export::exported_metrics(&info, &selection.metric);
        let evaluations = max_steps.div_ceil(recipe.train.eval_every);
        let steps = journal.steps();
        let train_seconds: f64 = steps.iter().map(|s| s.seconds).sum();
        let train_tokens: u64 = steps.iter().map(|s| s.tokens).sum();
        let fields = ReportFields {
            task: info.id.clone(),
            plugin_version: info.version.clone(),
            plugin_sha256: plugin_sha256.clone(),
            model: model_name,
            quantization: recipe.model.quantization.to_string(),
            bytes_per_param: model.footprint().bytes_per_param(),
            lora: describe_lora(recipe),
            steps: steps_done,
            best_step: best.step,
            stopped_early,
            train_records: Count::of(train.records.len() as u64),
            val_records: Count::of(val.records.len() as u64),
            test_records: Count::of(n as u64),
            tokens_per_second: train_tokens as f64 / train_seconds.max(f64::MIN_POSITIVE),
            final_train_loss: steps.last().and_then(|s| disclosure::round(s.loss)),
            best_eval_loss: cell(best.records, best.eval_loss),
            sandbox: describe(self.sandbox),
            rows: exported.iter().copied().map(row).collect(),
            eval_records: Count::of(n as u64),
            channel_bits: disclosure::channel_bits(2 * exported.len(), evaluations, recipe.data.max_rejected),
        };
        let train_curve: Vec<(u64, f64)> = steps.iter().map(|s| (s.step, s.loss)).collect();
        let eval_curve: Vec<(u64, f64)> = journal.evals().iter().map(|e| (e.step, e.eval_loss)).collect();
        plot::loss_curve(&work.join("loss.svg"), &train_curve, &eval_curve)?;

        let mut table = report::comparison_table(&shown, Count::of(n as u64));
        let names: Vec<&str> = exported.iter().map(|metric| metric.name.as_str()).collect();
        table.push_str(&format!(
            "leaving in metrics.json and report.txt: {} (at most {} metrics, {} significant digits)\n",
            names.join(", "),
            disclosure::MAX_EXPORTED_METRICS,
            disclosure::SIGNIFICANT_DIGITS
        ));
        let inputs = ManifestInputs {
            recipe: export::input("recipe", &recipe.sha256, None),
            model: export::input("model", &model_sha256, None),
            plugin: export::input("plugin", &plugin_sha256, None),
            datasets: [&train, &val, &test]
                .iter()
                .map(|d| export::input(d.split.name(), &d.sha256, Some(d.records.len())))
                .collect(),
        };
        for handler in &self.exit_on_second_signal {
            signal_hook::low_level::unregister(*handler);
        }
        let manifest = export::write(
            &self.folders.export,
            Export {
                adapter_dir: &best_dir,
                model: &model,
                report: fields,
                steps,
                records_per_step,
                evals: journal.evals(),
                inputs,
                sandbox: self.sandbox,
            },
            verbatim,
            Arc::clone(&self.audit),
        )?;
        self.progress.println("");
        println!("{table}");
        println!(
            "exported {} files to `{}` (manifest.json lists their sha256); work folder `{}`; wall time {:.0} s",
            manifest.files.len() + 1,
            self.folders.export.display(),
            work.display(),
            self.started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Stop the run on a signal: write a checkpoint of the steps done (none before the first),
    /// audit it, and return the [`Interrupted`] error that `--resume` continues from.
    fn interrupt(&self, trainer: &mut Trainer<'_>, bar: &TrainingBar) -> anyhow::Result<anyhow::Error> {
        let checkpoint = (trainer.step_count() > 0).then(|| trainer.save_checkpoint()).transpose()?;
        bar.finish();
        let interrupted =
            Interrupted { step: trainer.step_count(), checkpoint, resume_with: Some(self.recipe.file.clone()) };
        self.audit.record("stop", "training", Decision::Noted, &interrupted.to_string())?;
        Ok(interrupted.into())
    }

    /// Resume `trainer` from its newest intact checkpoint, saying which damaged ones it passed
    /// over and why; the step resumed at (0 when there was none).
    fn resume_trainer(&self, trainer: &mut Trainer<'_>) -> anyhow::Result<u64> {
        let resumed = trainer.resume_latest()?;
        for (dir, reason) in &resumed.skipped {
            tracing::warn!(checkpoint = %dir.display(), "skipped a damaged checkpoint: {reason}");
            self.audit.record("resume-skip", &dir.display().to_string(), Decision::Noted, reason)?;
        }
        Ok(resumed.step.unwrap_or(0))
    }

    /// The recipe's `select_metric`, checked against what the plugin declares.
    fn selection(&self, plugin: &TaskPlugin) -> anyhow::Result<Selection> {
        let train = &self.recipe.train;
        let (metric, higher_is_better) = match &train.select_metric {
            SelectMetric::EvalLoss => ("eval_loss".to_owned(), false),
            SelectMetric::Plugin(name) => {
                let Some(declared) = plugin.info().metric(name) else {
                    let names: Vec<String> = plugin.info().metrics.iter().map(|m| format!("`{}`", m.name)).collect();
                    return Err(self
                        .recipe
                        .error_at(
                            "train.select_metric",
                            &format!("`eval_loss` or a metric of plugin `{}`: {}", plugin.info().id, names.join(", ")),
                            &format!("`{name}`"),
                        )
                        .into());
                };
                (name.clone(), declared.higher_is_better)
            }
        };
        Ok(Selection { metric, higher_is_better, patience: train.patience })
    }
}

/// Whether `error` is a plugin call stopped because the run was asked to stop (a signal).
fn stopped_by_signal(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<rapha_task_host::Error>(),
            Some(rapha_task_host::Error::Trap { kind: rapha_task_host::TrapKind::Stopped, .. })
        )
    })
}

/// Optimizer steps the recipe asks for: `max_steps`, or enough for `epochs` passes over
/// `train_records`. Refused, naming the key, before anything trains: more steps than
/// [`MAX_STEPS`], a warm-up as long as the run, or sequences longer than the model's
/// `context`.
fn planned_steps(recipe: &Recipe, train_records: usize, context: usize) -> anyhow::Result<u64> {
    let train = &recipe.train;
    let steps = match train.length {
        Length::MaxSteps(steps) => steps,
        Length::Epochs(epochs) => {
            let per_epoch = train_records.div_ceil(train.batch_size).div_ceil(train.grad_accum);
            let steps = (per_epoch as f64 * epochs).ceil().max(1.0);
            if steps > MAX_STEPS as f64 {
                let expected = format!("epochs that come to at most {MAX_STEPS} optimizer steps");
                let found = format!("`{epochs}`: {steps:.0} steps of {per_epoch} per epoch");
                return Err(recipe.error_at("train.epochs", &expected, &found).into());
            }
            steps as u64
        }
    };
    if train.warmup_steps >= steps && train.warmup_steps > 0 {
        let expected = format!("fewer warm-up steps than the run's {steps} optimizer steps");
        return Err(recipe.error_at("train.warmup_steps", &expected, &format!("`{}`", train.warmup_steps)).into());
    }
    if train.max_seq_len > context {
        let expected = format!("at most the model's context length, {context} tokens");
        return Err(recipe.error_at("train.max_seq_len", &expected, &format!("`{}`", train.max_seq_len)).into());
    }
    Ok(steps)
}

/// The folder holding the adapter of evaluation step `step` while it is the best.
fn best_dir(work: &Path, step: u64) -> PathBuf {
    work.join("best").join(format!("step-{step}"))
}

/// Save `adapter` as the best so far, then remove the one it replaces.
fn save_best(work: &Path, step: u64, adapter: &PeftAdapter) -> anyhow::Result<()> {
    let dir = best_dir(work, step);
    adapter.save(&dir).with_context(|| format!("cannot save the best adapter to `{}`", dir.display()))?;
    let parent = work.join("best");
    for entry in std::fs::read_dir(&parent).with_context(|| format!("cannot list `{}`", parent.display()))? {
        let path = entry.with_context(|| format!("cannot list `{}`", parent.display()))?.path();
        if path != dir {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove `{}`", path.display()))?;
        }
    }
    Ok(())
}

/// The last component of a path, for names that leave without the site's folder layout.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

fn describe_lora(recipe: &Recipe) -> String {
    let lora = &recipe.lora;
    let targets: Vec<String> = lora.targets.iter().map(|t| t.peft_name().to_owned()).collect();
    format!(
        "r={} alpha={} dropout={} rslora={} targets={}",
        lora.rank,
        lora.alpha,
        lora.dropout,
        lora.rslora,
        targets.join(",")
    )
}

/// The protections in force, in one line.
fn describe(sandbox: &SandboxReport) -> String {
    let mode = match sandbox.mode {
        lockdown::SandboxMode::Strict => "strict",
        lockdown::SandboxMode::BestEffort => "best-effort",
    };
    let landlock = sandbox.landlock_abi.map_or("no landlock".to_owned(), |abi| format!("landlock abi {abi}"));
    let mut line = format!(
        "{mode}: {landlock}, tcp {}, seccomp socket filter {}",
        if sandbox.tcp_denied { "denied" } else { "allowed" },
        if sandbox.seccomp_socket_filter { "on" } else { "off" }
    );
    if !sandbox.missing.is_empty() {
        line.push_str(&format!("; missing: {}", sandbox.missing.join("; ")));
    }
    line
}

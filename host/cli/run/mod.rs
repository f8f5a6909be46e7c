//! `rapha-host run recipe.toml`: the operator's command.
//!
//! In order: read the recipe; prepare the work and export folders; lock the process down
//! (Landlock, seccomp) while it still has one thread; hash the inputs and load the plugin,
//! the model and the data; evaluate the base model on the test records; train, evaluating
//! on validation records as the recipe says, keeping the best adapter and stopping early
//! when the selected metric stops improving; evaluate the best adapter on the test records;
//! export what may leave through the egress gate. Ctrl-C writes a checkpoint and stops;
//! `--resume` continues from the latest checkpoint, refusing changed inputs.

mod export;
mod federated;
mod folders;
mod identity;
mod journal;
mod leakage;
mod privacy;
mod recover;
mod selection;
mod splits;
mod training;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use rapha_engine::{Finish, Flow, Model, Observer, PeftAdapter, Tokenizer, Trainer};
use rapha_sandbox::disclosure;
use rapha_sandbox::lockdown::{self, Report as SandboxReport};
use rapha_sandbox::{AuditLog, Count, Decision, ManifestInputs, Policy, VerbatimIndex};
use rapha_task_host::{MetricInfo, TaskInfo, TaskPlugin};

use crate::args::RunArgs;
use crate::plot;
use crate::progress::Progress;
use crate::recipe::{Length, MAX_STEPS, Recipe, SelectMetric, TrainPlan};
use crate::report::{self, Baseline, MetricRow, ReportFields};
use crate::stages::base::Base;
use crate::stages::data::{self, Dataset, Formatter, Rejections, Seen, Split};
use crate::stages::predictions::{self, Generator};
use crate::stages::scoring::Scored;
use crate::stages::task::Task;
use export::Export;
use folders::Folders;
use identity::Identity;
use journal::Journal;
use privacy::PrivacyPlan;
use crate::stages::audit::{AuditPlan, Findings, Scoring, Subject};
use selection::Selection;
use splits::Splits;
use training::{Evaluations, best_dir};

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
    let recipe = match args.round {
        Some(round) => Recipe::load(&args.recipe)?.for_round(round, args.global.clone())?,
        None => Recipe::load(&args.recipe)?,
    };
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

/// The adapter a run trained and how the base and it did on the test records: what the
/// report and the export are made of.
struct Outcome<'m> {
    plugin_sha256: String,
    model: &'m Model,
    model_name: String,
    model_sha256: String,
    splits: Splits,
    selection: Selection,
    journal: Journal,
    trained: Trained,
    base: Scored,
    tuned: Scored,
    max_steps: u64,
    /// DP-SGD's plan, in a private run.
    privacy: Option<PrivacyPlan>,
    /// The leakage audit's figures, when it ran (and passed).
    findings: Option<Findings>,
    /// What `base` is: the base model, or a federated round's starting global adapter.
    baseline: Baseline,
}

/// How training ended.
struct Trained {
    /// Steps done.
    steps: u64,
    /// Whether the selected metric stopped improving before `max_steps`.
    stopped_early: bool,
}

impl Outcome<'_> {
    /// `metric` for the base and the adapter on the test records, as it may be shown.
    fn row(&self, metric: &MetricInfo) -> MetricRow {
        let n = self.splits.test.records.len();
        MetricRow {
            name: metric.name.clone(),
            higher_is_better: metric.higher_is_better,
            base: self.base.get(&metric.name).and_then(|value| disclosure::cell(n, value)),
            adapter: self.tuned.get(&metric.name).and_then(|value| disclosure::cell(n, value)),
        }
    }

    /// The terminal's table: every metric both evaluations returned, and which leave.
    fn table(&self, info: &TaskInfo, exported: &[&MetricInfo]) -> String {
        let both = |metric: &&MetricInfo| self.base.get(&metric.name).is_some() && self.tuned.get(&metric.name).is_some();
        let shown: Vec<MetricRow> = info.metrics.iter().filter(both).map(|metric| self.row(metric)).collect();
        let mut table = report::comparison_table(&shown, Count::of(self.splits.test.records.len() as u64), self.baseline);
        let names: Vec<&str> = exported.iter().map(|metric| metric.name.as_str()).collect();
        table.push_str(&format!(
            "leaving in metrics.json and report.txt: {} (at most {} metrics, {} significant digits)\n",
            names.join(", "),
            disclosure::MAX_EXPORTED_METRICS,
            disclosure::SIGNIFICANT_DIGITS
        ));
        table
    }
}

impl Run<'_> {
    fn execute(self) -> anyhow::Result<()> {
        let recipe = self.recipe;
        let work = &self.folders.work;
        let Task { mut plugin, sha256: plugin_sha256 } = Task::load(recipe, work, &self.stop)?;
        let selection = self.selection(&plugin)?;
        let base = Base::load(&recipe.model.path)?;
        let splits = self.read_splits(&mut plugin, &base.tokenizer)?;
        let max_steps = planned_steps(recipe, splits.train.records.len(), base.config.max_position_embeddings)?;
        let record_units = privacy::record_units(recipe, &splits.train)?;
        let audit = AuditPlan::new(&recipe.audit, &record_units, recipe.train.seed, &base.tokenizer)?;
        let distinct = record_units.iter().collect::<std::collections::BTreeSet<_>>().len();
        let (train_examples, units) = match &audit {
            Some(plan) => plan.training(&splits.train, &record_units),
            None => (splits.train.records.iter().map(|r| r.example.clone()).collect(), record_units),
        };
        let privacy = PrivacyPlan::new(recipe, units, distinct, &splits.train, max_steps)?;
        self.announce(privacy.as_ref(), max_steps)?;
        self.identify(&plugin_sha256, &base.sha256, &splits)?;
        let (model_name, model_sha256, pad_id) = (base.name.clone(), base.sha256.clone(), base.pad_id());
        let (model, tokenizer) = base.build(recipe.model.quantization, &recipe.lora, recipe.adapter_seed())?;
        federated::start_from_global(recipe, &model)?;
        let plan = TrainPlan {
            max_steps,
            pad_id,
            checkpoint_dir: work.join("checkpoints"),
            base_model: model_name.clone(),
            dp: privacy.as_ref().map(|plan| plan.config.clone()),
        };
        let examples = |set: &Dataset| set.records.iter().map(|r| r.example.clone()).collect::<Vec<_>>();
        let mut trainer = Trainer::new(&model, &recipe.lora, train_examples, examples(&splits.val), recipe.train_config(plan))?;
        let start_step = self.resume_trainer(&mut trainer)?;
        let mut journal = Journal::open(&work.join("journal"), start_step)?;
        let eos = tokenizer.eos_token_ids().to_vec();
        let schema = predictions::schema_decoding(recipe.eval.decoding, &plugin, &tokenizer, model.config().vocab_size)
            .map_err(|error| recipe.error_at("eval.decoding", "a plugin output schema that can constrain decoding", &format!("{error:#}")))?;
        let generator = Generator {
            model: &model,
            tokenizer: &tokenizer,
            config: recipe.generate_config(plugin.info(), eos, pad_id),
            batch: recipe.generation_batch(),
            schema: schema.as_ref(),
        };
        let base = self.evaluate_base(&generator, &mut plugin, &splits.test, start_step)?;
        let scoring = Scoring { batch: recipe.generation_batch(), max_seq_len: recipe.train.max_seq_len, pad_id };
        let audit_base = audit.as_ref().map(|plan| self.audit_base(plan, &model, &splits.train, start_step, &scoring)).transpose()?;
        let trained = self.train(&mut trainer, &generator, &mut plugin, &splits.val, &mut journal, &selection)?;
        drop(trainer);
        let best = chosen(&selection, &journal)?.step;
        let tuned = self.evaluate_best(&generator, &mut plugin, &splits.test, best, trained.steps)?;
        let findings = match (&audit, &audit_base) {
            (Some(plan), Some(base)) => {
                let subject = Subject { model: &model, tokenizer: &tokenizer, train: &splits.train, base, scoring: &scoring };
                Some(self.audit(plan, &subject)?)
            }
            _ => None,
        };
        let outcome = Outcome {
            plugin_sha256,
            model: &model,
            model_name,
            model_sha256,
            splits,
            selection,
            journal,
            trained,
            base,
            tuned,
            max_steps,
            privacy,
            findings,
            baseline: if self.recipe.federation.as_ref().is_some_and(|f| f.global.is_some()) {
                Baseline::Global
            } else {
                Baseline::Base
            },
        };
        if let Some(plan) = &outcome.privacy {
            let spent = plan.spent(outcome.trained.steps)?;
            tracing::info!(epsilon = spent.epsilon, delta = spent.delta, steps = outcome.trained.steps, "privacy spent");
            plan.save_accountant(recipe, work, outcome.trained.steps)?;
        }
        self.export(&plugin, outcome)
    }

    /// Read the three splits: formatted by the plugin, tokenized, checked against each
    /// other, skipped lines within `data.max_rejected`; at least `privacy.min_records`
    /// training records.
    fn read_splits(&self, plugin: &mut TaskPlugin, tokenizer: &Tokenizer) -> anyhow::Result<Splits> {
        let recipe = self.recipe;
        let mut seen = Seen::new(recipe.data.allow_overlap);
        let mut rejections = Rejections::new(recipe.data.max_rejected, &self.audit);
        let mut verbatim = VerbatimIndex::new(Policy::new().verbatim_words, []);
        let mut formatter =
            Formatter { plugin, tokenizer, system_prompt: recipe.plugin.system_prompt.as_deref(), verbatim: &mut verbatim };
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
        Ok(Splits { train, val, test, skipped, verbatim })
    }

    /// Log and audit a private run's plan before it trains.
    fn announce(&self, privacy: Option<&PrivacyPlan>, max_steps: u64) -> anyhow::Result<()> {
        let Some(plan) = privacy else { return Ok(()) };
        let config = &plan.config;
        let planned = config.spent_after(max_steps)?;
        let detail = format!(
            "DP-SGD: unit {}, {} units, q {:.6}, noise multiplier {:.4}, clip {}, δ {:e}; the planned steps spend ε {:.4}",
            plan.unit, config.unit_count(), config.sample_rate, config.noise_multiplier, config.max_grad_norm, config.delta, planned.epsilon
        );
        tracing::info!("{detail}");
        if let rapha_engine::dp::Randomness::InsecureSeed(_) = config.randomness {
            tracing::warn!("`privacy.dp.insecure_seed` is set: the noise is predictable and the run has no privacy guarantee");
        }
        self.audit.record("privacy", &self.recipe.file.display().to_string(), Decision::Noted, &detail)?;
        Ok(())
    }

    /// Write the inputs' hashes to `run.json`, or check a resumed run's against it; audit
    /// the start.
    fn identify(&self, plugin_sha256: &str, model_sha256: &str, splits: &Splits) -> anyhow::Result<()> {
        let identity = Identity {
            recipe: self.recipe.sha256.clone(),
            model: model_sha256.to_owned(),
            plugin: plugin_sha256.to_owned(),
            datasets: splits.all().iter().map(|d| (d.split.name().to_owned(), d.sha256.clone())).collect(),
        };
        let path = self.folders.work.join("run.json");
        if self.resume {
            identity.check_resumes(&path)?;
        } else {
            identity.save(&path)?;
        }
        let [train, val, test] = splits.all().map(|d| d.records.len());
        let counts = format!("{train} train, {val} val, {test} test records; {} skipped", splits.skipped);
        let detail = format!("{counts}; resume: {}", self.resume);
        self.audit.record("start", &self.recipe.file.display().to_string(), Decision::Noted, &detail)?;
        Ok(())
    }

    /// The base model's answers on the test records, scored. The base model is the model
    /// before its first step: LoRA's B starts at zero, so every adapted projection computes
    /// exactly the base weights' output. A resumed run reads the answers it saved then.
    fn evaluate_base(&self, generator: &Generator<'_>, plugin: &mut TaskPlugin, test: &Dataset, start_step: u64) -> anyhow::Result<Scored> {
        let path = self.folders.work.join("predictions").join("test-base.jsonl");
        let answers = if path.exists() {
            predictions::load(&path, &test.records)?
        } else {
            anyhow::ensure!(
                start_step == 0,
                "cannot resume: `{}` is missing, and the base model can only be evaluated before training",
                path.display()
            );
            let bar = self.progress.evaluation("test: base model", test.records.len() as u64);
            let answers = generator.answer(&test.records, &bar)?;
            bar.finish();
            predictions::save(&path, &answers)?;
            answers
        };
        predictions::score(plugin, test, &answers)
    }

    /// Train to the end, to an early stop or to a signal (an [`Interrupted`] error). A run
    /// resumed at an evaluation step whose evaluation was cut short evaluates it first.
    fn train(
        &self,
        trainer: &mut Trainer<'_>,
        generator: &Generator<'_>,
        plugin: &mut TaskPlugin,
        val: &Dataset,
        journal: &mut Journal,
        selection: &Selection,
    ) -> anyhow::Result<Trained> {
        let (start, max_steps, every) = (trainer.step_count(), trainer.config().max_steps, self.recipe.train.eval_every);
        let pending = start > 0
            && (start.is_multiple_of(every) || start == max_steps)
            && journal.evals().last().is_none_or(|eval| eval.step < start);
        let mut flow = if selection.exhausted(journal.evals()) { Flow::Stop } else { Flow::Continue };
        let bar = self.progress.training(start, max_steps);
        let work = &self.folders.work;
        let mut evaluations =
            Evaluations { generator, plugin, val, journal, selection, progress: &self.progress, bar: &bar, work };
        if pending {
            flow = evaluations.on_eval(trainer, trainer.evaluate()?)?;
        }
        let mut finish = Finish::StoppedEarly;
        if flow == Flow::Continue && !self.stop.load(Ordering::Relaxed) {
            finish = trainer.run(&mut evaluations, &self.stop)?.finish;
        }
        bar.finish();
        if finish == Finish::BudgetSpent {
            let reason = format!("stopped at step {} of {max_steps}: one more step would spend more than `privacy.dp.epsilon`", trainer.step_count());
            tracing::warn!("{reason}");
            self.audit.record("privacy-budget", "training", Decision::Noted, &reason)?;
        }
        if finish == Finish::Stopped || self.stop.load(Ordering::Relaxed) {
            return Err(self.interrupted(trainer.step_count(), trainer.last_checkpoint().map(Path::to_path_buf))?);
        }
        Ok(Trained { steps: trainer.step_count(), stopped_early: finish == Finish::StoppedEarly })
    }

    /// The best adapter's answers on the test records, scored; plugin denials audited.
    fn evaluate_best(
        &self,
        generator: &Generator<'_>,
        plugin: &mut TaskPlugin,
        test: &Dataset,
        best: u64,
        steps: u64,
    ) -> anyhow::Result<Scored> {
        PeftAdapter::load(&best_dir(&self.folders.work, best), generator.model.device())?.assign_to(generator.model)?;
        let bar = self.progress.evaluation(&format!("test: adapter of step {best}"), test.records.len() as u64);
        let answers = generator.answer(&test.records, &bar)?;
        bar.finish();
        predictions::save(&self.folders.work.join("predictions").join("test-adapter.jsonl"), &answers)?;
        // A stop request ends scoring early (its call fails as stopped); the check below says so.
        let scored = predictions::score(plugin, test, &answers);
        let denials = plugin.denials();
        if !denials.is_empty() {
            let counts: Vec<String> = denials.iter().map(|(attempt, n)| format!("{} ×{n}", attempt.name())).collect();
            let reason = format!("denied attempts (the plugin's log has each): {}", counts.join(", "));
            tracing::warn!(plugin = %plugin.info().id, "{reason}");
            self.audit.record("plugin-denials", &plugin.info().id, Decision::Noted, &reason)?;
        }
        if self.stop.load(Ordering::Relaxed) {
            return Err(Interrupted { step: steps, checkpoint: None, resume_with: Some(self.recipe.file.clone()) }.into());
        }
        scored
    }

    /// Print the comparison table, draw the loss curve and export what may leave through
    /// the egress gate.
    fn export(&self, plugin: &TaskPlugin, outcome: Outcome<'_>) -> anyhow::Result<()> {
        let (recipe, work, info) = (self.recipe, &self.folders.work, plugin.info());
        let best = chosen(&outcome.selection, &outcome.journal)?;
        let exported = export::exported_metrics(info, &outcome.selection.metric);
        let fields = self.report_fields(info, &outcome, best, &exported)?;
        let steps = outcome.journal.steps();
        let train_curve: Vec<(u64, f64)> = steps.iter().filter_map(|s| Some((s.step, s.loss?))).collect();
        let eval_curve: Vec<(u64, f64)> = outcome.journal.evals().iter().map(|e| (e.step, e.eval_loss)).collect();
        plot::loss_curve(&work.join("loss.svg"), &train_curve, &eval_curve)?;
        let table = outcome.table(info, &exported);
        let inputs = ManifestInputs {
            recipe: export::input("recipe", &recipe.sha256, None),
            model: export::input("model", &outcome.model_sha256, None),
            plugin: export::input("plugin", &outcome.plugin_sha256, None),
            datasets: outcome.splits.all().iter().map(|d| export::input(d.split.name(), &d.sha256, Some(d.records.len()))).collect(),
        };
        for handler in &self.exit_on_second_signal {
            signal_hook::low_level::unregister(*handler);
        }
        let export = Export {
            adapter_dir: &best_dir(work, best.step),
            model: outcome.model,
            report: fields,
            // A private run's training loss is computed on the sampled units without noise: it
            // is not covered by the guarantee, so it stays in the work folder.
            steps: if outcome.privacy.is_some() { &[] } else { steps },
            records_per_step: recipe.train.batch_size * recipe.train.grad_accum,
            evals: outcome.journal.evals(),
            inputs,
            sandbox: self.sandbox,
            signer: recipe.federation.as_ref().map(federated::Signer::load).transpose()?,
        };
        let manifest = export::write(&self.folders.export, export, outcome.splits.verbatim, Arc::clone(&self.audit))?;
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

    /// What `report.txt` and `metrics.json` say, the `exported` metrics only.
    fn report_fields(
        &self,
        info: &TaskInfo,
        outcome: &Outcome<'_>,
        best: &journal::EvalLine,
        exported: &[&MetricInfo],
    ) -> anyhow::Result<ReportFields> {
        let recipe = self.recipe;
        let privacy = outcome.privacy.as_ref().map(|plan| plan.section(outcome.trained.steps)).transpose()?;
        let audit = outcome.findings.as_ref().map(Findings::section);
        let splits = &outcome.splits;
        let n = splits.test.records.len();
        let steps = outcome.journal.steps();
        let train_seconds: f64 = steps.iter().map(|s| s.seconds).sum();
        let train_tokens: u64 = steps.iter().map(|s| s.tokens).sum();
        let evaluations = outcome.max_steps.div_ceil(recipe.train.eval_every);
        Ok(ReportFields {
            task: info.id.clone(),
            plugin_version: info.version.clone(),
            plugin_sha256: outcome.plugin_sha256.clone(),
            model: outcome.model_name.clone(),
            quantization: recipe.model.quantization.to_string(),
            bytes_per_param: outcome.model.footprint().bytes_per_param(),
            lora: describe_lora(recipe),
            steps: outcome.trained.steps,
            best_step: best.step,
            stopped_early: outcome.trained.stopped_early,
            train_records: Count::of(splits.train.records.len() as u64),
            val_records: Count::of(splits.val.records.len() as u64),
            test_records: Count::of(n as u64),
            tokens_per_second: train_tokens as f64 / train_seconds.max(f64::MIN_POSITIVE),
            final_train_loss: if outcome.privacy.is_some() { None } else { steps.last().and_then(|s| disclosure::round(s.loss?)) },
            best_eval_loss: disclosure::cell(best.records, best.eval_loss),
            sandbox: describe(self.sandbox),
            rows: exported.iter().map(|metric| outcome.row(metric)).collect(),
            eval_records: Count::of(n as u64),
            baseline: outcome.baseline,
            channel_bits: disclosure::channel_bits(2 * exported.len(), evaluations, recipe.data.max_rejected),
            privacy,
            audit,
        })
    }

    /// Stop the run on a signal after training stopped at `step` with `checkpoint` written:
    /// audit it, and return the [`Interrupted`] error that `--resume` continues from.
    fn interrupted(&self, step: u64, checkpoint: Option<PathBuf>) -> anyhow::Result<anyhow::Error> {
        let interrupted = Interrupted { step, checkpoint, resume_with: Some(self.recipe.file.clone()) };
        self.audit.record("stop", "training", Decision::Noted, &interrupted.to_string())?;
        Ok(interrupted.into())
    }

    /// Resume `trainer` from its newest intact checkpoint, saying which damaged ones it passed
    /// over and why; the step resumed at (0 when there was none).
    fn resume_trainer(&self, trainer: &mut Trainer<'_>) -> anyhow::Result<u64> {
        if !self.resume {
            return Ok(0);
        }
        let resumed = trainer.resume_latest()?;
        for (dir, reason) in &resumed.skipped {
            tracing::warn!(checkpoint = %dir.display(), "skipped a damaged checkpoint: {reason}");
            self.audit.record("resume-skip", &dir.display().to_string(), Decision::Noted, reason)?;
        }
        let step = resumed.step.unwrap_or(0);
        tracing::info!(step, "resuming");
        Ok(step)
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

/// The evaluation `selection` ranks best in `journal`: its adapter is the one kept.
fn chosen<'j>(selection: &Selection, journal: &'j Journal) -> anyhow::Result<&'j journal::EvalLine> {
    selection.best(journal.evals()).context("no evaluation selected a best adapter")
}

/// Whether `error` is a plugin call stopped because the run was asked to stop (a signal).
pub(crate) fn stopped_by_signal(error: &anyhow::Error) -> bool {
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

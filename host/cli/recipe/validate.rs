//! [`RawRecipe`] → [`Recipe`]: defaults filled in, ranges checked, units resolved, paths
//! joined onto the recipe's folder and checked. The first problem is the one reported.

use std::fmt;
use std::fs;
use std::io;
use std::ops::{Range, RangeInclusive};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use rapha_engine::{Decay, LoraConfig, Quantization, Target};
use rapha_sandbox::lockdown::SandboxMode;
use toml::Spanned;

use super::document::Document;
use crate::stages::predictions::Decoding;
use super::error::RecipeError;
use super::raw::{
    RawAudit, RawData, RawDp, RawEval, RawFederation, RawLora, RawModel, RawPaths, RawPlugin, RawPrivacy, RawRecipe, RawTrain,
};
use super::schema::{self, Key};
use super::{
    AuditSettings, DataSettings, DpSettings, EvalSettings, FederatedStrategy, FederationSettings, Length, ModelSettings, PathSettings, PluginSettings,
    PrivacySettings, PrivacyUnit, Recipe, SelectMetric, TrainSettings,
};

/// The most optimizer steps a run may ask for, directly or through `epochs` (checked by the
/// run, which knows the records): ten million steps outlast any run a machine finishes.
pub const MAX_STEPS: u64 = 10_000_000;

/// The longest plugin metric name `select_metric` may give.
const MAX_METRIC_NAME: usize = 48;

/// Validate `raw`, read from `file` whose text is `document`.
pub fn validate(
    raw: RawRecipe,
    document: &Document<'_>,
    file: &Path,
    sha256: String,
) -> Result<Recipe, RecipeError> {
    let check = Check {
        document,
        file,
        folder: file.parent().unwrap_or(Path::new("")),
    };
    let (plugin, plugin_at) = split(raw.plugin);
    let (model, model_at) = split(raw.model);
    let (data, data_at) = split(raw.data);
    let (paths, paths_at) = split(raw.paths);
    let plugin = check.plugin(plugin, plugin_at)?;
    let model = check.model(model, model_at)?;
    let data = check.data(data, data_at)?;
    let inputs = Inputs { recipe: file, plugin: &plugin.path, model: &model.path, data: &data };
    let paths = check.paths(paths, paths_at, &inputs)?;
    Ok(Recipe {
        file: file.to_owned(),
        sha256,
        lora: check.lora(split(raw.lora).0)?,
        train: check.train(split(raw.train).0)?,
        eval: check.eval(split(raw.eval).0)?,
        federation: raw.federation.map(|table| check.federation(table, &paths.work)).transpose()?,
        paths,
        plugin,
        model,
        data,
        privacy: check.privacy(split(raw.privacy).0)?,
        audit: check.audit(split(raw.audit).0)?,
        positions: document.positions(),
    })
}

/// What a run reads, which its two folders must keep apart from.
struct Inputs<'a> {
    recipe: &'a Path,
    plugin: &'a Path,
    model: &'a Path,
    data: &'a DataSettings,
}

impl Inputs<'_> {
    /// Each input by its key.
    fn all(&self) -> [(&'static str, &Path); 6] {
        [
            ("the recipe", self.recipe),
            (schema::PLUGIN_PATH.path, self.plugin),
            (schema::MODEL_PATH.path, self.model),
            (schema::DATA_TRAIN.path, &self.data.train),
            (schema::DATA_VAL.path, &self.data.val),
            (schema::DATA_TEST.path, &self.data.test),
        ]
    }

    /// The folders a run must not write into: each data file's folder, and the model's when it
    /// is a folder.
    fn folders(&self) -> Vec<(&'static str, PathBuf)> {
        let mut folders: Vec<(&'static str, PathBuf)> = [
            (schema::DATA_TRAIN.path, &self.data.train),
            (schema::DATA_VAL.path, &self.data.val),
            (schema::DATA_TEST.path, &self.data.test),
        ]
        .into_iter()
        .filter_map(|(key, file)| Some((key, resolve(file).parent()?.to_owned())))
        .collect();
        if self.model.is_dir() {
            folders.push((schema::MODEL_PATH.path, resolve(self.model)));
        }
        folders
    }
}

/// A table's keys (all absent when the table is) and the span of its header.
fn split<T: Default>(table: Option<Spanned<T>>) -> (T, Option<Range<usize>>) {
    match table {
        Some(table) => {
            let span = table.span();
            (table.into_inner(), Some(span))
        }
        None => (T::default(), None),
    }
}

/// What every check needs: the document for positions, the file for messages, and the
/// folder that the recipe's paths are relative to.
struct Check<'a> {
    document: &'a Document<'a>,
    file: &'a Path,
    folder: &'a Path,
}

impl Check<'_> {
    fn plugin(
        &self,
        raw: RawPlugin,
        table: Option<Range<usize>>,
    ) -> Result<PluginSettings, RecipeError> {
        let path = self.required(raw.path.as_ref(), &schema::PLUGIN_PATH, table)?;
        let path = self.existing_file(path, &schema::PLUGIN_PATH)?;
        let sha256 = match &raw.sha256 {
            Some(pin) if !is_sha256(pin.get_ref()) => {
                return Err(self.invalid(
                    &schema::PLUGIN_SHA256,
                    pin.span(),
                    format!("`{}`", pin.get_ref()),
                ));
            }
            pin => pin.as_ref().map(|pin| pin.get_ref().clone()),
        };
        let memory_mib =
            self.integer(&raw.memory_mib, &schema::PLUGIN_MEMORY_MIB, 256, 1..=4096)?;
        let system_prompt = match &raw.system_prompt {
            Some(prompt) if !(1..=4000).contains(&prompt.get_ref().chars().count()) => {
                return Err(self.invalid(
                    &schema::PLUGIN_SYSTEM_PROMPT,
                    prompt.span(),
                    format!("{} characters", prompt.get_ref().chars().count()),
                ));
            }
            prompt => prompt.as_ref().map(|prompt| prompt.get_ref().clone()),
        };
        Ok(PluginSettings {
            path,
            sha256,
            deadline: Duration::from_millis(self.integer(
                &raw.deadline_ms,
                &schema::PLUGIN_DEADLINE_MS,
                10_000,
                1..=600_000,
            )?),
            fuel: self.integer(&raw.fuel, &schema::PLUGIN_FUEL, 5_000_000_000, 1..=u64::MAX)?,
            memory_bytes: to_usize(memory_mib) << 20,
            system_prompt,
        })
    }

    fn model(
        &self,
        raw: RawModel,
        table: Option<Range<usize>>,
    ) -> Result<ModelSettings, RecipeError> {
        let path = self.required(raw.path.as_ref(), &schema::MODEL_PATH, table)?;
        Ok(ModelSettings {
            path: self.existing_model(path)?,
            quantization: self.choice(
                &raw.quantization,
                &schema::MODEL_QUANTIZATION,
                Quantization::Nf4,
                &[("nf4", Quantization::Nf4), ("none", Quantization::None)],
            )?,
        })
    }

    fn data(&self, raw: RawData, table: Option<Range<usize>>) -> Result<DataSettings, RecipeError> {
        let train = self.required(raw.train.as_ref(), &schema::DATA_TRAIN, table.clone())?;
        let val = self.required(raw.val.as_ref(), &schema::DATA_VAL, table.clone())?;
        let test = self.required(raw.test.as_ref(), &schema::DATA_TEST, table)?;
        Ok(DataSettings {
            train: self.existing_file(train, &schema::DATA_TRAIN)?,
            val: self.existing_file(val, &schema::DATA_VAL)?,
            test: self.existing_file(test, &schema::DATA_TEST)?,
            max_rejected: self.integer(
                &raw.max_rejected,
                &schema::DATA_MAX_REJECTED,
                0,
                0..=u64::MAX,
            )?,
            allow_overlap: raw.allow_overlap.is_some_and(Spanned::into_inner),
        })
    }

    fn lora(&self, raw: RawLora) -> Result<LoraConfig, RecipeError> {
        let targets = self.distinct_list(&raw.targets, &schema::LORA_TARGETS, Target::ALL.to_vec(), |name| {
            Target::ALL.into_iter().find(|target| target.peft_name() == name.get_ref()).ok_or_else(|| format!("`{}`", name.get_ref()))
        })?;
        Ok(LoraConfig {
            rank: to_usize(self.integer(&raw.rank, &schema::LORA_RANK, 16, 1..=256)?),
            alpha: self.float(&raw.alpha, &schema::LORA_ALPHA, 32.0, |alpha| alpha > 0.0)?,
            // f32 is what the engine computes dropout in; every value in [0, 1) survives the cast.
            dropout: self.float(&raw.dropout, &schema::LORA_DROPOUT, 0.05, |dropout| {
                (0.0..1.0).contains(&dropout)
            })? as f32,
            targets,
            rslora: raw.rslora.is_some_and(Spanned::into_inner),
        })
    }

    fn train(&self, raw: RawTrain) -> Result<TrainSettings, RecipeError> {
        let length = match (&raw.epochs, &raw.max_steps) {
            (Some(epochs), Some(max_steps)) => {
                let (key, span) = if epochs.span().start > max_steps.span().start {
                    (&schema::TRAIN_EPOCHS, epochs.span())
                } else {
                    (&schema::TRAIN_MAX_STEPS, max_steps.span())
                };
                let expected = Key {
                    path: key.path,
                    expected: "at most one of `train.epochs` and `train.max_steps`",
                };
                return Err(self.invalid(&expected, span, "both"));
            }
            (_, Some(_)) => Length::MaxSteps(self.integer(
                &raw.max_steps,
                &schema::TRAIN_MAX_STEPS,
                1,
                1..=MAX_STEPS,
            )?),
            (_, None) => Length::Epochs(self.float(
                &raw.epochs,
                &schema::TRAIN_EPOCHS,
                1.0,
                |epochs| epochs > 0.0,
            )?),
        };
        let eval_every =
            self.integer(&raw.eval_every, &schema::TRAIN_EVAL_EVERY, 50, 1..=u64::MAX)?;
        let threads = self.integer(&raw.threads, &schema::TRAIN_THREADS, 0, 0..=1024)?;
        let patience = self.integer(&raw.patience, &schema::TRAIN_PATIENCE, 0, 0..=u64::MAX)?;
        let max_grad_norm = self.float(
            &raw.max_grad_norm,
            &schema::TRAIN_MAX_GRAD_NORM,
            1.0,
            |norm| norm >= 0.0,
        )?;
        Ok(TrainSettings {
            length,
            batch_size: to_usize(self.integer(
                &raw.batch_size,
                &schema::TRAIN_BATCH_SIZE,
                4,
                1..=1024,
            )?),
            grad_accum: to_usize(self.integer(
                &raw.grad_accum,
                &schema::TRAIN_GRAD_ACCUM,
                1,
                1..=1024,
            )?),
            lr: self.float(&raw.lr, &schema::TRAIN_LR, 2e-4, |lr| lr > 0.0 && lr <= 1.0)?,
            warmup_steps: self.integer(
                &raw.warmup_steps,
                &schema::TRAIN_WARMUP_STEPS,
                0,
                0..=u64::MAX,
            )?,
            schedule: self.choice(
                &raw.schedule,
                &schema::TRAIN_SCHEDULE,
                Decay::Cosine,
                &[("cosine", Decay::Cosine), ("linear", Decay::Linear)],
            )?,
            max_seq_len: to_usize(self.integer(
                &raw.max_seq_len,
                &schema::TRAIN_MAX_SEQ_LEN,
                512,
                8..=32_768,
            )?),
            seed: self.integer(&raw.seed, &schema::TRAIN_SEED, 42, 0..=u64::MAX)?,
            threads: (threads > 0).then(|| to_usize(threads)),
            eval_every,
            checkpoint_every: self.integer(
                &raw.checkpoint_every,
                &schema::TRAIN_CHECKPOINT_EVERY,
                eval_every,
                1..=u64::MAX,
            )?,
            patience: (patience > 0).then_some(patience),
            select_metric: self.select_metric(raw.select_metric.as_ref())?,
            weight_decay: self.float(
                &raw.weight_decay,
                &schema::TRAIN_WEIGHT_DECAY,
                0.0,
                |decay| decay >= 0.0,
            )?,
            max_grad_norm: (max_grad_norm > 0.0).then_some(max_grad_norm),
            gradient_checkpointing: raw.gradient_checkpointing.is_some_and(Spanned::into_inner),
        })
    }

    fn select_metric(&self, raw: Option<&Spanned<String>>) -> Result<SelectMetric, RecipeError> {
        let Some(name) = raw else {
            return Ok(SelectMetric::EvalLoss);
        };
        let text = name.get_ref();
        if text == "eval_loss" {
            return Ok(SelectMetric::EvalLoss);
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        if text.is_empty() || text.len() > MAX_METRIC_NAME || !text.chars().all(allowed) {
            return Err(self.invalid(
                &schema::TRAIN_SELECT_METRIC,
                name.span(),
                format!("`{text}`"),
            ));
        }
        Ok(SelectMetric::Plugin(text.clone()))
    }

    fn eval(&self, raw: RawEval) -> Result<EvalSettings, RecipeError> {
        let test_records = self.integer(
            &raw.test_records,
            &schema::EVAL_TEST_RECORDS,
            0,
            0..=u64::MAX,
        )?;
        let max_new_tokens = self.integer(
            &raw.max_new_tokens,
            &schema::EVAL_MAX_NEW_TOKENS,
            0,
            0..=4096,
        )?;
        Ok(EvalSettings {
            records: to_usize(self.integer(
                &raw.records,
                &schema::EVAL_RECORDS,
                32,
                1..=u64::MAX,
            )?),
            test_records: (test_records > 0).then(|| to_usize(test_records)),
            max_new_tokens: (max_new_tokens > 0)
                .then(|| u32::try_from(max_new_tokens).expect("at most 4096 was checked")),
            decoding: self.choice(
                &raw.decoding,
                &schema::EVAL_DECODING,
                Decoding::Free,
                &[("free", Decoding::Free), ("schema", Decoding::Schema)],
            )?,
        })
    }

    fn paths(
        &self,
        raw: RawPaths,
        table: Option<Range<usize>>,
        inputs: &Inputs<'_>,
    ) -> Result<PathSettings, RecipeError> {
        let work = self.required(raw.work.as_ref(), &schema::PATHS_WORK, table.clone())?;
        let export = self.required(raw.export.as_ref(), &schema::PATHS_EXPORT, table)?;
        let settings = PathSettings {
            work: self.folder.join(work.get_ref()),
            export: self.folder.join(export.get_ref()),
        };
        let (work_at, export_at) = (resolve(&settings.work), resolve(&settings.export));
        let relation = if work_at == export_at {
            Some("the same folder as `paths.work`")
        } else if export_at.starts_with(&work_at) {
            Some("inside `paths.work`")
        } else if work_at.starts_with(&export_at) {
            Some("it contains `paths.work`")
        } else {
            None
        };
        if let Some(relation) = relation {
            let key = Key {
                path: schema::PATHS_EXPORT.path,
                expected: "a folder apart from `paths.work`: not the same, not inside it, not containing it",
            };
            return Err(self.invalid(
                &key,
                export.span(),
                format!("`{}` ({relation})", export.get_ref()),
            ));
        }
        if fs::symlink_metadata(&settings.export).is_ok_and(|meta| meta.file_type().is_symlink()) {
            let key = Key { path: schema::PATHS_EXPORT.path, expected: "a folder that is not a symlink" };
            return Err(self.invalid(&key, export.span(), format!("`{}` (a symlink)", export.get_ref())));
        }
        for (key, value, at) in [(&schema::PATHS_WORK, work, &work_at), (&schema::PATHS_EXPORT, export, &export_at)] {
            if let Some(relation) = overlap(at, inputs) {
                let key = Key {
                    path: key.path,
                    expected: "a folder apart from the run's inputs: holding none of them, \
                        and not inside a data folder or the model folder",
                };
                return Err(self.invalid(&key, value.span(), format!("`{}` ({relation})", value.get_ref())));
            }
        }
        Ok(settings)
    }

    fn privacy(&self, raw: RawPrivacy) -> Result<PrivacySettings, RecipeError> {
        Ok(PrivacySettings {
            sandbox: self.choice(
                &raw.sandbox,
                &schema::PRIVACY_SANDBOX,
                SandboxMode::Strict,
                &[
                    ("strict", SandboxMode::Strict),
                    ("best-effort", SandboxMode::BestEffort),
                ],
            )?,
            min_records: self.integer(
                &raw.min_records,
                &schema::PRIVACY_MIN_RECORDS,
                100,
                1..=u64::MAX,
            )?,
            dp: raw.dp.map(|dp| self.dp(dp)).transpose()?,
        })
    }

    fn audit(&self, raw: RawAudit) -> Result<AuditSettings, RecipeError> {
        let canary_repeats = self.distinct_list(&raw.canary_repeats, &schema::AUDIT_CANARY_REPEATS, vec![1, 4], |n| {
            Some(*n.get_ref()).filter(|n| (1..=64).contains(n)).map(to_usize).ok_or_else(|| self.as_written(n.span()))
        })?;
        Ok(AuditSettings {
            enabled: raw.enabled.is_none_or(Spanned::into_inner),
            canaries: to_usize(self.integer(&raw.canaries, &schema::AUDIT_CANARIES, 4, 1..=64)?),
            canary_repeats,
            candidates: to_usize(self.integer(&raw.candidates, &schema::AUDIT_CANDIDATES, 100, 10..=100_000)?),
            holdout: self.float(&raw.holdout, &schema::AUDIT_HOLDOUT, 0.1, |v| v > 0.0 && v <= 0.5)?,
            extraction_records: to_usize(self.integer(&raw.extraction_records, &schema::AUDIT_EXTRACTION_RECORDS, 16, 0..=1000)?),
            max_exposure: self.float(&raw.max_exposure, &schema::AUDIT_MAX_EXPOSURE, 8.0, |v| v > 0.0)?,
            max_auc_gain: self.float(&raw.max_auc_gain, &schema::AUDIT_MAX_AUC_GAIN, 0.05, |v| (0.0..=0.5).contains(&v))?,
            max_extraction: self.float(&raw.max_extraction, &schema::AUDIT_MAX_EXTRACTION, 0.1, |v| (0.0..=1.0).contains(&v))?,
        })
    }

    /// `[federation]`; `work` is the site's work folder, where its privacy accountant lives.
    fn federation(&self, table: Spanned<RawFederation>, work: &Path) -> Result<FederationSettings, RecipeError> {
        let span = Some(table.span());
        let raw = table.into_inner();
        let site = self.required(raw.site.as_ref(), &schema::FEDERATION_SITE, span.clone())?;
        if !rapha_federation::signing::is_site_name(site.get_ref()) {
            return Err(self.invalid(&schema::FEDERATION_SITE, site.span(), format!("`{}`", site.get_ref())));
        }
        let key = self.existing_file(self.required(raw.key.as_ref(), &schema::FEDERATION_KEY, span.clone())?, &schema::FEDERATION_KEY)?;
        let round = self.integer(&raw.round, &schema::FEDERATION_ROUND, 1, 1..=u64::MAX)?;
        let global = match &raw.global {
            Some(folder) => Some(self.existing_folder(folder, &schema::FEDERATION_GLOBAL)?),
            None if round > 1 => return Err(self.missing(&schema::FEDERATION_GLOBAL, span)),
            None => None,
        };
        Ok(FederationSettings {
            site: site.get_ref().clone(),
            key,
            round,
            global,
            strategy: self.choice(
                &raw.strategy,
                &schema::FEDERATION_STRATEGY,
                FederatedStrategy::Ffa,
                &[("ffa", FederatedStrategy::Ffa), ("fedit", FederatedStrategy::FedIt)],
            )?,
            seed: self.integer(&raw.seed, &schema::FEDERATION_SEED, 0, 0..=u64::MAX)?,
            site_work: work.to_owned(),
        })
    }

    fn dp(&self, table: Spanned<RawDp>) -> Result<DpSettings, RecipeError> {
        let span = table.span();
        let raw = table.into_inner();
        let optional = |value: &Option<Spanned<f64>>, key: &Key, accept: fn(f64) -> bool| {
            value.as_ref().map(|_| self.float(value, key, 0.0, accept)).transpose()
        };
        let unit = match &raw.unit {
            None => PrivacyUnit::Record,
            Some(unit) if unit.get_ref() == "record" => PrivacyUnit::Record,
            Some(unit) if unit.get_ref().starts_with('/') => PrivacyUnit::Pointer(unit.get_ref().clone()),
            Some(unit) => return Err(self.invalid(&schema::DP_UNIT, unit.span(), format!("`{}`", unit.get_ref()))),
        };
        let settings = DpSettings {
            unit,
            epsilon: optional(&raw.epsilon, &schema::DP_EPSILON, |v| v > 0.0)?,
            noise_multiplier: optional(&raw.noise_multiplier, &schema::DP_NOISE_MULTIPLIER, |v| v > 0.0)?,
            delta: optional(&raw.delta, &schema::DP_DELTA, |v| v > 0.0 && v < 1.0)?,
            sample_rate: optional(&raw.sample_rate, &schema::DP_SAMPLE_RATE, |v| v > 0.0 && v <= 1.0)?,
            max_grad_norm: self.float(&raw.max_grad_norm, &schema::DP_MAX_GRAD_NORM, 1.0, |v| v > 0.0)?,
            insecure_seed: raw.insecure_seed.map(Spanned::into_inner),
        };
        if settings.epsilon.is_none() && settings.noise_multiplier.is_none() {
            return Err(RecipeError::MissingKey {
                file: self.file.to_owned(),
                position: Some(self.document.position(span.start)),
                key: schema::DP_EPSILON.path.to_owned(),
                expected: format!("{} (or `privacy.dp.noise_multiplier`)", schema::DP_EPSILON.expected),
            });
        }
        Ok(settings)
    }

    /// A required key's value, or an error at its table's header (at the file when the
    /// table is absent too).
    fn required<'v>(
        &self,
        value: Option<&'v Spanned<String>>,
        key: &Key,
        table: Option<Range<usize>>,
    ) -> Result<&'v Spanned<String>, RecipeError> {
        value.ok_or_else(|| self.missing(key, table))
    }

    /// The error of a required key that is absent, at its table's header.
    fn missing(&self, key: &Key, table: Option<Range<usize>>) -> RecipeError {
        RecipeError::MissingKey {
            file: self.file.to_owned(),
            position: table.map(|span| self.document.position(span.start)),
            key: key.path.to_owned(),
            expected: key.expected.to_owned(),
        }
    }

    fn integer(
        &self,
        value: &Option<Spanned<u64>>,
        key: &Key,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, RecipeError> {
        match value {
            None => Ok(default),
            Some(value) if range.contains(value.get_ref()) => Ok(*value.get_ref()),
            Some(value) => Err(self.invalid(key, value.span(), self.as_written(value.span()))),
        }
    }

    /// A non-empty list of distinct items, each `parse`d (which says what it found when it
    /// refuses one), or `default` when the key is absent.
    fn distinct_list<E: fmt::Display, T: PartialEq>(
        &self,
        value: &Option<Spanned<Vec<Spanned<E>>>>,
        key: &Key,
        default: Vec<T>,
        parse: impl Fn(&Spanned<E>) -> Result<T, String>,
    ) -> Result<Vec<T>, RecipeError> {
        let Some(list) = value else {
            return Ok(default);
        };
        if list.get_ref().is_empty() {
            return Err(self.invalid(key, list.span(), "`[]`"));
        }
        let mut items = Vec::with_capacity(list.get_ref().len());
        for item in list.get_ref() {
            let parsed = parse(item).map_err(|found| self.invalid(key, item.span(), found))?;
            if items.contains(&parsed) {
                return Err(self.invalid(key, item.span(), format!("`{}` twice", item.get_ref())));
            }
            items.push(parsed);
        }
        Ok(items)
    }

    /// A finite number that `accept`s, or the default.
    fn float(
        &self,
        value: &Option<Spanned<f64>>,
        key: &Key,
        default: f64,
        accept: impl Fn(f64) -> bool,
    ) -> Result<f64, RecipeError> {
        match value {
            None => Ok(default),
            Some(value) if value.get_ref().is_finite() && accept(*value.get_ref()) => {
                Ok(*value.get_ref())
            }
            Some(value) => Err(self.invalid(key, value.span(), self.as_written(value.span()))),
        }
    }

    /// One of the named `options`, or the default. The names are matched here, not by the
    /// engine's serde names, so that the message is this module's.
    fn choice<T: Copy>(
        &self,
        value: &Option<Spanned<String>>,
        key: &Key,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, RecipeError> {
        let Some(value) = value else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(name, _)| name == value.get_ref())
            .map(|(_, option)| *option)
            .ok_or_else(|| self.invalid(key, value.span(), format!("`{}`", value.get_ref())))
    }

    /// The path joined onto the recipe's folder, which must be a file.
    fn existing_file(&self, value: &Spanned<String>, key: &Key) -> Result<PathBuf, RecipeError> {
        self.existing(value, key, ("an existing file", fs::Metadata::is_file, "a folder"))
    }

    /// The path joined onto the recipe's folder, which must be a folder.
    fn existing_folder(&self, value: &Spanned<String>, key: &Key) -> Result<PathBuf, RecipeError> {
        self.existing(value, key, ("an existing folder", fs::Metadata::is_dir, "a file"))
    }

    /// The path joined onto the recipe's folder when `is` holds for it; else what was
    /// expected, and what it is instead (`other` when it exists).
    fn existing(
        &self,
        value: &Spanned<String>,
        key: &Key,
        (expected, is, other): (&'static str, fn(&fs::Metadata) -> bool, &str),
    ) -> Result<PathBuf, RecipeError> {
        let path = self.folder.join(value.get_ref());
        let problem = match fs::metadata(&path) {
            Ok(metadata) if is(&metadata) => return Ok(path),
            Ok(_) => other.to_owned(),
            Err(error) => io_problem(&error),
        };
        Err(self.invalid(&Key { path: key.path, expected }, value.span(), format!("`{}` ({problem})", value.get_ref())))
    }

    /// The model path joined onto the recipe's folder: a `.gguf` file, or a folder with
    /// `config.json` (what makes it a Hugging Face model folder).
    fn existing_model(&self, value: &Spanned<String>) -> Result<PathBuf, RecipeError> {
        let path = self.folder.join(value.get_ref());
        let problem = match fs::metadata(&path) {
            Ok(metadata)
                if metadata.is_file() && path.extension().is_some_and(|ext| ext == "gguf") =>
            {
                return Ok(path);
            }
            Ok(metadata) if metadata.is_file() => "not a .gguf file".to_owned(),
            Ok(_) if path.join("config.json").is_file() => return Ok(path),
            Ok(_) => "a folder without `config.json`".to_owned(),
            Err(error) => io_problem(&error),
        };
        let expected = Key {
            path: schema::MODEL_PATH.path,
            expected: "an existing .gguf file or HF model folder",
        };
        Err(self.invalid(
            &expected,
            value.span(),
            format!("`{}` ({problem})", value.get_ref()),
        ))
    }

    fn invalid(&self, key: &Key, span: Range<usize>, found: impl Into<String>) -> RecipeError {
        RecipeError::Invalid {
            file: self.file.to_owned(),
            position: Some(self.document.position(span.start)),
            key: key.path.to_owned(),
            expected: key.expected.to_owned(),
            found: found.into(),
        }
    }

    /// A number as the recipe writes it (`1e-3`, not `0.001`).
    fn as_written(&self, span: Range<usize>) -> String {
        format!("`{}`", self.document.source(span))
    }
}

/// How the resolved folder `root` overlaps a run's input, if it does: it holds one (which a
/// run could then overwrite), or lies in a data folder or the model folder (which a run would
/// then write into).
fn overlap(root: &Path, inputs: &Inputs<'_>) -> Option<String> {
    if let Some((key, _)) = inputs.all().into_iter().find(|(_, input)| resolve(input).starts_with(root)) {
        return Some(format!("it holds {}", name_of(key)));
    }
    let (key, _) = inputs.folders().into_iter().find(|(_, folder)| root.starts_with(folder))?;
    Some(format!("inside the folder of {}", name_of(key)))
}

/// A key in backticks, or a description as it is.
fn name_of(key: &str) -> String {
    if key.contains('.') { format!("`{key}`") } else { key.to_owned() }
}

fn io_problem(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::NotFound => "no such file".to_owned(),
        kind => kind.to_string(),
    }
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).expect("rapha-host runs on 64-bit targets, where usize holds a u64")
}

/// An absolute path with `.` and `..` resolved and symlinks followed as far as the path
/// exists, so two spellings of one folder compare equal. `..` is resolved by name before
/// the existing part is canonicalised, which differs from the kernel only when a symlink
/// precedes the `..`; the export folder's own confinement does not rely on this check.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut normal = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    let mut existing = normal.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return normal,
        }
    }
}

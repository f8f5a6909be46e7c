//! `rapha-host predict`: a model, with or without an adapter, answers a file of records.
//!
//! The plugin formats each record's prompt as in a run; the answers (patient-derived text)
//! go to `<work>/predictions/NAME.jsonl` as `{"id", "prediction", "finish"}` lines, never to
//! an export folder. The process is locked down as a run is (inputs read-only, the work
//! folder writable, no network) before anything is read. Answers are written a batch at a
//! time ([`output`]), so a killed `predict` run again with the same arguments continues
//! where it stopped.

mod output;

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use rapha_sandbox::lockdown::{self, Roots};
use rapha_sandbox::{AuditLog, Decision, Policy, VerbatimIndex};
use rapha_engine::Tokenizer;
use rapha_task_host::{Limits, TaskPlugin};

use crate::args::PredictArgs;
use crate::progress::Progress;
use crate::stages::base::{Base, file_name};
use crate::stages::data::{self, Dataset, Formatter, Rejections, Seen, Split};
use crate::stages::digest;
use crate::stages::predictions::{self, Generator};
use crate::stages::task::Task;
use output::{Inputs, Output};

/// `predict` was stopped by a signal; its answers so far are kept.
#[derive(Debug)]
pub struct Stopped {
    /// Records answered.
    pub done: usize,
    /// Records in the file.
    pub total: usize,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stopped by a signal after {} of {} records; the same command continues", self.done, self.total)
    }
}

impl std::error::Error for Stopped {}

/// Answer `args.records` with the work folder `work`; `bars`: draw a progress bar.
pub fn run(work: &Path, args: &PredictArgs, bars: bool) -> anyhow::Result<()> {
    let (work, stop) = lock(work, args)?;
    let audit = AuditLog::open(work.join("audit.log"))?;
    let Task { mut plugin, sha256: plugin_sha256 } = Task::open(&args.plugin, Limits::default(), 0, &work, &stop)?;
    let base = Base::load(&args.model)?;
    let model_sha256 = base.sha256.clone();
    let records = read_records(&mut plugin, &base.tokenizer, args, &audit)?;
    let pad_id = base.pad_id();
    let (model, tokenizer) = base.build_with(args.quantization.into(), args.adapter.as_deref())?;
    let schema = predictions::schema_decoding(args.decoding, &plugin, &tokenizer, model.config().vocab_size)?;
    let config = predictions::greedy(plugin.info(), args.max_new_tokens, 0, tokenizer.eos_token_ids().to_vec(), pad_id);
    let inputs = Inputs {
        model: model_sha256,
        quantization: rapha_engine::Quantization::from(args.quantization).to_string(),
        adapter: args.adapter.as_deref().map(digest::hash_model).transpose()?,
        plugin: plugin_sha256,
        records: records.sha256.clone(),
        system_prompt: args.system_prompt.clone(),
        max_new_tokens: config.max_new_tokens,
        decoding: args.decoding.to_string(),
        batch: args.batch,
    };
    let path = work.join("predictions").join(format!("{}.jsonl", output_name(args)));
    let ids: Vec<&str> = records.records.iter().map(|r| r.record.id.as_str()).collect();
    let mut output = Output::open(&path, &inputs, &ids)?;
    let earlier = output.done;
    let subject = path.display().to_string();
    audit.record("predict", &subject, Decision::Noted, &format!("{} records, {earlier} answered before", ids.len()))?;
    let generator = Generator { model: &model, tokenizer: &tokenizer, config, batch: args.batch, schema: schema.as_ref() };
    let bar = Progress::new(bars).evaluation("predict", ids.len() as u64);
    bar.inc(earlier as u64);
    generator.answer_each(&records.records[earlier..], &bar, |batch| {
        output.append(batch)?;
        match stop.load(Ordering::Relaxed) {
            true => Err(Stopped { done: output.done, total: ids.len() }.into()),
            false => Ok(()),
        }
    })?;
    bar.finish();
    println!("{} answers in `{}` ({} made by an earlier `predict`)", output.done, path.display(), earlier);
    Ok(())
}

/// Check the inputs exist, prepare the work folder and lock the process down to them (no
/// network); then catch SIGINT and SIGTERM in the flag returned. The work folder, canonical.
fn lock(work: &Path, args: &PredictArgs) -> anyhow::Result<(PathBuf, Arc<AtomicBool>)> {
    lockdown::owner_only_files();
    let adapter = args.adapter.iter().map(|dir| ("--adapter", dir));
    for (flag, path) in [("--model", &args.model), ("--plugin", &args.plugin), ("JSONL", &args.records)].into_iter().chain(adapter) {
        anyhow::ensure!(path.exists(), "{flag}: `{}` does not exist", path.display());
    }
    let work = prepare_work(work)?;
    let mut read_only = vec![args.model.clone(), args.plugin.clone(), args.records.clone()];
    read_only.extend(args.adapter.clone());
    let roots = Roots { read_only, read_write: vec![work.clone()] };
    let sandbox = lockdown::lock_down(&roots, args.sandbox.into()).context(
        "cannot lock the process down: `rapha-host doctor` shows what this kernel offers; `--sandbox best-effort` runs with what it has",
    )?;
    for missing in &sandbox.missing {
        tracing::warn!("sandbox: {missing}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("cannot install the signal handlers")?;
    }
    Ok((work, stop))
}

/// The records file, formatted by the plugin and tokenized; any bad line is an error naming it.
fn read_records(plugin: &mut TaskPlugin, tokenizer: &Tokenizer, args: &PredictArgs, audit: &AuditLog) -> anyhow::Result<Dataset> {
    // What the gate would need to refuse copies of; nothing here reaches the gate.
    let mut verbatim = VerbatimIndex::new(Policy::new().verbatim_words, []);
    let mut formatter = Formatter { plugin, tokenizer, system_prompt: args.system_prompt.as_deref(), verbatim: &mut verbatim };
    data::read(Split::Input, &args.records, None, &mut formatter, &mut Seen::new(true), &mut Rejections::new(0, audit))
}

/// Create the work folder and the folders `predict` writes in, the work folder private to
/// its owner; the work folder, canonical.
fn prepare_work(work: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(work).with_context(|| format!("cannot create the work folder `{}`", work.display()))?;
    let work = work.canonicalize().with_context(|| format!("cannot resolve `{}`", work.display()))?;
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make the work folder `{}` private", work.display()))?;
    for sub in ["predictions", "logs", "cache/components"] {
        let dir = work.join(sub);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    }
    Ok(work)
}

/// `--name`, or the records file's stem and the adapter folder's name (`base` without one).
fn output_name(args: &PredictArgs) -> String {
    args.name.clone().unwrap_or_else(|| {
        let stem = args.records.file_stem().map_or_else(|| "records".to_owned(), |s| s.to_string_lossy().into_owned());
        let by = args.adapter.as_deref().map_or_else(|| "base".to_owned(), file_name);
        format!("{stem}-{by}")
    })
}

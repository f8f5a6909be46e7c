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
use std::path::Path;
use std::sync::atomic::Ordering;

use rapha_sandbox::{AuditLog, Decision};
use rapha_task_host::Limits;

use crate::args::PredictArgs;
use crate::progress::Progress;
use crate::stages::base::{Base, file_name};
use crate::stages::confine::{Confined, confine};
use crate::stages::data;
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
    let mut inputs = vec![("--model", args.model.as_path()), ("--plugin", args.plugin.as_path()), ("JSONL", args.records.as_path())];
    inputs.extend(args.adapter.as_deref().map(|dir| ("--adapter", dir)));
    let Confined { work, stop } = confine(work, &inputs, &["predictions"], args.sandbox.into())?;
    let audit = AuditLog::open(work.join("audit.log"))?;
    let Task { mut plugin, sha256: plugin_sha256 } = Task::open(&args.plugin, Limits::default(), 0, &work, &stop)?;
    let base = Base::load(&args.model)?;
    let model_sha256 = base.sha256.clone();
    let records = data::read_input(&args.records, &mut plugin, &base.tokenizer, args.system_prompt.as_deref(), &audit)?;
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

/// `--name`, or the records file's stem and the adapter folder's name (`base` without one).
fn output_name(args: &PredictArgs) -> String {
    args.name.clone().unwrap_or_else(|| {
        let stem = args.records.file_stem().map_or_else(|| "records".to_owned(), |s| s.to_string_lossy().into_owned());
        let by = args.adapter.as_deref().map_or_else(|| "base".to_owned(), file_name);
        format!("{stem}-{by}")
    })
}

//! `rapha-host eval PLAN.toml`: every candidate of a plan answers every dataset as every
//! plugin prompts it, and every plugin scores the answers; the results, item-aligned (each
//! record's id, cluster and per-record metrics, per candidate, plugin and dataset), go to
//! `<work>/eval/<plan>.json` for `compare`.
//!
//! Answers are generated once per candidate and prompt ([`cache`]): a plan run again, or
//! with a plugin added that prompts the same way, rescores without regenerating. The process
//! is confined as `predict` is: the plan's files read-only, the work folder writable, no
//! network.

mod cache;
mod plan;
mod results;
mod training;

use std::path::Path;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use rapha_sandbox::AuditLog;
use rapha_task_host::Limits;
use serde_json::Value;

use crate::args::EvalArgs;

/// `eval` was stopped by a signal (exit status 130, as `run` and `predict`); the answers made
/// so far are cached.
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped by a signal; the answers made so far are cached and the same command continues")
    }
}

impl std::error::Error for Stopped {}
use crate::progress::Progress;
use crate::stages::base::{Base, swap_adapter};
use crate::stages::confine::{Confined, confine};
use crate::stages::data::{self, Dataset, Prepared};
use crate::stages::digest;
use crate::stages::predictions::{self, Generator, Prediction};
use crate::stages::task::Task;
use cache::{Answer, Cache, Setting};
use plan::Plan;
use results::{Outcome, Results};

/// Run the plan at `args.plan` with the work folder `work`; `bars`: draw progress bars.
pub fn run(work: &Path, args: &EvalArgs, bars: bool) -> anyhow::Result<()> {
    let plan = Plan::load(&args.plan)?;
    let inputs = plan.inputs();
    let named: Vec<(&str, &Path)> = inputs.iter().map(|path| ("the plan", path.as_path())).collect();
    let Confined { work, stop } = confine(work, &named, &["eval"], args.sandbox.into())?;
    let audit = AuditLog::open(work.join("audit.log"))?;
    let cache = Cache::open(&work)?;
    let mut tasks = plan
        .plugins
        .iter()
        .map(|p| Task::open(&p.path, Limits::default(), 0, &work, &stop))
        .collect::<anyhow::Result<Vec<Task>>>()?;
    let progress = Progress::new(bars);
    let mut results = Results::new(&plan, &tasks)?;
    // One base, read, hashed and quantized once; each candidate's adapter in turn on it.
    let base = Base::load(&plan.model)?;
    results.model(&base.name, &base.sha256);
    let (pad_id, vocab, model_sha256, model_name) = (base.pad_id(), base.config.vocab_size, base.sha256.clone(), base.name.clone());
    let (mut model, tokenizer) = base.build_with(plan.quantization.into(), None)?;
    for candidate in &plan.candidates {
        swap_adapter(&mut model, candidate.adapter.as_deref(), &model_name)?;
        let adapter = candidate.adapter.as_deref().map(digest::hash_model).transpose()?;
        for (task, plugin) in tasks.iter_mut().zip(&plan.plugins) {
            let schema = predictions::schema_decoding(candidate.decoding, &task.plugin, &tokenizer, vocab)?;
            let config = predictions::greedy(task.plugin.info(), plan.max_new_tokens, 0, tokenizer.eos_token_ids().to_vec(), pad_id);
            let setting = Setting {
                model: model_sha256.clone(),
                quantization: rapha_engine::Quantization::from(plan.quantization).to_string(),
                adapter: adapter.clone(),
                decoding: candidate.decoding.to_string(),
                schema: schema.as_ref().map(|_| task.plugin.info().output_schema.clone()),
                max_new_tokens: config.max_new_tokens,
            };
            let generator = Generator { model: &model, tokenizer: &tokenizer, config, batch: plan.batch, schema: schema.as_ref() };
            for dataset in &plan.datasets {
                let records = data::read_input(&dataset.path, &mut task.plugin, &tokenizer, plan.system_prompt.as_deref(), &audit)?;
                let label = format!("{} · {} · {}", candidate.label, plugin.label, dataset.label);
                let (answers, generated) = answer(&generator, &setting, &records, &cache, &progress, &label, &stop)?;
                let scored = predictions::score(&mut task.plugin, &records, &answers)?;
                let units = units(&records, &plan)?;
                tracing::info!("{label}: {generated} answers generated, {} from the cache", records.records.len() - generated);
                results.push(Outcome { candidate, plugin, dataset, records: &records, units, scored, generated });
            }
        }
    }
    let path = results.save(&work)?;
    println!("{}", results.summary());
    println!("results in `{}`", path.display());
    Ok(())
}

/// Every record's answer by `generator`, from the cache where it is there; the answers, and
/// how many were generated now.
fn answer(
    generator: &Generator<'_>,
    setting: &Setting,
    records: &Dataset,
    cache: &Cache,
    progress: &Progress,
    label: &str,
    stop: &std::sync::atomic::AtomicBool,
) -> anyhow::Result<(Vec<Prediction>, usize)> {
    let keys: Vec<String> = records.records.iter().map(|r| setting.key(&r.example.prompt)).collect();
    let (missing, missing_keys): (Vec<Prepared>, Vec<&String>) =
        records.records.iter().zip(&keys).filter(|(_, key)| !cache.contains(key)).map(|(r, key)| (r.clone(), key)).unzip();
    let bar = progress.evaluation(label, missing.len() as u64);
    // Answers come in the order of the records asked, so their keys follow in the same order.
    let mut next_key = missing_keys.into_iter();
    generator.answer_each(&missing, &bar, |batch| {
        for prediction in batch {
            let key = next_key.next().expect("one answer per record asked, in order");
            cache.put(key, &Answer { prediction: prediction.prediction.clone(), finish: prediction.finish.clone() })?;
        }
        if stop.load(Ordering::Relaxed) {
            return Err(Stopped.into());
        }
        Ok(())
    })?;
    bar.finish();
    let answers = records
        .records
        .iter()
        .zip(&keys)
        .map(|(r, key)| {
            let answer = cache.get(key)?.with_context(|| format!("the cached answer to record `{}` is gone", r.record.id))?;
            Ok(Prediction { id: r.record.id.clone(), prediction: answer.prediction, finish: answer.finish })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((answers, missing.len()))
}

/// Each record's cluster for `compare` (the value at the JSON pointer `unit`, text as is,
/// anything else as JSON; the record's id without one) and its subgroup in each slice.
fn units(records: &Dataset, plan: &Plan) -> anyhow::Result<Vec<(String, Value)>> {
    records
        .records
        .iter()
        .map(|r| {
            let value: Value = serde_json::from_str(&r.record.json).expect("a record read as a JSON object");
            let unit = match plan.unit.as_deref().map(|pointer| (pointer, value.pointer(pointer))) {
                None => r.record.id.clone(),
                Some((_, Some(Value::String(text)))) => text.clone(),
                Some((_, Some(other))) => other.to_string(),
                Some((pointer, None)) => bail!("{}:{}: the plan's `unit` `{pointer}` is not in the record", records.path.display(), r.record.line),
            };
            let slices: serde_json::Map<String, Value> = plan.slices.iter().map(|s| (s.label.clone(), Value::String(s.of(&value)))).collect();
            Ok((unit, Value::Object(slices)))
        })
        .collect()
}

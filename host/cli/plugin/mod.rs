//! `rapha-host plugin …`: for plugin authors and evaluators. `info`, `check` and `score`
//! are here; the author's kit (`wit`, `new`, `bindings`, `componentize`) has a module each.

mod bindings;
mod componentize;
mod contract;
mod skeleton;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rapha_task_host::{
    Call, CacheStatus, ExampleScore, FormattedExample, Limits, SchemaViolation, TaskHost, TaskPlugin,
    Violation,
};
use serde_json::{Value, json};

use crate::args::{CheckArgs, InfoArgs, PluginCommand, ScoreArgs};
use crate::jsonl::{self, Line};

/// At most this many problems are listed by `plugin check`; the count covers them all.
const MAX_LISTED_PROBLEMS: usize = 50;

/// How close to 1 a target's reward must be to count as perfect (rewards are computed in
/// floating point; a ratio such as 3/3 may not be exactly 1 in every language).
const PERFECT_REWARD_TOLERANCE: f64 = 1e-9;

pub fn run(work: &Path, command: PluginCommand) -> anyhow::Result<()> {
    if matches!(command, PluginCommand::Info(_) | PluginCommand::Check(_) | PluginCommand::Score(_)) {
        // Their logs and outputs in the work folder may quote records.
        rapha_sandbox::lockdown::owner_only_files();
    }
    match command {
        PluginCommand::Info(args) => info(work, &args),
        PluginCommand::Check(args) => check(work, &args),
        PluginCommand::Score(args) => score(work, &args),
        PluginCommand::Wit(args) => contract::wit(&args),
        PluginCommand::New(args) => skeleton::new(&args),
        PluginCommand::Bindings(args) => bindings::bindings(&args),
        PluginCommand::Componentize(args) => componentize::componentize(&args),
    }
}

/// The task host of the CLI: default limits, cache and logs in the work folder.
fn host(work: &Path) -> anyhow::Result<TaskHost> {
    TaskHost::new(Limits::default(), work.join("cache").join("components"), work.join("logs"))
        .context("cannot start the task host")
}

fn load(host: &TaskHost, wasm: &Path) -> anyhow::Result<TaskPlugin> {
    TaskPlugin::load(host, wasm).with_context(|| format!("cannot load plugin `{}`", wasm.display()))
}

fn info(work: &Path, args: &InfoArgs) -> anyhow::Result<()> {
    let host = host(work)?;
    let plugin = load(&host, &args.wasm)?;
    let info = plugin.info();
    let mut out = String::new();
    let fields = [
        ("id", info.id.clone()),
        ("version", info.version.clone()),
        ("wit", format!("rapha:task@{}", plugin.wit_version())),
        ("description", info.description.clone()),
        ("component", format!("{} (sha256 {})", plugin.path().display(), plugin.sha256())),
        ("max new tokens", info.generation.max_new_tokens.to_string()),
        ("stop strings", serde_json::to_string(&info.generation.stop)?),
    ];
    for (label, value) in fields {
        writeln!(out, "{:16}{value}", format!("{label}:"))?;
    }
    writeln!(out, "\nmetrics:")?;
    let width = info.metrics.iter().map(|metric| metric.name.len()).max().unwrap_or(0).max(6);
    writeln!(out, "  {:width$}  better  description", "name")?;
    for metric in &info.metrics {
        let better = if metric.higher_is_better { "higher" } else { "lower" };
        writeln!(out, "  {:width$}  {better:6}  {}", metric.name, metric.description)?;
    }
    writeln!(out, "\nsystem prompt:\n{}", indent(&info.system_prompt))?;
    let schema: Value = serde_json::from_str(&info.output_schema)
        .context("the output schema was checked at load but is no longer JSON")?;
    writeln!(out, "\noutput schema (JSON Schema, draft 2020-12):\n{}", indent(&serde_json::to_string_pretty(&schema)?))?;
    print!("{out}");
    Ok(())
}

/// What one pass over the records returned for one record.
#[derive(PartialEq)]
struct Outcome {
    formatted: FormattedExample,
    schema: Result<(), SchemaViolation>,
    validate: Result<(), Violation>,
    score: ExampleScore,
    reward: f64,
}

/// Problems found by `plugin check`, each tied to a line of the dataset when it has one.
struct Problems<'a> {
    data: &'a Path,
    list: Vec<String>,
}

impl Problems<'_> {
    fn at(&mut self, line: &Line, message: impl std::fmt::Display) {
        self.list.push(format!("{}:{}: {message}", self.data.display(), line.number));
    }

    fn general(&mut self, message: impl std::fmt::Display) {
        self.list.push(format!("{}: {message}", self.data.display()));
    }
}

/// Every per-record call for `line` (record `index`); the first failure as an error.
fn calls(plugin: &mut TaskPlugin, index: u64, line: &Line) -> anyhow::Result<Outcome> {
    let formatted = plugin.format_example(index, &line.text)?;
    let target = formatted.completion.clone();
    let schema = plugin.validate_output(&target);
    let validate = plugin.validate(index, &target)?;
    let score = plugin.score(index, &target, &line.text)?;
    let reward = plugin.reward(index, &target, &line.text)?;
    Ok(Outcome {
        formatted,
        schema,
        validate,
        score,
        reward,
    })
}

fn check(work: &Path, args: &CheckArgs) -> anyhow::Result<()> {
    let host = host(work)?;
    let mut warm = load(&host, &args.wasm)?;
    let lines = jsonl::read_all(&args.data)?;
    let info = warm.info().clone();
    println!(
        "plugin `{}` {} (rapha:task@{}) from `{}`",
        info.id,
        info.version,
        warm.wit_version(),
        args.wasm.display()
    );
    println!("  compiled component: {}", cache_words(warm.cache_status()));
    println!("  output schema: a valid JSON Schema (draft 2020-12)");
    println!("  records: {} in `{}`", lines.len(), args.data.display());

    let mut problems = Problems {
        data: &args.data,
        list: Vec::new(),
    };

    // The warm pass: one instance (already used by `info`) serves every record in order.
    let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(lines.len());
    for (index, line) in (0u64..).zip(&lines) {
        match calls(&mut warm, index, line) {
            Ok(outcome) => outcomes.push(Some(outcome)),
            Err(error) => {
                problems.at(line, format!("{error:#}"));
                outcomes.push(None);
            }
        }
    }
    let mut perfect = 0;
    for ((index, line), outcome) in (0u64..).zip(&lines).zip(&outcomes) {
        let Some(outcome) = outcome else { continue };
        let mut ok = true;
        if let Err(violation) = &outcome.schema {
            ok = false;
            problems.at(line, format!("record {index}: the target completion breaks the output schema {violation}"));
        }
        if let Err(violation) = &outcome.validate {
            ok = false;
            problems.at(
                line,
                format!(
                    "record {index}: `validate` rejects the target completion at `{}` (reason in `{}`)",
                    violation.path,
                    warm.log_path().display()
                ),
            );
        }
        if (outcome.reward - 1.0).abs() > PERFECT_REWARD_TOLERANCE {
            ok = false;
            problems.at(
                line,
                format!("record {index}: the target completion is not perfect: expected reward 1, found {}", outcome.reward),
            );
        }
        if ok {
            perfect += 1;
        }
    }
    let scores: Vec<ExampleScore> = outcomes.iter().flatten().map(|outcome| outcome.score.clone()).collect();
    let aggregate = match warm.aggregate(&scores) {
        Ok(metrics) => Some(metrics),
        Err(error) => {
            problems.general(format!("{error:#}"));
            None
        }
    };

    // The determinism pass: a fresh instance, records in reverse order, so that any state
    // a warm instance carries from record to record shows as a difference.
    let mut fresh = warm.fresh().context("cannot make a fresh instance")?;
    let mut same = 0;
    for (position, line) in lines.iter().enumerate().rev() {
        let index = position as u64;
        let Some(expected) = &outcomes[position] else { continue };
        match calls(&mut fresh, index, line) {
            Ok(outcome) if &outcome == expected => same += 1,
            Ok(outcome) => problems.at(
                line,
                format!(
                    "record {index}: not deterministic: a fresh instance returned a different {}",
                    difference(expected, &outcome)
                ),
            ),
            Err(error) => problems.at(
                line,
                format!("record {index}: not deterministic: the warm instance succeeded, a fresh one failed: {error:#}"),
            ),
        }
    }
    if let Some(expected) = &aggregate {
        match fresh.aggregate(&scores) {
            Ok(metrics) if &metrics == expected => {}
            Ok(_) => problems.general("not deterministic: `aggregate` differs between the warm and a fresh instance"),
            Err(error) => problems.general(format!("not deterministic: a fresh instance failed `aggregate`: {error:#}")),
        }
    }

    let succeeded = outcomes.iter().flatten().count();
    println!("  every export called: {succeeded} of {} records without error", lines.len());
    println!("  perfect targets (schema, `validate`, reward 1): {perfect} of {succeeded}");
    println!("  deterministic (fresh instance, reverse order): {same} of {succeeded}");
    if let Some(metrics) = &aggregate {
        println!("  aggregate over the targets:");
        let width = metrics.iter().map(|metric| metric.name.len()).max().unwrap_or(0);
        for metric in metrics {
            println!("    {:width$}  {:.6}", metric.name, metric.value);
        }
    }
    print_denials(&warm, &fresh);
    print_costs(&warm);
    println!("  plugin log: `{}`", warm.log_path().display());

    if problems.list.is_empty() {
        println!("check passed");
        return Ok(());
    }
    for problem in problems.list.iter().take(MAX_LISTED_PROBLEMS) {
        println!("problem: {problem}");
    }
    if problems.list.len() > MAX_LISTED_PROBLEMS {
        println!("… and {} more problems", problems.list.len() - MAX_LISTED_PROBLEMS);
    }
    let count = problems.list.len();
    bail!(
        "check of plugin `{}` failed: {count} problem{} with `{}`",
        info.id,
        if count == 1 { "" } else { "s" },
        args.data.display()
    )
}

/// Which part of two outcomes differs, in the order the calls were made.
fn difference(expected: &Outcome, found: &Outcome) -> &'static str {
    if expected.formatted != found.formatted {
        "`format-example` result"
    } else if expected.validate != found.validate {
        "`validate` result"
    } else if expected.score != found.score {
        "`score` result"
    } else if expected.reward.to_bits() != found.reward.to_bits() {
        "`reward`"
    } else {
        "schema check of the target"
    }
}

fn cache_words(status: CacheStatus) -> &'static str {
    match status {
        CacheStatus::Hit => "taken from the cache",
        CacheStatus::Miss => "compiled and cached",
        CacheStatus::Rejected => "cache file rejected (checksum or version); compiled again",
        _ => "compiled",
    }
}

fn print_denials(warm: &TaskPlugin, fresh: &TaskPlugin) {
    let mut counts: Vec<(String, u64)> = Vec::new();
    for (attempt, count) in warm.denials().iter().chain(fresh.denials().iter()) {
        match counts.iter_mut().find(|(name, _)| name == attempt.name()) {
            Some((_, total)) => *total += count,
            None => counts.push((attempt.name().to_owned(), count)),
        }
    }
    if counts.is_empty() {
        println!("  denied attempts: none");
        return;
    }
    println!("  denied attempts (the plugin got nothing):");
    for (name, count) in counts {
        println!("    {name}: {count}");
    }
}

fn print_costs(plugin: &TaskPlugin) {
    println!("  per call (warm instance):");
    println!(
        "    {:16} {:>7} {:>11} {:>11} {:>12} {:>12}",
        "call", "calls", "mean time", "max time", "max fuel", "peak memory"
    );
    for call in Call::ALL {
        let Some(summary) = plugin.summary(call) else { continue };
        println!(
            "    {:16} {:>7} {:>11} {:>11} {:>12} {:>12}",
            call.name(),
            summary.calls,
            duration(summary.mean_time()),
            duration(summary.max_time),
            summary.max_fuel,
            mebibytes(summary.peak_memory_bytes)
        );
    }
}

fn duration(time: Duration) -> String {
    let micros = time.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

fn mebibytes(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

fn score(work: &Path, args: &ScoreArgs) -> anyhow::Result<()> {
    let host = host(work)?;
    let mut plugin = load(&host, &args.wasm)?;
    let records = jsonl::read_all(&args.data)?;
    let prediction_lines = jsonl::read_all(&args.predictions)?;

    let mut predictions: HashMap<String, (u64, String)> = HashMap::new();
    for line in &prediction_lines {
        let value = line.object(&args.predictions)?;
        let id = jsonl::id_of(&value, &args.predictions, line)?;
        let Some(Value::String(prediction)) = value.get("prediction") else {
            bail!(
                "{}:{}: `prediction`: expected a string",
                args.predictions.display(),
                line.number
            );
        };
        if let Some((first, _)) = predictions.insert(id.clone(), (line.number, prediction.clone())) {
            bail!(
                "{}:{}: id `{id}` appears twice (first at line {first})",
                args.predictions.display(),
                line.number
            );
        }
    }

    let mut scores = Vec::with_capacity(records.len());
    let (mut schema_valid, mut rules_valid, mut reward_sum) = (0usize, 0usize, 0.0);
    for (index, line) in (0u64..).zip(&records) {
        let id = jsonl::id_of(&line.object(&args.data)?, &args.data, line)?;
        let Some((_, prediction)) = predictions.remove(&id) else {
            bail!(
                "{}:{}: no prediction for record id `{id}` in `{}`",
                args.data.display(),
                line.number,
                args.predictions.display()
            );
        };
        let at = || format!("{}:{}", args.data.display(), line.number);
        scores.push(plugin.score(index, &prediction, &line.text).with_context(at)?);
        reward_sum += plugin.reward(index, &prediction, &line.text).with_context(at)?;
        if plugin.validate_output(&prediction).is_ok() {
            schema_valid += 1;
            if plugin.validate(index, &prediction).with_context(at)?.is_ok() {
                rules_valid += 1;
            }
        }
    }
    if let Some((id, (line, _))) = predictions.iter().min_by_key(|(_, (line, _))| *line) {
        bail!(
            "{}:{line}: prediction id `{id}` matches no record in `{}`",
            args.predictions.display(),
            args.data.display()
        );
    }
    let metrics = plugin
        .aggregate(&scores)
        .with_context(|| format!("cannot aggregate the scores of `{}`", args.data.display()))?;

    let count = records.len() as f64;
    let host_metrics = [
        ("schema_valid_rate", schema_valid as f64 / count, "predictions that satisfy the output schema"),
        ("validate_pass_rate", rules_valid as f64 / count, "predictions that satisfy the schema and `validate`"),
        ("mean_reward", reward_sum / count, "mean of `reward` over the records"),
    ];
    let info = plugin.info();
    println!(
        "plugin `{}` {} (rapha:task@{}), {} records",
        info.id,
        info.version,
        plugin.wit_version(),
        records.len()
    );
    let width = metrics
        .iter()
        .map(|metric| metric.name.len())
        .chain(host_metrics.iter().map(|(name, _, _)| name.len()))
        .max()
        .unwrap_or(6);
    println!("  {:width$}  {:>10}  better  description", "metric", "value");
    for metric in &metrics {
        let declared = info.metric(&metric.name).context("aggregate returned a checked metric")?;
        let better = if declared.higher_is_better { "higher" } else { "lower" };
        println!("  {:width$}  {:>10.6}  {better:6}  {}", metric.name, metric.value, declared.description);
    }
    for (name, value, description) in host_metrics {
        println!("  {name:width$}  {value:>10.6}  higher  {description} (host)");
    }

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| work.join("scores").join(format!("{}.json", info.id)));
    let report = json!({
        "plugin": {
            "id": info.id,
            "version": info.version,
            "wit": plugin.wit_version(),
            "sha256": plugin.sha256(),
        },
        "data": args.data,
        "predictions": args.predictions,
        "records": records.len(),
        "metrics": metrics.iter().map(|metric| (metric.name.clone(), json!(metric.value))).collect::<serde_json::Map<_, _>>(),
        "host": host_metrics.iter().map(|(name, value, _)| ((*name).to_owned(), json!(value))).collect::<serde_json::Map<_, _>>(),
    });
    write_json(&out, &report)?;
    println!("  written to `{}`", out.display());
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(duration(Duration::from_micros(52)), "52 µs");
        assert_eq!(duration(Duration::from_micros(1500)), "1.5 ms");
        assert_eq!(mebibytes(3 << 19), "1.5 MiB");
    }
}

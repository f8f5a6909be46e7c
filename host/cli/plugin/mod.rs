//! `rapha-host plugin …`: for plugin authors and evaluators. `info`, `check` and `score`
//! are here; the author's kit (`wit`, `new`, `bindings`, `componentize`) has a module each.

mod bindings;
mod check;
mod componentize;
mod contract;
mod prompt;
mod skeleton;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use rapha_task_host::{Limits, TaskHost, TaskPlugin};
use serde_json::{Value, json};

use crate::args::{InfoArgs, PluginCommand, ScoreArgs};
use crate::{jsonl, progress};
use crate::stages::scoring::{self, HOST_METRICS, Item};

pub fn run(work: &Path, command: PluginCommand) -> anyhow::Result<()> {
    if matches!(command, PluginCommand::Info(_) | PluginCommand::Check(_) | PluginCommand::Score(_) | PluginCommand::Prompt(_)) {
        // Their logs and outputs in the work folder may quote records.
        rapha_sandbox::lockdown::owner_only_files();
    }
    match command {
        PluginCommand::Info(args) => info(work, &args),
        PluginCommand::Check(args) => check::check(work, &args),
        PluginCommand::Score(args) => score(work, &args),
        PluginCommand::Prompt(args) => prompt::prompt(work, &args),
        PluginCommand::Wit(args) => contract::wit(&args),
        PluginCommand::New(args) => skeleton::new(&args),
        PluginCommand::Bindings(args) => bindings::bindings(&args),
        PluginCommand::Componentize(args) => componentize::componentize(&args),
    }
}

/// The task host of the CLI: default limits, cache and logs in the work folder.
pub(crate) fn host(work: &Path) -> anyhow::Result<TaskHost> {
    TaskHost::new(Limits::default(), work.join("cache").join("components"), work.join("logs"))
        .context("cannot start the task host")
}

/// Lines of a trapping call's own output shown under its error.
const LAST_WORDS: usize = 4;

/// `error`, and when a call trapped, the lines the plugin wrote in that call under it: the
/// author's commands run on the author's own data, so the cause (a Python traceback's last
/// line, a Rust panic message) is shown here, where `run` only points to the log. A Python
/// `ModuleNotFoundError` is named for what it usually is.
pub(crate) fn with_last_words(plugin: &TaskPlugin, error: &anyhow::Error) -> String {
    let mut text = format!("{error:#}");
    let trapped = error
        .chain()
        .any(|cause| matches!(cause.downcast_ref::<rapha_task_host::Error>(), Some(rapha_task_host::Error::Trap { .. })));
    let words = if trapped { plugin.last_words(LAST_WORDS) } else { Vec::new() };
    if words.is_empty() {
        return text;
    }
    text.push_str("; the plugin's last output in that call:");
    for line in &words {
        let _ = write!(text, "\n      | {line}");
    }
    if words.iter().any(|line| line.contains("ModuleNotFoundError")) {
        text.push_str(
            "\n      a module imported inside a function is not built into the component: import it at the top of \
             the module (PLUGINS.md, \"Python\")",
        );
    }
    text
}

/// Load the plugin for an author's command. The first use of a build compiles it (tens of
/// seconds for an interpreter's component; the host says so on its info line), so a
/// terminal gets a spinner meanwhile.
pub(crate) fn load(host: &TaskHost, wasm: &Path) -> anyhow::Result<TaskPlugin> {
    progress::spinner_while(&format!("loading `{}`", wasm.display()), || {
        TaskPlugin::load(host, wasm).with_context(|| format!("cannot load plugin `{}`", wasm.display()))
    })
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

pub(crate) fn duration(time: Duration) -> String {
    let micros = time.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

pub(crate) fn mebibytes(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}")).collect::<Vec<_>>().join("\n")
}

/// The predictions file's `prediction` by record id, with the line each is on.
fn read_predictions(path: &Path) -> anyhow::Result<HashMap<String, (u64, String)>> {
    let mut predictions: HashMap<String, (u64, String)> = HashMap::new();
    for line in &jsonl::read_all(path)? {
        let value = line.object(path)?;
        let id = jsonl::id_of(&value, path, line)?;
        let Some(Value::String(prediction)) = value.get("prediction") else {
            bail!("{}:{}: `prediction`: expected a string", path.display(), line.number);
        };
        if let Some((first, _)) = predictions.insert(id.clone(), (line.number, prediction.clone())) {
            bail!("{}:{}: id `{id}` appears twice (first at line {first})", path.display(), line.number);
        }
    }
    Ok(predictions)
}

/// Every record with its id and prediction, in record order; an error for a record without
/// a prediction or a prediction without a record.
fn pair<'a>(
    args: &ScoreArgs,
    records: &'a [jsonl::Line],
    mut predictions: HashMap<String, (u64, String)>,
) -> anyhow::Result<Vec<(&'a jsonl::Line, String, String)>> {
    let mut pairs = Vec::with_capacity(records.len());
    for line in records {
        let id = jsonl::id_of(&line.object(&args.data)?, &args.data, line)?;
        let Some((_, prediction)) = predictions.remove(&id) else {
            bail!(
                "{}:{}: no prediction for record id `{id}` in `{}`",
                args.data.display(),
                line.number,
                args.predictions.display()
            );
        };
        pairs.push((line, id, prediction));
    }
    if let Some((id, (line, _))) = predictions.iter().min_by_key(|(_, (line, _))| *line) {
        bail!(
            "{}:{line}: prediction id `{id}` matches no record in `{}`",
            args.predictions.display(),
            args.data.display()
        );
    }
    Ok(pairs)
}

fn score(work: &Path, args: &ScoreArgs) -> anyhow::Result<()> {
    let host = host(work)?;
    let mut plugin = load(&host, &args.wasm)?;
    let records = jsonl::read_all(&args.data)?;
    let pairs = pair(args, &records, read_predictions(&args.predictions)?)?;
    let scored = scoring::score(
        &mut plugin,
        &args.data,
        pairs.iter().map(|(line, id, prediction)| Item { id, line: line.number, record: &line.text, prediction }),
    )
    .map_err(|error| anyhow::anyhow!(with_last_words(&plugin, &error)))?;
    let metrics = &scored.metrics;
    let host_metrics: Vec<(&str, f64, &str)> = HOST_METRICS
        .iter()
        .zip(scored.host_metrics())
        .map(|(&(name, description), value)| (name, value, description))
        .collect();
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
    for metric in metrics {
        let declared = info.metric(&metric.name).context("aggregate returned a checked metric")?;
        let better = if declared.higher_is_better { "higher" } else { "lower" };
        println!("  {:width$}  {:>10.6}  {better:6}  {}", metric.name, metric.value, declared.description);
    }
    for &(name, value, description) in &host_metrics {
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
        "per_record": scored.per_record_json(),
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

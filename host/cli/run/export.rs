//! What leaves: the best adapter, its config, the metrics, the loss history, the report
//! and the manifest, each through the egress gate. Every number passes
//! [`rapha_sandbox::disclosure`] first: counts and statistics of fewer than [`MIN_CELL`]
//! records are suppressed (the small-cell rule), and metrics and losses leave at three
//! significant digits, so what a plugin computes carries a bounded number of bits.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rapha_engine::Model;
use rapha_engine::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS, PEFT_PREFIX};
use rapha_sandbox::lockdown::Report as SandboxReport;
use rapha_sandbox::disclosure::{self, MIN_CELL};
use rapha_sandbox::{AdapterSpec, AuditLog, Count, ExportDir, InputHash, Manifest, ManifestInputs, Policy, VerbatimIndex};
use rapha_task_host::{MetricInfo, TaskInfo};
use serde_json::{Value, json};

use crate::report::{self, MetricRow, ReportFields};
use crate::run::federated::Signer;
use crate::run::journal::{EvalLine, StepLine};

/// What a run exports besides the manifest, in this order.
pub const FILES: [&str; 5] = [ADAPTER_WEIGHTS, ADAPTER_CONFIG, METRICS, LOSS_HISTORY, REPORT];
const METRICS: &str = "metrics.json";
const LOSS_HISTORY: &str = "loss_history.json";
const REPORT: &str = "report.txt";

/// Most training-loss points `loss_history.json` holds: consecutive windows are merged to fit,
/// so a long run's curve does not carry more values than a short one's.
const MAX_LOSS_POINTS: usize = 32;

/// The plugin metrics whose values leave: the selected metric first when it is the plugin's,
/// then the others in declared order, up to [`disclosure::MAX_EXPORTED_METRICS`]. The choice
/// depends on the plugin's declaration and the recipe only, never on the data: which metrics
/// leave carries no information either.
pub fn exported_metrics<'a>(info: &'a TaskInfo, selected: &str) -> Vec<&'a MetricInfo> {
    let first = info.metrics.iter().filter(|metric| metric.name == selected);
    let rest = info.metrics.iter().filter(|metric| metric.name != selected);
    first.chain(rest).take(disclosure::MAX_EXPORTED_METRICS).collect()
}

/// Everything the export is made of.
pub struct Export<'a> {
    /// The folder with the best adapter (`adapter_model.safetensors`, `adapter_config.json`).
    pub adapter_dir: &'a Path,
    /// The model, for the tensor names and shapes the adapter must have.
    pub model: &'a Model,
    /// Typed fields of the report, and its comparison rows (already suppressed where needed).
    pub report: ReportFields,
    /// The training history.
    pub steps: &'a [StepLine],
    /// Training records one optimizer step sees (micro-batch × accumulation).
    pub records_per_step: usize,
    /// The evaluations, with the number of records each covered.
    pub evals: &'a [EvalLine],
    /// Input hashes for the manifest.
    pub inputs: ManifestInputs,
    /// The protections in force.
    pub sandbox: &'a SandboxReport,
    /// A federated round's site key, which signs the manifest.
    pub signer: Option<Signer>,
}

/// Write the export folder `root` through the gate; returns the manifest. `verbatim` indexes
/// the texts the run read (records, prompts, completions): no 8-word run of them may leave. The
/// export is all or nothing: when any file is refused or any write fails, the gate removes
/// every file it wrote (each removal audited), so a failed run leaves an empty export folder.
pub fn write(root: &Path, export: Export<'_>, verbatim: VerbatimIndex, audit: Arc<AuditLog>) -> anyhow::Result<Manifest> {
    let spec = adapter_spec(export.model);
    let mut dir = ExportDir::open(root, Policy::new(), verbatim, Some(spec), audit)
        .with_context(|| format!("cannot open the export folder `{}`", root.display()))?;
    let root = dir.root().to_path_buf();
    let metrics = metrics_document(&export.report);
    let written = export_files(&mut dir, &export, &metrics).and_then(|()| {
        let sandbox = serde_json::to_value(export.sandbox).expect("a sandbox report always serialises");
        let signature = export.signer.as_ref().map(|signer| signer.sign(dir.files(), &export.inputs)).transpose()?;
        Ok(dir.finish(export.inputs, metrics, sandbox, signature)?)
    });
    match written {
        Ok(manifest) => Ok(manifest),
        Err(error) => match dir.abort() {
            Ok(_) => Err(error.context("the export failed; nothing was left in the export folder")),
            Err(cleanup) => Err(error.context(format!(
                "the export failed, and removing what it wrote failed too ({cleanup}): clear `{}` by hand",
                root.display()
            ))),
        },
    }
}

/// Every file but the manifest.
fn export_files(dir: &mut ExportDir, export: &Export<'_>, metrics: &Value) -> anyhow::Result<()> {
    for name in [ADAPTER_WEIGHTS, ADAPTER_CONFIG] {
        let path = export.adapter_dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        dir.export(name, &bytes, &[])?;
    }
    dir.export(METRICS, &pretty(metrics), &[])?;
    let history = loss_history(export.steps, export.records_per_step, export.evals);
    dir.export(LOSS_HISTORY, &pretty(&history), &[])?;
    let (text, fields) = report::render_report(&export.report);
    dir.export(REPORT, text.as_bytes(), &fields)?;
    Ok(())
}

/// The tensors a PEFT file of this model's adapters holds: `lora_A` [r, in] and `lora_B`
/// [out, r] per adapted projection, taken from the model, not from the file being checked.
fn adapter_spec(model: &Model) -> AdapterSpec {
    let mut tensors = BTreeMap::new();
    for (name, adapter) in model.adapters() {
        tensors.insert(format!("{PEFT_PREFIX}{name}.lora_A.weight"), adapter.a().as_tensor().dims().to_vec());
        tensors.insert(format!("{PEFT_PREFIX}{name}.lora_B.weight"), adapter.b().as_tensor().dims().to_vec());
    }
    AdapterSpec { tensors }
}

/// `metrics.json`: the base-vs-adapter table of the exported metrics on the test records, and
/// the run's figures.
fn metrics_document(report: &ReportFields) -> Value {
    let column = |pick: fn(&MetricRow) -> Option<f64>| -> Value {
        report.rows.iter().map(|row| (row.name.clone(), pick(row).map_or(Value::Null, Value::from))).collect()
    };
    let suppressed = report.eval_records == Count::Suppressed;
    json!({
        "task": report.task,
        "plugin_version": report.plugin_version,
        "metrics": {
            "records": report.eval_records,
            "suppressed": if suppressed { json!(format!("fewer than {MIN_CELL} records")) } else { Value::Null },
            "base": column(|row| row.base),
            "adapter": column(|row| row.adapter),
            "delta": column(|row| Some(disclosure::difference(row.base?, row.adapter?))),
        },
        "disclosure": {
            "min_cell": MIN_CELL,
            "significant_digits": disclosure::SIGNIFICANT_DIGITS,
            "max_metrics": disclosure::MAX_EXPORTED_METRICS,
            "channel_bits": (report.channel_bits * 10.0).round() / 10.0,
        },
        "training": {
            "steps": report.steps,
            "best_step": report.best_step,
            "stopped_early": report.stopped_early,
            "final_train_loss": report.final_train_loss,
            "best_eval_loss": report.best_eval_loss,
            "tokens_per_second": (report.tokens_per_second * 10.0).round() / 10.0,
        },
        "model": {
            "name": report.model,
            "quantization": report.quantization,
            "bytes_per_param": report.bytes_per_param,
        },
        "records": {
            "train": report.train_records,
            "val": report.val_records,
            "test": report.test_records,
        },
        "privacy": report.privacy.as_ref().map_or(Value::Null, |privacy| privacy.document.clone()),
        "audit": report.audit.as_ref().map_or(Value::Null, |audit| audit.document.clone()),
    })
}

/// `loss_history.json`: the training loss, averaged over windows of consecutive steps that
/// together saw at least [`MIN_CELL`] records (one step's loss over a micro-batch of 4 would
/// be a statistic of 4 patients) and merged to at most [`MAX_LOSS_POINTS`] windows, and the
/// validation loss per evaluation (suppressed when it covered fewer than [`MIN_CELL`]
/// records). The plugin's metrics per evaluation stay in the work folder's journal: each would
/// be one more value a plugin computes, leaving.
fn loss_history(steps: &[StepLine], records_per_step: usize, evals: &[EvalLine]) -> Value {
    let window = (MIN_CELL as usize)
        .div_ceil(records_per_step.max(1))
        .max(steps.len().div_ceil(MAX_LOSS_POINTS));
    let steps: Vec<Value> = steps
        .chunks(window)
        .filter(|chunk| chunk.len() == window)
        .filter_map(|chunk| {
            let last = chunk.last().expect("chunks are non-empty");
            let losses: Vec<f64> = chunk.iter().filter_map(|s| s.loss).collect();
            let loss = losses.iter().sum::<f64>() / losses.len() as f64;
            (!losses.is_empty()).then(|| {
                json!({ "step": last.step, "steps_averaged": chunk.len(), "loss": disclosure::round(loss), "learning_rate": last.learning_rate })
            })
        })
        .collect();
    let evals: Vec<Value> = evals
        .iter()
        .map(|e| json!({ "step": e.step, "records": Count::of(e.records as u64), "eval_loss": disclosure::cell(e.records, e.eval_loss) }))
        .collect();
    json!({ "steps": steps, "evals": evals })
}

/// `value` as indented JSON, object keys sorted (as before any dependency asked serde_json to
/// keep insertion order), with a final newline.
fn pretty(value: &Value) -> Vec<u8> {
    let mut value = value.clone();
    value.sort_all_objects();
    let mut bytes = serde_json::to_vec_pretty(&value).expect("a JSON value always serialises");
    bytes.push(b'\n');
    bytes
}

/// The manifest's record of one input.
pub fn input(role: &str, sha256: &str, records: Option<usize>) -> InputHash {
    InputHash { role: role.to_owned(), sha256: sha256.to_owned(), records: records.map(|n| Count::of(n as u64)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64, loss: f64) -> StepLine {
        StepLine { step, loss: Some(loss), learning_rate: 1e-3, tokens: 100, seconds: 1.0 }
    }

    #[test]
    fn exported_losses_cover_at_least_eleven_records_each() {
        let steps: Vec<StepLine> = (1..=7).map(|s| step(s, s as f64 + 0.123_456)).collect();
        let evals = [
            EvalLine { step: 3, eval_loss: 0.5, metrics: vec![("f1".into(), 0.2)], records: 10 },
            EvalLine { step: 6, eval_loss: 0.412_345, metrics: vec![("f1".into(), 0.3)], records: 11 },
        ];
        let history = loss_history(&steps, 4, &evals);
        let windows = history["steps"].as_array().expect("steps");
        assert_eq!(windows.len(), 2, "3 steps of 4 records per window; the last partial window is left out");
        assert_eq!(windows[0]["step"], 3);
        assert_eq!(windows[0]["loss"], 2.12);
        assert_eq!(windows[1]["loss"], 5.12);
        assert_eq!(history["evals"][0]["eval_loss"], Value::Null);
        assert_eq!(history["evals"][0]["records"], "<11");
        assert_eq!(history["evals"][1]["eval_loss"], 0.412);
        assert_eq!(history["evals"][1]["records"], 11);
        assert!(history["evals"][1].get("metrics").is_none(), "{history:#}");
    }

    #[test]
    fn a_long_run_leaves_at_most_the_capped_number_of_loss_points() {
        for (count, windows_expected) in [(1024, 32), (1000, 31), (20, 20)] {
            let steps: Vec<StepLine> = (1..=count).map(|s| step(s, 1.0)).collect();
            let history = loss_history(&steps, 16, &[]);
            let windows = history["steps"].as_array().expect("steps");
            assert_eq!(windows.len(), windows_expected, "{count} steps");
            assert!(windows.len() <= MAX_LOSS_POINTS);
        }
    }
}

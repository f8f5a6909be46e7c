//! What leaves: the best adapter, its config, the metrics, the loss history, the report
//! and the manifest, each through the egress gate. Metrics computed over fewer than
//! [`MIN_CELL`] records are suppressed in every exported file (the small-cell rule).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rapha_engine::Model;
use rapha_engine::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS, PEFT_PREFIX};
use rapha_sandbox::lockdown::Report as SandboxReport;
use rapha_sandbox::{AdapterSpec, AuditLog, Decision, ExportDir, InputHash, Manifest, ManifestInputs, Policy, VerbatimIndex};
use serde_json::{Value, json};

use crate::report::{self, MetricRow, ReportFields};
use crate::run::journal::{EvalLine, StepLine};

/// Fewest records a metric may be computed over and still leave the building.
pub const MIN_CELL: usize = 11;

/// `value` if it was computed over enough records, `None` (suppressed) otherwise.
pub fn cell(records: usize, value: f64) -> Option<f64> {
    (records >= MIN_CELL).then_some(value)
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
}

/// Write the export folder `root` through the gate; returns the manifest. `verbatim` indexes
/// the texts the run read (records, prompts, completions): no 8-word run of them may leave. The export is
/// all or nothing: when any file is refused or fails, the files already written are removed
/// (and the removal audited), so a failed run leaves an empty export folder.
pub fn write(root: &Path, export: Export<'_>, verbatim: VerbatimIndex, audit: Arc<AuditLog>) -> anyhow::Result<Manifest> {
    let spec = adapter_spec(export.model);
    let mut dir = ExportDir::open(root, Policy::new(), verbatim, Some(spec), Arc::clone(&audit))
        .with_context(|| format!("cannot open the export folder `{}`", root.display()))?;
    let root = dir.root().to_path_buf();
    let metrics = metrics_document(&export.report);
    let written = export_files(&mut dir, &export, &metrics).and_then(|()| {
        let mut names: Vec<String> = dir.files().iter().map(|file| file.name.clone()).collect();
        names.push(MANIFEST.to_owned());
        let sandbox = serde_json::to_value(export.sandbox).expect("a sandbox report always serialises");
        dir.finish(export.inputs, metrics, sandbox).map_err(anyhow::Error::from).map_err(|error| (error, names))
    });
    match written {
        Ok(manifest) => Ok(manifest),
        Err((error, names)) => {
            for name in names {
                let path = root.join(&name);
                if std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file())
                    && std::fs::remove_file(&path).is_ok()
                {
                    audit.record("rollback", &name, Decision::Noted, "removed: the export as a whole failed")?;
                }
            }
            Err(error.context("the export failed; nothing was left in the export folder"))
        }
    }
}

const MANIFEST: &str = "manifest.json";

/// Every file but the manifest. On error, the names written so far come back with it.
fn export_files(dir: &mut ExportDir, export: &Export<'_>, metrics: &Value) -> Result<(), (anyhow::Error, Vec<String>)> {
    let fail = |dir: &ExportDir, error: anyhow::Error| (error, dir.files().iter().map(|f| f.name.clone()).collect());
    for name in [ADAPTER_WEIGHTS, ADAPTER_CONFIG] {
        let path = export.adapter_dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read `{}`", path.display())).map_err(|e| fail(dir, e))?;
        dir.export(name, &bytes, &[]).map_err(|e| fail(dir, e.into()))?;
    }
    dir.export("metrics.json", &pretty(metrics), &[]).map_err(|e| fail(dir, e.into()))?;
    let history = loss_history(export.steps, export.records_per_step, export.evals);
    dir.export("loss_history.json", &pretty(&history), &[]).map_err(|e| fail(dir, e.into()))?;
    let (text, fields) = report::render_report(&export.report);
    dir.export("report.txt", text.as_bytes(), &fields).map_err(|e| fail(dir, e.into()))?;
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

/// `metrics.json`: the base-vs-adapter table on the test records and the run's figures.
fn metrics_document(report: &ReportFields) -> Value {
    let column = |pick: fn(&MetricRow) -> Option<f64>| -> Value {
        report.rows.iter().map(|row| (row.name.clone(), pick(row).map_or(Value::Null, Value::from))).collect()
    };
    let suppressed = report.eval_records < MIN_CELL;
    json!({
        "task": report.task,
        "plugin_version": report.plugin_version,
        "metrics": {
            "records": report.eval_records,
            "suppressed": if suppressed { json!(format!("fewer than {MIN_CELL} records")) } else { Value::Null },
            "base": column(|row| row.base),
            "adapter": column(|row| row.adapter),
            "delta": column(|row| Some(row.adapter? - row.base?)),
        },
        "training": {
            "steps": report.steps,
            "best_step": report.best_step,
            "stopped_early": report.stopped_early,
            "final_train_loss": report.final_train_loss,
            "best_eval_loss": report.best_eval_loss,
            "tokens_per_second": report.tokens_per_second,
            "wall_seconds": report.wall_seconds,
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
    })
}

/// `loss_history.json`: the training loss, averaged over windows of consecutive steps that
/// together saw at least [`MIN_CELL`] records (one step's loss over a micro-batch of 4 would
/// be a statistic of 4 patients), and the validation loss and metrics per evaluation
/// (suppressed when an evaluation covered fewer than [`MIN_CELL`] records).
fn loss_history(steps: &[StepLine], records_per_step: usize, evals: &[EvalLine]) -> Value {
    let window = MIN_CELL.div_ceil(records_per_step.max(1));
    let steps: Vec<Value> = steps
        .chunks(window)
        .filter(|chunk| chunk.len() == window)
        .map(|chunk| {
            let last = chunk.last().expect("chunks are non-empty");
            let loss = chunk.iter().map(|s| s.loss).sum::<f64>() / chunk.len() as f64;
            let tokens: u64 = chunk.iter().map(|s| s.tokens).sum();
            json!({ "step": last.step, "steps_averaged": chunk.len(), "loss": loss, "learning_rate": last.learning_rate, "tokens": tokens })
        })
        .collect();
    let evals: Vec<Value> = evals
        .iter()
        .map(|e| {
            let metrics: serde_json::Map<String, Value> =
                e.metrics.iter().map(|(name, value)| (name.clone(), cell(e.records, *value).into())).collect();
            json!({ "step": e.step, "records": e.records, "eval_loss": cell(e.records, e.eval_loss), "metrics": metrics })
        })
        .collect();
    json!({ "steps": steps, "evals": evals })
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("a JSON value always serialises");
    bytes.push(b'\n');
    bytes
}

/// The manifest's record of one input.
pub fn input(role: &str, sha256: &str, records: Option<usize>) -> InputHash {
    InputHash { role: role.to_owned(), sha256: sha256.to_owned(), records: records.map(|n| n as u64) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64, loss: f64) -> StepLine {
        StepLine { step, loss, learning_rate: 1e-3, tokens: 100, seconds: 1.0 }
    }

    #[test]
    fn exported_losses_cover_at_least_eleven_records_each() {
        let steps: Vec<StepLine> = (1..=7).map(|s| step(s, s as f64)).collect();
        let evals = [
            EvalLine { step: 3, eval_loss: 0.5, metrics: vec![("f1".into(), 0.2)], records: 10 },
            EvalLine { step: 6, eval_loss: 0.4, metrics: vec![("f1".into(), 0.3)], records: 11 },
        ];
        let history = loss_history(&steps, 4, &evals);
        let windows = history["steps"].as_array().expect("steps");
        assert_eq!(windows.len(), 2, "3 steps of 4 records per window; the last partial window is left out");
        assert_eq!(windows[0]["step"], 3);
        assert_eq!(windows[0]["loss"], 2.0);
        assert_eq!(windows[1]["loss"], 5.0);
        assert_eq!(history["evals"][0]["eval_loss"], Value::Null);
        assert_eq!(history["evals"][0]["metrics"]["f1"], Value::Null);
        assert_eq!(history["evals"][1]["eval_loss"], 0.4);
        assert_eq!(history["evals"][1]["metrics"]["f1"], 0.3);
    }
}

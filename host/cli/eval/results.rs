//! An evaluation's results file: what was compared (the plan's hash, the model, candidates,
//! plugins with their metrics, datasets with their hashes) and, for every candidate, plugin
//! and dataset, the aggregate metrics and every record's outcome in dataset order, so
//! `compare` pairs candidates record by record.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::plan::{Candidate, Labelled, Plan};
use super::training;
use crate::atomic;
use crate::stages::data::Dataset;
use crate::stages::scoring::{HOST_METRICS, Scored};
use crate::stages::task::Task;

/// One candidate's answers to one dataset, scored by one plugin.
pub struct Outcome<'a> {
    pub candidate: &'a Candidate,
    pub plugin: &'a Labelled,
    pub dataset: &'a Labelled,
    pub records: &'a Dataset,
    /// Each record's cluster and its subgroup in each slice.
    pub units: Vec<(String, Value)>,
    pub scored: Scored,
    /// Answers generated now (the rest came from the cache).
    pub generated: usize,
}

/// The results being gathered.
pub struct Results {
    document: Value,
    stem: String,
    lines: Vec<String>,
}

impl Results {
    /// The header of `plan`'s results, its plugins described by `tasks`.
    /// A candidate's adapter folder that holds a run's loss history gives its training curve.
    pub fn new(plan: &Plan, tasks: &[Task]) -> anyhow::Result<Results> {
        let candidates = plan
            .candidates
            .iter()
            .map(|c| {
                let training = c.adapter.as_deref().map(training::curve).transpose()?.flatten();
                let adapter = c.adapter.as_ref().map(|a| a.display().to_string());
                Ok(json!({"label": c.label, "adapter": adapter, "decoding": c.decoding.to_string(), "training": training}))
            })
            .collect::<anyhow::Result<Vec<Value>>>()?;
        let plugins: Vec<Value> = plan
            .plugins
            .iter()
            .zip(tasks)
            .map(|(p, task)| {
                let info = task.plugin.info();
                let metrics: Vec<Value> = info.metrics.iter().map(|m| json!({"name": m.name, "higher_is_better": m.higher_is_better})).collect();
                json!({"label": p.label, "id": info.id, "version": info.version, "sha256": task.sha256, "metrics": metrics})
            })
            .collect();
        let datasets: Vec<Value> = plan.datasets.iter().map(|d| json!({"label": d.label, "path": d.path.display().to_string()})).collect();
        let document = json!({
            "plan": {"file": plan.file.display().to_string(), "sha256": plan.sha256},
            "unit": plan.unit,
            "slices": plan.slices.iter().map(|s| json!({"label": s.label, "pointer": s.pointer, "bands": s.bands})).collect::<Vec<_>>(),
            "candidates": candidates,
            "plugins": plugins,
            "datasets": datasets,
            "results": [],
        });
        let stem = plan.file.file_stem().map_or_else(|| "plan".to_owned(), |s| s.to_string_lossy().into_owned());
        Ok(Results { document, stem, lines: Vec::new() })
    }

    /// Name the base model.
    pub fn model(&mut self, name: &str, sha256: &str) {
        self.document["model"] = json!({"name": name, "sha256": sha256});
    }

    /// Add one outcome.
    pub fn push(&mut self, outcome: Outcome<'_>) {
        let Outcome { candidate, plugin, dataset, records, units, scored, generated } = outcome;
        let metrics: serde_json::Map<String, Value> = scored.metrics.iter().map(|m| (m.name.clone(), json!(m.value))).collect();
        let host: serde_json::Map<String, Value> =
            HOST_METRICS.iter().zip(scored.host_metrics()).map(|((name, _), value)| ((*name).to_owned(), json!(value))).collect();
        let mut per_record = scored.per_record_json();
        for (record, (unit, slices)) in per_record.iter_mut().zip(units) {
            record["unit"] = json!(unit);
            record["slices"] = slices;
        }
        let headline: Vec<String> = scored.metrics.iter().take(4).map(|m| format!("{} {:.3}", m.name, m.value)).collect();
        self.lines.push(format!(
            "{} · {} · {}: {} records ({generated} generated): {}",
            candidate.label,
            plugin.label,
            dataset.label,
            records.records.len(),
            headline.join(", ")
        ));
        if let Some(list) = self.document["datasets"].as_array_mut()
            && let Some(entry) = list.iter_mut().find(|d| d["label"] == dataset.label.as_str())
        {
            entry["sha256"] = json!(records.sha256);
            entry["records"] = json!(records.records.len());
        }
        let result = json!({
            "candidate": candidate.label,
            "plugin": plugin.label,
            "dataset": dataset.label,
            "metrics": metrics,
            "host": host,
            "records": per_record,
        });
        self.document["results"].as_array_mut().expect("results is an array").push(result);
    }

    /// One line per outcome: labels, record count, the first metrics.
    pub fn summary(&self) -> String {
        self.lines.join("\n")
    }

    /// Write the results to `<work>/eval/<plan stem>.json`; the path.
    pub fn save(&self, work: &Path) -> anyhow::Result<PathBuf> {
        let path = work.join("eval").join(format!("{}.json", self.stem));
        let mut text = serde_json::to_string_pretty(&self.document).expect("results serialise");
        text.push('\n');
        atomic::write(&path, text.as_bytes())?;
        Ok(path)
    }
}

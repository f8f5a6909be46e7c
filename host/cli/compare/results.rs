//! `eval`'s results files, read back for `compare`: one or more files of one plan, their
//! outcomes gathered by plugin and dataset, each candidate's records checked to be the same
//! records in the same order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

/// One record's cluster and per-record metrics (the plugin's, and `reward`).
#[derive(Debug, Clone)]
pub struct Row {
    /// The record's id.
    pub id: String,
    /// Its cluster.
    pub unit: String,
    /// Metric name → value; a metric the plugin does not give for this record is absent.
    pub metrics: BTreeMap<String, f64>,
    /// Slice label → this record's subgroup.
    pub slices: BTreeMap<String, String>,
}

/// The candidates' rows on one dataset, scored by one plugin.
#[derive(Debug)]
pub struct Group {
    /// The plugin's label.
    pub plugin: String,
    /// The dataset's label.
    pub dataset: String,
    /// The metrics, in the plugin's order, then `reward`.
    pub metrics: Vec<String>,
    /// Candidate label → its rows, in dataset order; candidates in the plan's order.
    pub candidates: Vec<(String, Vec<Row>)>,
}

/// A candidate's training curve, as `eval` found it beside the adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The candidate's label.
    pub candidate: String,
    /// Training loss per logged step.
    pub train: Vec<(u64, f64)>,
    /// Validation loss per evaluation.
    pub eval: Vec<(u64, f64)>,
}

/// What `compare` reads.
#[derive(Debug)]
pub struct Compared {
    /// sha256 of the plan.
    pub plan: String,
    /// The plan's `unit` pointer, if any.
    pub unit: Option<String>,
    /// The plan's slice labels.
    pub slices: Vec<String>,
    /// The groups, in the order first seen.
    pub groups: Vec<Group>,
    /// The training curves of the candidates that have one (runs' adapters), in plan order.
    pub curves: Vec<Curve>,
}

/// Read `files`, all results of one plan.
pub fn read(files: &[PathBuf]) -> anyhow::Result<Compared> {
    let mut compared: Option<Compared> = None;
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read `{}`", file.display()))?;
        let document: Value = serde_json::from_str(&text).with_context(|| format!("`{}`: expected `eval`'s results (JSON)", file.display()))?;
        let plan = text_at(&document, "/plan/sha256", file)?;
        if compared.is_none() {
            compared = Some(Compared {
                plan: plan.clone(),
                unit: document["unit"].as_str().map(str::to_owned),
                slices: document["slices"].as_array().into_iter().flatten().filter_map(|s| s["label"].as_str().map(str::to_owned)).collect(),
                groups: Vec::new(),
                curves: curves(&document, file)?,
            });
        }
        let gathered = compared.as_mut().expect("set above");
        if gathered.plan != plan {
            bail!("`{}`: results of another plan (sha256 {plan}, the first file's is {})", file.display(), gathered.plan);
        }
        let metrics = plugin_metrics(&document, file)?;
        for outcome in document["results"].as_array().with_context(|| format!("`{}`: expected a `results` list", file.display()))? {
            add(gathered, outcome, &metrics, file)?;
        }
    }
    let compared = compared.context("expected at least one results file")?;
    for group in &compared.groups {
        aligned(group)?;
    }
    Ok(compared)
}

/// The candidates' training curves (`candidates[].training`, absent or null for none).
fn curves(document: &Value, file: &Path) -> anyhow::Result<Vec<Curve>> {
    let candidates = document["candidates"].as_array().with_context(|| format!("`{}`: expected a `candidates` list", file.display()))?;
    let mut curves = Vec::new();
    for candidate in candidates.iter().filter(|c| !c["training"].is_null()) {
        let label = text_at(candidate, "/label", file)?;
        let points = |list: &str| -> anyhow::Result<Vec<(u64, f64)>> {
            let malformed = || format!("`{}`: candidate `{label}`: expected `training.{list}` as [step, loss] pairs", file.display());
            let pairs = candidate["training"][list].as_array().with_context(malformed)?;
            pairs.iter().map(|pair| pair[0].as_u64().zip(pair[1].as_f64()).with_context(malformed)).collect()
        };
        curves.push(Curve { train: points("train")?, eval: points("eval")?, candidate: label });
    }
    Ok(curves)
}

/// Plugin label → its metric names, in its order, then `reward`.
fn plugin_metrics(document: &Value, file: &Path) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let plugins = document["plugins"].as_array().with_context(|| format!("`{}`: expected a `plugins` list", file.display()))?;
    plugins
        .iter()
        .map(|plugin| {
            let label = text_at(plugin, "/label", file)?;
            let mut names: Vec<String> = plugin["metrics"]
                .as_array()
                .map(|metrics| metrics.iter().filter_map(|m| m["name"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            names.push("reward".to_owned());
            Ok((label, names))
        })
        .collect()
}

/// Add one outcome of `file` to its group.
fn add(compared: &mut Compared, outcome: &Value, metrics: &BTreeMap<String, Vec<String>>, file: &Path) -> anyhow::Result<()> {
    let (candidate, plugin, dataset) = (text_at(outcome, "/candidate", file)?, text_at(outcome, "/plugin", file)?, text_at(outcome, "/dataset", file)?);
    let rows = outcome["records"]
        .as_array()
        .with_context(|| format!("`{}`: expected the records of {candidate} · {plugin} · {dataset}", file.display()))?
        .iter()
        .map(|record| row(record, file))
        .collect::<anyhow::Result<Vec<Row>>>()?;
    let index = match compared.groups.iter().position(|g| g.plugin == plugin && g.dataset == dataset) {
        Some(index) => index,
        None => {
            let names = metrics.get(&plugin).cloned().unwrap_or_else(|| vec!["reward".to_owned()]);
            compared.groups.push(Group { plugin, dataset, metrics: names, candidates: Vec::new() });
            compared.groups.len() - 1
        }
    };
    let group = &mut compared.groups[index];
    if !group.candidates.iter().any(|(label, _)| *label == candidate) {
        group.candidates.push((candidate, rows));
    }
    Ok(())
}

fn row(record: &Value, file: &Path) -> anyhow::Result<Row> {
    let id = text_at(record, "/id", file)?;
    let unit = record["unit"].as_str().unwrap_or(&id).to_owned();
    let mut metrics: BTreeMap<String, f64> =
        record["metrics"].as_object().into_iter().flatten().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect();
    if let Some(reward) = record["reward"].as_f64() {
        metrics.insert("reward".to_owned(), reward);
    }
    let slices = record["slices"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Ok(Row { id, unit, metrics, slices })
}

impl Group {
    /// The subgroups of slice `slice`, in order, each with this group's rows in it.
    pub fn slices(&self, slice: &str) -> Vec<(String, Group)> {
        let Some((_, rows)) = self.candidates.first() else {
            return Vec::new();
        };
        let mut values: Vec<&String> = rows.iter().filter_map(|r| r.slices.get(slice)).collect();
        values.sort();
        values.dedup();
        values
            .into_iter()
            .map(|value| {
                let keep: Vec<bool> = rows.iter().map(|r| r.slices.get(slice) == Some(value)).collect();
                let candidates = self
                    .candidates
                    .iter()
                    .map(|(label, rows)| (label.clone(), rows.iter().zip(&keep).filter(|(_, k)| **k).map(|(r, _)| r.clone()).collect()))
                    .collect();
                let sub = Group { plugin: self.plugin.clone(), dataset: self.dataset.clone(), metrics: self.metrics.clone(), candidates };
                (value.clone(), sub)
            })
            .collect()
    }
}

/// Every candidate of `group` has the first's record ids, in order.
fn aligned(group: &Group) -> anyhow::Result<()> {
    let Some((first, rows)) = group.candidates.first() else {
        return Ok(());
    };
    for (label, other) in &group.candidates[1..] {
        let same = rows.len() == other.len() && rows.iter().zip(other).all(|(a, b)| a.id == b.id);
        if !same {
            bail!(
                "dataset `{}` (plugin `{}`): candidate `{label}` answered other records than `{first}` ({} against {}): expected the same records, in the same order",
                group.dataset,
                group.plugin,
                other.len(),
                rows.len()
            );
        }
    }
    Ok(())
}

/// The text at JSON pointer `pointer` of `value`, or an error naming `file` and the pointer.
fn text_at(value: &Value, pointer: &str, file: &Path) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("`{}`: expected text at `{pointer}` of `eval`'s results", file.display()))
}

//! An evaluation plan (`eval PLAN.toml`): one base model, the candidates (the base itself or
//! an adapter folder, each with a label and a decoding), the plugins that score (several
//! versions of one task allowed), the datasets. Paths are relative to the plan's folder;
//! every problem names `file:line:column` and the key.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::args::QuantizationArg;
use crate::recipe::Position;
use crate::stages::predictions::Decoding;

/// A plan, read and checked.
#[derive(Debug)]
pub struct Plan {
    /// The plan file as given.
    pub file: PathBuf,
    /// sha256 of its bytes: the results file names it.
    pub sha256: String,
    /// The base model.
    pub model: PathBuf,
    /// How its frozen weights are held.
    pub quantization: QuantizationArg,
    /// Cap on new tokens per answer (`None`: each plugin's hint).
    pub max_new_tokens: Option<u32>,
    /// Prompts generated together.
    pub batch: usize,
    /// A system message in place of the plugins'.
    pub system_prompt: Option<String>,
    /// JSON pointer into each record naming its cluster for `compare` (a patient id); `None`:
    /// the record itself.
    pub unit: Option<String>,
    /// What answers.
    pub candidates: Vec<Candidate>,
    /// What scores.
    pub plugins: Vec<Labelled>,
    /// What is answered.
    pub datasets: Vec<Labelled>,
    /// Subgroups `compare` tabulates apart.
    pub slices: Vec<Slice>,
}

/// A subgroup definition: the value at a JSON pointer of each record, or for numbers, the
/// band it falls in.
#[derive(Debug, Clone)]
pub struct Slice {
    /// Its name in the results.
    pub label: String,
    /// JSON pointer into the record.
    pub pointer: String,
    /// Ascending band edges for numbers: `[18, 65]` gives `<18`, `18–65`, `≥65`.
    pub bands: Vec<f64>,
}

impl Slice {
    /// The subgroup of `record` (`missing` when the pointer finds nothing).
    pub fn of(&self, record: &serde_json::Value) -> String {
        match record.pointer(&self.pointer) {
            None | Some(serde_json::Value::Null) => "missing".to_owned(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(value) => match (value.as_f64(), self.bands.is_empty()) {
                (Some(number), false) => band(number, &self.bands),
                _ => value.to_string(),
            },
        }
    }
}

/// The band of `number` among ascending `edges`.
fn band(number: f64, edges: &[f64]) -> String {
    let show = |edge: f64| edge.to_string();
    match edges.iter().position(|&edge| number < edge) {
        Some(0) => format!("<{}", show(edges[0])),
        Some(i) => format!("{}–{}", show(edges[i - 1]), show(edges[i])),
        None => format!("≥{}", show(edges[edges.len() - 1])),
    }
}

/// A model that answers: the base, or the base with an adapter.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its name in the results.
    pub label: String,
    /// The adapter folder, if any.
    pub adapter: Option<PathBuf>,
    /// Free or schema-constrained.
    pub decoding: Decoding,
}

/// A plugin or a dataset, with its name in the results.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Its name in the results.
    pub label: String,
    /// The file.
    pub path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    model: Spanned<String>,
    quantization: Option<Spanned<String>>,
    max_new_tokens: Option<Spanned<u32>>,
    batch: Option<Spanned<usize>>,
    system_prompt: Option<String>,
    unit: Option<Spanned<String>>,
    #[serde(default)]
    candidate: Vec<RawCandidate>,
    #[serde(default)]
    plugin: Vec<RawLabelled>,
    #[serde(default)]
    dataset: Vec<RawLabelled>,
    #[serde(default)]
    slice: Vec<RawSlice>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlice {
    label: Spanned<String>,
    pointer: Spanned<String>,
    bands: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCandidate {
    label: Spanned<String>,
    adapter: Option<Spanned<String>>,
    decoding: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLabelled {
    label: Spanned<String>,
    path: Spanned<String>,
}

impl Plan {
    /// Read and check the plan at `file`.
    pub fn load(file: &Path) -> anyhow::Result<Plan> {
        let bytes = rapha_sandbox::input::read_capped(file, 1 << 20).with_context(|| format!("cannot read the plan `{}`", file.display()))?;
        let text = String::from_utf8(bytes).with_context(|| format!("`{}`: expected UTF-8 text", file.display()))?;
        let raw: RawPlan = toml::from_str(&text).map_err(|e| anyhow::anyhow!("`{}`: {e}", file.display()))?;
        let check = Check { file, text: &text, folder: file.parent().unwrap_or(Path::new(".")) };
        check.labels(&raw)?;
        let quantization = match raw.quantization.as_ref().map(|q| (q.get_ref().as_str(), q.span())) {
            None | Some(("nf4", _)) => QuantizationArg::Nf4,
            Some(("none", _)) => QuantizationArg::None,
            Some((other, span)) => bail!(check.at(span.start, "quantization", "`nf4` or `none`", &format!("`{other}`"))),
        };
        let batch = match &raw.batch {
            Some(b) if !(1..=256).contains(b.get_ref()) => bail!(check.at(b.span().start, "batch", "1 to 256", &b.get_ref().to_string())),
            Some(b) => *b.get_ref(),
            None => 4,
        };
        if let Some(cap) = raw.max_new_tokens.as_ref().filter(|c| !(1..=4096).contains(c.get_ref())) {
            bail!(check.at(cap.span().start, "max_new_tokens", "1 to 4096", &cap.get_ref().to_string()));
        }
        if let Some(unit) = raw.unit.as_ref().filter(|u| !u.get_ref().starts_with('/')) {
            bail!(check.at(unit.span().start, "unit", "a JSON pointer such as `/patient_id`", &format!("`{}`", unit.get_ref())));
        }
        let plan = Plan {
            file: file.to_owned(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            model: check.existing(&raw.model, "model")?,
            quantization,
            max_new_tokens: raw.max_new_tokens.map(Spanned::into_inner),
            batch,
            system_prompt: raw.system_prompt,
            unit: raw.unit.map(Spanned::into_inner),
            candidates: raw.candidate.iter().map(|c| check.candidate(c)).collect::<anyhow::Result<_>>()?,
            plugins: raw.plugin.iter().map(|p| check.labelled(p, "plugin")).collect::<anyhow::Result<_>>()?,
            datasets: raw.dataset.iter().map(|d| check.labelled(d, "dataset")).collect::<anyhow::Result<_>>()?,
            slices: raw.slice.iter().map(|s| check.slice(s)).collect::<anyhow::Result<_>>()?,
        };
        Ok(plan)
    }

    /// Every file and folder the plan reads.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut inputs = vec![self.file.clone(), self.model.clone()];
        inputs.extend(self.candidates.iter().filter_map(|c| c.adapter.clone()));
        inputs.extend(self.plugins.iter().chain(&self.datasets).map(|l| l.path.clone()));
        inputs
    }
}

/// The plan's text, for positions, and its folder, for paths.
struct Check<'a> {
    file: &'a Path,
    text: &'a str,
    folder: &'a Path,
}

impl Check<'_> {
    /// `file:line:column: `key`: expected …, found …`.
    fn at(&self, offset: usize, key: &str, expected: &str, found: &str) -> String {
        let Position { line, column } = Position::of_offset(self.text, offset);
        format!("{}:{line}:{column}: `{key}`: expected {expected}, found {found}", self.file.display())
    }

    /// The path of `value` joined onto the plan's folder; an error when nothing is there.
    fn existing(&self, value: &Spanned<String>, key: &str) -> anyhow::Result<PathBuf> {
        let path = self.folder.join(value.get_ref());
        if !path.exists() {
            bail!(self.at(value.span().start, key, "an existing path", &format!("`{}`, which does not exist", path.display())));
        }
        Ok(path)
    }

    fn candidate(&self, raw: &RawCandidate) -> anyhow::Result<Candidate> {
        let decoding = match raw.decoding.as_ref().map(|d| (d.get_ref().as_str(), d.span())) {
            None | Some(("free", _)) => Decoding::Free,
            Some(("schema", _)) => Decoding::Schema,
            Some((other, span)) => bail!(self.at(span.start, "candidate.decoding", "`free` or `schema`", &format!("`{other}`"))),
        };
        let adapter = raw.adapter.as_ref().map(|a| self.existing(a, "candidate.adapter")).transpose()?;
        Ok(Candidate { label: raw.label.get_ref().clone(), adapter, decoding })
    }

    fn slice(&self, raw: &RawSlice) -> anyhow::Result<Slice> {
        if !raw.pointer.get_ref().starts_with('/') {
            bail!(self.at(raw.pointer.span().start, "slice.pointer", "a JSON pointer such as `/sex`", &format!("`{}`", raw.pointer.get_ref())));
        }
        let bands = raw.bands.as_ref().map_or(Vec::new(), |b| b.get_ref().clone());
        if let Some(spanned) = &raw.bands
            && !(bands.windows(2).all(|pair| pair[0] < pair[1]) && bands.iter().all(|b| b.is_finite()))
        {
            bail!(self.at(spanned.span().start, "slice.bands", "finite numbers in ascending order", &format!("{bands:?}")));
        }
        Ok(Slice { label: raw.label.get_ref().clone(), pointer: raw.pointer.get_ref().clone(), bands })
    }

    fn labelled(&self, raw: &RawLabelled, table: &str) -> anyhow::Result<Labelled> {
        Ok(Labelled { label: raw.label.get_ref().clone(), path: self.existing(&raw.path, &format!("{table}.path"))? })
    }

    /// At least one of each table but `[[slice]]`, labels unique within each.
    fn labels(&self, raw: &RawPlan) -> anyhow::Result<()> {
        let tables: [(&str, bool, Vec<&Spanned<String>>); 4] = [
            ("candidate", true, raw.candidate.iter().map(|c| &c.label).collect()),
            ("plugin", true, raw.plugin.iter().map(|p| &p.label).collect()),
            ("dataset", true, raw.dataset.iter().map(|d| &d.label).collect()),
            ("slice", false, raw.slice.iter().map(|s| &s.label).collect()),
        ];
        for (table, required, labels) in tables {
            if required && labels.is_empty() {
                bail!("`{}`: expected at least one `[[{table}]]`, found none", self.file.display());
            }
            let mut seen = BTreeSet::new();
            for label in labels {
                if !seen.insert(label.get_ref()) {
                    let found = format!("`{}` a second time", label.get_ref());
                    bail!(self.at(label.span().start, &format!("{table}.label"), "labels unique within the table", &found));
                }
            }
        }
        Ok(())
    }
}

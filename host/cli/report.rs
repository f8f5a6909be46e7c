//! The closing table of base-vs-adapter metrics, and `report.txt` for the export folder.
//!
//! `report.txt` leaves the building, so it is rendered from a fixed template whose
//! every value is typed: numbers at the precision [`rapha_sandbox::disclosure`] allows,
//! counts under the small-cell rule, identifier-like strings the host controls, or enums.
//! [`render_report`] also returns each rendered value, which the gate exempts from its
//! identifier checks; its verbatim check still covers everything.

use std::fmt::Write as _;
use std::path::Path;

use rapha_sandbox::Count;
use rapha_sandbox::disclosure;

/// Marks a delta that moved the metric the right way.
const BETTER: &str = "▲";
/// Marks a delta that moved the metric the wrong way.
const WORSE: &str = "▼";
/// Marks a delta of zero at the shown precision.
const EQUAL: &str = "=";
/// Shown for a value computed over fewer than 11 records (the small-cell rule).
const SUPPRESSED: &str = "n<11";
/// Shown for a delta that cannot be computed.
const NO_DELTA: &str = "—";

/// One metric in the base-vs-adapter comparison: values as [`disclosure::round`] leaves
/// them; `None` = suppressed by the small-cell rule (or not returned by the plugin).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub name: String,
    pub higher_is_better: bool,
    pub base: Option<f64>,
    pub adapter: Option<f64>,
}

/// What the adapter is compared with: the base model, or, in a federated round after the
/// first, the global adapter the round started from (the previous round's merge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    Base,
    Global,
}

impl Baseline {
    /// The column's name.
    fn label(self) -> &'static str {
        match self {
            Baseline::Base => "base",
            Baseline::Global => "start",
        }
    }

    /// What the title says the column is.
    fn meaning(self) -> &'static str {
        match self {
            Baseline::Base => "",
            Baseline::Global => "start: the global adapter the round began from; ",
        }
    }
}

/// The table: metric | base | adapter | delta, with the delta signed and marked
/// better/worse by `higher_is_better` (e.g. "+0.213 ▲" / "-0.050 ▼", "=" when equal), values at
/// their significant digits, columns aligned; a suppressed value shows as `n<11` and its delta
/// as `—`. `records` = how many test records each value is computed over, in a title line.
///
/// ▲ means better and ▼ worse, whichever way the metric runs: a lower-is-better metric
/// that fell shows a negative delta marked ▲. The title line says so.
pub fn comparison_table(rows: &[MetricRow], records: Count, baseline: Baseline) -> String {
    let mut cells: Vec<[String; 4]> = vec![["metric".into(), baseline.label().into(), "adapter".into(), "delta".into()]];
    cells.extend(rows.iter().map(|row| {
        [
            row.name.escape_debug().to_string(),
            value_cell(row.base),
            value_cell(row.adapter),
            delta_cell(row),
        ]
    }));
    let width = |column: usize| cells.iter().map(|row| row[column].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    let mut table = format!(
        "{} vs adapter, each over {records} test records ({}{BETTER} better, {WORSE} worse)\n",
        baseline.label(),
        baseline.meaning()
    );
    for [name, base, adapter, delta] in &cells {
        let line = format!(
            "{name}{}  {}{base}  {}{adapter}  {delta}",
            pad(name, widths[0]),
            pad(base, widths[1]),
            pad(adapter, widths[2]),
        );
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

fn pad(cell: &str, width: usize) -> String {
    " ".repeat(width.saturating_sub(cell.chars().count()))
}

fn value_cell(value: Option<f64>) -> String {
    value.map_or_else(|| SUPPRESSED.to_owned(), disclosure::display)
}

/// The signed delta, exact on the values' decimal grid, and its mark; equal when zero.
fn delta_cell(row: &MetricRow) -> String {
    let (Some(base), Some(adapter)) = (row.base, row.adapter) else {
        return NO_DELTA.to_owned();
    };
    let delta = disclosure::difference(base, adapter);
    let places = disclosure::places(base).max(disclosure::places(adapter));
    if delta == 0.0 {
        return format!("{delta:.places$} {EQUAL}");
    }
    let mark = if (delta > 0.0) == row.higher_is_better {
        BETTER
    } else {
        WORSE
    };
    format!("{delta:+.places$} {mark}")
}

/// Typed fields of report.txt. Nothing free-form: every value is a number, an identifier-like
/// string the host controls (task id, versions, file names, hex hashes) or an enum.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFields {
    pub task: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    /// The model's file or folder name only; a full path is cut to its last component.
    pub model: String,
    /// `"nf4"` | `"none"`.
    pub quantization: String,
    pub bytes_per_param: f64,
    /// e.g. `"r=16 alpha=32 targets=q_proj,k_proj"`.
    pub lora: String,
    pub steps: u64,
    pub best_step: u64,
    pub stopped_early: bool,
    pub train_records: Count,
    pub val_records: Count,
    pub test_records: Count,
    /// The engine's training throughput (plugins do not run during steps).
    pub tokens_per_second: f64,
    /// Rounded by [`disclosure::round`], as the loss below.
    pub final_train_loss: Option<f64>,
    pub best_eval_loss: Option<f64>,
    /// e.g. `"strict: landlock abi 7, tcp denied, seccomp socket filter"`.
    pub sandbox: String,
    /// The exported metrics only (at most [`disclosure::MAX_EXPORTED_METRICS`]).
    pub rows: Vec<MetricRow>,
    /// The test records each metric is computed over.
    pub eval_records: Count,
    /// What the `base` values are of.
    pub baseline: Baseline,
    /// [`disclosure::channel_bits`] of this export.
    pub channel_bits: f64,
    /// A private run's guarantee.
    pub privacy: Option<Section>,
    /// The leakage audit's figures and verdict.
    pub audit: Option<Section>,
}

/// A section the report and `metrics.json` both carry (differential privacy, the audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// The report's lines (label, value).
    pub lines: Vec<(&'static str, String)>,
    /// Its object in `metrics.json` (`privacy`, `audit`).
    pub document: serde_json::Value,
}

/// Render report.txt from a fixed template. Returns the text and the rendered value of every
/// typed field (the egress gate exempts exactly these strings from its identifier checks).
///
/// String fields are escaped (`escape_debug`) so that each stays on its line. The
/// returned values are unique and longest first, so that the gate, which blanks them
/// one after another, never blanks part of a longer value before the value itself.
pub fn render_report(fields: &ReportFields) -> (String, Vec<String>) {
    let model = Path::new(&fields.model)
        .file_name()
        .map_or_else(|| fields.model.clone(), |name| name.to_string_lossy().into_owned());
    let text_field = |value: &str| value.escape_debug().to_string();
    let number = |value: Option<f64>| value.map_or_else(|| "none".to_owned(), disclosure::display);
    let mut lines: Vec<(&str, String)> = vec![
        ("task", text_field(&fields.task)),
        ("plugin version", text_field(&fields.plugin_version)),
        ("plugin sha256", text_field(&fields.plugin_sha256)),
        ("model", text_field(&model)),
        ("quantization", text_field(&fields.quantization)),
        ("bytes per param", format!("{:.4}", fields.bytes_per_param)),
        ("lora", text_field(&fields.lora)),
        ("sandbox", text_field(&fields.sandbox)),
        ("steps", fields.steps.to_string()),
        ("best step", fields.best_step.to_string()),
        (
            "stopped early",
            if fields.stopped_early { "yes" } else { "no" }.to_owned(),
        ),
        ("train records", fields.train_records.to_string()),
        ("val records", fields.val_records.to_string()),
        ("test records", fields.test_records.to_string()),
        ("tokens per second", format!("{:.1}", fields.tokens_per_second)),
        ("final train loss", number(fields.final_train_loss)),
        ("best eval loss", number(fields.best_eval_loss)),
        ("eval records", fields.eval_records.to_string()),
        ("metric channel", format!("at most {:.1} bits", fields.channel_bits)),
    ];
    lines.extend([&fields.privacy, &fields.audit].into_iter().flatten().flat_map(|section| section.lines.iter().cloned()));
    let label_width = lines.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut text = String::from("rapha-host run report\n\n");
    for (label, value) in &lines {
        writeln!(text, "{label:label_width$}  {value}").expect("writing to a String cannot fail");
    }
    text.push('\n');
    text.push_str(&comparison_table(&fields.rows, fields.eval_records, fields.baseline));

    let mut values: Vec<String> = lines.into_iter().map(|(_, value)| value).collect();
    for row in &fields.rows {
        values.push(row.name.escape_debug().to_string());
        values.extend(
            [row.base, row.adapter]
                .into_iter()
                .flatten()
                .map(disclosure::display),
        );
        let delta = delta_cell(row);
        if let Some((number, _mark)) = delta.split_once(' ') {
            values.push(number.to_owned());
        }
    }
    values.retain(|value| !value.is_empty());
    values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    values.dedup();
    (text, values)
}

#[cfg(test)]
mod tests {
    use rapha_sandbox::VerbatimIndex;

    use super::*;

    fn row(name: &str, higher_is_better: bool, base: Option<f64>, adapter: Option<f64>) -> MetricRow {
        MetricRow {
            name: name.to_owned(),
            higher_is_better,
            base,
            adapter,
        }
    }

    fn fields() -> ReportFields {
        ReportFields {
            task: "fhir-extraction".into(),
            plugin_version: "0.1.0".into(),
            plugin_sha256: "0f3a9c1e5b7d2468ace13579bdf02468ace13579bdf02468ace13579bdf02468".into(),
            model: "/srv/models/SmolLM2-135M-Instruct".into(),
            quantization: "nf4".into(),
            bytes_per_param: 0.515625,
            lora: "r=16 alpha=32 targets=q_proj,k_proj,v_proj,o_proj".into(),
            steps: 500,
            best_step: 400,
            stopped_early: true,
            train_records: Count::of(1200),
            val_records: Count::of(100),
            test_records: Count::of(100),
            tokens_per_second: 1234.56,
            final_train_loss: Some(0.812),
            best_eval_loss: Some(0.7),
            sandbox: "strict: landlock abi 7, tcp denied, seccomp socket filter".into(),
            rows: vec![
                row("field_f1", true, Some(0.213), Some(0.426)),
                row("error_rate", false, Some(0.5), Some(0.45)),
                row("rare_code_recall", true, None, Some(0.1)),
            ],
            eval_records: Count::of(100),
            baseline: Baseline::Base,
            channel_bits: 89.5,
            privacy: None,
            audit: None,
        }
    }

    /// Synthetic notes in the style of the training data; never real patient text.
    const NOTES: &[&str] = &[
        "Pt is a 67 y/o male with hx of T2DM, presents c/o chest pain radiating to the left arm. \
         MRN 00482913. Seen on 03/04/2024, follow up with cardiology in two weeks.",
        "Discharge summary: 54 year old woman admitted for community acquired pneumonia, treated \
         with ceftriaxone and azithromycin, afebrile at discharge, steps up to 500 metres.",
    ];

    #[test]
    fn table_marks_a_fall_in_a_lower_is_better_metric_as_better() {
        let table = comparison_table(
            &[
                row("error_rate", false, Some(0.5), Some(0.45)),
                row("latency", false, Some(0.2), Some(0.25)),
            ],
            Count::of(120),
            Baseline::Base,
        );
        let expected = "\
base vs adapter, each over 120 test records (▲ better, ▼ worse)
metric       base  adapter  delta
error_rate  0.500    0.450  -0.050 ▲
latency     0.200    0.250  +0.050 ▼
";
        assert_eq!(table, expected, "\n{table}");
    }

    /// A federated round after the first compares with the global adapter it started from,
    /// and says so.
    #[test]
    fn a_later_rounds_table_names_its_start() {
        let table = comparison_table(&[row("f1", true, Some(0.284), Some(0.377))], Count::of(16), Baseline::Global);
        let expected = "\
start vs adapter, each over 16 test records (start: the global adapter the round began from; ▲ better, ▼ worse)
metric  start  adapter  delta
f1      0.284    0.377  +0.093 ▲
";
        assert_eq!(table, expected, "\n{table}");
    }

    #[test]
    fn table_marks_higher_is_better_equal_and_suppressed_values() {
        let table = comparison_table(
            &[
                row("rouge1", true, Some(0.213), Some(0.426)),
                row("exact", true, Some(0.7), Some(0.6)),
                row("f1", true, Some(0.5), Some(0.5)),
                row("length_ratio", false, Some(0.987), Some(12.3)),
                row("recall", true, None, Some(0.9)),
            ],
            Count::of(10),
            Baseline::Base,
        );
        let expected = "\
base vs adapter, each over <11 test records (▲ better, ▼ worse)
metric         base  adapter  delta
rouge1        0.213    0.426  +0.213 ▲
exact         0.700    0.600  -0.100 ▼
f1            0.500    0.500  0.000 =
length_ratio  0.987     12.3  +11.313 ▼
recall         n<11    0.900  —
";
        assert_eq!(table, expected, "\n{table}");
    }

    #[test]
    fn rendered_report_passes_the_egress_text_check_with_its_fields() {
        let (text, exempt) = render_report(&fields());
        let verbatim = VerbatimIndex::new(8, NOTES.iter().copied());
        rapha_sandbox::inspect::text(text.as_bytes(), &verbatim, &exempt)
            .unwrap_or_else(|reason| panic!("report refused: {reason}\n{text}"));
        assert!(text.contains("model              SmolLM2-135M-Instruct\n"), "{text}");
        assert!(!text.contains("/srv/models"), "{text}");
        assert!(text.contains("tokens per second  1234.6\n"), "{text}");
        assert!(text.contains("best eval loss     0.700\n"), "{text}");
        assert!(text.contains("metric channel     at most 89.5 bits\n"), "{text}");
        assert!(text.contains("rare_code_recall   n<11    0.100  —\n"), "{text}");
    }

    #[test]
    fn a_field_that_looks_like_an_identifier_passes_only_as_a_template_field() {
        let mut fields = fields();
        fields.train_records = Count::of(12_345_678);
        let (text, exempt) = render_report(&fields);
        let verbatim = VerbatimIndex::new(8, NOTES.iter().copied());
        assert_eq!(
            rapha_sandbox::inspect::text(text.as_bytes(), &verbatim, &[]),
            Err("holds what looks like a record number".to_owned())
        );
        assert_eq!(
            rapha_sandbox::inspect::text(text.as_bytes(), &verbatim, &exempt),
            Ok(())
        );
    }

    #[test]
    fn a_copied_run_of_note_text_in_a_field_is_still_refused() {
        let mut fields = fields();
        fields.lora = "pt is a 67 y o male with hx of t2dm".into();
        let (text, exempt) = render_report(&fields);
        let verbatim = VerbatimIndex::new(8, NOTES.iter().copied());
        let refusal = rapha_sandbox::inspect::text(text.as_bytes(), &verbatim, &exempt).expect_err("copied words");
        assert!(refusal.starts_with("a run of 8 words copied"), "{refusal}");
    }

    #[test]
    fn string_fields_stay_on_their_line_and_exempt_values_are_unique_longest_first() {
        let mut fields = fields();
        fields.task = "icd\ncoding".into();
        let (text, exempt) = render_report(&fields);
        assert!(text.contains("task               icd\\ncoding\n"), "{text}");
        assert!(exempt.contains(&"icd\\ncoding".to_owned()));
        assert!(
            exempt.windows(2).all(|pair| pair[0].len() >= pair[1].len()),
            "{exempt:?}"
        );
        let mut unique = exempt.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), exempt.len(), "{exempt:?}");
    }
}

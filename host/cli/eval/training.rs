//! The training curve a candidate's adapter folder carries: a run exports
//! `loss_history.json` beside a non-private adapter, and `compare`'s report draws it next to
//! the metrics. A folder without one (PEFT's, a private run's) has no curve; a file that is
//! there but unreadable is an error, not a missing curve.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The history's file name in a run's export.
const FILE: &str = "loss_history.json";

/// Larger than any history a run writes (one point per logged step).
const MAX_BYTES: u64 = 8 << 20;

/// `{"train": [[step, loss], …], "eval": [[step, loss], …]}` from `adapter`'s history, or
/// `None` when it has none.
pub fn curve(adapter: &Path) -> anyhow::Result<Option<Value>> {
    let path = adapter.join(FILE);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = rapha_sandbox::input::read_capped(&path, MAX_BYTES).with_context(|| format!("cannot read `{}`", path.display()))?;
    let history: Value = serde_json::from_slice(&bytes).with_context(|| format!("`{}`: expected a run's loss history (JSON)", path.display()))?;
    let train = points(&history, "steps", "loss", &path)?;
    let eval = points(&history, "evals", "eval_loss", &path)?;
    Ok(Some(json!({"train": train, "eval": eval})))
}

/// The `(step, value)` pairs of the list `list`, each entry's `step` and `value`.
fn points(history: &Value, list: &str, value: &str, path: &Path) -> anyhow::Result<Vec<(u64, f64)>> {
    let Some(entries) = history.get(list).and_then(Value::as_array) else {
        bail!("`{}`: expected a list `{list}`", path.display());
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match (entry["step"].as_u64(), entry[value].as_f64()) {
            (Some(step), Some(loss)) => Ok((step, loss)),
            _ => bail!("`{}`: `{list}[{i}]`: expected a whole `step` and a number `{value}`", path.display()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_history_becomes_its_curve_and_a_folder_without_one_has_none() {
        let dir = tempfile::tempdir().expect("temporary folder");
        assert_eq!(curve(dir.path()).expect("no history"), None);
        let history = r#"{"evals": [{"eval_loss": 0.3, "records": 11, "step": 12}],
            "steps": [{"learning_rate": 0.001, "loss": 0.9, "step": 6, "steps_averaged": 6}, {"learning_rate": 0.0005, "loss": 0.4, "step": 12, "steps_averaged": 6}]}"#;
        std::fs::write(dir.path().join(FILE), history).expect("write");
        assert_eq!(curve(dir.path()).expect("a history"), Some(json!({"train": [[6, 0.9], [12, 0.4]], "eval": [[12, 0.3]]})));
    }

    #[test]
    fn a_malformed_history_is_refused_naming_the_entry() {
        let dir = tempfile::tempdir().expect("temporary folder");
        std::fs::write(dir.path().join(FILE), r#"{"evals": [], "steps": [{"loss": "low", "step": 6}]}"#).expect("write");
        let error = format!("{:#}", curve(dir.path()).expect_err("malformed"));
        assert!(error.contains("loss_history.json`: `steps[0]`: expected a whole `step` and a number `loss`"), "{error}");
    }
}

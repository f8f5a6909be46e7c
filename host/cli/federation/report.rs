//! `aggregate.txt`: the round's summary for a reader, from the same values as
//! `aggregate.json` — each site's test metrics at the start of the round and after it, and
//! over the sites the minimum and the harmonic mean.

use std::fmt::Write as _;

use serde_json::Value;

/// The text of `aggregate.txt` for `summary` (the contents of `aggregate.json`).
pub fn text(summary: &Value) -> String {
    let sites = summary["sites"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut out = String::new();
    let names: Vec<String> = sites.iter().map(|s| format!("{} ({} records)", s["site"].as_str().unwrap_or("?"), s["examples"])).collect();
    let _ = writeln!(out, "round {} ({}): {}", summary["round"], summary["strategy"].as_str().unwrap_or("?"), names.join(", "));
    let _ = writeln!(out, "‖ΔW − Σ wᵢΔWᵢ‖ / ‖Σ wᵢΔWᵢ‖ = {:.1e}", summary["relative_error"].as_f64().unwrap_or(f64::NAN));
    for refused in summary["refused"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let _ = writeln!(out, "refused `{}`: {}", refused["reply"].as_str().unwrap_or("?"), refused["reason"].as_str().unwrap_or("?"));
    }
    let _ = write!(out, "\ntest metric, start → trained   ");
    for site in sites {
        let _ = write!(out, "{:>16}", site["site"].as_str().unwrap_or("?"));
    }
    let _ = writeln!(out, "{:>16}{:>16}", "min", "harmonic mean");
    let metrics: Vec<String> = sites.first().and_then(|s| s["trained"].as_object()).map(|m| m.keys().cloned().collect()).unwrap_or_default();
    for metric in metrics {
        let _ = write!(out, "{metric:<30}");
        for site in sites {
            let _ = write!(out, "{:>16}", pair(&site["start"][&metric], &site["trained"][&metric]));
        }
        let over = &summary["over_sites"];
        for statistic in ["min", "harmonic_mean"] {
            let _ = write!(out, "{:>16}", pair(&over["start"][&metric][statistic], &over["trained"][&metric][statistic]));
        }
        out.push('\n');
    }
    out
}

/// "0.134 → 0.257", with `-` for a value the reply does not give (suppressed or absent).
fn pair(start: &Value, trained: &Value) -> String {
    let number = |v: &Value| v.as_f64().map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    format!("{} → {}", number(start), number(trained))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn every_site_metric_and_statistic_is_in_the_text() {
        let summary = json!({
            "round": 2, "strategy": "ffa", "relative_error": 2.7e-8,
            "sites": [
                {"site": "north", "examples": 200, "start": {"f1": 0.25}, "trained": {"f1": 0.5}},
                {"site": "south", "examples": 300, "start": {"f1": 0.125}, "trained": {"f1": null}},
            ],
            "over_sites": {"start": {"f1": {"min": 0.125, "harmonic_mean": 0.1667}}, "trained": {"f1": {}}},
            "refused": [{"reply": "r/east", "reason": "site `east`: not signed"}],
        });
        let text = super::text(&summary);
        assert!(text.starts_with("round 2 (ffa): north (200 records), south (300 records)\n"), "{text}");
        assert!(text.contains("= 2.7e-8\n"), "{text}");
        assert!(text.contains("refused `r/east`: site `east`: not signed\n"), "{text}");
        let row = text.lines().find(|l| l.starts_with("f1 ")).expect("the f1 row");
        let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
        assert_eq!(cells, ["f1", "0.250 → 0.500", "0.125 → -", "0.125 → -", "0.167 → -"]);
    }
}

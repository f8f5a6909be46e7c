//! `rapha-host compare` on results written as `eval` writes them: its intervals, paired
//! differences, McNemar and Holm p-values equal a plain computation written here with the
//! same seed; small cells are left out; bad inputs are refused by name.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rapha_sandbox::disclosure;
use serde_json::{Value, json};

use crate::run::read_text;
use crate::util::Dir;

const RECORDS: usize = 40;

/// Record `i`'s patient: 13 patients, several records each.
fn patient(i: usize) -> String {
    format!("p{}", i % 13)
}

/// Results of one plan: candidates `a` and `b` on dataset `d` scored by plugin `t`, whose
/// metrics are `hit` (0/1) and `score`; `b` hits more often and scores higher, and its
/// adapter came with a training curve.
fn results(plan: &str, records: usize) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut outcome = |candidate: &str, lift: f64| {
        let rows: Vec<Value> = (0..records)
            .map(|i| {
                let score: f64 = (rng.random::<f64>() * 0.6 + lift).min(1.0);
                let hit = if rng.random::<f64>() < 0.3 + lift { 1.0 } else { 0.0 };
                let slices = json!({"sex": if i % 2 == 0 { "female" } else { "male" }, "band": if i < 5 { "<18" } else { "≥18" }});
                json!({"id": format!("r{i}"), "unit": patient(i), "metrics": {"hit": hit, "score": score}, "reward": score, "slices": slices})
            })
            .collect();
        json!({"candidate": candidate, "plugin": "t", "dataset": "d", "records": rows})
    };
    let (a, b) = (outcome("a", 0.0), outcome("b", 0.3));
    json!({
        "plan": {"sha256": plan},
        "unit": "/patient",
        "slices": [{"label": "sex", "pointer": "/sex", "bands": []}, {"label": "band", "pointer": "/age", "bands": [18.0]}],
        "plugins": [{"label": "t", "metrics": [{"name": "hit", "higher_is_better": true}, {"name": "score", "higher_is_better": true}]}],
        "candidates": [{"label": "a", "training": null}, {"label": "b", "training": {"train": [[6, 0.941], [12, 0.35], [18, 0.25]], "eval": [[12, 0.293], [18, 0.266]]}}],
        "results": [a, b],
    })
}

/// One candidate's per-record `metric`, with the records' patients.
fn column(results: &Value, candidate: &str, metric: &str) -> (Vec<f64>, Vec<String>) {
    let outcome = results["results"].as_array().expect("the results written above").iter().find(|o| o["candidate"] == candidate).expect("the results written above");
    outcome["records"].as_array().expect("the results written above").iter().map(|r| (r["metrics"][metric].as_f64().expect("the results written above"), r["unit"].as_str().expect("the results written above").to_owned())).unzip()
}

/// Percentile interval of the mean from resampling patients, written plainly: patients in
/// sorted order, each resample's pooled mean, ranks ⌊q(B−1)⌋ of the sorted means.
fn plain_bootstrap(values: &[f64], units: &[String], resamples: usize, seed: u64) -> (f64, f64, Vec<f64>) {
    let mut keys: Vec<&String> = units.iter().collect();
    keys.sort();
    keys.dedup();
    let members: Vec<Vec<f64>> = keys.iter().map(|k| values.iter().zip(units).filter(|(_, u)| u == k).map(|(v, _)| *v).collect()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let pooled: Vec<f64> = (0..members.len()).flat_map(|_| members[rng.random_range(0..members.len())].clone()).collect();
            pooled.iter().sum::<f64>() / pooled.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let rank = |q: f64| means[(q * (resamples - 1) as f64).floor() as usize];
    (rank(0.025), rank(0.975), means)
}

fn rounded(value: f64) -> Value {
    json!(disclosure::round(value))
}

#[test]
fn compare_matches_a_plain_computation() {
    let dir = Dir::new();
    let input = results("plan-1", RECORDS);
    dir.create("results.json", &input.to_string());
    let stdout = dir.command().args(["compare", "results.json", "--resamples", "500", "--seed", "5"]).stdout();
    assert!(stdout.contains("clustered by `/patient`; differences against `a`"), "{stdout}");
    let report: Value = serde_json::from_str(&read_text(&dir.work().join("compare/results.json"))).expect("JSON");
    let comparison = &report["comparisons"][0];

    // b's mean score and its interval.
    let (score_b, units) = column(&input, "b", "score");
    let (low, high, _) = plain_bootstrap(&score_b, &units, 500, 5);
    let cell = &comparison["candidates"][1]["metrics"]["score"];
    assert_eq!(cell["value"], rounded(score_b.iter().sum::<f64>() / RECORDS as f64));
    assert_eq!((&cell["low"], &cell["high"], &cell["n"]), (&rounded(low), &rounded(high), &json!(RECORDS)));

    // b − a on score: the paired bootstrap and its p-value.
    let (score_a, _) = column(&input, "a", "score");
    let differences: Vec<f64> = score_b.iter().zip(&score_a).map(|(b, a)| b - a).collect();
    let (low, high, means) = plain_bootstrap(&differences, &units, 500, 5);
    let share = |k: usize| (k + 1) as f64 / 501.0;
    let p_score = (2.0 * share(means.iter().filter(|&&m| m <= 0.0).count()).min(share(means.iter().filter(|&&m| m >= 0.0).count()))).min(1.0);
    let find = |metric: &str| comparison["differences"].as_array().expect("the results written above").iter().find(|d| d["metric"] == metric).expect("the results written above").clone();
    let score = find("score");
    assert_eq!((&score["low"], &score["high"], &score["test"]), (&rounded(low), &rounded(high), &json!("bootstrap")));

    // hit is 0/1: exact McNemar over the discordant records.
    let (hit_a, _) = column(&input, "a", "hit");
    let (hit_b, _) = column(&input, "b", "hit");
    let b = hit_a.iter().zip(&hit_b).filter(|&(&x, &y)| x == 1.0 && y == 0.0).count() as u64;
    let c = hit_a.iter().zip(&hit_b).filter(|&(&x, &y)| x == 0.0 && y == 1.0).count() as u64;
    let n = b + c;
    let tail: f64 = (0..=b.min(c)).map(|k| (0..k).fold(1.0, |acc, j| acc * (n - j) as f64 / (j + 1) as f64) / 2f64.powi(n as i32)).sum();
    let p_hit = (2.0 * tail).min(1.0);
    let hit = find("hit");
    assert_eq!((&hit["test"], &hit["p"]), (&json!("mcnemar"), &rounded(p_hit)));

    // The female subgroup (even records) on its own, and the lowest subgroup mean.
    let female = report["comparisons"].as_array().expect("the results written above").iter().find(|c| c["slice"]["value"] == "female").expect("a female slice");
    let even = |v: &[f64]| v.iter().step_by(2).copied().collect::<Vec<f64>>();
    let (female_b, female_units) = (even(&score_b), units.iter().step_by(2).cloned().collect::<Vec<String>>());
    let (low, high, _) = plain_bootstrap(&female_b, &female_units, 500, 5);
    let cell = &female["candidates"][1]["metrics"]["score"];
    assert_eq!((&cell["low"], &cell["high"], &cell["n"]), (&rounded(low), &rounded(high), &json!(RECORDS / 2)));
    let male_mean = score_b.iter().skip(1).step_by(2).sum::<f64>() / (RECORDS / 2) as f64;
    let female_mean = female_b.iter().sum::<f64>() / (RECORDS / 2) as f64;
    let lowest = report["lowest_subgroup"].as_array().expect("the results written above");
    let sex_b = lowest.iter().find(|l| l["slice"] == "sex" && l["candidate"] == "b" && l["metric"] == "score").expect("b's lowest score by sex");
    let (at, mean) = if female_mean < male_mean { ("female", female_mean) } else { ("male", male_mean) };
    assert_eq!((&sex_b["at"], &sex_b["value"]), (&json!(at), &rounded(mean)));
    // Five records under 18: too few to show, and never the lowest.
    let young = report["comparisons"].as_array().expect("the results written above").iter().find(|c| c["slice"]["value"] == "<18").expect("a <18 slice");
    assert_eq!((&young["candidates"][0]["metrics"]["score"]["n"], &young["candidates"][0]["metrics"]["score"]["value"]), (&json!("<11"), &Value::Null));
    assert!(lowest.iter().all(|l| l["at"] != "<18"));

    rendered_report_holds_the_json_figures(&dir, &report);

    // Holm over hit, score and reward (reward = score here).
    let mut ps = [(p_hit, "hit"), (p_score, "score"), (p_score, "reward")];
    ps.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut running = 0.0f64;
    for (rank, (p, metric)) in ps.iter().enumerate() {
        running = running.max(((3 - rank) as f64 * p).min(1.0));
        assert_eq!(find(metric)["p_holm"], rounded(running), "{metric}");
    }
}

#[test]
fn small_cells_are_left_out_and_bad_inputs_refused() {
    let dir = Dir::new();
    dir.create("small.json", &results("plan-1", 8).to_string());
    dir.command().args(["compare", "small.json"]).stdout();
    let report = read_text(&dir.work().join("compare/small.json"));
    let parsed: Value = serde_json::from_str(&report).expect("the results written above");
    let cell = &parsed["comparisons"][0]["candidates"][0]["metrics"]["score"];
    assert_eq!((&cell["n"], &cell["value"], &cell["low"]), (&json!("<11"), &Value::Null, &Value::Null));
    assert!(read_text(&dir.work().join("compare/small.txt")).contains("<11 records"));

    dir.create("other.json", &results("plan-2", RECORDS).to_string());
    let refused = dir.command().args(["compare", "small.json", "other.json"]).fails_with(1);
    assert!(refused.stderr.contains("other.json`: results of another plan"), "{}", refused.stderr);

    let mut shuffled = results("plan-1", RECORDS);
    shuffled["results"][1]["records"].as_array_mut().expect("the results written above").swap(0, 1);
    dir.create("shuffled.json", &shuffled.to_string());
    let refused = dir.command().args(["compare", "shuffled.json"]).fails_with(1);
    assert!(refused.stderr.contains("dataset `d` (plugin `t`): candidate `b` answered other records than `a`"), "{}", refused.stderr);

    let refused = dir.command().args(["compare", "small.json", "--baseline", "c"]).fails_with(1);
    assert!(refused.stderr.contains("--baseline: expected one of the candidates [\"a\", \"b\"], found `c`"), "{}", refused.stderr);
}

/// Debian's Chromium, which `scripts/test.sh` installs; `None` (with a notice) outside CI.
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::path::PathBuf::from("/usr/bin/chromium");
    if path.is_file() {
        return Some(path);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "/usr/bin/chromium is missing: scripts/test.sh installs it");
    eprintln!("notice: skipping the browser check of compare's HTML: /usr/bin/chromium not found");
    None
}

/// The HTML report fetches nothing (no URL in it, a policy that forbids any fetch) and, as
/// a headless Chromium renders it, shows the JSON's figures for every candidate and the
/// JSON's training curves.
fn rendered_report_holds_the_json_figures(dir: &Dir, report: &Value) {
    let html_path = dir.work().join("compare/results.html");
    let html = read_text(&html_path);
    assert!(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""));
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains(" src=") && !html.contains(" href="), "a fetch in the report");
    let Some(chromium) = chromium() else {
        return;
    };
    let profile = tempfile::tempdir().expect("a browser profile folder");
    let output = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("<h1>Comparison of candidates</h1>"), "not rendered: {}", String::from_utf8_lossy(&output.stderr));
    let overall = &report["comparisons"][0];
    for candidate in overall["candidates"].as_array().expect("candidates") {
        let label = candidate["label"].as_str().expect("a label");
        for (metric, cell) in candidate["metrics"].as_object().expect("metrics") {
            let value = cell["value"].as_f64().expect("a figure over 40 records");
            let shown = format!("<td class=\"value\" data-key=\"{label}/{metric}\">{}</td>", disclosure::display(value));
            assert!(dom.contains(&shown), "{shown} not in the rendered report");
        }
    }
    let curves = report["training"].as_array().expect("training curves");
    assert_eq!(curves.len(), 1, "only `b` came with one");
    for line in ["train", "eval"] {
        let points: Vec<String> = curves[0][line].as_array().expect("points").iter().map(|p| format!("{}:{}", p[0], p[1])).collect();
        let shown = format!("<polyline class=\"{line}\" data-candidate=\"b\" data-points=\"{}\"", points.join(" "));
        assert!(dom.contains(&shown), "{shown} not in the rendered report");
    }
}

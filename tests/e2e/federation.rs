//! A federated round on one machine, the Rust side of it: two sites with keys train round 1
//! from the federation's seed on halves of the training data; `aggregate` verifies their
//! signed replies and merges them by FFA-LoRA, checked here against a plain weighted mean;
//! tampered, forged and foreign replies are refused while the round goes on; a site starts
//! round 2 from the global adapter, and refuses a global adapter of another model.

use std::fs;
use std::path::Path;

use candle_core::Device;
use rapha_engine::PeftAdapter;
use rapha_federation::signing::{SiteKey, Statement};
use rapha_plugin_artifacts::FHIR_EXTRACTION;
use serde_json::Value;

use crate::run::{Recipe, copy_fhir_data, model_sha256, read_json, read_text, sha256_file};
use crate::util::{Dir, root};

const SITES: [&str; 2] = ["north", "south"];

/// `site`'s recipe for `round`: its half of the training records, its own folders.
fn site_recipe(site: &str, round: u64) -> Recipe {
    let mut recipe = Recipe::tiny(FHIR_EXTRACTION);
    recipe
        .set("data", "train", &format!("\"data/{site}-train.jsonl\""))
        .set("paths", "work", &format!("\"{site}-{round}/work\""))
        .set("paths", "export", &format!("\"{site}-{round}/export\""))
        .set("audit", "enabled", "false")
        .set("federation", "site", &format!("\"{site}\""))
        .set("federation", "key", &format!("\"keys/{site}.key\""))
        .set("federation", "round", &round.to_string())
        .set("federation", "seed", "7");
    recipe
}

/// Keys for both sites (their public halves in `server-keys/`), and each site's half of the
/// training records.
fn federation(dir: &Dir) {
    copy_fhir_data(dir);
    let train = read_text(&dir.path().join("data/train.jsonl"));
    let lines: Vec<&str> = train.lines().collect();
    let (first, second) = lines.split_at(lines.len() * 2 / 5);
    for (site, part) in SITES.iter().zip([first, second]) {
        dir.create(&format!("data/{site}-train.jsonl"), &(part.join("\n") + "\n"));
        dir.command().args(["keys", "new", "--site", site, "--out", "keys"]).stdout();
        fs::create_dir_all(dir.path().join("server-keys")).expect("a folder");
        fs::copy(dir.path().join(format!("keys/{site}.pub.json")), dir.path().join(format!("server-keys/{site}.pub.json"))).expect("copy");
    }
}

fn run_site(dir: &Dir, site: &str, recipe: &Recipe) {
    let file = format!("{site}.toml");
    dir.create(&file, &recipe.text());
    dir.command().args(["run", &file]).stdout();
}

/// The manifest's inputs: (model sha256, plugin sha256).
fn hashes(export: &Path) -> (String, String) {
    let manifest = read_json(&export.join("manifest.json"));
    let hash = |role: &str| manifest["inputs"][role]["sha256"].as_str().expect("a hash").to_owned();
    (hash("model"), hash("plugin"))
}

fn aggregate(dir: &Dir, replies: &[&str], out: &str, model: &str, plugin: &str) -> crate::util::Output {
    let mut command = dir.command();
    command.args(["aggregate", "--out", out, "--keys", "server-keys", "--round", "1", "--model-sha256", model, "--plugin-sha256", plugin]);
    command.args(replies).output()
}

/// FFA-LoRA by plain loops: every reply kept the same A, which the global adapter has; the
/// global B is the replies' B weighted by their training records. The global adapter.
fn assert_weighted_mean(global: &Path, replies: &[std::path::PathBuf]) -> PeftAdapter {
    let load = |dir: &Path| PeftAdapter::load(dir, &Device::Cpu).expect("an adapter");
    let sites: Vec<(PeftAdapter, f64)> = replies
        .iter()
        .map(|dir| {
            let examples = read_json(&dir.join("manifest.json"))["inputs"]["datasets"][0]["records"].as_f64().expect("records");
            (load(dir), examples)
        })
        .collect();
    let global = load(global);
    let total: f64 = sites.iter().map(|(_, n)| n).sum();
    for (name, pair) in &global.modules {
        for (site, _) in &sites {
            assert_eq!(values(&pair.a), values(&site.modules[name].a), "{name}: the shared A");
        }
        let b: Vec<(Vec<f64>, f64)> = sites.iter().map(|(site, n)| (values(&site.modules[name].b), *n)).collect();
        for (i, found) in values(&pair.b).into_iter().enumerate() {
            let expected = b.iter().map(|(values, n)| n * values[i]).sum::<f64>() / total;
            assert!((found - expected).abs() <= 1e-6 * expected.abs().max(1e-3), "{name}[{i}]: {found} vs {expected}");
        }
    }
    global
}

fn values(tensor: &candle_core::Tensor) -> Vec<f64> {
    tensor.flatten_all().expect("flat").to_vec1::<f32>().expect("f32").into_iter().map(f64::from).collect()
}

#[test]
fn a_round_aggregates_signed_replies_exactly_and_refuses_bad_ones() {
    let dir = Dir::new();
    federation(&dir);
    for site in SITES {
        run_site(&dir, site, &site_recipe(site, 1));
    }
    let exports: Vec<String> = SITES.iter().map(|site| format!("{site}-1/export")).collect();
    let (model, plugin) = hashes(&dir.path().join(&exports[0]));
    let output = aggregate(&dir, &[&exports[0], &exports[1]], "global-1", &model, &plugin);
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);

    let summary = read_json(&dir.path().join("global-1/aggregate.json"));
    assert!(summary["relative_error"].as_f64().expect("an error") < 1e-6, "{summary}");
    // Each site's test metrics, and over the sites the weakest and the harmonic mean.
    let trained: Vec<f64> = (0..2).map(|i| summary["sites"][i]["trained"]["json_valid"].as_f64().expect("a metric")).collect();
    let over = &summary["over_sites"]["trained"]["json_valid"];
    assert_eq!(over["min"].as_f64(), Some(trained[0].min(trained[1])), "{summary}");
    let harmonic = if trained.contains(&0.0) { 0.0 } else { 2.0 / (1.0 / trained[0] + 1.0 / trained[1]) };
    assert!((over["harmonic_mean"].as_f64().expect("a mean") - harmonic).abs() < 1e-12, "{summary}");
    let global = assert_weighted_mean(&dir.path().join("global-1"), &[dir.path().join(&exports[0]), dir.path().join(&exports[1])]);

    // A changed tensor, a forged signature, another base model: each refused by name; the
    // round goes on with north.
    let copy = |from: &str, to: &str| {
        fs::create_dir_all(dir.path().join(to)).expect("a folder");
        for entry in fs::read_dir(dir.path().join(from)).expect("listable") {
            let entry = entry.expect("an entry");
            fs::copy(entry.path(), dir.path().join(to).join(entry.file_name())).expect("copy");
        }
    };
    copy(&exports[1], "tampered");
    let weights = dir.path().join("tampered/adapter_model.safetensors");
    let mut bytes = fs::read(&weights).expect("weights");
    let last = bytes.len() - 3;
    bytes[last] ^= 0x10;
    fs::write(&weights, bytes).expect("tamper");
    let resign = |to: &str, key: &SiteKey, change: &dyn Fn(&mut Statement)| {
        copy(&exports[1], to);
        let path = dir.path().join(to).join("manifest.json");
        let mut manifest: Value = read_json(&path);
        let mut statement: Statement = serde_json::from_value(manifest["signature"]["statement"].clone()).expect("a statement");
        change(&mut statement);
        manifest["signature"] = serde_json::to_value(key.sign(statement).expect("signs")).expect("json");
        fs::write(&path, serde_json::to_string_pretty(&manifest).expect("json")).expect("write");
    };
    let outsider = SiteKey::generate("east").expect("a key");
    resign("forged", &outsider, &|s| s.site = "east".to_owned());
    let south_key = SiteKey::load(&dir.path().join("keys/south.key")).expect("south's key");
    resign("other-model", &south_key, &|s| s.model_sha256 = "0".repeat(64));
    let output = aggregate(&dir, &[&exports[0], "tampered", "forged", "other-model"], "global-2", &model, &plugin);
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    for reason in [
        "refused the reply `tampered`: site `south`: `adapter_model.safetensors` is not the file the site signed",
        "refused the reply `forged`: signature refused: site `east` is not among the federation's public keys",
        "refused the reply `other-model`: site `south`: trained on another base model",
    ] {
        assert!(output.stderr.contains(reason), "{reason}\n{}", output.stderr);
    }
    assert!(output.stdout.contains("1 of 4 replies aggregated"), "{}", output.stdout);
    assert_eq!(read_json(&dir.path().join("global-2/aggregate.json"))["refused"].as_array().map(Vec::len), Some(3));
    let none = aggregate(&dir, &["tampered"], "global-3", &model, &plugin);
    assert_eq!(none.code, Some(1), "{}", none.stderr);
    assert!(!dir.path().join("global-3").exists(), "nothing written for a round without replies");

    // Round 2 starts from the global adapter: FFA keeps its A, the reply says round 2.
    let mut second = site_recipe("north", 2);
    second.set("federation", "global", "\"global-1\"");
    run_site(&dir, "north", &second);
    let next = PeftAdapter::load(&dir.path().join("north-2/export"), &Device::Cpu).expect("an adapter");
    for (name, pair) in &next.modules {
        assert_eq!(values(&pair.a), values(&global.modules[name].a), "{name}: round 2 trains over the global A");
    }
    assert_eq!(read_json(&dir.path().join("north-2/export/manifest.json"))["signature"]["statement"]["round"], 2);
}

/// The Flower venv (`scripts/flower.sh`), or `None` outside CI when it is not installed.
fn flower_venv() -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("FLOWER_VENV").map_or_else(
        || std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/rapha-host/flower"),
        std::path::PathBuf::from,
    );
    if venv.join("bin/flower-superlink").is_file() {
        return Some(venv);
    }
    let message = format!("the Flower venv `{}` is missing: run scripts/flower.sh", venv.display());
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("skipped: {message}");
    None
}

/// Flower's deployment runtime on loopback: a SuperLink and three SuperNodes, the Flower App
/// of `host/flower` (`scripts/federation-loopback.sh`), two rounds. A third site whose run
/// fails every round (its training file is missing) is reported and left out, the rounds
/// going on with two; each round's global adapter is the weighted mean of that round's
/// replies, and round 2 trained over round 1's A. Started again for three rounds after its
/// server stopped before aggregating round 2, it keeps round 1, gets round 2's finished
/// exports sent again without retraining, and adds round 3.
#[test]
fn two_rounds_on_flower_between_supernodes_one_failing() {
    let Some(venv) = flower_venv() else {
        return;
    };
    let dir = Dir::new();
    federation(&dir);
    for site in SITES {
        let mut recipe = site_recipe(site, 1);
        recipe.set("paths", "work", &format!("\"{site}-work\"")).set("paths", "export", &format!("\"{site}-export\""));
        dir.create(&format!("{site}.toml"), &recipe.text());
    }
    let mut failing = site_recipe("east", 1);
    failing.set("data", "train", "\"data/east-train.jsonl\"").set("paths", "work", "\"east-work\"").set("paths", "export", "\"east-export\"");
    dir.create("east.toml", &failing.text());
    let federate = |rounds: u32| {
        let port = 20_000 + std::process::id() % 20_000;
        let output = std::process::Command::new(root().join("scripts/federation-loopback.sh"))
            .arg(dir.path())
            .args(["north", "south", "east"].map(|site| dir.path().join(format!("{site}.toml"))))
            .env("FLOWER_VENV", &venv)
            .env("RAPHA_HOST", env!("CARGO_BIN_EXE_rapha-host"))
            .env("MODEL_SHA256", model_sha256(&crate::run::tiny_model()))
            .env("PLUGIN_SHA256", sha256_file(Path::new(FHIR_EXTRACTION)))
            .env("ROUNDS", rounds.to_string())
            .env("ROUND_TIMEOUT", "600")
            .env("MIN_SITES", "2")
            .env("FLOWER_BASE_PORT", port.to_string())
            .output()
            .expect("the loopback script runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
        assert!(output.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let stdout = federate(2);
    for round in [1, 2] {
        assert!(stdout.contains(&format!("round {round}: 2 of 3 sites replied")), "{stdout}");
    }
    assert!(stdout.contains("failed"), "the failing site is reported: {stdout}");
    let mut globals = Vec::new();
    for round in [1, 2] {
        let federation = dir.path().join(format!("federation/round-{round}"));
        let replies: Vec<std::path::PathBuf> =
            fs::read_dir(federation.join("replies")).expect("replies").map(|entry| entry.expect("an entry").path()).collect();
        assert_eq!(replies.len(), 2);
        globals.push(assert_weighted_mean(&federation.join("global"), &replies));
    }
    for (name, pair) in &globals[1].modules {
        assert_eq!(values(&pair.a), values(&globals[0].modules[name].a), "{name}: round 2 kept round 1's A");
    }

    // The server stopped before aggregating round 2 and the federation is started again (a
    // new SuperLink) for three rounds: round 1 is kept, round 2 is asked again and the sites
    // send the exports they finished instead of training again, round 3 follows.
    fs::remove_dir_all(dir.path().join("federation/round-2/global")).expect("round 2 not aggregated");
    let round_two = fs::read(dir.path().join("north-export/round-2/adapter_model.safetensors")).expect("round 2's adapter");
    let stdout = federate(3);
    assert!(stdout.contains("round 1: completed earlier, its global adapter is kept"), "{stdout}");
    for round in [2, 3] {
        assert!(stdout.contains(&format!("round {round}: 2 of 3 sites replied")), "{stdout}");
    }
    assert_eq!(fs::read(dir.path().join("north-export/round-2/adapter_model.safetensors")).expect("kept"), round_two);
    let third = PeftAdapter::load(&dir.path().join("federation/round-3/global"), &Device::Cpu).expect("round 3's global adapter");
    for (name, pair) in &third.modules {
        assert_eq!(values(&pair.a), values(&globals[0].modules[name].a), "{name}: round 3 kept the federation's A");
    }
}

#[test]
fn a_round_without_or_with_a_foreign_global_adapter_is_refused() {
    let dir = Dir::new();
    federation(&dir);
    let mut recipe = site_recipe("north", 2);
    dir.create("north.toml", &recipe.text());
    let refused = dir.command().args(["run", "north.toml"]).fails_with(1);
    assert!(refused.stderr.contains("`federation.global`"), "{}", refused.stderr);
    let peft = root().join("host/engine/tests/fixtures/peft/llama3-rslora");
    recipe.set("federation", "global", &format!("{:?}", peft.display().to_string()));
    dir.create("north.toml", &recipe.text());
    let refused = dir.command().args(["run", "north.toml"]).fails_with(1);
    assert!(refused.stderr.contains("federation.global") && refused.stderr.contains("llama3-rslora"), "{}", refused.stderr);
    assert!(!dir.path().join("north-2/export/manifest.json").exists(), "nothing exported");
}

/// A private site's rounds compose: round 2 starts from the ε its round 1 spent (the site's
/// accountant outlives the rounds, in its own work folder), and a round the budget can no
/// longer pay for is declined before any training, naming the site, the round and the budget.
#[test]
fn a_private_sites_rounds_compose_and_a_spent_budget_declines_the_next() {
    let dir = Dir::new();
    federation(&dir);
    let mut recipe = site_recipe("north", 1);
    recipe
        .set("paths", "work", "\"north-work\"")
        .set("paths", "export", "\"north-export\"")
        .set("privacy.dp", "noise_multiplier", "1.0")
        .set("privacy.dp", "epsilon", "50")
        .set("privacy.dp", "insecure_seed", "3");
    dir.create("north.toml", &recipe.text());
    dir.command().args(["run", "north.toml", "--round", "1"]).stdout();
    dir.command().args(["run", "north.toml", "--round", "2", "--global", "north-export/round-1"]).stdout();

    let privacy = |round: u64| read_json(&dir.path().join(format!("north-export/round-{round}/metrics.json")))["privacy"].clone();
    let (first, second) = (privacy(1), privacy(2));
    let (q, delta) = (first["sample_rate"].as_f64().expect("q"), first["delta"].as_f64().expect("δ"));
    let mut accountant = rapha_privacy::Accountant::new();
    accountant.compose(q, 1.0, 12).expect("composes");
    let expected = accountant.spent(delta).expect("spent").epsilon;
    let found = second["epsilon"].as_f64().expect("ε");
    assert!(found > first["epsilon"].as_f64().expect("ε"), "round 2 adds to round 1: {first} {second}");
    assert!((found - expected).abs() <= 1e-3 * expected, "round 2 reports both rounds' ε: {found} vs {expected}");
    let ledger: Value = read_json(&dir.path().join("north-work/privacy-accountant.json"));
    let steps: u64 = ledger["steps"].as_array().expect("steps").iter().map(|s| s["count"].as_u64().expect("count")).sum();
    assert_eq!(steps, 12, "{ledger}");

    recipe.set("privacy.dp", "epsilon", &format!("{}", (found * 0.9).max(0.1)));
    dir.create("north.toml", &recipe.text());
    let declined = dir.command().args(["run", "north.toml", "--round", "3", "--global", "north-export/round-2"]).fails_with(1);
    assert!(declined.stderr.contains("site `north` declines round 3: its earlier rounds spent ε ="), "{}", declined.stderr);
    assert!(!dir.path().join("north-export/round-3/manifest.json").exists(), "nothing exported");
}

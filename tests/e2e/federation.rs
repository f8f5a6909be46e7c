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
    // Replies in the other order (as they may arrive) give the same adapter to the bit.
    let output = aggregate(&dir, &[&exports[1], &exports[0]], "global-1-again", &model, &plugin);
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    let bytes = |folder: &str| fs::read(dir.path().join(folder).join("adapter_model.safetensors")).expect("weights");
    assert_eq!(bytes("global-1-again"), bytes("global-1"));
    assert_eq!(read_json(&dir.path().join("global-1-again/aggregate.json"))["sites"], summary["sites"]);

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
    // And south's valid reply sent by the node the server sampled as north.
    let misrouted = format!("north={}", exports[1]);
    let output = aggregate(&dir, &[&exports[0], "tampered", "forged", "other-model", &misrouted], "global-2", &model, &plugin);
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    for reason in [
        "refused the reply `tampered`: site `south`: `adapter_model.safetensors` is not the file the site signed",
        "refused the reply `forged`: signature refused: site `east` is not among the federation's public keys",
        "refused the reply `other-model`: site `south`: trained on another base model",
        "refused the reply `south-1/export`: site `south`: the node sampled as `north` sent a reply signed by `south`",
    ] {
        assert!(output.stderr.contains(reason), "{reason}\n{}", output.stderr);
    }
    assert!(output.stdout.contains("1 of 5 replies aggregated"), "{}", output.stdout);
    assert_eq!(read_json(&dir.path().join("global-2/aggregate.json"))["refused"].as_array().map(Vec::len), Some(4));
    let report = fs::read_to_string(dir.path().join("global-2/aggregate.txt")).expect("aggregate.txt");
    assert!(report.starts_with("round 1 (ffa): north (") && report.contains("refused `south-1/export`"), "{report}");
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
    let report = fs::read_to_string(dir.path().join("north-2/export/report.txt")).expect("the round's report");
    assert!(report.contains("\nstart vs adapter, each over "), "round 2 compares with the global adapter it began from:\n{report}");
    let first = fs::read_to_string(dir.path().join("north-1/export/report.txt")).expect("round 1's report");
    assert!(first.contains("\nbase vs adapter, each over "), "{first}");
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

/// Flower's deployment runtime on loopback, set up as the documented deployment is (TLS, each
/// SuperNode's key registered with the SuperLink): a SuperLink and three SuperNodes, the
/// Flower App of `host/flower` (`scripts/federation-loopback.sh`), two rounds. A third site
/// whose run fails every round (its training file is missing) is reported and left out, the
/// rounds going on with two; each round's global adapter is the weighted mean of that round's
/// replies, each reply bound to the site its node was registered for, and round 2 trained
/// over round 1's A. Started again for three rounds after its server stopped before
/// aggregating round 2, it keeps round 1 and gets round 2's finished exports sent again
/// without retraining; its SuperLink then dies in the middle of round 3, and a third start
/// completes round 3 from the sites' uncorrupted work.
#[test]
fn rounds_on_flower_between_supernodes_one_failing_and_a_superlink_that_dies() {
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
    let port = 20_000 + std::process::id() % 20_000;
    let loopback = |rounds: u32| {
        let mut command = std::process::Command::new(root().join("scripts/federation-loopback.sh"));
        command
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
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let federate = |rounds: u32| {
        let output = loopback(rounds).output().expect("the loopback script runs");
        let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned());
        assert!(output.status.success(), "{stdout}\n{stderr}");
        stdout
    };
    let stdout = federate(2);
    for round in [1, 2] {
        assert!(stdout.contains(&format!("round {round}: 2 of 3 sites replied")), "{stdout}");
    }
    assert!(stdout.contains("site east (node "), "the failing site is reported by name: {stdout}");
    let nodes: Value = read_json(&dir.path().join("nodes.json"));
    let mut registered: Vec<&str> = nodes.as_object().expect("node id → site").values().filter_map(Value::as_str).collect();
    registered.sort_unstable();
    assert_eq!(registered, ["east", "north", "south"]);
    let mut globals = Vec::new();
    for round in [1, 2] {
        let federation = dir.path().join(format!("federation/round-{round}"));
        let mut replies: Vec<std::path::PathBuf> =
            fs::read_dir(federation.join("replies")).expect("replies").map(|entry| entry.expect("an entry").path()).collect();
        replies.sort();
        assert_eq!(replies, ["north", "south"].map(|site| federation.join("replies").join(site)), "each reply under its node's site");
        globals.push(assert_weighted_mean(&federation.join("global"), &replies));
    }
    for (name, pair) in &globals[1].modules {
        assert_eq!(values(&pair.a), values(&globals[0].modules[name].a), "{name}: round 2 kept round 1's A");
    }

    // The server stopped before aggregating round 2 and the federation is started again (a
    // new SuperLink) for three rounds: round 1 is kept, round 2 is asked again and the sites
    // send the exports they finished instead of training again. As round 3 starts at north,
    // the SuperLink dies.
    fs::remove_dir_all(dir.path().join("federation/round-2/global")).expect("round 2 not aggregated");
    let round_two = fs::read(dir.path().join("north-export/round-2/adapter_model.safetensors")).expect("round 2's adapter");
    let cut = loopback(3).spawn().expect("the loopback script starts");
    let started = dir.path().join("north-work/round-3/run.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "round 3 never started at north");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &format!("flower-superlink .*--port {port}")])
        .status()
        .expect("pkill runs");
    assert!(killed.success(), "the SuperLink was running");
    let output = cut.wait_with_output().expect("the script ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "a federation whose SuperLink died fails: {stdout}");
    assert!(stdout.contains("round 1: completed earlier, its global adapter is kept"), "{stdout}");
    assert!(stdout.contains("round 2: 2 of 3 sites replied"), "{stdout}");
    assert_eq!(fs::read(dir.path().join("north-export/round-2/adapter_model.safetensors")).expect("kept"), round_two);
    assert!(!dir.path().join("federation/round-3/global").exists(), "round 3 was cut off");

    // Started a third time: rounds 1 and 2 kept; round 3 completes from the sites' work.
    let stdout = federate(3);
    for round in [1, 2] {
        assert!(stdout.contains(&format!("round {round}: completed earlier, its global adapter is kept")), "{stdout}");
    }
    assert!(stdout.contains("round 3: 2 of 3 sites replied"), "{stdout}");
    let federation = dir.path().join("federation/round-3");
    let third = assert_weighted_mean(&federation.join("global"), &[federation.join("replies/north"), federation.join("replies/south")]);
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

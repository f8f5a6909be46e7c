//! `rapha-host plugin info | check | score`.

use rapha_plugin_artifacts::{ICD_CODING, MISBEHAVE, WRONG_VERSION};
use serde_json::Value;

use crate::eqnice;
use crate::util::{Dir, dataset};

macro_rules! plugin_check_passes {
    ($name:ident, $id:literal, $wasm:expr) => {
        #[test]
        fn $name() {
            let dir = Dir::new();
            let data = dataset($id);
            let stdout = dir
                .command()
                .args(["plugin", "check", $wasm, "--data"])
                .args([&data])
                .stdout();
            assert!(stdout.contains(concat!("plugin `", $id, "` ")), "{stdout}");
            assert!(stdout.ends_with("check passed\n"), "{stdout}");
            assert!(stdout.contains("denied attempts: none"), "{stdout}");
        }
    };
}

/// `rapha-host plugin check` passes for every shipped plugin on its dataset.
mod check_passes {
    use super::*;
    rapha_plugin_artifacts::foreach_plugin!(plugin_check_passes);
}

/// A work folder made where the command runs is announced, once.
#[test]
fn a_new_default_work_folder_is_announced_once() {
    let dir = Dir::new();
    let run = || std::process::Command::new(env!("CARGO_BIN_EXE_rapha-host")).current_dir(dir.path()).args(["plugin", "info", ICD_CODING]).output().expect("runs");
    let first = run();
    assert!(first.status.success());
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(stderr.contains("note: created the work folder `./work` (compiled plugins, logs and outputs; `--work DIR` puts them elsewhere)"), "{stderr}");
    assert!(dir.path().join("work").is_dir());
    let second = run();
    assert!(!String::from_utf8_lossy(&second.stderr).contains("created the work folder"));
}

#[test]
fn plugin_info_shows_versions_metrics_and_schema() {
    let dir = Dir::new();
    let stdout = dir.command().args(["plugin", "info", ICD_CODING]).stdout();
    assert!(stdout.starts_with("id:             icd-coding\n"), "{stdout}");
    assert!(stdout.contains("\nwit:            rapha:task@0.1.0\n"), "{stdout}");
    assert!(stdout.contains("\nmetrics:\n"), "{stdout}");
    assert!(stdout.contains("output schema (JSON Schema, draft 2020-12):"), "{stdout}");
}

/// Randomness is given (seeded per call), so a plugin drawing it is deterministic and passes.
#[test]
fn plugin_check_passes_a_deterministic_plugin_that_draws_randomness() {
    let dir = Dir::new();
    let data = dir.create("data.jsonl", "{\"id\": \"a\", \"behaviour\": \"ok\"}\n\n{\"id\": \"b\", \"behaviour\": \"random\"}\n");
    let stdout = dir.command().args(["plugin", "check", MISBEHAVE, "--data"]).args([&data]).stdout();
    assert!(stdout.contains("  records: 2 in "), "{stdout}");
    assert!(stdout.contains("  denied attempts: none\n"), "{stdout}");
    assert!(stdout.ends_with("check passed\n"), "{stdout}");
}

/// A plugin that reads the clock, the environment, a file or a socket expects what the host
/// never gives: `check` fails, naming the WASI call and the record where it was first made.
#[test]
fn plugin_check_fails_a_plugin_that_attempts_denied_io_naming_the_call_and_record() {
    let dir = Dir::new();
    let behaviours = ["ok", "clock", "read-env", "open-file", "socket"];
    let lines: String = behaviours.iter().map(|b| format!("{{\"id\": \"{b}\", \"behaviour\": \"{b}\"}}\n")).collect();
    let data = dir.create("data.jsonl", &lines);
    let output = dir.command().args(["plugin", "check", MISBEHAVE, "--data"]).args([&data]).fails_with(1);
    let named = [
        (1, "wasi:clocks/wall-clock.now", "the fixed time"),
        (2, "wasi:cli/environment.get-environment", "an empty list"),
        (3, "wasi:filesystem/preopens.get-directories", "no directories"),
        (4, "wasi:sockets/tcp-create-socket.create-tcp-socket", "access-denied"),
    ];
    for (record, call, outcome) in named {
        let problem = format!(
            "problem: {}: the plugin called `{call}` in call `format-example`, record {record} and got {outcome}: ",
            data.display()
        );
        assert!(output.stdout.contains(&problem), "expected\n{problem}\nin:\n{}", output.stdout);
    }
    let error = output.stderr.lines().last().unwrap_or_default();
    assert!(error.starts_with("error: check of plugin `misbehave` failed: "), "{}", output.stderr);
}

/// 2,000 records of 64 KiB take no more memory to check than 100 do (within 1.5×): records
/// stream through the calls instead of being held, with their results, until the end.
#[test]
fn plugin_check_memory_stays_flat_in_the_number_of_records() {
    let dir = Dir::new();
    // Compiled and cached first, so that neither measured run pays for the compiler.
    dir.command().args(["plugin", "info", MISBEHAVE]).stdout();
    let note = "x".repeat(64 << 10);
    let mut peaks = Vec::new();
    for records in [100, 2000] {
        let lines: String =
            (0..records).map(|i| format!("{{\"id\": \"r{i}\", \"behaviour\": \"ok\", \"note\": \"{note}\"}}\n")).collect();
        let data = dir.create(&format!("data-{records}.jsonl"), &lines);
        drop(lines);
        let (out, err) = (dir.path().join("out.txt"), dir.path().join("err.txt"));
        let (output, peak) = dir.command().args(["plugin", "check", MISBEHAVE, "--data"]).args([&data]).output_and_peak_rss(&out, &err);
        assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
        assert!(output.stdout.contains(&format!("  deterministic (fresh instance, reverse order): {records} of {records}\n")));
        peaks.push(peak);
    }
    let (small, large) = (peaks[0] as f64, peaks[1] as f64);
    assert!(large <= 1.5 * small, "peak RSS {large:.0} KiB for 2,000 records against {small:.0} KiB for 100");
}

/// A FIFO named as a dataset or a recipe is refused at once instead of blocking forever, and
/// `/dev/zero` as a plugin is refused instead of filling memory.
#[test]
fn fifos_and_devices_as_inputs_are_refused_without_blocking() {
    let dir = Dir::new();
    let fifo = dir.path().join("records.jsonl");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let output = dir.command().args(["plugin", "check", MISBEHAVE, "--data"]).args([&fifo]).fails_with(1);
    assert!(output.stderr.contains("expected a regular file, found a FIFO"), "{}", output.stderr);
    let output = dir.command().args(["run"]).args([&fifo]).fails_with(1);
    assert!(output.stderr.contains("cannot read the recipe: expected a regular file, found a FIFO"), "{}", output.stderr);
    let data = dir.create("data.jsonl", "{\"id\": \"a\", \"behaviour\": \"ok\"}\n");
    let output = dir.command().args(["plugin", "check", "/dev/zero", "--data"]).args([&data]).fails_with(1);
    assert!(output.stderr.contains("expected a regular file, found a character device"), "{}", output.stderr);
}

#[test]
fn plugin_check_fails_naming_the_line_of_the_failing_record() {
    let dir = Dir::new();
    let data = dir.create(
        "data.jsonl",
        "{\"id\": \"a\", \"behaviour\": \"ok\"}\n\n{\"id\": \"b\", \"behaviour\": \"panic\"}\n",
    );
    let output = dir.command().args(["plugin", "check", MISBEHAVE, "--data"]).args([&data]).fails_with(1);
    let expected = format!(
        "problem: {}:3: plugin `misbehave` 0.1.0 (rapha:task@0.1.0), call `format-example`, record 1: \
         panicked or trapped: wasm trap: wasm `unreachable` instruction executed; the plugin's last output in that call:\n",
        data.display()
    );
    assert!(output.stdout.contains(&expected), "expected:\n{expected}\ngot:\n{}", output.stdout);
    // The cause, from the plugin's own panic message, under the error.
    assert!(output.stdout.contains("\n      | misbehave: panicking because the record asked to\n"), "{}", output.stdout);
    eqnice!(
        format!("error: check of plugin `misbehave` failed: 1 problem with `{}`\n", data.display()),
        output.stderr.lines().last().map(|line| format!("{line}\n")).unwrap_or_default()
    );
}

#[test]
fn plugin_check_refuses_a_wrong_wit_version() {
    let dir = Dir::new();
    let data = dir.create("data.jsonl", "{\"id\": \"a\"}\n");
    let output = dir.command().args(["plugin", "check", WRONG_VERSION, "--data"]).args([&data]).fails_with(1);
    eqnice!(
        format!(
            "error: cannot load plugin `{WRONG_VERSION}`: plugin `{WRONG_VERSION}`: \
             exports `rapha:task/task@0.3.0`; this host supports 0.1.x\n"
        ),
        output.stderr
    );
}

#[test]
fn plugin_score_prints_a_table_and_writes_json() {
    let dir = Dir::new();
    let data = dir.create(
        "data.jsonl",
        "{\"id\": \"a\", \"behaviour\": \"ok\"}\n{\"id\": 2, \"behaviour\": \"ok\"}\n",
    );
    // One prediction is the expected report, the other is not: accuracy 1/2.
    let predictions = dir.create(
        "predictions.jsonl",
        "{\"id\": 2, \"prediction\": \"\\\"wrong\\\"\"}\n{\"id\": \"a\", \"prediction\": \"\\\"ok\\\"\"}\n",
    );
    let out = dir.path().join("scores.json");
    let stdout = dir
        .command()
        .args(["plugin", "score", MISBEHAVE, "--data"])
        .args([&data])
        .arg_pair("--predictions", &predictions)
        .arg_pair("--out", &out)
        .stdout();
    let row = |name: &str| -> Vec<String> {
        let line = stdout
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row `{name}` in:\n{stdout}"));
        line.split_whitespace().take(3).map(str::to_owned).collect()
    };
    assert_eq!(row("accuracy"), ["accuracy", "0.500000", "higher"]);
    assert_eq!(row("schema_valid_rate"), ["schema_valid_rate", "1.000000", "higher"]);
    assert_eq!(row("mean_reward"), ["mean_reward", "0.500000", "higher"]);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("scores written")).expect("JSON");
    assert_eq!(json["metrics"]["accuracy"], 0.5);
    assert_eq!(json["host"]["mean_reward"], 0.5);
    assert_eq!(json["records"], 2);
    assert_eq!(json["plugin"]["id"], "misbehave");
    // Per record, in the data's order: each number an author can check by hand, and the
    // table's aggregate is their mean here.
    let per_record = json["per_record"].as_array().expect("`per_record`");
    let ids: Vec<&Value> = per_record.iter().map(|record| &record["id"]).collect();
    assert_eq!(ids, [&Value::from("a"), &Value::from("2")]);
    assert_eq!(per_record[0]["metrics"]["accuracy"], 1.0);
    assert_eq!(per_record[1]["metrics"]["accuracy"], 0.0);
    assert_eq!(per_record[1]["reward"], 0.0);
    assert_eq!(per_record[0]["schema"], "satisfied");
    assert_eq!(per_record[0]["validate"], "passed");
    let mean: f64 = per_record.iter().map(|record| record["metrics"]["accuracy"].as_f64().expect("a number")).sum::<f64>() / 2.0;
    assert_eq!(json["metrics"]["accuracy"], mean);
}

#[test]
fn plugin_score_names_the_record_without_a_prediction() {
    let dir = Dir::new();
    let data = dir.create(
        "data.jsonl",
        "{\"id\": \"a\", \"behaviour\": \"ok\"}\n{\"id\": \"b\", \"behaviour\": \"ok\"}\n",
    );
    let predictions = dir.create("predictions.jsonl", "{\"id\": \"a\", \"prediction\": \"\\\"ok\\\"\"}\n");
    let output = dir
        .command()
        .args(["plugin", "score", MISBEHAVE, "--data"])
        .args([&data])
        .arg_pair("--predictions", &predictions)
        .fails_with(1);
    eqnice!(
        format!(
            "error: {}:2: no prediction for record id `b` in `{}`\n",
            data.display(),
            predictions.display()
        ),
        // The last line: a first use of the plugin in this folder says it compiles first.
        output.stderr.lines().last().map(|line| format!("{line}\n")).unwrap_or_default()
    );
}

#[test]
fn a_missing_required_flag_is_a_usage_error() {
    let dir = Dir::new();
    let output = dir.command().args(["plugin", "check", MISBEHAVE]).fails_with(2);
    assert!(output.stderr.contains("--data <JSONL>"), "{}", output.stderr);
}

#[test]
fn plugin_wit_writes_the_contract_this_binary_hosts_and_never_overwrites() {
    let dir = Dir::new();
    let out = dir.path().join("contract");
    let stdout = dir.command().args(["plugin", "wit", "--out"]).args([&out]).stdout();
    assert!(stdout.starts_with("wrote 2 files of `rapha:task@0.1.0`"), "{stdout}");
    for name in ["task.wit", "types.wit"] {
        let written = std::fs::read_to_string(out.join(name)).expect("written");
        let source = std::fs::read_to_string(crate::util::root().join("wit").join(name)).expect("source");
        assert_eq!(written, source, "{name}");
    }
    let again = dir.command().args(["plugin", "wit", "--out"]).args([&out]).fails_with(1);
    assert!(again.stderr.contains("an existing file is never replaced"), "{}", again.stderr);
    let printed = dir.command().args(["plugin", "wit"]).stdout();
    assert!(printed.contains("// ---- task.wit ----\npackage rapha:task@0.1.0;"), "{printed}");
}

/// `plugin prompt` shows the tokens a run trains on: the plugin's messages through the
/// model's chat template, and the target completion with EOS, counted and decoded; here
/// recomputed from the plugin's native code and the engine's tokenizer.
#[test]
fn plugin_prompt_shows_the_tokens_a_run_trains_on() {
    use rapha_engine::{Message, ModelSource, Pretrained};
    use rapha_plugin_fhir_extraction::{format, record::Record};

    let dir = Dir::new();
    let data = crate::util::root().join("data/fhir-extraction/test.jsonl");
    let model = crate::run::tiny_model();
    let stdout = dir
        .command()
        .args(["plugin", "prompt", rapha_plugin_artifacts::FHIR_EXTRACTION, "--line", "2"])
        .arg_pair("--data", &data)
        .arg_pair("--model", &model)
        .stdout();

    let line = crate::run::read_text(&data).lines().nth(1).expect("a second record").to_owned();
    let example = serde_json::from_str(&line).expect("a record");
    let formatted = format::format_example(&Record::from_example(&example).expect("a valid record"));
    let tokenizer = Pretrained::load(&ModelSource::from_path(&model)).expect("the tiny model").tokenizer;
    let messages: Vec<Message> = formatted
        .messages
        .iter()
        .map(|m| Message::new(if matches!(m.role, rapha_task_sdk::Role::System) { "system" } else { "user" }, m.content.clone()))
        .collect();
    let prompt = tokenizer.encode_chat(&messages, true).expect("the chat template applies");
    let completion = tokenizer.encode(&formatted.completion, false).expect("encodes").len() + 1;
    assert!(stdout.starts_with("record `fhir-test-0002`"), "{stdout}");
    assert!(stdout.contains(&format!("sees it: {} tokens\n{}", prompt.len(), tokenizer.decode(&prompt, false).expect("decodes"))), "{stdout}");
    assert!(stdout.contains(&format!("completion it learns: {completion} tokens")), "{stdout}");
    assert!(stdout.contains(&format!("--- target completion\n{}\n", formatted.completion)), "{stdout}");

    let refused = dir.command().args(["plugin", "prompt", rapha_plugin_artifacts::FHIR_EXTRACTION, "--line", "999"]).arg_pair("--data", &data).fails_with(1);
    assert!(refused.stderr.contains("expected a record on line 999, found fewer lines"), "{}", refused.stderr);
}

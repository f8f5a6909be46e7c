//! Checks on the committed datasets under `data/`: that the generator reproduces them byte
//! for byte, and that they have the properties the task plugins and the held-out evaluation
//! rely on. The property checks read the committed files, not the generator's internals.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rapha_datagen::concepts::{self, Pool};
use serde_json::Value;

const TASKS: [&str; 4] = [
    "summarisation",
    "icd-coding",
    "fhir-extraction",
    "trial-matching",
];
const SPLITS: [&str; 3] = ["train", "val", "test"];
/// The federated trial's sites, each a folder of `fhir-extraction` records.
const SITES: [&str; 3] = [
    "federation/cardiology",
    "federation/paediatric",
    "federation/terse",
];

/// Every folder of committed files: the tasks', then the sites'.
fn folders() -> impl Iterator<Item = &'static str> {
    TASKS.into_iter().chain(SITES)
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(task: &str, split: &str) -> String {
    let path = data_dir().join(task).join(format!("{split}.jsonl"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
}

fn records(task: &str, split: &str) -> Vec<Value> {
    read(task, split)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{task}/{split}.jsonl:{}: {e}", i + 1))
        })
        .collect()
}

fn held_out(split: &str) -> bool {
    split != "train"
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

#[test]
fn regenerating_into_a_temporary_folder_reproduces_the_committed_files_byte_for_byte() {
    let out = tempfile::tempdir().expect("temporary folder");
    let status = Command::new(env!("CARGO_BIN_EXE_rapha-datagen"))
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run rapha-datagen");
    assert!(
        status.status.success(),
        "rapha-datagen failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    for task in folders() {
        for split in SPLITS {
            let path = out.path().join(task).join(format!("{split}.jsonl"));
            let fresh = std::fs::read_to_string(&path).expect("generated file");
            let committed = read(task, split);
            if fresh != committed {
                let line = fresh
                    .lines()
                    .zip(committed.lines())
                    .position(|(a, b)| a != b);
                panic!(
                    "data/{task}/{split}.jsonl differs from a fresh generation (first differing line: {:?}); \
                     regenerate with `cargo run -p rapha-datagen -- --out data`",
                    line.map(|l| l + 1)
                );
            }
        }
    }
}

#[test]
fn generating_twice_in_one_process_gives_the_same_files() {
    assert_eq!(
        rapha_datagen::generate(rapha_datagen::SEED),
        rapha_datagen::generate(rapha_datagen::SEED)
    );
}

#[test]
fn the_cli_refuses_arguments_it_does_not_know() {
    let output = Command::new(env!("CARGO_BIN_EXE_rapha-datagen"))
        .arg("--seed")
        .arg("3")
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: usage: rapha-datagen --out <dir>"),
        "{stderr}"
    );
}

#[test]
fn every_file_has_enough_records_with_ids_unique_across_all_files() {
    let mut ids = BTreeSet::new();
    for task in folders() {
        for split in SPLITS {
            let records = records(task, split);
            let minimum = match (SITES.contains(&task), split) {
                (false, "train") => 500,
                (false, _) => 100,
                (true, "train") => 100,
                (true, _) => 24,
            };
            assert!(
                records.len() >= minimum,
                "{task}/{split}: {} records",
                records.len()
            );
            for record in &records {
                let id = record["id"].as_str().expect("string id").to_owned();
                assert!(
                    id.contains(&format!("-{split}-")),
                    "{task}/{split}: id `{id}` does not name its split"
                );
                assert!(ids.insert(id.clone()), "duplicate id `{id}`");
            }
        }
    }
}

#[test]
fn files_are_ascii_with_one_record_a_line_and_keys_in_the_documented_order() {
    let fhir_keys: &[&str] = &["id", "note", "extract"];
    let mut expected: Vec<(&str, &[&str])> = vec![
        ("summarisation", &["id", "note", "summary"]),
        ("icd-coding", &["id", "note", "codes"]),
        ("fhir-extraction", fhir_keys),
        (
            "trial-matching",
            &["id", "patient", "trial", "criteria", "eligible"],
        ),
    ];
    expected.extend(SITES.map(|site| (site, fhir_keys)));
    for (task, keys) in expected {
        for split in SPLITS {
            let text = read(task, split);
            assert!(text.is_ascii(), "{task}/{split}: non-ASCII text");
            assert!(
                text.ends_with('\n') && !text.ends_with("\n\n"),
                "{task}/{split}: line endings"
            );
            for line in text.lines() {
                assert_eq!(top_level_keys(line), keys, "{task}/{split}: {line}");
            }
        }
    }
    let fhir = read("fhir-extraction", "train");
    let first = fhir.lines().next().expect("a record");
    assert!(
        first.contains(r#""extract":{"resourceType":"ClinicalNoteExtract","patient":{"name":"#),
        "extract keys out of order: {first}"
    );
}

/// The keys of a JSON object's outermost level, in the order the text writes them.
fn top_level_keys(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut current = String::new();
    let mut expecting_key = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
                if depth == 1 && expecting_key {
                    keys.push(std::mem::take(&mut current));
                    expecting_key = false;
                }
                continue;
            }
            if depth == 1 && expecting_key {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => {
                depth += 1;
                expecting_key = depth == 1;
            }
            '}' | ']' => depth -= 1,
            ',' => expecting_key = depth == 1,
            _ => {}
        }
    }
    keys
}

/// Every surface form of the concepts in `pool`, longest first.
fn forms(pool: Pool) -> Vec<&'static str> {
    let mut forms: Vec<&'static str> = Vec::new();
    forms.extend(
        concepts::CONDITIONS
            .iter()
            .filter(|c| c.pool == pool)
            .flat_map(|c| c.forms.iter().copied()),
    );
    forms.extend(
        concepts::DRUGS
            .iter()
            .filter(|d| d.pool == pool)
            .map(|d| d.name),
    );
    forms.extend(
        concepts::SYMPTOMS
            .iter()
            .filter(|s| s.pool == pool)
            .flat_map(|s| s.forms.iter().copied()),
    );
    forms.extend(
        concepts::LABS
            .iter()
            .filter(|l| l.pool == pool)
            .flat_map(|l| std::iter::once(l.name).chain(l.labels.iter().copied())),
    );
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms
}

/// Byte ranges where `form` occurs in `text` as whole words. Abbreviations (two or more
/// capitals, "AS", "T2DM") match case-sensitively, other forms case-insensitively.
fn occurrences(text: &str, form: &str) -> Vec<std::ops::Range<usize>> {
    let exact = form.chars().filter(char::is_ascii_uppercase).count() >= 2;
    let (haystack, needle) = if exact {
        (text.to_owned(), form.to_owned())
    } else {
        (text.to_ascii_lowercase(), form.to_ascii_lowercase())
    };
    let bytes = haystack.as_bytes();
    let word = |i: usize| bytes.get(i).is_some_and(|b| b.is_ascii_alphanumeric());
    haystack
        .match_indices(&needle)
        .map(|(at, _)| at..at + needle.len())
        .filter(|r| (r.start == 0 || !word(r.start - 1)) && !word(r.end))
        .collect()
}

/// Whether `text`, after the forms of its own pool are blanked out (so "hay fever" does not
/// count as "fever"), still names a concept of the other pool; returns that form.
fn foreign_form(
    text: &str,
    own: &[&'static str],
    foreign: &[&'static str],
) -> Option<&'static str> {
    let mut blanked = text.to_owned();
    for form in own {
        for range in occurrences(&blanked.clone(), form) {
            blanked.replace_range(range.clone(), &"#".repeat(range.len()));
        }
    }
    foreign
        .iter()
        .copied()
        .find(|form| !occurrences(&blanked, form).is_empty())
}

#[test]
fn no_record_names_a_concept_from_the_other_pool() {
    let train = forms(Pool::Train);
    let held = forms(Pool::HeldOut);
    for task in folders() {
        for split in SPLITS {
            let (own, foreign) = if held_out(split) {
                (&held, &train)
            } else {
                (&train, &held)
            };
            for (i, line) in read(task, split).lines().enumerate() {
                if let Some(form) = foreign_form(line, own, foreign) {
                    panic!(
                        "{task}/{split}.jsonl:{}: names `{form}` from the other pool: {line}",
                        i + 1
                    );
                }
            }
        }
    }
}

/// The values a task's targets are built from, lower-cased, per pool of splits.
fn target_values(task: &str, split: &str) -> BTreeSet<String> {
    let mut values = BTreeSet::new();
    for record in records(task, split) {
        match task {
            "icd-coding" => values.extend(strings(&record["codes"])),
            "fhir-extraction" => {
                let extract = &record["extract"];
                values.extend(strings(&extract["complaints"]));
                values.extend(strings(&extract["conditions"]));
                for medication in extract["medications"].as_array().expect("medications") {
                    values.insert(medication["name"].as_str().expect("name").to_owned());
                }
            }
            "trial-matching" => {
                values.extend(strings(&record["trial"]["inclusion"]));
                values.extend(strings(&record["trial"]["exclusion"]));
                values.insert(record["trial"]["title"].as_str().expect("title").to_owned());
            }
            _ => {}
        }
    }
    values.into_iter().map(|v| v.to_ascii_lowercase()).collect()
}

#[test]
fn validation_and_test_targets_share_no_code_value_or_criterion_with_train() {
    for task in ["icd-coding", "fhir-extraction", "trial-matching"] {
        let train = target_values(task, "train");
        assert!(!train.is_empty());
        for split in ["val", "test"] {
            let held = target_values(task, split);
            let shared: Vec<&String> = held.intersection(&train).collect();
            assert!(
                shared.is_empty(),
                "{task}/{split} shares with train: {shared:?}"
            );
        }
    }
}

#[test]
fn icd_codes_are_billable_codes_of_the_plugins_icd10cm_table() {
    // The icd-coding plugin's embedded table: every code at every level, one a line, dot
    // removed. A code is billable (a leaf) when no other code extends it.
    let path = data_dir().join("../plugins/icd-coding/data/codes-2026.txt");
    let table = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()));
    let codes: BTreeSet<&str> = table.lines().collect();
    let billable = |code: &str| {
        let normalised = code.replace('.', "");
        codes.contains(normalised.as_str())
            && codes
                .range(normalised.as_str()..)
                .nth(1)
                .is_none_or(|next| !next.starts_with(&normalised))
    };
    for condition in concepts::CONDITIONS {
        assert!(
            billable(condition.code),
            "`{}` is not a billable ICD-10-CM code",
            condition.code
        );
    }
    assert!(billable("I10") && billable("E11.9"));
    assert!(
        !billable("E11") && !billable("N18.3") && !billable("Z99.99"),
        "the leaf test must reject these"
    );
    for split in SPLITS {
        for record in records("icd-coding", split) {
            let codes = strings(&record["codes"]);
            assert!(!codes.is_empty(), "{}: no codes", record["id"]);
            for code in &codes {
                assert!(billable(code), "{}: `{code}`", record["id"]);
            }
            let unique: BTreeSet<&String> = codes.iter().collect();
            assert_eq!(unique.len(), codes.len(), "{}: repeated code", record["id"]);
        }
    }
}

/// The sentences of a note that mention `value`.
fn sentences_with<'a>(note: &'a str, value: &str) -> Vec<&'a str> {
    note.split(". ").filter(|s| s.contains(value)).collect()
}

const NEGATION_CUES: [&str; 6] = [
    "denies",
    "no ",
    "negative for",
    "not taking",
    "ruled out",
    "no history",
];

fn negated(sentence: &str) -> bool {
    let lower = sentence.to_ascii_lowercase();
    NEGATION_CUES
        .iter()
        .any(|cue| lower.starts_with(cue) || lower.contains(&format!(" {cue}")))
}

#[test]
fn fhir_extracts_copy_the_note_and_leave_out_negated_findings() {
    for split in SPLITS {
        let records = records("fhir-extraction", split);
        for record in &records {
            let words = check_extract(record);
            assert!((40..=90).contains(&words), "{}: {words} words", record["id"]);
        }
        let share = age_null_share(&records);
        assert!(
            (0.15..=0.35).contains(&share),
            "{split}: {share} of ages are null"
        );
    }
}

/// Each site's records keep the task's rules, and the sites differ as their profiles say:
/// the cardiology centre's conditions are mostly circulatory (ICD-10 chapter I), the
/// children's hospital sees only children and records fewer ages, the terse practice writes
/// shorter notes than the others.
#[test]
fn federated_sites_keep_the_task_rules_and_differ_as_their_profiles_say() {
    let code_of = |written: &str| {
        concepts::CONDITIONS
            .iter()
            .find(|c| c.forms.contains(&written))
            .map(|c| c.code)
            .unwrap_or_else(|| panic!("`{written}` is no condition's form"))
    };
    let circulatory_share = |folder: &str| {
        let codes: Vec<&str> = SPLITS
            .iter()
            .flat_map(|split| records(folder, split))
            .flat_map(|r| strings(&r["extract"]["conditions"]))
            .map(|c| code_of(&c))
            .collect();
        codes.iter().filter(|c| c.starts_with('I')).count() as f64 / codes.len() as f64
    };
    let mut mean_words = Vec::new();
    for site in SITES {
        let mut words = Vec::new();
        for split in SPLITS {
            for record in records(site, split) {
                words.push(check_extract(&record) as f64);
                if site.ends_with("paediatric") {
                    let age = &record["extract"]["patient"]["ageYears"];
                    assert!(age.as_u64().is_none_or(|a| a < 18), "{}: age {age}", record["id"]);
                }
            }
        }
        mean_words.push(words.iter().sum::<f64>() / words.len() as f64);
    }
    let general = circulatory_share("fhir-extraction");
    let cardiology = circulatory_share("federation/cardiology");
    assert!(cardiology > 0.5 && cardiology > 2.0 * general, "{cardiology} vs {general}");
    let children: Vec<Value> = SPLITS
        .iter()
        .flat_map(|split| records("federation/paediatric", split))
        .collect();
    let share = age_null_share(&children);
    assert!(share > 0.5, "paediatric: {share} of ages are null");
    assert!(mean_words[2] < 0.75 * mean_words[0].min(mean_words[1]), "{mean_words:?}");
}

fn age_null_share(records: &[Value]) -> f64 {
    let null = records
        .iter()
        .filter(|r| r["extract"]["patient"]["ageYears"].is_null())
        .count();
    null as f64 / records.len() as f64
}

/// Checks that one `fhir-extraction` record's extract copies its note and leaves out what
/// the note negates; returns the note's length in words.
fn check_extract(record: &Value) -> usize {
    let id = &record["id"];
    let note = record["note"].as_str().expect("note");
    let words = note.split_whitespace().count();
    let extract = &record["extract"];
    assert_eq!(extract["resourceType"], "ClinicalNoteExtract");
    let patient = &extract["patient"];
    match &patient["name"] {
        Value::Null => {}
        Value::String(name) => assert!(note.contains(name.as_str()), "{id}: name `{name}`"),
        other => panic!("{id}: name {other}"),
    }
    match &patient["ageYears"] {
        Value::Null => {
            assert!(
                !note.contains("y/o")
                    && !note.contains("year old")
                    && !note.contains("Age:"),
                "{id}: {note}"
            );
        }
        Value::Number(age) => assert!(note.contains(&age.to_string()), "{id}: age {age}"),
        other => panic!("{id}: ageYears {other}"),
    }
    assert!(
        matches!(patient["sex"].as_str(), None | Some("male" | "female")),
        "{id}: sex"
    );
    for field in ["complaints", "conditions"] {
        for value in strings(&extract[field]) {
            let sentences = sentences_with(note, &value);
            assert!(
                sentences.iter().any(|s| !negated(s)),
                "{id}: {field} value `{value}` is not affirmed in: {note}"
            );
        }
    }
    for medication in extract["medications"].as_array().expect("medications") {
        let name = medication["name"].as_str().expect("name");
        assert!(note.contains(name), "{id}: medication `{name}`");
        if let Some(dose) = medication["dose"].as_object() {
            let value = dose["value"].to_string();
            let unit = dose["unit"].as_str().expect("unit");
            let written = [
                format!("{name} {value}{unit}"),
                format!("{name} {value} {unit}"),
            ];
            assert!(
                written.iter().any(|w| note.contains(w.as_str())),
                "{id}: dose of `{name}` in: {note}"
            );
        }
    }
    let names: Vec<&str> = extract["medications"]
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    let positions: Vec<usize> = names
        .iter()
        .map(|n| note.find(n).expect("found above"))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{id}: medications out of note order"
    );
    words
}

#[test]
fn summaries_are_one_or_two_sentences_of_notes_60_to_150_words() {
    for split in SPLITS {
        for record in records("summarisation", split) {
            let id = &record["id"];
            let note = record["note"].as_str().expect("note");
            let words = note.split_whitespace().count();
            assert!((60..=150).contains(&words), "{id}: note of {words} words");
            let summary = record["summary"].as_str().expect("summary");
            let sentences = summary.matches(". ").count() + 1;
            assert!(summary.ends_with('.') && sentences <= 2, "{id}: {summary}");
        }
    }
}

#[test]
fn trial_criteria_are_numbered_from_one_and_eligibility_follows_from_them() {
    let mut eligible = 0;
    let mut total = 0;
    for split in SPLITS {
        for record in records("trial-matching", split) {
            let id = &record["id"];
            let inclusion = strings(&record["trial"]["inclusion"]);
            let exclusion = strings(&record["trial"]["exclusion"]);
            let criteria = record["criteria"].as_array().expect("criteria");
            assert!(!inclusion.is_empty() && !exclusion.is_empty(), "{id}");
            assert_eq!(criteria.len(), inclusion.len() + exclusion.len(), "{id}");
            let mut implied = true;
            for (i, criterion) in criteria.iter().enumerate() {
                assert_eq!(criterion["index"], i + 1, "{id}");
                let kind = if i < inclusion.len() {
                    "inclusion"
                } else {
                    "exclusion"
                };
                assert_eq!(criterion["kind"], kind, "{id}");
                let met = criterion["met"].as_bool().expect("met");
                implied &= met == (kind == "inclusion");
            }
            assert_eq!(record["eligible"], implied, "{id}");
            eligible += usize::from(implied);
            total += 1;
        }
    }
    let share = eligible as f64 / total as f64;
    assert!(
        (0.35..=0.5).contains(&share),
        "{share} of records are eligible"
    );
}

#[test]
fn trial_age_criteria_agree_with_the_stated_age() {
    // An independent reading of the age criteria: parse the wording back and compare with
    // the first number of the patient description, which is always the age.
    for split in SPLITS {
        for record in records("trial-matching", split) {
            let id = &record["id"];
            let patient = record["patient"].as_str().expect("patient");
            let age: u32 = patient
                .split(|c: char| !c.is_ascii_digit())
                .find(|s| !s.is_empty())
                .expect("an age")
                .parse()
                .expect("a number");
            let texts: Vec<String> = strings(&record["trial"]["inclusion"])
                .into_iter()
                .chain(strings(&record["trial"]["exclusion"]))
                .collect();
            for (text, criterion) in texts
                .iter()
                .zip(record["criteria"].as_array().expect("criteria"))
            {
                let numbers: Vec<u32> = text
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().expect("number"))
                    .collect();
                let holds = if text.ends_with("years or older") || text.starts_with("At least") {
                    age >= numbers[0]
                } else if text.starts_with("Aged under") || text.starts_with("Younger than") {
                    age < numbers[0]
                } else if text.starts_with("Aged") || text.starts_with("Between") {
                    (numbers[0]..=numbers[1]).contains(&age)
                } else {
                    continue;
                };
                assert_eq!(criterion["met"], holds, "{id}: `{text}` for age {age}");
            }
        }
    }
}

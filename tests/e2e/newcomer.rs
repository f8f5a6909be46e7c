//! A newcomer's path, in every language `plugin new` offers: write the skeleton, add one
//! metric where its `METRICS` table says, run the skeleton's own `test.sh` (native tests,
//! build, `plugin check` and `plugin score` on its own data), then read the new metric back
//! from `plugin score --out`, per record and aggregated.
//!
//! The toolchains come from `scripts/build-foreign-plugins.sh`. A language whose toolchain is
//! missing is skipped with a notice, except with `CI=true`, where that is a failure.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::Dir;

/// The folder the toolchains are installed in, as the skeletons' build scripts find it.
fn tools() -> PathBuf {
    std::env::var_os("RAPHA_TOOLS").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/rapha-host/tools")
        },
        PathBuf::from,
    )
}

/// Whether `lang`'s toolchain (`needs`, where the build script finds it) is installed;
/// outside CI a missing one skips the test. Rust's is cargo's, always there.
fn toolchain_ready(lang: &str, needs: Option<PathBuf>) -> bool {
    let Some(needs) = needs.filter(|path| !path.exists()) else {
        return true;
    };
    let message = format!(
        "the {lang} toolchain is missing (`{}`): run scripts/build-foreign-plugins.sh",
        needs.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("skipped: {message}");
    false
}

/// `text` with `addition` inserted before the line holding `anchor`, which must be there once.
fn insert_before(text: &str, anchor: &str, addition: &str) -> String {
    assert_eq!(
        text.matches(anchor).count(),
        1,
        "`{anchor}` once in:\n{text}"
    );
    let at = text[..text.find(anchor).expect("found")]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    format!("{}{addition}\n{}", &text[..at], &text[at..])
}

/// What a newcomer writes: a metric `answered`, 1 when the answer has a label at all.
struct Edit {
    file: &'static str,
    /// Each (anchor, addition): the addition goes before the anchor's line.
    insertions: &'static [(&'static str, &'static str)],
}

const ANCHOR: &str = "A new metric:";
const DESCRIPTION: &str = "1 when the answer is a JSON object with a string label, else 0";

fn edit(lang: &str) -> Edit {
    match lang {
        "python" => Edit {
            file: "task.py",
            insertions: &[(
                ANCHOR,
                r#"    Metric("answered", True, "DESCRIPTION", lambda predicted, record: float(predicted is not None)),"#,
            )],
        },
        "js" => Edit {
            file: "task.js",
            insertions: &[(
                ANCHOR,
                r#"  { name: "answered", higherIsBetter: true, description: "DESCRIPTION", compute: (predicted) => (predicted === null ? 0 : 1) },"#,
            )],
        },
        "rust" => Edit {
            file: "src/task.rs",
            insertions: &[(
                ANCHOR,
                r#"    Metric { name: "answered", higher_is_better: true, description: "DESCRIPTION", compute: |predicted, _| f64::from(u8::from(predicted.is_some())) },"#,
            )],
        },
        "c" => Edit {
            file: "task.c",
            insertions: &[
                (
                    "const struct metric METRICS[]",
                    "static double answered(const char *predicted, const struct record *record) {\n    (void)record;\n    return predicted != NULL ? 1.0 : 0.0;\n}\n",
                ),
                (
                    ANCHOR,
                    r#"    {"answered", true, "DESCRIPTION", answered},"#,
                ),
            ],
        },
        other => panic!("no edit for `{other}`"),
    }
}

/// The skeleton of `lang`, with the metric added, through its own `test.sh`; then the
/// scores `plugin score --out` writes.
fn newcomer(lang: &str, toolchain: Option<PathBuf>) {
    if !toolchain_ready(lang, toolchain) {
        return;
    }
    let dir = Dir::new();
    let id = format!("ward-{lang}");
    dir.command()
        .args(["plugin", "new", "--lang", lang, &id])
        .stdout();
    let project = dir.path().join(&id);

    let edit = edit(lang);
    let source = project.join(edit.file);
    let mut text = fs::read_to_string(&source).expect("the skeleton's source");
    for (anchor, addition) in edit.insertions {
        text = insert_before(&text, anchor, &addition.replace("DESCRIPTION", DESCRIPTION));
    }
    fs::write(&source, text).expect("edit the source");

    let binary = env!("CARGO_BIN_EXE_rapha-host");
    // The skeletons' Rust builds share a target folder beside the workspace's.
    let target = Path::new(binary)
        .ancestors()
        .nth(2)
        .expect("target folder")
        .join("skeletons");
    let output = Command::new(project.join("test.sh"))
        .env("RAPHA_HOST", binary)
        .env("RAPHA_TOOLS", tools())
        .env("CARGO_TARGET_DIR", target)
        .output()
        .expect("test.sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{lang}: test.sh failed\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("check passed"), "{stdout}");
    let scored =
        |line: &str| line.trim_start().starts_with("answered ") && line.contains("0.750000");
    assert!(
        stdout
            .lines()
            .any(|line| scored(line) && line.contains(DESCRIPTION)),
        "{stdout}"
    );

    let scores = dir.path().join("scores.json");
    let (wasm, data, predictions) = (
        format!("{id}/{id}.wasm"),
        format!("{id}/data/val.jsonl"),
        format!("{id}/data/predictions.jsonl"),
    );
    dir.command()
        .args([
            "plugin",
            "score",
            &wasm,
            "--data",
            &data,
            "--predictions",
            &predictions,
            "--out",
            "scores.json",
        ])
        .stdout();
    let scores: Value =
        serde_json::from_str(&fs::read_to_string(&scores).expect("scores")).expect("JSON");
    assert_eq!(scores["metrics"]["answered"], 0.75, "{scores:#}");
    assert_eq!(scores["metrics"]["exact_match"], 0.5, "{scores:#}");
    let per_record: Vec<(&str, f64, f64)> = scores["per_record"]
        .as_array()
        .expect("per-record scores")
        .iter()
        .map(|r| {
            let id = r["id"].as_str().expect("id");
            (
                id,
                r["metrics"]["answered"].as_f64().expect("answered"),
                r["metrics"]["exact_match"].as_f64().expect("match"),
            )
        })
        .collect();
    assert_eq!(
        per_record,
        [
            ("n1", 1.0, 1.0),
            ("n2", 1.0, 0.0),
            ("n3", 1.0, 1.0),
            ("n4", 0.0, 0.0)
        ]
    );
}

#[test]
fn rust() {
    newcomer("rust", None);
}

#[test]
fn python() {
    newcomer("python", Some(tools().join("python/bin/componentize-py")));
}

#[test]
fn javascript() {
    newcomer("js", Some(tools().join("js/node_modules/.bin/jco")));
}

#[test]
fn c() {
    newcomer("c", Some(tools().join("c/ziglang/__main__.py")));
}

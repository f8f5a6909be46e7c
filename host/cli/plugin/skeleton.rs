//! `rapha-host plugin new --lang LANG NAME`: a plugin project that works from the first
//! build. Its task is small enough to read in a minute (label a note: `{"note", "label"}`
//! records, `{"label": …}` answers, an `exact_match` metric in a table where adding a metric
//! is one entry), kept apart from the bindings so the language's own test framework runs it
//! natively; `test.sh` runs those tests, builds the component and passes it through
//! `plugin check` and `plugin score` on the project's own `data/`. An author replaces the
//! task step by step and always has a green baseline to compare with.
//!
//! The templates live in `templates/<lang>/` (and `templates/common/`) and are compiled in, so the command works on
//! an air-gapped machine with the binary alone. `{{id}}` in them becomes NAME and
//! `{{snake}}` NAME with `_` for `-` (a Rust crate, Python module or C identifier). The
//! project gets the contract's WIT files in `wit/`, as `plugin wit --out` writes them.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use anyhow::{Context, bail};

use crate::args::{Lang, NewArgs};

use super::contract;

/// A template file: its path inside the project, and its text.
type Template = (&'static str, &'static str);

/// Declares a language's template files, each read from `templates/<lang>/<path>`.
macro_rules! templates {
    ($lang:literal: $($path:literal),+ $(,)?) => {
        &[$(($path, include_str!(concat!("templates/", $lang, "/", $path)))),+]
    };
}

const RUST: &[Template] =
    templates!("rust": "Cargo.toml", "build.sh", "test.sh", "README.md", ".gitignore", "src/lib.rs", "src/task.rs");
const PYTHON: &[Template] =
    templates!("python": "app.py", "task.py", "tests/test_task.py", "build.sh", "test.sh", "README.md", ".gitignore");
const JS: &[Template] = templates!(
    "js": "app.js", "task.js", "test/task.test.js", "build.sh", "test.sh", "README.md", ".gitignore", "package.json"
);
const C: &[Template] = templates!(
    "c": "app.c", "task.c", "task.h", "json.c", "json.h", "tests/task_test.c", "build.sh", "test.sh", "README.md",
    ".gitignore"
);

/// Every language's skeleton task reads the same records and predictions.
const COMMON: &[Template] = templates!("common": "data/val.jsonl", "data/predictions.jsonl", "host-check.sh");

fn templates(lang: Lang) -> &'static [Template] {
    match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::C => C,
    }
}

pub(super) fn new(args: &NewArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let project = args.out.join(&args.name);
    if project.exists() {
        bail!("`{}` already exists: choose another name or folder (nothing is overwritten)", project.display());
    }
    fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
    // Written in a temporary folder beside the project and renamed into place, so a
    // failure leaves nothing half-written behind.
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}-", args.name))
        .tempdir_in(&args.out)
        .with_context(|| format!("cannot create a temporary folder in `{}`", args.out.display()))?;
    let snake = args.name.replace('-', "_");
    let rendered: Vec<(&str, String)> = templates(args.lang)
        .iter()
        .chain(COMMON)
        .map(|(path, text)| (*path, text.replace("{{id}}", &args.name).replace("{{snake}}", &snake)))
        .collect();
    let files = rendered.iter().map(|(path, text)| (*path, text.as_bytes()));
    let wit = contract::WIT_FILES.iter().map(|(name, text)| (*name, text.as_bytes()));
    contract::write_new_files(staging.path(), files)?;
    contract::write_new_files(&staging.path().join("wit"), wit)?;
    for (path, _) in templates(args.lang).iter().chain(COMMON).filter(|(path, _)| path.ends_with(".sh")) {
        let path = staging.path().join(path);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make `{}` executable", path.display()))?;
    }
    fs::rename(staging.path(), &project).with_context(|| format!("cannot create `{}`", project.display()))?;
    println!(
        "wrote a {} plugin skeleton to `{}`: read its README.md; `{}/test.sh` tests, builds, checks and scores it",
        args.lang,
        project.display(),
        project.display()
    );
    Ok(())
}

/// A task id: `[a-z]`, then `[a-z0-9]` in `-`-separated words; it becomes a folder, a
/// package name and, with `_` for `-`, an identifier in every template language.
fn check_name(name: &str) -> anyhow::Result<()> {
    let well_formed = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        && name.len() <= 48;
    if !well_formed {
        bail!(
            "plugin name `{name}`: expected a task id of at most 48 characters, a lowercase letter \
             first, then lowercase letters and digits in words joined by single `-` (e.g. `icd-coding`)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn files_under(dir: &Path, prefix: &str, found: &mut BTreeSet<String>) {
        for entry in fs::read_dir(dir).expect("template folder is readable") {
            let entry = entry.expect("template entry is readable");
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.path().is_dir() {
                files_under(&entry.path(), &format!("{name}/"), found);
            } else {
                found.insert(name);
            }
        }
    }

    #[test]
    fn every_template_file_is_compiled_in() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("host/cli/plugin/templates");
        let folders = <Lang as clap::ValueEnum>::value_variants().iter().map(|&lang| (lang.to_string(), templates(lang)));
        for (folder, listed) in folders.chain([("common".to_owned(), COMMON)]) {
            let mut on_disk = BTreeSet::new();
            files_under(&root.join(&folder), "", &mut on_disk);
            let listed: BTreeSet<String> = listed.iter().map(|(path, _)| (*path).to_owned()).collect();
            assert_eq!(listed, on_disk, "templates of `{folder}`");
        }
    }

    #[test]
    fn names_are_task_ids() {
        for good in ["icd-coding", "a", "trial-matching2", "x1-y2-z3"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "Icd", "1abc", "a_b", "a b", "é", &"a".repeat(49)] {
            let error = check_name(bad).expect_err(bad).to_string();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
    }
}

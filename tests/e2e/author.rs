//! The author's kit: `rapha-host plugin new`, `plugin bindings` and `plugin componentize`.
//! That every skeleton builds, passes its own tests and takes a new metric is proven by
//! `newcomer.rs`, with the toolchains.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use crate::util::Dir;

#[test]
fn plugin_new_writes_a_project_named_for_the_task_with_the_contract() {
    let dir = Dir::new();
    let stdout = dir.command().args(["plugin", "new", "--lang", "rust", "ward-notes", "--out", "plugins"]).stdout();
    assert!(stdout.contains("wrote a rust plugin skeleton to `plugins/ward-notes`"), "{stdout}");
    let project = dir.path().join("plugins/ward-notes");
    let read = |name: &str| fs::read_to_string(project.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(read("Cargo.toml").contains("name = \"ward-notes\""));
    let lib = read("src/lib.rs");
    assert!(lib.contains("id: \"ward-notes\".to_owned()"), "{lib}");
    assert!(!lib.contains("{{"), "a placeholder was left: {lib}");
    assert!(read("src/task.rs").contains("pub const METRICS: &[Metric]"));
    assert!(read("build.sh").contains("release/ward_notes.wasm"));
    assert_eq!(read("data/val.jsonl").lines().count(), read("data/predictions.jsonl").lines().count());
    for script in ["build.sh", "test.sh"] {
        let mode = fs::metadata(project.join(script)).expect("script").permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "{script} is executable");
    }

    let wit = dir.command().args(["plugin", "wit"]).stdout();
    for name in ["types.wit", "task.wit"] {
        assert!(wit.contains(&read(&format!("wit/{name}"))), "wit/{name} is the hosted contract");
    }
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_existing_folder() {
    let dir = Dir::new();
    let output = dir.command().args(["plugin", "new", "--lang", "rust", "Ward_Notes"]).fails_with(1);
    assert!(output.stderr.contains("plugin name `Ward_Notes`: expected a task id"), "{}", output.stderr);
    assert_eq!(fs::read_dir(dir.path()).expect("listable").count(), 0, "nothing written");

    fs::create_dir(dir.path().join("taken")).expect("a folder");
    fs::write(dir.path().join("taken/keep.txt"), "mine").expect("a file");
    let output = dir.command().args(["plugin", "new", "--lang", "rust", "taken"]).fails_with(1);
    assert!(output.stderr.contains("`./taken` already exists"), "{}", output.stderr);
    assert_eq!(fs::read_to_string(dir.path().join("taken/keep.txt")).expect("kept"), "mine");
    let names: Vec<_> = fs::read_dir(dir.path()).expect("listable").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names, ["taken"], "no staging folder is left behind");
}

#[test]
fn plugin_bindings_writes_the_c_bindings_of_the_world() {
    let dir = Dir::new();
    let stdout = dir.command().args(["plugin", "bindings", "--lang", "c", "--out", "gen"]).stdout();
    assert!(stdout.contains("task_plugin.h"), "{stdout}");
    let header = fs::read_to_string(dir.path().join("gen/task_plugin.h")).expect("header");
    for function in ["info", "format_example", "score", "aggregate", "reward", "validate"] {
        let declaration = format!("exports_rapha_task_task_{function}(");
        assert!(header.contains(&declaration), "{declaration} in the header");
    }
    let object = fs::read(dir.path().join("gen/task_plugin_component_type.o")).expect("type object");
    assert!(object.starts_with(b"\0asm"), "the type section is a wasm object");
}

#[test]
fn plugin_componentize_refuses_what_is_not_a_core_module_and_writes_nothing() {
    let dir = Dir::new();
    dir.create("notes.wasm", "Patient: not a module");
    let output = dir.command().args(["plugin", "componentize", "notes.wasm", "--out", "plugin.wasm"]).fails_with(1);
    assert!(output.stderr.contains("cannot make a component of `notes.wasm`"), "{}", output.stderr);
    assert!(!dir.path().join("plugin.wasm").exists());
}

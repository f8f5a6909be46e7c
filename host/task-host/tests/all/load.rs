//! Loading refuses what the host cannot run safely, naming it, before any call.

use rapha_plugin_artifacts::{FORBIDDEN_IMPORT, MISBEHAVE, SUMMARISATION, WRONG_VERSION};
use rapha_task_host::{Error, TaskPlugin};
use sha2::{Digest as _, Sha256};

use crate::util::{TestHost, tight_limits};

fn load_error(host: &TestHost, path: &str) -> Error {
    match TaskPlugin::load(&host.host, path) {
        Ok(plugin) => panic!("`{path}` loaded as `{}`", plugin.info().id),
        Err(error) => error,
    }
}

#[test]
fn a_wrong_wit_version_is_refused_naming_both_versions() {
    let host = TestHost::new(tight_limits());
    let error = load_error(&host, WRONG_VERSION);
    assert!(matches!(&error, Error::Incompatible { export, .. } if export == "rapha:task/task@0.3.0"), "{error}");
    assert_eq!(
        error.to_string(),
        format!("plugin `{WRONG_VERSION}`: exports `rapha:task/task@0.3.0`; this host supports 0.1.x")
    );
}

#[test]
fn an_import_outside_the_granted_set_is_refused_by_name() {
    let host = TestHost::new(tight_limits());
    let error = load_error(&host, FORBIDDEN_IMPORT);
    // The plugin imports `wasi:http` at the WASI version of its toolchain (0.2.x).
    let Error::ForbiddenImport { imports, .. } = &error else {
        panic!("expected a forbidden import, found: {error}");
    };
    let handler = imports
        .iter()
        .find(|import| import.starts_with("wasi:http/outgoing-handler@0.2."))
        .unwrap_or_else(|| panic!("`wasi:http/outgoing-handler` not named: {imports:?}"));
    let message = error.to_string();
    assert!(message.starts_with(&format!("plugin `{FORBIDDEN_IMPORT}`: imports `")), "{message}");
    assert!(message.contains(&format!("`{handler}`")), "{message}");
    assert!(message.contains(", which this host does not grant (granted: wasi:cli,"), "{message}");
}

#[test]
fn a_file_that_is_not_a_component_is_a_compile_error() {
    let host = TestHost::new(tight_limits());
    let path = host.dir.path().join("not-a-component.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").expect("write a core module header");
    let error = load_error(&host, path.to_str().expect("utf-8 path"));
    assert!(matches!(error, Error::Compile { .. }), "{error}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let host = TestHost::new(tight_limits());
    let error = load_error(&host, "no/such/plugin.wasm");
    assert_eq!(error.to_string(), "plugin `no/such/plugin.wasm`: cannot read the component");
}

#[test]
fn info_is_read_at_load_and_checked() {
    let host = TestHost::new(tight_limits());
    let plugin = host.load(MISBEHAVE);
    let info = plugin.info();
    assert_eq!(info.id, "misbehave");
    assert_eq!(plugin.wit_version(), "0.1.0");
    assert_eq!(info.metrics.len(), 1);
    assert_eq!(info.metrics[0].name, "accuracy");
    // `{"type": "string"}` describes plain-text output: any text is a valid value.
    assert!(plugin.schema().is_plain_text());
    assert_eq!(plugin.validate_output(r#""ok""#), Ok(()));
    assert_eq!(plugin.validate_output("[1]"), Ok(()));
    assert!(plugin.log_path().starts_with(host.dir.path()), "{}", plugin.log_path().display());
}

#[test]
fn a_loaded_plugin_can_move_to_another_thread() {
    let host = TestHost::new(tight_limits());
    let mut plugin = host.load(MISBEHAVE);
    let completion = std::thread::spawn(move || {
        plugin
            .format_example(0, &crate::util::behaviour("ok"))
            .expect("the call runs on the other thread")
            .completion
    })
    .join()
    .expect("the thread ends");
    assert_eq!(completion, r#""ok""#);
}

/// One file name rebuilt: each load starts a section of the same log naming its bytes, so an
/// author reading the log knows which build wrote what follows.
#[test]
fn each_load_starts_a_log_section_naming_the_builds_hash() {
    let host = TestHost::new(tight_limits());
    let component = host.dir.path().join("ward-notes.wasm");
    let builds = [MISBEHAVE, SUMMARISATION, MISBEHAVE];
    for build in builds {
        std::fs::copy(build, &component).expect("copy the build");
        host.load(component.to_str().expect("UTF-8 path"));
    }
    let log = crate::util::read_log(&host.dir.path().join("logs/plugin-ward-notes.log"));
    let sections: Vec<&str> = log.lines().filter(|line| line.contains("==== loaded `")).collect();
    assert_eq!(sections.len(), builds.len(), "{log}");
    for (section, build) in sections.iter().zip(builds) {
        let hash = hex::encode(Sha256::digest(std::fs::read(build).expect("read the build")));
        assert!(section.contains(&format!("(sha256 {hash},")), "{section}");
    }
}

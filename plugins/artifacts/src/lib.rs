//! The plugin components that tests and benchmarks load, built by `build.rs` for
//! `wasm32-wasip2` (a nested, release-profile `cargo build`; see there for why).
//!
//! Dev-only: rapha-host itself never depends on this crate. Each constant is the
//! absolute path of one component (`.wasm`), fixed at compile time. [`foreach_plugin!`]
//! walks the four task plugins, so a test suite can prove it covers each of them:
//!
//! ```
//! mod summarisation {}
//! mod icd_coding {}
//! mod fhir_extraction {}
//! mod trial_matching {}
//!
//! macro_rules! assert_test_exists {
//!     ($name:ident, $id:literal, $wasm:expr) => {
//!         #[expect(unused_imports, reason = "fails to compile when the test is missing")]
//!         use self::$name as _;
//!     };
//! }
//! rapha_plugin_artifacts::foreach_plugin!(assert_test_exists);
//! # fn main() {}
//! ```
//!
//! Building this crate needs the `wasm32-wasip2` target (`rustup target add
//! wasm32-wasip2`).

#![warn(missing_docs)]

/// The `summarisation` task plugin (crate `rapha-plugin-summarisation`).
pub const SUMMARISATION: &str = env!("RAPHA_ARTIFACT_SUMMARISATION");

/// The `icd-coding` task plugin (crate `rapha-plugin-icd-coding`).
pub const ICD_CODING: &str = env!("RAPHA_ARTIFACT_ICD_CODING");

/// The `fhir-extraction` task plugin (crate `rapha-plugin-fhir-extraction`).
pub const FHIR_EXTRACTION: &str = env!("RAPHA_ARTIFACT_FHIR_EXTRACTION");

/// The `trial-matching` task plugin (crate `rapha-plugin-trial-matching`).
pub const TRIAL_MATCHING: &str = env!("RAPHA_ARTIFACT_TRIAL_MATCHING");

/// Task `misbehave`: a valid plugin that does what each record's `behaviour` asks
/// (loop, exhaust memory, panic, exit, probe files, sockets, clocks…); its crate doc,
/// `plugins/testing/misbehave/src/lib.rs`, lists the behaviours.
pub const MISBEHAVE: &str = env!("RAPHA_ARTIFACT_MISBEHAVE");

/// Task `exfiltrate`: writes the start of a record's note into the digits and bits of its 32
/// metrics; `plugins/testing/exfiltrate/src/lib.rs` has the encodings.
pub const EXFILTRATE: &str = env!("RAPHA_ARTIFACT_EXFILTRATE");

/// Task `wrong-version`: exports `rapha:task/task@0.3.0`, which the host must refuse.
pub const WRONG_VERSION: &str = env!("RAPHA_ARTIFACT_WRONG_VERSION");

/// Task `forbidden-import`: imports `wasi:http/outgoing-handler@0.2.6`, which the host
/// must refuse at load time.
pub const FORBIDDEN_IMPORT: &str = env!("RAPHA_ARTIFACT_FORBIDDEN_IMPORT");

/// Invoke `$mac!(name, "task-id", path)` once per task plugin that ships with
/// rapha-host: `name` is the task id in snake case (an identifier, for a test or module
/// name), `"task-id"` the id as `info` returns it, and `path` the component's path
/// constant. A plugin added to `plugins/` without being added here fails this crate's
/// build.
#[macro_export]
macro_rules! foreach_plugin {
    ($mac:ident) => {
        $mac!(summarisation, "summarisation", $crate::SUMMARISATION);
        $mac!(icd_coding, "icd-coding", $crate::ICD_CODING);
        $mac!(fhir_extraction, "fhir-extraction", $crate::FHIR_EXTRACTION);
        $mac!(trial_matching, "trial-matching", $crate::TRIAL_MATCHING);
    };
}

#[cfg(test)]
mod tests {
    /// The preamble of a component binary: the `\0asm` magic, then version 13, layer 1
    /// (a core module has version 1, layer 0).
    const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

    fn assert_component(path: &str) {
        let bytes =
            std::fs::read(path).unwrap_or_else(|error| panic!("cannot read `{path}`: {error}"));
        assert!(
            bytes.starts_with(&COMPONENT_PREAMBLE),
            "`{path}`: expected a component preamble {COMPONENT_PREAMBLE:02x?}, found {:02x?}",
            &bytes[..bytes.len().min(8)]
        );
    }

    #[test]
    fn every_artifact_is_a_component() {
        macro_rules! check {
            ($name:ident, $id:literal, $wasm:expr) => {
                assert_component($wasm);
            };
        }
        foreach_plugin!(check);
        for path in [
            super::EXFILTRATE,
            super::MISBEHAVE,
            super::WRONG_VERSION,
            super::FORBIDDEN_IMPORT,
        ] {
            assert_component(path);
        }
    }

    #[test]
    fn foreach_plugin_names_match_task_ids() {
        macro_rules! check {
            ($name:ident, $id:literal, $wasm:expr) => {
                assert_eq!(stringify!($name).replace('_', "-"), $id);
                assert!($wasm.ends_with(&format!("rapha_plugin_{}.wasm", stringify!($name))));
            };
        }
        foreach_plugin!(check);
    }
}

//! Hostile tests of the egress gate: every forbidden export is refused with its
//! reason, audited, and leaves nothing behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rapha_sandbox::{AdapterSpec, AuditLog, Error, ExportDir, Policy, Refusal, VerbatimIndex};
use safetensors::{Dtype, tensor::TensorView};

const NOTE: &str = "Pt Mary Jones, 58 y/o female, hx of T2DM and HTN, presents c/o chest pain and shortness of breath since yesterday. Meds: metformin 500mg bid.";
const A: &str = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
const B: &str = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight";

struct Fixture {
    _dir: tempfile::TempDir,
    export: ExportDir,
    root: std::path::PathBuf,
    audit: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let audit = dir.path().join("audit.jsonl");
    let log = Arc::new(AuditLog::open(&audit).expect("audit log"));
    let spec = AdapterSpec { tensors: BTreeMap::from([(A.to_owned(), vec![2, 4]), (B.to_owned(), vec![4, 2])]) };
    let root = dir.path().join("export");
    let export = ExportDir::open(&root, Policy::new(), VerbatimIndex::new(8, [NOTE]), Some(spec), log).expect("open");
    let root = export.root().to_path_buf();
    Fixture { _dir: dir, export, root, audit }
}

fn adapter_bytes(tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], metadata: Option<(&str, &str)>) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| ((*name).to_owned(), TensorView::new(*dtype, shape.clone(), data).expect("view")))
        .collect();
    let metadata = metadata.map(|(k, v)| std::collections::HashMap::from([(k.to_owned(), v.to_owned())]));
    safetensors::serialize(views, metadata).expect("serialise")
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn good_adapter() -> Vec<u8> {
    let a: Vec<f32> = (0..8).map(|i| (i as f32 - 3.5) * 0.01).collect();
    adapter_bytes(
        &[(A, Dtype::F32, vec![2, 4], f32_bytes(&a)), (B, Dtype::F32, vec![4, 2], f32_bytes(&[0.0; 8]))],
        Some(("format", "pt")),
    )
}

fn refusal(result: rapha_sandbox::Result<()>) -> Refusal {
    match result {
        Err(Error::Refused { refusal, .. }) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn assert_empty(root: &Path) {
    let left: Vec<_> = std::fs::read_dir(root).expect("list").map(|e| e.expect("entry").file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("audit")
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

#[test]
fn exports_a_valid_adapter_and_writes_a_manifest_with_hashes() {
    let mut f = fixture();
    let adapter = good_adapter();
    f.export.export("adapter_model.safetensors", &adapter, &[]).expect("adapter");
    f.export
        .export("adapter_config.json", br#"{"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["q_proj"]}"#, &[])
        .expect("config");
    f.export.export("report.txt", b"rouge1 improved from 0.21 to 0.43 on 120 records.\n", &[]).expect("report");
    let inputs = rapha_sandbox::ManifestInputs {
        recipe: rapha_sandbox::InputHash { role: "recipe".into(), sha256: "0".repeat(64), records: None },
        model: rapha_sandbox::InputHash { role: "model".into(), sha256: "1".repeat(64), records: None },
        plugin: rapha_sandbox::InputHash { role: "plugin".into(), sha256: "2".repeat(64), records: None },
        datasets: vec![rapha_sandbox::InputHash { role: "train".into(), sha256: "3".repeat(64), records: Some(rapha_sandbox::Count::of(500)) }],
    };
    let root = f.root.clone();
    let manifest = f.export.finish(inputs, serde_json::json!({"rouge1": 0.43}), serde_json::json!({"mode": "strict"}), None).expect("finish");
    assert_eq!(manifest.files.len(), 3);
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&adapter))
    };
    assert_eq!(manifest.files[0].sha256, expected);
    let on_disk: rapha_sandbox::Manifest =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).expect("manifest")).expect("parse");
    assert_eq!(on_disk, manifest);
    let decisions: Vec<String> = audit_lines(&f.audit).iter().map(|l| l["decision"].as_str().expect("decision").to_owned()).collect();
    assert_eq!(decisions, ["allowed"; 4]);
}

#[test]
fn refuses_every_type_outside_the_allow_list() {
    let mut f = fixture();
    for name in ["notes.csv", "bundle.ndjson", "train.jsonl", "run.py", "archive.zip", "README"] {
        let r = refusal(f.export.export(name, b"id,note\n1,x\n", &[]));
        assert!(matches!(r, Refusal::ForbiddenType(_)), "{name}: {r}");
    }
    assert_empty(&f.root);
    assert_eq!(audit_lines(&f.audit).len(), 6);
}

#[test]
fn refuses_traversal_and_hidden_names() {
    let mut f = fixture();
    for name in ["../escape.json", "sub/metrics.json", "..json", ".metrics.json", "/etc/passwd.txt"] {
        let r = refusal(f.export.export(name, b"{}", &[]));
        assert!(matches!(r, Refusal::BadName { .. }), "{name}: {r}");
    }
    assert_empty(&f.root);
    assert!(!f.root.parent().expect("parent").join("escape.json").exists());
}

#[test]
fn refuses_a_fhir_bundle_saved_as_json() {
    let mut f = fixture();
    let bundle = br#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","name":[{"family":"Jones"}]}}]}"#;
    let r = refusal(f.export.export("metrics.json", bundle, &[]));
    assert!(r.to_string().contains("missing") || r.to_string().contains("FHIR") || r.to_string().contains("expected the key"), "{r}");
    let wrapped = br#"{"metrics":{"entry":{"resourceType":"Patient"}}}"#;
    let r = refusal(f.export.export("metrics.json", wrapped, &[]));
    assert!(r.to_string().contains("FHIR resource"), "{r}");
    let r = refusal(f.export.export("bundle.json", br#"{"files":[]}"#, &[]));
    assert!(r.to_string().contains("not a known export document"), "{r}");
    assert_empty(&f.root);
}

#[test]
fn refuses_note_text_in_json_strings_and_text_files() {
    let mut f = fixture();
    let r = refusal(f.export.export("report.txt", NOTE.as_bytes(), &[]));
    assert!(r.to_string().contains("copied from the training or evaluation text"), "{r}");
    let paraphrase = "The summary mentions chest pain and shortness of breath for a patient with diabetes.";
    f.export.export("summary.txt", paraphrase.as_bytes(), &[]).expect("a paraphrase of fewer than 8 copied words passes");
    let doc = serde_json::json!({"metrics": {"example": "hx of T2DM and HTN, presents c/o chest pain and shortness"}});
    let r = refusal(f.export.export("metrics.json", doc.to_string().as_bytes(), &[]));
    assert!(r.to_string().contains("/metrics/example"), "{r}");
    let long = serde_json::json!({"metrics": {"note": "word ".repeat(60)}});
    let r = refusal(f.export.export("metrics.json", long.to_string().as_bytes(), &[]));
    assert!(r.to_string().contains("free text"), "{r}");
}

#[test]
fn refuses_identifiers_outside_template_fields() {
    let mut f = fixture();
    for text in ["contact: nurse@hospital.org", "MRN 8812345", "DOB 03/04/1961", "call 555-123-4567"] {
        let r = refusal(f.export.export("report.txt", text.as_bytes(), &[]));
        assert!(r.to_string().contains("looks like"), "{text}: {r}");
    }
    let fields = vec!["2026-11-23".to_owned()];
    f.export.export("report.txt", b"run finished on 2026-11-23", &fields).expect("a template date is allowed");
}

#[test]
fn refuses_text_hidden_in_a_safetensors_tensor() {
    let mut f = fixture();
    let mut hidden = b"Mary Jones MRN 8812345 has".to_vec();
    hidden.extend_from_slice(&[0u8; 6]);
    let tensor = adapter_bytes(&[(A, Dtype::F32, vec![2, 4], hidden), (B, Dtype::F32, vec![4, 2], f32_bytes(&[0.0; 8]))], None);
    let r = refusal(f.export.export("adapter_model.safetensors", &tensor, &[]));
    assert!(r.to_string().contains("printable ASCII"), "{r}");
    assert_empty(&f.root);
}

#[test]
fn refuses_safetensors_metadata_beyond_the_allowed_keys() {
    let mut f = fixture();
    let a = f32_bytes(&[0.01; 8]);
    let b = f32_bytes(&[0.0; 8]);
    let with = |meta| adapter_bytes(&[(A, Dtype::F32, vec![2, 4], a.clone()), (B, Dtype::F32, vec![4, 2], b.clone())], meta);
    let r = refusal(f.export.export("adapter_model.safetensors", &with(Some(("note", "pt has chest pain"))), &[]));
    assert!(r.to_string().contains("metadata key `note`"), "{r}");
    let r = refusal(f.export.export("adapter_model.safetensors", &with(Some(("format", "Mary Jones, 58, T2DM"))), &[]));
    assert!(r.to_string().contains("metadata value"), "{r}");
}

#[test]
fn refuses_extra_missing_integer_and_non_finite_tensors() {
    let mut f = fixture();
    let a = f32_bytes(&[0.01; 8]);
    let b = f32_bytes(&[0.0; 8]);
    let extra = "base_model.model.model.embed_tokens.weight";
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (adapter_bytes(&[(A, Dtype::F32, vec![2, 4], a.clone()), (B, Dtype::F32, vec![4, 2], b.clone()), (extra, Dtype::F32, vec![2], f32_bytes(&[1.0, 2.0]))], None), "not part of the adapter"),
        (adapter_bytes(&[(A, Dtype::F32, vec![2, 4], a.clone())], None), "missing tensor"),
        (adapter_bytes(&[(A, Dtype::I32, vec![2, 4], a.clone()), (B, Dtype::F32, vec![4, 2], b.clone())], None), "not a float type"),
        (adapter_bytes(&[(A, Dtype::F32, vec![2, 4], f32_bytes(&[0.0, f32::NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])), (B, Dtype::F32, vec![4, 2], b.clone())], None), "non-finite"),
        (adapter_bytes(&[(A, Dtype::F32, vec![4, 2], a.clone()), (B, Dtype::F32, vec![4, 2], b.clone())], None), "expected shape"),
        (b"not a safetensors file at all".to_vec(), "not a valid safetensors file"),
    ];
    for (bytes, expected) in cases {
        let r = refusal(f.export.export("adapter_model.safetensors", &bytes, &[]));
        assert!(r.to_string().contains(expected), "expected `{expected}`, got: {r}");
    }
    assert_empty(&f.root);
}

#[test]
fn refuses_to_write_through_a_symlink_at_the_target_name() {
    let mut f = fixture();
    let outside = f.root.parent().expect("parent").join("outside.json");
    std::os::unix::fs::symlink(&outside, f.root.join("metrics.json")).expect("symlink");
    let r = refusal(f.export.export("metrics.json", br#"{"metrics":{}}"#, &[]));
    assert!(matches!(r, Refusal::Exists(_)), "{r}");
    assert!(!outside.exists(), "wrote through the symlink");
    let leftovers: Vec<_> = std::fs::read_dir(&f.root).expect("list").map(|e| e.expect("e").file_name()).collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("metrics.json")], "only the attacker's link remains");
}

#[test]
fn the_scan_refuses_a_hard_link_and_a_symlink_planted_in_the_export_folder() {
    let f = fixture();
    let secret = f.root.parent().expect("parent").join("notes.csv");
    std::fs::write(&secret, NOTE).expect("write");
    std::fs::hard_link(&secret, f.root.join("notes.txt")).expect("hard link");
    let r = f.export.scan().expect_err("hard link must be refused");
    assert!(r.to_string().contains("hard link"), "{r}");
    std::fs::remove_file(f.root.join("notes.txt")).expect("rm");
    std::os::unix::fs::symlink(&secret, f.root.join("data.txt")).expect("symlink");
    let r = f.export.scan().expect_err("symlink must be refused");
    assert!(r.to_string().contains("symlink"), "{r}");
    let refused: Vec<_> = audit_lines(&f.audit).into_iter().filter(|l| l["decision"] == "refused").collect();
    assert_eq!(refused.len(), 2);
}

#[test]
fn an_export_folder_with_content_or_a_symlink_is_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let log = Arc::new(AuditLog::open(dir.path().join("audit.jsonl")).expect("audit"));
    let used = dir.path().join("used");
    std::fs::create_dir(&used).expect("mkdir");
    std::fs::write(used.join("old.json"), "{}").expect("write");
    let err = ExportDir::open(&used, Policy::new(), VerbatimIndex::new(8, [""]), None, log.clone()).expect_err("non-empty");
    assert!(err.to_string().contains("is not empty"), "{err}");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path(), &link).expect("symlink");
    let err = ExportDir::open(&link, Policy::new(), VerbatimIndex::new(8, [""]), None, log).expect_err("symlink");
    assert!(err.to_string().contains("is a symlink"), "{err}");
}

#[test]
fn refuses_files_over_their_type_cap() {
    let mut f = fixture();
    let big = vec![b'a'; (64 << 10) + 1];
    let r = refusal(f.export.export("report.txt", &big, &[]));
    assert!(matches!(r, Refusal::TooLarge { .. }), "{r}");
    assert_empty(&f.root);
}

//! Content checks, one per allowed file type. Each returns the first reason for
//! refusal, phrased without quoting the refused content.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use safetensors::{Dtype, SafeTensors};

use crate::policy::Policy;
use crate::verbatim::VerbatimIndex;

/// The tensors an adapter may hold: PEFT names (with the `base_model.model.`
/// prefix) and shapes, as implied by its `adapter_config.json` and the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdapterSpec {
    /// Name → shape.
    pub tensors: BTreeMap<String, Vec<usize>>,
}

/// The export documents a `.json` may be, by file name, with a key each must have.
const JSON_DOCUMENTS: &[(&str, &str)] = &[
    ("adapter_config.json", "peft_type"),
    ("metrics.json", "metrics"),
    ("manifest.json", "files"),
    ("loss_history.json", "steps"),
];

/// Keys PEFT writes in a LoRA `adapter_config.json`; any other key is refused.
const ADAPTER_CONFIG_KEYS: &[&str] = &[
    "alpha_pattern", "auto_mapping", "base_model_name_or_path", "bias", "corda_config",
    "eva_config", "exclude_modules", "fan_in_fan_out", "inference_mode", "init_lora_weights",
    "layer_replication", "layers_pattern", "layers_to_transform", "loftq_config",
    "lora_alpha", "lora_bias", "lora_dropout", "megatron_config", "megatron_core",
    "modules_to_save", "peft_type", "r", "rank_pattern", "revision", "target_modules",
    "task_type", "trainable_token_indices", "use_dora", "use_rslora", "qalora_group_size",
    "use_qalora",
];

/// Check a `.safetensors` file: it parses, holds only float tensors of the
/// adapter (the names and shapes of `spec` when given, else PEFT LoRA names), all
/// values finite, only allowed metadata, and no long printable-ASCII run in the
/// tensor data.
pub fn safetensors(bytes: &[u8], policy: &Policy, spec: Option<&AdapterSpec>) -> Result<(), String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
    let (header_len, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a valid safetensors file: {e}"))?;
    if let Some(extra) = metadata.metadata() {
        for (key, value) in extra {
            if !policy.safetensors_metadata_keys.iter().any(|k| k == key) {
                return Err(format!("metadata key `{}` is not allowed", truncate(key)));
            }
            if value.len() > 16 {
                return Err(format!("metadata value of `{key}` is longer than 16 bytes"));
            }
        }
    }
    let mut names: Vec<String> = tensors.names().into_iter().map(str::to_owned).collect();
    names.sort();
    if let Some(spec) = spec {
        for expected in spec.tensors.keys() {
            if !names.contains(expected) {
                return Err(format!("missing tensor `{expected}`"));
            }
        }
    }
    for name in &names {
        let view = tensors.tensor(name).map_err(|e| format!("tensor `{}`: {e}", truncate(name)))?;
        match spec {
            Some(spec) => match spec.tensors.get(name) {
                None => return Err(format!("tensor `{}` is not part of the adapter", truncate(name))),
                Some(shape) if shape.as_slice() != view.shape() => {
                    return Err(format!(
                        "tensor `{name}`: expected shape {shape:?}, found {:?}",
                        view.shape()
                    ));
                }
                Some(_) => {}
            },
            None if !is_peft_lora_name(name) => {
                return Err(format!("tensor `{}` is not a LoRA adapter tensor", truncate(name)));
            }
            None => {}
        }
        check_finite(name, view.dtype(), view.data())?;
    }
    let data = &bytes[8 + header_len..];
    let element = names
        .iter()
        .filter_map(|name| tensors.tensor(name).ok().map(|view| view.dtype().bitsize().div_ceil(8)))
        .min()
        .unwrap_or(4);
    if let Some(offset) = text_run(data, element, policy.max_ascii_run) {
        return Err(format!(
            "tensor data holds a run of {} or more printable ASCII bytes that reads as text at offset {offset}",
            policy.max_ascii_run
        ));
    }
    Ok(())
}

/// Check a `.json` file: it parses into one of the known export documents, no
/// string in it is long free text, copied from the source, or an identifier, and
/// it is no FHIR resource.
pub fn json(name: &str, bytes: &[u8], policy: &Policy, verbatim: &VerbatimIndex) -> Result<(), String> {
    let Some(&(_, required)) = JSON_DOCUMENTS.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = JSON_DOCUMENTS.iter().map(|(n, _)| *n).collect();
        return Err(format!("`{name}` is not a known export document: expected one of {}", known.join(", ")));
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let object = value.as_object().ok_or("expected a JSON object at the top level")?;
    if !object.contains_key(required) {
        return Err(format!("expected the key `{required}` of a `{name}` document"));
    }
    if name == "adapter_config.json"
        && let Some(key) = object.keys().find(|k| !ADAPTER_CONFIG_KEYS.contains(&k.as_str()))
    {
        return Err(format!("key `{}` is not an adapter config key", truncate(key)));
    }
    check_json_value(&value, "", policy, verbatim)
}

/// Check a `.txt` file: UTF-8, no run of words copied from the source text and no
/// identifier pattern outside `template_fields` (the typed values the report's
/// template filled in, such as the run's date and hashes).
pub fn text(bytes: &[u8], verbatim: &VerbatimIndex, template_fields: &[String]) -> Result<(), String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    check_free_text(text, verbatim, template_fields)
}

fn check_free_text(text: &str, verbatim: &VerbatimIndex, template_fields: &[String]) -> Result<(), String> {
    if let Some(word) = verbatim.first_copied_run(text) {
        return Err(format!(
            "a run of {} words copied from the training or evaluation text starts at word {word}",
            verbatim.run_length()
        ));
    }
    let mut scrubbed = text.to_owned();
    for field in template_fields.iter().filter(|f| !f.is_empty()) {
        scrubbed = scrubbed.replace(field.as_str(), " ");
    }
    if let Some(kind) = identifier_kind(&scrubbed) {
        return Err(format!("holds what looks like {kind}"));
    }
    Ok(())
}

fn check_json_value(value: &serde_json::Value, path: &str, policy: &Policy, verbatim: &VerbatimIndex) -> Result<(), String> {
    match value {
        serde_json::Value::String(s) => check_json_string(s, path, policy, verbatim),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_json_value(v, &format!("{path}/{i}"), policy, verbatim)),
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let child = format!("{path}/{}", truncate(k));
            if k == "resourceType" {
                return Err(format!("`{child}`: a FHIR resource may not be exported"));
            }
            check_json_string(k, &child, policy, verbatim)?;
            check_json_value(v, &child, policy, verbatim)
        }),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Ok(()),
    }
}

fn check_json_string(s: &str, path: &str, policy: &Policy, verbatim: &VerbatimIndex) -> Result<(), String> {
    let chars = s.chars().count();
    if chars > policy.max_json_string_chars {
        return Err(format!(
            "`{path}`: a string of {chars} characters is free text, over the {} allowed",
            policy.max_json_string_chars
        ));
    }
    // A SHA-256 in hex is what the manifest is made of, not an identifier.
    let is_sha256 = s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let exempt = if is_sha256 { vec![s.to_owned()] } else { Vec::new() };
    check_free_text(s, verbatim, &exempt).map_err(|reason| format!("`{path}`: {reason}"))
}

/// The kind of the first identifier-like pattern in `text`: e-mail addresses,
/// phone numbers, record numbers (7 or more digits, or the words MRN / medical
/// record) and dates of birth (dates, or the words DOB / date of birth).
pub fn identifier_kind(text: &str) -> Option<&'static str> {
    static PATTERNS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            ("an e-mail address", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            ("a phone number", r"(\+\d{1,3}[\s.-]?)?(\(\d{3}\)|\b\d{3})[\s.-]\d{3}[\s.-]\d{4}\b"),
            ("a record number", r"(?i)\b(mrn|medical record)\b|\b\d{7,}\b"),
            (
                "a date of birth",
                r"(?i)\b(dob|date of birth|born on)\b|\b\d{1,2}[/.-]\d{1,2}[/.-](\d{4}|\d{2})\b|\b(19|20)\d{2}[/.-]\d{1,2}[/.-]\d{1,2}\b",
            ),
        ]
        .into_iter()
        .map(|(kind, pattern)| (kind, Regex::new(pattern).expect("identifier patterns are valid")))
        .collect()
    });
    patterns.iter().find(|(_, re)| re.is_match(text)).map(|(kind, _)| *kind)
}

fn is_peft_lora_name(name: &str) -> bool {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN
        .get_or_init(|| {
            Regex::new(
                r"^base_model\.model\.model\.layers\.\d{1,4}\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.lora_(A|B)\.weight$",
            )
            .expect("the PEFT name pattern is valid")
        })
        .is_match(name)
}

fn check_finite(name: &str, dtype: Dtype, data: &[u8]) -> Result<(), String> {
    let finite = match dtype {
        Dtype::F32 => data.chunks_exact(4).all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()),
        // f16 and bf16: the value is non-finite exactly when all exponent bits are set.
        Dtype::F16 => data.chunks_exact(2).all(|b| u16::from_le_bytes([b[0], b[1]]) & 0x7c00 != 0x7c00),
        Dtype::BF16 => data.chunks_exact(2).all(|b| u16::from_le_bytes([b[0], b[1]]) & 0x7f80 != 0x7f80),
        other => return Err(format!("tensor `{name}`: dtype {other:?} is not a float type (F32, F16, BF16)")),
    };
    if finite { Ok(()) } else { Err(format!("tensor `{name}` holds non-finite values")) }
}

/// The offset of the first run of at least `max` printable ASCII bytes that reads as text
/// rather than as floats of `element` bytes.
///
/// Ordinary weights make such runs too: floats of one binade (all near 189, say) share their
/// top two bytes (`=C`), and when both are printable only the two low bytes are left to chance,
/// so a large adapter holds runs of 24 somewhere. Such a run is float-like: the most
/// significant byte of its elements takes one or two values. Text put in a tensor has no such
/// period: its every fourth character varies like the rest.
fn text_run(data: &[u8], element: usize, max: usize) -> Option<usize> {
    let mut start = 0;
    for (i, &byte) in data.iter().chain(std::iter::once(&0)).enumerate() {
        if (0x20..0x7f).contains(&byte) {
            continue;
        }
        if i - start >= max && !float_like(data, start, i, element) {
            return Some(start);
        }
        start = i + 1;
    }
    None
}

/// Whether the elements of `element` bytes lying wholly in `data[start..end]` share their most
/// significant byte (little-endian: an element's last) in at most two values.
fn float_like(data: &[u8], start: usize, end: usize, element: usize) -> bool {
    let element = element.max(1);
    let first = start.div_ceil(element) * element;
    let tops: std::collections::BTreeSet<u8> =
        (first..end).step_by(element).filter(|at| at + element <= end).map(|at| data[at + element - 1]).collect();
    element > 1 && tops.len() <= 2
}

fn truncate(s: &str) -> String {
    s.chars().take(48).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_patterns_catch_the_usual_suspects() {
        assert_eq!(identifier_kind("write to jane.doe@example.org"), Some("an e-mail address"));
        assert_eq!(identifier_kind("call (555) 123-4567"), Some("a phone number"));
        assert_eq!(identifier_kind("MRN 00123"), Some("a record number"));
        assert_eq!(identifier_kind("id 12345678"), Some("a record number"));
        assert_eq!(identifier_kind("DOB: 03/04/1961"), Some("a date of birth"));
        assert_eq!(identifier_kind("born 1961-04-03"), Some("a date of birth"));
        assert_eq!(identifier_kind("rouge1 0.4312, 500 steps, rank 16"), None);
    }

    #[test]
    fn text_runs_are_found_at_their_offset() {
        let mut data = vec![0u8; 10];
        data.extend_from_slice(b"this is a hidden note!!!");
        assert_eq!(text_run(&data, 4, 24), Some(10));
        assert_eq!(text_run(&data[..30], 4, 24), None);
        data.push(0);
        assert_eq!(text_run(&data, 2, 24), Some(10), "bf16 elements");
    }

    /// A PEFT adapter of one `lora_A` tensor holding `values` as f32.
    fn adapter(values: &[f32]) -> Vec<u8> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let name = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";
        let view = safetensors::tensor::TensorView::new(Dtype::F32, vec![values.len()], &bytes).expect("view");
        safetensors::serialize([(name, view)], None).expect("serialise")
    }

    /// xorshift64: deterministic pseudo-random words.
    fn words(seed: u64) -> impl Iterator<Item = u64> {
        std::iter::successors(Some(seed), |&x| {
            let x = x ^ (x << 13);
            let x = x ^ (x >> 7);
            Some(x ^ (x << 17))
        })
    }

    #[test]
    fn ordinary_weights_pass_however_large_or_spread() {
        let policy = Policy::new();
        // A large learning rate: a million weights near 189, whose top two bytes are `=C`.
        let near_189: Vec<f32> = words(7).take(1 << 20).map(|w| 150.0 + (w >> 40) as f32 / (1u64 << 24) as f32 * 80.0).collect();
        // Every finite bit pattern alike.
        let spread: Vec<f32> = words(9).map(|w| f32::from_bits(w as u32)).filter(|v| v.is_finite()).take(1 << 20).collect();
        for (what, values) in [("near 189", near_189), ("over the finite range", spread)] {
            assert_eq!(safetensors(&adapter(&values), &policy, None), Ok(()), "weights {what}");
        }
    }

    #[test]
    fn text_among_weights_is_refused_wherever_it_starts() {
        let policy = Policy::new();
        for shift in 0..4 {
            let mut bytes: Vec<u8> = [0.01f32; 16].iter().flat_map(|v| v.to_le_bytes()).collect();
            bytes[8 + shift..8 + shift + 28].copy_from_slice(b"MRN 00482913 Mary Jones, 58y");
            let values: Vec<f32> =
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let refused = safetensors(&adapter(&values), &policy, None).expect_err("text in a tensor");
            assert!(refused.contains("reads as text"), "{refused}");
        }
    }

    #[test]
    fn peft_names_are_recognised() {
        assert!(is_peft_lora_name("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight"));
        assert!(is_peft_lora_name("base_model.model.model.layers.29.mlp.down_proj.lora_B.weight"));
        assert!(!is_peft_lora_name("base_model.model.model.embed_tokens.weight"));
        assert!(!is_peft_lora_name("notes"));
    }
}

//! The plugins' output schemas as masks over SmolLM2's vocabulary: every token of a perfect
//! answer passes, prose and white space do not, the finished answer allows only its end,
//! and an unsupported keyword is named when the schema is compiled.

use std::path::Path;
use std::sync::OnceLock;

use rapha_constrain::{SchemaConstraint, SchemaDecoding};
use rapha_engine::{ModelSource, Pretrained, TokenConstraint, Tokenizer};
use serde_json::{Value, json};

/// SmolLM2's tokenizer and its logits' width (`scripts/fetch-model.sh` fetches the model).
fn smol() -> &'static (Tokenizer, usize) {
    static SMOL: OnceLock<(Tokenizer, usize)> = OnceLock::new();
    SMOL.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(path.is_file(), "{} is missing: run scripts/fetch-model.sh", path.display());
        let pretrained = Pretrained::load(&ModelSource::Gguf(path)).expect("SmolLM2 loads");
        (pretrained.tokenizer, pretrained.config.vocab_size)
    })
}

fn decoding(schema: &str) -> SchemaDecoding {
    let (tokenizer, vocab) = smol();
    SchemaDecoding::new(&serde_json::from_str(schema).expect("JSON"), tokenizer, *vocab).expect("the schema compiles")
}

/// Whether `token` is allowed next.
fn allowed(constraint: &mut SchemaConstraint, token: u32) -> bool {
    let mut logits = vec![0.0f32; smol().1];
    constraint.restrict(&mut logits, usize::MAX).expect("a mask");
    logits[token as usize].is_finite()
}

/// Feed `answer`'s tokens one by one, each checked against the mask first.
fn feed(constraint: &mut SchemaConstraint, answer: &str) {
    let tokens = smol().0.encode(answer, false).expect("encode");
    for (i, &token) in tokens.iter().enumerate() {
        let piece = smol().0.decode(&[token], false).expect("decode");
        assert!(allowed(constraint, token), "token {i} ({piece:?}) of {answer} is masked");
        constraint.advance(token).expect("advance");
    }
}

#[test]
fn every_token_of_a_perfect_answer_passes_and_then_only_the_end() {
    for (schema, answer) in [
        (
            rapha_plugin_fhir_extraction::schema::OUTPUT_SCHEMA,
            json!({"resourceType": "ClinicalNoteExtract", "patient": {"name": "Ada Lovelace", "ageYears": 54, "sex": "female"},
                   "complaints": ["chest pain"], "conditions": [],
                   "medications": [{"name": "metformin", "dose": {"value": 500, "unit": "mg"}}, {"name": "aspirin", "dose": null}]}),
        ),
        (
            rapha_plugin_trial_matching::schema::OUTPUT_SCHEMA,
            json!({"eligible": false, "criteria": [{"index": 1, "met": true}, {"index": 2, "met": false}]}),
        ),
    ] {
        let mut constraint = decoding(schema).constraint().expect("a constraint");
        feed(&mut constraint, &serde_json::to_string(&answer).expect("compact JSON"));
        let eos = smol().0.eos_token_ids()[0];
        let mut logits = vec![0.0f32; smol().1];
        constraint.restrict(&mut logits, usize::MAX).expect("a mask");
        let open: Vec<usize> = (0..logits.len()).filter(|&t| logits[t].is_finite()).collect();
        assert_eq!(open, [eos as usize], "after a complete answer only EOS");
    }
}

#[test]
fn prose_and_white_space_are_masked() {
    let decoding = decoding(rapha_plugin_trial_matching::schema::OUTPUT_SCHEMA);
    let tokenizer = &smol().0;
    let first = |text: &str| tokenizer.encode(text, false).expect("encode")[0];
    let mut constraint = decoding.constraint().expect("a constraint");
    assert!(!allowed(&mut constraint, first("The patient")), "prose before the object");
    assert!(!allowed(&mut constraint, first(" {")), "white space before the object");
    // Only the canonical token: `{"` is one token in SmolLM2's vocabulary, so `{` alone is not.
    assert!(allowed(&mut constraint, first("{\"")));
    assert!(!allowed(&mut constraint, first("{")));
    feed(&mut constraint, "{\"eligible\":");
    assert!(!allowed(&mut constraint, first("yes")), "a string where a boolean belongs");
    assert!(!allowed(&mut constraint, first(" true")), "white space after the key");
    feed(&mut constraint, "true,\"criteria\":[{\"index\":");
    assert!(!allowed(&mut constraint, first("-")), "a negative index under `minimum: 1`");
}

#[test]
fn an_unsupported_keyword_is_named_when_the_schema_is_compiled() {
    let (tokenizer, vocab) = smol();
    let schema: Value = json!({"type": "object", "properties": {"a": {"type": "string"}}, "dependentSchemas": {"a": {"required": ["b"]}}});
    let error = SchemaDecoding::new(&schema, tokenizer, *vocab).err().expect("refused").to_string();
    assert!(error.contains("dependentSchemas"), "{error}");
}


/// Which tokens close anything: `"`, `]` or `}` in their text, or EOS.
fn closing() -> &'static [bool] {
    static CLOSING: OnceLock<Vec<bool>> = OnceLock::new();
    CLOSING.get_or_init(|| {
        let (tokenizer, vocab) = smol();
        (0..*vocab as u32)
            .map(|t| {
                let text = tokenizer.decode(&[t], false).unwrap_or_default();
                text.contains(['"', ']', '}']) || tokenizer.eos_token_ids().contains(&t)
            })
            .collect()
    })
}

/// A model that never wants to stop: seeded random logits, the [`closing`] tokens pushed down.
fn restless_logits(step: u64, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(step.wrapping_mul(1442695040888963407)) | 1;
    closing()
        .iter()
        .map(|&closes| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32;
            if closes { noise - 100.0 } else { noise }
        })
        .collect()
}

/// Continue the answer under `constraint` with the [`restless_logits`] model for at most
/// `cap` tokens (or to EOS); the generated text.
fn continue_restlessly(constraint: &mut SchemaConstraint, cap: usize) -> String {
    let tokenizer = &smol().0;
    let mut tokens = Vec::new();
    for step in 0..cap {
        let mut logits = restless_logits(step as u64, cap as u64);
        constraint.restrict(&mut logits, cap - step).expect("a mask");
        let token = (0..logits.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).expect("a token") as u32;
        if tokenizer.eos_token_ids().contains(&token) {
            break;
        }
        constraint.advance(token).expect("advance");
        tokens.push(token);
    }
    tokenizer.decode(&tokens, false).expect("decode")
}

/// `text` parses and fits `schema`.
fn assert_fits(schema: &str, text: &str) {
    let validator = jsonschema::validator_for(&serde_json::from_str(schema).expect("JSON")).expect("a schema");
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert!(validator.is_valid(&value), "breaks the schema: {text}");
}

#[test]
fn an_answer_that_would_run_past_the_cap_is_closed_within_it() {
    for schema in [rapha_plugin_fhir_extraction::schema::OUTPUT_SCHEMA, rapha_plugin_trial_matching::schema::OUTPUT_SCHEMA] {
        for cap in [48usize, 96] {
            let mut constraint = decoding(schema).constraint().expect("a constraint");
            assert_fits(schema, &continue_restlessly(&mut constraint, cap));
        }
    }
}

/// SmolLM2 repeating `ap` inside a medication's name (seen on a test record): inside a string
/// `]]` is text, so only a closing quote ends it.
#[test]
fn an_answer_stuck_inside_a_string_is_closed_within_the_cap() {
    let schema = rapha_plugin_fhir_extraction::schema::OUTPUT_SCHEMA;
    let prefix = r#"{"resourceType":"ClinicalNoteExtract","patient":{"name":"Mateo Birkett","ageYears":21,"sex":"male"},"complaints":[],"conditions":[],"medications":[{"name":"peptadil","dose":{"value":10.00,"unit":"PEMT1DM"}},{"name":"mifapapapap"#;
    for cap in [8usize, 12, 24] {
        let mut constraint = decoding(schema).constraint().expect("a constraint");
        feed(&mut constraint, prefix);
        let text = format!("{prefix}{}", continue_restlessly(&mut constraint, cap));
        assert_fits(schema, &text);
    }
}

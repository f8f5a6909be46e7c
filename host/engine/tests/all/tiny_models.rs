//! Reference: `tests/fixtures/tiny/<arch>/expected.{safetensors,json}`, written by
//! `tests/fixtures/make_tiny.py` with transformers (versions in each `expected.json`).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use rapha_engine::{
    Error, LoraConfig, Message, Mode, Model, ModelSource, Pretrained, Quantization, Target,
};
use serde::Deserialize;

use crate::util::{max_abs, max_abs_diff, tiny, values};

const ARCHS: [&str; 3] = ["llama3", "qwen2", "mistral"];

fn load(arch: &str) -> (Pretrained, Model) {
    let pretrained =
        Pretrained::load(&ModelSource::from_path(&tiny(arch))).expect("tiny model loads");
    let model = Model::new(
        pretrained.config.clone(),
        pretrained.weights.clone(),
        Quantization::None,
        None,
        0,
    )
    .expect("model");
    (pretrained, model)
}

fn expected(arch: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(tiny(arch).join("expected.safetensors"), &Device::Cpu)
        .expect("expected.safetensors")
}

fn u32s(t: &Tensor) -> Tensor {
    t.to_dtype(DType::U32).expect("ids as u32")
}

fn logits(model: &Model, ids: &Tensor, positions: &Tensor, mask: Option<&Tensor>) -> Tensor {
    let hidden = model
        .forward(ids, positions, mask, None, &Mode::Eval)
        .expect("forward");
    model.lm_head(&hidden).expect("lm head")
}

/// max|Δ| over the compared positions, relative to the largest reference logit.
fn relative_error(ours: &Tensor, reference: &Tensor) -> f64 {
    let (a, b) = (values(ours), values(reference));
    max_abs_diff(&a, &b) / max_abs(&b)
}

#[test]
fn tiny_models_match_transformers_logits() {
    for arch in ARCHS {
        let (_, model) = load(arch);
        let expected = expected(arch);
        let ids = u32s(&expected["single.input_ids"]);
        let positions = Tensor::arange(0u32, ids.dims()[1] as u32, &Device::Cpu)
            .and_then(|p| p.unsqueeze(0))
            .expect("positions");
        let err = relative_error(
            &logits(&model, &ids, &positions, None),
            &expected["single.logits"],
        );
        eprintln!("tiny {arch}: single sequence, max|Δ| / max|ref| = {err:.2e}");
        assert!(err <= 1e-4, "{arch}: logits differ by {err} relative");
    }
}

#[test]
fn tiny_models_match_transformers_on_a_left_padded_batch() {
    for arch in ARCHS {
        let (_, model) = load(arch);
        let expected = expected(arch);
        let ids = u32s(&expected["padded.input_ids"]);
        let mask = u32s(&expected["padded.attention_mask"]);
        let positions = u32s(&expected["padded.position_ids"]);
        let ours = logits(&model, &ids, &positions, Some(&mask));
        let reference = &expected["padded.logits"];
        // Padding positions' outputs are meaningless in both; compare the real tokens.
        let mask_rows = mask.to_vec2::<u32>().expect("mask");
        let mut worst = 0f64;
        for (row, row_mask) in mask_rows.iter().enumerate() {
            for (col, &real) in row_mask.iter().enumerate() {
                if real == 1 {
                    let pick = |t: &Tensor| t.get(row).and_then(|r| r.get(col)).expect("position");
                    worst = worst.max(relative_error(&pick(&ours), &pick(reference)));
                }
            }
        }
        eprintln!("tiny {arch}: padded batch, worst max|Δ| / max|ref| per position = {worst:.2e}");
        assert!(
            worst <= 1e-4,
            "{arch}: padded logits differ by {worst} relative"
        );
    }
}

/// With adapters on every projection, in training mode (dropout 0), the activations carry
/// gradients, so RMSNorm, RoPE and softmax take their composite (differentiable) forms
/// instead of candle's fused kernels. B starts at zero, so the logits must still be
/// transformers'. In evaluation mode the same forward records no graph.
#[test]
fn differentiable_path_with_fresh_adapters_matches_transformers() {
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        dropout: 0.0,
        targets: vec![
            Target::QProj,
            Target::KProj,
            Target::VProj,
            Target::OProj,
            Target::GateProj,
            Target::UpProj,
            Target::DownProj,
        ],
        rslora: false,
    };
    for arch in ARCHS {
        let pretrained =
            Pretrained::load(&ModelSource::from_path(&tiny(arch))).expect("tiny model loads");
        let model = Model::new(
            pretrained.config,
            pretrained.weights,
            Quantization::None,
            Some(&lora),
            7,
        )
        .expect("model");
        assert_eq!(
            model.adapters().count(),
            2 * 7,
            "{arch}: one adapter per projection"
        );
        let expected = expected(arch);
        let ids = u32s(&expected["padded.input_ids"]);
        let mask = u32s(&expected["padded.attention_mask"]);
        let positions = u32s(&expected["padded.position_ids"]);
        let train = Mode::Train { seed: 0, step: 0, micro_batch: 0 };
        let hidden = model
            .forward(&ids, &positions, Some(&mask), None, &train)
            .expect("forward");
        assert!(
            hidden.track_op(),
            "{arch}: adapters make the training output differentiable"
        );
        let eval = model
            .forward(&ids, &positions, Some(&mask), None, &Mode::Eval)
            .expect("forward");
        assert!(!eval.track_op(), "{arch}: evaluation records no graph");
        let ours = model.lm_head(&hidden).expect("lm head");
        // Row 0 has no padding: all of it is comparable.
        let err = relative_error(
            &ours.get(0).expect("row"),
            &expected["padded.logits"].get(0).expect("row"),
        );
        assert!(
            err <= 1e-4,
            "{arch}: differentiable path differs by {err} relative"
        );
    }
}

/// Prefill part of a left-padded batch, then decode the rest one token at a time with
/// the KV cache; every step must reproduce the logits of recomputing the whole prefix.
#[test]
fn kv_cache_decoding_equals_full_recomputation() {
    for arch in ARCHS {
        let (_, model) = load(arch);
        let expected = expected(arch);
        let ids = u32s(&expected["padded.input_ids"]);
        let mask = u32s(&expected["padded.attention_mask"]);
        let positions = u32s(&expected["padded.position_ids"]);
        let full = logits(&model, &ids, &positions, Some(&mask));
        let total = ids.dims()[1];
        let prefill = 5;
        let mut cache = model.new_cache();
        let step = |start: usize, len: usize, cache: &mut rapha_engine::KvCache| -> Tensor {
            let hidden = model
                .forward(
                    &ids.narrow(1, start, len).expect("ids"),
                    &positions.narrow(1, start, len).expect("positions"),
                    Some(&mask.narrow(1, 0, start + len).expect("mask")),
                    Some(cache),
                    &Mode::Eval,
                )
                .expect("cached forward");
            model.lm_head(&hidden).expect("lm head")
        };
        let row_mask = mask.to_vec2::<u32>().expect("mask");
        // Padding positions attend to nothing real, so their outputs are arbitrary;
        // compare the real tokens only.
        let compare = |ours: &Tensor, start: usize| {
            for (offset, position) in (start..start + ours.dims()[1]).enumerate() {
                for (row, m) in row_mask.iter().enumerate() {
                    if m[position] == 1 {
                        let a = ours.get(row).and_then(|r| r.get(offset)).expect("ours");
                        let b = full.get(row).and_then(|r| r.get(position)).expect("full");
                        let err = relative_error(&a, &b);
                        assert!(
                            err <= 1e-5,
                            "{arch}: position {position} row {row} differs by {err} from recomputation"
                        );
                    }
                }
            }
        };
        compare(&step(0, prefill, &mut cache), 0);
        for position in prefill..total {
            compare(&step(position, 1, &mut cache), position);
        }
        assert_eq!(cache.seq_len(), total);
    }
}

#[derive(Deserialize)]
struct Expected {
    tokenizer: TokenizerExpected,
}

#[derive(Deserialize)]
struct TokenizerExpected {
    plain: String,
    plain_ids: Vec<u32>,
    plain_ids_with_special: Vec<u32>,
    messages: Vec<Message>,
    chat_text: String,
    chat_ids: Vec<u32>,
    chat_text_no_generation_prompt: String,
}

#[test]
fn hf_directory_tokenizer_and_chat_template_match_transformers() {
    for arch in ARCHS {
        let (pretrained, _) = load(arch);
        let text =
            std::fs::read_to_string(tiny(arch).join("expected.json")).expect("expected.json");
        let expected: Expected = serde_json::from_str(&text).expect("parses");
        let t = expected.tokenizer;
        let tokenizer = &pretrained.tokenizer;
        assert_eq!(
            tokenizer.encode(&t.plain, false).expect("encode"),
            t.plain_ids,
            "{arch}: plain ids"
        );
        assert_eq!(
            tokenizer.encode(&t.plain, true).expect("encode"),
            t.plain_ids_with_special,
            "{arch}: ids with BOS"
        );
        assert_eq!(
            tokenizer
                .apply_chat_template(&t.messages, true)
                .expect("render"),
            t.chat_text,
            "{arch}: chat text"
        );
        assert_eq!(
            tokenizer
                .apply_chat_template(&t.messages, false)
                .expect("render"),
            t.chat_text_no_generation_prompt,
            "{arch}: chat text without generation prompt"
        );
        assert_eq!(
            tokenizer
                .encode_chat(&t.messages, true)
                .expect("encode chat"),
            t.chat_ids,
            "{arch}: chat ids"
        );
        assert_eq!(tokenizer.bos_token_id(), Some(1));
        assert_eq!(tokenizer.eos_token_ids(), [2]);
        assert_eq!(
            tokenizer.decode(&t.plain_ids, true).expect("decode"),
            t.plain,
            "{arch}: decode"
        );
    }
}

#[test]
fn chat_template_raise_exception_becomes_an_error() {
    let (pretrained, _) = load("llama3");
    let err = pretrained
        .tokenizer
        .apply_chat_template(&[Message::new("tool", "{}")], true)
        .expect_err("unknown role");
    assert!(matches!(err, Error::ChatTemplate { .. }), "{err:?}");
    assert!(err.to_string().contains("unknown role: tool"), "{err}");
}

#[test]
fn configs_resolve_each_architecture() {
    let config = |arch| load(arch).0.config;
    let llama3 = config("llama3");
    assert!(matches!(
        llama3.rope_scaling,
        rapha_engine::RopeScaling::Llama3 { factor: 8.0, .. }
    ));
    assert!(!llama3.tie_word_embeddings && !llama3.qkv_bias);
    let qwen2 = config("qwen2");
    assert!(qwen2.qkv_bias && !qwen2.o_bias && qwen2.tie_word_embeddings);
    let mistral = config("mistral");
    assert_eq!(
        (mistral.sliding_window, mistral.num_key_value_heads),
        (Some(4), 1)
    );
}

/// Copy a fixture directory into a temporary one, with `config.json` edited.
fn with_config_edit(arch: &str, edit: impl Fn(&mut serde_json::Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(tiny(arch)).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
    edit(&mut config);
    std::fs::write(&path, serde_json::to_string(&config).expect("json")).expect("write");
    dir
}

#[test]
fn rejects_weights_whose_shape_disagrees_with_the_config() {
    let dir = with_config_edit("mistral", |c| c["intermediate_size"] = 100.into());
    let err = Pretrained::load(&ModelSource::HfDir(dir.path().to_path_buf()))
        .expect_err("shape mismatch");
    let message = err.to_string();
    assert!(
        message.ends_with(
            "tensor `model.layers.0.mlp.gate_proj.weight`: expected shape [100, 64], found [96, 64]"
        ),
        "{message}"
    );
}

#[test]
fn rejects_an_invalid_config_naming_the_field() {
    let dir = with_config_edit("qwen2", |c| c["num_key_value_heads"] = 3.into());
    let err =
        Pretrained::load(&ModelSource::HfDir(dir.path().to_path_buf())).expect_err("bad heads");
    assert!(
        err.to_string().ends_with("config.json: `num_key_value_heads`: expected a divisor of `num_attention_heads` (4), found `3`"),
        "{err}"
    );
}

/// A tokenizer whose padding token lies beyond the embedding (an added token the model has no
/// row for) is refused at load, naming the token and the embedding's size.
#[test]
fn a_special_token_beyond_the_embedding_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("temporary folder");
    for entry in std::fs::read_dir(tiny("llama3")).expect("fixture") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("a name"))).expect("copy");
    }
    let path = dir.path().join("tokenizer.json");
    let mut tokenizer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    let added = tokenizer["added_tokens"].as_array_mut().expect("added tokens");
    added.push(serde_json::json!({"id": 128, "content": "<|extra_pad|>", "single_word": false, "lstrip": false,
        "rstrip": false, "normalized": false, "special": true}));
    std::fs::write(&path, tokenizer.to_string()).expect("write");
    let config = dir.path().join("tokenizer_config.json");
    let text = std::fs::read_to_string(&config).expect("read").replace("\"<pad>\"", "\"<|extra_pad|>\"");
    std::fs::write(&config, text).expect("write");

    let error = Pretrained::load(&ModelSource::from_path(dir.path())).expect_err("pad beyond the embedding");
    assert!(
        error.to_string().ends_with(
            ": `tokenizer pad token`: expected an id below `vocab_size` (128), a row of the embedding, found `128`"
        ),
        "{error}"
    );
}

//! Small llama GGUF files written with candle's GGUF writer, then damaged on purpose.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use rapha_engine::{Error, GgufFile, Result};

const HIDDEN: usize = 8;
const HEADS: usize = 2;
const KV_HEADS: usize = 1;
const HEAD_DIM: usize = 4;
const FFN: usize = 12;
const VOCAB: usize = 8;

/// What to leave out of or change in the valid file.
#[derive(Default, Clone, Copy)]
struct Variant {
    alignment: Option<u32>,
    architecture: Option<&'static str>,
    without_block_count: bool,
    q_columns: Option<usize>,
    up_rows: Option<usize>,
    /// A `u32` metadata value in place of the valid one.
    replaced: Option<(&'static str, u32)>,
    /// A value written into the down projection, at index 5.
    down_value: Option<f32>,
}

/// llama.cpp's `permute` of q/k rows (convert_hf_to_gguf.py): `[heads, 2, dim/2, in]`
/// with the two middle axes swapped.
fn llama_cpp_permute(hf: &Tensor, heads: usize) -> Tensor {
    let (rows, cols) = hf.dims2().expect("2-d");
    hf.reshape((heads, 2, rows / heads / 2, cols))
        .and_then(|t| t.transpose(1, 2))
        .and_then(|t| t.contiguous())
        .and_then(|t| t.reshape((rows, cols)))
        .expect("permute")
}

/// Weights in Hugging Face layout: distinct values so a wrong permutation shows.
fn hf_weight(rows: usize, cols: usize, offset: f32) -> Tensor {
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| offset + i as f32 / 100.0)
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).expect("weight")
}

/// The down projection, with `value` at flat index 5 when given.
fn down_weight(value: Option<f32>) -> Tensor {
    let mut values = hf_weight(HIDDEN, FFN, 7.0).flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values");
    if let Some(value) = value {
        values[5] = value;
    }
    Tensor::from_vec(values, (HIDDEN, FFN), &Device::Cpu).expect("weight")
}

fn build(variant: Variant) -> Vec<u8> {
    let s = |v: &str| Value::String(v.to_owned());
    let tokens = ["<s>", "</s>", "a", "b", "c", "Ġ", "ab", "Ġa"];
    let mut metadata: Vec<(&str, Value)> = vec![
        (
            "general.architecture",
            s(variant.architecture.unwrap_or("llama")),
        ),
        ("llama.embedding_length", Value::U32(HIDDEN as u32)),
        ("llama.attention.head_count", Value::U32(HEADS as u32)),
        ("llama.attention.head_count_kv", Value::U32(KV_HEADS as u32)),
        ("llama.feed_forward_length", Value::U32(FFN as u32)),
        ("llama.context_length", Value::U32(32)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("tokenizer.ggml.model", s("gpt2")),
        ("tokenizer.ggml.pre", s("smollm")),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.iter().map(|t| s(t)).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(
                [3, 3, 1, 1, 1, 1, 1, 1]
                    .into_iter()
                    .map(Value::I32)
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.merges",
            Value::Array(vec![s("a b"), s("Ġ a")]),
        ),
        ("tokenizer.ggml.bos_token_id", Value::U32(0)),
        ("tokenizer.ggml.eos_token_id", Value::U32(1)),
        (
            "tokenizer.chat_template",
            s("{% for m in messages %}<s>{{ m['content'] }}</s>{% endfor %}"),
        ),
    ];
    if let Some((key, value)) = variant.replaced {
        for (name, slot) in &mut metadata {
            if *name == key {
                *slot = Value::U32(value);
            }
        }
    }
    if !variant.without_block_count {
        metadata.push(("llama.block_count", Value::U32(1)));
    }
    if let Some(alignment) = variant.alignment {
        metadata.push(("general.alignment", Value::U32(alignment)));
    }
    let q = HEADS * HEAD_DIM;
    let kv = KV_HEADS * HEAD_DIM;
    let ones = |n: usize| Tensor::ones(n, candle_core::DType::F32, &Device::Cpu).expect("ones");
    let tensors: Vec<(&str, Tensor)> = vec![
        ("token_embd.weight", hf_weight(VOCAB, HIDDEN, 0.0)),
        ("blk.0.attn_norm.weight", ones(HIDDEN)),
        (
            "blk.0.attn_q.weight",
            llama_cpp_permute(
                &hf_weight(q, variant.q_columns.unwrap_or(HIDDEN), 1.0),
                HEADS,
            ),
        ),
        (
            "blk.0.attn_k.weight",
            llama_cpp_permute(&hf_weight(kv, HIDDEN, 2.0), KV_HEADS),
        ),
        ("blk.0.attn_v.weight", hf_weight(kv, HIDDEN, 3.0)),
        ("blk.0.attn_output.weight", hf_weight(HIDDEN, q, 4.0)),
        ("blk.0.ffn_norm.weight", ones(HIDDEN)),
        ("blk.0.ffn_gate.weight", hf_weight(FFN, HIDDEN, 5.0)),
        (
            "blk.0.ffn_up.weight",
            hf_weight(variant.up_rows.unwrap_or(FFN), HIDDEN, 6.0),
        ),
        ("blk.0.ffn_down.weight", down_weight(variant.down_value)),
        ("output_norm.weight", ones(HIDDEN)),
    ];
    let quantized: Vec<(&str, QTensor)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                *n,
                QTensor::quantize(t, GgmlDType::F32).expect("f32 qtensor"),
            )
        })
        .collect();
    let mut out = std::io::Cursor::new(Vec::new());
    let metadata_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = quantized.iter().map(|(n, t)| (*n, t)).collect();
    gguf_file::write(&mut out, &metadata_refs, &tensor_refs).expect("write gguf");
    out.into_inner()
}

/// Everything a model load reads from the file.
fn load_all(path: &Path) -> Result<()> {
    let file = GgufFile::open(path)?;
    let config = file.config()?;
    file.weights(&config)?;
    file.tokenizer()?;
    Ok(())
}

fn write(dir: &tempfile::TempDir, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, bytes).expect("write");
    path
}

fn load_error(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = load_all(&write(&dir, bytes)).expect_err("malformed file must be rejected");
    err.to_string()
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn loads_a_valid_file_with_config_tokenizer_and_unpermuted_qk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        &dir,
        &build(Variant {
            alignment: Some(32),
            ..Variant::default()
        }),
    );
    let file = GgufFile::open(&path).expect("opens");
    let config = file.config().expect("config");
    assert_eq!(
        (
            config.vocab_size,
            config.hidden_size,
            config.num_key_value_heads,
            config.head_dim,
            config.num_hidden_layers
        ),
        (VOCAB, HIDDEN, KV_HEADS, HEAD_DIM, 1)
    );
    assert!(
        config.tie_word_embeddings,
        "no `output.weight` means a tied head"
    );
    let weights = file.weights(&config).expect("weights");
    let q = weights
        .get("model.layers.0.self_attn.q_proj.weight")
        .expect("q");
    let k = weights
        .get("model.layers.0.self_attn.k_proj.weight")
        .expect("k");
    assert_eq!(
        q.to_vec2::<f32>().expect("q"),
        hf_weight(HEADS * HEAD_DIM, HIDDEN, 1.0)
            .to_vec2::<f32>()
            .expect("hf q")
    );
    assert_eq!(
        k.to_vec2::<f32>().expect("k"),
        hf_weight(KV_HEADS * HEAD_DIM, HIDDEN, 2.0)
            .to_vec2::<f32>()
            .expect("hf k")
    );
    let tokenizer = file.tokenizer().expect("tokenizer");
    assert_eq!(tokenizer.encode("ab a", false).expect("encode"), [6, 7]);
    let chat = tokenizer
        .apply_chat_template(&[rapha_engine::Message::new("user", "ab")], true)
        .expect("template");
    assert_eq!(tokenizer.encode(&chat, false).expect("encode"), [0, 6, 1]);
}

#[test]
fn rejects_zero_alignment_before_candle_divides_by_it() {
    let message = load_error(&build(Variant {
        alignment: Some(0),
        ..Variant::default()
    }));
    assert!(
        message.ends_with(
            "gguf metadata `general.alignment`: expected a nonzero power of two, found `0`"
        ),
        "{message}"
    );
    let message = load_error(&build(Variant {
        alignment: Some(48),
        ..Variant::default()
    }));
    assert!(message.contains("found `48`"), "{message}");
}

#[test]
fn rejects_bad_magic_and_version() {
    let mut bytes = build(Variant::default());
    bytes[..4].copy_from_slice(b"GGML");
    assert!(load_error(&bytes).contains("gguf header `magic`: expected `GGUF`"));
    let mut bytes = build(Variant::default());
    bytes[4..8].copy_from_slice(&7u32.to_le_bytes());
    assert!(load_error(&bytes).ends_with("gguf header `version`: expected 2 or 3, found `7`"));
}

#[test]
fn rejects_counts_the_file_cannot_hold() {
    let mut bytes = build(Variant::default());
    bytes[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    let message = load_error(&bytes);
    assert!(
        message.contains("gguf header `tensor_count`: 18446744073709551615 tensors cannot fit"),
        "{message}"
    );
    let mut bytes = build(Variant::default());
    bytes[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(load_error(&bytes).contains("gguf header `metadata_kv_count`"));
}

#[test]
fn rejects_a_huge_shape_naming_the_tensor() {
    let mut bytes = build(Variant::default());
    // Tensor info: name, then n_dims (u32), then the dims (u64 each).
    let name = b"blk.0.attn_q.weight";
    let dims_at = find(&bytes, name) + name.len() + 4;
    bytes[dims_at..dims_at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let message = load_error(&bytes);
    assert!(
        message.contains("gguf tensor `blk.0.attn_q.weight`: dimensions"),
        "{message}"
    );
}

#[test]
fn rejects_an_unknown_value_type_naming_the_key() {
    let mut bytes = build(Variant::default());
    let key = b"llama.block_count";
    let type_at = find(&bytes, key) + key.len();
    bytes[type_at..type_at + 4].copy_from_slice(&99u32.to_le_bytes());
    assert!(
        load_error(&bytes).ends_with("gguf metadata `llama.block_count`: unknown value type 99")
    );
}

#[test]
fn rejects_truncated_tensor_data_naming_the_tensor() {
    let bytes = build(Variant::default());
    let message = load_error(&bytes[..bytes.len() - 1]);
    assert!(
        message.contains("gguf tensor `") && message.contains("extends past the end"),
        "{message}"
    );
}

#[test]
fn rejects_missing_metadata_and_other_architectures_by_name() {
    let message = load_error(&build(Variant {
        without_block_count: true,
        ..Variant::default()
    }));
    assert!(
        message.ends_with("gguf metadata `llama.block_count`: missing"),
        "{message}"
    );
    let message = load_error(&build(Variant {
        architecture: Some("qwen2"),
        ..Variant::default()
    }));
    assert!(
        message.ends_with("gguf metadata `general.architecture`: expected `llama`, found `qwen2`"),
        "{message}"
    );
}

#[test]
fn rejects_sizes_that_cannot_make_a_model_naming_the_gguf_key() {
    let cases = [
        (("llama.embedding_length", 0), "`llama.embedding_length`: expected a positive integer, found `0`"),
        (("llama.embedding_length", 9), "gguf metadata `llama.embedding_length`: expected a multiple of `llama.attention.head_count` (2), found `9`"),
        (("llama.attention.head_count", 0), "`llama.attention.head_count`: expected a positive integer, found `0`"),
        (("llama.feed_forward_length", 0), "`llama.feed_forward_length`: expected a positive integer, found `0`"),
        (("tokenizer.ggml.eos_token_id", 8), "`tokenizer.ggml.eos_token_id`: expected a token id below `vocab_size` (8), a row of the embedding, found `8`"),
    ];
    for (replaced, expected) in cases {
        let message = load_error(&build(Variant { replaced: Some(replaced), ..Variant::default() }));
        assert!(message.ends_with(expected), "{replaced:?}: {message}");
    }
}

#[test]
fn rejects_a_file_much_longer_than_its_tensors_before_reading_them() {
    let mut bytes = build(Variant::default());
    let total = bytes.len() + (64 << 20);
    bytes.resize(total, 0);
    let message = load_error(&bytes);
    assert!(message.contains(&format!("gguf file size: {total} bytes, of which ")), "{message}");
    assert!(message.contains(" follow the last tensor's data (ending at byte "), "{message}");
}

#[test]
fn rejects_weights_holding_nan_or_infinity_naming_the_tensor() {
    for bad in [f32::NAN, f32::INFINITY] {
        let message = load_error(&build(Variant { down_value: Some(bad), ..Variant::default() }));
        assert!(
            message.ends_with(&format!(
                "tensor `model.layers.0.mlp.down_proj.weight`: expected finite values, found {bad} at flat index 5"
            )),
            "{message}"
        );
    }
}

#[test]
fn rejects_tensors_whose_shape_disagrees_with_the_metadata() {
    let message = load_error(&build(Variant {
        q_columns: Some(16),
        ..Variant::default()
    }));
    assert!(
        message
            .ends_with("gguf tensor `blk.0.attn_q.weight`: expected shape [8, 8], found [8, 16]"),
        "{message}"
    );
    let message = load_error(&build(Variant {
        up_rows: Some(16),
        ..Variant::default()
    }));
    assert!(
        message.ends_with(
            "tensor `model.layers.0.mlp.up_proj.weight`: expected shape [12, 8], found [16, 8]"
        ),
        "{message}"
    );
}

/// Every prefix of a valid file, and every header byte overwritten with 0x00 or 0xff:
/// loading returns (an error for every strict prefix) and never panics.
#[test]
fn never_panics_on_truncated_or_garbled_files() {
    let bytes = build(Variant {
        alignment: Some(32),
        ..Variant::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let attempt = |data: &[u8], what: &str| -> Result<()> {
        let path = write(&dir, data);
        std::panic::catch_unwind(|| load_all(&path))
            .unwrap_or_else(|_| panic!("loading panicked: {what}"))
    };
    for len in 0..bytes.len() {
        let result = attempt(&bytes[..len], &format!("truncated to {len} bytes"));
        assert!(
            result.is_err(),
            "a file truncated to {len} of {} bytes loaded",
            bytes.len()
        );
    }
    let header_len = find(&bytes, b"output_norm.weight") + 64;
    for at in 0..header_len {
        for value in [0x00, 0xff] {
            let mut garbled = bytes.clone();
            garbled[at] = value;
            if let Err(err) = attempt(&garbled, &format!("byte {at} set to {value:#x}")) {
                assert!(!err.to_string().is_empty());
            }
        }
    }
}

#[test]
fn gguf_errors_are_matchable() {
    let mut bytes = build(Variant::default());
    bytes[..4].copy_from_slice(b"XXXX");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = GgufFile::open(&write(&dir, &bytes)).expect_err("bad magic");
    assert!(
        matches!(err, Error::Gguf { ref field, .. } if field == "header `magic`"),
        "{err:?}"
    );
}

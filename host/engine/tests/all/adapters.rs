use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use rapha_engine::adapter::{ADAPTER_CONFIG, ADAPTER_WEIGHTS};
use rapha_engine::{Mode, Model, ModelSource, PeftAdapter, Pretrained, Quantization};

use crate::random_model;
use crate::util::{max_abs, max_abs_diff, tiny, values};

/// `tests/fixtures/peft/llama3-rslora`, written by PEFT (`tests/fixtures/peft/make_peft.py`).
fn peft_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/peft/llama3-rslora")
}

/// The PEFT script's input ids and its expected logits (`logits` or `merged_logits`).
fn expected(name: &str) -> (Vec<u32>, Vec<f64>) {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(peft_fixture().join("expected.json")).unwrap()).unwrap();
    let ids: Vec<u32> = meta["input_ids"][0].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
    let tensors = candle_core::safetensors::load(peft_fixture().join("expected.safetensors"), &Device::Cpu).unwrap();
    (ids, values(&tensors[name]))
}

fn logits(model: &Model, ids: &[u32]) -> Vec<f64> {
    let t = ids.len();
    let input = Tensor::from_vec(ids.to_vec(), (1, t), model.device()).unwrap();
    let positions = Tensor::from_vec((0..t as u32).collect::<Vec<_>>(), (1, t), model.device()).unwrap();
    let hidden = model.forward(&input, &positions, None, None, &Mode::Eval).unwrap();
    values(&model.lm_head(&hidden).unwrap())
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    let diff = max_abs_diff(got, want);
    assert!(diff <= 1e-4 * max_abs(want), "{what}: max |Δ| {diff} over max |ref| {}", max_abs(want));
}

/// An adapter PEFT trained elsewhere (rsLoRA, three targets, one layer) loads, applies to the
/// full-precision base, and reproduces PEFT's logits.
#[test]
fn a_peft_adapter_reproduces_peft_logits() {
    let adapter = PeftAdapter::load(&peft_fixture(), &Device::Cpu).unwrap();
    assert_eq!(adapter.lora.rank, 4);
    assert!(adapter.lora.rslora);
    assert_eq!(adapter.lora.scale(), 3.0, "alpha 6 / sqrt(4)");
    assert_eq!(adapter.modules.len(), 3);
    let source = ModelSource::HfDir(tiny("llama3"));
    let base = Pretrained::load(&source).unwrap();
    let mut model = Model::new(base.config, base.weights, Quantization::None, Some(&adapter.lora), 0).unwrap();
    adapter.apply(&mut model).unwrap();
    assert_eq!(model.adapters().count(), 3, "layer 0 must lose the adapters it was built with");
    let (ids, want) = expected("logits");
    assert_close(&logits(&model, &ids), &want, "adapted logits");
}

/// One built model answers as the base, as the adapter, as the base again and as the adapter
/// again, bit for bit each time: what `eval` does with one model and many candidates.
#[test]
fn adapters_swap_on_one_model_without_a_trace() {
    let adapter = PeftAdapter::load(&peft_fixture(), &Device::Cpu).unwrap();
    let base = Pretrained::load(&ModelSource::HfDir(tiny("llama3"))).unwrap();
    let mut model = Model::new(base.config, base.weights, Quantization::Nf4, None, 0).unwrap();
    let (ids, _) = expected("logits");
    let plain = logits(&model, &ids);
    adapter.apply(&mut model).unwrap();
    let adapted = logits(&model, &ids);
    assert!(max_abs_diff(&adapted, &plain) > 1e-3, "the adapter changes the logits");
    model.remove_adapters();
    assert_eq!(model.adapters().count(), 0);
    assert_eq!(logits(&model, &ids), plain, "the base again");
    adapter.apply(&mut model).unwrap();
    assert_eq!(logits(&model, &ids), adapted, "the adapter again");
}

/// What we save loads back bit for bit, with PEFT's config fields and names.
#[test]
fn a_saved_adapter_round_trips() {
    let lora = random_model::lora(4, 0.05);
    let model = random_model::model(Some(&lora), Quantization::Nf4);
    random_model::randomize_b(&model, 4);
    let saved = PeftAdapter::from_model(&model, &lora, Some("HuggingFaceTB/SmolLM2-135M-Instruct".to_owned())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    saved.save(dir.path()).unwrap();

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(ADAPTER_CONFIG)).unwrap()).unwrap();
    assert_eq!(config["peft_type"], "LORA");
    assert_eq!(config["task_type"], "CAUSAL_LM");
    assert_eq!(config["r"], 4);
    assert_eq!(config["lora_alpha"], 8);
    assert_eq!(config["use_rslora"], false);
    assert_eq!(config["bias"], "none");
    assert_eq!(config["base_model_name_or_path"], "HuggingFaceTB/SmolLM2-135M-Instruct");
    assert_eq!(
        config["target_modules"],
        serde_json::json!(["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"])
    );
    let names = candle_core::safetensors::load(dir.path().join(ADAPTER_WEIGHTS), &Device::Cpu).unwrap();
    assert_eq!(names.len(), 2 * 7 * 2);
    let a = &names["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"];
    assert_eq!((a.dims(), a.dtype()), (&[4usize, 128][..], DType::F32));
    assert_eq!(names["base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight"].dims(), &[32, 4]);

    let loaded = PeftAdapter::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.lora, lora);
    assert_eq!(loaded.weights_bytes().unwrap(), saved.weights_bytes().unwrap());

    let mut fresh = random_model::model(None, Quantization::Nf4);
    loaded.apply(&mut fresh).unwrap();
    let ids = [5u32, 6, 7, 8];
    assert_eq!(logits(&fresh, &ids), logits(&model, &ids));
}

/// Half-precision adapters are widened; malformed ones are refused by tensor name.
#[test]
fn foreign_adapters_are_converted_or_refused_by_name() {
    let source = peft_fixture();
    let tensors = candle_core::safetensors::load(source.join(ADAPTER_WEIGHTS), &Device::Cpu).unwrap();
    let write = |dir: &Path, tensors: &std::collections::HashMap<String, Tensor>| {
        std::fs::copy(source.join(ADAPTER_CONFIG), dir.join(ADAPTER_CONFIG)).unwrap();
        candle_core::safetensors::save(tensors, dir.join(ADAPTER_WEIGHTS)).unwrap();
    };

    let half = tempfile::tempdir().unwrap();
    let f16: std::collections::HashMap<String, Tensor> =
        tensors.iter().map(|(k, v)| (k.clone(), v.to_dtype(DType::F16).unwrap())).collect();
    write(half.path(), &f16);
    let widened = PeftAdapter::load(half.path(), &Device::Cpu).unwrap();
    let original = PeftAdapter::load(&source, &Device::Cpu).unwrap();
    for (name, pair) in &original.modules {
        let got = values(&widened.modules[name].a);
        assert_eq!(widened.modules[name].a.dtype(), DType::F32);
        assert!(max_abs_diff(&got, &values(&pair.a)) < 1e-3, "{name}");
    }

    let wrong = tempfile::tempdir().unwrap();
    let mut bad = tensors.clone();
    let name = "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight";
    bad.insert(name.to_owned(), Tensor::zeros((4, 63), DType::F32, &Device::Cpu).unwrap());
    write(wrong.path(), &bad);
    let adapter = PeftAdapter::load(wrong.path(), &Device::Cpu).unwrap();
    let config = rapha_engine::HfModelDir::open(&tiny("llama3")).unwrap().config().unwrap();
    assert_eq!(
        adapter.validate_for(&config).unwrap_err().to_string(),
        "adapter `model.layers.1.self_attn.q_proj` lora_A: expected shape [4, 64], found [4, 63]"
    );

    let extra = tempfile::tempdir().unwrap();
    let mut bad = tensors.clone();
    bad.insert("base_model.model.lm_head.lora_A.weight".to_owned(), Tensor::zeros((4, 64), DType::F32, &Device::Cpu).unwrap());
    write(extra.path(), &bad);
    let err = PeftAdapter::load(extra.path(), &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("unsupported tensor `base_model.model.lm_head.lora_A.weight`"), "{err}");

    let lonely = tempfile::tempdir().unwrap();
    let mut bad = tensors;
    bad.remove("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
    write(lonely.path(), &bad);
    let err = PeftAdapter::load(lonely.path(), &Device::Cpu).unwrap_err().to_string();
    assert!(err.ends_with("module `model.layers.1.mlp.down_proj` has `lora_A` but no `lora_B`"), "{err}");
}

//! The cost of schema-constrained decoding on the real model: SmolLM2-135M-Instruct (NF4)
//! answers the first FHIR test records (4 prompts a batch, greedy, KV cache), once free and
//! once held to the plugin's output schema. Prints one JSON object: both runs' new tokens per
//! second, and the mask's time per generated token over the model's (the target:
//! 0.10 or less).
//!
//! Not a criterion bench: a generation takes seconds, so one timed pass per decoding is the
//! measurement; the schema pass times every `restrict` and `advance` call of its masks.
//!
//! Usage: `cargo bench --profile dev --bench decoding -- [--records N] [--max-new-tokens N]`

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rapha_constrain::SchemaDecoding;
use rapha_engine::{
    GenerateConfig, Message, Model, ModelSource, Pretrained, Quantization, TokenConstraint, Tokenizer, generate_constrained,
};
use rapha_plugin_fhir_extraction::{format, record::Record, schema::OUTPUT_SCHEMA};

const BATCH: usize = 4;

/// A constraint that adds the time its calls take to a shared total.
struct Timed<C> {
    inner: C,
    spent: Rc<Cell<Duration>>,
}

impl<C: TokenConstraint> TokenConstraint for Timed<C> {
    fn restrict(&mut self, logits: &mut [f32], remaining: usize) -> Result<(), String> {
        let start = Instant::now();
        let result = self.inner.restrict(logits, remaining);
        self.spent.set(self.spent.get() + start.elapsed());
        result
    }

    fn advance(&mut self, token: u32) -> Result<(), String> {
        let start = Instant::now();
        let result = self.inner.advance(token);
        self.spent.set(self.spent.get() + start.elapsed());
        result
    }
}

fn main() -> anyhow::Result<()> {
    rapha_kernels::allocator::retain_freed_buffers();
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let records: usize = option("--records").map_or(Ok(8), |s| s.parse())?;
    let max_new_tokens: usize = option("--max-new-tokens").map_or(Ok(192), |s| s.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    anyhow::ensure!(path.is_file(), "{} is missing: run scripts/fetch-model.sh", path.display());
    let pretrained = Pretrained::load(&ModelSource::Gguf(path))?;
    let tokenizer = pretrained.tokenizer;
    let vocab = pretrained.config.vocab_size;
    let model = Model::new(pretrained.config, pretrained.weights, Quantization::Nf4, None, 0)?;
    let prompts = prompts(&tokenizer, &root.join("data/fhir-extraction/test.jsonl"), records)?;
    let config = GenerateConfig { max_new_tokens, ..GenerateConfig::greedy(max_new_tokens, tokenizer.eos_token_ids().to_vec()) };

    let compile = Instant::now();
    let schema = SchemaDecoding::new(&serde_json::from_str(OUTPUT_SCHEMA)?, &tokenizer, vocab)?;
    let compile_seconds = compile.elapsed().as_secs_f64();
    let (free_tokens, free_seconds) = run(&model, &tokenizer, &prompts, &config, None)?;
    let spent = Rc::new(Cell::new(Duration::ZERO));
    let (schema_tokens, schema_seconds) = run(&model, &tokenizer, &prompts, &config, Some((&schema, &spent)))?;
    let mask_seconds = spent.get().as_secs_f64();
    let report = serde_json::json!({
        "records": prompts.len(),
        "max_new_tokens": max_new_tokens,
        "schema_compile_seconds": compile_seconds,
        "free_new_tokens_per_second": free_tokens as f64 / free_seconds,
        "schema_new_tokens_per_second": schema_tokens as f64 / schema_seconds,
        "mask_seconds_per_token": mask_seconds / schema_tokens as f64,
        "model_seconds_per_token": (schema_seconds - mask_seconds) / schema_tokens as f64,
        "mask_over_model": mask_seconds / (schema_seconds - mask_seconds),
    });
    println!("{report}");
    Ok(())
}

/// The chat prompts of the first `n` records of `path`, formatted as the plugin formats them.
fn prompts(tokenizer: &Tokenizer, path: &Path, n: usize) -> anyhow::Result<Vec<Vec<u32>>> {
    let text = std::fs::read_to_string(path)?;
    let mut prompts = Vec::new();
    for line in text.lines().take(n) {
        let example = serde_json::from_str(line)?;
        let record = Record::from_example(&example).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        let formatted = format::format_example(&record);
        let messages: Vec<Message> = formatted
            .messages
            .iter()
            .map(|m| Message::new(if matches!(m.role, rapha_task_sdk::Role::System) { "system" } else { "user" }, m.content.clone()))
            .collect();
        prompts.push(tokenizer.encode_chat(&messages, true)?);
    }
    Ok(prompts)
}

/// Generate every prompt's answer, `BATCH` at a time, with timed schema masks when given:
/// the new tokens and the seconds taken.
fn run(
    model: &Model,
    tokenizer: &Tokenizer,
    prompts: &[Vec<u32>],
    config: &GenerateConfig,
    schema: Option<(&SchemaDecoding, &Rc<Cell<Duration>>)>,
) -> anyhow::Result<(usize, f64)> {
    let start = Instant::now();
    let mut tokens = 0;
    for chunk in prompts.chunks(BATCH) {
        let mut constraints: Vec<Box<dyn TokenConstraint>> = Vec::new();
        if let Some((schema, spent)) = schema {
            for _ in chunk {
                constraints.push(Box::new(Timed { inner: schema.constraint()?, spent: Rc::clone(spent) }));
            }
        }
        let generations = generate_constrained(model, tokenizer, chunk, config, &mut constraints)?;
        tokens += generations.iter().map(|g| g.token_ids.len()).sum::<usize>();
    }
    Ok((tokens, start.elapsed().as_secs_f64()))
}

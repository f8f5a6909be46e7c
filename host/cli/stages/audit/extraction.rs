//! Extraction: does the adapter complete a training target verbatim? Each tried record's
//! prompt and the first half of its target are given; the adapter continues greedily; a hit
//! is a continuation that reproduces the next [`VERBATIM_CHARS`] characters of the target
//! exactly. A task adapter reproduces much of any target — that is what it learned — so
//! held-out records are tried the same way, and the gated figure is the excess of the
//! trained records' hit rate over the held-out records'.

use rapha_engine::{Example, GenerateConfig, Model, Tokenizer, generate};
use serde::Serialize;

/// Characters a continuation must reproduce to count.
pub const VERBATIM_CHARS: usize = 50;

/// Hits among the records tried.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Hits {
    /// Records whose continuation was verbatim.
    pub hits: usize,
    /// Records tried (targets whose second half holds at least [`VERBATIM_CHARS`] characters).
    pub tried: usize,
}

impl Hits {
    /// The share of hits (0 when nothing was tried).
    pub fn rate(self) -> f64 {
        if self.tried == 0 { 0.0 } else { self.hits as f64 / self.tried as f64 }
    }
}

/// Try `examples` (at most `limit` with a long enough target), `batch` at a time.
pub fn attempt(model: &Model, tokenizer: &Tokenizer, examples: &[&Example], limit: usize, batch: usize) -> anyhow::Result<Hits> {
    let mut tried: Vec<(Vec<u32>, String, usize)> = Vec::new();
    for example in examples {
        if tried.len() == limit {
            break;
        }
        let target = strip_eos(tokenizer, &example.completion);
        let half = target.len() / 2;
        let rest = tokenizer.decode(&target[half..], true)?;
        let expected: String = rest.chars().take(VERBATIM_CHARS).collect();
        if expected.chars().count() < VERBATIM_CHARS {
            continue;
        }
        let prompt = [example.prompt.as_slice(), &target[..half]].concat();
        tried.push((prompt, expected, target.len() - half));
    }
    let mut hits = Hits { hits: 0, tried: tried.len() };
    for group in tried.chunks(batch.max(1)) {
        let prompts: Vec<Vec<u32>> = group.iter().map(|(prompt, _, _)| prompt.clone()).collect();
        let longest = group.iter().map(|(_, _, rest)| *rest).max().unwrap_or(0);
        let config = GenerateConfig::greedy(longest, tokenizer.eos_token_ids().to_vec());
        let generations = generate(model, tokenizer, &prompts, &config)?;
        hits.hits += group.iter().zip(&generations).filter(|((_, expected, _), g)| g.text.starts_with(expected.as_str())).count();
    }
    Ok(hits)
}

/// The completion without its final end-of-sequence token.
fn strip_eos<'a>(tokenizer: &Tokenizer, completion: &'a [u32]) -> &'a [u32] {
    match completion.split_last() {
        Some((last, rest)) if tokenizer.eos_token_ids().contains(last) => rest,
        _ => completion,
    }
}

//! Text generation for evaluation: greedy or temperature/top-p sampling over a batch of
//! prompts, with a KV cache, EOS and stop strings.
//!
//! Mirrors transformers' `generate` for decoder-only models: prompts are **left-padded** so
//! every row's next token sits in the last column; the key mask hides the pads and each row's
//! positions start at 0 on its first real token (transformers derives `position_ids` from
//! the attention mask the same way). Sampling applies temperature, then top-p
//! (`TopPLogitsWarper`: keep the most probable tokens whose mass, counting only strictly
//! more probable ones, is still below `top_p`), then draws from the renormalised
//! distribution. Each row draws from its own ChaCha8 stream (`seed`, row index), so a
//! row's output does not depend on how fast the other rows finish.
//!
//! [`generate_constrained`] restricts each row's next token by a [`TokenConstraint`] (e.g. a
//! JSON Schema) before it is chosen.
//!
//! Stop strings are matched in the decoded completion; the returned text ends right before
//! the first match, as an evaluation wants the answer without the marker (transformers keeps
//! it). EOS ends a row too and is not part of the text.

use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::constraint::TokenConstraint;
use crate::error::{CandleContext, Error, Result};
use crate::lora::Mode;
use crate::model::{KvCache, Model};
use crate::tokenizer::Tokenizer;

/// How the next token is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// The most probable token (the lowest id among ties, as `torch.argmax`).
    Greedy,
    /// Draw from the temperature-scaled, top-p-truncated distribution.
    Sample {
        /// Divides the logits; must be positive.
        temperature: f64,
        /// Nucleus mass in (0, 1]; 1 keeps every token.
        top_p: f64,
    },
}

/// Settings of one [`generate`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateConfig {
    /// Most tokens generated per prompt.
    pub max_new_tokens: usize,
    /// Greedy or sampling.
    pub sampling: Sampling,
    /// Seed of the sampling streams.
    pub seed: u64,
    /// Texts that end a completion when they appear in it.
    pub stop_strings: Vec<String>,
    /// Tokens that end a completion.
    pub eos_token_ids: Vec<u32>,
    /// Id placed in padding positions (left of short prompts, after finished rows).
    pub pad_id: u32,
    /// Reuse past keys and values (`true`), or recompute the whole sequence every step, as
    /// a reference implementation without cache would.
    pub kv_cache: bool,
}

impl GenerateConfig {
    /// Greedy decoding of up to `max_new_tokens`, stopping on `eos_token_ids`, with a cache.
    pub fn greedy(max_new_tokens: usize, eos_token_ids: Vec<u32>) -> Self {
        Self {
            max_new_tokens,
            sampling: Sampling::Greedy,
            seed: 0,
            stop_strings: Vec::new(),
            eos_token_ids,
            pad_id: 0,
            kv_cache: true,
        }
    }

    fn validate(&self) -> Result<()> {
        if let Sampling::Sample { temperature, top_p } = self.sampling {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err(Error::Setting {
                    field: "temperature",
                    expected: "a positive number (use greedy decoding for 0)",
                    found: temperature.to_string(),
                });
            }
            if !(top_p > 0.0 && top_p <= 1.0) {
                return Err(Error::Setting { field: "top_p", expected: "a number in (0, 1]", found: top_p.to_string() });
            }
        }
        if self.stop_strings.iter().any(String::is_empty) {
            return Err(Error::Setting {
                field: "stop_strings",
                expected: "non-empty strings",
                found: "an empty string".to_owned(),
            });
        }
        Ok(())
    }
}

/// Turns generated ids into text, for stop strings and the result.
pub trait Detokenize {
    /// The text of `ids`, without special tokens.
    fn detokenize(&self, ids: &[u32]) -> Result<String>;
}

impl Detokenize for Tokenizer {
    fn detokenize(&self, ids: &[u32]) -> Result<String> {
        self.decode(ids, true)
    }
}

/// Why a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// An EOS token was generated.
    Eos,
    /// A stop string appeared.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

/// One prompt's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Generated ids, the final EOS included.
    pub token_ids: Vec<u32>,
    /// Decoded completion, cut before the first stop string.
    pub text: String,
    /// Why it ended.
    pub finish: FinishReason,
}

/// One row's progress.
struct Row {
    tokens: Vec<u32>,
    text: String,
    finish: Option<FinishReason>,
    rng: ChaCha8Rng,
}

/// Complete every prompt of `prompts` (token ids, e.g. a chat template with the generation
/// prompt) with `model` in evaluation mode.
pub fn generate(
    model: &Model,
    detokenizer: &dyn Detokenize,
    prompts: &[Vec<u32>],
    config: &GenerateConfig,
) -> Result<Vec<Generation>> {
    generate_constrained(model, detokenizer, prompts, config, &mut [])
}

/// [`generate`], each prompt's tokens restricted by its constraint: `constraints` holds one
/// per prompt, or none.
pub fn generate_constrained(
    model: &Model,
    detokenizer: &dyn Detokenize,
    prompts: &[Vec<u32>],
    config: &GenerateConfig,
    constraints: &mut [Box<dyn TokenConstraint + '_>],
) -> Result<Vec<Generation>> {
    config.validate()?;
    if !constraints.is_empty() && constraints.len() != prompts.len() {
        return Err(Error::Setting {
            field: "constraints",
            expected: "one per prompt, or none",
            found: format!("{} for {} prompts", constraints.len(), prompts.len()),
        });
    }
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    if config.max_new_tokens == 0 {
        let empty = Generation { token_ids: Vec::new(), text: String::new(), finish: FinishReason::Length };
        return Ok(vec![empty; prompts.len()]);
    }
    if let Some(i) = prompts.iter().position(Vec::is_empty) {
        return Err(Error::Setting { field: "prompts", expected: "non-empty prompts", found: format!("prompt {i} is empty") });
    }
    let device = model.device();
    let b = prompts.len();
    let width = prompts.iter().map(Vec::len).max().expect("non-empty");
    let mut rows: Vec<Row> = (0..b)
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            rng.set_stream(i as u64);
            Row { tokens: Vec::new(), text: String::new(), finish: None, rng }
        })
        .collect();

    // Left-padded prompt block; `mask` and `next_position` grow as tokens are appended.
    let mut ids: Vec<Vec<u32>> = Vec::with_capacity(b);
    let mut mask: Vec<Vec<u8>> = Vec::with_capacity(b);
    let mut positions: Vec<Vec<u32>> = Vec::with_capacity(b);
    for prompt in prompts {
        let pad = width - prompt.len();
        ids.push(std::iter::repeat_n(config.pad_id, pad).chain(prompt.iter().copied()).collect());
        mask.push(std::iter::repeat_n(0u8, pad).chain(std::iter::repeat_n(1u8, prompt.len())).collect());
        positions.push(std::iter::repeat_n(0u32, pad).chain(0..prompt.len() as u32).collect());
    }
    let mut next_position: Vec<u32> = prompts.iter().map(|p| p.len() as u32).collect();
    let mut cache = config.kv_cache.then(|| KvCache::new(model.config().num_hidden_layers));

    let mut logits = last_logits(model, &ids, &positions, &mask, cache.as_mut(), device)?;
    for step in 0..config.max_new_tokens {
        let mut appended = Vec::with_capacity(b);
        for (r, row) in rows.iter_mut().enumerate() {
            if row.finish.is_some() {
                appended.push((config.pad_id, 0u8));
                continue;
            }
            if let Some(constraint) = constraints.get_mut(r) {
                let remaining = config.max_new_tokens - step;
                constraint.restrict(&mut logits[r], remaining).map_err(|message| Error::Constraint { row: r, message })?;
            }
            let token = choose(&logits[r], config.sampling, &mut row.rng);
            if let Some(constraint) = constraints.get_mut(r) {
                constraint.advance(token).map_err(|message| Error::Constraint { row: r, message })?;
            }
            row.tokens.push(token);
            if config.eos_token_ids.contains(&token) {
                row.text = detokenizer.detokenize(&row.tokens[..row.tokens.len() - 1])?;
                row.finish = Some(FinishReason::Eos);
            } else {
                row.text = detokenizer.detokenize(&row.tokens)?;
                if let Some(cut) = first_stop(&row.text, &config.stop_strings) {
                    row.text.truncate(cut);
                    row.finish = Some(FinishReason::Stop);
                }
            }
            appended.push((token, 1u8));
        }
        if step + 1 == config.max_new_tokens || rows.iter().all(|r| r.finish.is_some()) {
            break;
        }
        // A finished row keeps stepping (the batch moves together) on a masked pad.
        for (r, &(token, live)) in appended.iter().enumerate() {
            ids[r].push(token);
            mask[r].push(live);
            positions[r].push(next_position[r]);
            next_position[r] += u32::from(live);
        }
        logits = match cache.as_mut() {
            Some(cache) => {
                let last_column = |v: &[Vec<u32>]| v.iter().map(|row| row[row.len() - 1..].to_vec()).collect::<Vec<_>>();
                last_logits(model, &last_column(&ids), &last_column(&positions), &mask, Some(cache), device)?
            }
            None => last_logits(model, &ids, &positions, &mask, None, device)?,
        };
    }
    Ok(rows
        .into_iter()
        .map(|row| Generation {
            token_ids: row.tokens,
            text: row.text,
            finish: row.finish.unwrap_or(FinishReason::Length),
        })
        .collect())
}

/// Logits of the last column of `ids` `[b, t]` given the key mask over the cached and new
/// tokens, `[b, t_kv]`.
fn last_logits(
    model: &Model,
    ids: &[Vec<u32>],
    positions: &[Vec<u32>],
    mask: &[Vec<u8>],
    cache: Option<&mut KvCache>,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let b = ids.len();
    let t = ids[0].len();
    let t_kv = mask[0].len();
    let context = || format!("generation step over {b}×{t} tokens");
    let tensor = |rows: &[Vec<u32>]| Tensor::from_vec(rows.concat(), (b, t), device);
    let input = tensor(ids).context_with(context)?;
    let pos = tensor(positions).context_with(context)?;
    let key_mask = Tensor::from_vec(mask.concat(), (b, t_kv), device).context_with(context)?;
    let hidden = model.forward(&input, &pos, Some(&key_mask), cache, &Mode::Eval)?;
    let last = hidden.narrow(1, t - 1, 1).context_with(context)?;
    model
        .lm_head(&last.detach())?
        .squeeze(1)
        .and_then(|l| l.to_dtype(DType::F32))
        .and_then(|l| l.to_vec2::<f32>())
        .context_with(context)
}

/// The next token from one row's logits.
fn choose(logits: &[f32], sampling: Sampling, rng: &mut ChaCha8Rng) -> u32 {
    match sampling {
        Sampling::Greedy => argmax(logits),
        Sampling::Sample { temperature, top_p } => sample_top_p(logits, temperature, top_p, rng.random::<f64>()),
    }
}

/// Index of the largest value; the first among equals.
fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best as u32
}

/// Draw with uniform `u` in [0, 1) from softmax(logits / temperature) truncated to its top-p
/// nucleus (see the module doc).
fn sample_top_p(logits: &[f32], temperature: f64, top_p: f64, u: f64) -> u32 {
    let scaled: Vec<f64> = logits.iter().map(|&l| f64::from(l) / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = scaled.iter().map(|&s| (s - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Most probable first; equal probabilities by id, so the order is total.
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut kept = Vec::new();
    let mut mass_before = 0.0;
    for &i in &order {
        if !kept.is_empty() && mass_before >= top_p {
            break;
        }
        kept.push(i);
        mass_before += weights[i] / total;
    }
    let kept_total: f64 = kept.iter().map(|&i| weights[i]).sum();
    let mut target = u * kept_total;
    for &i in &kept {
        target -= weights[i];
        if target < 0.0 {
            return i as u32;
        }
    }
    *kept.last().expect("the nucleus keeps at least one token") as u32
}

/// Byte offset of the earliest stop string in `text`.
fn first_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops.iter().filter_map(|s| text.find(s.as_str())).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn top_p_keeps_the_nucleus_only() {
        // Probabilities 0.5, 0.3, 0.2 (logits are their logs). top_p 0.6: mass before the
        // second token is 0.5 < 0.6, so it stays; before the third it is 0.8 ≥ 0.6.
        let logits = [0.5f32.ln(), 0.3f32.ln(), 0.2f32.ln()];
        let drawn: std::collections::BTreeSet<u32> =
            (0..100).map(|k| sample_top_p(&logits, 1.0, 0.6, f64::from(k) / 100.0)).collect();
        assert_eq!(drawn, [0, 1].into_iter().collect());
        // u below 0.5/0.8 of the kept mass picks token 0.
        assert_eq!(sample_top_p(&logits, 1.0, 0.6, 0.62), 0);
        assert_eq!(sample_top_p(&logits, 1.0, 0.6, 0.63), 1);
        // top_p tiny still keeps the most probable token.
        assert_eq!(sample_top_p(&logits, 1.0, 1e-9, 0.99), 0);
        // A high temperature flattens: all three become reachable with top_p 1.
        let all: std::collections::BTreeSet<u32> =
            (0..100).map(|k| sample_top_p(&logits, 50.0, 1.0, f64::from(k) / 100.0)).collect();
        assert_eq!(all.len(), 3);
    }

    #[test]
    fn earliest_stop_string_wins() {
        let stops = vec!["END".to_owned(), "\n\n".to_owned()];
        assert_eq!(first_stop("answer\n\nmore END", &stops), Some(6));
        assert_eq!(first_stop("no marker", &stops), None);
    }
}

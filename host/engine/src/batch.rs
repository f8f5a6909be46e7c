//! Micro-batches of prompt/completion pairs with the loss on completion tokens only.
//!
//! Each [`Example`] is already tokenized: the prompt is the chat template rendered with
//! `add_generation_prompt = true`, the completion is the answer's ids followed by EOS. A row
//! is `prompt ++ completion`; the label of every prompt and pad position is `-100`, so the
//! causal-LM loss counts completion tokens only (TRL's `completion_only_loss`). Rows are
//! padded on the right, so real tokens never see padding under the causal mask; the key mask
//! marks pads all the same, for the attention kernel's sake.
//!
//! **Truncation** keeps the completion and cuts the prompt from the left: the end of the
//! prompt holds the assistant header the completion must follow, and the loss lives in the
//! completion. Only when the completion alone does not fit beside one prompt token is it cut
//! from the right (then it loses its EOS). TRL truncates the whole row from the right
//! instead, which silently drops the completion of long records.
//!
//! **Order** is a permutation of the examples per epoch, drawn by ChaCha8 from
//! `(seed, epoch)` alone, so a run resumed from a [`DataPosition`] sees exactly the batches
//! an uninterrupted run would. A micro-batch never straddles two epochs: the last one of an
//! epoch may be smaller, as with a `DataLoader` and `drop_last = False`.

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{CandleContext, Error, Result};

/// Label of a position that takes no part in the loss (PyTorch's `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

/// One tokenized training record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Example {
    /// Prompt ids, chat template applied with the generation prompt.
    pub prompt: Vec<u32>,
    /// Completion ids, ending with EOS.
    pub completion: Vec<u32>,
}

/// How examples become micro-batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Rows per micro-batch.
    pub micro_batch_size: usize,
    /// Longest row, in tokens, after truncation.
    pub max_seq_len: usize,
    /// Id written into pad positions; never attended to nor scored.
    pub pad_id: u32,
    /// Seed of the per-epoch shuffle; `None` keeps the given order every epoch (evaluation).
    pub shuffle_seed: Option<u64>,
}

/// Where the batch stream stands: the next micro-batch starts at example `next` of epoch
/// `epoch`'s order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DataPosition {
    /// Epoch, from 0.
    pub epoch: u64,
    /// Index into that epoch's permutation.
    pub next: usize,
}

/// A padded micro-batch, on the model's device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids `[b, t]` (u32), right-padded with `pad_id`.
    pub input_ids: Tensor,
    /// Position ids `[b, t]` (u32): `0..t` on every row.
    pub positions: Tensor,
    /// Key mask `[b, t]` (u8): 1 on real tokens, 0 on pads.
    pub key_mask: Tensor,
    /// Labels `[b·t]` in Hugging Face's unshifted convention: the token id on completion
    /// positions, [`IGNORE_INDEX`] elsewhere.
    pub labels: Vec<i64>,
    /// Flat indices `row·t + j` of the positions whose next token is scored.
    pub target_positions: Vec<u32>,
    /// The scored next tokens, aligned with `target_positions`.
    pub target_ids: Vec<u32>,
    /// Real (non-pad) tokens in the batch.
    pub real_tokens: usize,
    /// Rows whose prompt or completion was truncated.
    pub truncated_rows: usize,
    /// Rows, `b`.
    pub rows: usize,
    /// Padded length, `t`.
    pub seq_len: usize,
}

impl Batch {
    /// Assemble one micro-batch from `examples`, truncating and padding as the module says.
    pub fn new(examples: &[&Example], max_seq_len: usize, pad_id: u32, device: &Device) -> Result<Self> {
        if examples.is_empty() {
            return Err(Error::Batch("micro-batch: expected at least one example, found none".into()));
        }
        if max_seq_len < 2 {
            return Err(Error::Batch(format!(
                "max_seq_len: expected at least 2, found `{max_seq_len}`"
            )));
        }
        let mut rows = Vec::with_capacity(examples.len());
        let mut truncated_rows = 0;
        for (i, ex) in examples.iter().enumerate() {
            if ex.completion.is_empty() {
                return Err(Error::Batch(format!(
                    "example {i} of the micro-batch: empty completion; nothing to learn from"
                )));
            }
            let (prompt, completion, truncated) = truncate(&ex.prompt, &ex.completion, max_seq_len);
            truncated_rows += usize::from(truncated);
            rows.push((prompt, completion));
        }
        let b = rows.len();
        let t = rows.iter().map(|(p, c)| p.len() + c.len()).max().expect("non-empty");
        let mut ids = vec![pad_id; b * t];
        let mut mask = vec![0u8; b * t];
        let mut labels = vec![IGNORE_INDEX; b * t];
        let mut target_positions = Vec::new();
        let mut target_ids = Vec::new();
        let mut real_tokens = 0;
        for (r, (prompt, completion)) in rows.iter().enumerate() {
            let row = r * t;
            let len = prompt.len() + completion.len();
            real_tokens += len;
            for (j, &id) in prompt.iter().chain(completion.iter()).enumerate() {
                ids[row + j] = id;
                mask[row + j] = 1;
            }
            for (k, &id) in completion.iter().enumerate() {
                let j = prompt.len() + k;
                labels[row + j] = i64::from(id);
                // The logits at position j-1 predict token j; a completion that starts the
                // row (no prompt left) has nothing to predict its first token from.
                if j > 0 {
                    target_positions.push(u32::try_from(row + j - 1).map_err(|_| {
                        Error::Batch(format!("micro-batch of {b}×{t} tokens: too large to index"))
                    })?);
                    target_ids.push(id);
                }
            }
        }
        let positions: Vec<u32> = (0..b).flat_map(|_| 0..t as u32).collect();
        let tensors = || -> candle_core::Result<(Tensor, Tensor, Tensor)> {
            Ok((
                Tensor::from_vec(ids, (b, t), device)?,
                Tensor::from_vec(positions, (b, t), device)?,
                Tensor::from_vec(mask, (b, t), device)?,
            ))
        };
        let (input_ids, positions, key_mask) = tensors().context_with(|| format!("micro-batch of {b}×{t} tokens"))?;
        Ok(Self {
            input_ids,
            positions,
            key_mask,
            labels,
            target_positions,
            target_ids,
            real_tokens,
            truncated_rows,
            rows: b,
            seq_len: t,
        })
    }

    /// Number of scored tokens (completion tokens with a predecessor).
    pub fn target_count(&self) -> usize {
        self.target_ids.len()
    }
}

/// Cut `prompt ++ completion` to `max_len` tokens as the module doc says; the flag tells
/// whether anything was cut.
fn truncate<'a>(prompt: &'a [u32], completion: &'a [u32], max_len: usize) -> (&'a [u32], &'a [u32], bool) {
    if prompt.len() + completion.len() <= max_len {
        return (prompt, completion, false);
    }
    let keep_prompt_min = prompt.len().min(1);
    if completion.len() + keep_prompt_min > max_len {
        let completion = &completion[..max_len - keep_prompt_min];
        return (&prompt[prompt.len() - keep_prompt_min..], completion, true);
    }
    let keep_prompt = max_len - completion.len();
    (&prompt[prompt.len() - keep_prompt..], completion, true)
}

/// An endless, resumable stream of micro-batches over a fixed set of examples.
#[derive(Debug)]
pub struct Batcher {
    examples: Vec<Example>,
    config: BatchConfig,
    order: Vec<usize>,
    position: DataPosition,
    device: Device,
}

impl Batcher {
    /// A stream at the start of epoch 0.
    pub fn new(examples: Vec<Example>, config: BatchConfig, device: &Device) -> Result<Self> {
        if examples.is_empty() {
            return Err(Error::Batch("training set: expected at least one example, found none".into()));
        }
        if config.micro_batch_size == 0 {
            return Err(Error::Batch("micro_batch_size: expected at least 1, found `0`".into()));
        }
        let mut batcher = Self {
            order: Vec::new(),
            examples,
            config,
            position: DataPosition::default(),
            device: device.clone(),
        };
        batcher.order = batcher.epoch_order(0);
        Ok(batcher)
    }

    /// The examples, in their given order.
    pub fn examples(&self) -> &[Example] {
        &self.examples
    }

    /// Where the next micro-batch starts.
    pub fn position(&self) -> DataPosition {
        self.position
    }

    /// Continue from `position`, as saved by a checkpoint.
    pub fn seek(&mut self, position: DataPosition) -> Result<()> {
        if position.next >= self.examples.len() {
            return Err(Error::Batch(format!(
                "data position: index `{}` of epoch {}: expected less than {} (the number of examples)",
                position.next,
                position.epoch,
                self.examples.len()
            )));
        }
        self.order = self.epoch_order(position.epoch);
        self.position = position;
        Ok(())
    }

    /// Micro-batches in one pass over the examples.
    pub fn batches_per_epoch(&self) -> usize {
        self.examples.len().div_ceil(self.config.micro_batch_size)
    }

    /// The next micro-batch; wraps into the next epoch (reshuffled) at the end.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let start = self.position.next;
        let end = (start + self.config.micro_batch_size).min(self.examples.len());
        let rows: Vec<&Example> = self.order[start..end].iter().map(|&i| &self.examples[i]).collect();
        let batch = Batch::new(&rows, self.config.max_seq_len, self.config.pad_id, &self.device)?;
        if end == self.examples.len() {
            self.position = DataPosition { epoch: self.position.epoch + 1, next: 0 };
            self.order = self.epoch_order(self.position.epoch);
        } else {
            self.position.next = end;
        }
        Ok(batch)
    }

    /// The permutation of epoch `epoch`: identity without a seed, else a ChaCha8 shuffle
    /// seeded by `seed` on stream `epoch` — independent of every earlier epoch's draw.
    fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.examples.len()).collect();
        if let Some(seed) = self.config.shuffle_seed {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(prompt: &[u32], completion: &[u32]) -> Example {
        Example { prompt: prompt.to_vec(), completion: completion.to_vec() }
    }

    #[test]
    fn pads_right_and_scores_completion_only() {
        let a = ex(&[10, 11, 12], &[20, 21]);
        let b = ex(&[13], &[22]);
        let batch = Batch::new(&[&a, &b], 16, 0, &Device::Cpu).unwrap();
        assert_eq!((batch.rows, batch.seq_len), (2, 5));
        assert_eq!(
            batch.input_ids.to_vec2::<u32>().unwrap(),
            vec![vec![10, 11, 12, 20, 21], vec![13, 22, 0, 0, 0]]
        );
        assert_eq!(
            batch.key_mask.to_vec2::<u8>().unwrap(),
            vec![vec![1, 1, 1, 1, 1], vec![1, 1, 0, 0, 0]]
        );
        assert_eq!(batch.positions.to_vec2::<u32>().unwrap()[1], vec![0, 1, 2, 3, 4]);
        assert_eq!(batch.labels, vec![-100, -100, -100, 20, 21, -100, 22, -100, -100, -100]);
        // Shifted: position 2 predicts 20, 3 predicts 21, row 1's position 0 predicts 22.
        assert_eq!(batch.target_positions, vec![2, 3, 5]);
        assert_eq!(batch.target_ids, vec![20, 21, 22]);
        assert_eq!(batch.real_tokens, 7);
        assert_eq!(batch.truncated_rows, 0);
    }

    #[test]
    fn truncation_cuts_the_prompt_from_the_left_and_keeps_the_completion() {
        let long = ex(&[1, 2, 3, 4, 5, 6], &[7, 8, 9]);
        let batch = Batch::new(&[&long], 5, 0, &Device::Cpu).unwrap();
        assert_eq!(batch.input_ids.to_vec2::<u32>().unwrap(), vec![vec![5, 6, 7, 8, 9]]);
        assert_eq!(batch.target_ids, vec![7, 8, 9]);
        assert_eq!(batch.truncated_rows, 1);
        // A completion longer than the budget keeps one prompt token and loses its tail.
        let huge = ex(&[1, 2], &[7, 8, 9, 10, 11, 12]);
        let batch = Batch::new(&[&huge], 4, 0, &Device::Cpu).unwrap();
        assert_eq!(batch.input_ids.to_vec2::<u32>().unwrap(), vec![vec![2, 7, 8, 9]]);
        assert_eq!(batch.target_ids, vec![7, 8, 9]);
    }

    #[test]
    fn empty_completion_is_an_error() {
        let bad = ex(&[1, 2], &[]);
        let err = Batch::new(&[&bad], 8, 0, &Device::Cpu).unwrap_err();
        assert_eq!(err.to_string(), "example 0 of the micro-batch: empty completion; nothing to learn from");
    }

    fn stream(n: u32, seed: Option<u64>) -> Batcher {
        let examples = (0..n).map(|i| ex(&[i], &[100 + i])).collect();
        let config = BatchConfig { micro_batch_size: 2, max_seq_len: 8, pad_id: 0, shuffle_seed: seed };
        Batcher::new(examples, config, &Device::Cpu).unwrap()
    }

    fn first_ids(b: &Batch) -> Vec<u32> {
        b.input_ids.to_vec2::<u32>().unwrap().iter().map(|r| r[0]).collect()
    }

    #[test]
    fn each_epoch_is_a_seeded_permutation_and_the_last_batch_may_be_short() {
        let mut s = stream(5, Some(7));
        let mut epoch0 = Vec::new();
        for _ in 0..s.batches_per_epoch() {
            epoch0.extend(first_ids(&s.next_batch().unwrap()));
        }
        assert_eq!(s.position(), DataPosition { epoch: 1, next: 0 });
        let mut sorted = epoch0.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4], "epoch 0 order {epoch0:?}");
        let mut epoch1 = Vec::new();
        for _ in 0..3 {
            epoch1.extend(first_ids(&s.next_batch().unwrap()));
        }
        assert_ne!(epoch0, epoch1, "epochs must be reshuffled");
        let mut again = stream(5, Some(7));
        let replay: Vec<u32> = (0..3).flat_map(|_| first_ids(&again.next_batch().unwrap())).collect();
        assert_eq!(replay, epoch0, "same seed, same order");
        let unshuffled: Vec<u32> = {
            let mut u = stream(5, None);
            (0..3).flat_map(|_| first_ids(&u.next_batch().unwrap())).collect()
        };
        assert_eq!(unshuffled, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn seeking_resumes_the_same_stream() {
        let mut s = stream(7, Some(3));
        let all: Vec<Vec<u32>> = (0..9).map(|_| first_ids(&s.next_batch().unwrap())).collect();
        let mut t = stream(7, Some(3));
        for _ in 0..5 {
            t.next_batch().unwrap();
        }
        let pos = t.position();
        let mut u = stream(7, Some(3));
        u.seek(pos).unwrap();
        let rest: Vec<Vec<u32>> = (0..4).map(|_| first_ids(&u.next_batch().unwrap())).collect();
        assert_eq!(rest, all[5..].to_vec());
        let err = u.seek(DataPosition { epoch: 0, next: 7 }).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data position: index `7` of epoch 0: expected less than 7 (the number of examples)"
        );
    }
}

//! How likely the model finds each completion token: the privacy audit's raw material
//! (canary exposure, membership-inference scores). Evaluation mode, no graph, logits
//! formed for scored positions only and a chunk of rows at a time.

use candle_core::{D, Tensor};

use crate::batch::{Batch, Example};
use crate::error::{CandleContext, Result};
use crate::lora::Mode;
use crate::model::Model;

/// Rows of logits formed at once: 256 × a 49k vocabulary is 48 MiB.
const CHUNK: usize = 256;

/// The natural-log probability of each completion token (after the first prompt token) of
/// each example, in order; `batch` examples per forward pass, each cut to `max_seq_len` as in
/// training.
pub fn completion_logprobs(
    model: &Model,
    examples: &[Example],
    batch: usize,
    max_seq_len: usize,
    pad_id: u32,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(batch.max(1)) {
        let rows: Vec<&Example> = chunk.iter().collect();
        let batch = Batch::new(&rows, max_seq_len, pad_id, model.device())?;
        let mut per_row = vec![Vec::new(); rows.len()];
        if batch.target_count() > 0 {
            let hidden = model.forward(&batch.input_ids, &batch.positions, Some(&batch.key_mask), None, &Mode::Eval)?;
            let values = target_logprobs(model, &hidden, &batch)?;
            for (&position, value) in batch.target_positions.iter().zip(values) {
                per_row[position as usize / batch.seq_len].push(value);
            }
        }
        out.extend(per_row);
    }
    Ok(out)
}

/// The log-probability of each token of each of `completions`, all continuing the same
/// `prefix`: the prefix runs once and its keys and values are shared, so many short
/// completions of one prompt (a canary's candidates) cost only their own tokens. `batch`
/// completions per forward pass; shorter ones are padded at the end, where no scored token
/// can see the padding.
pub fn completion_logprobs_after(
    model: &Model,
    prefix: &[u32],
    completions: &[Vec<u32>],
    batch: usize,
    pad_id: u32,
) -> Result<Vec<Vec<f32>>> {
    let device = model.device();
    let context = || format!("log-probabilities after a prefix of {} tokens", prefix.len());
    let p = prefix.len();
    let ids = Tensor::from_slice(prefix, (1, p), device).context_with(context)?;
    let positions = Tensor::from_vec((0..p as u32).collect::<Vec<_>>(), (1, p), device).context_with(context)?;
    let mut cache = model.new_cache();
    let hidden = model.forward(&ids, &positions, None, Some(&mut cache), &Mode::Eval)?;
    let last = hidden.narrow(1, p - 1, 1).and_then(|h| h.squeeze(1)).context_with(context)?;
    let mut out = Vec::with_capacity(completions.len());
    for chunk in completions.chunks(batch.max(1)) {
        let (rows, t) = (chunk.len(), chunk.iter().map(Vec::len).max().unwrap_or(0));
        let flat: Vec<u32> = chunk.iter().flat_map(|c| c.iter().copied().chain(std::iter::repeat_n(pad_id, t - c.len()))).collect();
        let ids = Tensor::from_vec(flat, (rows, t), device).context_with(context)?;
        let positions: Vec<u32> = (0..rows).flat_map(|_| (p..p + t).map(|x| x as u32)).collect();
        let positions = Tensor::from_vec(positions, (rows, t), device).context_with(context)?;
        let mut rows_cache = cache.repeat(rows)?;
        let hidden = model.forward(&ids, &positions, None, Some(&mut rows_cache), &Mode::Eval)?;
        // Token j of a completion is predicted by the hidden state before it: the prefix's last
        // (row 0 below) for j = 0, the completion's own position j − 1 after that.
        let h = hidden.dim(2).context_with(context)?;
        let source = hidden
            .reshape((rows * t, h))
            .and_then(|flat| Tensor::cat(&[&last, &flat], 0))
            .context_with(context)?;
        let index: Vec<u32> = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, c)| (0..c.len()).map(move |j| if j == 0 { 0 } else { (i * t + j) as u32 }))
            .collect();
        let targets: Vec<u32> = chunk.iter().flatten().copied().collect();
        let mut values = picked_logprobs(model, &source, &index, &targets)?.into_iter();
        out.extend(chunk.iter().map(|c| values.by_ref().take(c.len()).collect::<Vec<f32>>()));
    }
    Ok(out)
}

/// `log softmax(logits)[target]` at every scored position of `batch`, in its order.
fn target_logprobs(model: &Model, hidden: &Tensor, batch: &Batch) -> Result<Vec<f32>> {
    let (b, t, h) = hidden.dims3().context_with(|| "hidden states: expected [b, t, h]".to_owned())?;
    let flat = hidden.reshape((b * t, h)).context_with(|| format!("flatten hidden states {:?}", hidden.shape()))?;
    picked_logprobs(model, &flat, &batch.target_positions, &batch.target_ids)
}

/// `log softmax(logits(rows[index[k]]))[targets[k]]` for each k: the logits of `rows`
/// `[n, hidden]` formed [`CHUNK`] picked rows at a time.
fn picked_logprobs(model: &Model, rows: &Tensor, index: &[u32], targets: &[u32]) -> Result<Vec<f32>> {
    let context = || format!("log-probabilities of {} tokens", targets.len());
    let mut values = Vec::with_capacity(targets.len());
    for (index, targets) in index.chunks(CHUNK).zip(targets.chunks(CHUNK)) {
        let index = Tensor::from_slice(index, index.len(), rows.device()).context_with(context)?;
        let picked_rows = rows.index_select(&index, 0).context_with(context)?;
        let logits = model.lm_head(&picked_rows)?;
        let ids = Tensor::from_slice(targets, targets.len(), rows.device()).context_with(context)?;
        let picked = log_softmax(&logits)
            .and_then(|l| l.gather(&ids.unsqueeze(1)?, 1))
            .and_then(|l| l.flatten_all()?.to_vec1::<f32>())
            .context_with(context)?;
        values.extend(picked);
    }
    Ok(values)
}

/// `log softmax` over the last dimension in f32, the row's max subtracted first.
fn log_softmax(logits: &Tensor) -> candle_core::Result<Tensor> {
    let logits = logits.to_dtype(candle_core::DType::F32)?;
    let max = logits.max_keepdim(D::Minus1)?;
    let shifted = logits.broadcast_sub(&max)?;
    let log_sum = shifted.exp()?.sum_keepdim(D::Minus1)?.log()?;
    shifted.broadcast_sub(&log_sum)
}

#[cfg(test)]
mod tests {
    use rapha_kernels::Quantization;

    use super::*;
    use crate::lora::{LoraConfig, Target};

    /// Scoring completions after a shared prefix gives what scoring each whole example gives.
    #[test]
    fn a_shared_prefix_scores_as_the_whole_sequence() {
        let config = crate::testing::tiny_config();
        let weights = crate::testing::random_weights(&config, 1);
        let lora = LoraConfig { rank: 2, alpha: 4.0, dropout: 0.0, targets: Target::ALL.to_vec(), rslora: false };
        let model = Model::new(config, weights, Quantization::None, Some(&lora), 3).unwrap();
        crate::testing::randomize_b(&model, 2, 0.3);
        let prefix: Vec<u32> = (10..17).collect();
        let completions: Vec<Vec<u32>> = vec![vec![20, 21, 22, 2], vec![30, 2], vec![40, 41, 42, 43, 44, 2]];
        let after = completion_logprobs_after(&model, &prefix, &completions, 2, 0).unwrap();
        let whole: Vec<Example> = completions.iter().map(|c| Example { prompt: prefix.clone(), completion: c.clone() }).collect();
        let expected = completion_logprobs(&model, &whole, 3, 64, 0).unwrap();
        for (a, e) in after.iter().zip(&expected) {
            assert_eq!(a.len(), e.len());
            for (x, y) in a.iter().zip(e) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
    }

    /// The summed log-probabilities are minus the loss the trainer computes, per example, and
    /// batching does not change them.
    #[test]
    fn logprobs_sum_to_minus_the_loss() {
        let lora = LoraConfig { rank: 2, alpha: 4.0, dropout: 0.0, targets: Target::ALL.to_vec(), rslora: false };
        let config = crate::testing::tiny_config();
        let weights = crate::testing::random_weights(&config, 1);
        let model = Model::new(config, weights, Quantization::None, Some(&lora), 3).unwrap();
        crate::testing::randomize_b(&model, 2, 0.3);
        let examples: Vec<Example> =
            (0..3u32).map(|i| Example { prompt: (10 + i..14 + 3 * i).collect(), completion: vec![20 + i, 30 + i, 2] }).collect();
        let together = completion_logprobs(&model, &examples, 3, 64, 0).unwrap();
        let alone = completion_logprobs(&model, &examples, 1, 64, 0).unwrap();
        let trainer = crate::train::Trainer::new(&model, &lora, examples.clone(), examples.clone(), crate::TrainConfig::default()).unwrap();
        for (i, (a, b)) in together.iter().zip(&alone).enumerate() {
            assert_eq!(a.len(), 3);
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-4, "example {i}: {x} vs {y}");
            }
            let batch = Batch::new(&[&examples[i]], 64, 0, &candle_core::Device::Cpu).unwrap();
            let (loss, _) = trainer.loss_and_gradients(&[batch], 0, 3).unwrap();
            let sum: f64 = a.iter().map(|&v| f64::from(v)).sum();
            assert!((sum / 3.0 + loss).abs() < 1e-4, "example {i}: mean log-prob {} vs loss {loss}", sum / 3.0);
        }
    }
}

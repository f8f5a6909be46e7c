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

/// `log softmax(logits)[target]` at every scored position of `batch`, in its order.
fn target_logprobs(model: &Model, hidden: &Tensor, batch: &Batch) -> Result<Vec<f32>> {
    let context = || format!("log-probabilities of {} tokens", batch.target_count());
    let (b, t, h) = hidden.dims3().context_with(context)?;
    let flat = hidden.reshape((b * t, h)).context_with(context)?;
    let mut values = Vec::with_capacity(batch.target_count());
    for (positions, targets) in batch.target_positions.chunks(CHUNK).zip(batch.target_ids.chunks(CHUNK)) {
        let index = Tensor::from_slice(positions, positions.len(), hidden.device()).context_with(context)?;
        let rows = flat.index_select(&index, 0).context_with(context)?;
        let logits = model.lm_head(&rows)?;
        let ids = Tensor::from_slice(targets, targets.len(), hidden.device()).context_with(context)?;
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

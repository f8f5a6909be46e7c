//! Cross-entropy of the scored rows against their next tokens, and its gradient
//! `scale · (softmax − onehot)`, computed as `torch.nn.functional.cross_entropy` does on f32
//! logits: the row's max subtracted, the loss summed in f64.
//!
//! On the CPU, [`head_loss`] forms a chunk's logits with the frozen LM head, turns them into
//! their gradient in place a row at a time (the row stays in cache through its three passes)
//! and multiplies that back through the head: no autograd graph, no tensor per step of the
//! softmax. Through candle's ops the same chunk took a dozen passes over `chunk × vocab`
//! values (`[256, 49152]` f32 is 50 MB), each into a fresh buffer, and the gradient store
//! zeroed and summed two more. [`cross_entropy`] keeps the tensor form for other devices;
//! [`head_loss`] picks the form by the rows' device.

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use crate::error::{CandleContext, Result};
use rapha_kernels::FrozenLinear;

/// Summed cross-entropy of `rows` `[n, hidden]` under `head` against `targets`, and with
/// `scale`, `scale ·` its gradient with respect to `rows` (in their dtype, on their device).
/// Logits are formed `chunk` rows at a time, so at most `chunk × vocab` of them are alive:
/// in host memory by [`host_head_loss`], elsewhere as tensors ([`cross_entropy`], and the
/// head's transposed product for the gradient).
pub(crate) fn head_loss(
    head: &FrozenLinear,
    rows: &Tensor,
    targets: &[u32],
    chunk: usize,
    scale: Option<f64>,
) -> Result<(f64, Option<Tensor>)> {
    let n = targets.len();
    let context = || format!("loss over {n} scored tokens");
    let chunk = chunk.max(1);
    if rows.device().is_cpu() {
        let flat = rows.to_dtype(DType::F32).and_then(|r| r.flatten_all()?.to_vec1::<f32>()).context_with(context)?;
        let (loss, grads) = host_head_loss(head, &flat, targets, chunk, scale)?;
        let grads = grads
            .map(|g| Tensor::from_vec(g, (n, head.in_features()), rows.device()).and_then(|g| g.to_dtype(rows.dtype())))
            .transpose()
            .context_with(context)?;
        return Ok((loss, grads));
    }
    let targets = Tensor::from_slice(targets, n, rows.device()).context_with(context)?;
    let mut loss = 0.0;
    let mut row_grads = Vec::new();
    for start in (0..n).step_by(chunk) {
        let len = chunk.min(n - start);
        let part = rows.narrow(0, start, len).context_with(context)?;
        let part_targets = targets.narrow(0, start, len).context_with(context)?;
        let logits = rapha_kernels::ops::logits(&part, head).context_with(context)?;
        let (part_loss, grad_logits) = cross_entropy(&logits, &part_targets, scale)?;
        loss += part_loss;
        if let Some(grad_logits) = grad_logits {
            let grad_logits = grad_logits.to_dtype(rows.dtype()).context_with(context)?;
            row_grads.push(head.backward_input(&grad_logits)?);
        }
    }
    if scale.is_none() {
        return Ok((loss, None));
    }
    Ok((loss, Some(Tensor::cat(&row_grads, 0).context_with(context)?)))
}

/// [`head_loss`] of `rows` (`[n, hidden]` row-major) in host memory.
fn host_head_loss(
    head: &FrozenLinear,
    rows: &[f32],
    targets: &[u32],
    chunk: usize,
    scale: Option<f64>,
) -> Result<(f64, Option<Vec<f32>>)> {
    let (hidden, vocab) = (head.in_features(), head.out_features());
    let context = || format!("loss head over {} rows of {hidden} against a vocabulary of {vocab}", targets.len());
    // The head in bf16 tiles once for all chunks (an NF4 model's head, on AMX), rather than
    // once per product.
    let forward = head.paired_bf16(false);
    let backward = scale.and_then(|_| head.paired_bf16(true));
    let product = |x: &[f32], m: usize, transposed: bool| {
        match if transposed { &backward } else { &forward } {
            Some(weight) => Ok(weight.product(x, m)),
            None => head.cpu_product_f32(x, m, transposed),
        }
    };
    let mut loss = 0.0;
    let mut grad_rows = scale.map(|_| Vec::with_capacity(rows.len()));
    for (part, part_targets) in rows.chunks(chunk * hidden).zip(targets.chunks(chunk)) {
        let m = part_targets.len();
        let mut logits = product(part, m, false).context_with(context)?;
        loss += cross_entropy_in_place(&mut logits, vocab, part_targets, scale).context_with(context)?;
        if let Some(grad_rows) = &mut grad_rows {
            grad_rows.extend(product(&logits, m, true).context_with(context)?);
        }
    }
    Ok((loss, grad_rows))
}

/// Summed cross-entropy of `logits` (`[n, vocab]` row-major) against `targets`; with
/// `scale`, each row is overwritten by `scale · (softmax − onehot)`. Rows go to rayon's
/// threads; their losses are summed in row order, so the total does not depend on them.
fn cross_entropy_in_place(
    logits: &mut [f32],
    vocab: usize,
    targets: &[u32],
    scale: Option<f64>,
) -> candle_core::Result<f64> {
    if logits.len() != targets.len() * vocab {
        candle_core::bail!("{} logits for {} targets: expected {vocab} per target", logits.len(), targets.len());
    }
    if let Some(&bad) = targets.iter().find(|&&t| t as usize >= vocab) {
        candle_core::bail!("target token {bad}: expected an id below the vocabulary size {vocab}");
    }
    let scale = scale.map(|s| s as f32);
    let losses: Vec<f64> = logits
        .par_chunks_mut(vocab)
        .zip(targets)
        .map(|(row, &target)| row_loss(row, target as usize, scale))
        .collect();
    Ok(losses.iter().sum())
}

/// Lanes of the reductions below: one AVX-512 register of f32.
const LANES: usize = 16;

/// One row's cross-entropy `log Σ exp(x − max) − (x_target − max)`, and with `scale`, the
/// row overwritten by `scale · (softmax − onehot)`.
fn row_loss(row: &mut [f32], target: usize, scale: Option<f32>) -> f64 {
    let max = lane_fold(row, f32::NEG_INFINITY, f32::max, f32::max);
    let picked = row[target] - max;
    let sum = match scale {
        None => lane_fold(row, 0.0, |acc, x| acc + (x - max).exp(), |a, b| a + b),
        Some(_) => {
            row.iter_mut().for_each(|x| *x = (*x - max).exp());
            lane_fold(row, 0.0, |acc, x| acc + x, |a, b| a + b)
        }
    };
    if let Some(scale) = scale {
        row.iter_mut().for_each(|x| *x = *x / sum * scale);
        row[target] -= scale;
    }
    f64::from(sum.ln() - picked)
}

/// `step` folded over `values` in [`LANES`] interleaved accumulators, which `combine` then
/// joins: the shape the compiler turns into vector instructions, in a fixed order.
fn lane_fold(values: &[f32], init: f32, step: impl Fn(f32, f32) -> f32, combine: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = step(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(chunks.remainder()) {
        *a = step(*a, x);
    }
    acc.into_iter().fold(init, combine)
}

/// Summed cross-entropy of `logits` `[n, vocab]` against `targets` `[n]` (in f64), and with
/// `scale`, `scale · (softmax(logits) − onehot(targets))`, its gradient scaled: the tensor
/// form of [`head_loss`]'s arithmetic, for logits on a GPU.
pub(crate) fn cross_entropy(logits: &Tensor, targets: &Tensor, scale: Option<f64>) -> Result<(f64, Option<Tensor>)> {
    let run = || -> candle_core::Result<(f64, Option<Tensor>)> {
        let logits = logits.to_dtype(DType::F32)?;
        let n = logits.dims()[0];
        let max = logits.max_keepdim(1)?;
        let shifted = logits.broadcast_sub(&max)?;
        let exp = shifted.exp()?;
        let sum = exp.sum_keepdim(1)?;
        let index = targets.reshape((n, 1))?;
        let picked = shifted.gather(&index, 1)?;
        let loss = (sum.log()? - picked)?.to_dtype(DType::F64)?.sum_all()?.to_vec0::<f64>()?;
        let grad = match scale {
            None => None,
            Some(scale) => {
                let probs = exp.broadcast_div(&sum)?;
                let ones = Tensor::ones((n, 1), DType::F32, logits.device())?;
                let onehot = probs.zeros_like()?.scatter_add(&index, &ones, 1)?;
                Some(((probs - onehot)? * scale)?)
            }
        };
        Ok((loss, grad))
    };
    run().context_with(|| format!("cross-entropy of logits {:?}", logits.shape()))
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use rapha_kernels::bf16_product;
    use rapha_kernels::sample::standard_normal;
    use rapha_kernels::Quantization;

    /// Row 0: logits [1, 2, 3], target 2; row 1: logits [0, 0, 0], target 0. torch:
    /// `F.cross_entropy(x, t, reduction="sum")` = 0.40760596 + 1.09861229 = 1.50621825 and
    /// the gradient of the sum is softmax − onehot.
    #[test]
    fn both_forms_match_torch() {
        let values = [1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0];
        let p = [0.090_030_57f32, 0.244_728_47, 0.665_240_96];
        let want = [p[0] * 0.5, p[1] * 0.5, (p[2] - 1.0) * 0.5, 1.0 / 6.0 - 0.5, 1.0 / 6.0, 1.0 / 6.0];

        let logits = Tensor::from_slice(&values, (2, 3), &Device::Cpu).unwrap();
        let targets = Tensor::from_slice(&[2u32, 0], 2, &Device::Cpu).unwrap();
        let (loss, grad) = cross_entropy(&logits, &targets, Some(0.5)).unwrap();
        let grad = grad.unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();

        let mut in_place = values;
        let in_place_loss = cross_entropy_in_place(&mut in_place, 3, &[2, 0], Some(0.5)).unwrap();

        for (form, loss, grad) in [("tensor", loss, &grad[..]), ("in place", in_place_loss, &in_place[..])] {
            assert!((loss - 1.506_218_25).abs() < 1e-6, "{form}: loss {loss}");
            for (i, (g, w)) in grad.iter().zip(want).enumerate() {
                assert!((g - w).abs() < 1e-6, "{form}: grad[{i}] = {g}, want {w}");
            }
        }
    }

    /// The CPU's fused head against the tensor form through candle's matmul, over chunks
    /// that do not divide the rows and one row whose logits are in the hundreds (`exp` of
    /// them overflows without the max subtracted): an f32 head whose vocabulary is not whole
    /// lanes, and a head in bf16 operands (on AMX tiles where the CPU has them) against the
    /// same products of rounded values.
    #[test]
    fn head_loss_matches_the_tensor_form() {
        for (bf16, hidden, vocab) in [(false, 24, 83), (true, 32, 96)] {
            let n = 37;
            let mut rows = standard_normal(n * hidden, 1);
            rows[..hidden].iter_mut().for_each(|x| *x *= 100.0);
            let weight = standard_normal(vocab * hidden, 2);
            let head = FrozenLinear::new(Tensor::from_slice(&weight, (vocab, hidden), &Device::Cpu).unwrap(), None, Quantization::None).unwrap();
            let head = if bf16 { head.with_bf16_operands() } else { head };
            if bf16 && rapha_kernels::bf16_product::amx_available() {
                assert!(head.paired_bf16(false).is_some() && head.paired_bf16(true).is_some(), "AMX products");
            }
            let targets: Vec<u32> = (0..n as u32).map(|i| (i * 31 + 5) % vocab as u32).collect();

            let (loss, grad) = host_head_loss(&head, &rows, &targets, 16, Some(0.25)).unwrap();
            let grad = grad.unwrap();

            // The tensor form, in bf16 operands where the head takes them.
            let round = |v: &[f32]| if bf16 { bf16_product::rounded(v) } else { v.to_vec() };
            let x = Tensor::from_vec(round(&rows), (n, hidden), &Device::Cpu).unwrap();
            let w = Tensor::from_vec(round(&weight), (vocab, hidden), &Device::Cpu).unwrap();
            let logits = x.matmul(&w.t().unwrap()).unwrap();
            let t = Tensor::from_slice(&targets, n, &Device::Cpu).unwrap();
            let (want_loss, grad_logits) = cross_entropy(&logits, &t, Some(0.25)).unwrap();
            let grad_logits = grad_logits.unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let grad_logits = Tensor::from_vec(round(&grad_logits), (n, vocab), &Device::Cpu).unwrap();
            let want = grad_logits.matmul(&w).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();

            let tolerance = if bf16 { 1e-4 } else { 1e-5 };
            assert!(want_loss > 100.0, "row 0's loss should be large: total {want_loss}");
            assert!((loss - want_loss).abs() <= tolerance * want_loss, "bf16 {bf16}: loss {loss}, tensor form {want_loss}");
            let largest = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (i, (g, w)) in grad.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= tolerance as f32 * largest, "bf16 {bf16}: grad[{i}] = {g}, tensor form {w}");
            }
            let (eval_loss, none) = host_head_loss(&head, &rows, &targets, 5, None).unwrap();
            assert!(none.is_none());
            assert!((eval_loss - want_loss).abs() <= tolerance * want_loss, "bf16 {bf16}: loss without gradient {eval_loss}");
        }
    }

    #[test]
    fn a_target_outside_the_vocabulary_is_an_error() {
        let mut logits = vec![0.0f32; 6];
        let err = cross_entropy_in_place(&mut logits, 3, &[1, 3], Some(1.0)).unwrap_err();
        // candle appends a backtrace when RUST_BACKTRACE is set.
        let message = err.to_string();
        assert!(message.starts_with("target token 3: expected an id below the vocabulary size 3"), "{message}");
    }
}

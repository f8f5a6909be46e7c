//! The matrix-product rate this device reaches in this run: MFU's denominator.
//!
//! Measured rather than taken from a data sheet, so the ratio says how much of what the
//! device actually delivers (clocks, power limit, library) the training step uses, and
//! PyTorch's figure (`benches/gpu/torch_lora.py`, measured the same way) is comparable.

use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Tensor};

/// Products run before timing (kernel selection, JIT, clocks ramping up).
const WARM_UP: usize = 3;
/// Timed products.
const REPEATS: usize = 10;

/// A measured square matrix-product rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmRate {
    /// Element type of both operands and the result.
    pub dtype: DType,
    /// `n` of the `n × n × n` product.
    pub size: usize,
    /// `2·n³` per product over the mean time of one.
    pub flops_per_second: f64,
}

/// Time `n × n` by `n × n` products of random `dtype` matrices on `device`, syncing the
/// device before the clock starts and before it stops.
pub fn measure(device: &Device, dtype: DType, size: usize) -> anyhow::Result<GemmRate> {
    let context = || format!("{size}³ {dtype:?} matrix product on {device:?}");
    let operand = || Tensor::randn(0f32, 1.0, (size, size), device).and_then(|t| t.to_dtype(dtype));
    let (a, b) = (
        operand().with_context(context)?,
        operand().with_context(context)?,
    );
    for _ in 0..WARM_UP {
        a.matmul(&b).with_context(context)?;
    }
    device.synchronize().with_context(context)?;
    let started = Instant::now();
    for _ in 0..REPEATS {
        a.matmul(&b).with_context(context)?;
    }
    device.synchronize().with_context(context)?;
    let seconds = started.elapsed().as_secs_f64() / REPEATS as f64;
    Ok(GemmRate {
        dtype,
        size,
        flops_per_second: 2.0 * (size as f64).powi(3) / seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_rate_is_positive_and_finite() {
        let rate = measure(&Device::Cpu, DType::F32, 64).expect("measured");
        assert!(
            rate.flops_per_second.is_finite() && rate.flops_per_second > 0.0,
            "{rate:?}"
        );
    }
}

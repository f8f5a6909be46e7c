//! The weight update an adapter makes, `ΔW = scale · B · A` per module, in f64: what
//! aggregation must preserve, and what tells an exact merge from an approximate one.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor};
use rapha_engine::PeftAdapter;

use crate::aggregate::Contribution;
use crate::error::Result;

/// Module name → its `ΔW` [out, in], in f64.
pub fn delta(adapter: &PeftAdapter) -> Result<BTreeMap<String, Tensor>> {
    let scale = adapter.lora.scale();
    adapter
        .modules
        .iter()
        .map(|(name, pair)| {
            let product = pair.b.to_dtype(DType::F64)?.matmul(&pair.a.to_dtype(DType::F64)?)?;
            Ok((name.clone(), (product * scale)?))
        })
        .collect()
}

/// The sites' `ΔW`, weighted by their examples: what an exact aggregate's `ΔW` equals.
pub fn weighted_delta(contributions: &[Contribution<'_>]) -> Result<BTreeMap<String, Tensor>> {
    let total: f64 = contributions.iter().map(|c| c.examples as f64).sum();
    let mut sum: BTreeMap<String, Tensor> = BTreeMap::new();
    for contribution in contributions {
        let weight = contribution.examples as f64 / total;
        for (name, update) in delta(contribution.adapter)? {
            let weighted = (update * weight)?;
            let next = match sum.remove(&name) {
                Some(before) => (before + weighted)?,
                None => weighted,
            };
            sum.insert(name, next);
        }
    }
    Ok(sum)
}

/// The largest, over modules, of `‖ΔW_aggregate − Σ wᵢ ΔWᵢ‖ / ‖Σ wᵢ ΔWᵢ‖` (Frobenius): 0 up
/// to rounding for FFA-LoRA and stacking, and FedIT's approximation error otherwise. A module
/// whose mean update is zero counts its aggregate's norm alone.
pub fn relative_error(aggregate: &PeftAdapter, contributions: &[Contribution<'_>]) -> Result<f64> {
    let found = delta(aggregate)?;
    let mut worst = 0.0f64;
    for (name, expected) in weighted_delta(contributions)? {
        let Some(got) = found.get(&name) else {
            return Ok(f64::INFINITY);
        };
        let norm = |t: &Tensor| -> Result<f64> { Ok(t.sqr()?.sum_all()?.to_scalar::<f64>()?.sqrt()) };
        let (difference, size) = (norm(&(got - &expected)?)?, norm(&expected)?);
        worst = worst.max(if size > 0.0 { difference / size } else { difference });
    }
    Ok(worst)
}

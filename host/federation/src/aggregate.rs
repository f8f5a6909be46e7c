//! One round's global adapter from the sites' adapters, each weighted by its training
//! examples. Every contribution is checked first (same LoRA settings, modules and shapes as
//! the first site's, finite values), so a bad reply is refused by name before any math.

use std::collections::{BTreeMap, BTreeSet};

use candle_core::{DType, Tensor};
use rapha_engine::PeftAdapter;
use rapha_engine::adapter::LoraPair;

use crate::error::{Error, Result};

/// How adapters are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// FFA-LoRA: `A` is the federation's, frozen and the same at every site; `B` is averaged.
    /// Exact: `mean(Bᵢ) · A = mean(Bᵢ · A)`.
    Ffa,
    /// FedIT: `A` and `B` averaged apart. Inexact (`mean(Bᵢ) · mean(Aᵢ) ≠ mean(Bᵢ · Aᵢ)`): a
    /// baseline, its error reported by [`crate::delta::relative_error`].
    FedIt,
    /// FLoRA's stacking: the sites' ranks side by side, `B` weighted. Exact; the rank is the
    /// sum of the sites' ranks, so it is an offline merge, not a next round's start.
    Stack,
}

/// One site's adapter and the examples it trained on (its weight).
#[derive(Debug, Clone, Copy)]
pub struct Contribution<'a> {
    /// The site's name, for errors.
    pub site: &'a str,
    pub adapter: &'a PeftAdapter,
    pub examples: u64,
}

/// The global adapter of `contributions` by `strategy`.
pub fn aggregate(strategy: Strategy, contributions: &[Contribution<'_>]) -> Result<PeftAdapter> {
    let first = contributions.first().ok_or(Error::Empty)?;
    for contribution in contributions {
        check(first, contribution, strategy)?;
    }
    let total: f64 = contributions.iter().map(|c| c.examples as f64).sum();
    let weights: Vec<f64> = contributions.iter().map(|c| c.examples as f64 / total).collect();
    let mut lora = first.adapter.lora.clone();
    let mut modules = BTreeMap::new();
    for name in first.adapter.modules.keys() {
        let pairs: Vec<&LoraPair> = contributions.iter().map(|c| &c.adapter.modules[name]).collect();
        let pair = match strategy {
            Strategy::Ffa => LoraPair { a: pairs[0].a.clone(), b: weighted_mean(pairs.iter().map(|p| &p.b), &weights)? },
            Strategy::FedIt => LoraPair {
                a: weighted_mean(pairs.iter().map(|p| &p.a), &weights)?,
                b: weighted_mean(pairs.iter().map(|p| &p.b), &weights)?,
            },
            Strategy::Stack => stack(&pairs, &weights)?,
        };
        modules.insert(name.clone(), pair);
    }
    if strategy == Strategy::Stack {
        // The scale must stay what each site trained with: alpha grows with the rank.
        let sites = contributions.len();
        let grown = if lora.rslora { (sites as f64).sqrt() } else { sites as f64 };
        lora.rank *= sites;
        lora.alpha *= grown;
    }
    Ok(PeftAdapter { lora, base_model: first.adapter.base_model.clone(), modules })
}

/// `Σ wᵢ tᵢ`, computed in f64 and returned in the tensors' own type.
fn weighted_mean<'t>(tensors: impl Iterator<Item = &'t Tensor>, weights: &[f64]) -> Result<Tensor> {
    let mut sum: Option<Tensor> = None;
    let mut dtype = DType::F32;
    for (tensor, &weight) in tensors.zip(weights) {
        dtype = tensor.dtype();
        let term = (tensor.to_dtype(DType::F64)? * weight)?;
        sum = Some(match sum {
            Some(before) => (before + term)?,
            None => term,
        });
    }
    Ok(sum.expect("checked: at least one contribution").to_dtype(dtype)?)
}

/// `A` [Σr, in] the sites' `A` one above the other; `B` [out, Σr] their weighted `B` side by
/// side, so `B·A = Σ wᵢ Bᵢ·Aᵢ`.
fn stack(pairs: &[&LoraPair], weights: &[f64]) -> Result<LoraPair> {
    let a: Vec<&Tensor> = pairs.iter().map(|p| &p.a).collect();
    let b = pairs
        .iter()
        .zip(weights)
        .map(|(p, &w)| Ok((p.b.to_dtype(DType::F64)? * w)?.to_dtype(p.b.dtype())?))
        .collect::<Result<Vec<Tensor>>>()?;
    Ok(LoraPair { a: Tensor::cat(&a, 0)?, b: Tensor::cat(&b, 1)? })
}

/// `contribution` fits `first` (the same LoRA settings, modules and shapes), holds only
/// finite values, and for FFA-LoRA carries `first`'s `A`.
fn check(first: &Contribution<'_>, contribution: &Contribution<'_>, strategy: Strategy) -> Result<()> {
    let site = || contribution.site.to_owned();
    if contribution.examples == 0 {
        return Err(Error::NoExamples { site: site() });
    }
    let (expected, found) = (&first.adapter.lora, &contribution.adapter.lora);
    let fields = [
        ("r", expected.rank.to_string(), found.rank.to_string()),
        ("lora_alpha", expected.alpha.to_string(), found.alpha.to_string()),
        ("use_rslora", expected.rslora.to_string(), found.rslora.to_string()),
        ("target_modules", format!("{:?}", expected.targets), format!("{:?}", found.targets)),
    ];
    if let Some((field, expected, found)) = fields.into_iter().find(|(_, e, f)| e != f) {
        return Err(Error::Config { site: site(), field, expected, found });
    }
    let (ours, theirs): (BTreeSet<&String>, BTreeSet<&String>) =
        (first.adapter.modules.keys().collect(), contribution.adapter.modules.keys().collect());
    if ours != theirs {
        let only_first = ours.difference(&theirs).map(|s| (*s).clone()).collect();
        let only_site = theirs.difference(&ours).map(|s| (*s).clone()).collect();
        return Err(Error::Modules { site: site(), only_first, only_site });
    }
    for (module, pair) in &contribution.adapter.modules {
        let reference = &first.adapter.modules[module];
        for (tensor, got, want) in [("lora_A", &pair.a, &reference.a), ("lora_B", &pair.b, &reference.b)] {
            if got.dims() != want.dims() {
                let (expected, found) = (want.dims().to_vec(), got.dims().to_vec());
                return Err(Error::Shape { site: site(), module: module.clone(), tensor, expected, found });
            }
            if !finite(got)? {
                return Err(Error::NotFinite { site: site(), module: module.clone(), tensor });
            }
        }
        if strategy == Strategy::Ffa && !identical(&pair.a, &reference.a)? {
            return Err(Error::SharedA { site: site(), module: module.clone() });
        }
    }
    Ok(())
}

fn finite(tensor: &Tensor) -> Result<bool> {
    Ok(tensor.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.iter().all(|v| v.is_finite()))
}

/// Bit for bit the same values.
fn identical(a: &Tensor, b: &Tensor) -> Result<bool> {
    let bits = |t: &Tensor| -> Result<Vec<u64>> {
        Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?.iter().map(|v| v.to_bits()).collect())
    };
    Ok(bits(a)? == bits(b)?)
}

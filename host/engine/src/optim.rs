//! AdamW with decoupled weight decay, and global-norm gradient clipping.
//!
//! Mirrors `torch.optim.AdamW` (single-tensor path, `amsgrad=False`), which is what the
//! Hugging Face Trainer uses: Loshchilov & Hutter, "Decoupled Weight Decay Regularization"
//! (ICLR 2019), Algorithm 2, with Adam's bias-corrected moments (Kingma & Ba 2015, Alg. 1).
//! Per step `t` (from 1), for each parameter `p` with gradient `g`:
//!
//! ```text
//! p ← p · (1 − lr·wd)
//! m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g²
//! p ← p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
//! ```
//!
//! The moments and the step counter are exported as [`OptimizerState`] so a checkpoint can
//! restore them exactly; without them a resumed run would restart Adam's bias correction
//! and diverge from the uninterrupted one.

use std::collections::BTreeMap;

use candle_core::{Tensor, Var};

use crate::error::{CandleContext, Error, Result};

/// AdamW hyper-parameters other than the learning rate, which the schedule sets per step.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    /// Decay rate of the first moment; torch's default 0.9.
    pub beta1: f64,
    /// Decay rate of the second moment; torch's default 0.999.
    pub beta2: f64,
    /// Added to the denominator for numerical stability; torch's default 1e-8.
    pub eps: f64,
    /// Decoupled weight decay; the Hugging Face Trainer's default 0.0.
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// The Hugging Face Trainer's defaults (`adam_beta1`, `adam_beta2`, `adam_epsilon`,
    /// `weight_decay`).
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 }
    }
}

/// The optimizer's moments and step count, by parameter name, for checkpoints.
#[derive(Debug, Clone)]
pub struct OptimizerState {
    /// Number of optimizer steps taken (Adam's `t`).
    pub step: u64,
    /// Parameter name → (first moment, second moment).
    pub moments: BTreeMap<String, (Tensor, Tensor)>,
}

/// One trainable parameter with its moments.
struct Slot {
    name: String,
    param: Var,
    m: Tensor,
    v: Tensor,
}

/// AdamW over a fixed, named set of parameters.
pub struct AdamW {
    config: AdamWConfig,
    slots: Vec<Slot>,
    step: u64,
}

impl std::fmt::Debug for AdamW {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdamW")
            .field("config", &self.config)
            .field("params", &self.slots.len())
            .field("step", &self.step)
            .finish()
    }
}

impl AdamW {
    /// An optimizer over `params` with zero moments at step 0.
    pub fn new(params: Vec<(String, Var)>, config: AdamWConfig) -> Result<Self> {
        let slots = params
            .into_iter()
            .map(|(name, param)| {
                let m = param.zeros_like().context_with(|| format!("adamw moment of `{name}`"))?;
                let v = m.clone();
                Ok(Slot { name, param, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { config, slots, step: 0 })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// Number of steps taken so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Parameter names, in the order [`AdamW::step`] expects gradients.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.name.as_str())
    }

    /// Apply one update with learning rate `lr`; `grads[i]` belongs to the `i`-th parameter.
    pub fn step(&mut self, grads: &[Tensor], lr: f64) -> Result<()> {
        if grads.len() != self.slots.len() {
            return Err(Error::Optimizer(format!(
                "gradient count: expected {}, found {}",
                self.slots.len(),
                grads.len()
            )));
        }
        let t = self.step + 1;
        let AdamWConfig { beta1, beta2, eps, weight_decay } = self.config;
        let t_i32 = i32::try_from(t).unwrap_or(i32::MAX);
        let step_size = lr / (1.0 - beta1.powi(t_i32));
        let bias_correction2_sqrt = (1.0 - beta2.powi(t_i32)).sqrt();
        for (slot, grad) in self.slots.iter_mut().zip(grads) {
            let name = &slot.name;
            let update = || -> candle_core::Result<(Tensor, Tensor, Tensor)> {
                let p = slot.param.as_tensor().detach();
                let g = grad.detach();
                let p = (p * (1.0 - lr * weight_decay))?;
                let m = ((&slot.m * beta1)? + (&g * (1.0 - beta1))?)?;
                let v = ((&slot.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
                let denom = ((v.sqrt()? / bias_correction2_sqrt)? + eps)?;
                let p = (p - ((&m / denom)? * step_size)?)?;
                Ok((p, m, v))
            };
            let (p, m, v) = update().context_with(|| format!("adamw update of `{name}`"))?;
            slot.param.set(&p).context_with(|| format!("adamw update of `{name}`"))?;
            slot.m = m;
            slot.v = v;
        }
        self.step = t;
        Ok(())
    }

    /// A copy of the moments and step count.
    pub fn state(&self) -> OptimizerState {
        OptimizerState {
            step: self.step,
            moments: self.slots.iter().map(|s| (s.name.clone(), (s.m.clone(), s.v.clone()))).collect(),
        }
    }

    /// Restore moments and step count saved by [`AdamW::state`]: exactly the same parameter
    /// names, with their shapes.
    pub fn load_state(&mut self, mut state: OptimizerState) -> Result<()> {
        let mut restored = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let name = &slot.name;
            let (m, v) = state.moments.remove(name).ok_or_else(|| {
                Error::Optimizer(format!("optimizer state: no moments for parameter `{name}`"))
            })?;
            let mut pair = Vec::with_capacity(2);
            for (what, t) in [("first", m), ("second", v)] {
                if t.dims() != slot.param.dims() {
                    return Err(Error::Optimizer(format!(
                        "optimizer state: {what} moment of `{name}`: expected shape {:?}, found {:?}",
                        slot.param.dims(),
                        t.dims()
                    )));
                }
                pair.push(
                    t.to_dtype(slot.param.dtype())
                        .and_then(|t| t.to_device(slot.param.device()))
                        .context_with(|| format!("optimizer state of `{name}`"))?,
                );
            }
            let v = pair.pop().expect("two moments");
            let m = pair.pop().expect("two moments");
            restored.push((m, v));
        }
        if let Some(extra) = state.moments.keys().next() {
            return Err(Error::Optimizer(format!(
                "optimizer state: moments for `{extra}`, which is not a parameter of this optimizer"
            )));
        }
        for (slot, (m, v)) in self.slots.iter_mut().zip(restored) {
            slot.m = m;
            slot.v = v;
        }
        self.step = state.step;
        Ok(())
    }
}

/// Scale `grads` in place so that their global L2 norm is at most `max_norm`, as
/// `torch.nn.utils.clip_grad_norm_` does (coefficient `max_norm / (norm + 1e-6)`, clamped
/// to 1). Returns the norm before clipping, which the trainer reports and checks for
/// NaN/inf.
pub fn clip_grad_norm(grads: &mut [Tensor], max_norm: Option<f64>) -> Result<f64> {
    let norm = global_norm(grads)?;
    if let Some(max_norm) = max_norm {
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            for g in grads.iter_mut() {
                *g = (&*g * coef).context_with(|| "gradient clipping".to_string())?;
            }
        }
    }
    Ok(norm)
}

/// The L2 norm of all `grads` taken together, accumulated in f64.
pub fn global_norm(grads: &[Tensor]) -> Result<f64> {
    let mut sum = 0.0f64;
    for g in grads {
        let sq = g
            .sqr()
            .and_then(|t| t.sum_all())
            .and_then(|t| t.to_dtype(candle_core::DType::F64))
            .and_then(|t| t.to_vec0::<f64>())
            .context_with(|| "gradient norm".to_string())?;
        sum += sq;
    }
    Ok(sum.sqrt())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::*;

    /// Two AdamW steps against torch 2.15 (float64), produced by:
    ///
    /// ```python
    /// import torch
    /// p = torch.nn.Parameter(torch.tensor([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]], dtype=torch.float64))
    /// opt = torch.optim.AdamW([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    /// grads = [torch.tensor([[0.1, -0.2, 0.3], [1.0, 0.0, -2.0]], dtype=torch.float64),
    ///          torch.tensor([[-0.3, 0.5, 0.0], [0.2, 0.7, 1.5]], dtype=torch.float64)]
    /// for g in grads:
    ///     p.grad = g.clone(); opt.step(); print(p.detach().flatten().tolist())
    /// st = opt.state[p]; print(st["exp_avg"].flatten().tolist(), st["exp_avg_sq"].flatten().tolist())
    /// ```
    #[test]
    fn two_steps_match_torch_adamw() {
        let dev = Device::Cpu;
        let p = Var::from_slice(&[0.5f32, -1.0, 2.0, 0.0, 3.0, -0.25], (2, 3), &dev).unwrap();
        let config = AdamWConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1 };
        let mut opt = AdamW::new(vec![("p".into(), p.clone())], config).unwrap();
        let g1 = Tensor::from_slice(&[0.1f32, -0.2, 0.3, 1.0, 0.0, -2.0], (2, 3), &dev).unwrap();
        let g2 = Tensor::from_slice(&[-0.3f32, 0.5, 0.0, 0.2, 0.7, 1.5], (2, 3), &dev).unwrap();
        let after1 = [0.4895000009999999, -0.9890000004999999, 1.9880000003333334, -0.009999999900000002, 2.997, -0.23975000005];
        let after2 = [0.4939434822916474, -0.9924259285001223, 1.9792961991774907, -0.018037240829354755, 2.986578402265589, -0.23861643350492143];
        let m_ref = [-0.021, 0.032, 0.027, 0.11, 0.07, -0.03];
        let v_ref = [0.000999, 0.002896, 0.000891, 0.0103, 0.0049, 0.0621];
        let close = |got: Vec<f32>, want: &[f64], what: &str| {
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert!((f64::from(*g) - w).abs() < 2e-6, "{what}[{i}]: got {g}, want {w}");
            }
        };
        opt.step(&[g1], 0.01).unwrap();
        close(p.flatten_all().unwrap().to_vec1().unwrap(), &after1, "after step 1");
        opt.step(&[g2], 0.01).unwrap();
        close(p.flatten_all().unwrap().to_vec1().unwrap(), &after2, "after step 2");
        let state = opt.state();
        assert_eq!(state.step, 2);
        let (m, v) = &state.moments["p"];
        close(m.flatten_all().unwrap().to_vec1().unwrap(), &m_ref, "m");
        close(v.flatten_all().unwrap().to_vec1().unwrap(), &v_ref, "v");
    }

    #[test]
    fn restored_state_continues_identically() {
        let dev = Device::Cpu;
        let config = AdamWConfig { weight_decay: 0.01, ..AdamWConfig::default() };
        let grads: Vec<Tensor> = (0..4)
            .map(|i| Tensor::from_slice(&[0.3f32 * i as f32, -0.7, 1.1], 3, &dev).unwrap())
            .collect();
        let p = Var::from_slice(&[1.0f32, 2.0, -3.0], 3, &dev).unwrap();
        let mut straight = AdamW::new(vec![("p".into(), p.clone())], config).unwrap();
        for g in &grads {
            straight.step(std::slice::from_ref(g), 1e-2).unwrap();
        }
        let q = Var::from_slice(&[1.0f32, 2.0, -3.0], 3, &dev).unwrap();
        let mut first = AdamW::new(vec![("p".into(), q.clone())], config).unwrap();
        for g in &grads[..2] {
            first.step(std::slice::from_ref(g), 1e-2).unwrap();
        }
        let saved = first.state();
        let r = Var::from_tensor(&q.as_tensor().copy().unwrap()).unwrap();
        let mut second = AdamW::new(vec![("p".into(), r.clone())], config).unwrap();
        second.load_state(saved).unwrap();
        for g in &grads[2..] {
            second.step(std::slice::from_ref(g), 1e-2).unwrap();
        }
        assert_eq!(
            p.to_vec1::<f32>().unwrap(),
            r.to_vec1::<f32>().unwrap(),
            "resumed optimizer must match bit for bit"
        );
    }

    #[test]
    fn load_state_rejects_a_foreign_parameter() {
        let dev = Device::Cpu;
        let p = Var::zeros(3, candle_core::DType::F32, &dev).unwrap();
        let mut opt = AdamW::new(vec![("a".into(), p.clone())], AdamWConfig::default()).unwrap();
        let z = Tensor::zeros(3, candle_core::DType::F32, &dev).unwrap();
        let err = opt
            .load_state(OptimizerState { step: 1, moments: BTreeMap::from([("b".into(), (z.clone(), z))]) })
            .unwrap_err();
        assert_eq!(err.to_string(), "optimizer state: no moments for parameter `a`");
    }

    /// torch: `clip_grad_norm_` on grads [3, 4] and [12] with max_norm 6.5 returns 13 and
    /// scales by 6.5 / (13 + 1e-6).
    #[test]
    fn clipping_matches_torch() {
        let dev = Device::Cpu;
        let mut grads = vec![
            Tensor::from_slice(&[3.0f32, 4.0], 2, &dev).unwrap(),
            Tensor::from_slice(&[12.0f32], 1, &dev).unwrap(),
        ];
        let norm = clip_grad_norm(&mut grads, Some(6.5)).unwrap();
        assert!((norm - 13.0).abs() < 1e-9, "norm {norm}");
        let coef = 6.5 / (13.0 + 1e-6);
        let got = grads[0].to_vec1::<f32>().unwrap();
        assert!((f64::from(got[0]) - 3.0 * coef).abs() < 1e-6, "{got:?}");
        let unclipped = clip_grad_norm(&mut grads, Some(100.0)).unwrap();
        assert!((unclipped - 6.5).abs() < 1e-5, "{unclipped}");
        assert!((f64::from(grads[1].to_vec1::<f32>().unwrap()[0]) - 12.0 * coef).abs() < 1e-5);
    }
}

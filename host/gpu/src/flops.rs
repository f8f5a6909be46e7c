//! The floating-point operations of one QLoRA training step, for MFU.
//!
//! A product of `[m, k]` and `[k, n]` costs `2·m·k·n` (a multiply and an add). With
//! `N = batch · seq` tokens, `S` scored positions, `L` layers, `h` hidden, `i` MLP width,
//! `q = heads · head_dim`, `kv = kv_heads · head_dim`, vocabulary `V`, LoRA rank `r`:
//!
//! | term | FLOPs |
//! | --- | --- |
//! | frozen projections, forward | `2 · N · P · L`, `P = h·q + 2·h·kv + q·h + 3·h·i` |
//! | frozen projections, backward to the inputs | `2 · N · P · L` (no weight gradient: the base is frozen) |
//! | LoRA, forward and backward | `6 · N · r · D · L`, `D = Σ (in + out)` over the 7 projections |
//! | attention `QKᵀ` and `AV` | `12 · batch · seq² · q · L` (forward `4`, backward `8`; the full square, as PaLM counts it) |
//! | LM head, forward and backward to the inputs | `4 · S · h · V` |
//!
//! LoRA's `6` is forward `x·Aᵀ` and `(xAᵀ)·Bᵀ` (2 each per `r·(in + out)`), then backward
//! the gradients of `B`, of `xAᵀ`, of `A` and of `x` (4). Element-wise work (norms, RoPE,
//! SiLU, softmax, dropout, the optimizer) is left out, as MFU conventionally leaves it out
//! (Chowdhery et al. 2022, "PaLM", appendix B). Layer 0's q/k/v gradient with respect to
//! its input, which nothing needs, is counted: under 1% of the total for the Llama shapes.
//! `benches/gpu/torch_lora.py` counts the same way, so both sides share the numerator.

use rapha_engine::Config;

/// One training step's FLOPs, by term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepFlops {
    /// Frozen projections, forward.
    pub linear_forward: u64,
    /// Frozen projections, backward to their inputs.
    pub linear_backward: u64,
    /// LoRA adapters on all seven projections, forward and backward.
    pub lora: u64,
    /// Attention scores and weighted values, forward and backward.
    pub attention: u64,
    /// LM head over the scored positions, forward and backward.
    pub lm_head: u64,
}

/// What a training step processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepShape {
    /// Rows per step.
    pub batch: usize,
    /// Tokens per row.
    pub seq: usize,
    /// Positions whose next token is scored, over all rows.
    pub scored: usize,
    /// LoRA rank (adapters on all seven projections).
    pub rank: usize,
}

/// A one-line statement of the count, carried in the benchmark's JSON.
pub const FORMULA: &str = "4·N·P·L (frozen projections: forward + backward to inputs) \
    + 6·N·r·D·L (LoRA on 7 projections, D = Σ in+out) + 12·batch·seq²·q·L (attention) \
    + 4·S·h·V (LM head on S scored positions); N = batch·seq";

impl StepFlops {
    /// The count for `config` and `shape` (see the module doc).
    pub fn new(config: &Config, shape: StepShape) -> Self {
        let u = |x: usize| x as u64;
        let (h, i, v) = (
            u(config.hidden_size),
            u(config.intermediate_size),
            u(config.vocab_size),
        );
        let layers = u(config.num_hidden_layers);
        let q = u(config.num_attention_heads * config.head_dim);
        let kv = u(config.num_key_value_heads * config.head_dim);
        let tokens = u(shape.batch * shape.seq);
        let projections = h * q + 2 * h * kv + q * h + 3 * h * i;
        let sides = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h);
        Self {
            linear_forward: 2 * tokens * projections * layers,
            linear_backward: 2 * tokens * projections * layers,
            lora: 6 * tokens * u(shape.rank) * sides * layers,
            attention: 12 * u(shape.batch) * u(shape.seq) * u(shape.seq) * q * layers,
            lm_head: 4 * u(shape.scored) * h * v,
        }
    }

    /// All terms.
    pub fn total(&self) -> u64 {
        self.linear_forward + self.linear_backward + self.lora + self.attention + self.lm_head
    }
}

#[cfg(test)]
mod tests {
    use rapha_engine::config::SyntheticShape;

    use super::*;

    /// The tiny shape (h 64, i 128, 2 layers, q 64, kv 32, V 256), batch 2 × 8, 14 scored,
    /// rank 4, worked by hand: P = 4096 + 4096 + 4096 + 24576 = 36864; D = 128 + 192 + 128
    /// + 384 + 192 = 1024.
    #[test]
    fn tiny_step_counted_by_hand() {
        let config = Config::synthetic(SyntheticShape::Tiny);
        let flops = StepFlops::new(
            &config,
            StepShape {
                batch: 2,
                seq: 8,
                scored: 14,
                rank: 4,
            },
        );
        assert_eq!(flops.linear_forward, 2 * 16 * 36864 * 2);
        assert_eq!(flops.linear_backward, 2 * 16 * 36864 * 2);
        assert_eq!(flops.lora, 6 * 16 * 4 * 1024 * 2);
        assert_eq!(flops.attention, 12 * 2 * 64 * 64 * 2);
        assert_eq!(flops.lm_head, 4 * 14 * 64 * 256);
        assert_eq!(flops.total(), 6_619_136);
    }

    /// For Llama 3.2 1B the frozen projections hold 973 078 528 parameters (the published
    /// 1 235 814 400 less the 262 668 288 of the embedding and the 34 816 of the norms), so
    /// forward plus backward to the inputs is 4 FLOPs per projection parameter per token.
    #[test]
    fn projections_cost_four_flops_per_parameter_and_token() {
        let config = Config::synthetic(SyntheticShape::Llama32_1b);
        let flops = StepFlops::new(
            &config,
            StepShape {
                batch: 1,
                seq: 1,
                scored: 0,
                rank: 0,
            },
        );
        assert_eq!(
            flops.linear_forward + flops.linear_backward,
            4 * 973_078_528
        );
        assert_eq!(flops.lora + flops.lm_head, 0);
    }
}

//! Rotary position embedding (RoPE; Su et al. 2021, "RoFormer", §3.4), in the
//! Hugging Face layout: the two halves of a head are rotated against each other
//! (`rotate_half` in transformers' `modeling_llama.py`), not interleaved pairs.
//!
//! Frequencies follow transformers' `modeling_rope_utils.py`:
//! `_compute_default_rope_parameters` and `_compute_llama3_parameters`. Angles are
//! computed from the explicit positions of every token, so left-padded batches and
//! cached decoding rotate each token by its own position. The rotation itself is
//! `rapha_kernels::ops::rotary_heads`.

use candle_core::{D, DType, Device, Tensor};

use crate::config::{Config, RopeScaling};
use crate::error::{CandleContext, Result};

/// Inverse frequencies of one head, `[head_dim / 2]`.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    inv_freq: Tensor,
}

impl RotaryEmbedding {
    /// Frequencies for `config` (base `rope_theta`, optional Llama 3 rescaling).
    pub fn new(config: &Config, device: &Device) -> Result<Self> {
        let inv_freq = inverse_frequencies(config);
        let inv_freq = Tensor::from_vec(inv_freq, config.head_dim / 2, device)
            .context_with(|| "rope: inverse frequencies".to_owned())?;
        Ok(Self { inv_freq })
    }

    /// `cos` and `sin` of every position's angles, each `[b, t, head_dim]` (the half
    /// width repeated, matching `rotate_half`).
    pub fn cos_sin(&self, positions: &Tensor) -> Result<(Tensor, Tensor)> {
        let run = || -> candle_core::Result<(Tensor, Tensor)> {
            let positions = positions.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
            let freqs = positions.broadcast_mul(&self.inv_freq.reshape((1, 1, ()))?)?;
            let emb = Tensor::cat(&[&freqs, &freqs], D::Minus1)?;
            Ok((emb.cos()?, emb.sin()?))
        };
        run().context_with(|| format!("rope: angles for positions {:?}", positions.shape()))
    }
}

/// `inv_freq[i] = theta^(-2i/d)`, then Llama 3's rescaling: wavelengths longer than
/// `original / low_freq_factor` are divided by `factor`, shorter than
/// `original / high_freq_factor` kept, and the band between interpolated smoothly.
fn inverse_frequencies(config: &Config) -> Vec<f32> {
    let dim = config.head_dim;
    // transformers computes these in float32: `base ** (arange(0, dim, 2).float() / dim)`.
    let base: Vec<f32> = (0..dim / 2)
        .map(|i| 1.0 / (config.rope_theta as f32).powf((2 * i) as f32 / dim as f32))
        .collect();
    match config.rope_scaling {
        RopeScaling::Default => base,
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            let original = original_max_position_embeddings as f64;
            let low_freq_wavelen = original / low_freq_factor;
            let high_freq_wavelen = original / high_freq_factor;
            base.into_iter()
                .map(|f| {
                    let f = f64::from(f);
                    let wavelen = 2.0 * std::f64::consts::PI / f;
                    let scaled = if wavelen > low_freq_wavelen {
                        f / factor
                    } else {
                        f
                    };
                    let smooth = (original / wavelen - low_freq_factor)
                        / (high_freq_factor - low_freq_factor);
                    let medium = (high_freq_wavelen..=low_freq_wavelen).contains(&wavelen);
                    let out = if medium {
                        (1.0 - smooth) * scaled / factor + smooth * scaled
                    } else {
                        scaled
                    };
                    out as f32
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Architecture;

    fn config(rope_scaling: RopeScaling) -> Config {
        Config {
            architecture: Architecture::Llama,
            vocab_size: 8,
            hidden_size: 16,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 2,
            num_key_value_heads: 1,
            head_dim: 8,
            rms_norm_eps: 1e-5,
            rope_theta: 10_000.0,
            rope_scaling,
            max_position_embeddings: 64,
            tie_word_embeddings: true,
            qkv_bias: false,
            o_bias: false,
            sliding_window: None,
            bos_token_id: None,
            eos_token_ids: vec![],
        }
    }

    #[test]
    fn default_frequencies_are_theta_powers() {
        let f = inverse_frequencies(&config(RopeScaling::Default));
        let expected = [1.0, 0.1, 0.01, 0.001];
        for (a, b) in f.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6 * b.max(1e-3), "{f:?}");
        }
    }

    #[test]
    fn llama3_scaling_matches_transformers() {
        // transformers 5.23 `ROPE_INIT_FUNCTIONS["llama3"]` with head_dim 8, theta 1e4,
        // factor 8, low 1, high 4, original 100: wavelengths 6.3 (kept), 62.8 (smoothed),
        // 628 and 6283 (divided by 8).
        let scaling = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 100,
        };
        let f = inverse_frequencies(&config(scaling));
        let expected = [1.0f32, 0.029_753_525, 0.00125, 0.000_125];
        for (got, want) in f.iter().zip(expected) {
            assert!((got - want).abs() <= 1e-6 * want, "{f:?}");
        }
    }
}

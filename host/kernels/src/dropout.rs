//! LoRA's dropout masks, drawn from counter-based streams: a mask is a key (a seed, a
//! threshold, a scale), its values a function of the key and the element's index alone, so
//! they are the same whatever the thread count or the device, and a fused op's backward pass
//! redraws them instead of keeping them.

use candle_core::{Device, Shape, Tensor};
use chacha20::cipher::{Array, KeyIvInit, StreamCipherCore};
use chacha20::variants::Ietf;
use chacha20::{ChaChaCore, R8};
use rayon::prelude::*;

/// An inverted-dropout mask (of one adapter in one micro-batch), as a key rather than as
/// values: element `i` is kept (scaled by `keep`) when the `i`-th draw of its ChaCha8 stream
/// is at or above `threshold`. Fused ops redraw it in their backward pass instead of keeping
/// a mask tensor alive.
#[derive(Debug, Clone, Copy)]
pub struct DropoutMask {
    /// The key of the ChaCha8 streams.
    pub seed: [u8; 32],
    /// Draws below it drop their element.
    pub threshold: u32,
    /// The factor a kept element is scaled by.
    pub keep: f32,
}

impl DropoutMask {
    /// The mask that drops each element with probability `p`, drawn from the ChaCha8
    /// streams keyed by `seed`.
    pub fn new(p: f64, seed: [u8; 32]) -> Self {
        Self {
            seed,
            // Keep when a uniform u32 is at or above p · 2³².
            threshold: (p * 4_294_967_296.0).round().min(f64::from(u32::MAX)) as u32,
            keep: (1.0 / (1.0 - p)) as f32,
        }
    }

    /// The mask's values, f32 of `shape` on `device`: 0 where dropped, `1 / (1 - p)` where
    /// kept. On a CUDA device a kernel draws the same values there (`cuda/dropout.cu`).
    pub fn tensor(&self, shape: &Shape, device: &Device) -> candle_core::Result<Tensor> {
        #[cfg(feature = "cuda")]
        if device.is_cuda() {
            return crate::cuda::dropout_mask(&self.seed, self.threshold, self.keep, DROPOUT_CHUNK, shape, device);
        }
        let mut values = vec![0.0f32; shape.elem_count()];
        self.visit(&mut values, |_, kept, run| {
            for (v, &k) in run.iter_mut().zip(kept) {
                *v = if k { self.keep } else { 0.0 };
            }
        });
        Tensor::from_vec(values, shape, device)
    }

    /// Calls `f(first, kept, run)` for consecutive runs of `out` (`run` is
    /// `out[first..first + kept.len()]`, `kept[j]` whether its element `j` is kept), on
    /// rayon's threads, a chunk of `DROPOUT_CHUNK` elements (one ChaCha8 stream) at a time.
    /// The draws come a run at a time, written by the cipher straight into a buffer (a
    /// generator's `fill` copied them word by word out of its own), and the callers' loops
    /// over a run vectorise instead of paying a call to the generator per element.
    pub fn visit<T: Send>(&self, out: &mut [T], f: impl Fn(usize, &[bool], &mut [T]) + Sync) {
        out.par_chunks_mut(DROPOUT_CHUNK).enumerate().for_each(|(chunk, out)| {
            let mut stream = keystream(&self.seed, chunk as u64);
            let mut blocks = [[0u8; 64]; DROPOUT_RUN / 16];
            let mut kept = [false; DROPOUT_RUN];
            for (run, out) in out.chunks_mut(DROPOUT_RUN).enumerate() {
                let blocks = &mut blocks[..out.len().div_ceil(16)];
                stream.write_keystream_blocks(Array::cast_slice_from_core_mut(blocks));
                let draws = blocks.as_flattened().as_chunks::<4>().0.iter().map(|w| u32::from_le_bytes(*w));
                let kept = &mut kept[..out.len()];
                for (k, d) in kept.iter_mut().zip(draws) {
                    *k = d >= self.threshold;
                }
                f(chunk * DROPOUT_CHUNK + run * DROPOUT_RUN, kept, out);
            }
        });
    }
}

/// The ChaCha8 keystream that `rand_chacha`'s `ChaCha8Rng` seeded with `seed` draws on
/// `stream`, from its first word. That generator keeps a 64-bit block counter and a 64-bit
/// stream; the IETF layout a 32-bit counter and a 96-bit nonce over the same state words, so
/// the nonce is a zero (the counter's high half: a mask chunk is far fewer than 2³² blocks)
/// and then the stream.
fn keystream(seed: &[u8; 32], stream: u64) -> ChaChaCore<R8, Ietf> {
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&stream.to_le_bytes());
    ChaChaCore::new(seed.into(), &nonce.into())
}

/// Elements whose draws are taken from the generator at once: the same words, in the same
/// order, as one draw per element.
const DROPOUT_RUN: usize = 256;

/// Mask elements drawn from one ChaCha8 stream; a multiple of ChaCha's 16-word block, so
/// each stream is whole blocks (the GPU's kernel computes one block per thread).
const DROPOUT_CHUNK: usize = 1 << 14;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn dropout_runs_draw_the_stream_one_word_per_element() {
        // The stream the CUDA kernel reproduces: element `e` is kept when word `e % chunk`
        // of ChaCha8 stream `e / chunk` is at or above the threshold. Two chunks and a
        // partial third, so runs end inside a chunk and a chunk ends inside a run's length.
        let mask = DropoutMask { seed: [3; 32], threshold: 1 << 30, keep: 4.0 / 3.0 };
        let len = 2 * DROPOUT_CHUNK + 1000;
        let mut got = vec![false; len];
        mask.visit(&mut got, |first, kept, run| {
            assert_eq!(run.len(), kept.len());
            run.copy_from_slice(kept);
            assert!(first % DROPOUT_RUN == 0, "runs start at multiples of {DROPOUT_RUN}, not {first}");
        });
        let mut want = Vec::with_capacity(len);
        for stream in 0..len.div_ceil(DROPOUT_CHUNK) {
            let mut rng = ChaCha8Rng::from_seed(mask.seed);
            rng.set_stream(stream as u64);
            let count = DROPOUT_CHUNK.min(len - stream * DROPOUT_CHUNK);
            want.extend((0..count).map(|_| rng.next_u32() >= mask.threshold));
        }
        assert_eq!(got, want);
        let kept = got.iter().filter(|&&k| k).count() as f64 / len as f64;
        assert!((kept - 0.75).abs() < 0.01, "kept fraction {kept}");
    }
}

//! Where the tiles of a frozen weight come from: packed NF4 codes decoded on the fly, or an
//! f32 matrix read in place. The CPU kernels ([`crate::bf16_product`], [`crate::gemv`] and
//! the tiled product of [`crate::frozen`]) read every weight through this one type.

use crate::nf4::{Float, Nf4Matrix};

/// Where the tiles (or, for a few input rows, the rows) of `W` come from.
#[derive(Clone, Copy)]
pub(crate) enum TileSource<'a> {
    /// Packed NF4 codes and scales.
    Nf4(&'a Nf4Matrix),
    /// A row-major f32 matrix, read in place.
    Full(&'a [f32]),
}

impl TileSource<'_> {
    /// W[first.., :] row-major into `tile` ([tile.len() / cols, cols]).
    pub(crate) fn rows<T: Float>(&self, first: usize, cols: usize, tile: &mut [T]) {
        match self {
            Self::Nf4(w) => w.dequantize_rows(first, tile),
            Self::Full(w) => {
                for (t, &v) in tile.iter_mut().zip(&w[first * cols..]) {
                    *t = T::from_f32(v);
                }
            }
        }
    }

    /// W[:, first..first + width] row-major into `tile` ([rows, width]).
    pub(crate) fn cols<T: Float>(&self, first: usize, width: usize, cols: usize, tile: &mut [T]) {
        match self {
            Self::Nf4(w) => w.dequantize_cols(first, width, tile),
            Self::Full(w) => {
                for (row, chunk) in tile.chunks_exact_mut(width).enumerate() {
                    for (t, &v) in chunk.iter_mut().zip(&w[row * cols + first..]) {
                        *t = T::from_f32(v);
                    }
                }
            }
        }
    }
}

//! The frozen linear layer: the base weight under a LoRA adapter, in NF4 or full precision.
//!
//! In NF4 (QLoRA, Dettmers et al. 2023, §3) the layer keeps only the packed codes and the
//! double-quantized scales ([`Nf4Matrix`]). Its forward pass is a candle custom op that
//! multiplies in bf16 operands with f32 sums, as bitsandbytes does with
//! `bnb_4bit_compute_dtype = bfloat16`: with AMX tiles where the CPU has them (the weight
//! decoded into a temporary bf16 copy for the one call, [`crate::bf16_product`]), otherwise
//! a tile of rows at a time dequantized into a per-thread scratch buffer, rounded, and
//! multiplied with `gemm`. Its backward pass computes the gradient of the input,
//! `grad_x = grad_y · W`, the same way (a tile of columns at a time). The autograd graph
//! therefore holds the packed weight and nothing bigger, and the weight receives no gradient
//! — which is what bitsandbytes' `MatMul4Bit` does in PyTorch. A full-precision weight goes
//! through the same op on the CPU in f32 (or f64, for exact tests, as NF4 does too), so its
//! gradient is not computed either. A forward pass of a few rows (a generation step) skips
//! the tiles: `gemv` decodes each weight row once and dots it with every input row.
//!
//! On a CUDA device (feature `cuda`) the packed weight lives in device memory and the same op
//! dequantizes the whole weight of this one layer into a temporary bf16 buffer with the
//! kernel of the `cuda` module, runs one cuBLAS GEMM through candle's own matmul, and frees the buffer:
//! at most one layer's dequantized weight exists at a time, and the graph holds none. A
//! full-precision weight on a GPU is kept in bf16 and multiplied by the same op.

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{CandleContext, Error, Result};
use crate::bf16_product;
use crate::gemv;
use crate::nf4::{Float, Nf4Matrix};
use crate::tiles::TileSource;

/// How a frozen linear weight is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Full precision (f32): plain LoRA on a frozen base.
    None,
    /// NF4 with double-quantized scales: QLoRA.
    Nf4,
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Nf4 => "nf4",
        })
    }
}

/// The dtype frozen weights and activations take on `device`: f32 on the CPU (where an NF4
/// layer rounds the operands of its products to bf16 inside its op, see the module doc),
/// bf16 on a CUDA GPU, as bitsandbytes' QLoRA computes (`bnb_4bit_compute_dtype=bfloat16`).
pub fn compute_dtype(device: &Device) -> DType {
    if device.is_cuda() {
        DType::BF16
    } else {
        DType::F32
    }
}

/// A linear layer `y = x · Wᵀ + b` whose weight `W` [out, in] is frozen.
#[derive(Debug, Clone)]
pub struct FrozenLinear {
    weight: FrozenWeight,
    bias: Option<Tensor>,
    in_features: usize,
    out_features: usize,
    device: Device,
    /// Whether f32 products on the CPU round both operands to bf16 (see the module doc):
    /// always for NF4, on request for a full-precision weight.
    bf16_operands: bool,
}

#[derive(Debug, Clone)]
enum FrozenWeight {
    /// Full precision, in the device's [`compute_dtype`].
    Full(Tensor),
    /// NF4 in host memory.
    Nf4(Arc<Nf4Matrix>),
    /// NF4 in the memory of a CUDA device.
    #[cfg(feature = "cuda")]
    Nf4Cuda(Arc<crate::cuda::Nf4Device>),
}

impl FrozenLinear {
    /// Freeze `weight` `[out, in]` (any float dtype) and the optional `bias` `[out]`, on the
    /// weight's device.
    ///
    /// Both are detached and kept in the device's [`compute_dtype`], or for
    /// [`Quantization::Nf4`] the weight is quantized (on the host, then uploaded once to a
    /// GPU); the bias is never quantized (bitsandbytes' `Linear4bit` keeps it too).
    pub fn new(weight: Tensor, bias: Option<Tensor>, quantization: Quantization) -> Result<Self> {
        let (out_features, in_features) = match *weight.dims() {
            [out, inp] => (out, inp),
            ref dims => {
                return Err(Error::LinearShape {
                    what: "weight",
                    expected: "[out, in]".to_owned(),
                    found: format!("{dims:?}"),
                });
            }
        };
        if let Some(bias) = &bias
            && bias.dims() != [out_features]
        {
            return Err(Error::LinearShape {
                what: "bias",
                expected: format!("[{out_features}]"),
                found: format!("{:?}", bias.dims()),
            });
        }
        let device = weight.device().clone();
        let dtype = compute_dtype(&device);
        let freeze = |t: &Tensor| t.detach().to_dtype(dtype);
        let bias = bias
            .as_ref()
            .map(freeze)
            .transpose()
            .context_with(|| "freeze bias".to_owned())?;
        let weight = match quantization {
            Quantization::None => {
                let weight = freeze(&weight).and_then(|w| w.contiguous());
                FrozenWeight::Full(weight.context_with(|| "freeze weight".to_owned())?)
            }
            Quantization::Nf4 => {
                let values = weight
                    .to_dtype(DType::F32)
                    .and_then(|w| w.flatten_all())
                    .and_then(|w| w.to_vec1::<f32>())
                    .context_with(|| "read weight to quantize".to_owned())?;
                let matrix = Nf4Matrix::quantize(&values, out_features, in_features);
                nf4_weight(matrix, &device)?
            }
        };
        Ok(Self {
            weight,
            bias,
            in_features,
            out_features,
            device,
            bf16_operands: quantization == Quantization::Nf4,
        })
    }

    /// This layer with its f32 CPU products taken in bf16 operands, as NF4 layers take
    /// theirs: for the LM head of an NF4 model, as a bf16 QLoRA model has it.
    pub fn with_bf16_operands(self) -> Self {
        Self { bf16_operands: true, ..self }
    }

    /// `x` [.., in] → [.., out]. The result carries gradients to `x` (never to the weight).
    ///
    /// On the CPU, computes in the input's dtype when it is f32 or f64 (the stored weight is
    /// converted to it), other dtypes in f32, converting on the way in and out. On a GPU, NF4
    /// computes in the input's dtype when it is bf16 or f32 (other dtypes in bf16) and a
    /// full-precision weight in its own dtype (bf16).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let context = || {
            format!(
                "frozen linear [{}, {}]",
                self.out_features, self.in_features
            )
        };
        let (rows, out_dims) = self.rows_of(x)?;
        let run = || -> candle_core::Result<Tensor> {
            let x2 = x.reshape((rows, self.in_features))?;
            self.add_bias(self.matmul(&x2, false)?)?.reshape(out_dims)
        };
        run().context_with(context)
    }

    /// The full-precision weight, when products take it as it is (not NF4, not rounded to
    /// bf16 operands).
    pub(crate) fn plain_weight(&self) -> Option<&Tensor> {
        match &self.weight {
            FrozenWeight::Full(w) if !self.bf16_operands => Some(w),
            _ => None,
        }
    }

    /// `y` plus the bias, if this layer has one, in `y`'s dtype.
    pub(crate) fn add_bias(&self, y: Tensor) -> candle_core::Result<Tensor> {
        match &self.bias {
            Some(b) => y.broadcast_add(&b.to_dtype(y.dtype())?),
            None => Ok(y),
        }
    }

    /// The number of rows of `x` [.., in] and the shape of its output, [.., out]; an error
    /// when `x`'s last dimension is not `in`.
    pub fn rows_of(&self, x: &Tensor) -> Result<(usize, Vec<usize>)> {
        let dims = x.dims();
        let Some((&in_features, batch)) = dims.split_last() else {
            return Err(Error::LinearShape {
                what: "input",
                expected: format!("[.., {}]", self.in_features),
                found: "a scalar".to_owned(),
            });
        };
        if in_features != self.in_features {
            return Err(Error::LinearShape {
                what: "input",
                expected: format!("[.., {}]", self.in_features),
                found: format!("{dims:?}"),
            });
        }
        let mut out_dims = batch.to_vec();
        out_dims.push(self.out_features);
        Ok((batch.iter().product(), out_dims))
    }

    /// `grad` [.., out] → `grad · W` [.., in]: what [`FrozenLinear::forward`]'s backward
    /// pass computes for the input, callable on its own (benchmarks time it against the f32
    /// matmul of the same shape).
    pub fn backward_input(&self, grad: &Tensor) -> Result<Tensor> {
        let context = || {
            format!(
                "frozen linear [{}, {}] backward",
                self.out_features, self.in_features
            )
        };
        let dims = grad.dims();
        if dims.last() != Some(&self.out_features) {
            return Err(Error::LinearShape {
                what: "gradient",
                expected: format!("[.., {}]", self.out_features),
                found: format!("{dims:?}"),
            });
        }
        let rows = grad.elem_count() / self.out_features.max(1);
        let mut in_dims = dims[..dims.len() - 1].to_vec();
        in_dims.push(self.in_features);
        let run = || -> candle_core::Result<Tensor> {
            let g = grad.reshape((rows, self.out_features))?;
            self.matmul(&g, true)?.reshape(in_dims)
        };
        run().context_with(context)
    }

    /// `x` [rows, in] · `Wᵀ`, or `x` [rows, out] · `W` when `transposed`.
    ///
    /// On the CPU and on CUDA both kinds of weight go through [`FrozenMatMul`], whose backward
    /// pass gives no gradient to the weight; candle's own matmul would compute `xᵀ · grad` for
    /// it too, a third more work per frozen layer, only to throw it away.
    pub(crate) fn matmul(&self, x: &Tensor, transposed: bool) -> candle_core::Result<Tensor> {
        let device = x.device();
        let native = device.is_cpu() || cfg!(feature = "cuda") && device.is_cuda();
        if let (FrozenWeight::Full(w), false) = (&self.weight, native) {
            let w = w.to_dtype(x.dtype())?;
            return x.matmul(&if transposed { w } else { w.t()? });
        }
        let dtype = x.dtype();
        let compute = match (&self.weight, device.is_cpu(), dtype) {
            (_, true, DType::F32 | DType::F64) => dtype,
            (_, true, _) => DType::F32,
            (FrozenWeight::Full(w), false, _) => w.dtype(),
            (_, false, DType::F32 | DType::BF16) => dtype,
            (_, false, _) => DType::BF16,
        };
        let op = self.product(transposed);
        if compute == dtype {
            x.contiguous()?.apply_op1(op)
        } else {
            x.to_dtype(compute)?
                .contiguous()?
                .apply_op1(op)?
                .to_dtype(dtype)
        }
    }

    /// `x` [m, in] · `Wᵀ` → [m, out], or `x` [m, out] · `W` → [m, in] when `transposed`:
    /// the products of [`FrozenLinear::forward`] and of its backward pass on row-major f32
    /// slices in host memory, for ops that fuse more around them. No bias.
    pub fn cpu_product_f32(&self, x: &[f32], m: usize, transposed: bool) -> candle_core::Result<Vec<f32>> {
        self.product_op(x.len(), m, transposed)?.compute_f32(x, m)
    }

    /// The weight in bf16, laid out for AMX products `x · Wᵀ` (or `x · W` when
    /// `transposed`) that give what [`FrozenLinear::cpu_product_f32`] gives, for a caller
    /// that multiplies several inputs through it and would otherwise pay the conversion each
    /// time. `None` unless the layer takes bf16 operands and this CPU has AMX.
    pub fn paired_bf16(&self, transposed: bool) -> Option<bf16_product::PairedWeight> {
        if !self.bf16_operands || !self.device.is_cpu() {
            return None;
        }
        let op = self.product(transposed);
        let dims = op.weight_dims();
        op.with_source(|source| bf16_product::PairedWeight::new(source, dims, transposed)).ok().flatten()
    }

    /// [`FrozenLinear::cpu_product_f32`] in f64 (the weight widened), for exact tests.
    pub(crate) fn cpu_product_f64(&self, x: &[f64], m: usize, transposed: bool) -> candle_core::Result<Vec<f64>> {
        self.product_op(x.len(), m, transposed)?.compute(x, m)
    }

    /// The op computing `x · Wᵀ`, or `x · W` when `transposed`.
    fn product(&self, transposed: bool) -> FrozenMatMul {
        FrozenMatMul { weight: self.weight.clone(), transposed, bf16_operands: self.bf16_operands }
    }

    /// The product op, once `len` values are checked to be `m` rows of its input.
    fn product_op(&self, len: usize, m: usize, transposed: bool) -> candle_core::Result<FrozenMatMul> {
        let op = self.product(transposed);
        let k = if transposed { self.out_features } else { self.in_features };
        if len != m * k {
            candle_core::bail!("{}: {len} input values: expected {m} rows of {k}", op.name());
        }
        Ok(op)
    }

    /// The weight as an f32 tensor [out, in] on the layer's device (dequantized for NF4).
    #[cfg(test)]
    pub(crate) fn dequantize(&self) -> Result<Tensor> {
        let context = || "dequantize nf4 weight".to_owned();
        match &self.weight {
            FrozenWeight::Full(w) => w
                .to_dtype(DType::F32)
                .context_with(|| "widen frozen weight".to_owned()),
            FrozenWeight::Nf4(w) => Tensor::from_vec(
                w.dequantize(),
                (self.out_features, self.in_features),
                &self.device,
            )
            .context_with(context),
            #[cfg(feature = "cuda")]
            FrozenWeight::Nf4Cuda(w) => w.dequantize(DType::F32).context_with(context),
        }
    }

    /// The bias, if any (detached, in the device's [`compute_dtype`]).
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// How the weight is stored.
    pub fn quantization(&self) -> Quantization {
        match self.weight {
            FrozenWeight::Full(_) => Quantization::None,
            FrozenWeight::Nf4(_) => Quantization::Nf4,
            #[cfg(feature = "cuda")]
            FrozenWeight::Nf4Cuda(_) => Quantization::Nf4,
        }
    }

    /// Input features (`in`).
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output features (`out`).
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// Bytes held by the weight and bias: 4 per f32 value (2 per bf16 on a GPU); for NF4, the
    /// packed codes plus the double-quantized scales (about 4.127 bits per weight) plus the bias.
    pub fn stored_bytes(&self) -> usize {
        let bytes = |t: &Tensor| t.elem_count() * t.dtype().size_in_bytes();
        let weight = match &self.weight {
            FrozenWeight::Full(w) => bytes(w),
            FrozenWeight::Nf4(w) => w.stored_bytes(),
            #[cfg(feature = "cuda")]
            FrozenWeight::Nf4Cuda(w) => w.stored_bytes(),
        };
        weight + self.bias.as_ref().map_or(0, bytes)
    }

    /// Number of parameters: weight plus bias.
    pub fn num_params(&self) -> usize {
        self.out_features * self.in_features + self.bias.as_ref().map_or(0, Tensor::elem_count)
    }
}

/// An NF4 weight where `device` computes with it: in host memory for the CPU, uploaded once
/// to a CUDA device.
fn nf4_weight(matrix: Nf4Matrix, device: &Device) -> Result<FrozenWeight> {
    match device {
        #[cfg(feature = "cuda")]
        Device::Cuda(_) => {
            let uploaded = crate::cuda::Nf4Device::upload(&matrix, device).context_with(|| {
                format!("upload nf4 weight [{}, {}]", matrix.rows(), matrix.cols())
            })?;
            Ok(FrozenWeight::Nf4Cuda(Arc::new(uploaded)))
        }
        _ => Ok(FrozenWeight::Nf4(Arc::new(matrix))),
    }
}

/// `x · Wᵀ` (or `g · W` when `transposed`) with a frozen `W`, a tile of `W` at a time: NF4
/// tiles are dequantized into a scratch buffer, f32 tiles copied into one (in the dtype of
/// `x`). Only the input gets a gradient. On CUDA, the whole weight of the layer at once (see
/// the module doc).
struct FrozenMatMul {
    weight: FrozenWeight,
    transposed: bool,
    bf16_operands: bool,
}

/// A raw pointer to the output buffer that threads share; each thread writes only its own
/// columns, so no element is written twice.
#[derive(Clone, Copy)]
struct OutPtr<T>(*mut T);

// SAFETY: the pointer is only used to write disjoint column ranges of one buffer that
// outlives the parallel loop (see `compute_tiles`).
unsafe impl<T: Send> Send for OutPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    /// The pointer offset by `count` elements (a method, so closures capture `OutPtr`
    /// whole rather than its non-`Send` field).
    fn add(self, count: usize) -> *mut T {
        self.0.wrapping_add(count)
    }
}

/// Width of a tile: enough tiles for every thread to get several (load balance), each
/// narrow enough for its scratch to stay in cache, a multiple of `align`.
fn tile_width(total: usize, align: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let width = total.div_ceil(4 * threads).next_multiple_of(align);
    width.clamp(align, 256.max(align))
}

/// What [`FrozenMatMul::compute_tiles`] does to each tile of `W` before multiplying it.
type Prepare<'a, T> = &'a (dyn Fn(&mut [T]) + Sync);

impl FrozenMatMul {
    /// `(rows, cols)` of `W`.
    fn weight_dims(&self) -> (usize, usize) {
        match &self.weight {
            FrozenWeight::Full(w) => {
                let dims = w.dims();
                (dims[0], dims[1])
            }
            FrozenWeight::Nf4(w) => (w.rows(), w.cols()),
            #[cfg(feature = "cuda")]
            FrozenWeight::Nf4Cuda(w) => (w.rows(), w.cols()),
        }
    }

    /// `(m, k, n)` of the product: the input [m, k] times `Wᵀ` [cols, rows] (forward) or
    /// `W` [rows, cols] (transposed, the backward pass), checked against the weight.
    fn product_dims(&self, layout: &Layout) -> candle_core::Result<(usize, usize, usize)> {
        let (m, k) = layout.shape().dims2()?;
        let (rows, cols) = self.weight_dims();
        let (expected_k, n) = if self.transposed {
            (rows, cols)
        } else {
            (cols, rows)
        };
        if k != expected_k {
            candle_core::bail!(
                "{}: input [{m}, {k}]: expected {expected_k} columns",
                self.name()
            );
        }
        Ok((m, k, n))
    }

    /// Calls `f` with the weight's values: the f32 weight is read in place, under its
    /// storage's read lock.
    fn with_source<R>(&self, f: impl FnOnce(TileSource<'_>) -> R) -> candle_core::Result<R> {
        match &self.weight {
            FrozenWeight::Nf4(w) => Ok(f(TileSource::Nf4(w))),
            #[cfg(feature = "cuda")]
            FrozenWeight::Nf4Cuda(_) => candle_core::bail!(
                "{}: the weight is on a cuda device, the input on the cpu",
                self.name()
            ),
            FrozenWeight::Full(w) => {
                let guard = w.storage_and_layout();
                match (&*guard.0, guard.1.contiguous_offsets()) {
                    (candle_core::Storage::Cpu(CpuStorage::F32(data)), Some((start, end))) => {
                        Ok(f(TileSource::Full(&data[start..end])))
                    }
                    _ => candle_core::bail!(
                        "{}: expected a contiguous f32 weight on the cpu",
                        self.name()
                    ),
                }
            }
        }
    }

    /// `x` [m, k] row-major → [m, n] row-major, f32: a forward pass of at most
    /// [`gemv::MAX_ROWS`] rows (a generation step) goes through the fused kernel of
    /// [`gemv`]; other products in bf16 operands ([`bf16_product`]) on AMX tiles where the
    /// CPU has them, else the tiles of [`Self::compute_tiles`] on rounded values; the rest
    /// in f32.
    fn compute_f32(&self, x: &[f32], m: usize) -> candle_core::Result<Vec<f32>> {
        let dims = self.weight_dims();
        if !self.transposed && m <= gemv::MAX_ROWS {
            return self.with_source(|source| gemv::matmul_transposed(source, dims, x, m, self.bf16_operands));
        }
        if !self.bf16_operands {
            return self.compute(x, m);
        }
        self.with_source(|source| {
            bf16_product::amx_product(source, dims, x, m, self.transposed).unwrap_or_else(|| {
                self.compute_tiles(source, &bf16_product::rounded(x), m, Some(&bf16_product::round_in_place))
            })
        })
    }

    /// `x` [m, k] row-major → [m, n] row-major, a tile of `W` at a time, in `T`.
    fn compute<T: Float>(&self, x: &[T], m: usize) -> candle_core::Result<Vec<T>> {
        self.with_source(|source| self.compute_tiles(source, x, m, None))
    }

    /// The tiled product: each tile of `W` decoded or copied into scratch and there passed
    /// through `prepare`, or without `prepare` an f32 `W` read in place.
    fn compute_tiles<T: Float>(
        &self,
        source: TileSource<'_>,
        x: &[T],
        m: usize,
        prepare: Option<Prepare<'_, T>>,
    ) -> Vec<T> {
        let (rows, cols) = self.weight_dims();
        let (k, n) = if self.transposed {
            (rows, cols)
        } else {
            (cols, rows)
        };
        let mut out = vec![T::default(); m * n];
        if m == 0 || n == 0 {
            return out;
        }
        // Forward: tiles of weight rows (output columns). Backward: tiles of weight columns
        // (also output columns), aligned to 64 so each row of a tile is whole NF4 blocks
        // when `in` is a multiple of 64.
        let tile = tile_width(n, if self.transposed { 64 } else { 16 });
        let tiles = n.div_ceil(tile);
        // An f32 weight multiplies f32 inputs where it lies, through strides.
        let in_place = match (source, prepare) {
            (TileSource::Full(w), None) => T::in_place(w),
            _ => None,
        };
        let prepare = |tile: &mut [T]| {
            if let Some(prepare) = prepare {
                prepare(tile);
            }
        };
        let dst = OutPtr(out.as_mut_ptr());
        (0..tiles)
            .into_par_iter()
            .for_each_init(Vec::new, |scratch: &mut Vec<T>, t| {
                let first = t * tile;
                let width = tile.min(n - first);
                // The right-hand side [k, width]. Backward: W's columns first.., rows apart
                // by `cols`. Forward: the transpose of W's rows first.., each row contiguous.
                let (rhs, rhs_cs, rhs_rs) = match in_place {
                    Some(w) if self.transposed => (w[first..].as_ptr(), 1, cols as isize),
                    Some(w) => (w[first * cols..].as_ptr(), cols as isize, 1),
                    None => {
                        // A tile in scratch: row-major [k = rows, width] (backward) or
                        // [width, k = cols] (forward, read through its transpose).
                        scratch.resize(width * k, T::default());
                        if self.transposed {
                            source.cols(first, width, cols, scratch);
                            prepare(scratch);
                            (scratch.as_ptr(), 1, width as isize)
                        } else {
                            source.rows(first, cols, scratch);
                            prepare(scratch);
                            (scratch.as_ptr(), k as isize, 1)
                        }
                    }
                };
                // SAFETY: `dst` points at `out` (m × n, row-major), alive until after this loop;
                // this call writes the m × width block at columns first..first + width, which no
                // other tile touches. `x` is m × k row-major; `rhs` with its strides addresses
                // only elements of the weight (rows × cols) or of `scratch` (width × k).
                unsafe {
                    gemm::gemm(
                        m,
                        width,
                        k,
                        dst.add(first),
                        1,
                        n as isize,
                        false,
                        x.as_ptr(),
                        1,
                        k as isize,
                        rhs,
                        rhs_cs,
                        rhs_rs,
                        T::default(),
                        T::from_f32(1.0),
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            });
        out
    }
}

impl CustomOp1 for FrozenMatMul {
    fn name(&self) -> &'static str {
        match (&self.weight, self.transposed) {
            (FrozenWeight::Nf4(_), false) => "nf4-matmul",
            (FrozenWeight::Nf4(_), true) => "nf4-matmul-transposed",
            (FrozenWeight::Full(_), false) => "frozen-matmul",
            (FrozenWeight::Full(_), true) => "frozen-matmul-transposed",
            #[cfg(feature = "cuda")]
            (FrozenWeight::Nf4Cuda(_), false) => "nf4-matmul-cuda",
            #[cfg(feature = "cuda")]
            (FrozenWeight::Nf4Cuda(_), true) => "nf4-matmul-transposed-cuda",
        }
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, _, n) = self.product_dims(layout)?;
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{}: expected a contiguous input", self.name());
        };
        let out = match storage {
            CpuStorage::F32(data) => CpuStorage::F32(self.compute_f32(&data[start..end], m)?),
            CpuStorage::F64(data) => CpuStorage::F64(self.compute(&data[start..end], m)?),
            other => candle_core::bail!(
                "{}: expected f32 or f64 input, found {:?}",
                self.name(),
                other.dtype()
            ),
        };
        Ok((out, Shape::from((m, n))))
    }

    /// `x` [m, k] on a CUDA device, bf16 or f32, contiguous: one cuBLAS GEMM (candle's
    /// matmul, f32 accumulation) with this layer's weight, an NF4 weight dequantized into a
    /// temporary buffer of the input's dtype first. The buffer is freed on return; the free is
    /// ordered on the stream after the GEMM that reads it.
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        storage: &candle_core::CudaStorage,
        layout: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (m, k, n) = self.product_dims(layout)?;
        // Forward: x [m, k = cols] · Wᵀ, W [rows, cols] read through its transpose.
        // Backward: g [m, k = rows] · W as stored.
        let rhs = |weight: &Layout| {
            if self.transposed {
                Ok(weight.clone())
            } else {
                weight.transpose(0, 1)
            }
        };
        let out = match &self.weight {
            FrozenWeight::Nf4Cuda(w) => {
                let dequantized = w.dequantize_storage(storage.dtype())?;
                storage.matmul(
                    &dequantized,
                    (1, m, n, k),
                    layout,
                    &rhs(&Layout::contiguous(self.weight_dims()))?,
                )?
            }
            FrozenWeight::Full(w) => {
                let (guard, weight_layout) = w.storage_and_layout();
                let candle_core::Storage::Cuda(weight) = &*guard else {
                    candle_core::bail!(
                        "{}: the weight is not on the input's cuda device",
                        self.name()
                    );
                };
                if weight.dtype() != storage.dtype() {
                    candle_core::bail!(
                        "{}: input dtype {:?}: expected the weight's, {:?}",
                        self.name(),
                        storage.dtype(),
                        weight.dtype()
                    );
                }
                storage.matmul(weight, (1, m, n, k), layout, &rhs(weight_layout)?)?
            }
            FrozenWeight::Nf4(_) => candle_core::bail!(
                "{}: the weight is in host memory, the input on a cuda device",
                self.name()
            ),
        };
        Ok((out, Shape::from((m, n))))
    }

    /// The gradient of `x · Wᵀ` with respect to `x` is `grad · W`: the transposed op, which
    /// dequantizes again. The weight gets none: it is frozen.
    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = Self { weight: self.weight.clone(), transposed: !self.transposed, bf16_operands: self.bf16_operands };
        Ok(Some(grad_res.contiguous()?.apply_op1(op)?))
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Var;

    use super::*;
    use crate::bf16_product::rounded as bf16;
    use crate::sample::standard_normal;

    fn tensor(values: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(values, shape, &Device::Cpu).expect("test tensor")
    }

    /// `x · Wᵀ + b` in f64 by plain loops: the reference the layer is checked against.
    fn reference_linear(
        x: &[f32],
        w: &[f32],
        b: Option<&[f32]>,
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<f64> {
        let mut y = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| f64::from(x[i * k + p]) * f64::from(w[j * k + p]))
                    .sum();
                y[i * n + j] = dot + b.map_or(0.0, |b| f64::from(b[j]));
            }
        }
        y
    }

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().and_then(|t| t.to_vec1()).expect("values")
    }

    fn assert_close(got: &[f32], want: &[f64], tolerance: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (f64::from(g) - w).abs() <= tolerance * (1.0 + w.abs()),
                "{what}[{i}]: got {g}, want {w}"
            );
        }
    }

    #[test]
    fn nf4_forward_matches_the_matmul_of_the_dequantized_weight() {
        // Shapes with `in` a multiple of 64 and not (blocks then straddle rows), and enough
        // output rows for several tiles.
        for (out, inp, with_bias) in [(96, 128, false), (37, 80, true), (600, 64, true)] {
            let w = standard_normal(out * inp, 1);
            let b = standard_normal(out, 2);
            let x = standard_normal(2 * 3 * inp, 3);
            let layer = FrozenLinear::new(
                tensor(w, &[out, inp]),
                with_bias.then(|| tensor(b.clone(), &[out])),
                Quantization::Nf4,
            )
            .expect("quantize");
            let y = layer
                .forward(&tensor(x.clone(), &[2, 3, inp]))
                .expect("forward");
            assert_eq!(y.dims(), [2, 3, out]);
            let deq = bf16(&flat(&layer.dequantize().expect("dequantize")));
            let want = reference_linear(&bf16(&x), &deq, with_bias.then_some(&b[..]), 6, inp, out);
            let got = flat(&y);
            assert_close(&got, &want, 1e-5, &format!("nf4 [{out}, {inp}]"));
        }
    }

    #[test]
    fn few_and_many_rows_take_different_paths_to_the_same_result() {
        // At most `gemv::MAX_ROWS` rows go through the fused kernel, more through AMX tiles
        // (64 outputs, where the CPU has AMX) or tiles and gemm (45 outputs); all must match
        // the reference, with bias, for NF4, f32 and f32 in bf16 operands (an NF4 model's LM
        // head), the operands rounded where bf16.
        for out in [45, 64] {
            let inp = 192;
            let w = standard_normal(out * inp, 11);
            let b = standard_normal(out, 12);
            for (quantization, bf16_operands) in [(Quantization::Nf4, true), (Quantization::None, false), (Quantization::None, true)] {
                let layer = FrozenLinear::new(
                    tensor(w.clone(), &[out, inp]),
                    Some(tensor(b.clone(), &[out])),
                    quantization,
                )
                .expect("freeze");
                let layer = if bf16_operands { layer.with_bf16_operands() } else { layer };
                let operands = |v: &[f32]| if bf16_operands { bf16(v) } else { v.to_vec() };
                let weight = operands(&flat(&layer.dequantize().expect("weight")));
                for rows in [1, gemv::MAX_ROWS, gemv::MAX_ROWS + 1] {
                    let x = standard_normal(rows * inp, rows as u64);
                    let got = flat(&layer.forward(&tensor(x.clone(), &[rows, inp])).expect("forward"));
                    let want = reference_linear(&operands(&x), &weight, Some(&b), rows, inp, out);
                    let what = format!("{quantization} (bf16 operands: {bf16_operands}) [{out}, {inp}] × {rows} rows");
                    assert_close(&got, &want, 1e-5, &what);
                }
            }
        }
    }

    #[test]
    fn nf4_weight_is_close_to_the_original() {
        let w = standard_normal(64 * 128, 4);
        let layer = FrozenLinear::new(tensor(w.clone(), &[64, 128]), None, Quantization::Nf4)
            .expect("quantize");
        let deq = flat(&layer.dequantize().expect("dequantize"));
        let err = w
            .iter()
            .zip(&deq)
            .map(|(a, b)| f64::from((a - b).abs()))
            .sum::<f64>()
            / w.len() as f64;
        // bitsandbytes' expected mean error for N(0, 1) in NF4, blocks of 64: 0.0728.
        assert!(err < 0.08, "mean abs error {err}");
    }

    #[test]
    fn full_precision_forward_is_the_plain_matmul() {
        let (out, inp) = (24, 40);
        let w = standard_normal(out * inp, 5);
        let b = standard_normal(out, 6);
        let x = standard_normal(4 * inp, 7);
        let layer = FrozenLinear::new(
            tensor(w.clone(), &[out, inp]),
            Some(tensor(b.clone(), &[out])),
            Quantization::None,
        )
        .expect("freeze");
        let got = flat(
            &layer
                .forward(&tensor(x.clone(), &[4, inp]))
                .expect("forward"),
        );
        assert_close(
            &got,
            &reference_linear(&x, &w, Some(&b), 4, inp, out),
            1e-5,
            "f32",
        );
        assert_eq!(layer.num_params(), out * inp + out);
        assert_eq!(layer.stored_bytes(), 4 * (out * inp + out));
    }

    #[test]
    fn nf4_backward_gives_the_input_gradient() {
        // d/dx sum(c ⊙ (x · Wᵀ)) = c · W, with W the dequantized weight.
        let (m, out, inp) = (5, 200, 192);
        let layer = FrozenLinear::new(
            tensor(standard_normal(out * inp, 8), &[out, inp]),
            None,
            Quantization::Nf4,
        )
        .expect("quantize");
        let x = Var::from_vec(standard_normal(m * inp, 9), (m, inp), &Device::Cpu).expect("x");
        let c = standard_normal(m * out, 10);
        let y = layer.forward(&x).expect("forward");
        let loss = y
            .mul(&tensor(c.clone(), &[m, out]))
            .and_then(|t| t.sum_all())
            .expect("loss");
        let grads = loss.backward().expect("backward");
        let got = flat(grads.get(&x).expect("input gradient"));
        let deq = bf16(&flat(&layer.dequantize().expect("dequantize")));
        // c · W is the linear map with weight Wᵀ: reuse the reference on the transpose.
        let wt: Vec<f32> = (0..inp * out)
            .map(|i| deq[(i % out) * inp + i / out])
            .collect();
        assert_close(
            &got,
            &reference_linear(&bf16(&c), &wt, None, m, out, inp),
            1e-5,
            "grad x",
        );
        let direct = layer
            .backward_input(&tensor(c, &[m, out]))
            .expect("backward_input");
        assert_eq!(flat(&direct), got);
    }

    #[test]
    fn full_precision_weight_gets_no_gradient() {
        let layer = FrozenLinear::new(
            tensor(standard_normal(12, 1), &[3, 4]),
            Some(tensor(vec![1.0; 3], &[3])),
            Quantization::None,
        )
        .expect("freeze");
        let x = Var::from_vec(standard_normal(8, 2), (2, 4), &Device::Cpu).expect("x");
        let y = layer.forward(&x).expect("forward");
        let grads = y.sum_all().and_then(|l| l.backward()).expect("backward");
        let weight = layer.dequantize().expect("weight");
        assert!(grads.get(&weight).is_none());
        assert!(grads.get(layer.bias().expect("bias")).is_none());
        assert!(grads.get(&x).is_some());
    }

    #[test]
    fn f64_input_multiplies_the_exact_weights() {
        // f64 (for exact tests) keeps the dequantized weight and the input unrounded.
        let (m, out, inp) = (70, 16, 64);
        let w = standard_normal(out * inp, 3);
        let layer = FrozenLinear::new(tensor(w, &[out, inp]), None, Quantization::Nf4).expect("quantize");
        let x = standard_normal(m * inp, 4);
        let x64 = tensor(x.clone(), &[m, inp]).to_dtype(DType::F64).expect("f64");
        let y = layer.forward(&x64).expect("f64 forward");
        let got: Vec<f64> = y.flatten_all().and_then(|y| y.to_vec1()).expect("values");
        let want = reference_linear(&x, &flat(&layer.dequantize().expect("dequantize")), None, m, inp, out);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "[{i}]: got {g}, want {w}");
        }
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let err = FrozenLinear::new(tensor(vec![0.0; 6], &[6]), None, Quantization::Nf4)
            .expect_err("1-d weight");
        assert_eq!(
            err.to_string(),
            "frozen linear weight: expected shape [out, in], found [6]"
        );
        let err = FrozenLinear::new(
            tensor(vec![0.0; 6], &[2, 3]),
            Some(tensor(vec![0.0; 3], &[3])),
            Quantization::None,
        )
        .expect_err("bias");
        assert_eq!(
            err.to_string(),
            "frozen linear bias: expected shape [2], found [3]"
        );
        let layer = FrozenLinear::new(tensor(vec![0.0; 6], &[2, 3]), None, Quantization::Nf4)
            .expect("layer");
        let err = layer
            .forward(&tensor(vec![0.0; 4], &[2, 2]))
            .expect_err("input");
        assert_eq!(
            err.to_string(),
            "frozen linear input: expected shape [.., 3], found [2, 2]"
        );
    }

    #[test]
    fn quantization_names_are_the_recipe_names() {
        assert_eq!(
            serde_json::to_string(&Quantization::Nf4).expect("json"),
            "\"nf4\""
        );
        assert_eq!(
            serde_json::from_str::<Quantization>("\"none\"").expect("json"),
            Quantization::None
        );
    }
}

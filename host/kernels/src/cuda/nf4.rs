//! NF4 weights in device memory and the kernel that dequantizes them (`nf4.cu`).
//!
//! A weight is quantized on the host ([`Nf4Matrix::quantize`]) and its packed codes,
//! absmax codes, second-level scales and the two code books are uploaded once. The kernel
//! reproduces [`Nf4Matrix::dequantize`] bit for bit in f32, and rounds that to nearest even
//! for bf16; `selftest::nf4_dequant_bit_exact` checks both on the GPU.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{
    CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg,
};
use candle_core::cuda_backend::{CudaDType, WrapErr};
use candle_core::op::BackpropOp;
use candle_core::{CudaDevice, CudaStorage, DType, Device, Storage, Tensor};
use half::bf16;

use crate::double_quant::DYNAMIC_MAP;
use crate::error::{CandleContext, Result};
use crate::nf4::{CODE_BOOK, Nf4Matrix};

/// The kernels' PTX, built from `nf4.cu` by `build.rs`.
const PTX: &str = include_str!(concat!(env!("OUT_DIR"), "/nf4.ptx"));

/// The name the PTX module is cached under on each device.
const MODULE: &str = "rapha_engine_nf4";

/// Elements each thread dequantizes (`nf4.cu`: four packed bytes).
const VALUES_PER_THREAD: usize = 8;

/// Threads per block.
const THREADS: u32 = 256;

/// An element type the kernel writes, with its kernel's name.
pub trait Output: DeviceRepr + CudaDType + Copy + 'static {
    /// The `extern "C"` kernel that writes this type.
    const KERNEL: &'static str;
}

impl Output for f32 {
    const KERNEL: &'static str = "nf4_dequantize_f32";
}

impl Output for bf16 {
    const KERNEL: &'static str = "nf4_dequantize_bf16";
}

/// An [`Nf4Matrix`] in the memory of one CUDA device.
pub struct Nf4Device {
    rows: usize,
    cols: usize,
    packed: CudaSlice<u8>,
    absmax_codes: CudaSlice<u8>,
    absmax_scales: CudaSlice<f32>,
    offset: f32,
    /// The 16 NF4 levels, then the 256 levels of the dynamic map.
    tables: CudaSlice<f32>,
    device: CudaDevice,
    stored_bytes: usize,
}

impl std::fmt::Debug for Nf4Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nf4Device")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Nf4Device {
    /// Copy `matrix` to `device`, which must be a CUDA device.
    pub fn upload(matrix: &Nf4Matrix, device: &Device) -> candle_core::Result<Self> {
        let Device::Cuda(cuda) = device else {
            candle_core::bail!(
                "nf4 upload: expected a cuda device, found {:?}",
                device.location()
            );
        };
        if matrix.rows() * matrix.cols() == 0 {
            candle_core::bail!(
                "nf4 upload: weight [{}, {}] has no elements",
                matrix.rows(),
                matrix.cols()
            );
        }
        let absmax = matrix.absmax();
        let tables: Vec<f32> = CODE_BOOK
            .iter()
            .chain(DYNAMIC_MAP.iter())
            .copied()
            .collect();
        Ok(Self {
            rows: matrix.rows(),
            cols: matrix.cols(),
            packed: cuda.clone_htod(matrix.packed())?,
            absmax_codes: cuda.clone_htod(absmax.codes())?,
            absmax_scales: cuda.clone_htod(absmax.scales())?,
            offset: absmax.offset(),
            tables: cuda.clone_htod(&tables)?,
            device: cuda.clone(),
            stored_bytes: matrix.stored_bytes(),
        })
    }

    /// Rows (output features).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (input features).
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of the packed codes and compressed scales, as [`Nf4Matrix::stored_bytes`]
    /// counts them (the 1 KiB of code books is not counted).
    pub(crate) fn stored_bytes(&self) -> usize {
        self.stored_bytes
    }

    /// Launch the kernel for `T` writing all `rows · cols` elements of `out`.
    fn launch<T: Output>(&self, out: &mut CudaSlice<T>) -> candle_core::Result<()> {
        let n = self.rows * self.cols;
        if out.len() < n {
            candle_core::bail!(
                "nf4 dequantize: output of {} elements for a [{}, {}] weight",
                out.len(),
                self.rows,
                self.cols
            );
        }
        let blocks = n.div_ceil(VALUES_PER_THREAD).div_ceil(THREADS as usize);
        let config = LaunchConfig {
            grid_dim: (
                u32::try_from(blocks).map_err(candle_core::Error::wrap)?,
                1,
                1,
            ),
            block_dim: (THREADS, 1, 1),
            shared_mem_bytes: 0,
        };
        let func = self
            .device
            .get_or_load_custom_func(T::KERNEL, MODULE, PTX)?;
        let count = n as u64;
        let mut builder = func.builder();
        builder.arg(&self.packed);
        builder.arg(&self.absmax_codes);
        builder.arg(&self.absmax_scales);
        builder.arg(&self.offset);
        builder.arg(&self.tables);
        builder.arg(out);
        builder.arg(&count);
        // SAFETY: the arguments match the kernel's signature in order and type; the kernel
        // reads ⌈n / 2⌉ packed bytes, ⌈n / 64⌉ absmax codes, ⌈n / 16384⌉ scales and 272
        // table entries, which `upload` allocated, and writes the first n elements of `out`,
        // checked above to hold them.
        unsafe { builder.launch(config) }.w()?;
        Ok(())
    }

    /// The whole weight, row-major, in `dtype` (bf16 or f32), in a fresh device buffer.
    pub(crate) fn dequantize_storage(&self, dtype: DType) -> candle_core::Result<CudaStorage> {
        fn run<T: Output>(weight: &Nf4Device) -> candle_core::Result<CudaStorage> {
            // SAFETY: the kernel writes every element before anything reads the buffer.
            let mut out = unsafe { weight.device.alloc::<T>(weight.rows * weight.cols)? };
            weight.launch(&mut out)?;
            Ok(CudaStorage::wrap_cuda_slice(out, weight.device.clone()))
        }
        match dtype {
            DType::BF16 => run::<bf16>(self),
            DType::F32 => run::<f32>(self),
            other => candle_core::bail!("nf4 dequantize: expected bf16 or f32, found {other:?}"),
        }
    }

    /// The whole weight as a tensor [rows, cols] in `dtype` (bf16 or f32).
    pub(crate) fn dequantize(&self, dtype: DType) -> candle_core::Result<Tensor> {
        let storage = self.dequantize_storage(dtype)?;
        debug_assert_eq!(storage.dtype(), dtype);
        Ok(Tensor::from_storage(
            Storage::Cuda(storage),
            (self.rows, self.cols),
            BackpropOp::none(),
            false,
        ))
    }

    /// The kernel's output copied to the host, written into a buffer filled with `poison`
    /// first, so an element the kernel skips shows up (for the self-tests).
    pub fn dequantize_over<T: Output>(&self, poison: T) -> candle_core::Result<Vec<T>> {
        let mut out = self
            .device
            .clone_htod(&vec![poison; self.rows * self.cols])?;
        self.launch(&mut out)?;
        self.device.clone_dtoh(&out)
    }
}

/// `matrix` dequantized on the CUDA `device` into a tensor [rows, cols] of `dtype` (bf16 or
/// f32), by the kernel the NF4 linear layer uses; [`Nf4Matrix::dequantize`] is the CPU's.
pub fn dequantize_nf4(matrix: &Nf4Matrix, device: &Device, dtype: DType) -> Result<Tensor> {
    Nf4Device::upload(matrix, device)
        .and_then(|weight| weight.dequantize(dtype))
        .context_with(|| {
            format!(
                "dequantize nf4 [{}, {}] on {:?} to {dtype:?}",
                matrix.rows(),
                matrix.cols(),
                device.location()
            )
        })
}

//! Peak memory of a phase of the run, on the device that holds the model.
//!
//! - CPU: the process's resident high-water mark (`VmHWM`), reset at the start of the phase
//!   through `/proc/self/clear_refs` (Linux ≥ 4.0).
//! - CUDA: candle allocates every tensor with `cuMemAllocAsync` from the device's memory pool
//!   (cudarc does when the device supports pools, as every GPU since Pascal does), and the
//!   driver keeps that pool's high-water mark of bytes in use (`USED_MEM_HIGH`). That is the
//!   exact peak of live tensors, which is what PyTorch's `torch.cuda.max_memory_allocated`
//!   reports for its caching allocator; the pool's reserved high-water mark is the
//!   counterpart of `max_memory_reserved`. Neither counts the CUDA context or cuBLAS's own
//!   workspace, on either side.

use anyhow::Context;
use candle_core::Device;

/// The peak of one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peak {
    /// Bytes in use at the peak.
    pub used_bytes: u64,
    /// Bytes the allocator held at its peak (CUDA pool); `None` on the CPU.
    pub reserved_bytes: Option<u64>,
}

/// Reads the peak memory of the device a model lives on.
#[derive(Debug)]
pub enum Meter {
    /// Resident memory of this process.
    Cpu,
    /// The CUDA device's memory pool.
    #[cfg(feature = "cuda")]
    Cuda(cuda::Pool),
}

impl Meter {
    /// A meter for `device`.
    pub fn new(device: &Device) -> anyhow::Result<Self> {
        match device {
            Device::Cpu => Ok(Self::Cpu),
            #[cfg(feature = "cuda")]
            Device::Cuda(cuda_device) => Ok(Self::Cuda(cuda::Pool::new(cuda_device)?)),
            other => anyhow::bail!("peak memory of {other:?}: expected a CPU or CUDA device"),
        }
    }

    /// What [`Meter::peak`] measures, for the report.
    pub fn measure(&self) -> &'static str {
        match self {
            Self::Cpu => "process resident set high-water mark (VmHWM)",
            #[cfg(feature = "cuda")]
            Self::Cuda(_) => "CUDA memory pool high-water mark (USED_MEM_HIGH / RESERVED_MEM_HIGH)",
        }
    }

    /// Start a new phase: forget the peak so far.
    pub fn reset(&self) -> anyhow::Result<()> {
        match self {
            Self::Cpu => std::fs::write("/proc/self/clear_refs", "5")
                .context("resetting the resident high-water mark through /proc/self/clear_refs"),
            #[cfg(feature = "cuda")]
            Self::Cuda(pool) => pool.reset(),
        }
    }

    /// The peak since the last [`Meter::reset`].
    pub fn peak(&self) -> anyhow::Result<Peak> {
        match self {
            Self::Cpu => Ok(Peak {
                used_bytes: resident_high_water_mark()?,
                reserved_bytes: None,
            }),
            #[cfg(feature = "cuda")]
            Self::Cuda(pool) => pool.peak(),
        }
    }
}

/// `VmHWM` of this process, in bytes.
fn resident_high_water_mark() -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .context("/proc/self/status: no `VmHWM` line")?;
    let kib: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("/proc/self/status: `VmHWM:{line}`: expected a size in kB"))?;
    Ok(kib * 1024)
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::sync::Arc;

    use anyhow::Context;
    use candle_core::cuda_backend::CudaDevice;
    use candle_core::cuda_backend::cudarc::driver::sys::{CUmemPool_attribute, CUmemoryPool};
    use candle_core::cuda_backend::cudarc::driver::{CudaContext, result};

    use super::Peak;

    /// The memory pool `cuMemAllocAsync` draws from on one device.
    #[derive(Debug)]
    pub struct Pool {
        context: Arc<CudaContext>,
        pool: CUmemoryPool,
    }

    impl Pool {
        pub fn new(device: &CudaDevice) -> anyhow::Result<Self> {
            let context = device.cuda_stream().context().clone();
            anyhow::ensure!(
                context.has_async_alloc(),
                "peak GPU memory: this device has no memory pools, so the pool's high-water \
                 mark would not see candle's allocations"
            );
            context
                .bind_to_thread()
                .context("binding the CUDA context")?;
            // SAFETY: the device handle comes from a live context.
            let pool = unsafe { result::device::get_mem_pool(context.cu_device()) }
                .context("cuDeviceGetMemPool")?;
            Ok(Self { context, pool })
        }

        fn attribute(&self, attribute: CUmemPool_attribute) -> anyhow::Result<u64> {
            self.context
                .bind_to_thread()
                .context("binding the CUDA context")?;
            let mut value: u64 = 0;
            // SAFETY: the pool belongs to the bound context, and the high-water-mark
            // attributes are `cuuint64_t`, which `value` is.
            unsafe {
                result::mem_pool::get_attribute(self.pool, attribute, (&raw mut value).cast())
            }
            .with_context(|| format!("cuMemPoolGetAttribute({attribute:?})"))?;
            Ok(value)
        }

        pub fn reset(&self) -> anyhow::Result<()> {
            self.context
                .synchronize()
                .context("synchronizing before the reset")?;
            for attribute in [
                CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH,
                CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH,
            ] {
                // High-water marks can only be reset to zero, which the driver then raises
                // to the current value.
                let mut zero: u64 = 0;
                // SAFETY: as in `attribute`.
                unsafe {
                    result::mem_pool::set_attribute(self.pool, attribute, (&raw mut zero).cast())
                }
                .with_context(|| format!("cuMemPoolSetAttribute({attribute:?})"))?;
            }
            Ok(())
        }

        pub fn peak(&self) -> anyhow::Result<Peak> {
            self.context
                .synchronize()
                .context("synchronizing before reading the peak")?;
            Ok(Peak {
                used_bytes: self.attribute(CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH)?,
                reserved_bytes: Some(
                    self.attribute(CUmemPool_attribute::CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH)?,
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 256 MiB buffer, touched, must lift the resident peak by about its size, and the
    /// reset must bring the mark back under it once the buffer is freed.
    #[test]
    fn cpu_peak_sees_a_large_buffer_and_resets() {
        const SIZE: usize = 256 << 20;
        let meter = Meter::new(&Device::Cpu).expect("cpu meter");
        meter.reset().expect("reset");
        let before = meter.peak().expect("peak").used_bytes;
        let buffer = vec![1u8; SIZE];
        assert_eq!(
            buffer.iter().map(|&b| u64::from(b)).sum::<u64>(),
            SIZE as u64
        );
        let during = meter.peak().expect("peak").used_bytes;
        drop(buffer);
        assert!(
            during >= before + (SIZE as u64) * 9 / 10,
            "before {before}, during {during}"
        );
        meter.reset().expect("reset");
        let after = meter.peak().expect("peak").used_bytes;
        assert!(
            after + (SIZE as u64) / 2 < during,
            "during {during}, after reset {after}"
        );
    }
}

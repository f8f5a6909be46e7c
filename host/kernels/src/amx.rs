//! Intel AMX tiles for bf16 matrix products (Sapphire Rapids and later Xeons).
//!
//! One `tdpbf16ps` multiplies a 16 × 32 bf16 tile by a 32 × 16 one into 16 × 16 f32
//! accumulators: 8192 multiply-adds, about 16 times what an AVX-512 core does in f32 in
//! the same cycles. Rust exposes AMX only as unstable intrinsics, so the few instructions
//! are written as inline assembly here, behind a safe interface that checks every bound.
//!
//! Linux gives a process the (8 KiB) tile state only on request (`arch_prctl`
//! `ARCH_REQ_XCOMP_PERM`); [`Tiles::new`] asks once per process and reports no AMX when
//! the CPU, the kernel or that request says no, so callers fall back to other code.
//!
//! The products are exact bf16 × bf16 products summed in f32 with round-to-nearest-even,
//! denormals flushed to zero: the arithmetic of bitsandbytes' `bnb_4bit_compute_dtype =
//! bfloat16` on a GPU, up to the order of the sums.

#[cfg(target_arch = "x86_64")]
use std::arch::asm;
use std::mem::MaybeUninit;
use std::sync::LazyLock;

/// Rows of every tile.
pub(crate) const TILE_ROWS: usize = 16;
/// The inner-dimension step of one tile product: 32 bf16 values (64 bytes) per row.
pub(crate) const TILE_DEPTH: usize = 32;
/// Rows and columns of the output block [`Tiles::block`] computes: 2 × 2 tiles.
pub(crate) const BLOCK: usize = 2 * TILE_ROWS;

/// Whether this process may use AMX bf16 tiles: decided once.
#[cfg(target_arch = "x86_64")]
static AVAILABLE: LazyLock<bool> = LazyLock::new(|| {
    if std::env::var_os("RAPHA_NO_AMX").is_some() {
        return false;
    }
    // CPUID leaf 7: EDX bit 22 AMX-BF16, bit 24 AMX-TILE.
    let leaf = std::arch::x86_64::__cpuid_count(7, 0);
    if leaf.edx & (1 << 22) == 0 || leaf.edx & (1 << 24) == 0 {
        return false;
    }
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only changes which register state the kernel
    // lets this process use; it touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
});

/// No AMX off x86-64: [`Tiles`] is never built and its assembly never compiled.
#[cfg(not(target_arch = "x86_64"))]
static AVAILABLE: LazyLock<bool> = LazyLock::new(|| false);

/// Whether AMX bf16 tiles can be used here (the CPU has them, the kernel grants them).
pub fn available() -> bool {
    *AVAILABLE
}

/// The tile configuration `ldtilecfg` reads: palette 1, eight tiles of 16 rows × 64 bytes.
#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

const CONFIG: Config = Config {
    palette: 1,
    start_row: 0,
    reserved: [0; 14],
    bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
    rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
};

/// The tile registers configured on this thread; released when dropped. Not `Send`: the
/// configuration belongs to the thread that loaded it.
pub(crate) struct Tiles {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Tiles {
    /// Configures the tiles on this thread, or `None` where AMX bf16 is unavailable.
    pub(crate) fn new() -> Option<Self> {
        if !*AVAILABLE {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVAILABLE checked the CPU's AMX support and the kernel's permission;
        // CONFIG is a valid palette-1 configuration, 64 bytes, 64-aligned.
        unsafe { asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly, preserves_flags)) };
        Some(Self { _not_send: std::marker::PhantomData })
    }

    /// `c` (a 32 × 32 block, rows `c_stride` apart) `+=` `a · b` over `steps · 32` inner
    /// values, in bf16 with f32 sums, or with `accumulate` false `c =` `a · b` (so a fresh,
    /// uninitialised output needs no zeroing first). The operands are laid out as the
    /// tiles are loaded, so that each tile is 1 KiB of consecutive memory:
    /// - `a`: two bands of 16 rows (rows 0–15 from index 0, rows 16–31 from `a_band`),
    ///   each `steps` tiles of 16 rows × 32 bf16 bit patterns, row-major;
    /// - `b`: 32 columns, the inner dimension in pairs (the low half of each `u32` holds the
    ///   even inner index): [steps · 16][32].
    ///
    /// # Panics
    /// When a slice is too short for the block it must hold, or a stride too small.
    ///
    /// # Safety
    /// With `accumulate`, the block's 32 × 32 elements of `c` are initialised.
    #[allow(clippy::too_many_arguments, reason = "one tile block's operands, bands and strides, as the instruction takes them")]
    pub(crate) unsafe fn block(
        &self,
        a: &[u16],
        a_band: usize,
        b: &[u32],
        steps: usize,
        c: &mut [MaybeUninit<f32>],
        c_stride: usize,
        accumulate: bool,
    ) {
        let band = steps * TILE_ROWS * TILE_DEPTH;
        assert!(steps > 0, "an empty inner dimension");
        assert!(a_band >= band && a.len() >= a_band + band, "a: two bands of {steps} tiles");
        assert!(b.len() >= steps * TILE_ROWS * BLOCK, "b: {} pair rows of 32 columns", steps * TILE_ROWS);
        assert!(c_stride >= BLOCK && c.len() >= (BLOCK - 1) * c_stride + BLOCK, "c: 32 rows of 32");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the tiles are configured on this thread (`self`); the asserts above keep
        // every tile load inside `a` (tile `s` of a band: 1 KiB from `s` KiB) and `b` (pair
        // rows `16 · s` on: 2 KiB from `2 · s` KiB), and every tile load and store of `c`
        // inside `c`; `c` is loaded only with `accumulate`, when the caller vouches for it.
        unsafe {
            asm!(
                "test {accumulate}, {accumulate}",
                "jz 3f",
                "tileloadd tmm0, [{c0} + {c_row} * 1]",
                "tileloadd tmm1, [{c0} + {c_row} * 1 + 64]",
                "tileloadd tmm2, [{c1} + {c_row} * 1]",
                "tileloadd tmm3, [{c1} + {c_row} * 1 + 64]",
                "jmp 2f",
                "3:",
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "2:",
                "tileloadd tmm4, [{a0} + {a_row} * 1]",
                "tileloadd tmm5, [{a1} + {a_row} * 1]",
                "tileloadd tmm6, [{b0} + {b_row} * 1]",
                "tileloadd tmm7, [{b0} + {b_row} * 1 + 64]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a0}, 1024",
                "add {a1}, 1024",
                "add {b0}, 2048",
                "dec {steps}",
                "jnz 2b",
                "tilestored [{c0} + {c_row} * 1], tmm0",
                "tilestored [{c0} + {c_row} * 1 + 64], tmm1",
                "tilestored [{c1} + {c_row} * 1], tmm2",
                "tilestored [{c1} + {c_row} * 1 + 64], tmm3",
                a0 = inout(reg) a.as_ptr() => _,
                a1 = inout(reg) a.as_ptr().add(a_band) => _,
                b0 = inout(reg) b.as_ptr() => _,
                steps = inout(reg) steps => _,
                c0 = in(reg) c.as_mut_ptr(),
                c1 = in(reg) c.as_mut_ptr().add(TILE_ROWS * c_stride),
                a_row = in(reg) 2 * TILE_DEPTH,
                b_row = in(reg) 4 * BLOCK,
                c_row = in(reg) 4 * c_stride,
                accumulate = in(reg) usize::from(accumulate),
                options(nostack),
            );
        }
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: releases the tile state this thread configured in `Tiles::new`.
        unsafe { asm!("tilerelease", options(nostack, nomem, preserves_flags)) };
    }
}

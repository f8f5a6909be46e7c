//! The process's allocator, tuned for training's pattern of memory use.

/// Makes glibc's `malloc` keep freed large buffers for reuse instead of handing them back
/// to the kernel.
///
/// A training step allocates and frees the same activation-sized buffers (hundreds of KiB
/// to tens of MiB) every layer of every step. By default glibc serves such sizes with
/// `mmap` and unmaps them on `free`, so each step faults in and zeroes fresh pages: about
/// 8% of the CPU time of a SmolLM2 step went to page faults. With the thresholds at 1 GiB
/// (allocation) and 4 GiB (trim) the heap reuses those buffers; the peak resident memory
/// stays where it was, because the same buffers are alive at the peak either way.
///
/// A process-wide setting, so the caller that owns the process (the CLI, a benchmark)
/// decides; the engine and the kernels never call it. A no-op where the C library is not glibc.
pub fn retain_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes two of malloc's tuning parameters; it is called before
    // the caller's threads allocate in earnest, and glibc serialises it with its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

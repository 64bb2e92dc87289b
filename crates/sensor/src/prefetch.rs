//! Asking bytes into cache before they are needed.
//!
//! Replay and capture stream hundreds of megabytes that no core has seen:
//! the pages of the page cache (or of a capture ring) are scattered in
//! physical memory, so the hardware prefetcher stops at every 4 KiB page
//! boundary, and the first touch of each packet, on the capture thread
//! and again on the worker that decodes and checksums it, was a stall on
//! memory: the hottest instructions in a profile of the shared mix were
//! the first loads from a packet.

/// A cache line.
pub const LINE: usize = 64;

/// Asks the cache line holding `byte` into every level of cache. A hint:
/// it neither reads into the program nor faults.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn line(byte: &u8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 has; a prefetch
    // has no effect on memory or on the program's state, and the address
    // is that of a live byte besides.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn line(_: &u8) {}

/// Asks the first `max` bytes of `bytes` into cache.
#[inline]
pub fn head(bytes: &[u8], max: usize) {
    for b in bytes.iter().take(max).step_by(LINE) {
        line(b);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn touches_nothing_beyond_the_slice() {
        // Empty and short slices, and a limit past the end: no panic, no
        // read outside (the loop only ever takes references into `bytes`).
        super::head(&[], 4096);
        super::head(&[1, 2, 3], 4096);
        let v = vec![0u8; 10_000];
        super::head(&v, 2048);
        super::head(&v[9_999..], 64);
    }
}

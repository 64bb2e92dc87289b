//! The process's allocator: mimalloc (v2), tuned for a sensor's footprint.
//!
//! Every flow allocates its state, reassembly buffers and transaction
//! records on a worker, and the worker frees them when the flow ends; EVE
//! batches are built on a worker and freed on the output thread. With
//! glibc's malloc the many-flow capture spent about a sixth of its CPU in
//! `malloc`/`free`, arena locks and heap consolidation; mimalloc's
//! per-thread pages and lock-free remote frees cut replay CPU there by
//! 15–19 % (README, "How it works").
//!
//! Two settings keep its resident memory where glibc's was:
//! - `no_thp` (a build feature): transparent huge pages stay off for the
//!   process. With them every arena was backed by 2 MiB pages and peak RSS
//!   on the shared mix went from 37 to 88 MiB.
//! - a purge delay of 1 ms instead of 10: freed pages go back to the kernel
//!   almost at once. Replay churns through memory fast enough that ten
//!   milliseconds of freed pages were 5 MiB of peak RSS on the mix; 1 ms
//!   costs about 2 % of its CPU. `MIMALLOC_PURGE_DELAY` in the environment
//!   still wins, as do mimalloc's other `MIMALLOC_*` variables.

use libmimalloc_sys as mi;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v2's `mi_option_e`, which
/// libmimalloc-sys does not name (the unit test pins the index).
const PURGE_DELAY: mi::mi_option_t = 15;
/// Milliseconds a freed page waits before it is given back.
const PURGE_DELAY_MS: std::ffi::c_long = 1;

/// Applies fumidai's allocator settings; call first thing in `main`.
pub fn tune() {
    // SAFETY: `mi_option_set_default` writes one entry of mimalloc's option
    // table (an index it bounds-checks itself); it allocates nothing and
    // any thread may call it at any time.
    unsafe { mi::mi_option_set_default(PURGE_DELAY, PURGE_DELAY_MS) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(option: mi::mi_option_t) -> std::ffi::c_long {
        // SAFETY: reads one entry of the option table, as above.
        unsafe { mi::mi_option_get(option) }
    }

    #[test]
    fn the_purge_delay_index_is_mimallocs() {
        // The test binary never runs `tune`, so mimalloc's own defaults
        // show: 1 for eager_commit_delay (14), 10 for purge_delay (15),
        // 0 for use_numa_nodes (16). A different mimalloc layout moves at
        // least one of them. (Skipped when the environment sets them.)
        let set = |n: &str| std::env::var_os(format!("MIMALLOC_{n}")).is_some();
        if set("PURGE_DELAY") || set("RESET_DELAY") || set("EAGER_COMMIT_DELAY") {
            eprintln!("skipped: MIMALLOC_* options set in the environment");
            return;
        }
        assert_eq!(
            (get(PURGE_DELAY - 1), get(PURGE_DELAY), get(PURGE_DELAY + 1)),
            (1, 10, 0)
        );
    }

    #[test]
    fn the_global_allocator_is_mimalloc() {
        let b = Box::new([7u8; 100]);
        // SAFETY: asks mimalloc whether a live pointer is one of its own.
        let ours = unsafe { mi::mi_is_in_heap_region(b.as_ptr().cast()) };
        assert!(ours);
    }
}

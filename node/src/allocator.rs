//! Settings of mimalloc, the allocator of the `supervm` binary and of every
//! benchmark binary (which call [`configure`] first thing too, so that the
//! baselines they print run under the same settings).
//!
//! A block allocates its read sets, values, receipts and multi-version memory on
//! the workers and frees them when it ends. By default mimalloc gives freed memory
//! back to the OS one second later (`madvise`), and the next block faults it in
//! again: with transparent huge pages each fault zeroes 2 MiB. On 10,000-transfer
//! blocks that was about a thousand page faults per block. Keeping freed memory for
//! ten seconds keeps it for the next blocks under load and still returns it to the
//! OS when the node goes idle.
//!
//! Transparent huge pages are turned off for the process (Linux): mimalloc asks for
//! them on its arenas (`madvise`), and the kernel then zeroes 2 MiB at every first
//! touch of fresh memory. Under `node_load` a profile of the node showed a fifth of
//! all its CPU time in that zeroing, on the threads that take JSON-RPC requests;
//! without huge pages the node committed more transfers per second in 8 of 10
//! interleaved pairs of runs (`docs/benchmarks.md`, thirteenth session).

/// How long freed memory stays with the process before it is returned to the OS.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// `mi_option_purge_delay` in mimalloc 3's option enumeration (`mimalloc.h`);
/// `libmimalloc-sys` names only the options shared with mimalloc 2.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the settings above; call it first thing in `main`. The environment
/// variables `MIMALLOC_PURGE_DELAY` and `MIMALLOC_ALLOW_THP` still win when they are
/// set.
pub fn configure() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        disable_huge_pages();
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mimalloc's option setters are plain stores into its option table; the
    // documentation asks only that they not race with each other, and this runs on
    // the main thread before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) };
}

/// Turns transparent huge pages off for this process (its threads, present and
/// future): the kernel then backs no mapping with them, whatever `madvise` asked. The
/// setting passes to child processes too (`supervm contract build` runs cargo with it),
/// which only changes their speed.
fn disable_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) only sets a flag on the process's
    // memory map; it takes no pointers. It fails only on kernels without it (before
    // 3.15), and then nothing changes.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Whether transparent huge pages are off for this process (`false` off Linux).
#[cfg(test)]
fn huge_pages_disabled() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_GET_THP_DISABLE takes no pointers and returns the flag.
    return unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 1;
    #[cfg(not(target_os = "linux"))]
    false
}

/// The purge delay mimalloc uses now, in milliseconds.
pub fn purge_delay_ms() -> i64 {
    // SAFETY: a plain load from mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the hard-coded option number: option 15 must be the purge delay, whose
    /// mimalloc 3 default is 1,000 ms (no other option defaults to that), and
    /// `configure` must change it.
    #[test]
    fn option_fifteen_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay_ms(), 1000, "mimalloc's option table changed");
        configure();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }

    /// Transparent huge pages can be turned off for the process, and then are. (Not
    /// through `configure`, which the test above must see run first.)
    #[test]
    #[cfg(target_os = "linux")]
    fn huge_pages_turn_off() {
        disable_huge_pages();
        assert!(huge_pages_disabled());
    }
}

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

/// How long freed memory stays with the process before it is returned to the OS.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// `mi_option_purge_delay` in mimalloc 3's option enumeration (`mimalloc.h`);
/// `libmimalloc-sys` names only the options shared with mimalloc 2.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies the settings above; call it first thing in `main`. The environment
/// variable `MIMALLOC_PURGE_DELAY` still wins when it is set.
pub fn configure() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mimalloc's option setters are plain stores into its option table; the
    // documentation asks only that they not race with each other, and this runs on
    // the main thread before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) };
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
}

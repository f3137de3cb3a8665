//! The running contract's key-value storage: raw byte access, and the typed [`Item`] and
//! [`Map`].
//!
//! Values of [`Item`] and [`Map`] are stored in the [codec](crate::codec) encoding; one that
//! does not decode as the expected type reverts the call with [`BAD_STORAGE`].
//!
//! Keys are at most [`MAX_KEY_LEN`](supervm_abi::limits::MAX_KEY_LEN) bytes, values at most
//! [`MAX_VALUE_LEN`](supervm_abi::limits::MAX_VALUE_LEN): a longer one traps the call
//! (a `Map` key is its prefix followed by the encoded key, so bound keys of variable
//! length, such as a `String` from the caller, before using them). Give every `Item` and
//! `Map` its own key or prefix, and make no prefix a prefix of another one (`b"bal"` and
//! `b"ba"` overlap: entries of one can be read as entries of the other, and
//! [`Map::keys`] of the shorter prefix meets the longer one's entries and reverts with
//! [`BAD_STORAGE`]). Prefixes are not length-prefixed, so nothing checks this for you.

use alloc::vec::Vec;
use core::marker::PhantomData;

use supervm_abi::{Decode, Encode};

use crate::env::{len, ptr, revert};
use crate::{BAD_STORAGE, sys};

/// Bytes the first read of a value may write: a longer value is read (and charged)
/// again into a vector of its exact length.
const FIRST_READ: usize = 4096;

/// Bytes the heap hands out without growing memory.
#[cfg(target_arch = "wasm32")]
fn heap_room() -> usize {
    crate::rt::room()
}

/// (off wasm there is no bump allocator: any size will do)
#[cfg(not(target_arch = "wasm32"))]
fn heap_room() -> usize {
    usize::MAX
}

/// Runs a host read that writes at most `cap` bytes to `out` and returns the full length
/// or -1. The host writes straight into the vector returned: no copy in wasm (a copy
/// costs about 13 gas per byte in instructions, several times the host's per-byte
/// charge). The first try may write up to `most` bytes, but never more than the heap
/// holds without growing memory (a page costs 4,000 gas: only a value that needs it
/// grows memory); a longer value is read again into room of its exact length. The bump
/// allocator shrinks and grows its latest allocation in place, so the first try's room
/// costs nothing beyond the value (an absent key: one byte). One copy of this code, not
/// inlined into every read: raw allocation keeps `Vec`'s growth machinery out of the
/// contract.
#[inline(never)]
fn read_with(f: &dyn Fn(i32, i32) -> i64, most: usize) -> Option<Vec<u8>> {
    use alloc::alloc::{alloc, dealloc, handle_alloc_error, realloc};
    use core::alloc::Layout;
    let cap = most.min(heap_room());
    // SAFETY: layouts of alignment 1 and non-zero size; the host writes at most `cap`
    // bytes at `out` (none when `cap` is 0); `realloc` keeps the allocation's first bytes
    // and gives `n` bytes at alignment 1, the layout a `Vec<u8>` of capacity `n` frees
    // with.
    unsafe {
        let bytes = |n: usize| Layout::from_size_align_unchecked(n, 1);
        let first = (cap > 0).then(|| bytes(cap));
        let p = match first {
            Some(l) => {
                let p = alloc(l);
                if p.is_null() {
                    handle_alloc_error(l);
                }
                p
            }
            None => core::ptr::null_mut(),
        };
        let n = f(ptr(p), len(cap));
        if n <= 0 {
            if let Some(l) = first {
                // (shrunk first: the bump allocator frees nothing, but gives back the
                // room of its latest allocation when it shrinks)
                let q = realloc(p, l, 1);
                if q.is_null() {
                    handle_alloc_error(bytes(1));
                }
                dealloc(q, bytes(1));
            }
            return (n == 0).then(Vec::new);
        }
        let n = n as usize;
        let v = match first {
            Some(l) => realloc(p, l, n),
            None => alloc(bytes(n)),
        };
        if v.is_null() {
            handle_alloc_error(bytes(n));
        }
        if n > cap && f(ptr(v), len(n)) as usize != n {
            // The value cannot change between the two reads.
            revert(BAD_STORAGE, &[]);
        }
        Some(Vec::from_raw_parts(v, n, n))
    }
}

/// The value stored under `key`, if any.
pub fn get(key: &[u8]) -> Option<Vec<u8>> {
    // SAFETY: `key` is a valid slice; `out` has room for `cap` bytes.
    read_with(
        &|out, cap| unsafe { sys::storage_get(ptr(key.as_ptr()), len(key.len()), out, cap) },
        FIRST_READ,
    )
}

/// Stores `value` under `key`.
#[inline]
pub fn set(key: &[u8], value: &[u8]) {
    // SAFETY: valid slices.
    unsafe {
        sys::storage_set(
            ptr(key.as_ptr()),
            len(key.len()),
            ptr(value.as_ptr()),
            len(value.len()),
        )
    }
}

/// Removes `key` (no effect when it is absent).
#[inline]
pub fn remove(key: &[u8]) {
    // SAFETY: a valid slice.
    unsafe { sys::storage_remove(ptr(key.as_ptr()), len(key.len())) }
}

/// Whether `key` is present.
#[inline]
pub fn has(key: &[u8]) -> bool {
    // SAFETY: a valid slice.
    unsafe { sys::storage_has(ptr(key.as_ptr()), len(key.len())) == 1 }
}

/// Adds `amount` to the `u128` stored under `key` (absent counts as 0), or subtracts it
/// when `negative`, and returns true; returns false and changes nothing when the result
/// would leave `0..=u128::MAX`. The contract never sees the value, so transactions that
/// only add to and subtract from the same key run in parallel (the scheduler checks that
/// each one's outcome stays the same instead of the value). Traps when the stored value
/// is not 16 bytes.
#[inline]
#[must_use]
pub fn add_u128(key: &[u8], amount: u128, negative: bool) -> bool {
    let amount = amount.to_le_bytes();
    // SAFETY: valid slices; `amount` is 16 bytes.
    unsafe {
        sys::storage_add(
            ptr(key.as_ptr()),
            len(key.len()),
            ptr(amount.as_ptr()),
            negative as i32,
        ) == 1
    }
}

/// The smallest key that starts with `prefix` and is greater than `after` (or, with `None`,
/// the smallest key that starts with `prefix`).
pub fn next_key(prefix: &[u8], after: Option<&[u8]>) -> Option<Vec<u8>> {
    let (ap, al) = match after {
        Some(a) => (ptr(a.as_ptr()), len(a.len())),
        None => (0, -1),
    };
    // SAFETY: valid slices; `out` has room for `cap` bytes.
    // (every key fits in `MAX_KEY_LEN` bytes: one read, heap room permitting)
    read_with(
        &|out, cap| unsafe {
            sys::storage_next(ptr(prefix.as_ptr()), len(prefix.len()), ap, al, out, cap)
        },
        supervm_abi::limits::MAX_KEY_LEN as usize,
    )
}

/// Decodes a stored value, reverting with [`BAD_STORAGE`] when it does not decode.
fn decode<T: Decode>(bytes: &[u8]) -> T {
    match supervm_abi::codec::decode_all(bytes) {
        Ok(v) => v,
        Err(_) => revert(BAD_STORAGE, &[]),
    }
}

/// One typed value at a fixed key.
///
/// ```ignore
/// const TOTAL: Item<u128> = Item::new(b"total");
/// TOTAL.set(&(TOTAL.get_or(0) + 1));
/// ```
pub struct Item<T> {
    key: &'static [u8],
    _t: PhantomData<fn() -> T>,
}

impl<T> Item<T> {
    /// The item stored at `key`.
    pub const fn new(key: &'static [u8]) -> Self {
        Item {
            key,
            _t: PhantomData,
        }
    }

    /// Its storage key.
    pub const fn key(&self) -> &'static [u8] {
        self.key
    }

    /// Removes it.
    #[inline]
    pub fn remove(&self) {
        remove(self.key)
    }

    /// Whether it is present.
    #[inline]
    pub fn exists(&self) -> bool {
        has(self.key)
    }
}

impl<T: Encode + Decode> Item<T> {
    /// Its value, if set.
    #[inline]
    pub fn get(&self) -> Option<T> {
        get(self.key).map(|b| decode(&b))
    }

    /// Its value, or `default` when not set.
    #[inline]
    pub fn get_or(&self, default: T) -> T {
        self.get().unwrap_or(default)
    }

    /// Sets its value.
    #[inline]
    pub fn set(&self, value: &T) {
        set(self.key, &value.encode())
    }
}

impl Item<u128> {
    /// Adds `amount` ([`add_u128`]): false, and nothing changed, on overflow.
    #[inline]
    #[must_use]
    pub fn add(&self, amount: u128) -> bool {
        add_u128(self.key, amount, false)
    }

    /// Subtracts `amount` ([`add_u128`]): false, and nothing changed, when the value is
    /// smaller.
    #[inline]
    #[must_use]
    pub fn sub(&self, amount: u128) -> bool {
        add_u128(self.key, amount, true)
    }
}

/// Typed values under keys `prefix ++ encode(k)`.
///
/// ```ignore
/// const BAL: Map<Address, u128> = Map::new(b"bal");
/// let b = BAL.get_or(&owner, 0);
/// ```
pub struct Map<K, V> {
    prefix: &'static [u8],
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Map<K, V> {
    /// The map whose keys start with `prefix`.
    pub const fn new(prefix: &'static [u8]) -> Self {
        Map {
            prefix,
            _kv: PhantomData,
        }
    }

    /// Its key prefix.
    pub const fn prefix(&self) -> &'static [u8] {
        self.prefix
    }
}

impl<K: Encode, V> Map<K, V> {
    /// The storage key of entry `k`.
    pub fn key(&self, k: &K) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + 32);
        key.extend_from_slice(self.prefix);
        k.encode_to(&mut key);
        key
    }

    /// Removes entry `k`.
    #[inline]
    pub fn remove(&self, k: &K) {
        remove(&self.key(k))
    }

    /// Whether entry `k` is present.
    #[inline]
    pub fn has(&self, k: &K) -> bool {
        has(&self.key(k))
    }
}

impl<K: Encode, V: Encode + Decode> Map<K, V> {
    /// The value of entry `k`, if present.
    #[inline]
    pub fn get(&self, k: &K) -> Option<V> {
        get(&self.key(k)).map(|b| decode(&b))
    }

    /// The value of entry `k`, or `default` when absent.
    #[inline]
    pub fn get_or(&self, k: &K, default: V) -> V {
        self.get(k).unwrap_or(default)
    }

    /// Sets entry `k` to `value`.
    #[inline]
    pub fn set(&self, k: &K, value: &V) {
        set(&self.key(k), &value.encode())
    }
}

impl<K: Encode> Map<K, u128> {
    /// Adds `amount` to entry `k` (absent: 0) ([`add_u128`]): false, and nothing
    /// changed, on overflow.
    #[inline]
    #[must_use]
    pub fn add(&self, k: &K, amount: u128) -> bool {
        add_u128(&self.key(k), amount, false)
    }

    /// Subtracts `amount` from entry `k` ([`add_u128`]): false, and nothing changed,
    /// when the entry is smaller.
    #[inline]
    #[must_use]
    pub fn sub(&self, k: &K, amount: u128) -> bool {
        add_u128(&self.key(k), amount, true)
    }
}

impl<K: Decode, V> Map<K, V> {
    /// The keys present, in the byte order of their encodings (for unsigned integers that is
    /// not numeric order: they are little-endian). One host call per key.
    pub fn keys(&self) -> Keys<K> {
        Keys {
            prefix: self.prefix,
            last: None,
            done: false,
            _k: PhantomData,
        }
    }
}

/// Iterator over the keys of a [`Map`], from [`Map::keys`].
pub struct Keys<K> {
    prefix: &'static [u8],
    last: Option<Vec<u8>>,
    done: bool,
    _k: PhantomData<fn() -> K>,
}

impl<K: Decode> Iterator for Keys<K> {
    type Item = K;

    fn next(&mut self) -> Option<K> {
        if self.done {
            return None;
        }
        match next_key(self.prefix, self.last.as_deref()) {
            Some(key) => {
                let k = decode(&key[self.prefix.len()..]);
                self.last = Some(key);
                Some(k)
            }
            None => {
                self.done = true;
                None
            }
        }
    }
}

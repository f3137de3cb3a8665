//! Safe wrappers around the host functions: the call's context, its input and output,
//! hashing, events and calls to other contracts.

use alloc::vec::Vec;

use supervm_abi::{Address, Decode, Encode, STATUS_OK};

use crate::{BAD_RESULT, sys};

/// A pointer as the `i32` the host expects (wasm32 pointers are 32 bits).
#[inline(always)]
pub(crate) fn ptr<T: ?Sized>(p: *const T) -> i32 {
    p as *const u8 as usize as i32
}

/// A length as the `i32` the host expects.
#[inline(always)]
pub(crate) fn len(n: usize) -> i32 {
    n as i32
}

/// Never returns: the host ended the call (wasm) or the stub panicked (host).
#[inline(always)]
fn halt() -> ! {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::unreachable()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        unreachable!("the host function returned")
    }
}

#[inline(always)]
fn address(f: impl FnOnce(i32)) -> Address {
    let mut a = [0u8; 32];
    f(ptr(a.as_mut_ptr()));
    Address(a)
}

/// The immediate caller: the account that signed the transaction, or the calling contract.
#[inline]
pub fn caller() -> Address {
    // SAFETY: `p` addresses 32 writable bytes.
    address(|p| unsafe { sys::caller(p) })
}

/// The account that signed the transaction.
#[inline]
pub fn origin() -> Address {
    // SAFETY: `p` addresses 32 writable bytes.
    address(|p| unsafe { sys::origin(p) })
}

/// The address of the running contract.
#[inline]
pub fn self_address() -> Address {
    // SAFETY: `p` addresses 32 writable bytes.
    address(|p| unsafe { sys::self_address(p) })
}

/// The height of the block being executed.
#[inline]
pub fn block_height() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::block_height() as u64 }
}

/// The block's timestamp, in milliseconds since the Unix epoch (set by the block producer).
#[inline]
pub fn block_timestamp() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::block_timestamp() as u64 }
}

/// The chain id.
#[inline]
pub fn chain_id() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::chain_id() as u64 }
}

/// The gas left to the running call.
#[inline]
pub fn gas_left() -> u64 {
    // SAFETY: no pointers.
    unsafe { sys::gas_left() as u64 }
}

/// The call's input: the encoded arguments (entry points made by `#[contract]` decode it).
pub fn input() -> Vec<u8> {
    // SAFETY: the buffer has room for `n` bytes, all written by `input_read`.
    unsafe {
        let n = sys::input_len() as usize;
        let mut v = Vec::with_capacity(n);
        if n > 0 {
            sys::input_read(ptr(v.as_mut_ptr()));
            v.set_len(n);
        }
        v
    }
}

/// Sets the call's return data (a later call replaces it).
#[inline]
pub fn set_return(data: &[u8]) {
    // SAFETY: a valid slice.
    unsafe { sys::return_data(ptr(data.as_ptr()), len(data.len())) }
}

/// Ends the call as reverted with `code` and `data`: all its writes and events are discarded.
pub fn revert(code: u32, data: &[u8]) -> ! {
    // SAFETY: a valid slice.
    unsafe { sys::revert(code as i32, ptr(data.as_ptr()), len(data.len())) };
    halt()
}

/// The blake3 hash of `data`.
#[inline]
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: a valid slice and 32 writable bytes.
    unsafe { sys::blake3(ptr(data.as_ptr()), len(data.len()), ptr(out.as_mut_ptr())) };
    out
}

/// The SHA-256 hash of `data`.
#[inline]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: a valid slice and 32 writable bytes.
    unsafe { sys::sha256(ptr(data.as_ptr()), len(data.len()), ptr(out.as_mut_ptr())) };
    out
}

/// Whether `sig` is a valid ed25519 signature of `msg` by `pk` (strict verification).
#[inline]
pub fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    // SAFETY: valid buffers of the sizes the host reads.
    unsafe {
        sys::ed25519_verify(
            ptr(pk.as_ptr()),
            ptr(msg.as_ptr()),
            len(msg.len()),
            ptr(sig.as_ptr()),
        ) == 1
    }
}

/// Emits an event with at most 4 topics of at most 64 bytes each, and at most 8 KiB of data.
/// Usually called through [`Event::emit`](crate::Event::emit).
pub fn emit_event(topics: &[&[u8]], data: &[u8]) {
    // `[&[u8]]` encodes exactly like `Vec<Vec<u8>>`.
    let t = topics.encode();
    // SAFETY: valid slices.
    unsafe {
        sys::emit_event(
            ptr(t.as_ptr()),
            len(t.len()),
            ptr(data.as_ptr()),
            len(data.len()),
        )
    }
}

/// Records a debug message in the receipt's log.
#[inline]
pub fn log(msg: &str) {
    // SAFETY: a valid slice.
    unsafe { sys::debug_log(ptr(msg.as_ptr()), len(msg.len())) }
}

/// Replaces the running contract's code by the uploaded code with hash `code_hash`, for
/// later calls.
#[inline]
pub fn upgrade(code_hash: &[u8; 32]) {
    // SAFETY: 32 readable bytes.
    unsafe { sys::upgrade(ptr(code_hash.as_ptr())) }
}

/// The data returned by the last `call` / `try_call`.
fn returned() -> Vec<u8> {
    // SAFETY: the buffer has room for `n` bytes, all written by `returned_read`.
    unsafe {
        let n = sys::returned_len() as usize;
        let mut v = Vec::with_capacity(n);
        if n > 0 {
            sys::returned_read(ptr(v.as_mut_ptr()));
            v.set_len(n);
        }
        v
    }
}

/// Calls `func` of contract `addr` with `args` (the tuple of its parameters), with all the
/// gas left, and returns its return data. Atomic: if the callee fails in any way, this call
/// fails the same way (use [`try_call`] to handle failures).
pub fn call(addr: &Address, func: &str, args: &impl Encode) -> Vec<u8> {
    call_with_gas(addr, func, args, 0)
}

/// [`call`] with at most `gas` for the callee (0: all the gas left). A callee that runs
/// out of its share fails this call like any other failure.
pub fn call_with_gas(addr: &Address, func: &str, args: &impl Encode, gas: u64) -> Vec<u8> {
    call_raw(addr, func, &args.encode(), gas)
}

/// [`call_with_gas`] with `input` as the callee's call input as it is, not encoded again:
/// a proxy forwards [`input()`] this way (through [`call`], a `Vec<u8>` argument would
/// gain a length prefix and the callee would revert with `BAD_INPUT`).
pub fn call_raw(addr: &Address, func: &str, input: &[u8], gas: u64) -> Vec<u8> {
    // SAFETY: valid buffers.
    unsafe {
        sys::call(
            ptr(addr.0.as_ptr()),
            ptr(func.as_ptr()),
            len(func.len()),
            ptr(input.as_ptr()),
            len(input.len()),
            gas.min(i64::MAX as u64) as i64,
        );
    }
    returned()
}

/// Like [`call`], and decodes the return data as `R`; reverts with [`BAD_RESULT`] when it
/// does not decode.
pub fn call_typed<R: Decode>(addr: &Address, func: &str, args: &impl Encode) -> R {
    match supervm_abi::codec::decode_all(&call(addr, func, args)) {
        Ok(r) => r,
        Err(_) => revert(BAD_RESULT, &[]),
    }
}

/// How a [`try_call`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailure {
    /// [`STATUS_REVERT`](crate::STATUS_REVERT), [`STATUS_OUT_OF_GAS`](crate::STATUS_OUT_OF_GAS)
    /// or [`STATUS_TRAP`](crate::STATUS_TRAP) (a trap, or a call the VM refused: no
    /// contract at the address, no such function, reentrancy, the call depth limit); see
    /// [`CallFailure::reverted`], [`CallFailure::ran_out_of_gas`], [`CallFailure::trapped`].
    pub status: u32,
    /// The revert code (0 unless it reverted): the callee's, or that of a contract
    /// beneath it in a chain of `call`s, whose failure failed the callee (which one is
    /// not reported).
    pub code: u32,
    /// The callee's revert data.
    pub data: Vec<u8>,
}

impl CallFailure {
    /// The revert code if the callee reverted (its own, or that of a contract it
    /// `call`ed whose failure failed it), else `None`.
    pub fn reverted(&self) -> Option<u32> {
        (self.status == crate::STATUS_REVERT).then_some(self.code)
    }

    /// Whether the callee ran out of its gas.
    pub fn ran_out_of_gas(&self) -> bool {
        self.status == crate::STATUS_OUT_OF_GAS
    }

    /// Whether the callee trapped, or the VM refused the call (see [`CallFailure::status`]).
    pub fn trapped(&self) -> bool {
        self.status == crate::STATUS_TRAP
    }
}

/// Calls `func` of contract `addr` like [`call`], but a failure of the callee rolls back
/// only the callee's writes and events and is returned as `Err`. `Ok` holds the return data.
pub fn try_call(addr: &Address, func: &str, args: &impl Encode) -> Result<Vec<u8>, CallFailure> {
    try_call_with_gas(addr, func, args, 0)
}

/// [`try_call`] with at most `gas` for the callee (0: all the gas left; the callee of a
/// `try_call` gets at most all but 1/64 of it, so the caller keeps some): a callee that
/// runs out of its share comes back as `Err` with [`STATUS_OUT_OF_GAS`](crate::STATUS_OUT_OF_GAS),
/// having used only that share, so a contract calling code it does not trust keeps the
/// rest.
pub fn try_call_with_gas(
    addr: &Address,
    func: &str,
    args: &impl Encode,
    gas: u64,
) -> Result<Vec<u8>, CallFailure> {
    try_call_raw(addr, func, &args.encode(), gas)
}

/// [`try_call_with_gas`] with `input` as the callee's call input as it is (see
/// [`call_raw`]).
pub fn try_call_raw(
    addr: &Address,
    func: &str,
    input: &[u8],
    gas: u64,
) -> Result<Vec<u8>, CallFailure> {
    // SAFETY: valid buffers.
    let r = unsafe {
        sys::try_call(
            ptr(addr.0.as_ptr()),
            ptr(func.as_ptr()),
            len(func.len()),
            ptr(input.as_ptr()),
            len(input.len()),
            gas.min(i64::MAX as u64) as i64,
        )
    } as u64;
    let status = r as u32;
    let data = returned();
    if status == STATUS_OK {
        Ok(data)
    } else {
        Err(CallFailure {
            status,
            code: (r >> 32) as u32,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::CallFailure;

    /// Each failure kind answers exactly its own question.
    #[test]
    fn a_call_failure_says_how_the_call_failed() {
        let f = |status, code| CallFailure {
            status,
            code,
            data: Default::default(),
        };
        let revert = f(crate::STATUS_REVERT, 7);
        assert_eq!(revert.reverted(), Some(7));
        assert!(!revert.ran_out_of_gas() && !revert.trapped());
        let gas = f(crate::STATUS_OUT_OF_GAS, 0);
        assert!(gas.ran_out_of_gas() && !gas.trapped() && gas.reverted().is_none());
        let trap = f(crate::STATUS_TRAP, 0);
        assert!(trap.trapped() && !trap.ran_out_of_gas() && trap.reverted().is_none());
    }
}

//! The one table of host functions.
//!
//! Every host function the VM offers a contract is declared here, once. The
//! table is a macro, [`for_each_host_fn!`](crate::for_each_host_fn), that hands
//! the whole list to another macro, so that:
//!
//! * the VM host (`supervm-vm`) generates its wasmtime linker registrations,
//! * the SDK (`supervm-sdk`) generates its `extern` imports,
//! * [`HOST_FNS`] lists every function with its signature, cost and docs, from
//!   which `docs/abi.md` is generated (and checked by a test).
//!
//! Conventions: every pointer and length is an `i32` into the guest's linear
//! memory, every address is 32 bytes, and every buffer is bounds-checked by the
//! host. Costs are in gas; `per_byte` multiplies the bytes named in the doc.

/// Calls `$m!` with the full table of host functions.
///
/// Each entry has the form
/// `/// docs` `fn name(param: i32, ...) -> ret; cost(base = N, per_byte = M);`.
#[macro_export]
macro_rules! for_each_host_fn {
    ($m:ident) => {
        $m! {
            /// Reads the value stored under a key of the running contract. Writes at most
            /// `out_cap` bytes of it to `out_ptr` and returns its full length, or -1 when the key
            /// is absent. A caller whose buffer was too small calls again with a bigger one.
            /// Per byte: key and value bytes.
            fn storage_get(key_ptr: i32, key_len: i32, out_ptr: i32, out_cap: i32) -> i64;
            cost(base = 400, per_byte = 2);

            /// Stores `value` under `key` for the running contract. Per byte: key and value bytes.
            fn storage_set(key_ptr: i32, key_len: i32, val_ptr: i32, val_len: i32) -> ();
            cost(base = 800, per_byte = 10);

            /// Removes a key of the running contract (no effect when it is absent).
            /// Per byte: key bytes.
            fn storage_remove(key_ptr: i32, key_len: i32) -> ();
            cost(base = 600, per_byte = 2);

            /// Returns 1 when the key is present, 0 when it is absent. Per byte: key bytes
            /// and, when present, value bytes (the value is read whole, as by `storage_get`).
            fn storage_has(key_ptr: i32, key_len: i32) -> i32;
            cost(base = 300, per_byte = 2);

            /// Adds (`negative` = 0) or subtracts (`negative` = 1) the `u128` at `amount_ptr`
            /// (16 bytes, little-endian) to the `u128` stored under a key of the running
            /// contract (16 bytes, little-endian; an absent key counts as 0). Returns 1 and
            /// stores the result when it stays within `0..=u128::MAX`; returns 0 and changes
            /// nothing when it would not. Traps when the stored value is not 16 bytes. The
            /// contract never sees the value, so transactions that only add to and subtract
            /// from the same key (balances, supplies, counters) run in parallel as long as
            /// each outcome stays the same. Per byte: key bytes, and before a trap the stored
            /// value's bytes (it was read whole).
            fn storage_add(key_ptr: i32, key_len: i32, amount_ptr: i32, negative: i32) -> i32;
            cost(base = 1400, per_byte = 12);

            /// Prefix iteration, one key per call and stateless: finds the smallest key of the
            /// running contract that starts with `prefix` and is strictly greater than `after`
            /// (`after_len` = -1 means "from the start of the prefix"), writes at most `out_cap`
            /// bytes of it to `out_ptr` and returns its full length, or -1 when there is none.
            /// Per byte: prefix, after and returned key bytes. Each key the search steps over
            /// because this transaction deleted it costs the base again.
            fn storage_next(prefix_ptr: i32, prefix_len: i32, after_ptr: i32, after_len: i32, out_ptr: i32, out_cap: i32) -> i64;
            cost(base = 600, per_byte = 2);

            /// Returns the length of the call's input (the encoded arguments).
            fn input_len() -> i32;
            cost(base = 20, per_byte = 0);

            /// Copies the whole call input to `dst_ptr`. Per byte: input bytes.
            fn input_read(dst_ptr: i32) -> ();
            cost(base = 40, per_byte = 1);

            /// Sets the call's return data (a later call replaces it). Per byte: data bytes.
            fn return_data(ptr: i32, len: i32) -> ();
            cost(base = 40, per_byte = 1);

            /// Ends the call as reverted, with a contract error code and data. All writes of
            /// the call are discarded; gas is still charged. Never returns. Per byte: data bytes.
            fn revert(code: i32, data_ptr: i32, data_len: i32) -> ();
            cost(base = 40, per_byte = 1);

            /// Writes the 32-byte address of the immediate caller (an account or a contract).
            fn caller(dst_ptr: i32) -> ();
            cost(base = 20, per_byte = 0);

            /// Writes the 32-byte address of the account that signed the transaction.
            fn origin(dst_ptr: i32) -> ();
            cost(base = 20, per_byte = 0);

            /// Writes the 32-byte address of the running contract.
            fn self_address(dst_ptr: i32) -> ();
            cost(base = 20, per_byte = 0);

            /// Returns the height of the block being executed.
            fn block_height() -> i64;
            cost(base = 20, per_byte = 0);

            /// Returns the block's timestamp in milliseconds since the Unix epoch, as set by
            /// the block producer (never the wall clock of the executing machine).
            fn block_timestamp() -> i64;
            cost(base = 20, per_byte = 0);

            /// Returns the chain id.
            fn chain_id() -> i64;
            cost(base = 20, per_byte = 0);

            /// Returns the gas left to the running call.
            fn gas_left() -> i64;
            cost(base = 20, per_byte = 0);

            /// Emits an event. `topics` is a codec-encoded `Vec<Vec<u8>>` of at most 4 topics of
            /// at most 64 bytes each; `data` at most 8 KiB. Per byte: topic and data bytes.
            fn emit_event(topics_ptr: i32, topics_len: i32, data_ptr: i32, data_len: i32) -> ();
            cost(base = 1000, per_byte = 8);

            /// Writes the 32-byte blake3 hash of the input. Per byte: input bytes.
            fn blake3(ptr: i32, len: i32, out_ptr: i32) -> ();
            cost(base = 200, per_byte = 2);

            /// Writes the 32-byte SHA-256 hash of the input. Per byte: input bytes.
            fn sha256(ptr: i32, len: i32, out_ptr: i32) -> ();
            cost(base = 300, per_byte = 6);

            /// Verifies an ed25519 signature (32-byte key, 64-byte signature, strict rules).
            /// Returns 1 when valid, 0 otherwise. Per byte: message bytes.
            fn ed25519_verify(pk_ptr: i32, msg_ptr: i32, msg_len: i32, sig_ptr: i32) -> i32;
            cost(base = 50000, per_byte = 2);

            /// Calls function `fn_name` of contract `addr` with encoded arguments, synchronously
            /// and atomically: if the callee fails in any way, the caller fails the same way.
            /// `gas` caps what the callee may spend (0 = all that is left; negative traps). Returns 0; the callee's
            /// return data is then read with `returned_len` / `returned_read`.
            /// Per byte: function name and argument bytes.
            fn call(addr_ptr: i32, fn_ptr: i32, fn_len: i32, args_ptr: i32, args_len: i32, gas: i64) -> i32;
            cost(base = 5000, per_byte = 2);

            /// Like `call`, but a failure of the callee rolls back only the callee's writes and
            /// events and returns its outcome to the caller: the low 32 bits are the status
            /// (0 success, 1 revert, 2 out of gas, 3 trap), the high 32 bits the revert code. The
            /// callee's return or revert data is read with `returned_len` / `returned_read`.
            /// `gas` as for `call`, but the callee gets at most all but 1/64 of the gas left
            /// (also when `gas` is 0 or larger), so the caller keeps gas to handle a callee
            /// that spends all it may. Per byte: function name and argument bytes.
            fn try_call(addr_ptr: i32, fn_ptr: i32, fn_len: i32, args_ptr: i32, args_len: i32, gas: i64) -> i64;
            cost(base = 5000, per_byte = 2);

            /// Returns the length of the data returned by the last `call` / `try_call`.
            fn returned_len() -> i32;
            cost(base = 20, per_byte = 0);

            /// Copies the data returned by the last `call` / `try_call` to `dst_ptr`.
            /// Per byte: data bytes.
            fn returned_read(dst_ptr: i32) -> ();
            cost(base = 40, per_byte = 1);

            /// Replaces the running contract's code by the already uploaded code with the given
            /// 32-byte hash. Only a contract can upgrade itself; it takes effect for later calls.
            /// Per byte: the code's bytes (read whole to check that it is stored).
            fn upgrade(code_hash_ptr: i32) -> ();
            cost(base = 20000, per_byte = 2);

            /// Records a debug message in the receipt's log (kept whatever the outcome; the
            /// node answers them to `tx.simulate`, its stored receipts do not keep them): at
            /// most 1 KiB kept per message and 256 messages per transaction (later ones are
            /// charged, not kept). Per byte: message bytes (all of them, kept or not).
            fn debug_log(ptr: i32, len: i32) -> ();
            cost(base = 100, per_byte = 1);
        }
    };
}

/// The cost of one host function call: `base + per_byte * bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Gas charged for every call.
    pub base: u64,
    /// Gas charged per byte the function's docs name.
    pub per_byte: u64,
}

impl Cost {
    /// The gas for a call touching `bytes` bytes (saturating).
    #[inline]
    pub const fn of(&self, bytes: u64) -> u64 {
        self.base
            .saturating_add(self.per_byte.saturating_mul(bytes))
    }
}

/// One row of the host function table, for docs and tools.
#[derive(Clone, Copy, Debug)]
pub struct HostFnSpec {
    /// The import name (module [`IMPORT_MODULE`](crate::IMPORT_MODULE)).
    pub name: &'static str,
    /// Parameter names and wasm types.
    pub params: &'static [(&'static str, &'static str)],
    /// The wasm result type, or `()`.
    pub result: &'static str,
    /// Its gas cost.
    pub cost: Cost,
    /// Its documentation.
    pub doc: &'static str,
}

macro_rules! define_specs {
    ($(
        $(#[doc = $doc:expr])*
        fn $name:ident ( $($p:ident : $t:ty),* ) -> $r:ty ;
        cost(base = $base:expr, per_byte = $pb:expr);
    )*) => {
        /// Every host function, in table order.
        pub const HOST_FNS: &[HostFnSpec] = &[
            $(HostFnSpec {
                name: stringify!($name),
                params: &[$((stringify!($p), stringify!($t))),*],
                result: stringify!($r),
                cost: Cost { base: $base, per_byte: $pb },
                doc: concat!($($doc, "\n"),*),
            }),*
        ];

        /// The gas cost of each host function, by name.
        #[allow(non_upper_case_globals)]
        pub mod cost {
            use super::Cost;
            $(
                #[doc = concat!("Cost of `", stringify!($name), "`.")]
                pub const $name: Cost = Cost { base: $base, per_byte: $pb };
            )*
        }
    };
}

for_each_host_fn!(define_specs);

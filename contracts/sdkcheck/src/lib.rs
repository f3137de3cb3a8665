//! Runs the SDK helpers that the other example contracts leave unused, so that tests
//! exercise them on the real VM: typed storage existence checks, removal and prefix
//! iteration (`Map::keys`), the environment getters, the crypto wrappers, debug `log`,
//! self-`upgrade`, the cross-contract helpers `call_typed`, `call_with_gas`,
//! `try_call_with_gas`, `call_raw` and `try_call_raw`, and derived types.
//!
//! Storage: a note in `Item<u64>` under `b"note"`, entries in `Map<u32, u64>` under `b"E"`,
//! a blob in `Item<Vec<u8>>` under `b"blob"`.
//! Anyone may call anything, `upgrade_to` included: this is a test contract.
#![no_std]

extern crate alloc;

use supervm_sdk::prelude::*;

const NOTE: Item<u64> = Item::new(b"note");
const ENTRIES: Map<u32, u64> = Map::new(b"E");
const BLOB: Item<Vec<u8>> = Item::new(b"blob");

/// A `try_call_gas` came back; the caller carried on whatever the callee did.
#[event]
pub struct CallTried {
    /// The callee.
    #[topic]
    pub target: Address,
    /// The `try_call` status (0 success, 1 revert, 2 out of gas, 3 trap).
    pub status: u32,
    /// The callee's revert code (0 unless it reverted).
    pub code: u32,
}

/// The contract is replacing its code (from its next call on).
#[event]
pub struct Upgrading {
    /// The hash of the new code.
    pub code_hash: [u8; 32],
}

/// An order: a derived struct (`#[derive(Encode, Decode)]`), described in the interface.
#[derive(Encode, Decode)]
pub struct Order {
    /// Who placed it.
    pub owner: Address,
    /// How much.
    pub amount: u128,
    /// A note, if any.
    pub note: Option<String>,
}

/// An action: a derived enum (a tag byte, then the variant's fields).
#[derive(Encode, Decode)]
pub enum Action {
    /// Nothing.
    Stop,
    /// A distance and a direction.
    Move(u64, bool),
    /// An order at a place.
    Place {
        /// The order.
        order: Order,
        /// Where.
        at: u16,
    },
}

/// Why an sdkcheck call failed.
#[contract_error]
pub enum CheckError {
    /// `entry`: no entry under that key.
    Missing = 1,
    /// `log_then_fail` always fails this way, after logging.
    Deliberate = 2,
}

/// The sdkcheck contract.
pub struct SdkCheck;

#[contract]
impl SdkCheck {
    /// `(caller, origin, self_address, block_height, block_timestamp, chain_id, gas_left)`
    /// as the environment reports them (`gas_left` is read last).
    pub fn context() -> (Address, Address, Address, u64, u64, u64, u64) {
        read_context()
    }

    /// `other.context()` through `call_typed` (with all the gas left): its caller is this
    /// contract, its origin the signer.
    pub fn context_via(other: Address) -> (Address, Address, Address, u64, u64, u64, u64) {
        env::call_typed(&other, "context", &())
    }

    /// `other.context()` through `call_with_gas`, with at most `gas` for the callee (0: all
    /// the gas left). A callee that runs out of its share fails this call the same way.
    pub fn context_via_gas(
        other: Address,
        gas: u64,
    ) -> (Address, Address, Address, u64, u64, u64, u64) {
        let data = env::call_with_gas(&other, "context", &(), gas);
        match codec::decode_all(&data) {
            Ok(c) => c,
            Err(_) => env::revert(BAD_RESULT, &[]),
        }
    }

    /// Calls `func` of `target` (with the one argument `arg`, or none) through
    /// `try_call_with_gas` with at most `gas` (0: all the gas left), then carries on
    /// whatever happened: emits `CallTried` and returns `(status, revert code, return or
    /// revert data)`.
    pub fn try_call_gas(
        target: Address,
        func: String,
        arg: Option<u64>,
        gas: u64,
    ) -> (u32, u32, Vec<u8>) {
        let r = match arg {
            Some(n) => env::try_call_with_gas(&target, &func, &(n,), gas),
            None => env::try_call_with_gas(&target, &func, &(), gas),
        };
        let (status, code, data) = match r {
            Ok(data) => (0, 0, data),
            Err(f) => (f.status, f.code, f.data),
        };
        CallTried {
            target,
            status,
            code,
        }
        .emit();
        (status, code, data)
    }

    /// Sets each `(key, value)` of `entries`.
    pub fn put(entries: Vec<(u32, u64)>) {
        for (k, v) in entries {
            ENTRIES.set(&k, &v);
        }
    }

    /// Removes each key of `keys` (absent ones too), then returns the keys left, as `keys`
    /// does.
    pub fn remove_keys(keys: Vec<u32>) -> Vec<u32> {
        for k in &keys {
            ENTRIES.remove(k);
        }
        ENTRIES.keys().collect()
    }

    /// The keys present (`Map::keys`): in the byte order of their little-endian encodings,
    /// so 256 comes before 1.
    pub fn keys() -> Vec<u32> {
        ENTRIES.keys().collect()
    }

    /// Whether an entry is under `key` (`Map::has`).
    pub fn has_key(key: u32) -> bool {
        ENTRIES.has(&key)
    }

    /// The entry under `key`; `Missing` when there is none.
    pub fn entry(key: u32) -> Result<u64, CheckError> {
        ENTRIES.get(&key).ok_or(CheckError::Missing)
    }

    /// Sets the note.
    pub fn set_note(value: u64) {
        NOTE.set(&value);
    }

    /// `(whether the note exists, its value)` (`Item::exists`, `Item::get`).
    pub fn note() -> (bool, Option<u64>) {
        (NOTE.exists(), NOTE.get())
    }

    /// Removes the note (`Item::remove`).
    pub fn clear_note() {
        NOTE.remove();
    }

    /// Stores `data` as the blob (stored encoded: 4 length bytes, then the bytes).
    pub fn put_blob(data: Vec<u8>) {
        BLOB.set(&data);
    }

    /// The blob's length (0 when there is none): reads the whole stored value.
    pub fn blob_len() -> u32 {
        BLOB.get().map_or(0, |b| b.len() as u32)
    }

}

// A second block: a contract may be written in several `#[contract]` blocks (each emits
// its interface and ABI version; the linker joins them).
#[contract]
impl SdkCheck {
    /// `action` back, with the amount it moves: 0 for `Stop`, the distance of a `Move`,
    /// the order's amount of a `Place` (derived types as argument and result).
    pub fn act(action: Action) -> (Action, u128) {
        let amount = match &action {
            Action::Stop => 0,
            Action::Move(d, _) => *d as u128,
            Action::Place { order, .. } => order.amount,
        };
        (action, amount)
    }

    /// Calls `func` of `target` with `input` as its call input as it is (`call_raw`), and
    /// returns its return data.
    pub fn forward(target: Address, func: String, input: Vec<u8>) -> Vec<u8> {
        env::call_raw(&target, &func, &input, 0)
    }

    /// Like `forward` through `try_call_raw`: `(status, revert code, return or revert
    /// data)`.
    pub fn try_forward(target: Address, func: String, input: Vec<u8>) -> (u32, u32, Vec<u8>) {
        match env::try_call_raw(&target, &func, &input, 0) {
            Ok(data) => (0, 0, data),
            Err(f) => (f.status, f.code, f.data),
        }
    }

    /// `(blake3(data), sha256(data))`.
    pub fn hashes(data: Vec<u8>) -> ([u8; 32], [u8; 32]) {
        (env::blake3(&data), env::sha256(&data))
    }

    /// Whether `sig` is a valid ed25519 signature of `msg` by public key `pk`.
    pub fn verify(pk: [u8; 32], msg: Vec<u8>, sig: [u8; 64]) -> bool {
        env::ed25519_verify(&pk, &msg, &sig)
    }

    /// Logs each message of `msgs` (`env::log`: in the VM's receipt and in the node's
    /// `tx.simulate` answer; the node's stored receipts do not keep logs); returns how
    /// many.
    pub fn log_messages(msgs: Vec<String>) -> u32 {
        for m in &msgs {
            env::log(m);
        }
        msgs.len() as u32
    }

    /// Records `msg` in the receipt's log, then fails with `Deliberate` (the log is kept).
    pub fn log_then_fail(msg: String) -> Result<(), CheckError> {
        env::log(&msg);
        Err(CheckError::Deliberate)
    }

    /// Emits `Upgrading`, then replaces this contract's code by the uploaded code with hash
    /// `code_hash` (`env::upgrade`) for later calls; traps when no such code was uploaded.
    pub fn upgrade_to(code_hash: [u8; 32]) {
        Upgrading { code_hash }.emit();
        env::upgrade(&code_hash);
    }
}

/// The environment getters, `gas_left` last.
fn read_context() -> (Address, Address, Address, u64, u64, u64, u64) {
    (
        env::caller(),
        env::origin(),
        env::self_address(),
        env::block_height(),
        env::block_timestamp(),
        env::chain_id(),
        env::gas_left(),
    )
}

//! The SuperVM host ABI, shared by the VM (host) and the SDK (guest).
//!
//! * [`for_each_host_fn!`] is the single table of host functions; see [`host_fns`].
//! * [`codec`] is the binary encoding of arguments, results, storage values and events.
//! * The constants below fix the import module, custom sections, call status codes and limits.
//!
//! `docs/abi.md` is generated from this crate (`SUPERVM_BLESS=1 cargo test -p supervm-vm abi_doc`).
#![no_std]

extern crate alloc;

pub mod codec;
pub mod host_fns;

pub use codec::{CodecError, Decode, Encode};
pub use host_fns::{Cost, HOST_FNS, HostFnSpec};

/// The version of the host ABI. A contract declares the version it was built for in the
/// [`ABI_VERSION_SECTION`] custom section; deploy rejects any other version.
pub const ABI_VERSION: u32 = 1;

/// The wasm import module every host function lives in.
pub const IMPORT_MODULE: &str = "supervm_v1";

/// Custom section holding the ABI version, as 4 bytes little-endian.
pub const ABI_VERSION_SECTION: &str = "supervm_abi_version";

/// Custom section holding the contract's interface: JSON lines, one object per entry
/// point, event or error (see `docs/abi.md`, "Interface section").
pub const INTERFACE_SECTION: &str = "supervm_interface";

/// Version of the interface section format.
pub const INTERFACE_VERSION: u32 = 1;

/// Name of the optional constructor export, run once at deploy and never callable after.
pub const CONSTRUCTOR_EXPORT: &str = "__init";

/// Revert code of an SDK entry point whose call arguments did not decode (reserved:
/// `#[contract_error]` codes stay below [`BAD_STORAGE`]).
pub const BAD_INPUT: u32 = 0xFFFF_FFFF;
/// Revert code of the SDK's typed calls when the callee's return data did not decode.
pub const BAD_RESULT: u32 = 0xFFFF_FFFE;
/// Revert code when a value the SDK read from storage did not decode as its type.
pub const BAD_STORAGE: u32 = 0xFFFF_FFFD;

/// The highest gas limit a node accepts in a transaction (the test harness refuses
/// more too, so a test never passes with a limit no node would take).
pub const MAX_TX_GAS_LIMIT: u64 = 1_000_000_000;

/// `try_call` status: the callee succeeded.
pub const STATUS_OK: u32 = 0;
/// `try_call` status: the callee reverted (its code is in the high 32 bits).
pub const STATUS_REVERT: u32 = 1;
/// `try_call` status: the callee ran out of gas.
pub const STATUS_OUT_OF_GAS: u32 = 2;
/// `try_call` status: the callee trapped (or could not be called).
pub const STATUS_TRAP: u32 = 3;

/// Resource limits that both the host enforces and guests may rely on.
pub mod limits {
    /// Largest storage key, in bytes.
    pub const MAX_KEY_LEN: u32 = 256;
    /// Largest storage value, in bytes.
    pub const MAX_VALUE_LEN: u32 = 64 * 1024;
    /// Most topics per event.
    pub const MAX_TOPICS: usize = 4;
    /// Largest topic, in bytes.
    pub const MAX_TOPIC_LEN: usize = 64;
    /// Largest event data, in bytes.
    pub const MAX_EVENT_DATA: u32 = 8 * 1024;
    /// Most events per transaction.
    pub const MAX_EVENTS_PER_TX: usize = 1024;
    /// Largest return data or revert data, in bytes.
    pub const MAX_RETURN_DATA: u32 = 64 * 1024;
    /// Largest call input, in bytes.
    pub const MAX_INPUT_LEN: u32 = 64 * 1024;
    /// Largest function name, in bytes.
    pub const MAX_FN_NAME: u32 = 64;
    /// Deepest nesting of contract calls (the transaction's own call is depth 1).
    pub const MAX_CALL_DEPTH: u32 = 8;
}

/// A 32-byte account or contract address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The all-zero address.
    pub const ZERO: Address = Address([0; 32]);

    /// The address's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for Address {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

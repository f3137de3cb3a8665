//! Transactions the VM executes and the receipts it returns.

use supervm_abi::Address;

use crate::state::{ReadSet, WriteSet};

/// The block a transaction executes in. Contracts see these values; nothing
/// else about the executing machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BlockEnv {
    /// Block height.
    pub height: u64,
    /// Block timestamp, milliseconds since the Unix epoch, set by the producer.
    pub timestamp_ms: u64,
    /// Chain id.
    pub chain_id: u64,
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Stores code under its blake3 hash (no contract is created).
    Upload {
        /// The wasm module.
        code: Vec<u8>,
    },
    /// Creates a contract at [`contract_address`](crate::contract_address)`(sender, salt)`,
    /// running its constructor (if it exports one) with `init_args`.
    Deploy {
        /// Where the code comes from.
        code: CodeSource,
        /// Salt for the address.
        salt: [u8; 32],
        /// Encoded constructor arguments.
        init_args: Vec<u8>,
    },
    /// Calls an entry point of a contract.
    Call {
        /// The contract.
        contract: Address,
        /// The exported function.
        function: String,
        /// Encoded arguments.
        args: Vec<u8>,
    },
}

/// The code of a deploy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodeSource {
    /// The module itself (uploaded as part of the deploy).
    Wasm(Vec<u8>),
    /// Code uploaded earlier, by hash.
    Hash([u8; 32]),
}

/// A transaction as the VM sees it (signature checks, nonces and fees belong to the node).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The account that signed it; the origin and first caller.
    pub sender: Address,
    /// Most gas it may use.
    pub gas_limit: u64,
    /// What it does.
    pub payload: Payload,
}

/// An event emitted by a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The emitting contract.
    pub contract: Address,
    /// Up to 4 topics (by SDK convention the first is the event name).
    pub topics: Vec<Vec<u8>>,
    /// Codec-encoded data.
    pub data: Vec<u8>,
}

/// How a transaction ended. Anything but `Success` discards all its writes and
/// events; gas is charged either way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran to completion.
    Success,
    /// A contract reverted with a typed error code and data.
    Revert {
        /// The reverting contract's error code.
        code: u32,
        /// Error data.
        data: Vec<u8>,
        /// The contract that called `revert`: the called contract, or any contract
        /// beneath it in a chain of `call`s (a failed `call` fails its caller the same
        /// way); for a deploy whose constructor reverted, the address being deployed
        /// (nothing is created there). Its interface, not necessarily the called
        /// contract's, names the code.
        contract: Address,
    },
    /// It ran out of gas.
    OutOfGas,
    /// A contract trapped (or broke a VM rule while running).
    Trap {
        /// Deterministic reason.
        reason: String,
    },
    /// The transaction could not start: bad code, unknown contract or function, and so on.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// Whether the transaction succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }
}

/// The result of executing a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// How it ended.
    pub outcome: Outcome,
    /// Gas charged.
    pub gas_used: u64,
    /// Data returned by the called entry point (or revert data on revert).
    pub return_data: Vec<u8>,
    /// Events, in emission order (empty unless `Success`).
    pub events: Vec<Event>,
    /// Debug log lines (kept even on failure, never part of consensus hashes).
    pub logs: Vec<String>,
    /// For a successful deploy: the new contract's address (`None` when its constructor
    /// failed: nothing was created). For an upload: `None`.
    pub contract: Option<Address>,
    /// For an upload or deploy: the code hash.
    pub code_hash: Option<[u8; 32]>,
    /// What it read from the state below it.
    pub read_set: ReadSet,
    /// What it wrote (empty unless `Success`).
    pub write_set: WriteSet,
    /// How many times the transaction was executed to produce this receipt: 1 when
    /// sequential; more when the parallel scheduler re-executed it after a conflict.
    /// Scheduling metadata: not part of [`Receipt::hash`] and not consensus data.
    pub executions: u32,
}

/// The reason a trap's reason ends with when the code reached `unreachable`, where
/// Rust code built with the SDK panics (see [`UNREACHABLE_HINT`]).
pub const UNREACHABLE_TRAP: &str = "wasm `unreachable` instruction executed";

/// What an [`UNREACHABLE_TRAP`] means in a contract built with the SDK, for tools that
/// show a trap to its author (the CLI, the test kit): not part of any receipt.
pub const UNREACHABLE_HINT: &str = "in Rust code a panic: `panic!`, a failed overflow check, \
     an out-of-bounds index, an `unwrap` of nothing; the SDK's `panic-message` feature logs \
     which, and where (`contract simulate` and the test kit's receipt logs show it)";

/// Markers after which a reason's text comes from a dependency (wasmparser's,
/// serde_json's or Cranelift's messages): shown in receipts, but only the text up to
/// and including the first marker is committed, so an upgrade that rewords them cannot
/// change a receipt's hash.
pub const FOREIGN_TEXT_MARKERS: [&str; 3] = [
    "invalid wasm: ",
    "interface section is invalid: ",
    "compile failed: ",
];

/// The part of a trap's or an invalid transaction's reason that [`Receipt::hash`]
/// commits to: up to the first [`FOREIGN_TEXT_MARKERS`] marker, or all of it.
///
/// ```
/// # use supervm_vm::committed_reason;
/// assert_eq!(committed_reason("code rejected: invalid wasm: bad magic"),
///     "code rejected: invalid wasm: ");
/// assert_eq!(
///     committed_reason("in contract 0x02: the code of the contract at 0x01 no longer passes validation: invalid wasm: x"),
///     "in contract 0x02: the code of the contract at 0x01 no longer passes validation: invalid wasm: ");
/// assert_eq!(committed_reason("in contract 0x02: entry point mint not found"),
///     "in contract 0x02: entry point mint not found");
/// ```
pub fn committed_reason(reason: &str) -> &str {
    FOREIGN_TEXT_MARKERS
        .iter()
        .filter_map(|m| reason.find(m).map(|i| i + m.len()))
        .min()
        .map_or(reason, |end| &reason[..end])
}

impl Receipt {
    /// A blake3 commitment to the consensus-relevant fields (outcome, gas, return data,
    /// events, write set), used by determinism and differential tests.
    ///
    /// ```
    /// # use supervm_vm::{Outcome, Receipt};
    /// let mut a = Receipt { outcome: Outcome::Success, gas_used: 1, return_data: vec![], events: vec![],
    ///     logs: vec![], contract: None, code_hash: None, read_set: Default::default(),
    ///     write_set: Default::default(), executions: 1 };
    /// let h = a.hash();
    /// a.executions = 3; // re-executed by the parallel scheduler: same consensus result
    /// assert_eq!(a.hash(), h);
    /// ```
    pub fn hash(&self) -> [u8; 32] {
        // Encoded into one buffer and hashed at once: cheaper than feeding the hasher
        // dozens of few-byte slices (the bytes hashed are the same). 512 bytes hold a
        // token transfer's receipt; larger ones grow the buffer.
        let mut buf = Vec::with_capacity(512);
        let mut put = |b: &[u8]| {
            buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
            buf.extend_from_slice(b);
        };
        match &self.outcome {
            Outcome::Success => put(b"ok"),
            Outcome::Revert {
                code,
                data,
                contract,
            } => {
                put(b"revert");
                put(&code.to_le_bytes());
                put(data);
                put(&contract.0);
            }
            Outcome::OutOfGas => put(b"oog"),
            Outcome::Trap { reason } => {
                put(b"trap");
                put(committed_reason(reason).as_bytes());
            }
            Outcome::Invalid { reason } => {
                put(b"invalid");
                put(committed_reason(reason).as_bytes());
            }
        }
        put(&self.gas_used.to_le_bytes());
        put(&self.return_data);
        // Every list is preceded by its length and every optional value by a tag, so that
        // no two different receipts share an encoding (a deletion is not a write of some
        // value; topics cannot pass for data or writes).
        let count = |n: usize| (n as u64).to_le_bytes();
        put(&count(self.events.len()));
        for e in &self.events {
            put(&e.contract.0);
            put(&count(e.topics.len()));
            for t in &e.topics {
                put(t);
            }
            put(&e.data);
        }
        put(&count(self.write_set.len()));
        for (k, v) in &self.write_set {
            put(k);
            match v {
                Some(v) => {
                    put(&[1]);
                    put(v);
                }
                None => put(&[0]),
            }
        }
        *blake3::hash(&buf).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(events: Vec<Event>, writes: &[(&[u8], Option<&[u8]>)]) -> Receipt {
        Receipt {
            outcome: Outcome::Success,
            gas_used: 1,
            return_data: vec![],
            events,
            logs: vec![],
            contract: None,
            code_hash: None,
            read_set: Default::default(),
            write_set: writes
                .iter()
                .map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec())))
                .collect::<WriteSet>(),
            executions: 1,
        }
    }

    /// Receipt hashes are consensus data: pinned for receipts of every outcome.
    #[test]
    fn receipt_hashes_are_value_stable() {
        let hex = |h: [u8; 32]| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut r = receipt(
            vec![event(&[b"Transfer", &[1; 32]], &[5; 16]), event(&[], b"")],
            &[(&[0; 66], Some(&[9; 16])), (b"gone", None)],
        );
        r.return_data = b"ret".to_vec();
        r.gas_used = 12_345;
        let mut got = vec![hex(r.hash())];
        for outcome in [
            Outcome::Revert {
                code: 7,
                data: b"no".to_vec(),
                contract: Address([5; 32]),
            },
            Outcome::OutOfGas,
            Outcome::Trap {
                reason: "unreachable".into(),
            },
            Outcome::Invalid {
                reason: "bad nonce".into(),
            },
        ] {
            r.outcome = outcome;
            got.push(hex(r.hash()));
        }
        assert_eq!(got, GOLDEN);
    }

    /// Recorded from the hasher fed field by field (before one buffer was hashed); the
    /// revert's (the second) again when reverts came to name their contract.
    const GOLDEN: [&str; 5] = [
        "29f19fac95b6510eb3f94f171bd1dd102887bb57e42881dfa16aa5313c09da1e",
        "4deca86da25fe1c4958b2eb6c81f62fa6d14f0af2d5a88ee33f68f2a0125dd5d",
        "d09b9541e1d7b9584c933b018a0b311977c1277caf0d8f875b305f4467d98b89",
        "025f777617cdbc5a76afd43155aa7fb6e99bae15a2fd97bd7602a0fb7f77ba5d",
        "8250ad5c21ba8ff25fa92911f536f47731772f03bc62d0454f31e17f80afb98f",
    ];

    fn event(topics: &[&[u8]], data: &[u8]) -> Event {
        Event {
            contract: Address([7; 32]),
            topics: topics.iter().map(|t| t.to_vec()).collect(),
            data: data.to_vec(),
        }
    }

    /// Receipts that differ only in how their parts are grouped hash differently.
    #[test]
    fn different_receipts_never_share_an_encoding() {
        // A deletion is not a write of any value.
        let deleted = receipt(vec![], &[(b"k", None)]);
        let written = receipt(vec![], &[(b"k", Some(b"\xffdeleted"))]);
        assert_ne!(deleted.hash(), written.hash());
        // Topics do not pass for data, nor an event's tail for writes.
        let a = receipt(vec![event(&[b"t1", b"t2"], b"d")], &[]);
        let b = receipt(vec![event(&[], b"t1")], &[(b"t2", Some(b"d"))]);
        let c = receipt(vec![event(&[b"t1"], b"t2")], &[]);
        assert_ne!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        // Two events are not one event with the other's fields as topics.
        let two = receipt(vec![event(&[], b"x"), event(&[], b"y")], &[]);
        let one = receipt(vec![event(&[b"x"], b"y")], &[]);
        assert_ne!(two.hash(), one.hash());
    }
}

//! Block headers and what the history stores per transaction.
//!
//! Header encoding (all integers LE):
//! `height u64 ‖ parent hash (32) ‖ timestamp_ms u64 ‖ chain_id u64 ‖ tx root (32) ‖
//! receipts root (32) ‖ state root (32) ‖ tx count u32 ‖ gas used u64`;
//! block hash = `blake3("supervm-block-v1" ‖ header)`; tx root = blake3 of the
//! concatenated transaction hashes; receipts root = blake3 of the concatenated
//! receipt hashes (`Receipt::hash`, or for native transfers the hash of their receipt
//! record).

use supervm_client::SignedTx;
use supervm_vm::Address;

/// A block header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Height (genesis is 0).
    pub height: u64,
    /// Previous block's hash (zero for genesis).
    pub parent_hash: [u8; 32],
    /// Producer's timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Chain id.
    pub chain_id: u64,
    /// Commitment to the transactions.
    pub tx_root: [u8; 32],
    /// Commitment to the receipts.
    pub receipts_root: [u8; 32],
    /// State root after the block.
    pub state_root: [u8; 32],
    /// Number of transactions.
    pub tx_count: u32,
    /// Gas used by all transactions.
    pub gas_used: u64,
}

impl Header {
    /// The encoding above.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(196);
        v.extend_from_slice(&self.height.to_le_bytes());
        v.extend_from_slice(&self.parent_hash);
        v.extend_from_slice(&self.timestamp_ms.to_le_bytes());
        v.extend_from_slice(&self.chain_id.to_le_bytes());
        v.extend_from_slice(&self.tx_root);
        v.extend_from_slice(&self.receipts_root);
        v.extend_from_slice(&self.state_root);
        v.extend_from_slice(&self.tx_count.to_le_bytes());
        v.extend_from_slice(&self.gas_used.to_le_bytes());
        v
    }

    /// Reads [`Header::encode`]'s output.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 8 + 32 + 8 + 8 + 32 * 3 + 4 + 8 {
            return None;
        }
        let a32 = |o: usize| -> [u8; 32] { b[o..o + 32].try_into().expect("32 bytes") };
        let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        Some(Header {
            height: u64at(0),
            parent_hash: a32(8),
            timestamp_ms: u64at(40),
            chain_id: u64at(48),
            tx_root: a32(56),
            receipts_root: a32(88),
            state_root: a32(120),
            tx_count: u32::from_le_bytes(b[152..156].try_into().expect("4 bytes")),
            gas_used: u64at(156),
        })
    }

    /// The block hash.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(b"supervm-block-v1");
        h.update(&self.encode());
        *h.finalize().as_bytes()
    }
}

/// How a transaction ended, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Success,
    /// Revert with code (data is in `return_data`).
    Revert(u32),
    /// Out of gas.
    OutOfGas,
    /// Trap with reason.
    Trap(String),
    /// Could not start (bad code, unknown contract or function).
    Invalid(String),
}

impl Status {
    /// The stored status of a VM receipt, with its return data (revert data on revert,
    /// nothing on out-of-gas, trap or invalid).
    pub fn of_receipt(r: &supervm_vm::Receipt) -> (Status, Vec<u8>) {
        use supervm_vm::Outcome;
        match &r.outcome {
            Outcome::Success => (Status::Success, r.return_data.clone()),
            Outcome::Revert { code, data } => (Status::Revert(*code), data.clone()),
            Outcome::OutOfGas => (Status::OutOfGas, vec![]),
            Outcome::Trap { reason } => (Status::Trap(reason.clone()), vec![]),
            Outcome::Invalid { reason } => (Status::Invalid(reason.clone()), vec![]),
        }
    }

    /// The RPC form: outcome name, revert code, trap or invalid reason.
    pub fn view(&self) -> (&'static str, Option<u32>, Option<String>) {
        match self {
            Status::Success => ("success", None, None),
            Status::Revert(c) => ("revert", Some(*c), None),
            Status::OutOfGas => ("out_of_gas", None, None),
            Status::Trap(s) => ("trap", None, Some(s.clone())),
            Status::Invalid(s) => ("invalid", None, Some(s.clone())),
        }
    }
}

/// A transaction's receipt as the history stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReceipt {
    /// Outcome.
    pub status: Status,
    /// Gas used.
    pub gas_used: u64,
    /// Fee paid.
    pub fee: u128,
    /// Return or revert data.
    pub return_data: Vec<u8>,
    /// Deployed contract.
    pub contract: Option<Address>,
    /// Uploaded or deployed code hash.
    pub code_hash: Option<[u8; 32]>,
}

/// The history body of a transaction: `len u32 ‖ signed tx ‖ receipt`, receipt =
/// `tag u8 ‖ code u32 ‖ reason (u32 len ‖ utf-8) ‖ gas u64 ‖ fee u128 ‖ data (u32 len ‖ bytes)
/// ‖ flag u8 [‖ contract (32)] ‖ flag u8 [‖ code hash (32)]`.
pub fn encode_tx_body(tx: &[u8], r: &StoredReceipt) -> Vec<u8> {
    let mut v = Vec::with_capacity(tx.len() + 96 + r.return_data.len());
    v.extend_from_slice(&(tx.len() as u32).to_le_bytes());
    v.extend_from_slice(tx);
    let (tag, code, reason) = match &r.status {
        Status::Success => (0u8, 0u32, ""),
        Status::Revert(c) => (1, *c, ""),
        Status::OutOfGas => (2, 0, ""),
        Status::Trap(s) => (3, 0, s.as_str()),
        Status::Invalid(s) => (4, 0, s.as_str()),
    };
    v.push(tag);
    v.extend_from_slice(&code.to_le_bytes());
    v.extend_from_slice(&(reason.len() as u32).to_le_bytes());
    v.extend_from_slice(reason.as_bytes());
    v.extend_from_slice(&r.gas_used.to_le_bytes());
    v.extend_from_slice(&r.fee.to_le_bytes());
    v.extend_from_slice(&(r.return_data.len() as u32).to_le_bytes());
    v.extend_from_slice(&r.return_data);
    for opt in [r.contract.map(|a| a.0), r.code_hash] {
        match opt {
            None => v.push(0),
            Some(x) => {
                v.push(1);
                v.extend_from_slice(&x);
            }
        }
    }
    v
}

/// Reads [`encode_tx_body`]'s output.
pub fn decode_tx_body(b: &[u8]) -> Option<(SignedTx, StoredReceipt)> {
    let mut r = b;
    let mut take = |n: usize| -> Option<&[u8]> {
        if r.len() < n {
            return None;
        }
        let (a, rest) = r.split_at(n);
        r = rest;
        Some(a)
    };
    let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let tx = SignedTx::decode(take(n)?).ok()?;
    let tag = take(1)?[0];
    let code = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let rl = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let reason = String::from_utf8(take(rl)?.to_vec()).ok()?;
    let gas_used = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let fee = u128::from_le_bytes(take(16)?.try_into().ok()?);
    let dl = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    let return_data = take(dl)?.to_vec();
    let mut opt = || -> Option<Option<[u8; 32]>> {
        match take(1)?[0] {
            0 => Some(None),
            _ => Some(Some(take(32)?.try_into().ok()?)),
        }
    };
    let contract = opt()?.map(Address);
    let code_hash = opt()?;
    let status = match tag {
        0 => Status::Success,
        1 => Status::Revert(code),
        2 => Status::OutOfGas,
        3 => Status::Trap(reason),
        _ => Status::Invalid(reason),
    };
    Some((
        tx,
        StoredReceipt {
            status,
            gas_used,
            fee,
            return_data,
            contract,
            code_hash,
        },
    ))
}

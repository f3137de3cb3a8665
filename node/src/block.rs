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
    /// Revert with code (data is in `return_data`), and the contract that reverted
    /// (`None` in bodies stored before receipts named it).
    Revert {
        /// The reverting contract's error code.
        code: u32,
        /// The contract that called `revert` (see [`supervm_vm::Outcome::Revert`]).
        contract: Option<Address>,
    },
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
            Outcome::Revert {
                code,
                data,
                contract,
            } => (
                Status::Revert {
                    code: *code,
                    contract: Some(*contract),
                },
                data.clone(),
            ),
            Outcome::OutOfGas => (Status::OutOfGas, vec![]),
            Outcome::Trap { reason } => (Status::Trap(reason.clone()), vec![]),
            Outcome::Invalid { reason } => (Status::Invalid(reason.clone()), vec![]),
        }
    }

    /// The RPC form: outcome name, revert code, reverting contract (hex), trap or
    /// invalid reason.
    pub fn view(&self) -> StatusView {
        let (outcome, revert_code, revert_contract, reason) = match self {
            Status::Success => ("success", None, None, None),
            Status::Revert { code, contract } => (
                "revert",
                Some(*code),
                contract.map(|a| supervm_client::views::to_hex(&a.0)),
                None,
            ),
            Status::OutOfGas => ("out_of_gas", None, None, None),
            Status::Trap(s) => ("trap", None, None, Some(s.clone())),
            Status::Invalid(s) => ("invalid", None, None, Some(s.clone())),
        };
        StatusView {
            outcome,
            revert_code,
            revert_contract,
            reason,
        }
    }
}

/// [`Status::view`]: the fields receipts and simulations answer with.
pub struct StatusView {
    /// `success`, `revert`, `out_of_gas`, `trap` or `invalid`.
    pub outcome: &'static str,
    /// The revert code.
    pub revert_code: Option<u32>,
    /// The reverting contract, hex (reverts stored before receipts named it: none).
    pub revert_contract: Option<String>,
    /// The trap or invalid reason.
    pub reason: Option<String>,
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
/// ‖ flag u8 [‖ contract (32)] ‖ flag u8 [‖ code hash (32)]`. A revert's reason is the
/// reverting contract's address in hex (empty in bodies stored before receipts named
/// it).
pub fn encode_tx_body(tx: &[u8], r: &StoredReceipt) -> Vec<u8> {
    let mut v = Vec::with_capacity(tx.len() + 96 + r.return_data.len());
    v.extend_from_slice(&(tx.len() as u32).to_le_bytes());
    v.extend_from_slice(tx);
    use std::borrow::Cow;
    let (tag, code, reason): (u8, u32, Cow<'_, str>) = match &r.status {
        Status::Success => (0, 0, "".into()),
        Status::Revert { code, contract } => (
            1,
            *code,
            contract.map_or("".into(), |a| hex::encode(a.0).into()),
        ),
        Status::OutOfGas => (2, 0, "".into()),
        Status::Trap(s) => (3, 0, s.as_str().into()),
        Status::Invalid(s) => (4, 0, s.as_str().into()),
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
        1 => Status::Revert {
            code,
            contract: match reason.as_str() {
                "" => None,
                hex => Some(Address(supervm_client::views::from_hex32(hex).ok()?)),
            },
        },
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

#[cfg(test)]
mod tests {
    use supervm_client::{TxBody, TxPayload};

    use super::*;

    fn body(status: Status) -> (Vec<u8>, StoredReceipt) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let tx = TxBody {
            chain_id: 1,
            sender: supervm_client::keys::address_of(&key),
            nonce: 0,
            gas_limit: 10_000,
            gas_price: 1,
            expiry_height: 10,
            payload: TxPayload::Transfer {
                to: Address([9; 32]),
                amount: 1,
            },
        }
        .sign(&key);
        let r = StoredReceipt {
            status,
            gas_used: 5,
            fee: 5,
            return_data: b"why".to_vec(),
            contract: None,
            code_hash: None,
        };
        (encode_tx_body(&tx.encode(), &r), r)
    }

    /// A revert's stored body keeps the reverting contract; a body stored before
    /// receipts named it (empty reason) reads as a revert by an unnamed contract, and a
    /// reason that is not 32 bytes of hex is a corrupt body.
    #[test]
    fn revert_bodies_name_the_reverting_contract() {
        let named = Status::Revert {
            code: 7,
            contract: Some(Address([0xab; 32])),
        };
        let (b, r) = body(named);
        assert_eq!(decode_tx_body(&b).unwrap().1, r);
        let view = r.status.view();
        assert_eq!(view.revert_code, Some(7));
        assert_eq!(view.revert_contract, Some(format!("0x{}", "ab".repeat(32))));
        let (old, r) = body(Status::Revert {
            code: 7,
            contract: None,
        });
        let decoded = decode_tx_body(&old).unwrap().1;
        assert_eq!(decoded, r);
        assert_eq!(decoded.status.view().revert_contract, None);
        // (the reason field of the body: its length, then 64 hex digits)
        let at = b
            .windows(64)
            .position(|w| w == "ab".repeat(32).as_bytes())
            .unwrap();
        let mut bad = b.clone();
        bad[at] = b'z';
        assert!(decode_tx_body(&bad).is_none());
    }
}

//! Native accounts: nonce and balance per address, kept in the state under prefix
//! `0x03`. Contracts cannot reach these keys (their storage lives under `0x00 ‖ own
//! address`), so fee and native-transfer writes never conflict with contract execution.
//!
//! Key: `0x03 ‖ address (32)`. Value: `nonce u64 LE ‖ balance u128 LE`.

use supervm_vm::{Address, StateError, StateView};

/// Prefix of account keys.
pub const PREFIX_ACCOUNT: u8 = 0x03;

/// The state key of an account.
pub fn account_key(a: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(PREFIX_ACCOUNT);
    k.extend_from_slice(&a.0);
    k
}

/// An account's native state (absent accounts are all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    /// Transactions included from it so far (the next nonce).
    pub nonce: u64,
    /// Native balance.
    pub balance: u128,
}

impl Account {
    /// `nonce u64 LE ‖ balance u128 LE`.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&self.nonce.to_le_bytes());
        v.extend_from_slice(&self.balance.to_le_bytes());
        v
    }

    /// Reads [`Account::encode`]'s output.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != 24 {
            return None;
        }
        Some(Account {
            nonce: u64::from_le_bytes(b[..8].try_into().ok()?),
            balance: u128::from_le_bytes(b[8..].try_into().ok()?),
        })
    }

    /// Reads an account from a state view.
    pub fn load(view: &dyn StateView, a: &Address) -> Result<Self, StateError> {
        match view.get(&account_key(a))? {
            None => Ok(Account::default()),
            Some(b) => Account::decode(&b).ok_or_else(|| {
                StateError::Backend(format!("malformed account {}", hex::encode(a.0)))
            }),
        }
    }
}

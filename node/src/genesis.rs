//! Genesis: block 0 funds the dev accounts (dev mode) or the accounts of a genesis
//! file. A new dev chain funds the well-known dev keys ([`keys::dev_key`]), written to
//! `<data dir>/dev-keys.json`; a dev chain made before them keeps the keys in its file.

use std::sync::Arc;

use serde::Deserialize;
use supervm_client::keys::{self, KeyEntry};
use supervm_client::views::{from_hex32, to_hex};
use supervm_store::{BlockRecord, Staging, Store};
use supervm_vm::{Address, WriteSet};

use crate::accounts::{Account, account_key};
use crate::block::Header;
use crate::config::NodeConfig;
use crate::{Error, Result};

/// A genesis file: `{"accounts": [{"address": "0x…", "balance": "123"}]}`.
#[derive(Debug, Deserialize)]
pub struct GenesisFile {
    /// Funded accounts.
    pub accounts: Vec<GenesisAccount>,
}

/// One funded account.
#[derive(Debug, Deserialize)]
pub struct GenesisAccount {
    /// Address (hex).
    pub address: String,
    /// Balance (decimal string).
    pub balance: String,
}

/// Path of the dev key file.
pub fn dev_keys_path(config: &NodeConfig) -> std::path::PathBuf {
    config.data_dir.join("dev-keys.json")
}

/// Loads the dev keys, creating them on first start (`began`: the chain exists, so its
/// keys must too).
pub fn dev_keys(config: &NodeConfig, began: bool) -> Result<Vec<KeyEntry>> {
    let path = dev_keys_path(config);
    let present =
        keys::load(&path).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    if began {
        if present.is_empty() {
            return Err(Error::Other(format!(
                "this dev chain's keys ({}) are missing: restore the file, or move {} aside \
                 to start a new dev chain",
                path.display(),
                config.data_dir.join("store").display()
            )));
        }
        return Ok(present);
    }
    // (only the well-known keys are known to the CLI as dev keys: more could be signed
    // with for any chain)
    if config.dev_accounts > keys::DEV_KEYS as usize {
        return Err(Error::Other(format!(
            "a dev chain funds at most {} dev accounts, the well-known dev keys",
            keys::DEV_KEYS
        )));
    }
    keys::update(&path, |k| {
        if k.is_empty() {
            // (the well-known dev keys: every dev chain funds the same accounts, which
            // the CLI knows by name without this file)
            *k = (0..config.dev_accounts as u32).map(keys::dev_key).collect();
        }
        Ok(k.clone())
    })
    .map_err(|e| Error::Other(e.to_string()))
}

/// The header of the store's block 0, if it has blocks, after checking that it is of
/// chain `chain_id` (a data directory never silently changes chains).
pub fn check_chain(store: &Store, chain_id: u64) -> Result<Option<Header>> {
    if store.head().blocks == 0 {
        return Ok(None);
    }
    let genesis = store
        .block_by_height(0)?
        .ok_or_else(|| Error::Other("the data directory has no genesis block".into()))?;
    let header = Header::decode(&genesis.header)
        .ok_or_else(|| Error::Other("malformed genesis header".into()))?;
    if header.chain_id != chain_id {
        return Err(Error::Other(format!(
            "the data directory holds chain {}, not chain {chain_id}: use its chain id or another data directory",
            header.chain_id
        )));
    }
    Ok(Some(header))
}

/// The state root of block 0 of a chain whose genesis funds `accounts`: the lattice
/// hash of exactly those account entries (the state is empty before).
pub fn genesis_root(accounts: &[(Address, u128)]) -> [u8; 32] {
    let mut l = supervm_store::LtHash::zero();
    for (key, value) in &genesis_writes(accounts) {
        if let Some(v) = value {
            l.add_entry(key, v);
        }
    }
    l.root()
}

/// Block 0's writes: each account at nonce 0 with its balance (an address given twice
/// is funded once, with its last balance).
fn genesis_writes(accounts: &[(Address, u128)]) -> WriteSet {
    let mut writes = WriteSet::new();
    for (a, balance) in accounts {
        let account = Account {
            nonce: 0,
            balance: *balance,
        };
        writes.insert(account_key(a), Some(account.encode()));
    }
    writes
}

/// Commits block 0 funding `accounts`, unless the store already has blocks; then
/// checks that the stored genesis is of chain `chain_id` and, when `accounts` are
/// given, funded exactly them (a genesis file changed after the chain began is refused,
/// not ignored; a restart may omit it). `dev`: the accounts are the dev keys' (for the
/// message).
pub fn ensure_genesis(
    store: &Arc<Store>,
    chain_id: u64,
    accounts: Option<&[(Address, u128)]>,
    dev: bool,
) -> Result<()> {
    if let Some(header) = check_chain(store, chain_id)? {
        let Some(accounts) = accounts else {
            return Ok(());
        };
        let want = genesis_root(accounts);
        if header.state_root != want {
            return Err(Error::Other(if dev {
                "this dev chain's dev-keys.json no longer holds the keys its genesis funded: \
                 restore the file, or move the data directory's store aside to start a new \
                 dev chain"
                    .to_string()
            } else {
                format!(
                    "the data directory's chain began with other genesis accounts than these \
                     (its block 0 state root {}, these accounts' {}): start it with the \
                     genesis it began with (or without --genesis), or use another data \
                     directory",
                    to_hex(&header.state_root),
                    to_hex(&want)
                )
            }));
        }
        return Ok(());
    }
    let Some(accounts) = accounts else {
        return Err(Error::Other(
            "a new chain needs its genesis accounts: give --genesis FILE".into(),
        ));
    };
    // Fees are burned and nothing else creates native value, so no balance can overflow
    // while the whole supply fits in a u128 (the fee arithmetic relies on it).
    if accounts
        .iter()
        .try_fold(0u128, |total, (_, b)| total.checked_add(*b))
        .is_none()
    {
        return Err(Error::Other(
            "the genesis balances add up to more than u128::MAX: the native supply must fit in a u128".into(),
        ));
    }
    let writes = genesis_writes(accounts);
    let mut staging = Staging::new(store.clone());
    staging.stage_block(&writes, |state_root| {
        let header = Header {
            height: 0,
            parent_hash: [0; 32],
            timestamp_ms: 0,
            chain_id,
            tx_root: *blake3::hash(b"").as_bytes(),
            receipts_root: *blake3::hash(b"").as_bytes(),
            state_root,
            tx_count: 0,
            gas_used: 0,
        };
        BlockRecord {
            height: 0,
            hash: header.hash(),
            state_root,
            header: header.encode(),
            txs: vec![],
            events: vec![],
        }
    })?;
    store.commit(staging.seal().expect("genesis block staged"))?;
    Ok(())
}

/// The accounts of a genesis file.
pub fn read_genesis_file(path: &std::path::Path) -> Result<Vec<(Address, u128)>> {
    let b = std::fs::read(path).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    let g: GenesisFile =
        serde_json::from_slice(&b).map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    let mut seen = std::collections::HashSet::new();
    g.accounts
        .iter()
        .map(|a| {
            let addr = from_hex32(&a.address).map_err(Error::Other)?;
            let bal = a
                .balance
                .parse::<u128>()
                .map_err(|e| Error::Other(format!("balance {}: {e}", a.balance)))?;
            // (one balance would silently replace the other)
            if !seen.insert(addr) {
                return Err(Error::Other(format!(
                    "{}: account {} is listed twice",
                    path.display(),
                    a.address
                )));
            }
            Ok((Address(addr), bal))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use supervm_store::StoreConfig;

    /// A genesis file listing an account twice is refused (one balance would silently
    /// replace the other), naming it; the same address spelled differently counts.
    #[test]
    fn a_genesis_file_lists_each_account_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        let a = format!("0x{}", "ab".repeat(32));
        let same = "AB".repeat(32);
        std::fs::write(
            &path,
            format!(
                r#"{{"accounts":[{{"address":"{a}","balance":"5"}},{{"address":"0x{}","balance":"6"}},{{"address":"{same}","balance":"7"}}]}}"#,
                "cd".repeat(32)
            ),
        )
        .unwrap();
        let e = read_genesis_file(&path).unwrap_err().to_string();
        assert!(e.contains("listed twice") && e.contains(&same), "{e}");
        std::fs::write(
            &path,
            format!(r#"{{"accounts":[{{"address":"{a}","balance":"5"}}]}}"#),
        )
        .unwrap();
        assert_eq!(
            read_genesis_file(&path).unwrap(),
            [(Address([0xab; 32]), 5u128)]
        );
    }

    #[test]
    fn a_data_directory_keeps_its_chain_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap().0);
        let funded = [(Address([1; 32]), 1_000u128)];
        ensure_genesis(&store, 7, Some(&funded), false).unwrap();
        assert_eq!(store.head().blocks, 1);
        // Restarting with the same chain id is fine (no second genesis).
        ensure_genesis(&store, 7, Some(&funded), false).unwrap();
        assert_eq!(store.head().blocks, 1);
        let e = ensure_genesis(&store, 8, Some(&funded), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds chain 7, not chain 8"), "{e}");
    }

    /// A genesis whose balances add up past u128::MAX is refused before anything is
    /// written (a credit could overflow); one of exactly u128::MAX in all is a chain.
    #[test]
    fn the_genesis_supply_must_fit_in_a_u128() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreConfig::default()).unwrap().0);
        let over = [(Address([1; 32]), u128::MAX), (Address([2; 32]), 1)];
        let e = ensure_genesis(&store, 7, Some(&over), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than u128::MAX"), "{e}");
        assert_eq!(store.head().blocks, 0);
        let exact = [(Address([1; 32]), u128::MAX - 1), (Address([2; 32]), 1)];
        ensure_genesis(&store, 7, Some(&exact), false).unwrap();
        assert_eq!(store.head().blocks, 1);
    }
}

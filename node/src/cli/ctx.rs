//! The settings every client command shares (node URL, output form, key files), and
//! how key names and addresses are looked up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use supervm_client::keys::{self, KeyEntry};
use supervm_client::views::from_hex32;
use supervm_vm::Address;

pub(super) fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

pub(super) fn default_dev_dir() -> PathBuf {
    home().join(".supervm").join("dev")
}

/// The dev keys a dev node in the default directory wrote, searched after the key file.
pub(super) fn dev_keys_file() -> PathBuf {
    default_dev_dir().join("dev-keys.json")
}

pub(super) struct Ctx {
    pub(super) rpc: String,
    pub(super) json: bool,
    pub(super) keys: PathBuf,
    /// Whether the key file was named (`--keys`, `SUPERVM_KEYS`): then it must exist.
    pub(super) keys_named: bool,
    pub(super) expect_chain_id: Option<u64>,
    pub(super) max_gas_price: Option<u64>,
}

impl Ctx {
    pub(super) fn all_keys(&self) -> Result<Vec<KeyEntry>> {
        // (a mistyped --keys must not quietly sign with the dev keys instead)
        if self.keys_named && !self.keys.exists() {
            bail!(
                "key file {} does not exist (`supervm keys new NAME` with the same --keys \
                 creates it)",
                self.keys.display()
            );
        }
        let mut k = keys::load(&self.keys)?;
        k.extend(keys::load(&dev_keys_file())?);
        // The well-known dev keys, under names no file uses: any dev node's accounts,
        // whatever its data directory. A fallback: a file's key of the same name (the
        // default dev directory's own, from before the keys were well-known, or a
        // user's key so named before `keys new` refused such names) is the one meant.
        for i in 0..keys::DEV_KEYS {
            let dev = keys::dev_key(i);
            if !k.iter().any(|e| e.name == dev.name) {
                k.push(dev);
            }
        }
        Ok(k)
    }

    pub(super) fn key(&self, name: &str) -> Result<KeyEntry> {
        let all = self.all_keys()?;
        // (the key file and the dev keys may each hold a key of that name, when one of
        // them was written after the other: neither may silently win)
        if names_of(&all).get(name) == Some(&None) {
            let named: Vec<&str> = all
                .iter()
                .filter(|e| e.name == name)
                .map(|e| e.address.as_str())
                .collect();
            bail!(
                "key name {name} is ambiguous: keys {} share it (key files: {} and {}); give \
                 the address instead",
                named.join(", "),
                self.keys.display(),
                dev_keys_file().display()
            );
        }
        Ok(keys::find(&all, name)
            .with_context(|| {
                format!(
                    "key files: {} and {}",
                    self.keys.display(),
                    dev_keys_file().display()
                )
            })?
            .clone())
    }

    /// Every key's address by name ([`names_of`]), for `Address` arguments given by
    /// key name.
    pub(super) fn key_names(&self) -> Result<BTreeMap<String, Option<[u8; 32]>>> {
        Ok(names_of(&self.all_keys()?))
    }

    pub(super) fn address(&self, s: &str) -> Result<Address> {
        match from_hex32(s) {
            Ok(a) => return Ok(Address(a)),
            // (a mistyped address is not a key name: say what is wrong with it)
            Err(e) if s.starts_with("0x") => bail!("address {s}: {e}"),
            Err(_) => {}
        }
        Ok(self.key(s)?.address()?)
    }

    /// Refuses to sign for a chain id or at a gas price the user ruled out
    /// (`--expect-chain-id`, `--max-gas-price`): a wrong or hostile node must not pick
    /// the chain a signature is valid on, nor the fee.
    pub(super) fn check_node_terms(&self, chain_id: u64, gas_price: u64) -> Result<()> {
        if let Some(expected) = self.expect_chain_id
            && chain_id != expected
        {
            bail!(
                "the node at {} is on chain {chain_id}, not {expected} (--expect-chain-id): nothing signed",
                self.rpc
            );
        }
        if let Some(max) = self.max_gas_price
            && gas_price > max
        {
            bail!(
                "the node at {} asks gas price {gas_price}, over --max-gas-price {max}: nothing signed",
                self.rpc
            );
        }
        Ok(())
    }

    pub(super) fn print(&self, v: &Value, text: impl FnOnce() -> String) {
        use std::io::Write;
        let out = if self.json {
            serde_json::to_string_pretty(v).unwrap_or_default()
        } else {
            text()
        };
        // (a reader that stopped reading, `supervm events | head`, is not an error)
        let _ = writeln!(std::io::stdout(), "{out}");
    }
}

/// Every key's address by name; a name two keys share maps to `None` (ambiguous:
/// refused wherever it is used).
pub(super) fn names_of(keys: &[KeyEntry]) -> BTreeMap<String, Option<[u8; 32]>> {
    let mut names: BTreeMap<String, Option<[u8; 32]>> = BTreeMap::new();
    for e in keys {
        let a = from_hex32(&e.address).ok();
        names
            .entry(e.name.clone())
            .and_modify(|b| {
                if *b != a {
                    *b = None;
                }
            })
            .or_insert(a);
    }
    names
}

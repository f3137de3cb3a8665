//! Key files: a JSON array of named ed25519 keys, as `supervm keys` and `supervm node
//! --dev` write them.
//!
//! ```json
//! [{"name": "alice", "address": "0x…", "secret": "0x…"}]
//! ```

use std::path::Path;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use supervm_abi::Address;

use crate::{Error, Result, views::to_hex};

/// One named key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Name.
    pub name: String,
    /// Address (public key).
    pub address: String,
    /// Secret seed (32 bytes hex). Keep the file private.
    pub secret: String,
}

impl KeyEntry {
    /// A fresh random key.
    pub fn generate(name: &str) -> Self {
        Self::from_signing_key(name, &SigningKey::generate(&mut rand_core::OsRng))
    }

    /// The entry of a given key.
    pub fn from_signing_key(name: &str, key: &SigningKey) -> Self {
        KeyEntry {
            name: name.to_string(),
            address: to_hex(key.verifying_key().as_bytes()),
            secret: to_hex(&key.to_bytes()),
        }
    }

    /// The signing key.
    pub fn signing_key(&self) -> Result<SigningKey> {
        let b = crate::views::from_hex32(&self.secret).map_err(Error::Keys)?;
        Ok(SigningKey::from_bytes(&b))
    }

    /// The address.
    pub fn address(&self) -> Result<Address> {
        Ok(address_of(&self.signing_key()?))
    }
}

/// How many well-known development keys there are ([`dev_key`]): the accounts a dev
/// chain funds.
pub const DEV_KEYS: u32 = 8;

/// Well-known development key `i` (named `dev{i}`), the same on every machine, as
/// Anvil's and Hardhat's accounts are: its secret is the blake3 key derived from `i`
/// under a published context, so anyone can sign with it. A dev chain funds these, so
/// every dev node, whatever its data directory, has the same dev accounts, and the CLI
/// finds them without a key file. Never for value.
pub fn dev_key(i: u32) -> KeyEntry {
    let secret = blake3::derive_key("supervm 2026 well-known dev key", &i.to_le_bytes());
    KeyEntry::from_signing_key(&format!("dev{i}"), &SigningKey::from_bytes(&secret))
}

/// Whether `key` is one of the well-known development keys ([`dev_key`]), under any
/// name.
pub fn is_dev_key(key: &KeyEntry) -> bool {
    (0..DEV_KEYS).any(|i| {
        crate::views::from_hex32(&dev_key(i).secret) == crate::views::from_hex32(&key.secret)
    })
}

/// The account address of a key: its ed25519 public key.
pub fn address_of(key: &SigningKey) -> Address {
    Address(key.verifying_key().to_bytes())
}

/// Reads a key file (a missing file is an empty list). Every entry's address must be
/// its secret's (an edited file whose address belongs to another key would otherwise
/// be found by one address and sign as another).
pub fn load(path: &Path) -> Result<Vec<KeyEntry>> {
    let keys: Vec<KeyEntry> = match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Keys(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::Keys(format!("{}: {e}", path.display()))),
    };
    for k in &keys {
        let named = crate::views::from_hex32(&k.address).map_err(|e| {
            Error::Keys(format!("{}: key {}: address: {e}", path.display(), k.name))
        })?;
        let actual = k
            .address()
            .map_err(|e| Error::Keys(format!("{}: key {}: secret: {e}", path.display(), k.name)))?;
        if named != actual.0 {
            return Err(Error::Keys(format!(
                "{}: key {}: its address {} is not its secret's ({})",
                path.display(),
                k.name,
                k.address,
                to_hex(&actual.0)
            )));
        }
    }
    Ok(keys)
}

/// Writes a key file (mode 0600 on unix, from its creation), replacing it atomically
/// and durably: written to a new temporary file beside it (never an existing one or
/// what a link points to), synced, renamed over the old file, the directory synced.
fn save(path: &Path, keys: &[KeyEntry]) -> Result<()> {
    use std::io::Write;
    let (dir, file_name) = dir_and_name(path)?;
    let body = serde_json::to_vec_pretty(keys).map_err(|e| Error::Keys(e.to_string()))?;
    #[allow(clippy::disallowed_methods)] // a unique temporary name, not a timestamp
    let nanos = std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut f = options.open(&tmp)?;
        f.write_all(&body)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(&tmp, e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(path, e));
    }
    // (the rename itself survives a crash once the directory is synced)
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An I/O error about `p` as a key-file error.
fn err(p: &Path, e: std::io::Error) -> Error {
    Error::Keys(format!("{}: {e}", p.display()))
}

/// The directory of a key file (created if missing) and the file's name.
fn dir_and_name(path: &Path) -> Result<(std::path::PathBuf, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keys".into());
    Ok((dir, file_name))
}

/// Changes a key file under an exclusive lock (`.<file>.lock` beside it, held while
/// `f` runs): loads it, lets `f` change the keys, saves them if `f` succeeded and
/// changed them (a file that needs no change is not rewritten, so a bind-mounted or
/// read-only one works; its directory must take the lock file). Two
/// processes adding keys at once both keep theirs (each read-modify-write of its own
/// would otherwise save over the other's, losing a key that may already hold funds).
pub fn update<R>(path: &Path, f: impl FnOnce(&mut Vec<KeyEntry>) -> Result<R>) -> Result<R> {
    let (dir, file_name) = dir_and_name(path)?;
    let lock_path = dir.join(format!(".{file_name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| err(&lock_path, e))?;
    lock.lock().map_err(|e| err(&lock_path, e))?;
    let mut keys = load(path)?;
    let before = keys.clone();
    let r = f(&mut keys)?;
    if keys != before {
        save(path, &keys)?;
    }
    // (the lock is released when `lock` closes)
    Ok(r)
}

/// Finds a key by name or by address (any case, with or without `0x`).
pub fn find<'a>(keys: &'a [KeyEntry], name_or_address: &str) -> Result<&'a KeyEntry> {
    let as_address = crate::views::from_hex32(name_or_address).ok();
    keys.iter()
        .find(|k| {
            k.name == name_or_address
                || as_address.is_some_and(|a| crate::views::from_hex32(&k.address) == Ok(a))
        })
        .ok_or_else(|| Error::Keys(format!("no key named {name_or_address}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dev keys are fixed: a change would fund other accounts on new dev chains
    /// than the CLI signs with by name.
    #[test]
    fn dev_keys_are_well_known() {
        let k = dev_key(0);
        assert_eq!(k.name, "dev0");
        assert_eq!(k, dev_key(0));
        assert_ne!(k.address, dev_key(1).address);
        assert_eq!(
            k.address, "0x0b7fd1037e7d285a216dd083c726ea0871d0ef4491875b57d16bd5367eaa78a4",
            "dev0's address changed"
        );
        assert!(is_dev_key(&dev_key(DEV_KEYS - 1)));
        assert!(!is_dev_key(&dev_key(DEV_KEYS)));
        assert!(!is_dev_key(&KeyEntry::generate("dev0")));
    }

    /// Guards against: two `keys new` at once each loading the file, adding a key and
    /// saving, so the later save drops the other's key. Under `update`'s lock every
    /// key added by concurrent writers is kept.
    #[test]
    fn concurrent_updates_keep_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::thread::scope(|s| {
            for t in 0..8 {
                let path = &path;
                s.spawn(move || {
                    for i in 0..4 {
                        update(path, |k| {
                            k.push(KeyEntry::generate(&format!("k{t}-{i}")));
                            Ok(())
                        })
                        .unwrap();
                    }
                });
            }
        });
        let keys = load(&path).unwrap();
        assert_eq!(keys.len(), 32, "every concurrently added key is kept");
        // A failing change saves nothing.
        let r: Result<()> = update(&path, |k| {
            k.clear();
            Err(Error::Keys("no".into()))
        });
        assert!(r.is_err());
        assert_eq!(load(&path).unwrap().len(), 32);
        // A change that changes nothing does not rewrite the file (a save renames a new
        // file over it: another inode).
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let inode = || std::fs::metadata(&path).unwrap().ino();
            let before = inode();
            assert_eq!(update(&path, |k| Ok(k.len())).unwrap(), 32);
            assert_eq!(inode(), before, "an unchanged key file was rewritten");
            update(&path, |k| {
                k.pop();
                Ok(())
            })
            .unwrap();
            assert_ne!(inode(), before);
        }
    }

    /// A key file round-trips with mode 0600 and no temporary file left beside it; an
    /// entry whose address is not its secret's is refused at load; a key is found by
    /// name or by its address in any case, with or without `0x`.
    #[test]
    fn key_files_are_private_consistent_and_found_by_any_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let alice = KeyEntry::from_signing_key("alice", &SigningKey::from_bytes(&[1; 32]));
        let bob = KeyEntry::from_signing_key("bob", &SigningKey::from_bytes(&[2; 32]));
        save(&path, &[alice.clone(), bob.clone()]).unwrap();
        assert_eq!(load(&path).unwrap(), [alice.clone(), bob.clone()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["keys.json"]);
        let keys = load(&path).unwrap();
        let bare = alice.address.strip_prefix("0x").unwrap().to_string();
        for spelling in [
            "alice".to_string(),
            alice.address.clone(),
            bare.clone(),
            bare.to_uppercase(),
            format!("0x{}", bare.to_uppercase()),
        ] {
            assert_eq!(find(&keys, &spelling).unwrap().name, "alice", "{spelling}");
        }
        assert!(find(&keys, "carol").is_err());
        // bob's address with alice's secret: found by bob's address, it would sign as
        // alice.
        let mixed = KeyEntry {
            name: "mixed".into(),
            address: bob.address.clone(),
            secret: alice.secret.clone(),
        };
        std::fs::write(&path, serde_json::to_vec(&[mixed]).unwrap()).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("is not its secret's"), "{err}");
    }
}

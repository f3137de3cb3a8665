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

/// The account address of a key: its ed25519 public key.
pub fn address_of(key: &SigningKey) -> Address {
    Address(key.verifying_key().to_bytes())
}

/// Reads a key file (a missing file is an empty list).
pub fn load(path: &Path) -> Result<Vec<KeyEntry>> {
    match std::fs::read(path) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| Error::Keys(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(Error::Keys(format!("{}: {e}", path.display()))),
    }
}

/// Writes a key file (mode 0600 on unix), replacing it atomically.
pub fn save(path: &Path, keys: &[KeyEntry]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Keys(format!("{}: {e}", dir.display())))?;
    }
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(keys).map_err(|e| Error::Keys(e.to_string()))?;
    std::fs::write(&tmp, body).map_err(|e| Error::Keys(format!("{}: {e}", tmp.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::Keys(format!("{}: {e}", path.display())))
}

/// Finds a key by name or address.
pub fn find<'a>(keys: &'a [KeyEntry], name_or_address: &str) -> Result<&'a KeyEntry> {
    keys.iter()
        .find(|k| k.name == name_or_address || k.address == name_or_address)
        .ok_or_else(|| Error::Keys(format!("no key named {name_or_address}")))
}

//! Transactions still queued in the mempool when the node stops are written to
//! `<data dir>/mempool-pending.bin` and admitted again, through the normal checks, when
//! it starts: a clean restart loses no accepted transaction. (A crash still loses the
//! mempool, as in other nodes; submit with `wait` to know a transaction committed.)
//!
//! Format: for each transaction, its signed encoding's length as u32 little-endian,
//! then the encoding. Written to a temporary file and renamed, so a crash while
//! writing leaves the previous file or none.

use std::path::{Path, PathBuf};

use crate::chain::Chain;
use crate::error::Error;

const FILE: &str = "mempool-pending.bin";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Writes `txs` (or removes the file when there are none).
pub fn save(data_dir: &Path, txs: &[Vec<u8>]) -> std::io::Result<()> {
    let p = path(data_dir);
    if txs.is_empty() {
        return match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut bytes = Vec::with_capacity(txs.iter().map(|t| t.len() + 4).sum());
    for t in txs {
        bytes.extend_from_slice(&(t.len() as u32).to_le_bytes());
        bytes.extend_from_slice(t);
    }
    let tmp = p.with_extension("tmp");
    let written = std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &p));
    if written.is_err() {
        // (a full disk leaves no empty temporary file behind)
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // (the rename itself made durable: a power loss after a stop keeps the file; the
    // file is in place either way, so a failure here loses nothing a restart needs)
    if let Err(e) = std::fs::File::open(data_dir).and_then(|d| d.sync_all()) {
        tracing::warn!(error = %e, "the saved transactions' directory could not be synced");
    }
    Ok(())
}

/// Parses the file's contents; a truncated tail is ignored.
fn parse(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while bytes.len() >= 4 {
        let n = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
        let Some(t) = bytes.get(4..4 + n) else {
            break;
        };
        out.push(t.to_vec());
        bytes = &bytes[4 + n..];
    }
    out
}

/// Admits the saved transactions again and removes the file. Returns (admitted,
/// refused); a refused one (its nonce was used meanwhile, it expired, ...) is logged
/// and, unless it is already in a block, recorded as dropped with the reason: it was
/// acknowledged as pending, so `tx.get` says what became of it instead of `unknown`.
pub fn restore(chain: &Chain) -> (usize, usize) {
    let p = path(&chain.config.data_dir);
    let Ok(bytes) = std::fs::read(&p) else {
        return (0, 0);
    };
    let (mut admitted, mut refused) = (0, 0);
    for raw in parse(&bytes) {
        // (decoded a second time only to name a transaction the checks refused)
        let (hash, r) = match chain.check_stateless(&raw) {
            Ok((tx, hash)) => (Some(hash), chain.admit(tx, hash, raw)),
            Err(e) => {
                let hash = supervm_client::SignedTx::decode(&raw)
                    .ok()
                    .map(|t| t.hash());
                (hash, Err(e))
            }
        };
        match r {
            Ok(()) => admitted += 1,
            Err(e) => {
                refused += 1;
                tracing::warn!(error = %e, "a transaction saved at shutdown was not admitted again");
                if let Some(hash) = hash
                    && !matches!(e, Error::AlreadyCommitted { .. } | Error::AlreadyKnown)
                {
                    chain
                        .mempool
                        .note_dropped(hash, format!("not admitted again at restart: {e}"));
                }
            }
        }
    }
    if let Err(e) = std::fs::remove_file(&p) {
        tracing::warn!(error = %e, "could not remove {}", p.display());
    }
    (admitted, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncated_tail() {
        let dir = tempfile::tempdir().unwrap();
        let txs = vec![vec![1, 2, 3], vec![], vec![9; 300]];
        save(dir.path(), &txs).unwrap();
        let bytes = std::fs::read(path(dir.path())).unwrap();
        assert_eq!(parse(&bytes), txs);
        assert_eq!(parse(&bytes[..bytes.len() - 1]), txs[..2].to_vec());
        save(dir.path(), &[]).unwrap();
        assert!(!path(dir.path()).exists());
        save(dir.path(), &[]).unwrap(); // no file: still fine
    }
}

//! Starting and stopping a node: open (and recover) the store, write genesis, start
//! the block pipeline and the JSON-RPC server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use supervm_store::{Store, StoreConfig};
use supervm_vm::Address;

use crate::chain::Chain;
use crate::config::NodeConfig;
use crate::genesis;
use crate::producer::Pipeline;
use crate::{Error, Result};

/// A running node.
pub struct RunningNode {
    /// Shared state (for in-process tests and tools).
    pub chain: Arc<Chain>,
    /// The address JSON-RPC listens on.
    pub addr: SocketAddr,
    pipeline: Option<Pipeline>,
    server: tokio::task::JoinHandle<()>,
    stop_server: tokio::sync::oneshot::Sender<()>,
}

impl std::fmt::Debug for RunningNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningNode")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Whether opening the store failed on RocksDB's lock file being held (by another
/// process, or by a store this process has open), not on its permissions.
fn lock_held(e: &supervm_store::Error) -> bool {
    let text = e.to_string();
    text.contains("/LOCK: ")
        && (text.contains("Resource temporarily unavailable")
            || text.contains("lock hold by current process"))
}

/// Starts a node. `genesis` funds accounts on a fresh non-dev chain; in dev mode the
/// dev accounts are funded (their keys are written to `<data dir>/dev-keys.json`).
pub async fn start(
    config: NodeConfig,
    genesis_accounts: Option<Vec<(Address, u128)>>,
) -> Result<RunningNode> {
    // The port first: a taken one is said before the store is opened and recovered,
    // and before anything is written. Bound, not yet listening: until the node serves,
    // connections are refused (a TCP readiness probe does not pass during recovery).
    let listen = config.listen;
    let bound = bind(listen).map_err(|e| Error::Other(format!("listen on {listen}: {e}")))?;
    let store_dir = config.data_dir.join("store");
    // (a new chain without its genesis is refused before the store is made: it would
    // fix the shard count of the start that gives it)
    if !config.dev && genesis_accounts.is_none() && !store_dir.exists() {
        return Err(Error::Other(
            "a new chain needs its genesis accounts: give --genesis FILE".into(),
        ));
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| Error::Other(format!("{}: {e}", config.data_dir.display())))?;
    let open_files = raise_open_files_limit();
    let store_config = StoreConfig {
        shards: config.shards,
        durability: config.durability,
        history_blocks: config.history_blocks,
        max_open_files: open_files.map(store_open_files),
        fail: config.store_fail.as_ref().map(|h| h.0.clone()),
        ..StoreConfig::default()
    };
    #[allow(clippy::disallowed_methods)] // (how long the open took, for the log)
    let opening = std::time::Instant::now();
    let (store, recovery) = match Store::open(&store_dir, store_config.clone()) {
        // A dev chain is disposable: one in a store format this build does not read is
        // moved aside (nothing is deleted) and a new dev chain starts. Any other node
        // refuses to start, naming both formats, as does `--dev` on a directory that
        // is not a dev chain's (it has no dev keys).
        Err(supervm_store::Error::FormatMismatch {
            found, expected, ..
        }) if config.dev && genesis::dev_keys_path(&config).exists() => {
            let aside = (1..)
                .map(|i| {
                    let suffix = if i == 1 {
                        String::new()
                    } else {
                        format!(".{i}")
                    };
                    config
                        .data_dir
                        .join(format!("store.format-{found}{suffix}"))
                })
                .find(|p| !p.exists())
                .expect("a free name");
            std::fs::rename(&store_dir, &aside)
                .map_err(|e| Error::Other(format!("move {} aside: {e}", store_dir.display())))?;
            tracing::warn!(
                "dev chain: {} is in store format {found} and this build reads format {expected}; moved it to {} and starting a new dev chain",
                store_dir.display(),
                aside.display()
            );
            Store::open(&store_dir, store_config)?
        }
        // (`--dev` on a directory that is not a dev chain's: say why it was not moved aside)
        Err(e @ supervm_store::Error::FormatMismatch { .. }) if config.dev => {
            return Err(Error::Other(format!(
                "{e} (not moved aside for a new dev chain: {} has no dev-keys.json, so it is \
                 not a dev chain's directory)",
                config.data_dir.display()
            )));
        }
        // (RocksDB's lock file, held by another process or by this one: say what it means)
        Err(e) if lock_held(&e) => {
            return Err(Error::Other(format!(
                "the data directory {} is in use by another process or node: {e}",
                config.data_dir.display()
            )));
        }
        other => other?,
    };
    if recovery.changed_state() {
        tracing::warn!(
            seconds = opening.elapsed().as_secs_f64(),
            "recovered the store: redone {} batches{}, rolled back {:?}{}",
            recovery.redone.len(),
            match (recovery.redone.first(), recovery.redone.last()) {
                (Some(a), Some(b)) => format!(" ({a}..={b})"),
                _ => String::new(),
            },
            recovery.rolled_back,
            recovery.taken_back.map_or(String::new(), |b| format!(
                " (batch {b}'s decision taken back: a shard never prepared it)"
            ))
        );
    }
    let store = Arc::new(store);
    // (before the dev keys are made or shown: `--dev` on another chain's directory)
    let began = genesis::check_chain(&store, config.chain_id)?.is_some();
    let dev_keys = if config.dev {
        Some(genesis::dev_keys(&config, began)?)
    } else {
        None
    };
    let funded = match &dev_keys {
        Some(keys) => {
            let mut out = Vec::new();
            for k in keys {
                out.push((
                    k.address().map_err(|e| Error::Other(e.to_string()))?,
                    config.dev_balance,
                ));
            }
            Some(out)
        }
        None => genesis_accounts,
    };
    genesis::ensure_genesis(&store, config.chain_id, funded.as_deref(), config.dev)?;
    if let Some(keys) = &dev_keys {
        let path = genesis::dev_keys_path(&config);
        // (a dev chain made before the dev keys were well-known keeps its own: the CLI
        // finds those by name only in the default directory or with --keys)
        let whose = if keys.iter().all(supervm_client::keys::is_dev_key) {
            "the well-known dev keys, which the CLI knows by name".to_string()
        } else {
            format!(
                "this chain's own, made before the dev keys were well-known: the CLI finds \
                 them by name in ~/.supervm/dev, elsewhere give it --keys {}",
                path.display()
            )
        };
        eprintln!(
            "dev chain {} — dev accounts, address and secret key (also in {}; {whose}; \
             dev keys only, never for value):",
            config.chain_id,
            path.display()
        );
        for k in keys {
            eprintln!("  {:<6} {}  secret {}", k.name, k.address, k.secret);
        }
    }
    let chain = Arc::new(Chain::new(config, store)?);
    // Everything that can still fail comes before the saved transactions are restored
    // (which deletes their file) and the pipeline starts: a start that fails here
    // leaves the file for the next one and no pipeline behind.
    let app = crate::methods::router(chain.clone())?;
    let listener = bound
        .listen(1024)
        .map_err(|e| Error::Other(format!("listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Other(e.to_string()))?;
    let (restored, refused) = crate::pending_file::restore(&chain);
    if restored + refused > 0 {
        crate::logging::lifecycle(&format!(
            "mempool: {restored} transactions saved at the last stop admitted again ({refused} refused)"
        ));
    }
    let pipeline = Pipeline::start(chain.clone());
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut conn_limits = chain.config.rpc_connections;
    if let Some(limit) = open_files {
        let cap = connection_cap(conn_limits.max_connections, limit);
        if cap < conn_limits.max_connections {
            tracing::warn!(
                open_files = limit,
                configured = conn_limits.max_connections,
                serving = cap,
                "rpc: the open-files limit leaves room for fewer connections (raise `ulimit -n`)"
            );
            conn_limits.max_connections = cap;
        }
    }
    let server = tokio::spawn(crate::rpc::serve(listener, app, conn_limits, stopped));
    // (with its time, as the log's lines, whatever RUST_LOG says)
    crate::logging::lifecycle(&format!(
        "supervm node: chain {} at height {}, JSON-RPC on http://{addr} (rpc.discover lists the methods); {} shards, durability {}, {}",
        chain.config.chain_id,
        chain.latest_height().unwrap_or(0),
        chain.config.shards,
        chain.config.durability.name(),
        match chain.config.history_blocks {
            Some(n) => format!("state kept for the last {n} blocks"),
            None => "archival".into(),
        }
    ));
    Ok(RunningNode {
        chain,
        addr,
        pipeline: Some(pipeline),
        server,
        stop_server,
    })
}

impl RunningNode {
    /// Stops cleanly: no new transactions, the producer seals what it has, the
    /// committer commits it, transactions still queued (and, if the pipeline halted on a
    /// failed commit, those of the failed batches) are saved for the next start
    /// (`pending_file`), the server stops, the store closes.
    pub async fn stop(mut self) -> Stopped {
        self.chain.stopping.store(true, Ordering::Relaxed);
        self.chain.mempool.wake();
        if let Some(p) = self.pipeline.take() {
            let _ = tokio::task::spawn_blocking(move || p.join()).await;
        }
        // What the producer did not take stays accepted: saved, admitted again at start.
        // So do transactions of batches whose commit failed (the pipeline halted): if the
        // batch was decided after all, they are refused at start as already committed.
        // (closing refuses admissions still in flight, so none is acknowledged and lost)
        let queued = self.chain.mempool.close();
        let mut stopped = Stopped::default();
        match crate::pending_file::save(&self.chain.config.data_dir, &queued) {
            Ok(()) => self.chain.mempool.mark_saved(true),
            Err(e) => {
                tracing::error!(error = %e, "could not save {} queued transactions", queued.len());
                stopped.unsaved = Some((queued.len(), e.to_string()));
                self.chain.mempool.mark_saved(false);
            }
        }
        // (waiting `tx.submit`s answer now, saying which: nothing more commits)
        self.chain.committed.send_modify(|_| {});
        let _ = self.stop_server.send(());
        let _ = self.server.await;
        // Connection tasks of the server may still hold the chain for a moment; the store
        // (and its RocksDB locks) closes when the last reference goes.
        for _ in 0..1000 {
            if Arc::strong_count(&self.chain) == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if Arc::strong_count(&self.chain) > 1 {
            tracing::warn!(
                "node stopped but the chain is still referenced; the store closes later"
            );
        }
        stopped
    }
}

/// What a stop could not do.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Accepted transactions still queued that could not be saved for the next start
    /// (how many, and why: a full disk): they are lost.
    pub unsaved: Option<(usize, String)>,
}

/// A socket bound to `addr` (address reuse as `TcpListener::bind` sets it), not yet
/// listening.
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let s = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    Ok(s)
}

/// Raises the process's soft limit on open files to its hard limit (RocksDB keeps its
/// table files open, and every RPC connection is a descriptor: at a soft limit of 1,024
/// a thousand connections made the store's next flush fail and halted the chain), and
/// returns the limit now in force.
fn raise_open_files_limit() -> Option<u64> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return None;
        }
        if r.rlim_cur < r.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: r.rlim_max,
                rlim_max: r.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                r.rlim_cur = r.rlim_max;
            }
        }
    }
    Some(r.rlim_cur)
}

/// The table files the store keeps open under an open-files limit of `open_files`: the
/// half connections do not get, less 256 for everything else (write-ahead logs, the
/// module cache, the pending-transactions file, logs).
fn store_open_files(open_files: u64) -> u64 {
    (open_files / 2).saturating_sub(256)
}

/// The RPC connections served at once under an open-files limit of `open_files`: at
/// most half of it, leaving the other half to the store.
fn connection_cap(configured: usize, open_files: u64) -> usize {
    configured.min(usize::try_from(open_files / 2).unwrap_or(usize::MAX).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The soft open-files limit is raised to the hard one, and connections get at most
    /// half of what it allows.
    #[test]
    fn open_files_are_raised_and_shared_with_the_store() {
        let limit = raise_open_files_limit().expect("getrlimit");
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(r.rlim_cur, r.rlim_max);
        assert_eq!(limit, r.rlim_cur);
        assert_eq!(connection_cap(1024, 1024), 512);
        assert_eq!(connection_cap(1024, 1 << 20), 1024);
        assert_eq!(connection_cap(1024, 1), 1);
        assert_eq!(store_open_files(1024), 256);
        assert_eq!(store_open_files(100), 0);
    }
}

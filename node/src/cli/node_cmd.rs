//! `supervm node`: starts a node and runs it until Ctrl-C or SIGTERM.

use anyhow::{Result, anyhow, bail};
use supervm_node::config::NodeConfig;
use supervm_store::Durability;

use super::NodeArgs;
use super::ctx::{default_dev_dir, home};

pub(super) async fn node(a: NodeArgs) -> Result<()> {
    supervm_node::logging::init("info");
    supervm_node::logging::lifecycle_to_stderr();
    let data_dir = a.data_dir.clone().unwrap_or_else(|| {
        if a.dev {
            default_dev_dir()
        } else {
            home().join(".supervm").join("node")
        }
    });
    let mut config = NodeConfig::dev(data_dir);
    config.dev = a.dev;
    if let Some(l) = a.listen {
        config.listen = l;
    }
    if let Some(s) = a.shards {
        config.shards = s;
    }
    if let Some(t) = a.threads {
        let max = supervm_parallel::MAX_THREADS;
        if !(1..=max).contains(&t) {
            bail!("--threads: 1 to {max}, got {t}");
        }
        config.threads = t;
    }
    if let Some(ms) = a.worker_linger_ms {
        config.worker_linger = std::time::Duration::from_millis(ms);
    }
    if let Some(d) = &a.durability {
        config.durability = Durability::parse(d)
            .ok_or_else(|| anyhow!("--durability: fsync, no-fsync or no-wal"))?;
        // (a crash of any kind loses a no-wal store whole, genesis included)
        if config.durability == Durability::NoWalUnrecoverableOnCrash && !a.dev {
            bail!(
                "--durability no-wal is for throwaway --dev chains: a crash of any kind \
                 loses the whole store; use fsync (default) or no-fsync"
            );
        }
        if config.durability != Durability::Fsync {
            tracing::warn!(
                durability = d.as_str(),
                "durability is not fsync: {}",
                if config.durability == Durability::NoWalUnrecoverableOnCrash {
                    "a crash of any kind loses the whole store"
                } else {
                    "a power loss or OS crash may lose the last committed batches"
                }
            );
        }
    }
    config.history_blocks = a.history_blocks;
    // (at least 1, by its parser: at 0 a flood would cost nothing)
    if let Some(p) = a.min_gas_price {
        config.gas_price = p;
    }
    let genesis = if a.dev {
        // (a dev chain has its own id and funds its dev keys: these would be ignored)
        if a.genesis.is_some() || a.chain_id.is_some() {
            bail!("--genesis and --chain-id are for non-dev chains; a --dev chain has its own");
        }
        None
    } else {
        config.chain_id = a.chain_id.ok_or_else(|| {
            anyhow!(
                "a non-dev node needs --chain-id N (and --genesis FILE to begin a chain; or \
                 use --dev)"
            )
        })?;
        // (the CLI signs with the well-known dev keys for this chain id only)
        if config.chain_id == supervm_node::config::DEV_CHAIN_ID {
            bail!(
                "--chain-id {} is the dev chain's (whose dev keys anyone can sign with); \
                 choose another",
                config.chain_id
            );
        }
        // (a restart may omit it; given, it must be the one the chain began with)
        a.genesis
            .as_deref()
            .map(supervm_node::genesis::read_genesis_file)
            .transpose()?
    };
    let running = supervm_node::node::start(config, genesis).await?;
    // Ctrl-C, or SIGTERM from a service manager (systemd, docker stop): both stop
    // cleanly, saving the mempool.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    supervm_node::logging::lifecycle("stopping: committing what is in flight ...");
    let stopped = running.stop().await;
    if let Some((n, why)) = stopped.unsaved {
        bail!(
            "stopped, but {n} accepted transactions still queued could not be saved for the \
             next start ({why}): they are lost, and their senders' next nonces are free again"
        );
    }
    supervm_node::logging::lifecycle("stopped cleanly");
    Ok(())
}

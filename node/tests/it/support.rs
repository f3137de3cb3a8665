//! Helpers: start nodes (in-process or as a real `supervm` process), sign transactions.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use supervm_client::keys::{self, KeyEntry};
use supervm_client::{Client, SignedTx, TxBody, TxPayload};
use supervm_node::config::DEV_CHAIN_ID;
use supervm_node::{NodeConfig, RunningNode};
use supervm_vm::Address;

/// Tests that start nodes hold this, so they do not compete for the two cores (the
/// load test measures query latency).
pub static NODE_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Dev config for a test node in `dir` on an ephemeral port.
pub fn dev_config(dir: &Path) -> NodeConfig {
    let mut c = NodeConfig::dev(dir.to_path_buf());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.dev_accounts = 4;
    c.block_wait = Duration::from_millis(20);
    c
}

/// Starts an in-process dev node.
pub async fn start(dir: &Path) -> RunningNode {
    start_with(dir, |_| {}).await
}

/// Starts an in-process dev node with `adjust` applied to its configuration.
pub async fn start_with(dir: &Path, adjust: impl FnOnce(&mut NodeConfig)) -> RunningNode {
    let mut config = dev_config(dir);
    adjust(&mut config);
    supervm_node::node::start(config, None)
        .await
        .expect("node starts")
}

/// Holds block production: from then on submitted transactions stay queued (the
/// producer checks the hold under the mempool's lock after any wait; the pause lets a
/// block it was already building finish).
pub async fn hold(node: &RunningNode) {
    node.chain.mempool.set_hold(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Waits (up to 10 s, else panics) until the node's mempool is empty: every transaction
/// submitted so far committed and left it.
pub async fn wait_mempool_empty(node: &RunningNode) {
    for _ in 0..1000 {
        if node.chain.mempool.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the mempool still holds {} transactions after 10 s",
        node.chain.mempool.len()
    );
}

/// The dev keys of a node's data directory.
pub fn dev_keys(dir: &Path) -> Vec<SigningKey> {
    keys::load(&dir.join("dev-keys.json"))
        .unwrap()
        .iter()
        .map(|k: &KeyEntry| k.signing_key().unwrap())
        .collect()
}

/// A signed transaction from `key`.
pub fn sign(key: &SigningKey, nonce: u64, payload: TxPayload) -> SignedTx {
    TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: keys::address_of(key),
        nonce,
        gas_limit: 50_000_000,
        gas_price: 1,
        expiry_height: 1_000_000,
        payload,
    }
    .sign(key)
}

/// Deploys the token contract from `key` with `nonce` at `salt`: name
/// "Test", symbol "TST", 6 decimals, the whole supply of 1,000,000 to `key`'s address.
pub fn deploy_token(key: &SigningKey, nonce: u64, salt: [u8; 32]) -> SignedTx {
    use supervm_abi::Encode;
    let owner = keys::address_of(key);
    let init = (
        "Test".to_string(),
        "TST".to_string(),
        6u8,
        owner,
        1_000_000u128,
    )
        .encode();
    sign(
        key,
        nonce,
        TxPayload::Deploy {
            code: supervm_client::DeployCode::Wasm(supervm_contracts::TOKEN.to_vec()),
            salt,
            init_args: init,
        },
    )
}

/// A native transfer.
pub fn transfer(key: &SigningKey, nonce: u64, to: Address, amount: u128) -> SignedTx {
    let mut t = TxBody {
        chain_id: DEV_CHAIN_ID,
        sender: keys::address_of(key),
        nonce,
        gas_limit: 10_000,
        gas_price: 1,
        expiry_height: 1_000_000,
        payload: TxPayload::Transfer { to, amount },
    };
    t.gas_limit = 10_000;
    t.sign(key)
}

/// A `supervm node --dev` child process.
pub struct NodeProcess {
    pub child: Child,
    pub url: String,
}

impl NodeProcess {
    /// Starts the real binary and waits until it answers.
    #[allow(clippy::zombie_processes)] // waited for in `interrupt`, `kill` or `Drop`
    pub async fn start(dir: &Path) -> NodeProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_supervm"))
            .args(["node", "--dev", "--data-dir"])
            .arg(dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            // (a flag the real binary must accept; 1 ms instead of the default 3)
            .args(["--worker-linger-ms", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn supervm");
        let url = format!("http://127.0.0.1:{port}");
        let c = Client::new(&url);
        for _ in 0..600 {
            if c.chain_info().await.is_ok() {
                return NodeProcess { child, url };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node did not answer within 60 s");
    }

    /// Ctrl-C (SIGINT) and wait for a clean exit.
    pub fn interrupt(self) {
        self.stop_with("-INT");
    }

    /// SIGTERM (what systemd and `docker stop` send); must stop as cleanly as Ctrl-C.
    pub fn terminate(self) {
        self.stop_with("-TERM");
    }

    fn stop_with(mut self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "node exited with {status}");
    }

    /// SIGKILL.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

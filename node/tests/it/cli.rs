//! The `supervm` CLI against a real node process: keys, deploy with constructor
//! arguments by name, invoke and simulate with decoded results and events, native
//! transfer, account, block and event queries, in `--json` mode.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::NodeProcess;

/// Runs the CLI with `--json` and returns its JSON output; it must exit with status 0,
/// or, given the argument `!fail` (removed before running), with a failure status.
fn cli(url: &str, keys: &Path, args: &[&str]) -> Value {
    let expect_failure = args.contains(&"!fail");
    let args: Vec<&str> = args.iter().copied().filter(|a| *a != "!fail").collect();
    let out = Command::new(env!("CARGO_BIN_EXE_supervm"))
        .args(&args)
        .arg("--json")
        .env("SUPERVM_RPC", url)
        .env("SUPERVM_KEYS", keys)
        .env("HOME", keys.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(
        out.status.success(),
        !expect_failure,
        "supervm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "supervm {args:?}: {e}: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deploys_invokes_and_queries() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path()).await;
    let url = node.url.clone();
    let keys = dir.path().join("dev-keys.json");
    let run = move |args: Vec<String>| {
        let (url, keys) = (url.clone(), keys.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
                cli(&url, &keys, &a)
            })
            .await
            .unwrap()
        }
    };
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let list = run(v(&["keys", "list"])).await;
    let dev0 = list[0]["address"].as_str().unwrap().to_string();
    let dev1 = list[1]["address"].as_str().unwrap().to_string();
    let new = run(v(&["keys", "new", "carol"])).await;
    assert_eq!(new["name"], "carol");
    let wasm = dir.path().join("token.wasm");
    std::fs::write(&wasm, supervm_contracts::TOKEN).unwrap();
    let init = format!(
        r#"{{"name":"T","symbol":"T","decimals":6,"admin":"{dev0}","initial_supply":"1000"}}"#
    );
    let d = run(v(&[
        "contract",
        "deploy",
        wasm.to_str().unwrap(),
        "--from",
        "dev0",
        "--init",
        &init,
    ]))
    .await;
    assert_eq!(d["submit"]["receipt"]["outcome"], "success", "{d}");
    let token = d["address"].as_str().unwrap().to_string();
    let args = format!(r#"{{"to":"{dev1}","amount":40}}"#);
    let inv = run(v(&[
        "contract", "invoke", &token, "transfer", "--args", &args, "--from", "dev0",
    ]))
    .await;
    assert_eq!(inv["outcome"], "success", "{inv}");
    assert_eq!(inv["events"][0]["event"], "Transfer");
    assert_eq!(inv["events"][0]["data"]["amount"], "40");
    let bad = format!(r#"{{"to":"{dev0}","amount":41}}"#);
    // A revert prints its receipt and exits non-zero (scripts see the failure).
    let rev = run(v(&[
        "contract", "invoke", &token, "transfer", "--args", &bad, "--from", "dev1", "!fail",
    ]))
    .await;
    assert_eq!(rev["outcome"], "revert");
    assert_eq!(rev["error"], "InsufficientBalance");
    let owner = format!(r#"{{"owner":"{dev1}"}}"#);
    let sim = run(v(&[
        "contract", "simulate", &token, "balance", "--args", &owner,
    ]))
    .await;
    assert_eq!(sim["result"], "40");
    let t = run(v(&["transfer", "--from", "dev0", "carol", "12"])).await;
    assert_eq!(t["status"], "committed", "{t}");
    let acc = run(v(&["account", "carol"])).await;
    assert_eq!(acc["balance"], "12");
    let hash = t["hash"].as_str().unwrap().to_string();
    let tx = run(v(&["tx", &hash])).await;
    assert_eq!(tx["status"], "committed");
    let block = run(v(&["block"])).await;
    assert!(block["height"].as_u64().unwrap() >= 4);
    // The same block by height and by hash.
    let height = block["height"].as_u64().unwrap().to_string();
    assert_eq!(run(v(&["block", &height])).await, block);
    let by_hash = run(v(&["block", block["hash"].as_str().unwrap()])).await;
    assert_eq!(by_hash, block);
    let ev = run(v(&["events", "--contract", &token, "--topic", "Transfer"])).await;
    assert_eq!(ev["events"].as_array().unwrap().len(), 2, "{ev}");
    node.interrupt();
}

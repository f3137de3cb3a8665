//! The `supervm` CLI against a real node process: keys, deploy with constructor
//! arguments by name, invoke and simulate with decoded results and events, native
//! transfer, account, block, event (by topic positions) and raw storage queries, in
//! `--json` mode and for people.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use supervm_client::views::to_hex;

use crate::support::NodeProcess;

/// The CLI with `args`, talking to the node at `url` with the key file `keys` (whose
/// directory stands in for the home directory).
fn supervm(url: &str, keys: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supervm"));
    c.args(args)
        .env("SUPERVM_RPC", url)
        .env("SUPERVM_KEYS", keys)
        .env("HOME", keys.parent().unwrap());
    c
}

/// Runs the CLI with `--json` and returns its JSON output; it must exit with status 0,
/// or, given an argument `!N` (removed before running), with status N.
fn cli(url: &str, keys: &Path, args: &[&str]) -> Value {
    let expected = args
        .iter()
        .find_map(|a| a.strip_prefix('!')?.parse::<i32>().ok())
        .unwrap_or(0);
    let args: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with('!'))
        .collect();
    let out = supervm(url, keys, &args).arg("--json").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(expected),
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

/// Runs `cmd` (text output), which must exit with `status` (see `supervm --help`: 1 a
/// failed outcome, 2 refused as invalid, 3 not on chain, 4 the node's other errors).
fn exits(mut cmd: Command, status: i32) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(status),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// [`cli`] as an async function, run on a blocking thread (the node under test may
/// answer on the test's own runtime): `run(v(&[..])).await`.
fn runner(
    url: &str,
    keys: &Path,
) -> impl Fn(Vec<String>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + Send>> + use<>
{
    let (url, keys) = (url.to_string(), keys.to_path_buf());
    move |args: Vec<String>| {
        let (url, keys) = (url.clone(), keys.clone());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                cli(&url, &keys, &a)
            })
            .await
            .unwrap()
        })
    }
}

/// Owned arguments for a [`runner`].
fn v(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs the CLI without `--json` and returns what it printed; it must exit with status 0.
fn cli_text(url: &str, keys: &Path, args: &[&str]) -> String {
    let out = supervm(url, keys, args).output().unwrap();
    assert!(
        out.status.success(),
        "supervm {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deploys_invokes_and_queries() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path()).await;
    let run = runner(&node.url, &dir.path().join("dev-keys.json"));

    let list = run(v(&["keys", "list"])).await;
    let dev0 = list[0]["address"].as_str().unwrap().to_string();
    let dev1 = list[1]["address"].as_str().unwrap().to_string();
    let new = run(v(&["keys", "new", "carol"])).await;
    assert_eq!(new["name"], "carol");
    // A name the dev keys of the default dev directory already use is refused too (a
    // user key of that name would shadow the dev key, or be shadowed).
    let dev_dir = dir.path().join(".supervm").join("dev");
    assert!(!dev_dir.exists());
    // (a key file of its own naming a key dev0, as one made before the dev keys were
    // well-known could)
    let late = dir.path().join("late-keys.json");
    supervm_client::keys::update(&late, |k| {
        k.push(supervm_client::keys::KeyEntry::generate("dev0"));
        Ok(())
    })
    .unwrap();
    std::fs::create_dir_all(&dev_dir).unwrap();
    std::fs::copy(
        dir.path().join("dev-keys.json"),
        dev_dir.join("dev-keys.json"),
    )
    .unwrap();
    supervm_client::keys::update(&dev_dir.join("dev-keys.json"), |k| {
        k.push(supervm_client::keys::KeyEntry::generate("erin"));
        Ok(())
    })
    .unwrap();
    let other = dir.path().join("other-keys.json");
    let shadow = exits(supervm(&node.url, &other, &["keys", "new", "dev0"]), 2);
    assert!(String::from_utf8_lossy(&shadow.stderr).contains("well-known dev key"));
    let shadow = exits(supervm(&node.url, &other, &["keys", "new", "erin"]), 2);
    assert!(String::from_utf8_lossy(&shadow.stderr).contains("among the dev keys"));
    // Two keys of one name (the key file's, and a dev key written after it): the name
    // is refused as ambiguous wherever a key is named, not resolved to either.
    let both = exits(
        supervm(
            &node.url,
            &late,
            &["transfer", "--from", "dev1", "dev0", "1"],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&both.stderr);
    assert!(stderr.contains("key name dev0 is ambiguous"), "{stderr}");
    std::fs::remove_dir_all(&dev_dir).unwrap();
    // No key file at all: the dev keys are the well-known ones, which this dev node
    // (as every new dev chain) funded.
    let bare_home = tempfile::tempdir().unwrap();
    let bare = Command::new(env!("CARGO_BIN_EXE_supervm"))
        .args(["--rpc", &node.url, "--json", "account", "dev0"])
        .env_remove("SUPERVM_KEYS")
        .env("HOME", bare_home.path())
        .output()
        .unwrap();
    let bare: Value = serde_json::from_slice(&bare.stdout).unwrap();
    assert_eq!(bare["address"], dev0.as_str(), "{bare}");
    assert_eq!(dev0, supervm_client::keys::dev_key(0).address);
    assert_ne!(bare["balance"], "0", "{bare}");
    // Names that could not be used, or would name two keys, are refused.
    let hex_name = "ab".repeat(32);
    for name in ["carol", "dev0", "0xabc", "", " x", &hex_name] {
        exits(
            supervm(
                &node.url,
                &dir.path().join("dev-keys.json"),
                &["keys", "new", name],
            ),
            2,
        );
    }
    let names: Vec<String> = run(v(&["keys", "list"]))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names.iter().filter(|n| *n == "carol").count(),
        1,
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.is_empty() || n.starts_with("0x") || n == " x"),
        "{names:?}"
    );
    let wasm = dir.path().join("token.wasm");
    std::fs::write(&wasm, supervm_contracts::TOKEN).unwrap();
    let init = format!(
        r#"{{"name":"T","symbol":"T","decimals":6,"admin":"{dev0}","initial_supply":"1000"}}"#
    );
    // The token's code uploaded first; deploying its file then deploys by hash (the
    // code is not sent again).
    let up = run(v(&[
        "contract",
        "upload",
        wasm.to_str().unwrap(),
        "--from",
        "dev1",
    ]))
    .await;
    assert_eq!(up["outcome"], "success", "{up}");
    let hash = up["code_hash"].as_str().unwrap().to_string();
    assert_eq!(
        hash,
        to_hex(&supervm_vm::code_hash(supervm_contracts::TOKEN))
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
    assert_eq!(d["outcome"], "success", "{d}");
    let token = d["address"].as_str().unwrap().to_string();
    let sent = run(v(&["tx", d["hash"].as_str().unwrap()])).await;
    let raw = sent["raw"].as_str().expect("the transaction's encoding");
    assert!(
        raw.len() < supervm_contracts::TOKEN.len(),
        "the deploy carried the code again: {} hex digits",
        raw.len()
    );
    // Uploading the same code again sends nothing (it is stored once, by hash).
    let dev1_nonce = run(v(&["account", "dev1"])).await["nonce"].clone();
    let again = run(v(&[
        "contract",
        "upload",
        wasm.to_str().unwrap(),
        "--from",
        "dev1",
    ]))
    .await;
    assert_eq!(again["already_stored"], true, "{again}");
    assert_eq!(again["status"], "not_sent", "{again}");
    assert_eq!(again["code_hash"], hash.as_str(), "{again}");
    assert_eq!(run(v(&["account", "dev1"])).await["nonce"], dev1_nonce);
    // Deployed by its hash (constructor arguments then in hex): another token, whose
    // supply went to dev1.
    let dev1_addr = supervm_vm::Address(
        supervm_client::views::from_hex(&dev1)
            .unwrap()
            .try_into()
            .unwrap(),
    );
    let init_hex = to_hex(&supervm_abi::Encode::encode(&(
        "U".to_string(),
        "U".to_string(),
        6u8,
        dev1_addr,
        77u128,
    )));
    let d2 = run(v(&[
        "contract",
        "deploy",
        "--code-hash",
        &hash,
        "--from",
        "dev1",
        "--init",
        &init_hex,
    ]))
    .await;
    assert_eq!(d2["outcome"], "success", "{d2}");
    let token2 = d2["address"].as_str().unwrap().to_string();
    assert_ne!(token2, token);
    let bal_args = format!(r#"{{"owner":"{dev1}"}}"#);
    let b2 = run(v(&[
        "contract", "simulate", &token2, "balance", "--args", &bal_args,
    ]))
    .await;
    assert_eq!(b2["result"], "77", "{b2}");
    // The token's constructor takes arguments: without --init the deploy is refused
    // before anything is sent (dev0's nonce does not move), naming what is missing.
    let nonce_before = run(v(&["account", "dev0"])).await["nonce"].clone();
    assert!(nonce_before.as_u64().is_some(), "{nonce_before}");
    let out = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "deploy",
                wasm.to_str().unwrap(),
                "--from",
                "dev0",
            ],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--init"), "{stderr}");
    assert_eq!(run(v(&["account", "dev0"])).await["nonce"], nonce_before);
    // An unknown block, for people: said once, as the error (nothing on stdout).
    let none = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &["block", "999999"],
        ),
        3,
    );
    assert!(
        none.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );
    assert_eq!(
        String::from_utf8_lossy(&none.stderr)
            .matches("no such block")
            .count(),
        1
    );
    // A mistyped address is reported as one, not as a key name that does not exist.
    let out = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &["transfer", "--from", "dev0", "0xabcd", "1"],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("address 0xabcd: expected 32 bytes"),
        "{stderr}"
    );
    // Native balance is not sent where it could never move again: a contract, zero.
    let zero = format!("0x{}", "00".repeat(32));
    for (to, says) in [
        (token.as_str(), "contracts cannot spend it"),
        (&zero, "zero address"),
        // (addresses no key signs for: the node refuses transactions from them)
        (&format!("0x{}", "ff".repeat(32)), "not an account key"),
        (
            &format!("0x01{}", "00".repeat(31)),
            "not an account key (point of small order)",
        ),
    ] {
        let out = exits(
            supervm(
                &node.url,
                &dir.path().join("dev-keys.json"),
                &["transfer", "--from", "dev0", to, "1"],
            ),
            2,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
    }
    assert_eq!(run(v(&["account", "dev0"])).await["nonce"], nonce_before);
    // A file that is not wasm is named as such (not a dump of its first bytes).
    let not_wasm = dir.path().join("notes.wasm");
    std::fs::write(&not_wasm, "hello").unwrap();
    let out = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "deploy",
                not_wasm.to_str().unwrap(),
                "--from",
                "dev0",
            ],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a wasm module"), "{stderr}");
    // A reader that stops reading early is no error (`supervm keys list | head -1`).
    let mut listing = supervm(
        &node.url,
        &dir.path().join("dev-keys.json"),
        &["keys", "list"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    drop(listing.stdout.take());
    let out = listing.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Neither a file nor a hash: refused before anything is sent, saying what to give.
    let out = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &["contract", "deploy", "--from", "dev1"],
        ),
        2,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--code-hash"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An address argument may be given by key name; a key given twice is refused
    // (not silently the last one), before anything is sent.
    let by_name = run(v(&[
        "contract",
        "simulate",
        &token,
        "transfer",
        "--args",
        r#"{"to":"dev1","amount":40}"#,
        "--from",
        "dev0",
    ]))
    .await;
    assert_eq!(by_name["outcome"], "success", "{by_name}");
    assert_eq!(
        by_name["events"][0]["topics"][1]["to"],
        dev1.as_str(),
        "{by_name}"
    );
    let twice = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "invoke",
                &token,
                "transfer",
                "--args",
                r#"{"to":"dev1","amount":1,"amount":40}"#,
                "--from",
                "dev0",
            ],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert!(stderr.contains("key `amount` given twice"), "{stderr}");
    // A key file named but missing is an error, not the dev keys in its place.
    let missing = exits(
        supervm(
            &node.url,
            &dir.path().join("no-such-keys.json"),
            &["transfer", "--from", "dev0", &dev1, "1"],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no-such-keys.json does not exist"),
        "{stderr}"
    );
    assert_eq!(run(v(&["account", "dev0"])).await["nonce"], nonce_before);
    let args = format!(r#"{{"to":"{dev1}","amount":40}}"#);
    let inv = run(v(&[
        "contract", "invoke", &token, "transfer", "--args", &args, "--from", "dev0",
    ]))
    .await;
    assert_eq!(inv["outcome"], "success", "{inv}");
    // (the receipt's place and fee, as `tx` gives them)
    assert!(inv["block_height"].as_u64().is_some() && inv["index"].as_u64().is_some());
    assert!(inv["fee"].as_str().is_some() && inv["return_data"].as_str().is_some());
    assert_eq!(inv["events"][0]["event"], "Transfer");
    assert_eq!(inv["events"][0]["data"]["amount"], "40");
    let bad = format!(r#"{{"to":"{dev0}","amount":41}}"#);
    // A revert prints its receipt and exits non-zero (scripts see the failure).
    let rev = run(v(&[
        "contract", "invoke", &token, "transfer", "--args", &bad, "--from", "dev1", "!1",
    ]))
    .await;
    assert_eq!(rev["outcome"], "revert");
    assert_eq!(rev["error"], "InsufficientBalance");
    assert!(rev["revert_code"].as_u64().is_some(), "{rev}");
    // A simulation that reverts prints its outcome and exits non-zero too (a dry-run
    // guard in a script must see it).
    let sim_rev = run(v(&[
        "contract", "simulate", &token, "transfer", "--args", &bad, "--from", "dev1", "!1",
    ]))
    .await;
    assert_eq!(sim_rev["outcome"], "revert", "{sim_rev}");
    assert_eq!(sim_rev["error"], "InsufficientBalance");
    assert_eq!(sim_rev["revert_code"], rev["revert_code"], "{sim_rev}");
    assert!(
        sim_rev.get("reverted_in").is_some_and(Value::is_null),
        "the called contract reverted: {sim_rev}"
    );
    // A revert inside another contract's call is named by the contract that reverted
    // (the proxy's `forward` has no error type of its own).
    let proxy_wasm = dir.path().join("sdkcheck.wasm");
    std::fs::write(&proxy_wasm, supervm_contracts::SDKCHECK).unwrap();
    let p = run(v(&[
        "contract",
        "deploy",
        proxy_wasm.to_str().unwrap(),
        "--from",
        "dev1",
    ]))
    .await;
    assert_eq!(p["outcome"], "success", "{p}");
    let proxy = p["address"].as_str().unwrap().to_string();
    // Deploying the same code again (same default salt) is refused before anything is
    // sent (on chain it could only fail, and be charged): dev1's nonce does not move.
    let dev1_nonce = run(v(&["account", "dev1"])).await["nonce"].clone();
    let again = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "deploy",
                proxy_wasm.to_str().unwrap(),
                "--from",
                "dev1",
            ],
        ),
        2,
    );
    let text = String::from_utf8_lossy(&again.stderr);
    assert!(
        text.contains(&format!("a contract already exists at {proxy}"))
            && text.contains("--salt")
            && text.contains("nothing was sent"),
        "{text}"
    );
    assert_eq!(run(v(&["account", "dev1"])).await["nonce"], dev1_nonce);
    // Code asked for by a hash nothing stored: refused before sending too.
    let unknown = format!("0x{}", "5a".repeat(32));
    let refused = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "deploy",
                "--code-hash",
                &unknown,
                "--from",
                "dev1",
            ],
        ),
        2,
    );
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains(&format!("no code with hash {unknown} is stored"))
            && text.contains("nothing was sent"),
        "{text}"
    );
    assert_eq!(run(v(&["account", "dev1"])).await["nonce"], dev1_nonce);
    // A deploy that fails on chain (its constructor runs out of gas) says the address
    // was not created, and why.
    let failed = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract",
                "deploy",
                "--code-hash",
                &hash,
                "--from",
                "dev1",
                "--salt",
                &format!("0x{}", "77".repeat(32)),
                "--init",
                &init_hex,
                "--gas",
                "30000",
            ],
        ),
        1,
    );
    let text = String::from_utf8_lossy(&failed.stdout);
    assert!(
        text.contains("(nothing deployed by this transaction)")
            && text.contains("outcome out_of_gas"),
        "{text}"
    );
    // A constructor runs only at deploy: calling it is refused before sending, and it
    // is not offered among the functions.
    let ctor = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &["contract", "invoke", &token, "init", "--from", "dev0"],
        ),
        2,
    );
    let text = String::from_utf8_lossy(&ctor.stderr);
    let offered: Vec<&str> = text
        .rsplit_once("it has: ")
        .map(|(_, l)| l.trim().split(", ").collect())
        .unwrap_or_default();
    assert!(text.contains("has no callable function init"), "{text}");
    assert!(
        text.contains("init is the constructor: it runs only at deploy"),
        "{text}"
    );
    assert_eq!(
        offered,
        [
            "allowance",
            "approve",
            "balance",
            "decimals",
            "decrease_allowance",
            "increase_allowance",
            "mint",
            "name",
            "symbol",
            "total_supply",
            "transfer",
            "transfer_from"
        ],
        "{text}"
    );
    let dev0_addr = supervm_vm::Address(supervm_client::views::from_hex32(&dev0).unwrap());
    let input = to_hex(&supervm_abi::Encode::encode(&(dev0_addr, 41u128)));
    let fwd = format!(r#"{{"target":"{token}","func":"transfer","input":"{input}"}}"#);
    for cmd in ["simulate", "invoke"] {
        let nested = run(v(&[
            "contract", cmd, &proxy, "forward", "--args", &fwd, "--from", "dev1", "!1",
        ]))
        .await;
        assert_eq!(nested["outcome"], "revert", "{nested}");
        assert_eq!(nested["error"], "InsufficientBalance", "{nested}");
        assert_eq!(nested["reverted_in"], token.as_str(), "{nested}");
    }
    // The SDK's reserved codes are named whichever contract reverted: a proxy forwarding
    // arguments that do not decode.
    let garbage = format!(r#"{{"target":"{token}","func":"transfer","input":"0x01"}}"#);
    let bad_input = run(v(&[
        "contract", "simulate", &proxy, "forward", "--args", &garbage, "!1",
    ]))
    .await;
    assert!(
        bad_input["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("BAD_INPUT")),
        "{bad_input}"
    );
    assert_eq!(bad_input["reverted_in"], token.as_str(), "{bad_input}");
    // A simulation answers the contract's debug_log lines.
    let logged = run(v(&[
        "contract",
        "simulate",
        &proxy,
        "log_messages",
        "--args",
        r#"{"msgs":["hello","world"]}"#,
    ]))
    .await;
    assert_eq!(
        logged["logs"],
        serde_json::json!(["hello", "world"]),
        "{logged}"
    );
    // A trap's reason is shown, naming the contract that trapped: the proxy's `call` of
    // a function the token does not have could not start, a trap of the proxy.
    let missing = format!(r#"{{"target":"{token}","func":"nope","input":"0x"}}"#);
    for cmd in ["simulate", "invoke"] {
        let trapped = run(v(&[
            "contract", cmd, &proxy, "forward", "--args", &missing, "--from", "dev1", "!1",
        ]))
        .await;
        assert_eq!(trapped["outcome"], "trap", "{trapped}");
        let reason = trapped["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with(&format!("in contract {proxy}: ")) && reason.contains("nope"),
            "{trapped}"
        );
    }
    // An integer past u64::MAX as a JSON number says to give it as a string.
    let huge = format!(r#"{{"to":"{dev0}","amount":100000000000000000000}}"#);
    let out = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &[
                "contract", "simulate", &token, "transfer", "--args", &huge, "--from", "dev1",
            ],
        ),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("as decimal strings"), "{stderr}");
    let owner = format!(r#"{{"owner":"{dev1}"}}"#);
    let sim = run(v(&[
        "contract", "simulate", &token, "balance", "--args", &owner,
    ]))
    .await;
    assert_eq!(sim["result"], "40");
    // Arguments already encoded, as 0x-hex (for types the interface cannot describe).
    let owner_hex = to_hex(&supervm_abi::Encode::encode(&(dev1_addr,)));
    let by_hex = run(v(&[
        "contract", "simulate", &token, "balance", "--args", &owner_hex,
    ]))
    .await;
    assert_eq!(by_hex["result"], "40", "{by_hex}");
    let t = run(v(&["transfer", "--from", "dev0", "carol", "12"])).await;
    assert_eq!(t["status"], "committed", "{t}");
    // (every command that sends a transaction answers the same members)
    assert_eq!(t["outcome"], "success", "{t}");
    assert!(
        t["fee"].as_str().is_some() && t["block_height"].as_u64().is_some(),
        "{t}"
    );
    let acc = run(v(&["account", "carol"])).await;
    assert_eq!(acc["balance"], "12");
    let hash = t["hash"].as_str().unwrap().to_string();
    let tx = run(v(&["tx", &hash])).await;
    assert_eq!(tx["status"], "committed");
    // `tx` prints what it found, and exits non-zero unless that is a committed success:
    // the revert above, and a hash the node never saw.
    let rev_tx = run(v(&["tx", rev["hash"].as_str().unwrap(), "!1"])).await;
    assert_eq!(rev_tx["receipt"]["outcome"], "revert", "{rev_tx}");
    assert_eq!(
        rev_tx["receipt"]["revert_contract"],
        token.as_str(),
        "{rev_tx}"
    );
    let unknown = run(v(&["tx", &format!("0x{}", "ab".repeat(32)), "!3"])).await;
    assert_eq!(unknown["status"], "unknown", "{unknown}");
    let block = run(v(&["block"])).await;
    assert!(block["height"].as_u64().unwrap() >= 4);
    // The same block by height and by hash.
    let height = block["height"].as_u64().unwrap().to_string();
    assert_eq!(run(v(&["block", &height])).await, block);
    let by_hash = run(v(&["block", block["hash"].as_str().unwrap()])).await;
    assert_eq!(by_hash, block);
    // An unknown block is printed as nothing, with a failure status (as `tx` does).
    let none = run(v(&["block", "99999999", "!3"])).await;
    assert!(none.is_null(), "{none}");
    let ev = run(v(&["events", "--contract", &token, "--topic", "Transfer"])).await;
    assert_eq!(ev["events"].as_array().unwrap().len(), 2, "{ev}");
    // Topic positions in order: any sender (`_`), then the receiver.
    let to_dev1_args = [
        "events",
        "--contract",
        &token,
        "--topic",
        "Transfer",
        "--topic",
        "_",
        "--topic",
        &dev1,
    ];
    let to_dev1 = run(v(&to_dev1_args)).await;
    let events = to_dev1["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{to_dev1}");
    assert_eq!(events[0]["topics"][2], dev1.as_str(), "{to_dev1}");
    assert_eq!(events[0], ev["events"][1], "{to_dev1}");
    // A position that takes any value filters nothing out.
    let any = run(v(&[
        "events",
        "--contract",
        &token,
        "--topic",
        "Transfer",
        "--topic",
        "any",
    ]))
    .await;
    assert_eq!(any, ev);
    // The same filter for people: one line per event.
    let keys = dir.path().join("dev-keys.json");
    let text = cli_text(&node.url, &keys, &to_dev1_args);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&token) && text.contains("Transfer"), "{text}");
    // (decoded by the token's interface: its topic fields by name, its data)
    assert!(
        text.contains(&format!("to={dev1}")) && text.contains(r#"{"amount":"40"}"#),
        "{text}"
    );
    assert_eq!(ev["events"][1]["decoded"]["event"], "Transfer", "{ev}");
    assert_eq!(
        ev["events"][1]["decoded"]["topics"][1]["to"],
        dev1.as_str(),
        "{ev}"
    );

    // Raw storage: dev1's token balance is at the token's key b"B" ++ address, 40 as the
    // codec's little-endian u128; before the transfer (at the deploy's block) there was
    // none, nor is there anything at a key the token never wrote.
    let key = format!("0x42{}", dev1.trim_start_matches("0x"));
    let value = run(v(&["storage", &token, &key])).await;
    assert_eq!(value, Value::String(to_hex(&40u128.to_le_bytes())));
    let deployed_at = d["block_height"].as_u64().unwrap();
    let before = run(v(&[
        "storage",
        &token,
        &key,
        "--height",
        &deployed_at.to_string(),
    ]))
    .await;
    assert_eq!(before, Value::Null);
    // Accounts and simulations at a past height too; a height the node does not have is
    // the node's error (exit 4), as is a node that cannot be reached.
    let h = deployed_at.to_string();
    let then = run(v(&["account", "dev0", "--height", &h])).await;
    let now = run(v(&["account", "dev0"])).await;
    assert!(
        then["nonce"].as_u64().unwrap() < now["nonce"].as_u64().unwrap(),
        "{then} {now}"
    );
    let was = run(v(&[
        "contract", "simulate", &token, "balance", "--args", &owner, "--height", &h,
    ]))
    .await;
    assert_eq!(
        (was["result"].clone(), was["height"].clone()),
        (Value::from("0"), Value::from(deployed_at)),
        "{was}"
    );
    let starved = run(v(&[
        "contract", "simulate", &token, "balance", "--args", &owner, "--gas", "100", "!1",
    ]))
    .await;
    assert_eq!(starved["outcome"], "out_of_gas", "{starved}");
    exits(
        supervm(
            &node.url,
            &keys,
            &["account", "dev0", "--height", "99999999"],
        ),
        3,
    );
    exits(supervm(&node.url, &keys, &["block", "0xzz"]), 2);
    exits(supervm(&node.url, &keys, &["events", "--limit", "0"]), 2);
    exits(
        supervm(&node.url, &keys, &["events", "--cursor", "junk"]),
        2,
    );
    exits(
        supervm("http://127.0.0.1:9", &keys, &["account", "dev0"]),
        4,
    );
    assert_eq!(run(v(&["storage", &token, "0x00"])).await, Value::Null);
    let text = cli_text(&node.url, &keys, &["storage", &token, &key]);
    assert_eq!(text.trim(), to_hex(&40u128.to_le_bytes()));
    let text = cli_text(&node.url, &keys, &["storage", &token, "0x00"]);
    assert_eq!(text.trim(), "not found");
    // Keys for people: one line per key, its name then its address, the new one too.
    let text = cli_text(&node.url, &keys, &["keys", "list"]);
    assert_eq!(
        text.lines().count(),
        list.as_array().unwrap().len() + 1,
        "{text}"
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
    };
    assert_eq!(
        line("dev0").and_then(|l| l.split_whitespace().nth(1)),
        Some(dev0.as_str()),
        "{text}"
    );
    assert_eq!(
        line("carol").and_then(|l| l.split_whitespace().nth(1)),
        new["address"].as_str(),
        "{text}"
    );
    node.interrupt();
}

/// A call's events are decoded each by the interface of the contract that emitted it
/// (they were all decoded by the called contract's, so a callee's event came out raw,
/// or under the caller's field names when the names clashed): the escrow's
/// `create_offer` shows the token's `Transfer` (its pull of the maker's tokens) with the
/// token's fields beside the escrow's own `OfferCreated`, in `invoke`, `tx` and
/// `simulate` alike; a deploy shows its constructor's events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_decoded_by_the_contract_that_emitted_them() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path()).await;
    let run = runner(&node.url, &dir.path().join("dev-keys.json"));
    let token_wasm = dir.path().join("token.wasm");
    std::fs::write(&token_wasm, supervm_contracts::TOKEN).unwrap();
    let escrow_wasm = dir.path().join("escrow.wasm");
    std::fs::write(&escrow_wasm, supervm_contracts::ESCROW).unwrap();
    let init = r#"{"name":"T","symbol":"T","decimals":6,"admin":"dev0","initial_supply":"1000"}"#;
    let t = run(v(&[
        "contract",
        "deploy",
        token_wasm.to_str().unwrap(),
        "--from",
        "dev0",
        "--init",
        init,
    ]))
    .await;
    let token = t["address"].as_str().unwrap().to_string();
    // (the constructor minted: its Transfer event decoded by the token's interface)
    let minted = t["events"].as_array().expect("the deploy's events");
    assert!(minted.iter().any(|e| e["event"] == "Transfer"), "{t}");
    let e = run(v(&[
        "contract",
        "deploy",
        escrow_wasm.to_str().unwrap(),
        "--from",
        "dev0",
    ]))
    .await;
    let escrow = e["address"].as_str().unwrap().to_string();
    // (arguments from a file: `@FILE`)
    let approve = dir.path().join("approve.json");
    std::fs::write(
        &approve,
        format!("{{\"spender\":\"{escrow}\",\"amount\":\"100\"}}\n"),
    )
    .unwrap();
    let approve = format!("@{}", approve.display());
    run(v(&[
        "contract", "invoke", &token, "approve", "--args", &approve, "--from", "dev0",
    ]))
    .await;
    // Arguments over the VM's limit are refused before anything is sent (exit 2).
    let big = dir.path().join("big.hex");
    std::fs::write(&big, format!("0x{}", "00".repeat(65_537))).unwrap();
    let mut cmd = supervm(
        &node.url,
        &dir.path().join("dev-keys.json"),
        &[
            "contract", "invoke", &token, "approve", "--from", "dev0", "--args",
        ],
    );
    cmd.arg(format!("@{}", big.display()));
    let refused = exits(cmd, 2);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("over the VM's limit of 65536"), "{stderr}");
    let offer = format!(
        r#"{{"give_token":"{token}","give_amount":"40","want_token":"{token}","want_amount":"1"}}"#
    );
    let check = |events: &Value, what: &str| {
        let events = events
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no events"));
        let pulled = events
            .iter()
            .find(|e| e["contract"] == token.as_str() && e["event"] == "Transfer")
            .unwrap_or_else(|| panic!("{what}: no Transfer from the token: {events:?}"));
        assert_eq!(pulled["data"]["amount"], "40", "{what}: {pulled}");
        assert_eq!(
            pulled["topics"][1]["to"],
            escrow.as_str(),
            "{what}: {pulled}"
        );
        let opened = events
            .iter()
            .find(|e| e["contract"] == escrow.as_str())
            .unwrap_or_else(|| panic!("{what}: no event from the escrow: {events:?}"));
        assert_eq!(opened["event"], "OfferCreated", "{what}: {opened}");
    };
    let sim = run(v(&[
        "contract",
        "simulate",
        &escrow,
        "create_offer",
        "--args",
        &offer,
        "--from",
        "dev0",
    ]))
    .await;
    check(&sim["events"], "simulate");
    let sent = run(v(&[
        "contract",
        "invoke",
        &escrow,
        "create_offer",
        "--args",
        &offer,
        "--from",
        "dev0",
    ]))
    .await;
    check(&sent["events"], "invoke");
    let tx = run(v(&["tx", sent["hash"].as_str().unwrap()])).await;
    let decoded: Value = tx["receipt"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decoded"].clone())
        .collect();
    check(&decoded, "tx");
    // A revert is named in `tx` as `invoke` names it.
    let failed = run(v(&[
        "contract",
        "invoke",
        &escrow,
        "accept",
        "--args",
        r#"{"id":99}"#,
        "--from",
        "dev0",
        "!1",
    ]))
    .await;
    assert_eq!(failed["error"], "NoSuchOffer", "{failed}");
    let looked_up = run(v(&["tx", failed["hash"].as_str().unwrap(), "!1"])).await;
    assert_eq!(looked_up["receipt"]["error"], "NoSuchOffer", "{looked_up}");
    // `events` types the topics after an event name the contract declares: the
    // escrow's pull of dev0's tokens, found by the sender's key name alone.
    let found = run(v(&[
        "events",
        "--contract",
        &token,
        "--topic",
        "Transfer",
        "--topic",
        "dev0",
        "--topic",
        &escrow,
    ]))
    .await;
    let found = found["events"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["decoded"]["data"]["amount"], "40");
    // (a name the interface does not declare is searched for as it is, with a warning:
    // `env::emit_event` emits undeclared events)
    let unknown = exits(
        supervm(
            &node.url,
            &dir.path().join("dev-keys.json"),
            &["events", "--contract", &token, "--topic", "Tranfser"],
        ),
        0,
    );
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("declares no event Tranfser"), "{stderr}");
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("no events match"));
    node.interrupt();
}

/// `supervm contract build` compiles a contract crate to wasm32v1-none (with rustup's
/// target or Debian's rustc-web, which `scripts/test.sh` installs) and lists each module
/// with its size, code hash and the contract name its embedded interface declares.
/// About 20 s from scratch; under the node tests' lock so that it never competes with
/// the timed load test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_builds_a_contract() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let counter = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/counter");
    // (the real home directory: rustup finds its toolchains there)
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_supervm"))
            .args(["contract", "build", "--json"])
            .arg(&counter)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let built = out.as_array().expect("a list of built modules");
    assert_eq!(built.len(), 1, "{out}");
    assert_eq!(built[0]["contract"], "Counter", "{out}");
    let wasm = std::fs::read(built[0]["wasm"].as_str().unwrap()).unwrap();
    assert_eq!(built[0]["bytes"], wasm.len(), "{out}");
    assert_eq!(
        built[0]["code_hash"],
        to_hex(&supervm_vm::code_hash(&wasm)),
        "{out}"
    );
}

/// `supervm node` refuses flags it would otherwise ignore or change: a chain id or a
/// genesis file with `--dev` (a dev chain has its own), and a thread count outside
/// 1..=32. It fails before starting anything (a start would keep running: the test
/// then kills it and fails).
#[test]
#[allow(clippy::disallowed_methods)] // a deadline for a child that should have exited
fn node_flags_it_cannot_honour_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let genesis = dir.path().join("genesis.json");
    std::fs::write(&genesis, r#"{"accounts":[]}"#).unwrap();
    let port = crate::support::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let base = ["node", "--data-dir", data, "--listen", &listen];
    for (extra, says) in [
        (&["--dev", "--chain-id", "5"][..], "non-dev"),
        (
            &["--dev", "--genesis", genesis.to_str().unwrap()][..],
            "non-dev",
        ),
        (&["--dev", "--threads", "64"][..], "--threads"),
        (&["--dev", "--threads", "0"][..], "--threads"),
        // (client flags, which a node would ignore)
        (
            &["--dev", "--rpc", "http://127.0.0.1:1"][..],
            "--rpc is a client flag",
        ),
        (&["--dev", "--json"][..], "--json is a client flag"),
        (&["--dev", "--shards", "0"][..], "--shards"),
        // (a new chain without its genesis: nothing made, its shard count not fixed)
        (&["--chain-id", "5"][..], "give --genesis"),
        (&["--dev", "--min-gas-price", "0"][..], "--min-gas-price"),
        (
            &["--genesis", genesis.to_str().unwrap(), "--chain-id", "1337"][..],
            "the dev chain's",
        ),
        (
            &[
                "--genesis",
                genesis.to_str().unwrap(),
                "--chain-id",
                "5",
                "--durability",
                "no-wal",
            ][..],
            "no-wal is for throwaway --dev chains",
        ),
    ] {
        let mut child = supervm("http://127.0.0.1:1", &dir.path().join("k.json"), &base)
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > std::time::Duration::from_secs(20) {
                child.kill().unwrap();
                panic!("{extra:?}: the node started instead of refusing");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{extra:?}");
        assert!(stderr.contains(says), "{extra:?}: {stderr}");
        // (refused before anything is written)
        assert!(!Path::new(data).exists(), "{extra:?} created {data}");
    }
}

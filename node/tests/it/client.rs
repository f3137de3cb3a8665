//! The client library's typed methods against a dev node: `tx.receipt`, `storage.get`
//! and `account.get` (latest and at a height), `tx.submit_batch` with errors per
//! transaction, `chain.health`, and typed event filters (topic positions, block range,
//! paging).

use std::time::Duration;

use serde_json::json;
use supervm_abi::Encode;
use supervm_client::keys::address_of;
use supervm_client::views::{EventView, to_hex};
use supervm_client::{Client, Error, EventFilter, TxBody, TxPayload};
use supervm_node::config::DEV_CHAIN_ID;
use supervm_vm::{Address, contract_address};

use crate::support::{deploy_token, dev_keys, hold, sign, start, transfer, wait_mempool_empty};

/// The token's storage key of `owner`'s balance: a `Map` key is its prefix (`b"B"`,
/// contracts/token) then the encoding of the map's key (an address: its 32 bytes).
fn balance_key(owner: &Address) -> Vec<u8> {
    [b"B".as_slice(), &owner.0].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_methods() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let keys = dev_keys(dir.path());
    let (alice, bob) = (&keys[0], &keys[1]);
    let (a, b) = (address_of(alice), address_of(bob));
    let carol = Address([0xca; 32]);

    // A fresh node is healthy, with nothing pending.
    let health = c.health().await.unwrap();
    assert!(health.ok, "{health:?}");
    assert_eq!(health.halted, None);
    assert_eq!(health.mempool, 0);
    assert_eq!(
        health.latest_height,
        c.chain_info().await.unwrap().latest_height
    );

    // Deploy the token (alice gets the supply), then two token transfers.
    let salt = [3u8; 32];
    let deploy = deploy_token(alice, 0, salt);
    let deployed = c.submit(&deploy, true).await.unwrap().receipt.unwrap();
    assert_eq!(deployed.outcome, "success", "{deployed:?}");
    let token = contract_address(&a, &salt);
    let token_transfer = |nonce: u64, to: Address, amount: u128| {
        sign(
            alice,
            nonce,
            TxPayload::Call {
                contract: token,
                function: "transfer".into(),
                args: (to, amount).encode(),
            },
        )
    };
    let t1 = token_transfer(1, b, 250);
    let sub = c.submit(&t1, true).await.unwrap();
    assert_eq!(sub.status, "committed", "{sub:?}");
    let t2 = token_transfer(2, carol, 100);
    assert_eq!(c.submit(&t2, true).await.unwrap().status, "committed");

    // tx.receipt: the receipt the waited submit and tx.get carry; None when unknown.
    let rec = c.receipt(&t1.hash()).await.unwrap().expect("committed");
    assert_eq!(Some(&rec), sub.receipt.as_ref());
    assert_eq!(c.tx(&t1.hash()).await.unwrap().receipt, Some(rec.clone()));
    assert_eq!(rec.tx_hash, to_hex(&t1.hash()));
    assert_eq!(rec.outcome, "success");
    assert_eq!(rec.events.len(), 1, "{rec:?}");
    assert!(rec.block_height > deployed.block_height);
    assert_eq!(c.receipt(&[0x77; 32]).await.unwrap(), None);

    // storage.get: what the token wrote, as its codec encodes it.
    let bal = |v: u128| Some(v.encode());
    assert_eq!(
        c.storage(&token, &balance_key(&b), None).await.unwrap(),
        bal(250)
    );
    assert_eq!(
        c.storage(&token, &balance_key(&a), None).await.unwrap(),
        bal(1_000_000 - 350)
    );
    assert_eq!(
        c.storage(&token, b"symbol", None).await.unwrap(),
        Some("TST".to_string().encode())
    );
    // A key it never wrote, and a contract that does not exist.
    let nobody = Address([0xee; 32]);
    assert_eq!(
        c.storage(&token, &balance_key(&nobody), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(c.storage(&nobody, b"symbol", None).await.unwrap(), None);
    // At a height: the state right after that block.
    let at_deploy = Some(deployed.block_height);
    assert_eq!(
        c.storage(&token, &balance_key(&b), at_deploy)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        c.storage(&token, &balance_key(&a), at_deploy)
            .await
            .unwrap(),
        bal(1_000_000)
    );
    assert_eq!(
        c.storage(&token, &balance_key(&b), Some(rec.block_height))
            .await
            .unwrap(),
        bal(250)
    );
    let latest = c.chain_info().await.unwrap().latest_height.unwrap();
    let err = c
        .storage(&token, &balance_key(&b), Some(latest + 100))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rpc { code: -32030, .. }), "{err}");

    // contract.get at a height: absent before its deploy's block, then as now.
    let now = c.contract(&token).await.unwrap().expect("deployed");
    assert_eq!(
        c.contract_at(&token, deployed.block_height - 1)
            .await
            .unwrap(),
        None
    );
    let then = c
        .contract_at(&token, deployed.block_height)
        .await
        .unwrap()
        .expect("deployed at that height");
    assert_eq!(then, now);
    let err = c.contract_at(&token, latest + 100).await.unwrap_err();
    assert!(matches!(err, Error::Rpc { code: -32030, .. }), "{err}");

    // account.get at a height: the nonce and balance then, without a pending nonce.
    let then = c.account_at(&a, deployed.block_height).await.unwrap();
    assert_eq!(then.nonce, 1, "{then:?}");
    assert_eq!(then.height, Some(deployed.block_height));
    assert_eq!(then.pending_nonce, None);
    let now = c.account(&a).await.unwrap();
    assert_eq!(now.nonce, 3, "{now:?}");
    // (the two transfers paid fees since)
    let (balance_then, balance_now): (u128, u128) =
        (then.balance.parse().unwrap(), now.balance.parse().unwrap());
    assert!(balance_then > balance_now, "{then:?} {now:?}");
    let err = c.account_at(&a, latest + 100).await.unwrap_err();
    assert!(matches!(err, Error::Rpc { code: -32030, .. }), "{err}");

    // tx.submit_batch: one entry per transaction, in order, a refused one with the error
    // tx.submit would answer. Blocks are held, so that the second copy of a transaction
    // finds the first one pending.
    wait_mempool_empty(&node).await;
    hold(&node).await;
    let good = transfer(alice, 3, carol, 5);
    let wrong_chain = TxBody {
        chain_id: DEV_CHAIN_ID + 1,
        sender: b,
        nonce: 0,
        gas_limit: 10_000,
        gas_price: 1,
        expiry_height: 1_000_000,
        payload: TxPayload::Transfer {
            to: carol,
            amount: 1,
        },
    }
    .sign(bob);
    let results = c
        .submit_batch(&[good.clone(), wrong_chain, good.clone()])
        .await
        .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[0].as_ref().ok(), Some(&good.hash()), "{results:?}");
    match &results[1] {
        Err(Error::Rpc {
            code: -32014,
            data: Some(data),
            ..
        }) => {
            assert_eq!(data["reason"], "wrong_chain_id", "{data}");
            assert_eq!(data["expected"], DEV_CHAIN_ID, "{data}");
            assert_eq!(data["got"], DEV_CHAIN_ID + 1, "{data}");
        }
        other => panic!("expected a wrong chain id error: {other:?}"),
    }
    assert!(
        matches!(&results[2], Err(Error::Rpc { code: -32021, .. })),
        "{results:?}"
    );
    // The admitted one is pending, held.
    let health = c.health().await.unwrap();
    assert!(health.ok, "{health:?}");
    assert_eq!(health.mempool, 1, "{health:?}");
    assert_eq!(c.receipt(&good.hash()).await.unwrap(), None);
    node.chain.mempool.set_hold(false);
    let mut committed = None;
    for _ in 0..1000 {
        committed = c.receipt(&good.hash()).await.unwrap();
        if committed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let committed = committed.expect("the batch's transfer commits");
    assert_eq!(committed.outcome, "success", "{committed:?}");
    assert_eq!(c.tx(&good.hash()).await.unwrap().receipt, Some(committed));
    assert_eq!(c.account(&carol).await.unwrap().balance, "5");
    // Once committed (and out of the mempool, which the producer empties just after
    // publishing the block), the same transaction again is refused as such.
    wait_mempool_empty(&node).await;
    let again = c.submit_batch(std::slice::from_ref(&good)).await.unwrap();
    assert!(
        matches!(&again[..], [Err(Error::Rpc { code: -32022, .. })]),
        "{again:?}"
    );
    assert!(c.health().await.unwrap().ok);

    // Event filters. The token's Transfer events have topics [name, from, to]: the mint
    // to alice, then alice's transfers to bob and to carol.
    let name = Some(b"Transfer".to_vec());
    let by_name = c
        .events_filtered(&EventFilter {
            contract: Some(token),
            topics: vec![name.clone()],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(by_name.events.len(), 3, "{by_name:?}");
    assert_eq!(by_name.next_cursor, None);
    // The same as the JSON params the untyped method takes.
    let untyped = c
        .events(json!({"contract": to_hex(&token.0), "topics": [to_hex(b"Transfer")]}))
        .await
        .unwrap();
    assert_eq!(untyped, by_name);
    // A second position that takes any value selects the same events.
    let any_second = c
        .events_filtered(&EventFilter {
            contract: Some(token),
            topics: vec![name.clone(), None],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(any_second, by_name);
    // A required third position (the receiver) selects what filtering by hand does.
    let to_bob = c
        .events_filtered(&EventFilter {
            contract: Some(token),
            topics: vec![name.clone(), None, Some(b.0.to_vec())],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let by_hand: Vec<EventView> = by_name
        .events
        .iter()
        .filter(|e| e.topics.get(2) == Some(&to_hex(&b.0)))
        .cloned()
        .collect();
    assert_eq!(by_hand.len(), 1, "{by_name:?}");
    assert_eq!(to_bob.events, by_hand);
    assert_eq!(to_bob.events, rec.events);
    // Without a contract, the first position any: the events sent by alice.
    let from_alice = c
        .events_filtered(&EventFilter {
            topics: vec![None, Some(a.0.to_vec())],
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let all = c.events_filtered(&EventFilter::default()).await.unwrap();
    let by_hand: Vec<EventView> = all
        .events
        .iter()
        .filter(|e| e.topics.get(1) == Some(&to_hex(&a.0)))
        .cloned()
        .collect();
    assert_eq!(by_hand.len(), 2, "{all:?}");
    assert_eq!(from_alice.events, by_hand);
    // A block range: the block of the transfer to bob holds its event only.
    let in_block = c
        .events_filtered(&EventFilter {
            contract: Some(token),
            from_height: Some(rec.block_height),
            to_height: Some(rec.block_height),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(in_block.events, rec.events);
    // Pages of one event, each resumed from the previous page's cursor.
    let mut page_filter = EventFilter {
        contract: Some(token),
        topics: vec![name],
        limit: Some(1),
        ..EventFilter::default()
    };
    let mut paged = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.events_filtered(&page_filter).await.unwrap();
        pages += 1;
        assert!(page.events.len() <= 1, "{page:?}");
        paged.extend(page.events);
        match page.next_cursor {
            Some(cursor) if pages < 10 => page_filter.cursor = Some(cursor),
            _ => break,
        }
    }
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(paged, by_name.events);
    node.stop().await;
}

/// The node's `rpc.discover` serves every method `docs/rpc.md` documents and no other
/// (besides itself), each with its parameters and result, and the document names the
/// node's version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_serves_exactly_the_documented_methods() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let doc: serde_json::Value = c.call("rpc.discover", json!([])).await.unwrap();
    let served: std::collections::BTreeSet<String> = doc["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .map(|m| {
            let name = m["name"].as_str().expect("name");
            assert!(m["params"].is_array(), "{name} has params");
            assert!(m["result"].is_object(), "{name} has a result");
            name.to_string()
        })
        .collect();
    let rpc_md = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rpc.md"),
    )
    .unwrap();
    // The method table's rows: "| `name` | params | result |".
    let documented: std::collections::BTreeSet<String> = rpc_md
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(name, _)| name.to_string())
        .filter(|name| name.contains('.') && !name.contains(' '))
        .collect();
    assert!(documented.len() >= 13, "{documented:?}");
    let served_but_rpc: std::collections::BTreeSet<String> = served
        .iter()
        .filter(|m| *m != "rpc.discover")
        .cloned()
        .collect();
    assert_eq!(served_but_rpc, documented);
    assert_eq!(
        doc["info"]["version"],
        c.chain_info().await.unwrap().version
    );
    node.stop().await;
}

/// Code uploaded once (`Upload`) deploys by its blake3 hash (`DeployCode::Hash`): the
/// contract runs that code and `contract.get` names its hash; a hash never uploaded
/// makes the deploy fail (included, its nonce used) and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_then_deploy_by_hash() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let keys = dev_keys(dir.path());
    let alice = &keys[0];
    let a = address_of(alice);
    let code = supervm_contracts::TOKEN.to_vec();
    let hash = supervm_vm::code_hash(&code);

    assert_eq!(
        c.code(&hash).await.unwrap(),
        None,
        "stored before its upload"
    );
    let size = code.len() as u64;
    let up = sign(alice, 0, TxPayload::Upload { code });
    let r = c.submit(&up, true).await.unwrap().receipt.unwrap();
    assert_eq!(r.outcome, "success", "{r:?}");
    // `code.get` says it is stored now, and how large it is; a malformed hash is -32602.
    let stored = c.code(&hash).await.unwrap().expect("stored");
    assert_eq!(
        (stored.code_hash.as_str(), stored.size),
        (to_hex(&hash).as_str(), size)
    );
    let bad = c
        .call::<serde_json::Value>("code.get", serde_json::json!({"hash": "0x12"}))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("hash"), "{bad}");
    // The token's deploy transaction, its code replaced by the uploaded code's hash.
    let by_hash = |nonce: u64, salt: [u8; 32], h: [u8; 32]| {
        let mut body = deploy_token(alice, nonce, salt).body;
        match &mut body.payload {
            TxPayload::Deploy { code, .. } => *code = supervm_client::DeployCode::Hash(h),
            other => panic!("not a deploy: {other:?}"),
        }
        body.sign(alice)
    };
    let salt = [0x5a; 32];
    let r = c
        .submit(&by_hash(1, salt, hash), true)
        .await
        .unwrap()
        .receipt
        .unwrap();
    assert_eq!(r.outcome, "success", "{r:?}");
    let token = contract_address(&a, &salt);
    let info = c.contract(&token).await.unwrap().expect("deployed");
    assert_eq!(info.code_hash, to_hex(&hash));
    assert_eq!(info.interface.as_ref().unwrap()["name"], "Token");
    let s = c
        .simulate(&a, &token, "balance", &(a,).encode())
        .await
        .unwrap();
    assert_eq!(s.outcome, "success");
    assert_eq!(
        s.return_data,
        to_hex(&1_000_000u128.to_le_bytes()),
        "the deployer holds the supply"
    );

    // A hash nobody uploaded.
    let other_salt = [0x5b; 32];
    let r = c
        .submit(&by_hash(2, other_salt, [7; 32]), true)
        .await
        .unwrap()
        .receipt
        .unwrap();
    assert_eq!(r.outcome, "invalid", "{r:?}");
    assert!(
        r.reason.as_deref().unwrap_or_default().contains("code"),
        "{r:?}"
    );
    assert!(
        c.contract(&contract_address(&a, &other_salt))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(c.account(&a).await.unwrap().nonce, 3);
    node.stop().await;
}

/// A simulation that iterates storage works at the latest height; at a past height,
/// where iteration is not served, it is refused as a bad `height` (-32602), not as a
/// failure of the node (-32603).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iteration_at_a_past_height_is_a_bad_height() {
    let _serial = crate::support::NODE_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path()).await;
    let c = Client::new(&format!("http://{}", node.addr));
    let keys = dev_keys(dir.path());
    let alice = &keys[0];
    let a = address_of(alice);
    let salt = [9u8; 32];
    let deploy = sign(
        alice,
        0,
        TxPayload::Deploy {
            code: supervm_client::DeployCode::Wasm(supervm_contracts::SDKCHECK.to_vec()),
            salt,
            init_args: vec![],
        },
    );
    let deployed = c.submit(&deploy, true).await.unwrap().receipt.unwrap();
    assert_eq!(deployed.outcome, "success", "{deployed:?}");
    let check = contract_address(&a, &salt);
    let put = sign(
        alice,
        1,
        TxPayload::Call {
            contract: check,
            function: "put".into(),
            args: (vec![(1u32, 5u64), (2, 6)],).encode(),
        },
    );
    let r = c.submit(&put, true).await.unwrap().receipt.unwrap();
    assert_eq!(r.outcome, "success", "{r:?}");
    let keys_at = |height: Option<u64>| {
        let mut p =
            json!({"sender": to_hex(&a.0), "contract": to_hex(&check.0), "function": "keys"});
        if let Some(h) = height {
            p["height"] = json!(h);
        }
        c.call::<serde_json::Value>("tx.simulate", p)
    };
    let now = keys_at(None).await.unwrap();
    assert_eq!(now["outcome"], "success", "{now}");
    assert_eq!(now["return_data"], to_hex(&vec![1u32, 2].encode()), "{now}");
    let past = keys_at(Some(deployed.block_height)).await.unwrap_err();
    assert!(
        matches!(&past, Error::Rpc { code: -32602, data: Some(d), .. } if d["param"] == "height"),
        "{past}"
    );
    assert!(past.to_string().contains("iterates storage"), "{past}");
    node.stop().await;
}

//! Unit tests of the CLI's helpers (the commands against a live node are in
//! `node/tests/it/cli.rs`).

/// Each cause of an error is printed once, whether or not the message above it
/// already includes it.
#[test]
fn error_text_names_each_cause_once() {
    #[derive(Debug, thiserror::Error)]
    #[error("store: {0}")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("LOCK: Resource temporarily unavailable")]
    struct Inner;
    let e = anyhow::Error::new(Outer(Inner)).context("opening /tmp/x");
    assert_eq!(
        super::error_text(&e),
        "opening /tmp/x: store: LOCK: Resource temporarily unavailable"
    );
    assert_eq!(super::error_text(&anyhow::anyhow!("plain")), "plain");
}

use super::calls::{topic_filter, topic_filters};
use super::send::{dev_keys_sign_for_dev_chains, submit_error};
use super::*;

/// A submission the node refused says only why; one that may have been admitted
/// (halted or failed while waiting, or the connection lost) names the hash to check
/// before sending again.
#[test]
fn a_submit_that_may_have_been_admitted_names_the_hash() {
    let rpc = |code| supervm_client::Error::Rpc {
        code,
        message: "m".into(),
        data: None,
    };
    let hint = |e| format!("{:#}", submit_error(e, "0xabc", "dev0 (0x01)"));
    for maybe in [
        rpc(-32029),
        rpc(-32603),
        rpc(-32001),
        rpc(-32006),
        supervm_client::Error::Transport("reset".into()),
    ] {
        let m = hint(maybe);
        assert!(
            m.contains("may still commit") && m.contains("supervm tx 0xabc"),
            "{m}"
        );
    }
    // The very same bytes pending already: this run added nothing (two runs at once
    // signed the same call with the same nonce).
    let m = hint(rpc(-32021));
    assert!(
        m.contains("identical transaction 0xabc") && m.contains("this run added nothing"),
        "{m}"
    );
    for refused in [
        rpc(-32016),
        rpc(-32602),
        supervm_client::Error::BadSignature,
    ] {
        let m = hint(refused);
        assert!(!m.contains("may still commit"), "{m}");
        assert!(
            m.starts_with("transaction from dev0 (0x01) refused: "),
            "{m}"
        );
    }
}

fn test_ctx() -> Ctx {
    Ctx {
        rpc: "http://node".into(),
        json: false,
        keys: std::env::temp_dir().join("supervm-no-such-keys.json"),
        keys_named: false,
        expect_chain_id: None,
        max_gas_price: None,
    }
}

/// Without the flags the CLI takes the node's chain id and gas price; with them, a
/// node on another chain or asking more is refused before anything is signed.
#[test]
fn the_node_cannot_pick_the_chain_or_the_fee_against_the_flags() {
    let mut ctx = test_ctx();
    assert!(ctx.check_node_terms(1337, 1_000_000).is_ok());
    ctx.expect_chain_id = Some(7);
    ctx.max_gas_price = Some(10);
    assert!(ctx.check_node_terms(7, 10).is_ok());
    assert!(ctx.check_node_terms(7, 9).is_ok());
    let e = ctx.check_node_terms(1337, 1).unwrap_err().to_string();
    assert!(
        e.contains("chain 1337, not 7") && e.contains("nothing signed"),
        "{e}"
    );
    let e = ctx.check_node_terms(7, 11).unwrap_err().to_string();
    assert!(e.contains("gas price 11, over --max-gas-price 10"), "{e}");
}

/// `--topic TYPE:VALUE` encodes VALUE as the SDK encodes a topic field of that type
/// (a `String` field is length-prefixed, so its text alone never matched).
#[test]
fn typed_topic_filters_encode_like_the_sdk() {
    use supervm_abi::Encode;
    let ctx = test_ctx();
    let f = |t: &str| topic_filter(&ctx, t).unwrap();
    assert_eq!(f("String:USDC"), Some("USDC".to_string().encode()));
    assert_eq!(f("String:5"), Some("5".to_string().encode()));
    assert_eq!(f("u64:5"), Some(5u64.encode()));
    assert_eq!(
        f("u128:340282366920938463463374607431768211455"),
        Some(u128::MAX.encode())
    );
    assert_eq!(f("bool:true"), Some(true.encode()));
    let a = format!("0x{}", "ab".repeat(32));
    assert_eq!(f(&format!("Address:{a}")), Some(vec![0xab; 32]));
    assert_eq!(
        f("Transfer"),
        Some(b"Transfer".to_vec()),
        "an event name as it is"
    );
    assert_eq!(f("0x0102"), Some(vec![1, 2]));
    assert_eq!(f("_"), None);
    assert!(topic_filter(&ctx, "u8:300").is_err());
    assert!(topic_filter(&ctx, "Nope:1").is_err());
}

/// After an event name the filtered contract declares, each topic is typed by its
/// field: a value needs no `TYPE:`, a `TYPE:` other than the field's is refused (it
/// could only match nothing), and more topics than the event has are refused.
#[test]
fn topics_after_a_declared_event_are_typed_by_its_fields() {
    use supervm_abi::Encode;
    use supervm_vm::interface::{EventDef, Field};
    let ctx = test_ctx();
    let field = |name: &str, ty: &str| Field {
        name: name.into(),
        ty: ty.into(),
    };
    let probed = EventDef {
        name: "Probed".into(),
        topics: vec![
            field("id", "u64"),
            field("who", "Address"),
            field("tag", "String"),
            field("side", "Side"),
        ],
        data: vec![],
    };
    let i = supervm_vm::interface::Interface::parse(concat!(
        r#"{"kind":"interface","version":1,"name":"C"}"#,
        "\n",
        r#"{"kind":"type","name":"Side","variants":[{"name":"Buy","fields":[]},{"name":"Sell","fields":[]}]}"#,
    ))
    .unwrap();
    let t = |topics: &[&str]| {
        let topics: Vec<String> = topics.iter().map(|s| s.to_string()).collect();
        topic_filters(&ctx, &topics, Some((&i, &probed)))
    };
    let a = format!("0x{}", "ab".repeat(32));
    assert_eq!(
        t(&["Probed", "1", &a, "USDC"]).unwrap(),
        vec![
            Some(b"Probed".to_vec()),
            Some(1u64.encode()),
            Some(vec![0xab; 32]),
            Some("USDC".to_string().encode()),
        ]
    );
    assert_eq!(
        t(&["Probed", "u64:1", "_"]).unwrap()[1],
        Some(1u64.encode())
    );
    let e = t(&["Probed", "u32:1"]).unwrap_err().to_string();
    assert!(e.contains("`id` is a u64, not a u32"), "{e}");
    let e = t(&["Probed", "1", "_", "_", "_", "x"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 4 topic fields"), "{e}");
    // A value with a colon that names no type is the field's value; a type the
    // interface describes is typed by it.
    assert_eq!(
        t(&["Probed", "_", "_", "ETH:USDC"]).unwrap()[3],
        Some("ETH:USDC".to_string().encode())
    );
    assert_eq!(
        t(&["Probed", "_", "_", "_", "Sell"]).unwrap()[4],
        Some(vec![1])
    );
    assert_eq!(
        t(&["Probed", "_", "_", "_", "Side:Buy"]).unwrap()[4],
        Some(vec![0])
    );
    assert!(t(&["Probed", "-1"]).is_err());
    // (no declared event: each topic as given)
    let untyped = topic_filters(&ctx, &["Probed".into(), "1".into()], None).unwrap();
    assert_eq!(untyped[1], Some(b"1".to_vec()));
}

/// A well-known dev key signs for dev chains only (its secret is published); other
/// keys sign for any chain.
#[test]
fn well_known_dev_keys_sign_for_dev_chains_only() {
    use supervm_client::keys::{KeyEntry, dev_key};
    let dev = supervm_node::config::DEV_CHAIN_ID;
    assert!(dev_keys_sign_for_dev_chains("dev0", &dev_key(0), dev).is_ok());
    let e = dev_keys_sign_for_dev_chains("dev3", &dev_key(3), 7).unwrap_err();
    assert!(e.to_string().contains("well-known dev key"), "{e}");
    // (under another name too)
    let mut renamed = dev_key(5);
    renamed.name = "alice".into();
    assert!(dev_keys_sign_for_dev_chains("alice", &renamed, 7).is_err());
    assert!(dev_keys_sign_for_dev_chains("bob", &KeyEntry::generate("bob"), 7).is_ok());
}

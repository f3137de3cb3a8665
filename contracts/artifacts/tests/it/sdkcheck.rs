//! `contracts/sdkcheck`: the SDK helpers no other contract runs, on the real VM — the
//! environment getters against `TestEnv`'s block and sender, caller vs origin through
//! `call_typed`, `call_with_gas` and `try_call_with_gas` caps, `Map::keys` / `has` /
//! `remove`, `Item::exists` / `remove`, blake3 / sha256 / ed25519 against the host crates,
//! debug logs in the receipt, and a self-upgrade to the counter's code.

use ed25519_dalek::{Signer, SigningKey};
use sha2::Digest;
use supervm_abi::{Address, Encode, STATUS_OUT_OF_GAS, STATUS_REVERT, STATUS_TRAP};
use supervm_contracts::{COUNTER, SDKCHECK};
use supervm_testkit::{CallResult, DEFAULT_GAS, TestEnv};
use supervm_vm::state::storage_key;
use supervm_vm::{Event, Interface, Outcome, Payload, StateView};

use crate::util::{
    call_fails, data, error_code, event_name, expect_revert, interface, is_invalid, topic,
};

/// `(caller, origin, self_address, block_height, block_timestamp, chain_id, gas_left)`.
type Context = (Address, Address, Address, u64, u64, u64, u64);

struct Fx {
    env: TestEnv,
    iface: Interface,
    /// The sdkcheck instance under test.
    a: Address,
    /// A second instance, called by the first (a contract cannot call itself).
    b: Address,
    counter: Address,
    alice: Address,
    bob: Address,
}

fn setup() -> Fx {
    let mut env = TestEnv::new();
    let (alice, bob) = (env.account("alice"), env.account("bob"));
    env.set_sender(alice);
    let a = env.deploy(SDKCHECK, ());
    let b = env.deploy(SDKCHECK, ());
    let counter = env.deploy(COUNTER, ());
    Fx {
        env,
        iface: interface(SDKCHECK),
        a,
        b,
        counter,
        alice,
        bob,
    }
}

impl Fx {
    /// Calls `function` of instance `a`, expecting success.
    fn ok<A: Encode>(&mut self, function: &str, args: A) -> CallResult {
        let a = self.a;
        let r = self.env.call(&a, function, args);
        assert!(r.is_success(), "{function}: {:?}", r.outcome());
        r
    }

    fn keys(&mut self) -> Vec<u32> {
        self.ok("keys", ()).value()
    }

    fn counter_value(&mut self) -> u64 {
        let c = self.counter;
        self.env.call(&c, "get", ()).value()
    }

    /// `a.try_call_gas(counter, func, arg, gas)`.
    fn try_counter(&mut self, func: &str, arg: Option<u64>, gas: u64) -> CallResult {
        let counter = self.counter;
        self.ok("try_call_gas", (counter, func.to_string(), arg, gas))
    }
}

/// Checks a `CallTried { target, status, code }` event of instance `a`.
fn assert_call_tried(e: &Event, a: Address, target: Address, status: u32, code: u32) {
    assert_eq!(e.contract, a);
    assert_eq!(event_name(e), "CallTried");
    assert_eq!(e.topics.len(), 2);
    assert_eq!(topic::<Address>(e, 1), target);
    assert_eq!(data::<(u32, u32)>(e), (status, code));
}

#[test]
fn interface_lists_the_entry_points_events_and_errors() {
    let i = interface(SDKCHECK);
    assert_eq!(i.name, "SdkCheck");
    let names: Vec<&str> = i.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "act",
            "blob_len",
            "clear_note",
            "context",
            "context_via",
            "context_via_gas",
            "entry",
            "forward",
            "has_key",
            "hashes",
            "keys",
            "log_messages",
            "log_then_fail",
            "note",
            "put",
            "put_blob",
            "remove_keys",
            "set_note",
            "try_call_gas",
            "try_forward",
            "upgrade_to",
            "verify",
        ]
    );
    let v = i.function("verify").unwrap();
    let arg_types: Vec<&str> = v.args.iter().map(|a| a.ty.as_str()).collect();
    assert_eq!(arg_types, ["[u8;32]", "Vec<u8>", "[u8;64]"]);
    assert_eq!(v.returns, "bool");
    assert_eq!(
        i.function("context").unwrap().returns,
        "(Address,Address,Address,u64,u64,u64,u64)"
    );
    assert_eq!(error_code(&i, "entry", "Missing"), 1);
    assert_eq!(error_code(&i, "log_then_fail", "Deliberate"), 2);
    let events: Vec<&str> = i.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["CallTried", "Upgrading"]);
    assert!(
        !supervm_vm::validate::validate(SDKCHECK, &Default::default())
            .unwrap()
            .has_constructor
    );
}

/// `caller`, `origin`, `self_address`, `block_height`, `block_timestamp`, `chain_id` and
/// `gas_left` report exactly what the transaction and `TestEnv::set_block` set.
#[test]
fn context_reports_the_sender_block_chain_and_gas() {
    let mut f = setup();
    f.env.set_block(42, 1_700_000_123_456);
    f.env.set_sender(f.bob);
    let r = f.ok("context", ());
    let (caller, origin, me, height, timestamp, chain, gas_left): Context = r.value();
    assert_eq!(caller, f.bob);
    assert_eq!(origin, f.bob, "the signer is also the origin");
    assert_eq!(me, f.a);
    assert_eq!(height, 42);
    assert_eq!(timestamp, 1_700_000_123_456);
    assert_eq!(chain, 1, "TestEnv's chain id");
    assert!(gas_left > 0 && gas_left < DEFAULT_GAS, "{gas_left}");
    assert!(
        DEFAULT_GAS - gas_left <= r.gas_used(),
        "gas_left ({gas_left}) is read before the call ends: it used {}",
        r.gas_used()
    );

    // Another block, another signer, a smaller gas limit.
    f.env.set_block(43, 1_700_000_124_000);
    f.env.set_sender(f.alice);
    f.env.set_gas_limit(1_000_000);
    let b = f.b;
    let (caller, origin, me, height, timestamp, chain, gas_left): Context =
        f.env.call(&b, "context", ()).value();
    assert_eq!((caller, origin, me), (f.alice, f.alice, f.b));
    assert_eq!((height, timestamp, chain), (43, 1_700_000_124_000, 1));
    assert!(gas_left > 0 && gas_left < 1_000_000, "{gas_left}");
}

/// `TestEnv::advance` moves height and time forwards as a node does, `set_chain_id`
/// changes what `chain_id` reports, uploaded code deploys by hash with a chosen salt at
/// the address a node derives, `events_from` keeps two instances' events apart, and a
/// gas limit over what a node accepts is refused.
#[test]
fn testkit_moves_like_a_node_and_deploys_by_hash() {
    let mut f = setup();
    f.env.set_block(10, 5_000);
    f.env.advance(3, 2_500);
    f.env.set_chain_id(1337);
    let (.., height, timestamp, chain, _): Context = f.ok("context", ()).value();
    assert_eq!((height, timestamp, chain), (13, 7_500, 1337));
    assert_eq!(f.env.block().height, 13);

    let hash = f.env.upload(SDKCHECK);
    assert_eq!(hash, supervm_vm::code_hash(SDKCHECK));
    let r = f
        .env
        .try_deploy_with(supervm_vm::CodeSource::Hash(hash), [7; 32], ());
    assert!(r.is_success(), "{:?}", r.outcome());
    let c = r.receipt.contract.expect("deployed");
    assert_eq!(c, supervm_vm::contract_address(&f.alice, &[7; 32]));

    // `a` tries `c` (which emits nothing), then `c` tries `a`: each event is its emitter's.
    let a = f.a;
    let r = f.env.call(
        &a,
        "try_call_gas",
        (c, "context".to_string(), None::<u64>, 0u64),
    );
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(r.events_from(&a, "CallTried").len(), 1);
    assert!(r.events_from(&c, "CallTried").is_empty());
    let r = f.env.call(
        &c,
        "try_call_gas",
        (a, "context".to_string(), None::<u64>, 0u64),
    );
    assert_eq!(r.events_from(&c, "CallTried").len(), 1);
    assert!(r.events_from(&a, "CallTried").is_empty());
    assert_eq!(r.events_named("CallTried").len(), 1);

    let over = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        f.env.set_gas_limit(supervm_abi::MAX_TX_GAS_LIMIT + 1)
    }));
    assert!(over.is_err(), "a gas limit no node accepts is refused");
    f.env.set_gas_limit(supervm_abi::MAX_TX_GAS_LIMIT);
}

/// Through `call_typed`, the callee's caller is the calling contract and its origin the
/// signer; `call_with_gas` gives the callee at most its cap, and a cap too small fails
/// the whole transaction out of gas.
#[test]
fn calls_between_contracts_see_caller_and_origin_apart() {
    let mut f = setup();
    f.env.set_block(7, 123_456);
    f.env.set_sender(f.bob);
    let (a, b) = (f.a, f.b);
    let (caller, origin, me, height, timestamp, chain, gas_left): Context =
        f.ok("context_via", (b,)).value();
    assert_eq!(caller, a, "the callee's caller is the calling contract");
    assert_eq!(origin, f.bob, "the origin is still the signer");
    assert_ne!(caller, origin);
    assert_eq!(me, b);
    assert_eq!((height, timestamp, chain), (7, 123_456, 1));
    assert!(gas_left > 0 && gas_left < DEFAULT_GAS, "{gas_left}");

    // call_with_gas: the callee sees at most its cap.
    let cap = 200_000u64;
    let (caller, origin, me, _, _, _, gas_left): Context =
        f.ok("context_via_gas", (b, cap)).value();
    assert_eq!((caller, origin, me), (a, f.bob, b));
    assert!(
        gas_left > cap / 2 && gas_left < cap,
        "the callee's gas_left ({gas_left}) is within its cap of {cap}"
    );
    // A cap of 0 means all the gas left.
    let (_, _, _, _, _, _, gas_left): Context = f.ok("context_via_gas", (b, 0u64)).value();
    assert!(gas_left > cap && gas_left < DEFAULT_GAS, "{gas_left}");
    // A cap too small for the callee fails the whole call out of gas (call, not try_call).
    let r = call_fails(&mut f.env, &a, "context_via_gas", (b, 100u64));
    assert_eq!(r.outcome(), &Outcome::OutOfGas);
}

/// `try_call_with_gas` with a cap the callee cannot finish within comes back as
/// `STATUS_OUT_OF_GAS`, rolls back only the callee, costs only the cap, and the caller
/// carries on (its event is kept).
#[test]
fn try_call_with_gas_reports_out_of_gas_and_the_caller_carries_on() {
    let mut f = setup();
    let (a, counter) = (f.a, f.counter);

    // `increment` needs more than 500 gas (a storage read, a write and an event).
    let r = f.try_counter("increment", None, 500);
    let (status, code, ret): (u32, u32, Vec<u8>) = r.value();
    assert_eq!(status, STATUS_OUT_OF_GAS);
    assert_eq!((code, ret), (0, vec![]));
    assert_eq!(r.events().len(), 1, "the callee's event is rolled back");
    assert_call_tried(&r.events()[0], a, counter, STATUS_OUT_OF_GAS, 0);
    assert!(
        r.receipt.write_set.is_empty(),
        "the callee's write is rolled back: {:?}",
        r.receipt.write_set
    );
    assert_eq!(f.counter_value(), 0);
    // The callee used exactly its cap: twice the cap costs exactly the cap more.
    let r2 = f.try_counter("increment", None, 1_000);
    assert_eq!(r2.value::<(u32, u32, Vec<u8>)>().0, STATUS_OUT_OF_GAS);
    assert_eq!(r2.gas_used() - r.gas_used(), 500);
    assert!(r2.gas_used() < DEFAULT_GAS / 100, "{}", r2.gas_used());

    // With all the gas left (0), the same call succeeds.
    let r = f.try_counter("increment", None, 0);
    let (status, code, ret): (u32, u32, Vec<u8>) = r.value();
    assert_eq!((status, code, ret), (0, 0, 1u64.encode()));
    assert_eq!(r.events().len(), 2);
    assert_eq!(r.events()[0].contract, counter);
    assert_eq!(event_name(&r.events()[0]), "Incremented");
    assert_eq!(
        topic::<Address>(&r.events()[0], 1),
        a,
        "the counter's caller is sdkcheck"
    );
    assert_call_tried(&r.events()[1], a, counter, 0, 0);
    assert_eq!(f.counter_value(), 1);

    // A revert comes back with the callee's code (counter's `Deliberate`, 2), its write
    // discarded.
    let r = f.try_counter("add_then_revert", Some(5), 0);
    let (status, code, ret): (u32, u32, Vec<u8>) = r.value();
    assert_eq!((status, code, ret), (STATUS_REVERT, 2, vec![]));
    assert_call_tried(&r.events()[0], a, counter, STATUS_REVERT, 2);
    assert_eq!(f.counter_value(), 1);

    // A function the callee does not have: a trap status.
    let r = f.try_counter("no_such_function", None, 0);
    let (status, code, _): (u32, u32, Vec<u8>) = r.value();
    assert_eq!((status, code), (STATUS_TRAP, 0));

    // The least cap `increment` succeeds with; one gas less runs out at its very end,
    // after its write and its event (its return data is charged last): both are rolled
    // back with it, the caller's own event kept.
    let (mut lo, mut hi) = (1_000u64, 200_000u64);
    assert_eq!(
        f.try_counter("increment", None, hi)
            .value::<(u32, u32, Vec<u8>)>()
            .0,
        0
    );
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let before = f.counter_value();
        let ok = f
            .try_counter("increment", None, mid)
            .value::<(u32, u32, Vec<u8>)>()
            .0
            == 0;
        assert_eq!(f.counter_value(), before + u64::from(ok));
        if ok { hi = mid } else { lo = mid }
    }
    let before = f.counter_value();
    let r = f.try_counter("increment", None, hi - 1);
    assert_eq!(r.value::<(u32, u32, Vec<u8>)>().0, STATUS_OUT_OF_GAS);
    assert_eq!(
        r.events().len(),
        1,
        "the callee's Incremented is rolled back"
    );
    assert_call_tried(&r.events()[0], a, counter, STATUS_OUT_OF_GAS, 0);
    assert_eq!(
        f.counter_value(),
        before,
        "the callee's write is rolled back"
    );
    let counted = f.try_counter("increment", None, hi);
    assert_eq!(counted.events().len(), 2, "at the least cap, both events");
    assert_eq!(f.counter_value(), before + 1);
}

/// `Map::set` / `remove` / `has` / `get` and `Map::keys` in byte order of the encoded
/// keys (little-endian `u32`: 256 first), both within the removing transaction and after.
#[test]
fn map_keys_has_and_remove() {
    let mut f = setup();
    assert_eq!(f.keys(), Vec::<u32>::new());
    f.ok(
        "put",
        (vec![(3u32, 30u64), (1, 10), (256, 2560), (2, 20), (5, 50)],),
    );
    assert_eq!(f.keys(), [256, 1, 2, 3, 5]);
    assert!(f.ok("has_key", (2u32,)).value::<bool>());

    // 7 was never there: removing it is no error.
    let r = f.ok("remove_keys", (vec![2u32, 5, 7],));
    assert_eq!(
        r.value::<Vec<u32>>(),
        [256, 1, 3],
        "keys seen by the same call"
    );
    let removed = storage_key(&f.a, &[&b"E"[..], &2u32.to_le_bytes()].concat());
    assert_eq!(r.receipt.write_set.get(&removed), Some(&None));
    assert_eq!(f.keys(), [256, 1, 3]);

    for (k, present) in [
        (256u32, true),
        (1, true),
        (3, true),
        (2, false),
        (5, false),
        (7, false),
    ] {
        assert_eq!(
            f.ok("has_key", (k,)).value::<bool>(),
            present,
            "has_key({k})"
        );
    }
    assert_eq!(f.ok("entry", (256u32,)).value::<u64>(), 2560);
    assert_eq!(f.ok("entry", (3u32,)).value::<u64>(), 30);
    let a = f.a;
    expect_revert(&mut f.env, &f.iface, &a, "entry", (2u32,), "Missing");

    // Setting a removed key again brings it back in its place.
    f.ok("put", (vec![(2u32, 21u64)],));
    assert_eq!(f.keys(), [256, 1, 2, 3]);
    assert_eq!(f.ok("entry", (2u32,)).value::<u64>(), 21);
}

/// `Item::exists` / `get` / `set` / `remove`.
#[test]
fn item_exists_and_remove() {
    let mut f = setup();
    assert_eq!(
        f.ok("note", ()).value::<(bool, Option<u64>)>(),
        (false, None)
    );
    f.ok("set_note", (9u64,));
    assert_eq!(
        f.ok("note", ()).value::<(bool, Option<u64>)>(),
        (true, Some(9))
    );
    let r = f.ok("clear_note", ());
    assert_eq!(
        r.receipt.write_set.get(&storage_key(&f.a, b"note")),
        Some(&None)
    );
    assert_eq!(
        f.ok("note", ()).value::<(bool, Option<u64>)>(),
        (false, None)
    );
    // Zero is a value like any other: present.
    f.ok("set_note", (0u64,));
    assert_eq!(
        f.ok("note", ()).value::<(bool, Option<u64>)>(),
        (true, Some(0))
    );
}

/// The SDK reads a stored value of up to 4 KiB in one host call, straight into the
/// vector it returns; a longer one in two (the second into a vector of its exact
/// length), so only past 4 KiB does a read pay `storage_get` twice.
#[test]
fn values_up_to_4_kib_are_read_once() {
    let mut f = setup();
    // (gas of reading back a blob whose stored value is `stored` bytes long; sizes a
    // multiple of 8 apart, so the wasm copies in decoding cost alike)
    let mut read_gas = |stored: usize| {
        let data = vec![7u8; stored - 4];
        f.ok("put_blob", (data,));
        let r = f.ok("blob_len", ());
        assert_eq!(r.value::<u32>() as usize, stored - 4);
        r.gas_used()
    };
    let (a, b, c) = (read_gas(4088), read_gas(4096), read_gas(4104));
    let cost = supervm_vm::abi::HOST_FNS
        .iter()
        .find(|h| h.name == "storage_get")
        .unwrap()
        .cost;
    assert!(b > a && b - a < cost.base, "4088 -> 4096 bytes: {a} -> {b}");
    // (past 4 KiB: the second read's base and every byte of the value again)
    let again = cost.base + cost.per_byte * 4104;
    assert!(
        c > b + again,
        "4096 -> 4104 bytes: {b} -> {c}, a second read {again}"
    );
    // A present but empty value reads as present (and then fails to decode as a u64:
    // BAD_STORAGE), an absent one as absent (the contract's own Missing).
    let empty = storage_key(&f.a, &[&b"E"[..], &7u32.to_le_bytes()].concat());
    let mut w = supervm_vm::state::WriteSet::new();
    w.insert(empty, Some(vec![]));
    f.env.state_mut().apply(&w);
    let call = |f: &mut Fx, key: u32| {
        let a = f.a;
        f.env.call(&a, "entry", (key,)).revert_code()
    };
    assert_eq!(call(&mut f, 7), Some(supervm_abi::BAD_STORAGE));
    assert_eq!(call(&mut f, 8), Some(1));
    // (the last value stands; a shorter one replaces it whole)
    assert_eq!(f.ok("blob_len", ()).value::<u32>(), 4100);
    f.ok("put_blob", (vec![1u8; 3],));
    assert_eq!(f.ok("blob_len", ()).value::<u32>(), 3);
}

/// `env::blake3` / `sha256` / `ed25519_verify` agree with the host crates.
#[test]
fn crypto_matches_the_reference_crates() {
    let mut f = setup();
    for msg in [&b""[..], &b"abc"[..], &[0xA5u8; 1000][..]] {
        let (b3, sha): ([u8; 32], [u8; 32]) = f.ok("hashes", (msg.to_vec(),)).value();
        assert_eq!(
            &b3,
            blake3::hash(msg).as_bytes(),
            "blake3 of {} bytes",
            msg.len()
        );
        let expected: [u8; 32] = sha2::Sha256::digest(msg).into();
        assert_eq!(sha, expected, "sha256 of {} bytes", msg.len());
    }

    let key = SigningKey::from_bytes(&[7; 32]);
    let pk = key.verifying_key().to_bytes();
    let msg = b"sdkcheck signed message".to_vec();
    let sig = key.sign(&msg).to_bytes();
    assert!(verify(&mut f, pk, &msg, sig), "a valid signature");
    let mut bad_sig = sig;
    bad_sig[0] ^= 1;
    assert!(!verify(&mut f, pk, &msg, bad_sig), "a tampered signature");
    assert!(
        !verify(&mut f, pk, b"another message", sig),
        "another message"
    );
    let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
    assert!(!verify(&mut f, other, &msg, sig), "another key");
}

/// `a.verify(pk, msg, sig)`.
fn verify(f: &mut Fx, pk: [u8; 32], msg: &[u8], sig: [u8; 64]) -> bool {
    f.ok("verify", (pk, msg.to_vec(), sig)).value()
}

/// `env::log` lines land in the receipt's logs, in order, and are kept when the call
/// reverts.
#[test]
fn log_lines_are_in_the_receipt() {
    let mut f = setup();
    let r = f.ok(
        "log_messages",
        (vec!["first line".to_string(), "second line".to_string()],),
    );
    assert_eq!(r.value::<u32>(), 2);
    assert_eq!(r.receipt.logs, ["first line", "second line"]);
    assert!(r.events().is_empty());

    let a = f.a;
    let r = expect_revert(
        &mut f.env,
        &f.iface,
        &a,
        "log_then_fail",
        ("logged before the revert".to_string(),),
        "Deliberate",
    );
    assert_eq!(r.receipt.logs, ["logged before the revert"]);

    // A call that logs nothing has no logs.
    assert!(f.ok("keys", ()).receipt.logs.is_empty());
}

/// `env::upgrade`: sdkcheck replaces its code by the counter's uploaded code and is a
/// counter from its next call on, at the same address; unknown code traps and changes
/// nothing.
#[test]
fn upgrade_to_the_counter_code() {
    let mut f = setup();
    let (a, b) = (f.a, f.b);
    f.ok("set_note", (5u64,));

    // The counter's code (already stored by its deploy; uploading it again is harmless).
    let up = f.env.execute(Payload::Upload {
        code: COUNTER.to_vec(),
    });
    assert!(up.is_success(), "{:?}", up.outcome());
    let hash = up.receipt.code_hash.expect("an upload names its code hash");
    assert_eq!(hash, supervm_vm::code_hash(COUNTER));

    // No code with this hash: a trap, and the contract keeps its code.
    let r = call_fails(&mut f.env, &a, "upgrade_to", ([9u8; 32],));
    assert!(
        matches!(r.outcome(), Outcome::Trap { reason } if reason.contains("no code with that hash")),
        "{:?}",
        r.outcome()
    );
    f.ok("context", ());

    let r = f.ok("upgrade_to", (hash,));
    assert_eq!(r.events().len(), 1);
    assert_eq!(event_name(&r.events()[0]), "Upgrading");
    assert_eq!(data::<[u8; 32]>(&r.events()[0]), hash);

    // Now a counter at the same address, with the same storage.
    assert_eq!(f.env.call(&a, "get", ()).value::<u64>(), 0);
    let r = f.env.call(&a, "increment", ());
    assert_eq!(r.value::<u64>(), 1);
    assert_eq!(r.events()[0].contract, a);
    assert_eq!(event_name(&r.events()[0]), "Incremented");
    let r = f.env.call(&a, "context", ());
    assert!(
        is_invalid(&r, "no entry point context"),
        "{:?}",
        r.outcome()
    );
    assert_eq!(
        f.env
            .state()
            .get(&storage_key(&a, b"note"))
            .expect("in-memory state"),
        Some(5u64.encode()),
        "storage survives the upgrade"
    );
    // The other instance keeps the sdkcheck code.
    let (_, _, me, _, _, _, _): Context = f.env.call(&b, "context", ()).value();
    assert_eq!(me, b);
}

/// A contract's derived struct and enum (`#[derive(Encode, Decode)]`) are described in
/// its interface, field by field and variant by variant, and travel as arguments and
/// results in the derive's encoding (a struct as the tuple of its fields; an enum as a
/// tag byte and the variant's fields).
#[test]
fn derived_types_are_described_and_round_trip() {
    let mut f = setup();
    let order = f
        .iface
        .types
        .iter()
        .find(|t| t.name == "Order")
        .expect("Order described");
    let fields: Vec<(&str, &str)> = order
        .fields
        .iter()
        .map(|x| (x.name.as_str(), x.ty.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("owner", "Address"),
            ("amount", "u128"),
            ("note", "Option<String>")
        ]
    );
    let action = f
        .iface
        .types
        .iter()
        .find(|t| t.name == "Action")
        .expect("Action described");
    let variants: Vec<(&str, usize)> = action
        .variants
        .as_ref()
        .expect("an enum")
        .iter()
        .map(|v| (v.name.as_str(), v.fields.len()))
        .collect();
    assert_eq!(variants, [("Stop", 0), ("Move", 2), ("Place", 2)]);
    assert_eq!(f.iface.function("act").unwrap().args[0].ty, "Action");

    // Place { order: Order { owner, amount 77, note "n" }, at 3 }, as the derive encodes it.
    let owner = f.alice;
    let place = (2u8, (owner, 77u128, Some("n".to_string())), 3u16);
    let r = f.ok("act", (place.clone(),));
    assert_eq!(r.receipt.return_data, (place, 77u128).encode());
    let r = f.ok("act", ((1u8, 9u64, true),));
    assert_eq!(r.receipt.return_data, ((1u8, 9u64, true), 9u128).encode());
    let r = f.ok("act", (0u8,));
    assert_eq!(r.receipt.return_data, (0u8, 0u128).encode());
    // An unknown tag does not decode: BAD_INPUT, named as such by the test harness.
    let a = f.a;
    let r = f.env.call(&a, "act", (7u8,));
    assert_eq!(r.revert_code(), Some(crate::util::BAD_INPUT));
    assert!(
        r.describe()
            .contains("BAD_INPUT: the arguments did not decode"),
        "{}",
        r.describe()
    );
}

/// `call_raw` / `try_call_raw` pass the input as it is: a proxy forwards an encoded
/// argument tuple, and the callee decodes it (through `call` it would be a `Vec<u8>`
/// argument, length-prefixed, and the callee would revert with `BAD_INPUT`).
#[test]
fn raw_calls_forward_the_input_as_it_is() {
    let mut f = setup();
    let (b, counter) = (f.b, f.counter);
    assert!(f.env.call(&b, "put", (vec![(5u32, 50u64)],)).is_success());
    // b.entry(5) through a: the input is (5u32,) encoded, forwarded untouched.
    let r = f.ok("forward", (b, "entry".to_string(), (5u32,).encode()));
    assert_eq!(r.value::<Vec<u8>>(), 50u64.encode());
    // A failure comes back through try_call_raw: entry(6) reverts with Missing (1).
    let r = f.ok("try_forward", (b, "entry".to_string(), (6u32,).encode()));
    assert_eq!(r.value::<(u32, u32, Vec<u8>)>(), (STATUS_REVERT, 1, vec![]));
    // A counter's `get` takes no input: forwarded empty, it answers.
    let r = f.ok(
        "try_forward",
        (counter, "get".to_string(), Vec::<u8>::new()),
    );
    assert_eq!(r.value::<(u32, u32, Vec<u8>)>().0, 0);
    // Through `call`, the same bytes would be one Vec<u8> argument: BAD_INPUT.
    let r = f.ok(
        "try_forward",
        (b, "entry".to_string(), ((5u32,).encode(),).encode()),
    );
    assert_eq!(
        r.value::<(u32, u32, Vec<u8>)>(),
        (STATUS_REVERT, crate::util::BAD_INPUT, vec![])
    );
}

//! Golden gas traces: one fixed scenario over the token, counter, escrow and hotkey contracts,
//! each step's outcome, gas and state hash compared with `tests/golden/gas.txt`.
//! `SUPERVM_BLESS=1` rewrites the file.

use std::fmt::Write as _;
use std::path::PathBuf;

use supervm_abi::{Address, Encode};
use supervm_contracts::{COUNTER, ESCROW, HOTKEY, TOKEN};
use supervm_testkit::{CallResult, DEFAULT_GAS, TestEnv};
use supervm_vm::{Outcome, Payload};

const HEADER: &str = "\
# Golden gas trace of the example contracts (contracts/artifacts/tests/it/golden.rs).
# One line per step of a fixed scenario: step outcome gas_used state_hash receipt_hash
# (first 8 bytes of each, hex; the receipt hash covers the outcome with its revert data
# or reason, return data, events and the write set).
# A change here means gas costs, contract code, state layout or receipt content changed.
# If intended, regenerate: SUPERVM_BLESS=1 cargo test --release -p supervm-contracts golden
";

fn outcome_str(o: &Outcome) -> String {
    match o {
        Outcome::Success => "success".into(),
        Outcome::Revert { code, .. } => format!("revert({code})"),
        Outcome::OutOfGas => "out_of_gas".into(),
        Outcome::Trap { .. } => "trap".into(),
        Outcome::Invalid { .. } => "invalid".into(),
    }
}

struct Trace {
    env: TestEnv,
    out: String,
    steps: usize,
}

impl Trace {
    fn record(&mut self, step: &str, r: &CallResult) -> CallResult {
        assert!(
            !step.contains(char::is_whitespace),
            "step names are one word: {step}"
        );
        let h = self.env.state().state_hash();
        writeln!(
            self.out,
            "{step} {} {} {} {}",
            outcome_str(r.outcome()),
            r.gas_used(),
            hex16(&h),
            hex16(&r.receipt.hash())
        )
        .expect("write to string");
        self.steps += 1;
        r.clone()
    }

    fn as_(&mut self, who: Address) -> &mut Self {
        self.env.set_sender(who);
        self
    }

    fn call<A: Encode>(&mut self, step: &str, c: &Address, f: &str, args: A) -> CallResult {
        let r = self.env.call(c, f, args);
        self.record(step, &r)
    }

    fn deploy<A: Encode>(&mut self, step: &str, code: &[u8], args: A) -> Address {
        let r = self.env.try_deploy(code, args);
        let r = self.record(step, &r);
        assert!(r.is_success(), "{step}: {:?}", r.outcome());
        r.receipt.contract.expect("deployed")
    }
}

fn hex16(h: &[u8; 32]) -> String {
    h[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The scenario. Every step's expected outcome is also asserted here, so that a blessed file
/// cannot silently record a broken scenario.
fn scenario() -> String {
    let mut t = Trace {
        env: TestEnv::new(),
        out: String::from(HEADER),
        steps: 0,
    };
    let alice = t.env.account("alice");
    let bob = t.env.account("bob");
    let carol = t.env.account("carol");

    let ok = |r: &CallResult| assert!(r.is_success(), "{:?}", r.outcome());
    let rev =
        |r: &CallResult, code: u32| assert_eq!(r.revert_code(), Some(code), "{:?}", r.outcome());

    // Deploys.
    t.as_(alice);
    let ta = t.deploy(
        "deploy_token_a",
        TOKEN,
        (
            "Alpha".to_string(),
            "A".to_string(),
            6u8,
            alice,
            1_000_000u128,
        ),
    );
    t.as_(bob);
    let tb = t.deploy(
        "deploy_token_b",
        TOKEN,
        ("Beta".to_string(), "B".to_string(), 18u8, bob, 500_000u128),
    );
    t.as_(carol);
    let counter = t.deploy("deploy_counter", COUNTER, ());
    let hk = t.deploy("deploy_hotkey", HOTKEY, ());
    let escrow = t.deploy("deploy_escrow", ESCROW, ());

    // Token.
    t.as_(alice);
    ok(&t.call("a_transfer_bob", &ta, "transfer", (bob, 1_000u128)));
    ok(&t.call("a_transfer_bob_again", &ta, "transfer", (bob, 1_000u128)));
    ok(&t.call("a_transfer_self", &ta, "transfer", (alice, 5u128)));
    ok(&t.call("a_transfer_zero", &ta, "transfer", (carol, 0u128)));
    t.as_(carol);
    rev(
        &t.call("a_transfer_empty", &ta, "transfer", (bob, 1u128)),
        1,
    );
    rev(
        &t.call("a_mint_unauthorized", &ta, "mint", (carol, 1u128)),
        3,
    );
    t.as_(alice);
    ok(&t.call("a_mint_carol", &ta, "mint", (carol, 777u128)));
    rev(
        &t.call("a_mint_overflow", &ta, "mint", (carol, u128::MAX)),
        4,
    );
    ok(&t.call("a_approve_bob", &ta, "approve", (bob, 600u128)));
    t.as_(bob);
    ok(&t.call(
        "a_transfer_from",
        &ta,
        "transfer_from",
        (alice, carol, 250u128),
    ));
    rev(
        &t.call(
            "a_transfer_from_over",
            &ta,
            "transfer_from",
            (alice, carol, 351u128),
        ),
        2,
    );
    ok(&t.call("a_balance_view", &ta, "balance", (carol,)));
    ok(&t.call("a_total_supply", &ta, "total_supply", ()));
    ok(&t.call("a_name", &ta, "name", ()));
    let r = t.env.execute(Payload::Call {
        contract: ta,
        function: "transfer".into(),
        args: vec![1, 2, 3],
    });
    rev(&t.record("a_transfer_bad_input", &r), 0xFFFF_FFFF);
    let r = t.call("a_unknown_function", &ta, "burn", (1u128,));
    assert!(matches!(r.outcome(), Outcome::Invalid { .. }));
    // Out of gas inside the contract, and before it (intrinsic gas over the limit).
    t.env.set_gas_limit(4_000);
    assert_eq!(
        t.call("a_transfer_out_of_gas", &ta, "transfer", (carol, 1u128))
            .outcome(),
        &Outcome::OutOfGas
    );
    t.env.set_gas_limit(1_000);
    assert_eq!(
        t.call("a_transfer_intrinsic_oog", &ta, "transfer", (carol, 1u128))
            .outcome(),
        &Outcome::OutOfGas
    );
    t.env.set_gas_limit(DEFAULT_GAS);

    // Counter.
    t.as_(carol);
    ok(&t.call("c_increment", &counter, "increment", ()));
    ok(&t.call("c_increment_again", &counter, "increment", ()));
    ok(&t.call("c_add", &counter, "add", (40u64,)));
    rev(&t.call("c_add_overflow", &counter, "add", (u64::MAX,)), 1);
    rev(
        &t.call("c_add_then_revert", &counter, "add_then_revert", (5u64,)),
        2,
    );
    let r = t.call("c_add_then_panic", &counter, "add_then_panic", (5u64,));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    ok(&t.call("c_get", &counter, "get", ()));

    // Hotkey.
    ok(&t.call("h_bump", &hk, "bump", (7u32, 3u64)));
    ok(&t.call("h_bump_hot", &hk, "bump_hot", (1u64,)));
    ok(&t.call(
        "h_bump_many",
        &hk,
        "bump_many",
        (vec![1u32, 2, 3, 7, 7], 2u64),
    ));
    let r = t.call("h_bump_overflow", &hk, "bump", (7u32, u64::MAX));
    assert!(
        matches!(r.outcome(), Outcome::Trap { .. }),
        "{:?}",
        r.outcome()
    );
    ok(&t.call("h_read", &hk, "read", (7u32,)));

    // Escrow, calling both tokens.
    t.as_(alice);
    rev(
        &t.call(
            "e_create_unapproved",
            &escrow,
            "create_offer",
            (ta, 100u128, tb, 10u128),
        ),
        3,
    );
    ok(&t.call("e_approve_a", &ta, "approve", (escrow, 1_000u128)));
    ok(&t.call(
        "e_create_0",
        &escrow,
        "create_offer",
        (ta, 300u128, tb, 30u128),
    ));
    ok(&t.call(
        "e_create_1",
        &escrow,
        "create_offer",
        (ta, 300u128, tb, 1_000_000u128),
    ));
    ok(&t.call(
        "e_create_2",
        &escrow,
        "create_offer",
        (ta, 300u128, tb, 20u128),
    ));
    ok(&t.call("e_offer_view", &escrow, "offer", (0u64,)));
    t.as_(bob);
    rev(
        &t.call("e_accept_unapproved", &escrow, "accept", (0u64,)),
        3,
    );
    rev(&t.call("e_cancel_not_maker", &escrow, "cancel", (2u64,)), 2);
    ok(&t.call("e_approve_b", &tb, "approve", (escrow, 10_000_000u128)));
    ok(&t.call("e_accept_0", &escrow, "accept", (0u64,)));
    rev(&t.call("e_accept_0_again", &escrow, "accept", (0u64,)), 1);
    let r = t.call(
        "e_try_accept_many",
        &escrow,
        "try_accept_many",
        (vec![1u64, 2, 9],),
    );
    assert_eq!(r.value::<Vec<bool>>(), vec![false, true, false]);
    t.as_(alice);
    ok(&t.call("e_cancel_1", &escrow, "cancel", (1u64,)));
    rev(&t.call("e_cancel_1_again", &escrow, "cancel", (1u64,)), 1);
    t.env.set_gas_limit(30_000);
    let r = t.call(
        "e_create_out_of_gas",
        &escrow,
        "create_offer",
        (ta, 1u128, tb, 1u128),
    );
    assert_eq!(r.outcome(), &Outcome::OutOfGas);
    t.env.set_gas_limit(DEFAULT_GAS);

    assert!(t.steps >= 45, "{} steps", t.steps);
    t.out
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/gas.txt")
}

/// A line-by-line diff of two texts: `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                let _ = writeln!(out, "line {}:", i + 1);
                if let Some(x) = x {
                    let _ = writeln!(out, "  - {x}");
                }
                if let Some(y) = y {
                    let _ = writeln!(out, "  + {y}");
                }
            }
        }
    }
    out
}

#[test]
fn golden_gas_trace() {
    let actual = scenario();
    assert_eq!(
        actual,
        scenario(),
        "the scenario is not deterministic within one process"
    );
    let path = golden_path();
    if std::env::var("SUPERVM_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("create tests/golden");
        std::fs::write(&path, &actual).expect("write the golden file");
        eprintln!("wrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; generate it with SUPERVM_BLESS=1 cargo test --release -p supervm-contracts golden",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "golden gas trace mismatch ({}):\n{}\ngas or state changed; if intended, regenerate with SUPERVM_BLESS=1 cargo test --release -p supervm-contracts golden",
            path.display(),
            diff(&expected, &actual)
        );
    }
}

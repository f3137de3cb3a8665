//! `contracts/token`: every entry point, error code and event, and its interface section.

use supervm_abi::{Address, Encode};
use supervm_contracts::TOKEN;
use supervm_testkit::TestEnv;
use supervm_vm::state::storage_key;
use supervm_vm::{CodeSource, Interface, Outcome, Payload};

use crate::util::{
    BAD_INPUT, allowance, assert_transfer, balance, call_fails, data, deploy_token, error_code,
    event_name, expect_bad_input, expect_revert, interface, is_invalid, topic,
};

/// The token's error enum as the contract source declares it (`contracts/token/src/lib.rs`).
const TOKEN_ERRORS: [(&str, u32); 4] = [
    ("InsufficientBalance", 1),
    ("InsufficientAllowance", 2),
    ("Unauthorized", 3),
    ("Overflow", 4),
];

struct Fx {
    env: TestEnv,
    iface: Interface,
    token: Address,
    alice: Address,
    bob: Address,
    carol: Address,
}

/// Alice is the admin and holds the whole supply of 1000.
fn setup() -> Fx {
    let mut env = TestEnv::new();
    let (alice, bob, carol) = (
        env.account("alice"),
        env.account("bob"),
        env.account("carol"),
    );
    let token = deploy_token(&mut env, alice, 1000);
    Fx {
        env,
        iface: interface(TOKEN),
        token,
        alice,
        bob,
        carol,
    }
}

#[test]
fn interface_lists_functions_events_and_errors() {
    let info = supervm_vm::validate::validate(TOKEN, &Default::default()).expect("token validates");
    let text = info.interface.expect("interface section present");
    let i = Interface::parse(&text).expect("interface parses");
    assert_eq!(i.name, "Token");
    assert_eq!(i.version, supervm_abi::INTERFACE_VERSION);

    let sig = |name: &str| {
        let f = i.function(name).unwrap_or_else(|| panic!("no {name}"));
        let args: Vec<(String, String)> = f
            .args
            .iter()
            .map(|a| (a.name.clone(), a.ty.clone()))
            .collect();
        (
            f.export.clone(),
            args,
            f.returns.clone(),
            f.error.clone(),
            f.constructor,
        )
    };
    let a = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    };
    let err = Some("TokenError".to_string());
    assert_eq!(
        sig("init"),
        (
            "__init".into(),
            a(&[
                ("name", "String"),
                ("symbol", "String"),
                ("decimals", "u8"),
                ("admin", "Address"),
                ("initial_supply", "u128")
            ]),
            "()".into(),
            None,
            true
        )
    );
    assert_eq!(
        sig("mint"),
        (
            "mint".into(),
            a(&[("to", "Address"), ("amount", "u128")]),
            "()".into(),
            err.clone(),
            false
        )
    );
    assert_eq!(
        sig("transfer"),
        (
            "transfer".into(),
            a(&[("to", "Address"), ("amount", "u128")]),
            "()".into(),
            err.clone(),
            false
        )
    );
    assert_eq!(
        sig("balance"),
        (
            "balance".into(),
            a(&[("owner", "Address")]),
            "u128".into(),
            None,
            false
        )
    );
    assert_eq!(
        sig("approve"),
        (
            "approve".into(),
            a(&[("spender", "Address"), ("amount", "u128")]),
            "()".into(),
            err.clone(),
            false
        )
    );
    assert_eq!(
        sig("allowance"),
        (
            "allowance".into(),
            a(&[("owner", "Address"), ("spender", "Address")]),
            "u128".into(),
            None,
            false
        )
    );
    assert_eq!(
        sig("transfer_from"),
        (
            "transfer_from".into(),
            a(&[("from", "Address"), ("to", "Address"), ("amount", "u128")]),
            "()".into(),
            err.clone(),
            false
        )
    );
    assert_eq!(
        sig("total_supply"),
        ("total_supply".into(), vec![], "u128".into(), None, false)
    );
    assert_eq!(
        sig("name"),
        ("name".into(), vec![], "String".into(), None, false)
    );
    assert_eq!(
        sig("symbol"),
        ("symbol".into(), vec![], "String".into(), None, false)
    );
    assert_eq!(
        sig("decimals"),
        ("decimals".into(), vec![], "u8".into(), None, false)
    );
    let names: Vec<&str> = i.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "allowance",
            "approve",
            "balance",
            "decimals",
            "decrease_allowance",
            "increase_allowance",
            "init",
            "mint",
            "name",
            "symbol",
            "total_supply",
            "transfer",
            "transfer_from"
        ]
    );
    // Every listed function except the constructor is an entry point of the module.
    for f in &i.functions {
        assert!(
            info.entry_points.contains(&f.export),
            "{} is not exported",
            f.export
        );
    }
    assert_eq!(info.entry_points.len(), i.functions.len());
    assert!(info.has_constructor);

    type Fields = Vec<(String, String)>;
    let ev: Vec<(String, Fields, Fields)> = i
        .events
        .iter()
        .map(|e| {
            let f = |v: &[supervm_vm::interface::Field]| {
                v.iter().map(|x| (x.name.clone(), x.ty.clone())).collect()
            };
            (e.name.clone(), f(&e.topics), f(&e.data))
        })
        .collect();
    assert_eq!(
        ev,
        vec![
            (
                "Approval".to_string(),
                a(&[("owner", "Address"), ("spender", "Address")]),
                a(&[("amount", "u128")])
            ),
            (
                "Transfer".to_string(),
                a(&[("from", "Address"), ("to", "Address")]),
                a(&[("amount", "u128")])
            ),
        ]
    );

    assert_eq!(i.errors.len(), 1);
    assert_eq!(i.errors[0].name, "TokenError");
    let variants: Vec<(&str, u32)> = i.errors[0]
        .variants
        .iter()
        .map(|v| (v.name.as_str(), v.code))
        .collect();
    assert_eq!(variants, TOKEN_ERRORS);
    assert_eq!(i.error_name("transfer", 1), Some("InsufficientBalance"));
    assert_eq!(
        i.error_name("balance", 1),
        None,
        "balance returns no Result"
    );
}

#[test]
fn deploy_sets_metadata_and_mints_to_admin() {
    let mut env = TestEnv::new();
    let alice = env.account("alice");
    env.set_sender(alice);
    let r = env.try_deploy(
        TOKEN,
        ("Coin".to_string(), "C".to_string(), 6u8, alice, 1000u128),
    );
    assert!(r.is_success(), "{:?}", r.outcome());
    let token = r.receipt.contract.expect("deploy names the contract");
    assert_eq!(r.receipt.code_hash, Some(supervm_vm::code_hash(TOKEN)));
    assert_eq!(r.events().len(), 1);
    assert_transfer(&r.events()[0], &token, Address::ZERO, alice, 1000);

    assert_eq!(env.call(&token, "name", ()).value::<String>(), "Coin");
    assert_eq!(env.call(&token, "symbol", ()).value::<String>(), "C");
    assert_eq!(env.call(&token, "decimals", ()).value::<u8>(), 6);
    assert_eq!(env.call(&token, "total_supply", ()).value::<u128>(), 1000);
    assert_eq!(balance(&mut env, &token, alice), 1000);
    let nobody = env.account("nobody");
    assert_eq!(balance(&mut env, &token, nobody), 0);
}

#[test]
fn deploy_with_bad_constructor_args_creates_nothing() {
    let mut env = TestEnv::new();
    let alice = env.account("alice");
    env.set_sender(alice);
    let before = env.state().state_hash();
    // Missing the supply.
    let r = env.try_deploy(TOKEN, ("Coin".to_string(), "C".to_string(), 6u8, alice));
    // (named for the address being deployed: the first deploy of this environment)
    let mut salt = [0u8; 32];
    salt[0] = 1;
    assert_eq!(
        r.outcome(),
        &Outcome::Revert {
            code: BAD_INPUT,
            data: vec![],
            contract: supervm_vm::contract_address(&alice, &salt)
        }
    );
    assert!(
        r.receipt.write_set.is_empty(),
        "a failed deploy stores neither code nor record"
    );
    assert_eq!(env.state().state_hash(), before);
}

#[test]
fn constructor_cannot_be_called_again() {
    let mut f = setup();
    let before = f.env.state().state_hash();
    let r = f.env.call(
        &f.token,
        "__init",
        ("X".to_string(), "X".to_string(), 0u8, f.bob, 5u128),
    );
    assert!(is_invalid(&r, "not callable"), "{:?}", r.outcome());
    assert_eq!(f.env.state().state_hash(), before);
    let r = f.env.call(
        &f.token,
        "init",
        ("X".to_string(), "X".to_string(), 0u8, f.bob, 5u128),
    );
    assert!(is_invalid(&r, "no entry point init"), "{:?}", r.outcome());
    assert_eq!(f.env.state().state_hash(), before);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 0);
}

#[test]
fn transfer_moves_tokens_and_emits_transfer() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    let r = f.env.call(&f.token, "transfer", (f.bob, 10u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert!(r.receipt.return_data.is_empty(), "transfer returns ()");
    assert_eq!(r.events().len(), 1);
    assert_transfer(&r.events()[0], &f.token, f.alice, f.bob, 10);
    // Exactly the two balances are written, with their codec encodings.
    let w = &r.receipt.write_set;
    assert_eq!(w.len(), 2);
    let key = |a: &Address| storage_key(&f.token, &[&b"B"[..], &a.0].concat());
    assert_eq!(w.get(&key(&f.alice)), Some(&Some(990u128.encode())));
    assert_eq!(w.get(&key(&f.bob)), Some(&Some(10u128.encode())));
    // Reads: only the contract record. The balances are delta reads (`storage_add`):
    // alice's must stay at least 10 for the same outcome, bob's (absent) at most
    // u128::MAX - 10.
    let record = supervm_vm::state::contract_key(&f.token);
    let rs = &r.receipt.read_set;
    assert_eq!(rs.keys.len(), 1);
    assert_eq!(rs.keys[0].key, record);
    type Delta<'a> = (&'a [u8], Option<&'a [u8]>, u128, u128);
    let deltas: Vec<Delta> = rs
        .deltas
        .iter()
        .map(|d| (&d.key[..], d.seen.as_deref(), d.lo, d.hi))
        .collect();
    assert_eq!(
        deltas,
        [
            (
                &key(&f.alice)[..],
                Some(&1000u128.encode()[..]),
                10,
                u128::MAX
            ),
            (&key(&f.bob)[..], None, 0, u128::MAX - 10)
        ]
    );

    assert_eq!(balance(&mut f.env, &f.token, f.alice), 990);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 10);
    assert_eq!(
        f.env.call(&f.token, "total_supply", ()).value::<u128>(),
        1000
    );

    // Same keys, both present now: the same gas twice.
    let g1 = f.env.call(&f.token, "transfer", (f.bob, 1u128)).gas_used();
    let g2 = f.env.call(&f.token, "transfer", (f.bob, 1u128)).gas_used();
    assert_eq!(g1, g2);
}

#[test]
fn transfer_of_everything_and_of_zero() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert!(
        f.env
            .call(&f.token, "transfer", (f.bob, 1000u128))
            .is_success()
    );
    assert_eq!(balance(&mut f.env, &f.token, f.alice), 0);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer",
        (f.bob, 1u128),
        "InsufficientBalance",
    );
    let r = f.env.call(&f.token, "transfer", (f.carol, 0u128));
    assert!(
        r.is_success(),
        "a zero transfer from an empty balance succeeds"
    );
    assert_transfer(&r.events()[0], &f.token, f.alice, f.carol, 0);
    assert_eq!(balance(&mut f.env, &f.token, f.carol), 0);
}

#[test]
fn transfer_beyond_balance_reverts_and_changes_nothing() {
    let mut f = setup();
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer",
        (f.alice, 1u128),
        "InsufficientBalance",
    );
    f.env.set_sender(f.alice);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer",
        (f.bob, 1001u128),
        "InsufficientBalance",
    );
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer",
        (f.bob, u128::MAX),
        "InsufficientBalance",
    );
    assert_eq!(balance(&mut f.env, &f.token, f.alice), 1000);
}

#[test]
fn self_transfer_keeps_the_balance() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    let r = f.env.call(&f.token, "transfer", (f.alice, 400u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_transfer(&r.events()[0], &f.token, f.alice, f.alice, 400);
    let key = storage_key(&f.token, &[&b"B"[..], &f.alice.0].concat());
    assert_eq!(r.receipt.write_set.len(), 1, "one key, written twice");
    assert_eq!(
        r.receipt.write_set.get(&key),
        Some(&Some(1000u128.encode()))
    );
    assert_eq!(balance(&mut f.env, &f.token, f.alice), 1000);
    assert!(
        f.env
            .call(&f.token, "transfer", (f.alice, 1000u128))
            .is_success()
    );
    assert_eq!(balance(&mut f.env, &f.token, f.alice), 1000);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer",
        (f.alice, 1001u128),
        "InsufficientBalance",
    );
}

#[test]
fn mint_is_admin_only_and_checks_overflow() {
    let mut f = setup();
    f.env.set_sender(f.bob);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "mint",
        (f.bob, 5u128),
        "Unauthorized",
    );

    f.env.set_sender(f.alice);
    let r = f.env.call(&f.token, "mint", (f.bob, 5u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(r.events().len(), 1);
    assert_transfer(&r.events()[0], &f.token, Address::ZERO, f.bob, 5);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 5);
    assert_eq!(
        f.env.call(&f.token, "total_supply", ()).value::<u128>(),
        1005
    );

    // The supply would overflow.
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "mint",
        (f.carol, u128::MAX - 1004),
        "Overflow",
    );
    // Exactly up to the maximum is fine.
    assert!(
        f.env
            .call(&f.token, "mint", (f.carol, u128::MAX - 1005))
            .is_success()
    );
    assert_eq!(
        f.env.call(&f.token, "total_supply", ()).value::<u128>(),
        u128::MAX
    );
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "mint",
        (f.carol, 1u128),
        "Overflow",
    );
    assert_eq!(balance(&mut f.env, &f.token, f.carol), u128::MAX - 1005);
    // Another account cannot mint.
    f.env.set_sender(f.carol);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "mint",
        (f.carol, 0u128),
        "Unauthorized",
    );
    // The admin check sees the immediate caller, not the origin: the admin's own
    // transaction minting through another contract (sdkcheck's `forward`: caller
    // sdkcheck, origin alice) is refused, with the token's code.
    f.env.set_sender(f.alice);
    let proxy = f.env.deploy(supervm_contracts::SDKCHECK, ());
    let input = (f.carol, 1u128).encode();
    let r = call_fails(
        &mut f.env,
        &proxy,
        "forward",
        (f.token, "mint".to_string(), input),
    );
    // (the supply is full: a mint that passed the admin check would revert Overflow)
    let code = error_code(&f.iface, "mint", "Unauthorized");
    // (named for the token, whose Unauthorized it is, not for the proxy called)
    assert_eq!(
        r.outcome(),
        &Outcome::Revert {
            code,
            data: vec![],
            contract: f.token
        }
    );
    assert_eq!(r.revert_contract(), Some(f.token));
    assert_eq!(r.revert_code(), Some(code));
    // (named by the token's interface, though the proxy was called)
    assert_eq!(r.error_name(), Some("Unauthorized"));
}

#[test]
fn approve_sets_and_replaces_the_allowance() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 0);
    let r = f.env.call(&f.token, "approve", (f.bob, 300u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(r.events().len(), 1);
    let e = &r.events()[0];
    assert_eq!(e.contract, f.token);
    assert_eq!(event_name(e), "Approval");
    assert_eq!(topic::<Address>(e, 1), f.alice);
    assert_eq!(topic::<Address>(e, 2), f.bob);
    assert_eq!(data::<u128>(e), 300);
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 300);
    assert_eq!(
        allowance(&mut f.env, &f.token, f.bob, f.alice),
        0,
        "allowances are directed"
    );

    // Replaces, does not add; more than the balance is allowed.
    assert!(
        f.env
            .call(&f.token, "approve", (f.bob, 5000u128))
            .is_success()
    );
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 5000);
    let r = f.env.call(&f.token, "approve", (f.bob, 0u128));
    assert_eq!(data::<u128>(&r.events()[0]), 0);
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 0);
}

/// `increase_allowance` and `decrease_allowance` change the allowance by an amount (no
/// race with a spender spending the old one), each with an `Approval` of the new
/// allowance; past its range the change fails and changes nothing.
#[test]
fn allowances_change_by_an_amount() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    let r = f.env.call(&f.token, "increase_allowance", (f.bob, 300u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(data::<u128>(&r.events()[0]), 300);
    let r = f.env.call(&f.token, "increase_allowance", (f.bob, 200u128));
    assert_eq!(event_name(&r.events()[0]), "Approval");
    assert_eq!(data::<u128>(&r.events()[0]), 500);
    // The spender spends 100 meanwhile: a decrease of the rest works, one more fails.
    f.env.set_sender(f.bob);
    assert!(
        f.env
            .call(&f.token, "transfer_from", (f.alice, f.carol, 100u128))
            .is_success()
    );
    f.env.set_sender(f.alice);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "decrease_allowance",
        (f.bob, 401u128),
        "InsufficientAllowance",
    );
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 400);
    let r = f.env.call(&f.token, "decrease_allowance", (f.bob, 400u128));
    assert_eq!(data::<u128>(&r.events()[0]), 0);
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 0);
    assert!(
        f.env
            .call(&f.token, "increase_allowance", (f.bob, u128::MAX))
            .is_success()
    );
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "increase_allowance",
        (f.bob, 1u128),
        "Overflow",
    );
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), u128::MAX);
}

/// A `transfer_from` of nothing does nothing: anyone could otherwise log a `Transfer`
/// "from" any account to an address of their choosing (address poisoning), and store
/// allowance and balance entries for it.
#[test]
fn transfer_from_of_nothing_changes_nothing() {
    let mut f = setup();
    f.env.set_sender(f.carol);
    let r = f
        .env
        .call(&f.token, "transfer_from", (f.alice, f.carol, 0u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert!(r.events().is_empty(), "no Transfer from alice");
    assert!(r.receipt.write_set.is_empty(), "{:?}", r.receipt.write_set);
}

#[test]
fn transfer_from_spends_the_allowance() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert!(
        f.env
            .call(&f.token, "approve", (f.bob, 300u128))
            .is_success()
    );

    f.env.set_sender(f.bob);
    let r = f
        .env
        .call(&f.token, "transfer_from", (f.alice, f.carol, 120u128));
    assert!(r.is_success(), "{:?}", r.outcome());
    assert_eq!(
        r.events().len(),
        1,
        "only Transfer; spending emits no Approval"
    );
    assert_transfer(&r.events()[0], &f.token, f.alice, f.carol, 120);
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 180);
    assert_eq!(balance(&mut f.env, &f.token, f.alice), 880);
    assert_eq!(balance(&mut f.env, &f.token, f.carol), 120);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 0);

    // More than allowed.
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer_from",
        (f.alice, f.carol, 181u128),
        "InsufficientAllowance",
    );
    // The allowance is the spender's, not anyone else's.
    f.env.set_sender(f.carol);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer_from",
        (f.alice, f.carol, 1u128),
        "InsufficientAllowance",
    );
    // The owner needs an allowance too, even for their own tokens.
    f.env.set_sender(f.alice);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer_from",
        (f.alice, f.bob, 1u128),
        "InsufficientAllowance",
    );

    // Exactly the rest of the allowance; to the spender themself.
    f.env.set_sender(f.bob);
    assert!(
        f.env
            .call(&f.token, "transfer_from", (f.alice, f.bob, 180u128))
            .is_success()
    );
    assert_eq!(allowance(&mut f.env, &f.token, f.alice, f.bob), 0);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 180);
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer_from",
        (f.alice, f.bob, 1u128),
        "InsufficientAllowance",
    );
}

#[test]
fn transfer_from_beyond_balance_keeps_the_allowance() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert!(
        f.env
            .call(&f.token, "transfer", (f.carol, 50u128))
            .is_success()
    );
    f.env.set_sender(f.carol);
    assert!(
        f.env
            .call(&f.token, "approve", (f.bob, 1000u128))
            .is_success()
    );
    f.env.set_sender(f.bob);
    // The allowance suffices, the balance does not: the allowance write is discarded too.
    expect_revert(
        &mut f.env,
        &f.iface,
        &f.token,
        "transfer_from",
        (f.carol, f.bob, 51u128),
        "InsufficientBalance",
    );
    assert_eq!(allowance(&mut f.env, &f.token, f.carol, f.bob), 1000);
    // A self-transfer through transfer_from spends the allowance but keeps the balance.
    assert!(
        f.env
            .call(&f.token, "transfer_from", (f.carol, f.carol, 50u128))
            .is_success()
    );
    assert_eq!(balance(&mut f.env, &f.token, f.carol), 50);
    assert_eq!(allowance(&mut f.env, &f.token, f.carol, f.bob), 950);
}

#[test]
fn error_codes_match_the_contract_enum() {
    let i = interface(TOKEN);
    for (name, code) in TOKEN_ERRORS {
        for f in ["mint", "transfer", "approve", "transfer_from"] {
            assert_eq!(error_code(&i, f, name), code, "{f}: {name}");
        }
    }
}

#[test]
fn malformed_arguments_revert_with_bad_input() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    // Too short, too long, and arguments to a function that takes none.
    expect_bad_input(&mut f.env, &f.token, "transfer", &f.bob.encode());
    let mut long = (f.bob, 1u128).encode();
    long.push(0);
    expect_bad_input(&mut f.env, &f.token, "transfer", &long);
    expect_bad_input(&mut f.env, &f.token, "total_supply", &[0]);
    expect_bad_input(&mut f.env, &f.token, "balance", &[]);
}

#[test]
fn unknown_functions_and_contracts_are_invalid() {
    let mut f = setup();
    let r = call_fails(&mut f.env, &f.token, "burn", (f.alice, 1u128));
    assert!(is_invalid(&r, "no entry point burn"), "{:?}", r.outcome());
    let r = call_fails(
        &mut f.env,
        &Address([0x55; 32]),
        "transfer",
        (f.alice, 1u128),
    );
    assert!(is_invalid(&r, "no contract"), "{:?}", r.outcome());
}

#[test]
fn two_deploys_are_independent_and_redeploy_at_an_address_is_invalid() {
    let mut f = setup();
    let other = deploy_token(&mut f.env, f.bob, 7);
    assert_ne!(other, f.token);
    assert_eq!(balance(&mut f.env, &other, f.bob), 7);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 0);
    // Same sender and salt as `other`: the address is taken.
    let mut salt = [0u8; 32];
    salt[..8].copy_from_slice(&2u64.to_le_bytes());
    assert_eq!(supervm_vm::contract_address(&f.bob, &salt), other);
    let before = f.env.state().state_hash();
    let r = f.env.execute(Payload::Deploy {
        code: CodeSource::Hash(supervm_vm::code_hash(TOKEN)),
        salt,
        init_args: ("X".to_string(), "X".to_string(), 0u8, f.bob, 1u128).encode(),
    });
    assert!(is_invalid(&r, "already exists"), "{:?}", r.outcome());
    assert_eq!(f.env.state().state_hash(), before);
}

#[test]
fn out_of_gas_changes_nothing() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert!(
        f.env
            .call(&f.token, "transfer", (f.bob, 1u128))
            .is_success()
    );
    // Both balances present now: every further transfer costs the same.
    let full = f.env.call(&f.token, "transfer", (f.bob, 1u128)).gas_used();
    // Well below the cost (see `gas_limit_one_below_the_cost_runs_out` for just below it).
    for limit in [full / 2, full - 1_000] {
        f.env.set_gas_limit(limit);
        let r = call_fails(&mut f.env, &f.token, "transfer", (f.bob, 1u128));
        assert_eq!(r.outcome(), &Outcome::OutOfGas);
        assert_eq!(r.gas_used(), limit, "out of gas charges the whole limit");
    }
    f.env.set_gas_limit(full);
    let r = f.env.call(&f.token, "transfer", (f.bob, 1u128));
    assert!(
        r.is_success(),
        "exactly the gas used is enough: {:?}",
        r.outcome()
    );
    assert_eq!(r.gas_used(), full);
    assert_eq!(balance(&mut f.env, &f.token, f.bob), 3);
}

/// A transaction must not succeed with less gas than it uses. wasmtime checks fuel only at
/// function entries and loop headers; without the fuel check the VM injects at every function
/// exit, straight-line code after the last check ran on overdrawn fuel and succeeded.
#[test]
fn gas_limit_one_below_the_cost_runs_out() {
    let mut f = setup();
    f.env.set_sender(f.alice);
    assert!(
        f.env
            .call(&f.token, "transfer", (f.bob, 1u128))
            .is_success()
    );
    let full = f.env.call(&f.token, "transfer", (f.bob, 1u128)).gas_used();
    for below in [1, 2, 10, 20] {
        f.env.set_gas_limit(full - below);
        let r = f.env.call(&f.token, "transfer", (f.bob, 1u128));
        assert_eq!(
            r.outcome(),
            &Outcome::OutOfGas,
            "limit {} (cost {full}) succeeded, charged {}",
            full - below,
            r.gas_used()
        );
    }
}

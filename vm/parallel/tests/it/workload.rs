//! A world of deployed contracts and random blocks over it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_abi::{ABI_VERSION, ABI_VERSION_SECTION, Encode};
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Payload, Transaction, Vm, contract_address,
};
use wasm_encoder::Section;

pub const GAS: u64 = 2_000_000;

/// Registry keys the blocks add and remove: more than the 32 keys the parallel
/// view's prefix iteration fetches per step. Every other one starts in the
/// committed state, so blocks also delete and iterate over committed keys.
pub const REGISTRY_KEYS: u8 = 48;

/// A registry in WAT: `add`/`remove` a one-byte key under prefix "r"; `count`
/// iterates the prefix (prefix iteration: the phantom-read case), stores and
/// returns the count; `purge_count(k)` removes keys k, k+1 and k+2, then counts
/// (iterating over its own deletions, which are charged per key skipped).
fn registry_wasm() -> Vec<u8> {
    let imports = [
        ("storage_set", "(param i32 i32 i32 i32)"),
        ("storage_remove", "(param i32 i32)"),
        (
            "storage_next",
            "(param i32 i32 i32 i32 i32 i32) (result i64)",
        ),
        ("input_read", "(param i32)"),
        ("return_data", "(param i32 i32)"),
    ];
    let imports: String = imports
        .iter()
        .map(|(n, sig)| format!("(import \"supervm_v1\" \"{n}\" (func ${n} {sig}))"))
        .collect();
    let src = format!(
        r#"(module {imports}
        (memory (export "memory") 1)
        (data (i32.const 0) "r")
        (data (i32.const 2) "c")
        (func (export "add")
          (call $input_read (i32.const 1))
          (call $storage_set (i32.const 0) (i32.const 2) (i32.const 0) (i32.const 2)))
        (func (export "remove")
          (call $input_read (i32.const 1))
          (call $storage_remove (i32.const 0) (i32.const 2)))
        (func (export "purge_count")
          (local $i i32)
          (call $input_read (i32.const 1))
          (loop $again
            (call $storage_remove (i32.const 0) (i32.const 2))
            (i32.store8 (i32.const 1) (i32.add (i32.load8_u (i32.const 1)) (i32.const 1)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $i) (i32.const 3))))
          (call $count))
        (func $count (export "count")
          (local $n i64) (local $len i64) (local $after_len i32)
          (local.set $after_len (i32.const -1))
          (block $done (loop $next
            (local.set $len (call $storage_next (i32.const 0) (i32.const 1)
              (i32.const 100) (local.get $after_len) (i32.const 100) (i32.const 16)))
            (br_if $done (i64.lt_s (local.get $len) (i64.const 0)))
            (local.set $after_len (i32.wrap_i64 (local.get $len)))
            (local.set $n (i64.add (local.get $n) (i64.const 1)))
            (br $next)))
          (i64.store (i32.const 200) (local.get $n))
          (call $storage_set (i32.const 2) (i32.const 1) (i32.const 200) (i32.const 8))
          (call $return_data (i32.const 200) (i32.const 8))))"#
    );
    let mut wasm = wat::parse_str(&src).expect("registry WAT");
    wasm_encoder::CustomSection {
        name: ABI_VERSION_SECTION.into(),
        data: ABI_VERSION.to_le_bytes().as_slice().into(),
    }
    .append_to(&mut wasm);
    wasm
}

pub struct World {
    pub vm: Vm,
    pub base: InMemoryState,
    pub block: BlockEnv,
    pub accounts: Vec<Address>,
    pub token: Address,
    pub token2: Address,
    pub hotkey: Address,
    pub counter: Address,
    pub escrow: Address,
    pub registry: Address,
}

pub fn account(i: usize) -> Address {
    let mut a = [0u8; 32];
    a[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    a[31] = 0x5A;
    Address(a)
}

pub fn call(
    sender: Address,
    contract: Address,
    function: &str,
    args: Vec<u8>,
    gas: u64,
) -> Transaction {
    Transaction {
        sender,
        gas_limit: gas,
        payload: Payload::Call {
            contract,
            function: function.into(),
            args,
        },
    }
}

/// Deploys every contract and funds `keys` accounts (the contended keys are their
/// balances and the hot-key counters `0..keys`).
pub fn world(vm: &Vm, keys: usize) -> World {
    let admin = account(usize::MAX - 7);
    let mut setup = vec![];
    let deploy = |code: Vec<u8>, salt: u8, init: Vec<u8>| Transaction {
        sender: admin,
        gas_limit: 1_000_000_000,
        payload: Payload::Deploy {
            code: CodeSource::Wasm(code),
            salt: [salt; 32],
            init_args: init,
        },
    };
    let init = |name: &str| {
        (
            name.to_string(),
            name.to_string(),
            6u8,
            admin,
            u128::MAX / 4,
        )
            .encode()
    };
    setup.push(deploy(supervm_contracts::TOKEN.to_vec(), 1, init("A")));
    setup.push(deploy(supervm_contracts::TOKEN.to_vec(), 2, init("B")));
    setup.push(deploy(supervm_contracts::HOTKEY.to_vec(), 3, vec![]));
    setup.push(deploy(supervm_contracts::COUNTER.to_vec(), 4, vec![]));
    setup.push(deploy(supervm_contracts::ESCROW.to_vec(), 5, vec![]));
    setup.push(deploy(registry_wasm(), 6, vec![]));
    let [token, token2, hotkey, counter, escrow, registry] =
        [1u8, 2, 3, 4, 5, 6].map(|s| contract_address(&admin, &[s; 32]));
    for k in (0..REGISTRY_KEYS).step_by(2) {
        setup.push(call(admin, registry, "add", vec![k], GAS));
    }
    let accounts: Vec<Address> = (0..keys).map(account).collect();
    for a in &accounts {
        for t in [token, token2] {
            setup.push(call(
                admin,
                t,
                "transfer",
                (*a, 1_000_000u128).encode(),
                GAS,
            ));
            setup.push(call(
                *a,
                t,
                "approve",
                (escrow, u128::MAX / 8).encode(),
                GAS,
            ));
        }
    }
    let block = BlockEnv {
        height: 10,
        timestamp_ms: 1_700_000_000_000,
        chain_id: 7,
    };
    let mut base = InMemoryState::new();
    let receipts = vm.execute_block(&mut base, &block, &setup).expect("setup");
    for (i, r) in receipts.iter().enumerate() {
        assert!(r.outcome.is_success(), "setup tx {i}: {:?}", r.outcome);
    }
    World {
        vm: vm.clone(),
        base,
        block,
        accounts,
        token,
        token2,
        hotkey,
        counter,
        escrow,
        registry,
    }
}

/// A random block of `n` transactions over the world's `keys` accounts and
/// counters, with every kind of outcome.
pub fn random_block(w: &World, seed: u64, n: usize) -> Vec<Transaction> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let keys = w.accounts.len();
    (0..n)
        .map(|_| {
            let from = w.accounts[rng.gen_range(0..keys)];
            let to = w.accounts[rng.gen_range(0..keys)];
            let k = rng.gen_range(0..keys) as u32;
            match rng.gen_range(0..100) {
                0..=24 => call(
                    from,
                    w.token,
                    "transfer",
                    (to, rng.gen_range(1..2_000u128)).encode(),
                    GAS,
                ),
                // Large transfers: balances run out and fill up again, so whether one
                // succeeds depends on the transfers before it (delta reads whose range
                // does not hold any more).
                25..=29 => call(
                    from,
                    w.token,
                    "transfer",
                    (to, rng.gen_range(300_000..1_500_000u128)).encode(),
                    GAS,
                ),
                30..=33 => call(from, w.token, "transfer", (to, 1u128 << 100).encode(), GAS), // reverts
                34..=51 => call(from, w.hotkey, "bump", (k, 1u64).encode(), GAS),
                52..=54 => {
                    let k2 = rng.gen_range(0..keys) as u32;
                    call(
                        from,
                        w.hotkey,
                        "bump_many",
                        (vec![k, k2], 2u64).encode(),
                        GAS,
                    )
                }
                55..=58 => call(from, w.counter, "add", (1u64,).encode(), GAS),
                59..=60 => call(from, w.counter, "add_then_revert", (1u64,).encode(), GAS),
                61..=62 => call(from, w.counter, "add_then_panic", (1u64,).encode(), GAS), // traps
                63..=65 => call(from, w.token, "transfer", (to, 5u128).encode(), 4_000), // out of gas
                66..=73 => {
                    let args = (
                        w.token,
                        rng.gen_range(1..50u128),
                        w.token2,
                        rng.gen_range(1..50u128),
                    )
                        .encode();
                    call(from, w.escrow, "create_offer", args, GAS)
                }
                74..=78 => call(
                    from,
                    w.escrow,
                    "accept",
                    (rng.gen_range(0..24u64),).encode(),
                    GAS,
                ),
                // Several accepts, each through `try_call`: a failed payment is rolled
                // back and the call goes on, committing the accepts that worked.
                79..=81 => {
                    let ids: Vec<u64> = (0..3).map(|_| rng.gen_range(0..24u64)).collect();
                    call(from, w.escrow, "try_accept_many", (ids,).encode(), GAS)
                }
                roll @ 82..=89 => {
                    let function = match roll {
                        82..=86 => "add",
                        87..=88 => "remove",
                        _ => "purge_count",
                    };
                    let key = rng.gen_range(0..REGISTRY_KEYS);
                    call(from, w.registry, function, vec![key], GAS)
                }
                90..=94 => call(from, w.registry, "count", vec![], GAS),
                95..=96 => call(from, w.hotkey, "no_such_function", vec![], GAS), // invalid
                _ => call(
                    from,
                    w.token2,
                    "transfer",
                    (to, rng.gen_range(1..100u128)).encode(),
                    GAS,
                ),
            }
        })
        .collect()
}

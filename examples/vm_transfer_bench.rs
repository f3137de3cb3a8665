//! Token transfers through the whole VM path on one core with in-memory state,
//! with a bare-wasmtime call of the same contract function and revm (the leading
//! Rust EVM) running a standard ERC-20 `transfer` on the same transfers, from the same run.
//!
//! ```text
//! cargo run --release --example vm_transfer_bench -- [--txs N] [--accounts N] [--rounds R] [--json] [--vm-only] [--revm-checks]
//! ```
//!
//! Every system runs once per round (default 3 rounds), the order reversed every other
//! round; each rate is the median of its rounds.
//!
//! Counts only committed transfers (outcome `Success`, write set applied; on revm,
//! `ExecutionResult::Success` committed to its in-memory database).

/// The allocator of every benchmark binary (the baselines in the same run use it too).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::{arg, bare::BareToken, transfer};
use supervm_vm::{Payload, abi::Decode};

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let n = arg(&args, "--txs", 200_000);
    let accounts = arg(&args, "--accounts", 1_000);
    let rounds = arg(&args, "--rounds", 3).max(1);
    let mut w = transfer::setup(accounts, n, 42);
    let initial = w.state.clone();

    if args.iter().any(|a| a == "--vm-only") {
        // No warm-up needed: setup deployed the token and funded the accounts through the
        // same VM, so the module is compiled and cached before the clock starts.
        let t0 = Instant::now();
        let committed = transfer::run_sequential(&mut w);
        let seconds = t0.elapsed().as_secs_f64();
        println!(
            "token transfers through the VM, one thread, in-memory state, {accounts} accounts: \
             {committed} committed of {n} in {seconds:.3}s = {:.0} tx/s (a profiling mode: no \
             baseline; run without --vm-only for the bare-wasmtime and revm baselines)",
            committed as f64 / seconds
        );
        return;
    }
    // Bare wasmtime, same contract, same transfers: default and tuned configurations, and
    // one reused instance. Their call data is built before the clock, as the VM's
    // transactions are.
    let plan: Vec<_> = w
        .txs
        .iter()
        .map(|tx| match &tx.payload {
            Payload::Call { args, .. } => {
                let (to, amount) =
                    <(supervm_vm::Address, u128)>::decode(&mut &args[..]).expect("args");
                (tx.sender, to, amount)
            }
            _ => unreachable!("transfers only"),
        })
        .collect();
    let bare_inputs: Vec<_> = plan
        .iter()
        .map(|(from, to, amount)| (*from, BareToken::transfer_input(*to, *amount)))
        .collect();
    // revm: a standard ERC-20 `transfer` (solc, optimizer on) on the same transfers (the
    // VM workload's senders, recipients and amounts, as account indices), so the outcomes
    // must agree. `--revm-checks`: revm with its nonce and balance checks and fee charge on.
    let revm_checks = args.iter().any(|a| a == "--revm-checks");
    let index: std::collections::HashMap<_, _> = w
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (*a, i))
        .collect();
    let revm_plan: Vec<(usize, usize, u128)> = plan
        .iter()
        .map(|(from, to, amount)| (index[from], index[to], *amount))
        .collect();

    // `rounds` rounds, each system once per round, the order reversed every other round
    // (this machine drifts by tens of percent over seconds); every rate below is the
    // median of its rounds. Each run starts from the funded state (copied untimed).
    let bare_configs = [(false, false), (true, false), (true, true)];
    let mut vm_secs = vec![];
    let mut bare_secs = vec![vec![]; bare_configs.len()];
    let mut revm_secs = vec![];
    let (mut committed, mut bare_balances) = (0, vec![]);
    let mut evm_last: Option<revm_erc20::Run> = None;
    for round in 0..rounds {
        let mut systems: Vec<usize> = (0..2 + bare_configs.len()).collect();
        if round % 2 == 1 {
            systems.reverse();
        }
        for system in systems {
            match system {
                0 => {
                    w.state = initial.clone();
                    let t0 = Instant::now();
                    let c = transfer::run_sequential(&mut w);
                    vm_secs.push(t0.elapsed().as_secs_f64());
                    assert!(
                        round == 0 || c == committed,
                        "the VM committed {c} in one round, {committed} in another"
                    );
                    committed = c;
                }
                s if s <= bare_configs.len() => {
                    let (tuned, recycled) = bare_configs[s - 1];
                    let mut bare =
                        BareToken::new(supervm_contracts::TOKEN, &w.accounts, 1_000_000_000, tuned)
                            .expect("bare");
                    if recycled {
                        bare = bare.recycling().expect("bare instance");
                    }
                    let t1 = Instant::now();
                    let mut ok = 0usize;
                    for (from, input) in &bare_inputs {
                        if bare.transfer(*from, input).is_ok() {
                            ok += 1;
                        }
                    }
                    bare_secs[s - 1].push(t1.elapsed().as_secs_f64());
                    let balances: Vec<u128> = w
                        .accounts
                        .iter()
                        .take(50)
                        .map(|a| bare.balance(a))
                        .collect();
                    bare_balances.push((ok, balances));
                }
                _ => {
                    let evm = revm_erc20::run(accounts, &revm_plan, revm_checks);
                    revm_secs.push(evm.seconds);
                    if let Some(last) = &evm_last {
                        assert_eq!(
                            evm.committed, last.committed,
                            "revm committed counts differ"
                        );
                    }
                    evm_last = Some(evm);
                }
            }
        }
    }
    let seconds = supervm_benches::median(vm_secs.clone());
    // The token balance of `a` after the VM run, read through a VM query.
    let vm_balance = |a: &supervm_vm::Address| {
        let r =
            w.vm.execute(
                &w.state,
                &w.block,
                &supervm_vm::Transaction {
                    sender: *a,
                    gas_limit: transfer::TRANSFER_GAS,
                    payload: Payload::Call {
                        contract: w.token,
                        function: "balance".into(),
                        args: supervm_vm::abi::Encode::encode(&(*a,)),
                    },
                },
            )
            .expect("query");
        u128::decode(&mut &r.return_data[..]).expect("u128")
    };
    // All paths must agree on the outcome of the workload.
    for (ok, balances) in &bare_balances {
        assert_eq!(*ok, committed, "bare and VM committed counts differ");
        for (a, b) in w.accounts.iter().zip(balances) {
            assert_eq!(
                vm_balance(a),
                *b,
                "balances differ between VM and bare runs"
            );
        }
    }
    let bare_rates: Vec<(f64, f64)> = bare_secs
        .into_iter()
        .map(|t| {
            let secs = supervm_benches::median(t);
            (committed as f64 / secs, secs)
        })
        .collect();
    let (bare_tx_per_s, bare_seconds) = bare_rates[0];
    let (tuned_tx_per_s, tuned_seconds) = bare_rates[1];
    let (recycled_tx_per_s, recycled_seconds) = bare_rates[2];
    let evm = evm_last.expect("at least one round");
    assert_eq!(
        evm.committed, committed,
        "revm and VM committed counts differ"
    );
    for (a, revm_balance) in w.accounts.iter().zip(&evm.balances).take(50) {
        assert_eq!(
            vm_balance(a),
            *revm_balance,
            "balances differ between VM and revm runs"
        );
    }
    let revm_seconds = supervm_benches::median(revm_secs.clone());
    let revm_tx_per_s = evm.committed as f64 / revm_seconds;

    let tx_per_s = committed as f64 / seconds;
    if !json {
        println!(
            "workload: {n} token transfers, {accounts} accounts, uniform random, 1 thread, in-memory state; medians of {rounds} rounds"
        );
        println!(
            "SuperVM (whole VM path): {committed} committed in {seconds:.3}s = {tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, default config (same contract fn): {bare_seconds:.3}s = {bare_tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, VM's pooling config: {tuned_seconds:.3}s = {tuned_tx_per_s:.0} tx/s"
        );
        println!(
            "bare wasmtime, one instance reused, memory reset to its fresh image after each call: {recycled_seconds:.3}s = {recycled_tx_per_s:.0} tx/s"
        );
        println!(
            "VM layers (gas, limits, globals reset, journal, read/write sets, receipts) cost {:.2} us per transfer over the reused bare instance (which resets its whole memory, the VM only the chunks a call wrote)",
            (seconds - recycled_seconds) / n as f64 * 1e6
        );
        println!(
            "revm {} (ERC-20 transfer, in-memory CacheDB, one tx committed at a time): {} committed in {:.3}s = {revm_tx_per_s:.0} tx/s; SuperVM / revm = {:.2}x",
            revm_erc20::VERSION,
            evm.committed,
            revm_seconds,
            tx_per_s / revm_tx_per_s
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "bench": "vm_transfer",
            "txs": n,
            "committed": committed,
            "accounts": accounts,
            "threads": 1,
            "state": "in-memory",
            "seconds": seconds,
            "tx_per_s": tx_per_s,
            "bare_wasmtime_tx_per_s": bare_tx_per_s,
            "bare_wasmtime_seconds": bare_seconds,
            "bare_config": "wasmtime defaults, InstancePre, HashMap storage (foldhash, as the VM's in-memory state), call data built before the clock, no gas or read/write sets",
            "bare_tuned_wasmtime_tx_per_s": tuned_tx_per_s,
            "bare_tuned_wasmtime_seconds": tuned_seconds,
            "bare_tuned_config": "the VM's pooling settings, InstancePre, HashMap storage (foldhash), call data built before the clock, no gas or read/write sets",
            "bare_recycled_wasmtime_tx_per_s": recycled_tx_per_s,
            "bare_recycled_wasmtime_seconds": recycled_seconds,
            "bare_recycled_config": "one instance reused, its whole memory zeroed and its fresh image restored after each call (the VM resets only the chunks a call wrote), HashMap storage (foldhash), call data built before the clock, no gas or read/write sets",
            "revm_erc20_tx_per_s": revm_tx_per_s,
            "revm_erc20_seconds": revm_seconds,
            "rounds": rounds,
            "tx_per_s_rounds": vm_secs.iter().map(|t| committed as f64 / t).collect::<Vec<_>>(),
            "revm_erc20_tx_per_s_rounds": revm_secs.iter().map(|t| evm.committed as f64 / t).collect::<Vec<_>>(),
            "revm_erc20_committed": evm.committed,
            "revm_config": revm_erc20::config(revm_checks),
            "vs_revm": tx_per_s / revm_tx_per_s,
        })
    );
}

/// The EVM baseline: revm (the leading Rust EVM) running a standard ERC-20 `transfer`
/// (`examples/data/erc20.sol`, solc 0.8.26, optimizer on, 200 runs, EVM version cancun)
/// in the same kind of loop as the VM: one core, in-memory state, one transaction
/// executed and committed at a time, only successful ones counted.
mod revm_erc20 {
    use std::time::Instant;

    use revm::{
        Context, DatabaseRef, ExecuteCommitEvm, MainBuilder, MainContext,
        context::TxEnv,
        database::{CacheDB, EmptyDB},
        primitives::{Address, Bytes, U256, hardfork::SpecId, keccak256},
        state::AccountInfo,
    };

    /// The revm release in Cargo.lock (keep in step with it).
    pub const VERSION: &str = "43.0.3";
    /// The EVM specification the transactions run under (the bytecode's target).
    const SPEC: SpecId = SpecId::CANCUN;
    /// Deploy bytecode of the ERC-20 (constructor argument: `uint256 supply`).
    const ERC20_HEX: &str = include_str!("data/erc20.hex");
    /// Gas limit of each transfer (a transfer between funded accounts uses about 35,000).
    const TRANSFER_GAS: u64 = 100_000;
    /// Token balance each account is funded with (as in the VM workload).
    const START_BALANCE: u128 = 1_000_000_000;
    /// Total supply, minted to the deployer (as in the VM workload).
    const SUPPLY: u128 = u128::MAX / 2;
    /// Ether (wei) each account holds to pay for gas.
    const GAS_MONEY: u128 = 1_000_000_000_000_000_000;

    /// What the JSON output's `revm_config` says.
    pub fn config(checks: bool) -> String {
        let checks = if checks {
            "nonce check, balance check and fee charge on (--revm-checks)"
        } else {
            "nonce check, balance check and fee charge off (as in SuperVM's VM path; the caller's nonce is still bumped and committed)"
        };
        format!(
            "revm {VERSION} (mainnet EVM, spec {SPEC:?}, default features off but std: pure-Rust precompiles, keccak by the asm-keccak feature as production EVMs build it), \
             in-memory CacheDB<EmptyDB>, one transaction executed and committed at a time (transact_commit), \
             {checks}, gas limit {TRANSFER_GAS}, gas price 0, basefee 0; \
             ERC-20 examples/data/erc20.sol, solc 0.8.26 optimizer 200 runs, evm cancun"
        )
    }

    /// The outcome of a run.
    pub struct Run {
        /// Transfers that returned `ExecutionResult::Success` and were committed.
        pub committed: usize,
        /// Seconds of the transfer loop (setup excluded).
        pub seconds: f64,
        /// Token balance of each account after the run, in account order.
        pub balances: Vec<u128>,
    }

    /// The EVM address of benchmark account `i` (its first byte keeps it clear of the
    /// precompile range).
    fn account(i: usize) -> Address {
        let mut a = [0u8; 20];
        a[0] = 0xAC;
        a[12..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
        Address::new(a)
    }

    /// Calldata of `transfer(to, amount)`: the selector, then the ABI-encoded arguments.
    fn transfer_calldata(selector: &[u8], to: Address, amount: u128) -> Bytes {
        let mut data = Vec::with_capacity(4 + 64);
        data.extend_from_slice(selector);
        data.extend_from_slice(&[0u8; 12]);
        data.extend_from_slice(to.as_slice());
        data.extend_from_slice(&[0u8; 16]);
        data.extend_from_slice(&amount.to_be_bytes());
        Bytes::from(data)
    }

    /// A call of the token's `transfer` from `from` with nonce `nonce`.
    fn transfer_tx(
        token: Address,
        selector: &[u8],
        from: Address,
        nonce: u64,
        to: Address,
        amount: u128,
    ) -> TxEnv {
        TxEnv::builder()
            .caller(from)
            .call(token)
            .data(transfer_calldata(selector, to, amount))
            .nonce(nonce)
            .gas_limit(TRANSFER_GAS)
            .gas_price(0)
            .build()
            .expect("transfer transaction")
    }

    /// The storage slot of `balanceOf[holder]` (the mapping is slot 0).
    fn balance_slot(holder: Address) -> U256 {
        let mut key = [0u8; 64];
        key[12..32].copy_from_slice(holder.as_slice());
        U256::from_be_bytes(keccak256(key).0)
    }

    /// Deploys the ERC-20, funds `accounts` accounts with ether and tokens, then executes
    /// and commits the transfers of `plan` (sender index, recipient index, amount), timing
    /// only that loop. Checks that every transfer was included (nonces), that token
    /// balances still sum to the supply, and returns the count of successful transfers.
    #[allow(clippy::disallowed_methods)] // a benchmark times things
    pub fn run(accounts: usize, plan: &[(usize, usize, u128)], checks: bool) -> Run {
        let deployer = Address::new([0xDE; 20]);
        let holders: Vec<Address> = (0..accounts).map(account).collect();
        let mut db = CacheDB::new(EmptyDB::new());
        for a in holders.iter().chain([&deployer]) {
            db.insert_account_info(*a, AccountInfo::from_balance(U256::from(GAS_MONEY)));
        }
        let mut evm = Context::mainnet()
            .modify_cfg_chained(|cfg| {
                cfg.set_spec_and_mainnet_gas_params(SPEC);
                // SuperVM's VM path has no nonces or fees (the node does those): the
                // EVM is spared them too, so the comparison is contract execution alone.
                // (`--revm-checks` keeps them, for comparison)
                cfg.disable_nonce_check = !checks;
                cfg.disable_balance_check = !checks;
                cfg.disable_fee_charge = !checks;
            })
            .with_db(db)
            .build_mainnet();

        // Deploy: the constructor mints the whole supply to the deployer.
        let mut init = hex::decode(ERC20_HEX.trim()).expect("erc20.hex is hex");
        init.extend_from_slice(&[0u8; 16]);
        init.extend_from_slice(&SUPPLY.to_be_bytes());
        let deploy = TxEnv::builder()
            .caller(deployer)
            .create()
            .data(Bytes::from(init))
            .nonce(0)
            .gas_limit(5_000_000)
            .gas_price(0)
            .build()
            .expect("deploy transaction");
        let deployed = evm.transact_commit(deploy).expect("deploy");
        let token = deployed
            .created_address()
            .unwrap_or_else(|| panic!("ERC-20 deploy failed: {deployed:?}"));
        let selector = keccak256("transfer(address,uint256)");
        let selector = &selector.as_slice()[..4];

        // Fund every account through the token's own `transfer`, as the VM workload does.
        for (i, to) in holders.iter().enumerate() {
            let tx = transfer_tx(token, selector, deployer, i as u64 + 1, *to, START_BALANCE);
            let r = evm.transact_commit(tx).expect("funding transfer");
            assert!(r.is_success(), "funding transfer failed: {r:?}");
        }

        let mut nonces = vec![0u64; accounts];
        let txs: Vec<TxEnv> = plan
            .iter()
            .map(|&(from, to, amount)| {
                let nonce = nonces[from];
                nonces[from] += 1;
                transfer_tx(token, selector, holders[from], nonce, holders[to], amount)
            })
            .collect();

        // Setup executed the same code through the same EVM: nothing left to warm up.
        let t0 = Instant::now();
        let mut committed = 0usize;
        for tx in txs {
            let result = evm.transact_commit(tx).expect("valid transaction");
            if result.is_success() {
                committed += 1;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();

        let db = &evm.ctx.journaled_state.database;
        let sent: u64 = holders
            .iter()
            .map(|a| {
                db.basic_ref(*a)
                    .expect("in-memory")
                    .expect("funded account")
                    .nonce
            })
            .sum();
        assert_eq!(sent, plan.len() as u64, "a transfer was not included");
        let token_balance = |a: Address| {
            db.storage_ref(token, balance_slot(a))
                .expect("in-memory")
                .to::<u128>()
        };
        let balances: Vec<u128> = holders.iter().map(|a| token_balance(*a)).collect();
        let total = balances
            .iter()
            .fold(U256::from(token_balance(deployer)), |sum, b| {
                sum + U256::from(*b)
            });
        assert_eq!(
            total,
            U256::from(SUPPLY),
            "token balances do not sum to the supply"
        );
        assert_eq!(
            db.storage_ref(token, U256::from(2)).expect("in-memory"),
            U256::from(SUPPLY),
            "totalSupply changed"
        );
        Run {
            committed,
            seconds,
            balances,
        }
    }
}

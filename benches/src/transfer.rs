//! The token-transfer workload: the SDK-built `token` contract, `transfer`
//! between accounts (two `storage_add` balance updates, one event per transaction).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use supervm_abi::Encode;
use supervm_vm::{
    Address, BlockEnv, CodeSource, InMemoryState, Payload, Transaction, Vm, VmConfig,
    contract_address,
};

/// Gas limit of each benchmark transfer.
pub const TRANSFER_GAS: u64 = 1_000_000;

/// A deployed token with funded accounts and a batch of transfers to execute.
pub struct TransferWorkload {
    /// The VM (module compiled and cached).
    pub vm: Vm,
    /// State after deploy and funding.
    pub state: InMemoryState,
    /// The block the transfers execute in.
    pub block: BlockEnv,
    /// The token contract.
    pub token: Address,
    /// Funded accounts.
    pub accounts: Vec<Address>,
    /// The transfers, in order.
    pub txs: Vec<Transaction>,
}

/// Account `i` of the workload.
pub fn account(i: usize) -> Address {
    let mut a = [0u8; 32];
    a[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    a[31] = 0xAC;
    Address(a)
}

/// A transfer of `amount` from `from` to `to`.
pub fn transfer_tx(token: Address, from: Address, to: Address, amount: u128) -> Transaction {
    Transaction {
        sender: from,
        gas_limit: TRANSFER_GAS,
        payload: Payload::Call {
            contract: token,
            function: "transfer".into(),
            args: (to, amount).encode(),
        },
    }
}

/// Deploys the token, funds `accounts` accounts, and draws `txs` random transfers
/// between them (uniform, from a seeded RNG).
pub fn setup(accounts: usize, txs: usize, seed: u64) -> TransferWorkload {
    let vm = Vm::new(VmConfig::default()).expect("VM");
    let mut state = InMemoryState::new();
    let block = BlockEnv {
        height: 1,
        timestamp_ms: 1_700_000_000_000,
        chain_id: 1,
    };
    let admin = account(usize::MAX - 1);
    let salt = [7u8; 32];
    let init = (
        "Bench".to_string(),
        "BN".to_string(),
        6u8,
        admin,
        u128::MAX / 2,
    )
        .encode();
    let deploy = Transaction {
        sender: admin,
        gas_limit: 1_000_000_000,
        payload: Payload::Deploy {
            code: CodeSource::Wasm(supervm_contracts::TOKEN.to_vec()),
            salt,
            init_args: init,
        },
    };
    let token = contract_address(&admin, &salt);
    let accs: Vec<Address> = (0..accounts).map(account).collect();
    let mut setup_txs = vec![deploy];
    setup_txs.extend(
        accs.iter()
            .map(|a| transfer_tx(token, admin, *a, 1_000_000_000)),
    );
    let receipts = vm
        .execute_block(&mut state, &block, &setup_txs)
        .expect("setup");
    assert!(
        receipts.iter().all(|r| r.outcome.is_success()),
        "setup failed"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let txs = (0..txs)
        .map(|_| {
            let from = accs[rng.gen_range(0..accounts)];
            let to = accs[rng.gen_range(0..accounts)];
            transfer_tx(token, from, to, rng.gen_range(1..100))
        })
        .collect();
    TransferWorkload {
        vm,
        state,
        block,
        token,
        accounts: accs,
        txs,
    }
}

/// Executes every transfer in order through the whole VM path (`Vm::execute`, then
/// applying the write set). Returns how many committed (outcome `Success`).
pub fn run_sequential(w: &mut TransferWorkload) -> usize {
    let mut committed = 0;
    for tx in &w.txs {
        let r =
            w.vm.execute(&w.state, &w.block, tx)
                .expect("in-memory state");
        if r.outcome.is_success() {
            w.state.apply_owned(r.write_set);
            committed += 1;
        }
    }
    committed
}

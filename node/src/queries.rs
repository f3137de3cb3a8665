//! What the RPC methods do, as plain functions over the [`Chain`]: decoding
//! parameters, reading one consistent snapshot, shaping the JSON views.

use std::time::Duration;

use supervm_client::SignedTx;
use supervm_client::views::*;
use supervm_store::{EventFilter, StoredEvent};
use supervm_vm::state::{ContractRecord, code_key, contract_key, storage_key};
use supervm_vm::{Address, BlockEnv, Payload, StateView, Transaction};

use crate::accounts::Account;
use crate::block::{Header, Status, decode_tx_body};
use crate::chain::Chain;
use crate::{Error, Result};

/// Parses the 32-byte hex parameter `param`.
pub fn hex32(s: &str, param: &'static str) -> Result<[u8; 32]> {
    from_hex32(s).map_err(|reason| Error::InvalidParam { param, reason })
}

/// Parses the hex parameter `param`.
fn hex_param(s: &str, param: &'static str) -> Result<Vec<u8>> {
    from_hex(s).map_err(|reason| Error::InvalidParam { param, reason })
}

/// `chain.info`.
pub fn chain_info(chain: &Chain) -> ChainInfo {
    ChainInfo {
        chain_id: chain.config.chain_id,
        version: env!("CARGO_PKG_VERSION").to_string(),
        latest_height: chain.latest_height(),
        oldest_readable_height: chain.store.oldest_readable_height(),
        gas_price: chain.config.gas_price,
        shards: chain.store.shard_count(),
    }
}

/// Runs `f` on one consistent snapshot of the state after block `height` (the latest
/// when `None`); past heights read the blocks' undo records. The snapshot is taken
/// first and the height compared with its own head, so a block committed meanwhile
/// cannot slip in under a read that named the (then) latest height.
fn with_state<T>(
    chain: &Chain,
    height: Option<u64>,
    f: impl FnOnce(&dyn StateView, Option<u64>) -> Result<T>,
) -> Result<T> {
    let snap = chain.store.snapshot();
    let head = snap.head().blocks.checked_sub(1);
    let not_retained = |h| Error::StateNotRetained {
        asked: h,
        latest: head.unwrap_or(0),
        oldest: chain.store.oldest_readable_height(),
    };
    match height {
        None => f(&snap, head),
        Some(h) if Some(h) == head => f(&snap, head),
        Some(h) if head.is_some_and(|l| h < l) && h >= chain.store.oldest_readable_height() => {
            // (the historic snapshot takes the same lock: release this one first)
            drop(snap);
            match chain.store.snapshot_at(h) {
                Ok(past) => f(&past, Some(h)),
                // (a commit between the check above and this raised the oldest height)
                Err(_) if h < chain.store.oldest_readable_height() => Err(not_retained(h)),
                Err(e) => Err(e.into()),
            }
        }
        Some(h) => Err(not_retained(h)),
    }
}

/// Whether block `height` is visible to queries. History rows (blocks, transactions,
/// events) are written with a batch's commit decision, the state when the batch is
/// applied, just after: queries show neither before the state, so that a receipt or a
/// block never runs ahead of `chain.info`, `account.get` and the nonces.
fn visible(chain: &Chain, height: u64) -> bool {
    chain.latest_height().is_some_and(|l| height <= l)
}

/// How long before its request's deadline a waiting `tx.submit` stops waiting, so that
/// its answer (with the hash) is sent in time.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);

/// `tx.submit`: checks, admits, and optionally waits until committed.
pub async fn submit(
    chain: &std::sync::Arc<Chain>,
    raw_hex: &str,
    wait: bool,
    timeout: Duration,
) -> Result<SubmitResult> {
    // The wait ends `timeout` after the request reached this point, admission
    // included, and a margin before the request's own deadline: however long the body
    // took to arrive, the entries before it in a batch, or the checks waiting for a
    // blocking thread, the answer (pending, with the hash) comes before -32001 would.
    let mut deadline = tokio::time::Instant::now() + timeout;
    if let Some(request) = crate::rpc::request_deadline() {
        deadline = deadline.min(request.checked_sub(ANSWER_MARGIN).unwrap_or(request));
    }
    let raw = from_hex(raw_hex).map_err(Error::Malformed)?;
    let mut rx = chain.committed.subscribe();
    // Signature checks and store reads run on the blocking pool, not on the threads
    // that serve requests.
    let c = chain.clone();
    let hash = crate::chain::in_slot(&chain.admissions, move || {
        let (tx, hash) = c.check_stateless(&raw)?;
        c.admit(tx, hash, raw).map(|()| hash)
    })
    .await
    .map_err(Error::Other)??;
    // (the answer while it is not committed: with no wait, once a stop saved it, and
    // when the wait ran out)
    let pending = || SubmitResult {
        hash: to_hex(&hash),
        status: "pending".into(),
        receipt: None,
    };
    if !wait {
        return Ok(pending());
    }
    loop {
        // While the transaction is in the mempool it is neither committed nor dropped:
        // a commit or a drop takes it out before it wakes the waiters. So the store is
        // read (on this runtime thread) only once it left, not at every commit.
        let status = chain.mempool.status(&hash);
        if status != Some(crate::mempool::Status::Pending) {
            // (`receipt` answers only once the block's state is applied too. It comes
            // first: a transaction whose batch committed before the pipeline halted is
            // committed, not among the failed batch's.)
            match receipt(chain, &hash) {
                Ok(Some(r)) => {
                    return Ok(SubmitResult {
                        hash: to_hex(&hash),
                        status: "committed".into(),
                        receipt: Some(r),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    // (a halted node's store may refuse the read: say it halted)
                    chain.check_halted()?;
                    return Err(e);
                }
            }
            if let Some(crate::mempool::Status::Dropped(reason)) = status {
                return Ok(SubmitResult {
                    hash: to_hex(&hash),
                    status: format!("dropped: {reason}"),
                    receipt: None,
                });
            }
        }
        // A halted pipeline commits nothing more (and wakes its waiters to say so).
        chain.check_halted()?;
        // Nor does a stopping node once its mempool is closed and saved: the transaction
        // is admitted again at the next start, and the stop (which wakes the waiters
        // once it saved them) must not wait out this request's deadline.
        match chain.mempool.saved() {
            Some(true) => return Ok(pending()),
            Some(false) => {
                return Err(Error::Other(
                    "the node stopped and could not save its queued transactions for the next \
                     start (see its log): this one is lost, and its nonce is free again"
                        .into(),
                ));
            }
            None => {}
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => return Ok(pending()),
        }
    }
}

fn event_view(e: &StoredEvent) -> EventView {
    EventView {
        contract: to_hex(&e.contract.0),
        topics: e.topics.iter().map(|t| to_hex(t)).collect(),
        data: to_hex(&e.data),
        block_height: e.height,
        tx_index: e.tx_index,
        event_index: e.event_index,
    }
}

/// A committed transaction whose block is visible, with its stored receipt.
fn visible_tx(
    chain: &Chain,
    hash: &[u8; 32],
) -> Result<
    Option<(
        supervm_store::StoredTx,
        SignedTx,
        crate::block::StoredReceipt,
    )>,
> {
    let Some(t) = chain.store.tx(hash)? else {
        return Ok(None);
    };
    if !visible(chain, t.height) {
        return Ok(None);
    }
    let (tx, r) = decode_tx_body(&t.body)
        .ok_or_else(|| Error::Other("malformed stored transaction".into()))?;
    Ok(Some((t, tx, r)))
}

/// The receipt of a committed transaction.
pub fn receipt(chain: &Chain, hash: &[u8; 32]) -> Result<Option<ReceiptView>> {
    let Some((t, _, r)) = visible_tx(chain, hash)? else {
        return Ok(None);
    };
    receipt_view(chain, hash, &t, r).map(Some)
}

/// The receipt view of committed transaction `t` (found by [`visible_tx`]).
fn receipt_view(
    chain: &Chain,
    hash: &[u8; 32],
    t: &supervm_store::StoredTx,
    r: crate::block::StoredReceipt,
) -> Result<ReceiptView> {
    let mut events = vec![];
    if r.status == Status::Success {
        // The transaction's events, page by page from its first one, until the next
        // transaction's (not the rest of the block).
        let mut f = EventFilter {
            from_height: t.height,
            to_height: Some(t.height),
            after: t.index.checked_sub(1).map(|i| (t.height, i, u32::MAX)),
            limit: 256,
            ..EventFilter::default()
        };
        loop {
            let (page, cursor) = chain.store.events(&f)?;
            let past = page.iter().any(|e| e.tx_index > t.index);
            events.extend(
                page.iter()
                    .filter(|e| e.tx_index == t.index)
                    .map(event_view),
            );
            match cursor {
                Some(c) if !past => f.after = Some(c),
                _ => break,
            }
        }
    }
    let s = r.status.view();
    Ok(ReceiptView {
        tx_hash: to_hex(hash),
        block_height: t.height,
        index: t.index,
        outcome: s.outcome.into(),
        revert_code: s.revert_code,
        revert_contract: s.revert_contract,
        reason: s.reason,
        gas_used: r.gas_used,
        fee: r.fee.to_string(),
        return_data: to_hex(&r.return_data),
        events,
        contract: r.contract.map(|a| to_hex(&a.0)),
        code_hash: r.code_hash.map(|h| to_hex(&h)),
    })
}

/// `tx.get` of a committed transaction, if `hash` is one.
fn committed_tx(chain: &Chain, hash: &[u8; 32]) -> Result<Option<TxView>> {
    let Some((t, tx, r)) = visible_tx(chain, hash)? else {
        return Ok(None);
    };
    Ok(Some(TxView {
        hash: to_hex(hash),
        status: "committed".into(),
        raw: Some(to_hex(&tx.encode())),
        sender: Some(to_hex(&tx.body.sender.0)),
        nonce: Some(tx.body.nonce),
        receipt: Some(receipt_view(chain, hash, &t, r)?),
    }))
}

/// `tx.get`.
pub fn tx_get(chain: &Chain, hash: &[u8; 32]) -> Result<TxView> {
    if let Some(v) = committed_tx(chain, hash)? {
        return Ok(v);
    }
    // (under one lock: a drop records its reason and takes the transaction out of the
    // mempool in one step, and a resubmission forgets the reason as it admits)
    // (a pending transaction with what it is: a wallet sees which nonce it holds)
    let mut pending = None;
    let status = if let Some((s, tx)) = chain.mempool.status_with_tx(hash) {
        pending = tx;
        match s {
            crate::mempool::Status::Dropped(r) => format!("dropped: {r}"),
            crate::mempool::Status::Pending => "pending".to_string(),
        }
    } else if let Some(v) = committed_tx(chain, hash)? {
        // Committed since the first look: a commit publishes its block before it takes
        // the block's transactions out of the mempool, so one that left the mempool
        // by committing is in the store by now.
        return Ok(v);
    } else {
        "unknown".to_string()
    };
    Ok(TxView {
        hash: to_hex(hash),
        status,
        raw: pending.as_ref().map(|p| to_hex(&p.raw)),
        sender: pending.as_ref().map(|p| to_hex(&p.tx.body.sender.0)),
        nonce: pending.as_ref().map(|p| p.tx.body.nonce),
        receipt: None,
    })
}

fn block_view(chain: &Chain, b: supervm_store::StoredBlock) -> Result<BlockView> {
    let h =
        Header::decode(&b.header).ok_or_else(|| Error::Other("malformed stored header".into()))?;
    Ok(BlockView {
        height: b.height,
        hash: to_hex(&b.hash),
        parent_hash: to_hex(&h.parent_hash),
        state_root: to_hex(&b.state_root),
        timestamp_ms: h.timestamp_ms,
        tx_count: b.tx_count,
        gas_used: h.gas_used,
        tx_hashes: chain
            .store
            .block_tx_hashes(b.height)?
            .iter()
            .map(|x| to_hex(x))
            .collect(),
    })
}

/// `block.get` by height or hash.
pub fn block_get(
    chain: &Chain,
    height: Option<u64>,
    hash: Option<&str>,
) -> Result<Option<BlockView>> {
    let b = match (height, hash) {
        (Some(h), None) => chain.store.block_by_height(h)?,
        (None, Some(x)) => chain.store.block_by_hash(&hex32(x, "hash")?)?,
        _ => {
            return Err(Error::InvalidParam {
                param: "height",
                reason: "give exactly one of height and hash".into(),
            });
        }
    };
    b.filter(|b| visible(chain, b.height))
        .map(|b| block_view(chain, b))
        .transpose()
}

/// `block.latest`.
pub fn block_latest(chain: &Chain) -> Result<Option<BlockView>> {
    match chain.latest_height() {
        None => Ok(None),
        Some(h) => block_get(chain, Some(h), None),
    }
}

/// `account.get`.
pub fn account_get(chain: &Chain, address: &str, height: Option<u64>) -> Result<AccountView> {
    let a = Address(hex32(address, "address")?);
    let latest = height.is_none();
    with_state(chain, height, |view, h| {
        let acc = Account::load(view, &a)?;
        Ok(AccountView {
            address: to_hex(&a.0),
            nonce: acc.nonce,
            balance: acc.balance.to_string(),
            height: h,
            pending_nonce: latest.then(|| chain.mempool.next_nonce(&a).unwrap_or(acc.nonce)),
        })
    })
}

/// `storage.get`: a contract's raw storage value.
pub fn storage_get(
    chain: &Chain,
    contract: &str,
    key: &str,
    height: Option<u64>,
) -> Result<Option<String>> {
    let c = Address(hex32(contract, "contract")?);
    let k = hex_param(key, "key")?;
    // (no contract can store a longer key: refused before it reaches the store's cache)
    let max = supervm_vm::abi::limits::MAX_KEY_LEN as usize;
    if k.len() > max {
        return Err(Error::InvalidParam {
            param: "key",
            reason: format!("{} bytes; storage keys are at most {max}", k.len()),
        });
    }
    with_state(chain, height, |view, _| {
        Ok(view.get(&storage_key(&c, &k))?.map(|v| to_hex(&v)))
    })
}

/// `code.get`: the code stored under a hash (uploaded or deployed), or `None`. Code is
/// immutable by hash, so the latest committed state answers for every height after
/// its upload.
pub fn code_get(chain: &Chain, hash: &str) -> Result<Option<CodeView>> {
    let h = hex32(hash, "hash")?;
    Ok(chain.store.get(&code_key(&h))?.map(|code| CodeView {
        code_hash: to_hex(&h),
        size: code.len() as u64,
    }))
}

/// `contract.get`: code hash, deployer and the embedded interface.
/// With `height`, the contract as it stood right after that block (its code hash
/// changes when the contract upgrades itself); code itself is immutable by hash.
pub fn contract_get(
    chain: &Chain,
    address: &str,
    height: Option<u64>,
) -> Result<Option<ContractView>> {
    let a = Address(hex32(address, "address")?);
    let Some(rec) = with_state(chain, height, |view, _| Ok(view.get(&contract_key(&a))?))? else {
        return Ok(None);
    };
    let rec = ContractRecord::decode(&rec)
        .ok_or_else(|| Error::Other("malformed contract record".into()))?;
    // Code is immutable by hash, and so is the interface it embeds: validated and parsed
    // once (up to 600 KiB of code), then served from the cache.
    let interface = match chain.interfaces.get(&rec.code_hash) {
        Some(i) => i,
        None => {
            let code = chain.store.get(&code_key(&rec.code_hash))?;
            let Some(code) = code else {
                // (not cached: the code may not be stored yet)
                return Ok(Some(ContractView {
                    address: to_hex(&a.0),
                    code_hash: to_hex(&rec.code_hash),
                    deployer: to_hex(&rec.deployer.0),
                    interface: None,
                }));
            };
            let text = supervm_vm::validate::validate(&code, &chain.vm.config().limits)
                .ok()
                .and_then(|i| i.interface);
            let small = text
                .as_ref()
                .is_none_or(|t| t.len() <= MAX_CACHED_INTERFACE);
            let i = text
                .and_then(|text| supervm_vm::Interface::parse(&text).ok())
                .and_then(|i| serde_json::to_value(i).ok());
            // (the cache counts entries: a large interface is parsed again each time)
            if small {
                chain.interfaces.insert(rec.code_hash, i.clone());
            }
            i
        }
    };
    Ok(Some(ContractView {
        address: to_hex(&a.0),
        code_hash: to_hex(&rec.code_hash),
        deployer: to_hex(&rec.deployer.0),
        interface,
    }))
}

/// Interfaces whose text is larger than this are not cached by `contract.get` (the
/// cache holds 1,024 entries, so this bounds it to a few tens of MiB).
const MAX_CACHED_INTERFACE: usize = 16 * 1024;

/// A state view that fails every read once the request it serves has timed out: a
/// simulation answered -32001 stops at its next state read and frees its slot, instead
/// of running on for its whole gas (up to a billion: millions of uncached reads).
struct UntilDeadline<'a> {
    view: &'a dyn StateView,
    deadline: Option<std::time::Instant>,
}

impl UntilDeadline<'_> {
    #[allow(clippy::disallowed_methods)] // a wall-clock bound on a query, not consensus
    fn check(&self) -> std::result::Result<(), supervm_vm::StateError> {
        match self.deadline {
            Some(d) if std::time::Instant::now() >= d => Err(supervm_vm::StateError::Backend(
                "the simulation ran past its request's deadline".into(),
            )),
            _ => Ok(()),
        }
    }
}

impl StateView for UntilDeadline<'_> {
    fn get(&self, key: &[u8]) -> std::result::Result<Option<Vec<u8>>, supervm_vm::StateError> {
        self.check()?;
        self.view.get(key)
    }

    fn next_key(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> std::result::Result<Option<Vec<u8>>, supervm_vm::StateError> {
        self.check()?;
        self.view.next_key(prefix, after)
    }
}

/// `tx.simulate`: runs a call on the latest committed state without committing it, in
/// one of the [`Chain::simulation_slot`]s.
#[allow(clippy::too_many_arguments)] // the method's parameters, and the slot
pub fn simulate(
    chain: &Chain,
    _slot: &crate::chain::SimulationSlot,
    sender: &str,
    contract: &str,
    function: &str,
    args: &str,
    gas_limit: Option<u64>,
    height: Option<u64>,
    deadline: Option<std::time::Instant>,
) -> Result<SimulateResult> {
    // A requested limit is never lowered (a contract can see its gas): one over the
    // most a transaction may ask for is refused, as `tx.submit` refuses it.
    let max = crate::config::MAX_GAS_LIMIT;
    if gas_limit.is_some_and(|g| g > max) {
        return Err(Error::InvalidParam {
            param: "gas_limit",
            reason: format!("at most {max}"),
        });
    }
    let tx = Transaction {
        sender: Address(hex32(sender, "sender")?),
        gas_limit: gas_limit.unwrap_or(100_000_000),
        payload: Payload::Call {
            contract: Address(hex32(contract, "contract")?),
            function: function.to_string(),
            args: hex_param(args, "args")?,
        },
    };
    // The call runs as if in the block after `h`, stamped like block `h` (the node's
    // next block gets its own time when it is produced).
    let run = |view: &dyn StateView, h: Option<u64>, tx: &Transaction| {
        let env = BlockEnv {
            height: h.map_or(0, |h| h + 1),
            timestamp_ms: block_timestamp(chain, h)?,
            chain_id: chain.config.chain_id,
        };
        let view = UntilDeadline { view, deadline };
        match chain.vm.execute(&view, &env, tx) {
            Ok(r) => Ok((r, h)),
            // (a limitation of past heights, not a fault of the node)
            Err(supervm_vm::Error::State(supervm_vm::StateError::Unsupported(why))) => {
                Err(Error::InvalidParam {
                    param: "height",
                    reason: format!("the call iterates storage: {why}"),
                })
            }
            Err(e) => Err(e.into()),
        }
    };
    // A long call must not hold the snapshot lock (commits would wait behind it): run on
    // the store read by read, and keep the result only if no batch committed meanwhile
    // (each try starts right after a commit, so any call shorter than the time between
    // commits succeeds); after four tries, or for a past height, run on the locked
    // snapshot, one such simulation at a time.
    let mut result = None;
    for _ in 0..4 {
        let before = chain.store.head().batch;
        let h = chain.latest_height();
        // (a height the caller named must be the latest: else the locked snapshot at
        // that height below)
        if height.is_some_and(|x| Some(x) != h) {
            break;
        }
        let r = run(&*chain.store, h, &tx)?;
        if chain.store.head().batch == before {
            result = Some(r);
            break;
        }
    }
    let (r, h) = match result {
        Some(r) => r,
        None => {
            // Commits wait for this one: it may ask for at most
            // `max_locked_simulation_gas`, which is also its limit when it names none. A
            // requested limit is never lowered (a contract can see its gas, and a
            // `try_call` can turn a callee's out-of-gas into success): it is refused.
            let cap = chain.config.max_locked_simulation_gas;
            if gas_limit.is_some_and(|g| g > cap) {
                return Err(Error::InvalidParam {
                    param: "gas_limit",
                    reason: format!(
                        "a simulation that holds commits back (at a past height, or on a \
                         node committing faster than the call runs) may ask for at most \
                         {cap} gas"
                    ),
                });
            }
            let capped = Transaction {
                gas_limit: tx.gas_limit.min(cap),
                ..tx.clone()
            };
            let _one = chain.locked_simulation.lock();
            with_state(chain, height, |view, h| run(view, h, &capped))?
        }
    };
    let (status, data) = Status::of_receipt(&r);
    let s = status.view();
    let height_now = h.map_or(0, |h| h + 1);
    Ok(SimulateResult {
        outcome: s.outcome.into(),
        revert_code: s.revert_code,
        revert_contract: s.revert_contract,
        reason: s.reason,
        gas_used: r.gas_used,
        return_data: to_hex(&data),
        events: r
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| EventView {
                contract: to_hex(&e.contract.0),
                topics: e.topics.iter().map(|t| to_hex(t)).collect(),
                data: to_hex(&e.data),
                block_height: height_now,
                tx_index: 0,
                event_index: i as u32,
            })
            .collect(),
        access_list: AccessList {
            // (keys only added to are read too: their value decides the outcome's range)
            reads: (r.read_set.keys.iter().map(|k| &k.key))
                .chain(r.read_set.deltas.iter().map(|d| &d.key))
                .chain(r.read_set.codes.iter().map(|c| &c.key))
                .chain(r.read_set.digests.iter().map(|d| &d.key))
                .map(|k| to_hex(k))
                .collect(),
            writes: r.write_set.keys().map(|k| to_hex(k)).collect(),
        },
        height: h,
        logs: r.logs,
    })
}

/// The timestamp of block `h` (0 before the first block).
fn block_timestamp(chain: &Chain, h: Option<u64>) -> Result<u64> {
    let Some(h) = h else { return Ok(0) };
    let b = chain
        .store
        .block_by_height(h)?
        .ok_or_else(|| Error::Other(format!("block {h} is missing")))?;
    let header =
        Header::decode(&b.header).ok_or_else(|| Error::Other("malformed stored header".into()))?;
    Ok(header.timestamp_ms)
}

/// Parses an events cursor `height:tx:event`.
pub fn parse_cursor(s: &str) -> Result<(u64, u32, u32)> {
    let p: Vec<&str> = s.split(':').collect();
    let bad = || Error::InvalidParam {
        param: "cursor",
        reason: format!("bad cursor {s:?}: expected height:tx:event"),
    };
    if p.len() != 3 {
        return Err(bad());
    }
    Ok((
        p[0].parse().map_err(|_| bad())?,
        p[1].parse().map_err(|_| bad())?,
        p[2].parse().map_err(|_| bad())?,
    ))
}

/// `events.query`.
pub fn events_query(
    chain: &Chain,
    contract: Option<&str>,
    topics: &[Option<String>],
    from_height: Option<u64>,
    to_height: Option<u64>,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<EventsPage> {
    let contract = contract
        .map(|c| hex32(c, "contract").map(Address))
        .transpose()?;
    // (an event has at most MAX_TOPICS topics: a longer list matches nothing, and each
    // position costs a comparison per event scanned)
    if topics.len() > supervm_abi::limits::MAX_TOPICS {
        return Err(Error::InvalidParam {
            param: "topics",
            reason: format!(
                "{} positions; an event has at most {}",
                topics.len(),
                supervm_abi::limits::MAX_TOPICS
            ),
        });
    }
    let topics = topics
        .iter()
        .map(|t| t.as_deref().map(|t| hex_param(t, "topics")).transpose())
        .collect::<Result<Vec<_>>>()?;
    let after = cursor.map(parse_cursor).transpose()?;
    let limit = match limit {
        None => EVENTS_PAGE_DEFAULT,
        Some(l) if (1..=EVENTS_PAGE_MAX).contains(&l) => l,
        Some(l) => {
            return Err(Error::InvalidParam {
                param: "limit",
                reason: format!("{l} is not between 1 and {EVENTS_PAGE_MAX}"),
            });
        }
    };
    if let (Some(from), Some(to)) = (from_height, to_height)
        && from > to
    {
        return Err(Error::InvalidParam {
            param: "from_height",
            reason: format!("{from} is above to_height {to}"),
        });
    }
    let Some(latest) = chain.latest_height() else {
        return Ok(EventsPage {
            events: vec![],
            next_cursor: None,
        });
    };
    let (evs, next) = chain.store.events(&EventFilter {
        contract,
        topics,
        from_height: from_height.unwrap_or(0),
        to_height: Some(to_height.map_or(latest, |t| t.min(latest))),
        after,
        limit,
    })?;
    // A range reaching past the latest block is not done when the latest is: the
    // cursor then stands after the latest block's events, for the blocks to come (or
    // where the caller's cursor stood, if that is further: it never moves back).
    let end = (latest, u32::MAX, u32::MAX);
    let next = next.or(to_height
        .is_some_and(|t| t > latest)
        .then(|| after.map_or(end, |a| a.max(end))));
    Ok(EventsPage {
        events: evs.iter().map(event_view).collect(),
        next_cursor: next.map(|(h, t, e)| format!("{h}:{t}:{e}")),
    })
}

/// `events.query`'s page size when the call names none.
pub const EVENTS_PAGE_DEFAULT: usize = 100;
/// The largest page `events.query` serves.
pub const EVENTS_PAGE_MAX: usize = 1000;

/// A transaction that passed the stateless checks: decoded, its hash, its bytes.
pub type Checked = (SignedTx, [u8; 32], Vec<u8>);

/// Checks many raw transactions for batch submits ([`Chain::check_stateless_many`]).
pub fn check_many(chain: &Chain, raws: Vec<Vec<u8>>) -> Vec<Result<Checked>> {
    let checked = chain.check_stateless_many(&raws);
    checked
        .into_iter()
        .zip(raws)
        .map(|(c, raw)| c.map(|(t, h)| (t, h, raw)))
        .collect()
}

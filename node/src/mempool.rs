//! The mempool: admitted transactions waiting for a block, bounded.
//!
//! Per sender it accepts only the next contiguous nonce (committed nonce + pending),
//! so block order by arrival is also nonce order. Transactions taken by the producer
//! stay "in flight" (still known by hash and counted for the sender's nonce and
//! reserved fees) until their block commits or they are dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use supervm_client::SignedTx;
use supervm_vm::Address;

use crate::Error;

/// An admitted transaction.
#[derive(Debug)]
pub struct PendingTx {
    /// The transaction.
    pub tx: SignedTx,
    /// Its hash.
    pub hash: [u8; 32],
    /// Its encoding.
    pub raw: Vec<u8>,
    /// Most it can cost the sender: gas limit × price (+ amount for native transfers).
    pub max_cost: u128,
}

#[derive(Default)]
struct Sender {
    /// Next nonce it may submit.
    next_nonce: u64,
    /// Admitted, not yet taken.
    queued: usize,
    /// Taken by the producer, not yet resolved.
    inflight: usize,
    /// Sum of `max_cost` of queued and in-flight transactions.
    reserved: u128,
}

#[derive(Default)]
struct Inner {
    /// Encoded bytes of every known transaction.
    bytes: usize,
    /// Incremented whenever transactions are resolved (committed or dropped), so an
    /// admission can tell that the account it read may be older than the mempool.
    generation: u64,
    /// Every known transaction (queued or in flight) by hash.
    known: HashMap<[u8; 32], Arc<PendingTx>>,
    senders: HashMap<Address, Sender>,
    queue: VecDeque<Arc<PendingTx>>,
    /// Taken, not yet resolved, by hash: with the order they were taken in.
    inflight: HashMap<[u8; 32], (u64, Arc<PendingTx>)>,
    /// Transactions taken so far (orders `inflight`).
    taken: u64,
    /// Set by [`Mempool::close`]: nothing more is admitted.
    closed: bool,
    /// Why recently dropped transactions were dropped, by hash, with the record's
    /// number. Kept under the lock admission and resolution take, so a record never
    /// outlives a resubmission admitted after it, nor is cleared by one admitted before
    /// the drop.
    dropped: HashMap<[u8; 32], (u64, String)>,
    /// The drop records oldest first (an entry whose number the map no longer holds is
    /// stale: that transaction was admitted or dropped again since).
    dropped_order: VecDeque<([u8; 32], u64)>,
    /// Drop records made so far.
    drops: u64,
}

/// Most drop records a [`Mempool`] keeps (the oldest are forgotten first).
pub const DROPPED_KEPT: usize = 100_000;

impl Inner {
    fn record_drop(&mut self, hash: [u8; 32], reason: String) {
        self.drops += 1;
        let n = self.drops;
        self.dropped.insert(hash, (n, reason));
        self.dropped_order.push_back((hash, n));
        while self.dropped_order.len() > DROPPED_KEPT {
            if let Some((old, m)) = self.dropped_order.pop_front()
                && self.dropped.get(&old).is_some_and(|(k, _)| *k == m)
            {
                self.dropped.remove(&old);
            }
        }
    }
}

/// What the mempool knows of a transaction ([`Mempool::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Dropped recently, with the reason (and not admitted again since).
    Dropped(String),
    /// Queued or taken for a block not yet committed.
    Pending,
}

/// Why [`Mempool::admit_at`] did not admit a transaction.
#[derive(Debug)]
pub enum NotAdmitted {
    /// Refused.
    Rejected(Error),
    /// The account read may be stale: read it again and retry.
    Stale(Box<PendingTx>),
}

/// How much a [`Mempool`] holds at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Transactions, queued and in flight.
    pub capacity: usize,
    /// Encoded bytes of those transactions (each is also held decoded, so memory is
    /// about twice this).
    pub max_bytes: usize,
    /// Transactions of one sender, queued and in flight.
    pub per_sender: usize,
}

/// What [`Mempool::take`] takes for one block at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    /// Transactions.
    pub txs: usize,
    /// Encoded bytes.
    pub bytes: usize,
    /// Sum of the gas limits.
    pub gas: u64,
}

/// The bounded mempool.
pub struct Mempool {
    limits: MempoolLimits,
    inner: Mutex<Inner>,
    ready: Condvar,
    /// While set, [`Mempool::take`] hands out nothing (admission continues): for tests
    /// and tools that need transactions to stay pending.
    held: std::sync::atomic::AtomicBool,
    /// After a close, whether what it held was saved: 0 not yet, 1 saved, 2 lost (see
    /// [`Mempool::saved`]).
    saved: std::sync::atomic::AtomicU8,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("limits", &self.limits)
            .field("len", &self.len())
            .finish()
    }
}

/// A committed account as admission sees it.
#[derive(Clone, Copy, Debug)]
pub struct AccountNow {
    /// Committed nonce.
    pub nonce: u64,
    /// Committed balance.
    pub balance: u128,
}

impl Mempool {
    /// A mempool holding at most what `limits` allow.
    pub fn new(limits: MempoolLimits) -> Self {
        Mempool {
            limits,
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
            held: std::sync::atomic::AtomicBool::new(false),
            saved: std::sync::atomic::AtomicU8::new(0),
        }
    }

    /// Holds (`true`) or releases block production: while held, [`Mempool::take`]
    /// hands out nothing. Releasing wakes a waiting `take`.
    pub fn set_hold(&self, on: bool) {
        self.held.store(on, std::sync::atomic::Ordering::SeqCst);
        if !on {
            self.wake();
        }
    }

    /// Whether block production is held ([`Mempool::set_hold`]).
    pub fn is_held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Transactions queued or in flight.
    pub fn len(&self) -> usize {
        self.inner.lock().known.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `hash` is queued or in flight.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.inner.lock().known.contains_key(hash)
    }

    /// The nonce `sender` would need next, if it has transactions here.
    pub fn next_nonce(&self, sender: &Address) -> Option<u64> {
        self.inner.lock().senders.get(sender).map(|s| s.next_nonce)
    }

    /// Whether `hash` was dropped (and why) or is pending, read under one lock.
    pub fn status(&self, hash: &[u8; 32]) -> Option<Status> {
        let inner = self.inner.lock();
        if let Some((_, reason)) = inner.dropped.get(hash) {
            return Some(Status::Dropped(reason.clone()));
        }
        inner.known.contains_key(hash).then_some(Status::Pending)
    }

    /// Records that `hash`, acknowledged as pending before, will not be included (a
    /// transaction saved at shutdown and refused at restart): [`Mempool::status`]
    /// answers `Dropped(reason)` until it is admitted again.
    pub fn note_dropped(&self, hash: [u8; 32], reason: String) {
        self.inner.lock().record_drop(hash, reason);
    }

    /// [`Mempool::status`], with the transaction itself while it is pending (read under
    /// one lock: a pending answer always has its transaction).
    pub fn status_with_tx(&self, hash: &[u8; 32]) -> Option<(Status, Option<Arc<PendingTx>>)> {
        let inner = self.inner.lock();
        if let Some((_, reason)) = inner.dropped.get(hash) {
            return Some((Status::Dropped(reason.clone()), None));
        }
        inner
            .known
            .get(hash)
            .map(|p| (Status::Pending, Some(p.clone())))
    }

    /// Why `hash` was dropped, if it was recently (and not admitted again since):
    /// [`Mempool::status`]'s `Dropped`.
    pub fn dropped_reason(&self, hash: &[u8; 32]) -> Option<String> {
        match self.status(hash) {
            Some(Status::Dropped(reason)) => Some(reason),
            _ => None,
        }
    }

    /// The resolve generation; read it before reading the sender's account.
    pub fn generation(&self) -> u64 {
        self.inner.lock().generation
    }

    /// Admits `p` (signature already checked), given the sender's committed account as
    /// read after [`Mempool::generation`] returned `generation`. If transactions were
    /// resolved since, the account may be stale (a commit may have used the nonce it
    /// shows, or spent balance the mempool no longer reserves) and the transaction comes
    /// back as [`NotAdmitted::Stale`] to be retried with a fresh read. The check and the
    /// admission happen under one lock, so no resolve can slip in between.
    pub fn admit_at(
        &self,
        p: PendingTx,
        account: AccountNow,
        generation: u64,
    ) -> Result<(), NotAdmitted> {
        let inner = self.inner.lock();
        // (also for a sender with transactions here: its balance may be read from before
        // a commit that lowered both it and the reservation admission adds to it)
        if inner.generation != generation {
            return Err(NotAdmitted::Stale(Box::new(p)));
        }
        self.admit_locked(inner, p, account)
            .map_err(NotAdmitted::Rejected)
    }

    /// Admits `p` (signature already checked), given the sender's committed account.
    pub fn admit(&self, p: PendingTx, account: AccountNow) -> Result<(), Error> {
        self.admit_locked(self.inner.lock(), p, account)
    }

    fn admit_locked(
        &self,
        mut inner: parking_lot::MutexGuard<'_, Inner>,
        p: PendingTx,
        account: AccountNow,
    ) -> Result<(), Error> {
        let Inner {
            closed,
            known,
            senders,
            bytes,
            queue,
            dropped,
            ..
        } = &mut *inner;
        if *closed {
            return Err(Error::ShuttingDown);
        }
        if known.contains_key(&p.hash) {
            return Err(Error::AlreadyKnown);
        }
        // (one lookup of the sender: read here, filled in only if admitted)
        let slot = senders.entry(p.tx.body.sender);
        let (expected, reserved, pending) = match &slot {
            std::collections::hash_map::Entry::Occupied(s) => {
                let s = s.get();
                (s.next_nonce, s.reserved, s.queued + s.inflight)
            }
            std::collections::hash_map::Entry::Vacant(_) => (account.nonce, 0, 0),
        };
        let n = p.tx.body.nonce;
        // A used nonce before the limits: a committed transaction sent again is told so
        // (and then `already_committed`), never "full, retry later".
        if n < account.nonce {
            return Err(Error::StaleNonce { expected, got: n });
        }
        if pending >= self.limits.per_sender {
            return Err(Error::SenderPendingLimit {
                limit: self.limits.per_sender,
            });
        }
        if known.len() >= self.limits.capacity || *bytes + p.raw.len() > self.limits.max_bytes {
            return Err(Error::MempoolFull {
                capacity: self.limits.capacity,
                max_bytes: self.limits.max_bytes,
            });
        }
        if n < expected {
            return Err(Error::DuplicateNonce { nonce: n });
        }
        if n > expected || n == u64::MAX {
            return Err(Error::NonceGap { expected, got: n });
        }
        // (checked: a sum past u128::MAX is more than any balance, and the reservation
        // below must not overflow after the sender's counters moved)
        let needed = reserved.checked_add(p.max_cost);
        if needed.is_none_or(|needed| account.balance < needed) {
            return Err(Error::InsufficientBalance {
                needed: needed.unwrap_or(u128::MAX),
                available: account.balance,
            });
        }
        let s = slot.or_default();
        s.next_nonce = n + 1;
        s.queued += 1;
        s.reserved += p.max_cost;
        // A resubmission of a transaction dropped earlier is pending again.
        dropped.remove(&p.hash);
        *bytes += p.raw.len();
        let p = Arc::new(p);
        known.insert(p.hash, p.clone());
        queue.push_back(p);
        drop(inner);
        self.ready.notify_one();
        Ok(())
    }

    /// The balance `sender` has already reserved for pending transactions.
    pub fn reserved(&self, sender: &Address) -> u128 {
        self.inner
            .lock()
            .senders
            .get(sender)
            .map_or(0, |s| s.reserved)
    }

    /// Takes transactions in arrival order for one block, as many as `limits` allow
    /// (at least one if any is queued: a transaction over a limit on its own still
    /// gets a block), waiting up to `wait` for the first one. They stay known (in
    /// flight) until [`Mempool::resolve`]. Takes nothing while held
    /// ([`Mempool::set_hold`]), checked after the wait under the mempool's lock, so a
    /// transaction admitted after the hold was set stays queued even if it woke the wait.
    pub fn take(&self, limits: BlockLimits, wait: Duration) -> Vec<Arc<PendingTx>> {
        let mut inner = self.inner.lock();
        if inner.queue.is_empty() {
            self.ready.wait_for(&mut inner, wait);
        }
        if self.is_held() {
            return Vec::new();
        }
        let (mut n, mut bytes, mut gas) = (0usize, 0usize, 0u64);
        for p in inner.queue.iter().take(limits.txs) {
            bytes += p.raw.len();
            gas = gas.saturating_add(p.tx.body.gas_limit);
            if n > 0 && (bytes > limits.bytes || gas > limits.gas) {
                break;
            }
            n += 1;
        }
        let out: Vec<Arc<PendingTx>> = inner.queue.drain(..n).collect();
        for p in &out {
            if let Some(s) = inner.senders.get_mut(&p.tx.body.sender) {
                s.queued -= 1;
                s.inflight += 1;
            }
            let order = inner.taken;
            inner.taken += 1;
            inner.inflight.insert(p.hash, (order, p.clone()));
        }
        out
    }

    /// Forgets in-flight transactions once their block committed or they were dropped
    /// (each with the reason, recorded: [`Mempool::dropped_reason`]). A sender with a
    /// dropped transaction is reset: its queued followers are dropped too (their nonces
    /// can no longer be used; recorded as well) and returned.
    pub fn resolve(
        &self,
        done: &[Arc<PendingTx>],
        dropped: &[(Arc<PendingTx>, String)],
    ) -> Vec<Arc<PendingTx>> {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        for (p, why) in dropped {
            inner.record_drop(p.hash, why.clone());
        }
        for p in done.iter().chain(dropped.iter().map(|(p, _)| p)) {
            if inner.known.remove(&p.hash).is_some() {
                inner.bytes -= p.raw.len();
            }
            inner.inflight.remove(&p.hash);
            let sender = p.tx.body.sender;
            if let Some(s) = inner.senders.get_mut(&sender) {
                s.inflight = s.inflight.saturating_sub(1);
                s.reserved = s.reserved.saturating_sub(p.max_cost);
                if s.inflight == 0 && s.queued == 0 {
                    inner.senders.remove(&sender);
                }
            }
        }
        if dropped.is_empty() {
            return Vec::new();
        }
        // One pass over the queue takes every queued follower of a dropped sender.
        let reset: HashMap<Address, u64> = dropped.iter().fold(HashMap::new(), |mut m, (p, _)| {
            let n = m.entry(p.tx.body.sender).or_insert(u64::MAX);
            *n = (*n).min(p.tx.body.nonce);
            m
        });
        let (orphans, kept): (Vec<_>, Vec<_>) = inner
            .queue
            .drain(..)
            .partition(|q| reset.contains_key(&q.tx.body.sender));
        inner.queue = VecDeque::from(kept);
        for o in &orphans {
            if inner.known.remove(&o.hash).is_some() {
                inner.bytes -= o.raw.len();
            }
            inner.record_drop(
                o.hash,
                "an earlier transaction of the sender was dropped".into(),
            );
            // In-flight transactions keep their reservation until they are resolved.
            if let Some(s) = inner.senders.get_mut(&o.tx.body.sender) {
                s.reserved = s.reserved.saturating_sub(o.max_cost);
            }
        }
        for (sender, nonce) in reset {
            if let Some(s) = inner.senders.get_mut(&sender) {
                s.queued = 0;
                if s.inflight == 0 {
                    inner.senders.remove(&sender);
                } else {
                    // In-flight transactions with lower nonces still commit; higher ones
                    // fail their nonce check and are dropped too. So the lowest dropped
                    // nonce is the next one the sender can use.
                    s.next_nonce = s.next_nonce.min(nonce);
                }
            }
        }
        orphans
    }

    /// The encodings of every transaction not resolved: in flight (taken by the
    /// producer; after the pipeline stopped, those of a batch whose commit failed) in
    /// the order taken, then the queued ones in arrival order.
    #[allow(clippy::disallowed_methods)] // in-flight entries are sorted by take order
    pub fn unresolved_raw(&self) -> Vec<Vec<u8>> {
        let inner = self.inner.lock();
        let mut inflight: Vec<&(u64, Arc<PendingTx>)> = inner.inflight.values().collect();
        inflight.sort_by_key(|(order, _)| *order);
        inflight
            .into_iter()
            .map(|(_, p)| p.raw.clone())
            .chain(inner.queue.iter().map(|p| p.raw.clone()))
            .collect()
    }

    /// Stops admission, then returns [`Mempool::unresolved_raw`]: a transaction is
    /// either in the returned list or refused with
    /// [`Error::ShuttingDown`], never admitted after the list was taken (and lost).
    pub fn close(&self) -> Vec<Vec<u8>> {
        // (admission checks the flag under the lock: whatever was admitted before it was
        // set is in the list taken next; the two steps need not share one lock)
        self.inner.lock().closed = true;
        self.unresolved_raw()
    }

    /// After [`Mempool::close`], whether what it held was saved for the next start
    /// (`Some(true)`), or could not be (`Some(false)`: lost); `None` before (nothing is
    /// decided yet: transactions may still commit).
    pub fn saved(&self) -> Option<bool> {
        // (read by every waiting submission at every commit: no lock)
        match self.saved.load(std::sync::atomic::Ordering::Acquire) {
            0 => None,
            1 => Some(true),
            _ => Some(false),
        }
    }

    /// Records whether the transactions [`Mempool::close`] returned were saved.
    pub fn mark_saved(&self, ok: bool) {
        let v = if ok { 1 } else { 2 };
        self.saved.store(v, std::sync::atomic::Ordering::Release);
    }

    /// Wakes a producer waiting in [`Mempool::take`].
    pub fn wake(&self) {
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ed25519_dalek::SigningKey;
    use supervm_client::{TxBody, TxPayload};

    /// A key, its account (nonce 0, well funded) and a mempool of 10.
    fn funded() -> (SigningKey, AccountNow, Mempool) {
        let acc = AccountNow {
            nonce: 0,
            balance: 1_000_000,
        };
        (
            SigningKey::from_bytes(&[1; 32]),
            acc,
            Mempool::new(limits(10)),
        )
    }

    /// `dropped` with a reason each.
    fn why(dropped: &[Arc<PendingTx>]) -> Vec<(Arc<PendingTx>, String)> {
        dropped
            .iter()
            .map(|p| (p.clone(), "test".to_string()))
            .collect()
    }

    /// Drop records change in the same step as the mempool: a dropped transaction and
    /// its queued follower are recorded when they are resolved; a resubmission admitted
    /// afterwards clears its record (it is pending again), and a later drop of it is
    /// recorded again, not cleared by the earlier admission; a record is kept through
    /// the eviction of an older, stale entry of the same transaction.
    #[test]
    fn drop_records_follow_resolution_and_admission() {
        let (k, acc, m) = funded();
        m.admit(tx(&k, 0), acc).unwrap();
        let first = m.take(txs(1), Duration::ZERO);
        m.admit(tx(&k, 1), acc).unwrap();
        let follower = tx(&k, 1).hash;
        let orphans = m.resolve(&[], &[(first[0].clone(), "expired".into())]);
        assert_eq!(orphans.len(), 1);
        assert_eq!(m.dropped_reason(&first[0].hash).as_deref(), Some("expired"));
        let orphaned = m
            .dropped_reason(&follower)
            .expect("the follower is recorded");
        assert!(orphaned.contains("earlier transaction"), "{orphaned}");
        // The wallet sends both again: pending, no drop record.
        m.admit(tx(&k, 0), acc).unwrap();
        m.admit(tx(&k, 1), acc).unwrap();
        assert_eq!(m.dropped_reason(&first[0].hash), None);
        assert_eq!(m.dropped_reason(&follower), None);
        assert_eq!(m.status(&follower), Some(Status::Pending));
        // Dropped again after that admission: recorded.
        let again = m.take(txs(2), Duration::ZERO);
        m.resolve(&[], &why(&again));
        assert_eq!(m.dropped_reason(&follower).as_deref(), Some("test"));
        assert_eq!(m.status(&follower), Some(Status::Dropped("test".into())));
        assert_eq!(m.status(&[0xee; 32]), None);
        // Evicting the follower's first (stale) entry keeps its current record.
        let mut inner = m.inner.lock();
        let stale_entries = inner.dropped_order.len();
        assert_eq!(stale_entries, 4, "two records each");
        for i in 0..DROPPED_KEPT - 2 {
            let mut h = [0xEE; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            inner.record_drop(h, "filler".into());
        }
        assert_eq!(inner.dropped_order.len(), DROPPED_KEPT);
        drop(inner);
        assert_eq!(m.dropped_reason(&follower).as_deref(), Some("test"));
        assert_eq!(m.dropped_reason(&first[0].hash).as_deref(), Some("test"));
    }

    /// A sender with transactions here is not admitted against an account read before
    /// a resolve: the commit may have spent balance the mempool no longer reserves.
    #[test]
    fn a_resolve_makes_every_account_read_before_it_stale() {
        let (k, acc, m) = funded();
        m.admit(tx(&k, 0), acc).unwrap();
        let taken = m.take(txs(1), Duration::ZERO);
        m.admit(tx(&k, 1), acc).unwrap();
        let g = m.generation();
        m.resolve(&taken, &[]);
        assert!(matches!(
            m.admit_at(tx(&k, 2), acc, g),
            Err(NotAdmitted::Stale(_))
        ));
        let fresh = AccountNow {
            nonce: 1,
            balance: 1_000_000 - 10_001,
        };
        m.admit_at(tx(&k, 2), fresh, m.generation()).unwrap();
    }

    fn tx(key: &SigningKey, nonce: u64) -> PendingTx {
        let tx = TxBody {
            chain_id: 1,
            sender: supervm_client::keys::address_of(key),
            nonce,
            gas_limit: 10_000,
            gas_price: 1,
            expiry_height: 100,
            payload: TxPayload::Transfer {
                to: Address([9; 32]),
                amount: 1,
            },
        }
        .sign(key);
        PendingTx {
            hash: tx.hash(),
            raw: tx.encode(),
            max_cost: 10_001,
            tx,
        }
    }

    fn limits(capacity: usize) -> MempoolLimits {
        MempoolLimits {
            capacity,
            max_bytes: usize::MAX,
            per_sender: usize::MAX,
        }
    }

    fn txs(n: usize) -> BlockLimits {
        BlockLimits {
            txs: n,
            bytes: usize::MAX,
            gas: u64::MAX,
        }
    }

    /// A reservation that would pass u128::MAX is refused as unaffordable, and leaves the
    /// sender as it was: its next nonce can still be admitted at a cost that fits (the
    /// sum used to saturate, pass the balance check of an account holding u128::MAX,
    /// then overflow the reservation after the sender's counters had moved).
    #[test]
    fn reservations_past_u128_max_are_refused_without_a_trace() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let acc = AccountNow {
            nonce: 0,
            balance: u128::MAX,
        };
        let m = Mempool::new(limits(10));
        let mut first = tx(&k, 0);
        first.max_cost = u128::MAX - 5;
        m.admit(first, acc).unwrap();
        let mut second = tx(&k, 1);
        second.max_cost = 10;
        match m.admit(second, acc) {
            Err(Error::InsufficientBalance { needed, available }) => {
                assert_eq!((needed, available), (u128::MAX, u128::MAX));
            }
            other => panic!("{other:?}"),
        }
        let mut fits = tx(&k, 1);
        fits.max_cost = 5;
        m.admit(fits, acc).unwrap();
        assert_eq!(m.reserved(&supervm_client::keys::address_of(&k)), u128::MAX);
    }

    /// While the producer's hold is set, `take` hands out nothing, however long it waited
    /// and however much is queued; released, it takes as usual.
    #[test]
    fn take_hands_out_nothing_while_held() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let acc = AccountNow {
            nonce: 0,
            balance: 1_000_000,
        };
        let m = Mempool::new(limits(3));
        m.admit(tx(&k, 0), acc).unwrap();
        m.set_hold(true);
        assert!(m.take(txs(10), Duration::from_millis(5)).is_empty());
        assert_eq!(m.len(), 1, "the transaction stays queued");
        m.set_hold(false);
        assert_eq!(m.take(txs(10), Duration::ZERO).len(), 1);
    }

    #[test]
    fn nonces_balance_capacity_and_reset_after_drop() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let acc = AccountNow {
            nonce: 3,
            balance: 25_000,
        };
        let m = Mempool::new(limits(3));
        assert!(matches!(
            m.admit(tx(&k, 2), acc),
            Err(Error::StaleNonce {
                expected: 3,
                got: 2
            })
        ));
        assert!(matches!(
            m.admit(tx(&k, 4), acc),
            Err(Error::NonceGap {
                expected: 3,
                got: 4
            })
        ));
        m.admit(tx(&k, 3), acc).unwrap();
        assert!(matches!(m.admit(tx(&k, 3), acc), Err(Error::AlreadyKnown)));
        let mut other = tx(&k, 3);
        other.hash = [7; 32]; // a different transaction with the same nonce
        assert!(matches!(
            m.admit(other, acc),
            Err(Error::DuplicateNonce { nonce: 3 })
        ));
        m.admit(tx(&k, 4), acc).unwrap();
        // Two pending reserve 20,002 of 25,000: a third does not fit.
        assert!(matches!(
            m.admit(tx(&k, 5), acc),
            Err(Error::InsufficientBalance { .. })
        ));
        assert!(matches!(
            m.admit(tx(&k, u64::MAX), acc),
            Err(Error::NonceGap { .. })
        ));
        // The producer takes nonce 3; nonce 4 stays queued; 3 is dropped at execution.
        let taken = m.take(txs(1), Duration::ZERO);
        assert_eq!(taken[0].tx.body.nonce, 3);
        let orphans = m.resolve(&[], &why(&taken));
        assert_eq!(orphans.len(), 1, "its queued follower goes too");
        assert!(m.is_empty());
        // The sender starts over from the committed account.
        m.admit(tx(&k, 3), acc).unwrap();
        // Capacity.
        let k2 = SigningKey::from_bytes(&[2; 32]);
        let rich = AccountNow {
            nonce: 0,
            balance: u128::MAX,
        };
        m.admit(tx(&k2, 0), rich).unwrap();
        m.admit(tx(&k2, 1), rich).unwrap();
        assert!(matches!(
            m.admit(tx(&k2, 2), rich),
            Err(Error::MempoolFull { capacity: 3, .. })
        ));
    }

    #[test]
    fn a_drop_behind_in_flight_transactions_resets_the_next_nonce() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let acc = AccountNow {
            nonce: 0,
            balance: 1_000_000,
        };
        let m = Mempool::new(limits(10));
        for n in 0..3 {
            m.admit(tx(&k, n), acc).unwrap();
        }
        let first = m.take(txs(1), Duration::ZERO); // nonce 0 in flight (will commit)
        let second = m.take(txs(1), Duration::ZERO); // nonce 1 dropped
        m.resolve(&[], &why(&second));
        // Nonce 0 still in flight: the next usable nonce is the dropped one, 1.
        assert_eq!(m.next_nonce(&supervm_client::keys::address_of(&k)), Some(1));
        m.admit(tx(&k, 1), acc).unwrap();
        m.resolve(&first, &[]);
    }

    #[test]
    fn an_account_read_before_a_resolve_is_stale() {
        let k = SigningKey::from_bytes(&[4; 32]);
        let acc = AccountNow {
            nonce: 0,
            balance: 1_000_000,
        };
        let m = Mempool::new(limits(10));
        let g = m.generation();
        m.admit_at(tx(&k, 0), acc, g).unwrap();
        let taken = m.take(txs(1), Duration::ZERO);
        // A wallet reads the account (nonce 0) and the generation ...
        let g = m.generation();
        // ... then the block with nonce 0 commits and is resolved.
        m.resolve(&taken, &[]);
        assert!(m.generation() > g, "a resolve moves the generation");
        // The sender has nothing pending: nonce 0 on the old read is stale, not admitted.
        match m.admit_at(tx(&k, 0), acc, g) {
            Err(NotAdmitted::Stale(_)) => {}
            other => panic!("expected Stale, got {other:?}"),
        }
        // Read again (nonce 1 now): the next nonce is admitted.
        let fresh = AccountNow { nonce: 1, ..acc };
        m.admit_at(tx(&k, 1), fresh, m.generation()).unwrap();
    }

    #[test]
    fn a_drop_keeps_the_reservation_of_in_flight_transactions() {
        let k = SigningKey::from_bytes(&[5; 32]);
        let sender = supervm_client::keys::address_of(&k);
        // Room for three transactions of 10,001 each.
        let acc = AccountNow {
            nonce: 0,
            balance: 30_003,
        };
        let m = Mempool::new(limits(10));
        for n in 0..3 {
            m.admit(tx(&k, n), acc).unwrap();
        }
        let first = m.take(txs(1), Duration::ZERO); // nonce 0 in flight, will commit
        let second = m.take(txs(1), Duration::ZERO); // nonce 1 dropped; nonce 2 is orphaned
        let orphans = m.resolve(&[], &why(&second));
        assert_eq!(orphans.len(), 1);
        // Nonce 0 still reserves its 10,001.
        assert_eq!(m.reserved(&sender), 10_001);
        m.admit(tx(&k, 1), acc).unwrap();
        m.admit(tx(&k, 2), acc).unwrap();
        assert!(
            matches!(
                m.admit(tx(&k, 3), acc),
                Err(Error::InsufficientBalance { .. })
            ),
            "three reservations fill the balance"
        );
        m.resolve(&first, &[]);
        assert_eq!(m.reserved(&sender), 20_002);
    }

    #[test]
    fn unresolved_transactions_in_the_order_they_would_run() {
        let k = SigningKey::from_bytes(&[6; 32]);
        let acc = AccountNow {
            nonce: 0,
            balance: 1_000_000,
        };
        let m = Mempool::new(limits(10));
        let pending: Vec<PendingTx> = (0..4).map(|n| tx(&k, n)).collect();
        let raws: Vec<Vec<u8>> = pending.iter().map(|p| p.raw.clone()).collect();
        for p in pending {
            m.admit(p, acc).unwrap();
        }
        let first = m.take(txs(1), Duration::ZERO);
        let _second = m.take(txs(2), Duration::ZERO);
        m.resolve(&first, &[]);
        // Nonces 1 and 2 in flight (their batch failed, say), 3 queued.
        assert_eq!(m.unresolved_raw(), raws[1..].to_vec());
    }

    #[test]
    fn bytes_and_per_sender_limits_refuse_with_their_own_errors() {
        let rich = AccountNow {
            nonce: 0,
            balance: u128::MAX,
        };
        let a = SigningKey::from_bytes(&[7; 32]);
        let b = SigningKey::from_bytes(&[8; 32]);
        let size = tx(&a, 0).raw.len();
        // Room for three transactions' bytes, two per sender.
        let m = Mempool::new(MempoolLimits {
            capacity: 100,
            max_bytes: 3 * size,
            per_sender: 2,
        });
        m.admit(tx(&a, 0), rich).unwrap();
        m.admit(tx(&a, 1), rich).unwrap();
        assert!(matches!(
            m.admit(tx(&a, 2), rich),
            Err(Error::SenderPendingLimit { limit: 2 })
        ));
        m.admit(tx(&b, 0), rich).unwrap();
        assert!(matches!(
            m.admit(tx(&b, 1), rich),
            Err(Error::MempoolFull { .. })
        ));
        // A used nonce is refused as stale whatever the load (a committed transaction
        // sent again must not hear "full, retry later").
        let used = AccountNow { nonce: 1, ..rich };
        assert!(matches!(m.admit(tx(&a, 0), used), Err(Error::AlreadyKnown)));
        let c = SigningKey::from_bytes(&[9; 32]);
        assert!(matches!(
            m.admit(tx(&c, 0), used),
            Err(Error::StaleNonce { got: 0, .. })
        ));
        assert!(matches!(
            m.admit(tx(&a, 9), AccountNow { nonce: 10, ..rich }),
            Err(Error::StaleNonce { got: 9, .. })
        ));
        // Taking does not free room (in flight still counts); resolving does.
        let taken = m.take(txs(1), Duration::ZERO);
        assert!(matches!(
            m.admit(tx(&a, 2), rich),
            Err(Error::SenderPendingLimit { .. })
        ));
        m.resolve(&taken, &[]);
        m.admit(tx(&a, 2), rich).unwrap();
        assert!(matches!(
            m.admit(tx(&b, 1), rich),
            Err(Error::MempoolFull { .. })
        ));
        // A drop with queued followers frees their bytes too.
        let taken = m.take(txs(1), Duration::ZERO); // a's nonce 1
        let orphans = m.resolve(&[], &why(&taken));
        assert_eq!(orphans.len(), 1, "a's nonce 2 goes with it");
        m.admit(tx(&b, 1), rich).unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn a_block_takes_what_its_byte_and_gas_limits_allow_and_at_least_one() {
        let rich = AccountNow {
            nonce: 0,
            balance: u128::MAX,
        };
        let k = SigningKey::from_bytes(&[9; 32]);
        let m = Mempool::new(limits(100));
        for n in 0..10 {
            m.admit(tx(&k, n), rich).unwrap(); // 10,000 gas each
        }
        let size = tx(&k, 0).raw.len();
        let gas = |g| BlockLimits {
            txs: 100,
            bytes: usize::MAX,
            gas: g,
        };
        assert_eq!(m.take(gas(25_000), Duration::ZERO).len(), 2);
        assert_eq!(m.take(gas(30_000), Duration::ZERO).len(), 3);
        let bytes = BlockLimits {
            txs: 100,
            bytes: 2 * size + 1,
            gas: u64::MAX,
        };
        assert_eq!(m.take(bytes, Duration::ZERO).len(), 2);
        // Over the limit on its own: it still gets a block of its own.
        assert_eq!(m.take(gas(1), Duration::ZERO).len(), 1);
        assert_eq!(m.take(txs(100), Duration::ZERO).len(), 2);
    }

    #[test]
    fn a_closed_mempool_returns_what_it_holds_and_admits_nothing() {
        let rich = AccountNow {
            nonce: 0,
            balance: u128::MAX,
        };
        let k = SigningKey::from_bytes(&[10; 32]);
        let m = Mempool::new(limits(10));
        let first = tx(&k, 0);
        let raw = first.raw.clone();
        m.admit(first, rich).unwrap();
        assert_eq!(m.close(), vec![raw]);
        assert!(matches!(m.admit(tx(&k, 1), rich), Err(Error::ShuttingDown)));
    }
}

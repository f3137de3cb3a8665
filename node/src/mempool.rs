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
    known: HashMap<[u8; 32], u64>,
    senders: HashMap<Address, Sender>,
    queue: VecDeque<Arc<PendingTx>>,
}

/// The bounded mempool.
pub struct Mempool {
    capacity: usize,
    inner: Mutex<Inner>,
    ready: Condvar,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("capacity", &self.capacity)
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
    /// A mempool holding at most `capacity` transactions (queued + in flight).
    pub fn new(capacity: usize) -> Self {
        Mempool {
            capacity,
            inner: Mutex::new(Inner::default()),
            ready: Condvar::new(),
        }
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

    /// Admits `p` (signature already checked), given the sender's committed account.
    pub fn admit(&self, p: PendingTx, account: AccountNow) -> Result<(), Error> {
        let mut inner = self.inner.lock();
        if inner.known.contains_key(&p.hash) {
            return Err(Error::AlreadyKnown);
        }
        if inner.known.len() >= self.capacity {
            return Err(Error::MempoolFull {
                capacity: self.capacity,
            });
        }
        let sender = p.tx.body.sender;
        let (expected, reserved) = inner
            .senders
            .get(&sender)
            .map_or((account.nonce, 0), |s| (s.next_nonce, s.reserved));
        let n = p.tx.body.nonce;
        if n < account.nonce {
            return Err(Error::StaleNonce { expected, got: n });
        }
        if n < expected {
            return Err(Error::DuplicateNonce { nonce: n });
        }
        if n > expected || n == u64::MAX {
            return Err(Error::NonceGap { expected, got: n });
        }
        let needed = reserved.saturating_add(p.max_cost);
        if account.balance < needed {
            return Err(Error::InsufficientBalance {
                needed,
                available: account.balance,
            });
        }
        let s = inner.senders.entry(sender).or_default();
        s.next_nonce = n + 1;
        s.queued += 1;
        s.reserved += p.max_cost;
        inner.known.insert(p.hash, n);
        inner.queue.push_back(Arc::new(p));
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

    /// Takes up to `max` transactions in arrival order, waiting up to `wait` for the
    /// first one. They stay known (in flight) until [`Mempool::resolve`].
    pub fn take(&self, max: usize, wait: Duration) -> Vec<Arc<PendingTx>> {
        let mut inner = self.inner.lock();
        if inner.queue.is_empty() {
            self.ready.wait_for(&mut inner, wait);
        }
        let n = max.min(inner.queue.len());
        let out: Vec<Arc<PendingTx>> = inner.queue.drain(..n).collect();
        for p in &out {
            if let Some(s) = inner.senders.get_mut(&p.tx.body.sender) {
                s.queued -= 1;
                s.inflight += 1;
            }
        }
        out
    }

    /// Forgets in-flight transactions once their block committed or they were dropped.
    /// A sender with a dropped transaction is reset: its queued followers are dropped
    /// too (their nonces can no longer be used) and returned.
    pub fn resolve(
        &self,
        done: &[Arc<PendingTx>],
        dropped: &[Arc<PendingTx>],
    ) -> Vec<Arc<PendingTx>> {
        let mut inner = self.inner.lock();
        for p in done.iter().chain(dropped) {
            inner.known.remove(&p.hash);
            let sender = p.tx.body.sender;
            if let Some(s) = inner.senders.get_mut(&sender) {
                s.inflight = s.inflight.saturating_sub(1);
                s.reserved = s.reserved.saturating_sub(p.max_cost);
                if s.inflight == 0 && s.queued == 0 {
                    inner.senders.remove(&sender);
                }
            }
        }
        let mut orphans = Vec::new();
        for p in dropped {
            let sender = p.tx.body.sender;
            let before = inner.queue.len();
            let mut kept = VecDeque::with_capacity(before);
            for q in inner.queue.drain(..) {
                if q.tx.body.sender == sender {
                    orphans.push(q);
                } else {
                    kept.push_back(q);
                }
            }
            inner.queue = kept;
            for o in &orphans {
                inner.known.remove(&o.hash);
            }
            if let Some(s) = inner.senders.get_mut(&sender) {
                s.queued = 0;
                s.reserved = 0;
                if s.inflight == 0 {
                    inner.senders.remove(&sender);
                } else {
                    // In-flight transactions with lower nonces still commit; higher ones
                    // fail their nonce check and are dropped too. So the dropped nonce is
                    // the next one the sender can use.
                    s.next_nonce = s.next_nonce.min(p.tx.body.nonce);
                }
            }
        }
        orphans
    }

    /// Wakes a producer waiting in [`Mempool::take`].
    pub fn wake(&self) {
        self.ready.notify_all();
    }
}

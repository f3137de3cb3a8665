//! Recycled instances: a contract instance whose call returned normally is reset to
//! exactly the state a fresh instantiation produces and kept for the next call of
//! the same module.
//!
//! What a wasm instance can change while it runs, under the VM's feature policy
//! (WebAssembly 1.0 without bulk memory or reference types, see `validate.rs`):
//!
//! * its linear memory: the contents, and the size through `memory.grow`;
//! * its mutable globals.
//!
//! Tables cannot change after instantiation (`table.set`, `table.grow`,
//! `table.init` and `table.copy` need the disabled proposals), there is no start
//! function, and imports are host functions only. Memory is written only by store
//! instructions, each of which marks its chunk in the dirty-chunk global
//! (`instrument.rs`), and by host functions, which mark theirs in
//! [`HostState::dirty`](crate::host::HostState). The reset therefore zeroes each
//! marked chunk and the chunk after it (a store may spill over), writes back the
//! non-zero bytes of the fresh image there (what the data segments put there), and
//! restores every mutable global the module defines that differs from its initial
//! value (the instrumentation exports them all). An instance whose memory grew is
//! dropped instead: wasm memory cannot shrink. So is every instance whose call trapped,
//! reverted or ran out of gas: a Store is never reused after a trap.
//!
//! With [`VmConfig::verify_recycling`](crate::VmConfig) set (the tests set it), every
//! reset is checked against the whole fresh image and a difference panics.
//!
//! This is what wasmtime's pooling allocator itself does when it hands a memory
//! slot to a new instance (reset by `memset` of the whole memory), minus most of the
//! `memset` and the Store, instance and slot bookkeeping, which cost more than the
//! call of a token transfer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use wasmtime::{Global, Instance, Memory, Mutability, Store, TypedFunc, Val};

use crate::engine::LoadedModule;
use crate::host::HostState;

/// Most idle instances kept for one module by one lane (below).
const PER_LANE: usize = 4;
/// Most idle instances kept by one VM (the pooling allocator has 512 slots, which
/// running frames need too): [`PER_VM`] / [`LANES`] per lane.
pub(crate) const PER_VM: usize = 128;

/// The state of a freshly instantiated module, taken once per module.
pub(crate) struct Pristine {
    memory_bytes: usize,
    /// Non-zero stretches of the fresh memory: (offset, bytes).
    runs: Vec<(usize, Vec<u8>)>,
    /// Mutable globals (index into the exported-global list) and their initial values.
    globals: Vec<(usize, Val)>,
}

/// Gaps of zeros shorter than this stay inside one run.
const RUN_GAP: usize = 32;

impl Pristine {
    /// Snapshots a fresh instance (before any call).
    pub(crate) fn capture(
        store: &mut Store<HostState>,
        memory: &Memory,
        globals: &[Global],
    ) -> Self {
        let data = memory.data(&*store);
        let mut runs = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == 0 {
                i += 1;
                continue;
            }
            let start = i;
            let mut end = i + 1;
            let mut j = end;
            while j < data.len() && j < end + RUN_GAP {
                if data[j] != 0 {
                    end = j + 1;
                }
                j += 1;
            }
            runs.push((start, data[start..end].to_vec()));
            i = end;
        }
        let memory_bytes = data.len();
        let mut mutable = Vec::new();
        for (i, g) in globals.iter().enumerate() {
            if g.ty(&*store).mutability() == Mutability::Var {
                mutable.push((i, g.get(&mut *store)));
            }
        }
        Pristine {
            memory_bytes,
            runs,
            globals: mutable,
        }
    }

    /// Writes the fresh image's non-zero bytes that fall in `span` (zeroed by the caller).
    fn restore(&self, data: &mut [u8], span: std::ops::Range<usize>) {
        let first = self
            .runs
            .partition_point(|(off, b)| off + b.len() <= span.start);
        for (off, bytes) in &self.runs[first..] {
            if *off >= span.end {
                break;
            }
            let from = span.start.max(*off);
            let to = span.end.min(off + bytes.len());
            data[from..to].copy_from_slice(&bytes[from - off..to - off]);
        }
    }

    /// Whether `data` is exactly the fresh image.
    fn matches(&self, data: &[u8]) -> bool {
        let mut at = 0;
        for (off, bytes) in &self.runs {
            if data[at..*off].iter().any(|b| *b != 0) || data[*off..off + bytes.len()] != bytes[..]
            {
                return false;
            }
            at = off + bytes.len();
        }
        data[at..].iter().all(|b| *b == 0)
    }
}

/// An idle instance, reset to its pristine state.
pub(crate) struct Warm {
    pub(crate) store: Store<HostState>,
    pub(crate) instance: Instance,
    /// Every global the module defines, the stack-depth one last (as
    /// `LoadedModule::globals`).
    pub(crate) globals: Vec<Global>,
    /// The dirty-chunk mask global.
    pub(crate) dirty: Global,
    /// Entry points resolved so far, by their index in the module's entry-point map.
    pub(crate) entries: Vec<Option<TypedFunc<(), ()>>>,
}

impl Warm {
    /// Calls the entry point `name` of this instance (`None`: no such entry point).
    /// Calls through the cached function without cloning it: a clone takes and drops
    /// references to the engine's shared type registration (atomics on cache lines
    /// that every worker running the same contract touches), on every call.
    pub(crate) fn call_entry(
        &mut self,
        module: &LoadedModule,
        name: &str,
    ) -> Option<wasmtime::Result<()>> {
        let (i, export) = module.entry_points.get(name)?;
        if self.entries[*i].is_none() {
            let f = self
                .instance
                .get_module_export(&mut self.store, export)?
                .into_func()?
                .typed::<(), ()>(&self.store)
                .ok()?;
            self.entries[*i] = Some(f);
        }
        let f = self.entries[*i].as_ref().expect("resolved above");
        Some(f.call(&mut self.store, ()))
    }

    /// Resets the instance to `p`; false if it cannot be (its memory grew).
    fn reset(&mut self, p: &Pristine, verify: bool) -> bool {
        let memory = self
            .store
            .data()
            .memory
            .expect("a live instance has its memory bound");
        // Soundness of the marks rests on this: addresses at or past the initial size are
        // reachable only in grown memory (chunk indices past 31 would wrap in the i32 mask).
        if memory.data_size(&self.store) != p.memory_bytes {
            return false;
        }
        let Some(wasm_mask) = self.dirty.get(&mut self.store).i32() else {
            return false;
        };
        let dirty = &mut self.store.data_mut().dirty;
        let (host_mask, shift) = (std::mem::take(&mut dirty.mask), dirty.shift);
        let marked = wasm_mask as u32 as u64 | host_mask;
        // A store marks the chunk of its address; its bytes may reach into the next one.
        let mut chunks = marked | (marked << 1);
        let data = memory.data_mut(&mut self.store);
        let chunk = 1usize << shift;
        while chunks != 0 {
            let start = (chunks.trailing_zeros() as usize) << shift;
            chunks &= chunks - 1;
            if start >= data.len() {
                break;
            }
            let span = start..(start + chunk).min(data.len());
            data[span.clone()].fill(0);
            p.restore(data, span);
        }
        if verify {
            assert!(
                p.matches(data),
                "a recycled instance's memory differs from the fresh image after its reset"
            );
        }
        if wasm_mask != 0 && self.dirty.set(&mut self.store, Val::I32(0)).is_err() {
            return false;
        }
        for (i, v) in &p.globals {
            let g = self.globals[*i];
            let now = g.get(&mut self.store);
            let same = match (now, v) {
                (Val::I32(a), Val::I32(b)) => a == *b,
                (Val::I64(a), Val::I64(b)) => a == *b,
                (Val::F32(a), Val::F32(b)) => a == *b,
                (Val::F64(a), Val::F64(b)) => a == *b,
                _ => false,
            };
            if !same && g.set(&mut self.store, *v).is_err() {
                return false;
            }
        }
        true
    }
}

/// Lanes of a pool: a thread returns instances to, and takes them from, its own lane,
/// so an instance's freshly zeroed memory stays in the cache of the core that
/// zeroed it (another thread takes from a foreign lane only when its own is empty).
/// Every lane, and every lane's count, has a cache line of its own: two workers
/// updating neighbouring lanes on every call would otherwise pass one line back and
/// forth between their cores.
const LANES: usize = 8;

fn my_lane() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LANE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % LANES;
    }
    LANE.with(|l| *l)
}

/// A value alone on its cache line (two lines: adjacent-line prefetch pairs them).
#[repr(align(128))]
#[derive(Default)]
struct Padded<T>(T);

/// Idle instances of one VM, counted per lane (each lane keeps at most
/// [`PER_VM`] / [`LANES`] over all modules), and the instances taken for reuse.
#[derive(Default)]
pub(crate) struct IdleCounts([Padded<LaneCounts>; LANES]);

/// One lane's counts (on one line: a take changes both).
#[derive(Default)]
pub(crate) struct LaneCounts {
    idle: AtomicUsize,
    reused: AtomicU64,
}

impl IdleCounts {
    /// Idle instances of the VM, all lanes.
    pub(crate) fn total(&self) -> usize {
        self.0
            .iter()
            .map(|c| c.0.idle.load(Ordering::Relaxed))
            .sum()
    }

    /// Instances taken for reuse so far, all lanes.
    pub(crate) fn reused(&self) -> u64 {
        self.0
            .iter()
            .map(|c| c.0.reused.load(Ordering::Relaxed))
            .sum()
    }
}

/// The idle instances of one module.
pub(crate) struct WarmPool {
    idle: [Padded<Mutex<Vec<Warm>>>; LANES],
    pristine: std::sync::OnceLock<Pristine>,
    /// Idle instances of the whole VM.
    vm_idle: Arc<IdleCounts>,
}

impl WarmPool {
    pub(crate) fn new(vm_idle: Arc<IdleCounts>) -> Self {
        WarmPool {
            idle: std::array::from_fn(|_| Padded(Mutex::new(Vec::new()))),
            pristine: std::sync::OnceLock::new(),
            vm_idle,
        }
    }

    /// An idle instance, if any: from this thread's lane, else from another.
    pub(crate) fn take(&self) -> Option<Warm> {
        let lane = my_lane();
        if let Some(w) = self.idle[lane].0.lock().pop() {
            let counts = &self.vm_idle.0[lane].0;
            counts.idle.fetch_sub(1, Ordering::Relaxed);
            counts.reused.fetch_add(1, Ordering::Relaxed);
            return Some(w);
        }
        if self.vm_idle.total() == 0 {
            return None;
        }
        (1..LANES).find_map(|d| {
            let other = (lane + d) % LANES;
            let w = self.idle[other].0.lock().pop()?;
            self.vm_idle.0[other].0.idle.fetch_sub(1, Ordering::Relaxed);
            self.vm_idle.0[lane]
                .0
                .reused
                .fetch_add(1, Ordering::Relaxed);
            Some(w)
        })
    }

    /// Records the pristine state from a fresh instance, once per module.
    pub(crate) fn observe_fresh(
        &self,
        store: &mut Store<HostState>,
        memory: &Memory,
        globals: &[Global],
    ) {
        if self.pristine.get().is_none() {
            let p = Pristine::capture(store, memory, globals);
            let _ = self.pristine.set(p);
        }
    }

    /// Resets `w` and keeps it in this thread's lane, or drops it if it cannot be reset
    /// or the lane is full. Capacity is checked first, so a full lane costs no reset;
    /// the lane's lock is held through the reset, which costs little because a lane is
    /// one thread's while at most [`LANES`] threads use the VM (lanes are handed out
    /// round-robin: more threads share them).
    pub(crate) fn give_back(&self, mut w: Warm, verify: bool) {
        let Some(p) = self.pristine.get() else {
            return;
        };
        let lane = my_lane();
        let count = &self.vm_idle.0[lane].0.idle;
        if count.load(Ordering::Relaxed) >= PER_VM / LANES {
            return;
        }
        let mut idle = self.idle[lane].0.lock();
        if idle.len() < PER_LANE && w.reset(p, verify) {
            idle.push(w);
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        for (lane, idle) in self.idle.iter_mut().enumerate() {
            let n = idle.0.get_mut().len();
            self.vm_idle.0[lane].0.idle.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

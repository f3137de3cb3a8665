//! Host functions: the implementation side of the ABI table.
//!
//! [`register`] is generated from `supervm_abi::for_each_host_fn!`: for every
//! row it links a wrapper that first charges the row's base cost, then calls the
//! function of the same name below. Every function bounds-checks guest memory
//! and treats every guest value as hostile.

use supervm_abi::{Address, host_fns::cost, limits};
use wasmtime::{Caller, Linker, Memory, StoreLimits};

use crate::error::StateError;
use crate::frame::{CallKind, call_contract};
use crate::journal::Journal;
use crate::state::{StateView, storage_key};
use crate::tx::{BlockEnv, Event};

/// Why a host function stopped the contract. Carried through wasmtime as the
/// trap's error and turned into a receipt outcome (or, for `Fatal`, an `Err`).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum HostAbort {
    #[error("revert {code}")]
    Revert {
        code: u32,
        data: Vec<u8>,
        contract: crate::Address,
    },
    #[error("out of gas")]
    OutOfGas,
    #[error("{0}")]
    Trap(String),
    /// A callee's trap on its way up through `call`: its reason already names the
    /// contract that trapped.
    #[error("{0}")]
    Nested(String),
    #[error("fatal: {0}")]
    Fatal(StateError),
    #[error("engine: {0}")]
    Engine(String),
    #[error("resource: {0}")]
    Resource(String),
}

type HResult<T> = Result<T, wasmtime::Error>;

pub(crate) fn trap(msg: impl Into<String>) -> wasmtime::Error {
    wasmtime::Error::new(HostAbort::Trap(msg.into()))
}

pub(crate) fn abort(a: HostAbort) -> wasmtime::Error {
    wasmtime::Error::new(a)
}

/// The pieces of a transaction's execution that outlive one call frame.
pub(crate) struct TxCtx {
    view: *const (dyn StateView + 'static),
    pub(crate) vm: *const crate::engine::VmInner,
    pub(crate) block: BlockEnv,
    pub(crate) origin: Address,
    pub(crate) journal: Journal,
    pub(crate) logs: Vec<String>,
    /// Contracts on the call stack, outermost first (reentrancy check).
    pub(crate) call_stack: Vec<Address>,
}

// SAFETY: the raw pointers are only dereferenced while the `execute` call that
// created them is on the stack (see `TxCtx::new`); both pointees are `Sync`.
unsafe impl Send for TxCtx {}

impl TxCtx {
    /// Creates a context borrowing `view` and `vm` for the duration of one transaction.
    ///
    /// The caller must drop the context (and every Store holding it) before `view`
    /// and `vm` go out of scope; `execute` guarantees this by owning the context on
    /// its own stack frame.
    pub(crate) fn new(
        view: &dyn StateView,
        vm: &crate::engine::VmInner,
        block: BlockEnv,
        origin: Address,
    ) -> Self {
        // SAFETY: only the lifetime is erased; see the contract above.
        let view: *const (dyn StateView + 'static) = unsafe { std::mem::transmute(view) };
        TxCtx {
            view,
            vm,
            block,
            origin,
            journal: Journal::default(),
            logs: Vec::new(),
            call_stack: Vec::new(),
        }
    }

    pub(crate) fn view(&self) -> &dyn StateView {
        // SAFETY: `view` outlives the context (see `new`).
        unsafe { &*self.view }
    }

    /// Reads a key through the journal (recorded in the read set).
    pub(crate) fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        // SAFETY: as in `view`; the journal is a different field.
        let view = unsafe { &*self.view };
        self.journal.get(view, key)
    }

    /// [`TxCtx::get`] lending the value (no copy).
    pub(crate) fn get_ref(&mut self, key: Vec<u8>) -> Result<Option<&[u8]>, StateError> {
        // SAFETY: as in `view`; the journal is a different field.
        let view = unsafe { &*self.view };
        self.journal.get_ref(view, key)
    }

    /// Whether code is stored under `key` (a code key), and its length: a presence read,
    /// recorded without the code.
    pub(crate) fn code_len(&mut self, key: Vec<u8>) -> Result<Option<usize>, StateError> {
        // SAFETY: as in `view`; the journal is a different field.
        let view = unsafe { &*self.view };
        self.journal.code_len(view, key)
    }

    /// `storage_add` through the journal (see [`Journal::add`](crate::journal::Journal)).
    pub(crate) fn add(
        &mut self,
        key: Vec<u8>,
        amount: u128,
        negative: bool,
    ) -> Result<Result<bool, usize>, StateError> {
        // SAFETY: as in `view`; the journal is a different field.
        let view = unsafe { &*self.view };
        self.journal.add(view, key, amount, negative)
    }

    /// One prefix-iteration step through the journal (recorded in the read set), and
    /// the number of keys deleted by this transaction it stepped over.
    pub(crate) fn next_key(
        &mut self,
        prefix: &[u8],
        after: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, u64), StateError> {
        // SAFETY: as in `view`; the journal is a different field.
        let view = unsafe { &*self.view };
        self.journal.next_key(view, prefix, after)
    }
}

/// One contract call frame.
pub(crate) struct Frame {
    pub(crate) contract: Address,
    pub(crate) caller: Address,
    pub(crate) input: Vec<u8>,
    pub(crate) return_data: Vec<u8>,
    /// Data returned by the last cross-contract call.
    pub(crate) returned: Vec<u8>,
    /// 1 for the transaction's own call.
    pub(crate) depth: u32,
}

impl Frame {
    /// The placeholder frame of an idle (recycled) instance.
    pub(crate) fn idle() -> Self {
        Frame {
            contract: Address([0; 32]),
            caller: Address([0; 32]),
            input: Vec::new(),
            return_data: Vec::new(),
            returned: Vec::new(),
            depth: 0,
        }
    }
}

/// A Store's data.
pub(crate) struct HostState {
    pub(crate) tx: Option<TxCtx>,
    pub(crate) frame: Frame,
    pub(crate) memory: Option<Memory>,
    pub(crate) limits: FrameLimits,
    /// Memory chunks host functions wrote (wasm stores mark theirs in the module's own
    /// dirty global).
    pub(crate) dirty: Dirty,
}

/// A Store's resource limits: [`StoreLimits`] (one instance, memory and table; memory
/// at most `max_memory_pages`), and the memory size the running frame's gas can pay
/// for. Growing past it cannot end in anything but out of gas (the grown pages are
/// charged when the frame ends, and they alone would exceed its gas), so it is out of
/// gas at once, instead of after the frame has grown, touched and had reset memory it
/// never pays for.
pub(crate) struct FrameLimits {
    pub(crate) store: StoreLimits,
    /// In bytes; `usize::MAX` between frames (instantiation and resets grow freely).
    pub(crate) affordable: usize,
}

impl wasmtime::ResourceLimiter for FrameLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // (past the cap, `memory.grow` fails and returns -1, whatever the gas)
        if !self.store.memory_growing(current, desired, maximum)? {
            return Ok(false);
        }
        if desired > self.affordable {
            return Err(abort(HostAbort::OutOfGas));
        }
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.store.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.store.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.store.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.store.instances()
    }

    fn tables(&self) -> usize {
        self.store.tables()
    }

    fn memories(&self) -> usize {
        self.store.memories()
    }
}

/// A mask of memory chunks of `1 << shift` bytes written since the last reset (bit `i`:
/// chunk `i`). Chunks from 32 on lie past the memory's initial size, so only grown
/// memory has them, and an instance whose memory grew is dropped, not reset: their bits
/// (clamped to 63) only need to be harmless.
pub(crate) struct Dirty {
    pub(crate) shift: u32,
    pub(crate) mask: u64,
}

impl Dirty {
    /// Marks the chunks holding `bytes`.
    fn mark(&mut self, bytes: std::ops::Range<usize>) {
        if bytes.is_empty() {
            return;
        }
        let first = (bytes.start >> self.shift).min(63);
        let last = ((bytes.end - 1) >> self.shift).min(63);
        for i in first..=last {
            self.mask |= 1 << i;
        }
    }
}

impl HostState {
    fn tx(&mut self) -> &mut TxCtx {
        self.tx
            .as_mut()
            .expect("transaction context present while wasm runs")
    }
}

/// Fuel a frame holds beyond its gas. wasmtime traps when a fuel check finds the
/// remaining fuel at zero, so with fuel = gas + 1 a frame may use exactly all its gas and
/// traps as soon as it uses more.
pub(crate) const FUEL_RESERVE: u64 = 1;

/// The gas left to the running frame.
#[inline]
pub(crate) fn gas_left_of(c: &Caller<'_, HostState>) -> HResult<u64> {
    Ok(c.get_fuel()?.saturating_sub(FUEL_RESERVE))
}

/// Sets the gas left to the running frame.
#[inline]
pub(crate) fn set_gas_left(c: &mut Caller<'_, HostState>, gas: u64) -> HResult<()> {
    c.set_fuel(gas + FUEL_RESERVE)
}

/// Charges `amount` gas, or stops the contract out of gas.
#[inline]
pub(crate) fn charge(c: &mut Caller<'_, HostState>, amount: u64) -> HResult<()> {
    let left = gas_left_of(c)?;
    if left < amount {
        c.set_fuel(0)?;
        return Err(abort(HostAbort::OutOfGas));
    }
    set_gas_left(c, left - amount)
}

fn memory<'a>(c: &'a mut Caller<'_, HostState>) -> (&'a mut [u8], &'a mut HostState) {
    let mem = c
        .data()
        .memory
        .expect("memory is bound before the entry point runs");
    mem.data_and_store_mut(c)
}

fn range(mem_len: usize, ptr: i32, len: i32) -> HResult<std::ops::Range<usize>> {
    let (p, l) = (ptr as u32 as usize, len as u32 as usize);
    match p.checked_add(l) {
        Some(end) if end <= mem_len => Ok(p..end),
        _ => Err(trap(format!(
            "guest pointer out of bounds: ptr={} len={}",
            ptr as u32, len as u32
        ))),
    }
}

fn read(mem: &[u8], ptr: i32, len: i32) -> HResult<&[u8]> {
    Ok(&mem[range(mem.len(), ptr, len)?])
}

fn write(mem: &mut [u8], dirty: &mut Dirty, ptr: i32, data: &[u8]) -> HResult<()> {
    let len = i32::try_from(data.len()).map_err(|_| trap("host data over 2 GiB"))?;
    let r = range(mem.len(), ptr, len)?;
    dirty.mark(r.clone());
    mem[r].copy_from_slice(data);
    Ok(())
}

fn read_address(mem: &[u8], ptr: i32) -> HResult<Address> {
    let mut a = [0u8; 32];
    a.copy_from_slice(read(mem, ptr, 32)?);
    Ok(Address(a))
}

fn check_len(what: &str, len: i32, limit: u32) -> HResult<()> {
    if len as u32 > limit {
        return Err(trap(format!(
            "{what} of {} bytes is over the limit of {limit}",
            len as u32
        )));
    }
    Ok(())
}

/// Traps on a negative length (a guest value read as `u32` would otherwise become a
/// charge of billions of gas: out of gas instead of a trap naming the mistake).
fn check_nonnegative(what: &str, len: i32) -> HResult<()> {
    if len < 0 {
        return Err(trap(format!("{what} length {len} is negative")));
    }
    Ok(())
}

/// Checks an output buffer of `cap` bytes at `ptr` (a negative capacity is a bad buffer,
/// not an empty one).
fn out_buffer(mem_len: usize, ptr: i32, cap: i32) -> HResult<()> {
    check_nonnegative("output buffer", cap)?;
    range(mem_len, ptr, cap).map(drop)
}

fn fatal(e: StateError) -> wasmtime::Error {
    abort(HostAbort::Fatal(e))
}

// ---- storage ----

fn storage_get(
    c: &mut Caller<'_, HostState>,
    key_ptr: i32,
    key_len: i32,
    out_ptr: i32,
    out_cap: i32,
) -> HResult<i64> {
    check_len("storage key", key_len, limits::MAX_KEY_LEN)?;
    charge(c, cost::storage_get.per_byte * key_len as u64)?;
    let (mem, st) = memory(c);
    // The whole output buffer is checked before the state is read, so a bad buffer
    // traps whether or not the key is present.
    out_buffer(mem.len(), out_ptr, out_cap)?;
    let key = storage_key(&st.frame.contract, read(mem, key_ptr, key_len)?);
    // (the context field itself, not `st.tx()`, so that `st.dirty` stays borrowable)
    let tx = st
        .tx
        .as_mut()
        .expect("transaction context present while wasm runs");
    let Some(value) = tx.get_ref(key).map_err(fatal)? else {
        return Ok(-1);
    };
    let n = value.len().min(out_cap as usize);
    write(mem, &mut st.dirty, out_ptr, &value[..n])?;
    let len = value.len() as u64;
    charge(c, cost::storage_get.per_byte * len)?;
    Ok(len as i64)
}

fn storage_set(
    c: &mut Caller<'_, HostState>,
    key_ptr: i32,
    key_len: i32,
    val_ptr: i32,
    val_len: i32,
) -> HResult<()> {
    check_len("storage key", key_len, limits::MAX_KEY_LEN)?;
    check_len("storage value", val_len, limits::MAX_VALUE_LEN)?;
    charge(
        c,
        cost::storage_set.per_byte * (key_len as u64 + val_len as u64),
    )?;
    let (mem, st) = memory(c);
    let key = storage_key(&st.frame.contract, read(mem, key_ptr, key_len)?);
    let value = read(mem, val_ptr, val_len)?.to_vec();
    st.tx().journal.put(key, Some(value));
    Ok(())
}

fn storage_remove(c: &mut Caller<'_, HostState>, key_ptr: i32, key_len: i32) -> HResult<()> {
    check_len("storage key", key_len, limits::MAX_KEY_LEN)?;
    charge(c, cost::storage_remove.per_byte * key_len as u64)?;
    let (mem, st) = memory(c);
    let key = storage_key(&st.frame.contract, read(mem, key_ptr, key_len)?);
    st.tx().journal.put(key, None);
    Ok(())
}

fn storage_has(c: &mut Caller<'_, HostState>, key_ptr: i32, key_len: i32) -> HResult<i32> {
    check_len("storage key", key_len, limits::MAX_KEY_LEN)?;
    charge(c, cost::storage_has.per_byte * key_len as u64)?;
    let (mem, st) = memory(c);
    let key = storage_key(&st.frame.contract, read(mem, key_ptr, key_len)?);
    // A present value is read whole (the read set keeps it, for validation by value):
    // its bytes cost what `storage_get`'s do.
    let Some(len) = st.tx().get_ref(key).map_err(fatal)?.map(<[u8]>::len) else {
        return Ok(0);
    };
    charge(c, cost::storage_has.per_byte * len as u64)?;
    Ok(1)
}

fn storage_add(
    c: &mut Caller<'_, HostState>,
    key_ptr: i32,
    key_len: i32,
    amount_ptr: i32,
    negative: i32,
) -> HResult<i32> {
    check_len("storage key", key_len, limits::MAX_KEY_LEN)?;
    charge(c, cost::storage_add.per_byte * key_len as u64)?;
    let (mem, st) = memory(c);
    let key = storage_key(&st.frame.contract, read(mem, key_ptr, key_len)?);
    let amount = u128::from_le_bytes(read(mem, amount_ptr, 16)?.try_into().expect("16 bytes"));
    match st.tx().add(key, amount, negative != 0).map_err(fatal)? {
        Ok(done) => Ok(done as i32),
        Err(len) => {
            // (read whole, and kept in the read set: its bytes are charged as the key's)
            charge(c, cost::storage_add.per_byte * len as u64)?;
            Err(trap("storage_add: the stored value is not a 16-byte u128"))
        }
    }
}

fn storage_next(
    c: &mut Caller<'_, HostState>,
    prefix_ptr: i32,
    prefix_len: i32,
    after_ptr: i32,
    after_len: i32,
    out_ptr: i32,
    out_cap: i32,
) -> HResult<i64> {
    check_len("storage prefix", prefix_len, limits::MAX_KEY_LEN)?;
    if after_len != -1 {
        check_len("storage key", after_len, limits::MAX_KEY_LEN)?;
    }
    let after_bytes = if after_len == -1 { 0 } else { after_len as u64 };
    charge(
        c,
        cost::storage_next.per_byte * (prefix_len as u64 + after_bytes),
    )?;
    let (mem, st) = memory(c);
    out_buffer(mem.len(), out_ptr, out_cap)?;
    let contract = st.frame.contract;
    let prefix = storage_key(&contract, read(mem, prefix_ptr, prefix_len)?);
    let after = if after_len == -1 {
        None
    } else {
        Some(storage_key(&contract, read(mem, after_ptr, after_len)?))
    };
    let (found, skipped) = st.tx().next_key(&prefix, after.as_deref()).map_err(fatal)?;
    // Every key the search stepped over (deleted by this transaction) costs the base
    // again: the walk's length is the contract's doing.
    charge(c, cost::storage_next.base * skipped)?;
    let (mem, st) = memory(c);
    let Some(found) = found else {
        return Ok(-1);
    };
    let user_key = &found[33..];
    let n = user_key.len().min(out_cap as usize);
    write(mem, &mut st.dirty, out_ptr, &user_key[..n])?;
    let len = user_key.len() as u64;
    charge(c, cost::storage_next.per_byte * len)?;
    Ok(len as i64)
}

// ---- call data ----

fn input_len(c: &mut Caller<'_, HostState>) -> HResult<i32> {
    Ok(c.data().frame.input.len() as i32)
}

fn input_read(c: &mut Caller<'_, HostState>, dst_ptr: i32) -> HResult<()> {
    let n = c.data().frame.input.len() as u64;
    charge(c, cost::input_read.per_byte * n)?;
    let (mem, st) = memory(c);
    write(mem, &mut st.dirty, dst_ptr, &st.frame.input)
}

fn return_data(c: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> HResult<()> {
    check_len("return data", len, limits::MAX_RETURN_DATA)?;
    charge(c, cost::return_data.per_byte * len as u64)?;
    let (mem, st) = memory(c);
    st.frame.return_data = read(mem, ptr, len)?.to_vec();
    Ok(())
}

fn revert(c: &mut Caller<'_, HostState>, code: i32, data_ptr: i32, data_len: i32) -> HResult<()> {
    check_len("revert data", data_len, limits::MAX_RETURN_DATA)?;
    charge(c, cost::revert.per_byte * data_len as u64)?;
    let (mem, st) = memory(c);
    let data = read(mem, data_ptr, data_len)?.to_vec();
    Err(abort(HostAbort::Revert {
        code: code as u32,
        data,
        contract: st.frame.contract,
    }))
}

// ---- environment ----

fn write_addr(
    c: &mut Caller<'_, HostState>,
    dst_ptr: i32,
    pick: fn(&HostState) -> Address,
) -> HResult<()> {
    let (mem, st) = memory(c);
    let a = pick(st);
    write(mem, &mut st.dirty, dst_ptr, &a.0)
}

fn caller(c: &mut Caller<'_, HostState>, dst_ptr: i32) -> HResult<()> {
    write_addr(c, dst_ptr, |s| s.frame.caller)
}

fn origin(c: &mut Caller<'_, HostState>, dst_ptr: i32) -> HResult<()> {
    write_addr(c, dst_ptr, |s| s.tx.as_ref().expect("tx").origin)
}

fn self_address(c: &mut Caller<'_, HostState>, dst_ptr: i32) -> HResult<()> {
    write_addr(c, dst_ptr, |s| s.frame.contract)
}

fn block_height(c: &mut Caller<'_, HostState>) -> HResult<i64> {
    Ok(c.data_mut().tx().block.height as i64)
}

fn block_timestamp(c: &mut Caller<'_, HostState>) -> HResult<i64> {
    Ok(c.data_mut().tx().block.timestamp_ms as i64)
}

fn chain_id(c: &mut Caller<'_, HostState>) -> HResult<i64> {
    Ok(c.data_mut().tx().block.chain_id as i64)
}

fn gas_left(c: &mut Caller<'_, HostState>) -> HResult<i64> {
    Ok(gas_left_of(c)? as i64)
}

fn emit_event(
    c: &mut Caller<'_, HostState>,
    topics_ptr: i32,
    topics_len: i32,
    data_ptr: i32,
    data_len: i32,
) -> HResult<()> {
    let max_topics_bytes = (4 + limits::MAX_TOPICS * (4 + limits::MAX_TOPIC_LEN)) as u32;
    check_len("event topics", topics_len, max_topics_bytes)?;
    check_len("event data", data_len, limits::MAX_EVENT_DATA)?;
    charge(
        c,
        cost::emit_event.per_byte * (topics_len as u64 + data_len as u64),
    )?;
    let (mem, st) = memory(c);
    let (topics_bytes, data) = (
        read(mem, topics_ptr, topics_len)?,
        read(mem, data_ptr, data_len)?,
    );
    let topics: Vec<Vec<u8>> = supervm_abi::codec::decode_all(topics_bytes)
        .map_err(|e| trap(format!("event topics are not a codec Vec<Vec<u8>>: {e:?}")))?;
    if topics.len() > limits::MAX_TOPICS || topics.iter().any(|t| t.len() > limits::MAX_TOPIC_LEN) {
        return Err(trap(format!(
            "an event has at most {} topics of at most {} bytes",
            limits::MAX_TOPICS,
            limits::MAX_TOPIC_LEN
        )));
    }
    let data = data.to_vec();
    let contract = st.frame.contract;
    let tx = st.tx();
    if tx.journal.events.len() >= limits::MAX_EVENTS_PER_TX {
        return Err(trap(format!(
            "more than {} events in one transaction",
            limits::MAX_EVENTS_PER_TX
        )));
    }
    tx.journal.events.push(Event {
        contract,
        topics,
        data,
    });
    Ok(())
}

// ---- crypto ----

fn blake3(c: &mut Caller<'_, HostState>, ptr: i32, len: i32, out_ptr: i32) -> HResult<()> {
    check_nonnegative("blake3 input", len)?;
    charge(c, cost::blake3.per_byte * len as u32 as u64)?;
    let (mem, st) = memory(c);
    let h = *::blake3::hash(read(mem, ptr, len)?).as_bytes();
    write(mem, &mut st.dirty, out_ptr, &h)
}

fn sha256(c: &mut Caller<'_, HostState>, ptr: i32, len: i32, out_ptr: i32) -> HResult<()> {
    use sha2::Digest;
    check_nonnegative("sha256 input", len)?;
    charge(c, cost::sha256.per_byte * len as u32 as u64)?;
    let (mem, st) = memory(c);
    let h: [u8; 32] = sha2::Sha256::digest(read(mem, ptr, len)?).into();
    write(mem, &mut st.dirty, out_ptr, &h)
}

fn ed25519_verify(
    c: &mut Caller<'_, HostState>,
    pk_ptr: i32,
    msg_ptr: i32,
    msg_len: i32,
    sig_ptr: i32,
) -> HResult<i32> {
    check_nonnegative("ed25519_verify message", msg_len)?;
    charge(c, cost::ed25519_verify.per_byte * msg_len as u32 as u64)?;
    let (mem, _) = memory(c);
    let pk: [u8; 32] = read(mem, pk_ptr, 32)?.try_into().expect("32 bytes");
    let sig: [u8; 64] = read(mem, sig_ptr, 64)?.try_into().expect("64 bytes");
    let msg = read(mem, msg_ptr, msg_len)?;
    let ok = ed25519_dalek::VerifyingKey::from_bytes(&pk)
        .map(|k| {
            k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
                .is_ok()
        })
        .unwrap_or(false);
    Ok(ok as i32)
}

// ---- cross-contract calls ----

fn read_call(
    c: &mut Caller<'_, HostState>,
    addr_ptr: i32,
    fn_ptr: i32,
    fn_len: i32,
    args_ptr: i32,
    args_len: i32,
    per_byte: u64,
) -> HResult<(Address, String, Vec<u8>)> {
    check_len("function name", fn_len, limits::MAX_FN_NAME)?;
    check_len("call input", args_len, limits::MAX_INPUT_LEN)?;
    charge(c, per_byte * (fn_len as u64 + args_len as u64))?;
    let (mem, _) = memory(c);
    let addr = read_address(mem, addr_ptr)?;
    let name = std::str::from_utf8(read(mem, fn_ptr, fn_len)?)
        .map_err(|_| trap("function name is not UTF-8"))?
        .to_string();
    let args = read(mem, args_ptr, args_len)?.to_vec();
    Ok((addr, name, args))
}

#[allow(clippy::too_many_arguments)]
fn call(
    c: &mut Caller<'_, HostState>,
    addr_ptr: i32,
    fn_ptr: i32,
    fn_len: i32,
    args_ptr: i32,
    args_len: i32,
    gas: i64,
) -> HResult<i32> {
    let (addr, name, args) = read_call(
        c,
        addr_ptr,
        fn_ptr,
        fn_len,
        args_ptr,
        args_len,
        cost::call.per_byte,
    )?;
    call_contract(c, addr, name, args, gas, CallKind::Call).map(|_| 0)
}

#[allow(clippy::too_many_arguments)]
fn try_call(
    c: &mut Caller<'_, HostState>,
    addr_ptr: i32,
    fn_ptr: i32,
    fn_len: i32,
    args_ptr: i32,
    args_len: i32,
    gas: i64,
) -> HResult<i64> {
    let (addr, name, args) = read_call(
        c,
        addr_ptr,
        fn_ptr,
        fn_len,
        args_ptr,
        args_len,
        cost::try_call.per_byte,
    )?;
    call_contract(c, addr, name, args, gas, CallKind::TryCall)
}

fn returned_len(c: &mut Caller<'_, HostState>) -> HResult<i32> {
    Ok(c.data().frame.returned.len() as i32)
}

fn returned_read(c: &mut Caller<'_, HostState>, dst_ptr: i32) -> HResult<()> {
    let n = c.data().frame.returned.len() as u64;
    charge(c, cost::returned_read.per_byte * n)?;
    let (mem, st) = memory(c);
    write(mem, &mut st.dirty, dst_ptr, &st.frame.returned)
}

fn upgrade(c: &mut Caller<'_, HostState>, code_hash_ptr: i32) -> HResult<()> {
    let (mem, st) = memory(c);
    let hash: [u8; 32] = read(mem, code_hash_ptr, 32)?.try_into().expect("32 bytes");
    let contract = st.frame.contract;
    // The code is read whole to check that it is stored (its presence is kept in the
    // read set): its bytes are charged.
    let Some(len) = st
        .tx()
        .code_len(crate::state::code_key(&hash))
        .map_err(fatal)?
    else {
        return Err(trap("upgrade: no code with that hash has been uploaded"));
    };
    charge(c, cost::upgrade.per_byte * len as u64)?;
    let (_, st) = memory(c);
    let tx = st.tx();
    let key = crate::state::contract_key(&contract);
    let rec = tx
        .get(&key)
        .map_err(fatal)?
        .and_then(|b| crate::state::ContractRecord::decode(&b))
        .ok_or_else(|| trap("upgrade: contract record missing"))?;
    let new = crate::state::ContractRecord {
        code_hash: hash,
        ..rec
    };
    tx.journal.put(key, Some(new.encode()));
    Ok(())
}

fn debug_log(c: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> HResult<()> {
    check_nonnegative("debug_log message", len)?;
    charge(c, cost::debug_log.per_byte * len as u32 as u64)?;
    let (mem, st) = memory(c);
    let bytes = read(mem, ptr, len)?;
    let kept = &bytes[..bytes.len().min(1024)];
    let line = String::from_utf8_lossy(kept).into_owned();
    let tx = st.tx();
    if tx.logs.len() < 256 {
        tx.logs.push(line);
    }
    Ok(())
}

macro_rules! register_host_fns {
    ($(
        $(#[doc = $doc:expr])*
        fn $name:ident ( $($p:ident : $t:ty),* ) -> $r:ty ;
        cost(base = $base:expr, per_byte = $pb:expr);
    )*) => {
        /// Links every host function of the ABI table.
        pub(crate) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    supervm_abi::IMPORT_MODULE,
                    stringify!($name),
                    |mut c: Caller<'_, HostState>, $($p: $t),*| -> wasmtime::Result<$r> {
                        charge(&mut c, $base)?;
                        $name(&mut c, $($p),*)
                    },
                )?;
            )*
            Ok(())
        }
    };
}

supervm_abi::for_each_host_fn!(register_host_fns);

//! The baselines: the same token contract's `transfer` called on bare wasmtime
//! (`InstancePre`, a `HashMap` with the VM's hasher as storage, no gas, no read/write
//! sets, no stack instrumentation, no limits), either with wasmtime's default configuration or
//! with the same pooling-allocator settings as the VM ("tuned"). The gap between
//! the tuned baseline and [`transfer`](crate::transfer) is the cost of SuperVM's layers.

use std::collections::HashMap;

/// Storage of the bare baselines: the hash map and hasher of the VM's in-memory state
/// (`supervm_vm::InMemoryState`), so storage costs the same on both sides.
type Storage = HashMap<Vec<u8>, Vec<u8>, foldhash::fast::RandomState>;

use supervm_abi::{Address, Encode, IMPORT_MODULE};
use wasmtime::{
    Caller, Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Memory, Module,
    PoolingAllocationConfig, Store,
};

struct BareState {
    storage: Storage,
    input: Vec<u8>,
    caller: Address,
    memory: Option<Memory>,
}

/// A token contract on bare wasmtime.
pub struct BareToken {
    engine: Engine,
    pre: InstancePre<BareState>,
    storage: Storage,
    /// With [`BareToken::recycling`]: one instance reused for every call, its whole
    /// memory restored to the fresh image after each (zeroed, then the image's non-zero
    /// bytes).
    reused: Option<Reused>,
}

struct Reused {
    store: Store<BareState>,
    memory: Memory,
    transfer: wasmtime::TypedFunc<(), ()>,
    image: Vec<(usize, Vec<u8>)>,
}

fn mem<'a>(c: &'a mut Caller<'_, BareState>) -> (&'a mut [u8], &'a mut BareState) {
    let m = c.data().memory.expect("memory");
    m.data_and_store_mut(c)
}

impl BareToken {
    /// Compiles the token and funds `accounts` with `balance` each (written directly,
    /// in the contract's own key layout: `b"B"` ‖ address → u128 LE).
    pub fn new(
        wasm: &[u8],
        accounts: &[Address],
        balance: u128,
        tuned: bool,
    ) -> wasmtime::Result<Self> {
        let engine = if tuned {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_memories(64)
                .total_core_instances(64)
                .total_tables(64)
                .max_memory_size(8 << 20)
                .linear_memory_keep_resident(1 << 20)
                .table_keep_resident(64 << 10);
            let mut c = Config::new();
            c.memory_init_cow(false)
                .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            Engine::new(&c)?
        } else {
            Engine::default()
        };
        let module = Module::new(&engine, wasm)?;
        let mut linker: Linker<BareState> = Linker::new(&engine);
        linker.func_wrap(
            IMPORT_MODULE,
            "storage_get",
            |mut c: Caller<'_, BareState>, kp: i32, kl: i32, op: i32, oc: i32| -> i64 {
                let (m, s) = mem(&mut c);
                let key = &m[kp as usize..(kp + kl) as usize];
                match s.storage.get(key) {
                    None => -1,
                    Some(v) => {
                        let n = v.len().min(oc as usize);
                        m[op as usize..op as usize + n].copy_from_slice(&v[..n]);
                        v.len() as i64
                    }
                }
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            "storage_set",
            |mut c: Caller<'_, BareState>, kp: i32, kl: i32, vp: i32, vl: i32| {
                let (m, s) = mem(&mut c);
                let key = m[kp as usize..(kp + kl) as usize].to_vec();
                let val = m[vp as usize..(vp + vl) as usize].to_vec();
                s.storage.insert(key, val);
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            "storage_add",
            |mut c: Caller<'_, BareState>, kp: i32, kl: i32, ap: i32, neg: i32| -> i32 {
                let (m, s) = mem(&mut c);
                let key = &m[kp as usize..(kp + kl) as usize];
                let amount = u128::from_le_bytes(
                    m[ap as usize..ap as usize + 16]
                        .try_into()
                        .expect("16 bytes"),
                );
                let cur = match s.storage.get(key) {
                    None => 0,
                    Some(v) => u128::from_le_bytes(v[..].try_into().expect("a u128")),
                };
                let new = if neg != 0 {
                    cur.checked_sub(amount)
                } else {
                    cur.checked_add(amount)
                };
                match new {
                    Some(n) => {
                        s.storage.insert(key.to_vec(), n.to_le_bytes().to_vec());
                        1
                    }
                    None => 0,
                }
            },
        )?;
        linker.func_wrap(IMPORT_MODULE, "input_len", |c: Caller<'_, BareState>| {
            c.data().input.len() as i32
        })?;
        linker.func_wrap(
            IMPORT_MODULE,
            "input_read",
            |mut c: Caller<'_, BareState>, p: i32| {
                let (m, s) = mem(&mut c);
                m[p as usize..p as usize + s.input.len()].copy_from_slice(&s.input);
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            "caller",
            |mut c: Caller<'_, BareState>, p: i32| {
                let (m, s) = mem(&mut c);
                m[p as usize..p as usize + 32].copy_from_slice(&s.caller.0);
            },
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            "emit_event",
            |_: Caller<'_, BareState>, _: i32, _: i32, _: i32, _: i32| {},
        )?;
        linker.func_wrap(
            IMPORT_MODULE,
            "return_data",
            |_: Caller<'_, BareState>, _: i32, _: i32| {},
        )?;
        linker.define_unknown_imports_as_traps(&module)?;
        let pre = linker.instantiate_pre(&module)?;
        let mut storage = Storage::default();
        for a in accounts {
            let mut k = b"B".to_vec();
            k.extend_from_slice(&a.0);
            storage.insert(k, balance.encode());
        }
        Ok(BareToken {
            engine,
            pre,
            storage,
            reused: None,
        })
    }

    /// Switches to one reused instance, its whole memory reset to the fresh image after
    /// every call (no globals restored, no gas, no read/write sets). Not a strict floor
    /// under the VM's recycled instances: those reset only the 2 KiB chunks the call
    /// wrote (recorded by the VM's instrumentation of the contract's stores), which a
    /// bare, uninstrumented instance cannot know; for the token's one 64 KiB page this
    /// baseline zeroes and restores all of it.
    pub fn recycling(mut self) -> wasmtime::Result<Self> {
        let state = BareState {
            storage: Storage::default(),
            input: Vec::new(),
            caller: Address([0; 32]),
            memory: None,
        };
        let mut store = Store::new(&self.engine, state);
        let inst = self.pre.instantiate(&mut store)?;
        let memory = inst
            .get_memory(&mut store, "memory")
            .expect("memory export");
        store.data_mut().memory = Some(memory);
        let transfer = inst.get_typed_func::<(), ()>(&mut store, "transfer")?;
        let data = memory.data(&store);
        let mut image = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == 0 {
                i += 1;
                continue;
            }
            let start = i;
            while i < data.len() && data[i] != 0 {
                i += 1;
            }
            image.push((start, data[start..i].to_vec()));
        }
        self.reused = Some(Reused {
            store,
            memory,
            transfer,
            image,
        });
        Ok(self)
    }

    /// The call data of `transfer(to, amount)`, built before a timed loop as the VM's
    /// transactions are.
    pub fn transfer_input(to: Address, amount: u128) -> Vec<u8> {
        (to, amount).encode()
    }

    /// Calls `transfer` with `input` ([`BareToken::transfer_input`]) as `from`, in a
    /// fresh instance or the reused one.
    pub fn transfer(&mut self, from: Address, input: &[u8]) -> wasmtime::Result<()> {
        if let Some(r) = &mut self.reused {
            let st = r.store.data_mut();
            st.storage = std::mem::take(&mut self.storage);
            st.input.clear();
            st.input.extend_from_slice(input);
            st.caller = from;
            let result = r.transfer.call(&mut r.store, ());
            self.storage = std::mem::take(&mut r.store.data_mut().storage);
            let mem = r.memory.data_mut(&mut r.store);
            mem.fill(0);
            for (off, bytes) in &r.image {
                mem[*off..*off + bytes.len()].copy_from_slice(bytes);
            }
            return result;
        }
        let state = BareState {
            storage: std::mem::take(&mut self.storage),
            input: input.to_vec(),
            caller: from,
            memory: None,
        };
        let mut store = Store::new(&self.engine, state);
        let result = (|| {
            let inst = self.pre.instantiate(&mut store)?;
            let memory = inst
                .get_memory(&mut store, "memory")
                .expect("memory export");
            store.data_mut().memory = Some(memory);
            inst.get_typed_func::<(), ()>(&mut store, "transfer")?
                .call(&mut store, ())
        })();
        self.storage = std::mem::take(&mut store.data_mut().storage);
        result
    }

    /// The balance of `a`, read directly from storage.
    pub fn balance(&self, a: &Address) -> u128 {
        let mut k = b"B".to_vec();
        k.extend_from_slice(&a.0);
        self.storage
            .get(&k)
            .map(|v| u128::from_le_bytes(v[..16].try_into().expect("16 bytes")))
            .unwrap_or(0)
    }
}

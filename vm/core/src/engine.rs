//! The wasmtime engine, set up for determinism, and the compiled-module cache.
//!
//! Determinism settings: fuel metering (never epochs: they depend on wall time),
//! NaN canonicalization, threads / SIMD / bulk memory / reference types /
//! multi-value off, and a deterministic stack budget injected by
//! [`instrument`](crate::instrument) with wasmtime's native `max_wasm_stack`
//! kept only as a backstop.
//!
//! Speed settings: recycled instances (`warm.rs`), the pooling instance allocator
//! for fresh ones, `InstancePre` per module (imports resolved once), and compiled
//! modules cached by code hash in memory and, optionally, serialized on disk so
//! a restart does not recompile.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, ModuleExport,
    OptLevel, PoolingAllocationConfig,
};

use crate::config::VmConfig;
use crate::error::{CodeError, Error, Result};
use crate::host::{self, HostState};
use crate::instrument::{INSTRUMENTATION_VERSION, instrument};
use crate::validate::{CodeInfo, validate};
use crate::warm::WarmPool;

/// Native stack wasmtime allows one contract frame; the deterministic stack budget
/// keeps real use far below it.
pub(crate) const MAX_WASM_STACK: usize = 2 << 20;

/// A compiled, linked contract module.
pub(crate) struct LoadedModule {
    pub(crate) pre: InstancePre<HostState>,
    /// Entry points by name, resolved once so a call does no name lookup.
    pub(crate) entry_points: BTreeMap<String, (usize, ModuleExport)>,
    pub(crate) memory: ModuleExport,
    /// Every global the module defines, the stack-depth one last (all exported by the
    /// instrumentation).
    pub(crate) globals: Vec<ModuleExport>,
    /// The dirty-chunk mask global and the log2 of its chunk size (`instrument.rs`).
    pub(crate) dirty: ModuleExport,
    pub(crate) dirty_shift: u32,
    /// Initial pages of the memory: every instance a frame starts with has exactly
    /// these (a recycled one that grew is dropped instead).
    pub(crate) memory_pages: u64,
    /// Idle instances, reset to their freshly instantiated state.
    pub(crate) warm: WarmPool,
    /// The VM's compile count when this module's disk-cache file was last marked used.
    touched: AtomicU64,
}

/// Instances that can be alive at once in one VM (the pooling allocator's slots):
/// running frames (up to `MAX_CALL_DEPTH` per executing transaction) and idle
/// recycled instances ([`IDLE_INSTANCES`]) share them. Past them instantiation fails,
/// which fails the block: callers bound their concurrency (the parallel executor's
/// `MAX_THREADS`, the node's simulations).
pub const INSTANCE_SLOTS: usize = 512;

/// Most idle recycled instances one VM keeps.
pub const IDLE_INSTANCES: usize = crate::warm::PER_VM;

/// Stack of the thread that starts a compile (wasmtime validates and translates there;
/// the functions themselves compile on rayon's global pool).
const COMPILE_STACK: usize = 16 << 20;

/// The layout of the module cache: 2 is each `<code hash>.cwasm` with the blake3 digest
/// of its bytes in `<code hash>.sum` (1 had no digests).
const DISK_FORMAT: u32 = 2;

/// Compiled modules kept in memory (each with its recycled instances); others are
/// loaded from the disk cache (or compiled) when called.
pub const MODULES_IN_MEMORY: usize = 1024;

/// Shared state of a [`Vm`](crate::Vm).
pub struct VmInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: VmConfig,
    /// Compiled modules by code hash, the [`MODULES_IN_MEMORY`] most recently used
    /// (code is uploaded for 50 gas a byte, so an unbounded cache would grow with
    /// every contract ever deployed; an evicted module comes back from disk).
    cache: quick_cache::sync::Cache<[u8; 32], Arc<LoadedModule>>,
    disk_dir: Option<PathBuf>,
    /// Idle recycled instances over all modules, and the instances taken for reuse.
    warm_total: Arc<crate::warm::IdleCounts>,
    /// Modules written to the disk cache so far (see [`VmInner::cached`]).
    compiles: AtomicU64,
    /// Code hashes whose disk-cache file this VM has checked against its digest
    /// (or written itself): 32 bytes per module ever loaded from or written to disk.
    checked_files: parking_lot::Mutex<std::collections::HashSet<[u8; 32]>>,
    /// Why stored code failed validation under this VM's limits, by code hash (code
    /// stored before the rules tightened): a call of it fails without reading and
    /// validating the code again. The [`MODULES_IN_MEMORY`] most recent.
    rejected: quick_cache::sync::Cache<[u8; 32], Arc<str>>,
}

fn engine_config(cfg: &VmConfig) -> Config {
    let mut c = Config::new();
    c.consume_fuel(true)
        .cranelift_nan_canonicalization(true)
        .cranelift_opt_level(OptLevel::Speed)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_bulk_memory(false)
        .wasm_multi_value(false)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false)
        // Validation refuses these first (validate.rs); off in the engine as well, so
        // they do not compile even if a check there slips. (Threads, GC types and
        // exceptions are left out of this wasmtime build by its crate features;
        // reference types cannot be switched off without the `gc` feature.)
        .wasm_multi_memory(false)
        .wasm_memory64(false)
        .wasm_stack_switching(false)
        .max_wasm_stack(MAX_WASM_STACK);
    let mut pool = PoolingAllocationConfig::default();
    let pages = cfg.limits.max_memory_pages as usize;
    pool.total_memories(INSTANCE_SLOTS as u32)
        .total_tables(INSTANCE_SLOTS as u32)
        .total_core_instances(INSTANCE_SLOTS as u32)
        .max_memory_size(pages * 65536)
        .table_elements(cfg.limits.max_table_elements as usize)
        // A used memory is reset by `memset` of its first MiB instead of `madvise`, so the
        // next instance takes no page faults. Copy-on-write images are off: with 64 KiB
        // contract memories, copying the data segments at instantiation is cheaper than
        // re-mapping the image. PAGEMAP_SCAN (reset only dirty pages) measured slower
        // here. See docs/benchmarks.md, "Instance lifecycle".
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(64 << 10);
    c.memory_init_cow(false);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

/// Deletes the module caches under `root` of other engines: directories named by 16
/// lowercase hex digits other than `keep` that hold nothing but compiled-module files,
/// as this VM writes them. They are left by older wasmtime or instrumentation versions,
/// or by another stack budget, and this engine can never load their files. Best effort:
/// a cache that cannot be deleted stays, and a module missing from disk is compiled
/// again. Anything else under `root` is left alone.
fn remove_other_caches(root: &std::path::Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let only_modules = |dir: &std::path::Path| {
        std::fs::read_dir(dir).is_ok_and(|files| {
            files.flatten().all(|f| {
                f.file_type().is_ok_and(|t| t.is_file())
                    && f.path()
                        .extension()
                        .is_some_and(|x| x == "cwasm" || x == "sum" || x == "tmp")
            })
        })
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let named = name.len() == 16
            && name
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if named
            && name != keep
            && e.file_type().is_ok_and(|t| t.is_dir())
            && only_modules(&e.path())
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Marks a cached module file as just used (its modification time orders the disk
/// cache's evictions; nothing in consensus depends on it).
#[allow(clippy::disallowed_methods)] // the wall clock only orders cache evictions
fn touch(path: &std::path::Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// What loading a module needs to know of its code: from validation when it is
/// compiled, from the compiled module's exports when it comes from disk.
struct ModuleShape {
    /// Exported functions (every one an entry point, by validation), sorted.
    entry_points: std::collections::BTreeSet<String>,
    /// Globals the contract defines (each exported by the instrumentation).
    defined_globals: u32,
    /// Initial pages of the memory.
    memory_pages: u64,
}

impl ModuleShape {
    fn of_info(info: &crate::validate::CodeInfo) -> Self {
        ModuleShape {
            entry_points: info.entry_points.clone(),
            defined_globals: info.defined_globals,
            memory_pages: info.memory_pages,
        }
    }

    fn of_module(m: &Module) -> Self {
        let mut shape = ModuleShape {
            entry_points: Default::default(),
            defined_globals: 0,
            memory_pages: 0,
        };
        for e in m.exports() {
            match e.ty() {
                wasmtime::ExternType::Func(_) => {
                    shape.entry_points.insert(e.name().to_string());
                }
                wasmtime::ExternType::Memory(mem) if e.name() == "memory" => {
                    shape.memory_pages = mem.minimum();
                }
                _ => {}
            }
        }
        while m
            .get_export_index(&crate::instrument::global_export(shape.defined_globals))
            .is_some()
        {
            shape.defined_globals += 1;
        }
        shape
    }
}

impl VmInner {
    pub(crate) fn new(config: VmConfig) -> Result<Self> {
        let engine =
            Engine::new(&engine_config(&config)).map_err(|e| Error::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        host::register(&mut linker).map_err(|e| Error::Engine(e.to_string()))?;
        let disk_dir = match &config.module_cache_dir {
            Some(dir) => {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                engine.precompile_compatibility_hash().hash(&mut h);
                INSTRUMENTATION_VERSION.hash(&mut h);
                DISK_FORMAT.hash(&mut h);
                // Everything validation depends on: a module compiled here passed it, and
                // is loaded without validating again.
                format!("{:?}", config.limits).hash(&mut h);
                crate::validate::VALIDATION_VERSION.hash(&mut h);
                // The sources of validation and instrumentation themselves, and this
                // crate's version: a change to either that forgot to bump its version
                // constant must not leave upgraded nodes running the old instrumented
                // code (and its gas) from a warm cache while cold ones compile the new.
                include_str!("validate.rs").hash(&mut h);
                include_str!("instrument.rs").hash(&mut h);
                // (compiled into the stack-budget charges, beside the limits above)
                crate::config::FRAME_OVERHEAD.hash(&mut h);
                env!("CARGO_PKG_VERSION").hash(&mut h);
                supervm_abi::ABI_VERSION.hash(&mut h);
                for f in supervm_abi::HOST_FNS {
                    (f.name, f.params, f.result).hash(&mut h);
                }
                let name = format!("{:016x}", h.finish());
                let d = dir.join(&name);
                std::fs::create_dir_all(&d)
                    .map_err(|e| Error::Engine(format!("module cache dir {}: {e}", d.display())))?;
                remove_other_caches(dir, &name);
                remove_stale_temporaries(&d);
                Some(d)
            }
            None => None,
        };
        Ok(VmInner {
            engine,
            linker,
            config,
            cache: quick_cache::sync::Cache::new(MODULES_IN_MEMORY),
            rejected: quick_cache::sync::Cache::new(MODULES_IN_MEMORY),
            disk_dir,
            warm_total: Arc::default(),
            compiles: AtomicU64::new(0),
            checked_files: Default::default(),
        })
    }

    /// Validates and instruments `code`.
    pub(crate) fn prepare(&self, code: &[u8]) -> Result<(CodeInfo, Vec<u8>), CodeError> {
        let info = validate(code, &self.config.limits)?;
        let instrumented = instrument(code, &info, self.config.limits.stack_budget)?;
        Ok((info, instrumented))
    }

    /// Compiles `wasm` on a thread of its own. wasmtime compiles functions in parallel
    /// on rayon, and a rayon worker that waits for that work may meanwhile run any job
    /// queued on its own pool: on the parallel executor's pool, another worker loop,
    /// which runs until the block is done, while the block waits for the transaction
    /// this very thread was executing (a deadlock, seen with a deploy inside a block).
    /// A plain thread blocked in `join` runs nothing else; the compile itself still
    /// runs on rayon's global pool.
    fn compile(&self, wasm: &[u8]) -> Result<Module> {
        std::thread::scope(|s| {
            std::thread::Builder::new()
                .name("supervm-compile".into())
                .stack_size(COMPILE_STACK)
                .spawn_scoped(s, || Module::new(&self.engine, wasm))
                .map_err(|e| Error::Resource(format!("start a compile thread: {e}")))?
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(|e| Error::Engine(format!("compile: {e}")))
        })
    }

    /// The compiled module for `hash`, if it is in the memory cache.
    pub(crate) fn cached(&self, hash: &[u8; 32]) -> Option<Arc<LoadedModule>> {
        let m = self.cache.get(hash)?;
        // The disk cache is trimmed by file time after each compile; a module used
        // from memory since the last compile gets its file marked used once, so the
        // trim deletes the least recently used modules, not the ones kept hot here.
        let compiles = self.compiles.load(Ordering::Relaxed);
        if m.touched.load(Ordering::Relaxed) < compiles {
            m.touched.store(compiles, Ordering::Relaxed);
            if let Some(path) = self.disk_path(hash) {
                touch(&path);
            }
        }
        Some(m)
    }

    /// The compiled module for `code` (whose hash is `hash`): from memory, then disk,
    /// then by validating, instrumenting and compiling it (a `CodeError` if it does not
    /// validate).
    pub(crate) fn load(&self, hash: &[u8; 32], code: &[u8]) -> Result<Arc<LoadedModule>> {
        match self.load_compiled(hash)? {
            Some(m) => Ok(m),
            None => self.compile_and_link(hash, code),
        }
    }

    /// Validates, instruments and compiles `code` (whose hash is `hash`), writes the
    /// module to the disk cache and keeps it in memory: [`VmInner::load`] once
    /// [`VmInner::load_compiled`] found nothing.
    pub(crate) fn compile_and_link(
        &self,
        hash: &[u8; 32],
        code: &[u8],
    ) -> Result<Arc<LoadedModule>> {
        let (info, instrumented) = self.prepare(code)?;
        let m = self.compile(&instrumented)?;
        self.module_to_disk(hash, &m);
        self.link(hash, m, ModuleShape::of_info(&info))
    }

    /// Why the stored code with hash `hash` failed validation, if this VM found it did.
    pub(crate) fn rejection(&self, hash: &[u8; 32]) -> Option<Arc<str>> {
        self.rejected.get(hash)
    }

    /// Remembers that the stored code with hash `hash` fails validation with `reason` (a
    /// function of the code and the limits alone). Only for code in state: an upload's
    /// invalid code is never stored, and must not push stored code's entries out.
    pub(crate) fn reject(&self, hash: &[u8; 32], reason: &str) {
        self.rejected.insert(*hash, reason.into());
    }

    /// The compiled module for the code with hash `hash`, if it is in memory or on disk
    /// (`None`: it must be compiled, from code the caller reads). A call needs the code
    /// itself only then: a module on disk loads without reading its code from state (up
    /// to `max_code_size` bytes per load).
    pub(crate) fn load_compiled(&self, hash: &[u8; 32]) -> Result<Option<Arc<LoadedModule>>> {
        match self.cached(hash) {
            Some(m) => Ok(Some(m)),
            None => self.load_from_disk(hash),
        }
    }

    /// [`VmInner::load_compiled`] after a miss of the memory cache: the module from the
    /// disk cache, linked and kept in memory (`None`: not on disk).
    pub(crate) fn load_from_disk(&self, hash: &[u8; 32]) -> Result<Option<Arc<LoadedModule>>> {
        // A module on disk was validated and instrumented under the same limits (they are
        // part of the directory name) when it was compiled: what loading needs from that
        // is in its exports. Validating and instrumenting again cost 40-100 ns a byte,
        // nearly all of a load (`code_load_bench`).
        match self.module_from_disk(hash) {
            Some(m) => {
                let shape = ModuleShape::of_module(&m);
                self.link(hash, m, shape).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Links a compiled module and keeps it in the memory cache.
    fn link(
        &self,
        hash: &[u8; 32],
        module: Module,
        shape: ModuleShape,
    ) -> Result<Arc<LoadedModule>> {
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| Error::Engine(format!("link: {e}")))?;
        let export = |name: &str| {
            module
                .get_export_index(name)
                .ok_or_else(|| Error::Engine(format!("validated module lacks export {name}")))
        };
        let mut entry_points = BTreeMap::new();
        for (i, name) in shape.entry_points.iter().enumerate() {
            entry_points.insert(name.clone(), (i, export(name)?));
        }
        let mut globals = (0..shape.defined_globals)
            .map(|i| export(&crate::instrument::global_export(i)))
            .collect::<Result<Vec<_>>>()?;
        globals.push(export(crate::instrument::DEPTH_EXPORT)?);
        let loaded = Arc::new(LoadedModule {
            entry_points,
            memory: export("memory")?,
            globals,
            dirty: export(crate::instrument::DIRTY_EXPORT)?,
            dirty_shift: crate::instrument::dirty_shift(shape.memory_pages),
            memory_pages: shape.memory_pages,
            warm: WarmPool::new(self.warm_total.clone()),
            pre,
            touched: AtomicU64::new(self.compiles.load(Ordering::Relaxed)),
        });
        self.cache.insert(*hash, loaded.clone());
        Ok(loaded)
    }

    fn disk_path(&self, hash: &[u8; 32]) -> Option<PathBuf> {
        self.disk_dir
            .as_ref()
            .map(|d| d.join(format!("{}.cwasm", hex::encode(hash))))
    }

    /// The digest file beside the module file at `path`.
    fn sum_path(path: &std::path::Path) -> PathBuf {
        path.with_extension("sum")
    }

    fn module_from_disk(&self, hash: &[u8; 32]) -> Option<Module> {
        let path = self.disk_path(hash)?;
        if !path.exists() {
            return None;
        }
        // wasmtime checks the header of a module file but not the machine code after it:
        // a file damaged on disk would run as it is. So the first load of a file by this
        // VM checks it against the blake3 digest written beside it; a file that
        // does not match (or has no digest) is deleted and compiled again. Later loads
        // (after the memory cache dropped the module) map it unchecked, as fast as before.
        let checked = self.checked_files.lock().contains(hash);
        if !checked {
            // (a read that fails for another reason than a missing digest, out of
            // descriptors say, deletes nothing: the module is compiled and written again)
            let sum = match std::fs::read(Self::sum_path(&path)) {
                Ok(sum) => Some(sum),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(_) => return None,
            };
            let file = std::fs::read(&path).ok()?;
            if sum.is_none_or(|sum| sum != blake3::hash(&file).as_bytes()) {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(Self::sum_path(&path));
                return None;
            }
        }
        // SAFETY: the file was written by `module_to_disk` from `Module::serialize` of an
        // engine with the same compatibility hash (it is part of the directory name), it
        // matched its digest when this VM first read it, and wasmtime checks the header
        // again; the cache directory belongs to this node (the digest guards against
        // damage, not against someone who can write there). Mapped, not deserialized from
        // the bytes just checked: copying them into new memory measured slower (0.33 and
        // 1.37 ms against 0.18 and 0.60 ms for 448 and 493 KB contracts, code_load_bench).
        let m = unsafe { Module::deserialize_file(&self.engine, &path) }.ok()?;
        if !checked {
            self.checked_files.lock().insert(*hash);
        }
        touch(&path);
        Some(m)
    }

    /// Deletes the least recently used compiled modules of the disk cache while it holds
    /// more than `module_cache_bytes`, down to three quarters of that. Runs after each
    /// write, that is after each compile, which costs far more than listing the
    /// directory.
    fn trim_disk_cache(&self) {
        let Some(dir) = &self.disk_dir else { return };
        if self.config.module_cache_bytes == u64::MAX {
            return; // no bound: nothing to list
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        let limit = self.config.module_cache_bytes;
        if total <= limit {
            return;
        }
        files.sort();
        for (_, len, path) in files {
            if total <= limit / 4 * 3 {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
                let _ = std::fs::remove_file(Self::sum_path(&path));
                // (a file written again later is checked again at its first load)
                if let Some(h) = path
                    .file_stem()
                    .and_then(|s| hex::decode(s.as_encoded_bytes()).ok())
                    .and_then(|h| <[u8; 32]>::try_from(h).ok())
                {
                    self.checked_files.lock().remove(&h);
                }
            }
        }
    }

    fn module_to_disk(&self, hash: &[u8; 32], m: &Module) {
        // (a crash between the temporary's creation and its rename leaves it behind:
        // `remove_stale_temporaries` deletes such files when a VM next opens the cache)
        let Some(path) = self.disk_path(hash) else {
            return;
        };
        // A file of its own (two threads or processes may compile the same code at once:
        // a shared temporary name could interleave their writes), synced, then renamed:
        // neither a race nor a crash ever leaves a torn file under the final name, which
        // `module_from_disk` maps as trusted machine code.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("{}-{n}.tmp", std::process::id()));
        let write = |tmp: &std::path::Path, bytes: &[u8]| {
            use std::io::Write;
            let mut f = std::fs::File::create(tmp).ok()?;
            f.write_all(bytes).ok()?;
            f.sync_all().ok()
        };
        let sum_tmp = path.with_extension(format!("sum-{}-{n}.tmp", std::process::id()));
        // The digest first, the module last: a module under its final name always has a
        // digest written before it (a race of two writers can pair one's digest with
        // the other's module; the check then finds the mismatch and compiles again).
        let written = m.serialize().ok().and_then(|bytes| {
            write(&sum_tmp, blake3::hash(&bytes).as_bytes())?;
            std::fs::rename(&sum_tmp, Self::sum_path(&path)).ok()?;
            write(&tmp, &bytes)
        });
        if written.is_none() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
            let _ = std::fs::remove_file(&sum_tmp);
            // (a digest renamed into place without its module: nothing else deletes it)
            let _ = std::fs::remove_file(Self::sum_path(&path));
        } else {
            // (this VM's own compile, just written: no need to check it)
            self.checked_files.lock().insert(*hash);
        }
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.trim_disk_cache();
    }

    /// Modules compiled and written to the disk cache so far.
    pub(crate) fn compiled_modules(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// Idle recycled instances over all modules.
    pub(crate) fn idle_instances(&self) -> usize {
        self.warm_total.total()
    }

    /// Instances taken for reuse so far, over all modules.
    pub(crate) fn reused_instances(&self) -> u64 {
        self.warm_total.reused()
    }

    /// Empties the in-memory module cache (the disk cache stays).
    pub(crate) fn clear_memory_cache(&self) {
        self.cache.clear();
    }
}

/// Deletes temporary files a crash left in the module cache `dir` (written by
/// `module_to_disk`, never renamed), once they are older than a minute: nothing else
/// deletes or counts them. Younger ones may belong to a compile running in another
/// process sharing the directory.
fn remove_stale_temporaries(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "tmp") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(60));
        if old {
            let _ = std::fs::remove_file(&path);
        }
    }
}

//! Limits and knobs of the VM. Every limit is deterministic: the same on every
//! machine and build, because consensus depends on it.

/// Hard resource limits, checked at deploy time or enforced while running.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest wasm module accepted, in bytes.
    pub max_code_size: usize,
    /// Most functions (imported + defined).
    pub max_functions: u32,
    /// Most imports.
    pub max_imports: u32,
    /// Most function types.
    pub max_types: u32,
    /// Most parameters of one function type.
    pub max_params: u32,
    /// Most results of one function type (MVP: 1).
    pub max_results: u32,
    /// Most locals of one function, parameters included.
    pub max_locals: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most tables (MVP: 1).
    pub max_tables: u32,
    /// Most elements of a table, initial and maximum.
    pub max_table_elements: u64,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most element segments.
    pub max_element_segments: u32,
    /// Most exports.
    pub max_exports: u32,
    /// Largest function body, in bytes.
    pub max_function_size: usize,
    /// Most operators in the whole module: bounds compile time (compilation bombs).
    pub max_total_operators: u64,
    /// Most `loop`s in one function, each `return` counting as one (the stack
    /// instrumentation adds a fuel-checking loop before every `return`). With fuel
    /// metering every loop header carries a fuel check, and Cranelift's time per loop
    /// grows with the loops of the function: one function of 10,000 loops takes plain
    /// wasmtime 6 - 7 s (`compile_limits_bench`). Rust contracts have a handful.
    pub max_loops_per_function: u32,
    /// Most control blocks (`block`, `loop`, `if`, and `return` as above) in one
    /// function: compile time per block grows with their number in the function
    /// (20,000 nested `if`s in one function took 3.6 s).
    pub max_blocks_per_function: u32,
    /// Largest linear memory, in 64 KiB pages (initial and reachable by `memory.grow`).
    pub max_memory_pages: u64,
    /// Stack budget of one contract call, in stack units. A wasm function costs
    /// `FRAME_OVERHEAD + locals (params included) + max operand stack height` units while
    /// it is active; exceeding the budget traps with "call stack budget exhausted".
    pub stack_budget: u32,
    /// Most gas a transaction may ask for.
    pub max_tx_gas: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_code_size: 512 * 1024,
            max_functions: 10_000,
            max_imports: 64,
            max_types: 1_000,
            max_params: 32,
            max_results: 1,
            max_locals: 1_024,
            max_globals: 256,
            max_tables: 1,
            max_table_elements: 10_000,
            max_data_segments: 1_024,
            max_element_segments: 64,
            max_exports: 256,
            max_function_size: 128 * 1024,
            max_total_operators: 1_000_000,
            max_loops_per_function: 256,
            max_blocks_per_function: 1_024,
            max_memory_pages: 128, // 8 MiB
            stack_budget: 32_768,
            max_tx_gas: 10_000_000_000,
        }
    }
}

/// Units a wasm function frame costs beyond its locals and operand stack as written:
/// 16 for the native frame, plus the 5 locals and 2 operand slots the instrumentation
/// adds (the dirty-chunk marks' temporaries).
pub const FRAME_OVERHEAD: u32 = 23;

/// How the VM is set up.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Deterministic resource limits.
    pub limits: Limits,
    /// Directory for serialized compiled modules, so a restart does not recompile.
    /// `None` keeps compiled modules in memory only. It should belong to the cache: a VM
    /// deletes the caches of other engine versions in it (subdirectories named by 16
    /// hex digits holding only compiled modules).
    pub module_cache_dir: Option<std::path::PathBuf>,
    /// Most bytes of compiled modules kept in `module_cache_dir` (default: no bound).
    /// The directory grows with everything ever compiled, every byte of it paid for
    /// (uploads cost 50 gas a byte, and a failed deploy still pays). Past a bound the
    /// least recently used modules are deleted (down to three quarters of it), and a
    /// deleted module is compiled again when next called: about a second for 500 KB,
    /// for the gas of an ordinary call. So a bound trades disk for exposure to calls
    /// that cycle through more contracts than it holds.
    pub module_cache_bytes: u64,
    /// Checks every reset of a recycled instance against the module's whole fresh
    /// memory image and panics on a difference (a write the reset missed). Costs about
    /// a `memcmp` of the memory per call; for tests. Default: on in debug builds or when
    /// the environment variable `SUPERVM_VERIFY_RECYCLING` is `1` (the test script sets
    /// it), off otherwise.
    pub verify_recycling: bool,
}

/// Default of [`VmConfig::module_cache_bytes`]: no bound (see there).
pub const DEFAULT_MODULE_CACHE_BYTES: u64 = u64::MAX;

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig {
            limits: Limits::default(),
            module_cache_dir: None,
            module_cache_bytes: DEFAULT_MODULE_CACHE_BYTES,
            verify_recycling: cfg!(debug_assertions)
                || std::env::var_os("SUPERVM_VERIFY_RECYCLING").is_some_and(|v| v == "1"),
        }
    }
}

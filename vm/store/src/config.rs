//! How a store is opened: shard count, durability mode, cache size, fail-points.

use std::sync::Arc;

/// What a commit waits for before it is acknowledged. The names of the faster modes
/// say what they risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// The safe default: every shard's prepare record and the coordinator's decision are
    /// fsynced (one fsync per participant per commit batch, all in one parallel round;
    /// group commit). An acknowledged batch survives process crashes, OS crashes and
    /// power loss.
    #[default]
    Fsync,
    /// Records go to the write-ahead logs without fsync. Survives a process crash
    /// (`kill -9`); an OS crash or power loss may lose the latest acknowledged batches:
    /// shards that disagree are reported as corruption by the next open, except a last
    /// batch whose prepare record some shard, or whose decision the coordinator, lost
    /// before any shard persisted its apply: that batch is taken back (or rolled back)
    /// to the prefix before it.
    NoFsyncLosesRecentOnPowerLoss,
    /// No write-ahead log at all; memtables are flushed only on a clean close. Any crash
    /// loses the state: the next open refuses with [`Error::UncleanNoWalShutdown`](crate::Error::UncleanNoWalShutdown).
    /// For benchmarks and throwaway chains only.
    NoWalUnrecoverableOnCrash,
}

impl Durability {
    /// The mode's name as benchmarks print it.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Fsync => "fsync",
            Durability::NoFsyncLosesRecentOnPowerLoss => "no-fsync",
            Durability::NoWalUnrecoverableOnCrash => "no-wal",
        }
    }

    /// Parses [`Durability::name`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Durability::Fsync,
            Durability::NoFsyncLosesRecentOnPowerLoss,
            Durability::NoWalUnrecoverableOnCrash,
        ]
        .into_iter()
        .find(|d| d.name() == s)
    }
}

/// A step of the commit protocol where a test can inject a crash or an I/O error.
/// `docs/design.md` ("Batched two-phase commit") lists them in protocol order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailPoint {
    /// Before anything of the batch is written.
    BeforePrepare,
    /// Shard `n` and those above it do not write their prepare records (lower shards
    /// do); the decision, written in the same round, still is.
    PrepareShard(u32),
    /// Before the coordinator writes the decision, while the shards write their prepare
    /// records in parallel.
    BeforeDecision,
    /// The decision and every prepare record are durable (the batch is decided); no
    /// shard has applied it.
    AfterDecision,
    /// Before shard `n` applies the batch (lower shards have applied it).
    ApplyShard(u32),
    /// Every shard has applied the batch; the commit call has not returned.
    AfterApply,
    /// Recovery (in `Store::open`) took a decision back on the coordinator; the shards'
    /// prepare records of that batch are not yet deleted.
    RecoveryAfterTakeBack,
    /// Recovery is about to redo or roll back a prepare record on shard `n` (lower
    /// shards are done).
    RecoveryShard(u32),
}

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailAction {
    /// Nothing: the protocol continues.
    Continue,
    /// The process "dies" here: the protocol stops and the store is unusable until reopened.
    Crash,
    /// The write at this step fails as if the disk were full: the commit returns an error
    /// and the store refuses further writes until reopened.
    IoError,
    /// The protocol panics here, as a bug would. At a shard step the panic is raised in
    /// that shard's writer (a worker thread; in the prepare round every shard's runs in
    /// parallel with the decision, at the apply every shard's but the first's), lower
    /// shards writing normally. The commit unwinds and the store is poisoned as after an
    /// I/O error. In recovery (`Store::open`) `Crash` and `IoError` both make the open
    /// fail at that step.
    Panic,
}

/// A test hook called at every [`FailPoint`].
pub type FailHook = Arc<dyn Fn(FailPoint) -> FailAction + Send + Sync>;

/// What one read-cache entry costs beyond its key and value bytes (the vectors'
/// headers and the cache's bookkeeping), for [`StoreConfig::cache_bytes`].
pub const CACHE_ENTRY_OVERHEAD: u64 = 96;

/// Options of [`Store::open`](crate::Store::open).
#[derive(Clone)]
pub struct StoreConfig {
    /// Number of state shards (each its own RocksDB instance with its own WAL). Fixed
    /// when the store is created; at least 1, default 2.
    pub shards: u32,
    /// What a commit waits for.
    pub durability: Durability,
    /// Bytes the committed-state read cache (values and known absences) may hold,
    /// counting each entry as its key, its value and [`CACHE_ENTRY_OVERHEAD`] bytes.
    pub cache_bytes: u64,
    /// RocksDB write buffer (memtable) size per shard, bytes.
    pub write_buffer_bytes: usize,
    /// Keep each block's undo record (the previous value of every key it changed) so
    /// state can be read at any past height ([`Store::snapshot_at`](crate::Store::snapshot_at)).
    /// Costs, per commit batch and changed key, one row in the `undo` column family of
    /// the shard that owns the key (holding one record per block that changed it): it
    /// travels in that shard's prepare record and is written with the batch's apply
    /// (and redone with it after a crash). Default on.
    pub state_history: bool,
    /// With `state_history`, how many blocks below the latest stay readable:
    /// `Some(n)` serves heights `latest - n ..= latest` and lets RocksDB's compactions
    /// of the `undo` column family drop the records only older heights could need, so
    /// the history stops growing with the chain; `None` (the default) serves every
    /// height (an archival node).
    pub history_blocks: Option<u64>,
    /// Table files the store keeps open at most, over all its RocksDB instances (each
    /// of the shards and the coordinator gets an equal part, at least
    /// [`MIN_OPEN_FILES_PER_INSTANCE`]); `None` (the default) keeps every table file
    /// open, as RocksDB does by default. A node sets it from its open-files limit, so a
    /// growing store cannot take the descriptors its connections need, nor they the
    /// store's (a flush or compaction that cannot open a file fails the store).
    pub max_open_files: Option<u64>,
    /// Fault injection for tests; `None` in production.
    pub fail: Option<FailHook>,
}

/// The fewest table files each RocksDB instance of a store keeps open when
/// [`StoreConfig::max_open_files`] is set (RocksDB needs some: its own minimum is 20).
pub const MIN_OPEN_FILES_PER_INSTANCE: u64 = 64;

impl StoreConfig {
    /// The lowest height readable at a past height once `blocks` blocks are committed
    /// (a [`Head`](crate::Head)'s `blocks`): with [`StoreConfig::history_blocks`]
    /// `Some(n)`, `latest - n` (0 while the chain is shorter); 0 otherwise (every height).
    pub fn history_horizon(&self, blocks: u64) -> u64 {
        match self.history_blocks {
            Some(n) if self.state_history => blocks.saturating_sub(1).saturating_sub(n),
            _ => 0,
        }
    }

    /// Whether the `undo` column family's compactions prune (state history on and
    /// bounded by [`StoreConfig::history_blocks`]).
    pub(crate) fn prunes_history(&self) -> bool {
        self.state_history && self.history_blocks.is_some()
    }

    /// Table files each RocksDB instance may keep open (see
    /// [`StoreConfig::max_open_files`]).
    pub(crate) fn open_files_per_instance(&self) -> Option<u64> {
        self.max_open_files
            .map(|n| (n / (u64::from(self.shards) + 1)).max(MIN_OPEN_FILES_PER_INSTANCE))
    }

    /// What the fail hook says at `p` (`Continue` without a hook).
    pub(crate) fn fault(&self, p: FailPoint) -> FailAction {
        self.fail.as_ref().map_or(FailAction::Continue, |f| f(p))
    }

    /// The fault at `p` as a result: `Err(Injected)` for a crash or an I/O error, a
    /// panic for `Panic`.
    pub(crate) fn injected(&self, p: FailPoint) -> crate::Result<()> {
        match self.fault(p) {
            FailAction::Continue => Ok(()),
            FailAction::Panic => panic!("injected panic at {p:?}"),
            _ => Err(crate::Error::Injected(p)),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            shards: 2,
            durability: Durability::Fsync,
            cache_bytes: 256 << 20,
            write_buffer_bytes: 64 << 20,
            state_history: true,
            history_blocks: None,
            max_open_files: None,
            fail: None,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("shards", &self.shards)
            .field("durability", &self.durability)
            .field("cache_bytes", &self.cache_bytes)
            .field("write_buffer_bytes", &self.write_buffer_bytes)
            .field("state_history", &self.state_history)
            .field("history_blocks", &self.history_blocks)
            .field("fail", &self.fail.is_some())
            .finish()
    }
}

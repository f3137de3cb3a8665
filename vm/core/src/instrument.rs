//! Deterministic stack accounting, injected into every contract.
//!
//! wasmtime's own stack limit (`max_wasm_stack`) measures native bytes, which
//! differ between builds and compiler versions, so a deep recursion could trap on
//! one node and not on another. Instead every defined function is rewritten to
//! charge its static weight (see [`validate`](crate::validate)) to a new global
//! on entry and refund it on exit:
//!
//! ```text
//! global.get $depth  i32.const W  i32.add  global.set $depth
//! global.get $depth  i32.const BUDGET  i32.gt_u  if unreachable end
//! block (result T)   ;; the original body; `br` to its outer label lands here
//!   ...              ;; every `return` is preceded by the refund
//! end
//! global.get $depth  i32.const W  i32.sub  global.set $depth
//! loop end           ;; a fuel check: out-of-gas is exact at every function exit
//! ```
//!
//! The global is exported as [`DEPTH_EXPORT`] so that the host can tell a
//! stack-budget trap from any other `unreachable`. Every global the contract
//! defines is exported too (as [`global_export`]), so that a recycled instance can
//! be reset to its freshly instantiated state (see `frame.rs`). wasmtime's native limit stays
//! as a backstop that the budget keeps out of reach.
//!
//! Second, every store instruction marks the chunk of memory it writes in a second
//! new global, exported as [`DIRTY_EXPORT`], so that a recycled instance restores only
//! the chunks a call wrote instead of the whole memory (`warm.rs`). The memory's
//! initial size is cut into at most 32 chunks of `1 << shift` bytes
//! ([`dirty_shift`], at least 2 KiB); bit `i` of the i32 global stands for chunk `i`:
//!
//! ```text
//! local.set $value  local.set $addr                     ;; the store's operands
//! global.get $dirty  i32.const 1
//! local.get $addr  [i32.const offset  i32.add]  i32.const shift  i32.shr_u
//! i32.shl  i32.or  global.set $dirty
//! local.get $addr  local.get $value  <the store>
//! ```
//!
//! The offset is added only when offset + store size could reach past the next chunk;
//! otherwise the written bytes lie in the marked chunk or the one after it, and the
//! reset restores both. An address at or past the initial memory size either traps
//! (the instance is dropped) or lies in grown memory (the instance is dropped too), so
//! the shift never wraps for a store whose instance is recycled.
//!
//! Most stores of compiled code take their address straight from a local
//! (`local.get $x  <const | local.get | global.get>  <store>`). Such a store is marked
//! after it runs from `$x` itself, with no temporaries, and needs no mark at all when a
//! mark of `$x`'s current value dominates it (`Marks`). The marks cost fuel like any
//! other instructions: 4–14 gas for each store that needs one (a token transfer pays
//! about 1,200 gas for them, and saves zeroing its whole memory).

use std::collections::BTreeSet;

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, ConstExpr, ExportKind, ExportSection, GlobalSection, GlobalType, Instruction,
    MemArg, SectionId, ValType,
};

use crate::error::CodeError;
use crate::validate::CodeInfo;

/// Name of the exported stack-depth global.
pub const DEPTH_EXPORT: &str = "__supervm_depth";

/// Name of the exported dirty-chunk global (see the module docs).
pub const DIRTY_EXPORT: &str = "__supervm_dirty";

/// Version of the instrumentation; part of the compiled-module cache key.
pub const INSTRUMENTATION_VERSION: u32 = 4;

/// Chunks of the dirty-chunk mask (bits of an i32).
pub const DIRTY_CHUNKS: u32 = 32;

/// log2 of the dirty-chunk size for a memory of `pages` initial pages: the smallest
/// shift of at least 11 (2 KiB) whose [`DIRTY_CHUNKS`] chunks cover the memory.
pub fn dirty_shift(pages: u64) -> u32 {
    let bytes = pages.max(1).saturating_mul(65536);
    let mut s = 11;
    while (u64::from(DIRTY_CHUNKS) << s) < bytes {
        s += 1;
    }
    s
}

/// The memory argument and byte width of a store instruction, and the type of the value
/// it stores.
fn store_of(ins: &Instruction<'_>) -> Option<(MemArg, u64, ValType)> {
    Some(match ins {
        Instruction::I32Store(m) => (*m, 4, ValType::I32),
        Instruction::I32Store8(m) => (*m, 1, ValType::I32),
        Instruction::I32Store16(m) => (*m, 2, ValType::I32),
        Instruction::I64Store(m) => (*m, 8, ValType::I64),
        Instruction::I64Store8(m) => (*m, 1, ValType::I64),
        Instruction::I64Store16(m) => (*m, 2, ValType::I64),
        Instruction::I64Store32(m) => (*m, 4, ValType::I64),
        Instruction::F32Store(m) => (*m, 4, ValType::F32),
        Instruction::F64Store(m) => (*m, 8, ValType::F64),
        _ => return None,
    })
}

/// Prefix of every export the instrumentation adds; contracts may not use it.
pub const RESERVED_EXPORT_PREFIX: &str = "__supervm";

/// Name under which the `i`-th defined global of a contract is exported.
pub fn global_export(i: u32) -> String {
    format!("__supervm_g{i}")
}

/// Locals whose current value's chunk is marked on every path to the current
/// instruction, one set per open control frame (a mark inside a block does not dominate
/// the code after it, nor one in `then` the `else`; a loop body starts with none).
/// A store through such a local with offset + width within one chunk needs no mark of
/// its own: its bytes lie in the marked chunk or the next, which the reset restores too.
struct Marks {
    frames: Vec<BTreeSet<Marked>>,
}

/// What a mark covers: a local's current value, or a constant address's chunk.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Marked {
    Local(u32),
    Chunk(u32),
}

/// Where a store's address operand comes from.
#[derive(Clone, Copy)]
enum Base {
    /// The current value of a local (pushed by `local.get` or `local.tee`, the local
    /// unwritten since).
    Local(u32),
    /// A constant.
    Const(u32),
}

/// Recent instructions with their operand counts (popped, pushed); `None` for control
/// flow and calls, which end the window.
type Window<'a> = std::collections::VecDeque<(Instruction<'a>, Option<(u32, u32)>)>;

/// Instructions of the window kept before a store.
const WINDOW: usize = 16;

/// A module-less view for `operator_arity`: it answers plain stack operators, and
/// `None` for whatever needs the module (calls, branches), which ends a window.
struct NoModule;

impl wasmparser::ModuleArity for NoModule {
    fn sub_type_at(&self, _: u32) -> Option<&wasmparser::SubType> {
        None
    }
    fn tag_type_arity(&self, _: u32) -> Option<(u32, u32)> {
        None
    }
    fn type_index_of_function(&self, _: u32) -> Option<u32> {
        None
    }
    fn func_type_of_cont_type(&self, _: &wasmparser::ContType) -> Option<&wasmparser::FuncType> {
        None
    }
    fn sub_type_of_ref_type(&self, _: &wasmparser::RefType) -> Option<&wasmparser::SubType> {
        None
    }
    fn control_stack_height(&self) -> u32 {
        0
    }
    fn label_block(&self, _: u32) -> Option<(wasmparser::BlockType, wasmparser::FrameKind)> {
        None
    }
}

/// The operand counts of `op`, `None` for control flow and calls.
fn stack_effect(op: &wasmparser::Operator<'_>) -> Option<(u32, u32)> {
    use wasmparser::Operator as O;
    match op {
        O::Block { .. }
        | O::Loop { .. }
        | O::If { .. }
        | O::Else
        | O::End
        | O::Br { .. }
        | O::BrIf { .. }
        | O::BrTable { .. }
        | O::Return
        | O::Unreachable
        | O::Call { .. }
        | O::CallIndirect { .. } => None,
        other => other.operator_arity(&NoModule),
    }
}

/// The source of the address operand of a store that follows `window`: found by walking
/// back over plain stack operators to the one that pushed it.
fn store_base(window: &Window<'_>) -> Option<Base> {
    // Heights relative to the one before the store, whose operands are at -2 (address)
    // and -1 (value).
    let target = -2i64;
    let mut height = 0i64;
    let mut written: Vec<u32> = Vec::new();
    for (ins, effect) in window.iter().rev() {
        let (pops, pushes) = (*effect)?;
        let before = height - i64::from(pushes) + i64::from(pops);
        if height - i64::from(pushes) <= target && target < height {
            return match ins {
                Instruction::LocalGet(x) | Instruction::LocalTee(x)
                    if pushes == 1 && !written.contains(x) =>
                {
                    Some(Base::Local(*x))
                }
                Instruction::I32Const(c) if pushes == 1 => Some(Base::Const(*c as u32)),
                _ => None,
            };
        }
        if let Instruction::LocalSet(x) | Instruction::LocalTee(x) = ins {
            written.push(*x);
        }
        height = before;
    }
    None
}

impl Default for Marks {
    fn default() -> Self {
        Marks {
            frames: vec![BTreeSet::new()],
        }
    }
}

impl Marks {
    fn holds(&self, x: Marked) -> bool {
        self.frames.last().is_some_and(|s| s.contains(&x))
    }

    fn add(&mut self, x: Marked) {
        if let Some(s) = self.frames.last_mut() {
            s.insert(x);
        }
    }

    /// Follows control frames and local writes past `ins`.
    fn after(&mut self, ins: &Instruction<'_>) {
        match ins {
            Instruction::Block(_) | Instruction::If(_) => {
                let top = self.frames.last().cloned().unwrap_or_default();
                self.frames.push(top);
            }
            // A loop body starts empty: a later iteration may enter it with locals changed
            // by code after this point (a write further down the body, then `br` back).
            Instruction::Loop(_) => self.frames.push(BTreeSet::new()),
            Instruction::Else => {
                let n = self.frames.len();
                let outer = n
                    .checked_sub(2)
                    .map(|i| self.frames[i].clone())
                    .unwrap_or_default();
                if let Some(s) = self.frames.last_mut() {
                    *s = outer;
                }
            }
            Instruction::End => {
                self.frames.pop();
            }
            Instruction::LocalSet(x) | Instruction::LocalTee(x) => {
                for s in &mut self.frames {
                    s.remove(&Marked::Local(*x));
                }
            }
            _ => {}
        }
    }
}

struct StackInstrumenter<'a> {
    info: &'a CodeInfo,
    budget: u32,
    depth_global: u32,
    dirty_global: u32,
    shift: u32,
    next_func: usize,
    globals_done: bool,
    exports_done: bool,
}

fn rank(id: SectionId) -> u8 {
    match id {
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
        _ => 0,
    }
}

impl StackInstrumenter<'_> {
    fn our_global(&self, globals: &mut GlobalSection) {
        // The stack depth, then the dirty-chunk mask.
        for _ in 0..2 {
            globals.global(
                GlobalType {
                    val_type: ValType::I32,
                    mutable: true,
                    shared: false,
                },
                &ConstExpr::i32_const(0),
            );
        }
    }

    fn our_export(&self, exports: &mut ExportSection) {
        exports.export(DEPTH_EXPORT, ExportKind::Global, self.depth_global);
        exports.export(DIRTY_EXPORT, ExportKind::Global, self.dirty_global);
        // The contract's own globals, so the host can reset a recycled instance to
        // exactly its freshly instantiated state (wasmtime reaches only exported ones).
        for i in 0..self.info.defined_globals {
            let index = self.info.imported_globals + i;
            exports.export(&global_export(i), ExportKind::Global, index);
        }
    }
}

impl Reencode for StackInstrumenter<'_> {
    type Error = CodeError;

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), reencode::Error<CodeError>> {
        reencode::utils::parse_global_section(self, globals, section)?;
        self.our_global(globals);
        self.globals_done = true;
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), reencode::Error<CodeError>> {
        reencode::utils::parse_export_section(self, exports, section)?;
        self.our_export(exports);
        self.exports_done = true;
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), reencode::Error<CodeError>> {
        let next = before.map(rank).unwrap_or(u8::MAX);
        if !self.globals_done && next > rank(SectionId::Global) {
            let mut g = GlobalSection::new();
            self.our_global(&mut g);
            module.section(&g);
            self.globals_done = true;
        }
        if !self.exports_done && next > rank(SectionId::Export) {
            let mut e = ExportSection::new();
            self.our_export(&mut e);
            module.section(&e);
            self.exports_done = true;
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: wasmparser::FunctionBody<'_>,
    ) -> Result<(), reencode::Error<CodeError>> {
        let i = self.next_func;
        self.next_func += 1;
        let weight = self.info.weights[i] as i32;
        let block_type = match self.info.results[i] {
            None => BlockType::Empty,
            Some(t) => BlockType::Result(self.val_type(t)?),
        };
        let g = self.depth_global;
        // The refund, then an empty loop: wasmtime checks fuel at loop headers, and
        // without a check at every exit a function's last straight-line stretch could
        // run on overdrawn fuel and succeed.
        let refund = [
            Instruction::GlobalGet(g),
            Instruction::I32Const(weight),
            Instruction::I32Sub,
            Instruction::GlobalSet(g),
            Instruction::Loop(BlockType::Empty),
            Instruction::End,
        ];
        // The function's own locals, then the store operands' temporaries: the address
        // and one value local per storable type.
        let mut locals = Vec::new();
        for l in func.get_locals_reader()? {
            let (n, t) = l?;
            locals.push((n, self.val_type(t)?));
        }
        let base = self.info.locals[i];
        let addr = base;
        let value_local = |t: ValType| match t {
            ValType::I32 => base + 1,
            ValType::I64 => base + 2,
            ValType::F32 => base + 3,
            _ => base + 4,
        };
        for t in [
            ValType::I32,
            ValType::I32,
            ValType::I64,
            ValType::F32,
            ValType::F64,
        ] {
            locals.push((1, t));
        }
        let mut f = wasm_encoder::Function::new(locals);
        let (dirty, shift) = (self.dirty_global, self.shift);
        let chunk = 1u64 << shift;
        for ins in [
            Instruction::GlobalGet(g),
            Instruction::I32Const(weight),
            Instruction::I32Add,
            Instruction::GlobalSet(g),
            Instruction::GlobalGet(g),
            Instruction::I32Const(self.budget as i32),
            Instruction::I32GtU,
            Instruction::If(BlockType::Empty),
            Instruction::Unreachable,
            Instruction::End,
            Instruction::Block(block_type),
        ] {
            f.instruction(&ins);
        }
        let mark = |f: &mut wasm_encoder::Function, local: u32, offset: u64, covered: bool| {
            f.instruction(&Instruction::GlobalGet(dirty));
            f.instruction(&Instruction::I32Const(1));
            f.instruction(&Instruction::LocalGet(local));
            if !covered {
                // (wraps only for a store past 4 GiB, which traps)
                f.instruction(&Instruction::I32Const(offset as u32 as i32));
                f.instruction(&Instruction::I32Add);
            }
            f.instruction(&Instruction::I32Const(shift as i32));
            f.instruction(&Instruction::I32ShrU);
            f.instruction(&Instruction::I32Shl);
            f.instruction(&Instruction::I32Or);
            f.instruction(&Instruction::GlobalSet(dirty));
        };
        let mut marks = Marks::default();
        // The original code's last plain stack instructions.
        let mut window: Window<'_> = Window::new();
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let op = reader.read()?;
            let effect = stack_effect(&op);
            let ins = self.instruction(op)?;
            if matches!(ins, Instruction::Return) {
                for r in &refund {
                    f.instruction(r);
                }
            }
            if let Some((arg, size, t)) = store_of(&ins) {
                let covered = arg.offset + size <= chunk;
                match store_base(&window) {
                    // The address is a local whose chunk a dominating mark covers.
                    Some(Base::Local(x)) if covered && marks.holds(Marked::Local(x)) => {
                        f.instruction(&ins);
                    }
                    // The address is a local's current value: marked after the store.
                    Some(Base::Local(x)) => {
                        f.instruction(&ins);
                        mark(&mut f, x, arg.offset, covered);
                        if covered {
                            marks.add(Marked::Local(x));
                        }
                    }
                    // A constant address: its chunk is known now. Past the memory's
                    // initial size the store traps or the memory grew (the instance is
                    // dropped either way).
                    Some(Base::Const(c)) => {
                        f.instruction(&ins);
                        let i = (u64::from(c) + arg.offset) >> shift;
                        if i < u64::from(DIRTY_CHUNKS) && !marks.holds(Marked::Chunk(i as u32)) {
                            f.instruction(&Instruction::GlobalGet(dirty));
                            f.instruction(&Instruction::I32Const((1u32 << i) as i32));
                            f.instruction(&Instruction::I32Or);
                            f.instruction(&Instruction::GlobalSet(dirty));
                            marks.add(Marked::Chunk(i as u32));
                        }
                    }
                    None => {
                        let v = value_local(t);
                        f.instruction(&Instruction::LocalSet(v));
                        f.instruction(&Instruction::LocalSet(addr));
                        mark(&mut f, addr, arg.offset, covered);
                        f.instruction(&Instruction::LocalGet(addr));
                        f.instruction(&Instruction::LocalGet(v));
                        f.instruction(&ins);
                    }
                }
            } else {
                f.instruction(&ins);
            }
            marks.after(&ins);
            if effect.is_none() {
                window.clear();
            } else {
                if window.len() == WINDOW {
                    window.pop_front();
                }
                window.push_back((ins, effect));
            }
        }
        // The body's own final `end` now closes the block; refund, then end the function.
        for r in &refund {
            f.instruction(r);
        }
        f.instruction(&Instruction::End);
        code.function(&f);
        Ok(())
    }
}

/// Rewrites `code` with stack accounting. `info` must come from validating `code`.
pub fn instrument(code: &[u8], info: &CodeInfo, budget: u32) -> Result<Vec<u8>, CodeError> {
    let mut ins = StackInstrumenter {
        info,
        budget,
        depth_global: info.imported_globals + info.defined_globals,
        dirty_global: info.imported_globals + info.defined_globals + 1,
        shift: dirty_shift(info.memory_pages),
        next_func: 0,
        globals_done: false,
        exports_done: false,
    };
    let mut module = wasm_encoder::Module::new();
    ins.parse_core_module(&mut module, wasmparser::Parser::new(0), code)
        .map_err(|e| match e {
            reencode::Error::UserError(e) => e,
            other => CodeError::Invalid(format!("instrumentation failed: {other}")),
        })?;
    Ok(module.finish())
}

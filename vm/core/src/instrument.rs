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

use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{
    BlockType, ConstExpr, ExportKind, ExportSection, GlobalSection, GlobalType, Instruction,
    SectionId, ValType,
};

use crate::error::CodeError;
use crate::validate::CodeInfo;

/// Name of the exported stack-depth global.
pub const DEPTH_EXPORT: &str = "__supervm_depth";

/// Version of the instrumentation; part of the compiled-module cache key.
pub const INSTRUMENTATION_VERSION: u32 = 3;

/// Prefix of every export the instrumentation adds; contracts may not use it.
pub const RESERVED_EXPORT_PREFIX: &str = "__supervm";

/// Name under which the `i`-th defined global of a contract is exported.
pub fn global_export(i: u32) -> String {
    format!("__supervm_g{i}")
}

struct StackInstrumenter<'a> {
    info: &'a CodeInfo,
    budget: u32,
    depth_global: u32,
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
        globals.global(
            GlobalType {
                val_type: ValType::I32,
                mutable: true,
                shared: false,
            },
            &ConstExpr::i32_const(0),
        );
    }

    fn our_export(&self, exports: &mut ExportSection) {
        exports.export(DEPTH_EXPORT, ExportKind::Global, self.depth_global);
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
        let mut f = self.new_function_with_parsed_locals(&func)?;
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
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let ins = self.parse_instruction(&mut reader)?;
            if matches!(ins, Instruction::Return) {
                for r in &refund {
                    f.instruction(r);
                }
            }
            f.instruction(&ins);
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

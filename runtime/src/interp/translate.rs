//! Translation of one function body into interpreter code.
//!
//! The translator walks the operators once, feeding each to `wasmparser`'s
//! function validator first; the validator's control frames then give the
//! operand height of every block, so branch targets carry the exact stack
//! height to restore. Unreachable code (after `br`, `return`, `unreachable`,
//! `throw`) is validated but not emitted.

use std::collections::BTreeSet;

use wasmparser::{BlockType, FuncValidator, FunctionBody, Operator, WasmModuleResources};

use super::code::{
    BranchTarget, Catch, CatchKind, CompiledFunc, Handler, HandlerKind, Instr, LoadKind, MemArg,
    NumOp, SimdOp, StoreKind, V128LoadKind,
};
use super::simd::simd_op;
use crate::error::{Error, Result};
use crate::module::{ModuleInner, unsupported};

/// The module-level facts translation needs.
pub(crate) struct ModuleContext<'a> {
    pub module: &'a ModuleInner,
    /// Whether a signature or global of the module holds a `v128`.
    pub v128_types: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CtrlKind {
    Function,
    Block,
    Loop,
    If,
    Else,
    TryTable,
    LegacyTry,
    LegacyCatch,
}

/// A place holding a forward branch target, fixed when its block ends.
#[derive(Clone, Copy, Debug)]
enum Patch {
    Instr(usize),
    Table(usize),
    Catch { handler: usize, clause: usize },
}

struct Ctrl {
    kind: CtrlKind,
    /// Loop header (branch target of a loop).
    start_pc: u32,
    /// Cells of the block's parameters (see `ValType::cells`).
    params: u32,
    /// Cells of the block's results.
    results: u32,
    patches: Vec<Patch>,
    /// `if`: the `BrIfEqz` that jumps to the else arm (or the end).
    else_site: Option<usize>,
    /// Exception handler owned by this block (`try_table`, legacy `try`).
    handler: Option<usize>,
    /// Legacy `try`: the hidden local holding the caught exception.
    exn_local: u32,
}

/// The checks translated code performs beyond the operators themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RuntimeChecks {
    /// Charge fuel per operator (`Config::consume_fuel`).
    pub consume_fuel: bool,
    /// Check the epoch deadline (`Config::epoch_interruption`).
    pub epoch_interruption: bool,
}

pub(crate) struct FuncTranslator<'m> {
    ctx: &'m ModuleContext<'m>,
    code: Vec<Instr>,
    offsets: Vec<u32>,
    br_tables: Vec<BranchTarget>,
    handlers: Vec<Handler>,
    ctrls: Vec<Ctrl>,
    /// Cells of the locals (parameters, declared, hidden).
    num_locals: u32,
    /// Cell offset of each local when a `v128` local makes them differ
    /// from the local indices (None: local `i` is cell `i`).
    local_cells: Option<Vec<u32>>,
    /// Whether a `v128` may be on the operand stack, so heights in cells
    /// differ from heights in values (a `v128` takes two cells).
    wide: bool,
    next_exn_local: u32,
    max_operands: u32,
    offset: u64,
    fuel_site: Option<usize>,
    /// Code index at which the last label was placed: an instruction at or
    /// after it may be a branch target, so it must not be fused with the
    /// one before it.
    label_at: usize,
    consume_fuel: bool,
    epoch_interruption: bool,
    features: BTreeSet<&'static str>,
}

impl<'m> FuncTranslator<'m> {
    /// Validates and translates one body. Returns the code and the
    /// proposals it was seen to use.
    pub fn translate<T: WasmModuleResources>(
        ctx: &'m ModuleContext<'m>,
        fv: &mut FuncValidator<T>,
        body: &FunctionBody<'_>,
        checks: RuntimeChecks,
    ) -> Result<(CompiledFunc, BTreeSet<&'static str>)> {
        let func_index = fv.index();
        let module = ctx.module;
        let ty_id = module
            .funcs
            .get(func_index as usize)
            .copied()
            .ok_or_else(|| Error::usage(format!("function {func_index} has no signature")))?;
        let sig = module
            .engine
            .func_type(ty_id)
            .ok_or_else(|| Error::usage(format!("function {func_index}: unknown signature")))?;
        let num_params = sig.param_cells() as u32;
        let num_results = sig.result_cells() as u32;
        let mut features = BTreeSet::new();
        if sig.results().len() > 1 {
            features.insert("multi-value");
        }

        let mut reader = body.get_binary_reader();
        fv.read_locals(&mut reader).map_err(wp_err)?;
        // A `v128` local takes two cells: locals then sit at cell offsets.
        let mut declared_locals = fv.len_locals();
        let mut local_cells = None;
        if (0..declared_locals).any(|i| fv.get_local_type(i) == Some(wasmparser::ValType::V128)) {
            let mut offsets = Vec::with_capacity(declared_locals as usize);
            let mut at = 0u32;
            for i in 0..declared_locals {
                offsets.push(at);
                at += if fv.get_local_type(i) == Some(wasmparser::ValType::V128) {
                    2
                } else {
                    1
                };
            }
            // The end of the last, so every local's width is a difference.
            offsets.push(at);
            declared_locals = at;
            local_cells = Some(offsets);
            features.insert("simd");
        }

        // Legacy `try` blocks each get a hidden local for `rethrow`; count
        // them first so operand heights above the locals are final.
        let mut legacy_tries = 0u32;
        let mut scan = wasmparser::OperatorsReader::new(reader.clone());
        while !scan.eof() {
            if let Ok(Operator::Try { .. }) = scan.read() {
                legacy_tries += 1;
            } else if scan.eof() {
                break;
            }
        }

        let mut t = FuncTranslator {
            ctx,
            code: Vec::new(),
            offsets: Vec::new(),
            br_tables: Vec::new(),
            handlers: Vec::new(),
            ctrls: vec![Ctrl {
                kind: CtrlKind::Function,
                start_pc: 0,
                params: 0,
                results: num_results,
                patches: Vec::new(),
                else_site: None,
                handler: None,
                exn_local: 0,
            }],
            num_locals: declared_locals + legacy_tries,
            wide: local_cells.is_some() || ctx.v128_types,
            local_cells,
            next_exn_local: declared_locals,
            max_operands: 0,
            offset: body.range().start,
            fuel_site: None,
            label_at: 0,
            consume_fuel: checks.consume_fuel,
            epoch_interruption: checks.epoch_interruption,
            features,
        };
        t.emit_epoch_check();
        t.start_fuel_segment();

        let mut ops = wasmparser::OperatorsReader::new(reader);
        while !ops.eof() {
            let offset = ops.original_position();
            t.offset = offset;
            let op = ops.read().map_err(wp_err)?;
            let reachable = fv.get_control_frame(0).is_some_and(|f| !f.unreachable);
            // Facts about the innermost frame before the operator changes it.
            let ctrl_height_before = fv.control_stack_height();
            // A `drop` forgets its operand's type: note whether it is wide.
            let drops_v128 = matches!(op, Operator::Drop)
                && fv.get_operand_type(0) == Some(Some(wasmparser::ValType::V128));
            fv.op(offset, &op).map_err(wp_err)?;
            t.max_operands = t.max_operands.max(fv.operand_stack_height());
            if reachable {
                t.charge_operator();
            }
            let branches_conditionally = matches!(
                op,
                Operator::BrIf { .. }
                    | Operator::BrOnNull { .. }
                    | Operator::BrOnNonNull { .. }
                    | Operator::BrOnCast { .. }
                    | Operator::BrOnCastFail { .. }
            );
            if drops_v128 && reachable {
                // Two cells to drop.
                t.emit(Instr::Drop);
            }
            t.visit(fv, op, reachable, ctrl_height_before)?;
            if branches_conditionally {
                t.start_fuel_segment();
            }
        }
        ops.finish().map_err(wp_err)?;
        t.close_fuel_segment();
        // One dispatch per numeric instruction from here on.
        for instr in &mut t.code {
            *instr = instr.specialise();
        }

        let operand_cells = if t.wide {
            2 * t.max_operands
        } else {
            t.max_operands
        };
        let max_height = t.num_locals + operand_cells + 1;
        Ok((
            CompiledFunc {
                index: func_index,
                num_params,
                num_results,
                num_locals: t.num_locals,
                max_height,
                code: t.code,
                br_tables: t.br_tables,
                handlers: t.handlers,
                offsets: t.offsets,
            },
            t.features,
        ))
    }

    fn pc(&self) -> u32 {
        self.code.len() as u32
    }

    /// Records that a branch may land at the current code index.
    fn mark_label(&mut self) {
        self.label_at = self.code.len();
    }

    /// The last instruction, if the next one may be fused into it: it was
    /// emitted after the last label, so no branch lands between the two.
    fn fusable_last(&self) -> Option<Instr> {
        if self.code.len() > self.label_at {
            self.code.last().copied()
        } else {
            None
        }
    }

    /// Replaces the last instruction by a fused one, which reports the
    /// later operator's offset (a trap points at the operator).
    fn fuse_last(&mut self, instr: Instr) {
        if let (Some(last), Some(off)) = (self.code.last_mut(), self.offsets.last_mut()) {
            *last = instr;
            *off = self.offset as u32;
        }
    }

    fn emit(&mut self, instr: Instr) -> usize {
        self.code.push(instr);
        self.offsets.push(self.offset as u32);
        self.code.len() - 1
    }

    /// Charges one wasm operator to the current straight-line segment.
    /// Fuel counts wasm operators, not internal instructions, so fusing
    /// instructions never changes a total and every tier can charge the
    /// same (unreachable operators are free: they never run).
    fn charge_operator(&mut self) {
        if let Some(site) = self.fuel_site
            && let Some(Instr::ConsumeFuel(n)) = self.code.get_mut(site)
        {
            *n += 1;
        }
    }

    /// Starts a new straight-line segment whose operators are charged
    /// together when fuel is on: at function entry, every label and after
    /// every conditional branch, so a segment runs whole or not at all
    /// (short of a trap, call or throw inside it).
    fn start_fuel_segment(&mut self) {
        self.mark_label();
        if self.consume_fuel {
            self.code.push(Instr::ConsumeFuel(0));
            self.offsets.push(self.offset as u32);
            self.fuel_site = Some(self.code.len() - 1);
        }
    }

    /// An epoch check where the design puts them (Wasm 3.0 has no operator
    /// for it): function entry and loop headers, so every unbounded run of
    /// code passes one. Not an operator, so it costs no fuel.
    fn emit_epoch_check(&mut self) {
        if self.epoch_interruption {
            self.mark_label();
            self.code.push(Instr::CheckEpoch);
            self.offsets.push(self.offset as u32);
        }
    }

    fn close_fuel_segment(&mut self) {
        self.fuel_site = None;
    }

    fn block_arity(&mut self, bt: BlockType) -> Result<(u32, u32)> {
        if let BlockType::FuncType(_) = bt {
            self.features.insert("multi-value");
        }
        Ok(match bt {
            BlockType::Empty => (0, 0),
            BlockType::Type(wasmparser::ValType::V128) => (0, 2),
            BlockType::Type(_) => (0, 1),
            BlockType::FuncType(idx) => {
                let id = self.type_id(idx)?;
                let f =
                    self.ctx.module.engine.func_type(id).ok_or_else(|| {
                        Error::usage(format!("block type {idx} is not a function"))
                    })?;
                (f.param_cells() as u32, f.result_cells() as u32)
            }
        })
    }

    fn push_ctrl(&mut self, kind: CtrlKind, params: u32, results: u32) {
        self.mark_label();
        self.ctrls.push(Ctrl {
            kind,
            start_pc: self.pc(),
            params,
            results,
            patches: Vec::new(),
            else_site: None,
            handler: None,
            exn_local: 0,
        });
    }

    /// The branch target of label `depth` (0 = innermost), whose validator
    /// frame is at the same depth.
    fn target<T: WasmModuleResources>(
        &mut self,
        fv: &FuncValidator<T>,
        depth: u32,
        site: Patch,
    ) -> Result<BranchTarget> {
        let frame = fv
            .get_control_frame(depth as usize)
            .ok_or_else(|| Error::usage(format!("branch depth {depth} out of range")))?;
        let height = self.num_locals + self.cells_below(fv, frame.height);
        let idx = self
            .ctrls
            .len()
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| Error::usage(format!("branch depth {depth} out of range")))?;
        let ctrl = &mut self.ctrls[idx];
        if ctrl.kind == CtrlKind::Loop {
            Ok(BranchTarget {
                pc: ctrl.start_pc,
                height,
                arity: ctrl.params,
            })
        } else {
            ctrl.patches.push(site);
            Ok(BranchTarget {
                pc: u32::MAX,
                height,
                arity: ctrl.results,
            })
        }
    }

    fn is_function_label(&self, depth: u32) -> bool {
        depth as usize + 1 == self.ctrls.len()
    }

    fn patch(&mut self, site: Patch, pc: u32) {
        match site {
            Patch::Instr(i) => match &mut self.code[i] {
                Instr::Br(t)
                | Instr::BrIf(t)
                | Instr::BrOnNull(t)
                | Instr::BrOnNonNull(t)
                | Instr::BrIfZero(t)
                | Instr::BrIfZero64(t)
                | Instr::BrIfNonZero64(t)
                | Instr::BrIfNum { target: t, .. }
                | Instr::BrIfImm { target: t, .. }
                | Instr::BrIfLocal { target: t, .. }
                | Instr::BrIfLocalImm { target: t, .. }
                | Instr::BrIfLocalLocal { target: t, .. } => t.pc = pc,
                Instr::Jump(p) | Instr::BrIfEqz(p) => *p = pc,
                _ => {}
            },
            Patch::Table(i) => self.br_tables[i].pc = pc,
            Patch::Catch { handler, clause } => {
                if let HandlerKind::TryTable(c) = &mut self.handlers[handler].kind {
                    c[clause].target.pc = pc;
                }
            }
        }
    }

    fn end_block(&mut self, ctrl: Ctrl) {
        self.mark_label();
        let end = self.pc();
        if let Some(site) = ctrl.else_site {
            self.patch(Patch::Instr(site), end);
        }
        for site in ctrl.patches {
            self.patch(site, end);
        }
        if let Some(h) = ctrl.handler
            && ctrl.kind != CtrlKind::LegacyCatch
        {
            self.handlers[h].end = end;
        }
    }

    /// The branch an `if` takes to its else arm (or its end) when the
    /// condition is false (Wasm 3.0 §4.4.8 "if"). An integer comparison
    /// just before it fuses in negated (in any operand form), and
    /// `i32.eqz`/`i64.eqz` turn into a branch on non-zero, so the condition costs no dispatch of its own. Called
    /// after the validator took the `if`: its operand height is the one
    /// the arm starts at (the block's parameters included).
    fn emit_if_branch<T: WasmModuleResources>(&mut self, fv: &FuncValidator<T>) -> usize {
        let target = BranchTarget {
            pc: u32::MAX,
            height: self.num_locals + self.cells_below(fv, fv.operand_stack_height() as usize),
            arity: 0,
        };
        let fused = match self.fusable_last() {
            Some(Instr::Num(NumOp::I32Eqz)) => Some(Instr::BrIf(target)),
            Some(Instr::Num(NumOp::I64Eqz)) => Some(Instr::BrIfNonZero64(target)),
            Some(Instr::Num(op)) => negated(op).map(|op| Instr::BrIfNum { op, target }),
            Some(Instr::NumImm { op, imm }) => {
                negated(op).map(|op| Instr::BrIfImm { op, imm, target })
            }
            Some(Instr::NumLocal { op, local }) => {
                negated(op).map(|op| Instr::BrIfLocal { op, local, target })
            }
            Some(Instr::NumLocalImm { op, local, imm }) => {
                negated(op).map(|op| Instr::BrIfLocalImm {
                    op,
                    local,
                    imm,
                    target,
                })
            }
            Some(Instr::NumLocalLocal { op, a, b }) => {
                negated(op).map(|op| Instr::BrIfLocalLocal { op, a, b, target })
            }
            _ => None,
        };
        match fused {
            Some(instr) => {
                self.fuse_last(instr);
                self.code.len() - 1
            }
            None => self.emit(Instr::BrIfEqz(u32::MAX)),
        }
    }

    fn emit_branch<T: WasmModuleResources>(
        &mut self,
        fv: &FuncValidator<T>,
        depth: u32,
        make: fn(BranchTarget) -> Instr,
    ) -> Result<()> {
        let site = Patch::Instr(self.code.len());
        let target = self.target(fv, depth, site)?;
        self.emit(make(target));
        Ok(())
    }

    fn visit<T: WasmModuleResources>(
        &mut self,
        fv: &FuncValidator<T>,
        op: Operator<'_>,
        reachable: bool,
        ctrl_height_before: u32,
    ) -> Result<()> {
        use Operator as O;
        // Structured control is tracked even in unreachable code.
        match op {
            O::Block { blockty } => {
                let (p, r) = self.block_arity(blockty)?;
                self.push_ctrl(CtrlKind::Block, p, r);
                return Ok(());
            }
            O::Loop { blockty } => {
                let (p, r) = self.block_arity(blockty)?;
                // The loop label is the fuel charge itself, so every
                // iteration pays (a back-edge lands on `ConsumeFuel`).
                self.push_ctrl(CtrlKind::Loop, p, r);
                self.emit_epoch_check();
                self.start_fuel_segment();
                return Ok(());
            }
            O::If { blockty } => {
                let (p, r) = self.block_arity(blockty)?;
                let site = if reachable {
                    Some(self.emit_if_branch(fv))
                } else {
                    None
                };
                self.push_ctrl(CtrlKind::If, p, r);
                if let Some(c) = self.ctrls.last_mut() {
                    c.else_site = site;
                }
                return Ok(());
            }
            O::Else => {
                if reachable {
                    let site = self.emit(Instr::Jump(u32::MAX));
                    if let Some(c) = self.ctrls.last_mut() {
                        c.patches.push(Patch::Instr(site));
                    }
                }
                self.mark_label();
                let pc = self.pc();
                if let Some(site) = self.ctrls.last_mut().and_then(|c| c.else_site.take()) {
                    self.patch(Patch::Instr(site), pc);
                }
                if let Some(c) = self.ctrls.last_mut() {
                    c.kind = CtrlKind::Else;
                }
                self.start_fuel_segment();
                return Ok(());
            }
            O::End => {
                let ctrl = self
                    .ctrls
                    .pop()
                    .ok_or_else(|| Error::usage("unbalanced end"))?;
                let is_function = ctrl.kind == CtrlKind::Function;
                self.end_block(ctrl);
                if is_function {
                    self.emit(Instr::Return);
                } else {
                    self.start_fuel_segment();
                }
                return Ok(());
            }
            O::TryTable { try_table } => {
                self.features.insert("exceptions");
                let (p, r) = self.block_arity(try_table.ty)?;
                self.push_ctrl(CtrlKind::TryTable, p, r);
                let handler_index = self.handlers.len();
                self.handlers.push(Handler {
                    start: self.pc(),
                    end: self.pc(),
                    depth: fv.control_stack_height().saturating_sub(1),
                    kind: HandlerKind::TryTable(Vec::new()),
                });
                let mut clauses = Vec::new();
                for (i, c) in try_table.catches.iter().enumerate() {
                    let (kind, label) = match *c {
                        wasmparser::Catch::One { tag, label } => (CatchKind::Tag(tag), label),
                        wasmparser::Catch::OneRef { tag, label } => (CatchKind::TagRef(tag), label),
                        wasmparser::Catch::All { label } => (CatchKind::All, label),
                        wasmparser::Catch::AllRef { label } => (CatchKind::AllRef, label),
                    };
                    // Catch labels are relative to the block around the try_table.
                    let site = Patch::Catch {
                        handler: handler_index,
                        clause: i,
                    };
                    // A catch to the function label lands on the final
                    // `Return`, like any branch to it.
                    let target = self.target(fv, label + 1, site)?;
                    clauses.push(Catch { kind, target });
                }
                self.handlers[handler_index].kind = HandlerKind::TryTable(clauses);
                if let Some(c) = self.ctrls.last_mut() {
                    c.handler = Some(handler_index);
                }
                return Ok(());
            }
            O::Try { blockty } => {
                self.features.insert("exceptions");
                let (p, r) = self.block_arity(blockty)?;
                self.push_ctrl(CtrlKind::LegacyTry, p, r);
                let exn_local = self.next_exn_local;
                self.next_exn_local += 1;
                let handler_index = self.handlers.len();
                self.handlers.push(Handler {
                    start: self.pc(),
                    end: self.pc(),
                    depth: fv.control_stack_height().saturating_sub(1),
                    kind: HandlerKind::Legacy {
                        catches: Vec::new(),
                        exn_local,
                    },
                });
                if let Some(c) = self.ctrls.last_mut() {
                    c.handler = Some(handler_index);
                    c.exn_local = exn_local;
                }
                return Ok(());
            }
            O::Catch { .. } | O::CatchAll => {
                if reachable {
                    let site = self.emit(Instr::Jump(u32::MAX));
                    if let Some(c) = self.ctrls.last_mut() {
                        c.patches.push(Patch::Instr(site));
                    }
                }
                self.mark_label();
                let pc = self.pc();
                let frame = fv
                    .get_control_frame(0)
                    .ok_or_else(|| Error::usage("catch outside try"))?;
                let height = self.num_locals + self.cells_below(fv, frame.height);
                let (kind, arity) = match op {
                    O::Catch { tag_index } => {
                        let arity = self.tag_arity(tag_index)?;
                        (CatchKind::Tag(tag_index), arity)
                    }
                    _ => (CatchKind::All, 0),
                };
                let ctrl = self
                    .ctrls
                    .last_mut()
                    .ok_or_else(|| Error::usage("catch outside try"))?;
                let handler = ctrl
                    .handler
                    .ok_or_else(|| Error::usage("catch outside try"))?;
                let first = ctrl.kind == CtrlKind::LegacyTry;
                ctrl.kind = CtrlKind::LegacyCatch;
                let h = &mut self.handlers[handler];
                if first {
                    h.end = pc;
                }
                if let HandlerKind::Legacy { catches, .. } = &mut h.kind {
                    catches.push(Catch {
                        kind,
                        target: BranchTarget { pc, height, arity },
                    });
                }
                self.start_fuel_segment();
                return Ok(());
            }
            O::Delegate { relative_depth } => {
                let ctrl = self
                    .ctrls
                    .pop()
                    .ok_or_else(|| Error::usage("delegate outside try"))?;
                // The validator has popped the try frame: the label counts
                // from the block around it (Wasm legacy EH, `delegate`).
                let target_depth = (ctrl_height_before - 1)
                    .saturating_sub(1)
                    .saturating_sub(relative_depth);
                if let Some(h) = ctrl.handler {
                    self.handlers[h].kind = HandlerKind::Delegate { target_depth };
                }
                self.end_block(ctrl);
                self.start_fuel_segment();
                return Ok(());
            }
            _ => {}
        }
        if !reachable {
            return Ok(());
        }
        self.visit_plain(fv, op)
    }

    fn tag_arity(&self, tag: u32) -> Result<u32> {
        let m = self.ctx.module;
        let id = m
            .tags
            .get(tag as usize)
            .copied()
            .ok_or_else(|| Error::usage(format!("tag {tag} out of range")))?;
        Ok(m.engine
            .func_type(id)
            .map(|f| f.param_cells() as u32)
            .unwrap_or(0))
    }

    /// Cells taken by the bottom `values` operands of the operand stack
    /// (Wasm values; a `v128` takes two cells).
    fn cells_below<T: WasmModuleResources>(&self, fv: &FuncValidator<T>, values: usize) -> u32 {
        if !self.wide {
            return values as u32;
        }
        let total = fv.operand_stack_height() as usize;
        let wide = (0..values.min(total))
            .filter(|j| fv.get_operand_type(total - 1 - j) == Some(Some(wasmparser::ValType::V128)))
            .count();
        (values + wide) as u32
    }

    /// The cell of local `index` and whether it is a `v128` (two cells).
    fn local(&self, index: u32) -> (u32, bool) {
        match &self.local_cells {
            None => (index, false),
            Some(offsets) => {
                // Validation bounds `index` by the declared locals.
                let at = offsets.get(index as usize).copied().unwrap_or(index);
                let next = offsets.get(index as usize + 1).copied().unwrap_or(at + 1);
                (at, next - at == 2)
            }
        }
    }

    /// A SIMD operator was seen: from here on a `v128` may be on the
    /// operand stack.
    fn note_simd(&mut self, relaxed: bool) {
        self.wide = true;
        self.features
            .insert(if relaxed { "relaxed-simd" } else { "simd" });
    }

    fn global_is_v128(&self, index: u32) -> bool {
        self.ctx
            .module
            .globals
            .get(index as usize)
            .is_some_and(|g| g.content == crate::types::ValType::V128)
    }

    fn type_id(&self, idx: u32) -> Result<crate::types::TypeId> {
        self.ctx
            .module
            .types
            .get(idx as usize)
            .copied()
            .ok_or_else(|| Error::usage(format!("type index {idx} out of range")))
    }

    /// Operators with no structured-control effect, in reachable code.
    fn visit_plain<T: WasmModuleResources>(
        &mut self,
        fv: &FuncValidator<T>,
        op: Operator<'_>,
    ) -> Result<()> {
        use Operator as O;
        let memories = &self.ctx.module.memories;
        let mem = |memarg: wasmparser::MemArg| {
            let mem = match memarg.target {
                wasmparser::MemArgTarget::Memory(m) => m,
                wasmparser::MemArgTarget::Array(m) => m,
            };
            MemArg {
                mem,
                offset: memarg.offset,
                // Validation checked the index.
                memory64: memories.get(mem as usize).is_some_and(|t| t.memory64),
            }
        };
        let instr = match op {
            O::Unreachable => Instr::Unreachable,
            O::Nop => return Ok(()),
            O::Br { relative_depth } => {
                if self.is_function_label(relative_depth) {
                    Instr::Return
                } else {
                    return self.emit_branch(fv, relative_depth, Instr::Br);
                }
            }
            O::BrIf { relative_depth } => {
                let placeholder = BranchTarget {
                    pc: 0,
                    height: 0,
                    arity: 0,
                };
                if let Some(last) = self.fusable_last()
                    && branch_on(last, placeholder).is_some()
                {
                    let site = Patch::Instr(self.code.len() - 1);
                    let target = self.target(fv, relative_depth, site)?;
                    if let Some(fused) = branch_on(last, target) {
                        self.fuse_last(fused);
                    }
                    return Ok(());
                }
                return self.emit_branch(fv, relative_depth, Instr::BrIf);
            }
            O::BrOnNull { relative_depth } => {
                self.features.insert("function-references");
                return self.emit_branch(fv, relative_depth, Instr::BrOnNull);
            }
            O::BrOnNonNull { relative_depth } => {
                self.features.insert("function-references");
                return self.emit_branch(fv, relative_depth, Instr::BrOnNonNull);
            }
            O::BrTable { targets } => {
                let first = self.br_tables.len() as u32;
                let mut depths = Vec::with_capacity(targets.len() as usize + 1);
                for t in targets.targets() {
                    depths.push(t.map_err(wp_err)?);
                }
                depths.push(targets.default());
                for d in depths.iter().copied() {
                    let site = Patch::Table(self.br_tables.len());
                    let target = self.target(fv, d, site)?;
                    self.br_tables.push(target);
                }
                Instr::BrTable {
                    first,
                    count: depths.len() as u32 - 1,
                }
            }
            O::Return => Instr::Return,
            O::Call { function_index } => Instr::Call(function_index),
            O::CallIndirect {
                type_index,
                table_index,
            } => Instr::CallIndirect {
                type_id: self.type_id(type_index)?,
                table: table_index,
            },
            O::ReturnCall { function_index } => {
                self.features.insert("tail-call");
                Instr::ReturnCall(function_index)
            }
            O::ReturnCallIndirect {
                type_index,
                table_index,
            } => {
                self.features.insert("tail-call");
                Instr::ReturnCallIndirect {
                    type_id: self.type_id(type_index)?,
                    table: table_index,
                }
            }
            O::CallRef { .. } => {
                self.features.insert("function-references");
                Instr::CallRef
            }
            O::ReturnCallRef { .. } => {
                self.features.insert("tail-call");
                self.features.insert("function-references");
                Instr::ReturnCallRef
            }
            O::Throw { tag_index } => Instr::Throw(tag_index),
            O::ThrowRef => Instr::ThrowRef,
            O::Rethrow { relative_depth } => {
                let idx = self
                    .ctrls
                    .len()
                    .checked_sub(1 + relative_depth as usize)
                    .ok_or_else(|| Error::usage("rethrow depth out of range"))?;
                Instr::Rethrow(self.ctrls[idx].exn_local)
            }
            O::Drop => Instr::Drop,
            O::Select | O::TypedSelect { .. } => {
                // The result is where the first operand was: its type.
                if fv.get_operand_type(0) == Some(Some(wasmparser::ValType::V128)) {
                    Instr::SelectV128
                } else {
                    Instr::Select
                }
            }
            // A `v128` local is two cells, moved one at a time.
            O::LocalGet { local_index } => match self.local(local_index) {
                (cell, false) => Instr::LocalGet(cell),
                (cell, true) => {
                    self.emit(Instr::LocalGet(cell));
                    Instr::LocalGet(cell + 1)
                }
            },
            O::LocalSet { local_index } => match self.local(local_index) {
                (cell, false) => {
                    if self.fuse_into_set(cell) {
                        return Ok(());
                    }
                    Instr::LocalSet(cell)
                }
                (cell, true) => {
                    self.emit(Instr::LocalSet(cell + 1));
                    Instr::LocalSet(cell)
                }
            },
            // `x = a op b` stored, then read back: the read fuses on with
            // whatever takes the value (a loop counter's `local.tee` and
            // its bound check become two instructions).
            O::LocalTee { local_index } => match self.local(local_index) {
                (cell, false) => {
                    if self.fuse_into_set(cell) {
                        Instr::LocalGet(cell)
                    } else {
                        Instr::LocalTee(cell)
                    }
                }
                (cell, true) => {
                    self.emit(Instr::LocalSet(cell + 1));
                    self.emit(Instr::LocalTee(cell));
                    Instr::LocalGet(cell + 1)
                }
            },
            O::GlobalGet { global_index } if self.global_is_v128(global_index) => {
                Instr::GlobalGetV128(global_index)
            }
            O::GlobalSet { global_index } if self.global_is_v128(global_index) => {
                Instr::GlobalSetV128(global_index)
            }
            O::GlobalGet { global_index } => Instr::GlobalGet(global_index),
            O::GlobalSet { global_index } => Instr::GlobalSet(global_index),
            O::I32Load { memarg } | O::F32Load { memarg } => {
                Instr::Load(LoadKind::W32, mem(memarg))
            }
            O::I64Load { memarg } | O::F64Load { memarg } => {
                Instr::Load(LoadKind::W64, mem(memarg))
            }
            O::I32Load8S { memarg } => Instr::Load(LoadKind::I32S8, mem(memarg)),
            O::I32Load8U { memarg } | O::I64Load8U { memarg } => {
                Instr::Load(LoadKind::U8, mem(memarg))
            }
            O::I32Load16S { memarg } => Instr::Load(LoadKind::I32S16, mem(memarg)),
            O::I32Load16U { memarg } | O::I64Load16U { memarg } => {
                Instr::Load(LoadKind::U16, mem(memarg))
            }
            O::I64Load8S { memarg } => Instr::Load(LoadKind::I64S8, mem(memarg)),
            O::I64Load16S { memarg } => Instr::Load(LoadKind::I64S16, mem(memarg)),
            O::I64Load32S { memarg } => Instr::Load(LoadKind::I64S32, mem(memarg)),
            O::I64Load32U { memarg } => Instr::Load(LoadKind::U32, mem(memarg)),
            O::I32Store { memarg } | O::F32Store { memarg } | O::I64Store32 { memarg } => {
                Instr::Store(StoreKind::B32, mem(memarg))
            }
            O::I64Store { memarg } | O::F64Store { memarg } => {
                Instr::Store(StoreKind::B64, mem(memarg))
            }
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                Instr::Store(StoreKind::B8, mem(memarg))
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                Instr::Store(StoreKind::B16, mem(memarg))
            }
            O::MemorySize { mem } => Instr::MemorySize(mem),
            O::MemoryGrow { mem } => Instr::MemoryGrow(mem),
            O::MemoryFill { mem } => Instr::MemoryFill(mem),
            O::MemoryCopy { dst_mem, src_mem } => Instr::MemoryCopy {
                dst: dst_mem,
                src: src_mem,
            },
            O::MemoryInit { data_index, mem } => Instr::MemoryInit {
                mem,
                data: data_index,
            },
            O::DataDrop { data_index } => Instr::DataDrop(data_index),
            O::TableGet { table } => Instr::TableGet(table),
            O::TableSet { table } => Instr::TableSet(table),
            O::TableSize { table } => Instr::TableSize(table),
            O::TableGrow { table } => Instr::TableGrow(table),
            O::TableFill { table } => Instr::TableFill(table),
            O::TableCopy {
                dst_table,
                src_table,
            } => Instr::TableCopy {
                dst: dst_table,
                src: src_table,
            },
            O::TableInit { elem_index, table } => Instr::TableInit {
                table,
                elem: elem_index,
            },
            O::ElemDrop { elem_index } => Instr::ElemDrop(elem_index),
            // A `v128` constant is its two cells (Wasm 3.0 §4.4.4 v128.const).
            O::V128Const { value } => {
                self.note_simd(false);
                let [lo, hi] = crate::values::v128_to_cells(u128::from_le_bytes(*value.bytes()));
                self.emit(Instr::Const(lo));
                Instr::Const(hi)
            }
            O::I8x16Shuffle { lanes } => Instr::Shuffle(lanes),
            O::V128Load { memarg } => Instr::V128Load(V128LoadKind::Full, mem(memarg)),
            O::V128Load8x8S { memarg } => Instr::V128Load(V128LoadKind::S8x8, mem(memarg)),
            O::V128Load8x8U { memarg } => Instr::V128Load(V128LoadKind::U8x8, mem(memarg)),
            O::V128Load16x4S { memarg } => Instr::V128Load(V128LoadKind::S16x4, mem(memarg)),
            O::V128Load16x4U { memarg } => Instr::V128Load(V128LoadKind::U16x4, mem(memarg)),
            O::V128Load32x2S { memarg } => Instr::V128Load(V128LoadKind::S32x2, mem(memarg)),
            O::V128Load32x2U { memarg } => Instr::V128Load(V128LoadKind::U32x2, mem(memarg)),
            O::V128Load8Splat { memarg } => Instr::V128Load(V128LoadKind::Splat8, mem(memarg)),
            O::V128Load16Splat { memarg } => Instr::V128Load(V128LoadKind::Splat16, mem(memarg)),
            O::V128Load32Splat { memarg } => Instr::V128Load(V128LoadKind::Splat32, mem(memarg)),
            O::V128Load64Splat { memarg } => Instr::V128Load(V128LoadKind::Splat64, mem(memarg)),
            O::V128Load32Zero { memarg } => Instr::V128Load(V128LoadKind::Zero32, mem(memarg)),
            O::V128Load64Zero { memarg } => Instr::V128Load(V128LoadKind::Zero64, mem(memarg)),
            O::V128Store { memarg } => Instr::V128Store(mem(memarg)),
            O::V128Load8Lane { memarg, lane }
            | O::V128Load16Lane { memarg, lane }
            | O::V128Load32Lane { memarg, lane }
            | O::V128Load64Lane { memarg, lane }
            | O::V128Store8Lane { memarg, lane }
            | O::V128Store16Lane { memarg, lane }
            | O::V128Store32Lane { memarg, lane }
            | O::V128Store64Lane { memarg, lane } => {
                let (bytes, store) = lane_access(&op);
                let arg = mem(memarg);
                if store {
                    Instr::V128StoreLane { bytes, lane, arg }
                } else {
                    Instr::V128LoadLane { bytes, lane, arg }
                }
            }
            O::I32Const { value } => Instr::Const(value as u32 as u64),
            O::I64Const { value } => Instr::Const(value as u64),
            O::F32Const { value } => Instr::Const(u64::from(value.bits())),
            O::F64Const { value } => Instr::Const(value.bits()),
            O::RefNull { .. } => Instr::Const(crate::values::NULL_REF),
            O::RefIsNull => Instr::RefIsNull,
            O::RefFunc { function_index } => Instr::RefFunc(function_index),
            O::RefAsNonNull => {
                self.features.insert("function-references");
                Instr::RefAsNonNull
            }
            O::RefEq => Instr::RefEq,
            // Reinterpretations keep the bits: cells already hold them.
            O::I32ReinterpretF32
            | O::F32ReinterpretI32
            | O::I64ReinterpretF64
            | O::F64ReinterpretI64 => return Ok(()),
            other => match numeric(&other) {
                Some(op) if is_binary(op) => match self.fusable_last() {
                    Some(Instr::Const(imm)) => {
                        // `local.get a; const; op` becomes one instruction
                        // when the constant survives a 32-bit round trip.
                        // 32-bit operators read only the low half of a cell.
                        let small = imm as i64 as i32;
                        let fits = !has_64bit_operands(op) || small as i64 as u64 == imm;
                        let before = self.code.len().checked_sub(2).map(|i| self.code[i]);
                        match before {
                            Some(Instr::LocalGet(local))
                                if fits && self.code.len() - 1 > self.label_at =>
                            {
                                self.code.pop();
                                self.offsets.pop();
                                self.fuse_last(Instr::NumLocalImm {
                                    op,
                                    local,
                                    imm: small,
                                });
                            }
                            _ => self.fuse_last(Instr::NumImm { op, imm }),
                        }
                        return Ok(());
                    }
                    Some(Instr::LocalGet(b)) => {
                        let before = self.code.len().checked_sub(2).map(|i| self.code[i]);
                        match before {
                            Some(Instr::LocalGet(a)) if self.code.len() - 1 > self.label_at => {
                                self.code.pop();
                                self.offsets.pop();
                                self.fuse_last(Instr::NumLocalLocal { op, a, b });
                            }
                            _ => self.fuse_last(Instr::NumLocal { op, local: b }),
                        }
                        return Ok(());
                    }
                    _ => Instr::Num(op),
                },
                Some(op) => Instr::Num(op),
                None => match simd_op(&other) {
                    Some((op, lane)) => Instr::Simd(op, lane),
                    None => return Err(self.unsupported_op(&other)),
                },
            },
        };
        if let Some(relaxed) = simd_kind(&instr) {
            self.note_simd(relaxed);
        }
        // A load whose address is a local reads it itself.
        if let Instr::Load(kind, arg) = instr
            && let Some(Instr::LocalGet(local)) = self.fusable_last()
        {
            self.fuse_last(Instr::LoadLocal {
                kind,
                memory64: arg.memory64,
                mem: arg.mem,
                local,
                offset: arg.offset,
            });
            return Ok(());
        }
        if let Some(feature) = proposal_of(&instr) {
            self.features.insert(feature);
        }
        self.emit(instr);
        Ok(())
    }

    /// Stores the result of the last instruction straight to local `dst`
    /// when it is a fused operator on locals and constants (whose operands
    /// are read before the store, so `dst` may be one of them). Returns
    /// whether it did.
    fn fuse_into_set(&mut self, dst: u32) -> bool {
        let fused = match self.fusable_last() {
            Some(Instr::NumLocalImm { op, local, imm }) => Instr::NumLocalImmSet {
                op,
                local,
                imm,
                dst,
            },
            Some(Instr::NumLocalLocal { op, a, b }) => Instr::NumLocalLocalSet { op, a, b, dst },
            _ => return false,
        };
        self.fuse_last(fused);
        true
    }

    fn unsupported_op(&self, op: &Operator<'_>) -> Error {
        let name = format!("{op:?}");
        let name = name.split([' ', '{', '(']).next().unwrap_or("operator");
        let simd_prefixes = ["V128", "I8x16", "I16x8", "I32x4", "I64x2", "F32x4", "F64x2"];
        let what = if simd_prefixes.iter().any(|p| name.starts_with(p)) {
            format!("SIMD operator {name}")
        } else if name.contains("Atomic") || name.starts_with("MemoryAtomic") {
            format!("threads operator {name}")
        } else {
            format!("GC operator {name}")
        };
        unsupported(&what, self.offset)
    }
}

/// Whether an operator takes two operands (and so can take its right one
/// from a constant or a local). Binary operators are the ones before the
/// conversions in `NumOp`, minus the unary arithmetic.
fn is_binary(op: NumOp) -> bool {
    use NumOp as N;
    !matches!(
        op,
        N::I32Eqz
            | N::I64Eqz
            | N::I32Clz
            | N::I32Ctz
            | N::I32Popcnt
            | N::I64Clz
            | N::I64Ctz
            | N::I64Popcnt
            | N::F32Abs
            | N::F32Neg
            | N::F32Ceil
            | N::F32Floor
            | N::F32Trunc
            | N::F32Nearest
            | N::F32Sqrt
            | N::F64Abs
            | N::F64Neg
            | N::F64Ceil
            | N::F64Floor
            | N::F64Trunc
            | N::F64Nearest
            | N::F64Sqrt
    ) && (op as u8) < (N::I32WrapI64 as u8)
}

/// Whether an instruction is a SIMD one: Some(true) for relaxed SIMD.
fn simd_kind(instr: &Instr) -> Option<bool> {
    match instr {
        Instr::Simd(op, _) => Some(
            (SimdOp::I8x16RelaxedSwizzle as u8..=SimdOp::I32x4RelaxedDotI8x16I7x16AddS as u8)
                .contains(&(*op as u8)),
        ),
        Instr::Shuffle(_)
        | Instr::V128Load(..)
        | Instr::V128Store(_)
        | Instr::V128LoadLane { .. }
        | Instr::V128StoreLane { .. }
        | Instr::GlobalGetV128(_)
        | Instr::GlobalSetV128(_)
        | Instr::SelectV128 => Some(false),
        _ => None,
    }
}

/// The access width of a `v128` lane load or store, and whether it stores.
fn lane_access(op: &Operator<'_>) -> (u8, bool) {
    use Operator as O;
    match op {
        O::V128Load8Lane { .. } => (1, false),
        O::V128Load16Lane { .. } => (2, false),
        O::V128Load32Lane { .. } => (4, false),
        O::V128Load64Lane { .. } => (8, false),
        O::V128Store8Lane { .. } => (1, true),
        O::V128Store16Lane { .. } => (2, true),
        O::V128Store32Lane { .. } => (4, true),
        _ => (8, true),
    }
}

/// The fused conditional branch of a comparison instruction, if it is one.
fn branch_on(last: Instr, target: BranchTarget) -> Option<Instr> {
    Some(match last {
        Instr::Num(NumOp::I32Eqz) => Instr::BrIfZero(target),
        Instr::Num(NumOp::I64Eqz) => Instr::BrIfZero64(target),
        Instr::Num(op) if is_condition(op) => Instr::BrIfNum { op, target },
        Instr::NumImm { op, imm } if is_condition(op) => Instr::BrIfImm { op, imm, target },
        Instr::NumLocal { op, local } if is_condition(op) => Instr::BrIfLocal { op, local, target },
        Instr::NumLocalImm { op, local, imm } if is_condition(op) => Instr::BrIfLocalImm {
            op,
            local,
            imm,
            target,
        },
        Instr::NumLocalLocal { op, a, b } if is_condition(op) => {
            Instr::BrIfLocalLocal { op, a, b, target }
        }
        _ => return None,
    })
}

/// The integer comparison true exactly when `op` is false. Float
/// comparisons have none: with a NaN operand both `lt` and `ge` are false
/// (Wasm 3.0 §4.3.3).
fn negated(op: NumOp) -> Option<NumOp> {
    use NumOp as N;
    Some(match op {
        N::I32Eq => N::I32Ne,
        N::I32Ne => N::I32Eq,
        N::I32LtS => N::I32GeS,
        N::I32GeS => N::I32LtS,
        N::I32LtU => N::I32GeU,
        N::I32GeU => N::I32LtU,
        N::I32GtS => N::I32LeS,
        N::I32LeS => N::I32GtS,
        N::I32GtU => N::I32LeU,
        N::I32LeU => N::I32GtU,
        N::I64Eq => N::I64Ne,
        N::I64Ne => N::I64Eq,
        N::I64LtS => N::I64GeS,
        N::I64GeS => N::I64LtS,
        N::I64LtU => N::I64GeU,
        N::I64GeU => N::I64LtU,
        N::I64GtS => N::I64LeS,
        N::I64LeS => N::I64GtS,
        N::I64GtU => N::I64LeU,
        N::I64LeU => N::I64GtU,
        _ => return None,
    })
}

/// Whether a binary operator's operands are 64 bits wide (i64 or f64).
fn has_64bit_operands(op: NumOp) -> bool {
    use NumOp as N;
    matches!(
        op,
        N::I64Eq
            | N::I64Ne
            | N::I64LtS
            | N::I64LtU
            | N::I64GtS
            | N::I64GtU
            | N::I64LeS
            | N::I64LeU
            | N::I64GeS
            | N::I64GeU
            | N::F64Eq
            | N::F64Ne
            | N::F64Lt
            | N::F64Gt
            | N::F64Le
            | N::F64Ge
            | N::I64Add
            | N::I64Sub
            | N::I64Mul
            | N::I64DivS
            | N::I64DivU
            | N::I64RemS
            | N::I64RemU
            | N::I64And
            | N::I64Or
            | N::I64Xor
            | N::I64Shl
            | N::I64ShrS
            | N::I64ShrU
            | N::I64Rotl
            | N::I64Rotr
            | N::F64Add
            | N::F64Sub
            | N::F64Mul
            | N::F64Div
            | N::F64Min
            | N::F64Max
            | N::F64Copysign
    )
}

/// Whether an operator is a comparison (the first group of `NumOp`), whose
/// i32 result is worth fusing into `br_if`.
fn is_condition(op: NumOp) -> bool {
    (op as u8) <= (NumOp::F64Ge as u8)
}

/// The post-1.0 proposal an instruction comes from, for `wrun inspect`.
fn proposal_of(instr: &Instr) -> Option<&'static str> {
    use NumOp as N;
    Some(match instr {
        Instr::Num(
            N::I32Extend8S | N::I32Extend16S | N::I64Extend8S | N::I64Extend16S | N::I64Extend32S,
        ) => "sign-extension-ops",
        Instr::Num(
            N::I32TruncSatF32S
            | N::I32TruncSatF32U
            | N::I32TruncSatF64S
            | N::I32TruncSatF64U
            | N::I64TruncSatF32S
            | N::I64TruncSatF32U
            | N::I64TruncSatF64S
            | N::I64TruncSatF64U,
        ) => "nontrapping-float-to-int-conversions",
        Instr::MemoryFill(_)
        | Instr::MemoryCopy { .. }
        | Instr::MemoryInit { .. }
        | Instr::DataDrop(_)
        | Instr::TableCopy { .. }
        | Instr::TableInit { .. }
        | Instr::ElemDrop(_) => "bulk-memory",
        Instr::TableGet(_)
        | Instr::TableSet(_)
        | Instr::TableSize(_)
        | Instr::TableGrow(_)
        | Instr::TableFill(_)
        | Instr::RefFunc(_)
        | Instr::RefIsNull => "reference-types",
        Instr::CallIndirect { table, .. } if *table != 0 => "reference-types",
        Instr::RefEq => "gc",
        _ => return None,
    })
}

fn wp_err(e: wasmparser::BinaryReaderError) -> Error {
    Error::Compile(crate::error::CompileError {
        kind: crate::error::CompileErrorKind::Invalid,
        message: e.message().to_string(),
        offset: Some(e.offset()),
    })
}

/// The numeric operator for a wasmparser operator, if it is one.
fn numeric(op: &Operator<'_>) -> Option<NumOp> {
    use NumOp as N;
    use Operator as O;
    Some(match op {
        O::I32Eqz => N::I32Eqz,
        O::I32Eq => N::I32Eq,
        O::I32Ne => N::I32Ne,
        O::I32LtS => N::I32LtS,
        O::I32LtU => N::I32LtU,
        O::I32GtS => N::I32GtS,
        O::I32GtU => N::I32GtU,
        O::I32LeS => N::I32LeS,
        O::I32LeU => N::I32LeU,
        O::I32GeS => N::I32GeS,
        O::I32GeU => N::I32GeU,
        O::I64Eqz => N::I64Eqz,
        O::I64Eq => N::I64Eq,
        O::I64Ne => N::I64Ne,
        O::I64LtS => N::I64LtS,
        O::I64LtU => N::I64LtU,
        O::I64GtS => N::I64GtS,
        O::I64GtU => N::I64GtU,
        O::I64LeS => N::I64LeS,
        O::I64LeU => N::I64LeU,
        O::I64GeS => N::I64GeS,
        O::I64GeU => N::I64GeU,
        O::F32Eq => N::F32Eq,
        O::F32Ne => N::F32Ne,
        O::F32Lt => N::F32Lt,
        O::F32Gt => N::F32Gt,
        O::F32Le => N::F32Le,
        O::F32Ge => N::F32Ge,
        O::F64Eq => N::F64Eq,
        O::F64Ne => N::F64Ne,
        O::F64Lt => N::F64Lt,
        O::F64Gt => N::F64Gt,
        O::F64Le => N::F64Le,
        O::F64Ge => N::F64Ge,
        O::I32Clz => N::I32Clz,
        O::I32Ctz => N::I32Ctz,
        O::I32Popcnt => N::I32Popcnt,
        O::I32Add => N::I32Add,
        O::I32Sub => N::I32Sub,
        O::I32Mul => N::I32Mul,
        O::I32DivS => N::I32DivS,
        O::I32DivU => N::I32DivU,
        O::I32RemS => N::I32RemS,
        O::I32RemU => N::I32RemU,
        O::I32And => N::I32And,
        O::I32Or => N::I32Or,
        O::I32Xor => N::I32Xor,
        O::I32Shl => N::I32Shl,
        O::I32ShrS => N::I32ShrS,
        O::I32ShrU => N::I32ShrU,
        O::I32Rotl => N::I32Rotl,
        O::I32Rotr => N::I32Rotr,
        O::I64Clz => N::I64Clz,
        O::I64Ctz => N::I64Ctz,
        O::I64Popcnt => N::I64Popcnt,
        O::I64Add => N::I64Add,
        O::I64Sub => N::I64Sub,
        O::I64Mul => N::I64Mul,
        O::I64DivS => N::I64DivS,
        O::I64DivU => N::I64DivU,
        O::I64RemS => N::I64RemS,
        O::I64RemU => N::I64RemU,
        O::I64And => N::I64And,
        O::I64Or => N::I64Or,
        O::I64Xor => N::I64Xor,
        O::I64Shl => N::I64Shl,
        O::I64ShrS => N::I64ShrS,
        O::I64ShrU => N::I64ShrU,
        O::I64Rotl => N::I64Rotl,
        O::I64Rotr => N::I64Rotr,
        O::F32Abs => N::F32Abs,
        O::F32Neg => N::F32Neg,
        O::F32Ceil => N::F32Ceil,
        O::F32Floor => N::F32Floor,
        O::F32Trunc => N::F32Trunc,
        O::F32Nearest => N::F32Nearest,
        O::F32Sqrt => N::F32Sqrt,
        O::F32Add => N::F32Add,
        O::F32Sub => N::F32Sub,
        O::F32Mul => N::F32Mul,
        O::F32Div => N::F32Div,
        O::F32Min => N::F32Min,
        O::F32Max => N::F32Max,
        O::F32Copysign => N::F32Copysign,
        O::F64Abs => N::F64Abs,
        O::F64Neg => N::F64Neg,
        O::F64Ceil => N::F64Ceil,
        O::F64Floor => N::F64Floor,
        O::F64Trunc => N::F64Trunc,
        O::F64Nearest => N::F64Nearest,
        O::F64Sqrt => N::F64Sqrt,
        O::F64Add => N::F64Add,
        O::F64Sub => N::F64Sub,
        O::F64Mul => N::F64Mul,
        O::F64Div => N::F64Div,
        O::F64Min => N::F64Min,
        O::F64Max => N::F64Max,
        O::F64Copysign => N::F64Copysign,
        O::I32WrapI64 => N::I32WrapI64,
        O::I32TruncF32S => N::I32TruncF32S,
        O::I32TruncF32U => N::I32TruncF32U,
        O::I32TruncF64S => N::I32TruncF64S,
        O::I32TruncF64U => N::I32TruncF64U,
        O::I64ExtendI32S => N::I64ExtendI32S,
        O::I64ExtendI32U => N::I64ExtendI32U,
        O::I64TruncF32S => N::I64TruncF32S,
        O::I64TruncF32U => N::I64TruncF32U,
        O::I64TruncF64S => N::I64TruncF64S,
        O::I64TruncF64U => N::I64TruncF64U,
        O::F32ConvertI32S => N::F32ConvertI32S,
        O::F32ConvertI32U => N::F32ConvertI32U,
        O::F32ConvertI64S => N::F32ConvertI64S,
        O::F32ConvertI64U => N::F32ConvertI64U,
        O::F32DemoteF64 => N::F32DemoteF64,
        O::F64ConvertI32S => N::F64ConvertI32S,
        O::F64ConvertI32U => N::F64ConvertI32U,
        O::F64ConvertI64S => N::F64ConvertI64S,
        O::F64ConvertI64U => N::F64ConvertI64U,
        O::F64PromoteF32 => N::F64PromoteF32,
        O::I32Extend8S => N::I32Extend8S,
        O::I32Extend16S => N::I32Extend16S,
        O::I64Extend8S => N::I64Extend8S,
        O::I64Extend16S => N::I64Extend16S,
        O::I64Extend32S => N::I64Extend32S,
        O::I32TruncSatF32S => N::I32TruncSatF32S,
        O::I32TruncSatF32U => N::I32TruncSatF32U,
        O::I32TruncSatF64S => N::I32TruncSatF64S,
        O::I32TruncSatF64U => N::I32TruncSatF64U,
        O::I64TruncSatF32S => N::I64TruncSatF32S,
        O::I64TruncSatF32U => N::I64TruncSatF32U,
        O::I64TruncSatF64S => N::I64TruncSatF64S,
        O::I64TruncSatF64U => N::I64TruncSatF64U,
        _ => return None,
    })
}

//! Compiling one function: each operator updates the value stack and asks
//! the macro-assembler for code. Operators the generator does not handle
//! yet end compilation with `CompileError::Unsupported`, so the embedder
//! falls back to the interpreter instead of running wrong code.

use wasmparser::{BlockType, FunctionBody, Operator};

use super::ModuleInfo;
use super::control::{ControlFrame, FrameKind};
use super::stack::{Value, ValueStack};
use crate::masm::{
    ConvertKind, ExtendKind, FloatBinOp, FloatCmpKind, FloatSize, FloatUnOp, FrameLayout, IntBinOp,
    IntCmpKind, IntUnOp, LoadKind, MAX_TAIL_CALL_ARGS, MacroAssembler, MemoryAccess, OperandSize,
    Reg, RegImm, TrapCode, TruncKind,
};
use crate::{CATCH_ALL, CallOut, CompileError};

struct FuncGen<'a, M: MacroAssembler> {
    masm: &'a mut M,
    info: &'a ModuleInfo,
    entries: &'a [M::Label],
    stack: ValueStack,
    frames: Vec<ControlFrame<M::Label>>,
    /// Code after `br`, `return`, `unreachable` … up to the end of the
    /// innermost frame is never run and not compiled.
    reachable: bool,
    /// Locals (parameters included): cells `0..num_locals`; operand `d`
    /// is cell `num_locals + d` (see `cell`), so the frame's size is known
    /// only at the end, and nothing depends on it before.
    num_locals: u32,
    offset: u64,
    /// The validator's view of reachability, one flag per open frame:
    /// fuel charges the operators it deems reachable, exactly as the
    /// interpreter's translator does (Wasm 3.0 §3.4.1: a frame opened in
    /// unreachable code starts reachable).
    validator_unreachable: Vec<bool>,
    /// The straight-line segment being charged: its charge's handle (None
    /// when fuel is off or the segment is never run) and operator count.
    fuel_segment: (Option<usize>, u32),
    /// Each `try_table`'s catch clauses (`ControlFrame::extra`).
    catch_lists: Vec<Vec<wasmparser::Catch>>,
    /// The next legacy `try`'s hidden exnref local.
    next_exn_local: u32,
    /// Leaves the function with its exception pending.
    exception_exit: M::Label,
}

pub fn compile_function<M: MacroAssembler>(
    masm: &mut M,
    info: &ModuleInfo,
    entries: &[M::Label],
    index: u32,
    body: &FunctionBody<'_>,
) -> Result<(), CompileError> {
    let sig = info
        .funcs
        .get(index as usize)
        .and_then(|t| info.signature(*t))
        .ok_or_else(|| CompileError::Invalid(format!("function {index} has no signature")))?;
    let mut num_locals = sig.params.len() as u32;
    if !super::supported_signature(sig) {
        return Err(CompileError::unsupported(
            "a signature with types other than i32/i64/f32/f64",
            body.range().start,
        ));
    }
    let mut reader = body.get_binary_reader();
    for _ in 0..reader
        .read_var_u32()
        .map_err(|e| CompileError::Invalid(e.message().to_string()))?
    {
        let count = reader
            .read_var_u32()
            .map_err(|e| CompileError::Invalid(e.message().to_string()))?;
        let ty: wasmparser::ValType = reader
            .read()
            .map_err(|e| CompileError::Invalid(e.message().to_string()))?;
        if !super::supported_type(ty) {
            return Err(CompileError::unsupported(
                "a local of a type other than i32/i64/f32/f64",
                body.range().start,
            ));
        }
        num_locals = num_locals
            .checked_add(count)
            .ok_or_else(|| CompileError::Invalid("too many locals".into()))?;
    }
    // Legacy `try` blocks each get a hidden local holding the exnref a
    // `catch` took, for `rethrow` (the interpreter's scheme).
    let declared_locals = num_locals;
    let mut scan = wasmparser::OperatorsReader::new(reader.clone());
    while !scan.eof() {
        match scan.read() {
            Ok(Operator::Try { .. }) => {
                num_locals = num_locals
                    .checked_add(1)
                    .ok_or_else(|| CompileError::Invalid("too many locals".into()))?;
            }
            Ok(_) => {}
            Err(e) => return Err(CompileError::Invalid(e.message().to_string())),
        }
    }
    let setup = masm.new_label();
    let body_label = masm.new_label();
    let end = masm.new_label();
    let exception_exit = masm.exception_exit();
    masm.function_entry(setup);
    masm.bind(body_label);
    let mut g = FuncGen {
        masm,
        info,
        entries,
        stack: ValueStack::default(),
        frames: vec![ControlFrame {
            kind: FrameKind::Function,
            label: end,
            other: end,
            catch_path: exception_exit,
            pad: exception_exit,
            extra: 0,
            height: 0,
            params: 0,
            results: sig.results.len() as u32,
            dead: false,
            else_seen: false,
        }],
        reachable: true,
        num_locals,
        offset: body.range().start,
        validator_unreachable: vec![false],
        fuel_segment: (None, 0),
        catch_lists: Vec::new(),
        next_exn_local: declared_locals,
        exception_exit,
    };
    g.check_epoch();
    g.start_fuel_segment();
    let mut ops = wasmparser::OperatorsReader::new(reader);
    while !ops.eof() {
        g.offset = ops.original_position();
        let op = ops
            .read()
            .map_err(|e| CompileError::Invalid(e.message().to_string()))?;
        g.charge_operator();
        // The interpreter's segment starts (translate.rs): labels and
        // conditional branches.
        let starts_segment = matches!(
            op,
            Operator::Loop { .. }
                | Operator::Else
                | Operator::End
                | Operator::BrIf { .. }
                | Operator::BrOnNull { .. }
                | Operator::BrOnNonNull { .. }
                | Operator::Catch { .. }
                | Operator::CatchAll
                | Operator::Delegate { .. }
        );
        let is_loop = matches!(op, Operator::Loop { .. });
        g.track_validator_reachability(&op);
        g.visit(op)?;
        // The function's own `end` returns: no segment follows it.
        if starts_segment && !g.frames.is_empty() {
            if is_loop {
                g.check_epoch();
            }
            g.start_fuel_segment();
        }
    }
    g.close_fuel_segment();
    // The frame: the locals, then the most operand cells ever used.
    let layout = FrameLayout {
        cells: num_locals
            .checked_add(g.stack.max_depth)
            .ok_or_else(|| CompileError::Invalid("frame too large".into()))?,
        first_local: 0,
        params: sig.params.len() as u32,
        locals: num_locals,
    };
    g.masm.bind(setup);
    g.masm.frame_setup(layout, body_label);
    Ok(())
}

impl<M: MacroAssembler> FuncGen<'_, M> {
    /// Fuel (Wasm has no operator for it; the interpreter's rule, which
    /// every tier follows so totals agree): each operator the validator
    /// deems reachable costs 1, charged at the start of its straight-line
    /// segment; segments start at function entry, at loop headers (so each
    /// iteration pays), after `else` and `end` and after a conditional
    /// branch.
    fn charge_operator(&mut self) {
        if !self.validator_unreachable.last().copied().unwrap_or(true) {
            self.fuel_segment.1 += 1;
        }
    }

    /// Keeps [`validator_unreachable`](Self::validator_unreachable) in step
    /// with the operator about to be compiled.
    fn track_validator_reachability(&mut self, op: &Operator<'_>) {
        let flags = &mut self.validator_unreachable;
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => flags.push(false),
            Operator::Else | Operator::Catch { .. } | Operator::CatchAll => {
                if let Some(top) = flags.last_mut() {
                    *top = false;
                }
            }
            Operator::End | Operator::Delegate { .. } => {
                flags.pop();
            }
            Operator::Unreachable
            | Operator::Br { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. }
            | Operator::Throw { .. }
            | Operator::ThrowRef
            | Operator::Rethrow { .. } => {
                if let Some(top) = flags.last_mut() {
                    *top = true;
                }
            }
            _ => {}
        }
    }

    /// Ends the current fuel segment and starts the next one here (its
    /// charge emitted only where code runs).
    fn start_fuel_segment(&mut self) {
        self.close_fuel_segment();
        let Some(layout) = self.info.layout.filter(|l| l.consume_fuel) else {
            return;
        };
        let site = self
            .reachable
            .then(|| self.masm.charge_fuel(layout.store_context, layout.fuel));
        self.fuel_segment = (site, 0);
    }

    fn close_fuel_segment(&mut self) {
        if let (Some(site), count) = self.fuel_segment {
            self.masm.set_fuel_charge(site, count);
        }
        self.fuel_segment = (None, 0);
    }

    /// An epoch check (function entry, loop headers), where code runs.
    fn check_epoch(&mut self) {
        if let Some(layout) = self.info.layout.filter(|l| l.epoch_interruption)
            && self.reachable
        {
            self.masm
                .check_epoch(layout.store_context, layout.epoch, layout.epoch_deadline);
        }
    }

    fn local_cell(&self, local: u32) -> u32 {
        local
    }

    /// The cell of operand stack entry `depth`.
    fn cell(&self, depth: u32) -> u32 {
        self.num_locals + depth
    }

    /// A free register, spilling the oldest entry held in one when none
    /// is free.
    fn take_reg(&mut self) -> Result<Reg, CompileError> {
        self.take_reg_of(M::ALLOCATABLE)
    }

    /// A free float register, spilling as [`take_reg`](Self::take_reg).
    fn take_float_reg(&mut self) -> Result<Reg, CompileError> {
        self.take_reg_of(M::ALLOCATABLE_FLOAT)
    }

    fn take_reg_of(&mut self, class: &[Reg]) -> Result<Reg, CompileError> {
        if let Some(r) = self.stack.take_free(class) {
            return Ok(r);
        }
        let (depth, value) = self.stack.spill_oldest(class).ok_or_else(|| {
            CompileError::unsupported("an operator holding every register", self.offset)
        })?;
        // The spilled entry's register (a comparison's left one, its
        // right one freed) is the one handed out.
        let r = match value {
            Value::Cmp {
                kind,
                size,
                lhs,
                rhs,
            } => self.compute_cmp(kind, size, lhs, rhs),
            Value::Reg(r) => r,
            _ => return Err(self.invalid("spilled an entry without a register")),
        };
        let cell = self.cell(depth);
        self.masm.store_cell(r, cell);
        Ok(r)
    }

    /// Computes a pending comparison into its left register, which the
    /// caller now owns (the right one is freed).
    fn compute_cmp(&mut self, kind: IntCmpKind, size: OperandSize, lhs: Reg, rhs: RegImm) -> Reg {
        self.masm.int_cmp(kind, size, lhs, lhs, rhs);
        self.free(rhs);
        lhs
    }

    /// `value` (standing for stack entry `depth`, popped) in a register
    /// the caller now owns.
    fn in_reg(&mut self, depth: u32, value: Value) -> Result<Reg, CompileError> {
        match value {
            Value::Reg(r) if M::ALLOCATABLE_FLOAT.contains(&r) => {
                let g = self.take_reg()?;
                self.masm.move_reg(g, r);
                self.stack.free(r);
                return Ok(g);
            }
            Value::Reg(r) => return Ok(r),
            Value::Cmp {
                kind,
                size,
                lhs,
                rhs,
            } => return Ok(self.compute_cmp(kind, size, lhs, rhs)),
            _ => {}
        }
        let r = self.take_reg()?;
        self.load_value(r, depth, value);
        Ok(r)
    }

    /// `r = value` (standing for stack entry `depth`): a constant, a
    /// local or a cell.
    fn load_value(&mut self, r: Reg, depth: u32, value: Value) {
        match value {
            Value::Const(c) => self.masm.load_const(r, c),
            Value::Local(l) => {
                let cell = self.local_cell(l);
                self.masm.load_cell(r, cell);
            }
            _ => {
                let cell = self.cell(depth);
                self.masm.load_cell(r, cell);
            }
        }
    }

    /// `value` (standing for stack entry `depth`, popped) in a float
    /// register the caller now owns.
    fn in_float_reg(&mut self, depth: u32, value: Value) -> Result<Reg, CompileError> {
        let r = match value {
            Value::Reg(r) if M::ALLOCATABLE_FLOAT.contains(&r) => return Ok(r),
            Value::Reg(_) | Value::Cmp { .. } => self.in_reg(depth, value)?,
            _ => {
                let x = self.take_float_reg()?;
                self.load_value(x, depth, value);
                return Ok(x);
            }
        };
        let x = self.take_float_reg()?;
        self.masm.move_reg(x, r);
        self.stack.free(r);
        Ok(x)
    }

    /// Pops the top entry into a float register the caller owns.
    fn pop_float_reg(&mut self) -> Result<Reg, CompileError> {
        let (depth, value) = self.pop_value()?;
        self.in_float_reg(depth, value)
    }

    fn pop_value(&mut self) -> Result<(u32, Value), CompileError> {
        self.stack
            .pop()
            .ok_or_else(|| self.invalid("operand stack underflow"))
    }

    /// Pops the top entry into a register the caller owns.
    fn pop_reg(&mut self) -> Result<Reg, CompileError> {
        let (depth, value) = self.pop_value()?;
        self.in_reg(depth, value)
    }

    /// Pops the top entry as a right-hand operand: constants stay
    /// immediates.
    fn pop_reg_imm(&mut self) -> Result<RegImm, CompileError> {
        match self.pop_value()? {
            (_, Value::Const(c)) => Ok(RegImm::Imm(c)),
            (depth, value) => Ok(RegImm::Reg(self.in_reg(depth, value)?)),
        }
    }

    fn free(&mut self, r: RegImm) {
        if let RegImm::Reg(r) = r {
            self.stack.free(r);
        }
    }

    /// Stores `value` (standing for stack entry `depth`) in `cell`.
    fn store_value(&mut self, depth: u32, value: Value, cell: u32) {
        match value {
            Value::Const(c) => self.masm.store_const(c, cell),
            Value::Local(l) => {
                let from = self.local_cell(l);
                if from != cell {
                    self.masm.copy_cell(cell, from);
                }
            }
            Value::Reg(r) => {
                self.masm.store_cell(r, cell);
                self.stack.free(r);
            }
            Value::Cmp {
                kind,
                size,
                lhs,
                rhs,
            } => {
                let r = self.compute_cmp(kind, size, lhs, rhs);
                self.masm.store_cell(r, cell);
                self.stack.free(r);
            }
            Value::Cell => {
                let from = self.cell(depth);
                if from != cell {
                    self.masm.copy_cell(cell, from);
                }
            }
        }
    }

    /// Puts every pending entry (or those `filter` picks) in its cell.
    fn materialize(&mut self, filter: impl Fn(Value) -> bool) {
        for (depth, value) in self.stack.take_unmaterialized(filter) {
            let cell = self.cell(depth);
            self.store_value(depth, value, cell);
        }
    }

    fn invalid(&self, what: &str) -> CompileError {
        CompileError::Invalid(format!("{what} at offset {:#x}", self.offset))
    }

    fn block_arity(&self, ty: BlockType) -> Result<(u32, u32), CompileError> {
        Ok(match ty {
            BlockType::Empty => (0, 0),
            BlockType::Type(t) if super::supported_type(t) => (0, 1),
            BlockType::Type(_) => {
                return Err(CompileError::unsupported(
                    "a block of a type other than i32/i64/f32/f64",
                    self.offset,
                ));
            }
            BlockType::FuncType(i) => {
                let sig = self
                    .info
                    .signature(i)
                    .ok_or_else(|| self.invalid("unknown block type"))?;
                if !super::supported_signature(sig) {
                    return Err(CompileError::unsupported(
                        "a block of a type other than i32/i64/f32/f64",
                        self.offset,
                    ));
                }
                (sig.params.len() as u32, sig.results.len() as u32)
            }
        })
    }

    fn frame(&self, relative_depth: u32) -> Result<ControlFrame<M::Label>, CompileError> {
        let n = self.frames.len();
        (relative_depth as usize)
            .checked_add(1)
            .and_then(|d| n.checked_sub(d))
            .map(|i| self.frames[i])
            .ok_or_else(|| self.invalid("branch depth out of range"))
    }

    /// Moves the branch values of `target` from the stack top to where the
    /// target expects them (the stack is materialized).
    fn move_branch_values(&mut self, target: &ControlFrame<M::Label>) {
        let n = target.branch_arity();
        let from = self.stack.depth() - n;
        if from != target.height {
            for k in 0..n {
                let (src, dst) = (self.cell(from + k), self.cell(target.height + k));
                self.masm.copy_cell(dst, src);
            }
        }
    }

    /// An unconditional branch to the frame `relative_depth` out.
    fn branch(&mut self, relative_depth: u32) -> Result<(), CompileError> {
        let target = self.frame(relative_depth)?;
        self.materialize(|_| true);
        if target.kind == FrameKind::Function {
            let n = target.results;
            let from = self.cell(self.stack.depth() - n);
            self.masm.return_(from, n);
        } else {
            self.move_branch_values(&target);
            self.masm.jump(target.label);
        }
        Ok(())
    }

    fn unreachable_from_here(&mut self) {
        self.reachable = false;
    }

    /// A unary operator on the top entry: `emit(masm, dst, src)`, the
    /// result in the operand's register.
    fn unary(&mut self, emit: impl FnOnce(&mut M, Reg, Reg)) -> Result<(), CompileError> {
        let r = self.pop_reg()?;
        emit(self.masm, r, r);
        self.stack.push(Value::Reg(r));
        Ok(())
    }

    /// A binary integer operator on the top two entries (a constant
    /// right-hand side stays an immediate), the result in the left
    /// operand's register.
    fn binop(&mut self, op: IntBinOp, size: OperandSize) -> Result<(), CompileError> {
        let rhs = self.pop_reg_imm()?;
        let lhs = self.pop_reg()?;
        self.masm.int_binop(op, size, lhs, lhs, rhs);
        self.free(rhs);
        self.stack.push(Value::Reg(lhs));
        Ok(())
    }

    /// An integer comparison, left pending on the stack (see
    /// [`Value::Cmp`]).
    fn cmp(&mut self, kind: IntCmpKind, size: OperandSize) -> Result<(), CompileError> {
        let rhs = self.pop_reg_imm()?;
        let lhs = self.pop_reg()?;
        self.stack.push(Value::Cmp {
            kind,
            size,
            lhs,
            rhs,
        });
        Ok(())
    }

    fn unop(&mut self, op: IntUnOp, size: OperandSize) -> Result<(), CompileError> {
        if op == IntUnOp::Eqz {
            // Wasm 3.0 §4.3.2 ieqz: a comparison with 0.
            let lhs = self.pop_reg()?;
            self.stack.push(Value::Cmp {
                kind: IntCmpKind::Eq,
                size,
                lhs,
                rhs: RegImm::Imm(0),
            });
            return Ok(());
        }
        self.unary(|m, d, s| m.int_unop(op, size, d, s))
    }

    /// Pops a branch condition, puts the rest of the stack in its cells
    /// and jumps to `label` when the condition is false (zero).
    fn branch_unless(&mut self, label: M::Label) -> Result<(), CompileError> {
        let (depth, value) = self.pop_value()?;
        if let Value::Cmp {
            kind,
            size,
            lhs,
            rhs,
        } = value
        {
            self.materialize(|_| true);
            self.masm
                .branch_if_cmp(kind.inverse(), size, lhs, rhs, label);
            self.stack.release(value);
            return Ok(());
        }
        let condition = self.in_reg(depth, value)?;
        self.materialize(|_| true);
        self.masm.branch_if_zero(condition, label);
        self.stack.free(condition);
        Ok(())
    }

    fn extend(&mut self, kind: ExtendKind) -> Result<(), CompileError> {
        self.unary(|m, d, s| m.extend(kind, d, s))
    }

    /// Float arithmetic on float registers, the result in the left
    /// operand's.
    fn fbinop(&mut self, op: FloatBinOp, size: FloatSize) -> Result<(), CompileError> {
        let rhs = self.pop_float_reg()?;
        let lhs = self.pop_float_reg()?;
        self.masm.float_binop(op, size, lhs, lhs, rhs);
        self.stack.free(rhs);
        self.stack.push(Value::Reg(lhs));
        Ok(())
    }

    fn funop(&mut self, op: FloatUnOp, size: FloatSize) -> Result<(), CompileError> {
        let r = self.pop_float_reg()?;
        self.masm.float_unop(op, size, r, r);
        self.stack.push(Value::Reg(r));
        Ok(())
    }

    fn fcmp(&mut self, kind: FloatCmpKind, size: FloatSize) -> Result<(), CompileError> {
        let rhs = self.pop_float_reg()?;
        let lhs = self.pop_float_reg()?;
        let dst = self.take_reg()?;
        self.masm.float_cmp(kind, size, dst, lhs, rhs);
        self.stack.free(lhs);
        self.stack.free(rhs);
        self.stack.push(Value::Reg(dst));
        Ok(())
    }

    fn trunc(
        &mut self,
        from: FloatSize,
        to: OperandSize,
        signed: bool,
        saturating: bool,
    ) -> Result<(), CompileError> {
        let kind = TruncKind {
            from,
            to,
            signed,
            saturating,
        };
        self.unary(|m, d, s| m.float_to_int(kind, d, s))
    }

    fn convert(&mut self, kind: ConvertKind) -> Result<(), CompileError> {
        self.unary(|m, d, s| m.convert(kind, d, s))
    }

    /// `fN.convert_iM_s/u`.
    fn int_to_float(
        &mut self,
        from: OperandSize,
        to: FloatSize,
        signed: bool,
    ) -> Result<(), CompileError> {
        self.convert(ConvertKind::FromInt { from, to, signed })
    }

    /// A function type's parameter and result counts, if compiled code
    /// can hold its values.
    fn call_arity(&self, type_index: u32) -> Result<(u32, u32), CompileError> {
        let sig = self
            .info
            .signature(type_index)
            .ok_or_else(|| self.invalid("unknown function type"))?;
        if !super::supported_signature(sig) {
            return Err(CompileError::unsupported(
                "a call of a signature with unsupported types",
                self.offset,
            ));
        }
        Ok((sig.params.len() as u32, sig.results.len() as u32))
    }

    /// Puts the whole stack in its cells and returns the depth of the top
    /// `count` entries (a call's arguments, a call-out's operands).
    fn operands_in_cells(&mut self, count: u32) -> Result<u32, CompileError> {
        self.materialize(|_| true);
        self.stack
            .depth()
            .checked_sub(count)
            .ok_or_else(|| self.invalid("operands missing"))
    }

    /// An operator the embedder runs (see [`CallOut`]): its `operands`
    /// top entries go in their cells, its `results` come back there.
    fn call_out(
        &mut self,
        op: CallOut,
        operands: u32,
        results: u32,
        a: u32,
        b: u32,
    ) -> Result<(), CompileError> {
        let entry = self.layout("this operator")?.callout;
        if entry == 0 {
            return Err(CompileError::unsupported(
                &format!("{op:?} without a call-out entry"),
                self.offset,
            ));
        }
        let args = self.operands_in_cells(operands)?;
        // The embedder may write results beyond the operands: reserve
        // their cells before the frame size is fixed.
        self.stack.reset(args, operands.max(results));
        let args_cell = self.cell(args);
        let exception = self.catch_path();
        if matches!(
            op,
            CallOut::CallImport | CallOut::CallIndirect | CallOut::CallRef
        ) {
            let layout = self.layout("calls")?;
            let tail = (layout.store_context, layout.tail_code, layout.tail_vmctx);
            self.masm
                .call_out_call(entry, args_cell, op as u32, (a, b), tail, exception);
        } else {
            self.masm
                .call_out(entry, args_cell, op as u32, (a, b), exception);
        }
        self.stack.reset(args, results);
        Ok(())
    }

    /// Where an exception raised here goes (see `ControlFrame::catch_path`).
    fn catch_path(&self) -> M::Label {
        self.frames
            .last()
            .map_or(self.exception_exit, |f| f.catch_path)
    }

    /// Materializes the stack; the depth of its top entry.
    fn top_in_cell(&mut self) -> Result<u32, CompileError> {
        self.materialize(|_| true);
        self.stack
            .depth()
            .checked_sub(1)
            .ok_or_else(|| self.invalid("operand stack underflow"))
    }

    /// `br_on_null` (`on_null`) or `br_on_non_null` to `relative_depth`.
    fn branch_on_null(&mut self, relative_depth: u32, on_null: bool) -> Result<(), CompileError> {
        let depth = self.top_in_cell()?;
        let cell = self.cell(depth);
        let r = self.take_reg()?;
        self.masm.load_cell(r, cell);
        self.masm.int_unop(IntUnOp::Eqz, OperandSize::S64, r, r);
        let skip = self.masm.new_label();
        if on_null {
            // The branch carries no reference; the fallthrough keeps it.
            self.stack.pop();
            self.masm.branch_if_zero(r, skip);
            self.stack.free(r);
            self.branch(relative_depth)?;
            self.stack.push(Value::Cell);
        } else {
            self.masm.branch_if_nonzero(r, skip);
            self.stack.free(r);
            self.branch(relative_depth)?;
            self.stack.pop();
        }
        self.masm.bind(skip);
        Ok(())
    }

    /// A tail call the embedder resolves (`return_call` of an import,
    /// `return_call_indirect`, `return_call_ref`) of function type `ty`,
    /// whose arguments are followed by `extra` operands (element index,
    /// reference); see [`CallOut::ReturnCallImport`].
    fn tail_call_out(
        &mut self,
        op: CallOut,
        ty: u32,
        extra: u32,
        a: u32,
        b: u32,
    ) -> Result<(), CompileError> {
        let layout = self.layout("tail calls")?;
        let (params, results) = self.call_arity(ty)?;
        if layout.callout == 0 || params > MAX_TAIL_CALL_ARGS {
            return Err(CompileError::unsupported(
                "a tail call with more than 32 arguments or without a call-out entry",
                self.offset,
            ));
        }
        let operands = params + extra;
        let args = self.operands_in_cells(operands)?;
        self.stack.reset(args, operands.max(results));
        let args_cell = self.cell(args);
        let exception = self.catch_path();
        let tail = (layout.store_context, layout.tail_code, layout.tail_vmctx);
        self.masm.tail_call_out(
            layout.callout,
            args_cell,
            op as u32,
            (a, b),
            (params, results),
            tail,
            exception,
        );
        self.unreachable_from_here();
        Ok(())
    }

    /// A call-out of fixed arity ([`CallOut::fixed_arity`]).
    fn fixed_call_out(&mut self, op: CallOut, a: u32, b: u32) -> Result<(), CompileError> {
        let (operands, results) = op
            .fixed_arity()
            .ok_or_else(|| self.invalid("a call's arity depends on its type"))?;
        self.call_out(op, operands, results, a, b)
    }

    /// The VM context layout, needed by memory and global operators.
    fn layout(&self, what: &str) -> Result<crate::ContextLayout, CompileError> {
        self.info.layout.ok_or_else(|| {
            CompileError::unsupported(&format!("{what} without a VM context"), self.offset)
        })
    }

    /// Global `index`'s definition slot, if its type is supported.
    fn global_slot(&self, index: u32) -> Result<(u32, u32), CompileError> {
        let layout = self.layout("globals")?;
        match self.info.globals.get(index as usize) {
            Some(ty) if super::supported_type(*ty) => {
                Ok((layout.globals_start + index * 8, layout.global_value))
            }
            Some(_) => Err(CompileError::unsupported(
                "a global of a type other than i32/i64/f32/f64",
                self.offset,
            )),
            None => Err(self.invalid("unknown global")),
        }
    }

    fn memory_access(&self, memarg: wasmparser::MemArg) -> Result<MemoryAccess, CompileError> {
        let layout = self.layout("memory access")?;
        let wasmparser::MemArgTarget::Memory(memory) = memarg.target else {
            return Err(CompileError::unsupported(
                "array accesses (GC)",
                self.offset,
            ));
        };
        let memory64 = *self
            .info
            .memories
            .get(memory as usize)
            .ok_or_else(|| self.invalid("unknown memory"))?;
        Ok(MemoryAccess {
            definition_slot: layout.memories_start + memory * 8,
            base: layout.memory_base,
            length: layout.memory_length,
            offset: memarg.offset,
            memory64,
        })
    }

    fn mem_load(&mut self, memarg: wasmparser::MemArg, kind: LoadKind) -> Result<(), CompileError> {
        let access = self.memory_access(memarg)?;
        self.unary(|m, d, s| m.load(access, kind, d, s))
    }

    /// `fN.load`: the value lands in a float register.
    fn float_load(
        &mut self,
        memarg: wasmparser::MemArg,
        size: FloatSize,
    ) -> Result<(), CompileError> {
        let access = self.memory_access(memarg)?;
        let kind = match size {
            FloatSize::F32 => LoadKind::U32,
            FloatSize::F64 => LoadKind::U64,
        };
        let addr = self.pop_reg()?;
        let dst = self.take_float_reg()?;
        self.masm.load(access, kind, dst, addr);
        self.stack.free(addr);
        self.stack.push(Value::Reg(dst));
        Ok(())
    }

    fn mem_store(&mut self, memarg: wasmparser::MemArg, bytes: u32) -> Result<(), CompileError> {
        let access = self.memory_access(memarg)?;
        // A value in a float register is stored from there.
        let value = match self.pop_value()? {
            (_, Value::Reg(r)) => r,
            (depth, value) => self.in_reg(depth, value)?,
        };
        let addr = self.pop_reg()?;
        self.masm.store(access, bytes, addr, value);
        self.stack.free(value);
        self.stack.free(addr);
        Ok(())
    }

    /// Control operators seen in unreachable code only open and close
    /// frames; everything else there is skipped.
    fn visit_unreachable(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::TryTable { .. }
            | Operator::Try { .. } => {
                let label = self.masm.new_label();
                let catch_path = self.catch_path();
                self.frames.push(ControlFrame {
                    kind: FrameKind::Block,
                    label,
                    other: label,
                    catch_path,
                    pad: catch_path,
                    extra: 0,
                    height: self.stack.depth(),
                    params: 0,
                    results: 0,
                    dead: true,
                    else_seen: false,
                });
                Ok(())
            }
            Operator::Else => {
                let frame = self.frame(0)?;
                if !frame.dead {
                    self.start_else(frame)?;
                }
                Ok(())
            }
            Operator::Catch { .. } | Operator::CatchAll => {
                if !self.frame(0)?.dead {
                    self.start_catch(op)?;
                }
                Ok(())
            }
            Operator::End | Operator::Delegate { .. } => {
                let frame = self
                    .frames
                    .last()
                    .copied()
                    .ok_or_else(|| self.invalid("end without block"))?;
                if frame.dead {
                    self.frames.pop();
                    Ok(())
                } else if let Operator::Delegate { relative_depth } = op {
                    self.delegate(*relative_depth)
                } else {
                    self.end_frame()
                }
            }
            _ => Ok(()),
        }
    }

    /// Opens a `block`, `loop`, `if`, `try_table` or `try` frame.
    fn open_frame(
        &mut self,
        kind: FrameKind,
        blockty: BlockType,
        extra: u32,
    ) -> Result<(), CompileError> {
        let (params, results) = self.block_arity(blockty)?;
        let label = self.masm.new_label();
        let other = self.masm.new_label();
        // The condition is popped first: it is no branch value.
        match kind {
            FrameKind::If => self.branch_unless(other)?,
            _ => self.materialize(|_| true),
        }
        let height = self
            .stack
            .depth()
            .checked_sub(params)
            .ok_or_else(|| self.invalid("block parameters missing"))?;
        if kind == FrameKind::Loop {
            self.masm.bind(label);
        }
        let (pad, catch_path) = match kind {
            FrameKind::TryTable | FrameKind::LegacyTry => {
                let pad = self.masm.new_label();
                (pad, pad)
            }
            _ => (other, self.catch_path()),
        };
        self.frames.push(ControlFrame {
            kind,
            label,
            other,
            catch_path,
            pad,
            extra,
            height,
            params,
            results,
            dead: false,
            else_seen: false,
        });
        Ok(())
    }

    fn start_else(&mut self, frame: ControlFrame<M::Label>) -> Result<(), CompileError> {
        if self.reachable {
            self.materialize(|_| true);
            self.masm.jump(frame.label);
        }
        self.masm.bind(frame.other);
        if let Some(f) = self.frames.last_mut() {
            f.else_seen = true;
        }
        self.stack.reset(frame.height, frame.params);
        self.reachable = true;
        Ok(())
    }

    fn end_frame(&mut self) -> Result<(), CompileError> {
        let frame = self
            .frames
            .pop()
            .ok_or_else(|| self.invalid("end without block"))?;
        if self.reachable {
            self.materialize(|_| true);
        }
        if frame.kind == FrameKind::Function {
            // Falling off the end or a branch to the body returns.
            if self.reachable {
                let n = frame.results;
                let from = self.cell(self.stack.depth() - n);
                self.masm.return_(from, n);
            }
            self.masm.bind(frame.label);
            self.stack.reset(0, frame.results);
            // Branches to the function label were compiled as returns.
            return Ok(());
        }
        if frame.kind == FrameKind::If && !frame.else_seen {
            // No else: the false branch passes the parameters through.
            self.masm.bind(frame.other);
        }
        if matches!(
            frame.kind,
            FrameKind::TryTable | FrameKind::LegacyTry | FrameKind::LegacyCatch
        ) {
            // The handler sits out of the fallthrough path.
            if self.reachable {
                self.masm.jump(frame.label);
            }
            match frame.kind {
                FrameKind::TryTable => self.try_table_handler(&frame)?,
                // Wasm 3.0 legacy exceptions: a try whose clauses all
                // missed (or that has none) passes the exception on.
                FrameKind::LegacyTry => self.masm.bind(frame.pad),
                _ => self.masm.bind(frame.other),
            }
            let outer = self.catch_path();
            self.masm.jump(outer);
        }
        if frame.kind != FrameKind::Loop {
            self.masm.bind(frame.label);
        }
        self.stack.reset(frame.height, frame.results);
        self.reachable = true;
        Ok(())
    }

    /// A `try_table`'s handler (Wasm 3.0 §4.4.11 `throw_ref`): each catch
    /// clause in order; the first that matches takes the exception to its
    /// label with the payload and/or exnref as branch values. Falls
    /// through when none matches. The `try_table` frame is closed: clause
    /// labels count from the frame around it.
    fn try_table_handler(&mut self, frame: &ControlFrame<M::Label>) -> Result<(), CompileError> {
        self.masm.bind(frame.pad);
        let clauses = self
            .catch_lists
            .get(frame.extra as usize)
            .cloned()
            .unwrap_or_default();
        for clause in clauses {
            let (tag, with_ref, label) = match clause {
                wasmparser::Catch::One { tag, label } => (Some(tag), false, label),
                wasmparser::Catch::OneRef { tag, label } => (Some(tag), true, label),
                wasmparser::Catch::All { label } => (None, false, label),
                wasmparser::Catch::AllRef { label } => (None, true, label),
            };
            let target = self.frame(label)?;
            let values = self.catch_values(tag)? + u32::from(with_ref);
            let next = self.masm.new_label();
            let at = self.catch_clause(tag, with_ref, target.height, values, next)?;
            if target.kind == FrameKind::Function {
                self.masm.return_(at, values);
            } else {
                self.masm.jump(target.label);
            }
            self.masm.bind(next);
        }
        Ok(())
    }

    /// Values a catch of `tag` (None: `catch_all`) pushes, before the exnref.
    fn catch_values(&self, tag: Option<u32>) -> Result<u32, CompileError> {
        let Some(tag) = tag else {
            return Ok(0);
        };
        let ty = *self
            .info
            .tags
            .get(tag as usize)
            .ok_or_else(|| self.invalid("unknown tag"))?;
        Ok(self.call_arity(ty)?.0)
    }

    /// Tries one catch clause on the pending exception: when it matches,
    /// its `values` land in the cells from stack height `height` on
    /// (returned: the first cell); else jumps to `next`.
    fn catch_clause(
        &mut self,
        tag: Option<u32>,
        with_ref: bool,
        height: u32,
        values: u32,
        next: M::Label,
    ) -> Result<u32, CompileError> {
        let entry = self.layout("exceptions")?.callout;
        if entry == 0 {
            return Err(CompileError::unsupported(
                "exceptions without a call-out entry",
                self.offset,
            ));
        }
        self.stack.reserve(height + values);
        let at = self.cell(height);
        let ab = (tag.unwrap_or(CATCH_ALL), u32::from(with_ref));
        self.masm
            .call_out(entry, at, CallOut::Catch as u32, ab, next);
        Ok(at)
    }

    /// Legacy `catch`/`catch_all` (the exceptions proposal's legacy form):
    /// ends the previous body and tests this clause, whose body runs with
    /// the payload on the stack and the exnref in the try's hidden local.
    fn start_catch(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        let frame = self.frame(0)?;
        if !matches!(frame.kind, FrameKind::LegacyTry | FrameKind::LegacyCatch) {
            return Err(self.invalid("catch outside try"));
        }
        if self.reachable {
            self.materialize(|_| true);
            self.masm.jump(frame.label);
        }
        if frame.kind == FrameKind::LegacyTry {
            self.masm.bind(frame.pad);
        } else {
            self.masm.bind(frame.other);
        }
        let tag = match *op {
            Operator::Catch { tag_index } => Some(tag_index),
            _ => None,
        };
        let next = self.masm.new_label();
        // The clause bodies are outside the try: their exceptions go out.
        let outer = self
            .frames
            .len()
            .checked_sub(2)
            .map_or(self.exception_exit, |i| self.frames[i].catch_path);
        if let Some(f) = self.frames.last_mut() {
            f.kind = FrameKind::LegacyCatch;
            f.other = next;
            f.catch_path = outer;
        }
        self.stack.reset(frame.height, 0);
        let values = self.catch_values(tag)?;
        self.catch_clause(tag, true, frame.height, values + 1, next)?;
        // The exnref pushed after the payload goes to the hidden local.
        let exnref = self.cell(frame.height + values);
        let local = self.local_cell(frame.extra);
        self.masm.copy_cell(local, exnref);
        self.stack.reset(frame.height, values);
        self.reachable = true;
        Ok(())
    }

    /// Legacy `try … delegate l`: the try body's exceptions go where those
    /// of code directly inside label `l` (counted outside the try) go.
    fn delegate(&mut self, relative_depth: u32) -> Result<(), CompileError> {
        let frame = self
            .frames
            .pop()
            .ok_or_else(|| self.invalid("delegate without try"))?;
        if frame.kind != FrameKind::LegacyTry {
            return Err(self.invalid("delegate outside try"));
        }
        if self.reachable {
            self.materialize(|_| true);
            self.masm.jump(frame.label);
        }
        self.masm.bind(frame.pad);
        let target = self.frame(relative_depth)?;
        self.masm.jump(target.catch_path);
        self.masm.bind(frame.label);
        self.stack.reset(frame.height, frame.results);
        self.reachable = true;
        Ok(())
    }

    /// Throws the exnref in the cell of stack entry `depth` (`throw_ref`,
    /// `rethrow`): to this function's handler, or out of it.
    fn throw_ref_at(&mut self, depth: u32) -> Result<(), CompileError> {
        self.stack.reset(depth, 1);
        self.call_out(CallOut::ThrowRef, 1, 0, 0, 0)?;
        // ThrowRef never returns 0.
        self.masm.trap(TrapCode::Unreachable);
        self.unreachable_from_here();
        Ok(())
    }

    fn visit(&mut self, op: Operator<'_>) -> Result<(), CompileError> {
        use FloatSize::{F32, F64};
        use IntBinOp as B;
        use IntCmpKind as C;
        use OperandSize::{S32, S64};
        if !self.reachable {
            return self.visit_unreachable(&op);
        }
        match op {
            Operator::Unreachable => {
                self.masm.trap(TrapCode::Unreachable);
                self.unreachable_from_here();
            }
            Operator::Nop => {}
            Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
                let kind = match op {
                    Operator::Block { .. } => FrameKind::Block,
                    Operator::Loop { .. } => FrameKind::Loop,
                    _ => FrameKind::If,
                };
                self.open_frame(kind, blockty, 0)?;
            }
            Operator::TryTable { try_table } => {
                let list = self.catch_lists.len() as u32;
                self.catch_lists.push(try_table.catches.clone());
                self.open_frame(FrameKind::TryTable, try_table.ty, list)?;
            }
            Operator::Try { blockty } => {
                let local = self.next_exn_local;
                self.next_exn_local += 1;
                self.open_frame(FrameKind::LegacyTry, blockty, local)?;
            }
            Operator::Catch { .. } | Operator::CatchAll => self.start_catch(&op)?,
            Operator::Delegate { relative_depth } => self.delegate(relative_depth)?,
            Operator::Throw { tag_index } => {
                let values = self.catch_values(Some(tag_index))?;
                self.call_out(CallOut::Throw, values, 0, tag_index, 0)?;
                // Throw never returns 0.
                self.masm.trap(TrapCode::Unreachable);
                self.unreachable_from_here();
            }
            Operator::ThrowRef => {
                let depth = self.top_in_cell()?;
                self.throw_ref_at(depth)?;
            }
            Operator::Rethrow { relative_depth } => {
                let frame = self.frame(relative_depth)?;
                if frame.kind != FrameKind::LegacyCatch {
                    return Err(self.invalid("rethrow outside catch"));
                }
                self.materialize(|_| true);
                let depth = self.stack.depth();
                let local = self.local_cell(frame.extra);
                let cell = self.cell(depth);
                self.masm.copy_cell(cell, local);
                self.throw_ref_at(depth)?;
            }
            Operator::Else => {
                let frame = self.frame(0)?;
                self.start_else(frame)?;
            }
            Operator::End => self.end_frame()?,
            Operator::Br { relative_depth } => {
                self.branch(relative_depth)?;
                self.unreachable_from_here();
            }
            Operator::BrIf { relative_depth } => {
                let skip = self.masm.new_label();
                self.branch_unless(skip)?;
                self.branch(relative_depth)?;
                self.masm.bind(skip);
            }
            Operator::BrTable { targets } => {
                // The index stays in its register through the cases:
                // branch value moves need none.
                let index = self.pop_reg()?;
                self.materialize(|_| true);
                let default = targets.default();
                let cases = targets
                    .targets()
                    .collect::<Result<Vec<u32>, _>>()
                    .map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                for (i, target) in (0u32..).zip(cases) {
                    let next = self.masm.new_label();
                    self.masm.branch_if_not_equal(index, i, next);
                    self.branch(target)?;
                    self.masm.bind(next);
                }
                self.stack.free(index);
                self.branch(default)?;
                self.unreachable_from_here();
            }
            Operator::Return => {
                let depth = self.frames.len() as u32 - 1;
                self.branch(depth)?;
                self.unreachable_from_here();
            }
            Operator::Call { function_index } => {
                let ty = *self
                    .info
                    .funcs
                    .get(function_index as usize)
                    .ok_or_else(|| self.invalid("unknown function"))?;
                let (params, results) = self.call_arity(ty)?;
                match function_index.checked_sub(self.info.num_imported_funcs) {
                    Some(defined) => {
                        let callee = *self
                            .entries
                            .get(defined as usize)
                            .ok_or_else(|| self.invalid("unknown function"))?;
                        let args = self.operands_in_cells(params)?;
                        let args_cell = self.cell(args);
                        let exception = self.catch_path();
                        self.masm.call(callee, args_cell, exception);
                        self.stack.reset(args, results);
                    }
                    // Wasm 3.0 §4.4.10 call of an import: whatever it is
                    // (host, interpreted or compiled elsewhere), the
                    // embedder runs it on the cells.
                    None => {
                        self.call_out(CallOut::CallImport, params, results, function_index, 0)?
                    }
                }
            }
            Operator::ReturnCall { function_index } => {
                let ty = *self
                    .info
                    .funcs
                    .get(function_index as usize)
                    .ok_or_else(|| self.invalid("unknown function"))?;
                let (params, _) = self.call_arity(ty)?;
                if params > MAX_TAIL_CALL_ARGS {
                    return Err(CompileError::unsupported(
                        "a tail call with more than 32 arguments",
                        self.offset,
                    ));
                }
                let callee = function_index
                    .checked_sub(self.info.num_imported_funcs)
                    .and_then(|defined| self.entries.get(defined as usize).copied());
                match callee {
                    Some(callee) => {
                        let args = self.operands_in_cells(params)?;
                        let args_cell = self.cell(args);
                        self.masm.return_call(callee, args_cell, params);
                        self.unreachable_from_here();
                    }
                    // Wasm 3.0 §4.4.10: an import may be anything; the
                    // embedder resolves it.
                    None => {
                        self.tail_call_out(CallOut::ReturnCallImport, ty, 0, function_index, 0)?
                    }
                }
            }
            Operator::ReturnCallIndirect {
                type_index,
                table_index,
            } => self.tail_call_out(
                CallOut::ReturnCallIndirect,
                type_index,
                1,
                type_index,
                table_index,
            )?,
            Operator::ReturnCallRef { type_index } => {
                self.tail_call_out(CallOut::ReturnCallRef, type_index, 1, type_index, 0)?
            }
            Operator::CallRef { type_index } => {
                // Wasm 3.0 §4.4.10 call_ref: the embedder traps on null.
                let (params, results) = self.call_arity(type_index)?;
                self.call_out(CallOut::CallRef, params + 1, results, type_index, 0)?;
            }
            Operator::RefAsNonNull => {
                let r = self.pop_reg()?;
                self.stack.push(Value::Reg(r));
                let null = self.take_reg()?;
                self.masm.int_unop(IntUnOp::Eqz, S64, null, r);
                let ok = self.masm.new_label();
                self.masm.branch_if_zero(null, ok);
                self.stack.free(null);
                self.masm.trap(TrapCode::NullReference);
                self.masm.bind(ok);
            }
            // Wasm 3.0 §4.4.8: `br_on_null` branches on null without the
            // reference; `br_on_non_null` branches with it, dropping null.
            Operator::BrOnNull { relative_depth } => self.branch_on_null(relative_depth, true)?,
            Operator::BrOnNonNull { relative_depth } => {
                self.branch_on_null(relative_depth, false)?
            }
            Operator::CallIndirect {
                type_index,
                table_index,
            } => {
                // Wasm 3.0 §4.4.10 call_indirect: the embedder checks the
                // element (bounds, null, canonical type) and calls it.
                let (params, results) = self.call_arity(type_index)?;
                self.call_out(
                    CallOut::CallIndirect,
                    params + 1,
                    results,
                    type_index,
                    table_index,
                )?;
            }
            Operator::MemorySize { mem } => self.fixed_call_out(CallOut::MemorySize, mem, 0)?,
            Operator::MemoryGrow { mem } => self.fixed_call_out(CallOut::MemoryGrow, mem, 0)?,
            Operator::MemoryFill { mem } => self.fixed_call_out(CallOut::MemoryFill, mem, 0)?,
            Operator::MemoryCopy { dst_mem, src_mem } => {
                self.fixed_call_out(CallOut::MemoryCopy, dst_mem, src_mem)?
            }
            Operator::MemoryInit { data_index, mem } => {
                self.fixed_call_out(CallOut::MemoryInit, data_index, mem)?
            }
            Operator::DataDrop { data_index } => {
                self.fixed_call_out(CallOut::DataDrop, data_index, 0)?
            }
            Operator::TableGet { table } => self.fixed_call_out(CallOut::TableGet, table, 0)?,
            Operator::TableSet { table } => self.fixed_call_out(CallOut::TableSet, table, 0)?,
            Operator::TableSize { table } => self.fixed_call_out(CallOut::TableSize, table, 0)?,
            Operator::TableGrow { table } => self.fixed_call_out(CallOut::TableGrow, table, 0)?,
            Operator::TableFill { table } => self.fixed_call_out(CallOut::TableFill, table, 0)?,
            Operator::TableCopy {
                dst_table,
                src_table,
            } => self.fixed_call_out(CallOut::TableCopy, dst_table, src_table)?,
            Operator::TableInit { elem_index, table } => {
                self.fixed_call_out(CallOut::TableInit, elem_index, table)?
            }
            Operator::ElemDrop { elem_index } => {
                self.fixed_call_out(CallOut::ElemDrop, elem_index, 0)?
            }
            Operator::RefFunc { function_index } => {
                self.fixed_call_out(CallOut::RefFunc, function_index, 0)?
            }
            // Wasm 3.0 §4.4.2: null is the cell 0, as in the interpreter.
            Operator::RefNull { hty } => {
                let ty = wasmparser::RefType::new(true, hty)
                    .map(wasmparser::ValType::Ref)
                    .filter(|t| super::supported_type(*t));
                if ty.is_none() {
                    return Err(CompileError::unsupported(
                        "ref.null of a type other than funcref/externref",
                        self.offset,
                    ));
                }
                self.stack.push(Value::Const(0));
            }
            Operator::RefIsNull => self.unop(IntUnOp::Eqz, S64)?,
            Operator::Drop => {
                let (_, value) = self.pop_value()?;
                self.stack.release(value);
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                if let Operator::TypedSelect { ty } = op
                    && !super::supported_type(ty)
                {
                    return Err(CompileError::unsupported(
                        "select of a type other than i32/i64/f32/f64",
                        self.offset,
                    ));
                }
                let condition = self.pop_reg()?;
                let b = self.pop_reg()?;
                let a = self.pop_reg()?;
                self.masm.select(a, condition, a, b);
                self.stack.free(condition);
                self.stack.free(b);
                self.stack.push(Value::Reg(a));
            }
            Operator::LocalGet { local_index } => {
                if local_index >= self.num_locals {
                    return Err(self.invalid("unknown local"));
                }
                self.stack.push(Value::Local(local_index));
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                if local_index >= self.num_locals {
                    return Err(self.invalid("unknown local"));
                }
                let (depth, value) = self.pop_value()?;
                // Entries still standing for the old value get it first.
                self.materialize(|v| v == Value::Local(local_index));
                let cell = self.local_cell(local_index);
                let tee = matches!(op, Operator::LocalTee { .. });
                match value {
                    // A teed register keeps standing for the value.
                    Value::Reg(r) if tee => {
                        self.masm.store_cell(r, cell);
                        self.stack.push(value);
                    }
                    _ => {
                        self.store_value(depth, value, cell);
                        if tee {
                            self.stack.push(Value::Local(local_index));
                        }
                    }
                }
            }
            Operator::GlobalGet { global_index } => {
                let (slot, value) = self.global_slot(global_index)?;
                let r = self.take_reg()?;
                self.masm.load_global(slot, value, r);
                self.stack.push(Value::Reg(r));
            }
            Operator::GlobalSet { global_index } => {
                let (slot, value) = self.global_slot(global_index)?;
                let r = self.pop_reg()?;
                self.masm.store_global(slot, value, r);
                self.stack.free(r);
            }
            Operator::I32Load { memarg } | Operator::I64Load32U { memarg } => {
                self.mem_load(memarg, LoadKind::U32)?
            }
            Operator::I64Load { memarg } => self.mem_load(memarg, LoadKind::U64)?,
            Operator::I32Load8U { memarg } | Operator::I64Load8U { memarg } => {
                self.mem_load(memarg, LoadKind::U8)?
            }
            Operator::I32Load16U { memarg } | Operator::I64Load16U { memarg } => {
                self.mem_load(memarg, LoadKind::U16)?
            }
            Operator::I32Load8S { memarg } => self.mem_load(memarg, LoadKind::I32S8)?,
            Operator::I32Load16S { memarg } => self.mem_load(memarg, LoadKind::I32S16)?,
            Operator::I64Load8S { memarg } => self.mem_load(memarg, LoadKind::I64S8)?,
            Operator::I64Load16S { memarg } => self.mem_load(memarg, LoadKind::I64S16)?,
            Operator::I64Load32S { memarg } => self.mem_load(memarg, LoadKind::I64S32)?,
            Operator::I32Store8 { memarg } | Operator::I64Store8 { memarg } => {
                self.mem_store(memarg, 1)?
            }
            Operator::I32Store16 { memarg } | Operator::I64Store16 { memarg } => {
                self.mem_store(memarg, 2)?
            }
            Operator::I32Store { memarg } | Operator::I64Store32 { memarg } => {
                self.mem_store(memarg, 4)?
            }
            Operator::I64Store { memarg } => self.mem_store(memarg, 8)?,
            // Floats live as their bits (f32 zero-extended): loads and
            // stores are the integer ones of the same width.
            Operator::F32Load { memarg } => self.float_load(memarg, F32)?,
            Operator::F64Load { memarg } => self.float_load(memarg, F64)?,
            Operator::F32Store { memarg } => self.mem_store(memarg, 4)?,
            Operator::F64Store { memarg } => self.mem_store(memarg, 8)?,
            Operator::F32Const { value } => self.stack.push(Value::Const(u64::from(value.bits()))),
            Operator::F64Const { value } => self.stack.push(Value::Const(value.bits())),
            Operator::I32Const { value } => self.stack.push(Value::Const(u64::from(value as u32))),
            Operator::I64Const { value } => self.stack.push(Value::Const(value as u64)),

            Operator::I32Eqz => self.unop(IntUnOp::Eqz, S32)?,
            Operator::I32Eq => self.cmp(C::Eq, S32)?,
            Operator::I32Ne => self.cmp(C::Ne, S32)?,
            Operator::I32LtS => self.cmp(C::LtS, S32)?,
            Operator::I32LtU => self.cmp(C::LtU, S32)?,
            Operator::I32GtS => self.cmp(C::GtS, S32)?,
            Operator::I32GtU => self.cmp(C::GtU, S32)?,
            Operator::I32LeS => self.cmp(C::LeS, S32)?,
            Operator::I32LeU => self.cmp(C::LeU, S32)?,
            Operator::I32GeS => self.cmp(C::GeS, S32)?,
            Operator::I32GeU => self.cmp(C::GeU, S32)?,
            Operator::I64Eqz => self.unop(IntUnOp::Eqz, S64)?,
            Operator::I64Eq => self.cmp(C::Eq, S64)?,
            Operator::I64Ne => self.cmp(C::Ne, S64)?,
            Operator::I64LtS => self.cmp(C::LtS, S64)?,
            Operator::I64LtU => self.cmp(C::LtU, S64)?,
            Operator::I64GtS => self.cmp(C::GtS, S64)?,
            Operator::I64GtU => self.cmp(C::GtU, S64)?,
            Operator::I64LeS => self.cmp(C::LeS, S64)?,
            Operator::I64LeU => self.cmp(C::LeU, S64)?,
            Operator::I64GeS => self.cmp(C::GeS, S64)?,
            Operator::I64GeU => self.cmp(C::GeU, S64)?,

            Operator::I32Clz => self.unop(IntUnOp::Clz, S32)?,
            Operator::I32Ctz => self.unop(IntUnOp::Ctz, S32)?,
            Operator::I32Popcnt => self.unop(IntUnOp::Popcnt, S32)?,
            Operator::I32Add => self.binop(B::Add, S32)?,
            Operator::I32Sub => self.binop(B::Sub, S32)?,
            Operator::I32Mul => self.binop(B::Mul, S32)?,
            Operator::I32DivS => self.binop(B::DivS, S32)?,
            Operator::I32DivU => self.binop(B::DivU, S32)?,
            Operator::I32RemS => self.binop(B::RemS, S32)?,
            Operator::I32RemU => self.binop(B::RemU, S32)?,
            Operator::I32And => self.binop(B::And, S32)?,
            Operator::I32Or => self.binop(B::Or, S32)?,
            Operator::I32Xor => self.binop(B::Xor, S32)?,
            Operator::I32Shl => self.binop(B::Shl, S32)?,
            Operator::I32ShrS => self.binop(B::ShrS, S32)?,
            Operator::I32ShrU => self.binop(B::ShrU, S32)?,
            Operator::I32Rotl => self.binop(B::Rotl, S32)?,
            Operator::I32Rotr => self.binop(B::Rotr, S32)?,
            Operator::I64Clz => self.unop(IntUnOp::Clz, S64)?,
            Operator::I64Ctz => self.unop(IntUnOp::Ctz, S64)?,
            Operator::I64Popcnt => self.unop(IntUnOp::Popcnt, S64)?,
            Operator::I64Add => self.binop(B::Add, S64)?,
            Operator::I64Sub => self.binop(B::Sub, S64)?,
            Operator::I64Mul => self.binop(B::Mul, S64)?,
            Operator::I64DivS => self.binop(B::DivS, S64)?,
            Operator::I64DivU => self.binop(B::DivU, S64)?,
            Operator::I64RemS => self.binop(B::RemS, S64)?,
            Operator::I64RemU => self.binop(B::RemU, S64)?,
            Operator::I64And => self.binop(B::And, S64)?,
            Operator::I64Or => self.binop(B::Or, S64)?,
            Operator::I64Xor => self.binop(B::Xor, S64)?,
            Operator::I64Shl => self.binop(B::Shl, S64)?,
            Operator::I64ShrS => self.binop(B::ShrS, S64)?,
            Operator::I64ShrU => self.binop(B::ShrU, S64)?,
            Operator::I64Rotl => self.binop(B::Rotl, S64)?,
            Operator::I64Rotr => self.binop(B::Rotr, S64)?,

            Operator::I32WrapI64 | Operator::I64ExtendI32U => self.extend(ExtendKind::Low32)?,
            Operator::I64ExtendI32S => self.extend(ExtendKind::I64FromI32S)?,
            Operator::I32Extend8S => self.extend(ExtendKind::I32From8S)?,
            Operator::I32Extend16S => self.extend(ExtendKind::I32From16S)?,
            Operator::I64Extend8S => self.extend(ExtendKind::I64From8S)?,
            Operator::I64Extend16S => self.extend(ExtendKind::I64From16S)?,
            Operator::I64Extend32S => self.extend(ExtendKind::I64FromI32S)?,

            Operator::F32Eq => self.fcmp(FloatCmpKind::Eq, F32)?,
            Operator::F32Ne => self.fcmp(FloatCmpKind::Ne, F32)?,
            Operator::F32Lt => self.fcmp(FloatCmpKind::Lt, F32)?,
            Operator::F32Gt => self.fcmp(FloatCmpKind::Gt, F32)?,
            Operator::F32Le => self.fcmp(FloatCmpKind::Le, F32)?,
            Operator::F32Ge => self.fcmp(FloatCmpKind::Ge, F32)?,
            Operator::F64Eq => self.fcmp(FloatCmpKind::Eq, F64)?,
            Operator::F64Ne => self.fcmp(FloatCmpKind::Ne, F64)?,
            Operator::F64Lt => self.fcmp(FloatCmpKind::Lt, F64)?,
            Operator::F64Gt => self.fcmp(FloatCmpKind::Gt, F64)?,
            Operator::F64Le => self.fcmp(FloatCmpKind::Le, F64)?,
            Operator::F64Ge => self.fcmp(FloatCmpKind::Ge, F64)?,
            Operator::F32Abs => self.funop(FloatUnOp::Abs, F32)?,
            Operator::F32Neg => self.funop(FloatUnOp::Neg, F32)?,
            Operator::F32Ceil => self.funop(FloatUnOp::Ceil, F32)?,
            Operator::F32Floor => self.funop(FloatUnOp::Floor, F32)?,
            Operator::F32Trunc => self.funop(FloatUnOp::Trunc, F32)?,
            Operator::F32Nearest => self.funop(FloatUnOp::Nearest, F32)?,
            Operator::F32Sqrt => self.funop(FloatUnOp::Sqrt, F32)?,
            Operator::F64Abs => self.funop(FloatUnOp::Abs, F64)?,
            Operator::F64Neg => self.funop(FloatUnOp::Neg, F64)?,
            Operator::F64Ceil => self.funop(FloatUnOp::Ceil, F64)?,
            Operator::F64Floor => self.funop(FloatUnOp::Floor, F64)?,
            Operator::F64Trunc => self.funop(FloatUnOp::Trunc, F64)?,
            Operator::F64Nearest => self.funop(FloatUnOp::Nearest, F64)?,
            Operator::F64Sqrt => self.funop(FloatUnOp::Sqrt, F64)?,
            Operator::F32Add => self.fbinop(FloatBinOp::Add, F32)?,
            Operator::F32Sub => self.fbinop(FloatBinOp::Sub, F32)?,
            Operator::F32Mul => self.fbinop(FloatBinOp::Mul, F32)?,
            Operator::F32Div => self.fbinop(FloatBinOp::Div, F32)?,
            Operator::F32Min => self.fbinop(FloatBinOp::Min, F32)?,
            Operator::F32Max => self.fbinop(FloatBinOp::Max, F32)?,
            Operator::F32Copysign => self.fbinop(FloatBinOp::Copysign, F32)?,
            Operator::F64Add => self.fbinop(FloatBinOp::Add, F64)?,
            Operator::F64Sub => self.fbinop(FloatBinOp::Sub, F64)?,
            Operator::F64Mul => self.fbinop(FloatBinOp::Mul, F64)?,
            Operator::F64Div => self.fbinop(FloatBinOp::Div, F64)?,
            Operator::F64Min => self.fbinop(FloatBinOp::Min, F64)?,
            Operator::F64Max => self.fbinop(FloatBinOp::Max, F64)?,
            Operator::F64Copysign => self.fbinop(FloatBinOp::Copysign, F64)?,

            Operator::I32TruncF32S => self.trunc(F32, S32, true, false)?,
            Operator::I32TruncF32U => self.trunc(F32, S32, false, false)?,
            Operator::I32TruncF64S => self.trunc(F64, S32, true, false)?,
            Operator::I32TruncF64U => self.trunc(F64, S32, false, false)?,
            Operator::I64TruncF32S => self.trunc(F32, S64, true, false)?,
            Operator::I64TruncF32U => self.trunc(F32, S64, false, false)?,
            Operator::I64TruncF64S => self.trunc(F64, S64, true, false)?,
            Operator::I64TruncF64U => self.trunc(F64, S64, false, false)?,
            Operator::I32TruncSatF32S => self.trunc(F32, S32, true, true)?,
            Operator::I32TruncSatF32U => self.trunc(F32, S32, false, true)?,
            Operator::I32TruncSatF64S => self.trunc(F64, S32, true, true)?,
            Operator::I32TruncSatF64U => self.trunc(F64, S32, false, true)?,
            Operator::I64TruncSatF32S => self.trunc(F32, S64, true, true)?,
            Operator::I64TruncSatF32U => self.trunc(F32, S64, false, true)?,
            Operator::I64TruncSatF64S => self.trunc(F64, S64, true, true)?,
            Operator::I64TruncSatF64U => self.trunc(F64, S64, false, true)?,
            Operator::F32ConvertI32S => self.int_to_float(S32, F32, true)?,
            Operator::F32ConvertI32U => self.int_to_float(S32, F32, false)?,
            Operator::F32ConvertI64S => self.int_to_float(S64, F32, true)?,
            Operator::F32ConvertI64U => self.int_to_float(S64, F32, false)?,
            Operator::F64ConvertI32S => self.int_to_float(S32, F64, true)?,
            Operator::F64ConvertI32U => self.int_to_float(S32, F64, false)?,
            Operator::F64ConvertI64S => self.int_to_float(S64, F64, true)?,
            Operator::F64ConvertI64U => self.int_to_float(S64, F64, false)?,
            Operator::F32DemoteF64 => self.convert(ConvertKind::Demote)?,
            Operator::F64PromoteF32 => self.convert(ConvertKind::Promote)?,
            // Wasm 3.0 §4.3.4 reinterpret: the bits stay; 32-bit values
            // stay zero-extended.
            Operator::I32ReinterpretF32 | Operator::F32ReinterpretI32 => {
                self.extend(ExtendKind::Low32)?
            }
            Operator::I64ReinterpretF64 | Operator::F64ReinterpretI64 => {}

            other => {
                return Err(CompileError::unsupported(
                    &format!("operator {other:?}"),
                    self.offset,
                ));
            }
        }
        Ok(())
    }
}

//! The macro-assembler: the one interface between the arch-neutral code
//! generator (`codegen/`) and an ISA (`x64/`, later `aarch64/`). Its
//! methods are shaped like Wasm operators (Winch's `MacroAssembler` is the
//! model). Operands live in the function's frame cells or in registers the
//! generator allocates from [`MacroAssembler::ALLOCATABLE`]; operators take
//! their inputs in registers (the right-hand side may be an immediate,
//! [`RegImm`]) and write their result to a register `dst`, which may be
//! one of the inputs. Every register holds a value as its cell does: the
//! bits, 32-bit values zero-extended. An ISA may use registers outside
//! the allocatable set as scratch inside any operator.

/// The most arguments a compiled `return_call` passes: they go through a
/// fixed buffer of the invocation's state, since the caller's frame is
/// gone when the callee copies them (more fall back to the interpreter).
pub const MAX_TAIL_CALL_ARGS: u32 = 32;

/// Per-invocation state the entry trampoline and trap stubs share (a
/// register each backend pins: r15 on x64, x27 on aarch64).
#[repr(C)]
#[derive(Debug)]
pub struct EntryState {
    /// The trampoline's stack pointer after saving registers.
    pub saved_sp: u64,
    /// The lowest stack address a frame may reach.
    pub stack_limit: u64,
    /// Where `return_call` leaves its arguments for the callee.
    pub tail_args: [u64; MAX_TAIL_CALL_ARGS as usize],
}

impl EntryState {
    /// The state of an invocation whose frames may reach `stack_limit`.
    pub fn new(stack_limit: u64) -> EntryState {
        EntryState {
            saved_sp: 0,
            stack_limit,
            tail_args: [0; MAX_TAIL_CALL_ARGS as usize],
        }
    }
}

/// Offset of [`EntryState::saved_sp`].
pub const SAVED_SP: i32 = std::mem::offset_of!(EntryState, saved_sp) as i32;
/// Offset of [`EntryState::stack_limit`].
pub const STACK_LIMIT: i32 = std::mem::offset_of!(EntryState, stack_limit) as i32;
/// Offset of [`EntryState::tail_args`].
pub const TAIL_ARGS: i32 = std::mem::offset_of!(EntryState, tail_args) as i32;

/// Bytes of a frame of `cells` cells plus the saved cells pointer and
/// VM context (frame pointer - 8, - 16), kept a multiple of 16 so calls
/// see an aligned stack (both System V and AAPCS64 want it).
pub fn frame_bytes(cells: u32) -> Option<i32> {
    let bytes = (u64::from(cells) + 2) * 8;
    i32::try_from(bytes.div_ceil(16) * 16).ok()
}

/// A register, by a number the ISA gives it (below 64): general-purpose
/// registers and float registers share the numbering, so one register
/// names either (see [`MacroAssembler::ALLOCATABLE_FLOAT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg(pub u8);

/// A right-hand operand: a register, or a constant (i32 values
/// zero-extended) the ISA folds into an immediate where it can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegImm {
    /// In a register.
    Reg(Reg),
    /// A constant.
    Imm(u64),
}

/// The width of an integer operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperandSize {
    /// 32 bits (`i32`).
    S32,
    /// 64 bits (`i64`).
    S64,
}

/// Binary integer operators (Wasm 3.0 §4.3.2), `dst = lhs op rhs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntBinOp {
    /// `add`.
    Add,
    /// `sub`.
    Sub,
    /// `mul`.
    Mul,
    /// `div_s`: traps on zero and on overflow.
    DivS,
    /// `div_u`: traps on zero.
    DivU,
    /// `rem_s`: traps on zero; `MIN rem -1` is 0.
    RemS,
    /// `rem_u`: traps on zero.
    RemU,
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `xor`.
    Xor,
    /// `shl`, count modulo the width.
    Shl,
    /// `shr_s`.
    ShrS,
    /// `shr_u`.
    ShrU,
    /// `rotl`.
    Rotl,
    /// `rotr`.
    Rotr,
}

/// Integer comparisons (Wasm 3.0 §4.3.2 irelop), `dst = (lhs cmp rhs) as i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntCmpKind {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `lt_s`.
    LtS,
    /// `lt_u`.
    LtU,
    /// `gt_s`.
    GtS,
    /// `gt_u`.
    GtU,
    /// `le_s`.
    LeS,
    /// `le_u`.
    LeU,
    /// `ge_s`.
    GeS,
    /// `ge_u`.
    GeU,
}

impl IntCmpKind {
    /// The comparison true exactly when this one is false.
    pub fn inverse(self) -> IntCmpKind {
        use IntCmpKind as K;
        match self {
            K::Eq => K::Ne,
            K::Ne => K::Eq,
            K::LtS => K::GeS,
            K::LtU => K::GeU,
            K::GtS => K::LeS,
            K::GtU => K::LeU,
            K::LeS => K::GtS,
            K::LeU => K::GtU,
            K::GeS => K::LtS,
            K::GeU => K::LtU,
        }
    }
}

/// Unary integer operators, `dst = op src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntUnOp {
    /// `clz`.
    Clz,
    /// `ctz`.
    Ctz,
    /// `popcnt`.
    Popcnt,
    /// `eqz` (result is an i32).
    Eqz,
}

/// Integer width conversions, `dst = extend src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtendKind {
    /// `i32.wrap_i64` and `i64.extend_i32_u`: keep the low 32 bits.
    Low32,
    /// `i64.extend_i32_s`.
    I64FromI32S,
    /// `i32.extend8_s`.
    I32From8S,
    /// `i32.extend16_s`.
    I32From16S,
    /// `i64.extend8_s`.
    I64From8S,
    /// `i64.extend16_s`.
    I64From16S,
}

/// The width of a float operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatSize {
    /// `f32` (its bits zero-extended in a cell).
    F32,
    /// `f64`.
    F64,
}

/// Binary float operators (Wasm 3.0 §4.3.3), `dst = lhs op rhs` on the bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatBinOp {
    /// `add`.
    Add,
    /// `sub`.
    Sub,
    /// `mul`.
    Mul,
    /// `div`.
    Div,
    /// `min`: NaN if either is NaN, -0 below +0.
    Min,
    /// `max`: NaN if either is NaN, +0 above -0.
    Max,
    /// `copysign`: a bit operation.
    Copysign,
}

/// Unary float operators, `dst = op src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatUnOp {
    /// `abs`: clears the sign bit.
    Abs,
    /// `neg`: flips the sign bit.
    Neg,
    /// `sqrt`.
    Sqrt,
    /// `ceil`.
    Ceil,
    /// `floor`.
    Floor,
    /// `trunc`.
    Trunc,
    /// `nearest`: ties to even.
    Nearest,
}

/// Float comparisons (Wasm 3.0 §4.3.3 frelop), `dst = (lhs cmp rhs) as i32`;
/// false on NaN except `ne`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatCmpKind {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `lt`.
    Lt,
    /// `gt`.
    Gt,
    /// `le`.
    Le,
    /// `ge`.
    Ge,
}

/// Float to integer conversions (`trunc` and `trunc_sat`, Wasm 3.0 §4.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TruncKind {
    /// The source type.
    pub from: FloatSize,
    /// The integer result's width.
    pub to: OperandSize,
    /// Signed (`_s`) or unsigned (`_u`).
    pub signed: bool,
    /// `trunc_sat`: NaN gives 0, out-of-range values clamp; otherwise they
    /// trap ("invalid conversion to integer", "integer overflow").
    pub saturating: bool,
}

/// Other conversions between numeric types (Wasm 3.0 §4.3.4), `dst = conv src`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvertKind {
    /// `fN.convert_iM_s` / `_u`: integer of width `from` to float `to`.
    FromInt {
        from: OperandSize,
        to: FloatSize,
        signed: bool,
    },
    /// `f64.promote_f32`.
    Promote,
    /// `f32.demote_f64`.
    Demote,
}

/// The width and extension of a memory load (Wasm 3.0 §4.4.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// `i32.load`, `i64.load32_u`: 4 bytes, zero-extended.
    U32,
    /// `i64.load`: 8 bytes.
    U64,
    /// `*.load8_u`.
    U8,
    /// `*.load16_u`.
    U16,
    /// `i32.load8_s`.
    I32S8,
    /// `i32.load16_s`.
    I32S16,
    /// `i64.load8_s`.
    I64S8,
    /// `i64.load16_s`.
    I64S16,
    /// `i64.load32_s`.
    I64S32,
}

impl LoadKind {
    /// Bytes read.
    pub fn bytes(self) -> u32 {
        match self {
            LoadKind::U8 | LoadKind::I32S8 | LoadKind::I64S8 => 1,
            LoadKind::U16 | LoadKind::I32S16 | LoadKind::I64S16 => 2,
            LoadKind::U32 | LoadKind::I64S32 => 4,
            LoadKind::U64 => 8,
        }
    }
}

/// Where a memory access goes: which memory's definition, the static
/// offset, the address type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAccess {
    /// Offset of the memory's definition pointer in the VM context.
    pub definition_slot: u32,
    /// Offsets of base and length inside the definition.
    pub base: u32,
    pub length: u32,
    /// The memarg's static offset.
    pub offset: u64,
    /// Whether addresses are i64 (memory64); else the low 32 bits count.
    pub memory64: bool,
}

/// Why compiled code stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable = 1,
    /// Integer division or remainder by zero.
    IntegerDivideByZero = 2,
    /// Signed division overflow.
    IntegerOverflow = 3,
    /// The stack limit was reached ("call stack exhausted").
    StackExhausted = 4,
    /// A load or store beyond the memory's length.
    MemoryOutOfBounds = 5,
    /// A trapping float-to-integer conversion of NaN.
    InvalidConversionToInteger = 6,
    /// A call-out failed; the embedder recorded why (a trap with its own
    /// kind, a host error, an exit).
    CallOut = 7,
    /// The store's fuel ran out.
    OutOfFuel = 8,
    /// The engine's epoch reached the store's deadline.
    Interrupted = 9,
    /// Not a trap: a wasm exception is pending (the embedder holds it).
    /// Compiled functions return this status in eax to their caller,
    /// which goes to its innermost handler or returns it in turn.
    Exception = 10,
    /// `ref.as_non_null` of null.
    NullReference = 11,
}

impl TrapCode {
    /// Every trap code, for emitting one stub each.
    pub const ALL: [TrapCode; 11] = [
        TrapCode::Unreachable,
        TrapCode::IntegerDivideByZero,
        TrapCode::IntegerOverflow,
        TrapCode::StackExhausted,
        TrapCode::MemoryOutOfBounds,
        TrapCode::InvalidConversionToInteger,
        TrapCode::CallOut,
        TrapCode::OutOfFuel,
        TrapCode::Interrupted,
        TrapCode::Exception,
        TrapCode::NullReference,
    ];

    /// The code returned by the entry trampoline, back to a value.
    pub fn from_raw(raw: u32) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|c| *c as u32 == raw)
    }

    /// The official suites' wording (the interpreter's `TrapKind` message).
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::StackExhausted => "call stack exhausted",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::CallOut => "a call-out failed",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::Interrupted => "interrupted",
            TrapCode::Exception => "uncaught exception",
            TrapCode::NullReference => "null reference",
        }
    }
}

/// A function's frame: `cells` 8-byte cells, operands first, then locals
/// (parameters first among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// All cells of the frame.
    pub cells: u32,
    /// The cell of local 0.
    pub first_local: u32,
    /// Parameters (the first locals, copied in from the caller).
    pub params: u32,
    /// All locals, parameters included.
    pub locals: u32,
}

/// What the code generator needs from an ISA.
pub trait MacroAssembler {
    /// A code position, bound once.
    type Label: Copy;

    /// The registers the generator may hold operands in between
    /// operators. None of them survives a call, a call-out or a label:
    /// the generator puts every operand in its cell before those.
    const ALLOCATABLE: &'static [Reg];
    /// The float registers the generator may hold `f32`/`f64` operands
    /// in, under the same rules. Integer operators, memory accesses,
    /// `select` and branches take general-purpose registers only; float
    /// operators and the moves below take either. An `f32` in a float
    /// register keeps the bits a cell would (zero above bit 31).
    const ALLOCATABLE_FLOAT: &'static [Reg];

    /// A new unbound label.
    fn new_label(&mut self) -> Self::Label;
    /// Binds `label` here.
    fn bind(&mut self, label: Self::Label);

    /// The module-wide stubs: the host entry trampoline and one stub per
    /// trap code. Emitted once, first.
    fn module_prelude(&mut self);
    /// A function's first instructions: they jump to `setup`, emitted by
    /// [`frame_setup`](Self::frame_setup) once the frame size is known.
    fn function_entry(&mut self, setup: Self::Label);
    /// Allocates the frame, checks the stack limit, copies the parameters
    /// in and zeroes the other locals, then jumps to `body`.
    fn frame_setup(&mut self, frame: FrameLayout, body: Self::Label);
    /// Writes `count` results from cells `from..` back to the caller and
    /// returns (status 0).
    fn return_(&mut self, from: u32, count: u32);
    /// Where a function whose exception finds no handler in it goes: it
    /// drops the frame and returns [`TrapCode::Exception`] to its caller.
    fn exception_exit(&mut self) -> Self::Label;

    /// `dst = value` (`i32.const` values are zero-extended).
    fn load_const(&mut self, dst: Reg, value: u64);
    /// `dst = cell`.
    fn load_cell(&mut self, dst: Reg, cell: u32);
    /// `cell = src`.
    fn store_cell(&mut self, src: Reg, cell: u32);
    /// `cell = value`.
    fn store_const(&mut self, value: u64, cell: u32);
    /// `dst = src`, the bits, between registers of either kind.
    fn move_reg(&mut self, dst: Reg, src: Reg);
    /// `dst cell = src cell`.
    fn copy_cell(&mut self, dst: u32, src: u32);

    /// `dst = lhs op rhs`, trapping as the operator requires.
    fn int_binop(&mut self, op: IntBinOp, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm);
    /// `dst = (lhs cmp rhs) as i32`.
    fn int_cmp(&mut self, kind: IntCmpKind, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm);
    /// `dst = op src`.
    fn int_unop(&mut self, op: IntUnOp, size: OperandSize, dst: Reg, src: Reg);
    /// `dst = extend src`.
    fn extend(&mut self, kind: ExtendKind, dst: Reg, src: Reg);
    /// `dst = lhs op rhs` on float bits.
    fn float_binop(&mut self, op: FloatBinOp, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg);
    /// `dst = op src` on float bits.
    fn float_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: Reg, src: Reg);
    /// `dst = (lhs cmp rhs) as i32` on floats.
    fn float_cmp(&mut self, kind: FloatCmpKind, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg);
    /// `dst = trunc src`, trapping or saturating as `kind` says.
    fn float_to_int(&mut self, kind: TruncKind, dst: Reg, src: Reg);
    /// `dst = convert src`.
    fn convert(&mut self, kind: ConvertKind, dst: Reg, src: Reg);
    /// `select`: `dst = if cond (32-bit) != 0 { a } else { b }`.
    fn select(&mut self, dst: Reg, cond: Reg, a: Reg, b: Reg);

    /// `dst = value` of the global whose definition pointer is at context
    /// offset `slot` (its value `value_offset` bytes into the definition).
    fn load_global(&mut self, slot: u32, value_offset: u32, dst: Reg);
    /// Sets that global to `src`.
    fn store_global(&mut self, slot: u32, value_offset: u32, src: Reg);
    /// `dst = load(addr)`, trapping beyond the memory's length (explicit,
    /// overflow-safe check: no guard pages are relied on yet). `dst` may
    /// be a float register for [`LoadKind::U32`] and [`LoadKind::U64`].
    fn load(&mut self, access: MemoryAccess, kind: LoadKind, dst: Reg, addr: Reg);
    /// `store(addr) = value`, its low `bytes` bytes, with the same check;
    /// `value` may be a float register for 4 and 8 bytes.
    fn store(&mut self, access: MemoryAccess, bytes: u32, addr: Reg, value: Reg);

    /// Jumps to `label`.
    fn jump(&mut self, label: Self::Label);
    /// Jumps to `label` if the low 32 bits of `src` are zero.
    fn branch_if_zero(&mut self, src: Reg, label: Self::Label);
    /// Jumps to `label` if the low 32 bits of `src` are not zero.
    fn branch_if_nonzero(&mut self, src: Reg, label: Self::Label);
    /// Jumps to `label` if `lhs cmp rhs`.
    fn branch_if_cmp(
        &mut self,
        kind: IntCmpKind,
        size: OperandSize,
        lhs: Reg,
        rhs: RegImm,
        label: Self::Label,
    );
    /// Jumps to `label` unless the low 32 bits of `src` equal `value`.
    fn branch_if_not_equal(&mut self, src: Reg, value: u32, label: Self::Label);
    /// Calls the function at `callee` with its arguments (and room for its
    /// results) in cells `args..`; jumps to `exception` when it returns
    /// with an exception pending.
    fn call(&mut self, callee: Self::Label, args: u32, exception: Self::Label);
    /// `return_call` (Wasm 3.0 §4.4.10): passes the `count` arguments in
    /// cells `args..` to the function at `callee` in place of this one,
    /// whose frame is gone before the callee's is built (constant stack);
    /// the callee returns straight to this function's caller.
    fn return_call(&mut self, callee: Self::Label, args: u32, count: u32);
    /// A tail call through the call-out entry (Wasm 3.0 §4.4.10
    /// `return_call*`): calls it as [`call_out`](Self::call_out) does;
    /// on [`CALLEE_COMPILED`](crate::CALLEE_COMPILED) passes the arguments (`counts`:
    /// arguments, results) in cells `args..` to the code and context the
    /// call-out left in the store context (`tail`: its offset in the VM
    /// context, then the code's and the context's in it) in place of this
    /// function, as [`return_call`](Self::return_call) does; on 0 returns
    /// the result cells from `args` on.
    #[allow(clippy::too_many_arguments)]
    fn tail_call_out(
        &mut self,
        entry: usize,
        args: u32,
        op: u32,
        ab: (u32, u32),
        counts: (u32, u32),
        tail: (u32, u32, u32),
        exception: Self::Label,
    );
    /// A call through the call-out entry (`call` of an import,
    /// `call_indirect`, `call_ref`): calls it as [`call_out`](Self::call_out)
    /// does; on [`CALLEE_COMPILED`](crate::CALLEE_COMPILED) calls the code
    /// the call-out left in the store context (`tail`, as for
    /// [`tail_call_out`](Self::tail_call_out)) on its own context with the
    /// arguments and results in cells `args..`, as [`call`](Self::call)
    /// does, without leaving machine code.
    fn call_out_call(
        &mut self,
        entry: usize,
        args: u32,
        op: u32,
        ab: (u32, u32),
        tail: (u32, u32, u32),
        exception: Self::Label,
    );
    /// Traps.
    fn trap(&mut self, code: TrapCode);
    /// Subtracts a charge, fixed later by
    /// [`set_fuel_charge`](Self::set_fuel_charge), from the store's fuel,
    /// trapping with [`TrapCode::OutOfFuel`] when there is less left
    /// (the fuel stays as it was; the embedder zeroes it). `store_context`
    /// is the store pointer's offset in the VM context, `fuel` the fuel's
    /// in the store context. Returns the charge's handle.
    fn charge_fuel(&mut self, store_context: u32, fuel: u32) -> usize;
    /// Sets the charge `site` subtracts.
    fn set_fuel_charge(&mut self, site: usize, charge: u32);
    /// Traps with [`TrapCode::Interrupted`] once the engine's epoch (read
    /// through the pointer at `epoch` in the store context) reaches the
    /// store's `deadline`.
    fn check_epoch(&mut self, store_context: u32, epoch: u32, deadline: u32);
    /// Calls the embedder's call-out entry at `entry` as
    /// `entry(vmctx, cells + args, op, a, b)`, leaving its status in the
    /// ABI's return register.
    fn call_entry(&mut self, entry: usize, args: u32, op: u32, ab: (u32, u32));
    /// After [`call_entry`](Self::call_entry): on [`TrapCode::Exception`]
    /// jumps to `exception`; traps with any other status but 0.
    fn check_status(&mut self, exception: Self::Label);
    /// Calls the embedder's call-out entry at `entry` as
    /// `entry(vmctx, cells + args, op, a, b)`: on [`TrapCode::Exception`]
    /// jumps to `exception`; traps with any other code it returns but 0.
    fn call_out(
        &mut self,
        entry: usize,
        args: u32,
        op: u32,
        ab: (u32, u32),
        exception: Self::Label,
    ) {
        self.call_entry(entry, args, op, ab);
        self.check_status(exception);
    }

    /// The finished position-independent code, and the offset of each
    /// label asked for.
    fn finish(self, labels: &[Self::Label]) -> Result<(Vec<u8>, Vec<usize>), String>;
}

/// The end of every backend's [`MacroAssembler::finish`]: resolves the
/// relocations and `labels`, and hands back the code with each label's
/// offset (an unreachable branch target is an error, never a panic).
pub(crate) fn assemble<R: dynasmrt::relocations::Relocation>(
    mut ops: dynasmrt::VecAssembler<R>,
    labels: &[dynasmrt::DynamicLabel],
) -> Result<(Vec<u8>, Vec<usize>), String> {
    ops.commit().map_err(|e| format!("assembling: {e}"))?;
    let offsets = labels
        .iter()
        .map(|l| {
            ops.labels()
                .resolve_dynamic(*l)
                .map(|o| o.0)
                .map_err(|e| format!("assembling: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let code = ops.finalize().map_err(|e| format!("assembling: {e}"))?;
    Ok((code, offsets))
}

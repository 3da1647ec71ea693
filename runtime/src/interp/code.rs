//! The interpreter's internal code: a flat array of [`Instr`] per function,
//! produced once by the translator. Branches carry resolved targets and the
//! stack height to restore, so execution never re-validates or searches for
//! a block end.
//!
//! Stack model: one 64-bit cell per value. A frame's cells start at `fp`
//! with its locals (parameters first); operands sit above them. Heights in
//! [`BranchTarget`] are counted from `fp`.

use crate::types::TypeId;

/// Where a branch lands and what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BranchTarget {
    /// Instruction index to continue at.
    pub pc: u32,
    /// Operand height (from `fp`) of the target block's base.
    pub height: u32,
    /// How many values the branch carries to the target.
    pub arity: u32,
}

/// A memory access immediate: which memory, the static offset and whether
/// the memory's addresses are i64 (fits in the padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MemArg {
    pub offset: u64,
    pub mem: u32,
    pub memory64: bool,
}

macro_rules! numeric_ops {
    ($($name:ident),* $(,)?) => {
        /// Numeric operators that take operands from the stack and push one
        /// result (Wasm 3.0 §4.4.1). Their semantics live in `exec/numeric.rs`.
        /// The order matters: comparisons first, then arithmetic, then
        /// conversions (the translator's fusion rules rely on it).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[allow(clippy::enum_variant_names)]
        #[repr(u8)]
        pub(crate) enum NumOp { $($name),* }
    };
}

numeric_ops!(
    I32Eqz,
    I32Eq,
    I32Ne,
    I32LtS,
    I32LtU,
    I32GtS,
    I32GtU,
    I32LeS,
    I32LeU,
    I32GeS,
    I32GeU,
    I64Eqz,
    I64Eq,
    I64Ne,
    I64LtS,
    I64LtU,
    I64GtS,
    I64GtU,
    I64LeS,
    I64LeU,
    I64GeS,
    I64GeU,
    F32Eq,
    F32Ne,
    F32Lt,
    F32Gt,
    F32Le,
    F32Ge,
    F64Eq,
    F64Ne,
    F64Lt,
    F64Gt,
    F64Le,
    F64Ge,
    I32Clz,
    I32Ctz,
    I32Popcnt,
    I32Add,
    I32Sub,
    I32Mul,
    I32DivS,
    I32DivU,
    I32RemS,
    I32RemU,
    I32And,
    I32Or,
    I32Xor,
    I32Shl,
    I32ShrS,
    I32ShrU,
    I32Rotl,
    I32Rotr,
    I64Clz,
    I64Ctz,
    I64Popcnt,
    I64Add,
    I64Sub,
    I64Mul,
    I64DivS,
    I64DivU,
    I64RemS,
    I64RemU,
    I64And,
    I64Or,
    I64Xor,
    I64Shl,
    I64ShrS,
    I64ShrU,
    I64Rotl,
    I64Rotr,
    F32Abs,
    F32Neg,
    F32Ceil,
    F32Floor,
    F32Trunc,
    F32Nearest,
    F32Sqrt,
    F32Add,
    F32Sub,
    F32Mul,
    F32Div,
    F32Min,
    F32Max,
    F32Copysign,
    F64Abs,
    F64Neg,
    F64Ceil,
    F64Floor,
    F64Trunc,
    F64Nearest,
    F64Sqrt,
    F64Add,
    F64Sub,
    F64Mul,
    F64Div,
    F64Min,
    F64Max,
    F64Copysign,
    I32WrapI64,
    I32TruncF32S,
    I32TruncF32U,
    I32TruncF64S,
    I32TruncF64U,
    I64ExtendI32S,
    I64ExtendI32U,
    I64TruncF32S,
    I64TruncF32U,
    I64TruncF64S,
    I64TruncF64U,
    F32ConvertI32S,
    F32ConvertI32U,
    F32ConvertI64S,
    F32ConvertI64U,
    F32DemoteF64,
    F64ConvertI32S,
    F64ConvertI32U,
    F64ConvertI64S,
    F64ConvertI64U,
    F64PromoteF32,
    I32Extend8S,
    I32Extend16S,
    I64Extend8S,
    I64Extend16S,
    I64Extend32S,
    I32TruncSatF32S,
    I32TruncSatF32U,
    I32TruncSatF64S,
    I32TruncSatF64U,
    I64TruncSatF32S,
    I64TruncSatF32U,
    I64TruncSatF64S,
    I64TruncSatF64U,
);

/// Width and extension of a memory load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LoadKind {
    /// 32-bit load into an i32/f32 cell.
    W32,
    /// 64-bit load.
    W64,
    /// 8-bit, sign-extended to 32 bits.
    I32S8,
    /// 8-bit, zero-extended.
    U8,
    /// 16-bit, sign-extended to 32 bits.
    I32S16,
    /// 16-bit, zero-extended.
    U16,
    /// 8-bit, sign-extended to 64 bits.
    I64S8,
    /// 16-bit, sign-extended to 64 bits.
    I64S16,
    /// 32-bit, sign-extended to 64 bits.
    I64S32,
    /// 32-bit, zero-extended to 64 bits.
    U32,
}

/// Width of a memory store (the low bytes of the cell are written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreKind {
    /// 1 byte.
    B8,
    /// 2 bytes.
    B16,
    /// 4 bytes.
    B32,
    /// 8 bytes.
    B64,
}

/// One internal instruction. Indices (`func`, `global`, `mem`, `table`, …)
/// are the module's own; the executing instance maps them to store entities.
///
/// `repr(u8)` gives the enum a tag of its own: without it, Rust folds the
/// tags of nested enums (`NumOp`, `LoadKind`) into this one, and every
/// dispatch pays for decoding the packed tag.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
pub(crate) enum Instr {
    /// Trap: unreachable.
    Unreachable,
    /// Charge fuel for the straight-line code that follows.
    ConsumeFuel(u32),
    /// Trap with "interrupted" if the engine's epoch reached the store's
    /// deadline (function entry and loop headers, when enabled).
    CheckEpoch,
    /// Unconditional branch.
    Br(BranchTarget),
    /// Pop an i32; branch if non-zero.
    BrIf(BranchTarget),
    /// Pop an i32; jump (no stack change) if zero. Used by `if`.
    BrIfEqz(u32),
    /// Jump, no stack change. Used to skip an `else` or `catch` body.
    Jump(u32),
    /// Pop an index; branch to `targets[first + min(index, count)]`.
    BrTable { first: u32, count: u32 },
    /// Peek a reference: if null, pop it and branch.
    BrOnNull(BranchTarget),
    /// Peek a reference: if non-null, branch with it; else pop it.
    BrOnNonNull(BranchTarget),
    /// Return the function's results.
    Return,
    /// Call a function of the module.
    Call(u32),
    /// Call through a table entry checked against a canonical type.
    CallIndirect { type_id: TypeId, table: u32 },
    /// Call a function reference.
    CallRef,
    /// Tail call a function of the module.
    ReturnCall(u32),
    /// Tail call through a table.
    ReturnCallIndirect { type_id: TypeId, table: u32 },
    /// Tail call a function reference.
    ReturnCallRef,
    /// Throw a new exception with the module's tag.
    Throw(u32),
    /// Throw an exception reference.
    ThrowRef,
    /// Re-throw the exception caught by a legacy `catch` (held in a hidden local).
    Rethrow(u32),
    /// Discard the top cell.
    Drop,
    /// Pop a condition; keep the first or the second operand.
    Select,
    /// Push a local.
    LocalGet(u32),
    /// Pop into a local.
    LocalSet(u32),
    /// Copy the top into a local.
    LocalTee(u32),
    /// Push a global.
    GlobalGet(u32),
    /// Pop into a global.
    GlobalSet(u32),
    /// Push a constant cell.
    Const(u64),
    /// Push a numeric result.
    Num(NumOp),
    /// A binary operator whose right operand is a constant
    /// (fused `i32.const c; op`).
    NumImm { op: NumOp, imm: u64 },
    /// A binary operator whose right operand is a local
    /// (fused `local.get x; op`).
    NumLocal { op: NumOp, local: u32 },
    /// An operator whose i32 result decides a branch (fused `op; br_if`).
    BrIfNum { op: NumOp, target: BranchTarget },
    /// `local.get a; <const imm>; op` — pushes `op(local a, imm)`. The
    /// immediate is the constant sign-extended from 32 bits, which is the
    /// right cell for i32 and i64 operators alike.
    NumLocalImm { op: NumOp, local: u32, imm: i32 },
    /// `local.get a; local.get b; op` — pushes `op(local a, local b)`.
    NumLocalLocal { op: NumOp, a: u32, b: u32 },
    /// `NumLocalImm` whose result goes to local `dst` (`x = y op c`).
    NumLocalImmSet {
        op: NumOp,
        local: u32,
        imm: i32,
        dst: u32,
    },
    /// `NumLocalLocal` whose result goes to local `dst` (`x = y op z`).
    NumLocalLocalSet { op: NumOp, a: u32, b: u32, dst: u32 },
    /// A comparison of a local with a constant deciding a branch.
    BrIfLocalImm {
        op: NumOp,
        local: u32,
        imm: i32,
        target: BranchTarget,
    },
    /// A comparison of two locals deciding a branch.
    BrIfLocalLocal {
        op: NumOp,
        a: u32,
        b: u32,
        target: BranchTarget,
    },
    /// Load from memory.
    Load(LoadKind, MemArg),
    /// Store to memory.
    Store(StoreKind, MemArg),
    /// Push the memory size in pages.
    MemorySize(u32),
    /// Grow the memory; push the old size or -1.
    MemoryGrow(u32),
    /// Fill a memory range with a byte.
    MemoryFill(u32),
    /// Copy between (possibly different) memories.
    MemoryCopy { dst: u32, src: u32 },
    /// Copy a passive data segment into memory.
    MemoryInit { mem: u32, data: u32 },
    /// Drop a data segment.
    DataDrop(u32),
    /// Read a table entry.
    TableGet(u32),
    /// Write a table entry.
    TableSet(u32),
    /// Push the table size.
    TableSize(u32),
    /// Grow the table; push the old size or -1.
    TableGrow(u32),
    /// Fill a table range.
    TableFill(u32),
    /// Copy between tables.
    TableCopy { dst: u32, src: u32 },
    /// Copy an element segment into a table.
    TableInit { table: u32, elem: u32 },
    /// Drop an element segment.
    ElemDrop(u32),
    /// Push a reference to a function of the module.
    RefFunc(u32),
    /// Replace a reference by whether it is null.
    RefIsNull,
    /// Trap if the top reference is null.
    RefAsNonNull,
    /// Compare two references for identity.
    RefEq,
}

/// A `br_table` target list lives beside the code; this is one entry.
pub(crate) type BrTableTarget = BranchTarget;

// The code array's density matters to dispatch: fused forms must fit in
// the size the plain ones already need.
const _: () = assert!(std::mem::size_of::<Instr>() <= 24);

/// How a handler catches, for `try_table` (Wasm 3.0 §3.3.8.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CatchKind {
    /// Catch a tag, pass its payload.
    Tag(u32),
    /// Catch a tag, pass its payload and the exnref.
    TagRef(u32),
    /// Catch anything, pass nothing.
    All,
    /// Catch anything, pass the exnref.
    AllRef,
}

/// A clause of a `try_table` (branch to `target`) or a legacy `try`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Catch {
    /// What is caught and what is passed on.
    pub kind: CatchKind,
    /// Where the handler continues.
    pub target: BranchTarget,
}

/// What a handler region does with an exception thrown inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HandlerKind {
    /// `try_table`: the first matching clause branches out.
    TryTable(Vec<Catch>),
    /// Legacy `try … catch`: the first matching clause runs its body; the
    /// exception is kept in hidden local `exn_local` for `rethrow`.
    Legacy { catches: Vec<Catch>, exn_local: u32 },
    /// Legacy `try … delegate l`: search continues among handlers whose
    /// control depth is at most `target_depth`.
    Delegate { target_depth: u32 },
}

/// A protected range of instructions `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Handler {
    pub start: u32,
    pub end: u32,
    /// Control-stack depth of the `try` block, for `delegate`.
    pub depth: u32,
    pub kind: HandlerKind,
}

/// A translated function.
#[derive(Debug)]
pub(crate) struct CompiledFunc {
    /// The function's index in its module.
    pub index: u32,
    /// Parameter count.
    pub num_params: u32,
    /// Result count.
    pub num_results: u32,
    /// Cells of locals (parameters, declared locals, hidden exception slots).
    pub num_locals: u32,
    /// The highest operand height above `fp` the function reaches.
    pub max_height: u32,
    /// The code.
    pub code: Vec<Instr>,
    /// `br_table` targets.
    pub br_tables: Vec<BrTableTarget>,
    /// Exception handlers, outermost first.
    pub handlers: Vec<Handler>,
    /// Byte offset in the module of each instruction's wasm operator.
    pub offsets: Vec<u32>,
}

//! The interpreter's internal code: a flat array of [`Instr`] per function,
//! produced once by the translator. Branches carry resolved targets and the
//! stack height to restore, so execution never re-validates or searches for
//! a block end.
//!
//! Stack model: one 64-bit cell per value, two for a `v128` (low half
//! first). A frame's cells start at `fp` with its locals (parameters
//! first); operands sit above them. Local indices, heights and arities in
//! the code count cells (the translator resolves them from the statically
//! known types), so scalar instructions never look at a type. Heights in
//! [`BranchTarget`] are counted from `fp`.

pub(crate) use super::simd::{SimdOp, V128LoadKind};
use crate::types::TypeId;

/// Where a branch lands and what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BranchTarget {
    /// Instruction index to continue at.
    pub pc: u32,
    /// Operand height (from `fp`) of the target block's base.
    pub height: u32,
    /// How many cells the branch carries to the target.
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

/// Lists the binary operators and the comparisons with the names of their
/// specialised instructions, and hands the list to `$cb` after the tokens
/// in braces. One list feeds the `Instr` enum, the translator's
/// [`Instr::specialise`] and the dispatch loop's handlers, so a handler
/// exists for every operator × operand form and executes with a single
/// dispatch (the generic forms with a `NumOp` field dispatch twice: once on
/// the instruction, once on the operator).
///
/// Forms of a binary operator `op` (operands left, right):
/// `S` stack, stack; `SI` stack, immediate; `SL` stack, local;
/// `LI` local, immediate (pushes); `LL` local, local (pushes);
/// `LISet`/`LLSet` the same with the result stored to a local.
/// A comparison also has `BrIf…S`, `BrIf…SI`, `BrIf…SL`, `BrIf…LI`,
/// `BrIf…LL` (operands as above): branch if true.
/// Loads and stores of memory 0 have their memory and its address width
/// in the tag: `Load32…`/`Store32…` for a 32-bit memory, `Load64…`/
/// `Store64…` for memory64 (Wasm 3.0 §4.4.7); `…Local` loads take the
/// address from a local and push.
macro_rules! with_specialised {
    ($cb:ident ! { $($pass:tt)* }) => {
        $cb! {
            { $($pass)* }
            binary [
                (I32Eq, I32EqS, I32EqSI, I32EqSL, I32EqLI, I32EqLL, I32EqLISet, I32EqLLSet)
                (I32Ne, I32NeS, I32NeSI, I32NeSL, I32NeLI, I32NeLL, I32NeLISet, I32NeLLSet)
                (I32LtS, I32LtSS, I32LtSSI, I32LtSSL, I32LtSLI, I32LtSLL, I32LtSLISet, I32LtSLLSet)
                (I32LtU, I32LtUS, I32LtUSI, I32LtUSL, I32LtULI, I32LtULL, I32LtULISet, I32LtULLSet)
                (I32GtS, I32GtSS, I32GtSSI, I32GtSSL, I32GtSLI, I32GtSLL, I32GtSLISet, I32GtSLLSet)
                (I32GtU, I32GtUS, I32GtUSI, I32GtUSL, I32GtULI, I32GtULL, I32GtULISet, I32GtULLSet)
                (I32LeS, I32LeSS, I32LeSSI, I32LeSSL, I32LeSLI, I32LeSLL, I32LeSLISet, I32LeSLLSet)
                (I32LeU, I32LeUS, I32LeUSI, I32LeUSL, I32LeULI, I32LeULL, I32LeULISet, I32LeULLSet)
                (I32GeS, I32GeSS, I32GeSSI, I32GeSSL, I32GeSLI, I32GeSLL, I32GeSLISet, I32GeSLLSet)
                (I32GeU, I32GeUS, I32GeUSI, I32GeUSL, I32GeULI, I32GeULL, I32GeULISet, I32GeULLSet)
                (I64Eq, I64EqS, I64EqSI, I64EqSL, I64EqLI, I64EqLL, I64EqLISet, I64EqLLSet)
                (I64Ne, I64NeS, I64NeSI, I64NeSL, I64NeLI, I64NeLL, I64NeLISet, I64NeLLSet)
                (I64LtS, I64LtSS, I64LtSSI, I64LtSSL, I64LtSLI, I64LtSLL, I64LtSLISet, I64LtSLLSet)
                (I64LtU, I64LtUS, I64LtUSI, I64LtUSL, I64LtULI, I64LtULL, I64LtULISet, I64LtULLSet)
                (I64GtS, I64GtSS, I64GtSSI, I64GtSSL, I64GtSLI, I64GtSLL, I64GtSLISet, I64GtSLLSet)
                (I64GtU, I64GtUS, I64GtUSI, I64GtUSL, I64GtULI, I64GtULL, I64GtULISet, I64GtULLSet)
                (I64LeS, I64LeSS, I64LeSSI, I64LeSSL, I64LeSLI, I64LeSLL, I64LeSLISet, I64LeSLLSet)
                (I64LeU, I64LeUS, I64LeUSI, I64LeUSL, I64LeULI, I64LeULL, I64LeULISet, I64LeULLSet)
                (I64GeS, I64GeSS, I64GeSSI, I64GeSSL, I64GeSLI, I64GeSLL, I64GeSLISet, I64GeSLLSet)
                (I64GeU, I64GeUS, I64GeUSI, I64GeUSL, I64GeULI, I64GeULL, I64GeULISet, I64GeULLSet)
                (F32Eq, F32EqS, F32EqSI, F32EqSL, F32EqLI, F32EqLL, F32EqLISet, F32EqLLSet)
                (F32Ne, F32NeS, F32NeSI, F32NeSL, F32NeLI, F32NeLL, F32NeLISet, F32NeLLSet)
                (F32Lt, F32LtS, F32LtSI, F32LtSL, F32LtLI, F32LtLL, F32LtLISet, F32LtLLSet)
                (F32Gt, F32GtS, F32GtSI, F32GtSL, F32GtLI, F32GtLL, F32GtLISet, F32GtLLSet)
                (F32Le, F32LeS, F32LeSI, F32LeSL, F32LeLI, F32LeLL, F32LeLISet, F32LeLLSet)
                (F32Ge, F32GeS, F32GeSI, F32GeSL, F32GeLI, F32GeLL, F32GeLISet, F32GeLLSet)
                (F64Eq, F64EqS, F64EqSI, F64EqSL, F64EqLI, F64EqLL, F64EqLISet, F64EqLLSet)
                (F64Ne, F64NeS, F64NeSI, F64NeSL, F64NeLI, F64NeLL, F64NeLISet, F64NeLLSet)
                (F64Lt, F64LtS, F64LtSI, F64LtSL, F64LtLI, F64LtLL, F64LtLISet, F64LtLLSet)
                (F64Gt, F64GtS, F64GtSI, F64GtSL, F64GtLI, F64GtLL, F64GtLISet, F64GtLLSet)
                (F64Le, F64LeS, F64LeSI, F64LeSL, F64LeLI, F64LeLL, F64LeLISet, F64LeLLSet)
                (F64Ge, F64GeS, F64GeSI, F64GeSL, F64GeLI, F64GeLL, F64GeLISet, F64GeLLSet)
                (I32Add, I32AddS, I32AddSI, I32AddSL, I32AddLI, I32AddLL, I32AddLISet, I32AddLLSet)
                (I32Sub, I32SubS, I32SubSI, I32SubSL, I32SubLI, I32SubLL, I32SubLISet, I32SubLLSet)
                (I32Mul, I32MulS, I32MulSI, I32MulSL, I32MulLI, I32MulLL, I32MulLISet, I32MulLLSet)
                (I32DivS, I32DivSS, I32DivSSI, I32DivSSL, I32DivSLI, I32DivSLL, I32DivSLISet, I32DivSLLSet)
                (I32DivU, I32DivUS, I32DivUSI, I32DivUSL, I32DivULI, I32DivULL, I32DivULISet, I32DivULLSet)
                (I32RemS, I32RemSS, I32RemSSI, I32RemSSL, I32RemSLI, I32RemSLL, I32RemSLISet, I32RemSLLSet)
                (I32RemU, I32RemUS, I32RemUSI, I32RemUSL, I32RemULI, I32RemULL, I32RemULISet, I32RemULLSet)
                (I32And, I32AndS, I32AndSI, I32AndSL, I32AndLI, I32AndLL, I32AndLISet, I32AndLLSet)
                (I32Or, I32OrS, I32OrSI, I32OrSL, I32OrLI, I32OrLL, I32OrLISet, I32OrLLSet)
                (I32Xor, I32XorS, I32XorSI, I32XorSL, I32XorLI, I32XorLL, I32XorLISet, I32XorLLSet)
                (I32Shl, I32ShlS, I32ShlSI, I32ShlSL, I32ShlLI, I32ShlLL, I32ShlLISet, I32ShlLLSet)
                (I32ShrS, I32ShrSS, I32ShrSSI, I32ShrSSL, I32ShrSLI, I32ShrSLL, I32ShrSLISet, I32ShrSLLSet)
                (I32ShrU, I32ShrUS, I32ShrUSI, I32ShrUSL, I32ShrULI, I32ShrULL, I32ShrULISet, I32ShrULLSet)
                (I32Rotl, I32RotlS, I32RotlSI, I32RotlSL, I32RotlLI, I32RotlLL, I32RotlLISet, I32RotlLLSet)
                (I32Rotr, I32RotrS, I32RotrSI, I32RotrSL, I32RotrLI, I32RotrLL, I32RotrLISet, I32RotrLLSet)
                (I64Add, I64AddS, I64AddSI, I64AddSL, I64AddLI, I64AddLL, I64AddLISet, I64AddLLSet)
                (I64Sub, I64SubS, I64SubSI, I64SubSL, I64SubLI, I64SubLL, I64SubLISet, I64SubLLSet)
                (I64Mul, I64MulS, I64MulSI, I64MulSL, I64MulLI, I64MulLL, I64MulLISet, I64MulLLSet)
                (I64DivS, I64DivSS, I64DivSSI, I64DivSSL, I64DivSLI, I64DivSLL, I64DivSLISet, I64DivSLLSet)
                (I64DivU, I64DivUS, I64DivUSI, I64DivUSL, I64DivULI, I64DivULL, I64DivULISet, I64DivULLSet)
                (I64RemS, I64RemSS, I64RemSSI, I64RemSSL, I64RemSLI, I64RemSLL, I64RemSLISet, I64RemSLLSet)
                (I64RemU, I64RemUS, I64RemUSI, I64RemUSL, I64RemULI, I64RemULL, I64RemULISet, I64RemULLSet)
                (I64And, I64AndS, I64AndSI, I64AndSL, I64AndLI, I64AndLL, I64AndLISet, I64AndLLSet)
                (I64Or, I64OrS, I64OrSI, I64OrSL, I64OrLI, I64OrLL, I64OrLISet, I64OrLLSet)
                (I64Xor, I64XorS, I64XorSI, I64XorSL, I64XorLI, I64XorLL, I64XorLISet, I64XorLLSet)
                (I64Shl, I64ShlS, I64ShlSI, I64ShlSL, I64ShlLI, I64ShlLL, I64ShlLISet, I64ShlLLSet)
                (I64ShrS, I64ShrSS, I64ShrSSI, I64ShrSSL, I64ShrSLI, I64ShrSLL, I64ShrSLISet, I64ShrSLLSet)
                (I64ShrU, I64ShrUS, I64ShrUSI, I64ShrUSL, I64ShrULI, I64ShrULL, I64ShrULISet, I64ShrULLSet)
                (I64Rotl, I64RotlS, I64RotlSI, I64RotlSL, I64RotlLI, I64RotlLL, I64RotlLISet, I64RotlLLSet)
                (I64Rotr, I64RotrS, I64RotrSI, I64RotrSL, I64RotrLI, I64RotrLL, I64RotrLISet, I64RotrLLSet)
                (F32Add, F32AddS, F32AddSI, F32AddSL, F32AddLI, F32AddLL, F32AddLISet, F32AddLLSet)
                (F32Sub, F32SubS, F32SubSI, F32SubSL, F32SubLI, F32SubLL, F32SubLISet, F32SubLLSet)
                (F32Mul, F32MulS, F32MulSI, F32MulSL, F32MulLI, F32MulLL, F32MulLISet, F32MulLLSet)
                (F32Div, F32DivS, F32DivSI, F32DivSL, F32DivLI, F32DivLL, F32DivLISet, F32DivLLSet)
                (F32Min, F32MinS, F32MinSI, F32MinSL, F32MinLI, F32MinLL, F32MinLISet, F32MinLLSet)
                (F32Max, F32MaxS, F32MaxSI, F32MaxSL, F32MaxLI, F32MaxLL, F32MaxLISet, F32MaxLLSet)
                (F32Copysign, F32CopysignS, F32CopysignSI, F32CopysignSL, F32CopysignLI, F32CopysignLL, F32CopysignLISet, F32CopysignLLSet)
                (F64Add, F64AddS, F64AddSI, F64AddSL, F64AddLI, F64AddLL, F64AddLISet, F64AddLLSet)
                (F64Sub, F64SubS, F64SubSI, F64SubSL, F64SubLI, F64SubLL, F64SubLISet, F64SubLLSet)
                (F64Mul, F64MulS, F64MulSI, F64MulSL, F64MulLI, F64MulLL, F64MulLISet, F64MulLLSet)
                (F64Div, F64DivS, F64DivSI, F64DivSL, F64DivLI, F64DivLL, F64DivLISet, F64DivLLSet)
                (F64Min, F64MinS, F64MinSI, F64MinSL, F64MinLI, F64MinLL, F64MinLISet, F64MinLLSet)
                (F64Max, F64MaxS, F64MaxSI, F64MaxSL, F64MaxLI, F64MaxLL, F64MaxLISet, F64MaxLLSet)
                (F64Copysign, F64CopysignS, F64CopysignSI, F64CopysignSL, F64CopysignLI, F64CopysignLL, F64CopysignLISet, F64CopysignLLSet)
            ]
            compare [
                (I32Eq, BrIfI32EqS, BrIfI32EqSI, BrIfI32EqSL, BrIfI32EqLI, BrIfI32EqLL)
                (I32Ne, BrIfI32NeS, BrIfI32NeSI, BrIfI32NeSL, BrIfI32NeLI, BrIfI32NeLL)
                (I32LtS, BrIfI32LtSS, BrIfI32LtSSI, BrIfI32LtSSL, BrIfI32LtSLI, BrIfI32LtSLL)
                (I32LtU, BrIfI32LtUS, BrIfI32LtUSI, BrIfI32LtUSL, BrIfI32LtULI, BrIfI32LtULL)
                (I32GtS, BrIfI32GtSS, BrIfI32GtSSI, BrIfI32GtSSL, BrIfI32GtSLI, BrIfI32GtSLL)
                (I32GtU, BrIfI32GtUS, BrIfI32GtUSI, BrIfI32GtUSL, BrIfI32GtULI, BrIfI32GtULL)
                (I32LeS, BrIfI32LeSS, BrIfI32LeSSI, BrIfI32LeSSL, BrIfI32LeSLI, BrIfI32LeSLL)
                (I32LeU, BrIfI32LeUS, BrIfI32LeUSI, BrIfI32LeUSL, BrIfI32LeULI, BrIfI32LeULL)
                (I32GeS, BrIfI32GeSS, BrIfI32GeSSI, BrIfI32GeSSL, BrIfI32GeSLI, BrIfI32GeSLL)
                (I32GeU, BrIfI32GeUS, BrIfI32GeUSI, BrIfI32GeUSL, BrIfI32GeULI, BrIfI32GeULL)
                (I64Eq, BrIfI64EqS, BrIfI64EqSI, BrIfI64EqSL, BrIfI64EqLI, BrIfI64EqLL)
                (I64Ne, BrIfI64NeS, BrIfI64NeSI, BrIfI64NeSL, BrIfI64NeLI, BrIfI64NeLL)
                (I64LtS, BrIfI64LtSS, BrIfI64LtSSI, BrIfI64LtSSL, BrIfI64LtSLI, BrIfI64LtSLL)
                (I64LtU, BrIfI64LtUS, BrIfI64LtUSI, BrIfI64LtUSL, BrIfI64LtULI, BrIfI64LtULL)
                (I64GtS, BrIfI64GtSS, BrIfI64GtSSI, BrIfI64GtSSL, BrIfI64GtSLI, BrIfI64GtSLL)
                (I64GtU, BrIfI64GtUS, BrIfI64GtUSI, BrIfI64GtUSL, BrIfI64GtULI, BrIfI64GtULL)
                (I64LeS, BrIfI64LeSS, BrIfI64LeSSI, BrIfI64LeSSL, BrIfI64LeSLI, BrIfI64LeSLL)
                (I64LeU, BrIfI64LeUS, BrIfI64LeUSI, BrIfI64LeUSL, BrIfI64LeULI, BrIfI64LeULL)
                (I64GeS, BrIfI64GeSS, BrIfI64GeSSI, BrIfI64GeSSL, BrIfI64GeSLI, BrIfI64GeSLL)
                (I64GeU, BrIfI64GeUS, BrIfI64GeUSI, BrIfI64GeUSL, BrIfI64GeULI, BrIfI64GeULL)
                (F32Eq, BrIfF32EqS, BrIfF32EqSI, BrIfF32EqSL, BrIfF32EqLI, BrIfF32EqLL)
                (F32Ne, BrIfF32NeS, BrIfF32NeSI, BrIfF32NeSL, BrIfF32NeLI, BrIfF32NeLL)
                (F32Lt, BrIfF32LtS, BrIfF32LtSI, BrIfF32LtSL, BrIfF32LtLI, BrIfF32LtLL)
                (F32Gt, BrIfF32GtS, BrIfF32GtSI, BrIfF32GtSL, BrIfF32GtLI, BrIfF32GtLL)
                (F32Le, BrIfF32LeS, BrIfF32LeSI, BrIfF32LeSL, BrIfF32LeLI, BrIfF32LeLL)
                (F32Ge, BrIfF32GeS, BrIfF32GeSI, BrIfF32GeSL, BrIfF32GeLI, BrIfF32GeLL)
                (F64Eq, BrIfF64EqS, BrIfF64EqSI, BrIfF64EqSL, BrIfF64EqLI, BrIfF64EqLL)
                (F64Ne, BrIfF64NeS, BrIfF64NeSI, BrIfF64NeSL, BrIfF64NeLI, BrIfF64NeLL)
                (F64Lt, BrIfF64LtS, BrIfF64LtSI, BrIfF64LtSL, BrIfF64LtLI, BrIfF64LtLL)
                (F64Gt, BrIfF64GtS, BrIfF64GtSI, BrIfF64GtSL, BrIfF64GtLI, BrIfF64GtLL)
                (F64Le, BrIfF64LeS, BrIfF64LeSI, BrIfF64LeSL, BrIfF64LeLI, BrIfF64LeLL)
                (F64Ge, BrIfF64GeS, BrIfF64GeSI, BrIfF64GeSL, BrIfF64GeLI, BrIfF64GeLL)
            ]
            loads [
                (W32, Load32W32, Load64W32, Load32W32Local, Load64W32Local)
                (W64, Load32W64, Load64W64, Load32W64Local, Load64W64Local)
                (I32S8, Load32I32S8, Load64I32S8, Load32I32S8Local, Load64I32S8Local)
                (U8, Load32U8, Load64U8, Load32U8Local, Load64U8Local)
                (I32S16, Load32I32S16, Load64I32S16, Load32I32S16Local, Load64I32S16Local)
                (U16, Load32U16, Load64U16, Load32U16Local, Load64U16Local)
                (I64S8, Load32I64S8, Load64I64S8, Load32I64S8Local, Load64I64S8Local)
                (I64S16, Load32I64S16, Load64I64S16, Load32I64S16Local, Load64I64S16Local)
                (I64S32, Load32I64S32, Load64I64S32, Load32I64S32Local, Load64I64S32Local)
                (U32, Load32U32, Load64U32, Load32U32Local, Load64U32Local)
            ]
            stores [
                (B8, Store32B8, Store64B8)
                (B16, Store32B16, Store64B16)
                (B32, Store32B32, Store64B32)
                (B64, Store32B64, Store64B64)
            ]
        }
    };
}
pub(crate) use with_specialised;

macro_rules! define_instr {
    (
        { $($fixed:tt)* }
        binary [ $(($op:ident, $s:ident, $si:ident, $sl:ident, $li:ident, $ll:ident,
                    $lis:ident, $lls:ident))* ]
        compare [ $(($cop:ident, $bs:ident, $bsi:ident, $bsl:ident, $bli:ident,
                     $bll:ident))* ]
        loads [ $(($lk:ident, $l32:ident, $l64:ident, $l32l:ident, $l64l:ident))* ]
        stores [ $(($sk:ident, $s32:ident, $s64:ident))* ]
    ) => {
        /// One internal instruction. Indices (`func`, `global`, `mem`, `table`, …)
        /// are the module's own; the executing instance maps them to store entities.
        ///
        /// `repr(u16)` gives the enum a tag of its own: without it, Rust folds the
        /// tags of nested enums (`NumOp`, `LoadKind`) into this one, and every
        /// dispatch pays for decoding the packed tag. Sixteen bits, because every
        /// binary operator also has a variant per operand form (see
        /// [`with_specialised`]). The tag makes each variant's fields laid out in
        /// declaration order after it, so a `u64` goes after a `BranchTarget`
        /// (which packs beside the tag) to keep the size at 24 bytes.
        #[derive(Clone, Copy, Debug, PartialEq)]
        #[repr(u16)]
        pub(crate) enum Instr {
            $($fixed)*
            $(
                $s,
                $si { imm: u64 },
                $sl { local: u32 },
                $li { local: u32, imm: i32 },
                $ll { a: u32, b: u32 },
                $lis { local: u32, imm: i32, dst: u32 },
                $lls { a: u32, b: u32, dst: u32 },
            )*
            $(
                $bs { target: BranchTarget },
                $bsi { target: BranchTarget, imm: u64 },
                $bsl { local: u32, target: BranchTarget },
                $bli { local: u32, imm: i32, target: BranchTarget },
                $bll { a: u32, b: u32, target: BranchTarget },
            )*
            $(
                $l32 { offset: u64 },
                $l64 { offset: u64 },
                $l32l { offset: u64, local: u32 },
                $l64l { offset: u64, local: u32 },
            )*
            $(
                $s32 { offset: u64 },
                $s64 { offset: u64 },
            )*
        }

        impl Instr {
            /// The single-dispatch form of a generic numeric instruction
            /// (the same meaning, the operator in the tag); any other
            /// instruction as it is. The translator fuses in generic forms
            /// and specialises each instruction once, in place, when the
            /// function is done, so code indices do not change.
            pub(crate) fn specialise(self) -> Instr {
                match self {
                    $(
                        Instr::Num(NumOp::$op) => Instr::$s,
                        Instr::NumImm { op: NumOp::$op, imm } => Instr::$si { imm },
                        Instr::NumLocal { op: NumOp::$op, local } => Instr::$sl { local },
                        Instr::NumLocalImm { op: NumOp::$op, local, imm } => {
                            Instr::$li { local, imm }
                        }
                        Instr::NumLocalLocal { op: NumOp::$op, a, b } => Instr::$ll { a, b },
                        Instr::NumLocalImmSet { op: NumOp::$op, local, imm, dst } => {
                            Instr::$lis { local, imm, dst }
                        }
                        Instr::NumLocalLocalSet { op: NumOp::$op, a, b, dst } => {
                            Instr::$lls { a, b, dst }
                        }
                    )*
                    $(
                        Instr::BrIfNum { op: NumOp::$cop, target } => Instr::$bs { target },
                        Instr::BrIfImm { op: NumOp::$cop, imm, target } => {
                            Instr::$bsi { imm, target }
                        }
                        Instr::BrIfLocal { op: NumOp::$cop, local, target } => {
                            Instr::$bsl { local, target }
                        }
                        Instr::BrIfLocalImm { op: NumOp::$cop, local, imm, target } => {
                            Instr::$bli { local, imm, target }
                        }
                        Instr::BrIfLocalLocal { op: NumOp::$cop, a, b, target } => {
                            Instr::$bll { a, b, target }
                        }
                    )*
                    $(
                        Instr::Load(LoadKind::$lk, MemArg { mem: 0, memory64: false, offset }) => {
                            Instr::$l32 { offset }
                        }
                        Instr::Load(LoadKind::$lk, MemArg { mem: 0, memory64: true, offset }) => {
                            Instr::$l64 { offset }
                        }
                        Instr::LoadLocal {
                            kind: LoadKind::$lk,
                            memory64: false,
                            mem: 0,
                            local,
                            offset,
                        } => Instr::$l32l { offset, local },
                        Instr::LoadLocal {
                            kind: LoadKind::$lk,
                            memory64: true,
                            mem: 0,
                            local,
                            offset,
                        } => Instr::$l64l { offset, local },
                    )*
                    $(
                        Instr::Store(StoreKind::$sk, MemArg { mem: 0, memory64: false, offset }) => {
                            Instr::$s32 { offset }
                        }
                        Instr::Store(StoreKind::$sk, MemArg { mem: 0, memory64: true, offset }) => {
                            Instr::$s64 { offset }
                        }
                    )*
                    other => other,
                }
            }
        }
    };
}

with_specialised!(define_instr! {
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
    /// Pop an i32; branch if zero (fused `i32.eqz; br_if`).
    BrIfZero(BranchTarget),
    /// Pop an i64; branch if zero (fused `i64.eqz; br_if`).
    BrIfZero64(BranchTarget),
    /// Pop an i64; branch if non-zero (fused `i64.eqz; if`, whose arm is
    /// skipped when the operand is non-zero).
    BrIfNonZero64(BranchTarget),
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
    /// A comparison of the top of the stack with a constant deciding a
    /// branch (fused `const; op; br_if`). Made only from comparisons, each
    /// of which [`Instr::specialise`] turns into its one-dispatch form, so
    /// the dispatch loop has no handler for this generic form (nor for
    /// `BrIfLocal`): one measurably slowed every workload by changing how
    /// the loop compiles.
    BrIfImm {
        op: NumOp,
        target: BranchTarget,
        imm: u64,
    },
    /// A comparison of the top of the stack with a local deciding a branch
    /// (fused `local.get; op; br_if`).
    BrIfLocal {
        op: NumOp,
        local: u32,
        target: BranchTarget,
    },
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
    /// Load from the address in a local; push (fused `local.get; load`).
    /// The memory argument's fields are spread so the variant packs into
    /// the size the others need.
    LoadLocal {
        kind: LoadKind,
        memory64: bool,
        mem: u32,
        local: u32,
        offset: u64,
    },
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
    /// A SIMD operator on stack operands, with its lane index (0 if it
    /// takes none). The SIMD instructions share the dispatch loop's
    /// fallback arm (`simd.rs`), so scalar dispatch does not grow.
    Simd(SimdOp, u8),
    /// `i8x16.shuffle` with its lane indices.
    Shuffle([u8; 16]),
    /// A `v128` load.
    V128Load(V128LoadKind, MemArg),
    /// `v128.store`.
    V128Store(MemArg),
    /// `v128.loadN_lane`: `bytes` wide, into lane `lane`.
    V128LoadLane { bytes: u8, lane: u8, arg: MemArg },
    /// `v128.storeN_lane`.
    V128StoreLane { bytes: u8, lane: u8, arg: MemArg },
    /// Push a `v128` global (two cells).
    GlobalGetV128(u32),
    /// Pop a `v128` into a global.
    GlobalSetV128(u32),
    /// `select` of two `v128`s.
    SelectV128,
});

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
    /// Cells of the parameters.
    pub num_params: u32,
    /// Cells of the results.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The dispatch loop relies on every comparison fused into `br_if`
    /// with a stack operand becoming a specialised instruction.
    #[test]
    fn stack_operand_branches_are_all_specialised() {
        let target = BranchTarget {
            pc: 0,
            height: 0,
            arity: 0,
        };
        for op in (NumOp::I32Eq as u8)..=(NumOp::F64Ge as u8) {
            // SAFETY: `NumOp` is `repr(u8)` with dense discriminants.
            let op: NumOp = unsafe { std::mem::transmute(op) };
            if op == NumOp::I64Eqz {
                continue;
            }
            let imm = Instr::BrIfImm { op, target, imm: 1 };
            let local = Instr::BrIfLocal {
                op,
                local: 0,
                target,
            };
            assert_ne!(imm.specialise(), imm, "{op:?}");
            assert_ne!(local.specialise(), local, "{op:?}");
        }
    }
}

//! [`MacroAssembler`] for aarch64 through `dynasmrt`.
//!
//! ARM64 is three-address, so unlike x64 no operator needs fixed
//! registers: operands are read where the generator keeps them and the
//! result is written to `dst` directly. Where AArch64 and Wasm differ the
//! code checks explicitly: `sdiv`/`udiv` do not trap (ARM ARM C6.2.x
//! SDIV/UDIV: division by zero gives 0, `MIN / -1` gives `MIN`), and
//! `fcvtzs`/`fcvtzu` saturate (NaN gives 0), which is `trunc_sat` exactly
//! but not `trunc`. Every immediate emitted from a run-time value is
//! checked to encode first (dynasm panics on one that does not); those
//! that do not go through a scratch register.

use dynasmrt::aarch64::{
    Aarch64Relocation, encode_logical_immediate_32bit, encode_logical_immediate_64bit,
};
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm};

use super::regs::{ADDR, ALLOCATABLE, ALLOCATABLE_FLOAT, IMM, SP, STATE, V, VMCTX, vreg};
use crate::masm::{
    ConvertKind, ExtendKind, FloatBinOp, FloatCmpKind, FloatSize, FloatUnOp, FrameLayout, IntBinOp,
    IntCmpKind, IntUnOp, LoadKind, MacroAssembler, MemoryAccess, OperandSize, Reg, RegImm,
    SAVED_SP, STACK_LIMIT, TAIL_ARGS, TrapCode, TruncKind, frame_bytes,
};

/// 2^31, 2^32, 2^63 and 2^64 as f64 bits: the trapping conversions' bounds.
const TWO_31: u64 = 0x41e0_0000_0000_0000;
const TWO_32: u64 = 0x41f0_0000_0000_0000;
const TWO_63: u64 = 0x43e0_0000_0000_0000;
const TWO_64: u64 = 0x43f0_0000_0000_0000;
const MINUS_TWO_31: u64 = 0xc1e0_0000_0000_0000;
const MINUS_TWO_63: u64 = 0xc3e0_0000_0000_0000;

/// The canonical NaNs (Wasm 3.0 §4.3.3), what `min`/`max` give for a NaN
/// operand, as the interpreter does.
const CANONICAL_NAN_32: u64 = 0x7fc0_0000;
const CANONICAL_NAN_64: u64 = 0x7ff8_0000_0000_0000;

/// The fuel charge a `movz`/`movk` pair loads until its segment's length
/// is known (checked when patched, so a wrong offset fails compilation).
const FUEL_CHARGE_PLACEHOLDER: u32 = 0x7eed_f0e1;
/// The register the fuel charge is loaded into.
const FUEL_REG: u8 = 10;

/// `movz x<rd>, #imm16` (ARM ARM C6.2.x MOVZ, sf = 1, hw = 0).
fn movz_x(rd: u8, imm16: u32) -> u32 {
    0xd280_0000 | (imm16 & 0xffff) << 5 | u32::from(rd)
}

/// `movk x<rd>, #imm16, lsl #16` (ARM ARM C6.2.x MOVK, sf = 1, hw = 1).
fn movk_x_16(rd: u8, imm16: u32) -> u32 {
    0xf2a0_0000 | (imm16 & 0xffff) << 5 | u32::from(rd)
}

/// The largest offset of a scaled unsigned 64-bit `ldr`/`str` (12 bits × 8).
const MAX_SCALED_OFFSET: u32 = 4095 * 8;

/// A 64-bit access between a register and memory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// `ldr` into a general or float register.
    Load,
    /// `str` from one.
    Store,
}

/// Emits aarch64 code into a position-independent buffer.
pub struct A64Masm {
    ops: VecAssembler<Aarch64Relocation>,
    /// One stub per [`TrapCode`], in `TrapCode::ALL` order.
    trap_stubs: Vec<DynamicLabel>,
    /// Leaves with the trap code already in w0 (a failed call-out).
    trap_exit: Option<DynamicLabel>,
    /// Drops the current frame and returns [`TrapCode::Exception`].
    exception_exit: Option<DynamicLabel>,
    /// Each fuel charge: the code offset of its `movz`/`movk` pair and the
    /// charge to patch in once the segment's length is known.
    fuel_charges: Vec<(usize, u32)>,
    /// Set when something cannot be encoded (the module falls back).
    error: Option<String>,
}

impl Default for A64Masm {
    fn default() -> Self {
        A64Masm::new()
    }
}

// dynasm's `X(n)`/`W(n)` register forms expand to `n.into()`.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl A64Masm {
    pub fn new() -> A64Masm {
        A64Masm {
            ops: VecAssembler::new(0),
            trap_stubs: Vec::new(),
            trap_exit: None,
            exception_exit: None,
            fuel_charges: Vec::new(),
            error: None,
        }
    }

    fn trap_stub(&self, code: TrapCode) -> DynamicLabel {
        let i = TrapCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.trap_stubs[i]
    }

    /// `x<d> = value` through `movz`/`movk`, one instruction per non-zero
    /// 16-bit chunk (ARM ARM C6.2.x MOVZ, MOVK).
    fn mov_imm(&mut self, d: u8, value: u64) {
        if value == 0 {
            dynasm!(self.ops ; .arch aarch64 ; movz X(d), 0);
            return;
        }
        let mut first = true;
        for (i, chunk) in (0..4).map(|i| (i, (value >> (16 * i)) as u32 & 0xffff)) {
            if chunk == 0 {
                continue;
            }
            match (first, i) {
                (true, 0) => dynasm!(self.ops ; .arch aarch64 ; movz X(d), chunk),
                (true, 1) => dynasm!(self.ops ; .arch aarch64 ; movz X(d), chunk, lsl 16),
                (true, 2) => dynasm!(self.ops ; .arch aarch64 ; movz X(d), chunk, lsl 32),
                (true, _) => dynasm!(self.ops ; .arch aarch64 ; movz X(d), chunk, lsl 48),
                (false, 1) => dynasm!(self.ops ; .arch aarch64 ; movk X(d), chunk, lsl 16),
                (false, 2) => dynasm!(self.ops ; .arch aarch64 ; movk X(d), chunk, lsl 32),
                (false, _) => dynasm!(self.ops ; .arch aarch64 ; movk X(d), chunk, lsl 48),
            }
            first = false;
        }
    }

    /// A 64-bit `ldr`/`str` of register `r` (general, or float if
    /// `float`) at `base + offset` (`base` 31 is sp): the scaled immediate
    /// form when the offset encodes, else through x17.
    fn mem64(&mut self, access: Access, r: u8, float: bool, base: u8, offset: u32) {
        let (base, offset) = if offset.is_multiple_of(8) && offset <= MAX_SCALED_OFFSET {
            (base, offset)
        } else {
            self.mov_imm(ADDR, u64::from(offset));
            dynasm!(self.ops ; .arch aarch64 ; add XSP(ADDR), XSP(base), X(ADDR), uxtx);
            (ADDR, 0)
        };
        match (access, float) {
            (Access::Load, false) => {
                dynasm!(self.ops ; .arch aarch64 ; ldr X(r), [XSP(base), offset])
            }
            (Access::Store, false) => {
                dynasm!(self.ops ; .arch aarch64 ; str X(r), [XSP(base), offset])
            }
            (Access::Load, true) => {
                dynasm!(self.ops ; .arch aarch64 ; ldr D(r), [XSP(base), offset])
            }
            (Access::Store, true) => {
                dynasm!(self.ops ; .arch aarch64 ; str D(r), [XSP(base), offset])
            }
        }
    }

    /// `x<d> = [x<base> + offset]`.
    fn load_x(&mut self, d: u8, base: u8, offset: u32) {
        self.mem64(Access::Load, d, false, base, offset);
    }

    /// `[x<base> + offset] = x<s>`.
    fn store_x(&mut self, s: u8, base: u8, offset: u32) {
        self.mem64(Access::Store, s, false, base, offset);
    }

    /// The sp-relative offset of `cell` (cells are addressed from the
    /// stack pointer, which stays put in a function body, so the body can
    /// be emitted before the frame size is known).
    fn cell_offset(&mut self, cell: u32) -> u32 {
        match cell.checked_mul(8) {
            Some(d) => d,
            None => {
                self.error = Some(format!("frame cell {cell} is beyond reach"));
                0
            }
        }
    }

    /// `x<d> = sp + 8 cell`.
    fn cell_address(&mut self, d: u8, cell: u32) {
        let offset = self.cell_offset(cell);
        if offset <= 4095 {
            dynasm!(self.ops ; .arch aarch64 ; add XSP(d), sp, offset);
        } else {
            self.mov_imm(d, u64::from(offset));
            dynasm!(self.ops ; .arch aarch64 ; add XSP(d), sp, X(d), uxtx);
        }
    }

    /// `dst = src` (nothing when they are the same register); a 32-bit
    /// move zero-extends, float registers move all 64 bits of a cell.
    fn mov(&mut self, size: OperandSize, dst: Reg, src: Reg) {
        if dst == src {
            return;
        }
        let (d, s) = (dst.0, src.0);
        match (vreg(dst), vreg(src), size) {
            (None, None, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; mov W(d), W(s)),
            (None, None, OperandSize::S64) => dynasm!(self.ops ; .arch aarch64 ; mov X(d), X(s)),
            (Some(d), None, _) => dynasm!(self.ops ; .arch aarch64 ; fmov D(d), X(s)),
            (None, Some(s), _) => dynasm!(self.ops ; .arch aarch64 ; fmov X(d), D(s)),
            (Some(d), Some(s), _) => dynasm!(self.ops ; .arch aarch64 ; fmov D(d), D(s)),
        }
    }

    /// The v number holding float operand `r`: its own, or v`scratch`
    /// loaded from the general register.
    fn float_in(&mut self, r: Reg, scratch: u8) -> u8 {
        match vreg(r) {
            Some(v) => v,
            None => {
                self.mov(OperandSize::S64, Reg(V + scratch), r);
                scratch
            }
        }
    }

    /// The v number a float result is computed in: `dst`'s own, or v0.
    fn float_target(dst: Reg) -> u8 {
        vreg(dst).unwrap_or(0)
    }

    /// Moves a float result computed in v`t` to `dst`.
    fn float_out(&mut self, dst: Reg, t: u8) {
        self.mov(OperandSize::S64, dst, Reg(V + t));
    }

    /// The general register holding operand `r`: its own, or `scratch`
    /// loaded from the float register.
    fn gp_in(&mut self, r: Reg, scratch: u8) -> u8 {
        match vreg(r) {
            Some(_) => {
                self.mov(OperandSize::S64, Reg(scratch), r);
                scratch
            }
            None => r.0,
        }
    }

    /// The general register a result is computed in: `dst`, or x16 when
    /// `dst` is a float register (then moved by [`gp_out`](Self::gp_out)).
    fn gp_target(dst: Reg) -> u8 {
        vreg(dst).map_or(dst.0, |_| IMM)
    }

    fn gp_out(&mut self, dst: Reg, t: u8) {
        self.mov(OperandSize::S64, dst, Reg(t));
    }

    /// `rhs` in a general register: its own, or x16 holding the constant.
    fn rhs_in_reg(&mut self, rhs: RegImm) -> u8 {
        match rhs {
            RegImm::Reg(r) => self.gp_in(r, IMM),
            RegImm::Imm(v) => {
                self.mov_imm(IMM, v);
                IMM
            }
        }
    }

    /// The constant `rhs` as an operand of `size` (i32 constants are the
    /// low 32 bits).
    fn constant(size: OperandSize, rhs: RegImm) -> Option<u64> {
        match (rhs, size) {
            (RegImm::Imm(v), OperandSize::S32) => Some(v & 0xffff_ffff),
            (RegImm::Imm(v), OperandSize::S64) => Some(v),
            (RegImm::Reg(_), _) => None,
        }
    }

    /// Sets the flags as `cmp lhs, rhs` of `size`: a 12-bit immediate
    /// when the constant fits (ARM ARM C6.2.x CMP (immediate)).
    fn compare(&mut self, size: OperandSize, lhs: Reg, rhs: RegImm) {
        let l = lhs.0;
        if let Some(imm) = Self::constant(size, rhs).filter(|v| *v <= 4095) {
            let imm = imm as u32;
            match size {
                OperandSize::S32 => dynasm!(self.ops ; .arch aarch64 ; cmp WSP(l), imm),
                OperandSize::S64 => dynasm!(self.ops ; .arch aarch64 ; cmp XSP(l), imm),
            }
            return;
        }
        let r = self.rhs_in_reg(rhs);
        match size {
            OperandSize::S32 => dynasm!(self.ops ; .arch aarch64 ; cmp W(l), W(r)),
            OperandSize::S64 => dynasm!(self.ops ; .arch aarch64 ; cmp X(l), X(r)),
        }
    }

    /// `w<d> = 1` if the flags say `kind`, else 0.
    fn cset(&mut self, d: u8, kind: IntCmpKind) {
        use IntCmpKind as K;
        match kind {
            K::Eq => dynasm!(self.ops ; .arch aarch64 ; cset W(d), eq),
            K::Ne => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ne),
            K::LtS => dynasm!(self.ops ; .arch aarch64 ; cset W(d), lt),
            K::LtU => dynasm!(self.ops ; .arch aarch64 ; cset W(d), lo),
            K::GtS => dynasm!(self.ops ; .arch aarch64 ; cset W(d), gt),
            K::GtU => dynasm!(self.ops ; .arch aarch64 ; cset W(d), hi),
            K::LeS => dynasm!(self.ops ; .arch aarch64 ; cset W(d), le),
            K::LeU => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ls),
            K::GeS => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ge),
            K::GeU => dynasm!(self.ops ; .arch aarch64 ; cset W(d), hs),
        }
    }

    /// Loads f64 constant `bits` into v2 and compares v0 with it.
    fn compare_f64_const(&mut self, bits: u64) {
        self.mov_imm(IMM, bits);
        dynasm!(self.ops ; .arch aarch64 ; fmov d2, X(IMM) ; fcmp d0, d2);
    }

    /// Checks an access of `bytes` bytes at the address in `addr`
    /// (Wasm 3.0 §4.4.7: `ea = i + offset`, trapping when `ea + bytes`
    /// exceeds the length, every sum checked for overflow through the
    /// carry). Leaves the memory's base in x16 and `ea` in x9: the access
    /// is at `[x16, x9]`. Clobbers x10, x11, x17.
    fn effective_address(&mut self, access: MemoryAccess, bytes: u32, addr: Reg) {
        let oob = self.trap_stub(TrapCode::MemoryOutOfBounds);
        let a = addr.0;
        self.load_x(IMM, VMCTX, access.definition_slot);
        if access.memory64 {
            dynasm!(self.ops ; .arch aarch64 ; mov x9, X(a));
        } else {
            // A 32-bit address is the register's low half (ARM ARM: a W
            // write zeroes the upper 32 bits).
            dynasm!(self.ops ; .arch aarch64 ; mov w9, W(a));
        }
        if access.offset != 0 {
            if access.offset <= 4095 {
                let o = access.offset as u32;
                dynasm!(self.ops ; .arch aarch64 ; adds x9, x9, o);
            } else {
                self.mov_imm(10, access.offset);
                dynasm!(self.ops ; .arch aarch64 ; adds x9, x9, x10);
            }
            dynasm!(self.ops ; .arch aarch64 ; b.hs =>oob);
        }
        dynasm!(self.ops ; .arch aarch64 ; adds x10, x9, bytes ; b.hs =>oob);
        self.load_x(11, IMM, access.length);
        dynasm!(self.ops ; .arch aarch64 ; cmp x10, x11 ; b.hi =>oob);
        self.load_x(IMM, IMM, access.base);
    }

    /// x9 = the code address and x28 = the context a call-out left in the
    /// store context (offsets: the store context's in the VM context,
    /// then the code's and the context's in it).
    fn load_callee(&mut self, (store_context, code, vmctx): (u32, u32, u32)) {
        self.load_x(IMM, VMCTX, store_context);
        self.load_x(9, IMM, code);
        self.load_x(VMCTX, IMM, vmctx);
    }

    /// After a call returned: reload this frame's context (a tail call in
    /// the callee may have switched it) and go to `exception` on a
    /// non-zero status.
    fn after_call(&mut self, exception: DynamicLabel) {
        dynasm!(self.ops
            ; .arch aarch64
            ; ldur X(VMCTX), [x29, -16]
            ; cbnz w0, =>exception
        );
    }

    /// A tail call's exit: the callee's arguments are the tail-call buffer
    /// (x0) and its cells start where this frame's did (x1); this frame
    /// is popped (x30 is this function's return address again), so the
    /// branch that follows reuses its stack. Keeps x9.
    fn leave_for_tail_call(&mut self) {
        dynasm!(self.ops
            ; .arch aarch64
            ; add x0, XSP(STATE), TAIL_ARGS as u32
            ; ldur x1, [x29, -8]
            ; mov sp, x29
            ; ldp x29, x30, [sp], 16
        );
    }

    /// Copies `count` argument cells from `args` on into the invocation's
    /// tail-call buffer, which outlives this frame.
    fn copy_tail_args(&mut self, args: u32, count: u32) {
        for i in 0..count {
            let from = self.cell_offset(args + i);
            self.load_x(10, SP, from);
            self.store_x(10, STATE, TAIL_ARGS as u32 + i * 8);
        }
    }

    /// The frame's epilogue: drops it and returns (status in w0).
    fn leave_and_return(&mut self) {
        dynasm!(self.ops
            ; .arch aarch64
            ; mov sp, x29
            ; ldp x29, x30, [sp], 16
            ; ret
        );
    }
}

/// Operators, one method per family.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl A64Masm {
    /// `d = l op imm` when the constant encodes as the instruction's
    /// immediate (12-bit arithmetic, ARM ARM C6.2.x ADD (immediate); a
    /// bitmask for the logical ones, C6.2.x AND (immediate)); false
    /// otherwise, nothing emitted.
    fn int_binop_imm(&mut self, op: IntBinOp, size: OperandSize, d: u8, l: u8, imm: u64) -> bool {
        use IntBinOp as B;
        let s32 = size == OperandSize::S32;
        match op {
            B::Add | B::Sub if imm <= 4095 => {
                let i = imm as u32;
                match (op, s32) {
                    (B::Add, true) => dynasm!(self.ops ; .arch aarch64 ; add WSP(d), WSP(l), i),
                    (B::Add, false) => dynasm!(self.ops ; .arch aarch64 ; add XSP(d), XSP(l), i),
                    (_, true) => dynasm!(self.ops ; .arch aarch64 ; sub WSP(d), WSP(l), i),
                    (_, false) => dynasm!(self.ops ; .arch aarch64 ; sub XSP(d), XSP(l), i),
                }
                true
            }
            B::And | B::Or | B::Xor => {
                let encodes = if s32 {
                    encode_logical_immediate_32bit(imm as u32).is_some()
                } else {
                    encode_logical_immediate_64bit(imm).is_some()
                };
                if !encodes {
                    return false;
                }
                match (op, s32) {
                    (B::And, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; and WSP(d), W(l), imm as u32)
                    }
                    (B::And, false) => dynasm!(self.ops ; .arch aarch64 ; and XSP(d), X(l), imm),
                    (B::Or, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; orr WSP(d), W(l), imm as u32)
                    }
                    (B::Or, false) => dynasm!(self.ops ; .arch aarch64 ; orr XSP(d), X(l), imm),
                    (_, true) => dynasm!(self.ops ; .arch aarch64 ; eor WSP(d), W(l), imm as u32),
                    (_, false) => dynasm!(self.ops ; .arch aarch64 ; eor XSP(d), X(l), imm),
                }
                true
            }
            _ => false,
        }
    }

    /// `d = l op r`, all in general registers.
    fn int_binop_reg(&mut self, op: IntBinOp, size: OperandSize, d: u8, l: u8, r: u8) {
        use IntBinOp as B;
        let div_zero = self.trap_stub(TrapCode::IntegerDivideByZero);
        let overflow = self.trap_stub(TrapCode::IntegerOverflow);
        if matches!(op, B::DivS | B::DivU | B::RemS | B::RemU) {
            // ARM ARM C6.2.x SDIV/UDIV give 0 for a zero divisor: Wasm 3.0
            // §4.3.2 idiv/irem trap.
            match size {
                OperandSize::S32 => dynasm!(self.ops ; .arch aarch64 ; cbz W(r), =>div_zero),
                OperandSize::S64 => dynasm!(self.ops ; .arch aarch64 ; cbz X(r), =>div_zero),
            }
        }
        if op == B::DivS {
            // idiv_s: MIN / -1 is undefined (traps); SDIV would give MIN.
            // With r = -1, `l - 1` overflows (V) exactly when l is MIN.
            let ok = self.ops.new_dynamic_label();
            match size {
                OperandSize::S32 => dynasm!(self.ops ; .arch aarch64
                    ; cmn WSP(r), 1 ; b.ne =>ok ; cmp WSP(l), 1 ; b.vs =>overflow ; =>ok),
                OperandSize::S64 => dynasm!(self.ops ; .arch aarch64
                    ; cmn XSP(r), 1 ; b.ne =>ok ; cmp XSP(l), 1 ; b.vs =>overflow ; =>ok),
            }
        }
        match (op, size) {
            (B::Add, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; add W(d), W(l), W(r)),
            (B::Sub, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; sub W(d), W(l), W(r)),
            (B::Mul, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; mul W(d), W(l), W(r)),
            (B::And, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; and W(d), W(l), W(r)),
            (B::Or, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; orr W(d), W(l), W(r)),
            (B::Xor, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; eor W(d), W(l), W(r)),
            // LSLV/ASRV/LSRV/RORV take the count modulo the width (ARM ARM
            // C6.2.x), as Wasm 3.0 §4.3.2 ishl/ishr/irotr do.
            (B::Shl, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; lsl W(d), W(l), W(r)),
            (B::ShrS, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; asr W(d), W(l), W(r)),
            (B::ShrU, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; lsr W(d), W(l), W(r)),
            (B::Rotr, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; ror W(d), W(l), W(r)),
            // There is no rotate left: rotl by n is rotr by -n (mod width).
            (B::Rotl, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64
                ; neg W(ADDR), W(r) ; ror W(d), W(l), W(ADDR)),
            (B::DivU, OperandSize::S32) => {
                dynasm!(self.ops ; .arch aarch64 ; udiv W(d), W(l), W(r))
            }
            (B::DivS, OperandSize::S32) => {
                dynasm!(self.ops ; .arch aarch64 ; sdiv W(d), W(l), W(r))
            }
            // irem = l - (l / r) * r; for MIN rem -1, SDIV's MIN makes it
            // MIN - MIN = 0, which is what irem_s wants.
            (B::RemU, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64
                ; udiv W(ADDR), W(l), W(r) ; msub W(d), W(ADDR), W(r), W(l)),
            (B::RemS, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64
                ; sdiv W(ADDR), W(l), W(r) ; msub W(d), W(ADDR), W(r), W(l)),
            (B::Add, _) => dynasm!(self.ops ; .arch aarch64 ; add X(d), X(l), X(r)),
            (B::Sub, _) => dynasm!(self.ops ; .arch aarch64 ; sub X(d), X(l), X(r)),
            (B::Mul, _) => dynasm!(self.ops ; .arch aarch64 ; mul X(d), X(l), X(r)),
            (B::And, _) => dynasm!(self.ops ; .arch aarch64 ; and X(d), X(l), X(r)),
            (B::Or, _) => dynasm!(self.ops ; .arch aarch64 ; orr X(d), X(l), X(r)),
            (B::Xor, _) => dynasm!(self.ops ; .arch aarch64 ; eor X(d), X(l), X(r)),
            (B::Shl, _) => dynasm!(self.ops ; .arch aarch64 ; lsl X(d), X(l), X(r)),
            (B::ShrS, _) => dynasm!(self.ops ; .arch aarch64 ; asr X(d), X(l), X(r)),
            (B::ShrU, _) => dynasm!(self.ops ; .arch aarch64 ; lsr X(d), X(l), X(r)),
            (B::Rotr, _) => dynasm!(self.ops ; .arch aarch64 ; ror X(d), X(l), X(r)),
            (B::Rotl, _) => dynasm!(self.ops ; .arch aarch64
                ; neg X(ADDR), X(r) ; ror X(d), X(l), X(ADDR)),
            (B::DivU, _) => dynasm!(self.ops ; .arch aarch64 ; udiv X(d), X(l), X(r)),
            (B::DivS, _) => dynasm!(self.ops ; .arch aarch64 ; sdiv X(d), X(l), X(r)),
            (B::RemU, _) => dynasm!(self.ops ; .arch aarch64
                ; udiv X(ADDR), X(l), X(r) ; msub X(d), X(ADDR), X(r), X(l)),
            (B::RemS, _) => dynasm!(self.ops ; .arch aarch64
                ; sdiv X(ADDR), X(l), X(r) ; msub X(d), X(ADDR), X(r), X(l)),
        }
    }

    /// `v<t> = v<l> op v<r>` for `add`, `sub`, `mul`, `div`, `min`, `max`:
    /// IEEE 754 arithmetic; a NaN operand comes back quieted (FPCR.DN is
    /// clear on Linux; Wasm 3.0 §4.3.3 allows any arithmetic NaN).
    fn float_arith(&mut self, op: FloatBinOp, size: FloatSize, t: u8, l: u8, r: u8) {
        use FloatBinOp as F;
        match (op, size) {
            (F::Add, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fadd S(t), S(l), S(r)),
            (F::Add, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fadd D(t), D(l), D(r)),
            (F::Sub, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fsub S(t), S(l), S(r)),
            (F::Sub, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fsub D(t), D(l), D(r)),
            (F::Mul, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fmul S(t), S(l), S(r)),
            (F::Mul, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fmul D(t), D(l), D(r)),
            (F::Div, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fdiv S(t), S(l), S(r)),
            (F::Div, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fdiv D(t), D(l), D(r)),
            // FMIN/FMAX order -0 below +0 (ARM ARM C7.2.x FMIN (scalar)).
            (F::Min, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fmin S(t), S(l), S(r)),
            (F::Min, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fmin D(t), D(l), D(r)),
            (_, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fmax S(t), S(l), S(r)),
            (_, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fmax D(t), D(l), D(r)),
        }
    }

    /// Sets the flags as `fcmp v<l>, v<r>` of `size` (ARM ARM C7.2.x
    /// FCMP: unordered sets C and V).
    fn fcmp(&mut self, size: FloatSize, l: u8, r: u8) {
        match size {
            FloatSize::F32 => dynasm!(self.ops ; .arch aarch64 ; fcmp S(l), S(r)),
            FloatSize::F64 => dynasm!(self.ops ; .arch aarch64 ; fcmp D(l), D(r)),
        }
    }

    /// `x<d> = trunc v0` (an f64), toward zero, saturating.
    fn fcvtz(&mut self, d: u8, to: OperandSize, signed: bool) {
        match (to, signed) {
            (OperandSize::S32, true) => dynasm!(self.ops ; .arch aarch64 ; fcvtzs W(d), d0),
            (OperandSize::S32, false) => dynasm!(self.ops ; .arch aarch64 ; fcvtzu W(d), d0),
            (OperandSize::S64, true) => dynasm!(self.ops ; .arch aarch64 ; fcvtzs X(d), d0),
            (OperandSize::S64, false) => dynasm!(self.ops ; .arch aarch64 ; fcvtzu X(d), d0),
        }
    }
}

// dynasm's `X(n)`/`W(n)` register forms expand to `n.into()`.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl MacroAssembler for A64Masm {
    type Label = DynamicLabel;

    const ALLOCATABLE: &'static [Reg] = &ALLOCATABLE;
    const ALLOCATABLE_FLOAT: &'static [Reg] = &ALLOCATABLE_FLOAT;

    fn new_label(&mut self) -> DynamicLabel {
        self.ops.new_dynamic_label()
    }

    fn bind(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch aarch64 ; =>label);
    }

    fn module_prelude(&mut self) {
        let exit = self.ops.new_dynamic_label();
        let trap_exit = self.ops.new_dynamic_label();
        // The entry trampoline (abi.rs): x0 = vmctx, x1 = cells,
        // x2 = code, x3 = state. Six pairs keep sp 16-aligned.
        dynasm!(self.ops
            ; .arch aarch64
            ; stp x29, x30, [sp, -16]!
            ; mov x29, sp
            ; stp x19, x20, [sp, -16]!
            ; stp x21, x22, [sp, -16]!
            ; stp x23, x24, [sp, -16]!
            ; stp x25, x26, [sp, -16]!
            ; stp x27, x28, [sp, -16]!
            ; mov X(VMCTX), x0
            ; mov X(STATE), x3
            ; mov XSP(IMM), sp
            ; str X(IMM), [X(STATE), SAVED_SP as u32]
            ; mov x0, x1
            ; blr x2
            // w0: 0, or TrapCode::Exception (a pending exception).
            ; =>exit
            ; ldp x27, x28, [sp], 16
            ; ldp x25, x26, [sp], 16
            ; ldp x23, x24, [sp], 16
            ; ldp x21, x22, [sp], 16
            ; ldp x19, x20, [sp], 16
            ; ldp x29, x30, [sp], 16
            ; ret
            ; =>trap_exit
            ; ldr X(IMM), [X(STATE), SAVED_SP as u32]
            ; mov sp, XSP(IMM)
            ; b =>exit
        );
        self.trap_exit = Some(trap_exit);
        // Any compiled frame (x29 is its frame pointer) can leave through
        // here when an exception finds no handler in it.
        let exception_exit = self.ops.new_dynamic_label();
        let code = TrapCode::Exception as u32;
        dynasm!(self.ops ; .arch aarch64 ; =>exception_exit ; movz w0, code);
        self.leave_and_return();
        self.exception_exit = Some(exception_exit);
        for code in TrapCode::ALL {
            let stub = self.ops.new_dynamic_label();
            let raw = code as u32;
            dynasm!(self.ops ; .arch aarch64 ; =>stub ; movz w0, raw ; b =>trap_exit);
            self.trap_stubs.push(stub);
        }
    }

    fn function_entry(&mut self, setup: DynamicLabel) {
        dynasm!(self.ops
            ; .arch aarch64
            ; stp x29, x30, [sp, -16]!
            ; mov x29, sp
            ; b =>setup
        );
    }

    fn frame_setup(&mut self, frame: FrameLayout, body: DynamicLabel) {
        let Some(bytes) = frame_bytes(frame.cells) else {
            self.error = Some(format!("a frame of {} cells is too large", frame.cells));
            return;
        };
        let overflow = self.trap_stub(TrapCode::StackExhausted);
        // The new stack pointer is checked before sp moves: a borrow or
        // an address below the limit is exhaustion.
        self.mov_imm(IMM, bytes as u64);
        dynasm!(self.ops
            ; .arch aarch64
            ; mov XSP(ADDR), sp
            ; subs X(IMM), X(ADDR), X(IMM)
            ; b.lo =>overflow
            ; ldr X(ADDR), [X(STATE), STACK_LIMIT as u32]
            ; cmp X(IMM), X(ADDR)
            ; b.lo =>overflow
            ; mov sp, XSP(IMM)
            ; stur x1, [x29, -8]
            ; stur X(VMCTX), [x29, -16]
        );
        for p in 0..frame.params {
            let to = self.cell_offset(frame.first_local + p);
            self.load_x(9, 0, p * 8);
            self.store_x(9, SP, to);
        }
        let zeroed = frame.locals - frame.params;
        if zeroed > 0 {
            let first = frame.first_local + frame.params;
            let again = self.ops.new_dynamic_label();
            self.cell_address(9, first);
            self.mov_imm(10, u64::from(zeroed));
            dynasm!(self.ops
                ; .arch aarch64
                ; =>again
                ; str xzr, [x9], 8
                ; subs x10, x10, 1
                ; b.ne =>again
            );
        }
        dynasm!(self.ops ; .arch aarch64 ; b =>body);
    }

    fn return_(&mut self, from: u32, count: u32) {
        dynasm!(self.ops ; .arch aarch64 ; ldur x1, [x29, -8]);
        for i in 0..count {
            let d = self.cell_offset(from + i);
            self.load_x(9, SP, d);
            self.store_x(9, 1, i * 8);
        }
        dynasm!(self.ops ; .arch aarch64 ; mov w0, wzr);
        self.leave_and_return();
    }

    fn exception_exit(&mut self) -> DynamicLabel {
        match self.exception_exit {
            Some(label) => label,
            None => {
                self.error = Some("a function before the module prelude".into());
                self.ops.new_dynamic_label()
            }
        }
    }

    fn load_const(&mut self, dst: Reg, value: u64) {
        match vreg(dst) {
            Some(v) => {
                self.mov_imm(IMM, value);
                dynasm!(self.ops ; .arch aarch64 ; fmov D(v), X(IMM));
            }
            None => self.mov_imm(dst.0, value),
        }
    }

    fn load_cell(&mut self, dst: Reg, cell: u32) {
        let d = self.cell_offset(cell);
        match vreg(dst) {
            Some(v) => self.mem64(Access::Load, v, true, SP, d),
            None => self.load_x(dst.0, SP, d),
        }
    }

    fn store_cell(&mut self, src: Reg, cell: u32) {
        let d = self.cell_offset(cell);
        match vreg(src) {
            Some(v) => self.mem64(Access::Store, v, true, SP, d),
            None => self.store_x(src.0, SP, d),
        }
    }

    fn store_const(&mut self, value: u64, cell: u32) {
        let d = self.cell_offset(cell);
        if value == 0 {
            // xzr is register 31 in the X forms.
            self.store_x(31, SP, d);
        } else {
            self.mov_imm(IMM, value);
            self.store_x(IMM, SP, d);
        }
    }

    fn move_reg(&mut self, dst: Reg, src: Reg) {
        self.mov(OperandSize::S64, dst, src);
    }

    fn copy_cell(&mut self, dst: u32, src: u32) {
        let (to, from) = (self.cell_offset(dst), self.cell_offset(src));
        self.load_x(IMM, SP, from);
        self.store_x(IMM, SP, to);
    }

    fn int_binop(&mut self, op: IntBinOp, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm) {
        let d = Self::gp_target(dst);
        let l = self.gp_in(lhs, 9);
        let done = match Self::constant(size, rhs) {
            Some(imm) => self.int_binop_imm(op, size, d, l, imm),
            None => false,
        };
        if !done {
            let r = self.rhs_in_reg(rhs);
            self.int_binop_reg(op, size, d, l, r);
        }
        self.gp_out(dst, d);
    }

    fn int_cmp(&mut self, kind: IntCmpKind, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm) {
        self.compare(size, lhs, rhs);
        let d = Self::gp_target(dst);
        self.cset(d, kind);
        self.gp_out(dst, d);
    }

    fn int_unop(&mut self, op: IntUnOp, size: OperandSize, dst: Reg, src: Reg) {
        let (d, s) = (Self::gp_target(dst), src.0);
        match (op, size) {
            (IntUnOp::Clz, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64 ; clz W(d), W(s)),
            (IntUnOp::Clz, OperandSize::S64) => dynasm!(self.ops ; .arch aarch64 ; clz X(d), X(s)),
            // ctz is clz of the bits reversed (ARM ARM C6.2.x RBIT).
            (IntUnOp::Ctz, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64
                ; rbit W(ADDR), W(s) ; clz W(d), W(ADDR)),
            (IntUnOp::Ctz, OperandSize::S64) => dynasm!(self.ops ; .arch aarch64
                ; rbit X(ADDR), X(s) ; clz X(d), X(ADDR)),
            // Population count on the vector unit: bytes counted by CNT,
            // summed by ADDV (ARM ARM C7.2.x); an i32 is zero-extended.
            (IntUnOp::Popcnt, _) => dynasm!(self.ops ; .arch aarch64
                ; fmov d0, X(s)
                ; cnt v0.b8, v0.b8
                ; addv b0, v0.b8
                ; fmov W(d), s0),
            (IntUnOp::Eqz, OperandSize::S32) => dynasm!(self.ops ; .arch aarch64
                ; cmp WSP(s), 0 ; cset W(d), eq),
            (IntUnOp::Eqz, OperandSize::S64) => dynasm!(self.ops ; .arch aarch64
                ; cmp XSP(s), 0 ; cset W(d), eq),
        }
        self.gp_out(dst, d);
    }

    fn extend(&mut self, kind: ExtendKind, dst: Reg, src: Reg) {
        let (d, s) = (Self::gp_target(dst), src.0);
        match kind {
            ExtendKind::Low32 => dynasm!(self.ops ; .arch aarch64 ; mov W(d), W(s)),
            ExtendKind::I64FromI32S => dynasm!(self.ops ; .arch aarch64 ; sxtw X(d), W(s)),
            ExtendKind::I32From8S => dynasm!(self.ops ; .arch aarch64 ; sxtb W(d), W(s)),
            ExtendKind::I32From16S => dynasm!(self.ops ; .arch aarch64 ; sxth W(d), W(s)),
            ExtendKind::I64From8S => dynasm!(self.ops ; .arch aarch64 ; sxtb X(d), W(s)),
            ExtendKind::I64From16S => dynasm!(self.ops ; .arch aarch64 ; sxth X(d), W(s)),
        }
        self.gp_out(dst, d);
    }

    fn float_binop(&mut self, op: FloatBinOp, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg) {
        use FloatBinOp as F;
        if op == F::Copysign {
            // Wasm 3.0 §4.3.3 fcopysign: bit operations, NaN payloads kept.
            let d = Self::gp_target(dst);
            let l = self.gp_in(lhs, 9);
            let r = self.gp_in(rhs, 10);
            match size {
                FloatSize::F32 => dynasm!(self.ops ; .arch aarch64
                    ; and w11, W(r), 0x8000_0000
                    ; and WSP(d), W(l), 0x7fff_ffff
                    ; orr W(d), W(d), w11),
                FloatSize::F64 => dynasm!(self.ops ; .arch aarch64
                    ; and x11, X(r), 0x8000_0000_0000_0000
                    ; and XSP(d), X(l), 0x7fff_ffff_ffff_ffff
                    ; orr X(d), X(d), x11),
            }
            self.gp_out(dst, d);
            return;
        }
        let l = self.float_in(lhs, 0);
        let r = self.float_in(rhs, 1);
        let t = Self::float_target(dst);
        if matches!(op, F::Min | F::Max) {
            // fmin/fmax: any NaN gives the canonical NaN (as the
            // interpreter does; FMIN would return the NaN operand quieted).
            let (nan, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
            self.fcmp(size, l, r);
            dynasm!(self.ops ; .arch aarch64 ; b.vs =>nan);
            self.float_arith(op, size, t, l, r);
            dynasm!(self.ops ; .arch aarch64 ; b =>done ; =>nan);
            let canonical = match size {
                FloatSize::F32 => CANONICAL_NAN_32,
                FloatSize::F64 => CANONICAL_NAN_64,
            };
            self.load_const(Reg(V + t), canonical);
            dynasm!(self.ops ; .arch aarch64 ; =>done);
        } else {
            self.float_arith(op, size, t, l, r);
        }
        self.float_out(dst, t);
    }

    fn float_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: Reg, src: Reg) {
        use FloatUnOp as F;
        if matches!(op, F::Abs | F::Neg) {
            // Bit operations on the sign (Wasm 3.0 §4.3.3 fabs/fneg).
            let d = Self::gp_target(dst);
            let s = self.gp_in(src, 9);
            match (op, size) {
                (F::Abs, FloatSize::F32) => {
                    dynasm!(self.ops ; .arch aarch64 ; and WSP(d), W(s), 0x7fff_ffff)
                }
                (F::Abs, FloatSize::F64) => {
                    dynasm!(self.ops ; .arch aarch64 ; and XSP(d), X(s), 0x7fff_ffff_ffff_ffff)
                }
                (_, FloatSize::F32) => {
                    dynasm!(self.ops ; .arch aarch64 ; eor WSP(d), W(s), 0x8000_0000)
                }
                (_, FloatSize::F64) => {
                    dynasm!(self.ops ; .arch aarch64 ; eor XSP(d), X(s), 0x8000_0000_0000_0000)
                }
            }
            self.gp_out(dst, d);
            return;
        }
        let s = self.float_in(src, 0);
        let t = Self::float_target(dst);
        // FSQRT and FRINT* return a signalling NaN quieted, as the spec
        // wants; FRINTN rounds ties to even (Wasm 3.0 §4.3.3 fnearest).
        match (op, size) {
            (F::Sqrt, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; fsqrt S(t), S(s)),
            (F::Sqrt, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; fsqrt D(t), D(s)),
            (F::Ceil, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; frintp S(t), S(s)),
            (F::Ceil, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; frintp D(t), D(s)),
            (F::Floor, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; frintm S(t), S(s)),
            (F::Floor, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; frintm D(t), D(s)),
            (F::Trunc, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; frintz S(t), S(s)),
            (F::Trunc, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; frintz D(t), D(s)),
            (_, FloatSize::F32) => dynasm!(self.ops ; .arch aarch64 ; frintn S(t), S(s)),
            (_, FloatSize::F64) => dynasm!(self.ops ; .arch aarch64 ; frintn D(t), D(s)),
        }
        self.float_out(dst, t);
    }

    fn float_cmp(&mut self, kind: FloatCmpKind, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg) {
        use FloatCmpKind as K;
        let l = self.float_in(lhs, 0);
        let r = self.float_in(rhs, 1);
        self.fcmp(size, l, r);
        let d = Self::gp_target(dst);
        // After FCMP, unordered is NZCV = 0011: mi, gt, ls, ge and eq are
        // false on NaN, ne is true (ARM ARM C1.2.4, condition codes).
        match kind {
            K::Eq => dynasm!(self.ops ; .arch aarch64 ; cset W(d), eq),
            K::Ne => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ne),
            K::Lt => dynasm!(self.ops ; .arch aarch64 ; cset W(d), mi),
            K::Gt => dynasm!(self.ops ; .arch aarch64 ; cset W(d), gt),
            K::Le => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ls),
            K::Ge => dynasm!(self.ops ; .arch aarch64 ; cset W(d), ge),
        }
        self.gp_out(dst, d);
    }

    fn float_to_int(&mut self, kind: TruncKind, dst: Reg, src: Reg) {
        let s = self.float_in(src, 0);
        let d = Self::gp_target(dst);
        // Everything happens on f64 in v0: every f32 converts exactly.
        match kind.from {
            FloatSize::F32 => dynasm!(self.ops ; .arch aarch64 ; fcvt d0, S(s)),
            FloatSize::F64 => self.mov(OperandSize::S64, Reg(V), Reg(V + s)),
        }
        if !kind.saturating {
            // Wasm 3.0 §4.3.4 trunc: NaN traps "invalid conversion to
            // integer"; a truncated value outside [lo, hi) "integer
            // overflow". FCVTZS/FCVTZU would give 0 and saturate instead.
            let (lo, hi) = match (kind.to, kind.signed) {
                (OperandSize::S32, true) => (MINUS_TWO_31, TWO_31),
                (OperandSize::S32, false) => (0, TWO_32),
                (OperandSize::S64, true) => (MINUS_TWO_63, TWO_63),
                (OperandSize::S64, false) => (0, TWO_64),
            };
            let invalid = self.trap_stub(TrapCode::InvalidConversionToInteger);
            let overflow = self.trap_stub(TrapCode::IntegerOverflow);
            dynasm!(self.ops
                ; .arch aarch64
                ; fcmp d0, d0
                ; b.vs =>invalid
                ; frintz d0, d0
            );
            self.compare_f64_const(lo);
            dynasm!(self.ops ; .arch aarch64 ; b.lt =>overflow);
            self.compare_f64_const(hi);
            dynasm!(self.ops ; .arch aarch64 ; b.ge =>overflow);
        }
        // Wasm 3.0 §4.3.4 trunc_sat is FCVTZS/FCVTZU exactly (NaN → 0,
        // clamping; ARM ARM C7.2.x FCVTZS (scalar, integer)).
        self.fcvtz(d, kind.to, kind.signed);
        self.gp_out(dst, d);
    }

    fn convert(&mut self, kind: ConvertKind, dst: Reg, src: Reg) {
        let t = Self::float_target(dst);
        match kind {
            // FCVT quiets a NaN and keeps its payload's top bits.
            ConvertKind::Promote => {
                let s = self.float_in(src, 1);
                dynasm!(self.ops ; .arch aarch64 ; fcvt D(t), S(s));
                self.float_out(dst, t);
            }
            ConvertKind::Demote => {
                let s = self.float_in(src, 1);
                dynasm!(self.ops ; .arch aarch64 ; fcvt S(t), D(s));
                self.float_out(dst, t);
            }
            // SCVTF/UCVTF round once, to nearest (ARM ARM C7.2.x), for
            // every source width, u64 included.
            ConvertKind::FromInt { from, to, signed } => {
                let s = self.gp_in(src, 9);
                match (from, to, signed) {
                    (OperandSize::S32, FloatSize::F32, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; scvtf S(t), W(s))
                    }
                    (OperandSize::S32, FloatSize::F32, false) => {
                        dynasm!(self.ops ; .arch aarch64 ; ucvtf S(t), W(s))
                    }
                    (OperandSize::S32, FloatSize::F64, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; scvtf D(t), W(s))
                    }
                    (OperandSize::S32, FloatSize::F64, false) => {
                        dynasm!(self.ops ; .arch aarch64 ; ucvtf D(t), W(s))
                    }
                    (OperandSize::S64, FloatSize::F32, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; scvtf S(t), X(s))
                    }
                    (OperandSize::S64, FloatSize::F32, false) => {
                        dynasm!(self.ops ; .arch aarch64 ; ucvtf S(t), X(s))
                    }
                    (OperandSize::S64, FloatSize::F64, true) => {
                        dynasm!(self.ops ; .arch aarch64 ; scvtf D(t), X(s))
                    }
                    (OperandSize::S64, FloatSize::F64, false) => {
                        dynasm!(self.ops ; .arch aarch64 ; ucvtf D(t), X(s))
                    }
                }
                self.float_out(dst, t);
            }
        }
    }

    fn select(&mut self, dst: Reg, cond: Reg, a: Reg, b: Reg) {
        let (c, a, b, d) = (cond.0, a.0, b.0, Self::gp_target(dst));
        dynasm!(self.ops
            ; .arch aarch64
            ; cmp WSP(c), 0
            ; csel X(d), X(a), X(b), ne
        );
        self.gp_out(dst, d);
    }

    fn load_global(&mut self, slot: u32, value_offset: u32, dst: Reg) {
        self.load_x(IMM, VMCTX, slot);
        match vreg(dst) {
            Some(v) => self.mem64(Access::Load, v, true, IMM, value_offset),
            None => self.load_x(dst.0, IMM, value_offset),
        }
    }

    fn store_global(&mut self, slot: u32, value_offset: u32, src: Reg) {
        self.load_x(IMM, VMCTX, slot);
        match vreg(src) {
            Some(v) => self.mem64(Access::Store, v, true, IMM, value_offset),
            None => self.store_x(src.0, IMM, value_offset),
        }
    }

    fn load(&mut self, access: MemoryAccess, kind: LoadKind, dst: Reg, addr: Reg) {
        self.effective_address(access, kind.bytes(), addr);
        // A scalar load into an S or D register zeroes the bits above,
        // as an f32's cell has them.
        match (vreg(dst), kind) {
            (Some(v), LoadKind::U32) => {
                dynasm!(self.ops ; .arch aarch64 ; ldr S(v), [X(IMM), x9]);
                return;
            }
            (Some(v), LoadKind::U64) => {
                dynasm!(self.ops ; .arch aarch64 ; ldr D(v), [X(IMM), x9]);
                return;
            }
            _ => {}
        }
        let d = vreg(dst).map_or(dst.0, |_| 10);
        match kind {
            LoadKind::U8 => dynasm!(self.ops ; .arch aarch64 ; ldrb W(d), [X(IMM), x9]),
            LoadKind::U16 => dynasm!(self.ops ; .arch aarch64 ; ldrh W(d), [X(IMM), x9]),
            LoadKind::U32 => dynasm!(self.ops ; .arch aarch64 ; ldr W(d), [X(IMM), x9]),
            LoadKind::U64 => dynasm!(self.ops ; .arch aarch64 ; ldr X(d), [X(IMM), x9]),
            LoadKind::I32S8 => dynasm!(self.ops ; .arch aarch64 ; ldrsb W(d), [X(IMM), x9]),
            LoadKind::I32S16 => dynasm!(self.ops ; .arch aarch64 ; ldrsh W(d), [X(IMM), x9]),
            LoadKind::I64S8 => dynasm!(self.ops ; .arch aarch64 ; ldrsb X(d), [X(IMM), x9]),
            LoadKind::I64S16 => dynasm!(self.ops ; .arch aarch64 ; ldrsh X(d), [X(IMM), x9]),
            LoadKind::I64S32 => dynasm!(self.ops ; .arch aarch64 ; ldrsw X(d), [X(IMM), x9]),
        }
        self.mov(OperandSize::S64, dst, Reg(d));
    }

    fn store(&mut self, access: MemoryAccess, bytes: u32, addr: Reg, value: Reg) {
        self.effective_address(access, bytes, addr);
        match (vreg(value), bytes) {
            (Some(v), 4) => {
                dynasm!(self.ops ; .arch aarch64 ; str S(v), [X(IMM), x9]);
                return;
            }
            (Some(v), 8) => {
                dynasm!(self.ops ; .arch aarch64 ; str D(v), [X(IMM), x9]);
                return;
            }
            _ => {}
        }
        let v = self.gp_in(value, 10);
        match bytes {
            1 => dynasm!(self.ops ; .arch aarch64 ; strb W(v), [X(IMM), x9]),
            2 => dynasm!(self.ops ; .arch aarch64 ; strh W(v), [X(IMM), x9]),
            4 => dynasm!(self.ops ; .arch aarch64 ; str W(v), [X(IMM), x9]),
            _ => dynasm!(self.ops ; .arch aarch64 ; str X(v), [X(IMM), x9]),
        }
    }

    fn jump(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch aarch64 ; b =>label);
    }

    fn branch_if_zero(&mut self, src: Reg, label: DynamicLabel) {
        dynasm!(self.ops ; .arch aarch64 ; cbz W(src.0), =>label);
    }

    fn branch_if_nonzero(&mut self, src: Reg, label: DynamicLabel) {
        dynasm!(self.ops ; .arch aarch64 ; cbnz W(src.0), =>label);
    }

    fn branch_if_cmp(
        &mut self,
        kind: IntCmpKind,
        size: OperandSize,
        lhs: Reg,
        rhs: RegImm,
        label: DynamicLabel,
    ) {
        use IntCmpKind as K;
        self.compare(size, lhs, rhs);
        match kind {
            K::Eq => dynasm!(self.ops ; .arch aarch64 ; b.eq =>label),
            K::Ne => dynasm!(self.ops ; .arch aarch64 ; b.ne =>label),
            K::LtS => dynasm!(self.ops ; .arch aarch64 ; b.lt =>label),
            K::LtU => dynasm!(self.ops ; .arch aarch64 ; b.lo =>label),
            K::GtS => dynasm!(self.ops ; .arch aarch64 ; b.gt =>label),
            K::GtU => dynasm!(self.ops ; .arch aarch64 ; b.hi =>label),
            K::LeS => dynasm!(self.ops ; .arch aarch64 ; b.le =>label),
            K::LeU => dynasm!(self.ops ; .arch aarch64 ; b.ls =>label),
            K::GeS => dynasm!(self.ops ; .arch aarch64 ; b.ge =>label),
            K::GeU => dynasm!(self.ops ; .arch aarch64 ; b.hs =>label),
        }
    }

    fn branch_if_not_equal(&mut self, src: Reg, value: u32, label: DynamicLabel) {
        self.compare(OperandSize::S32, src, RegImm::Imm(u64::from(value)));
        dynasm!(self.ops ; .arch aarch64 ; b.ne =>label);
    }

    fn call(&mut self, callee: DynamicLabel, args: u32, exception: DynamicLabel) {
        self.cell_address(1, args);
        dynasm!(self.ops ; .arch aarch64 ; mov x0, x1 ; bl =>callee);
        self.after_call(exception);
    }

    fn return_call(&mut self, callee: DynamicLabel, args: u32, count: u32) {
        self.copy_tail_args(args, count);
        self.leave_for_tail_call();
        dynasm!(self.ops ; .arch aarch64 ; b =>callee);
    }

    fn trap(&mut self, code: TrapCode) {
        let stub = self.trap_stub(code);
        dynasm!(self.ops ; .arch aarch64 ; b =>stub);
    }

    fn charge_fuel(&mut self, store_context: u32, fuel: u32) -> usize {
        let out_of_fuel = self.trap_stub(TrapCode::OutOfFuel);
        self.load_x(IMM, VMCTX, store_context);
        self.load_x(9, IMM, fuel);
        // A movz/movk pair, patched in `finish`.
        let at = self.ops.offset().0;
        let (lo, hi) = (
            FUEL_CHARGE_PLACEHOLDER & 0xffff,
            FUEL_CHARGE_PLACEHOLDER >> 16,
        );
        dynasm!(self.ops
            ; .arch aarch64
            ; movz X(FUEL_REG), lo
            ; movk X(FUEL_REG), hi, lsl 16
            // Borrow (C clear): less fuel than the charge.
            ; subs x9, x9, X(FUEL_REG)
            ; b.lo =>out_of_fuel
        );
        self.store_x(9, IMM, fuel);
        self.fuel_charges.push((at, 0));
        self.fuel_charges.len() - 1
    }

    fn set_fuel_charge(&mut self, site: usize, charge: u32) {
        if let Some(entry) = self.fuel_charges.get_mut(site) {
            entry.1 = charge;
        }
    }

    fn check_epoch(&mut self, store_context: u32, epoch: u32, deadline: u32) {
        let interrupted = self.trap_stub(TrapCode::Interrupted);
        self.load_x(IMM, VMCTX, store_context);
        self.load_x(9, IMM, epoch);
        self.load_x(10, IMM, deadline);
        // The counter is bumped by another thread: an acquire load (ARM
        // ARM C6.2.x LDAR), as a plain load is on x86-64.
        dynasm!(self.ops
            ; .arch aarch64
            ; ldar x9, [x9]
            ; cmp x9, x10
            ; b.hs =>interrupted
        );
    }

    /// `entry(vmctx, cells + args, op, a, b)`, the status in w0.
    fn call_entry(&mut self, entry: usize, args: u32, op: u32, (a, b): (u32, u32)) {
        // AAPCS64: x0–x4; sp stays 16-aligned in a body (abi.rs), every
        // value is in frame cells, x27/x28 are callee-saved.
        dynasm!(self.ops ; .arch aarch64 ; mov x0, X(VMCTX));
        self.cell_address(1, args);
        self.mov_imm(2, u64::from(op));
        self.mov_imm(3, u64::from(a));
        self.mov_imm(4, u64::from(b));
        self.mov_imm(IMM, entry as u64);
        dynasm!(self.ops ; .arch aarch64 ; blr X(IMM));
    }

    /// After a call-out: on [`TrapCode::Exception`] to `exception`, on any
    /// other code but 0 out through the trap exit.
    fn check_status(&mut self, exception: DynamicLabel) {
        let Some(trap_exit) = self.trap_exit else {
            self.error = Some("a call-out before the module prelude".into());
            return;
        };
        let code = TrapCode::Exception as u32;
        dynasm!(self.ops
            ; .arch aarch64
            ; cmp w0, code
            ; b.eq =>exception
            ; cbnz w0, =>trap_exit
        );
    }

    fn call_out_call(
        &mut self,
        entry: usize,
        args: u32,
        op: u32,
        ab: (u32, u32),
        callee: (u32, u32, u32),
        exception: DynamicLabel,
    ) {
        let (native, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
        self.call_entry(entry, args, op, ab);
        let compiled = crate::CALLEE_COMPILED;
        dynasm!(self.ops ; .arch aarch64 ; cmp w0, compiled ; b.eq =>native);
        self.check_status(exception);
        dynasm!(self.ops ; .arch aarch64 ; b =>done ; =>native);
        // The callee runs on its own context; ours comes back from the
        // frame, as after any call.
        self.load_callee(callee);
        self.cell_address(1, args);
        dynasm!(self.ops ; .arch aarch64 ; mov x0, x1 ; blr x9);
        self.after_call(exception);
        dynasm!(self.ops ; .arch aarch64 ; =>done);
    }

    fn tail_call_out(
        &mut self,
        entry: usize,
        args: u32,
        op: u32,
        ab: (u32, u32),
        (count, results): (u32, u32),
        callee: (u32, u32, u32),
        exception: DynamicLabel,
    ) {
        let jump = self.ops.new_dynamic_label();
        self.call_entry(entry, args, op, ab);
        let compiled = crate::CALLEE_COMPILED;
        dynasm!(self.ops ; .arch aarch64 ; cmp w0, compiled ; b.eq =>jump);
        self.check_status(exception);
        // The callee ran: its results are this function's.
        self.return_(args, results);
        dynasm!(self.ops ; .arch aarch64 ; =>jump);
        self.copy_tail_args(args, count);
        // The callee may be another module's: it runs on its own context,
        // and every caller reloads x28 from its frame after a call.
        self.load_callee(callee);
        self.leave_for_tail_call();
        dynasm!(self.ops ; .arch aarch64 ; br x9);
    }

    fn finish(mut self, labels: &[DynamicLabel]) -> Result<(Vec<u8>, Vec<usize>), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let (mut code, offsets) = crate::masm::assemble(self.ops, labels)?;
        let placeholder = [
            movz_x(FUEL_REG, FUEL_CHARGE_PLACEHOLDER & 0xffff),
            movk_x_16(FUEL_REG, FUEL_CHARGE_PLACEHOLDER >> 16),
        ];
        for &(at, charge) in &self.fuel_charges {
            let slot = code
                .get_mut(at..at + 8)
                .filter(|s| {
                    s[..4] == placeholder[0].to_le_bytes() && s[4..] == placeholder[1].to_le_bytes()
                })
                .ok_or("a fuel charge's movz/movk pair is not where it was emitted")?;
            slot[..4].copy_from_slice(&movz_x(FUEL_REG, charge & 0xffff).to_le_bytes());
            slot[4..].copy_from_slice(&movk_x_16(FUEL_REG, charge >> 16).to_le_bytes());
        }
        Ok((code, offsets))
    }
}

/// Encoding tests, run on any host: the expected words are what
/// `llvm-mc -triple=aarch64 -show-encoding` gives for the instruction in
/// each comment.
#[cfg(test)]
mod tests {
    use super::*;

    const W19: Reg = Reg(19);
    const W20: Reg = Reg(20);
    const W21: Reg = Reg(21);

    /// The words `emit` appends after the module prelude.
    fn emitted(emit: impl FnOnce(&mut A64Masm)) -> Vec<u32> {
        let mut masm = A64Masm::new();
        masm.module_prelude();
        let start = masm.ops.offset().0;
        emit(&mut masm);
        let (code, _) = masm.finish(&[]).expect("assembles");
        code[start..]
            .chunks(4)
            .map(|w| u32::from_le_bytes(w.try_into().expect("whole words")))
            .collect()
    }

    #[test]
    fn integer_operators_use_three_address_forms_and_encodable_immediates() {
        let op = |op, size, rhs| emitted(|m| m.int_binop(op, size, W19, W20, rhs));
        // add w19, w20, w21
        assert_eq!(
            op(IntBinOp::Add, OperandSize::S32, RegImm::Reg(W21)),
            [0x0b15_0293]
        );
        // add x19, x20, #4095
        assert_eq!(
            op(IntBinOp::Add, OperandSize::S64, RegImm::Imm(4095)),
            [0x913f_fe93]
        );
        // 4096 does not fit 12 bits: mov x16, #4096; add x19, x20, x16
        assert_eq!(
            op(IntBinOp::Add, OperandSize::S64, RegImm::Imm(4096)),
            [0xd282_0010, 0x8b10_0293]
        );
        // and w19, w20, #0xff (a bitmask immediate)
        assert_eq!(
            op(IntBinOp::And, OperandSize::S32, RegImm::Imm(0xff)),
            [0x1200_1e93]
        );
        // 0x5 is not a bitmask: it goes through x16.
        assert_eq!(op(IntBinOp::And, OperandSize::S32, RegImm::Imm(5)).len(), 2);
        // rotl: neg w17, w21; ror w19, w20, w17
        assert_eq!(
            op(IntBinOp::Rotl, OperandSize::S32, RegImm::Reg(W21)),
            [0x4b15_03f1, 0x1ad1_2e93]
        );
    }

    #[test]
    fn division_checks_what_the_hardware_does_not() {
        // cbz w21 → divide-by-zero stub; cmn w21, #1; b.ne; cmp w20, #1;
        // b.vs → overflow stub; sdiv.
        let words =
            emitted(|m| m.int_binop(IntBinOp::DivS, OperandSize::S32, W19, W20, RegImm::Reg(W21)));
        assert_eq!(words.len(), 6);
        assert_eq!(words[0] & 0xff00_001f, 0x3400_0015, "cbz w21");
        assert_eq!(words[1], 0x3100_06bf, "cmn w21, #1");
        assert_eq!(words[3], 0x7100_069f, "cmp w20, #1");
        assert_eq!(words[4] & 0xff00_001f, 0x5400_0006, "b.vs");
        // rem_s: sdiv x17, x20, x21; msub x19, x17, x21, x20 (no -1 case:
        // SDIV's MIN / -1 = MIN makes the remainder 0).
        let words =
            emitted(|m| m.int_binop(IntBinOp::RemS, OperandSize::S64, W19, W20, RegImm::Reg(W21)));
        assert_eq!(words[1..], [0x9ad5_0e91, 0x9b15_d233]);
    }

    #[test]
    fn cells_beyond_the_scaled_offset_are_addressed_through_x17() {
        // ldr x19, [sp, #32760]
        assert_eq!(emitted(|m| m.load_cell(W19, 4095)), [0xf97f_fff3]);
        // mov x17, #40000; add x17, sp, x17, uxtx; ldr x19, [x17]
        assert_eq!(
            emitted(|m| m.load_cell(W19, 5000)),
            [0xd293_8811, 0x8b31_63f1, 0xf940_0233]
        );
        // str xzr, [sp, #8]
        assert_eq!(emitted(|m| m.store_const(0, 1)), [0xf900_07ff]);
        // movz x19, #0x5678; movk x19, #0x1234, lsl #48
        assert_eq!(
            emitted(|m| m.load_const(W19, 0x1234_0000_0000_5678)),
            [0xd28a_cf13, 0xf2e2_4693]
        );
    }

    #[test]
    fn popcnt_goes_through_the_vector_unit() {
        // fmov d0, x19; cnt v0.8b, v0.8b; addv b0, v0.8b; fmov w20, s0
        assert_eq!(
            emitted(|m| m.int_unop(IntUnOp::Popcnt, OperandSize::S64, W20, W19)),
            [0x9e67_0260, 0x0e20_5800, 0x0e31_b800, 0x1e26_0014]
        );
    }

    #[test]
    fn float_operators() {
        let (v16, v17, v18) = (Reg(V + 16), Reg(V + 17), Reg(V + 18));
        // fcmp d16, d17; b.vs nan; fmin d18, d16, d17; …
        let words = emitted(|m| m.float_binop(FloatBinOp::Min, FloatSize::F64, v18, v16, v17));
        assert_eq!(words[0], 0x1e71_2200);
        assert_eq!(words[1] & 0xff00_001f, 0x5400_0006, "b.vs");
        assert_eq!(words[2], 0x1e71_5a12);
        // fcmp s16, s17; cset w19, mi: false on NaN
        assert_eq!(
            emitted(|m| m.float_cmp(FloatCmpKind::Lt, FloatSize::F32, W19, v16, v17)),
            [0x1e31_2200, 0x1a9f_57f3]
        );
        // trunc_sat: fcvt d0, s16; fcvtzs x19, d0
        let sat = TruncKind {
            from: FloatSize::F32,
            to: OperandSize::S64,
            signed: true,
            saturating: true,
        };
        assert_eq!(
            emitted(|m| m.float_to_int(sat, W19, v16)),
            [0x1e22_c200, 0x9e78_0013]
        );
    }

    #[test]
    fn fuel_charges_are_patched_into_their_movz_movk_pair() {
        let mut masm = A64Masm::new();
        masm.module_prelude();
        let site = masm.charge_fuel(8, 16);
        let at = masm.fuel_charges[site].0;
        masm.set_fuel_charge(site, 0x1_2345);
        let (code, _) = masm.finish(&[]).expect("assembles");
        // movz x10, #0x2345; movk x10, #0x1, lsl #16
        assert_eq!(code[at..at + 4], 0xd284_68aa_u32.to_le_bytes());
        assert_eq!(code[at + 4..at + 8], 0xf2a0_002a_u32.to_le_bytes());
        // The helpers the patch uses agree with the assembler.
        assert_eq!(movz_x(10, 0x2345), 0xd284_68aa);
        assert_eq!(movk_x_16(10, 1), 0xf2a0_002a);
    }

    #[test]
    fn epoch_reads_the_counter_with_acquire() {
        let words = emitted(|m| m.check_epoch(8, 16, 24));
        assert!(words.contains(&0xc8df_fd29), "ldar x9, [x9]");
    }
}

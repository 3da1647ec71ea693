//! [`MacroAssembler`] for x86_64 through `dynasmrt`.

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm};

use super::abi::{SAVED_SP, STACK_LIMIT, TAIL_ARGS, frame_bytes};
use super::regs::{ALLOCATABLE, ALLOCATABLE_FLOAT, RAX, RCX, XMM, xmm};
use crate::masm::{
    ConvertKind, ExtendKind, FloatBinOp, FloatCmpKind, FloatSize, FloatUnOp, FrameLayout, IntBinOp,
    IntCmpKind, IntUnOp, LoadKind, MacroAssembler, MemoryAccess, OperandSize, Reg, RegImm,
    TrapCode, TruncKind,
};

/// 2^31, 2^32, 2^63 and 2^64 as f64 bits: the trapping conversions' bounds.
const TWO_31: u64 = 0x41e0_0000_0000_0000;
const TWO_32: u64 = 0x41f0_0000_0000_0000;
const TWO_63: u64 = 0x43e0_0000_0000_0000;
const TWO_64: u64 = 0x43f0_0000_0000_0000;
const MINUS_TWO_31: u64 = 0xc1e0_0000_0000_0000;
const MINUS_TWO_63: u64 = 0xc3e0_0000_0000_0000;

/// The immediate of a fuel charge until its segment's length is known
/// (checked when patched, so a wrong offset fails compilation).
const FUEL_CHARGE_PLACEHOLDER: i32 = 0x7eed_f0e1;

/// Emits x86_64 code into a position-independent buffer.
pub struct X64Masm {
    ops: VecAssembler<X64Relocation>,
    /// One stub per [`TrapCode`], in `TrapCode::ALL` order.
    trap_stubs: Vec<DynamicLabel>,
    /// Leaves with the trap code already in eax (a failed call-out).
    trap_exit: Option<DynamicLabel>,
    /// Drops the current frame and returns [`TrapCode::Exception`].
    exception_exit: Option<DynamicLabel>,
    /// Each fuel charge: the code offset of its 32-bit immediate and the
    /// charge to patch in once the segment's length is known.
    fuel_charges: Vec<(usize, u32)>,
    /// Set when a frame is too large to address.
    error: Option<String>,
}

impl Default for X64Masm {
    fn default() -> Self {
        X64Masm::new()
    }
}

impl X64Masm {
    pub fn new() -> X64Masm {
        X64Masm {
            ops: VecAssembler::new(0),
            trap_stubs: Vec::new(),
            trap_exit: None,
            exception_exit: None,
            fuel_charges: Vec::new(),
            error: None,
        }
    }

    /// The rsp-relative displacement of `cell`: cells are addressed from
    /// the stack pointer, which stays put in a function body, so the body
    /// can be emitted before the frame size is known.
    fn disp(&mut self, cell: u32) -> i32 {
        match i32::try_from(u64::from(cell) * 8) {
            Ok(d) => d,
            Err(_) => {
                self.error = Some(format!("frame cell {cell} is beyond reach"));
                0
            }
        }
    }

    /// Checks an access of `bytes` bytes at the address in `addr`
    /// (Wasm 3.0 §4.4.7: `ea = i + offset`, trapping when `ea + bytes`
    /// exceeds the length, every sum checked for overflow). Leaves the
    /// memory's base in rdx and the address in rax; the access is at
    /// `rdx + rax + disp`, `disp` returned. Clobbers rdi.
    #[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
    fn effective_address(&mut self, access: MemoryAccess, bytes: u32, addr: Reg) -> i32 {
        let oob = self.trap_stub(TrapCode::MemoryOutOfBounds);
        let (slot, base, length) = (
            access.definition_slot as i32,
            access.base as i32,
            access.length as i32,
        );
        dynasm!(self.ops ; .arch x64 ; mov rdx, QWORD [r14 + slot]);
        // A 32-bit address plus a 32-bit offset plus the width stays far
        // below 2^64: one comparison checks it, and the offset goes in the
        // access's displacement when it fits.
        let end = access.offset.checked_add(u64::from(bytes));
        if let (false, Some(offset), Some(end)) = (
            access.memory64,
            i32::try_from(access.offset).ok(),
            end.and_then(|e| i32::try_from(e).ok()),
        ) {
            dynasm!(self.ops
                ; .arch x64
                ; mov eax, Rd(addr.0)
                ; lea rdi, [rax + end]
                ; cmp rdi, QWORD [rdx + length]
                ; ja =>oob
                ; mov rdx, QWORD [rdx + base]
            );
            return offset;
        }
        if access.memory64 {
            dynasm!(self.ops ; .arch x64 ; mov rax, Rq(addr.0));
        } else {
            dynasm!(self.ops ; .arch x64 ; mov eax, Rd(addr.0));
        }
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, QWORD access.offset as i64
            ; add rax, rdi
            ; jc =>oob
            ; mov rdi, rax
            ; add rdi, bytes as i32
            ; jc =>oob
            ; cmp rdi, QWORD [rdx + length]
            ; ja =>oob
            ; mov rdx, QWORD [rdx + base]
        );
        0
    }

    /// xmm0 = A (and xmm1 = B) as floats of `size`.
    fn floats_in(&mut self, size: FloatSize, two: bool) {
        match size {
            FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; movd xmm0, eax),
            FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; movq xmm0, rax),
        }
        if two {
            match size {
                FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; movd xmm1, ecx),
                FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; movq xmm1, rcx),
            }
        }
    }

    /// A = xmm0's bits (f32 zero-extended).
    fn float_out(&mut self, size: FloatSize) {
        match size {
            FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; movd eax, xmm0),
            FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; movq rax, xmm0),
        }
    }

    /// `ucomisd xmm0, <f64 constant>` (through xmm2 and rdx).
    fn compare_f64_const(&mut self, bits: u64) {
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, QWORD bits as i64
            ; movq xmm2, rdx
            ; ucomisd xmm0, xmm2
        );
    }

    /// Whether SSE4.1 (`roundss`/`roundsd`) is there; records an error
    /// (the module falls back to the interpreter) when it is not.
    fn need_sse41(&mut self) -> bool {
        if std::is_x86_feature_detected!("sse4.1") {
            true
        } else {
            self.error = Some("float rounding needs a CPU with SSE4.1".into());
            false
        }
    }

    /// rax = the code address and r14 = the context a call-out left in
    /// the store context (offsets: the store context's in the VM context,
    /// then the code's and the context's in it).
    fn load_callee(&mut self, (store_context, code, vmctx): (u32, u32, u32)) {
        let (store, code, vmctx) = (store_context as i32, code as i32, vmctx as i32);
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, QWORD [r14 + store]
            ; mov rax, QWORD [rdx + code]
            ; mov r14, QWORD [rdx + vmctx]
        );
    }

    /// A tail call's exit: the callee's arguments are the tail-call buffer
    /// (rdi) and its cells start where this frame's did (rsi); this frame
    /// is popped, so the jump that follows reuses its stack. Leaves rax.
    fn leave_for_tail_call(&mut self) {
        dynasm!(self.ops
            ; .arch x64
            ; lea rdi, [r15 + TAIL_ARGS]
            ; mov rsi, QWORD [rbp - 8]
            ; mov rsp, rbp
            ; pop rbp
        );
    }

    /// Copies `count` argument cells from `args` on into the invocation's
    /// tail-call buffer, which outlives this frame.
    fn copy_tail_args(&mut self, args: u32, count: u32) {
        for i in 0..count {
            let d = self.disp(args + i);
            let slot = TAIL_ARGS + (i as i32) * 8;
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rsp + d] ; mov QWORD [r15 + slot], rax);
        }
    }

    /// `dst = src` (nothing when they are the same register); a 32-bit
    /// move zero-extends.
    #[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
    fn mov(&mut self, size: OperandSize, dst: Reg, src: Reg) {
        if dst == src {
            return;
        }
        match (xmm(dst), xmm(src), size) {
            (None, None, OperandSize::S32) => {
                dynasm!(self.ops ; .arch x64 ; mov Rd(dst.0), Rd(src.0))
            }
            (None, None, OperandSize::S64) => {
                dynasm!(self.ops ; .arch x64 ; mov Rq(dst.0), Rq(src.0))
            }
            // Float registers hold cell bits: all 64 move.
            (Some(d), None, _) => dynasm!(self.ops ; .arch x64 ; movq Rx(d), Rq(src.0)),
            (None, Some(s), _) => dynasm!(self.ops ; .arch x64 ; movq Rq(dst.0), Rx(s)),
            (Some(d), Some(s), _) => dynasm!(self.ops ; .arch x64 ; movaps Rx(d), Rx(s)),
        }
    }

    /// The 32-bit immediate `rhs` is as an operand of `size`, if it is a
    /// constant that fits (64-bit operations sign-extend it).
    fn immediate(&self, size: OperandSize, rhs: RegImm) -> Option<i32> {
        match (rhs, size) {
            (RegImm::Imm(v), OperandSize::S32) => Some(v as u32 as i32),
            (RegImm::Imm(v), OperandSize::S64) => i32::try_from(v as i64).ok(),
            (RegImm::Reg(_), _) => None,
        }
    }

    /// `rhs` in a register: its own, or rcx holding the constant.
    fn rhs_in_reg(&mut self, rhs: RegImm) -> Reg {
        match rhs {
            RegImm::Reg(r) => r,
            RegImm::Imm(v) => {
                self.load_const(RCX, v);
                RCX
            }
        }
    }

    /// rax = lhs, rcx = rhs, for the operators run on them (allocatable
    /// registers are neither).
    fn operands_in_a_b(&mut self, lhs: Reg, rhs: RegImm) {
        self.mov(OperandSize::S64, RAX, lhs);
        match rhs {
            RegImm::Reg(r) => self.mov(OperandSize::S64, RCX, r),
            RegImm::Imm(v) => self.load_const(RCX, v),
        }
    }

    /// Sets the flags as `cmp lhs, rhs` of `size`.
    #[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
    fn compare(&mut self, size: OperandSize, lhs: Reg, rhs: RegImm) {
        let l = lhs.0;
        match self.immediate(size, rhs) {
            Some(imm) => match size {
                OperandSize::S32 => dynasm!(self.ops ; .arch x64 ; cmp Rd(l), imm),
                OperandSize::S64 => dynasm!(self.ops ; .arch x64 ; cmp Rq(l), imm),
            },
            None => {
                let r = self.rhs_in_reg(rhs).0;
                match size {
                    OperandSize::S32 => dynasm!(self.ops ; .arch x64 ; cmp Rd(l), Rd(r)),
                    OperandSize::S64 => dynasm!(self.ops ; .arch x64 ; cmp Rq(l), Rq(r)),
                }
            }
        }
    }

    fn trap_stub(&self, code: TrapCode) -> DynamicLabel {
        let i = TrapCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.trap_stubs[i]
    }
}

impl X64Masm {
    /// xmm0 = rax (a signed i64) as a float of `to`.
    fn cvt_from_i64(&mut self, to: FloatSize) {
        match to {
            FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; cvtsi2ss xmm0, rax),
            FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; cvtsi2sd xmm0, rax),
        }
    }

    /// A = xmm0 (an f64 whose truncation is known to fit `kind.to`),
    /// truncated toward zero.
    fn truncate_in_range(&mut self, kind: TruncKind) {
        match (kind.to, kind.signed) {
            (OperandSize::S32, true) => dynasm!(self.ops ; .arch x64 ; cvttsd2si eax, xmm0),
            // A u32 fits an i64; keep its low 32 bits.
            (OperandSize::S32, false) => {
                dynasm!(self.ops ; .arch x64 ; cvttsd2si rax, xmm0 ; mov eax, eax)
            }
            (OperandSize::S64, true) => dynasm!(self.ops ; .arch x64 ; cvttsd2si rax, xmm0),
            (OperandSize::S64, false) => {
                // At or above 2^63: subtract it (exact), convert, add it back.
                let (small, done) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
                self.compare_f64_const(TWO_63);
                dynasm!(self.ops
                    ; .arch x64
                    ; jb =>small
                    ; subsd xmm0, xmm2
                    ; cvttsd2si rax, xmm0
                    ; btc rax, 63
                    ; jmp =>done
                    ; =>small
                    ; cvttsd2si rax, xmm0
                    ; =>done
                );
            }
        }
    }
}

/// The operators whose x86 forms need fixed registers (division, shift
/// counts) or many steps: they run on rax (the first operand and the
/// result) and rcx (the second), which are never allocated; the
/// register-shaped trait methods move their operands in and out.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl X64Masm {
    fn int_binop_a(&mut self, op: IntBinOp, size: OperandSize) {
        use IntBinOp as B;
        let div_zero = self.trap_stub(TrapCode::IntegerDivideByZero);
        let overflow = self.trap_stub(TrapCode::IntegerOverflow);
        match size {
            OperandSize::S32 => match op {
                B::Add => dynasm!(self.ops ; .arch x64 ; add eax, ecx),
                B::Sub => dynasm!(self.ops ; .arch x64 ; sub eax, ecx),
                B::Mul => dynasm!(self.ops ; .arch x64 ; imul eax, ecx),
                B::And => dynasm!(self.ops ; .arch x64 ; and eax, ecx),
                B::Or => dynasm!(self.ops ; .arch x64 ; or eax, ecx),
                B::Xor => dynasm!(self.ops ; .arch x64 ; xor eax, ecx),
                // x86 masks the count by 31, as Wasm 3.0 §4.3.2 ishl does.
                B::Shl => dynasm!(self.ops ; .arch x64 ; shl eax, cl),
                B::ShrS => dynasm!(self.ops ; .arch x64 ; sar eax, cl),
                B::ShrU => dynasm!(self.ops ; .arch x64 ; shr eax, cl),
                B::Rotl => dynasm!(self.ops ; .arch x64 ; rol eax, cl),
                B::Rotr => dynasm!(self.ops ; .arch x64 ; ror eax, cl),
                B::DivU | B::RemU => {
                    dynasm!(self.ops ; .arch x64 ; test ecx, ecx ; jz =>div_zero ; xor edx, edx ; div ecx);
                    if op == B::RemU {
                        dynasm!(self.ops ; .arch x64 ; mov eax, edx);
                    }
                }
                B::DivS => {
                    // Wasm 3.0 §4.3.2 idiv_s: MIN / -1 is undefined (traps).
                    let ok = self.ops.new_dynamic_label();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test ecx, ecx
                        ; jz =>div_zero
                        ; cmp ecx, -1
                        ; jne =>ok
                        ; cmp eax, i32::MIN
                        ; je =>overflow
                        ; =>ok
                        ; cdq
                        ; idiv ecx
                    );
                }
                B::RemS => {
                    // irem_s: MIN rem -1 is 0 (x86 would fault).
                    let general = self.ops.new_dynamic_label();
                    let done = self.ops.new_dynamic_label();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test ecx, ecx
                        ; jz =>div_zero
                        ; cmp ecx, -1
                        ; jne =>general
                        ; xor eax, eax
                        ; jmp =>done
                        ; =>general
                        ; cdq
                        ; idiv ecx
                        ; mov eax, edx
                        ; =>done
                    );
                }
            },
            OperandSize::S64 => match op {
                B::Add => dynasm!(self.ops ; .arch x64 ; add rax, rcx),
                B::Sub => dynasm!(self.ops ; .arch x64 ; sub rax, rcx),
                B::Mul => dynasm!(self.ops ; .arch x64 ; imul rax, rcx),
                B::And => dynasm!(self.ops ; .arch x64 ; and rax, rcx),
                B::Or => dynasm!(self.ops ; .arch x64 ; or rax, rcx),
                B::Xor => dynasm!(self.ops ; .arch x64 ; xor rax, rcx),
                B::Shl => dynasm!(self.ops ; .arch x64 ; shl rax, cl),
                B::ShrS => dynasm!(self.ops ; .arch x64 ; sar rax, cl),
                B::ShrU => dynasm!(self.ops ; .arch x64 ; shr rax, cl),
                B::Rotl => dynasm!(self.ops ; .arch x64 ; rol rax, cl),
                B::Rotr => dynasm!(self.ops ; .arch x64 ; ror rax, cl),
                B::DivU | B::RemU => {
                    dynasm!(self.ops ; .arch x64 ; test rcx, rcx ; jz =>div_zero ; xor edx, edx ; div rcx);
                    if op == B::RemU {
                        dynasm!(self.ops ; .arch x64 ; mov rax, rdx);
                    }
                }
                B::DivS => {
                    let ok = self.ops.new_dynamic_label();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test rcx, rcx
                        ; jz =>div_zero
                        ; cmp rcx, -1
                        ; jne =>ok
                        ; mov rdx, QWORD i64::MIN
                        ; cmp rax, rdx
                        ; je =>overflow
                        ; =>ok
                        ; cqo
                        ; idiv rcx
                    );
                }
                B::RemS => {
                    let general = self.ops.new_dynamic_label();
                    let done = self.ops.new_dynamic_label();
                    dynasm!(self.ops
                        ; .arch x64
                        ; test rcx, rcx
                        ; jz =>div_zero
                        ; cmp rcx, -1
                        ; jne =>general
                        ; xor eax, eax
                        ; jmp =>done
                        ; =>general
                        ; cqo
                        ; idiv rcx
                        ; mov rax, rdx
                        ; =>done
                    );
                }
            },
        }
    }

    fn int_unop_a(&mut self, op: IntUnOp, size: OperandSize) {
        match (op, size) {
            // bsr/bsf leave the destination alone and set ZF on zero input.
            (IntUnOp::Clz, OperandSize::S32) => dynasm!(self.ops
                ; .arch x64 ; mov edx, -1 ; bsr eax, eax ; cmovz eax, edx ; neg eax ; add eax, 31),
            (IntUnOp::Clz, OperandSize::S64) => dynasm!(self.ops
                ; .arch x64 ; mov rdx, -1 ; bsr rax, rax ; cmovz rax, rdx ; neg rax ; add rax, 63),
            (IntUnOp::Ctz, OperandSize::S32) => dynasm!(self.ops
                ; .arch x64 ; mov edx, 32 ; bsf eax, eax ; cmovz eax, edx),
            (IntUnOp::Ctz, OperandSize::S64) => dynasm!(self.ops
                ; .arch x64 ; mov edx, 64 ; bsf rax, rax ; cmovz rax, rdx),
            (IntUnOp::Popcnt, _) if !std::is_x86_feature_detected!("popcnt") => {
                self.error = Some("popcnt needs a CPU with the POPCNT instruction".into());
            }
            (IntUnOp::Popcnt, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; popcnt eax, eax),
            (IntUnOp::Popcnt, OperandSize::S64) => dynasm!(self.ops ; .arch x64 ; popcnt rax, rax),
            (IntUnOp::Eqz, OperandSize::S32) => dynasm!(self.ops
                ; .arch x64 ; test eax, eax ; sete al ; movzx eax, al),
            (IntUnOp::Eqz, OperandSize::S64) => dynasm!(self.ops
                ; .arch x64 ; test rax, rax ; sete al ; movzx eax, al),
        }
    }

    fn float_binop_a(&mut self, op: FloatBinOp, size: FloatSize) {
        use FloatBinOp as F;
        match (op, size) {
            // Wasm 3.0 §4.3.3 fcopysign: bit operations, NaN payloads kept.
            (F::Copysign, FloatSize::F32) => dynasm!(self.ops
                ; .arch x64
                ; and eax, 0x7fff_ffff
                ; and ecx, i32::MIN
                ; or eax, ecx
            ),
            (F::Copysign, FloatSize::F64) => dynasm!(self.ops
                ; .arch x64
                ; btr rax, 63
                ; shr rcx, 63
                ; shl rcx, 63
                ; or rax, rcx
            ),
            (F::Min | F::Max, _) => {
                // fmin/fmax: any NaN gives the canonical NaN (as the
                // interpreter does); equal operands differ only for signed
                // zeros, where or (min) / and (max) of the bits picks -0 / +0.
                let (nan, differ, done) = (
                    self.ops.new_dynamic_label(),
                    self.ops.new_dynamic_label(),
                    self.ops.new_dynamic_label(),
                );
                self.floats_in(size, true);
                match size {
                    FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; ucomiss xmm0, xmm1),
                    FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; ucomisd xmm0, xmm1),
                }
                dynasm!(self.ops ; .arch x64 ; jp =>nan ; jne =>differ);
                match op {
                    F::Min => dynasm!(self.ops ; .arch x64 ; or rax, rcx),
                    _ => dynasm!(self.ops ; .arch x64 ; and rax, rcx),
                }
                if size == FloatSize::F32 {
                    dynasm!(self.ops ; .arch x64 ; mov eax, eax);
                }
                dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>differ);
                match (op, size) {
                    (F::Min, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; minss xmm0, xmm1),
                    (F::Min, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; minsd xmm0, xmm1),
                    (_, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; maxss xmm0, xmm1),
                    (_, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; maxsd xmm0, xmm1),
                }
                self.float_out(size);
                dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>nan);
                match size {
                    FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; mov eax, 0x7fc0_0000),
                    FloatSize::F64 => {
                        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD 0x7ff8_0000_0000_0000)
                    }
                }
                dynasm!(self.ops ; .arch x64 ; =>done);
            }
            _ => {
                self.floats_in(size, true);
                self.float_arith(op, size, 0, 1);
                self.float_out(size);
            }
        }
    }

    /// xmm`t` = xmm`t` op xmm`r` for `add`, `sub`, `mul`, `div`: IEEE 754
    /// arithmetic; a NaN operand comes back quieted, the first one when
    /// both are NaN (Wasm 3.0 §4.3.3 allows any arithmetic NaN).
    #[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
    fn float_arith(&mut self, op: FloatBinOp, size: FloatSize, t: u8, r: u8) {
        use FloatBinOp as F;
        match (op, size) {
            (F::Add, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; addss Rx(t), Rx(r)),
            (F::Add, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; addsd Rx(t), Rx(r)),
            (F::Sub, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; subss Rx(t), Rx(r)),
            (F::Sub, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; subsd Rx(t), Rx(r)),
            (F::Mul, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; mulss Rx(t), Rx(r)),
            (F::Mul, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; mulsd Rx(t), Rx(r)),
            (_, FloatSize::F32) => dynasm!(self.ops ; .arch x64 ; divss Rx(t), Rx(r)),
            (_, FloatSize::F64) => dynasm!(self.ops ; .arch x64 ; divsd Rx(t), Rx(r)),
        }
    }

    fn float_unop_a(&mut self, op: FloatUnOp, size: FloatSize) {
        use FloatUnOp as F;
        // roundss/roundsd immediates: 0 nearest-even, 1 down, 2 up, 3 toward 0.
        let mode = match op {
            F::Abs => {
                match size {
                    FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; and eax, 0x7fff_ffff),
                    FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; btr rax, 63),
                }
                return;
            }
            F::Neg => {
                match size {
                    FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; xor eax, i32::MIN),
                    FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; btc rax, 63),
                }
                return;
            }
            F::Sqrt => {
                // sqrtss/sd quiet a NaN operand (Wasm 3.0 §4.3.3).
                self.floats_in(size, false);
                match size {
                    FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; sqrtss xmm0, xmm0),
                    FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; sqrtsd xmm0, xmm0),
                }
                self.float_out(size);
                return;
            }
            F::Nearest => 0,
            F::Floor => 1,
            F::Ceil => 2,
            F::Trunc => 3,
        };
        if !self.need_sse41() {
            return;
        }
        // roundss/sd return a signalling NaN quieted, as the spec wants.
        self.floats_in(size, false);
        match size {
            FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; roundss xmm0, xmm0, mode),
            FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; roundsd xmm0, xmm0, mode),
        }
        self.float_out(size);
    }

    fn float_cmp_a(&mut self, kind: FloatCmpKind, size: FloatSize) {
        use FloatCmpKind as K;
        self.floats_in(size, true);
        // ucomis*: unordered sets ZF, PF and CF, so `a`/`ae` (CF = 0) are
        // false on NaN; lt/le compare the other way round.
        let swap = matches!(kind, K::Lt | K::Le);
        match (size, swap) {
            (FloatSize::F32, false) => dynasm!(self.ops ; .arch x64 ; ucomiss xmm0, xmm1),
            (FloatSize::F32, true) => dynasm!(self.ops ; .arch x64 ; ucomiss xmm1, xmm0),
            (FloatSize::F64, false) => dynasm!(self.ops ; .arch x64 ; ucomisd xmm0, xmm1),
            (FloatSize::F64, true) => dynasm!(self.ops ; .arch x64 ; ucomisd xmm1, xmm0),
        }
        match kind {
            K::Eq => dynasm!(self.ops ; .arch x64 ; sete al ; setnp cl ; and al, cl),
            K::Ne => dynasm!(self.ops ; .arch x64 ; setne al ; setp cl ; or al, cl),
            K::Lt | K::Gt => dynasm!(self.ops ; .arch x64 ; seta al),
            K::Le | K::Ge => dynasm!(self.ops ; .arch x64 ; setae al),
        }
        dynasm!(self.ops ; .arch x64 ; movzx eax, al);
    }

    fn float_to_int_a(&mut self, kind: TruncKind) {
        // Everything happens on f64: every f32 converts to it exactly.
        self.floats_in(kind.from, false);
        if kind.from == FloatSize::F32 {
            dynasm!(self.ops ; .arch x64 ; cvtss2sd xmm0, xmm0);
        }
        let (lo, hi) = match (kind.to, kind.signed) {
            (OperandSize::S32, true) => (MINUS_TWO_31, TWO_31),
            (OperandSize::S32, false) => (0, TWO_32),
            (OperandSize::S64, true) => (MINUS_TWO_63, TWO_63),
            (OperandSize::S64, false) => (0, TWO_64),
        };
        let done = self.ops.new_dynamic_label();
        if kind.saturating {
            // Wasm 3.0 §4.3.4 trunc_sat: NaN is 0, out-of-range values clamp.
            let (min, max): (u64, u64) = match (kind.to, kind.signed) {
                (OperandSize::S32, true) => (i32::MIN as u32 as u64, i32::MAX as u64),
                (OperandSize::S32, false) => (0, u64::from(u32::MAX)),
                (OperandSize::S64, true) => (i64::MIN as u64, i64::MAX as u64),
                (OperandSize::S64, false) => (0, u64::MAX),
            };
            let (low, high) = (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
            dynasm!(self.ops ; .arch x64 ; xor eax, eax ; ucomisd xmm0, xmm0 ; jp =>done);
            self.compare_f64_const(lo);
            dynasm!(self.ops ; .arch x64 ; jb =>low);
            self.compare_f64_const(hi);
            dynasm!(self.ops ; .arch x64 ; jae =>high);
            self.truncate_in_range(kind);
            dynasm!(self.ops
                ; .arch x64
                ; jmp =>done
                ; =>low
                ; mov rax, QWORD min as i64
                ; jmp =>done
                ; =>high
                ; mov rax, QWORD max as i64
            );
        } else {
            // Wasm 3.0 §4.3.4 trunc: NaN traps "invalid conversion to
            // integer"; a truncated value outside [lo, hi) "integer overflow".
            if !self.need_sse41() {
                return;
            }
            let invalid = self.trap_stub(TrapCode::InvalidConversionToInteger);
            let overflow = self.trap_stub(TrapCode::IntegerOverflow);
            dynasm!(self.ops
                ; .arch x64
                ; ucomisd xmm0, xmm0
                ; jp =>invalid
                ; roundsd xmm0, xmm0, 3
            );
            self.compare_f64_const(lo);
            dynasm!(self.ops ; .arch x64 ; jb =>overflow);
            self.compare_f64_const(hi);
            dynasm!(self.ops ; .arch x64 ; jae =>overflow);
            self.truncate_in_range(kind);
        }
        dynasm!(self.ops ; .arch x64 ; =>done);
    }

    fn convert_a(&mut self, kind: ConvertKind) {
        match kind {
            ConvertKind::Promote => {
                // cvtss2sd quiets a NaN and keeps its payload's top bits.
                dynasm!(self.ops ; .arch x64 ; movd xmm0, eax ; cvtss2sd xmm0, xmm0 ; movq rax, xmm0)
            }
            ConvertKind::Demote => {
                dynasm!(self.ops ; .arch x64 ; movq xmm0, rax ; cvtsd2ss xmm0, xmm0 ; movd eax, xmm0)
            }
            ConvertKind::FromInt { from, to, signed } => {
                // xorps breaks the dependency on xmm0's old upper lanes.
                dynasm!(self.ops ; .arch x64 ; xorps xmm0, xmm0);
                match (from, signed) {
                    (OperandSize::S32, true) => match to {
                        FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; cvtsi2ss xmm0, eax),
                        FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; cvtsi2sd xmm0, eax),
                    },
                    // A u32 is a non-negative i64.
                    (OperandSize::S32, false) => {
                        dynasm!(self.ops ; .arch x64 ; mov eax, eax);
                        self.cvt_from_i64(to);
                    }
                    (OperandSize::S64, true) => self.cvt_from_i64(to),
                    (OperandSize::S64, false) => {
                        // Values >= 2^63: halve, keeping the lost bit as a
                        // sticky bit so the one rounding stays correct, then
                        // double (exact).
                        let (small, done) =
                            (self.ops.new_dynamic_label(), self.ops.new_dynamic_label());
                        dynasm!(self.ops ; .arch x64 ; test rax, rax ; jns =>small
                            ; mov rcx, rax ; shr rcx, 1 ; and eax, 1 ; or rax, rcx);
                        self.cvt_from_i64(to);
                        match to {
                            FloatSize::F32 => dynasm!(self.ops ; .arch x64 ; addss xmm0, xmm0),
                            FloatSize::F64 => dynasm!(self.ops ; .arch x64 ; addsd xmm0, xmm0),
                        }
                        dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>small);
                        self.cvt_from_i64(to);
                        dynasm!(self.ops ; .arch x64 ; =>done);
                    }
                }
                self.float_out(to);
            }
        }
    }
}

// dynasm's `Rq(n)`/`Rd(n)` register forms expand to `n.into()`.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl MacroAssembler for X64Masm {
    type Label = DynamicLabel;

    const ALLOCATABLE: &'static [Reg] = &ALLOCATABLE;
    const ALLOCATABLE_FLOAT: &'static [Reg] = &ALLOCATABLE_FLOAT;

    fn new_label(&mut self) -> DynamicLabel {
        self.ops.new_dynamic_label()
    }

    fn bind(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; =>label);
    }

    fn module_prelude(&mut self) {
        let exit = self.ops.new_dynamic_label();
        let trap_exit = self.ops.new_dynamic_label();
        // The entry trampoline (abi.rs): rdi = vmctx, rsi = cells,
        // rdx = code, rcx = state.
        dynasm!(self.ops
            ; .arch x64
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; sub rsp, 8
            ; mov r14, rdi
            ; mov r15, rcx
            ; mov QWORD [r15 + SAVED_SP], rsp
            ; mov rdi, rsi
            ; call rdx
            // eax: 0, or TrapCode::Exception (a pending exception).
            ; =>exit
            ; add rsp, 8
            ; pop r15
            ; pop r14
            ; pop r13
            ; pop r12
            ; pop rbp
            ; pop rbx
            ; ret
            ; =>trap_exit
            ; mov rsp, QWORD [r15 + SAVED_SP]
            ; jmp =>exit
        );
        self.trap_exit = Some(trap_exit);
        // Any compiled frame (rbp is its frame pointer) can leave through
        // here when an exception finds no handler in it.
        let exception_exit = self.ops.new_dynamic_label();
        dynasm!(self.ops
            ; .arch x64
            ; =>exception_exit
            ; mov eax, TrapCode::Exception as i32
            ; mov rsp, rbp
            ; pop rbp
            ; ret
        );
        self.exception_exit = Some(exception_exit);
        for code in TrapCode::ALL {
            let stub = self.ops.new_dynamic_label();
            dynasm!(self.ops ; .arch x64 ; =>stub ; mov eax, code as i32 ; jmp =>trap_exit);
            self.trap_stubs.push(stub);
        }
    }

    fn function_entry(&mut self, setup: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; push rbp ; mov rbp, rsp ; jmp =>setup);
    }

    fn frame_setup(&mut self, frame: FrameLayout, body: DynamicLabel) {
        let Some(bytes) = frame_bytes(frame.cells) else {
            self.error = Some(format!("a frame of {} cells is too large", frame.cells));
            return;
        };
        let overflow = self.trap_stub(TrapCode::StackExhausted);
        dynasm!(self.ops
            ; .arch x64
            ; sub rsp, bytes
            ; cmp rsp, QWORD [r15 + STACK_LIMIT]
            ; jb =>overflow
            ; mov QWORD [rbp - 8], rsi
            ; mov QWORD [rbp - 16], r14
        );
        for p in 0..frame.params {
            let d = self.disp(frame.first_local + p);
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rdi + (p as i32) * 8] ; mov QWORD [rsp + d], rax);
        }
        let zeroed = frame.locals - frame.params;
        if zeroed > 0 {
            let d = self.disp(frame.first_local + frame.params);
            dynasm!(self.ops
                ; .arch x64
                ; lea rdi, [rsp + d]
                ; mov ecx, zeroed as i32
                ; xor eax, eax
                ; rep stosq
            );
        }
        dynasm!(self.ops ; .arch x64 ; jmp =>body);
    }

    fn return_(&mut self, from: u32, count: u32) {
        dynasm!(self.ops ; .arch x64 ; mov rsi, QWORD [rbp - 8]);
        for i in 0..count {
            let d = self.disp(from + i);
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rsp + d] ; mov QWORD [rsi + (i as i32) * 8], rax);
        }
        dynasm!(self.ops ; .arch x64 ; xor eax, eax ; mov rsp, rbp ; pop rbp ; ret);
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
        if xmm(dst).is_some() {
            self.load_const(RAX, value);
            self.mov(OperandSize::S64, dst, RAX);
            return;
        }
        let r = dst.0;
        if let Ok(small) = u32::try_from(value) {
            dynasm!(self.ops ; .arch x64 ; mov Rd(r), small as i32);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov Rq(r), QWORD value as i64);
        }
    }

    fn load_cell(&mut self, dst: Reg, cell: u32) {
        let d = self.disp(cell);
        match xmm(dst) {
            Some(x) => dynasm!(self.ops ; .arch x64 ; movq Rx(x), QWORD [rsp + d]),
            None => dynasm!(self.ops ; .arch x64 ; mov Rq(dst.0), QWORD [rsp + d]),
        }
    }

    fn store_cell(&mut self, src: Reg, cell: u32) {
        let d = self.disp(cell);
        match xmm(src) {
            Some(x) => dynasm!(self.ops ; .arch x64 ; movq QWORD [rsp + d], Rx(x)),
            None => dynasm!(self.ops ; .arch x64 ; mov QWORD [rsp + d], Rq(src.0)),
        }
    }

    fn move_reg(&mut self, dst: Reg, src: Reg) {
        self.mov(OperandSize::S64, dst, src);
    }

    fn store_const(&mut self, value: u64, cell: u32) {
        let d = self.disp(cell);
        // A 64-bit store takes a sign-extended 32-bit immediate.
        if let Ok(imm) = i32::try_from(value as i64) {
            dynasm!(self.ops ; .arch x64 ; mov QWORD [rsp + d], imm);
        } else {
            self.load_const(RAX, value);
            dynasm!(self.ops ; .arch x64 ; mov QWORD [rsp + d], rax);
        }
    }

    fn copy_cell(&mut self, dst: u32, src: u32) {
        let (to, from) = (self.disp(dst), self.disp(src));
        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rsp + from] ; mov QWORD [rsp + to], rax);
    }

    fn int_binop(&mut self, op: IntBinOp, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm) {
        use IntBinOp as B;
        let simple = matches!(op, B::Add | B::Sub | B::Mul | B::And | B::Or | B::Xor);
        let shift = matches!(op, B::Shl | B::ShrS | B::ShrU | B::Rotl | B::Rotr);
        // Two-address forms need dst = lhs and rhs apart from dst.
        if (simple || shift) && rhs != RegImm::Reg(dst) {
            self.mov(size, dst, lhs);
            let d = dst.0;
            if shift {
                // x86 masks the count in cl by the width, as Wasm 3.0
                // §4.3.2 ishl/ishr/irotl do.
                match rhs {
                    RegImm::Imm(v) => dynasm!(self.ops ; .arch x64 ; mov ecx, (v & 63) as i32),
                    RegImm::Reg(r) => dynasm!(self.ops ; .arch x64 ; mov ecx, Rd(r.0)),
                }
                match (op, size) {
                    (B::Shl, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; shl Rd(d), cl),
                    (B::ShrS, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; sar Rd(d), cl),
                    (B::ShrU, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; shr Rd(d), cl),
                    (B::Rotl, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; rol Rd(d), cl),
                    (_, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; ror Rd(d), cl),
                    (B::Shl, _) => dynasm!(self.ops ; .arch x64 ; shl Rq(d), cl),
                    (B::ShrS, _) => dynasm!(self.ops ; .arch x64 ; sar Rq(d), cl),
                    (B::ShrU, _) => dynasm!(self.ops ; .arch x64 ; shr Rq(d), cl),
                    (B::Rotl, _) => dynasm!(self.ops ; .arch x64 ; rol Rq(d), cl),
                    (_, _) => dynasm!(self.ops ; .arch x64 ; ror Rq(d), cl),
                }
                return;
            }
            let r = match self.immediate(size, rhs) {
                Some(imm) => {
                    match (op, size) {
                        (B::Add, OperandSize::S32) => {
                            dynasm!(self.ops ; .arch x64 ; add Rd(d), imm)
                        }
                        (B::Sub, OperandSize::S32) => {
                            dynasm!(self.ops ; .arch x64 ; sub Rd(d), imm)
                        }
                        (B::Mul, OperandSize::S32) => {
                            dynasm!(self.ops ; .arch x64 ; imul Rd(d), Rd(d), imm)
                        }
                        (B::And, OperandSize::S32) => {
                            dynasm!(self.ops ; .arch x64 ; and Rd(d), imm)
                        }
                        (B::Or, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; or Rd(d), imm),
                        (_, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; xor Rd(d), imm),
                        (B::Add, _) => dynasm!(self.ops ; .arch x64 ; add Rq(d), imm),
                        (B::Sub, _) => dynasm!(self.ops ; .arch x64 ; sub Rq(d), imm),
                        (B::Mul, _) => dynasm!(self.ops ; .arch x64 ; imul Rq(d), Rq(d), imm),
                        (B::And, _) => dynasm!(self.ops ; .arch x64 ; and Rq(d), imm),
                        (B::Or, _) => dynasm!(self.ops ; .arch x64 ; or Rq(d), imm),
                        (_, _) => dynasm!(self.ops ; .arch x64 ; xor Rq(d), imm),
                    }
                    return;
                }
                None => self.rhs_in_reg(rhs).0,
            };
            match (op, size) {
                (B::Add, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; add Rd(d), Rd(r)),
                (B::Sub, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; sub Rd(d), Rd(r)),
                (B::Mul, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; imul Rd(d), Rd(r)),
                (B::And, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; and Rd(d), Rd(r)),
                (B::Or, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; or Rd(d), Rd(r)),
                (_, OperandSize::S32) => dynasm!(self.ops ; .arch x64 ; xor Rd(d), Rd(r)),
                (B::Add, _) => dynasm!(self.ops ; .arch x64 ; add Rq(d), Rq(r)),
                (B::Sub, _) => dynasm!(self.ops ; .arch x64 ; sub Rq(d), Rq(r)),
                (B::Mul, _) => dynasm!(self.ops ; .arch x64 ; imul Rq(d), Rq(r)),
                (B::And, _) => dynasm!(self.ops ; .arch x64 ; and Rq(d), Rq(r)),
                (B::Or, _) => dynasm!(self.ops ; .arch x64 ; or Rq(d), Rq(r)),
                (_, _) => dynasm!(self.ops ; .arch x64 ; xor Rq(d), Rq(r)),
            }
            return;
        }
        self.operands_in_a_b(lhs, rhs);
        self.int_binop_a(op, size);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn int_cmp(&mut self, kind: IntCmpKind, size: OperandSize, dst: Reg, lhs: Reg, rhs: RegImm) {
        use IntCmpKind as K;
        self.compare(size, lhs, rhs);
        match kind {
            K::Eq => dynasm!(self.ops ; .arch x64 ; sete al),
            K::Ne => dynasm!(self.ops ; .arch x64 ; setne al),
            K::LtS => dynasm!(self.ops ; .arch x64 ; setl al),
            K::LtU => dynasm!(self.ops ; .arch x64 ; setb al),
            K::GtS => dynasm!(self.ops ; .arch x64 ; setg al),
            K::GtU => dynasm!(self.ops ; .arch x64 ; seta al),
            K::LeS => dynasm!(self.ops ; .arch x64 ; setle al),
            K::LeU => dynasm!(self.ops ; .arch x64 ; setbe al),
            K::GeS => dynasm!(self.ops ; .arch x64 ; setge al),
            K::GeU => dynasm!(self.ops ; .arch x64 ; setae al),
        }
        dynasm!(self.ops ; .arch x64 ; movzx Rd(dst.0), al);
    }

    fn int_unop(&mut self, op: IntUnOp, size: OperandSize, dst: Reg, src: Reg) {
        if op == IntUnOp::Eqz {
            match size {
                OperandSize::S32 => dynasm!(self.ops ; .arch x64 ; test Rd(src.0), Rd(src.0)),
                OperandSize::S64 => dynasm!(self.ops ; .arch x64 ; test Rq(src.0), Rq(src.0)),
            }
            dynasm!(self.ops ; .arch x64 ; sete al ; movzx Rd(dst.0), al);
            return;
        }
        self.mov(OperandSize::S64, RAX, src);
        self.int_unop_a(op, size);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn extend(&mut self, kind: ExtendKind, dst: Reg, src: Reg) {
        let (d, s) = (dst.0, src.0);
        match kind {
            ExtendKind::Low32 => dynasm!(self.ops ; .arch x64 ; mov Rd(d), Rd(s)),
            ExtendKind::I64FromI32S => dynasm!(self.ops ; .arch x64 ; movsxd Rq(d), Rd(s)),
            ExtendKind::I32From8S => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), Rb(s)),
            ExtendKind::I32From16S => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), Rw(s)),
            ExtendKind::I64From8S => dynasm!(self.ops ; .arch x64 ; movsx Rq(d), Rb(s)),
            ExtendKind::I64From16S => dynasm!(self.ops ; .arch x64 ; movsx Rq(d), Rw(s)),
        }
    }

    fn float_binop(&mut self, op: FloatBinOp, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg) {
        use FloatBinOp as F;
        if matches!(op, F::Add | F::Sub | F::Mul | F::Div) {
            // Operands in general-purpose registers go through xmm0/xmm1;
            // the result is computed in place when dst is lhs.
            let xmm_of = |r: Reg, scratch: Reg| xmm(r).map_or(scratch, |_| r);
            let (l, r) = (xmm_of(lhs, Reg(XMM)), xmm_of(rhs, Reg(XMM + 1)));
            self.mov(OperandSize::S64, l, lhs);
            self.mov(OperandSize::S64, r, rhs);
            let target = if xmm(dst).is_some() && dst == lhs {
                dst
            } else {
                Reg(XMM)
            };
            self.mov(OperandSize::S64, target, l);
            self.float_arith(op, size, target.0 - XMM, r.0 - XMM);
            self.mov(OperandSize::S64, dst, target);
            return;
        }
        self.operands_in_a_b(lhs, RegImm::Reg(rhs));
        self.float_binop_a(op, size);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn float_unop(&mut self, op: FloatUnOp, size: FloatSize, dst: Reg, src: Reg) {
        self.mov(OperandSize::S64, RAX, src);
        self.float_unop_a(op, size);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn float_cmp(&mut self, kind: FloatCmpKind, size: FloatSize, dst: Reg, lhs: Reg, rhs: Reg) {
        self.operands_in_a_b(lhs, RegImm::Reg(rhs));
        self.float_cmp_a(kind, size);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn float_to_int(&mut self, kind: TruncKind, dst: Reg, src: Reg) {
        self.mov(OperandSize::S64, RAX, src);
        self.float_to_int_a(kind);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn convert(&mut self, kind: ConvertKind, dst: Reg, src: Reg) {
        self.mov(OperandSize::S64, RAX, src);
        self.convert_a(kind);
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn select(&mut self, dst: Reg, cond: Reg, a: Reg, b: Reg) {
        let (c, a, b) = (cond.0, a.0, b.0);
        dynasm!(self.ops
            ; .arch x64
            ; mov rax, Rq(a)
            ; test Rd(c), Rd(c)
            ; cmovz rax, Rq(b)
        );
        self.mov(OperandSize::S64, dst, RAX);
    }

    fn load_global(&mut self, slot: u32, value_offset: u32, dst: Reg) {
        let (slot, value) = (slot as i32, value_offset as i32);
        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [r14 + slot] ; mov Rq(dst.0), QWORD [rax + value]);
    }

    fn store_global(&mut self, slot: u32, value_offset: u32, src: Reg) {
        let (slot, value) = (slot as i32, value_offset as i32);
        dynasm!(self.ops ; .arch x64 ; mov rdx, QWORD [r14 + slot] ; mov QWORD [rdx + value], Rq(src.0));
    }

    fn load(&mut self, access: MemoryAccess, kind: LoadKind, dst: Reg, addr: Reg) {
        let o = self.effective_address(access, kind.bytes(), addr);
        // movd/movq into an xmm register zero the bits above, as an f32's
        // cell has them.
        match (xmm(dst), kind) {
            (Some(x), LoadKind::U32) => {
                dynasm!(self.ops ; .arch x64 ; movd Rx(x), DWORD [rdx + rax + o]);
                return;
            }
            (Some(x), LoadKind::U64) => {
                dynasm!(self.ops ; .arch x64 ; movq Rx(x), QWORD [rdx + rax + o]);
                return;
            }
            _ => {}
        }
        let d = xmm(dst).map_or(dst.0, |_| RAX.0);
        match kind {
            LoadKind::U8 => dynasm!(self.ops ; .arch x64 ; movzx Rd(d), BYTE [rdx + rax + o]),
            LoadKind::U16 => dynasm!(self.ops ; .arch x64 ; movzx Rd(d), WORD [rdx + rax + o]),
            LoadKind::U32 => dynasm!(self.ops ; .arch x64 ; mov Rd(d), DWORD [rdx + rax + o]),
            LoadKind::U64 => dynasm!(self.ops ; .arch x64 ; mov Rq(d), QWORD [rdx + rax + o]),
            LoadKind::I32S8 => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), BYTE [rdx + rax + o]),
            LoadKind::I32S16 => dynasm!(self.ops ; .arch x64 ; movsx Rd(d), WORD [rdx + rax + o]),
            LoadKind::I64S8 => dynasm!(self.ops ; .arch x64 ; movsx Rq(d), BYTE [rdx + rax + o]),
            LoadKind::I64S16 => dynasm!(self.ops ; .arch x64 ; movsx Rq(d), WORD [rdx + rax + o]),
            LoadKind::I64S32 => dynasm!(self.ops ; .arch x64 ; movsxd Rq(d), DWORD [rdx + rax + o]),
        }
        self.mov(OperandSize::S64, dst, Reg(d));
    }

    fn store(&mut self, access: MemoryAccess, bytes: u32, addr: Reg, value: Reg) {
        let o = self.effective_address(access, bytes, addr);
        match (xmm(value), bytes) {
            (Some(x), 4) => {
                dynasm!(self.ops ; .arch x64 ; movd DWORD [rdx + rax + o], Rx(x));
                return;
            }
            (Some(x), 8) => {
                dynasm!(self.ops ; .arch x64 ; movq QWORD [rdx + rax + o], Rx(x));
                return;
            }
            _ => {}
        }
        // A float register's narrower stores go through rcx, free here
        // (the access uses rax and rdx).
        let v = match xmm(value) {
            Some(_) => {
                self.mov(OperandSize::S64, RCX, value);
                RCX.0
            }
            None => value.0,
        };
        match bytes {
            1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rdx + rax + o], Rb(v)),
            2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rdx + rax + o], Rw(v)),
            4 => dynasm!(self.ops ; .arch x64 ; mov DWORD [rdx + rax + o], Rd(v)),
            _ => dynasm!(self.ops ; .arch x64 ; mov QWORD [rdx + rax + o], Rq(v)),
        }
    }

    fn jump(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; jmp =>label);
    }

    fn branch_if_zero(&mut self, src: Reg, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; test Rd(src.0), Rd(src.0) ; jz =>label);
    }

    fn branch_if_nonzero(&mut self, src: Reg, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; test Rd(src.0), Rd(src.0) ; jnz =>label);
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
            K::Eq => dynasm!(self.ops ; .arch x64 ; je =>label),
            K::Ne => dynasm!(self.ops ; .arch x64 ; jne =>label),
            K::LtS => dynasm!(self.ops ; .arch x64 ; jl =>label),
            K::LtU => dynasm!(self.ops ; .arch x64 ; jb =>label),
            K::GtS => dynasm!(self.ops ; .arch x64 ; jg =>label),
            K::GtU => dynasm!(self.ops ; .arch x64 ; ja =>label),
            K::LeS => dynasm!(self.ops ; .arch x64 ; jle =>label),
            K::LeU => dynasm!(self.ops ; .arch x64 ; jbe =>label),
            K::GeS => dynasm!(self.ops ; .arch x64 ; jge =>label),
            K::GeU => dynasm!(self.ops ; .arch x64 ; jae =>label),
        }
    }

    fn branch_if_not_equal(&mut self, src: Reg, value: u32, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; cmp Rd(src.0), value as i32 ; jne =>label);
    }

    fn call(&mut self, callee: DynamicLabel, args: u32, exception: DynamicLabel) {
        let d = self.disp(args);
        dynasm!(self.ops
            ; .arch x64
            ; lea rsi, [rsp + d]
            ; mov rdi, rsi
            ; call =>callee
            // A tail call in the callee may have switched contexts.
            ; mov r14, QWORD [rbp - 16]
            ; test eax, eax
            ; jnz =>exception
        );
    }

    fn return_call(&mut self, callee: DynamicLabel, args: u32, count: u32) {
        self.copy_tail_args(args, count);
        self.leave_for_tail_call();
        dynasm!(self.ops ; .arch x64 ; jmp =>callee);
    }

    fn trap(&mut self, code: TrapCode) {
        let stub = self.trap_stub(code);
        dynasm!(self.ops ; .arch x64 ; jmp =>stub);
    }

    fn charge_fuel(&mut self, store_context: u32, fuel: u32) -> usize {
        let out_of_fuel = self.trap_stub(TrapCode::OutOfFuel);
        let (store, fuel) = (store_context as i32, fuel as i32);
        // Not a literal, so dynasm emits the imm32 form, patched in `finish`.
        let placeholder = FUEL_CHARGE_PLACEHOLDER;
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, QWORD [r14 + store]
            ; mov rax, QWORD [rdx + fuel]
            ; sub rax, DWORD placeholder
        );
        let immediate = self.ops.offset().0 - 4;
        // Borrow: less fuel than the charge.
        dynasm!(self.ops
            ; .arch x64
            ; jb =>out_of_fuel
            ; mov QWORD [rdx + fuel], rax
        );
        self.fuel_charges.push((immediate, 0));
        self.fuel_charges.len() - 1
    }

    fn set_fuel_charge(&mut self, site: usize, charge: u32) {
        if let Some(entry) = self.fuel_charges.get_mut(site) {
            entry.1 = charge;
        }
    }

    fn check_epoch(&mut self, store_context: u32, epoch: u32, deadline: u32) {
        let interrupted = self.trap_stub(TrapCode::Interrupted);
        let (store, epoch, deadline) = (store_context as i32, epoch as i32, deadline as i32);
        // A plain load is an acquire load on x86-64 (SDM Vol.3A §9.2.3.2).
        dynasm!(self.ops
            ; .arch x64
            ; mov rdx, QWORD [r14 + store]
            ; mov rax, QWORD [rdx + epoch]
            ; mov rax, QWORD [rax]
            ; cmp rax, QWORD [rdx + deadline]
            ; jae =>interrupted
        );
    }

    /// `entry(vmctx, cells + args, op, a, b)`, the status in eax.
    fn call_entry(&mut self, entry: usize, args: u32, op: u32, (a, b): (u32, u32)) {
        let d = self.disp(args);
        // System V: rdi, rsi, edx, ecx, r8d; the body keeps rsp 16-aligned
        // (abi.rs) and every value in frame cells, and r14/r15 are
        // callee-saved, so nothing needs saving around the call.
        dynasm!(self.ops
            ; .arch x64
            ; mov rdi, r14
            ; lea rsi, [rsp + d]
            ; mov edx, op as i32
            ; mov ecx, a as i32
            ; mov r8d, b as i32
            ; mov rax, QWORD entry as i64
            ; call rax
        );
    }

    /// After a call-out: on [`TrapCode::Exception`] to `exception`, on any
    /// other code but 0 out through the trap exit.
    fn check_status(&mut self, exception: DynamicLabel) {
        let Some(trap_exit) = self.trap_exit else {
            self.error = Some("a call-out before the module prelude".into());
            return;
        };
        dynasm!(self.ops
            ; .arch x64
            ; cmp eax, TrapCode::Exception as i32
            ; je =>exception
            ; test eax, eax
            ; jnz =>trap_exit
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
        dynasm!(self.ops ; .arch x64 ; cmp eax, crate::CALLEE_COMPILED as i32 ; je =>native);
        self.check_status(exception);
        dynasm!(self.ops ; .arch x64 ; jmp =>done ; =>native);
        let d = self.disp(args);
        // The callee runs on its own context; ours comes back from the
        // frame, as after any call.
        self.load_callee(callee);
        dynasm!(self.ops
            ; .arch x64
            ; lea rsi, [rsp + d]
            ; mov rdi, rsi
            ; call rax
            ; mov r14, QWORD [rbp - 16]
            ; test eax, eax
            ; jnz =>exception
            ; =>done
        );
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
        dynasm!(self.ops ; .arch x64 ; cmp eax, crate::CALLEE_COMPILED as i32 ; je =>jump);
        self.check_status(exception);
        // The callee ran: its results are this function's.
        self.return_(args, results);
        dynasm!(self.ops ; .arch x64 ; =>jump);
        self.copy_tail_args(args, count);
        // The callee may be another module's: it runs on its own context,
        // and every caller reloads r14 from its frame after a call.
        self.load_callee(callee);
        self.leave_for_tail_call();
        dynasm!(self.ops ; .arch x64 ; jmp rax);
    }

    fn finish(mut self, labels: &[DynamicLabel]) -> Result<(Vec<u8>, Vec<usize>), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let (mut code, offsets) = crate::masm::assemble(self.ops, labels)?;
        for &(at, charge) in &self.fuel_charges {
            let slot = code
                .get_mut(at..at + 4)
                .filter(|s| **s == FUEL_CHARGE_PLACEHOLDER.to_le_bytes())
                .ok_or("a fuel charge's immediate is not where it was emitted")?;
            let charge = i32::try_from(charge).map_err(|_| "a fuel charge beyond 2^31")?;
            slot.copy_from_slice(&charge.to_le_bytes());
        }
        Ok((code, offsets))
    }
}

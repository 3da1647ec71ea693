//! [`MacroAssembler`] for x86_64 through `dynasmrt`.

use dynasmrt::x64::X64Relocation;
use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler, dynasm};

use super::abi::{SAVED_RSP, STACK_LIMIT, frame_bytes};
use crate::masm::{
    ExtendKind, FrameLayout, IntBinOp, IntCmpKind, IntUnOp, LoadKind, MacroAssembler, MemoryAccess,
    Operand, OperandSize, TrapCode,
};

/// Emits x86_64 code into a position-independent buffer.
pub struct X64Masm {
    ops: VecAssembler<X64Relocation>,
    /// One stub per [`TrapCode`], in `TrapCode::ALL` order.
    trap_stubs: Vec<DynamicLabel>,
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

    /// Turns the address in A into the effective address of an access of
    /// `bytes` bytes (Wasm 3.0 §4.4.7: `ea = i + offset`, trapping when
    /// `ea + bytes` exceeds the length, every sum checked for overflow),
    /// with the memory's base in rdx. Clobbers rdi.
    fn effective_address(&mut self, access: MemoryAccess, bytes: u32) {
        let oob = self.trap_stub(TrapCode::MemoryOutOfBounds);
        let (slot, base, length) = (
            access.definition_slot as i32,
            access.base as i32,
            access.length as i32,
        );
        dynasm!(self.ops ; .arch x64 ; mov rdx, QWORD [r14 + slot]);
        if !access.memory64 {
            dynasm!(self.ops ; .arch x64 ; mov eax, eax);
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
    }

    fn trap_stub(&self, code: TrapCode) -> DynamicLabel {
        let i = TrapCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.trap_stubs[i]
    }
}

/// dynasm register number of an operand register.
fn reg(op: Operand) -> u8 {
    match op {
        Operand::A => 0, // rax
        Operand::B => 1, // rcx
        Operand::C => 2, // rdx
    }
}

// dynasm's `Rq(n)`/`Rd(n)` register forms expand to `n.into()`.
#[allow(clippy::useless_conversion, reason = "inside dynasm! expansions")]
impl MacroAssembler for X64Masm {
    type Label = DynamicLabel;

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
            ; mov QWORD [r15 + SAVED_RSP], rsp
            ; call rdx
            ; xor eax, eax
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
            ; mov rsp, QWORD [r15 + SAVED_RSP]
            ; jmp =>exit
        );
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
        );
        for p in 0..frame.params {
            let d = self.disp(frame.first_local + p);
            dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rsi + (p as i32) * 8] ; mov QWORD [rsp + d], rax);
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
        dynasm!(self.ops ; .arch x64 ; mov rsp, rbp ; pop rbp ; ret);
    }

    fn load_const(&mut self, dst: Operand, value: u64) {
        let r = reg(dst);
        if let Ok(small) = u32::try_from(value) {
            dynasm!(self.ops ; .arch x64 ; mov Rd(r), small as i32);
        } else {
            dynasm!(self.ops ; .arch x64 ; mov Rq(r), QWORD value as i64);
        }
    }

    fn load_cell(&mut self, dst: Operand, cell: u32) {
        let d = self.disp(cell);
        dynasm!(self.ops ; .arch x64 ; mov Rq(reg(dst)), QWORD [rsp + d]);
    }

    fn store_cell(&mut self, src: Operand, cell: u32) {
        let d = self.disp(cell);
        dynasm!(self.ops ; .arch x64 ; mov QWORD [rsp + d], Rq(reg(src)));
    }

    fn int_binop(&mut self, op: IntBinOp, size: OperandSize) {
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

    fn int_cmp(&mut self, kind: IntCmpKind, size: OperandSize) {
        use IntCmpKind as K;
        match size {
            OperandSize::S32 => dynasm!(self.ops ; .arch x64 ; cmp eax, ecx),
            OperandSize::S64 => dynasm!(self.ops ; .arch x64 ; cmp rax, rcx),
        }
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
        dynasm!(self.ops ; .arch x64 ; movzx eax, al);
    }

    fn int_unop(&mut self, op: IntUnOp, size: OperandSize) {
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

    fn extend(&mut self, kind: ExtendKind) {
        match kind {
            ExtendKind::Low32 => dynasm!(self.ops ; .arch x64 ; mov eax, eax),
            ExtendKind::I64FromI32S => dynasm!(self.ops ; .arch x64 ; movsxd rax, eax),
            ExtendKind::I32From8S => dynasm!(self.ops ; .arch x64 ; movsx eax, al),
            ExtendKind::I32From16S => dynasm!(self.ops ; .arch x64 ; movsx eax, ax),
            ExtendKind::I64From8S => dynasm!(self.ops ; .arch x64 ; movsx rax, al),
            ExtendKind::I64From16S => dynasm!(self.ops ; .arch x64 ; movsx rax, ax),
        }
    }

    fn select(&mut self) {
        dynasm!(self.ops ; .arch x64 ; test edx, edx ; cmovz rax, rcx);
    }

    fn load_global(&mut self, slot: u32, value_offset: u32) {
        let (slot, value) = (slot as i32, value_offset as i32);
        dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [r14 + slot] ; mov rax, QWORD [rax + value]);
    }

    fn store_global(&mut self, slot: u32, value_offset: u32) {
        let (slot, value) = (slot as i32, value_offset as i32);
        dynasm!(self.ops ; .arch x64 ; mov rdx, QWORD [r14 + slot] ; mov QWORD [rdx + value], rax);
    }

    fn load(&mut self, access: MemoryAccess, kind: LoadKind) {
        self.effective_address(access, kind.bytes());
        match kind {
            LoadKind::U8 => dynasm!(self.ops ; .arch x64 ; movzx eax, BYTE [rdx + rax]),
            LoadKind::U16 => dynasm!(self.ops ; .arch x64 ; movzx eax, WORD [rdx + rax]),
            LoadKind::U32 => dynasm!(self.ops ; .arch x64 ; mov eax, DWORD [rdx + rax]),
            LoadKind::U64 => dynasm!(self.ops ; .arch x64 ; mov rax, QWORD [rdx + rax]),
            LoadKind::I32S8 => dynasm!(self.ops ; .arch x64 ; movsx eax, BYTE [rdx + rax]),
            LoadKind::I32S16 => dynasm!(self.ops ; .arch x64 ; movsx eax, WORD [rdx + rax]),
            LoadKind::I64S8 => dynasm!(self.ops ; .arch x64 ; movsx rax, BYTE [rdx + rax]),
            LoadKind::I64S16 => dynasm!(self.ops ; .arch x64 ; movsx rax, WORD [rdx + rax]),
            LoadKind::I64S32 => dynasm!(self.ops ; .arch x64 ; movsxd rax, DWORD [rdx + rax]),
        }
    }

    fn store(&mut self, access: MemoryAccess, bytes: u32) {
        self.effective_address(access, bytes);
        match bytes {
            1 => dynasm!(self.ops ; .arch x64 ; mov BYTE [rdx + rax], cl),
            2 => dynasm!(self.ops ; .arch x64 ; mov WORD [rdx + rax], cx),
            4 => dynasm!(self.ops ; .arch x64 ; mov DWORD [rdx + rax], ecx),
            _ => dynasm!(self.ops ; .arch x64 ; mov QWORD [rdx + rax], rcx),
        }
    }

    fn jump(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; jmp =>label);
    }

    fn branch_if_zero(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; test eax, eax ; jz =>label);
    }

    fn branch_if_nonzero(&mut self, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; test eax, eax ; jnz =>label);
    }

    fn branch_if_not_equal(&mut self, value: u32, label: DynamicLabel) {
        dynasm!(self.ops ; .arch x64 ; cmp eax, value as i32 ; jne =>label);
    }

    fn call(&mut self, callee: DynamicLabel, args: u32) {
        let d = self.disp(args);
        dynasm!(self.ops ; .arch x64 ; lea rsi, [rsp + d] ; call =>callee);
    }

    fn trap(&mut self, code: TrapCode) {
        let stub = self.trap_stub(code);
        dynasm!(self.ops ; .arch x64 ; jmp =>stub);
    }

    fn finish(mut self, labels: &[DynamicLabel]) -> Result<(Vec<u8>, Vec<usize>), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.ops.commit().map_err(|e| format!("assembling: {e}"))?;
        let offsets = labels
            .iter()
            .map(|l| {
                self.ops
                    .labels()
                    .resolve_dynamic(*l)
                    .map(|o| o.0)
                    .map_err(|e| format!("assembling: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let code = self
            .ops
            .finalize()
            .map_err(|e| format!("assembling: {e}"))?;
        Ok((code, offsets))
    }
}

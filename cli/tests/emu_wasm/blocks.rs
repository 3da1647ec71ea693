//! Random x86 programs for the differential test of the emulator's two
//! builds: register-only blocks (integer, SSE/SSE2, x87, rounding
//! controls) in a static ELF, each followed by a dump of RFLAGS, the GPRs
//! and FXSAVE (x87, MXCSR, XMM0–15) to stdout.

/// Load address of the generated program.
const BASE: u64 = 0x40_0000;
/// ELF header plus one program header.
const HEADERS: usize = 64 + 56;
/// Bytes dumped per block: FXSAVE (512) + 16 GPR slots (slot 4, RSP's,
/// holds RFLAGS).
pub const DUMP: usize = 512 + 128;
/// Instructions per block.
const BLOCK: usize = 24;

/// xorshift64*: deterministic and seedable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
    /// A general register other than RSP.
    fn gpr(&mut self) -> u8 {
        self.pick(&[0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    }
}

/// REX prefix (always present, so byte registers 4–7 are SPL…DIL).
fn rex(w: bool, reg: u8, rm: u8) -> u8 {
    0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | (rm >> 3)
}

fn modrm_rr(reg: u8, rm: u8) -> u8 {
    0xc0 | ((reg & 7) << 3) | (rm & 7)
}

/// `[prefix] REX opcode.. ModRM(reg, rm)` with register operands.
fn rr(out: &mut Vec<u8>, prefix: Option<u8>, w: bool, op: &[u8], reg: u8, rm: u8) {
    out.extend(prefix);
    out.push(rex(w, reg, rm));
    out.extend_from_slice(op);
    out.push(modrm_rr(reg, rm));
}

/// `mov r64, imm64`.
fn mov_imm64(out: &mut Vec<u8>, reg: u8, value: u64) {
    out.push(rex(true, 0, reg));
    out.push(0xb8 + (reg & 7));
    out.extend_from_slice(&value.to_le_bytes());
}

/// Random values in every GPR but RSP and in every XMM register.
fn randomize(out: &mut Vec<u8>, rng: &mut Rng) {
    if rng.below(2) == 0 {
        out.extend_from_slice(&[0xdb, 0xe3]); // fninit: an empty x87 stack
    }
    // XMM15 carries each high half in: movq + punpcklqdq (SSE2 only).
    for x in 0..16u8 {
        mov_imm64(out, 0, interesting(rng));
        rr(out, Some(0x66), true, &[0x0f, 0x6e], x, 0); // movq xmm, rax
        // XMM15's own high half comes from XMM0's low half.
        let high = if x == 15 { 0 } else { 15 };
        if x != 15 {
            mov_imm64(out, 0, interesting(rng));
            rr(out, Some(0x66), true, &[0x0f, 0x6e], 15, 0);
        }
        rr(out, Some(0x66), false, &[0x0f, 0x6c], x, high); // punpcklqdq
    }
    for r in [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
        mov_imm64(out, r, interesting(rng));
    }
}

/// Mostly random bits, sometimes edge values (zero, signs, float
/// specials) so the arithmetic meets its corner cases.
fn interesting(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 => rng.pick(&[
            0,
            1,
            u64::MAX,
            1 << 63,
            (1 << 63) - 1,
            0x7ff0_0000_0000_0000, // +inf (f64)
            0x7ff8_0000_0000_0001, // NaN
            0x0000_0000_0000_0001, // smallest denormal
            0x7f80_0000_ff80_0000, // +inf, -inf (f32 pair)
            0x3f80_0000_4000_0000, // 1.0, 2.0 (f32 pair)
        ]),
        1 => rng.below(256),
        2 => 0x3ff0_0000_0000_0000 | rng.below(1 << 52), // f64 in [1, 2)
        3 => (rng.next() & 0x807f_ffff_807f_ffff) | 0x3f00_0000_3f00_0000, // f32 pairs
        _ => rng.next(),
    }
}

/// One random instruction on registers only.
fn instruction(out: &mut Vec<u8>, rng: &mut Rng) {
    let (a, b) = (rng.gpr(), rng.gpr());
    let (xa, xb) = (rng.below(16) as u8, rng.below(16) as u8);
    match rng.below(15) {
        12 | 13 => x87(out, rng, a),
        14 => control_words(out, rng),
        // ALU r/m, r in 8/16/32/64 bits.
        0 | 1 => {
            let op = rng.pick(&[
                0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x87, 0x89,
            ]);
            match rng.below(4) {
                0 => rr(out, None, false, &[op - 1], a, b), // 8-bit form
                1 => rr(out, Some(0x66), false, &[op], a, b),
                2 => rr(out, None, false, &[op], a, b),
                _ => rr(out, None, true, &[op], a, b),
            }
        }
        // r, r/m forms: IMUL, BSF, BSR, CMOVcc, MOVZX/MOVSX, BT*, SHLD/SHRD,
        // CMPXCHG, XADD, POPCNT/TZCNT/LZCNT, MOVSXD.
        2 | 3 => {
            let w = rng.below(3) != 0;
            let cc = 0x40 + rng.below(16) as u8;
            let (prefix, op): (Option<u8>, &[u8]) = rng.pick(&[
                (None, &[0x0f, 0xaf][..]),
                (None, &[0x0f, 0xbc][..]),
                (None, &[0x0f, 0xbd][..]),
                (None, &[0x0f, 0xb6][..]),
                (None, &[0x0f, 0xb7][..]),
                (None, &[0x0f, 0xbe][..]),
                (None, &[0x0f, 0xbf][..]),
                (None, &[0x0f, 0xa3][..]),
                (None, &[0x0f, 0xab][..]),
                (None, &[0x0f, 0xb3][..]),
                (None, &[0x0f, 0xbb][..]),
                (None, &[0x0f, 0xa5][..]),
                (None, &[0x0f, 0xad][..]),
                (None, &[0x0f, 0xb1][..]),
                (None, &[0x0f, 0xc1][..]),
                (Some(0xf3), &[0x0f, 0xb8][..]),
                (Some(0xf3), &[0x0f, 0xbc][..]),
                (Some(0xf3), &[0x0f, 0xbd][..]),
                (None, &[0x63][..]),
                (None, &[0x0f, 0x40][..]), // replaced by a random CMOVcc below
            ]);
            let op: Vec<u8> = if op == [0x0f, 0x40] {
                vec![0x0f, cc]
            } else {
                op.to_vec()
            };
            // BT*/SHxD/CMPXCHG/XADD take r/m first; the others reg first:
            // either way both operands are registers.
            rr(out, prefix, w, &op, a, b);
        }
        // Unary and shift groups: NOT/NEG/MUL/IMUL, INC/DEC, shifts and
        // rotates by 1, CL and imm8, SETcc, BSWAP.
        4 | 5 => {
            let w = rng.below(3) != 0;
            match rng.below(6) {
                0 => rr(out, None, w, &[0xf7], rng.pick(&[2, 3, 4, 5]), a),
                1 => rr(out, None, w, &[0xff], rng.pick(&[0, 1]), a),
                2 => rr(out, None, w, &[0xd1], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a),
                3 => rr(out, None, w, &[0xd3], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a),
                4 => {
                    rr(out, None, w, &[0xc1], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a);
                    out.push(rng.below(256) as u8);
                }
                _ => {
                    if rng.below(2) == 0 {
                        rr(out, None, false, &[0x0f, 0x90 + rng.below(16) as u8], 0, a);
                    } else {
                        out.push(rex(w, 0, a));
                        out.extend_from_slice(&[0x0f, 0xc8 + (a & 7)]);
                    }
                }
            }
        }
        // ALU with immediates.
        6 => {
            let w = rng.below(3) != 0;
            if rng.below(2) == 0 {
                rr(out, None, w, &[0x81], rng.below(8) as u8, a);
                out.extend_from_slice(&(rng.next() as u32).to_le_bytes());
            } else {
                rr(out, None, w, &[0x83], rng.below(8) as u8, a);
                out.push(rng.below(256) as u8);
            }
        }
        // DIV/IDIV by a positive nonzero RCX, dividend sign- or
        // zero-extended, so it never faults.
        7 => {
            let w = rng.below(2) == 0;
            rr(out, None, w, &[0xd1], 5, 1); // shr rcx, 1
            rr(out, None, w, &[0x83], 1, 1); // or rcx, 1
            out.push(1);
            if rng.below(2) == 0 {
                rr(out, None, false, &[0x31], 2, 2); // xor edx, edx
                rr(out, None, w, &[0xf7], 6, 1); // div rcx
            } else {
                out.extend_from_slice(if w { &[0x48, 0x99][..] } else { &[0x99][..] }); // cqo/cdq
                rr(out, None, w, &[0xf7], 7, 1); // idiv rcx
            }
        }
        // Packed integer SSE2.
        8 => {
            let op = rng.pick(&[
                0xfe, 0xfb, 0xef, 0xdb, 0xf4, 0xd4, 0x74, 0x64, 0x60, 0x67, 0xf5, 0xe5, 0xd5, 0xda,
                0xde, 0xe0, 0xf6, 0x6d, 0xe8, 0xdc, 0x63, 0xd1, 0xe2, 0xf3,
            ]);
            rr(out, Some(0x66), false, &[0x0f, op], xa, xb);
        }
        // Packed and scalar float SSE/SSE2 (softfloat in the emulator).
        9 | 10 => {
            let prefix = rng.pick(&[None, Some(0x66), Some(0xf3), Some(0xf2)]);
            let op = rng.pick(&[0x58, 0x59, 0x5c, 0x5e, 0x5d, 0x5f, 0x51, 0x5a]);
            rr(out, prefix, false, &[0x0f, op], xa, xb);
        }
        // Conversions and compares between XMM and GPRs.
        _ => match rng.below(6) {
            0 => rr(out, Some(0xf2), true, &[0x0f, 0x2d], a, xb), // cvtsd2si r64
            1 => rr(out, Some(0xf3), false, &[0x0f, 0x2c], a, xb), // cvttss2si r32
            2 => rr(out, Some(0xf2), true, &[0x0f, 0x2a], xa, b), // cvtsi2sd
            3 => rr(
                out,
                rng.pick(&[None, Some(0x66)]),
                false,
                &[0x0f, 0x2f],
                xa,
                xb,
            ), // comis
            4 => rr(out, Some(0x66), false, &[0x0f, 0x5b], xa, xb), // cvtps2dq
            _ => {
                rr(
                    out,
                    rng.pick(&[None, Some(0x66)]),
                    false,
                    &[0x0f, 0xc2],
                    xa,
                    xb,
                ); // cmpps/pd
                out.push(rng.below(8) as u8);
            }
        },
    }
}

/// `[rsp - 8]` ModRM/SIB/disp8 with `reg`: the scratch slot below the
/// stack pointer that x87 loads and stores go through.
fn scratch(out: &mut Vec<u8>, reg: u8) {
    out.extend_from_slice(&[0x44 | ((reg & 7) << 3), 0x24, 0xf8]);
}

/// One x87 instruction: loads from a GPR (through memory), stores back
/// into one, or register-stack arithmetic, compares and constants.
fn x87(out: &mut Vec<u8>, rng: &mut Rng, gpr: u8) {
    let i = rng.below(8) as u8;
    match rng.below(4) {
        0 => {
            out.extend_from_slice(&[rex(true, gpr, 0), 0x89]); // mov [rsp-8], gpr
            scratch(out, gpr);
            let (op, reg) = rng.pick(&[(0xdd, 0), (0xdf, 5), (0xd9, 0), (0xdb, 0)]);
            out.push(op); // fld m64 / fild m64 / fld m32 / fild m32
            scratch(out, reg);
        }
        1 => {
            let (op, reg) = rng.pick(&[(0xdd, 3), (0xdf, 7), (0xd9, 3), (0xdd, 2)]);
            out.push(op); // fstp m64 / fistp m64 / fstp m32 / fst m64
            scratch(out, reg);
            out.extend_from_slice(&[rex(true, gpr, 0), 0x8b]); // mov gpr, [rsp-8]
            scratch(out, gpr);
        }
        2 => {
            let (a, b) = rng.pick(&[
                (0xd8, 0xc0), // fadd st, st(i)
                (0xd8, 0xc8), // fmul
                (0xd8, 0xe0), // fsub
                (0xd8, 0xe8), // fsubr
                (0xd8, 0xf0), // fdiv
                (0xd8, 0xf8), // fdivr
                (0xdc, 0xc0), // fadd st(i), st
                (0xde, 0xc0), // faddp
                (0xde, 0xc8), // fmulp
                (0xd9, 0xc8), // fxch
                (0xdd, 0xd8), // fstp st(i)
                (0xd9, 0xc0), // fld st(i)
                (0xdb, 0xe8), // fucomi
                (0xdb, 0xf0), // fcomi
                (0xda, 0xc0), // fcmovb
                (0xdb, 0xc8), // fcmovne
                (0xdd, 0xe0), // fucom
                (0xd8, 0xd0), // fcom
            ]);
            out.extend_from_slice(&[a, b + i]);
        }
        _ => {
            let op = rng.pick(&[
                0xe0, // fchs
                0xe1, // fabs
                0xfa, // fsqrt
                0xfc, // frndint
                0xfd, // fscale
                0xf8, // fprem
                0xf4, // fxtract
                0xe8, // fld1
                0xeb, // fldpi
                0xee, // fldz
                0xe4, // ftst
                0xe5, // fxam
            ]);
            out.extend_from_slice(&[0xd9, op]);
            if rng.below(4) == 0 {
                out.extend_from_slice(&[0xdf, 0xe0]); // fnstsw ax
            }
        }
    }
}

/// New rounding and precision controls (exceptions stay masked): x87
/// control word and MXCSR with random RC, PC, FTZ and DAZ.
fn control_words(out: &mut Vec<u8>, rng: &mut Rng) {
    let (word, op, reg) = if rng.below(2) == 0 {
        let pc = rng.pick(&[0u32, 2, 3]);
        (0x037f | (rng.below(4) as u32) << 10 | pc << 8, 0xd9, 5) // fldcw
    } else {
        let daz_ftz = rng.below(4) as u32;
        let mxcsr = 0x1f80 | (rng.below(4) as u32) << 13 | (daz_ftz & 1) << 6;
        (mxcsr | (daz_ftz >> 1) << 15, 0xae, 2) // ldmxcsr
    };
    out.push(0xc7); // mov dword [rsp-8], word
    scratch(out, 0);
    out.extend_from_slice(&word.to_le_bytes());
    if op == 0xae {
        out.push(0x0f);
    }
    out.push(op);
    scratch(out, reg);
}

/// `[rsp + disp32]` ModRM/SIB with `reg`.
fn rsp_mem(out: &mut Vec<u8>, reg: u8, disp: u32) {
    out.push(0x80 | ((reg & 7) << 3) | 4);
    out.push(0x24);
    out.extend_from_slice(&disp.to_le_bytes());
}

/// Writes RFLAGS, the GPRs and FXSAVE to stdout, leaving RSP as it was.
fn dump(out: &mut Vec<u8>) {
    const FRAME: u32 = DUMP as u32 + 8; // keeps FXSAVE 16-byte aligned
    out.push(0x9c); // pushfq
    out.extend_from_slice(&[0x48, 0x8d]); // lea rsp, [rsp - FRAME]
    rsp_mem(out, 4, FRAME.wrapping_neg());
    out.extend_from_slice(&[0x0f, 0xae]); // fxsave [rsp + 0]
    rsp_mem(out, 0, 0);
    for r in [0u8, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
        out.extend_from_slice(&[rex(true, r, 0), 0x89]); // mov [rsp+..], r
        rsp_mem(out, r, 512 + 8 * u32::from(r));
    }
    out.extend_from_slice(&[0x48, 0x8b]); // mov rax, [rsp + FRAME] (flags)
    rsp_mem(out, 0, FRAME);
    out.extend_from_slice(&[0x48, 0x89]); // mov [rsp + 512 + 32], rax
    rsp_mem(out, 0, 512 + 32);
    out.extend_from_slice(&[0xb8, 1, 0, 0, 0]); // mov eax, 1 (write)
    out.extend_from_slice(&[0xbf, 1, 0, 0, 0]); // mov edi, 1
    out.extend_from_slice(&[0x48, 0x89, 0xe6]); // mov rsi, rsp
    out.push(0xba); // mov edx, DUMP
    out.extend_from_slice(&(DUMP as u32).to_le_bytes());
    out.extend_from_slice(&[0x0f, 0x05]); // syscall
    out.extend_from_slice(&[0x48, 0x8d]); // lea rsp, [rsp + FRAME + 8]
    rsp_mem(out, 4, FRAME + 8);
}

/// The program and each block's code (for reporting a divergence).
pub fn program(seed: u64, blocks: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rng = Rng::new(seed);
    let mut code = Vec::new();
    let mut listing = Vec::new();
    for _ in 0..blocks {
        randomize(&mut code, &mut rng);
        let start = code.len();
        for _ in 0..BLOCK {
            instruction(&mut code, &mut rng);
        }
        listing.push(code[start..].to_vec());
        dump(&mut code);
    }
    code.extend_from_slice(&[0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]); // exit(0)
    (elf(&code), listing)
}

/// A static x86_64 ET_EXEC with one R+X PT_LOAD; entry at `code`.
fn elf(code: &[u8]) -> Vec<u8> {
    let total = (HEADERS + code.len()) as u64;
    let mut e = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
    e.extend_from_slice(&(BASE + HEADERS as u64).to_le_bytes()); // e_entry
    e.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    e.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    e.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    e.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    e.extend_from_slice(&[0; 6]); // no sections
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // R + X
    e.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    e.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
    e.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
    e.extend_from_slice(&total.to_le_bytes()); // p_filesz
    e.extend_from_slice(&total.to_le_bytes()); // p_memsz
    e.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
    e.extend_from_slice(code);
    e
}

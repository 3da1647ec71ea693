//! Architectural state: general registers, RIP, RFLAGS, segment registers
//! with their descriptor caches, control registers, EFER, MSRs, x87, MXCSR
//! and XMM0–15 (SDM Vol.1 §3.4, Vol.3A §2.5).

use super::flags;

/// General-purpose register numbers as encoded in ModRM/REX (SDM Vol.2A §2.1.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    /// Accumulator.
    Rax = 0,
    /// Counter.
    Rcx = 1,
    /// Data.
    Rdx = 2,
    /// Base.
    Rbx = 3,
    /// Stack pointer.
    Rsp = 4,
    /// Frame pointer.
    Rbp = 5,
    /// Source index.
    Rsi = 6,
    /// Destination index.
    Rdi = 7,
}

/// Segment registers in their encoding order (SDM Vol.2B MOV, "Sreg" encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SegReg {
    /// Extra segment.
    Es = 0,
    /// Code segment.
    Cs = 1,
    /// Stack segment.
    Ss = 2,
    /// Data segment.
    Ds = 3,
    /// FS (thread pointer on x86_64 Linux).
    Fs = 4,
    /// GS.
    Gs = 5,
}

/// A segment register: the visible selector and the hidden descriptor cache
/// (SDM Vol.3A §3.4.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Visible selector.
    pub selector: u16,
    /// Cached base address.
    pub base: u64,
    /// Cached limit (byte granular after expansion).
    pub limit: u32,
    /// Cached attribute bits (type, S, DPL, P, AVL, L, D/B, G).
    pub attributes: u16,
}

/// Which decoding mode the processor is in (SDM Vol.3A §2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuMode {
    /// Real mode or 16-bit protected-mode code.
    Bits16,
    /// 32-bit protected mode or compatibility mode.
    Bits32,
    /// 64-bit long mode.
    Bits64,
}

/// Control register bits the emulator interprets (SDM Vol.3A §2.5).
pub mod cr {
    /// CR0.PE: protection enable.
    pub const CR0_PE: u64 = 1 << 0;
    /// CR0.PG: paging.
    pub const CR0_PG: u64 = 1 << 31;
    /// CR4.OSFXSR: SSE enabled by the OS.
    pub const CR4_OSFXSR: u64 = 1 << 9;
    /// EFER.LME / EFER.LMA / EFER.SCE / EFER.NXE.
    pub const EFER_SCE: u64 = 1 << 0;
    /// EFER.LME: long mode enable.
    pub const EFER_LME: u64 = 1 << 8;
    /// EFER.LMA: long mode active.
    pub const EFER_LMA: u64 = 1 << 10;
    /// EFER.NXE: no-execute enable.
    pub const EFER_NXE: u64 = 1 << 11;
}

/// The x87 FPU register file and environment (SDM Vol.1 §8.1). Values are
/// kept as raw 80-bit extended-precision bit patterns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X87State {
    /// Physical registers R0–R7: (significand, sign+exponent).
    pub regs: [(u64, u16); 8],
    /// Control word.
    pub control: u16,
    /// Status word (TOP lives in bits 11–13).
    pub status: u16,
    /// Abridged tag word as FXSAVE stores it: bit i set = R[i] valid.
    pub tag: u8,
    /// Where the last non-control instruction came from.
    pub pointers: X87Pointers,
}

/// The x87 last-instruction and last-operand pointers (SDM Vol.1 §8.1.8,
/// §8.1.9): every non-control x87 instruction records itself, those with a
/// memory operand also the operand; FNSTENV/FNSAVE store them, and
/// FLDENV/FRSTOR/FXRSTOR load them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X87Pointers {
    /// Offset of the instruction's first byte, prefixes included (FIP).
    pub fip: u64,
    /// CS selector of that instruction (FCS).
    pub fcs: u16,
    /// Opcode (FOP): the first opcode byte's low 3 bits, then ModRM.
    pub fop: u16,
    /// Offset of the last memory operand (FDP).
    pub fdp: u64,
    /// Selector of that operand's segment (FDS).
    pub fds: u16,
}

impl Default for X87State {
    fn default() -> Self {
        // SDM Vol.1 §8.1.5: FNINIT state, control word 0x037f.
        X87State {
            regs: [(0, 0); 8],
            control: 0x037f,
            status: 0,
            tag: 0,
            pointers: X87Pointers::default(),
        }
    }
}

/// The whole processor.
#[derive(Clone, Debug)]
pub struct Cpu {
    /// RAX … R15, indexed by encoding number.
    pub gpr: [u64; 16],
    /// Instruction pointer.
    pub rip: u64,
    /// RFLAGS, always materialised.
    pub rflags: u64,
    /// ES, CS, SS, DS, FS, GS.
    pub segs: [Segment; 6],
    /// CR0.
    pub cr0: u64,
    /// CR2 (last page-fault address).
    pub cr2: u64,
    /// CR3.
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// CR8 (task priority).
    pub cr8: u64,
    /// IA32_EFER.
    pub efer: u64,
    /// Decoding mode, derived from CR0/EFER/CS.L/CS.D.
    pub mode: CpuMode,
    /// XMM0–15.
    pub xmm: [u128; 16],
    /// SSE control/status.
    pub mxcsr: u32,
    /// x87 state.
    pub x87: X87State,
    /// Time-stamp counter, advanced once per instruction.
    pub tsc: u64,
    /// IA32_KERNEL_GS_BASE (swapped by SWAPGS).
    pub kernel_gs_base: u64,
    /// IA32_TSC_AUX (RDTSCP/RDPID).
    pub tsc_aux: u64,
}

/// MXCSR after reset: all exceptions masked, round to nearest (SDM Vol.1 §10.2.3).
pub const MXCSR_DEFAULT: u32 = 0x1f80;

impl Cpu {
    /// A processor already in 64-bit user mode, as Linux starts a process.
    pub fn new_long_mode_user() -> Cpu {
        // Linux's user selectors: CS 0x33, SS 0x2b, null DS/ES/FS/GS.
        let flat = Segment {
            selector: 0,
            base: 0,
            limit: u32::MAX,
            attributes: 0x0cf3,
        };
        let mut segs = [flat; 6];
        segs[SegReg::Ss as usize].selector = 0x2b;
        segs[SegReg::Cs as usize] = Segment {
            selector: 0x33,
            base: 0,
            limit: u32::MAX,
            attributes: 0x02fb,
        };
        Cpu {
            gpr: [0; 16],
            rip: 0,
            rflags: flags::RESERVED_ONE | flags::IF,
            segs,
            cr0: cr::CR0_PE | cr::CR0_PG,
            cr2: 0,
            cr3: 0,
            cr4: cr::CR4_OSFXSR,
            cr8: 0,
            efer: cr::EFER_LME | cr::EFER_LMA | cr::EFER_SCE | cr::EFER_NXE,
            mode: CpuMode::Bits64,
            xmm: [0; 16],
            mxcsr: MXCSR_DEFAULT,
            x87: X87State::default(),
            tsc: 0,
            kernel_gs_base: 0,
            tsc_aux: 0,
        }
    }

    /// Reads a register of `size` bytes. `size == 1` uses the REX-less
    /// high-byte encoding (AH/CH/DH/BH for 4–7) when `high_bytes` is true.
    #[inline]
    pub fn read_reg(&self, reg: u8, size: u8, high_bytes: bool) -> u64 {
        if size == 1 && high_bytes && (4..8).contains(&reg) {
            return (self.gpr[(reg - 4) as usize] >> 8) & 0xff;
        }
        self.gpr[(reg & 15) as usize] & size_mask(size)
    }

    /// Writes a register of `size` bytes with the SDM Vol.1 §3.4.1.1 rule:
    /// 32-bit writes zero the upper half, 8/16-bit writes merge.
    #[inline]
    pub fn write_reg(&mut self, reg: u8, size: u8, high_bytes: bool, value: u64) {
        if size == 1 && high_bytes && (4..8).contains(&reg) {
            let r = &mut self.gpr[(reg - 4) as usize];
            *r = (*r & !0xff00) | ((value & 0xff) << 8);
            return;
        }
        let r = &mut self.gpr[(reg & 15) as usize];
        *r = match size {
            1 => (*r & !0xff) | (value & 0xff),
            2 => (*r & !0xffff) | (value & 0xffff),
            4 => value & 0xffff_ffff,
            _ => value,
        };
    }

    /// Base address of a segment for linear-address computation. In 64-bit
    /// mode only FS and GS have a base (SDM Vol.3A §3.2.4).
    #[inline]
    pub fn seg_base(&self, seg: SegReg) -> u64 {
        if self.mode == CpuMode::Bits64 && !matches!(seg, SegReg::Fs | SegReg::Gs) {
            0
        } else {
            self.segs[seg as usize].base
        }
    }

    /// Tests one RFLAGS bit.
    #[inline]
    pub fn flag(&self, bit: u64) -> bool {
        self.rflags & bit != 0
    }

    /// Sets or clears one RFLAGS bit.
    #[inline]
    pub fn set_flag(&mut self, bit: u64, on: bool) {
        if on {
            self.rflags |= bit;
        } else {
            self.rflags &= !bit;
        }
    }
}

/// All-ones mask of `size` bytes.
#[inline]
pub fn size_mask(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

/// Sign bit of a `size`-byte value.
#[inline]
pub fn sign_bit(size: u8) -> u64 {
    1u64 << (size as u32 * 8 - 1)
}

/// Sign-extends a `size`-byte value to 64 bits.
#[inline]
pub fn sign_extend(value: u64, size: u8) -> u64 {
    let shift = 64 - size as u32 * 8;
    (((value << shift) as i64) >> shift) as u64
}

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

/// The kinds of flat (base 0, 4 GiB) segments the processor and the boot
/// loaders build without a descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlatKind {
    /// 32-bit code (D = 1).
    Code32,
    /// 64-bit code (L = 1).
    Code64,
    /// Read/write data with a 32-bit stack pointer (B = 1).
    Data,
}

impl Segment {
    /// A flat segment of `kind` at privilege `dpl`, present and accessed
    /// (what SYSCALL/SYSRET/SYSENTER/SYSEXIT load, SDM Vol.2B SYSCALL).
    pub fn flat(selector: u16, dpl: u8, kind: FlatKind) -> Segment {
        let kind_bits = match kind {
            FlatKind::Code32 => attr::CODE | attr::DEFAULT_BIG,
            FlatKind::Code64 => attr::CODE | attr::LONG,
            FlatKind::Data => attr::DEFAULT_BIG,
        };
        Segment {
            selector,
            base: 0,
            limit: 0xffff_ffff,
            attributes: attr::PRESENT
                | attr::CODE_DATA
                | attr::WRITABLE_READABLE
                | attr::ACCESSED
                | attr::GRANULAR
                | kind_bits
                | ((dpl as u16) << 5),
        }
    }
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

/// Segment descriptor attribute bits as cached in [`Segment::attributes`]:
/// the access byte in bits 0–7, then AVL, L, D/B, G (SDM Vol.3A §3.4.5).
pub mod attr {
    /// Accessed (data/code) or busy (TSS, bit 1 of the type).
    pub const ACCESSED: u16 = 1 << 0;
    /// Writable (data) or readable (code).
    pub const WRITABLE_READABLE: u16 = 1 << 1;
    /// Expand-down (data) or conforming (code).
    pub const DOWN_CONFORMING: u16 = 1 << 2;
    /// Code (1) or data (0) for S = 1.
    pub const CODE: u16 = 1 << 3;
    /// S: code/data (1) or system (0).
    pub const CODE_DATA: u16 = 1 << 4;
    /// Present.
    pub const PRESENT: u16 = 1 << 7;
    /// L: 64-bit code segment.
    pub const LONG: u16 = 1 << 9;
    /// D/B: 32-bit default operand size / stack pointer.
    pub const DEFAULT_BIG: u16 = 1 << 10;
    /// G: limit in 4 KiB units.
    pub const GRANULAR: u16 = 1 << 11;
    /// Descriptor privilege level from attributes.
    pub fn dpl(attributes: u16) -> u8 {
        ((attributes >> 5) & 3) as u8
    }
}

/// Control register bits the emulator interprets (SDM Vol.3A §2.5).
pub mod cr {
    /// CR0.PE: protection enable.
    pub const CR0_PE: u64 = 1 << 0;
    /// CR0.MP: monitor coprocessor.
    pub const CR0_MP: u64 = 1 << 1;
    /// CR0.EM: x87 emulation.
    pub const CR0_EM: u64 = 1 << 2;
    /// CR0.TS: task switched.
    pub const CR0_TS: u64 = 1 << 3;
    /// CR0.ET: extension type (always 1).
    pub const CR0_ET: u64 = 1 << 4;
    /// CR0.NE: numeric error reporting.
    pub const CR0_NE: u64 = 1 << 5;
    /// CR0.WP: supervisor writes honour read-only pages.
    pub const CR0_WP: u64 = 1 << 16;
    /// CR0.AM: alignment mask.
    pub const CR0_AM: u64 = 1 << 18;
    /// CR0.NW: not write-through.
    pub const CR0_NW: u64 = 1 << 29;
    /// CR0.CD: cache disable.
    pub const CR0_CD: u64 = 1 << 30;
    /// CR0.PG: paging.
    pub const CR0_PG: u64 = 1 << 31;
    /// CR4.TSD: RDTSC at CPL 0 only.
    pub const CR4_TSD: u64 = 1 << 2;
    /// CR4.DE: debugging extensions.
    pub const CR4_DE: u64 = 1 << 3;
    /// CR4.PSE: 4 MiB pages in 32-bit paging.
    pub const CR4_PSE: u64 = 1 << 4;
    /// CR4.PAE: physical address extension.
    pub const CR4_PAE: u64 = 1 << 5;
    /// CR4.PGE: global pages.
    pub const CR4_PGE: u64 = 1 << 7;
    /// CR4.PCE: RDPMC at any CPL.
    pub const CR4_PCE: u64 = 1 << 8;
    /// CR4.OSFXSR: SSE enabled by the OS.
    pub const CR4_OSFXSR: u64 = 1 << 9;
    /// CR4.OSXMMEXCPT: unmasked SIMD exceptions raise #XM.
    pub const CR4_OSXMMEXCPT: u64 = 1 << 10;
    /// CR4 bits this CPU implements; setting any other is #GP(0).
    pub const CR4_SUPPORTED: u64 =
        CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;
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

/// Who plays the operating system for this CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Linux user mode emulated by `user/`: SYSCALL stops the CPU and the
    /// syscall layer takes over.
    LinuxUser,
    /// A PC: the guest's own kernel runs at CPL 0; SYSCALL, interrupts and
    /// exceptions go through the guest's MSRs, IDT and TSS.
    Pc,
}

/// GDTR or IDTR (SDM Vol.3A §2.4.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableRegister {
    /// Linear base address.
    pub base: u64,
    /// Limit (last valid byte offset).
    pub limit: u16,
}

/// Model-specific registers kept as plain state (SDM Vol.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Msrs {
    /// IA32_STAR: SYSCALL/SYSRET selectors (and the legacy EIP).
    pub star: u64,
    /// IA32_LSTAR: SYSCALL target in 64-bit mode.
    pub lstar: u64,
    /// IA32_CSTAR: SYSCALL target in compatibility mode.
    pub cstar: u64,
    /// IA32_FMASK: RFLAGS bits SYSCALL clears.
    pub sfmask: u64,
    /// IA32_SYSENTER_CS.
    pub sysenter_cs: u64,
    /// IA32_SYSENTER_ESP.
    pub sysenter_esp: u64,
    /// IA32_SYSENTER_EIP.
    pub sysenter_eip: u64,
    /// IA32_PAT.
    pub pat: u64,
    /// IA32_APIC_BASE.
    pub apic_base: u64,
    /// IA32_MISC_ENABLE.
    pub misc_enable: u64,
}

/// The whole processor.
#[derive(Clone, Debug)]
pub struct Cpu {
    /// Who handles SYSCALL and faults: the user-mode layer or the guest.
    pub platform: Platform,
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
    /// GDTR.
    pub gdtr: TableRegister,
    /// IDTR.
    pub idtr: TableRegister,
    /// LDTR (selector and cached descriptor).
    pub ldtr: Segment,
    /// TR (selector and cached TSS descriptor).
    pub tr: Segment,
    /// DR0–DR7 (DR4/DR5 alias DR6/DR7); kept as state, no breakpoints fire.
    pub dr: [u64; 8],
    /// The other MSRs.
    pub msr: Msrs,
    /// Interrupts are held off until after the next instruction (STI, MOV SS
    /// and POP SS; SDM Vol.3A §6.8.3).
    pub interrupt_shadow: bool,
}

/// DR6 after reset (SDM Vol.3A §18.2.3: reserved bits read as 1).
pub const DR6_RESET: u64 = 0xffff_0ff0;
/// DR7 after reset.
pub const DR7_RESET: u64 = 0x400;
/// IA32_PAT after reset (SDM Vol.3A §12.12.4).
pub const PAT_RESET: u64 = 0x0007_0406_0007_0406;
/// IA32_APIC_BASE after reset: the default base, BSP and global enable.
pub const APIC_BASE_RESET: u64 = crate::devices::apic::base_msr::RESET;

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
            platform: Platform::LinuxUser,
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
            gdtr: TableRegister::default(),
            idtr: TableRegister::default(),
            ldtr: Segment::default(),
            tr: Segment::default(),
            dr: [0, 0, 0, 0, DR6_RESET, DR7_RESET, DR6_RESET, DR7_RESET],
            msr: Msrs::default(),
            interrupt_shadow: false,
        }
    }

    /// A processor as it comes out of RESET on a PC (SDM Vol.3A §9.1.1,
    /// Table 9-1): real mode, CS:IP = F000:FFF0 with CS.base = FFFF0000.
    pub fn reset() -> Cpu {
        // Real-mode data segments: base 0, limit 64 KiB, present read/write.
        let data = Segment {
            selector: 0,
            base: 0,
            limit: 0xffff,
            attributes: attr::PRESENT | attr::CODE_DATA | attr::WRITABLE_READABLE | attr::ACCESSED,
        };
        let mut segs = [data; 6];
        segs[SegReg::Cs as usize] = Segment {
            selector: 0xf000,
            base: 0xffff_0000,
            limit: 0xffff,
            attributes: data.attributes | attr::CODE,
        };
        let mut cpu = Cpu::new_long_mode_user();
        cpu.platform = Platform::Pc;
        cpu.gpr = [0; 16];
        // EDX holds the processor signature after reset.
        cpu.gpr[Reg::Rdx as usize] = super::cpuid::cpuid(1, 0, false).0 as u64;
        cpu.rip = 0xfff0;
        cpu.rflags = flags::RESERVED_ONE;
        cpu.segs = segs;
        cpu.cr0 = cr::CR0_ET | cr::CR0_CD | cr::CR0_NW;
        cpu.cr4 = 0;
        cpu.efer = 0;
        cpu.mode = CpuMode::Bits16;
        cpu.gdtr = TableRegister {
            base: 0,
            limit: 0xffff,
        };
        cpu.idtr = TableRegister {
            base: 0,
            limit: 0xffff,
        };
        let system = |attributes| Segment {
            selector: 0,
            base: 0,
            limit: 0xffff,
            attributes,
        };
        cpu.ldtr = system(attr::PRESENT | 2);
        cpu.tr = system(attr::PRESENT | 3);
        cpu.msr = Msrs {
            pat: PAT_RESET,
            apic_base: APIC_BASE_RESET,
            ..Msrs::default()
        };
        cpu
    }

    /// Recomputes the decoding mode from CR0.PE, EFER.LMA and CS.L/CS.D
    /// (SDM Vol.3A §2.2, §5.2.1). Call after every CR0, EFER or CS change.
    pub fn update_mode(&mut self) {
        let cs = self.segs[SegReg::Cs as usize].attributes;
        self.mode = if self.cr0 & cr::CR0_PE == 0 {
            CpuMode::Bits16
        } else if self.efer & cr::EFER_LMA != 0 && cs & attr::LONG != 0 {
            CpuMode::Bits64
        } else if cs & attr::DEFAULT_BIG != 0 {
            CpuMode::Bits32
        } else {
            CpuMode::Bits16
        };
    }

    /// The state the MMU translates with.
    pub fn paging_control(&self) -> crate::mmu::PagingControl {
        crate::mmu::PagingControl {
            cr0: self.cr0,
            cr3: self.cr3,
            cr4: self.cr4,
            efer: self.efer,
            cpl: self.cpl(),
        }
    }

    /// Recomputes the mode and tells the memory about the paging controls
    /// and CPL: after any change of CR0/CR3/CR4/EFER or CS.
    pub fn sync_mode<M: crate::mmu::Memory>(&mut self, mem: &mut M) {
        self.update_mode();
        mem.set_paging(self.paging_control());
    }

    /// Current privilege level (SDM Vol.3A §5.5): 0 in real mode, 3 in
    /// virtual-8086 mode, otherwise CS.RPL (every CS load keeps it = CPL).
    pub fn cpl(&self) -> u8 {
        if self.cr0 & cr::CR0_PE == 0 {
            0
        } else if self.rflags & flags::VM != 0 {
            3
        } else {
            (self.segs[SegReg::Cs as usize].selector & 3) as u8
        }
    }

    /// RFLAGS.IOPL.
    pub fn iopl(&self) -> u8 {
        ((self.rflags >> 12) & 3) as u8
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

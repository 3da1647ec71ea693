//! The x87 environment and state images: FNSTENV/FLDENV (14 or 28 bytes)
//! and FNSAVE/FRSTOR (94 or 108 bytes) in their protected- and real-mode
//! layouts (SDM Vol.1 §8.1.10, Figures 8-9 to 8-12), and the
//! last-instruction pointers they carry (SDM Vol.1 §8.1.8, §8.1.9).

use super::{X87Result, full_tag_word, update_summary};
use crate::cpu::decode::Insn;
use crate::cpu::state::{Cpu, CpuMode, SegReg, X87Pointers, X87State, cr};
use crate::mmu::Memory;

/// Bytes of one register in an FNSAVE image.
const REGISTER_BYTES: usize = 10;

/// The four environment layouts (SDM Vol.1 Figures 8-9 to 8-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// 28 bytes; FIP/FDP as offsets with their selectors, FOP.
    Protected32,
    /// 14 bytes; 16-bit offsets and selectors, no FOP.
    Protected16,
    /// 28 bytes; 32-bit linear FIP/FDP split around FOP.
    Real32,
    /// 14 bytes; 20-bit linear FIP/FDP, FOP.
    Real16,
}

impl Layout {
    /// The layout an instruction with this operand size uses in the
    /// current mode (real and virtual-8086 mode use the real-mode ones).
    fn of(cpu: &Cpu, op_size: u8) -> Layout {
        const RFLAGS_VM: u64 = 1 << 17;
        let real = cpu.cr0 & cr::CR0_PE == 0 || cpu.rflags & RFLAGS_VM != 0;
        match (real, op_size == 2) {
            (false, false) => Layout::Protected32,
            (false, true) => Layout::Protected16,
            (true, false) => Layout::Real32,
            (true, true) => Layout::Real16,
        }
    }

    fn len(self) -> usize {
        match self {
            Layout::Protected32 | Layout::Real32 => 28,
            Layout::Protected16 | Layout::Real16 => 14,
        }
    }
}

fn put16(image: &mut [u8], at: usize, v: u16) {
    image[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(image: &mut [u8], at: usize, v: u32) {
    image[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get16(image: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([image[at], image[at + 1]])
}

fn get32(image: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([image[at], image[at + 1], image[at + 2], image[at + 3]])
}

/// Records the current instruction as the last non-control one: its
/// address, opcode and, for a memory form, the operand's offset and
/// segment (what this AMD host stores in every mode, not only after an
/// unmasked exception).
pub(super) fn record_pointers(cpu: &mut Cpu, insn: &Insn) {
    let ip_mask = match cpu.mode {
        CpuMode::Bits64 => u64::MAX,
        CpuMode::Bits32 => 0xffff_ffff,
        CpuMode::Bits16 => 0xffff,
    };
    let modrm = (insn.md << 6) | ((insn.reg & 7) << 3) | (insn.rm & 7);
    let p = &mut cpu.x87.pointers;
    p.fip = cpu.rip.wrapping_sub(insn.len as u64) & ip_mask;
    p.fcs = cpu.segs[SegReg::Cs as usize].selector;
    p.fop = ((insn.opcode as u16 & 7) << 8) | modrm as u16;
    if let Some(m) = &insn.mem {
        let fdp = cpu.effective_address(insn, m);
        let fds = cpu.segs[m.seg as usize].selector;
        let p = &mut cpu.x87.pointers;
        p.fdp = fdp;
        p.fds = fds;
    }
}

/// The environment image; the reserved upper halves read as ones, as the
/// host stores them (real-mode images follow the same pattern).
fn env_image(cpu: &Cpu, layout: Layout) -> [u8; 28] {
    let mut image = [0u8; 28];
    let p = cpu.x87.pointers;
    let (cw, sw, tw) = (cpu.x87.control, cpu.x87.status, full_tag_word(cpu));
    let high = 0xffff_0000u32;
    // Real-mode images hold linear addresses: selector × 16 + offset.
    let ip = ((p.fcs as u32) << 4).wrapping_add(p.fip as u32);
    let dp = ((p.fds as u32) << 4).wrapping_add(p.fdp as u32);
    let fop = p.fop & 0x7ff;
    match layout {
        Layout::Protected32 | Layout::Real32 => {
            put32(&mut image, 0, high | cw as u32);
            put32(&mut image, 4, high | sw as u32);
            put32(&mut image, 8, high | tw as u32);
        }
        Layout::Protected16 | Layout::Real16 => {
            put16(&mut image, 0, cw);
            put16(&mut image, 2, sw);
            put16(&mut image, 4, tw);
        }
    }
    match layout {
        Layout::Protected32 => {
            put32(&mut image, 12, p.fip as u32);
            put32(&mut image, 16, p.fcs as u32 | (fop as u32) << 16);
            put32(&mut image, 20, p.fdp as u32);
            put32(&mut image, 24, high | p.fds as u32);
        }
        Layout::Protected16 => {
            put16(&mut image, 6, p.fip as u16);
            put16(&mut image, 8, p.fcs);
            put16(&mut image, 10, p.fdp as u16);
            put16(&mut image, 12, p.fds);
        }
        Layout::Real32 => {
            put32(&mut image, 12, high | (ip & 0xffff));
            put32(&mut image, 16, (ip >> 16) << 12 | fop as u32);
            put32(&mut image, 20, high | (dp & 0xffff));
            put32(&mut image, 24, (dp >> 16) << 12);
        }
        Layout::Real16 => {
            put16(&mut image, 6, ip as u16);
            put16(&mut image, 8, ((ip >> 16) as u16 & 0xf) << 12 | fop);
            put16(&mut image, 10, dp as u16);
            put16(&mut image, 12, ((dp >> 16) as u16 & 0xf) << 12);
        }
    }
    image
}

/// Loads an environment image: control (reserved bits fixed), status,
/// which registers are empty (the other tag values are recomputed from
/// the contents), and the pointers.
fn load_env_image(cpu: &mut Cpu, image: &[u8], layout: Layout) {
    let wide = matches!(layout, Layout::Protected32 | Layout::Real32);
    let stride = if wide { 4 } else { 2 };
    // Reserved control bits read as 0, bit 6 as 1 (SDM Vol.1 §8.1.5).
    cpu.x87.control = (get16(image, 0) & 0x1f7f) | 0x40;
    cpu.x87.status = get16(image, stride);
    let tags = get16(image, 2 * stride);
    cpu.x87.tag = (0..8)
        .filter(|p| (tags >> (2 * p)) & 3 != 3)
        .fold(0u8, |acc, p| acc | 1 << p);
    cpu.x87.pointers = match layout {
        Layout::Protected32 => X87Pointers {
            fip: get32(image, 12) as u64,
            fcs: get16(image, 16),
            fop: get16(image, 18) & 0x7ff,
            fdp: get32(image, 20) as u64,
            fds: get16(image, 24),
        },
        // No FOP in this layout: it reads as 0 (observed on the host).
        Layout::Protected16 => X87Pointers {
            fip: get16(image, 6) as u64,
            fcs: get16(image, 8),
            fop: 0,
            fdp: get16(image, 10) as u64,
            fds: get16(image, 12),
        },
        Layout::Real32 => X87Pointers {
            fip: ((get32(image, 16) >> 12 & 0xffff) << 16 | get16(image, 12) as u32) as u64,
            fcs: 0,
            fop: get16(image, 16) & 0x7ff,
            fdp: ((get32(image, 24) >> 12 & 0xffff) << 16 | get16(image, 20) as u32) as u64,
            fds: 0,
        },
        Layout::Real16 => X87Pointers {
            fip: ((get16(image, 8) as u64 >> 12) << 16) | get16(image, 6) as u64,
            fcs: 0,
            fop: get16(image, 8) & 0x7ff,
            fdp: ((get16(image, 12) as u64 >> 12) << 16) | get16(image, 10) as u64,
            fds: 0,
        },
    };
    update_summary(cpu);
}

/// FNSTENV, then masks every exception (SDM Vol.2A FSTENV); with all
/// exceptions masked ES and B clear too (observed on the host).
pub(super) fn fnstenv<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    op_size: u8,
) -> X87Result<()> {
    let layout = Layout::of(cpu, op_size);
    let image = env_image(cpu, layout);
    mem.write(addr, &image[..layout.len()])?;
    cpu.x87.control |= 0x3f;
    update_summary(cpu);
    Ok(())
}

/// FLDENV.
pub(super) fn fldenv<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    op_size: u8,
) -> X87Result<()> {
    let layout = Layout::of(cpu, op_size);
    let mut image = [0u8; 28];
    mem.read(addr, &mut image[..layout.len()])?;
    load_env_image(cpu, &image, layout);
    Ok(())
}

/// FNSAVE: the environment, then ST(0)–ST(7) in stack order, then the
/// FNINIT state (SDM Vol.2A FSAVE/FNSAVE).
pub(super) fn fnsave<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    op_size: u8,
) -> X87Result<()> {
    let layout = Layout::of(cpu, op_size);
    let env_len = layout.len();
    let mut image = [0u8; 28 + 8 * REGISTER_BYTES];
    image[..28].copy_from_slice(&env_image(cpu, layout));
    for i in 0..8 {
        let bits = cpu.st(i).to_le_bytes();
        let at = env_len + i * REGISTER_BYTES;
        image[at..at + REGISTER_BYTES].copy_from_slice(&bits[..REGISTER_BYTES]);
    }
    mem.write(addr, &image[..env_len + 8 * REGISTER_BYTES])?;
    fninit(cpu);
    Ok(())
}

/// FRSTOR: the inverse of `fnsave`; the registers go to ST(0)–ST(7) of
/// the loaded TOP.
pub(super) fn frstor<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    op_size: u8,
) -> X87Result<()> {
    let layout = Layout::of(cpu, op_size);
    let env_len = layout.len();
    let mut image = [0u8; 28 + 8 * REGISTER_BYTES];
    mem.read(addr, &mut image[..env_len + 8 * REGISTER_BYTES])?;
    load_env_image(cpu, &image[..env_len], layout);
    for i in 0..8 {
        let at = env_len + i * REGISTER_BYTES;
        let mut bits = [0u8; 16];
        bits[..REGISTER_BYTES].copy_from_slice(&image[at..at + REGISTER_BYTES]);
        let p = cpu.physical(i);
        cpu.x87.regs[p] = super::from_bits(u128::from_le_bytes(bits));
    }
    Ok(())
}

/// FNINIT: control 0x037f, status, tags and pointers cleared; register
/// contents stay (SDM Vol.2A FINIT/FNINIT).
pub(super) fn fninit(cpu: &mut Cpu) {
    let regs = cpu.x87.regs;
    cpu.x87 = X87State {
        regs,
        ..Default::default()
    };
}

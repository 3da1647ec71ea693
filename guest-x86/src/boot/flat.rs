//! Entering a guest without firmware: a 512-byte boot sector at 0x7C00 in
//! real mode (as a BIOS leaves it), or a flat binary at 1 MiB in 32-bit
//! protected mode with flat segments (as a multiboot loader leaves a kernel
//! whose header has load_addr = entry_addr = 1 MiB, so the same file runs
//! under `qemu-system-x86_64 -kernel`). There are no BIOS services: every
//! real-mode interrupt vector points at an IRET in the BIOS area.

use core::fmt;

use super::layout;
use crate::cpu::state::{FlatKind, Segment, cr};
use crate::cpu::{Cpu, Reg, SegReg};
use crate::pc::Pc;

/// A guest image that cannot be started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// A boot sector must be exactly 512 bytes.
    BootSectorSize(usize),
    /// Bytes 510–511 are not 0x55 0xAA.
    BootSignature([u8; 2]),
    /// The image does not fit in RAM at its load address.
    TooLarge {
        /// Image size.
        size: usize,
        /// RAM size.
        ram: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BootSectorSize(n) => {
                write!(f, "a boot sector is 512 bytes, this file is {n}")
            }
            LoadError::BootSignature(s) => {
                write!(
                    f,
                    "no boot signature 55 AA at offset 510 (found {:02X} {:02X})",
                    s[0], s[1]
                )
            }
            LoadError::TooLarge { size, ram } => {
                write!(
                    f,
                    "image of {size} bytes does not fit in {} MiB of RAM at 1 MiB",
                    ram >> 20
                )
            }
        }
    }
}

/// Points all 256 real-mode vectors at an IRET in the BIOS area.
fn install_default_ivt(pc: &mut Pc) {
    let stub = layout::BIOS_IRET_STUB;
    let segment = (stub >> 4) as u16 & 0xf000;
    let offset = (stub - ((segment as u64) << 4)) as u16;
    let mut ivt = [0u8; 1024];
    for entry in ivt.chunks_exact_mut(4) {
        entry[..2].copy_from_slice(&offset.to_le_bytes());
        entry[2..].copy_from_slice(&segment.to_le_bytes());
    }
    // Both writes are inside RAM of any valid size (≥ 2 MiB).
    let _ = pc.mem.ram.load(layout::REAL_MODE_IVT, &ivt);
    let _ = pc.mem.ram.load(stub, &[IRET]);
}

const IRET: u8 = 0xcf;

/// Loads a boot sector at 0x7C00 and sets the CPU as a BIOS hands over:
/// real mode, CS:IP = 0:7C00, DL = the boot drive, SS:SP = 0:7C00, IF = 0.
pub fn load_boot_sector(pc: &mut Pc, image: &[u8]) -> Result<(), LoadError> {
    if image.len() != layout::BOOT_SECTOR_SIZE {
        return Err(LoadError::BootSectorSize(image.len()));
    }
    let signature = [image[510], image[511]];
    if signature != layout::BOOT_SIGNATURE {
        return Err(LoadError::BootSignature(signature));
    }
    install_default_ivt(pc);
    let _ = pc.mem.ram.load(layout::BOOT_SECTOR_LOAD, image);
    let cpu = &mut pc.cpu;
    for seg in [
        SegReg::Cs,
        SegReg::Ds,
        SegReg::Es,
        SegReg::Ss,
        SegReg::Fs,
        SegReg::Gs,
    ] {
        let s = &mut cpu.segs[seg as usize];
        s.selector = 0;
        s.base = 0;
    }
    cpu.rip = layout::BOOT_SECTOR_LOAD;
    cpu.gpr[Reg::Rsp as usize] = layout::BOOT_SECTOR_STACK;
    cpu.gpr[Reg::Rdx as usize] = layout::BOOT_DRIVE_FIRST_HDD as u64;
    cpu.idtr.limit = layout::REAL_MODE_IVT_LIMIT;
    pc.cpu_state_changed();
    Ok(())
}

/// Loads a flat binary at 1 MiB and enters it in 32-bit protected mode:
/// CS = 0x08 and the data segments = 0x10, all flat; paging off; IF = 0;
/// EAX = the multiboot magic, EBX = 0 (no information structure);
/// ESP = `layout::FLAT_STACK`. The GDTR is empty: the guest loads its own
/// GDT before reloading any segment register (as multiboot requires).
pub fn load_flat(pc: &mut Pc, image: &[u8]) -> Result<(), LoadError> {
    let too_large = LoadError::TooLarge {
        size: image.len(),
        ram: pc.mem.ram.size(),
    };
    pc.mem
        .ram
        .load(layout::FLAT_LOAD, image)
        .map_err(|_| too_large)?;
    install_default_ivt(pc);
    let cpu: &mut Cpu = &mut pc.cpu;
    cpu.cr0 |= cr::CR0_PE;
    for seg in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
        cpu.segs[seg as usize] = Segment::flat(layout::FLAT_DATA_SELECTOR, 0, FlatKind::Data);
    }
    cpu.segs[SegReg::Cs as usize] = Segment::flat(layout::FLAT_CODE_SELECTOR, 0, FlatKind::Code32);
    cpu.gdtr.limit = 0;
    cpu.rip = layout::FLAT_LOAD;
    cpu.gpr[Reg::Rax as usize] = layout::MULTIBOOT_MAGIC as u64;
    cpu.gpr[Reg::Rbx as usize] = 0;
    cpu.gpr[Reg::Rsp as usize] = layout::FLAT_STACK;
    pc.cpu_state_changed();
    Ok(())
}

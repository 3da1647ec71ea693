//! The Linux x86 boot protocol (kernel `Documentation/x86/boot.rst`),
//! without firmware or real-mode setup code: the loader fills the zero page
//! (`struct boot_params`) itself and enters the kernel directly.
//!
//! - A **bzImage**: the setup header at 0x1F1 is checked (boot flag, `HdrS`,
//!   protocol ≥ 2.12), the protected-mode part (after `setup_sects` + 1
//!   sectors) goes to 1 MiB. In 64-bit mode the CPU enters
//!   `code32_start + 0x200` in long mode with identity paging and
//!   RSI = zero page (boot.rst §"64-bit BOOT PROTOCOL"); in 32-bit mode it
//!   enters `code32_start` in flat protected mode, paging off, ESI = zero
//!   page (§"32-bit BOOT PROTOCOL").
//! - An ELF **vmlinux**: every PT_LOAD at its physical address, entered at
//!   the ELF entry (a physical address in Linux's vmlinux) the same way.

use alloc::vec::Vec;
use core::fmt;

use object::Endianness;
use object::elf::{ELFCLASS32, ELFCLASS64, FileHeader32, FileHeader64, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};

use super::layout::{self, linux as at};
use crate::cpu::state::{FlatKind, Segment, cr};
use crate::cpu::{Reg, SegReg};
use crate::pc::Pc;

/// Offsets inside the setup header / zero page (boot.rst §"THE REAL-MODE
/// KERNEL HEADER", arch/x86/include/uapi/asm/bootparam.h).
mod field {
    pub const EXT_RAMDISK_IMAGE: usize = 0x0c0;
    pub const EXT_RAMDISK_SIZE: usize = 0x0c4;
    pub const EXT_CMD_LINE_PTR: usize = 0x0c8;
    pub const E820_ENTRIES: usize = 0x1e8;
    pub const SETUP_SECTS: usize = 0x1f1;
    pub const SYSSIZE: usize = 0x1f4;
    pub const BOOT_FLAG: usize = 0x1fe;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const TYPE_OF_LOADER: usize = 0x210;
    pub const LOADFLAGS: usize = 0x211;
    pub const CODE32_START: usize = 0x214;
    pub const RAMDISK_IMAGE: usize = 0x218;
    pub const RAMDISK_SIZE: usize = 0x21c;
    pub const HEAP_END_PTR: usize = 0x224;
    pub const CMD_LINE_PTR: usize = 0x228;
    pub const INITRD_ADDR_MAX: usize = 0x22c;
    pub const XLOADFLAGS: usize = 0x236;
    pub const CMDLINE_SIZE: usize = 0x238;
    pub const PREF_ADDRESS: usize = 0x258;
    pub const INIT_SIZE: usize = 0x260;
    pub const E820_TABLE: usize = 0x2d0;
    /// Size of one `struct boot_e820_entry` (addr, size, type).
    pub const E820_ENTRY_SIZE: usize = 20;
}

/// `HdrS`, the setup header magic.
const HEADER_MAGIC: u32 = 0x5372_6448;
/// The boot flag at 0x1FE.
const BOOT_FLAG: u16 = 0xaa55;
/// Oldest protocol this loader speaks: 2.12 has `xloadflags`.
const MIN_PROTOCOL: u16 = 0x020c;
/// Protocol version written for a vmlinux (no setup header of its own).
const VMLINUX_PROTOCOL: u16 = 0x020f;
/// `type_of_loader`: undefined loader (boot.rst).
const LOADER_UNDEFINED: u8 = 0xff;
/// loadflags bits (boot.rst §"Details of header fields").
const LOADED_HIGH: u8 = 1 << 0;
const CAN_USE_HEAP: u8 = 1 << 7;
/// xloadflags: the kernel has the 64-bit entry at 0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
/// `setup_sects` = 0 means 4 (boot.rst).
const DEFAULT_SETUP_SECTS: usize = 4;
const SECTOR: usize = 512;
/// Default `initrd_addr_max` before protocol 2.03.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0x37ff_ffff;
/// e820 types.
const E820_RAM: u32 = 1;
const E820_RESERVED: u32 = 2;
/// Boot selectors (boot.rst §"32-bit BOOT PROTOCOL").
const BOOT_CS: u16 = 0x10;
const BOOT_DS: u16 = 0x18;
/// Page-table entry bits (SDM Vol.3A §4.5).
const PTE_PRESENT: u64 = 1 << 0;
const PTE_WRITABLE: u64 = 1 << 1;
const PTE_LARGE: u64 = 1 << 7;
const PAGE_2M: u64 = 2 << 20;
const IDENTITY_MAPPED_GIB: u64 = 4;

/// In which mode the kernel is entered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMode {
    /// Long mode at the 64-bit entry (x86_64 kernels).
    Bits64,
    /// Flat 32-bit protected mode at `code32_start` (i386 kernels).
    Bits32,
}

/// A kernel that cannot be booted, found before the guest runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinuxLoadError {
    /// Neither an ELF file nor a bzImage with the boot flag and `HdrS`.
    NotAKernel,
    /// The file ends inside a structure it declares.
    Truncated(&'static str),
    /// Boot protocol older than 2.12.
    ProtocolTooOld(u16),
    /// The kernel cannot be entered in this mode.
    WrongMode(&'static str),
    /// A malformed ELF file.
    BadElf(&'static str),
    /// A part does not fit in RAM where it must go.
    OutsideRam {
        /// What was being placed.
        what: &'static str,
        /// Its physical address.
        addr: u64,
        /// Its size.
        size: u64,
        /// RAM size.
        ram: u64,
    },
    /// The command line is longer than the kernel accepts.
    CommandLineTooLong(usize, usize),
}

impl fmt::Display for LinuxLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAKernel => write!(
                f,
                "not a Linux kernel (no ELF header, no boot flag 55 AA at 0x1FE or no HdrS at 0x202)"
            ),
            Self::Truncated(what) => write!(f, "truncated kernel image: {what}"),
            Self::ProtocolTooOld(v) => write!(
                f,
                "boot protocol {}.{:02} is too old (2.12 or newer needed)",
                v >> 8,
                v & 0xff
            ),
            Self::WrongMode(why) => write!(f, "{why}"),
            Self::BadElf(why) => write!(f, "bad ELF kernel: {why}"),
            Self::OutsideRam {
                what,
                addr,
                size,
                ram,
            } => write!(
                f,
                "{what} ({size} bytes at {addr:#x}) does not fit in {} MiB of RAM",
                ram >> 20
            ),
            Self::CommandLineTooLong(len, max) => {
                write!(f, "command line of {len} bytes is longer than {max}")
            }
        }
    }
}

/// What the loader hands the kernel besides its image.
#[derive(Clone, Copy, Debug, Default)]
pub struct BootArgs<'a> {
    /// Initial RAM disk (placed high, below `initrd_addr_max`).
    pub initrd: Option<&'a [u8]>,
    /// Kernel command line.
    pub command_line: &'a str,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// A kernel image laid out for loading: the zero page's setup header, the
/// parts to copy and the entry point.
struct Kernel<'a> {
    zero_page: Vec<u8>,
    parts: Vec<(u64, &'a [u8], u64)>,
    entry: u64,
    /// First byte above the kernel once it is running (the initrd goes higher).
    end: u64,
}

/// Loads `image` (bzImage or ELF vmlinux) with `args` into `pc` and sets
/// the CPU at the kernel's entry for `mode`.
pub fn load_linux(
    pc: &mut Pc,
    image: &[u8],
    args: &BootArgs<'_>,
    mode: BootMode,
) -> Result<(), LinuxLoadError> {
    let ram = pc.mem.ram.size();
    let kernel = if image.starts_with(b"\x7fELF") {
        parse_vmlinux(image, mode)?
    } else {
        parse_bzimage(image, mode)?
    };
    let mut zero_page = kernel.zero_page;

    // Command line: boot.rst §"Details of header fields" (cmd_line_ptr).
    let max_cmdline = match le32(&zero_page, field::CMDLINE_SIZE) as usize {
        0 => 255,
        n => n.min(at::COMMAND_LINE_MAX - 1),
    };
    let cmdline = args.command_line.as_bytes();
    if cmdline.len() > max_cmdline {
        return Err(LinuxLoadError::CommandLineTooLong(
            cmdline.len(),
            max_cmdline,
        ));
    }

    // Check everything fits before writing anything.
    for &(addr, data, mem_size) in &kernel.parts {
        let fits = addr
            .checked_add(mem_size.max(data.len() as u64))
            .is_some_and(|end| end <= ram && addr >= layout::BIOS_AREA_END);
        if !fits {
            return Err(LinuxLoadError::OutsideRam {
                what: "kernel segment",
                addr,
                size: mem_size,
                ram,
            });
        }
    }
    let initrd_at = match args.initrd {
        None => None,
        Some(initrd) => Some(place_initrd(
            &zero_page,
            initrd.len() as u64,
            kernel.end,
            ram,
        )?),
    };

    for &(addr, data, mem_size) in &kernel.parts {
        let _ = pc.mem.ram.load(addr, data);
        let zeros =
            alloc::vec![0u8; (mem_size - data.len().min(mem_size as usize) as u64) as usize];
        let _ = pc.mem.ram.load(addr + data.len() as u64, &zeros);
    }
    if let (Some(initrd), Some(addr)) = (args.initrd, initrd_at) {
        let _ = pc.mem.ram.load(addr, initrd);
        put32(&mut zero_page, field::RAMDISK_IMAGE, addr as u32);
        put32(&mut zero_page, field::RAMDISK_SIZE, initrd.len() as u32);
        put32(
            &mut zero_page,
            field::EXT_RAMDISK_IMAGE,
            (addr >> 32) as u32,
        );
        put32(
            &mut zero_page,
            field::EXT_RAMDISK_SIZE,
            (initrd.len() as u64 >> 32) as u32,
        );
    }
    let mut cmdline_nul = cmdline.to_vec();
    cmdline_nul.push(0);
    let _ = pc.mem.ram.load(at::COMMAND_LINE, &cmdline_nul);
    put32(&mut zero_page, field::CMD_LINE_PTR, at::COMMAND_LINE as u32);
    put32(&mut zero_page, field::EXT_CMD_LINE_PTR, 0);

    zero_page[field::TYPE_OF_LOADER] = LOADER_UNDEFINED;
    zero_page[field::LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
    // heap_end_ptr is relative to the real-mode code, unused without it.
    put16(&mut zero_page, field::HEAP_END_PTR, 0xfe00 - 0x200);
    write_e820(&mut zero_page, ram);
    let _ = pc.mem.ram.load(at::ZERO_PAGE, &zero_page);

    enter(pc, kernel.entry, mode);
    Ok(())
}

/// Highest page-aligned address below both `initrd_addr_max` and the end
/// of RAM, above the kernel (boot.rst: "as high as possible").
fn place_initrd(
    zero_page: &[u8],
    size: u64,
    kernel_end: u64,
    ram: u64,
) -> Result<u64, LinuxLoadError> {
    let addr_max = match le32(zero_page, field::INITRD_ADDR_MAX) {
        0 => DEFAULT_INITRD_ADDR_MAX,
        n => n as u64,
    };
    let limit = ram.min(addr_max + 1);
    let outside = LinuxLoadError::OutsideRam {
        what: "initrd",
        addr: kernel_end,
        size,
        ram,
    };
    let start = limit.checked_sub(size).ok_or(outside.clone())? & !(at::INITRD_ALIGN - 1);
    if start < kernel_end || size > u32::MAX as u64 {
        return Err(outside);
    }
    Ok(start)
}

/// The e820 map: low RAM, the reserved EBDA/VGA/BIOS area, RAM from 1 MiB.
fn write_e820(zero_page: &mut [u8], ram: u64) {
    let map = [
        (0, at::LOW_RAM_END, E820_RAM),
        (
            at::LOW_RAM_END,
            layout::BIOS_AREA_END - at::LOW_RAM_END,
            E820_RESERVED,
        ),
        (layout::BIOS_AREA_END, ram - layout::BIOS_AREA_END, E820_RAM),
    ];
    for (i, (addr, size, kind)) in map.iter().enumerate() {
        let at = field::E820_TABLE + i * field::E820_ENTRY_SIZE;
        zero_page[at..at + 8].copy_from_slice(&addr.to_le_bytes());
        zero_page[at + 8..at + 16].copy_from_slice(&size.to_le_bytes());
        put32(zero_page, at + 16, *kind);
    }
    zero_page[field::E820_ENTRIES] = map.len() as u8;
}

fn parse_bzimage(image: &[u8], mode: BootMode) -> Result<Kernel<'_>, LinuxLoadError> {
    if image.len() < field::HEADER + 4 {
        return Err(LinuxLoadError::NotAKernel);
    }
    if le16(image, field::BOOT_FLAG) != BOOT_FLAG || le32(image, field::HEADER) != HEADER_MAGIC {
        return Err(LinuxLoadError::NotAKernel);
    }
    let header_end = at::SETUP_HEADER_JUMP_END + image[at::SETUP_HEADER_LENGTH_BYTE] as usize;
    if image.len() < header_end || image.len() < field::INIT_SIZE + 4 {
        return Err(LinuxLoadError::Truncated("setup header"));
    }
    let version = le16(image, field::VERSION);
    if version < MIN_PROTOCOL {
        return Err(LinuxLoadError::ProtocolTooOld(version));
    }
    let xloadflags = le16(image, field::XLOADFLAGS);
    if mode == BootMode::Bits64 && xloadflags & XLF_KERNEL_64 == 0 {
        return Err(LinuxLoadError::WrongMode(
            "this kernel has no 64-bit entry (xloadflags.XLF_KERNEL_64 clear): boot it in 32-bit mode",
        ));
    }
    if image[field::LOADFLAGS] & LOADED_HIGH == 0 {
        return Err(LinuxLoadError::WrongMode(
            "a zImage (loaded low) is not supported, only bzImage",
        ));
    }
    let setup_sects = match image[field::SETUP_SECTS] as usize {
        0 => DEFAULT_SETUP_SECTS,
        n => n,
    };
    let protected_start = (setup_sects + 1) * SECTOR;
    if image.len() <= protected_start {
        return Err(LinuxLoadError::Truncated(
            "no protected-mode part after the setup sectors",
        ));
    }
    let protected = &image[protected_start..];
    // boot.rst: syssize is the protected-mode code's size in 16-byte units.
    if (protected.len() as u64) < u64::from(le32(image, field::SYSSIZE)) * 16 {
        return Err(LinuxLoadError::Truncated(
            "the protected-mode part is shorter than the header's syssize",
        ));
    }
    let mut zero_page = alloc::vec![0u8; at::ZERO_PAGE_SIZE];
    zero_page[at::SETUP_HEADER_OFFSET..header_end]
        .copy_from_slice(&image[at::SETUP_HEADER_OFFSET..header_end]);
    put32(
        &mut zero_page,
        field::CODE32_START,
        at::PROTECTED_MODE_LOAD as u32,
    );
    let entry = match mode {
        BootMode::Bits64 => at::PROTECTED_MODE_LOAD + at::ENTRY_64_OFFSET,
        BootMode::Bits32 => at::PROTECTED_MODE_LOAD,
    };
    // The decompressed kernel occupies init_size bytes from pref_address
    // (or from the load address, whichever is higher).
    let pref = u64::from_le_bytes(
        image[field::PREF_ADDRESS..field::PREF_ADDRESS + 8]
            .try_into()
            .unwrap_or_default(),
    );
    let init_size = le32(image, field::INIT_SIZE) as u64;
    let base = pref.max(at::PROTECTED_MODE_LOAD);
    let end = base
        .saturating_add(init_size)
        .max(at::PROTECTED_MODE_LOAD + protected.len() as u64);
    Ok(Kernel {
        zero_page,
        parts: alloc::vec![(at::PROTECTED_MODE_LOAD, protected, protected.len() as u64)],
        entry,
        end,
    })
}

/// A kernel segment: physical address, file bytes, size in memory.
type Part<'a> = (u64, &'a [u8], u64);

/// The PT_LOAD segments (at their physical addresses) and the entry of an
/// ELF file of either class.
fn elf_segments<Elf: FileHeader<Endian = Endianness>>(
    image: &[u8],
) -> Result<(Vec<Part<'_>>, u64), LinuxLoadError> {
    let header = Elf::parse(image).map_err(|_| LinuxLoadError::BadElf("unreadable ELF header"))?;
    let endian = header
        .endian()
        .map_err(|_| LinuxLoadError::BadElf("unknown byte order"))?;
    let phdrs = header
        .program_headers(endian, image)
        .map_err(|_| LinuxLoadError::BadElf("program headers outside the file"))?;
    let mut parts = Vec::new();
    for ph in phdrs {
        if ph.p_type(endian) != PT_LOAD {
            continue;
        }
        let data = ph
            .data(endian, image)
            .map_err(|()| LinuxLoadError::Truncated("PT_LOAD data outside the file"))?;
        parts.push((ph.p_paddr(endian).into(), data, ph.p_memsz(endian).into()));
    }
    Ok((parts, header.e_entry(endian).into()))
}

fn parse_vmlinux(image: &[u8], mode: BootMode) -> Result<Kernel<'_>, LinuxLoadError> {
    let class = image.get(4).copied().ok_or(LinuxLoadError::NotAKernel)?;
    let (parts, entry) = match (class, mode) {
        (ELFCLASS64, BootMode::Bits64) => elf_segments::<FileHeader64<Endianness>>(image)?,
        (ELFCLASS32, BootMode::Bits32) => elf_segments::<FileHeader32<Endianness>>(image)?,
        (ELFCLASS64, BootMode::Bits32) => {
            return Err(LinuxLoadError::WrongMode(
                "a 64-bit vmlinux cannot be booted in 32-bit mode",
            ));
        }
        (ELFCLASS32, BootMode::Bits64) => {
            return Err(LinuxLoadError::WrongMode(
                "this is a 32-bit kernel: boot it in 32-bit mode",
            ));
        }
        _ => return Err(LinuxLoadError::BadElf("neither ELFCLASS32 nor ELFCLASS64")),
    };
    if parts.is_empty() {
        return Err(LinuxLoadError::BadElf("no PT_LOAD segment"));
    }
    if parts
        .iter()
        .any(|&(_, data, mem)| (data.len() as u64) > mem)
    {
        return Err(LinuxLoadError::BadElf("a segment has p_filesz > p_memsz"));
    }
    let end = parts
        .iter()
        .map(|&(addr, _, mem)| addr.saturating_add(mem))
        .max()
        .unwrap_or(0);
    if !parts
        .iter()
        .any(|&(addr, _, mem)| (addr..addr.saturating_add(mem)).contains(&entry))
    {
        return Err(LinuxLoadError::BadElf(
            "the entry point is not in a PT_LOAD segment (not a physical address?)",
        ));
    }
    // No setup header in a vmlinux: write the fields the kernel reads.
    let mut zero_page = alloc::vec![0u8; at::ZERO_PAGE_SIZE];
    put16(&mut zero_page, field::BOOT_FLAG, BOOT_FLAG);
    put32(&mut zero_page, field::HEADER, HEADER_MAGIC);
    put16(&mut zero_page, field::VERSION, VMLINUX_PROTOCOL);
    put32(&mut zero_page, field::CODE32_START, entry as u32);
    put32(
        &mut zero_page,
        field::INITRD_ADDR_MAX,
        DEFAULT_INITRD_ADDR_MAX as u32,
    );
    Ok(Kernel {
        zero_page,
        parts,
        entry,
        end,
    })
}

/// Writes the boot GDT (and for 64-bit, identity page tables) and sets the
/// CPU at `entry` as boot.rst §"32-bit/64-bit BOOT PROTOCOL" require:
/// flat __BOOT_CS/__BOOT_DS, interrupts off, RSI/ESI = zero page.
fn enter(pc: &mut Pc, entry: u64, mode: BootMode) {
    // Null, unused, __BOOT_CS, __BOOT_DS (SDM Vol.3A §3.4.5 descriptors).
    const CODE64: u64 = 0x00af_9b00_0000_ffff;
    const CODE32: u64 = 0x00cf_9b00_0000_ffff;
    const DATA: u64 = 0x00cf_9300_0000_ffff;
    let code = if mode == BootMode::Bits64 {
        CODE64
    } else {
        CODE32
    };
    let mut gdt = Vec::new();
    for d in [0, 0, code, DATA] {
        gdt.extend_from_slice(&u64::to_le_bytes(d));
    }
    let _ = pc.mem.ram.load(at::BOOT_GDT, &gdt);

    let cpu = &mut pc.cpu;
    cpu.gdtr.base = at::BOOT_GDT;
    cpu.gdtr.limit = (gdt.len() - 1) as u16;
    cpu.idtr.base = 0;
    cpu.idtr.limit = 0;
    for seg in [SegReg::Ds, SegReg::Es, SegReg::Ss, SegReg::Fs, SegReg::Gs] {
        cpu.segs[seg as usize] = Segment::flat(BOOT_DS, 0, FlatKind::Data);
    }
    cpu.gpr = [0; 16];
    cpu.gpr[Reg::Rsi as usize] = at::ZERO_PAGE;
    cpu.gpr[Reg::Rsp as usize] = at::BOOT_STACK;
    cpu.rip = entry;
    cpu.cr0 = cr::CR0_PE | cr::CR0_ET;
    match mode {
        BootMode::Bits64 => {
            cpu.segs[SegReg::Cs as usize] = Segment::flat(BOOT_CS, 0, FlatKind::Code64);
            write_identity_tables(pc);
            let cpu = &mut pc.cpu;
            cpu.cr3 = at::BOOT_PML4;
            cpu.cr4 |= cr::CR4_PAE;
            cpu.efer |= cr::EFER_LME | cr::EFER_LMA;
            cpu.cr0 |= cr::CR0_PG;
        }
        BootMode::Bits32 => {
            cpu.segs[SegReg::Cs as usize] = Segment::flat(BOOT_CS, 0, FlatKind::Code32);
        }
    }
    pc.cpu_state_changed();
}

/// PML4 → one PDPT → four page directories of 2 MiB pages: virtual =
/// physical for the first 4 GiB (SDM Vol.3A §4.5).
fn write_identity_tables(pc: &mut Pc) {
    let mut pml4 = alloc::vec![0u8; 4096];
    pml4[..8].copy_from_slice(&(at::BOOT_PDPT | PTE_PRESENT | PTE_WRITABLE).to_le_bytes());
    let _ = pc.mem.ram.load(at::BOOT_PML4, &pml4);
    let mut pdpt = alloc::vec![0u8; 4096];
    for gib in 0..IDENTITY_MAPPED_GIB {
        let pd = at::BOOT_PAGE_DIRECTORIES + gib * 4096;
        let i = gib as usize * 8;
        pdpt[i..i + 8].copy_from_slice(&(pd | PTE_PRESENT | PTE_WRITABLE).to_le_bytes());
        let mut dir = alloc::vec![0u8; 4096];
        for (j, entry) in dir.chunks_exact_mut(8).enumerate() {
            let phys = (gib << 30) + j as u64 * PAGE_2M;
            entry.copy_from_slice(&(phys | PTE_PRESENT | PTE_WRITABLE | PTE_LARGE).to_le_bytes());
        }
        let _ = pc.mem.ram.load(pd, &dir);
    }
    let _ = pc.mem.ram.load(at::BOOT_PDPT, &pdpt);
}

/// The mode a kernel image is built for: 64-bit if it has a 64-bit entry
/// (bzImage `XLF_KERNEL_64`, ELFCLASS64), else 32-bit.
pub fn native_mode(image: &[u8]) -> BootMode {
    if image.starts_with(b"\x7fELF") {
        return match image.get(4) {
            Some(&ELFCLASS32) => BootMode::Bits32,
            _ => BootMode::Bits64,
        };
    }
    match image.get(field::XLOADFLAGS..field::XLOADFLAGS + 2) {
        Some(x) if u16::from_le_bytes([x[0], x[1]]) & XLF_KERNEL_64 != 0 => BootMode::Bits64,
        _ => BootMode::Bits32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 32 << 20;

    /// A minimal bzImage: boot flag, HdrS, protocol 2.15, 64-bit entry,
    /// one setup sector and `payload` as the protected-mode part.
    fn bzimage(payload: &[u8]) -> Vec<u8> {
        let mut image = alloc::vec![0u8; 2 * SECTOR];
        image[field::SETUP_SECTS] = 1;
        put16(&mut image, field::BOOT_FLAG, BOOT_FLAG);
        image[at::SETUP_HEADER_LENGTH_BYTE] =
            (field::INIT_SIZE + 4 - at::SETUP_HEADER_JUMP_END) as u8;
        put32(&mut image, field::HEADER, HEADER_MAGIC);
        put16(&mut image, field::VERSION, 0x020f);
        image[field::LOADFLAGS] = LOADED_HIGH;
        put16(&mut image, field::XLOADFLAGS, XLF_KERNEL_64);
        put32(&mut image, field::INITRD_ADDR_MAX, 0x7fff_ffff);
        put32(&mut image, field::CMDLINE_SIZE, 2047);
        put32(&mut image, field::INIT_SIZE, 0x10_0000);
        image.extend_from_slice(payload);
        image
    }

    fn load(image: &[u8], args: &BootArgs<'_>, mode: BootMode) -> Result<Pc, LinuxLoadError> {
        let mut pc = Pc::new(RAM).unwrap();
        load_linux(&mut pc, image, args, mode).map(|()| pc)
    }

    fn read32(pc: &Pc, addr: u64) -> u32 {
        let mut b = [0u8; 4];
        pc.mem.ram.read(addr, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn bzimage_is_entered_in_long_mode_with_the_zero_page() {
        let initrd = [7u8; 5000];
        let args = BootArgs {
            initrd: Some(&initrd),
            command_line: "console=ttyS0",
        };
        let pc = load(&bzimage(&[0x90; 0x300]), &args, BootMode::Bits64).unwrap();
        assert_eq!(pc.cpu.rip, at::PROTECTED_MODE_LOAD + at::ENTRY_64_OFFSET);
        assert_eq!(pc.cpu.gpr[Reg::Rsi as usize], at::ZERO_PAGE);
        assert_eq!(pc.cpu.mode, crate::cpu::state::CpuMode::Bits64);
        let zp = at::ZERO_PAGE as usize;
        assert_eq!(read32(&pc, (zp + field::HEADER) as u64), HEADER_MAGIC);
        let mut loader = [0u8; 1];
        pc.mem
            .ram
            .read((zp + field::TYPE_OF_LOADER) as u64, &mut loader);
        assert_eq!(loader[0], LOADER_UNDEFINED);
        let initrd_at = read32(&pc, (zp + field::RAMDISK_IMAGE) as u64) as u64;
        assert_eq!(read32(&pc, (zp + field::RAMDISK_SIZE) as u64), 5000);
        assert!(initrd_at + 5000 <= RAM && initrd_at.is_multiple_of(at::INITRD_ALIGN));
        assert_eq!(read32(&pc, initrd_at), 0x0707_0707);
        let cmdline = read32(&pc, (zp + field::CMD_LINE_PTR) as u64) as u64;
        let mut text = [0u8; 14];
        pc.mem.ram.read(cmdline, &mut text);
        assert_eq!(&text, b"console=ttyS0\0");
        let mut entries = [0u8; 1];
        pc.mem
            .ram
            .read((zp + field::E820_ENTRIES) as u64, &mut entries);
        assert_eq!(entries[0], 3);
    }

    #[test]
    fn corrupt_images_are_refused_before_running() {
        let args = BootArgs::default();
        let good = bzimage(&[0x90; 0x300]);
        let mut bad_magic = good.clone();
        bad_magic[field::HEADER] = b'X';
        assert_eq!(
            load(&bad_magic, &args, BootMode::Bits64).err(),
            Some(LinuxLoadError::NotAKernel)
        );
        let mut old = good.clone();
        put16(&mut old, field::VERSION, 0x0204);
        assert_eq!(
            load(&old, &args, BootMode::Bits64).err(),
            Some(LinuxLoadError::ProtocolTooOld(0x0204))
        );
        let mut only32 = good.clone();
        put16(&mut only32, field::XLOADFLAGS, 0);
        assert!(matches!(
            load(&only32, &args, BootMode::Bits64),
            Err(LinuxLoadError::WrongMode(_))
        ));
        assert!(load(&only32, &args, BootMode::Bits32).is_ok());
        assert!(matches!(
            load(&good[..2 * SECTOR], &args, BootMode::Bits64),
            Err(LinuxLoadError::Truncated(_))
        ));
        assert!(matches!(
            load(&good[..0x210], &args, BootMode::Bits64),
            Err(LinuxLoadError::Truncated(_))
        ));
        assert_eq!(
            load(&[], &args, BootMode::Bits64).err(),
            Some(LinuxLoadError::NotAKernel)
        );
        let huge = bzimage(&alloc::vec![0u8; RAM as usize]);
        assert!(matches!(
            load(&huge, &args, BootMode::Bits64),
            Err(LinuxLoadError::OutsideRam { .. })
        ));
        let initrd = alloc::vec![0u8; RAM as usize];
        let too_big = BootArgs {
            initrd: Some(&initrd),
            command_line: "",
        };
        assert!(matches!(
            load(&good, &too_big, BootMode::Bits64),
            Err(LinuxLoadError::OutsideRam { what: "initrd", .. })
        ));
        let long = "x".repeat(3000);
        let long_args = BootArgs {
            initrd: None,
            command_line: &long,
        };
        assert_eq!(
            load(&good, &long_args, BootMode::Bits64).err(),
            Some(LinuxLoadError::CommandLineTooLong(3000, 2047))
        );
    }

    /// An ELF64 file with one PT_LOAD at physical `paddr`.
    fn vmlinux(paddr: u64, entry: u64, truncate: bool) -> Vec<u8> {
        let mut f = alloc::vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = ELFCLASS64;
        f[5] = 1; // little endian
        f[6] = 1;
        put16(&mut f, 16, 2); // ET_EXEC
        put16(&mut f, 18, 62); // EM_X86_64
        put32(&mut f, 20, 1);
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        put16(&mut f, 52, 64);
        put16(&mut f, 54, 56);
        put16(&mut f, 56, 1);
        let ph = 64;
        put32(&mut f, ph, PT_LOAD);
        f[ph + 8..ph + 16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        f[ph + 16..ph + 24].copy_from_slice(&(paddr | 0xffff_ffff_8000_0000).to_le_bytes());
        f[ph + 24..ph + 32].copy_from_slice(&paddr.to_le_bytes());
        f[ph + 32..ph + 40].copy_from_slice(&16u64.to_le_bytes()); // p_filesz
        f[ph + 40..ph + 48].copy_from_slice(&4096u64.to_le_bytes()); // p_memsz
        if !truncate {
            f.extend_from_slice(&[0xf4; 16]);
        }
        f
    }

    #[test]
    fn vmlinux_segments_go_to_their_physical_addresses() {
        let args = BootArgs::default();
        let pc = load(
            &vmlinux(0x20_0000, 0x20_0000, false),
            &args,
            BootMode::Bits64,
        )
        .unwrap();
        assert_eq!(pc.cpu.rip, 0x20_0000);
        assert_eq!(read32(&pc, 0x20_0000), 0xf4f4_f4f4);
        assert!(matches!(
            load(
                &vmlinux(0x20_0000, 0x20_0000, true),
                &args,
                BootMode::Bits64
            ),
            Err(LinuxLoadError::Truncated(_))
        ));
        assert!(matches!(
            load(&vmlinux(RAM, RAM, false), &args, BootMode::Bits64),
            Err(LinuxLoadError::OutsideRam { .. })
        ));
        assert!(matches!(
            load(
                &vmlinux(0x20_0000, 0xffff_ffff_8020_0000, false),
                &args,
                BootMode::Bits64
            ),
            Err(LinuxLoadError::BadElf(_))
        ));
        assert!(matches!(
            load(
                &vmlinux(0x20_0000, 0x20_0000, false),
                &args,
                BootMode::Bits32
            ),
            Err(LinuxLoadError::WrongMode(_))
        ));
    }

    /// A bzImage cut short (its header's syssize promises more) is refused
    /// before it runs, not entered to fault on the missing part.
    #[test]
    fn a_cut_bzimage_is_refused() {
        let mut image = bzimage(&[0x90; 64]);
        put32(&mut image, field::SYSSIZE, 4);
        assert!(load(&image, &BootArgs::default(), BootMode::Bits64).is_ok());
        put32(&mut image, field::SYSSIZE, 5);
        let e = load(&image, &BootArgs::default(), BootMode::Bits64).err();
        assert_eq!(
            e,
            Some(LinuxLoadError::Truncated(
                "the protected-mode part is shorter than the header's syssize"
            ))
        );
    }
}

//! x86_64 ELF loader and the initial process stack (System V AMD64 ABI
//! §3.4.1: argc, argv, envp, auxiliary vector). A dynamically linked
//! program names its interpreter (PT_INTERP, glibc's ld.so); like Linux's
//! binfmt_elf, both are mapped and the interpreter's entry runs first,
//! finding the program through AT_PHDR / AT_ENTRY and itself through AT_BASE.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use object::Endianness;
use object::elf::{
    EM_X86_64, ET_DYN, ET_EXEC, FileHeader64, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR,
    ProgramHeader64,
};
use object::read::elf::{FileHeader, ProgramHeader};

use super::host::{HostOs, OpenOptions};
use crate::cpu::cpuid;
use crate::mmu::PAGE_SIZE;
use crate::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE, USER_TOP};

/// Where a position-independent (ET_DYN) executable is placed, as Linux
/// does with address randomization off (ELF_ET_DYN_BASE).
pub const PIE_LOAD_BIAS: u64 = 0x5555_5555_4000;
/// Top of the initial stack.
pub const STACK_TOP: u64 = 0x7fff_ffff_f000;
/// Size reserved for the stack (RLIMIT_STACK default).
pub const STACK_SIZE: u64 = 8 << 20;
/// Where mappings without a fixed address (mmap, the interpreter) are
/// searched, top-down, as in Linux's default layout: below the stack and a gap.
pub const MMAP_TOP: u64 = STACK_TOP - STACK_SIZE - (1 << 20);
/// Largest program or interpreter file read from the host.
pub const MAX_IMAGE: usize = 256 << 20;

/// Why an executable could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The ELF structure is invalid; the text names the problem.
    Malformed(String),
    /// Not an x86_64 executable (the `e_machine` found).
    WrongMachine(u16),
    /// The program interpreter (PT_INTERP) could not be read or loaded;
    /// the text names the path and the reason.
    Interpreter(String),
    /// A segment lies outside the user address space.
    SegmentOutOfRange {
        /// Segment virtual address.
        vaddr: u64,
        /// Segment size in memory.
        memsz: u64,
    },
    /// The guest memory ceiling was reached.
    OutOfMemory,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Malformed(why) => write!(f, "malformed ELF file: {why}"),
            LoadError::WrongMachine(m) => write!(f, "not an x86_64 executable (e_machine {m})"),
            LoadError::Interpreter(why) => write!(f, "program interpreter: {why}"),
            LoadError::SegmentOutOfRange { vaddr, memsz } => {
                write!(
                    f,
                    "segment at {vaddr:#x} (+{memsz:#x}) lies outside the user address space"
                )
            }
            LoadError::OutOfMemory => write!(f, "guest memory limit reached while loading"),
        }
    }
}

/// Facts about a loaded image the stack and the kernel layer need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// Entry point (load bias applied).
    pub entry: u64,
    /// Address of the program headers in guest memory (AT_PHDR).
    pub phdr_addr: u64,
    /// Number of program headers (AT_PHNUM).
    pub phnum: u64,
    /// First byte after the highest segment, page-aligned: the initial brk.
    pub brk_start: u64,
    /// Where the lowest segment's page was placed (AT_BASE for an interpreter).
    pub base: u64,
    /// The PT_INTERP path, if the image names one.
    pub interp: Option<Vec<u8>>,
}

/// Where a program starts: the registers Linux sets at exec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// First instruction (the interpreter's entry for a dynamic program).
    pub rip: u64,
    /// Initial stack pointer (argc).
    pub rsp: u64,
    /// Initial program break.
    pub brk: u64,
}

/// Largest program header table an ELF may have.
const MAX_PROGRAM_HEADERS_BYTES: usize = 64 << 10;

fn malformed(e: object::read::Error) -> LoadError {
    LoadError::Malformed(alloc::format!("{e}"))
}

/// Where an image goes: a program at its link address (ET_EXEC) or
/// `PIE_LOAD_BIAS` (ET_DYN); an interpreter wherever its span fits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    Program,
    Interpreter,
}

/// Maps the PT_LOAD segments of a main program into `space`.
pub fn load_elf(space: &mut AddressSpace, image: &[u8]) -> Result<LoadedImage, LoadError> {
    map_image(space, image, Placement::Program)
}

fn map_image(
    space: &mut AddressSpace,
    image: &[u8],
    placement: Placement,
) -> Result<LoadedImage, LoadError> {
    let header = FileHeader64::<Endianness>::parse(image).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    if header.e_machine(endian) != EM_X86_64 {
        return Err(LoadError::WrongMachine(header.e_machine(endian)));
    }
    let phdrs: &[ProgramHeader64<Endianness>] =
        header.program_headers(endian, image).map_err(malformed)?;
    // fs/binfmt_elf.c load_elf_phdrs: Linux refuses a program header table
    // over 64 KiB (about 1170 entries).
    if core::mem::size_of_val(phdrs) > MAX_PROGRAM_HEADERS_BYTES {
        return Err(LoadError::Malformed(alloc::format!(
            "{} program headers ({} bytes; Linux accepts at most {MAX_PROGRAM_HEADERS_BYTES})",
            phdrs.len(),
            core::mem::size_of_val(phdrs)
        )));
    }
    let loads = || phdrs.iter().filter(|p| p.p_type(endian) == PT_LOAD);
    let lowest = loads().map(|p| p.p_vaddr(endian)).min();
    let Some(lowest) = lowest.map(|v| v & !(PAGE_SIZE - 1)) else {
        return Err(LoadError::Malformed(String::from("no PT_LOAD segment")));
    };
    let bias = match (header.e_type(endian), placement) {
        (ET_EXEC, Placement::Program) => 0,
        (ET_DYN, Placement::Program) => PIE_LOAD_BIAS,
        (ET_DYN, Placement::Interpreter) => {
            // The whole span at once, so the segments keep their distances.
            let highest = loads()
                .map(|p| p.p_vaddr(endian).saturating_add(p.p_memsz(endian)))
                .max()
                .unwrap_or(lowest);
            let span = highest.saturating_sub(lowest);
            if span > USER_TOP {
                return Err(LoadError::SegmentOutOfRange {
                    vaddr: lowest,
                    memsz: span,
                });
            }
            let base = space
                .find_free(span, MMAP_TOP)
                .ok_or(LoadError::OutOfMemory)?;
            base.wrapping_sub(lowest)
        }
        (other, _) => {
            return Err(LoadError::Malformed(alloc::format!(
                "e_type {other} is not an executable"
            )));
        }
    };
    let interp = match phdrs.iter().find(|p| p.p_type(endian) == PT_INTERP) {
        Some(ph) => {
            let data = ph
                .data(endian, image)
                .map_err(|()| LoadError::Malformed(String::from("PT_INTERP past the end")))?;
            let path = data.split(|&b| b == 0).next().unwrap_or_default();
            if path.is_empty() {
                return Err(LoadError::Malformed(String::from("empty PT_INTERP")));
            }
            Some(path.to_vec())
        }
        None => None,
    };
    let phoff = header.e_phoff(endian);
    // AT_PHDR: PT_PHDR says where the headers are; otherwise find them in
    // a loaded segment (as binfmt_elf does).
    let mut phdr_addr = phdrs
        .iter()
        .find(|p| p.p_type(endian) == PT_PHDR)
        .map_or(0, |p| p.p_vaddr(endian).wrapping_add(bias));
    let mut brk_start = 0;
    for ph in loads() {
        let vaddr = ph.p_vaddr(endian).wrapping_add(bias);
        let memsz = ph.p_memsz(endian);
        let filesz = ph.p_filesz(endian);
        let offset = ph.p_offset(endian);
        let end = vaddr
            .checked_add(memsz)
            .filter(|&e| e <= USER_TOP && vaddr >= PAGE_SIZE);
        let Some(end) = end else {
            return Err(LoadError::SegmentOutOfRange { vaddr, memsz });
        };
        if filesz > memsz {
            return Err(LoadError::Malformed(alloc::format!(
                "segment at {vaddr:#x} has p_filesz > p_memsz"
            )));
        }
        let data = ph.data(endian, image).map_err(|()| {
            LoadError::Malformed(alloc::format!(
                "segment at {vaddr:#x} extends past the end of the file"
            ))
        })?;
        let flags = ph.p_flags(endian);
        let mut prot = 0;
        if flags & PF_R != 0 {
            prot |= PROT_READ;
        }
        if flags & PF_W != 0 {
            prot |= PROT_WRITE;
        }
        if flags & PF_X != 0 {
            prot |= PROT_EXEC;
        }
        space
            .map_merge(vaddr, memsz, prot)
            .map_err(|_| LoadError::OutOfMemory)?;
        space
            .poke(vaddr, data)
            .map_err(|_| LoadError::OutOfMemory)?;
        if phdr_addr == 0 && phoff >= offset && phoff < offset + filesz {
            phdr_addr = vaddr + (phoff - offset);
        }
        brk_start = brk_start.max(end.div_ceil(PAGE_SIZE) * PAGE_SIZE);
    }
    Ok(LoadedImage {
        entry: header.e_entry(endian).wrapping_add(bias),
        phdr_addr,
        phnum: phdrs.len() as u64,
        brk_start,
        base: lowest.wrapping_add(bias),
        interp,
    })
}

/// Reads a whole host file (a program or an interpreter), up to `MAX_IMAGE`.
pub fn read_host_file<H: HostOs>(host: &mut H, path: &[u8]) -> Result<Vec<u8>, i64> {
    use super::host::errno::EFBIG;
    let options = OpenOptions {
        read: true,
        ..OpenOptions::default()
    };
    let fd = open_following_links(host, path, options)?;
    let mut image = Vec::new();
    let mut chunk = alloc::vec![0u8; 64 << 10];
    let result = loop {
        match host.read(fd, &mut chunk) {
            Ok(0) => break Ok(image),
            Ok(n) if image.len() + n <= MAX_IMAGE => image.extend_from_slice(&chunk[..n]),
            Ok(_) => break Err(EFBIG),
            Err(e) => break Err(e),
        }
    };
    let _ = host.close(fd);
    result
}

/// Opens `path`; if the host refuses, opens it again with its symbolic
/// links resolved here. A sandboxing host (WASI) may refuse to follow a
/// link to an absolute target (Debian's /lib64/ld-linux-x86-64.so.2,
/// libfoo.so.N); each component's target is then read with readlink and
/// the resolved path opened. The host's error stands if no link is found.
pub fn open_following_links<H: HostOs>(
    host: &mut H,
    path: &[u8],
    options: OpenOptions,
) -> Result<super::host::HostFd, i64> {
    match host.open(path, options) {
        Ok(fd) => Ok(fd),
        Err(e) => match resolve_links(host, path) {
            Some(resolved) => host.open(&resolved, options),
            None => Err(e),
        },
    }
}

/// `path` (absolute) with every symbolic link among its components
/// replaced by its target; `None` if it has none (or too many: ELOOP's 40).
fn resolve_links<H: HostOs>(host: &mut H, path: &[u8]) -> Option<Vec<u8>> {
    if path.first() != Some(&b'/') {
        return None;
    }
    let mut pending: Vec<Vec<u8>> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .rev()
        .map(|c| c.to_vec())
        .collect();
    let mut done: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    while let Some(component) = pending.pop() {
        if component == b".." {
            done.pop();
            continue;
        }
        done.push(component);
        let here: Vec<u8> = done.iter().flat_map(|c| [&b"/"[..], c].concat()).collect();
        if let Ok(target) = host.readlink(&here) {
            links += 1;
            if links > 40 {
                return None;
            }
            done.pop();
            if target.first() == Some(&b'/') {
                done.clear();
            }
            pending.extend(
                target
                    .split(|&b| b == b'/')
                    .filter(|c| !c.is_empty() && *c != b".")
                    .rev()
                    .map(|c| c.to_vec()),
            );
        }
    }
    (links > 0).then(|| done.iter().flat_map(|c| [&b"/"[..], c].concat()).collect())
}

/// Loads a program as execve does: its segments, its interpreter if it
/// names one (read from the host), and the initial stack.
pub fn load_program<H: HostOs>(
    host: &mut H,
    space: &mut AddressSpace,
    image: &[u8],
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
) -> Result<Start, LoadError> {
    let program = map_image(space, image, Placement::Program)?;
    let (rip, interp_base) = match &program.interp {
        Some(path) => {
            let name = String::from_utf8_lossy(path).into_owned();
            let bytes = read_host_file(host, path).map_err(|e| {
                LoadError::Interpreter(alloc::format!("cannot read {name} (errno {e})"))
            })?;
            let interp = map_image(space, &bytes, Placement::Interpreter).map_err(|e| match e {
                LoadError::OutOfMemory => LoadError::OutOfMemory,
                other => LoadError::Interpreter(alloc::format!("{name}: {other}")),
            })?;
            if interp.interp.is_some() {
                return Err(LoadError::Interpreter(alloc::format!(
                    "{name} names an interpreter itself"
                )));
            }
            (interp.entry, interp.base)
        }
        None => (program.entry, 0),
    };
    let mut random = [0u8; 16];
    host.random(&mut random);
    let rsp = setup_stack(space, &program, interp_base, argv, envp, random)?;
    Ok(Start {
        rip,
        rsp,
        brk: program.brk_start,
    })
}

/// Auxiliary vector keys (linux/auxvec.h).
mod auxv {
    pub const AT_NULL: u64 = 0;
    pub const AT_PHDR: u64 = 3;
    pub const AT_PHENT: u64 = 4;
    pub const AT_PHNUM: u64 = 5;
    pub const AT_PAGESZ: u64 = 6;
    pub const AT_BASE: u64 = 7;
    pub const AT_FLAGS: u64 = 8;
    pub const AT_ENTRY: u64 = 9;
    pub const AT_UID: u64 = 11;
    pub const AT_EUID: u64 = 12;
    pub const AT_GID: u64 = 13;
    pub const AT_EGID: u64 = 14;
    pub const AT_PLATFORM: u64 = 15;
    pub const AT_HWCAP: u64 = 16;
    pub const AT_CLKTCK: u64 = 17;
    pub const AT_SECURE: u64 = 23;
    pub const AT_RANDOM: u64 = 25;
    pub const AT_HWCAP2: u64 = 26;
    pub const AT_EXECFN: u64 = 31;
}

/// Builds the initial stack and returns the entry RSP; `interp_base` is
/// AT_BASE (0 without an interpreter).
pub fn setup_stack(
    space: &mut AddressSpace,
    image: &LoadedImage,
    interp_base: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    random: [u8; 16],
) -> Result<u64, LoadError> {
    space
        .map(STACK_TOP - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE)
        .map_err(|_| LoadError::OutOfMemory)?;
    let mut sp = STACK_TOP;
    let mut push_bytes = |space: &mut AddressSpace, bytes: &[u8]| -> Result<u64, LoadError> {
        sp -= bytes.len() as u64 + 1;
        space.poke(sp, bytes).map_err(|_| LoadError::OutOfMemory)?;
        space
            .poke(sp + bytes.len() as u64, &[0])
            .map_err(|_| LoadError::OutOfMemory)?;
        Ok(sp)
    };
    let execfn = push_bytes(space, argv.first().map(|a| a.as_slice()).unwrap_or(b""))?;
    let platform = push_bytes(space, b"x86_64")?;
    let mut arg_ptrs = Vec::new();
    for a in argv {
        arg_ptrs.push(push_bytes(space, a)?);
    }
    let mut env_ptrs = Vec::new();
    for e in envp {
        env_ptrs.push(push_bytes(space, e)?);
    }
    sp &= !15;
    sp -= 16;
    let random_addr = sp;
    space
        .poke(random_addr, &random)
        .map_err(|_| LoadError::OutOfMemory)?;

    let (_, hwcap) = cpuid::implemented_features();
    let aux: [(u64, u64); 18] = [
        (auxv::AT_PHDR, image.phdr_addr),
        (auxv::AT_PHENT, 56),
        (auxv::AT_PHNUM, image.phnum),
        (auxv::AT_PAGESZ, PAGE_SIZE),
        (auxv::AT_BASE, interp_base),
        (auxv::AT_FLAGS, 0),
        (auxv::AT_ENTRY, image.entry),
        (auxv::AT_UID, 0),
        (auxv::AT_EUID, 0),
        (auxv::AT_GID, 0),
        (auxv::AT_EGID, 0),
        (auxv::AT_PLATFORM, platform),
        (auxv::AT_HWCAP, hwcap as u64),
        (auxv::AT_CLKTCK, 100),
        (auxv::AT_SECURE, 0),
        (auxv::AT_RANDOM, random_addr),
        (auxv::AT_HWCAP2, 0),
        (auxv::AT_EXECFN, execfn),
    ];
    let mut words: Vec<u64> = Vec::new();
    words.push(argv.len() as u64);
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    for (k, v) in aux {
        words.push(k);
        words.push(v);
    }
    words.push(auxv::AT_NULL);
    words.push(0);
    sp -= words.len() as u64 * 8;
    sp &= !15; // SysV ABI: RSP is 16-byte aligned at process entry
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.poke(sp, &bytes).map_err(|_| LoadError::OutOfMemory)?;
    Ok(sp)
}

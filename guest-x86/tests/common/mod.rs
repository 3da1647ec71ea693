//! Helpers shared by the integration tests: a minimal static ELF builder
//! and an in-memory `HostOs` (showing the syscall layer needs no std host).

#![allow(dead_code)]

use std::collections::BTreeMap;

use guest_x86::user::host::{Clock, DirEntry, Errno, FileStat, HostFd, HostOs, OpenOptions, errno};

/// Load address of `minimal_elf` images.
pub const BASE: u64 = 0x40_0000;
/// Size of the ELF header plus one program header.
pub const HEADERS: u64 = 64 + 56;

/// A static x86_64 ET_EXEC with one R+X PT_LOAD holding `code` after the
/// headers; the entry point is the first byte of `code`.
pub fn minimal_elf(code: &[u8]) -> Vec<u8> {
    elf_image(2, BASE, code, None)
}

/// ELF type of a position-independent image.
pub const ET_DYN: u16 = 3;

/// An x86_64 image of type `e_type` linked at `base`: one R+X PT_LOAD
/// holding the headers and `code` (the entry point), and with `interp` a
/// PT_INTERP naming it (the path follows the code, NUL-terminated).
pub fn elf_image(e_type: u16, base: u64, code: &[u8], interp: Option<&[u8]>) -> Vec<u8> {
    elf_with_bss(e_type, base, code, interp, &[])
}

/// As [`elf_image`], plus one read-write PT_LOAD without file bytes (bss)
/// per `(vaddr, memsz)` in `bss`.
pub fn elf_with_bss(
    e_type: u16,
    base: u64,
    code: &[u8],
    interp: Option<&[u8]>,
    bss: &[(u64, u64)],
) -> Vec<u8> {
    let phnum = 1 + interp.is_some() as u64 + bss.len() as u64;
    let headers = 64 + 56 * phnum;
    let interp_off = headers + code.len() as u64;
    let interp_len = interp.map_or(0, |p| p.len() as u64 + 1);
    let total = interp_off + interp_len;
    let mut e = Vec::new();
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&e_type.to_le_bytes());
    e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(base + headers).to_le_bytes()); // e_entry
    e.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    e.extend_from_slice(&0u32.to_le_bytes());
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&56u16.to_le_bytes());
    e.extend_from_slice(&(phnum as u16).to_le_bytes()); // e_phnum (truncated past 65535)
    e.extend_from_slice(&[0; 6]);
    // p_type, p_flags, p_offset, p_vaddr = p_paddr, p_filesz, p_memsz, p_align
    let mut header = |p_type: u32, flags: u32, offset: u64, vaddr: u64, filesz, memsz, align| {
        e.extend_from_slice(&p_type.to_le_bytes());
        e.extend_from_slice(&flags.to_le_bytes());
        for v in [offset, vaddr, vaddr, filesz, memsz, align] {
            e.extend_from_slice(&v.to_le_bytes());
        }
    };
    const PT_LOAD: u32 = 1;
    const PT_INTERP: u32 = 3;
    header(PT_LOAD, 5, 0, base, total, total, 0x1000); // R + X
    if interp.is_some() {
        let at = base + interp_off;
        header(PT_INTERP, 4, interp_off, at, interp_len, interp_len, 1); // R
    }
    for &(vaddr, memsz) in bss {
        header(PT_LOAD, 6, 0, vaddr, 0, memsz, 0x1000); // R + W
    }
    e.extend_from_slice(code);
    if let Some(path) = interp {
        e.extend_from_slice(path);
        e.push(0);
    }
    e
}

/// An in-memory host: a flat map of files, captured stdout/stderr.
#[derive(Default)]
pub struct MemHost {
    pub files: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Symbolic links (path → target), which `open` does not follow.
    pub links: BTreeMap<Vec<u8>, Vec<u8>>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    open: BTreeMap<HostFd, (Vec<u8>, usize)>,
    next: HostFd,
}

impl HostOs for MemHost {
    fn open(&mut self, path: &[u8], options: OpenOptions) -> Result<HostFd, Errno> {
        if !self.files.contains_key(path) {
            if !options.create {
                return Err(errno::ENOENT);
            }
            self.files.insert(path.to_vec(), Vec::new());
        }
        self.next = self.next.max(3) + 1;
        self.open.insert(self.next, (path.to_vec(), 0));
        Ok(self.next)
    }
    fn close(&mut self, fd: HostFd) -> Result<(), Errno> {
        if fd < 3 {
            return Ok(());
        }
        self.open.remove(&fd).map(|_| ()).ok_or(errno::EBADF)
    }
    fn read(&mut self, fd: HostFd, buf: &mut [u8]) -> Result<usize, Errno> {
        let (path, pos) = self.open.get_mut(&fd).ok_or(errno::EBADF)?;
        let data = self.files.get(path).ok_or(errno::EBADF)?;
        let n = buf.len().min(data.len().saturating_sub(*pos));
        buf[..n].copy_from_slice(&data[*pos..*pos + n]);
        *pos += n;
        Ok(n)
    }
    fn write(&mut self, fd: HostFd, data: &[u8]) -> Result<usize, Errno> {
        match fd {
            1 => self.stdout.extend_from_slice(data),
            2 => self.stderr.extend_from_slice(data),
            _ => {
                let (path, pos) = self.open.get_mut(&fd).ok_or(errno::EBADF)?;
                let file = self.files.get_mut(path).ok_or(errno::EBADF)?;
                file.splice(
                    *pos..(*pos + data.len()).min(file.len()),
                    data.iter().copied(),
                );
                *pos += data.len();
            }
        }
        Ok(data.len())
    }
    fn pread(&mut self, fd: HostFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let (path, _) = self.open.get(&fd).ok_or(errno::EBADF)?;
        let data = self.files.get(path).ok_or(errno::EBADF)?;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn seek(&mut self, fd: HostFd, offset: i64, whence: u32) -> Result<u64, Errno> {
        let (path, pos) = self.open.get_mut(&fd).ok_or(errno::ESPIPE)?;
        let len = self.files.get(path).map(|f| f.len()).unwrap_or(0) as i64;
        let base = match whence {
            0 => 0,
            1 => *pos as i64,
            _ => len,
        };
        let new = base
            .checked_add(offset)
            .filter(|v| *v >= 0)
            .ok_or(errno::EINVAL)?;
        *pos = new as usize;
        Ok(new as u64)
    }
    fn fstat(&mut self, fd: HostFd) -> Result<FileStat, Errno> {
        let (path, _) = self.open.get(&fd).ok_or(errno::EBADF)?;
        let size = self.files.get(path).map(|f| f.len()).unwrap_or(0) as u64;
        Ok(FileStat {
            mode: 0o100644,
            size,
            nlink: 1,
            ..FileStat::default()
        })
    }
    fn stat(&mut self, path: &[u8], _follow: bool) -> Result<FileStat, Errno> {
        let f = self.files.get(path).ok_or(errno::ENOENT)?;
        Ok(FileStat {
            mode: 0o100644,
            size: f.len() as u64,
            nlink: 1,
            ..FileStat::default()
        })
    }
    fn read_dir(&mut self, _fd: HostFd) -> Result<Vec<DirEntry>, Errno> {
        Err(errno::ENOTDIR)
    }
    fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.links.get(path).cloned().ok_or(errno::EINVAL)
    }
    fn remove(&mut self, path: &[u8], _dir: bool) -> Result<(), Errno> {
        self.files.remove(path).map(|_| ()).ok_or(errno::ENOENT)
    }
    fn mkdir(&mut self, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Err(errno::EPERM)
    }
    fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), Errno> {
        let f = self.files.remove(from).ok_or(errno::ENOENT)?;
        self.files.insert(to.to_vec(), f);
        Ok(())
    }
    fn chmod(&mut self, _path: &[u8], _mode: u32) -> Result<(), Errno> {
        Ok(())
    }
    fn truncate(&mut self, _fd: HostFd, _len: u64) -> Result<(), Errno> {
        Err(errno::EPERM)
    }
    fn isatty(&mut self, _fd: HostFd) -> bool {
        false
    }
    fn getcwd(&mut self) -> Result<Vec<u8>, Errno> {
        Ok(b"/".to_vec())
    }
    fn chdir(&mut self, _path: &[u8]) -> Result<(), Errno> {
        Ok(())
    }
    fn clock(&mut self, _clock: Clock) -> (i64, i64) {
        (1_700_000_000, 0)
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(0x5a);
    }
}

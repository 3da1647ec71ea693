//! Linux x86_64 system calls (arch/x86/entry/syscalls/syscall_64.tbl) on
//! top of `HostOs`. Arguments arrive in RDI, RSI, RDX, R10, R8, R9; the
//! result (or -errno) goes to RAX. Unknown calls return -ENOSYS and are
//! reported once on stderr.

use alloc::vec;
use alloc::vec::Vec;

use super::host::errno::*;
use super::host::{Clock, Errno, FileStat, HostOs, OpenOptions};
use super::loader::{MMAP_TOP, STACK_SIZE};
use super::{Exit, GuestFile, Process};
use crate::cpu::SegReg;
use crate::mmu::space::{PROT_EXEC, PROT_READ, PROT_WRITE, USER_TOP};
use crate::mmu::{Memory, PAGE_SIZE};

/// `AT_FDCWD`: relative to the working directory.
const AT_FDCWD: i64 = -100;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;
const O_ACCMODE: u64 = 3;
const O_CREAT: u64 = 0x40;
const O_EXCL: u64 = 0x80;
const O_TRUNC: u64 = 0x200;
const O_APPEND: u64 = 0x400;
const O_DIRECTORY: u64 = 0x10000;
const O_CLOEXEC: u64 = 0x80000;
const MAP_SHARED: u64 = 0x01;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;
/// Largest single transfer served at once (like a short read).
const MAX_IO: usize = 1 << 20;
const PID: u64 = 1000;

type SysResult = Result<u64, Errno>;

impl<H: HostOs> Process<H> {
    /// Handles the SYSCALL that just stopped the CPU.
    pub(super) fn syscall(&mut self) {
        let g = &self.cpu.gpr;
        let nr = g[0];
        let a = [g[7], g[6], g[2], g[10], g[8], g[9]];
        let result = self.dispatch(nr, a);
        if self.trace_syscalls {
            let msg = alloc::format!(
                "[pid {}] syscall {nr}({:#x}, {:#x}, {:#x}, {:#x}) = {result:?}\n",
                self.procs.pid,
                a[0],
                a[1],
                a[2],
                a[3]
            );
            let _ = self.host.write(2, msg.as_bytes());
        }
        self.cpu.gpr[0] = match result {
            Ok(v) => v,
            Err(e) => (-e) as u64,
        };
    }

    fn dispatch(&mut self, nr: u64, a: [u64; 6]) -> SysResult {
        match nr {
            0 => self.sys_read(a[0], a[1], a[2]),
            1 => self.sys_write(a[0], a[1], a[2]),
            2 => self.sys_openat(AT_FDCWD as u64, a[0], a[1], a[2]),
            3 => self.sys_close(a[0]),
            4 => self.sys_fstatat(AT_FDCWD as u64, a[0], a[1], 0),
            5 => self.sys_fstat(a[0], a[1]),
            6 => self.sys_fstatat(AT_FDCWD as u64, a[0], a[1], AT_SYMLINK_NOFOLLOW),
            7 => self.sys_poll(a[0], a[1]),
            8 => self.sys_lseek(a[0], a[1], a[2]),
            9 => self.sys_mmap(a[0], a[1], a[2], a[3], a[4], a[5]),
            10 => self.sys_mprotect(a[0], a[1], a[2]),
            11 => self.sys_munmap(a[0], a[1]),
            12 => Ok(self.sys_brk(a[0])),
            13 => self.sys_rt_sigaction(a[0], a[1], a[2]),
            15 => self.sys_rt_sigreturn(),
            14 => self.sys_rt_sigprocmask(a[0], a[1], a[2]),
            16 => self.sys_ioctl(a[0], a[1], a[2]),
            17 => self.sys_pread(a[0], a[1], a[2], a[3]),
            18 => self.sys_pwrite(a[0], a[1], a[2], a[3]),
            19 => self.sys_readv(a[0], a[1], a[2]),
            20 => self.sys_writev(a[0], a[1], a[2]),
            21 => self.sys_faccessat(AT_FDCWD as u64, a[0]),
            24 | 28 | 273 | 131 | 91 | 92 | 93 | 94 | 109 | 160 => Ok(0), // sched_yield, madvise, set_robust_list, sigaltstack, fchmod, chown family, setpgid, setrlimit
            25 => Err(ENOMEM), // mremap: callers fall back to copying
            32 => self.sys_dup(a[0], 0, false),
            436 => self.sys_close_range(a[0], a[1], a[2]),
            33 => self.sys_dup2(a[0], a[1], false),
            35 => self.sys_nanosleep(a[0]),
            230 => self.sys_clock_nanosleep(a[0], a[1], a[2]),
            39 | 186 => Ok(self.procs.pid),
            40 => self.sys_sendfile(a[0], a[1], a[2], a[3]),
            326 => self.sys_copy_file_range(a[0], a[1], a[2], a[3], a[4], a[5]),
            // No socket families: what Linux answers for a family it was built without.
            41 | 53 => Err(EAFNOSUPPORT),
            // So no descriptor is a socket: ENOTSOCK once the descriptor is checked.
            42..=52 | 54 | 55 | 288 => self.file(a[0]).and(Err(ENOTSOCK)),
            115 => self.sys_getgroups(a[0], a[1]),
            118 | 120 => self.sys_getresid(a[0], a[1], a[2]),
            137 => self.sys_statfs(a[0], a[1]),
            138 => self.sys_fstatfs(a[0], a[1]),
            188..=199 => self.sys_xattr(nr, a[0]),
            221 => self.sys_fadvise(a[0]),
            60 | 231 => {
                self.exit = Some(Exit::Code(a[0] as i32));
                Ok(0)
            }
            22 => self.sys_pipe2(a[0], 0),
            293 => self.sys_pipe2(a[0], a[1]),
            56 => self.sys_clone(a[0]),
            57 | 58 => self.sys_fork(),
            59 => self.sys_execve(a[0], a[1], a[2]),
            61 => self.sys_wait4(a[0], a[1], a[3]),
            62 => self.sys_kill(a[0], a[1]),
            200 => self.sys_kill(self.procs.pid, a[1]),
            234 => self.sys_kill(a[1], a[2]),
            63 => self.sys_uname(a[0]),
            72 => self.sys_fcntl(a[0], a[1], a[2]),
            77 => self.sys_ftruncate(a[0], a[1]),
            79 => self.sys_getcwd(a[0], a[1]),
            80 => self.sys_chdir(a[0]),
            81 => self.sys_fchdir(a[0]),
            27 => self.sys_mincore(a[0], a[1], a[2]),
            82 => self.sys_renameat(AT_FDCWD as u64, a[0], AT_FDCWD as u64, a[1]),
            264 | 316 => self.sys_renameat(a[0], a[1], a[2], a[3]),
            83 => self.sys_mkdirat(AT_FDCWD as u64, a[0], a[1]),
            258 => self.sys_mkdirat(a[0], a[1], a[2]),
            84 => self.sys_unlinkat(AT_FDCWD as u64, a[0], AT_REMOVEDIR),
            87 => self.sys_unlinkat(AT_FDCWD as u64, a[0], 0),
            263 => self.sys_unlinkat(a[0], a[1], a[2]),
            89 => self.sys_readlinkat(AT_FDCWD as u64, a[0], a[1], a[2]),
            267 => self.sys_readlinkat(a[0], a[1], a[2], a[3]),
            90 => self.sys_fchmodat(AT_FDCWD as u64, a[0], a[1]),
            268 => self.sys_fchmodat(a[0], a[1], a[2]),
            95 => {
                let old = self.umask;
                self.umask = (a[0] & 0o777) as u32;
                Ok(old as u64)
            }
            96 => self.sys_gettimeofday(a[0]),
            97 => self.sys_prlimit(a[0], a[1]),
            302 => self.sys_prlimit(a[1], a[3]),
            99 => self.sys_sysinfo(a[0]),
            102 | 104 | 107 | 108 => Ok(0), // getuid, getgid, geteuid, getegid: root
            110 => Ok(self.procs.ppid),
            111 | 112 => Ok(PID), // getpgrp, setsid
            157 => self.sys_prctl(a[0]),
            158 => self.sys_arch_prctl(a[0], a[1]),
            201 => self.sys_time(a[0]),
            202 => Ok(0), // futex: one thread, no contention to wait for
            204 => self.sys_sched_getaffinity(a[1], a[2]),
            217 => self.sys_getdents64(a[0], a[1], a[2]),
            218 => Ok(self.procs.pid),
            228 => self.sys_clock_gettime(a[0], a[1]),
            229 => self.sys_clock_getres(a[1]),
            257 => self.sys_openat(a[0], a[1], a[2], a[3]),
            262 => self.sys_fstatat(a[0], a[1], a[2], a[3]),
            269 | 439 => self.sys_faccessat(a[0], a[1]),
            292 => self.sys_dup2(a[0], a[1], a[2] & O_CLOEXEC != 0),
            318 => self.sys_getrandom(a[0], a[1]),
            // rseq and statx: Linux may lack them and glibc falls back quietly.
            332 | 334 => Err(ENOSYS),
            _ => {
                if self.unknown_reported.insert(nr) {
                    let msg =
                        alloc::format!("x86emu: unsupported syscall {nr}, returning -ENOSYS\n");
                    let _ = self.host.write(2, msg.as_bytes());
                }
                Err(ENOSYS)
            }
        }
    }

    // ------------------------------------------------------------ guest memory

    fn read_guest(&mut self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; len];
        self.mem.read(addr, &mut buf).map_err(|_| EFAULT)?;
        Ok(buf)
    }

    fn write_guest(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.mem.write(addr, data).map_err(|_| EFAULT)
    }

    fn read_u64(&mut self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.mem.read(addr, &mut b).map_err(|_| EFAULT)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A NUL-terminated string (at most PATH_MAX bytes).
    pub(super) fn read_cstr(&mut self, addr: u64) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        loop {
            let mut b = [0u8];
            self.mem
                .read(addr + out.len() as u64, &mut b)
                .map_err(|_| EFAULT)?;
            if b[0] == 0 {
                return Ok(out);
            }
            out.push(b[0]);
            if out.len() >= 4096 {
                return Err(ENAMETOOLONG);
            }
        }
    }

    // ------------------------------------------------------------ descriptors

    /// The open file behind `fd` (a C int: only the low 32 bits count).
    fn file(&self, fd: u64) -> Result<&GuestFile, Errno> {
        self.fds
            .get(fd as u32 as usize)
            .and_then(|f| f.as_ref())
            .ok_or(EBADF)
    }

    /// The host handle behind `fd`; pipes have none (ESPIPE).
    fn host_fd(&self, fd: u64) -> Result<u64, Errno> {
        let file = self.file(fd)?;
        if file.pipe.is_some() {
            return Err(ESPIPE);
        }
        Ok(file.host)
    }

    pub(super) fn install(&mut self, file: GuestFile, min: usize) -> Result<u64, Errno> {
        let slot = (min..)
            .find(|&i| self.fds.get(i).is_none_or(|f| f.is_none()))
            .ok_or(EMFILE)?;
        if slot >= 1024 {
            return Err(EMFILE);
        }
        if slot >= self.fds.len() {
            self.fds.resize(slot + 1, None);
        }
        self.retain(&file);
        self.fds[slot] = Some(file);
        Ok(slot as u64)
    }

    pub(super) fn close_fd(&mut self, fd: u64) -> Result<(), Errno> {
        let file = self
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.take())
            .ok_or(EBADF)?;
        self.release(&file)
    }

    /// Resolves `path` relative to directory descriptor `dirfd`.
    fn resolve_at(&self, dirfd: u64, path: Vec<u8>) -> Result<Vec<u8>, Errno> {
        if path.first() == Some(&b'/')
            || dirfd as i64 == AT_FDCWD as i32 as i64
            || dirfd as i32 == AT_FDCWD as i32
        {
            return Ok(path);
        }
        let dir = &self.file(dirfd)?.path;
        if dir.is_empty() {
            return Err(ENOTDIR);
        }
        let mut full = dir.clone();
        full.push(b'/');
        full.extend_from_slice(&path);
        Ok(full)
    }

    fn path_at(&mut self, dirfd: u64, path_addr: u64) -> Result<Vec<u8>, Errno> {
        let path = self.read_cstr(path_addr)?;
        if path.is_empty() {
            return Err(ENOENT);
        }
        self.resolve_at(dirfd, path)
    }

    // ------------------------------------------------------------ file I/O

    fn sys_read(&mut self, fd: u64, buf: u64, count: u64) -> SysResult {
        if let Some(end) = self.file(fd)?.pipe {
            let data = self.pipe_read(end, (count as usize).min(MAX_IO))?;
            self.write_guest(buf, &data)?;
            return Ok(data.len() as u64);
        }
        let host = self.host_fd(fd)?;
        let mut data = vec![0u8; (count as usize).min(MAX_IO)];
        let n = self.host.read(host, &mut data)?;
        self.write_guest(buf, &data[..n])?;
        Ok(n as u64)
    }

    fn sys_pread(&mut self, fd: u64, buf: u64, count: u64, offset: u64) -> SysResult {
        let host = self.host_fd(fd)?;
        let mut data = vec![0u8; (count as usize).min(MAX_IO)];
        let n = self.host.pread(host, &mut data, offset)?;
        self.write_guest(buf, &data[..n])?;
        Ok(n as u64)
    }

    fn sys_write(&mut self, fd: u64, buf: u64, count: u64) -> SysResult {
        let data = self.read_guest(buf, (count as usize).min(MAX_IO))?;
        self.write_fd(fd, &data)
    }

    /// Writes to a host file or a pipe.
    fn write_fd(&mut self, fd: u64, data: &[u8]) -> SysResult {
        if let Some(end) = self.file(fd)?.pipe {
            return self.pipe_write(end, data);
        }
        let host = self.host_fd(fd)?;
        Ok(self.host.write(host, data)? as u64)
    }

    fn iovecs(&mut self, iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
        if count > 1024 {
            return Err(EINVAL);
        }
        (0..count)
            .map(|i| {
                Ok((
                    self.read_u64(iov + 16 * i)?,
                    self.read_u64(iov + 16 * i + 8)?,
                ))
            })
            .collect()
    }

    fn sys_readv(&mut self, fd: u64, iov: u64, count: u64) -> SysResult {
        let mut total = 0;
        for (base, len) in self.iovecs(iov, count)? {
            if len == 0 {
                continue;
            }
            let n = self.sys_read(fd, base, len)?;
            total += n;
            if n < len {
                break;
            }
        }
        Ok(total)
    }

    fn sys_writev(&mut self, fd: u64, iov: u64, count: u64) -> SysResult {
        self.file(fd)?;
        let mut data = Vec::new();
        for (base, len) in self.iovecs(iov, count)? {
            let room = MAX_IO - data.len();
            data.extend_from_slice(&self.read_guest(base, (len as usize).min(room))?);
            if data.len() >= MAX_IO {
                break;
            }
        }
        self.write_fd(fd, &data)
    }

    fn sys_pwrite(&mut self, fd: u64, buf: u64, count: u64, offset: u64) -> SysResult {
        let host = self.host_fd(fd)?;
        if (offset as i64) < 0 {
            return Err(EINVAL);
        }
        let data = self.read_guest(buf, (count as usize).min(MAX_IO))?;
        Ok(self.host.pwrite(host, &data, offset)? as u64)
    }

    /// Copies up to `count` bytes between host files, at explicit offsets
    /// or the current positions (sendfile, copy_file_range).
    fn copy_between(
        &mut self,
        (input, in_offset): (u64, Option<u64>),
        (output, out_offset): (u64, Option<u64>),
        count: u64,
    ) -> Result<usize, Errno> {
        let mut data = vec![0u8; (count as usize).min(MAX_IO)];
        let n = match in_offset {
            Some(offset) => self.host.pread(input, &mut data, offset)?,
            None => self.host.read(input, &mut data)?,
        };
        let mut written = 0;
        while written < n {
            let chunk = &data[written..n];
            let w = match out_offset {
                Some(offset) => self.host.pwrite(output, chunk, offset + written as u64)?,
                None => self.host.write(output, chunk)?,
            };
            if w == 0 {
                return Err(EIO);
            }
            written += w;
        }
        Ok(n)
    }

    /// An optional `loff_t *` argument.
    fn optional_offset(&mut self, ptr: u64) -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let offset = self.read_u64(ptr)?;
        if (offset as i64) < 0 {
            return Err(EINVAL);
        }
        Ok(Some(offset))
    }

    fn sys_sendfile(&mut self, out_fd: u64, in_fd: u64, offset_ptr: u64, count: u64) -> SysResult {
        // Pipes are not sendfile endpoints here; callers fall back to read/write.
        let (out_host, in_host) = (
            self.host_fd(out_fd).map_err(|_| EINVAL)?,
            self.host_fd(in_fd).map_err(|_| EINVAL)?,
        );
        let offset = self.optional_offset(offset_ptr)?;
        let n = self.copy_between((in_host, offset), (out_host, None), count)?;
        if let Some(offset) = offset {
            self.write_guest(offset_ptr, &(offset + n as u64).to_le_bytes())?;
        }
        Ok(n as u64)
    }

    /// copy_file_range(2) between regular files; anything else is EINVAL,
    /// as Linux answers for pipes and devices (callers fall back to read/write).
    fn sys_copy_file_range(
        &mut self,
        in_fd: u64,
        in_ptr: u64,
        out_fd: u64,
        out_ptr: u64,
        count: u64,
        flags: u64,
    ) -> SysResult {
        let (in_host, out_host) = (self.host_fd(in_fd), self.host_fd(out_fd));
        let (in_host, out_host) = (
            in_host.map_err(|e| if e == ESPIPE { EINVAL } else { e })?,
            out_host.map_err(|e| if e == ESPIPE { EINVAL } else { e })?,
        );
        if flags != 0 {
            return Err(EINVAL);
        }
        for host in [in_host, out_host] {
            if self.host.fstat(host)?.mode & 0o170000 != 0o100000 {
                return Err(EINVAL);
            }
        }
        let in_offset = self.optional_offset(in_ptr)?;
        let out_offset = self.optional_offset(out_ptr)?;
        let n = self.copy_between((in_host, in_offset), (out_host, out_offset), count)?;
        for (ptr, offset) in [(in_ptr, in_offset), (out_ptr, out_offset)] {
            if let Some(offset) = offset {
                self.write_guest(ptr, &(offset + n as u64).to_le_bytes())?;
            }
        }
        Ok(n as u64)
    }

    /// posix_fadvise: advice a kernel may ignore, after the checks Linux makes.
    fn sys_fadvise(&mut self, fd: u64) -> SysResult {
        self.host_fd(fd)?;
        Ok(0)
    }

    fn sys_openat(&mut self, dirfd: u64, path: u64, flags: u64, mode: u64) -> SysResult {
        let path = self.path_at(dirfd, path)?;
        let access = flags & O_ACCMODE;
        let options = OpenOptions {
            read: access == 0 || access == 2,
            write: access == 1 || access == 2,
            create: flags & O_CREAT != 0,
            exclusive: flags & O_EXCL != 0,
            truncate: flags & O_TRUNC != 0,
            append: flags & O_APPEND != 0,
            directory: flags & O_DIRECTORY != 0,
            mode: (mode as u32) & !self.umask & 0o7777,
        };
        let host = self.host.open(&path, options)?;
        // Kept absolute, so *at calls and fchdir still find it after a chdir.
        let path = if path.first() == Some(&b'/') {
            path
        } else {
            let mut full = self.host.getcwd().unwrap_or_default();
            full.push(b'/');
            full.extend_from_slice(&path);
            full
        };
        let file = GuestFile {
            host,
            path,
            status_flags: (flags & (O_ACCMODE | O_APPEND)) as u32,
            close_on_exec: flags & O_CLOEXEC != 0,
            listing: None,
            pipe: None,
        };
        self.install(file, 0)
    }

    pub(super) fn sys_close(&mut self, fd: u64) -> SysResult {
        self.close_fd(fd).map(|()| 0)
    }

    /// close_range(2): closes (or, with CLOSE_RANGE_CLOEXEC, marks
    /// close-on-exec) every open descriptor in `[first, last]`.
    fn sys_close_range(&mut self, first: u64, last: u64, flags: u64) -> SysResult {
        const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
        const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
        let (first, last) = (first as u32 as usize, last as u32 as usize);
        if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
            return Err(EINVAL);
        }
        for fd in first..=last.min(self.fds.len().saturating_sub(1)) {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                if let Some(Some(f)) = self.fds.get_mut(fd) {
                    f.close_on_exec = true;
                }
            } else if self.fds.get(fd).is_some_and(|f| f.is_some()) {
                let _ = self.close_fd(fd as u64);
            }
        }
        Ok(0)
    }

    fn sys_lseek(&mut self, fd: u64, offset: u64, whence: u64) -> SysResult {
        let host = self.host_fd(fd)?;
        if whence > 2 {
            return Err(EINVAL);
        }
        if let Some(f) = self
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.as_mut())
            && offset == 0
            && whence == 0
        {
            f.listing = None; // rewinddir
        }
        self.host.seek(host, offset as i64, whence as u32)
    }

    fn sys_dup(&mut self, fd: u64, min: usize, cloexec: bool) -> SysResult {
        let mut file = self.file(fd)?.clone();
        file.close_on_exec = cloexec;
        self.install(file, min)
    }

    fn sys_dup2(&mut self, old: u64, new: u64, cloexec: bool) -> SysResult {
        let (old, new) = (old as u32 as u64, new as u32 as u64);
        let mut file = self.file(old)?.clone();
        if old == new {
            return Ok(new);
        }
        if new >= 1024 {
            return Err(EBADF);
        }
        if self.file(new).is_ok() {
            self.close_fd(new)?;
        }
        file.close_on_exec = cloexec;
        self.install(file, new as usize)
    }

    fn sys_fcntl(&mut self, fd: u64, cmd: u64, arg: u64) -> SysResult {
        const F_DUPFD: u64 = 0;
        const F_GETFD: u64 = 1;
        const F_SETFD: u64 = 2;
        const F_GETFL: u64 = 3;
        const F_SETFL: u64 = 4;
        const F_DUPFD_CLOEXEC: u64 = 1030;
        let file = self.file(fd)?;
        match cmd {
            F_DUPFD => self.sys_dup(fd, arg as usize, false),
            F_DUPFD_CLOEXEC => self.sys_dup(fd, arg as usize, true),
            F_GETFD => Ok(file.close_on_exec as u64),
            F_SETFD => {
                if let Some(f) = self
                    .fds
                    .get_mut(fd as u32 as usize)
                    .and_then(|f| f.as_mut())
                {
                    f.close_on_exec = arg & 1 != 0;
                }
                Ok(0)
            }
            F_GETFL => Ok(file.status_flags as u64),
            F_SETFL => Ok(0),
            _ => Err(EINVAL),
        }
    }

    fn sys_ftruncate(&mut self, fd: u64, len: u64) -> SysResult {
        let host = self.host_fd(fd)?;
        self.host.truncate(host, len).map(|()| 0)
    }

    fn sys_poll(&mut self, fds: u64, count: u64) -> SysResult {
        // Every descriptor is reported ready for what it asked (files never block).
        let mut ready = 0;
        for i in 0..count.min(1024) {
            let entry = fds + 8 * i;
            let raw = self.read_u64(entry)?;
            let events = (raw >> 32) as u16;
            let revents = if self.file(raw & 0xffff_ffff).is_ok() {
                events & 0x5
            } else {
                0x20
            };
            self.write_guest(entry + 6, &revents.to_le_bytes())?;
            if revents != 0 {
                ready += 1;
            }
        }
        Ok(ready)
    }

    fn sys_ioctl(&mut self, fd: u64, request: u64, arg: u64) -> SysResult {
        const TCGETS: u64 = 0x5401;
        const TCSETS: u64 = 0x5402;
        const TCSETSF: u64 = 0x5404;
        const TIOCGPGRP: u64 = 0x540f;
        const TIOCSPGRP: u64 = 0x5410;
        const TIOCGWINSZ: u64 = 0x5413;
        let host = self
            .host_fd(fd)
            .map_err(|e| if e == ESPIPE { ENOTTY } else { e })?;
        if !self.host.isatty(host) {
            return Err(ENOTTY);
        }
        match request {
            TCGETS => {
                // A cooked terminal: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD, ISIG|ICANON|ECHO…
                let mut termios = [0u8; 36];
                termios[0..4].copy_from_slice(&0x0500u32.to_le_bytes());
                termios[4..8].copy_from_slice(&0x0005u32.to_le_bytes());
                termios[8..12].copy_from_slice(&0x00bfu32.to_le_bytes());
                termios[12..16].copy_from_slice(&0x8a3bu32.to_le_bytes());
                termios[17..17 + 7].copy_from_slice(&[3, 0x1c, 0x7f, 0x15, 4, 0, 1]);
                self.write_guest(arg, &termios)?;
                Ok(0)
            }
            TCSETS..=TCSETSF | TIOCSPGRP => Ok(0),
            TIOCGPGRP => {
                self.write_guest(arg, &(PID as u32).to_le_bytes())?;
                Ok(0)
            }
            TIOCGWINSZ => {
                let winsize: [u16; 4] = [24, 80, 0, 0];
                let bytes: Vec<u8> = winsize.iter().flat_map(|v| v.to_le_bytes()).collect();
                self.write_guest(arg, &bytes)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn sys_getdents64(&mut self, fd: u64, buf: u64, count: u64) -> SysResult {
        let host = self.host_fd(fd)?;
        if self.file(fd)?.listing.is_none() {
            let mut entries = vec![
                super::host::DirEntry {
                    ino: 1,
                    kind: 4,
                    name: b".".to_vec(),
                },
                super::host::DirEntry {
                    ino: 1,
                    kind: 4,
                    name: b"..".to_vec(),
                },
            ];
            entries.extend(self.host.read_dir(host)?);
            if let Some(f) = self
                .fds
                .get_mut(fd as u32 as usize)
                .and_then(|f| f.as_mut())
            {
                f.listing = Some((entries, 0));
            }
        }
        let Some(GuestFile {
            listing: Some((entries, next)),
            ..
        }) = self
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.as_mut())
        else {
            return Err(EBADF);
        };
        let mut out = Vec::new();
        while *next < entries.len() {
            let e = &entries[*next];
            let reclen = (19 + e.name.len() + 1).div_ceil(8) * 8;
            if out.len() + reclen > count as usize {
                break;
            }
            let start = out.len();
            out.extend_from_slice(&e.ino.to_le_bytes());
            out.extend_from_slice(&((*next + 1) as u64).to_le_bytes());
            out.extend_from_slice(&(reclen as u16).to_le_bytes());
            out.push(e.kind);
            out.extend_from_slice(&e.name);
            out.resize(start + reclen, 0);
            *next += 1;
        }
        if out.is_empty() && *next < entries.len() {
            return Err(EINVAL);
        }
        self.write_guest(buf, &out)?;
        Ok(out.len() as u64)
    }

    // ------------------------------------------------------------ metadata

    fn write_stat(&mut self, addr: u64, st: &FileStat) -> SysResult {
        // struct stat for x86_64 (arch/x86/include/uapi/asm/stat.h), 144 bytes.
        let mut b = [0u8; 144];
        let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(0, st.dev);
        put(8, st.ino);
        put(16, st.nlink);
        put(24, (st.mode as u64) | ((st.uid as u64) << 32));
        put(32, st.gid as u64);
        put(40, st.rdev);
        put(48, st.size);
        put(56, st.blksize);
        put(64, st.blocks);
        put(72, st.atime.0 as u64);
        put(80, st.atime.1 as u64);
        put(88, st.mtime.0 as u64);
        put(96, st.mtime.1 as u64);
        put(104, st.ctime.0 as u64);
        put(112, st.ctime.1 as u64);
        self.write_guest(addr, &b)?;
        Ok(0)
    }

    fn sys_fstat(&mut self, fd: u64, buf: u64) -> SysResult {
        if self.file(fd)?.pipe.is_some() {
            // S_IFIFO, rw for the owner.
            let st = FileStat {
                mode: 0o010600,
                nlink: 1,
                blksize: 4096,
                ..FileStat::default()
            };
            return self.write_stat(buf, &st);
        }
        let host = self.host_fd(fd)?;
        let st = self.host.fstat(host)?;
        self.write_stat(buf, &st)
    }

    fn sys_fstatat(&mut self, dirfd: u64, path: u64, buf: u64, flags: u64) -> SysResult {
        let raw = self.read_cstr(path)?;
        if raw.is_empty() {
            if flags & AT_EMPTY_PATH != 0 {
                return self.sys_fstat(dirfd, buf);
            }
            return Err(ENOENT);
        }
        let full = self.resolve_at(dirfd, raw)?;
        let st = self.host.stat(&full, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        self.write_stat(buf, &st)
    }

    fn write_statfs(&mut self, addr: u64, st: &super::host::FsStat) -> SysResult {
        // struct statfs for x86_64 (asm-generic/statfs.h with 64-bit longs), 120 bytes.
        let words = [
            st.kind, st.bsize, st.blocks, st.bfree, st.bavail, st.files, st.ffree, st.fsid,
            st.namelen, st.frsize, st.flags, 0, 0, 0, 0,
        ];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write_guest(addr, &bytes)?;
        Ok(0)
    }

    fn sys_statfs(&mut self, path: u64, buf: u64) -> SysResult {
        let full = self.path_at(AT_FDCWD as u64, path)?;
        // A missing path is ENOENT whatever the host can say about file systems.
        self.host.stat(&full, true)?;
        let st = self.host.statfs(Some(&full), 0)?;
        self.write_statfs(buf, &st)
    }

    fn sys_fstatfs(&mut self, fd: u64, buf: u64) -> SysResult {
        let host = self
            .host_fd(fd)
            .map_err(|e| if e == ESPIPE { ENOSYS } else { e })?;
        let st = self.host.statfs(None, host)?;
        self.write_statfs(buf, &st)
    }

    /// The extended-attribute calls (setxattr … fremovexattr, 188–199):
    /// the host interface carries no extended attributes, so once the file
    /// is found they answer ENOTSUP, as Linux does on a file system without
    /// xattr support (coreutils then reports no ACL or security context).
    fn sys_xattr(&mut self, nr: u64, target: u64) -> SysResult {
        const BY_FD: [u64; 4] = [190, 193, 196, 199];
        const NO_FOLLOW: [u64; 4] = [189, 192, 195, 198];
        if BY_FD.contains(&nr) {
            self.file(target)?;
        } else {
            let full = self.path_at(AT_FDCWD as u64, target)?;
            self.host.stat(&full, !NO_FOLLOW.contains(&nr))?;
        }
        Err(ENOTSUP)
    }

    fn sys_faccessat(&mut self, dirfd: u64, path: u64) -> SysResult {
        let full = self.path_at(dirfd, path)?;
        self.host.stat(&full, true).map(|_| 0)
    }

    fn sys_readlinkat(&mut self, dirfd: u64, path: u64, buf: u64, size: u64) -> SysResult {
        let full = self.path_at(dirfd, path)?;
        let target = if full == b"/proc/self/exe" {
            return Err(ENOENT);
        } else {
            self.host.readlink(&full)?
        };
        let n = target.len().min(size as usize);
        self.write_guest(buf, &target[..n])?;
        Ok(n as u64)
    }

    fn sys_unlinkat(&mut self, dirfd: u64, path: u64, flags: u64) -> SysResult {
        let full = self.path_at(dirfd, path)?;
        self.host
            .remove(&full, flags & AT_REMOVEDIR != 0)
            .map(|()| 0)
    }

    fn sys_mkdirat(&mut self, dirfd: u64, path: u64, mode: u64) -> SysResult {
        let full = self.path_at(dirfd, path)?;
        self.host
            .mkdir(&full, (mode as u32) & !self.umask & 0o7777)
            .map(|()| 0)
    }

    fn sys_renameat(&mut self, olddir: u64, old: u64, newdir: u64, new: u64) -> SysResult {
        let from = self.path_at(olddir, old)?;
        let to = self.path_at(newdir, new)?;
        self.host.rename(&from, &to).map(|()| 0)
    }

    fn sys_fchmodat(&mut self, dirfd: u64, path: u64, mode: u64) -> SysResult {
        let full = self.path_at(dirfd, path)?;
        self.host.chmod(&full, (mode & 0o7777) as u32).map(|()| 0)
    }

    fn sys_getcwd(&mut self, buf: u64, size: u64) -> SysResult {
        let mut cwd = self.host.getcwd()?;
        cwd.push(0);
        if cwd.len() as u64 > size {
            return Err(ERANGE);
        }
        self.write_guest(buf, &cwd)?;
        Ok(cwd.len() as u64)
    }

    fn sys_chdir(&mut self, path: u64) -> SysResult {
        let path = self.read_cstr(path)?;
        self.host.chdir(&path).map(|()| 0)
    }

    fn sys_fchdir(&mut self, fd: u64) -> SysResult {
        let file = self.file(fd)?;
        if file.pipe.is_some() || file.path.is_empty() {
            return Err(ENOTDIR);
        }
        let path = file.path.clone();
        if self.host.stat(&path, true)?.mode & 0o170000 != 0o040000 {
            return Err(ENOTDIR);
        }
        self.host.chdir(&path).map(|()| 0)
    }

    // ------------------------------------------------------------ memory

    fn sys_brk(&mut self, requested: u64) -> u64 {
        let round = |v: u64| v.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        if requested < self.brk_start || requested >= MMAP_TOP {
            return self.brk;
        }
        let (old_end, new_end) = (round(self.brk), round(requested));
        if new_end > old_end {
            if self.mem.any_mapped(old_end, new_end - old_end) {
                return self.brk;
            }
            if self
                .mem
                .map_merge(old_end, new_end - old_end, PROT_READ | PROT_WRITE)
                .is_err()
            {
                return self.brk;
            }
        } else if new_end < old_end {
            self.mem.unmap(new_end, old_end - new_end);
        }
        self.brk = requested;
        self.brk
    }

    fn sys_mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        fd: u64,
        offset: u64,
    ) -> SysResult {
        if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !offset.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        let len = len.checked_add(PAGE_SIZE - 1).ok_or(ENOMEM)? / PAGE_SIZE * PAGE_SIZE;
        let target = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            if flags & MAP_FIXED_NOREPLACE != 0 && self.mem.any_mapped(addr, len) {
                return Err(EEXIST);
            }
            addr
        } else if addr != 0
            && addr.checked_add(len).is_some_and(|e| e <= MMAP_TOP)
            && !self.mem.any_mapped(addr, len)
        {
            addr
        } else {
            self.mem.find_free(len, MMAP_TOP).ok_or(ENOMEM)?
        };
        let file = if flags & MAP_ANONYMOUS == 0 {
            Some(self.host_fd(fd)?)
        } else {
            None
        };
        if file.is_some() && flags & MAP_SHARED != 0 && prot & PROT_WRITE as u64 != 0 {
            // Writes through a shared file mapping would never reach the file.
            return Err(ENOTSUP);
        }
        self.mem
            .map(target, len, guest_prot(prot))
            .map_err(|_| ENOMEM)?;
        if let Some(host) = file {
            // Copy the file contents in bounded chunks, up to EOF or `len`.
            let mut chunk = vec![0u8; 64 << 10];
            let mut filled = 0u64;
            while filled < len {
                let want = chunk.len().min((len - filled) as usize);
                let n = self.host.pread(host, &mut chunk[..want], offset + filled)?;
                if n == 0 {
                    break;
                }
                self.mem
                    .poke(target + filled, &chunk[..n])
                    .map_err(|_| ENOMEM)?;
                filled += n as u64;
            }
        }
        Ok(target)
    }

    fn sys_mprotect(&mut self, addr: u64, len: u64, prot: u64) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        if self.mem.protect(addr, len, guest_prot(prot)) {
            Ok(0)
        } else {
            Err(ENOMEM)
        }
    }

    /// mincore(2): every mapped page counts as resident (guest memory is
    /// never paged out); a hole in the range is ENOMEM.
    fn sys_mincore(&mut self, addr: u64, len: u64, vec: u64) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        let pages = len.div_ceil(PAGE_SIZE);
        if addr
            .checked_add(pages * PAGE_SIZE)
            .is_none_or(|end| end > USER_TOP)
        {
            return Err(ENOMEM);
        }
        let mut out = Vec::new();
        for i in 0..pages {
            if self.mem.prot_at(addr + i * PAGE_SIZE).is_none() {
                return Err(ENOMEM);
            }
            out.push(1u8);
            if out.len() == 4096 || i + 1 == pages {
                self.write_guest(vec + (i + 1 - out.len() as u64), &out)?;
                out.clear();
            }
        }
        Ok(0)
    }

    fn sys_munmap(&mut self, addr: u64, len: u64) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(EINVAL);
        }
        self.mem.unmap(addr, len);
        Ok(0)
    }

    // ------------------------------------------------------------ process

    fn sys_rt_sigaction(&mut self, sig: u64, act: u64, old: u64) -> SysResult {
        if sig == 0 || sig > 64 || ((sig == 9 || sig == 19) && act != 0) {
            return Err(EINVAL);
        }
        if old != 0 {
            let current = self.signal_actions.get(&sig).copied().unwrap_or([0; 32]);
            self.write_guest(old, &current)?;
        }
        if act != 0 {
            let new = self.read_guest(act, 32)?;
            let mut action = [0u8; 32];
            action.copy_from_slice(&new);
            self.signal_actions.insert(sig, action);
        }
        Ok(0)
    }

    fn sys_rt_sigprocmask(&mut self, how: u64, set: u64, old: u64) -> SysResult {
        if old != 0 {
            self.write_guest(old, &self.signal_mask.to_le_bytes())?;
        }
        if set != 0 {
            let s = self.read_u64(set)?;
            self.signal_mask = match how {
                0 => self.signal_mask | s,
                1 => self.signal_mask & !s,
                2 => s,
                _ => return Err(EINVAL),
            };
        }
        Ok(0)
    }

    fn sys_kill(&mut self, pid: u64, sig: u64) -> SysResult {
        let pid = pid as i32 as i64;
        if pid != self.procs.pid as i64 && pid != 0 && pid != -1 {
            return Err(ESRCH);
        }
        if sig == 0 {
            return Ok(0);
        }
        if sig > 64 {
            return Err(EINVAL);
        }
        // SI_USER, from our own pid and uid 0; delivered when the call returns.
        let info = super::sigframe::SigInfo {
            code: 0,
            value: self.procs.pid,
            trapno: 0,
        };
        self.raise(sig, info);
        Ok(0)
    }

    fn sys_arch_prctl(&mut self, code: u64, addr: u64) -> SysResult {
        const ARCH_SET_GS: u64 = 0x1001;
        const ARCH_SET_FS: u64 = 0x1002;
        const ARCH_GET_FS: u64 = 0x1003;
        const ARCH_GET_GS: u64 = 0x1004;
        match code {
            ARCH_SET_FS => self.cpu.segs[SegReg::Fs as usize].base = addr,
            ARCH_SET_GS => self.cpu.segs[SegReg::Gs as usize].base = addr,
            ARCH_GET_FS => {
                self.write_guest(addr, &self.cpu.segs[SegReg::Fs as usize].base.to_le_bytes())?
            }
            ARCH_GET_GS => {
                self.write_guest(addr, &self.cpu.segs[SegReg::Gs as usize].base.to_le_bytes())?
            }
            _ => return Err(EINVAL),
        }
        Ok(0)
    }

    fn sys_prctl(&mut self, option: u64) -> SysResult {
        const PR_SET_NAME: u64 = 15;
        const PR_GET_NAME: u64 = 16;
        match option {
            PR_SET_NAME | PR_GET_NAME => Ok(0),
            _ => Err(EINVAL),
        }
    }

    fn sys_uname(&mut self, buf: u64) -> SysResult {
        let mut b = [0u8; 65 * 6];
        let fields: [&[u8]; 6] = [
            b"Linux",
            b"wrun",
            b"6.1.0-x86emu",
            b"#1 SMP PREEMPT_DYNAMIC",
            b"x86_64",
            b"(none)",
        ];
        for (i, f) in fields.iter().enumerate() {
            b[i * 65..i * 65 + f.len()].copy_from_slice(f);
        }
        self.write_guest(buf, &b)?;
        Ok(0)
    }

    /// getrlimit/prlimit64: reports fixed limits; new limits are accepted
    /// and ignored (nothing here enforces them).
    fn sys_prlimit(&mut self, resource: u64, old: u64) -> SysResult {
        const RLIMIT_STACK: u64 = 3;
        const RLIMIT_NOFILE: u64 = 7;
        if old != 0 {
            let (cur, max) = match resource {
                RLIMIT_STACK => (STACK_SIZE, u64::MAX),
                RLIMIT_NOFILE => (1024, 4096),
                _ => (u64::MAX, u64::MAX),
            };
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&cur.to_le_bytes());
            b[8..].copy_from_slice(&max.to_le_bytes());
            self.write_guest(old, &b)?;
        }
        Ok(0)
    }

    fn sys_sysinfo(&mut self, buf: u64) -> SysResult {
        let mut b = [0u8; 112];
        let (uptime, _) = self.host.clock(Clock::Monotonic);
        b[0..8].copy_from_slice(&uptime.to_le_bytes());
        b[32..40].copy_from_slice(&super::DEFAULT_MEMORY_LIMIT.to_le_bytes());
        let free = super::DEFAULT_MEMORY_LIMIT - (self.mem.frames_in_use() as u64) * PAGE_SIZE;
        b[40..48].copy_from_slice(&free.to_le_bytes());
        b[80..82].copy_from_slice(&1u16.to_le_bytes());
        b[104..108].copy_from_slice(&1u32.to_le_bytes());
        self.write_guest(buf, &b)?;
        Ok(0)
    }

    /// The guest runs as root (uid 0, gid 0) whose one group is 0.
    fn sys_getgroups(&mut self, size: u64, list: u64) -> SysResult {
        match size as u32 {
            0 => Ok(1),
            n if (n as i32) < 0 => Err(EINVAL),
            _ => {
                self.write_guest(list, &0u32.to_le_bytes())?;
                Ok(1)
            }
        }
    }

    fn sys_getresid(&mut self, real: u64, effective: u64, saved: u64) -> SysResult {
        for addr in [real, effective, saved] {
            self.write_guest(addr, &0u32.to_le_bytes())?;
        }
        Ok(0)
    }

    fn sys_sched_getaffinity(&mut self, size: u64, mask: u64) -> SysResult {
        if size < 8 {
            return Err(EINVAL);
        }
        self.write_guest(mask, &1u64.to_le_bytes())?;
        Ok(8)
    }

    // ------------------------------------------------------------ time, randomness

    fn sys_clock_gettime(&mut self, clock: u64, tp: u64) -> SysResult {
        let which = match clock {
            0 | 5 | 8 | 11 => Clock::Realtime,
            1..=7 | 9 => Clock::Monotonic,
            _ => return Err(EINVAL),
        };
        let (s, ns) = self.host.clock(which);
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&s.to_le_bytes());
        b[8..].copy_from_slice(&ns.to_le_bytes());
        self.write_guest(tp, &b)?;
        Ok(0)
    }

    fn sys_clock_getres(&mut self, tp: u64) -> SysResult {
        if tp != 0 {
            let mut b = [0u8; 16];
            b[8..].copy_from_slice(&1i64.to_le_bytes());
            self.write_guest(tp, &b)?;
        }
        Ok(0)
    }

    fn read_timespec(&mut self, addr: u64) -> Result<(i64, i64), Errno> {
        let (s, ns) = (self.read_u64(addr)? as i64, self.read_u64(addr + 8)? as i64);
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(EINVAL);
        }
        Ok((s, ns))
    }

    fn sys_nanosleep(&mut self, req: u64) -> SysResult {
        let (s, ns) = self.read_timespec(req)?;
        self.host.sleep(s as u64, ns as u32);
        Ok(0)
    }

    fn sys_clock_nanosleep(&mut self, clock: u64, flags: u64, req: u64) -> SysResult {
        const TIMER_ABSTIME: u64 = 1;
        let (mut s, mut ns) = self.read_timespec(req)?;
        if flags & TIMER_ABSTIME != 0 {
            // Sleep until an absolute time on that clock.
            let which = if matches!(clock, 0 | 5 | 8 | 11) {
                Clock::Realtime
            } else {
                Clock::Monotonic
            };
            let (now_s, now_ns) = self.host.clock(which);
            let total = (s as i128 * 1_000_000_000 + ns as i128)
                - (now_s as i128 * 1_000_000_000 + now_ns as i128);
            if total <= 0 {
                return Ok(0);
            }
            s = (total / 1_000_000_000) as i64;
            ns = (total % 1_000_000_000) as i64;
        }
        self.host.sleep(s as u64, ns as u32);
        Ok(0)
    }

    fn sys_gettimeofday(&mut self, tv: u64) -> SysResult {
        if tv != 0 {
            let (s, ns) = self.host.clock(Clock::Realtime);
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&s.to_le_bytes());
            b[8..].copy_from_slice(&(ns / 1000).to_le_bytes());
            self.write_guest(tv, &b)?;
        }
        Ok(0)
    }

    fn sys_time(&mut self, tloc: u64) -> SysResult {
        let (s, _) = self.host.clock(Clock::Realtime);
        if tloc != 0 {
            self.write_guest(tloc, &s.to_le_bytes())?;
        }
        Ok(s as u64)
    }

    fn sys_getrandom(&mut self, buf: u64, len: u64) -> SysResult {
        let mut data = vec![0u8; (len as usize).min(MAX_IO)];
        self.host.random(&mut data);
        self.write_guest(buf, &data)?;
        Ok(data.len() as u64)
    }
}

/// Linux PROT_* to page permissions: on x86 any access right implies read.
fn guest_prot(prot: u64) -> u8 {
    let mut p = (prot & 7) as u8 & (PROT_READ | PROT_WRITE | PROT_EXEC);
    if p != 0 {
        p |= PROT_READ;
    }
    p
}

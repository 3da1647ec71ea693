//! Linux x86_64 system calls (arch/x86/entry/syscalls/syscall_64.tbl) on
//! top of `HostOs`. Arguments arrive in RDI, RSI, RDX, R10, R8, R9; the
//! result (or -errno) goes to RAX. Unknown calls return -ENOSYS and are
//! reported once on stderr. This file holds the dispatcher and the file,
//! time and identity calls; processes, signals, futexes, pipes and memory
//! have their own modules.

use alloc::vec;
use alloc::vec::Vec;

use super::fd::{AT_FDCWD, join_path, own_fd_path};
use super::host::errno::*;
use super::host::{Clock, Errno, FileStat, HostOs, OpenOptions};
use super::loader::STACK_SIZE;
use super::sched::BLOCKED;
use super::task::{Backing, Outcome, SYSCALL_LEN, Task, WaitOn};
use super::{GuestFile, Process};
use crate::cpu::SegReg;

const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_EMPTY_PATH: u64 = 0x1000;
const O_ACCMODE: u64 = 3;
const O_CREAT: u64 = 0x40;
const O_EXCL: u64 = 0x80;
const O_TRUNC: u64 = 0x200;
const O_APPEND: u64 = 0x400;
const O_NONBLOCK: u64 = 0x800;
const O_DIRECTORY: u64 = 0x10000;
const O_CLOEXEC: u64 = 0x80000;
/// Largest single transfer served at once (like a short read).
const MAX_IO: usize = 1 << 20;

type SysResult = Result<u64, Errno>;

impl<H: HostOs> Process<H> {
    /// Handles the SYSCALL that just stopped task `t`'s CPU. A call that
    /// blocks leaves RIP on the SYSCALL and RAX its number (to run again).
    pub(super) fn syscall(&mut self, t: &mut Task) {
        let g = &t.cpu.gpr;
        let nr = g[0];
        let a = [g[7], g[6], g[2], g[10], g[8], g[9]];
        let mut result = self.dispatch(t, nr, a);
        t.restart = None;
        if result == Err(BLOCKED) && t.wait.is_none() {
            result = Err(EINTR); // cannot happen: a handler blocked without saying on what
        }
        if self.trace_syscalls {
            let shown = match result {
                Err(BLOCKED) => alloc::format!("blocked on {:?}", t.wait.map(|w| w.on)),
                r => alloc::format!("{r:?}"),
            };
            let msg = alloc::format!(
                "[tid {}] syscall {nr}({:#x}, {:#x}, {:#x}, {:#x}) = {shown}\n",
                t.tid,
                a[0],
                a[1],
                a[2],
                a[3]
            );
            let _ = self.host.write(2, msg.as_bytes());
        }
        t.cpu.gpr[0] = match result {
            Err(BLOCKED) => {
                t.cpu.rip = t.cpu.rip.wrapping_sub(SYSCALL_LEN);
                nr
            }
            Ok(v) => v,
            Err(e) => (-e) as u64,
        };
    }

    fn dispatch(&mut self, t: &mut Task, nr: u64, a: [u64; 6]) -> SysResult {
        let cwd = AT_FDCWD as u64;
        match nr {
            0 => self.sys_read(t, a[0], a[1], a[2]),
            1 => self.sys_write(t, a[0], a[1], a[2]),
            2 => self.sys_openat(t, cwd, a[0], a[1], a[2]),
            3 => self.sys_close(t, a[0]),
            4 => self.sys_fstatat(t, cwd, a[0], a[1], 0),
            5 => self.sys_fstat(t, a[0], a[1]),
            6 => self.sys_fstatat(t, cwd, a[0], a[1], AT_SYMLINK_NOFOLLOW),
            7 => self.sys_poll(t, a[0], a[1], a[2]),
            8 => self.sys_lseek(t, a[0], a[1], a[2]),
            9 => self.sys_mmap(t, a),
            10 => self.sys_mprotect(t, a[0], a[1], a[2]),
            11 => self.sys_munmap(t, a[0], a[1]),
            12 => self.sys_brk(t, a[0]),
            13 => self.sys_rt_sigaction(t, a[0], a[1], a[2], a[3]),
            14 => self.sys_rt_sigprocmask(t, a[0], a[1], a[2], a[3]),
            15 => self.sys_rt_sigreturn(t),
            16 => self.sys_ioctl(t, a[0], a[1], a[2]),
            17 => self.sys_pread(t, a[0], a[1], a[2], a[3]),
            18 => self.sys_pwrite(t, a[0], a[1], a[2], a[3]),
            19 => self.sys_readv(t, a[0], a[1], a[2]),
            20 => self.sys_writev(t, a[0], a[1], a[2]),
            21 => self.sys_faccessat(t, cwd, a[0]),
            22 => self.sys_pipe2(t, a[0], 0),
            23 => self.sys_select(t, a),
            24 => {
                t.yielded = true; // sched_yield: the next task's turn
                Ok(0)
            }
            25 => Err(ENOMEM), // mremap: callers fall back to copying
            27 => self.sys_mincore(t, a[0], a[1], a[2]),
            // madvise: advice, which Linux may ignore too.
            28 => Ok(0),
            32 => self.sys_dup(t, a[0], 0, false),
            33 => self.sys_dup2(t, a[0], a[1], false),
            34 => self.sys_sigsuspend(t, None),
            35 => self.sys_nanosleep(t, a[0], a[1]),
            36 => self.sys_getitimer(t, a[0], a[1]),
            37 => self.sys_alarm(t, a[0]),
            38 => self.sys_setitimer(t, a[0], a[1], a[2]),
            39 => Ok(t.tgid),
            40 => self.sys_sendfile(t, a[0], a[1], a[2], a[3]),
            // No socket families: what Linux answers for a family it was built without.
            41 | 53 => Err(EAFNOSUPPORT),
            // So no descriptor is a socket: ENOTSOCK once the descriptor is checked.
            42..=52 | 54 | 55 | 288 => self.file(t, a[0]).and(Err(ENOTSOCK)),
            56 => self.sys_clone(t, a[0], a[1], a[2], a[3], a[4]),
            57 => self.sys_fork(t, false),
            58 => self.sys_fork(t, true),
            59 => self.sys_execve(t, a[0], a[1], a[2]),
            60 => self.sys_exit(t, a[0]),
            61 => self.sys_wait4(t, a[0], a[1], a[2], a[3]),
            62 => self.sys_kill(t, a[0], a[1]),
            63 => self.sys_uname(t, a[0]),
            72 => self.sys_fcntl(t, a[0], a[1], a[2]),
            77 => self.sys_ftruncate(t, a[0], a[1]),
            79 => self.sys_getcwd(t, a[0], a[1]),
            80 => self.sys_chdir(t, a[0]),
            81 => self.sys_fchdir(t, a[0]),
            82 => self.sys_renameat(t, cwd, a[0], cwd, a[1]),
            83 => self.sys_mkdirat(t, cwd, a[0], a[1]),
            84 => self.sys_unlinkat(t, cwd, a[0], AT_REMOVEDIR),
            87 => self.sys_unlinkat(t, cwd, a[0], 0),
            89 => self.sys_readlinkat(t, cwd, a[0], a[1], a[2]),
            90 => self.sys_fchmodat(t, cwd, a[0], a[1]),
            91 => self.sys_fchmod(t, a[0], a[1]),
            // chown family and setrlimit: accepted; the host interface has
            // no owners and nothing here enforces limits.
            92..=94 | 160 => Ok(0),
            95 => self.sys_umask(t, a[0]),
            96 => self.sys_gettimeofday(t, a[0]),
            97 => self.sys_prlimit(t, a[0], a[1]),
            99 => self.sys_sysinfo(t, a[0]),
            102 | 104 | 107 | 108 => Ok(0), // getuid, getgid, geteuid, getegid: root
            109 => self.sys_setpgid(t, a[0], a[1]),
            110 => Ok(self.groups.get(&t.tgid).map_or(1, |g| g.ppid)),
            111 => self.sys_getpgid(t, 0, false),
            112 => self.sys_setsid(t),
            115 => self.sys_getgroups(t, a[0], a[1]),
            118 | 120 => self.sys_getresid(t, a[0], a[1], a[2]),
            121 => self.sys_getpgid(t, a[0], false),
            124 => self.sys_getpgid(t, a[0], true),
            127 => self.sys_rt_sigpending(t, a[0], a[1]),
            128 => self.sys_rt_sigtimedwait(t, a[0], a[1], a[2], a[3]),
            130 => self.sys_sigsuspend(t, Some((a[0], a[1]))),
            131 => self.sys_sigaltstack(t, a[0], a[1]),
            137 => self.sys_statfs(t, a[0], a[1]),
            138 => self.sys_fstatfs(t, a[0], a[1]),
            157 => self.sys_prctl(t, a[0], a[1]),
            158 => self.sys_arch_prctl(t, a[0], a[1]),
            186 => Ok(t.tid),
            188..=199 => self.sys_xattr(t, nr, a[0]),
            200 => self.sys_tgkill(t, None, a[0], a[1]),
            201 => self.sys_time(t, a[0]),
            202 => self.sys_futex(t, a),
            204 => self.sys_sched_getaffinity(t, a[1], a[2]),
            217 => self.sys_getdents64(t, a[0], a[1], a[2]),
            218 => self.sys_set_tid_address(t, a[0]),
            221 => self.sys_fadvise(t, a[0]),
            222 => self.sys_timer_create(t, a[0], a[1], a[2]),
            223 => self.sys_timer_settime(t, a[0], a[1], a[2], a[3]),
            224 => self.sys_timer_gettime(t, a[0], a[1]),
            225 => self.sys_timer_getoverrun(t, a[0]),
            226 => self.sys_timer_delete(t, a[0]),
            228 => self.sys_clock_gettime(t, a[0], a[1]),
            229 => self.sys_clock_getres(t, a[1]),
            230 => self.sys_clock_nanosleep(t, a[0], a[1], a[2], a[3]),
            231 => self.sys_exit_group(t, a[0]),
            234 => self.sys_tgkill(t, Some(a[0]), a[1], a[2]),
            257 => self.sys_openat(t, a[0], a[1], a[2], a[3]),
            258 => self.sys_mkdirat(t, a[0], a[1], a[2]),
            262 => self.sys_fstatat(t, a[0], a[1], a[2], a[3]),
            263 => self.sys_unlinkat(t, a[0], a[1], a[2]),
            264 | 316 => self.sys_renameat(t, a[0], a[1], a[2], a[3]),
            267 => self.sys_readlinkat(t, a[0], a[1], a[2], a[3]),
            268 => self.sys_fchmodat(t, a[0], a[1], a[2]),
            269 | 439 => self.sys_faccessat(t, a[0], a[1]),
            270 => self.sys_pselect6(t, a),
            271 => self.sys_ppoll(t, a),
            273 => self.sys_set_robust_list(t, a[0], a[1]),
            274 => self.sys_get_robust_list(t, a[0], a[1], a[2]),
            292 => self.sys_dup2(t, a[0], a[1], a[2] & O_CLOEXEC != 0),
            293 => self.sys_pipe2(t, a[0], a[1]),
            302 => self.sys_prlimit(t, a[1], a[3]),
            318 => self.sys_getrandom(t, a[0], a[1]),
            326 => self.sys_copy_file_range(t, a),
            // rseq and statx: Linux may lack them and glibc falls back quietly.
            332 | 334 => Err(ENOSYS),
            435 => self.sys_clone3(t, a[0], a[1]),
            436 => self.sys_close_range(t, a[0], a[1], a[2]),
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

    // ------------------------------------------------------------ file I/O

    fn sys_read(&mut self, t: &mut Task, fd: u64, buf: u64, count: u64) -> SysResult {
        let data = self.read_fd(t, fd, (count as usize).min(MAX_IO))?;
        t.write_mem(buf, &data)?;
        Ok(data.len() as u64)
    }

    /// Reads up to `max` bytes from a pipe or a host file. A host read
    /// that might wait (terminal, host pipe) is left to the scheduler
    /// first, so that other tasks run meanwhile (see `sched`).
    fn read_fd(&mut self, t: &mut Task, fd: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let file = self.file(t, fd)?;
        if file.status_flags as u64 & O_ACCMODE == 1 {
            return Err(EBADF); // opened O_WRONLY
        }
        let nonblock = file.status_flags as u64 & O_NONBLOCK != 0;
        match file.backing {
            Backing::Pipe(end) => self.pipe_read(t, end, max, nonblock),
            Backing::Host(host) => {
                let may_block = t.restart.take().is_some_and(|r| r.may_block);
                if !may_block && max > 0 && self.host_read_may_wait(host) {
                    return self.block(t, WaitOn::HostRead(host), None);
                }
                let mut data = vec![0u8; max];
                let n = self.host.read(host, &mut data)?;
                data.truncate(n);
                Ok(data)
            }
        }
    }

    /// Whether reading host handle `h` could wait for input.
    fn host_read_may_wait(&mut self, h: u64) -> bool {
        match self.host.readable(h) {
            Some(ready) => !ready,
            // Without an answer: regular files and directories never wait.
            None => self
                .host
                .fstat(h)
                .is_ok_and(|st| !matches!(st.mode & 0o170000, 0o100000 | 0o040000 | 0o060000)),
        }
    }

    fn sys_pread(&mut self, t: &mut Task, fd: u64, buf: u64, count: u64, offset: u64) -> SysResult {
        let host = self.host_fd(t, fd)?;
        if (offset as i64) < 0 {
            return Err(EINVAL);
        }
        let mut data = vec![0u8; (count as usize).min(MAX_IO)];
        let n = self.host.pread(host, &mut data, offset)?;
        t.write_mem(buf, &data[..n])?;
        Ok(n as u64)
    }

    fn sys_write(&mut self, t: &mut Task, fd: u64, buf: u64, count: u64) -> SysResult {
        let data = t.read_mem(buf, (count as usize).min(MAX_IO))?;
        self.write_fd(t, fd, &data)
    }

    /// Writes to a host file or a pipe.
    fn write_fd(&mut self, t: &mut Task, fd: u64, data: &[u8]) -> SysResult {
        let file = self.file(t, fd)?;
        if file.status_flags as u64 & O_ACCMODE == 0 {
            return Err(EBADF); // opened O_RDONLY
        }
        match file.backing {
            Backing::Pipe(end) => {
                let nonblock = file.status_flags as u64 & O_NONBLOCK != 0;
                self.pipe_write(t, end, data, nonblock)
            }
            Backing::Host(host) => Ok(self.host.write(host, data)? as u64),
        }
    }

    fn iovecs(&mut self, t: &mut Task, iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
        if count > 1024 {
            return Err(EINVAL);
        }
        (0..count)
            .map(|i| Ok((t.read_u64(iov + 16 * i)?, t.read_u64(iov + 16 * i + 8)?)))
            .collect()
    }

    /// readv: one read, scattered over the buffers.
    fn sys_readv(&mut self, t: &mut Task, fd: u64, iov: u64, count: u64) -> SysResult {
        let iovecs = self.iovecs(t, iov, count)?;
        let total = iovecs
            .iter()
            .fold(0u64, |sum, &(_, len)| sum.saturating_add(len));
        let data = self.read_fd(t, fd, (total as usize).min(MAX_IO))?;
        let mut done = 0;
        for (base, len) in iovecs {
            let n = (len as usize).min(data.len() - done);
            t.write_mem(base, &data[done..done + n])?;
            done += n;
        }
        Ok(done as u64)
    }

    /// writev: the buffers gathered into one write.
    fn sys_writev(&mut self, t: &mut Task, fd: u64, iov: u64, count: u64) -> SysResult {
        self.file(t, fd)?;
        let mut data = Vec::new();
        for (base, len) in self.iovecs(t, iov, count)? {
            let room = MAX_IO - data.len();
            data.extend_from_slice(&t.read_mem(base, (len as usize).min(room))?);
            if data.len() >= MAX_IO {
                break;
            }
        }
        self.write_fd(t, fd, &data)
    }

    fn sys_pwrite(
        &mut self,
        t: &mut Task,
        fd: u64,
        buf: u64,
        count: u64,
        offset: u64,
    ) -> SysResult {
        let host = self.host_fd(t, fd)?;
        if (offset as i64) < 0 {
            return Err(EINVAL);
        }
        let data = t.read_mem(buf, (count as usize).min(MAX_IO))?;
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
    fn optional_offset(&mut self, t: &mut Task, ptr: u64) -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let offset = t.read_u64(ptr)?;
        if (offset as i64) < 0 {
            return Err(EINVAL);
        }
        Ok(Some(offset))
    }

    fn sys_sendfile(
        &mut self,
        t: &mut Task,
        out_fd: u64,
        in_fd: u64,
        offset_ptr: u64,
        count: u64,
    ) -> SysResult {
        // Pipes are not sendfile endpoints here; callers fall back to read/write.
        let (out_host, in_host) = (
            self.host_fd(t, out_fd).map_err(|_| EINVAL)?,
            self.host_fd(t, in_fd).map_err(|_| EINVAL)?,
        );
        let offset = self.optional_offset(t, offset_ptr)?;
        let n = self.copy_between((in_host, offset), (out_host, None), count)?;
        if let Some(offset) = offset {
            t.write_mem(offset_ptr, &(offset + n as u64).to_le_bytes())?;
        }
        Ok(n as u64)
    }

    /// copy_file_range(2) between regular files; anything else is EINVAL,
    /// as Linux answers for pipes and devices (callers fall back to read/write).
    fn sys_copy_file_range(&mut self, t: &mut Task, a: [u64; 6]) -> SysResult {
        let [in_fd, in_ptr, out_fd, out_ptr, count, flags] = a;
        let (in_host, out_host) = (self.host_fd(t, in_fd), self.host_fd(t, out_fd));
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
        let in_offset = self.optional_offset(t, in_ptr)?;
        let out_offset = self.optional_offset(t, out_ptr)?;
        let n = self.copy_between((in_host, in_offset), (out_host, out_offset), count)?;
        for (ptr, offset) in [(in_ptr, in_offset), (out_ptr, out_offset)] {
            if let Some(offset) = offset {
                t.write_mem(ptr, &(offset + n as u64).to_le_bytes())?;
            }
        }
        Ok(n as u64)
    }

    /// posix_fadvise: advice a kernel may ignore, after the checks Linux makes.
    fn sys_fadvise(&mut self, t: &mut Task, fd: u64) -> SysResult {
        self.host_fd(t, fd)?;
        Ok(0)
    }

    fn sys_openat(
        &mut self,
        t: &mut Task,
        dirfd: u64,
        path: u64,
        flags: u64,
        mode: u64,
    ) -> SysResult {
        let path = self.path_at(t, dirfd, path)?;
        if let Some(fd) = own_fd_path(&path) {
            // Another descriptor for the same file or pipe (sharing its
            // offset, where Linux would open the file anew); ENOENT if closed.
            let mut file = self.dup_file(t, fd).map_err(|_| ENOENT)?;
            file.close_on_exec = flags & O_CLOEXEC != 0;
            return self.install(t, file, 0);
        }
        let access = flags & O_ACCMODE;
        let options = OpenOptions {
            read: access == 0 || access == 2,
            write: access == 1 || access == 2,
            create: flags & O_CREAT != 0,
            exclusive: flags & O_EXCL != 0,
            truncate: flags & O_TRUNC != 0,
            append: flags & O_APPEND != 0,
            directory: flags & O_DIRECTORY != 0,
            mode: (mode as u32) & !self.umask_of(t) & 0o7777,
        };
        let host = super::loader::open_following_links(&mut self.host, &path, options)?;
        // Kept absolute, so *at calls and fchdir still find it after a chdir.
        let path = if path.first() == Some(&b'/') {
            path
        } else {
            join_path(self.host.getcwd().unwrap_or_default(), &path)
        };
        let file = GuestFile {
            backing: Backing::Host(host),
            path,
            status_flags: (flags & (O_ACCMODE | O_APPEND | O_NONBLOCK)) as u32,
            close_on_exec: flags & O_CLOEXEC != 0,
            listing: None,
        };
        self.install(t, file, 0)
    }

    pub(super) fn sys_close(&mut self, t: &mut Task, fd: u64) -> SysResult {
        self.close_fd(t, fd).map(|()| 0)
    }

    /// close_range(2): closes (or, with CLOSE_RANGE_CLOEXEC, marks
    /// close-on-exec) every open descriptor in `[first, last]`.
    fn sys_close_range(&mut self, t: &mut Task, first: u64, last: u64, flags: u64) -> SysResult {
        const CLOSE_RANGE_UNSHARE: u64 = 1 << 1;
        const CLOSE_RANGE_CLOEXEC: u64 = 1 << 2;
        let (first, last) = (first as u32 as usize, last as u32 as usize);
        if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
            return Err(EINVAL);
        }
        let open = t.files.borrow().fds.len();
        for fd in first..=last.min(open.saturating_sub(1)) {
            if flags & CLOSE_RANGE_CLOEXEC != 0 {
                let _ = self.update_file(t, fd as u64, |f| f.close_on_exec = true);
            } else {
                let _ = self.close_fd(t, fd as u64);
            }
        }
        Ok(0)
    }

    fn sys_lseek(&mut self, t: &mut Task, fd: u64, offset: u64, whence: u64) -> SysResult {
        let host = self.host_fd(t, fd)?;
        if whence > 2 {
            return Err(EINVAL);
        }
        if offset == 0 && whence == 0 {
            self.update_file(t, fd, |f| f.listing = None)?; // rewinddir
        }
        self.host.seek(host, offset as i64, whence as u32)
    }

    fn sys_dup(&mut self, t: &mut Task, fd: u64, min: usize, cloexec: bool) -> SysResult {
        let mut file = self.dup_file(t, fd)?;
        file.close_on_exec = cloexec;
        self.install(t, file, min)
    }

    fn sys_dup2(&mut self, t: &mut Task, old: u64, new: u64, cloexec: bool) -> SysResult {
        let (old, new) = (old as u32 as u64, new as u32 as u64);
        let mut file = self.dup_file(t, old)?;
        if old == new {
            return Ok(new);
        }
        if new >= 1024 {
            return Err(EBADF);
        }
        if self.file(t, new).is_ok() {
            self.close_fd(t, new)?;
        }
        file.close_on_exec = cloexec;
        self.install(t, file, new as usize)
    }

    fn sys_fcntl(&mut self, t: &mut Task, fd: u64, cmd: u64, arg: u64) -> SysResult {
        const F_DUPFD: u64 = 0;
        const F_GETFD: u64 = 1;
        const F_SETFD: u64 = 2;
        const F_GETFL: u64 = 3;
        const F_SETFL: u64 = 4;
        const F_DUPFD_CLOEXEC: u64 = 1030;
        let file = self.file(t, fd)?;
        match cmd {
            F_DUPFD => self.sys_dup(t, fd, arg as usize, false),
            F_DUPFD_CLOEXEC => self.sys_dup(t, fd, arg as usize, true),
            F_GETFD => Ok(file.close_on_exec as u64),
            F_SETFD => {
                self.update_file(t, fd, |f| f.close_on_exec = arg & 1 != 0)?;
                Ok(0)
            }
            F_GETFL => Ok(file.status_flags as u64),
            F_SETFL => {
                // O_NONBLOCK is honoured on pipes; O_APPEND is kept for F_GETFL.
                let settable = (O_APPEND | O_NONBLOCK) as u32;
                self.update_file(t, fd, |f| {
                    f.status_flags = (f.status_flags & !settable) | (arg as u32 & settable)
                })?;
                Ok(0)
            }
            _ => Err(EINVAL),
        }
    }

    fn sys_ftruncate(&mut self, t: &mut Task, fd: u64, len: u64) -> SysResult {
        let host = self.host_fd(t, fd)?;
        self.host.truncate(host, len).map(|()| 0)
    }

    fn sys_ioctl(&mut self, t: &mut Task, fd: u64, request: u64, arg: u64) -> SysResult {
        const TCGETS: u64 = 0x5401;
        const TCSETS: u64 = 0x5402;
        const TCSETSF: u64 = 0x5404;
        const TIOCGPGRP: u64 = 0x540f;
        const TIOCSPGRP: u64 = 0x5410;
        const TIOCGWINSZ: u64 = 0x5413;
        let host = self
            .host_fd(t, fd)
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
                t.write_mem(arg, &termios)?;
                Ok(0)
            }
            TCSETS..=TCSETSF | TIOCSPGRP => Ok(0),
            TIOCGPGRP => {
                let pgid = self.groups.get(&t.tgid).map_or(t.tgid, |g| g.pgid);
                t.write_mem(arg, &(pgid as u32).to_le_bytes())?;
                Ok(0)
            }
            TIOCGWINSZ => {
                let winsize: [u16; 4] = [24, 80, 0, 0];
                let bytes: Vec<u8> = winsize.iter().flat_map(|v| v.to_le_bytes()).collect();
                t.write_mem(arg, &bytes)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn sys_getdents64(&mut self, t: &mut Task, fd: u64, buf: u64, count: u64) -> SysResult {
        let host = self.host_fd(t, fd)?;
        let listed = self.with_fd(t, fd, |f| f.listing.is_some())?;
        if !listed {
            let dot = |name: &[u8]| super::host::DirEntry {
                ino: 1,
                kind: 4,
                name: name.to_vec(),
            };
            let mut entries = vec![dot(b"."), dot(b"..")];
            entries.extend(self.host.read_dir(host)?);
            self.update_file(t, fd, |f| f.listing = Some((entries, 0)))?;
        }
        let mut out = Vec::new();
        let mut files = t.files.borrow_mut();
        let Some(GuestFile {
            listing: Some((entries, next)),
            ..
        }) = files
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.as_mut())
        else {
            return Err(EBADF);
        };
        let mut at = *next;
        while at < entries.len() {
            let e = &entries[at];
            let reclen = (19 + e.name.len() + 1).div_ceil(8) * 8;
            if out.len() + reclen > count as usize {
                break;
            }
            let start = out.len();
            out.extend_from_slice(&e.ino.to_le_bytes());
            out.extend_from_slice(&((at + 1) as u64).to_le_bytes());
            out.extend_from_slice(&(reclen as u16).to_le_bytes());
            out.push(e.kind);
            out.extend_from_slice(&e.name);
            out.resize(start + reclen, 0);
            at += 1;
        }
        if out.is_empty() && at < entries.len() {
            return Err(EINVAL);
        }
        drop(files);
        t.write_mem(buf, &out)?;
        // Entries count as read only once they reached the guest.
        self.update_file(t, fd, |f| {
            if let Some((_, next)) = f.listing.as_mut() {
                *next = at;
            }
        })?;
        Ok(out.len() as u64)
    }

    // ------------------------------------------------------------ metadata

    fn write_stat(&mut self, t: &mut Task, addr: u64, st: &FileStat) -> SysResult {
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
        t.write_mem(addr, &b)?;
        Ok(0)
    }

    fn sys_fstat(&mut self, t: &mut Task, fd: u64, buf: u64) -> SysResult {
        if let Backing::Pipe(end) = self.file(t, fd)?.backing {
            // S_IFIFO, rw for the owner; each pipe its own inode (tools
            // like diff compare dev/ino to spot the same file twice).
            let st = FileStat {
                dev: super::pipe::PIPEFS_DEV,
                ino: self.pipe(end.id)?.ino,
                mode: 0o010600,
                nlink: 1,
                blksize: 4096,
                ..FileStat::default()
            };
            return self.write_stat(t, buf, &st);
        }
        let host = self.host_fd(t, fd)?;
        let st = self.host.fstat(host)?;
        self.write_stat(t, buf, &st)
    }

    fn sys_fstatat(
        &mut self,
        t: &mut Task,
        dirfd: u64,
        path: u64,
        buf: u64,
        flags: u64,
    ) -> SysResult {
        let raw = t.read_cstr(path)?;
        if raw.is_empty() {
            if flags & AT_EMPTY_PATH != 0 {
                return self.sys_fstat(t, dirfd, buf);
            }
            return Err(ENOENT);
        }
        let full = self.resolve_at(t, dirfd, raw)?;
        if let Some(fd) = own_fd_path(&full) {
            return self.sys_fstat(t, fd, buf).map_err(|_| ENOENT);
        }
        let st = self.host.stat(&full, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        self.write_stat(t, buf, &st)
    }

    fn write_statfs(&mut self, t: &mut Task, addr: u64, st: &super::host::FsStat) -> SysResult {
        // struct statfs for x86_64 (asm-generic/statfs.h with 64-bit longs), 120 bytes.
        let words = [
            st.kind, st.bsize, st.blocks, st.bfree, st.bavail, st.files, st.ffree, st.fsid,
            st.namelen, st.frsize, st.flags, 0, 0, 0, 0,
        ];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        t.write_mem(addr, &bytes)?;
        Ok(0)
    }

    fn sys_statfs(&mut self, t: &mut Task, path: u64, buf: u64) -> SysResult {
        let full = self.path_at(t, AT_FDCWD as u64, path)?;
        // A missing path is ENOENT whatever the host can say about file systems.
        self.host.stat(&full, true)?;
        let st = self.host.statfs(Some(&full), 0)?;
        self.write_statfs(t, buf, &st)
    }

    fn sys_fstatfs(&mut self, t: &mut Task, fd: u64, buf: u64) -> SysResult {
        let host = self
            .host_fd(t, fd)
            .map_err(|e| if e == ESPIPE { ENOSYS } else { e })?;
        let st = self.host.statfs(None, host)?;
        self.write_statfs(t, buf, &st)
    }

    /// The extended-attribute calls (setxattr … fremovexattr, 188–199):
    /// the host interface carries no extended attributes, so once the file
    /// is found they answer ENOTSUP, as Linux does on a file system without
    /// xattr support (coreutils then reports no ACL or security context).
    fn sys_xattr(&mut self, t: &mut Task, nr: u64, target: u64) -> SysResult {
        const BY_FD: [u64; 4] = [190, 193, 196, 199];
        const NO_FOLLOW: [u64; 4] = [189, 192, 195, 198];
        if BY_FD.contains(&nr) {
            self.file(t, target)?;
        } else {
            let full = self.path_at(t, AT_FDCWD as u64, target)?;
            self.host.stat(&full, !NO_FOLLOW.contains(&nr))?;
        }
        Err(ENOTSUP)
    }

    fn sys_faccessat(&mut self, t: &mut Task, dirfd: u64, path: u64) -> SysResult {
        let full = self.path_at(t, dirfd, path)?;
        self.host.stat(&full, true).map(|_| 0)
    }

    fn sys_readlinkat(
        &mut self,
        t: &mut Task,
        dirfd: u64,
        path: u64,
        buf: u64,
        size: u64,
    ) -> SysResult {
        let full = self.path_at(t, dirfd, path)?;
        let target = if full == b"/proc/self/exe" {
            // Unknown when the image did not come from a path.
            let exe = self.groups.get(&t.tgid).map(|g| g.exe_path.clone());
            exe.filter(|p| !p.is_empty()).ok_or(ENOENT)?
        } else if let Some(fd) = own_fd_path(&full) {
            match self.file(t, fd).map_err(|_| ENOENT)?.backing {
                Backing::Pipe(end) => {
                    alloc::format!("pipe:[{}]", self.pipe(end.id)?.ino).into_bytes()
                }
                Backing::Host(_) => self.file_path(t, fd)?,
            }
        } else {
            self.host.readlink(&full)?
        };
        let n = target.len().min(size as usize);
        t.write_mem(buf, &target[..n])?;
        Ok(n as u64)
    }

    fn sys_unlinkat(&mut self, t: &mut Task, dirfd: u64, path: u64, flags: u64) -> SysResult {
        let full = self.path_at(t, dirfd, path)?;
        self.host
            .remove(&full, flags & AT_REMOVEDIR != 0)
            .map(|()| 0)
    }

    fn sys_mkdirat(&mut self, t: &mut Task, dirfd: u64, path: u64, mode: u64) -> SysResult {
        let full = self.path_at(t, dirfd, path)?;
        self.host
            .mkdir(&full, (mode as u32) & !self.umask_of(t) & 0o7777)
            .map(|()| 0)
    }

    fn sys_renameat(
        &mut self,
        t: &mut Task,
        olddir: u64,
        old: u64,
        newdir: u64,
        new: u64,
    ) -> SysResult {
        let from = self.path_at(t, olddir, old)?;
        let to = self.path_at(t, newdir, new)?;
        self.host.rename(&from, &to).map(|()| 0)
    }

    fn sys_fchmodat(&mut self, t: &mut Task, dirfd: u64, path: u64, mode: u64) -> SysResult {
        let full = self.path_at(t, dirfd, path)?;
        self.host.chmod(&full, (mode & 0o7777) as u32).map(|()| 0)
    }

    fn sys_getcwd(&mut self, t: &mut Task, buf: u64, size: u64) -> SysResult {
        let mut cwd = self.host.getcwd()?;
        cwd.push(0);
        if cwd.len() as u64 > size {
            return Err(ERANGE);
        }
        t.write_mem(buf, &cwd)?;
        Ok(cwd.len() as u64)
    }

    fn sys_chdir(&mut self, t: &mut Task, path: u64) -> SysResult {
        let path = t.read_cstr(path)?;
        self.change_dir(t, &path)
    }

    fn sys_fchdir(&mut self, t: &mut Task, fd: u64) -> SysResult {
        let path = self.file_path(t, fd)?;
        if path.is_empty() || self.host.stat(&path, true)?.mode & 0o170000 != 0o040000 {
            return Err(ENOTDIR);
        }
        self.change_dir(t, &path)
    }

    /// Moves the host and `t`'s process to directory `path`.
    fn change_dir(&mut self, t: &mut Task, path: &[u8]) -> SysResult {
        self.host.chdir(path)?;
        let cwd = self.host.getcwd().unwrap_or_else(|_| path.to_vec());
        if let Some(g) = self.groups.get_mut(&t.tgid) {
            g.cwd = cwd.clone();
        }
        self.host_cwd = cwd;
        Ok(0)
    }

    fn sys_umask(&mut self, t: &mut Task, mask: u64) -> SysResult {
        let g = self.groups.get_mut(&t.tgid).ok_or(ESRCH)?;
        let old = g.umask;
        g.umask = (mask & 0o777) as u32;
        Ok(old as u64)
    }

    // ------------------------------------------------------------ process

    fn sys_arch_prctl(&mut self, t: &mut Task, code: u64, addr: u64) -> SysResult {
        const ARCH_SET_GS: u64 = 0x1001;
        const ARCH_SET_FS: u64 = 0x1002;
        const ARCH_GET_FS: u64 = 0x1003;
        const ARCH_GET_GS: u64 = 0x1004;
        match code {
            ARCH_SET_FS => t.cpu.segs[SegReg::Fs as usize].base = addr,
            ARCH_SET_GS => t.cpu.segs[SegReg::Gs as usize].base = addr,
            ARCH_GET_FS => {
                t.write_mem(addr, &t.cpu.segs[SegReg::Fs as usize].base.to_le_bytes())?
            }
            ARCH_GET_GS => {
                t.write_mem(addr, &t.cpu.segs[SegReg::Gs as usize].base.to_le_bytes())?
            }
            _ => return Err(EINVAL),
        }
        Ok(0)
    }

    /// prctl(2): the thread's name (PR_SET_NAME, PR_GET_NAME); other
    /// options are not implemented (EINVAL, as for an unknown option).
    fn sys_prctl(&mut self, t: &mut Task, option: u64, arg: u64) -> SysResult {
        const PR_SET_NAME: u64 = 15;
        const PR_GET_NAME: u64 = 16;
        match option {
            PR_SET_NAME => {
                // Up to 15 bytes and a NUL, read up to the first NUL.
                let mut name = [0u8; 16];
                for (i, b) in name.iter_mut().take(15).enumerate() {
                    *b = t.read_mem(arg + i as u64, 1)?[0];
                    if *b == 0 {
                        break;
                    }
                }
                t.comm = name;
                Ok(0)
            }
            PR_GET_NAME => {
                t.write_mem(arg, &t.comm)?;
                Ok(0)
            }
            _ => Err(EINVAL),
        }
    }

    fn sys_fchmod(&mut self, t: &mut Task, fd: u64, mode: u64) -> SysResult {
        if let Backing::Pipe(_) = self.file(t, fd)?.backing {
            return Ok(0); // a pipe's inode has no permissions that matter here
        }
        let path = self.file_path(t, fd)?;
        if path.is_empty() {
            return Err(EBADF);
        }
        self.host.chmod(&path, (mode & 0o7777) as u32).map(|()| 0)
    }

    fn sys_uname(&mut self, t: &mut Task, buf: u64) -> SysResult {
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
        t.write_mem(buf, &b)?;
        Ok(0)
    }

    /// getrlimit/prlimit64: reports fixed limits; new limits are accepted
    /// and ignored (nothing here enforces them).
    fn sys_prlimit(&mut self, t: &mut Task, resource: u64, old: u64) -> SysResult {
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
            t.write_mem(old, &b)?;
        }
        Ok(0)
    }

    fn sys_sysinfo(&mut self, t: &mut Task, buf: u64) -> SysResult {
        let mut b = [0u8; 112];
        let (uptime, _) = self.host.clock(Clock::Monotonic);
        b[0..8].copy_from_slice(&uptime.to_le_bytes());
        // totalram and freeram: the run's shared frame pool (`--mem`).
        let (used, total) = t.mm.borrow().space.pool_usage();
        b[32..40].copy_from_slice(&total.to_le_bytes());
        let free = total.saturating_sub(used);
        b[40..48].copy_from_slice(&free.to_le_bytes());
        b[80..82].copy_from_slice(&1u16.to_le_bytes());
        b[104..108].copy_from_slice(&1u32.to_le_bytes());
        t.write_mem(buf, &b)?;
        Ok(0)
    }

    /// The guest runs as root (uid 0, gid 0) whose one group is 0.
    fn sys_getgroups(&mut self, t: &mut Task, size: u64, list: u64) -> SysResult {
        match size as u32 {
            0 => Ok(1),
            n if (n as i32) < 0 => Err(EINVAL),
            _ => {
                t.write_mem(list, &0u32.to_le_bytes())?;
                Ok(1)
            }
        }
    }

    fn sys_getresid(&mut self, t: &mut Task, real: u64, effective: u64, saved: u64) -> SysResult {
        for addr in [real, effective, saved] {
            t.write_mem(addr, &0u32.to_le_bytes())?;
        }
        Ok(0)
    }

    fn sys_sched_getaffinity(&mut self, t: &mut Task, size: u64, mask: u64) -> SysResult {
        if size < 8 {
            return Err(EINVAL);
        }
        t.write_mem(mask, &1u64.to_le_bytes())?;
        Ok(8)
    }

    // ------------------------------------------------------------ time, randomness

    fn sys_clock_gettime(&mut self, t: &mut Task, clock: u64, tp: u64) -> SysResult {
        let which = match clock {
            0 | 5 | 8 | 11 => Clock::Realtime,
            1..=7 | 9 => Clock::Monotonic,
            _ => return Err(EINVAL),
        };
        let (s, ns) = self.host.clock(which);
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&s.to_le_bytes());
        b[8..].copy_from_slice(&ns.to_le_bytes());
        t.write_mem(tp, &b)?;
        Ok(0)
    }

    fn sys_clock_getres(&mut self, t: &mut Task, tp: u64) -> SysResult {
        if tp != 0 {
            let mut b = [0u8; 16];
            b[8..].copy_from_slice(&1i64.to_le_bytes());
            t.write_mem(tp, &b)?;
        }
        Ok(0)
    }

    /// nanosleep(2): parks the task until the deadline.
    fn sys_nanosleep(&mut self, t: &mut Task, req: u64, rem: u64) -> SysResult {
        match t.restart.take() {
            Some(r) if r.outcome == Outcome::TimedOut => Ok(0),
            Some(r) => self.block(t, WaitOn::Sleep { rem }, r.deadline),
            None => {
                let deadline = self.now_ns().saturating_add(t.read_timespec_ns(req)?);
                self.block(t, WaitOn::Sleep { rem }, Some(deadline))
            }
        }
    }

    /// clock_nanosleep(2): relative, or until an absolute time on `clock`.
    fn sys_clock_nanosleep(
        &mut self,
        t: &mut Task,
        clock: u64,
        flags: u64,
        req: u64,
        rem: u64,
    ) -> SysResult {
        const TIMER_ABSTIME: u64 = 1;
        let which = match clock {
            0 | 11 => Clock::Realtime,
            1 | 7 => Clock::Monotonic,
            _ => return Err(EINVAL),
        };
        if flags & !TIMER_ABSTIME != 0 {
            return Err(EINVAL);
        }
        if flags & TIMER_ABSTIME == 0 {
            return self.sys_nanosleep(t, req, rem);
        }
        match t.restart.take() {
            Some(r) if r.outcome == Outcome::TimedOut => Ok(0),
            Some(r) => self.block(t, WaitOn::Sleep { rem: 0 }, r.deadline),
            None => {
                let left = t
                    .read_timespec_ns(req)?
                    .saturating_sub(self.clock_ns(which));
                let deadline = self.now_ns().saturating_add(left);
                self.block(t, WaitOn::Sleep { rem: 0 }, Some(deadline))
            }
        }
    }

    fn sys_gettimeofday(&mut self, t: &mut Task, tv: u64) -> SysResult {
        if tv != 0 {
            let (s, ns) = self.host.clock(Clock::Realtime);
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&s.to_le_bytes());
            b[8..].copy_from_slice(&(ns / 1000).to_le_bytes());
            t.write_mem(tv, &b)?;
        }
        Ok(0)
    }

    fn sys_time(&mut self, t: &mut Task, tloc: u64) -> SysResult {
        let (s, _) = self.host.clock(Clock::Realtime);
        if tloc != 0 {
            t.write_mem(tloc, &s.to_le_bytes())?;
        }
        Ok(s as u64)
    }

    fn sys_getrandom(&mut self, t: &mut Task, buf: u64, len: u64) -> SysResult {
        let mut data = vec![0u8; (len as usize).min(MAX_IO)];
        self.host.random(&mut data);
        t.write_mem(buf, &data)?;
        Ok(data.len() as u64)
    }
}

//! Differential harness: the host CPU is the oracle.
//!
//! Instruction sequences are generated from the decoder's own opcode
//! tables (`cpu::table`), run natively in a forked worker process (fixed
//! RWX code page + scratch data page at the same addresses the emulator
//! uses) and in the emulator, then GPRs, RFLAGS (SDM-undefined bits masked
//! per instruction), MXCSR, XMM0–15 and the scratch memory are compared.
//! A sequence that faults must fault the same way on both sides.
//!
//! CI size: `DIFF_SEQUENCES` (default 100 000); `DIFF_SEED` picks the seed.
//! `DIFF_FOCUS=x87` generates only x87 and MMX instructions, with register
//! files full of unsupported encodings or as MMX leaves them.
//! The long run: `cargo test -p guest-x86 --release --test differential -- --ignored`.

mod host;
mod rng;
use rng::{Rng, env_u64};

use guest_x86::cpu::decode::Insn;
use guest_x86::cpu::table::{self, Family, Map};
use guest_x86::cpu::{Cpu, CpuMode, Exception, Stop, decode};
use guest_x86::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE};

// Code and state live far (> 256 MiB) from the scratch page, out of reach of
// BT's register bit offsets; DATA + 0x1000 is a PROT_NONE guard page.
const CODE: u64 = 0x3000_0000;
const DATA: u64 = 0x7100_0000;
const STATE: u64 = 0x3800_0000;
const SCRATCH_LEN: usize = 4096;
const CODE_MAX: usize = 1024;
// Offsets inside the STATE page.
const IN_GPR: u64 = STATE;
const IN_FLAGS: u64 = STATE + 0x80;
const IN_MXCSR: u64 = STATE + 0x88;
const IN_XMM: u64 = STATE + 0x90;
/// FXSAVE image (x87 state) inside each area.
const IN_FX: u64 = STATE + 0x200;
const OUT_GPR: u64 = STATE + 0x400;
const OUT_FLAGS: u64 = STATE + 0x480;
const OUT_MXCSR: u64 = STATE + 0x488;
const OUT_XMM: u64 = STATE + 0x490;
const OUT_FX: u64 = STATE + 0x600;
const SAVE_RSP: u64 = STATE + 0x900;
const DEFAULT_MXCSR: u64 = STATE + 0x908;
const AREA_LEN: usize = 0x400;

const FLAGS_COMPARED: u64 = 0x8d5 | 0x400; // CF PF AF ZF SF OF + DF

mod ffi {
    unsafe extern "C" {
        pub fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
        pub fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64)
        -> *mut u8;
        pub fn fork() -> i32;
        pub fn pipe(fds: *mut i32) -> i32;
        pub fn read(fd: i32, buf: *mut u8, n: usize) -> isize;
        pub fn write(fd: i32, buf: *const u8, n: usize) -> isize;
        pub fn close(fd: i32) -> i32;
        pub fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
        pub fn _exit(code: i32) -> !;
        pub fn getrusage(who: i32, usage: *mut i64) -> i32;
    }
}

// ---------------------------------------------------------------- machine state

#[derive(Clone, Debug, PartialEq)]
struct State {
    gpr: [u64; 16],
    rflags: u64,
    mxcsr: u32,
    xmm: [u128; 16],
    x87: X87,
    scratch: Vec<u8>,
}

/// The x87 state compared: control, status, abridged tags, ST(0)–ST(7).
#[derive(Clone, Copy, Debug, PartialEq)]
struct X87 {
    fcw: u16,
    fsw: u16,
    ftw: u8,
    st: [u128; 8],
}

impl State {
    fn area_bytes(&self) -> [u8; AREA_LEN] {
        let mut a = [0u8; AREA_LEN];
        for (i, r) in self.gpr.iter().enumerate() {
            a[i * 8..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
        }
        a[0x80..0x88].copy_from_slice(&self.rflags.to_le_bytes());
        a[0x88..0x8c].copy_from_slice(&self.mxcsr.to_le_bytes());
        for (i, x) in self.xmm.iter().enumerate() {
            a[0x90 + i * 16..0xa0 + i * 16].copy_from_slice(&x.to_le_bytes());
        }
        // FXSAVE layout (SDM Vol.2A Table 3-53): FCW, FSW, FTW, MXCSR, ST(i).
        let fx = &mut a[0x200..0x400];
        fx[0..2].copy_from_slice(&self.x87.fcw.to_le_bytes());
        fx[2..4].copy_from_slice(&self.x87.fsw.to_le_bytes());
        fx[4] = self.x87.ftw;
        fx[24..28].copy_from_slice(&self.mxcsr.to_le_bytes());
        for (i, v) in self.x87.st.iter().enumerate() {
            fx[32 + 16 * i..42 + 16 * i].copy_from_slice(&v.to_le_bytes()[..10]);
        }
        a
    }

    fn from_area(a: &[u8], scratch: Vec<u8>) -> State {
        let u64_at = |o: usize| u64::from_le_bytes(a[o..o + 8].try_into().unwrap());
        let mut gpr = [0; 16];
        for (i, r) in gpr.iter_mut().enumerate() {
            *r = u64_at(i * 8);
        }
        let mut xmm = [0; 16];
        for (i, x) in xmm.iter_mut().enumerate() {
            *x = u128::from_le_bytes(a[0x90 + i * 16..0xa0 + i * 16].try_into().unwrap());
        }
        State {
            gpr,
            rflags: u64_at(0x80),
            mxcsr: u32::from_le_bytes(a[0x88..0x8c].try_into().unwrap()),
            xmm,
            x87: {
                let fx = &a[0x200..0x400];
                let mut st = [0u128; 8];
                for (i, v) in st.iter_mut().enumerate() {
                    let mut b = [0u8; 16];
                    b[..10].copy_from_slice(&fx[32 + 16 * i..42 + 16 * i]);
                    *v = u128::from_le_bytes(b);
                }
                X87 {
                    fcw: u16::from_le_bytes([fx[0], fx[1]]),
                    fsw: u16::from_le_bytes([fx[2], fx[3]]),
                    ftw: fx[4],
                    st,
                }
            },
            scratch,
        }
    }
}

// ---------------------------------------------------------------- stub code

fn abs32(code: &mut Vec<u8>, addr: u64) {
    code.extend_from_slice(&(addr as u32).to_le_bytes());
}

/// `mov r64, [abs]` (load) or `mov [abs], r64` (store).
fn mov_abs(code: &mut Vec<u8>, reg: u8, addr: u64, store: bool) {
    code.push(0x48 | ((reg >> 3) << 2));
    code.push(if store { 0x89 } else { 0x8b });
    code.push(((reg & 7) << 3) | 4);
    code.push(0x25);
    abs32(code, addr);
}

/// `movdqu xmm, [abs]` or `movdqu [abs], xmm`.
fn movdqu_abs(code: &mut Vec<u8>, reg: u8, addr: u64, store: bool) {
    code.push(0xf3);
    if reg >= 8 {
        code.push(0x44);
    }
    code.extend_from_slice(&[
        0x0f,
        if store { 0x7f } else { 0x6f },
        ((reg & 7) << 3) | 4,
        0x25,
    ]);
    abs32(code, addr);
}

fn prologue() -> Vec<u8> {
    let mut c = vec![0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57];
    c.extend_from_slice(&[0x48, 0x89, 0x24, 0x25]);
    abs32(&mut c, SAVE_RSP);
    c.extend_from_slice(&[0x0f, 0xae, 0x0c, 0x25]); // fxrstor [IN_FX]
    abs32(&mut c, IN_FX);
    c.extend_from_slice(&[0x0f, 0xae, 0x14, 0x25]); // ldmxcsr
    abs32(&mut c, IN_MXCSR);
    for r in 0..16 {
        movdqu_abs(&mut c, r, IN_XMM + 16 * r as u64, false);
    }
    c.extend_from_slice(&[0xff, 0x34, 0x25]); // push qword [IN_FLAGS]
    abs32(&mut c, IN_FLAGS);
    c.push(0x9d); // popfq
    for r in 0..16 {
        mov_abs(&mut c, r, IN_GPR + 8 * r as u64, false);
    }
    c
}

fn epilogue() -> Vec<u8> {
    let mut c = Vec::new();
    for r in 0..16 {
        mov_abs(&mut c, r, OUT_GPR + 8 * r as u64, true);
    }
    c.extend_from_slice(&[0x48, 0x8b, 0x24, 0x25]); // mov rsp, [SAVE_RSP]
    abs32(&mut c, SAVE_RSP);
    c.push(0x9c); // pushfq
    c.extend_from_slice(&[0x8f, 0x04, 0x25]); // pop qword [OUT_FLAGS]
    abs32(&mut c, OUT_FLAGS);
    c.extend_from_slice(&[0x0f, 0xae, 0x1c, 0x25]); // stmxcsr
    abs32(&mut c, OUT_MXCSR);
    for r in 0..16 {
        movdqu_abs(&mut c, r, OUT_XMM + 16 * r as u64, true);
    }
    c.extend_from_slice(&[0x0f, 0xae, 0x04, 0x25]); // fxsave [OUT_FX]
    abs32(&mut c, OUT_FX);
    c.extend_from_slice(&[0xdb, 0xe3]); // fninit: leave a clean x87 for Rust
    c.extend_from_slice(&[0x0f, 0xae, 0x14, 0x25]); // ldmxcsr [DEFAULT_MXCSR]
    abs32(&mut c, DEFAULT_MXCSR);
    c.push(0xfc); // cld: the ABI requires DF = 0 on return
    c.extend_from_slice(&[
        0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3,
    ]);
    c
}

// ---------------------------------------------------------------- native worker

/// A forked child that runs code natively; it dies by signal on a fault.
struct Worker {
    pid: i32,
    to_child: i32,
    from_child: i32,
}

/// Outcome of a native run.
#[derive(Debug)]
enum Native {
    /// Final state; the OS switched the worker out meanwhile.
    Done(Box<State>, bool),
    /// Killed by this signal number.
    Signal(i32),
}

fn map_test_pages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        map_fixed(CODE, 4096, 7);
        map_fixed(DATA, 4096, 3);
        map_fixed(DATA + 0x1000, 4096, 0);
        map_fixed(STATE, 4096, 3);
        // SAFETY: STATE was just mapped read/write by us.
        unsafe { (DEFAULT_MXCSR as *mut u32).write(0x1f80) };
    });
}

fn map_fixed(addr: u64, len: usize, prot: i32) {
    const MAP_PRIVATE: i32 = 0x02;
    const MAP_ANONYMOUS: i32 = 0x20;
    const MAP_FIXED_NOREPLACE: i32 = 0x100000;
    // SAFETY: a fresh anonymous mapping at a fixed address no Rust object uses.
    let p = unsafe {
        ffi::mmap(
            addr as *mut u8,
            len,
            prot,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    assert_eq!(
        p as u64, addr,
        "mmap of the fixed test page at {addr:#x} failed"
    );
}

fn read_exact(fd: i32, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: writes into our own buffer.
        let n = unsafe { ffi::read(fd, buf[done..].as_mut_ptr(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

fn write_all(fd: i32, buf: &[u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: reads from our own buffer.
        let n = unsafe { ffi::write(fd, buf[done..].as_ptr(), buf.len() - done) };
        if n <= 0 {
            return false;
        }
        done += n as usize;
    }
    true
}

const REQUEST_LEN: usize = 4 + CODE_MAX + AREA_LEN + SCRATCH_LEN;
/// Final state, scratch page, and whether the OS switched the worker out
/// while it ran the code.
const RESPONSE_LEN: usize = AREA_LEN + SCRATCH_LEN + 1;

/// Context switches of this process so far (voluntary + involuntary).
fn context_switches() -> i64 {
    // struct rusage: two timevals, then 14 longs; ru_nvcsw and ru_nivcsw last.
    let mut usage = [0i64; 18];
    // SAFETY: getrusage(RUSAGE_SELF) fills the 144-byte struct we pass.
    unsafe { ffi::getrusage(0, usage.as_mut_ptr()) };
    usage[16] + usage[17]
}

/// The child's loop: allocation-free, it only copies and calls.
fn worker_loop(input: i32, output: i32) -> ! {
    let mut req = [0u8; REQUEST_LEN];
    let mut resp = [0u8; RESPONSE_LEN];
    loop {
        if !read_exact(input, &mut req) {
            // SAFETY: terminating the child.
            unsafe { ffi::_exit(0) };
        }
        let code_len = u32::from_le_bytes([req[0], req[1], req[2], req[3]]) as usize;
        // SAFETY: CODE/STATE/DATA are our own fixed mappings; the code is the
        // stub around the generated sequence and returns with the ABI restored.
        unsafe {
            // The code page is writable only while it is filled: the guest
            // must see it read+execute, as the emulator maps it.
            ffi::mprotect(CODE as *mut u8, 4096, 3);
            std::ptr::copy_nonoverlapping(req[4..].as_ptr(), CODE as *mut u8, code_len);
            ffi::mprotect(CODE as *mut u8, 4096, 5);
            std::ptr::copy_nonoverlapping(
                req[4 + CODE_MAX..].as_ptr(),
                IN_GPR as *mut u8,
                AREA_LEN,
            );
            std::ptr::copy_nonoverlapping(
                req[4 + CODE_MAX + AREA_LEN..].as_ptr(),
                DATA as *mut u8,
                SCRATCH_LEN,
            );
            let f: extern "C" fn() = std::mem::transmute(CODE as usize);
            let switches = context_switches();
            f();
            resp[AREA_LEN + SCRATCH_LEN] = (context_switches() != switches) as u8;
            std::ptr::copy_nonoverlapping(OUT_GPR as *const u8, resp.as_mut_ptr(), AREA_LEN);
            std::ptr::copy_nonoverlapping(
                DATA as *const u8,
                resp[AREA_LEN..].as_mut_ptr(),
                SCRATCH_LEN,
            );
        }
        if !write_all(output, &resp) {
            // SAFETY: terminating the child.
            unsafe { ffi::_exit(0) };
        }
    }
}

impl Worker {
    /// Whether `addr` lies in a mapping of the native worker process (read
    /// from /proc/PID/maps): the worker is a fork of this test, so it has
    /// memory (heap, libraries, thread stacks) the emulated space lacks.
    fn maps_address(&self, addr: u64) -> bool {
        let Ok(maps) = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)) else {
            return false;
        };
        maps.lines().any(|line| {
            let range = line.split(' ').next().unwrap_or("");
            let Some((lo, hi)) = range.split_once('-') else {
                return false;
            };
            let parse = |t: &str| u64::from_str_radix(t, 16).ok();
            matches!((parse(lo), parse(hi)), (Some(lo), Some(hi)) if (lo..hi).contains(&addr))
        })
    }

    fn spawn() -> Worker {
        let mut a = [0i32; 2];
        let mut b = [0i32; 2];
        // SAFETY: plain pipe/fork; the child never returns into Rust test code.
        unsafe {
            assert_eq!(ffi::pipe(a.as_mut_ptr()), 0);
            assert_eq!(ffi::pipe(b.as_mut_ptr()), 0);
            let pid = ffi::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                ffi::close(a[1]);
                ffi::close(b[0]);
                worker_loop(a[0], b[1]);
            }
            ffi::close(a[0]);
            ffi::close(b[1]);
            Worker {
                pid,
                to_child: a[1],
                from_child: b[0],
            }
        }
    }

    fn run(&mut self, code: &[u8], init: &State) -> Native {
        let mut req = vec![0u8; REQUEST_LEN];
        req[0..4].copy_from_slice(&(code.len() as u32).to_le_bytes());
        req[4..4 + code.len()].copy_from_slice(code);
        req[4 + CODE_MAX..4 + CODE_MAX + AREA_LEN].copy_from_slice(&init.area_bytes());
        req[4 + CODE_MAX + AREA_LEN..].copy_from_slice(&init.scratch);
        let mut resp = vec![0u8; RESPONSE_LEN];
        if write_all(self.to_child, &req) && read_exact(self.from_child, &mut resp) {
            return Native::Done(
                Box::new(State::from_area(
                    &resp[..AREA_LEN],
                    resp[AREA_LEN..AREA_LEN + SCRATCH_LEN].to_vec(),
                )),
                resp[AREA_LEN + SCRATCH_LEN] != 0,
            );
        }
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe {
            ffi::waitpid(self.pid, &mut status, 0);
            ffi::close(self.to_child);
            ffi::close(self.from_child);
        }
        // The old pipe ends are closed already: do not let Drop close them again.
        std::mem::forget(std::mem::replace(self, Worker::spawn()));
        let signal = if status & 0x7f != 0 {
            status & 0x7f
        } else {
            -1 - ((status >> 8) & 0xff)
        };
        Native::Signal(signal)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SAFETY: closing our pipe ends makes the child exit; then reap it.
        unsafe {
            ffi::close(self.to_child);
            ffi::close(self.from_child);
            let mut status = 0;
            ffi::waitpid(self.pid, &mut status, 0);
        }
    }
}

// ---------------------------------------------------------------- emulator side

enum Emulated {
    /// Final state, undefined-flag mask, and where FNSTENV/FNSAVE stored
    /// the last-instruction pointers (see `pointers_cleared_by_os`).
    Done(Box<State>, u64, Vec<std::ops::Range<usize>>),
    Fault(Exception),
}

/// Runs the test code (which starts at `test_start`) in the emulator; the
/// returned mask holds the RFLAGS bits the SDM leaves undefined.
/// Instructions the emulator completed, by family (what the run covered).
#[derive(Default, Debug)]
struct Coverage {
    integer: u64,
    sse: u64,
    x87: u64,
}

fn emulate(
    full_code: &[u8],
    test_start: u64,
    test_end: u64,
    init: &State,
    coverage: &mut Coverage,
) -> Emulated {
    let mut space = AddressSpace::new(1 << 20);
    space.map(CODE, 4096, PROT_READ | PROT_EXEC).unwrap();
    space.poke(CODE, full_code).unwrap();
    space.map(DATA, 4096, PROT_READ | PROT_WRITE).unwrap();
    space.poke(DATA, &init.scratch).unwrap();
    let mut cpu = Cpu::new_long_mode_user();
    cpu.gpr = init.gpr;
    cpu.rflags = init.rflags;
    cpu.mxcsr = init.mxcsr;
    cpu.xmm = init.xmm;
    cpu.x87.control = init.x87.fcw;
    cpu.x87.status = init.x87.fsw;
    cpu.x87.tag = init.x87.ftw;
    let top = ((init.x87.fsw >> 11) & 7) as usize;
    for (i, v) in init.x87.st.iter().enumerate() {
        cpu.x87.regs[(top + i) & 7] = (*v as u64, (*v >> 64) as u16);
    }
    cpu.rip = test_start;
    let mut undefined = 0u64;
    let mut pointer_images = Vec::new();
    let mut steps = 0;
    while cpu.rip != test_end {
        steps += 1;
        if steps > 10_000 {
            panic!("emulator did not reach the end of the sequence");
        }
        let mut bytes = [0u8; 15];
        let _ = space.peek(cpu.rip, &mut bytes);
        let insn = decode(&bytes, CpuMode::Bits64).ok();
        let before = cpu.clone();
        match cpu.step(&mut space) {
            Ok(()) => {}
            Err(Stop::Exception(e)) => return Emulated::Fault(e),
            Err(other) => panic!("unexpected stop {other:?}"),
        }
        if let Some(insn) = &insn {
            if let Some(range) = stored_pointers(insn, &before) {
                pointer_images.push(range);
            }
            match insn.info.family {
                Family::Sse => coverage.sse += 1,
                Family::X87 => coverage.x87 += 1,
                _ => coverage.integer += 1,
            }
        }
        if let Some(insn) = insn {
            if read_flags(&insn) & undefined != 0 {
                // Reads a flag an earlier instruction left undefined.
                return Emulated::Done(
                    Box::new(final_state(&cpu, Vec::new())),
                    RESULT_UNDEFINED,
                    Vec::new(),
                );
            }
            let u = undefined_flags(&insn, &before);
            if u & RESULT_UNDEFINED != 0 {
                // The result itself is undefined: nothing after it is comparable.
                return Emulated::Done(
                    Box::new(final_state(&cpu, Vec::new())),
                    RESULT_UNDEFINED,
                    Vec::new(),
                );
            }
            // Flags written by this instruction replace earlier undefined ones.
            undefined = (undefined & !written_flags(&insn)) | u;
        }
    }
    let mut scratch = vec![0u8; SCRATCH_LEN];
    space.peek(DATA, &mut scratch).unwrap();
    Emulated::Done(
        Box::new(final_state(&cpu, scratch)),
        undefined,
        pointer_images,
    )
}

/// The scratch bytes holding FIP, FCS, FOP, FDP and FDS when `insn` is
/// FNSTENV or FNSAVE (SDM Vol.1 Figures 8-9, 8-11).
fn stored_pointers(insn: &Insn, before: &Cpu) -> Option<std::ops::Range<usize>> {
    let m = insn.mem?;
    if insn.map != Map::OneByte || !matches!((insn.opcode, insn.reg & 7), (0xd9 | 0xdd, 6)) {
        return None;
    }
    let next_rip = before.rip + insn.len as u64;
    let mut ea = m.disp as u64;
    if m.rip_relative {
        ea = ea.wrapping_add(next_rip);
    }
    if let Some(b) = m.base {
        ea = ea.wrapping_add(before.gpr[b as usize]);
    }
    if let Some(i) = m.index {
        ea = ea.wrapping_add(before.gpr[i as usize].wrapping_mul(m.scale as u64));
    }
    if insn.addr_size == 4 {
        ea &= 0xffff_ffff;
    }
    let (from, to) = if insn.op_size == 2 { (6, 14) } else { (12, 26) };
    let start = ea.wrapping_add(from).wrapping_sub(DATA) as usize;
    (start + (to - from) as usize <= SCRATCH_LEN).then(|| start..start + (to - from) as usize)
}

/// The host's FIP/FCS/FOP/FDP/FDS read as zero after the OS switched
/// tasks in between: Linux's XSAVES/XRSTORS keep them only while an
/// exception is pending (AMD), so a preemption between an x87
/// instruction and FNSTENV/FNSAVE clears them (a probe saw 22 such
/// images in 3M, all with a context switch, none without). Called only
/// when the worker was switched out, it accepts exactly that: image
/// bytes that are all zero on the host, whatever the emulator stored.
/// Returns whether it had to.
fn pointers_cleared_by_os(e: &mut State, n: &State, images: &[std::ops::Range<usize>]) -> bool {
    let mut cleared = false;
    for r in images {
        if n.scratch[r.clone()].iter().all(|&b| b == 0)
            && e.scratch[r.clone()] != n.scratch[r.clone()]
        {
            e.scratch[r.clone()].fill(0);
            cleared = true;
        }
    }
    cleared
}

fn final_state(cpu: &Cpu, scratch: Vec<u8>) -> State {
    let top = ((cpu.x87.status >> 11) & 7) as usize;
    let mut st = [0u128; 8];
    for (i, v) in st.iter_mut().enumerate() {
        let (mant, se) = cpu.x87.regs[(top + i) & 7];
        *v = ((se as u128) << 64) | mant as u128;
    }
    State {
        gpr: cpu.gpr,
        rflags: cpu.rflags,
        mxcsr: cpu.mxcsr,
        xmm: cpu.xmm,
        x87: X87 {
            fcw: cpu.x87.control,
            fsw: cpu.x87.status,
            ftw: cpu.x87.tag,
            st,
        },
        scratch,
    }
}

const CF: u64 = 1;
const PF: u64 = 4;
const AF: u64 = 0x10;
const ZF: u64 = 0x40;
const SF: u64 = 0x80;
const OF: u64 = 0x800;
const ALL: u64 = CF | PF | AF | ZF | SF | OF;
/// Sentinel: the instruction's result is undefined, skip the comparison.
const RESULT_UNDEFINED: u64 = 1 << 63;

/// Status flags an instruction overwrites (so earlier undefined bits become defined).
fn written_flags(insn: &Insn) -> u64 {
    let op = insn.opcode;
    match insn.map {
        Map::OneByte => match op {
            0x00..=0x3f if op & 7 < 6 => ALL,
            0x80..=0x85 | 0xa8 | 0xa9 => ALL,
            _ => 0,
        },
        _ => 0,
    }
}

/// Status flags an instruction reads.
fn read_flags(insn: &Insn) -> u64 {
    let op = insn.opcode;
    let reg = insn.reg & 7;
    match insn.map {
        Map::OneByte => match op {
            0x10..=0x1d => CF,
            0x80..=0x83 if reg == 2 || reg == 3 => CF,
            0xc0 | 0xc1 | 0xd0..=0xd3 if reg == 2 || reg == 3 => CF,
            0x70..=0x7f | 0x9c | 0x9f | 0xe0 | 0xe1 => ALL,
            0xf5 => CF,
            // FCMOVcc tests CF, ZF, PF.
            0xda | 0xdb if insn.md == 3 && insn.reg & 7 < 4 => ALL,
            // A shift by zero leaves every flag as it was: treat as a read.
            0xc0 | 0xc1 | 0xd2 | 0xd3 => ALL,
            _ => 0,
        },
        Map::Map0F => match op {
            0x40..=0x4f | 0x80..=0x8f | 0x90..=0x9f | 0xa4 | 0xa5 | 0xac | 0xad => ALL,
            _ => 0,
        },
        _ => 0,
    }
}

/// RFLAGS bits the SDM leaves undefined for this instruction with these inputs.
fn undefined_flags(insn: &Insn, cpu: &Cpu) -> u64 {
    let op = insn.opcode;
    let reg = insn.reg & 7;
    let size = match (insn.map, op) {
        (
            Map::OneByte,
            0xc0
            | 0xd0
            | 0xd2
            | 0xf6
            | 0x20..=0x24
            | 0x08..=0x0c
            | 0x30..=0x34
            | 0x80
            | 0x84
            | 0xa8,
        ) => 1,
        _ => insn.op_size,
    };
    let bits = size as u64 * 8;
    match (insn.map, op) {
        // Logic: AF undefined (SDM Vol.2A AND/OR/XOR/TEST).
        (Map::OneByte, 0x08..=0x0d | 0x20..=0x25 | 0x30..=0x35 | 0x84 | 0x85 | 0xa8 | 0xa9) => AF,
        (Map::OneByte, 0x80..=0x83) if matches!(reg, 1 | 4 | 6) => AF,
        (Map::OneByte, 0xf6 | 0xf7) if reg < 2 => AF,
        // MUL/IMUL: SF ZF AF PF undefined; DIV/IDIV: all.
        (Map::OneByte, 0xf6 | 0xf7) if reg == 4 || reg == 5 => SF | ZF | AF | PF,
        (Map::OneByte, 0xf6 | 0xf7) if reg >= 6 => ALL,
        (Map::OneByte, 0x69 | 0x6b) | (Map::Map0F, 0xaf) => SF | ZF | AF | PF,
        // Shifts and rotates.
        (Map::OneByte, 0xc0 | 0xc1 | 0xd0..=0xd3) => {
            let raw = match op {
                0xc0 | 0xc1 => insn.imm,
                0xd0 | 0xd1 => 1,
                _ => cpu.gpr[1] & 0xff,
            };
            let count = raw & if size == 8 { 0x3f } else { 0x1f };
            if count == 0 {
                return 0;
            }
            let mut u = if count != 1 { OF } else { 0 };
            if reg >= 4 {
                u |= AF;
                if count >= bits && reg != 7 {
                    u |= CF;
                }
            }
            u
        }
        (Map::Map0F, 0xa4 | 0xa5 | 0xac | 0xad) => {
            let raw = if op & 1 == 0 {
                insn.imm
            } else {
                cpu.gpr[1] & 0xff
            };
            let count = raw & if size == 8 { 0x3f } else { 0x1f };
            if count == 0 {
                0
            } else if count > bits {
                RESULT_UNDEFINED
            } else if count == 1 {
                AF
            } else {
                AF | OF
            }
        }
        // BT family: OF SF AF PF undefined.
        (Map::Map0F, 0xa3 | 0xab | 0xb3 | 0xbb | 0xba) => OF | SF | AF | PF,
        // BSF/BSR: all but ZF; TZCNT/LZCNT: all but CF and ZF.
        (Map::Map0F, 0xbc | 0xbd) if insn.rep == 0xf3 => OF | SF | AF | PF,
        (Map::Map0F, 0xbc | 0xbd) => CF | OF | SF | AF | PF,
        _ => 0,
    }
}

// ---------------------------------------------------------------- generator

impl Rng {
    fn interesting(&mut self) -> u64 {
        const SPECIAL: [u64; 12] = [
            0,
            1,
            2,
            u64::MAX,
            0x7f,
            0x80,
            0xff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0000,
        ];
        match self.below(8) {
            0..=2 => SPECIAL[self.below(SPECIAL.len() as u64) as usize],
            3 => self.below(64),
            4 => self.next() & 0xffff,
            _ => self.next(),
        }
    }
}

/// SSE forms in scope: (mandatory prefix, opcode).
#[rustfmt::skip]
const SSE_FORMS: &[(u8, u8)] = &[
    (0, 0x10),
    (0x66, 0x10),
    (0xf3, 0x10),
    (0xf2, 0x10),
    (0, 0x11),
    (0x66, 0x11),
    (0xf3, 0x11),
    (0xf2, 0x11),
    (0, 0x12),
    (0x66, 0x12),
    (0, 0x13),
    (0x66, 0x13),
    (0, 0x14),
    (0x66, 0x14),
    (0, 0x15),
    (0x66, 0x15),
    (0, 0x16),
    (0x66, 0x16),
    (0, 0x17),
    (0x66, 0x17),
    (0, 0x28),
    (0x66, 0x28),
    (0, 0x29),
    (0x66, 0x29),
    (0, 0x50),
    (0x66, 0x50),
    (0, 0x54),
    (0x66, 0x54),
    (0, 0x55),
    (0x66, 0x55),
    (0, 0x56),
    (0x66, 0x56),
    (0, 0x57),
    (0x66, 0x57),
    (0x66, 0x6e),
    (0x66, 0x6f),
    (0xf3, 0x6f),
    (0x66, 0x70),
    (0xf3, 0x70),
    (0xf2, 0x70),
    (0x66, 0x71),
    (0x66, 0x72),
    (0x66, 0x73),
    (0x66, 0x7e),
    (0xf3, 0x7e),
    (0x66, 0x7f),
    (0xf3, 0x7f),
    (0x66, 0xc4),
    (0x66, 0xc5),
    (0, 0xc6),
    (0x66, 0xc6),
    (0x66, 0xd6),
    (0x66, 0xd7),
    // Floating point (softfloat): arithmetic, MIN/MAX, SQRT, CMPcc in all four shapes.
    (0, 0x51), (0x66, 0x51), (0xf3, 0x51), (0xf2, 0x51), (0, 0x58), (0x66, 0x58), (0xf3, 0x58), (0xf2, 0x58),
    (0, 0x59), (0x66, 0x59), (0xf3, 0x59), (0xf2, 0x59), (0, 0x5c), (0x66, 0x5c), (0xf3, 0x5c), (0xf2, 0x5c),
    (0, 0x5d), (0x66, 0x5d), (0xf3, 0x5d), (0xf2, 0x5d), (0, 0x5e), (0x66, 0x5e), (0xf3, 0x5e), (0xf2, 0x5e),
    (0, 0x5f), (0x66, 0x5f), (0xf3, 0x5f), (0xf2, 0x5f), (0, 0xc2), (0x66, 0xc2), (0xf3, 0xc2), (0xf2, 0xc2),
    // RCP/RSQRT approximations, as the host computes them.
    (0, 0x52), (0xf3, 0x52), (0, 0x53), (0xf3, 0x53),
    // Comparisons into RFLAGS and conversions.
    (0, 0x2e), (0x66, 0x2e), (0, 0x2f), (0x66, 0x2f), (0xf3, 0x2a), (0xf2, 0x2a), (0xf3, 0x2c), (0xf2, 0x2c),
    (0xf3, 0x2d), (0xf2, 0x2d), (0, 0x5a), (0x66, 0x5a), (0xf3, 0x5a), (0xf2, 0x5a), (0, 0x5b), (0x66, 0x5b),
    (0xf3, 0x5b), (0x66, 0xe6), (0xf3, 0xe6), (0xf2, 0xe6),
    // SSE3.
    (0xf3, 0x12), (0xf3, 0x16), (0xf2, 0x12), (0xf2, 0xf0), (0xf2, 0x7c), (0x66, 0x7c), (0xf2, 0x7d),
    (0x66, 0x7d), (0xf2, 0xd0), (0x66, 0xd0),
    // MMX and the SSE forms on MMX registers.
    (0, 0x60), (0, 0x61), (0, 0x62), (0, 0x63), (0, 0x64), (0, 0x65), (0, 0x66), (0, 0x67), (0, 0x68),
    (0, 0x69), (0, 0x6a), (0, 0x6b), (0, 0x6e), (0, 0x6f), (0, 0x70), (0, 0x71), (0, 0x72), (0, 0x73),
    (0, 0x74), (0, 0x75), (0, 0x76), (0, 0x77), (0, 0x7e), (0, 0x7f), (0, 0xc4), (0, 0xc5), (0, 0xd1),
    (0, 0xd2), (0, 0xd3), (0, 0xd4), (0, 0xd5), (0, 0xd7), (0, 0xd8), (0, 0xd9), (0, 0xda), (0, 0xdb),
    (0, 0xdc), (0, 0xdd), (0, 0xde), (0, 0xdf), (0, 0xe0), (0, 0xe1), (0, 0xe2), (0, 0xe3), (0, 0xe4),
    (0, 0xe5), (0, 0xe7), (0, 0xe8), (0, 0xe9), (0, 0xea), (0, 0xeb), (0, 0xec), (0, 0xed), (0, 0xee),
    (0, 0xef), (0, 0xf1), (0, 0xf2), (0, 0xf3), (0, 0xf4), (0, 0xf5), (0, 0xf6), (0, 0xf7), (0, 0xf8),
    (0, 0xf9), (0, 0xfa), (0, 0xfb), (0, 0xfc), (0, 0xfd), (0, 0xfe), (0, 0x2a), (0x66, 0x2a), (0, 0x2c),
    (0x66, 0x2c), (0, 0x2d), (0x66, 0x2d), (0xf3, 0xd6), (0xf2, 0xd6), (0x66, 0xf7),
];

/// Integer 66-prefixed packed ops in scope.
fn sse_integer_op(op: u8) -> bool {
    matches!(op, 0x60..=0x6d | 0x74..=0x76 | 0xd1..=0xd5 | 0xd8..=0xdf | 0xe0..=0xe5 | 0xe8..=0xef | 0xf1..=0xf6 | 0xf8..=0xfe)
}

/// Whether the harness runs an opcode of a map (from the decoder's table).
fn in_scope(map: Map, op: u8) -> bool {
    let info = table::lookup(map, op);
    if info.invalid64 {
        return false;
    }
    match info.family {
        Family::Alu | Family::Move | Family::Shift | Family::MulDiv | Family::Bits => match map {
            // 8E: MOV Sreg (privileged selectors); D7: XLAT (RBX-based, covered below).
            Map::OneByte => !matches!(op, 0x8e | 0x40..=0x4f),
            Map::Map0F => !matches!(op, 0xb2 | 0xb4 | 0xb5),
            Map::Map0F38 => matches!(op, 0xf0 | 0xf1),
            Map::Map0F3A => false,
        },
        // INS/OUTS included: at CPL 3 with IOPL 0 both sides must #GP.
        Family::String => true,
        // POPF comes with a controlled image (see `instruction_once`).
        // ENTER/LEAVE use RBP, which often points into the scratch page.
        Family::Stack => matches!(
            (map, op),
            (
                Map::OneByte,
                0x50..=0x5f | 0x68 | 0x6a | 0x8f | 0x9c | 0x9d | 0xc8 | 0xc9
            )
        ),
        // RET pops a (mostly wild) return address: both sides must fault alike.
        Family::Control => matches!(
            (map, op),
            (Map::OneByte, 0x70..=0x7f | 0xe0..=0xe3 | 0xe8 | 0xe9 | 0xeb | 0xc2 | 0xc3) | (Map::Map0F, 0x80..=0x8f)
        ),
        Family::System => matches!(
            (map, op),
            // IN/OUT, CLI/STI and HLT are privileged here: #GP on both sides.
            (Map::OneByte, 0x9e | 0x9f | 0xe4..=0xe7 | 0xec..=0xef | 0xf4 | 0xf5 | 0xf8..=0xfd)
                | (Map::Map0F, 0x0b | 0x0d | 0x18..=0x1f)
        ),
        Family::Sse => match map {
            Map::Map0F => true,
            // SSSE3 and SSE4.1 (66-prefixed).
            Map::Map0F38 => {
                matches!(op, 0x00..=0x0b | 0x10 | 0x14 | 0x15 | 0x17 | 0x1c..=0x1e | 0x20..=0x25 | 0x28..=0x2b | 0x30..=0x35 | 0x37..=0x41)
            }
            Map::Map0F3A => {
                matches!(op, 0x08..=0x0f | 0x14..=0x17 | 0x20..=0x22 | 0x40..=0x42 | 0x60..=0x63)
            }
            Map::OneByte => false,
        },
        Family::X87 => map == Map::OneByte,
        _ => false,
    }
}

/// x87 forms the harness leaves out: the transcendental functions (their
/// results may differ from the host's by 1 ulp, which the SDM allows, so
/// `tests/x87_transcendental.rs` checks them one at a time) and the
/// reserved register-form aliases (FSTP1, FCOM2, FXCH4 …).
fn x87_out_of_scope(bytes: &[u8]) -> bool {
    let Ok(insn) = decode(bytes, CpuMode::Bits64) else {
        return false;
    };
    if insn.map != Map::OneByte || !(0xd8..=0xdf).contains(&insn.opcode) {
        return false;
    }
    let reg = insn.reg & 7;
    if insn.md != 3 {
        return match insn.opcode {
            0xd9 => reg == 1,
            0xdb => matches!(reg, 4 | 6),
            0xdd => reg == 5,
            _ => false,
        };
    }
    let modrm = 0xc0 | (reg << 3) | (insn.rm & 7);
    let documented = match insn.opcode {
        0xd8 => true,
        0xd9 => {
            matches!(modrm, 0xc0..=0xd0 | 0xe0 | 0xe1 | 0xe4 | 0xe5 | 0xe8..=0xee | 0xf4..=0xf8 | 0xfa | 0xfc | 0xfd)
        }
        0xda => matches!(modrm, 0xc0..=0xdf | 0xe9),
        0xdb => matches!(modrm, 0xc0..=0xdf | 0xe2 | 0xe3 | 0xe8..=0xf7),
        0xdc => matches!(modrm, 0xc0..=0xcf | 0xe0..=0xff),
        0xdd => matches!(modrm, 0xc0..=0xc7 | 0xd0..=0xef),
        0xde => matches!(modrm, 0xc0..=0xcf | 0xd9 | 0xe0..=0xff),
        _ => matches!(modrm, 0xe0 | 0xe8..=0xf7),
    };
    !documented
}

#[derive(Default)]
struct Generated {
    bytes: Vec<u8>,
    /// Register used as memory base (set to a scratch address), if any.
    base: Option<u8>,
    index: Option<u8>,
    uses_strings: bool,
    /// Holds FPREM or FPREM1: ST(0)/ST(1) get a dividend/divisor pair.
    remainder: bool,
}

const FPREM: [u8; 2] = [0xd9, 0xf8];
const FPREM1: [u8; 2] = [0xd9, 0xf5];

struct Generator {
    rng: Rng,
    candidates: Vec<(Map, u8)>,
    /// `DIFF_FOCUS=x87`.
    x87_focus: bool,
    /// On a host that is not AMD: instructions not generated because the
    /// vendors differ there, counted by reason (see `amd_specific`).
    vendor_specific: Option<std::collections::BTreeMap<&'static str, u64>>,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let mut candidates = Vec::new();
        for map in [Map::OneByte, Map::Map0F, Map::Map0F38] {
            for op in 0..=255u8 {
                if in_scope(map, op) {
                    candidates.push((map, op));
                }
            }
        }
        Generator {
            rng: Rng(seed | 1),
            candidates,
            x87_focus: std::env::var("DIFF_FOCUS").is_ok_and(|f| f == "x87"),
            vendor_specific: (!host::is_amd()).then(Default::default),
        }
    }

    /// One instruction. Memory operands address the scratch page through
    /// `base` (chosen per sequence) or RIP-relative displacements.
    fn instruction(&mut self, base: u8, index: u8, code_at: u64) -> (Vec<u8>, bool, bool) {
        loop {
            let generated = self.instruction_once(base, index, code_at);
            if x87_out_of_scope(&generated.0) {
                continue;
            }
            if let Some(counts) = &mut self.vendor_specific
                && let Some(reason) = amd_specific(&generated.0)
            {
                *counts.entry(reason).or_insert(0) += 1;
                continue;
            }
            return generated;
        }
    }

    fn instruction_once(&mut self, base: u8, index: u8, code_at: u64) -> (Vec<u8>, bool, bool) {
        let rng = &mut self.rng;
        if rng.chance(1) {
            // Often enough to meet the operand pairs `remainder_pair` makes.
            let op = if rng.chance(50) { FPREM } else { FPREM1 };
            return (op.to_vec(), false, false);
        }
        // The eight x87 escape opcodes would be drowned among ~700 others:
        // give them a fixed share.
        let (map, op) = if self.x87_focus && rng.chance(30) {
            // MMX, which turns the x87 registers into NaN-like encodings.
            const MMX: [u8; 12] = [
                0x60, 0x63, 0x6b, 0x6e, 0x6f, 0x74, 0x77, 0xd5, 0xdb, 0xe5, 0xef, 0xfe,
            ];
            (Map::Map0F, MMX[rng.below(MMX.len() as u64) as usize])
        } else if self.x87_focus || rng.chance(12) {
            (Map::OneByte, 0xd8 + rng.below(8) as u8)
        } else {
            self.candidates[rng.below(self.candidates.len() as u64) as usize]
        };
        let info = table::lookup(map, op);
        if (map, op) == (Map::OneByte, 0x9d) {
            // POPF of a pushed image: status flags, DF, NT, ID, IF and IOPL
            // vary (user mode may not change the last two); TF and AC would
            // trap, which the harness does not model.
            let image =
                (rng.next() as u32 & (0x0cd5 | 0x0400 | 0x4000 | 0x20_0000 | 0x0200 | 0x3000)) | 2;
            let mut bytes = vec![0x68];
            bytes.extend_from_slice(&image.to_le_bytes());
            bytes.push(0x9d);
            return (bytes, false, false);
        }
        let mut prefixes: Vec<u8> = Vec::new();
        let mut sse_prefix = 0u8;
        if info.family == Family::Sse && map != Map::Map0F {
            // SSSE3 also has MMX forms (no prefix).
            let ssse3 = matches!((map, op), (Map::Map0F38, 0x00..=0x0b | 0x1c..=0x1e) | (Map::Map0F3A, 0x0f));
            sse_prefix = if ssse3 && rng.chance(30) { 0 } else { 0x66 };
        } else if info.family == Family::Sse {
            if sse_integer_op(op) && rng.chance(50) {
                sse_prefix = 0x66;
            } else {
                let forms: Vec<u8> = SSE_FORMS
                    .iter()
                    .filter(|f| f.1 == op)
                    .map(|f| f.0)
                    .collect();
                if forms.is_empty() {
                    sse_prefix = 0x66;
                    if !sse_integer_op(op) {
                        // Out of scope for now: retry through a harmless NOP.
                        return (vec![0x90], false, false);
                    }
                } else {
                    sse_prefix = forms[rng.below(forms.len() as u64) as usize];
                }
            }
        } else {
            if rng.chance(20) {
                prefixes.push(0x66);
            }
            if info.family == Family::String && rng.chance(60) {
                prefixes.push(if rng.chance(50) { 0xf3 } else { 0xf2 });
            }
            if map == Map::Map0F && matches!(op, 0xb8 | 0xbc | 0xbd) && rng.chance(60) {
                prefixes.push(0xf3);
            }
            if map == Map::Map0F38 && rng.chance(50) {
                prefixes.push(0xf2);
            }
            if info.modrm && rng.chance(3) {
                prefixes.push(0xf0);
            }
            if info.family == Family::String && rng.chance(10) {
                prefixes.push(0x67);
            }
        }
        if sse_prefix != 0 {
            prefixes.push(sse_prefix);
        }
        let uses_strings = info.family == Family::String;
        let mut rex = if rng.chance(50) {
            0x40 | rng.below(16) as u8
        } else {
            0
        };
        let mut tail: Vec<u8> = Vec::new();
        let mut rip_disp_at = None;
        let mut is_memory = false;
        if info.modrm {
            let reg = match (map, op) {
                // FF /2../5 are indirect and far transfers; 0F C7 other than /1
                // reaches RDRAND/RDSEED/RDPID, which the emulator does not offer.
                (Map::OneByte, 0xff) => [0, 1, 6, 7][rng.below(4) as usize],
                // 8F /1../7 is AMD's XOP prefix space (faults differ by vendor).
                (Map::OneByte, 0x8f) => 0,
                (Map::Map0F, 0xc7) => 1,
                _ => rng.below(8) as u8,
            };
            let register_form = rng.chance(50);
            if register_form {
                tail.push(0xc0 | (reg << 3) | rng.below(8) as u8);
            } else {
                is_memory = true;
                // Memory forms: [base + disp8], [base + index*scale + disp8], [rip + disp32].
                match rng.below(5) {
                    0 => {
                        tail.push((reg << 3) | 5);
                        rip_disp_at = Some(tail.len());
                        tail.extend_from_slice(&[0, 0, 0, 0]);
                    }
                    1 | 2 => {
                        rex = (rex & !0x03)
                            | if rex != 0 {
                                ((index >> 3) << 1) | (base >> 3)
                            } else {
                                0
                            };
                        if rex == 0 && (base >= 8 || index >= 8) {
                            rex = 0x40 | ((index >> 3) << 1) | (base >> 3);
                        }
                        let scale = rng.below(4) as u8;
                        tail.push(0x44 | (reg << 3));
                        tail.push((scale << 6) | ((index & 7) << 3) | (base & 7));
                        tail.push((rng.below(8) as u8) * 8);
                    }
                    _ => {
                        if rex != 0 || base >= 8 {
                            rex = 0x40 | (rex & 0x0e) | (base >> 3);
                        }
                        if base & 7 == 4 {
                            tail.push(0x44 | (reg << 3));
                            tail.push(0x24 | (base & 7));
                        } else {
                            tail.push(0x40 | (reg << 3) | (base & 7));
                        }
                        let disp = (rng.below(16) as i8 - 8) * 8;
                        tail.push(disp as u8);
                    }
                }
            }
        }
        let mut bytes = prefixes;
        if rex != 0 {
            bytes.push(rex);
        }
        match map {
            Map::OneByte => {}
            Map::Map0F => bytes.push(0x0f),
            Map::Map0F38 => bytes.extend_from_slice(&[0x0f, 0x38]),
            Map::Map0F3A => bytes.extend_from_slice(&[0x0f, 0x3a]),
        }
        bytes.push(op);
        let opcode_end = bytes.len();
        bytes.extend_from_slice(&tail);
        let rip_disp_at = rip_disp_at.map(|p| p + opcode_end);
        // Immediates: the decoder tells how many bytes; fill them randomly.
        for _ in 0..8 {
            bytes.push(rng.next() as u8);
        }
        let Ok(insn) = decode(&bytes, CpuMode::Bits64) else {
            // Invalid encodings are tested too: both sides must raise #UD.
            bytes.truncate(opcode_end + tail.len());
            return (bytes, is_memory, uses_strings);
        };
        bytes.truncate(insn.len as usize);
        let relative = matches!(info.imm, table::Imm::RelByte | table::Imm::RelZ);
        if relative {
            // Forward branches over a 2-byte `inc eax` filler or to the next instruction.
            let skip = if rng.chance(70) { 2 } else { 0 };
            let n = bytes.len();
            let width = if info.imm == table::Imm::RelByte {
                1
            } else {
                insn.op_size.min(4) as usize
            };
            for (i, b) in (skip as u32).to_le_bytes().iter().take(width).enumerate() {
                bytes[n - width + i] = *b;
            }
            if skip == 2 {
                bytes.extend_from_slice(&[0xff, 0xc0]);
            }
        }
        if matches!((map, op), (Map::OneByte, 0xa0..=0xa3)) {
            // moffs: an absolute address in the scratch page.
            let n = bytes.len();
            let addr = DATA + 0x300 + rng.below(64) * 8;
            let width = insn.addr_size as usize;
            bytes[n - width..].copy_from_slice(&addr.to_le_bytes()[..width]);
        }
        if let Some(at) = rip_disp_at {
            let next_rip = code_at + insn.len as u64;
            let target = DATA + 0x400 + rng.below(32) * 16;
            let disp = target.wrapping_sub(next_rip) as u32;
            bytes[at..at + 4].copy_from_slice(&disp.to_le_bytes());
        }
        (bytes, is_memory, uses_strings)
    }

    fn sequence(&mut self, test_start: u64) -> Generated {
        let count = 1 + self.rng.below(3) as usize;
        let base = loop {
            let b = self.rng.below(16) as u8;
            if b != 4 {
                break b;
            }
        };
        let index = loop {
            let i = self.rng.below(16) as u8;
            if i != 4 && i != base {
                break i;
            }
        };
        let mut g = Generated {
            bytes: Vec::new(),
            base: None,
            index: None,
            uses_strings: false,
            remainder: false,
        };
        for _ in 0..count {
            let (bytes, memory, strings) =
                self.instruction(base, index, test_start + g.bytes.len() as u64);
            if memory {
                g.base = Some(base);
                g.index = Some(index);
            }
            g.uses_strings |= strings;
            g.remainder |= bytes == FPREM || bytes == FPREM1;
            g.bytes.extend_from_slice(&bytes);
        }
        g
    }

    fn initial_state(&mut self, g: &Generated) -> State {
        let rng = &mut self.rng;
        let mut gpr = [0u64; 16];
        for r in gpr.iter_mut() {
            *r = rng.interesting();
        }
        gpr[4] = DATA + 0x800;
        if rng.chance(40) {
            // A frame pointer inside the scratch page for ENTER/LEAVE.
            gpr[5] = DATA + 0x900 + rng.below(32) * 8;
        }
        if let Some(b) = g.base {
            gpr[b as usize] = DATA
                + 0x400
                + if rng.chance(75) {
                    rng.below(16) * 16
                } else {
                    rng.below(256)
                };
        }
        if let Some(i) = g.index {
            gpr[i as usize] = rng.below(8) * 16;
        }
        if g.uses_strings {
            gpr[6] = DATA + 0x200 + rng.below(64);
            gpr[7] = DATA + 0xa00 + rng.below(64);
            gpr[1] = rng.below(10);
        }
        let mut scratch = vec![0u8; SCRATCH_LEN];
        for chunk in scratch.chunks_mut(8) {
            chunk.copy_from_slice(&rng.interesting().to_le_bytes());
        }
        let mut xmm = [0u128; 16];
        for x in xmm.iter_mut() {
            *x = match rng.below(5) {
                0 => ((rng.interesting() as u128) << 64) | rng.interesting() as u128,
                1 => lane_corners(rng),
                2 => (0..2).fold(0u128, |acc, i| {
                    let lane = if rng.chance(50) {
                        F64_SPECIAL[rng.below(14) as usize]
                    } else {
                        float64(rng)
                    };
                    acc | (lane as u128) << (64 * i)
                }),
                _ => (0..4).fold(0u128, |acc, i| {
                    let lane = if rng.chance(50) {
                        F32_SPECIAL[rng.below(14) as usize]
                    } else {
                        float32(rng)
                    };
                    acc | (lane as u128) << (32 * i)
                }),
            };
        }
        for chunk in scratch.chunks_mut(8) {
            if rng.chance(30) {
                chunk.copy_from_slice(&float64(rng).to_le_bytes());
            } else if rng.chance(20) {
                chunk.copy_from_slice(&(lane_corners(rng) as u64).to_le_bytes());
            }
        }
        let rflags = 0x202 | (rng.next() & 0x8d5) | if rng.chance(10) { 0x400 } else { 0 };
        // MXCSR: random rounding, DAZ, FTZ and sticky flags; exceptions
        // mostly masked, sometimes not (then #XM must match SIGFPE).
        let mut mxcsr = (rng.next() as u32 & 0xe07f) | 0x1f80;
        if rng.chance(10) {
            mxcsr &= !(rng.next() as u32 & 0x1f80);
        }
        // x87: random RC/PC, mostly masked; TOP, tags, condition codes and
        // masked sticky flags random; ES/B consistent with unmasked flags.
        let mut fcw = 0x037f | ((rng.below(16) as u16) << 8);
        if rng.chance(10) {
            fcw &= !(rng.next() as u16 & 0x3f);
        }
        let mut fsw = (rng.next() as u16) & (0x4700 | 0x3800 | 0x3f);
        fsw &= !(0x3f & !fcw);
        let mut ftw = rng.next() as u8;
        let mut st = [0u128; 8];
        for v in st.iter_mut() {
            *v = if rng.chance(40) {
                F80_SPECIAL[rng.below(F80_SPECIAL.len() as u64) as usize]
            } else {
                float80(rng)
            };
        }
        if rng.chance(20) {
            x87_range_edges(rng, &mut st);
        }
        if self.x87_focus {
            x87_focus_registers(rng, &mut st, &mut ftw, &mut fsw);
        }
        if g.remainder && rng.chance(70) {
            (st[0], st[1]) = remainder_pair(rng);
            let top = (fsw >> 11) & 7;
            ftw |= (1 << top) | (1 << ((top + 1) & 7));
        }
        State {
            gpr,
            rflags,
            mxcsr,
            xmm,
            x87: X87 { fcw, fsw, ftw, st },
            scratch,
        }
    }
}

/// A vector whose lanes (all 8, 16, 32 or 64 bits wide) are the corner
/// values of that width: 0, 1, all ones, the signed minimum and maximum,
/// and their neighbours. Saturating, multiply-add and compare instructions
/// misbehave exactly there (PMADDWD on all-0x8000 words, PACKSS on
/// 0x7fff/0x8000), and random 64-bit values almost never form them.
fn lane_corners(rng: &mut Rng) -> u128 {
    let bits = 8 << rng.below(4);
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let min = 1u64 << (bits - 1);
    let corners = [0, 1, mask, min, min - 1, min + 1, mask - 1, 2];
    // Mostly one corner in every lane (the shape that breaks lane-wise
    // code), otherwise a mix per lane.
    let uniform = rng.chance(50).then(|| corners[rng.below(8) as usize]);
    (0..128 / bits).fold(0u128, |acc, lane| {
        let v = uniform.unwrap_or_else(|| corners[rng.below(8) as usize]);
        acc | u128::from(v & mask) << (lane * bits)
    })
}

/// Puts about half of the x87 registers at the edges of the exponent range
/// (next to overflow and underflow, incl. the largest significands that
/// round up under single and double precision control), so that every
/// PC/RC setting the generator picks meets overflow and underflow.
fn x87_range_edges(rng: &mut Rng, st: &mut [u128; 8]) {
    const EXPONENTS: [u16; 8] = [
        0x7ffe, 0x7ffd, 0x7ff0, 0x0001, 0x0002, 0x0010, 0x0000, 0x4000,
    ];
    const SIGNIFICANDS: [u64; 5] = [
        u64::MAX,              // rounds up under every precision
        0xffff_ff80_0000_0000, // the largest 24-bit significand
        0xffff_ffff_ffff_f800, // the largest 53-bit significand
        0xffff_ffc0_0000_0000, // a half-ulp above it under PC = single
        0x8000_0000_0000_0000,
    ];
    for v in st.iter_mut() {
        if rng.chance(50) {
            let sign = if rng.chance(50) { 0x8000u16 } else { 0 };
            let exponent = EXPONENTS[rng.below(8) as usize];
            let significand = if rng.chance(70) {
                SIGNIFICANDS[rng.below(5) as usize]
            } else {
                rng.next() | 1 << 63
            };
            *v = u128::from(sign | exponent) << 64 | u128::from(significand);
        }
    }
}

/// x87 extended encodings: zeros, denormal, pseudo-denormal, unnormal,
/// infinities, NaNs (quiet, signalling; the indefinite and a positive QNaN
/// of the same significand), pseudo-NaN, 1.0, extremes, and the edge of
/// FBSTP's 18 digits (10^18 − 0.5, −(10^18 − 1)).
const F80_SPECIAL: [u128; 18] = [
    0,
    0x8000_0000_0000_0000_0000,
    0x0000_0000_0000_0000_0001,
    0x0000_8000_0000_0000_0001,
    0x3fff_4000_0000_0000_0000,
    0x7fff_8000_0000_0000_0000,
    0xffff_8000_0000_0000_0000,
    0x7fff_c000_0000_0000_0001,
    0xffff_c000_0000_0000_0000,
    0x7fff_c000_0000_0000_0000,
    0x7fff_8000_0000_0000_0001,
    0x7fff_0000_0000_0000_0001,
    0x3fff_8000_0000_0000_0000,
    0xbfff_c000_0000_0000_0000,
    0x7ffe_ffff_ffff_ffff_ffff,
    0x0001_8000_0000_0000_0000,
    0x403a_de0b_6b3a_763f_fff8,
    0xc03a_de0b_6b3a_763f_fff0,
];

/// `DIFF_FOCUS=x87` register files: either as MMX leaves them (exponent
/// 0xFFFF everywhere, all valid, TOP = 0) or half of them with encodings
/// picked to be unsupported (unnormals, pseudo-NaNs, pseudo-infinities)
/// or borderline.
fn x87_focus_registers(rng: &mut Rng, st: &mut [u128; 8], ftw: &mut u8, fsw: &mut u16) {
    if rng.chance(40) {
        for v in st.iter_mut() {
            *v = 0xffff << 64 | rng.interesting() as u128;
        }
        *ftw = 0xff;
        *fsw &= !0x3800;
        return;
    }
    for v in st.iter_mut() {
        if rng.chance(50) {
            let exponent = [0x7fff, 0xffff, 0x4000, 0x0001, 0x7ffe, 0x3fff][rng.below(6) as usize];
            let significand = match rng.below(4) {
                0 => rng.next() >> 1,
                1 => 1 << rng.below(63),
                2 => rng.next() | 1 << 63,
                _ => (rng.next() | 1 << 63) & !(1 << 62),
            };
            *v = (exponent as u128) << 64 | significand as u128;
        }
    }
}

/// A dividend and divisor for FPREM/FPREM1 whose exponents differ by
/// anything from −2 to thousands: gaps of 64 and more take the partial
/// reduction (C2 = 1) whose step size is implementation-dependent (SDM
/// Vol.2A FPREM), and tiny or denormal divisors put partial results in
/// the denormal range.
fn remainder_pair(rng: &mut Rng) -> (u128, u128) {
    let divisor_exponent = match rng.below(10) {
        0 => 0,
        1 => 1 + rng.below(64),
        _ => 0x3fff - 200 + rng.below(400),
    };
    let gap = match rng.below(10) {
        0..=2 => rng.below(66) as i64 - 2,
        3..=6 => 60 + rng.below(140) as i64,
        7 => (63 + rng.below(8) * 32 + rng.below(3)) as i64,
        _ => 200 + rng.below(20000) as i64,
    };
    let dividend_exponent = (divisor_exponent as i64 + gap).clamp(1, 0x7ffe) as u128;
    let sign = |rng: &mut Rng| (rng.below(2) as u128) << 79;
    let mut divisor_significand = rng.next() | 1 << 63;
    if divisor_exponent == 0 {
        divisor_significand >>= 1 + rng.below(63);
    } else if rng.chance(30) {
        // Few significant bits: exact quotients and FPREM1 ties.
        divisor_significand &= !0 << (40 + rng.below(24));
    }
    let dividend = sign(rng) | dividend_exponent << 64 | (rng.next() | 1 << 63) as u128;
    let divisor = sign(rng) | (divisor_exponent as u128) << 64 | divisor_significand as u128;
    (dividend, divisor)
}

/// A normal extended value with a moderate exponent.
fn float80(rng: &mut Rng) -> u128 {
    let exponent = 0x3fff - 40 + rng.below(80);
    let sign = rng.below(2) << 15;
    (((sign | exponent) as u128) << 64) | (rng.next() | 1 << 63) as u128
}

/// Float encodings worth hitting: zeros, denormals, extremes, infinities, NaNs.
const F64_SPECIAL: [u64; 14] = [
    0,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000,
    0xbff8_0000_0000_0000,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x7ff8_0000_0000_0001,
    0x7ff0_0000_0000_0001,
    0x0000_0000_0000_0001,
    0x000f_ffff_ffff_ffff,
    0x0010_0000_0000_0000,
    0x7fef_ffff_ffff_ffff,
    0x4330_0000_0000_0000,
    0x41e0_0000_0000_0000,
];
const F32_SPECIAL: [u32; 14] = [
    0,
    0x8000_0000,
    0x3f80_0000,
    0xbfc0_0000,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0001,
    0x7f80_0001,
    1,
    0x007f_ffff,
    0x0080_0000,
    0x7f7f_ffff,
    0x4b00_0000,
    0x4f00_0000,
];

/// A double with a moderate exponent (so arithmetic stays interesting).
fn float64(rng: &mut Rng) -> u64 {
    let exponent = 1023 - 40 + rng.below(80);
    (rng.next() & 0x800f_ffff_ffff_ffff) | (exponent << 52)
}

/// A single with a moderate exponent.
fn float32(rng: &mut Rng) -> u32 {
    let exponent = 127 - 20 + rng.below(40) as u32;
    (rng.next() as u32 & 0x807f_ffff) | (exponent << 23)
}

fn signal_for(e: Exception) -> i32 {
    const SIGILL: i32 = 4;
    const SIGFPE: i32 = 8;
    const SIGBUS: i32 = 7;
    const SIGSEGV: i32 = 11;
    const SIGTRAP: i32 = 5;
    match e {
        Exception::InvalidOpcode => SIGILL,
        Exception::DivideError | Exception::FloatingPoint | Exception::SimdFloatingPoint => SIGFPE,
        Exception::AlignmentCheck => SIGBUS,
        Exception::Breakpoint => SIGTRAP,
        Exception::StackFault(_) => SIGBUS,
        _ => SIGSEGV,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why the first instruction of `bytes` behaves differently on AMD (which
/// the emulator follows) and Intel CPUs, if it does. Not generated on a
/// host that is not AMD; the report counts them by this reason.
fn amd_specific(bytes: &[u8]) -> Option<&'static str> {
    use iced_x86::{Decoder, DecoderOptions, Mnemonic};
    // Decoded as AMD does (16-bit branch displacements under 66h), as the
    // generator wrote them.
    let insn = Decoder::new(64, bytes, DecoderOptions::AMD).decode();
    let prefixes = bytes
        .iter()
        .take_while(|b| {
            matches!(
                b,
                0x66 | 0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x40
                    ..=0x4f
            )
        })
        .count();
    let operand_size_prefix = bytes[..prefixes].contains(&0x66);
    use Mnemonic as M;
    let branch = matches!(
        insn.mnemonic(),
        M::Ja
            | M::Jae
            | M::Jb
            | M::Jbe
            | M::Je
            | M::Jg
            | M::Jge
            | M::Jl
            | M::Jle
            | M::Jne
            | M::Jno
            | M::Jnp
            | M::Jns
            | M::Jo
            | M::Jp
            | M::Js
            | M::Jmp
            | M::Call
            | M::Ret
            | M::Loop
            | M::Loope
            | M::Loopne
            | M::Jcxz
            | M::Jecxz
            | M::Jrcxz
    );
    if branch && operand_size_prefix {
        // AMD APM Vol.3 "Near branches in 64-bit mode": 66h gives a 16-bit
        // IP; Intel SDM Vol.2 (Jcc, JMP, CALL): 66h is ignored.
        return Some("branch with a 66h prefix (AMD: 16-bit IP; Intel: ignored)");
    }
    if bytes[prefixes..].starts_with(&[0x0f, 0x0d]) && bytes.get(prefixes + 2) >= Some(&0xc0) {
        return Some("0F 0D with a register operand (AMD: #UD; Intel: NOP)");
    }
    match insn.mnemonic() {
        Mnemonic::Xbegin | Mnemonic::Xabort => Some("XBEGIN/XABORT (Intel TSX; AMD: #UD)"),
        Mnemonic::Rcpps | Mnemonic::Rcpss | Mnemonic::Rsqrtps | Mnemonic::Rsqrtss => {
            Some("RCP/RSQRT approximations (each vendor's own tables)")
        }
        Mnemonic::Fsin
        | Mnemonic::Fcos
        | Mnemonic::Fsincos
        | Mnemonic::Fptan
        | Mnemonic::Fpatan
        | Mnemonic::F2xm1
        | Mnemonic::Fyl2x
        | Mnemonic::Fyl2xp1 => Some("x87 transcendentals (each vendor's own approximations)"),
        Mnemonic::Fnsave
        | Mnemonic::Fnstenv
        | Mnemonic::Fsave
        | Mnemonic::Fstenv
        | Mnemonic::Fxsave
        | Mnemonic::Fxsave64 => Some(
            "x87 pointer fields in saved images (Intel: FCS/FDS deprecated, FDP on exceptions only)",
        ),
        _ => None,
    }
}

/// Whether the sequence holds an x87 store to memory.
fn has_x87_store(bytes: &[u8]) -> bool {
    use iced_x86::{Decoder, DecoderOptions, Mnemonic as M, OpKind};
    Decoder::new(64, bytes, DecoderOptions::AMD)
        .into_iter()
        .any(|insn| {
            matches!(
                insn.mnemonic(),
                M::Fst | M::Fstp | M::Fist | M::Fistp | M::Fisttp | M::Fbstp
            ) && insn.op0_kind() == OpKind::Memory
        })
}

fn disassemble(bytes: &[u8], ip: u64) -> String {
    use iced_x86::{Decoder, DecoderOptions, Formatter, NasmFormatter};
    let mut decoder = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut formatter = NasmFormatter::new();
    let mut out = String::new();
    for insn in &mut decoder {
        let mut s = String::new();
        formatter.format(&insn, &mut s);
        out.push_str(&s);
        out.push_str("; ");
    }
    out
}

#[derive(Default, Debug)]
struct Stats {
    sequences: u64,
    agreed_state: u64,
    agreed_fault: u64,
    undefined_result: u64,
    /// The guest touched the harness's own state page, which exists only
    /// natively (a random address landing there): not comparable.
    harness_page: u64,
    /// FNSTENV/FNSAVE images whose pointers a task switch cleared.
    pointers_cleared_by_os: u64,
    /// The emulator faulted on an address the native worker happens to
    /// have mapped (its own heap or libraries): not comparable.
    native_only_memory: u64,
    divergences: u64,
}

fn run(sequences: u64, seed: u64) -> Stats {
    let mut coverage = Coverage::default();
    map_test_pages();
    let mut worker = Worker::spawn();
    let mut generator = Generator::new(seed);
    let pre = prologue();
    let post = epilogue();
    let test_start = CODE + pre.len() as u64;
    let mut stats = Stats::default();
    let mut reports = Vec::new();
    for _ in 0..sequences {
        let g = generator.sequence(test_start);
        let init = generator.initial_state(&g);
        let mut code = pre.clone();
        code.extend_from_slice(&g.bytes);
        let test_end = CODE + code.len() as u64;
        code.extend_from_slice(&post);
        assert!(code.len() <= CODE_MAX);
        stats.sequences += 1;
        let emulated = emulate(&code, test_start, test_end, &init, &mut coverage);
        let native = worker.run(&code, &init);
        let verdict = match (&emulated, &native) {
            (Emulated::Done(_, mask, _), _) if mask & RESULT_UNDEFINED != 0 => {
                stats.undefined_result += 1;
                continue;
            }
            (Emulated::Done(e, mask, images), Native::Done(n, switched)) => {
                let mut e = e.clone();
                if *switched && pointers_cleared_by_os(&mut e, n, images) {
                    stats.pointers_cleared_by_os += 1;
                }
                let compared = FLAGS_COMPARED & !mask;
                if e.gpr == n.gpr
                    && e.rflags & compared == n.rflags & compared
                    && e.xmm == n.xmm
                    && e.mxcsr == n.mxcsr
                    && e.x87 == n.x87
                    && e.scratch == n.scratch
                {
                    stats.agreed_state += 1;
                    continue;
                }
                let mut diff = String::new();
                for r in 0..16 {
                    if e.gpr[r] != n.gpr[r] {
                        diff += &format!(
                            "  r{r}: emu {:#x} host {:#x} (init {:#x})\n",
                            e.gpr[r], n.gpr[r], init.gpr[r]
                        );
                    }
                }
                if e.rflags & compared != n.rflags & compared {
                    diff += &format!(
                        "  rflags: emu {:#x} host {:#x} (init {:#x}, compared {compared:#x})\n",
                        e.rflags, n.rflags, init.rflags
                    );
                }
                for r in 0..16 {
                    if e.xmm[r] != n.xmm[r] {
                        diff += &format!(
                            "  xmm{r}: emu {:#034x} host {:#034x} (init {:#034x})\n",
                            e.xmm[r], n.xmm[r], init.xmm[r]
                        );
                    }
                }
                if e.mxcsr != n.mxcsr {
                    diff += &format!("  mxcsr: emu {:#x} host {:#x}\n", e.mxcsr, n.mxcsr);
                }
                if e.x87 != n.x87 {
                    diff += &format!(
                        "  x87: emu {:x?}\n       host {:x?}\n       init {:x?}\n",
                        e.x87, n.x87, init.x87
                    );
                }
                for (i, (a, b)) in e.scratch.iter().zip(&n.scratch).enumerate() {
                    if a != b {
                        diff += &format!(
                            "  mem[{:#x}]: emu {a:#04x} host {b:#04x} (init {:#04x})\n",
                            DATA + i as u64,
                            init.scratch[i]
                        );
                        break;
                    }
                }
                diff
            }
            (Emulated::Fault(ex), Native::Signal(sig)) if signal_for(*ex) == *sig => {
                stats.agreed_fault += 1;
                continue;
            }
            (Emulated::Fault(Exception::PageFault { addr, .. }), Native::Done(..))
                if (STATE..STATE + 4096).contains(addr) =>
            {
                stats.harness_page += 1;
                continue;
            }
            (Emulated::Fault(Exception::PageFault { addr, .. }), Native::Done(..))
                if worker.maps_address(*addr) =>
            {
                stats.native_only_memory += 1;
                continue;
            }
            (Emulated::Fault(Exception::PageFault { .. }), Native::Done(..))
                if generator.vendor_specific.is_some() && has_x87_store(&g.bytes) =>
            {
                // AMD checks the destination of an x87 store before it
                // reports an unmasked x87 exception (stack underflow,
                // invalid operand), Intel the other way round.
                if let Some(counts) = &mut generator.vendor_specific {
                    *counts
                        .entry("x87 store to an unmapped page with an unmasked x87 exception (AMD: #PF first)")
                        .or_insert(0) += 1;
                }
                continue;
            }
            (Emulated::Fault(ex), Native::Signal(sig)) => {
                format!("  emu {ex:?}, host signal {sig}\n")
            }
            (Emulated::Fault(ex), Native::Done(..)) => {
                format!("  emu {ex:?}, host ran to completion\n")
            }
            (Emulated::Done(..), Native::Signal(sig)) => {
                format!("  emu completed, host signal {sig}\n")
            }
        };
        stats.divergences += 1;
        if reports.len() < 30 {
            reports.push(format!(
                "[{}] {}\n  {}\n{verdict}",
                hex(&g.bytes),
                disassemble(&g.bytes, test_start),
                {
                    let regs: Vec<String> = init.gpr.iter().map(|r| format!("{r:#x}")).collect();
                    let xmms: Vec<String> = init.xmm.iter().map(|r| format!("{r:032x}")).collect();
                    format!(
                        "init gpr {}\n  init mxcsr {:#x} xmm {}\n  init x87 {:x?}",
                        regs.join(" "),
                        init.mxcsr,
                        xmms.join(" "),
                        init.x87
                    )
                }
            ));
        }
    }
    for r in &reports {
        eprintln!("DIVERGENCE {r}");
    }
    eprintln!("differential: {stats:?}");
    if let Some(counts) = &generator.vendor_specific {
        eprintln!(
            "host {}: the emulator follows AMD where vendors differ; not generated or not compared here:",
            host::vendor()
        );
        for (reason, n) in counts {
            eprintln!("  {n:>8}  {reason}");
        }
    }
    eprintln!("instructions completed: {coverage:?}");
    stats
}

#[test]
fn differential_integer_sse_x87() {
    let sequences = env_u64("DIFF_SEQUENCES", 100_000);
    let seed = env_u64("DIFF_SEED", 0x5eed_1234_abcd);
    let stats = run(sequences, seed);
    assert_eq!(stats.divergences, 0, "{stats:?}");
    assert!(
        stats.agreed_state > sequences / 2,
        "too few sequences ran to completion: {stats:?}"
    );
}

#[test]
#[ignore = "long run: cargo test --release --test differential -- --ignored"]
fn differential_long() {
    let stats = run(
        env_u64("DIFF_LONG_SEQUENCES", 5_000_000),
        env_u64("DIFF_SEED", 0x10_4e6),
    );
    assert_eq!(stats.divergences, 0, "{stats:?}");
}

/// Every packed-integer SSE2/SSSE3/SSE4.1 operation on every pair of
/// uniform lane-corner vectors (each lane width's 0, 1, 2, all ones, the
/// signed minimum and maximum and their neighbours), natively and
/// emulated: the random run reaches a given pair for a given operation too
/// rarely (PMADDWD on all-0x8000 words is one such pair).
#[test]
fn integer_vector_ops_at_lane_corners() {
    const SSSE3_SSE41: [u8; 23] = [
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e,
        0x28, 0x29, 0x2b, 0x37, 0x38, 0x39, 0x3d, 0x40,
    ];
    let mut ops: Vec<Vec<u8>> = (0..=255u8)
        .filter(|&op| sse_integer_op(op))
        .map(|op| vec![0x66, 0x0f, op, 0xc1])
        .collect();
    ops.extend(
        SSSE3_SSE41
            .iter()
            .map(|&op| vec![0x66, 0x0f, 0x38, op, 0xc1]),
    );
    let mut vectors = Vec::new();
    for bits in [8u32, 16, 32, 64] {
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let min = 1u64 << (bits - 1);
        for corner in [0, 1, 2, mask, min, min - 1, min + 1, mask - 1] {
            vectors.push((0..128 / bits).fold(0u128, |acc, lane| {
                acc | u128::from(corner & mask) << (lane * bits)
            }));
        }
    }
    map_test_pages();
    let mut worker = Worker::spawn();
    let mut coverage = Coverage::default();
    let mut generator = Generator::new(0xc0_2e25);
    let pre = prologue();
    let test_start = CODE + pre.len() as u64;
    let base = generator.initial_state(&Generated::default());
    let (mut compared, mut failures) = (0u64, Vec::new());
    for op in &ops {
        let mut code = pre.clone();
        code.extend_from_slice(op);
        let test_end = CODE + code.len() as u64;
        code.extend_from_slice(&epilogue());
        for &a in &vectors {
            for &b in &vectors {
                let mut init = base.clone();
                init.xmm[0] = a;
                init.xmm[1] = b;
                let emulated = emulate(&code, test_start, test_end, &init, &mut coverage);
                let native = worker.run(&code, &init);
                compared += 1;
                let same = match (&emulated, &native) {
                    (Emulated::Done(e, _, _), Native::Done(n, _)) => {
                        e.xmm == n.xmm && e.gpr == n.gpr && e.mxcsr == n.mxcsr
                    }
                    (Emulated::Fault(ex), Native::Signal(sig)) => signal_for(*ex) == *sig,
                    _ => false,
                };
                if !same && failures.len() < 20 {
                    let result = |s: &State| format!("{:#034x}", s.xmm[0]);
                    failures.push(format!(
                        "[{}] {}: xmm0 {a:#034x} xmm1 {b:#034x}: emu {} host {}",
                        hex(op),
                        disassemble(op, test_start),
                        match &emulated {
                            Emulated::Done(e, _, _) => result(e),
                            Emulated::Fault(ex) => format!("{ex:?}"),
                        },
                        match &native {
                            Native::Done(n, _) => result(n),
                            Native::Signal(sig) => format!("signal {sig}"),
                        }
                    ));
                }
            }
        }
    }
    eprintln!(
        "lane corners: {} operations, {compared} pairs compared",
        ops.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

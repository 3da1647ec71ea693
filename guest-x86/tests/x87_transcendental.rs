//! The x87 transcendental instructions against the host CPU.
//!
//! Each case builds an x87 state (control word with random RC/PC and
//! masks, TOP, tags, ST(0)–ST(7)), runs ONE of FSIN, FCOS, FSINCOS, FPTAN,
//! FPATAN, F2XM1, FYL2X, FYL2XP1 natively (FRSTOR; op; FNSAVE — FNSAVE
//! does not wait, so unmasked exceptions stay pending and are captured
//! instead of trapping) and in the emulator, and compares the whole x87
//! state.
//!
//! The SDM specifies these functions to 1 ulp (Vol.1 §8.3.10) and the
//! processor is not correctly rounded, so a result register may differ
//! from the host's by one unit in the last place; then C1 (the rounding
//! direction) is not compared either. C1 reports whether the processor's
//! own approximation was rounded up, so where that approximation lies on
//! the other side of the true value C1 differs even with identical
//! results: such cases are counted apart, and more than 10% of them for
//! one instruction fails the test. Everything else — the other
//! registers, TOP, tags, exception flags, C0/C2/C3, special-value results,
//! out-of-range behaviour — must be identical. The report counts exact
//! and 1-ulp agreements; any other difference fails the test.
//!
//! On a host that is not AMD (the vendor the emulator models), results
//! that underflow are not compared (Intel returns a tiny argument's sine
//! as the argument itself, without UE; AMD rounds it to a denormal and
//! reports UE, or delivers it biased when UE is unmasked), and the C1
//! share is reported, not limited. Everything else is compared as above.
//! The report names the host and counts these cases.
//!
//! CI size: `X87_CASES` (default 300 000, ~2 s); `X87_SEED` picks the seed.

mod host;
mod rng;
use rng::{Rng, env_u64};

use guest_x86::cpu::Cpu;
use guest_x86::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ};

const CODE: u64 = 0x40_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Sin,
    Cos,
    SinCos,
    Tan,
    Atan,
    Exp2M1,
    YLog2X,
    YLog2XP1,
}

const OPS: [Op; 8] = [
    Op::Sin,
    Op::Cos,
    Op::SinCos,
    Op::Tan,
    Op::Atan,
    Op::Exp2M1,
    Op::YLog2X,
    Op::YLog2XP1,
];

impl Op {
    fn bytes(self) -> [u8; 2] {
        let second = match self {
            Op::Sin => 0xfe,
            Op::Cos => 0xff,
            Op::SinCos => 0xfb,
            Op::Tan => 0xf2,
            Op::Atan => 0xf3,
            Op::Exp2M1 => 0xf0,
            Op::YLog2X => 0xf1,
            Op::YLog2XP1 => 0xf9,
        };
        [0xd9, second]
    }
}

/// The x87 state both sides start from and end in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct X87 {
    fcw: u16,
    fsw: u16,
    /// Abridged tags by physical register: bit set = valid.
    tags: u8,
    /// ST(0)–ST(7) (in stack order).
    st: [u128; 8],
}

// ------------------------------------------------------------------ native

/// The 108-byte FSAVE image (32-bit layout, SDM Vol.1 Figures 8-9, 8-12).
fn to_fsave(s: &X87) -> [u8; 108] {
    let mut image = [0u8; 108];
    image[0..2].copy_from_slice(&s.fcw.to_le_bytes());
    image[4..6].copy_from_slice(&s.fsw.to_le_bytes());
    // Full tag word: 00 valid (the processor re-derives the class), 11 empty.
    let mut ftw = 0u16;
    for p in 0..8 {
        if s.tags & (1 << p) == 0 {
            ftw |= 3 << (2 * p);
        }
    }
    image[8..10].copy_from_slice(&ftw.to_le_bytes());
    for (i, v) in s.st.iter().enumerate() {
        image[28 + 10 * i..38 + 10 * i].copy_from_slice(&v.to_le_bytes()[..10]);
    }
    image
}

fn from_fsave(image: &[u8; 108]) -> X87 {
    let word = |at: usize| u16::from_le_bytes([image[at], image[at + 1]]);
    let ftw = word(8);
    let mut tags = 0u8;
    for p in 0..8 {
        if (ftw >> (2 * p)) & 3 != 3 {
            tags |= 1 << p;
        }
    }
    let mut st = [0u128; 8];
    for (i, v) in st.iter_mut().enumerate() {
        let mut bytes = [0u8; 16];
        bytes[..10].copy_from_slice(&image[28 + 10 * i..38 + 10 * i]);
        *v = u128::from_le_bytes(bytes);
    }
    X87 {
        fcw: word(0),
        fsw: word(4),
        tags,
        st,
    }
}

macro_rules! run_op {
    ($insn:literal, $input:expr, $output:expr) => {
        // SAFETY: FRSTOR reads 108 bytes from `input`, FNSAVE writes 108
        // bytes to `output` and leaves the FPU initialized (empty stack,
        // default control word), which is what the Rust ABI expects; no
        // other state is touched. The start state has no pending unmasked
        // exception, so the waiting instruction does not trap.
        unsafe {
            core::arch::asm!(
                "frstor [{input}]",
                $insn,
                "fnsave [{output}]",
                input = in(reg) $input.as_ptr(),
                output = in(reg) $output.as_mut_ptr(),
                out("st(0)") _, out("st(1)") _, out("st(2)") _, out("st(3)") _,
                out("st(4)") _, out("st(5)") _, out("st(6)") _, out("st(7)") _,
                options(nostack),
            )
        }
    };
}

fn native(op: Op, state: &X87) -> X87 {
    let input = to_fsave(state);
    let mut output = [0u8; 108];
    match op {
        Op::Sin => run_op!("fsin", input, output),
        Op::Cos => run_op!("fcos", input, output),
        Op::SinCos => run_op!("fsincos", input, output),
        Op::Tan => run_op!("fptan", input, output),
        Op::Atan => run_op!("fpatan", input, output),
        Op::Exp2M1 => run_op!("f2xm1", input, output),
        Op::YLog2X => run_op!("fyl2x", input, output),
        Op::YLog2XP1 => run_op!("fyl2xp1", input, output),
    }
    from_fsave(&output)
}

// ---------------------------------------------------------------- emulator

fn emulate(op: Op, state: &X87) -> X87 {
    let mut space = AddressSpace::new(1 << 20);
    space.map(CODE, 4096, PROT_READ | PROT_EXEC).unwrap();
    space.poke(CODE, &op.bytes()).unwrap();
    let mut cpu = Cpu::new_long_mode_user();
    cpu.x87.control = state.fcw;
    cpu.x87.status = state.fsw;
    cpu.x87.tag = state.tags;
    let top = ((state.fsw >> 11) & 7) as usize;
    for (i, v) in state.st.iter().enumerate() {
        cpu.x87.regs[(top + i) & 7] = (*v as u64, (*v >> 64) as u16);
    }
    cpu.rip = CODE;
    cpu.step(&mut space)
        .unwrap_or_else(|e| panic!("{op:?} stopped the emulator: {e:?}"));
    let top = ((cpu.x87.status >> 11) & 7) as usize;
    let mut st = [0u128; 8];
    for (i, v) in st.iter_mut().enumerate() {
        let (mant, se) = cpu.x87.regs[(top + i) & 7];
        *v = ((se as u128) << 64) | mant as u128;
    }
    X87 {
        fcw: cpu.x87.control,
        fsw: cpu.x87.status,
        tags: cpu.x87.tag,
        st,
    }
}

// --------------------------------------------------------------- operands

/// Zeros, denormal, pseudo-denormal, unnormal, infinities, NaNs (quiet,
/// signalling), pseudo-NaN, ±1, extremes, and 2^63 (the trigonometric limit).
const SPECIAL: [u128; 16] = [
    0,
    0x8000_0000_0000_0000_0000,
    0x0000_0000_0000_0000_0001,
    0x0000_8000_0000_0000_0001,
    0x3fff_4000_0000_0000_0000,
    0x7fff_8000_0000_0000_0000,
    0xffff_8000_0000_0000_0000,
    0x7fff_c000_0000_0000_0001,
    0x7fff_8000_0000_0000_0001,
    0x7fff_0000_0000_0000_0001,
    0x3fff_8000_0000_0000_0000,
    0xbfff_8000_0000_0000_0000,
    0x7ffe_ffff_ffff_ffff_ffff,
    0x0001_8000_0000_0000_0000,
    0x403e_8000_0000_0000_0000,
    0x403d_ffff_ffff_ffff_ffff,
];

/// A normal value with unbiased exponent in `lo..=hi`, random sign.
fn normal(rng: &mut Rng, lo: i64, hi: i64) -> u128 {
    let e = (0x3fff + lo + rng.below((hi - lo + 1) as u64) as i64) as u128;
    let sign = (rng.below(2) as u128) << 79;
    sign | (e << 64) | (rng.next() | 1 << 63) as u128
}

fn positive(v: u128) -> u128 {
    v & !(1 << 79)
}

/// Something near a multiple of π/2 (where the 66-bit π matters most).
fn near_pi_multiple(rng: &mut Rng) -> u128 {
    // k·π/2 with k < 2^20, computed in 128-bit fixed point, then nudged.
    const HALF_PI_2_126: u128 = 0x6487_ed51_10b4_611a_6263_3145_c06e_0e68;
    let k = 1 + rng.below(1 << 20) as u128;
    let (hi, lo) = (HALF_PI_2_126 >> 64, HALF_PI_2_126 & u64::MAX as u128);
    // value = k·HALF_PI_2_126 / 2^126; keep the top 64 bits.
    let top = k * hi + ((k * lo) >> 64); // value·2^62 (fits: k < 2^20)
    let lead = 127 - top.leading_zeros() as i64;
    let sig = (top >> (lead - 63)) as u64;
    let sig = sig.wrapping_add(rng.below(5)).wrapping_sub(2) | 1 << 63;
    let exp = (0x3fff + lead - 62) as u128;
    (exp << 64) | sig as u128 | ((rng.below(2) as u128) << 79)
}

/// The operand(s) an operation is documented for, with a share of
/// special values and out-of-domain inputs.
fn operands(rng: &mut Rng, op: Op) -> (u128, u128) {
    let special = |rng: &mut Rng| SPECIAL[rng.below(SPECIAL.len() as u64) as usize];
    let y = if rng.chance(10) {
        special(rng)
    } else {
        normal(rng, -70, 70)
    };
    let x = if rng.chance(12) {
        special(rng)
    } else {
        match op {
            Op::Sin | Op::Cos | Op::SinCos | Op::Tan => match rng.below(4) {
                0 => normal(rng, -80, 1),
                1 => normal(rng, 0, 66),
                2 => near_pi_multiple(rng),
                _ => normal(rng, -16382, -16000),
            },
            Op::Atan => match rng.below(3) {
                0 => normal(rng, -80, 80),
                1 => normal(rng, -4, 4),
                _ => normal(rng, -16382, 16383),
            },
            Op::Exp2M1 => match rng.below(5) {
                0 => normal(rng, -16382, -16000),
                1 => normal(rng, 1, 3), // out of domain
                _ => normal(rng, -80, 0),
            },
            Op::YLog2X => match rng.below(5) {
                0 => normal(rng, -16382, 16383),
                1 => positive(normal(rng, -1, 0)), // near 1
                2 => normal(rng, -80, 80),         // sometimes negative: #IA
                _ => positive(normal(rng, -80, 80)),
            },
            Op::YLog2XP1 => match rng.below(6) {
                0 => normal(rng, -16382, -16000),
                1 => normal(rng, 0, 3), // out of the documented domain
                _ => normal(rng, -80, -2),
            },
        }
    };
    (x, y)
}

fn case(rng: &mut Rng, op: Op) -> X87 {
    // RC and PC random; exceptions masked except in some cases.
    let mut fcw = 0x037f | ((rng.below(16) as u16) << 8);
    if rng.chance(15) {
        fcw &= !(rng.next() as u16 & 0x3f);
    }
    let top = rng.below(8) as u16;
    // Sticky flags only where masked, so nothing is pending (no ES).
    let flags = rng.next() as u16 & 0x3f & fcw;
    let condition = rng.next() as u16 & 0x4700;
    let fsw = (top << 11) | flags | condition;
    let mut st = [0u128; 8];
    for v in st.iter_mut() {
        *v = normal(rng, -20, 20);
    }
    let (x, y) = operands(rng, op);
    st[0] = x;
    st[1] = y;
    // Tags: ST(0) and ST(1) valid unless a stack fault is wanted; ST(7)
    // sometimes valid, so FSINCOS/FPTAN overflow.
    let mut tags = rng.next() as u8;
    let physical = |i: u16| ((top + i) & 7) as u8;
    tags |= (1 << physical(0)) | (1 << physical(1));
    if rng.chance(3) {
        tags &= !(1 << physical(rng.below(2) as u16));
    }
    if !rng.chance(5) {
        tags &= !(1 << physical(7));
    }
    X87 { fcw, fsw, tags, st }
}

// ---------------------------------------------------------------- compare

/// Distance in ulps between two finite extended values of the same sign
/// (None when they are not comparable that way).
fn ulps_apart(a: u128, b: u128) -> Option<u128> {
    let sign = |v: u128| v >> 79;
    let exp = |v: u128| (v >> 64) as u16 & 0x7fff;
    if sign(a) != sign(b) || exp(a) == 0x7fff || exp(b) == 0x7fff {
        return None;
    }
    // For normals with the integer bit set, exponent:fraction is monotonic.
    let key = |v: u128| ((exp(v) as u128) << 63) | (v & ((1 << 63) - 1));
    if a & (1 << 63) == 0 && exp(a) != 0 || b & (1 << 63) == 0 && exp(b) != 0 {
        return None;
    }
    Some(key(a).abs_diff(key(b)))
}

const C1: u16 = 1 << 9;
/// The underflow flag.
const UE: u16 = 1 << 4;

#[derive(Default, Debug)]
struct Stats {
    cases: u64,
    exact: u64,
    within_one_ulp: u64,
    c1_only: u64,
    divergences: u64,
    /// Instructions whose C1-only differences exceed the limit.
    c1_over_limit: u64,
    /// Non-AMD host: underflowing results, not compared.
    vendor_underflow: u64,
}

/// How an end state agreed with the host's.
enum Agreement {
    Exact,
    /// A result register one ulp apart (C1 then not compared).
    OneUlp,
    /// Same results, but C1 differs.
    C1Only,
}

/// Compares an emulated end state with the host's.
fn compare(emu: &X87, host: &X87) -> Result<Agreement, String> {
    if emu == host {
        return Ok(Agreement::Exact);
    }
    // Results end up in ST(0) and (FSINCOS, FPTAN) ST(1); every other
    // register must be identical.
    let mut one_ulp = false;
    for i in 0..8 {
        if emu.st[i] != host.st[i] {
            match ulps_apart(emu.st[i], host.st[i]) {
                Some(1) if i < 2 => one_ulp = true,
                _ => return Err(format!("ST({i}) differs")),
            }
        }
    }
    if emu.tags != host.tags || emu.fcw != host.fcw {
        return Err("tags or control word differ".into());
    }
    if emu.fsw & !C1 != host.fsw & !C1 {
        return Err(format!(
            "status word differs: emu {:#06x} host {:#06x}",
            emu.fsw, host.fsw
        ));
    }
    Ok(if one_ulp {
        Agreement::OneUlp
    } else {
        Agreement::C1Only
    })
}

/// C1 may differ with identical results (see the top of this file), but a
/// wrong C1 rule would differ in about half the cases: allow at most this
/// share per instruction.
const C1_ONLY_LIMIT_PERCENT: u64 = 10;

#[derive(Default, Clone, Copy)]
struct PerOp {
    cases: u64,
    exact: u64,
    one_ulp: u64,
    c1_only: u64,
}

fn run(cases: u64, seed: u64) -> Stats {
    let mut rng = Rng(seed | 1);
    let mut stats = Stats::default();
    let mut reports = Vec::new();
    let mut per_op = [PerOp::default(); 8];
    let amd_host = host::is_amd();
    for _ in 0..cases {
        let op_index = rng.below(OPS.len() as u64) as usize;
        let op = OPS[op_index];
        let start = case(&mut rng, op);
        let host = native(op, &start);
        let emu = emulate(op, &start);
        stats.cases += 1;
        let counts = &mut per_op[op_index];
        counts.cases += 1;
        let verdict = compare(&emu, &host);
        if verdict.is_err() && !amd_host && emu.fsw & UE != 0 {
            stats.vendor_underflow += 1;
            continue;
        }
        match verdict {
            Ok(Agreement::Exact) => {
                stats.exact += 1;
                counts.exact += 1;
            }
            Ok(Agreement::OneUlp) => {
                stats.within_one_ulp += 1;
                counts.one_ulp += 1;
            }
            Ok(Agreement::C1Only) => {
                stats.c1_only += 1;
                counts.c1_only += 1;
            }
            Err(why) => {
                stats.divergences += 1;
                if reports.len() < 40 {
                    reports.push(format!(
                        "{op:?}: {why}\n  start {:x?}\n  emu   {:x?}\n  host  {:x?}",
                        start, emu, host
                    ));
                }
            }
        }
    }
    for r in &reports {
        eprintln!("DIVERGENCE {r}");
    }
    for (op, c) in OPS.iter().zip(per_op) {
        eprintln!(
            "  {op:?}: {} cases, {} exact, {} within 1 ulp, {} C1 only",
            c.cases, c.exact, c.one_ulp, c.c1_only
        );
        if amd_host && c.c1_only * 100 > c.cases * C1_ONLY_LIMIT_PERCENT {
            stats.c1_over_limit += 1;
        }
    }
    if !amd_host {
        eprintln!(
            "host {}: the emulator models AMD; {} underflowing results not compared, C1 share not limited",
            host::vendor(),
            stats.vendor_underflow
        );
    }
    eprintln!("x87 transcendentals: {stats:?}");
    stats
}

#[test]
fn transcendentals_match_the_host_within_one_ulp() {
    let stats = run(
        env_u64("X87_CASES", 300_000),
        env_u64("X87_SEED", 0x7a4_5eed),
    );
    assert_eq!(stats.divergences, 0, "{stats:?}");
    assert_eq!(stats.c1_over_limit, 0, "{stats:?}");
}

//! RCPPS and RSQRTPS against the host CPU. The SDM only bounds these
//! approximations (|relative error| ≤ 1.5·2^-12), so each vendor has its own
//! answers; the emulator reproduces an AMD CPU's bit for bit. On an AMD
//! host every result must be identical; on another vendor's host, results
//! that differ must both (the emulator's and the host's) lie within the
//! SDM's bound of the exact value, and special values must be identical;
//! the report names the host and counts the differing results.
//! Every fraction is checked at the exponents whose results straddle the
//! format's edges (and at 1.0 and 2.0, where RSQRT's two tables start),
//! plus random inputs across all exponents and the special values.

use core::arch::x86_64::{__m128, _mm_rcp_ps, _mm_rsqrt_ps};

mod host;

use guest_x86::cpu::Cpu;
use guest_x86::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ};

const CODE: u64 = 0x40_0000;

/// Runs `op xmm0, xmm1` (0F 53 = RCPPS, 0F 52 = RSQRTPS) on four inputs.
struct Emulator {
    cpu: Cpu,
    space: AddressSpace,
}

impl Emulator {
    fn new(opcode: u8) -> Emulator {
        let mut space = AddressSpace::new(1 << 20);
        space.map(CODE, 4096, PROT_READ | PROT_EXEC).unwrap();
        space.poke(CODE, &[0x0f, opcode, 0xc1]).unwrap();
        Emulator {
            cpu: Cpu::new_long_mode_user(),
            space,
        }
    }

    fn run(&mut self, inputs: [u32; 4]) -> [u32; 4] {
        let packed = inputs
            .iter()
            .rev()
            .fold(0u128, |acc, &x| (acc << 32) | x as u128);
        self.cpu.xmm[1] = packed;
        self.cpu.rip = CODE;
        self.cpu.step(&mut self.space).unwrap();
        let r = self.cpu.xmm[0];
        [
            r as u32,
            (r >> 32) as u32,
            (r >> 64) as u32,
            (r >> 96) as u32,
        ]
    }
}

fn native(opcode: u8, inputs: [u32; 4]) -> [u32; 4] {
    // SAFETY: SSE is part of the x86_64 baseline; the intrinsics only
    // read and write the values passed.
    unsafe {
        let v: __m128 = core::mem::transmute(inputs);
        let r = if opcode == 0x53 {
            _mm_rcp_ps(v)
        } else {
            _mm_rsqrt_ps(v)
        };
        core::mem::transmute(r)
    }
}

/// Inputs for one run: every fraction at selected exponents (both signs for
/// a few), random values at every exponent, and the special encodings.
fn inputs() -> Vec<u32> {
    let mut all = Vec::new();
    for exp_field in [1u32, 126, 127, 128, 252, 253, 254] {
        for fraction in 0..1 << 23 {
            all.push(exp_field << 23 | fraction);
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..1 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        all.push(state as u32);
    }
    all.extend_from_slice(&[
        0,
        0x8000_0000,
        1,
        0x007f_ffff,
        0x8040_0000,
        0x0080_0000,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0000,
        0x7f80_0001,
        0xffc1_2345,
        0xbf80_0000,
    ]);
    while all.len() % 4 != 0 {
        all.push(0x3f80_0000);
    }
    all
}

/// Whether `result` is within the SDM's bound (|relative error| ≤
/// 1.5·2^-12, Vol.2 RCPPS/RSQRTPS) of the exact reciprocal (square root)
/// of `input`; only for normal inputs and normal results.
fn within_sdm_bound(opcode: u8, input: u32, result: u32) -> bool {
    let normal = |v: u32| matches!((v >> 23) & 0xff, 1..=254);
    if !normal(input) || !normal(result) {
        return false;
    }
    let x = f64::from(f32::from_bits(input));
    let exact = if opcode == 0x53 {
        1.0 / x
    } else {
        1.0 / x.sqrt()
    };
    let r = f64::from(f32::from_bits(result));
    ((r - exact) / exact).abs() <= 1.5 * 2f64.powi(-12)
}

fn check(opcode: u8, name: &str) {
    let amd_host = host::is_amd();
    let mut emulator = Emulator::new(opcode);
    let mut mismatches = Vec::new();
    let (mut checked, mut differing, mut vendor_bounded) = (0u64, 0u64, 0u64);
    for chunk in inputs().chunks_exact(4) {
        let lanes = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let (emu, host) = (emulator.run(lanes), native(opcode, lanes));
        for i in 0..4 {
            checked += 1;
            if emu[i] == host[i] {
                continue;
            }
            if !amd_host
                && within_sdm_bound(opcode, lanes[i], emu[i])
                && within_sdm_bound(opcode, lanes[i], host[i])
            {
                vendor_bounded += 1;
                continue;
            }
            differing += 1;
            if mismatches.len() < 20 {
                mismatches.push(format!(
                    "{name}({:#010x}): emu {:#010x} host {:#010x}",
                    lanes[i], emu[i], host[i]
                ));
            }
        }
    }
    if !amd_host {
        eprintln!(
            "{name}: host {}: {vendor_bounded} of {checked} results differ from AMD's tables, all within the SDM's bound",
            host::vendor()
        );
    }
    assert_eq!(
        differing,
        0,
        "{differing} of {checked} differ, first ones:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn rcpps_matches_the_host_bit_for_bit() {
    check(0x53, "rcp");
}

#[test]
fn rsqrtps_matches_the_host_bit_for_bit() {
    check(0x52, "rsqrt");
}

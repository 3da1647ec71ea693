//! SSE4.2: PCMPGTQ and the string compares PCMPESTRI/PCMPESTRM/
//! PCMPISTRI/PCMPISTRM (SDM Vol.2B PCMPESTRI and Vol.1 §12.10.2–12.10.4:
//! data format, aggregation, polarity, output selection). CRC32 and POPCNT
//! live with the integer families.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{CF, OF, SF, STATUS, ZF};
use super::operand::Loc;
use super::state::{Cpu, sign_extend};
use super::table::Map;
use crate::mmu::Memory;

fn element(v: u128, words: bool, signed: bool, i: u32) -> i64 {
    let bits = if words { 16 } else { 8 };
    let raw = ((v >> (i * bits)) & ((1u128 << bits) - 1)) as u64;
    if signed {
        sign_extend(raw, (bits / 8) as u8) as i64
    } else {
        raw as i64
    }
}

/// Number of valid elements of an implicit-length (NUL-terminated) operand.
fn implicit_length(v: u128, words: bool) -> u32 {
    let n = if words { 8 } else { 16 };
    (0..n)
        .find(|&i| element(v, words, false, i) == 0)
        .unwrap_or(n)
}

/// Number of valid elements from an explicit length register (absolute
/// value, saturated to the element count).
fn explicit_length(raw: u64, wide: bool, words: bool) -> u32 {
    let n = if words { 8 } else { 16 };
    let value = if wide {
        raw as i64
    } else {
        raw as u32 as i32 as i64
    };
    value.unsigned_abs().min(n as u64) as u32
}

/// The aggregated, polarity-adjusted result bits (IntRes2) for operands
/// `a` (xmm1) and `b` (xmm2/m128) with `la`/`lb` valid elements.
fn compare_strings(imm: u32, a: u128, b: u128, la: u32, lb: u32) -> u32 {
    let words = imm & 1 != 0;
    let signed = imm & 2 != 0;
    let n = if words { 8 } else { 16 };
    let ea = |i| element(a, words, signed, i);
    let eb = |j| element(b, words, signed, j);
    let mut res1 = 0u32;
    for j in 0..n {
        let bit = match (imm >> 2) & 3 {
            // Equal any: b[j] equals some valid a[i].
            0 => j < lb && (0..la).any(|i| ea(i) == eb(j)),
            // Ranges: a holds (low, high) pairs; b[j] within any valid pair.
            1 => j < lb && (0..la / 2).any(|p| ea(2 * p) <= eb(j) && eb(j) <= ea(2 * p + 1)),
            // Equal each: element-wise equality; both invalid counts as equal.
            2 => match (j < la, j < lb) {
                (true, true) => ea(j) == eb(j),
                (false, false) => true,
                _ => false,
            },
            // Equal ordered: a (as a substring) starts at b[j].
            _ => (0..n - j).all(|k| {
                if k >= la {
                    true
                } else if j + k >= lb {
                    false
                } else {
                    ea(k) == eb(j + k)
                }
            }),
        };
        res1 |= (bit as u32) << j;
    }
    let all = (1u32 << n) - 1;
    match (imm >> 4) & 3 {
        1 => !res1 & all,
        3 => res1 ^ (((1u32 << lb) - 1) & all),
        _ => res1,
    }
}

/// Executes an SSE4.2 form; `None` if the instruction is not one.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Stop>> {
    if insn.sse_prefix() != 0x66 {
        return None;
    }
    match (insn.map, insn.opcode) {
        (Map::Map0F38, 0x37) | (Map::Map0F3A, 0x60..=0x63) => {}
        _ => return None,
    }
    Some(run(cpu, mem, insn).map_err(Stop::from))
}

fn run<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    // PCMPGTQ needs 16-byte alignment (checked before the address is
    // validated, as for every aligned SSE operand); the string compares do not.
    if insn.map == Map::Map0F38 {
        cpu.check_aligned16(insn)?;
    }
    let b = match cpu.rm_loc(insn)? {
        Loc::Reg(r) => cpu.xmm[r as usize],
        Loc::Mem(addr) => cpu.read_mem128(mem, addr)?,
    };
    let dst = insn.reg as usize;
    let a = cpu.xmm[dst];
    if insn.map == Map::Map0F38 {
        // PCMPGTQ: signed 64-bit greater-than.
        let gt = |i: u32| {
            let (x, y) = ((a >> (64 * i)) as u64 as i64, (b >> (64 * i)) as u64 as i64);
            if x > y { u64::MAX as u128 } else { 0 }
        };
        cpu.xmm[dst] = gt(0) | (gt(1) << 64);
        return Ok(());
    }
    let imm = insn.imm as u32;
    let words = imm & 1 != 0;
    let n = if words { 8 } else { 16 };
    let explicit = insn.opcode <= 0x61;
    let (la, lb) = if explicit {
        let wide = insn.rex_w();
        (
            explicit_length(cpu.gpr[0], wide, words),
            explicit_length(cpu.gpr[2], wide, words),
        )
    } else {
        (implicit_length(a, words), implicit_length(b, words))
    };
    let res2 = compare_strings(imm, a, b, la, lb);
    if insn.opcode & 1 == 0 {
        // PCMPxSTRM: the mask, as bits or expanded to elements, in XMM0.
        cpu.xmm[0] = if imm & 0x40 == 0 {
            res2 as u128
        } else {
            let bits = if words { 16 } else { 8 };
            (0..n).fold(0u128, |acc, j| {
                if res2 >> j & 1 != 0 {
                    acc | (((1u128 << bits) - 1) << (j * bits))
                } else {
                    acc
                }
            })
        };
    } else {
        // PCMPxSTRI: the least or most significant set bit's index in ECX.
        let index = if res2 == 0 {
            n
        } else if imm & 0x40 == 0 {
            res2.trailing_zeros()
        } else {
            31 - res2.leading_zeros()
        };
        cpu.write_reg(1, 4, false, index as u64);
    }
    let mut f = 0;
    if res2 != 0 {
        f |= CF;
    }
    if lb < n {
        f |= ZF;
    }
    if la < n {
        f |= SF;
    }
    if res2 & 1 != 0 {
        f |= OF;
    }
    cpu.set_flags_masked(f, STATUS);
    Ok(())
}

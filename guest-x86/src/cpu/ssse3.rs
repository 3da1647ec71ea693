//! SSE3 and SSSE3 integer/data-movement forms on XMM registers (SDM
//! Vol.2 per mnemonic): MOVSLDUP/MOVSHDUP/MOVDDUP, LDDQU, and the 66-
//! prefixed 0F38/0F3A SSSE3 operations (PSHUFB, PHADD*/PHSUB*, PMADDUBSW,
//! PSIGN*, PMULHRSW, PABS*, PALIGNR), also in their MMX forms (no prefix).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::operand::Loc;
use super::state::{Cpu, sign_extend};
use super::table::Map;
use crate::mmu::Memory;

fn lane(v: u128, bits: u32, i: u32) -> u64 {
    ((v >> (i * bits)) & ((1u128 << bits) - 1)) as u64
}

fn signed(v: u64, bits: u32) -> i64 {
    sign_extend(v, (bits / 8) as u8) as i64
}

fn from_lanes(bits: u32, values: impl Iterator<Item = u64>) -> u128 {
    let mask = (1u128 << bits) - 1;
    values.enumerate().fold(0u128, |acc, (i, v)| {
        acc | ((v as u128) & mask) << (i as u32 * bits)
    })
}

fn saturate16(v: i64) -> u64 {
    v.clamp(-32768, 32767) as u64
}

/// Horizontal pairs: low half from `d`, high half from `s` (PHADD/PHSUB).
fn horizontal(d: u128, s: u128, bits: u32, f: impl Fn(i64, i64) -> u64) -> u128 {
    let n = 128 / bits;
    let pair = |v: u128, i: u32| {
        f(
            signed(lane(v, bits, 2 * i), bits),
            signed(lane(v, bits, 2 * i + 1), bits),
        )
    };
    from_lanes(
        bits,
        (0..n / 2)
            .map(|i| pair(d, i))
            .chain((0..n / 2).map(|i| pair(s, i))),
    )
}

fn sign_op(d: u128, s: u128, bits: u32) -> u128 {
    from_lanes(
        bits,
        (0..128 / bits).map(|i| {
            let (a, b) = (
                signed(lane(d, bits, i), bits),
                signed(lane(s, bits, i), bits),
            );
            (match b.signum() {
                -1 => a.wrapping_neg(),
                0 => 0,
                _ => a,
            }) as u64
        }),
    )
}

/// The MMX (64-bit) form of a map-0F38 SSSE3 operation, derived from the
/// 128-bit one: horizontal ops see `d` and `s` as one 128-bit source, and
/// PSHUFB indexes only the 8 bytes.
fn map38_op_mmx(op: u8, d: u64, s: u64) -> Option<u64> {
    let (d, s) = (d as u128, s as u128);
    let r = match op {
        0x00 => map38_op(op, d, s & 0x8787_8787_8787_8787)?,
        0x01..=0x03 | 0x05..=0x07 => map38_op(op, d | (s << 64), 0)?,
        _ => map38_op(op, d, s)?,
    };
    Some(r as u64)
}

/// The SSSE3 two-operand operations of map 0F38 (66 prefix).
fn map38_op(op: u8, d: u128, s: u128) -> Option<u128> {
    Some(match op {
        0x00 => from_lanes(
            8,
            (0..16).map(|i| {
                let sel = lane(s, 8, i);
                if sel & 0x80 != 0 {
                    0
                } else {
                    lane(d, 8, (sel & 15) as u32)
                }
            }),
        ),
        0x01 => horizontal(d, s, 16, |a, b| a.wrapping_add(b) as u64),
        0x02 => horizontal(d, s, 32, |a, b| a.wrapping_add(b) as u64),
        0x03 => horizontal(d, s, 16, |a, b| saturate16(a + b)),
        0x04 => from_lanes(
            16,
            (0..8).map(|i| {
                let p = |k: u32| lane(d, 8, 2 * i + k) as i64 * signed(lane(s, 8, 2 * i + k), 8);
                saturate16(p(0) + p(1))
            }),
        ),
        0x05 => horizontal(d, s, 16, |a, b| a.wrapping_sub(b) as u64),
        0x06 => horizontal(d, s, 32, |a, b| a.wrapping_sub(b) as u64),
        0x07 => horizontal(d, s, 16, |a, b| saturate16(a - b)),
        0x08 => sign_op(d, s, 8),
        0x09 => sign_op(d, s, 16),
        0x0a => sign_op(d, s, 32),
        0x0b => from_lanes(
            16,
            (0..8).map(|i| {
                let p = signed(lane(d, 16, i), 16) * signed(lane(s, 16, i), 16);
                (((p >> 14) + 1) >> 1) as u64
            }),
        ),
        0x1c => from_lanes(8, (0..16).map(|i| signed(lane(s, 8, i), 8).unsigned_abs())),
        0x1d => from_lanes(
            16,
            (0..8).map(|i| signed(lane(s, 16, i), 16).unsigned_abs()),
        ),
        0x1e => from_lanes(
            32,
            (0..4).map(|i| signed(lane(s, 32, i), 32).unsigned_abs()),
        ),
        _ => return None,
    })
}

impl Cpu {
    fn xmm_operand<M: Memory>(
        &self,
        mem: &mut M,
        insn: &Insn,
        aligned: bool,
    ) -> Result<u128, Exception> {
        if aligned {
            self.check_aligned16(insn)?;
        }
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize]),
            Loc::Mem(addr) => self.read_mem128(mem, addr),
        }
    }
}

/// Executes SSE3/SSSE3 forms; `None` if the instruction is not one.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Stop>> {
    let prefix = insn.sse_prefix();
    let dst = insn.reg as usize;
    let result = match (insn.map, prefix, insn.opcode) {
        (Map::Map0F, 0xf3, 0x12 | 0x16) => cpu.xmm_operand(mem, insn, true).map(|s| {
            // MOVSLDUP / MOVSHDUP duplicate the even / odd singles.
            let k = (insn.opcode == 0x16) as u32;
            cpu.xmm[dst] = from_lanes(32, (0..4).map(|i| lane(s, 32, (i & !1) + k)));
        }),
        (Map::Map0F, 0xf2, 0x12) => {
            // MOVDDUP: the low double, from xmm or an unaligned m64.
            let low = match cpu.rm_loc(insn) {
                Ok(Loc::Reg(r)) => Ok(cpu.xmm[r as usize] as u64),
                Ok(Loc::Mem(addr)) => cpu.read_mem(mem, addr, 8),
                Err(e) => Err(e),
            };
            low.map(|v| cpu.xmm[dst] = (v as u128) | ((v as u128) << 64))
        }
        (Map::Map0F, 0xf2, 0xf0) => {
            // LDDQU: unaligned load, memory only.
            if insn.mem.is_none() {
                return Some(Err(Exception::InvalidOpcode.into()));
            }
            cpu.xmm_operand(mem, insn, false).map(|s| cpu.xmm[dst] = s)
        }
        (Map::Map0F38, 0x66, op) if map38_op(op, 0, 0).is_some() => cpu
            .xmm_operand(mem, insn, true)
            .map(|s| cpu.xmm[dst] = map38_op(op, cpu.xmm[dst], s).unwrap_or(cpu.xmm[dst])),
        (Map::Map0F38, 0, op) if map38_op_mmx(op, 0, 0).is_some() => {
            if cpu.x87.status & (1 << 7) != 0 {
                return Some(Err(Exception::FloatingPoint.into()));
            }
            let s = match cpu.rm_loc(insn) {
                Ok(Loc::Reg(r)) => Ok(cpu.x87.regs[(r & 7) as usize].0),
                Ok(Loc::Mem(addr)) => cpu.read_mem(mem, addr, 8),
                Err(e) => Err(e),
            };
            s.map(|s| {
                let d = cpu.x87.regs[dst & 7].0;
                // The x87→MMX transition, then the write (SDM Vol.1 §9.5).
                cpu.x87.tag = 0xff;
                cpu.x87.status &= !(7 << 11);
                cpu.x87.regs[dst & 7] = (map38_op_mmx(op, d, s).unwrap_or(d), 0xffff);
            })
        }
        (Map::Map0F3A, 0, 0x0f) => {
            if cpu.x87.status & (1 << 7) != 0 {
                return Some(Err(Exception::FloatingPoint.into()));
            }
            let s = match cpu.rm_loc(insn) {
                Ok(Loc::Reg(r)) => Ok(cpu.x87.regs[(r & 7) as usize].0),
                Ok(Loc::Mem(addr)) => cpu.read_mem(mem, addr, 8),
                Err(e) => Err(e),
            };
            s.map(|s| {
                // PALIGNR mm: the 16-byte dest:src shifted right by imm bytes.
                let d = cpu.x87.regs[dst & 7].0;
                let both = ((d as u128) << 64) | s as u128;
                let shift = (insn.imm as u32).min(16) * 8;
                let r = if shift >= 128 {
                    0
                } else {
                    (both >> shift) as u64
                };
                cpu.x87.tag = 0xff;
                cpu.x87.status &= !(7 << 11);
                cpu.x87.regs[dst & 7] = (r, 0xffff);
            })
        }
        (Map::Map0F3A, 0x66, 0x0f) => cpu.xmm_operand(mem, insn, true).map(|s| {
            // PALIGNR: the 32-byte concatenation dest:src shifted right by imm bytes.
            let shift = insn.imm as u32;
            let d = cpu.xmm[dst];
            let byte = |i: u32| -> u64 {
                let k = i + shift;
                match k {
                    0..=15 => lane(s, 8, k),
                    16..=31 => lane(d, 8, k - 16),
                    _ => 0,
                }
            };
            cpu.xmm[dst] = from_lanes(8, (0..16).map(byte));
        }),
        _ => return None,
    };
    Some(result.map_err(Stop::from))
}

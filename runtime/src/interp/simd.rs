//! The SIMD and relaxed-SIMD operators (Wasm 3.0 §4.3 vector numerics,
//! §4.4.4 vector instructions), in portable Rust.
//!
//! A `v128` takes two consecutive cells, low half first (see `values.rs`);
//! lanes are numbered from the low bits (Wasm's lane order is
//! little-endian). Every operator works on whole `u128`s through a few
//! generic lane helpers ([`get`], [`build`], [`map`], [`zip`], [`cmp`]), so
//! each operator is one table entry naming its lane type and scalar rule.
//!
//! Relaxed SIMD (Wasm 3.0 §4.3.4 relaxed operators) allows a set of results
//! per operator; wrun picks one, the same on every host, documented on each
//! operator below and in `docs/simd.md`: the result of the deterministic
//! SIMD counterpart where one exists (so a relaxed program behaves as if
//! it used the strict operator), unfused multiply-add, and signed × signed
//! dot products.

use super::code::Instr;
use super::numeric::{fmax, fmin, quiet_f32, quiet_f64};
use crate::error::TrapKind;
use crate::store::InstanceData;
use crate::values::{v128_from_cells, v128_to_cells};

/// A lane type: its width and its bits.
pub(crate) trait Lane: Copy {
    /// Width in bits (8, 16, 32 or 64).
    const BITS: u32;
    /// The lane from the low `BITS` bits of `b`.
    fn from_bits(b: u64) -> Self;
    /// The lane's bits, zero-extended.
    fn bits(self) -> u64;
}

macro_rules! int_lanes {
    ($($t:ty => $u:ty),*) => {
        $(impl Lane for $t {
            const BITS: u32 = <$t>::BITS;
            #[inline(always)]
            fn from_bits(b: u64) -> Self {
                b as $u as $t
            }
            #[inline(always)]
            fn bits(self) -> u64 {
                self as $u as u64
            }
        })*
    };
}
int_lanes!(i8 => u8, u8 => u8, i16 => u16, u16 => u16, i32 => u32, u32 => u32, i64 => u64, u64 => u64);

impl Lane for f32 {
    const BITS: u32 = 32;
    #[inline(always)]
    fn from_bits(b: u64) -> Self {
        f32::from_bits(b as u32)
    }
    #[inline(always)]
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Lane for f64 {
    const BITS: u32 = 64;
    #[inline(always)]
    fn from_bits(b: u64) -> Self {
        f64::from_bits(b)
    }
    #[inline(always)]
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// Lane `i` of `v` read as `L` (`i` below `128 / L::BITS`).
#[inline(always)]
fn get<L: Lane>(v: u128, i: u32) -> L {
    L::from_bits((v >> (i * L::BITS)) as u64)
}

/// The vector whose lane `i` is `f(i)`.
#[inline(always)]
fn build<L: Lane>(mut f: impl FnMut(u32) -> L) -> u128 {
    (0..128 / L::BITS).fold(0u128, |v, i| v | (u128::from(f(i).bits()) << (i * L::BITS)))
}

/// Lane-wise `f` (lanes of equal width in and out).
#[inline(always)]
fn map<L: Lane, R: Lane>(a: u128, f: impl Fn(L) -> R) -> u128 {
    debug_assert_eq!(L::BITS, R::BITS);
    build::<R>(|i| f(get::<L>(a, i)))
}

/// Lane-wise binary `f`.
#[inline(always)]
fn zip<L: Lane>(a: u128, b: u128, f: impl Fn(L, L) -> L) -> u128 {
    build::<L>(|i| f(get::<L>(a, i), get::<L>(b, i)))
}

/// Lane-wise comparison: all ones where `f` holds, else zero (Wasm 3.0
/// §4.3.x vrelop).
#[inline(always)]
fn cmp<L: Lane>(a: u128, b: u128, f: impl Fn(L, L) -> bool) -> u128 {
    let ones = u64::MAX >> (64 - L::BITS);
    (0..128 / L::BITS).fold(0u128, |v, i| {
        let t = if f(get::<L>(a, i), get::<L>(b, i)) {
            ones
        } else {
            0
        };
        v | (u128::from(t) << (i * L::BITS))
    })
}

/// `splat`: every lane `x`.
#[inline(always)]
fn splat<L: Lane>(x: L) -> u128 {
    build::<L>(|_| x)
}

/// Widening: lane `i` of the result is `f` of lane `i + half * n` of `a`,
/// `n` being the result's lane count (`extend_low/high`, `promote`,
/// `convert_low`).
#[inline(always)]
fn widen<N: Lane, W: Lane>(a: u128, high: bool, f: impl Fn(N) -> W) -> u128 {
    let n = 128 / W::BITS;
    let base = if high { n } else { 0 };
    build::<W>(|i| f(get::<N>(a, base + i)))
}

/// Narrowing of two vectors: lanes of `a` then lanes of `b`, each by `f`;
/// with `zero_high` only `a`'s lanes, the rest zero (`*_zero` forms).
#[inline(always)]
fn narrow<W: Lane, N: Lane>(a: u128, b: u128, f: impl Fn(W) -> N) -> u128 {
    let n = 128 / W::BITS;
    build::<N>(|i| {
        if i < n {
            f(get::<W>(a, i))
        } else {
            f(get::<W>(b, i - n))
        }
    })
}

/// Pairwise: lane `i` of the result is `f(a[2i], a[2i+1], b[2i], b[2i+1])`.
#[inline(always)]
fn pairwise<N: Lane, W: Lane>(a: u128, b: u128, f: impl Fn(N, N, N, N) -> W) -> u128 {
    build::<W>(|i| {
        f(
            get::<N>(a, 2 * i),
            get::<N>(a, 2 * i + 1),
            get::<N>(b, 2 * i),
            get::<N>(b, 2 * i + 1),
        )
    })
}

/// The sign bits of the lanes, lane 0 in bit 0 (`bitmask`).
#[inline(always)]
fn bitmask<L: Lane>(a: u128) -> u64 {
    (0..128 / L::BITS).fold(0, |m, i| {
        m | ((get::<L>(a, i).bits() >> (L::BITS - 1)) << i)
    })
}

/// Whether every lane is non-zero (`all_true`).
#[inline(always)]
fn all_true<L: Lane>(a: u128) -> bool {
    (0..128 / L::BITS).all(|i| get::<L>(a, i).bits() != 0)
}

/// `q15mulr_sat_s` (Wasm 3.0 §4.3.x iq15mulrsat_s): rounding Q15
/// multiplication, saturated.
fn q15mulr(a: i16, b: i16) -> i16 {
    let p = (i32::from(a) * i32::from(b) + 0x4000) >> 15;
    p.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// `avgr_u`: rounding average.
macro_rules! avgr {
    ($t:ty, $w:ty) => {
        |a: $t, b: $t| ((<$w>::from(a) + <$w>::from(b) + 1) >> 1) as $t
    };
}

/// `pmin`/`pmax` (Wasm 3.0 §4.3.x fpmin: `b < a ? b : a`).
fn pmin<F: PartialOrd>(a: F, b: F) -> F {
    if b < a { b } else { a }
}

fn pmax<F: PartialOrd>(a: F, b: F) -> F {
    if a < b { b } else { a }
}

/// Which `v128` load (Wasm 3.0 §4.4.7 `v128.load*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V128LoadKind {
    /// 16 bytes.
    Full,
    /// 8 bytes, each sign-extended to 16 bits.
    S8x8,
    /// 8 bytes, each zero-extended to 16 bits.
    U8x8,
    /// 4 × i16, sign-extended to 32 bits.
    S16x4,
    /// 4 × u16, zero-extended.
    U16x4,
    /// 2 × i32, sign-extended to 64 bits.
    S32x2,
    /// 2 × u32, zero-extended.
    U32x2,
    /// One byte in every lane.
    Splat8,
    /// One i16 in every lane.
    Splat16,
    /// One i32 in every lane.
    Splat32,
    /// One i64 in every lane.
    Splat64,
    /// One i32 in lane 0, the rest zero.
    Zero32,
    /// One i64 in lane 0, the rest zero.
    Zero64,
}

macro_rules! simd_ops {
    (
        plain [ $($plain:ident)* ]
        lane [ $($lane:ident)* ]
    ) => {
        /// The SIMD operators that take their operands from the stack
        /// (names as in `wasmparser`); a lane operator takes its lane index
        /// from the instruction (`Instr::Simd`'s second field).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum SimdOp { $($plain,)* $($lane,)* }

        /// The stack SIMD operator of a `wasmparser` operator and its lane
        /// immediate, if it is one.
        pub(crate) fn simd_op(op: &wasmparser::Operator<'_>) -> Option<(SimdOp, u8)> {
            use wasmparser::Operator as O;
            Some(match *op {
                $(O::$plain => (SimdOp::$plain, 0),)*
                $(O::$lane { lane } => (SimdOp::$lane, lane),)*
                _ => return None,
            })
        }
    };
}

simd_ops! {
    plain [
        I8x16Swizzle I8x16Splat I16x8Splat I32x4Splat I64x2Splat F32x4Splat F64x2Splat
        I8x16Eq I8x16Ne I8x16LtS I8x16LtU I8x16GtS I8x16GtU I8x16LeS I8x16LeU I8x16GeS I8x16GeU
        I16x8Eq I16x8Ne I16x8LtS I16x8LtU I16x8GtS I16x8GtU I16x8LeS I16x8LeU I16x8GeS I16x8GeU
        I32x4Eq I32x4Ne I32x4LtS I32x4LtU I32x4GtS I32x4GtU I32x4LeS I32x4LeU I32x4GeS I32x4GeU
        I64x2Eq I64x2Ne I64x2LtS I64x2GtS I64x2LeS I64x2GeS
        F32x4Eq F32x4Ne F32x4Lt F32x4Gt F32x4Le F32x4Ge
        F64x2Eq F64x2Ne F64x2Lt F64x2Gt F64x2Le F64x2Ge
        V128Not V128And V128AndNot V128Or V128Xor V128Bitselect V128AnyTrue
        I8x16Abs I8x16Neg I8x16Popcnt I8x16AllTrue I8x16Bitmask I8x16NarrowI16x8S I8x16NarrowI16x8U
        I8x16Shl I8x16ShrS I8x16ShrU I8x16Add I8x16AddSatS I8x16AddSatU I8x16Sub I8x16SubSatS
        I8x16SubSatU I8x16MinS I8x16MinU I8x16MaxS I8x16MaxU I8x16AvgrU
        I16x8ExtAddPairwiseI8x16S I16x8ExtAddPairwiseI8x16U I16x8Abs I16x8Neg I16x8Q15MulrSatS
        I16x8AllTrue I16x8Bitmask I16x8NarrowI32x4S I16x8NarrowI32x4U
        I16x8ExtendLowI8x16S I16x8ExtendHighI8x16S I16x8ExtendLowI8x16U I16x8ExtendHighI8x16U
        I16x8Shl I16x8ShrS I16x8ShrU I16x8Add I16x8AddSatS I16x8AddSatU I16x8Sub I16x8SubSatS
        I16x8SubSatU I16x8Mul I16x8MinS I16x8MinU I16x8MaxS I16x8MaxU I16x8AvgrU
        I16x8ExtMulLowI8x16S I16x8ExtMulHighI8x16S I16x8ExtMulLowI8x16U I16x8ExtMulHighI8x16U
        I32x4ExtAddPairwiseI16x8S I32x4ExtAddPairwiseI16x8U I32x4Abs I32x4Neg I32x4AllTrue
        I32x4Bitmask I32x4ExtendLowI16x8S I32x4ExtendHighI16x8S I32x4ExtendLowI16x8U
        I32x4ExtendHighI16x8U I32x4Shl I32x4ShrS I32x4ShrU I32x4Add I32x4Sub I32x4Mul I32x4MinS
        I32x4MinU I32x4MaxS I32x4MaxU I32x4DotI16x8S
        I32x4ExtMulLowI16x8S I32x4ExtMulHighI16x8S I32x4ExtMulLowI16x8U I32x4ExtMulHighI16x8U
        I64x2Abs I64x2Neg I64x2AllTrue I64x2Bitmask I64x2ExtendLowI32x4S I64x2ExtendHighI32x4S
        I64x2ExtendLowI32x4U I64x2ExtendHighI32x4U I64x2Shl I64x2ShrS I64x2ShrU I64x2Add I64x2Sub
        I64x2Mul I64x2ExtMulLowI32x4S I64x2ExtMulHighI32x4S I64x2ExtMulLowI32x4U
        I64x2ExtMulHighI32x4U
        F32x4Ceil F32x4Floor F32x4Trunc F32x4Nearest F32x4Abs F32x4Neg F32x4Sqrt F32x4Add
        F32x4Sub F32x4Mul F32x4Div F32x4Min F32x4Max F32x4PMin F32x4PMax
        F64x2Ceil F64x2Floor F64x2Trunc F64x2Nearest F64x2Abs F64x2Neg F64x2Sqrt F64x2Add
        F64x2Sub F64x2Mul F64x2Div F64x2Min F64x2Max F64x2PMin F64x2PMax
        I32x4TruncSatF32x4S I32x4TruncSatF32x4U F32x4ConvertI32x4S F32x4ConvertI32x4U
        I32x4TruncSatF64x2SZero I32x4TruncSatF64x2UZero F64x2ConvertLowI32x4S
        F64x2ConvertLowI32x4U F32x4DemoteF64x2Zero F64x2PromoteLowF32x4
        I8x16RelaxedSwizzle I32x4RelaxedTruncF32x4S I32x4RelaxedTruncF32x4U
        I32x4RelaxedTruncF64x2SZero I32x4RelaxedTruncF64x2UZero F32x4RelaxedMadd
        F32x4RelaxedNmadd F64x2RelaxedMadd F64x2RelaxedNmadd I8x16RelaxedLaneselect
        I16x8RelaxedLaneselect I32x4RelaxedLaneselect I64x2RelaxedLaneselect F32x4RelaxedMin
        F32x4RelaxedMax F64x2RelaxedMin F64x2RelaxedMax I16x8RelaxedQ15mulrS
        I16x8RelaxedDotI8x16I7x16S I32x4RelaxedDotI8x16I7x16AddS
    ]
    lane [
        I8x16ExtractLaneS I8x16ExtractLaneU I8x16ReplaceLane I16x8ExtractLaneS I16x8ExtractLaneU
        I16x8ReplaceLane I32x4ExtractLane I32x4ReplaceLane I64x2ExtractLane I64x2ReplaceLane
        F32x4ExtractLane F32x4ReplaceLane F64x2ExtractLane F64x2ReplaceLane
    ]
}

/// The operand stack as the SIMD operators see it: cells with a bounds
/// check on every access (validation guarantees the operands are there;
/// a violation ends in a trap, never in undefined behaviour).
struct Operands<'a> {
    stack: &'a mut [u64],
    sp: &'a mut usize,
}

impl Operands<'_> {
    fn pop(&mut self) -> Result<u64, TrapKind> {
        *self.sp = self.sp.checked_sub(1).ok_or(TrapKind::Unreachable)?;
        self.stack
            .get(*self.sp)
            .copied()
            .ok_or(TrapKind::Unreachable)
    }

    fn pop_v(&mut self) -> Result<u128, TrapKind> {
        let hi = self.pop()?;
        let lo = self.pop()?;
        Ok(v128_from_cells(lo, hi))
    }

    fn push(&mut self, c: u64) -> Result<(), TrapKind> {
        *self
            .stack
            .get_mut(*self.sp)
            .ok_or(TrapKind::StackExhausted)? = c;
        *self.sp += 1;
        Ok(())
    }

    fn push_v(&mut self, v: u128) -> Result<(), TrapKind> {
        let [lo, hi] = v128_to_cells(v);
        self.push(lo)?;
        self.push(hi)
    }
}

/// Runs a SIMD instruction (the dispatch loop's fallback arm hands them
/// here through `memory::exec_bulk`).
pub(crate) fn exec(
    stack: &mut [u64],
    inst: &InstanceData,
    instr: &Instr,
    sp: &mut usize,
) -> Result<(), TrapKind> {
    let mut s = Operands { stack, sp };
    match *instr {
        Instr::Simd(op, lane) => op_exec(&mut s, op, lane),
        Instr::Shuffle(lanes) => {
            // Wasm 3.0 §4.4.4 (i8x16.shuffle): indices below 32, validated.
            let b = s.pop_v()?;
            let a = s.pop_v()?;
            let v = build::<u8>(|i| {
                let l = u32::from(lanes[i as usize]);
                if l < 16 { get(a, l) } else { get(b, l & 15) }
            });
            s.push_v(v)
        }
        Instr::V128Load(kind, arg) => {
            // SAFETY: validation bounds `arg.mem` by the memory count.
            let mem = unsafe { inst.vmctx.memory(arg.mem) };
            let addr = s.pop()?;
            let oob = TrapKind::MemoryOutOfBounds;
            let read8 = || super::memory::read_bytes::<8>(&mem, arg, addr).map(u64::from_le_bytes);
            let v = match kind {
                V128LoadKind::Full => u128::from_le_bytes(
                    super::memory::read_bytes::<16>(&mem, arg, addr).ok_or(oob)?,
                ),
                V128LoadKind::S8x8 => {
                    widen::<i8, i16>(read8().ok_or(oob)?.into(), false, i16::from)
                }
                V128LoadKind::U8x8 => {
                    widen::<u8, u16>(read8().ok_or(oob)?.into(), false, u16::from)
                }
                V128LoadKind::S16x4 => {
                    widen::<i16, i32>(read8().ok_or(oob)?.into(), false, i32::from)
                }
                V128LoadKind::U16x4 => {
                    widen::<u16, u32>(read8().ok_or(oob)?.into(), false, u32::from)
                }
                V128LoadKind::S32x2 => {
                    widen::<i32, i64>(read8().ok_or(oob)?.into(), false, i64::from)
                }
                V128LoadKind::U32x2 => {
                    widen::<u32, u64>(read8().ok_or(oob)?.into(), false, u64::from)
                }
                V128LoadKind::Splat8 => {
                    splat(super::memory::read_bytes::<1>(&mem, arg, addr).ok_or(oob)?[0])
                }
                V128LoadKind::Splat16 => splat(u16::from_le_bytes(
                    super::memory::read_bytes::<2>(&mem, arg, addr).ok_or(oob)?,
                )),
                V128LoadKind::Splat32 => splat(u32::from_le_bytes(
                    super::memory::read_bytes::<4>(&mem, arg, addr).ok_or(oob)?,
                )),
                V128LoadKind::Splat64 => splat(read8().ok_or(oob)?),
                V128LoadKind::Zero32 => u128::from(u32::from_le_bytes(
                    super::memory::read_bytes::<4>(&mem, arg, addr).ok_or(oob)?,
                )),
                V128LoadKind::Zero64 => u128::from(read8().ok_or(oob)?),
            };
            s.push_v(v)
        }
        Instr::V128Store(arg) => {
            let v = s.pop_v()?;
            let addr = s.pop()?;
            // SAFETY: validation bounds `arg.mem` by the memory count.
            let mem = unsafe { inst.vmctx.memory(arg.mem) };
            super::memory::write_bytes(&mem, arg, addr, v.to_le_bytes())
                .ok_or(TrapKind::MemoryOutOfBounds)
        }
        Instr::V128LoadLane { bytes, lane, arg } | Instr::V128StoreLane { bytes, lane, arg } => {
            let v = s.pop_v()?;
            let addr = s.pop()?;
            // SAFETY: validation bounds `arg.mem` by the memory count.
            let m = unsafe { inst.vmctx.memory(arg.mem) };
            let lane = u32::from(lane);
            let oob = TrapKind::MemoryOutOfBounds;
            if let Instr::V128StoreLane { .. } = *instr {
                return match bytes {
                    1 => super::memory::write_bytes(&m, arg, addr, [get::<u8>(v, lane)]),
                    2 => {
                        super::memory::write_bytes(&m, arg, addr, get::<u16>(v, lane).to_le_bytes())
                    }
                    4 => {
                        super::memory::write_bytes(&m, arg, addr, get::<u32>(v, lane).to_le_bytes())
                    }
                    _ => {
                        super::memory::write_bytes(&m, arg, addr, get::<u64>(v, lane).to_le_bytes())
                    }
                }
                .ok_or(oob);
            }
            // Each width reads exactly its own bytes (the bounds check is
            // the access's own size).
            let r = match bytes {
                1 => {
                    let x = super::memory::read_bytes::<1>(&m, arg, addr).ok_or(oob)?;
                    replace::<u8>(v, lane, u64::from(x[0]))
                }
                2 => {
                    let x = super::memory::read_bytes::<2>(&m, arg, addr).ok_or(oob)?;
                    replace::<u16>(v, lane, u64::from(u16::from_le_bytes(x)))
                }
                4 => {
                    let x = super::memory::read_bytes::<4>(&m, arg, addr).ok_or(oob)?;
                    replace::<u32>(v, lane, u64::from(u32::from_le_bytes(x)))
                }
                _ => {
                    let x = super::memory::read_bytes::<8>(&m, arg, addr).ok_or(oob)?;
                    replace::<u64>(v, lane, u64::from_le_bytes(x))
                }
            };
            s.push_v(r)
        }
        Instr::GlobalGetV128(g) => {
            // SAFETY: validation bounds `g` by the global count; the cell
            // lives as long as the store.
            let d = unsafe { *inst.vmctx.global(g) };
            s.push(d.value)?;
            s.push(d.hi)
        }
        Instr::GlobalSetV128(g) => {
            let [value, hi] = v128_to_cells(s.pop_v()?);
            // SAFETY: as for `GlobalGetV128`.
            unsafe {
                let d = inst.vmctx.global(g);
                (*d).value = value;
                (*d).hi = hi;
            }
            Ok(())
        }
        Instr::SelectV128 => {
            let c = s.pop()?;
            let b = s.pop_v()?;
            let a = s.pop_v()?;
            s.push_v(if c as u32 != 0 { a } else { b })
        }
        _ => Err(TrapKind::Unreachable),
    }
}

/// `v` with lane `i` (of width `L`) set to the low bits of `x`.
fn replace<L: Lane>(v: u128, lane: u32, x: u64) -> u128 {
    let x = L::from_bits(x);
    build::<L>(|i| if i == lane { x } else { get(v, i) })
}

/// The operators on stack operands only.
fn op_exec(s: &mut Operands<'_>, op: SimdOp, lane: u8) -> Result<(), TrapKind> {
    use SimdOp as S;
    let lane = u32::from(lane);
    // Operand shapes: `un!` v → v, `bin!` v v → v, `tern!` v v v → v,
    // `test!` v → i32, `shift!` v i32 → v (count modulo the lane width,
    // Wasm 3.0 §4.3.x ishl), `splat!` scalar → v.
    macro_rules! un {
        ($f:expr) => {{
            let a = s.pop_v()?;
            let f: fn(u128) -> u128 = $f;
            s.push_v(f(a))
        }};
    }
    macro_rules! bin {
        ($f:expr) => {{
            let b = s.pop_v()?;
            let a = s.pop_v()?;
            let f: fn(u128, u128) -> u128 = $f;
            s.push_v(f(a, b))
        }};
    }
    macro_rules! tern {
        ($f:expr) => {{
            let c = s.pop_v()?;
            let b = s.pop_v()?;
            let a = s.pop_v()?;
            let f: fn(u128, u128, u128) -> u128 = $f;
            s.push_v(f(a, b, c))
        }};
    }
    macro_rules! test {
        ($f:expr) => {{
            let a = s.pop_v()?;
            let f: fn(u128) -> u64 = $f;
            s.push(f(a))
        }};
    }
    macro_rules! shift {
        ($t:ty, $f:ident) => {{
            let n = s.pop()? as u32;
            let a = s.pop_v()?;
            s.push_v(map::<$t, $t>(a, |x| x.$f(n)))
        }};
    }
    macro_rules! splat_of {
        ($t:ty) => {{
            let x = s.pop()?;
            s.push_v(splat(<$t>::from_bits(x)))
        }};
    }
    // Lane-wise binary and comparison operators of one lane type.
    macro_rules! zipf {
        ($t:ty, $f:expr) => {
            bin!(|a, b| zip::<$t>(a, b, $f))
        };
    }
    macro_rules! mapf {
        ($t:ty, $f:expr) => {
            un!(|a| map::<$t, $t>(a, $f))
        };
    }
    macro_rules! extract {
        ($t:ty, $cell:expr) => {{
            let a = s.pop_v()?;
            let f: fn($t) -> u64 = $cell;
            s.push(f(get::<$t>(a, lane)))
        }};
    }
    macro_rules! replace_lane {
        ($t:ty) => {{
            let x = s.pop()?;
            let a = s.pop_v()?;
            s.push_v(replace::<$t>(a, lane, x))
        }};
    }
    match op {
        // Wasm 3.0 §4.4.4 (i8x16.swizzle): out-of-range indices give 0.
        // Relaxed swizzle: the same (index ≥ 16 → 0).
        S::I8x16Swizzle | S::I8x16RelaxedSwizzle => bin!(|a, b| build::<u8>(|i| {
            let l = get::<u8>(b, i);
            if l < 16 { get(a, u32::from(l)) } else { 0 }
        })),
        S::I8x16Splat => splat_of!(u8),
        S::I16x8Splat => splat_of!(u16),
        S::I32x4Splat | S::F32x4Splat => splat_of!(u32),
        S::I64x2Splat | S::F64x2Splat => splat_of!(u64),

        S::V128Not => un!(|a| !a),
        S::V128And => bin!(|a, b| a & b),
        S::V128AndNot => bin!(|a, b| a & !b),
        S::V128Or => bin!(|a, b| a | b),
        S::V128Xor => bin!(|a, b| a ^ b),
        // Relaxed laneselect: the same as bitselect (every bit of the mask
        // chooses), one of the allowed results for any mask.
        S::V128Bitselect
        | S::I8x16RelaxedLaneselect
        | S::I16x8RelaxedLaneselect
        | S::I32x4RelaxedLaneselect
        | S::I64x2RelaxedLaneselect => tern!(|a, b, c| (a & c) | (b & !c)),
        S::V128AnyTrue => test!(|a| u64::from(a != 0)),

        S::I8x16Abs => mapf!(i8, i8::wrapping_abs),
        S::I8x16Neg => mapf!(i8, i8::wrapping_neg),
        S::I8x16Popcnt => mapf!(u8, |x| x.count_ones() as u8),
        S::I8x16AllTrue => test!(|a| u64::from(all_true::<u8>(a))),
        S::I8x16Bitmask => test!(bitmask::<u8>),
        S::I8x16NarrowI16x8S => bin!(|a, b| narrow::<i16, i8>(a, b, |x| x
            .clamp(i16::from(i8::MIN), i16::from(i8::MAX))
            as i8)),
        S::I8x16NarrowI16x8U => {
            bin!(|a, b| narrow::<i16, u8>(a, b, |x| x.clamp(0, i16::from(u8::MAX)) as u8))
        }
        S::I8x16Shl => shift!(u8, wrapping_shl),
        S::I8x16ShrS => shift!(i8, wrapping_shr),
        S::I8x16ShrU => shift!(u8, wrapping_shr),
        S::I8x16Add => zipf!(u8, u8::wrapping_add),
        S::I8x16AddSatS => zipf!(i8, i8::saturating_add),
        S::I8x16AddSatU => zipf!(u8, u8::saturating_add),
        S::I8x16Sub => zipf!(u8, u8::wrapping_sub),
        S::I8x16SubSatS => zipf!(i8, i8::saturating_sub),
        S::I8x16SubSatU => zipf!(u8, u8::saturating_sub),
        S::I8x16MinS => zipf!(i8, Ord::min),
        S::I8x16MinU => zipf!(u8, Ord::min),
        S::I8x16MaxS => zipf!(i8, Ord::max),
        S::I8x16MaxU => zipf!(u8, Ord::max),
        S::I8x16AvgrU => zipf!(u8, avgr!(u8, u16)),

        S::I16x8ExtAddPairwiseI8x16S => {
            un!(|a| pairwise::<i8, i16>(a, 0, |x, y, _, _| i16::from(x) + i16::from(y)))
        }
        S::I16x8ExtAddPairwiseI8x16U => {
            un!(|a| pairwise::<u8, u16>(a, 0, |x, y, _, _| u16::from(x) + u16::from(y)))
        }
        S::I16x8Abs => mapf!(i16, i16::wrapping_abs),
        S::I16x8Neg => mapf!(i16, i16::wrapping_neg),
        // Relaxed q15mulr: the saturating result (for -1.0 × -1.0 too).
        S::I16x8Q15MulrSatS | S::I16x8RelaxedQ15mulrS => zipf!(i16, q15mulr),
        S::I16x8AllTrue => test!(|a| u64::from(all_true::<u16>(a))),
        S::I16x8Bitmask => test!(bitmask::<u16>),
        S::I16x8NarrowI32x4S => bin!(|a, b| narrow::<i32, i16>(a, b, |x| x
            .clamp(i32::from(i16::MIN), i32::from(i16::MAX))
            as i16)),
        S::I16x8NarrowI32x4U => {
            bin!(|a, b| narrow::<i32, u16>(a, b, |x| x.clamp(0, i32::from(u16::MAX)) as u16))
        }
        S::I16x8ExtendLowI8x16S => un!(|a| widen::<i8, i16>(a, false, i16::from)),
        S::I16x8ExtendHighI8x16S => un!(|a| widen::<i8, i16>(a, true, i16::from)),
        S::I16x8ExtendLowI8x16U => un!(|a| widen::<u8, u16>(a, false, u16::from)),
        S::I16x8ExtendHighI8x16U => un!(|a| widen::<u8, u16>(a, true, u16::from)),
        S::I16x8Shl => shift!(u16, wrapping_shl),
        S::I16x8ShrS => shift!(i16, wrapping_shr),
        S::I16x8ShrU => shift!(u16, wrapping_shr),
        S::I16x8Add => zipf!(u16, u16::wrapping_add),
        S::I16x8AddSatS => zipf!(i16, i16::saturating_add),
        S::I16x8AddSatU => zipf!(u16, u16::saturating_add),
        S::I16x8Sub => zipf!(u16, u16::wrapping_sub),
        S::I16x8SubSatS => zipf!(i16, i16::saturating_sub),
        S::I16x8SubSatU => zipf!(u16, u16::saturating_sub),
        S::I16x8Mul => zipf!(u16, u16::wrapping_mul),
        S::I16x8MinS => zipf!(i16, Ord::min),
        S::I16x8MinU => zipf!(u16, Ord::min),
        S::I16x8MaxS => zipf!(i16, Ord::max),
        S::I16x8MaxU => zipf!(u16, Ord::max),
        S::I16x8AvgrU => zipf!(u16, avgr!(u16, u32)),
        S::I16x8ExtMulLowI8x16S => bin!(|a, b| extmul::<i8, i16>(a, b, false)),
        S::I16x8ExtMulHighI8x16S => bin!(|a, b| extmul::<i8, i16>(a, b, true)),
        S::I16x8ExtMulLowI8x16U => bin!(|a, b| extmul::<u8, u16>(a, b, false)),
        S::I16x8ExtMulHighI8x16U => bin!(|a, b| extmul::<u8, u16>(a, b, true)),

        S::I32x4ExtAddPairwiseI16x8S => {
            un!(|a| pairwise::<i16, i32>(a, 0, |x, y, _, _| i32::from(x) + i32::from(y)))
        }
        S::I32x4ExtAddPairwiseI16x8U => {
            un!(|a| pairwise::<u16, u32>(a, 0, |x, y, _, _| u32::from(x) + u32::from(y)))
        }
        S::I32x4Abs => mapf!(i32, i32::wrapping_abs),
        S::I32x4Neg => mapf!(i32, i32::wrapping_neg),
        S::I32x4AllTrue => test!(|a| u64::from(all_true::<u32>(a))),
        S::I32x4Bitmask => test!(bitmask::<u32>),
        S::I32x4ExtendLowI16x8S => un!(|a| widen::<i16, i32>(a, false, i32::from)),
        S::I32x4ExtendHighI16x8S => un!(|a| widen::<i16, i32>(a, true, i32::from)),
        S::I32x4ExtendLowI16x8U => un!(|a| widen::<u16, u32>(a, false, u32::from)),
        S::I32x4ExtendHighI16x8U => un!(|a| widen::<u16, u32>(a, true, u32::from)),
        S::I32x4Shl => shift!(u32, wrapping_shl),
        S::I32x4ShrS => shift!(i32, wrapping_shr),
        S::I32x4ShrU => shift!(u32, wrapping_shr),
        S::I32x4Add => zipf!(u32, u32::wrapping_add),
        S::I32x4Sub => zipf!(u32, u32::wrapping_sub),
        S::I32x4Mul => zipf!(u32, u32::wrapping_mul),
        S::I32x4MinS => zipf!(i32, Ord::min),
        S::I32x4MinU => zipf!(u32, Ord::min),
        S::I32x4MaxS => zipf!(i32, Ord::max),
        S::I32x4MaxU => zipf!(u32, Ord::max),
        // Wasm 3.0 §4.3.x (idot_s): the sum of two i32 products wraps.
        S::I32x4DotI16x8S => bin!(dot_i16),
        S::I32x4ExtMulLowI16x8S => bin!(|a, b| extmul::<i16, i32>(a, b, false)),
        S::I32x4ExtMulHighI16x8S => bin!(|a, b| extmul::<i16, i32>(a, b, true)),
        S::I32x4ExtMulLowI16x8U => bin!(|a, b| extmul::<u16, u32>(a, b, false)),
        S::I32x4ExtMulHighI16x8U => bin!(|a, b| extmul::<u16, u32>(a, b, true)),

        S::I64x2Abs => mapf!(i64, i64::wrapping_abs),
        S::I64x2Neg => mapf!(i64, i64::wrapping_neg),
        S::I64x2AllTrue => test!(|a| u64::from(all_true::<u64>(a))),
        S::I64x2Bitmask => test!(bitmask::<u64>),
        S::I64x2ExtendLowI32x4S => un!(|a| widen::<i32, i64>(a, false, i64::from)),
        S::I64x2ExtendHighI32x4S => un!(|a| widen::<i32, i64>(a, true, i64::from)),
        S::I64x2ExtendLowI32x4U => un!(|a| widen::<u32, u64>(a, false, u64::from)),
        S::I64x2ExtendHighI32x4U => un!(|a| widen::<u32, u64>(a, true, u64::from)),
        S::I64x2Shl => shift!(u64, wrapping_shl),
        S::I64x2ShrS => shift!(i64, wrapping_shr),
        S::I64x2ShrU => shift!(u64, wrapping_shr),
        S::I64x2Add => zipf!(u64, u64::wrapping_add),
        S::I64x2Sub => zipf!(u64, u64::wrapping_sub),
        S::I64x2Mul => zipf!(u64, u64::wrapping_mul),
        S::I64x2ExtMulLowI32x4S => bin!(|a, b| extmul::<i32, i64>(a, b, false)),
        S::I64x2ExtMulHighI32x4S => bin!(|a, b| extmul::<i32, i64>(a, b, true)),
        S::I64x2ExtMulLowI32x4U => bin!(|a, b| extmul::<u32, u64>(a, b, false)),
        S::I64x2ExtMulHighI32x4U => bin!(|a, b| extmul::<u32, u64>(a, b, true)),

        // Float lanes follow the scalar operators (`numeric.rs`): NaN
        // results are arithmetic NaNs, abs/neg are sign-bit operations.
        S::F32x4Ceil => mapf!(f32, |x| quiet_f32(x.ceil())),
        S::F32x4Floor => mapf!(f32, |x| quiet_f32(x.floor())),
        S::F32x4Trunc => mapf!(f32, |x| quiet_f32(x.trunc())),
        S::F32x4Nearest => mapf!(f32, |x| quiet_f32(x.round_ties_even())),
        S::F32x4Abs => un!(|a| a & !splat(0x8000_0000u32)),
        S::F32x4Neg => un!(|a| a ^ splat(0x8000_0000u32)),
        S::F32x4Sqrt => mapf!(f32, |x| quiet_f32(x.sqrt())),
        S::F32x4Add => zipf!(f32, |a, b| a + b),
        S::F32x4Sub => zipf!(f32, |a, b| a - b),
        S::F32x4Mul => zipf!(f32, |a, b| a * b),
        S::F32x4Div => zipf!(f32, |a, b| a / b),
        // Relaxed min/max: the strict result (NaN-propagating, -0 < +0).
        S::F32x4Min | S::F32x4RelaxedMin => zipf!(f32, fmin),
        S::F32x4Max | S::F32x4RelaxedMax => zipf!(f32, fmax),
        S::F32x4PMin => zipf!(f32, pmin),
        S::F32x4PMax => zipf!(f32, pmax),
        S::F64x2Ceil => mapf!(f64, |x| quiet_f64(x.ceil())),
        S::F64x2Floor => mapf!(f64, |x| quiet_f64(x.floor())),
        S::F64x2Trunc => mapf!(f64, |x| quiet_f64(x.trunc())),
        S::F64x2Nearest => mapf!(f64, |x| quiet_f64(x.round_ties_even())),
        S::F64x2Abs => un!(|a| a & !splat(0x8000_0000_0000_0000u64)),
        S::F64x2Neg => un!(|a| a ^ splat(0x8000_0000_0000_0000u64)),
        S::F64x2Sqrt => mapf!(f64, |x| quiet_f64(x.sqrt())),
        S::F64x2Add => zipf!(f64, |a, b| a + b),
        S::F64x2Sub => zipf!(f64, |a, b| a - b),
        S::F64x2Mul => zipf!(f64, |a, b| a * b),
        S::F64x2Div => zipf!(f64, |a, b| a / b),
        S::F64x2Min | S::F64x2RelaxedMin => zipf!(f64, fmin),
        S::F64x2Max | S::F64x2RelaxedMax => zipf!(f64, fmax),
        S::F64x2PMin => zipf!(f64, pmin),
        S::F64x2PMax => zipf!(f64, pmax),

        // Rust's float-to-int `as` saturates and maps NaN to 0: exactly
        // `trunc_sat` (Wasm 3.0 §4.3.x). Relaxed truncation: the same.
        S::I32x4TruncSatF32x4S | S::I32x4RelaxedTruncF32x4S => {
            un!(|a| map::<f32, i32>(a, |x| x as i32))
        }
        S::I32x4TruncSatF32x4U | S::I32x4RelaxedTruncF32x4U => {
            un!(|a| map::<f32, u32>(a, |x| x as u32))
        }
        S::F32x4ConvertI32x4S => un!(|a| map::<i32, f32>(a, |x| x as f32)),
        S::F32x4ConvertI32x4U => un!(|a| map::<u32, f32>(a, |x| x as f32)),
        S::I32x4TruncSatF64x2SZero | S::I32x4RelaxedTruncF64x2SZero => {
            un!(|a| narrow::<f64, i32>(a, 0, |x| x as i32) & u128::from(u64::MAX))
        }
        S::I32x4TruncSatF64x2UZero | S::I32x4RelaxedTruncF64x2UZero => {
            un!(|a| narrow::<f64, u32>(a, 0, |x| x as u32) & u128::from(u64::MAX))
        }
        S::F64x2ConvertLowI32x4S => un!(|a| widen::<i32, f64>(a, false, f64::from)),
        S::F64x2ConvertLowI32x4U => un!(|a| widen::<u32, f64>(a, false, f64::from)),
        // Demotion rounds to nearest; NaNs stay NaN (quieted).
        S::F32x4DemoteF64x2Zero => {
            un!(|a| narrow::<f64, f32>(a, 0, |x| quiet_f32(x as f32)) & u128::from(u64::MAX))
        }
        S::F64x2PromoteLowF32x4 => un!(|a| widen::<f32, f64>(a, false, |x| quiet_f64(x.into()))),

        // Relaxed madd/nmadd: unfused (`a * b + c`, two roundings), as on
        // a host without FMA; both results are allowed.
        S::F32x4RelaxedMadd => tern!(|a, b, c| build::<f32>(|i| get::<f32>(a, i)
            * get::<f32>(b, i)
            + get::<f32>(c, i))),
        S::F32x4RelaxedNmadd => tern!(|a, b, c| build::<f32>(|i| -(get::<f32>(a, i)
            * get::<f32>(b, i))
            + get::<f32>(c, i))),
        S::F64x2RelaxedMadd => tern!(|a, b, c| build::<f64>(|i| get::<f64>(a, i)
            * get::<f64>(b, i)
            + get::<f64>(c, i))),
        S::F64x2RelaxedNmadd => tern!(|a, b, c| build::<f64>(|i| -(get::<f64>(a, i)
            * get::<f64>(b, i))
            + get::<f64>(c, i))),
        // Relaxed dot products: both operands signed (the result the
        // proposal allows whatever the top bit of `b`'s lanes), pair sums
        // wrapping in 16 bits; the 4-way form adds the two 16-bit pair sums
        // sign-extended, then `c`.
        S::I16x8RelaxedDotI8x16I7x16S => bin!(relaxed_dot_i8),
        S::I32x4RelaxedDotI8x16I7x16AddS => tern!(|a, b, c| {
            let d = relaxed_dot_i8(a, b);
            build::<i32>(|i| {
                let pair = i32::from(get::<i16>(d, 2 * i)) + i32::from(get::<i16>(d, 2 * i + 1));
                pair.wrapping_add(get::<i32>(c, i))
            })
        }),

        S::I8x16ExtractLaneS => extract!(i8, |x| u64::from(x as i32 as u32)),
        S::I8x16ExtractLaneU => extract!(u8, u64::from),
        S::I16x8ExtractLaneS => extract!(i16, |x| u64::from(x as i32 as u32)),
        S::I16x8ExtractLaneU => extract!(u16, u64::from),
        S::I32x4ExtractLane | S::F32x4ExtractLane => extract!(u32, u64::from),
        S::I64x2ExtractLane | S::F64x2ExtractLane => extract!(u64, |x| x),
        S::I8x16ReplaceLane => replace_lane!(u8),
        S::I16x8ReplaceLane => replace_lane!(u16),
        S::I32x4ReplaceLane | S::F32x4ReplaceLane => replace_lane!(u32),
        S::I64x2ReplaceLane | S::F64x2ReplaceLane => replace_lane!(u64),
        // The comparisons, by their position in the operator list.
        relop => {
            let b = s.pop_v()?;
            let a = s.pop_v()?;
            s.push_v(compare(relop, a, b).ok_or(TrapKind::Unreachable)?)
        }
    }
}

/// Comparison `k` in the order eq, ne, lt, gt, le, ge (Wasm 3.0 §4.3.x
/// vrelop): all ones where it holds (float lanes compare as IEEE 754
/// numbers: NaN is unequal to everything, -0 equals +0).
fn relop<T: Lane + PartialOrd>(k: u8, a: u128, b: u128) -> u128 {
    match k {
        0 => cmp::<T>(a, b, |x, y| x == y),
        1 => cmp::<T>(a, b, |x, y| x != y),
        2 => cmp::<T>(a, b, |x, y| x < y),
        3 => cmp::<T>(a, b, |x, y| x > y),
        4 => cmp::<T>(a, b, |x, y| x <= y),
        _ => cmp::<T>(a, b, |x, y| x >= y),
    }
}

/// Comparison `k` of an 8-, 16- or 32-bit integer shape, in Wasm's order:
/// eq, ne, then lt, gt, le, ge, each signed (`S`) then unsigned (`U`).
fn int_relop<S: Lane + PartialOrd, U: Lane + PartialOrd>(k: u8, a: u128, b: u128) -> u128 {
    match k {
        0 | 1 => relop::<U>(k, a, b),
        _ if k.is_multiple_of(2) => relop::<S>(2 + (k - 2) / 2, a, b),
        _ => relop::<U>(2 + (k - 2) / 2, a, b),
    }
}

/// A comparison operator's result, None for any other operator. Each
/// shape's comparisons are consecutive in [`SimdOp`] (the proposal's order).
fn compare(op: SimdOp, a: u128, b: u128) -> Option<u128> {
    use SimdOp as S;
    let index =
        |first: SimdOp, n: u8| Some((op as u8).wrapping_sub(first as u8)).filter(|k| *k < n);
    if let Some(k) = index(S::I8x16Eq, 10) {
        Some(int_relop::<i8, u8>(k, a, b))
    } else if let Some(k) = index(S::I16x8Eq, 10) {
        Some(int_relop::<i16, u16>(k, a, b))
    } else if let Some(k) = index(S::I32x4Eq, 10) {
        Some(int_relop::<i32, u32>(k, a, b))
    } else if let Some(k) = index(S::I64x2Eq, 6) {
        // i64x2 has signed comparisons only.
        Some(relop::<i64>(k, a, b))
    } else if let Some(k) = index(S::F32x4Eq, 6) {
        Some(relop::<f32>(k, a, b))
    } else {
        index(S::F64x2Eq, 6).map(|k| relop::<f64>(k, a, b))
    }
}

/// `extmul_low/high`: widen both, multiply (the products fit the wide lane).
fn extmul<N: Lane + Into<i64>, W: Lane>(a: u128, b: u128, high: bool) -> u128 {
    let n = 128 / W::BITS;
    let base = if high { n } else { 0 };
    build::<W>(|i| {
        let x: i64 = get::<N>(a, base + i).into();
        let y: i64 = get::<N>(b, base + i).into();
        W::from_bits(x.wrapping_mul(y) as u64)
    })
}

/// `i32x4.dot_i16x8_s`.
fn dot_i16(a: u128, b: u128) -> u128 {
    pairwise::<i16, i32>(a, b, |a0, a1, b0, b1| {
        let p = |x: i16, y: i16| i32::from(x) * i32::from(y);
        p(a0, b0).wrapping_add(p(a1, b1))
    })
}

/// `i16x8.relaxed_dot_i8x16_i7x16_s`, signed × signed.
fn relaxed_dot_i8(a: u128, b: u128) -> u128 {
    pairwise::<i8, i16>(a, b, |a0, a1, b0, b1| {
        let p = |x: i8, y: i8| i16::from(x) * i16::from(y);
        p(a0, b0).wrapping_add(p(a1, b1))
    })
}

//! The x87 FPU (SDM Vol.1 chapter 8, Vol.2 D8–DF opcodes): register
//! stack with tags, control/status words, loads/stores in every format
//! including packed BCD (`bcd`), arithmetic with precision and rounding
//! control, comparisons, FCMOVcc, constants, FRNDINT/FSCALE/FXTRACT,
//! FPREM/FPREM1, the transcendental functions (`transcendental`, on the
//! 128-bit `wide` float), environment and state save/restore
//! (FNSTENV/FLDENV, FNSAVE/FRSTOR) with the last-instruction pointers
//! (`env`). All other arithmetic is exact 80-bit extended precision through
//! `softfloat`. Where the SDM leaves a choice to the implementation
//! (pointer storing, FPREM's partial step, BCD digits above 9, NaN ties,
//! the transcendentals' last bit) it follows the AMD host the differential
//! harnesses run on.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{CF, PF, ZF};
use super::operand::Loc;
use super::softfloat::{
    self as sf, BinaryOp, Category, Env, F32, F64, F80, Relation, Rounding, exc,
};
use super::state::Cpu;
use crate::mmu::Memory;
use transcendental::Trig;

mod transcendental;
mod wide;

mod bcd;
mod env;

/// Status word bits (SDM Vol.1 §8.1.3).
mod sw {
    pub const SF: u16 = 1 << 6;
    pub const ES: u16 = 1 << 7;
    pub const C0: u16 = 1 << 8;
    pub const C1: u16 = 1 << 9;
    pub const C2: u16 = 1 << 10;
    pub const C3: u16 = 1 << 14;
    pub const B: u16 = 1 << 15;
    pub const CONDITION: u16 = C0 | C1 | C2 | C3;
    pub const TOP_SHIFT: u32 = 11;
}

/// An 80-bit register value: bits 0–63 significand, 64–79 sign and exponent.
type F80Bits = u128;

fn to_bits(reg: (u64, u16)) -> F80Bits {
    ((reg.1 as u128) << 64) | reg.0 as u128
}

fn from_bits(bits: F80Bits) -> (u64, u16) {
    (bits as u64, (bits >> 64) as u16)
}

/// Why an x87 operation stopped early.
enum Abort {
    /// An unmasked exception: state updated, destination untouched.
    Unmasked,
    /// An architectural fault (memory, #UD …).
    Fault(Exception),
}

impl From<Exception> for Abort {
    fn from(e: Exception) -> Self {
        Abort::Fault(e)
    }
}

type X87Result<T> = Result<T, Abort>;

impl Cpu {
    fn top(&self) -> usize {
        ((self.x87.status >> sw::TOP_SHIFT) & 7) as usize
    }

    fn set_top(&mut self, top: usize) {
        self.x87.status =
            (self.x87.status & !(7 << sw::TOP_SHIFT)) | ((top as u16 & 7) << sw::TOP_SHIFT);
    }

    fn physical(&self, i: usize) -> usize {
        (self.top() + i) & 7
    }

    fn st_valid(&self, i: usize) -> bool {
        self.x87.tag & (1 << self.physical(i)) != 0
    }

    fn st(&self, i: usize) -> F80Bits {
        to_bits(self.x87.regs[self.physical(i)])
    }

    fn set_st(&mut self, i: usize, v: F80Bits) {
        let p = self.physical(i);
        self.x87.regs[p] = from_bits(v);
        self.x87.tag |= 1 << p;
    }

    fn x87_env(&self) -> Env {
        let cw = self.x87.control;
        Env {
            rounding: Rounding::from_rc((cw >> 10) as u32),
            flush_to_zero: false,
            denormals_are_zero: false,
            x87_nan_rules: true,
            underflow_unmasked: cw & exc::UNDERFLOW as u16 == 0,
            flags: 0,
            rounded_up: false,
            exponent_bias: 0,
        }
    }

    /// Significand precision from the PC field (SDM Vol.1 §8.1.5.2).
    fn precision(&self) -> u32 {
        match (self.x87.control >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        }
    }

    /// Records `env`'s flags; an unmasked one sets ES/B and aborts the
    /// operation when it is a pre-computation exception (I, D, Z), so the
    /// destination stays unchanged (SDM Vol.1 §8.7).
    fn x87_flags(&mut self, env: &Env) -> X87Result<()> {
        self.x87_flags_aborting_on(env, 0x7, true)
    }

    /// `x87_flags` where only the exceptions in `abort_on` stop the operation.
    fn x87_flags_aborting_on(&mut self, env: &Env, abort_on: u16, clear_c1: bool) -> X87Result<()> {
        let mut flags = env.flags as u16;
        if flags & exc::INVALID as u16 != 0 {
            // #IA takes priority over #D (SDM Vol.1 §8.7.1): no D with I.
            flags &= !(exc::DENORMAL as u16);
        }
        let unmasked = flags & !self.x87.control & 0x3f;
        if unmasked & abort_on != 0 {
            // An unmasked I, D or Z stops the operation: no result, so no
            // post-computation (O, U, P) flags either, and C1 reads 0.
            self.x87.status |= (flags & 0x7) | sw::ES | sw::B;
            if clear_c1 {
                self.set_c1(false);
            }
            return Err(Abort::Unmasked);
        }
        self.x87.status |= flags;
        if unmasked != 0 {
            self.x87.status |= sw::ES | sw::B;
        }
        Ok(())
    }

    /// Sets C1 as the last rounding left it; clears it otherwise.
    fn set_c1(&mut self, on: bool) {
        self.x87.status = (self.x87.status & !sw::C1) | if on { sw::C1 } else { 0 };
    }

    /// Stack fault (#IS): IE + SF, C1 = overflow. The masked response
    /// produces the indefinite QNaN.
    fn stack_fault(&mut self, overflow: bool) -> X87Result<()> {
        self.x87.status |= exc::INVALID as u16 | sw::SF;
        self.set_c1(overflow);
        if self.x87.control & exc::INVALID as u16 == 0 {
            self.x87.status |= sw::ES | sw::B;
            return Err(Abort::Unmasked);
        }
        Ok(())
    }

    /// Reads ST(i), raising a stack underflow if it is empty.
    fn read_st(&mut self, i: usize) -> X87Result<Option<F80Bits>> {
        if self.st_valid(i) {
            Ok(Some(self.st(i)))
        } else {
            self.stack_fault(false)?;
            Ok(None)
        }
    }

    fn push(&mut self, v: F80Bits) -> X87Result<()> {
        let new_top = (self.top() + 7) & 7;
        let value = if self.x87.tag & (1 << new_top) != 0 {
            self.stack_fault(true)?;
            F80.default_nan()
        } else {
            v
        };
        self.set_top(new_top);
        self.set_st(0, value);
        Ok(())
    }

    /// For the instructions that replace ST(0) and push a second result
    /// (FXTRACT, FSINCOS, FPTAN): if ST(7) is in use, raises the stack
    /// overflow and (masked) leaves the indefinite QNaN in both places;
    /// false then.
    fn room_for_second_result(&mut self) -> X87Result<bool> {
        if self.x87.tag & (1 << ((self.top() + 7) & 7)) == 0 {
            return Ok(true);
        }
        self.stack_fault(true)?;
        self.set_st(0, F80.default_nan());
        self.set_top(self.top() + 7);
        self.set_st(0, F80.default_nan());
        Ok(false)
    }

    fn pop(&mut self) {
        let p = self.physical(0);
        self.x87.tag &= !(1 << p);
        self.set_top(self.top() + 1);
    }
}

/// The six arithmetic operations of the D8/DC/DA/DE groups by ModRM.reg.
fn arith_op(reg: u8) -> Option<(BinaryOp, bool)> {
    // (operation, reversed operands)
    match reg {
        0 => Some((BinaryOp::Add, false)),
        1 => Some((BinaryOp::Mul, false)),
        4 => Some((BinaryOp::Sub, false)),
        5 => Some((BinaryOp::Sub, true)),
        6 => Some((BinaryOp::Div, false)),
        7 => Some((BinaryOp::Div, true)),
        _ => None,
    }
}

/// Executes an x87 instruction (D8–DF, 9B).
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    // SDM Vol.3A §2.5: CR0.EM or CR0.TS make x87 instructions fault.
    if cpu.cr0 & (1 << 2) != 0 {
        return Err(Exception::DeviceNotAvailable.into());
    }
    let op = insn.opcode;
    let reg = insn.reg & 7;
    let modrm_low = (insn.rm & 7) as usize;
    let waiting = !is_non_waiting(op, insn.md, reg, modrm_low);
    if waiting && cpu.x87.status & sw::ES != 0 {
        // A pending unmasked exception is delivered now (#MF).
        return Err(Exception::FloatingPoint.into());
    }
    if op == 0x9b {
        return Ok(());
    }
    let result = if insn.md != 3 {
        memory_form(cpu, mem, insn, op, reg)
    } else {
        register_form(cpu, op, reg, modrm_low)
    };
    match result {
        Ok(()) | Err(Abort::Unmasked) => {
            if !is_control(op, insn.md, reg, modrm_low) {
                env::record_pointers(cpu, insn);
            }
            Ok(())
        }
        Err(Abort::Fault(e)) => Err(e.into()),
    }
}

/// FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV and FNSAVE do not check for
/// pending exceptions (SDM Vol.1 §8.6); FLDCW, FLDENV and FRSTOR do.
fn is_non_waiting(op: u8, md: u8, reg: u8, low: usize) -> bool {
    match (op, md == 3) {
        (0xd9, false) => matches!(reg, 6 | 7),
        (0xdb, true) => reg == 4 && (low == 2 || low == 3),
        (0xdd, false) => matches!(reg, 6 | 7),
        (0xdf, true) => reg == 4 && low == 0,
        _ => false,
    }
}

/// The control instructions, which leave the last-instruction pointers
/// alone (SDM Vol.1 §8.1.8): the non-waiting ones, FLDCW, FLDENV, FRSTOR.
fn is_control(op: u8, md: u8, reg: u8, low: usize) -> bool {
    is_non_waiting(op, md, reg, low) || (md != 3 && matches!((op, reg), (0xd9, 4 | 5) | (0xdd, 4)))
}

fn ud() -> X87Result<()> {
    Err(Abort::Fault(Exception::InvalidOpcode))
}

fn memory_form<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    op: u8,
    reg: u8,
) -> X87Result<()> {
    let Loc::Mem(addr) = cpu.rm_loc(insn)? else {
        return ud();
    };
    match (op, reg) {
        // Arithmetic with a memory operand: m32fp, m64fp, m32int, m16int.
        (0xd8 | 0xdc | 0xda | 0xde, _) => {
            let mut env = cpu.x87_env();
            let operand = match op {
                0xd8 => sf::widen_keep_snan(F32, &mut env, cpu.read_mem(mem, addr, 4)? as u128),
                0xdc => sf::widen_keep_snan(F64, &mut env, cpu.read_mem(mem, addr, 8)? as u128),
                0xda => sf::from_integer(
                    F80,
                    &mut env,
                    cpu.read_mem(mem, addr, 4)? as u32 as i32 as i128,
                ),
                _ => sf::from_integer(
                    F80,
                    &mut env,
                    cpu.read_mem(mem, addr, 2)? as u16 as i16 as i128,
                ),
            };
            match reg {
                2 | 3 => compare_st0(cpu, env, Some(operand), (reg == 3) as u8, true),
                _ => {
                    let Some((bop, reversed)) = arith_op(reg) else {
                        return ud();
                    };
                    arithmetic(cpu, env, 0, Some(operand), bop, reversed, false)
                }
            }
        }
        (0xd9, 0) | (0xdd, 0) | (0xdb, 0) | (0xdf, 0 | 4 | 5) | (0xdb, 5) => {
            let mut env = cpu.x87_env();
            let value = match (op, reg) {
                (0xdf, 4) => {
                    // FBLD m80bcd.
                    let low = cpu.read_mem(mem, addr, 8)?;
                    let high = cpu.read_mem(mem, addr + 8, 2)?;
                    bcd::load(((high as u128) << 64) | low as u128)
                }
                (0xd9, _) => sf::convert(F32, F80, &mut env, cpu.read_mem(mem, addr, 4)? as u128),
                (0xdd, _) => sf::convert(F64, F80, &mut env, cpu.read_mem(mem, addr, 8)? as u128),
                (0xdb, 0) => sf::from_integer(
                    F80,
                    &mut env,
                    cpu.read_mem(mem, addr, 4)? as u32 as i32 as i128,
                ),
                (0xdf, 0) => sf::from_integer(
                    F80,
                    &mut env,
                    cpu.read_mem(mem, addr, 2)? as u16 as i16 as i128,
                ),
                (0xdf, _) => {
                    sf::from_integer(F80, &mut env, cpu.read_mem(mem, addr, 8)? as i64 as i128)
                }
                _ => {
                    // FLD m80fp: a raw copy, no conversion, no exceptions.
                    let low = cpu.read_mem(mem, addr, 8)?;
                    let high = cpu.read_mem(mem, addr + 8, 2)?;
                    ((high as u128) << 64) | low as u128
                }
            };
            if cpu.x87.tag & (1 << ((cpu.top() + 7) & 7)) != 0 {
                // Stack overflow: only the stack fault is reported.
                return cpu.push(value);
            }
            // A denormal source is still loaded when #D is unmasked (observed on hardware).
            cpu.x87_flags_aborting_on(&env, exc::INVALID as u16, true)?;
            cpu.set_c1(false);
            cpu.push(value)
        }
        // FST/FSTP m32fp, m64fp; FIST/FISTP m16/m32; FISTP m64; FSTP m80fp;
        // FBSTP m80bcd.
        (0xd9, 2 | 3) | (0xdd, 1..=3) | (0xdb, 1..=3) | (0xdf, 1..=3 | 6 | 7) | (0xdb, 7) => {
            // reg 1 is FISTTP (SSE3): truncate and pop.
            let pop = matches!(reg, 1 | 3 | 6 | 7);
            let truncate = reg == 1;
            let size: usize = match (op, reg) {
                (0xd9, _) | (0xdb, 1..=3) => 4,
                (0xdb, _) | (0xdf, 6) => 10,
                (0xdf, 1..=3) => 2,
                _ => 8,
            };
            // The destination's page faults come before any FPU exception:
            // probe it by rewriting its current bytes.
            let mut old = [0u8; 10];
            mem.read(addr, &mut old[..size])?;
            mem.write(addr, &old[..size])?;
            let mut env = cpu.x87_env();
            let value = match cpu.read_st(0)? {
                Some(v) => v,
                None => F80.default_nan(),
            };
            let bits = match (op, reg) {
                (0xd9, _) => sf::convert(F80, F32, &mut env, value),
                (0xdd, 1) => sf::to_integer(F80, &mut env, value, 64, true) as u128,
                (0xdd, _) => sf::convert(F80, F64, &mut env, value),
                (0xdb, 7) => value,
                (0xdb, _) => sf::to_integer(F80, &mut env, value, 32, truncate) as u128,
                (0xdf, 7) => sf::to_integer(F80, &mut env, value, 64, false) as u128,
                (0xdf, 6) => bcd::store(&mut env, value),
                _ => sf::to_integer(F80, &mut env, value, 16, truncate) as u128,
            };
            // Stores to memory do not report #D for a denormal ST(0) (observed on hardware).
            env.flags &= !exc::DENORMAL;
            let unmasked = env.flags as u16 & !cpu.x87.control;
            if unmasked & (exc::OVERFLOW | exc::UNDERFLOW) as u16 != 0 {
                // Nothing is stored, so nothing is inexact.
                env.flags &= !exc::INEXACT;
            }
            cpu.x87_flags(&env)?;
            if unmasked & (exc::OVERFLOW | exc::UNDERFLOW) as u16 != 0 {
                // An unmasked overflow or underflow leaves the destination
                // (and the stack) unchanged (SDM Vol.1 §8.5.4, §8.5.5).
                cpu.set_c1(false);
                return Ok(());
            }
            let bytes = bits.to_le_bytes();
            mem.write(addr, &bytes[..size])?;
            cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
            if pop {
                cpu.pop();
            }
            Ok(())
        }
        (0xd9, 5) => {
            // Reserved control bits read as 0, bit 6 as 1 (SDM Vol.1 §8.1.5).
            cpu.x87.control = (cpu.read_mem(mem, addr, 2)? as u16 & 0x1f7f) | 0x40;
            update_summary(cpu);
            Ok(())
        }
        (0xd9, 7) => cpu
            .write_mem(mem, addr, 2, cpu.x87.control as u64)
            .map_err(Abort::from),
        (0xdd, 7) => cpu
            .write_mem(mem, addr, 2, cpu.x87.status as u64)
            .map_err(Abort::from),
        (0xd9, 6) => env::fnstenv(cpu, mem, addr, insn.op_size),
        (0xd9, 4) => env::fldenv(cpu, mem, addr, insn.op_size),
        (0xdd, 6) => env::fnsave(cpu, mem, addr, insn.op_size),
        (0xdd, 4) => env::frstor(cpu, mem, addr, insn.op_size),
        _ => ud(),
    }
}

/// ES and B follow the unmasked exception flags after FLDCW/FLDENV.
fn update_summary(cpu: &mut Cpu) {
    if cpu.x87.status & !cpu.x87.control & 0x3f != 0 {
        cpu.x87.status |= sw::ES | sw::B;
    } else {
        cpu.x87.status &= !(sw::ES | sw::B);
    }
}

/// The full two-bit-per-register tag word (SDM Vol.1 §8.1.7).
fn full_tag_word(cpu: &Cpu) -> u16 {
    let mut tags = 0u16;
    for p in 0..8 {
        let t = if cpu.x87.tag & (1 << p) == 0 {
            3
        } else {
            match sf::category(F80, to_bits(cpu.x87.regs[p])) {
                Category::Zero => 1,
                Category::Normal => 0,
                _ => 2,
            }
        };
        tags |= t << (2 * p);
    }
    tags
}

/// Sets C3, C2, C0 (and clears C1) from a comparison (SDM Vol.2A FCOM).
fn set_condition_from(cpu: &mut Cpu, rel: Relation) {
    let bits = match rel {
        Relation::Greater => 0,
        Relation::Less => sw::C0,
        Relation::Equal => sw::C3,
        Relation::Unordered => sw::C3 | sw::C2 | sw::C0,
    };
    cpu.x87.status = (cpu.x87.status & !sw::CONDITION) | bits;
}

/// FCOM/FUCOM family against ST(0), popping `pops` times after. An
/// empty operand (masked stack fault) compares unordered.
fn compare_st0(
    cpu: &mut Cpu,
    mut env: Env,
    operand: Option<F80Bits>,
    pops: u8,
    signaling: bool,
) -> X87Result<()> {
    let a = read_for_compare(cpu, 0)?;
    let rel = match (a, operand) {
        (Some(a), Some(b)) => {
            drop_denormal_with_nan(&mut env, a, b);
            sf::compare(F80, &mut env, a, b, signaling)
        }
        _ => {
            // The stack fault is the only exception reported.
            env.flags = 0;
            Relation::Unordered
        }
    };
    // The condition codes are written even when #IA is unmasked.
    set_condition_from(cpu, rel);
    cpu.x87_flags(&env)?;
    for _ in 0..pops {
        cpu.pop();
    }
    Ok(())
}

/// A NaN (or unsupported) operand suppresses #D from the other operand,
/// including one raised while converting a memory operand (observed on hardware).
fn drop_denormal_with_nan(env: &mut Env, a: F80Bits, b: F80Bits) {
    if nan_like(a) || nan_like(b) {
        env.flags &= !exc::DENORMAL;
    }
}

/// A NaN or an unsupported encoding (which x87 arithmetic treats alike).
fn nan_like(v: F80Bits) -> bool {
    matches!(sf::category(F80, v), Category::NaN | Category::Unsupported)
}

/// Raises #D for denormal operands of the operations that inspect the
/// encoding directly (FPREM, FXTRACT, the transcendentals).
fn denormal_operands(env: &mut Env, operands: &[F80Bits]) {
    if operands
        .iter()
        .any(|&v| sf::category(F80, v) == Category::Denormal)
    {
        env.flags |= exc::DENORMAL;
    }
}

/// Reads a comparison operand; an unmasked stack fault still leaves the
/// condition codes at "unordered" (observed on hardware).
fn read_for_compare(cpu: &mut Cpu, i: usize) -> X87Result<Option<F80Bits>> {
    match cpu.read_st(i) {
        Err(Abort::Unmasked) => {
            set_condition_from(cpu, Relation::Unordered);
            Err(Abort::Unmasked)
        }
        other => other,
    }
}

/// ST(dst) ← ST(dst) op operand (or operand op ST(dst) when reversed). An
/// empty operand (masked stack fault) yields the indefinite QNaN.
fn arithmetic(
    cpu: &mut Cpu,
    mut env: Env,
    dst: usize,
    operand: Option<F80Bits>,
    op: BinaryOp,
    reversed: bool,
    pop: bool,
) -> X87Result<()> {
    let a = cpu.read_st(dst)?;
    let result = match (a, operand) {
        (Some(a), Some(b)) => {
            drop_denormal_with_nan(&mut env, a, b);
            let (x, y) = if reversed { (b, a) } else { (a, b) };
            let precision = cpu.precision();
            let r = compute_biased(cpu, &mut env, |e| {
                sf::binary_precision(F80, e, op, x, y, precision)
            });
            cpu.x87_flags(&env)?;
            cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
            r
        }
        _ => F80.default_nan(),
    };
    cpu.set_st(dst, result);
    if pop {
        cpu.pop();
    }
    Ok(())
}

/// Runs a register-result computation; when it raises an unmasked
/// overflow or underflow (and no unmasked I/D/Z), redoes it with the
/// exponent biased by ∓24576, which is what the x87 delivers then (SDM
/// Vol.1 §8.5.4, §8.5.5).
fn compute_biased(cpu: &Cpu, env: &mut Env, f: impl Fn(&mut Env) -> F80Bits) -> F80Bits {
    let start = *env;
    let r = f(env);
    let unmasked = env.flags as u16 & !cpu.x87.control;
    if unmasked & (exc::OVERFLOW | exc::UNDERFLOW) as u16 == 0 || unmasked & 0x7 != 0 {
        return r;
    }
    let mut biased = start;
    biased.exponent_bias = if unmasked & exc::OVERFLOW as u16 != 0 {
        -24576
    } else {
        24576
    };
    let r = f(&mut biased);
    // #O/#U stay; #P reflects the biased (delivered) result.
    env.flags = biased.flags | (env.flags & (exc::OVERFLOW | exc::UNDERFLOW));
    if biased.flags & exc::INEXACT == 0 {
        env.flags &= !exc::INEXACT;
    }
    env.rounded_up = biased.rounded_up;
    if biased.exponent_bias < 0 && biased.flags & exc::OVERFLOW != 0 {
        // Still too large after the bias (FSCALE by a huge factor): the
        // processor delivers infinity, rounded up (observed on hardware).
        env.rounded_up = true;
        return F80.infinity(F80.sign(r));
    }
    r
}

/// Applies a one-operand operation to ST(0); an empty ST(0) becomes the
/// indefinite QNaN (masked stack fault).
fn unary_st0(cpu: &mut Cpu, f: impl Fn(&Cpu, &mut Env, F80Bits) -> F80Bits) -> X87Result<()> {
    let Some(a) = cpu.read_st(0)? else {
        cpu.set_st(0, F80.default_nan());
        return Ok(());
    };
    let mut env = cpu.x87_env();
    let r = compute_biased(cpu, &mut env, |e| f(cpu, e, a));
    cpu.x87_flags(&env)?;
    cpu.set_st(0, r);
    cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
    Ok(())
}

fn register_form(cpu: &mut Cpu, op: u8, reg: u8, i: usize) -> X87Result<()> {
    match (op, reg) {
        (0xd8, 2 | 3) | (0xdc, 2 | 3) => {
            let b = read_for_compare(cpu, i)?;
            let env = cpu.x87_env();
            compare_st0(cpu, env, b, (reg == 3) as u8, true)
        }
        (0xd8, _) => {
            let Some((bop, reversed)) = arith_op(reg) else {
                return ud();
            };
            let b = cpu.read_st(i)?;
            let env = cpu.x87_env();
            arithmetic(cpu, env, 0, b, bop, reversed, false)
        }
        // DC and DE: ST(i) ← ST(i) op ST(0). The register forms swap the
        // SUB/SUBR and DIV/DIVR encodings (SDM Vol.2A FSUB: DC E8+i is FSUB).
        (0xdc | 0xde, _) if !(op == 0xde && reg == 3) => {
            let Some((bop, reversed)) = arith_op(reg) else {
                return ud();
            };
            let reversed = if matches!(bop, BinaryOp::Sub | BinaryOp::Div) {
                !reversed
            } else {
                reversed
            };
            let b = cpu.read_st(0)?;
            let env = cpu.x87_env();
            arithmetic(cpu, env, i, b, bop, reversed, op == 0xde)
        }
        (0xde, 3) if i == 1 => {
            // FCOMPP.
            let b = read_for_compare(cpu, 1)?;
            let env = cpu.x87_env();
            compare_st0(cpu, env, b, 2, true)
        }
        (0xd9, 0) => {
            let v = cpu.read_st(i)?;
            cpu.set_c1(false);
            cpu.push(v.unwrap_or(F80.default_nan()))?;
            if v.is_none() {
                // The source underflow is what C1 reports (observed on hardware).
                cpu.set_c1(false);
            }
            Ok(())
        }
        (0xd9, 1) => {
            // FXCH.
            let a = cpu.read_st(0)?.unwrap_or(F80.default_nan());
            let b = cpu.read_st(i)?.unwrap_or(F80.default_nan());
            cpu.set_st(0, b);
            cpu.set_st(i, a);
            cpu.set_c1(false);
            Ok(())
        }
        (0xd9, 2) if i == 0 => Ok(()), // FNOP
        (0xd9, 4) => match i {
            0 | 1 => {
                // FCHS / FABS.
                let sign = 1u128 << 79;
                unary_st0(cpu, |_, _, a| if i == 0 { a ^ sign } else { a & !sign })
            }
            4 => {
                // FTST.
                let env = cpu.x87_env();
                compare_st0(cpu, env, Some(0), 0, true)
            }
            5 => {
                fxam(cpu);
                Ok(())
            }
            _ => ud(),
        },
        (0xd9, 5) => load_constant(cpu, i),
        (0xd9, 6) => match i {
            6 => {
                cpu.set_top(cpu.top() + 7);
                cpu.set_c1(false);
                Ok(())
            }
            7 => {
                cpu.set_top(cpu.top() + 1);
                cpu.set_c1(false);
                Ok(())
            }
            0 => transcendental::f2xm1(cpu),
            1 => transcendental::fyl2x(cpu),
            2 => transcendental::trig(cpu, Trig::Tan),
            3 => transcendental::fpatan(cpu),
            4 => fxtract(cpu),
            _ => fprem1(cpu), // i = 5
        },
        (0xd9, 7) => match i {
            0 => fprem(cpu),
            1 => transcendental::fyl2xp1(cpu),
            2 => unary_st0(cpu, |cpu, env, a| {
                sf::sqrt_precision(F80, env, a, cpu.precision())
            }),
            3 => transcendental::trig(cpu, Trig::SinCos),
            4 => unary_st0(cpu, |_, env, a| sf::round_to_integral(F80, env, a)),
            5 => fscale(cpu),
            6 => transcendental::trig(cpu, Trig::Sin),
            _ => transcendental::trig(cpu, Trig::Cos),
        },
        (0xda, 0..=3) | (0xdb, 0..=3) => {
            // FCMOVcc (SDM Vol.2A FCMOVcc): B, E, BE, U and their negations.
            let f = cpu.rflags;
            let c = match reg {
                0 => f & CF != 0,
                1 => f & ZF != 0,
                2 => f & (CF | ZF) != 0,
                _ => f & PF != 0,
            };
            let take = if op == 0xda { c } else { !c };
            let a = cpu.read_st(0)?;
            let v = cpu.read_st(i)?;
            match (a, v) {
                (Some(_), Some(v)) if take => cpu.set_st(0, v),
                (Some(_), Some(_)) => {}
                _ => cpu.set_st(0, F80.default_nan()),
            }
            Ok(())
        }
        (0xda, 5) if i == 1 => {
            // FUCOMPP.
            let b = read_for_compare(cpu, 1)?;
            let env = cpu.x87_env();
            compare_st0(cpu, env, b, 2, false)
        }
        (0xdb, 4) => match i {
            2 => {
                // FNCLEX.
                cpu.x87.status &= !(0x3f | sw::SF | sw::ES | sw::B);
                Ok(())
            }
            3 => {
                env::fninit(cpu);
                Ok(())
            }
            _ => ud(),
        },
        (0xdb, 5 | 6) | (0xdf, 5 | 6) => {
            // FUCOMI / FCOMI (and the popping DF forms).
            let signaling = reg == 6;
            let unordered = |cpu: &mut Cpu, r: X87Result<Option<F80Bits>>| {
                if let Err(Abort::Unmasked) = r {
                    cpu.set_status_flags(ZF | PF | CF);
                }
                r
            };
            let a = cpu.read_st(0);
            let a = unordered(cpu, a)?;
            let b = cpu.read_st(i);
            let b = unordered(cpu, b)?;
            let mut env = cpu.x87_env();
            let rel = match (a, b) {
                (Some(a), Some(b)) => sf::compare(F80, &mut env, a, b, signaling),
                _ => {
                    env.flags = 0;
                    Relation::Unordered
                }
            };
            cpu.set_compare_flags(rel);
            // FCOMI leaves C1 alone, even when it faults (observed on hardware).
            cpu.x87_flags_aborting_on(&env, 0x7, false)?;
            if op == 0xdf {
                cpu.pop();
            }
            Ok(())
        }
        (0xdd, 0) => {
            // FFREE.
            let p = cpu.physical(i);
            cpu.x87.tag &= !(1 << p);
            cpu.set_c1(false);
            Ok(())
        }
        (0xdd, 2 | 3) => {
            // FST/FSTP ST(i).
            let v = cpu.read_st(0)?.unwrap_or(F80.default_nan());
            cpu.set_st(i, v);
            cpu.set_c1(false);
            if reg == 3 {
                cpu.pop();
            }
            Ok(())
        }
        (0xdd, 4 | 5) => {
            // FUCOM/FUCOMP ST(i).
            let b = read_for_compare(cpu, i)?;
            let env = cpu.x87_env();
            compare_st0(cpu, env, b, (reg == 5) as u8, false)
        }
        (0xdf, 4) if i == 0 => {
            cpu.write_reg(0, 2, false, cpu.x87.status as u64);
            Ok(())
        }
        _ => ud(),
    }
}

/// FXAM: C3 C2 C0 class, C1 sign (SDM Vol.2A FXAM).
fn fxam(cpu: &mut Cpu) {
    let v = cpu.st(0);
    let class = if !cpu.st_valid(0) {
        sw::C3 | sw::C0
    } else {
        match sf::category(F80, v) {
            Category::Unsupported => 0,
            Category::NaN => sw::C0,
            Category::Normal => sw::C2,
            Category::Infinity => sw::C2 | sw::C0,
            Category::Zero => sw::C3,
            Category::Denormal => sw::C3 | sw::C2,
        }
    };
    let sign = if (v >> 79) & 1 != 0 { sw::C1 } else { 0 };
    cpu.x87.status = (cpu.x87.status & !sw::CONDITION) | class | sign;
}

/// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the irrational
/// constants are rounded per RC (SDM Vol.1 §8.3.8).
fn load_constant(cpu: &mut Cpu, i: usize) -> X87Result<()> {
    // (sign/exponent, truncated significand, rounds up to nearest?)
    let (se, sig, nearest_up): (u16, u64, bool) = match i {
        0 => (0x3fff, 0x8000_0000_0000_0000, false),
        1 => (0x4000, 0xd49a_784b_cd1b_8afe, false),
        2 => (0x3fff, 0xb8aa_3b29_5c17_f0bb, true),
        3 => (0x4000, 0xc90f_daa2_2168_c234, true),
        4 => (0x3ffd, 0x9a20_9a84_fbcf_f798, true),
        5 => (0x3ffe, 0xb172_17f7_d1cf_79ab, true),
        6 => (0, 0, false),
        _ => return ud(),
    };
    let exact = i == 0 || i == 6;
    let up = !exact
        && match Rounding::from_rc((cpu.x87.control >> 10) as u32) {
            Rounding::NearestEven => nearest_up,
            Rounding::Up => true,
            Rounding::Down | Rounding::TowardZero => false,
        };
    cpu.set_c1(false);
    cpu.push(((se as u128) << 64) | (sig + up as u64) as u128)
}

/// FSCALE: ST(0) × 2^trunc(ST(1)).
fn fscale(cpu: &mut Cpu) -> X87Result<()> {
    let (Some(a), Some(b)) = (cpu.read_st(0)?, cpu.read_st(1)?) else {
        cpu.set_st(0, F80.default_nan());
        return Ok(());
    };
    let mut env = cpu.x87_env();
    if !sf::is_nan(F80, a) && !sf::is_nan(F80, b) {
        denormal_operands(&mut env, &[a, b]);
    }
    if sf::is_nan(F80, a) || sf::is_nan(F80, b) {
        let r = sf::binary(F80, &mut env, BinaryOp::Add, a, b);
        cpu.x87_flags(&env)?;
        cpu.set_st(0, r);
        cpu.set_c1(false);
        return Ok(());
    }
    let r = match (sf::category(F80, b), sf::category(F80, a)) {
        (Category::Infinity, Category::Zero) if b >> 79 == 0 => {
            env.flags |= exc::INVALID;
            F80.default_nan()
        }
        (Category::Infinity, Category::Infinity) if b >> 79 != 0 => {
            env.flags |= exc::INVALID;
            F80.default_nan()
        }
        (Category::Infinity, Category::Zero | Category::Infinity) => a,
        (Category::Infinity, _) => {
            if b >> 79 != 0 {
                F80.zero(a >> 79 != 0)
            } else {
                F80.infinity(a >> 79 != 0)
            }
        }
        _ => {
            let mut trunc_env = cpu.x87_env();
            let n = sf::to_integer(F80, &mut trunc_env, b, 64, true) as i64;
            let n = if trunc_env.flags & exc::INVALID != 0 {
                if b >> 79 != 0 { -(1 << 20) } else { 1 << 20 }
            } else {
                n.clamp(-(1 << 20), 1 << 20)
            };
            compute_biased(cpu, &mut env, |e| sf::scale(F80, e, a, n as i32))
        }
    };
    cpu.x87_flags(&env)?;
    cpu.set_st(0, r);
    cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
    Ok(())
}

/// FXTRACT: ST(0) → exponent, then push the significand.
fn fxtract(cpu: &mut Cpu) -> X87Result<()> {
    let Some(a) = cpu.read_st(0)? else {
        cpu.set_st(0, F80.default_nan());
        cpu.push(F80.default_nan())?;
        cpu.set_c1(false);
        return Ok(());
    };
    if !cpu.room_for_second_result()? {
        return Ok(());
    }
    let mut env = cpu.x87_env();
    denormal_operands(&mut env, &[a]);
    let (exponent, significand) = match sf::unpack_finite(F80, a) {
        Some((sign, sig, exp)) => {
            let top = 127 - sig.leading_zeros() as i32;
            let e = exp + top;
            (
                sf::from_integer(F80, &mut env, e as i128),
                sf::pack(F80, &mut env, sign, -top, sig),
            )
        }
        None => match sf::category(F80, a) {
            Category::Zero => {
                env.flags |= exc::DIVIDE_BY_ZERO;
                (F80.infinity(true), a)
            }
            Category::Infinity => (F80.infinity(false), a),
            _ => {
                let q = sf::binary(F80, &mut env, BinaryOp::Add, a, a);
                (q, q)
            }
        },
    };
    cpu.x87_flags(&env)?;
    cpu.set_st(0, exponent);
    cpu.push(significand)?;
    // C1 reads 0 after FXTRACT even on stack overflow (observed on hardware).
    cpu.set_c1(false);
    Ok(())
}

/// FPREM: partial remainder with a truncated quotient (SDM Vol.2A FPREM).
fn fprem(cpu: &mut Cpu) -> X87Result<()> {
    partial_remainder(cpu, false)
}

/// FPREM1: the IEEE remainder, whose quotient is rounded to nearest, ties
/// to even (SDM Vol.2A FPREM1).
fn fprem1(cpu: &mut Cpu) -> X87Result<()> {
    partial_remainder(cpu, true)
}

/// FPREM and FPREM1: ST(0) − Q × ST(1), the quotient's low three bits in
/// C0, C3, C1. Exponent differences of 64 or more are reduced in steps
/// with a truncated partial quotient, C2 = 1.
fn partial_remainder(cpu: &mut Cpu, nearest: bool) -> X87Result<()> {
    let read = |cpu: &mut Cpu, i| {
        let r = cpu.read_st(i);
        if r.is_err() {
            cpu.x87.status &= !sw::C2;
        }
        r
    };
    let a = read(cpu, 0)?;
    let b = read(cpu, 1)?;
    let (Some(a), Some(b)) = (a, b) else {
        cpu.x87.status &= !sw::C2;
        cpu.set_st(0, F80.default_nan());
        return Ok(());
    };
    let mut env = cpu.x87_env();
    if !sf::is_nan(F80, a) && !sf::is_nan(F80, b) {
        denormal_operands(&mut env, &[a, b]);
    }
    let (fa, fb) = (sf::unpack_finite(F80, a), sf::unpack_finite(F80, b));
    let (ca, cb) = (sf::category(F80, a), sf::category(F80, b));
    let result = match (fa, fb) {
        _ if matches!(ca, Category::NaN | Category::Unsupported)
            || matches!(cb, Category::NaN | Category::Unsupported) =>
        {
            let r = sf::binary(F80, &mut env, BinaryOp::Add, a, b);
            (r, NO_QUOTIENT)
        }
        _ if ca == Category::Infinity || cb == Category::Zero => {
            env.flags |= exc::INVALID;
            (F80.default_nan(), NO_QUOTIENT)
        }
        // An infinite divisor leaves a finite dividend (normalized, so a
        // pseudo-denormal comes back as a normal number).
        (Some((sign, ma, ea)), None) => (
            compute_biased(cpu, &mut env, |e| sf::pack(F80, e, sign, ea, ma)),
            0,
        ),
        (None, _) => (a, 0), // zero dividend: unchanged
        (Some((sign, ma, ea)), Some((_, mb, eb))) => {
            let top_a = ea + 127 - ma.leading_zeros() as i32;
            let top_b = eb + 127 - mb.leading_zeros() as i32;
            let d = top_a - top_b;
            let fits = ea < eb || ((ea - eb) as u32) < ma.leading_zeros();
            // Below half the divisor even a rounded quotient is 0.
            if d < -1 || (d == -1 && !nearest) {
                // Already reduced; a pseudo-denormal comes back normalized.
                (
                    compute_biased(cpu, &mut env, |e| sf::pack(F80, e, sign, ea, ma)),
                    0,
                )
            } else if d < 64 && fits {
                // Align: both at exponent eb' with a shifted left by (ea - eb).
                let (na, nb, e) = align(ma, ea, mb, eb);
                let (mut q, mut r, mut sign) = (na / nb, na % nb, sign);
                if nearest && (2 * r > nb || (2 * r == nb && q & 1 != 0)) {
                    // Round the quotient up: the remainder changes sign.
                    q += 1;
                    r = nb - r;
                    sign = !sign;
                }
                (
                    compute_biased(cpu, &mut env, |e2| sf::pack(F80, e2, sign, e, r)),
                    q as u64 & 7,
                )
            } else {
                // Partial reduction (SDM Vol.2A FPREM: "N is an
                // implementation-dependent number between 32 and 63"):
                // this AMD host takes N = 32 + D mod 32, so the exponent
                // gap shrinks by a multiple of 32 per step (probed over
                // thousands of FPREM/FPREM1 operand pairs). A result in
                // the denormal range is tiny like any other.
                let n = 32 + (d % 32);
                let shift = d - n;
                let (na, nb, e) = align(ma, ea - shift, mb, eb);
                let r = na % nb;
                cpu.x87.status |= sw::C2;
                (
                    compute_biased(cpu, &mut env, |e2| sf::pack(F80, e2, sign, e + shift, r)),
                    8,
                )
            }
        }
    };
    let q = result.1;
    if q == NO_QUOTIENT {
        // A NaN or invalid result clears C1 and C2 and keeps C0 and C3,
        // also when #IA is unmasked (observed on hardware).
        cpu.x87.status &= !(sw::C1 | sw::C2);
        cpu.x87_flags(&env)?;
        cpu.set_st(0, result.0);
        return Ok(());
    }
    if let Err(abort) = cpu.x87_flags(&env) {
        // So does an unmasked #D: no result, C1 and C2 read 0 (observed
        // on the host).
        cpu.x87.status &= !sw::C2;
        return Err(abort);
    }
    cpu.set_st(0, result.0);
    let mut status = cpu.x87.status & !sw::CONDITION;
    if q == 8 {
        status |= sw::C2;
    } else {
        if q & 4 != 0 {
            status |= sw::C0;
        }
        if q & 2 != 0 {
            status |= sw::C3;
        }
        if q & 1 != 0 {
            status |= sw::C1;
        }
    }
    cpu.x87.status = status;
    Ok(())
}

/// FPREM's marker for "no quotient bits" (NaN or invalid result).
const NO_QUOTIENT: u64 = 9;

/// Brings `ma × 2^ea` and `mb × 2^eb` to a common exponent (the smaller).
fn align(ma: u128, ea: i32, mb: u128, eb: i32) -> (u128, u128, i32) {
    if ea >= eb {
        (ma << (ea - eb) as u32, mb, eb)
    } else {
        (ma, mb << (eb - ea) as u32, ea)
    }
}

#[cfg(test)]
mod tests {
    use crate::cpu::Cpu;
    use crate::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE};

    /// Code at 0x1000, a data page at 0x2000 (RBX points to it).
    fn machine(code: &[u8], st: &[u128]) -> (Cpu, AddressSpace) {
        let mut mem = AddressSpace::new(1 << 20);
        mem.map(0x1000, 4096, PROT_READ | PROT_EXEC).unwrap();
        mem.map(0x2000, 4096, PROT_READ | PROT_WRITE).unwrap();
        mem.poke(0x1000, code).unwrap();
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = 0x1000;
        cpu.gpr[3] = 0x2000;
        for (i, v) in st.iter().enumerate() {
            cpu.x87.regs[i] = (*v as u64, (*v >> 64) as u16);
            cpu.x87.tag |= 1 << i;
        }
        (cpu, mem)
    }

    /// Runs the first instruction of `code`.
    fn run(code: &[u8], st: &[u128]) -> Cpu {
        let (mut cpu, mut mem) = machine(code, st);
        cpu.step(&mut mem).unwrap();
        cpu
    }

    /// Runs `steps` instructions and returns the data page's first bytes.
    fn run_steps(code: &[u8], st: &[u128], steps: usize) -> (Cpu, [u8; 128]) {
        let (mut cpu, mut mem) = machine(code, st);
        for _ in 0..steps {
            cpu.step(&mut mem).unwrap();
        }
        let mut data = [0u8; 128];
        mem.peek(0x2000, &mut data).unwrap();
        (cpu, data)
    }

    #[test]
    fn fnsave_stores_pointers_and_registers_then_reinitializes() {
        // fld tword [rbx+0x40]; fnsave [rbx]; frstor [rbx]
        let code = [0xdb, 0x6b, 0x40, 0xdd, 0x33, 0xdd, 0x23];
        let (cpu, data) = run_steps(&code, &[], 2);
        let dword = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
        assert_eq!(dword(0), 0xffff_037f, "FCW, reserved half ones");
        assert_eq!(dword(4), 0xffff_3800, "FSW with TOP = 7");
        assert_eq!(dword(8), 0xffff_7fff, "R7 holds a zero, the rest empty");
        assert_eq!(dword(12), 0x1000, "FIP: the FLD");
        assert_eq!(dword(16), 0x033 | 0x36b << 16, "FCS, FOP = DB 6B");
        assert_eq!((dword(20), dword(24)), (0x2040, 0xffff_0000), "FDP, FDS");
        assert_eq!(&data[28..38], &[0; 10], "ST(0) = +0 from the zeroed page");
        assert_eq!(cpu.x87.control, 0x037f);
        assert_eq!((cpu.x87.status, cpu.x87.tag), (0, 0));
        assert_eq!(cpu.x87.pointers, Default::default());
        // FRSTOR brings it all back.
        let (cpu, _) = run_steps(&code, &[], 3);
        assert_eq!((cpu.x87.status, cpu.x87.tag), (0x3800, 0x80));
        assert_eq!(
            (cpu.x87.pointers.fip, cpu.x87.pointers.fop),
            (0x1000, 0x36b)
        );
    }

    #[test]
    fn fnstenv_masks_exceptions_and_clears_es() {
        // fnstenv [rbx] with #Z pending.
        let (mut cpu, mut mem) = machine(&[0xd9, 0x33], &[]);
        cpu.x87.control = 0x037b;
        cpu.x87.status = 0x8084;
        cpu.step(&mut mem).unwrap();
        assert_eq!((cpu.x87.control, cpu.x87.status), (0x037f, 0x0004));
    }

    #[test]
    fn sixteen_bit_fldenv_clears_fop() {
        // fld1; o16 fnstenv [rbx]; o16 fldenv [rbx]
        let code = [0xd9, 0xe8, 0x66, 0xd9, 0x33, 0x66, 0xd9, 0x23];
        let (cpu, data) = run_steps(&code, &[], 3);
        assert_eq!(&data[6..14], &[0x00, 0x10, 0x33, 0, 0, 0, 0, 0]);
        assert_eq!(cpu.x87.pointers.fop, 0);
        assert_eq!(cpu.x87.pointers.fip, 0x1000);
    }

    #[test]
    fn fprem1_rounds_the_quotient_to_even() {
        // 2.5 REM 1.0: quotient 2 (even), remainder +0.5, C1 = q0 = 0, C3 = q1 = 1.
        let cpu = run(
            &[0xd9, 0xf5],
            &[0x4000_a000_0000_0000_0000, 0x3fff_8000_0000_0000_0000],
        );
        assert_eq!(cpu.x87.regs[0], (0x8000_0000_0000_0000, 0x3ffe));
        assert_eq!(cpu.x87.status & 0x4700, 0x4000);
        // 3.5 REM 1.0: quotient 4, remainder -0.5, C0 = q2 = 1.
        let cpu = run(
            &[0xd9, 0xf5],
            &[0x4000_e000_0000_0000_0000, 0x3fff_8000_0000_0000_0000],
        );
        assert_eq!(cpu.x87.regs[0], (0x8000_0000_0000_0000, 0xbffe));
        assert_eq!(cpu.x87.status & 0x4700, 0x0100);
    }

    #[test]
    fn partial_remainder_steps_by_a_multiple_of_32_exponent_bits() {
        // Gap 100: N = 32 + 100 mod 32 = 36, so one step removes 64 bits
        // of gap; C2 = 1 and no quotient bits (values from the host).
        let cpu = run(
            &[0xd9, 0xf8],
            &[0x4063_ffff_ffff_ffff_ffff, 0x3fff_8000_0000_0000_0001],
        );
        assert_eq!(cpu.x87.regs[0], (0xffff_ffa0_0000_0002, 0x403e));
        assert_eq!(cpu.x87.status & 0x4700, 0x0400);
        // A partial result in the denormal range is tiny: unmasked #U
        // delivers it biased by 2^24576.
        let (mut cpu, mut mem) = machine(
            &[0xd9, 0xf8],
            &[0x0030_ffff_ffff_ffff_ffff, 0x0000_0000_0000_1234_5678],
        );
        cpu.x87.control = 0x036f;
        cpu.step(&mut mem).unwrap();
        assert_eq!(cpu.x87.regs[0], (0x8e80_0000_0000_0000, 0x5ff7));
        assert_eq!(cpu.x87.status & 0xc7ff, 0x8492);
    }

    #[test]
    fn of_two_nans_with_equal_significands_the_positive_one_wins() {
        // FSUB ST0, ST1 and FSUBR ST0, ST1 with the negative indefinite
        // and a positive QNaN of the same significand, in both places.
        let indefinite = 0xffff_c000_0000_0000_0000;
        let positive = 0x7fff_c000_0000_0000_0000;
        for code in [[0xd8, 0xe1], [0xd8, 0xe9]] {
            for st in [[indefinite, positive], [positive, indefinite]] {
                let cpu = run(&code, &st);
                assert_eq!(cpu.x87.regs[0], (0xc000_0000_0000_0000, 0x7fff));
            }
        }
    }

    #[test]
    fn fprem_by_infinity_normalizes_a_pseudo_denormal() {
        // ST0 = pseudo-denormal 0x0000_8000000000000001, ST1 = -inf.
        let cpu = run(
            &[0xd9, 0xf8],
            &[0x0000_8000_0000_0000_0001, 0xffff_8000_0000_0000_0000],
        );
        let (mant, exp) = cpu.x87.regs[0];
        assert_eq!((exp, mant), (1, 0x8000_0000_0000_0001));
    }

    #[test]
    fn fscale_overflowing_even_after_the_bias_gives_infinity() {
        // All exceptions unmasked, round up; ST0 ≈ -0.0139, ST1 ≈ 2^39.
        let (mut cpu, mut mem) = machine(&[0xd9, 0xfd], &[]);
        cpu.x87.control = 0x0b40;
        cpu.x87.regs[0] = (0xc7cc_0bc0_27ec_d2d2, 0xbff9);
        cpu.x87.regs[1] = (0xff12_ecb8_852a_8df0, 0x4026);
        cpu.x87.tag = 3;
        cpu.step(&mut mem).unwrap();
        assert_eq!(cpu.x87.regs[0], (0x8000_0000_0000_0000, 0xffff));
        assert_eq!(cpu.x87.status & 0x2ff, 0x2a8, "C1, ES, PE, OE");
    }

    #[test]
    fn one_third_in_extended_precision() {
        // ST0 = 3.0, ST1 = 1.0: FDIVR ST0, ST1 computes ST1 / ST0, rounded to 64 bits.
        let cpu = run(
            &[0xd8, 0xf9],
            &[0x4000_c000_0000_0000_0000, 0x3fff_8000_0000_0000_0000],
        );
        assert_eq!(cpu.x87.regs[0], (0xaaaa_aaaa_aaaa_aaab, 0x3ffd));
    }
}

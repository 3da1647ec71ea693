//! Memory and table operators: loads and stores with bounds checks
//! (Wasm 3.0 §4.4.7), `memory.*` and `table.*` including the bulk forms
//! (§4.4.6, §4.4.7), and segment drops.
//!
//! Address operands are i32 or i64 by the memory's (table's) address type;
//! for a 32-bit memory only the cell's low 32 bits are the address.

use super::code::{Instr, LoadKind, MemArg, StoreKind};
use crate::error::TrapKind;
use crate::store::{InstanceData, StoreInner, TableInst};
use crate::vm::VMMemoryDefinition;

/// The effective address of an access of `size` bytes, if in bounds
/// (Wasm 3.0 §4.4.7: `ea = i + offset`, trapping if `ea + size` exceeds
/// the length); overflow-safe for memory64.
#[inline(always)]
fn effective(mem: &VMMemoryDefinition, arg: MemArg, cell: u64, size: u64) -> Option<usize> {
    let base = if arg.memory64 {
        cell
    } else {
        cell & 0xffff_ffff
    };
    let ea = base.checked_add(arg.offset)?;
    if ea.checked_add(size)? > mem.length {
        return None;
    }
    Some(ea as usize)
}

/// `load` operators, through the memory's VM definition.
#[inline(always)]
pub(crate) fn load(
    mem: &VMMemoryDefinition,
    kind: LoadKind,
    arg: MemArg,
    addr: u64,
) -> Option<u64> {
    macro_rules! read {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let ea = effective(mem, arg, addr, N as u64)?;
            // SAFETY: `[ea, ea + N)` is within the committed length.
            <$t>::from_le_bytes(unsafe { mem.base.add(ea).cast::<[u8; N]>().read_unaligned() })
        }};
    }
    Some(match kind {
        LoadKind::W32 => u64::from(read!(u32)),
        LoadKind::W64 => read!(u64),
        LoadKind::I32S8 => read!(i8) as i32 as u32 as u64,
        LoadKind::U8 => u64::from(read!(u8)),
        LoadKind::I32S16 => read!(i16) as i32 as u32 as u64,
        LoadKind::U16 => u64::from(read!(u16)),
        LoadKind::I64S8 => read!(i8) as i64 as u64,
        LoadKind::I64S16 => read!(i16) as i64 as u64,
        LoadKind::I64S32 => read!(i32) as i64 as u64,
        LoadKind::U32 => u64::from(read!(u32)),
    })
}

/// `store` operators, through the memory's VM definition.
#[inline(always)]
pub(crate) fn store(
    mem: &VMMemoryDefinition,
    kind: StoreKind,
    arg: MemArg,
    addr: u64,
    value: u64,
) -> Option<()> {
    macro_rules! write {
        ($n:expr) => {{
            const N: usize = $n;
            let ea = effective(mem, arg, addr, N as u64)?;
            let bytes: [u8; N] = value.to_le_bytes()[..N].try_into().ok()?;
            // SAFETY: `[ea, ea + N)` is within the committed length.
            unsafe { mem.base.add(ea).cast::<[u8; N]>().write_unaligned(bytes) }
        }};
    }
    match kind {
        StoreKind::B8 => write!(1),
        StoreKind::B16 => write!(2),
        StoreKind::B32 => write!(4),
        StoreKind::B64 => write!(8),
    }
    Some(())
}

/// Reads `N` bytes at `addr + offset` (a `v128` access), if in bounds.
#[inline]
pub(crate) fn read_bytes<const N: usize>(
    mem: &VMMemoryDefinition,
    arg: MemArg,
    addr: u64,
) -> Option<[u8; N]> {
    let ea = effective(mem, arg, addr, N as u64)?;
    // SAFETY: `[ea, ea + N)` is within the committed length.
    Some(unsafe { mem.base.add(ea).cast::<[u8; N]>().read_unaligned() })
}

/// Writes `bytes` at `addr + offset`, if in bounds.
#[inline]
pub(crate) fn write_bytes<const N: usize>(
    mem: &VMMemoryDefinition,
    arg: MemArg,
    addr: u64,
    bytes: [u8; N],
) -> Option<()> {
    let ea = effective(mem, arg, addr, N as u64)?;
    // SAFETY: `[ea, ea + N)` is within the committed length.
    unsafe { mem.base.add(ea).cast::<[u8; N]>().write_unaligned(bytes) };
    Some(())
}

/// A `[start, start + len)` range inside `size`, as usize bounds.
#[inline]
fn range(start: u64, len: u64, size: usize) -> Option<std::ops::Range<usize>> {
    let end = start.checked_add(len)?;
    if end > size as u64 {
        return None;
    }
    Some(start as usize..end as usize)
}

fn addr_of(is64: bool, cell: u64) -> u64 {
    if is64 { cell } else { cell & 0xffff_ffff }
}

fn table_index(t: &TableInst, cell: u64) -> u64 {
    addr_of(t.ty.table64, cell)
}

/// The bulk and table operators (everything but plain loads and stores).
pub(crate) fn exec_bulk(
    inner: &mut StoreInner,
    stack: &mut [u64],
    inst: &InstanceData,
    instr: &Instr,
    sp: &mut usize,
) -> Result<(), TrapKind> {
    match *instr {
        Instr::MemorySize(m) => {
            let mem = &inner.memories[inst.memories[m as usize] as usize];
            stack[*sp] = mem.pages();
            *sp += 1;
        }
        Instr::MemoryGrow(m) => {
            let mem = &mut inner.memories[inst.memories[m as usize] as usize];
            let delta = addr_of(mem.ty.memory64, stack[*sp - 1]);
            stack[*sp - 1] = match mem.grow(delta, &mut inner.budget) {
                Some(old) => old,
                None if mem.ty.memory64 => u64::MAX,
                None => u64::from(u32::MAX),
            };
        }
        Instr::MemoryFill(m) => {
            *sp -= 3;
            let mem = &mut inner.memories[inst.memories[m as usize] as usize];
            let is64 = mem.ty.memory64;
            let (d, val, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let r = range(addr_of(is64, d), addr_of(is64, n), mem.len())
                .ok_or(TrapKind::MemoryOutOfBounds)?;
            mem.bytes_mut()[r].fill(val as u8);
        }
        Instr::MemoryCopy { dst, src } => {
            *sp -= 3;
            let (d, s, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let dst_i = inst.memories[dst as usize] as usize;
            let src_i = inst.memories[src as usize] as usize;
            let dst64 = inner.memories[dst_i].ty.memory64;
            let src64 = inner.memories[src_i].ty.memory64;
            // The length is i64 only when both memories are 64-bit.
            let n = addr_of(dst64 && src64, n);
            let dr = range(addr_of(dst64, d), n, inner.memories[dst_i].len())
                .ok_or(TrapKind::MemoryOutOfBounds)?;
            let sr = range(addr_of(src64, s), n, inner.memories[src_i].len())
                .ok_or(TrapKind::MemoryOutOfBounds)?;
            if dst_i == src_i {
                inner.memories[dst_i].bytes_mut().copy_within(sr, dr.start);
            } else {
                let (a, b) = if dst_i < src_i {
                    let (lo, hi) = inner.memories.split_at_mut(src_i);
                    (&mut lo[dst_i], &hi[0])
                } else {
                    let (lo, hi) = inner.memories.split_at_mut(dst_i);
                    (&mut hi[0], &lo[src_i])
                };
                a.bytes_mut()[dr].copy_from_slice(&b.bytes()[sr]);
            }
        }
        Instr::MemoryInit { mem, data } => {
            *sp -= 3;
            let (d, s, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let memory = &mut inner.memories[inst.memories[mem as usize] as usize];
            let seg = inner.datas[inst.datas[data as usize] as usize]
                .as_deref()
                .unwrap_or(&[]);
            let n = n & 0xffff_ffff;
            let sr = range(s & 0xffff_ffff, n, seg.len()).ok_or(TrapKind::MemoryOutOfBounds)?;
            let dr = range(addr_of(memory.ty.memory64, d), n, memory.len())
                .ok_or(TrapKind::MemoryOutOfBounds)?;
            memory.bytes_mut()[dr].copy_from_slice(&seg[sr]);
        }
        Instr::DataDrop(d) => inner.datas[inst.datas[d as usize] as usize] = None,
        Instr::TableGet(t) => {
            let table = &inner.tables[inst.tables[t as usize] as usize];
            let i = table_index(table, stack[*sp - 1]);
            stack[*sp - 1] = *usize::try_from(i)
                .ok()
                .and_then(|i| table.elems().get(i))
                .ok_or(TrapKind::TableOutOfBounds)?;
        }
        Instr::TableSet(t) => {
            *sp -= 2;
            let table = &mut inner.tables[inst.tables[t as usize] as usize];
            let i = table_index(table, stack[*sp]);
            let slot = usize::try_from(i)
                .ok()
                .and_then(|i| table.elems_mut().get_mut(i))
                .ok_or(TrapKind::TableOutOfBounds)?;
            *slot = stack[*sp + 1];
        }
        Instr::TableSize(t) => {
            stack[*sp] = inner.tables[inst.tables[t as usize] as usize].len() as u64;
            *sp += 1;
        }
        Instr::TableGrow(t) => {
            *sp -= 1;
            let table = &mut inner.tables[inst.tables[t as usize] as usize];
            let n = table_index(table, stack[*sp]);
            let init = stack[*sp - 1];
            stack[*sp - 1] = match table.grow(n, init, &mut inner.budget) {
                Some(old) => old,
                None if table.ty.table64 => u64::MAX,
                None => u64::from(u32::MAX),
            };
        }
        Instr::TableFill(t) => {
            *sp -= 3;
            let table = &mut inner.tables[inst.tables[t as usize] as usize];
            let (i, val, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let r = range(table_index(table, i), table_index(table, n), table.len())
                .ok_or(TrapKind::TableOutOfBounds)?;
            table.elems_mut()[r].fill(val);
        }
        Instr::TableCopy { dst, src } => {
            *sp -= 3;
            let (d, s, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let dst_i = inst.tables[dst as usize] as usize;
            let src_i = inst.tables[src as usize] as usize;
            let dst64 = inner.tables[dst_i].ty.table64;
            let src64 = inner.tables[src_i].ty.table64;
            let n = addr_of(dst64 && src64, n);
            let dr = range(addr_of(dst64, d), n, inner.tables[dst_i].len())
                .ok_or(TrapKind::TableOutOfBounds)?;
            let sr = range(addr_of(src64, s), n, inner.tables[src_i].len())
                .ok_or(TrapKind::TableOutOfBounds)?;
            if dst_i == src_i {
                inner.tables[dst_i].elems_mut().copy_within(sr, dr.start);
            } else {
                let (a, b) = if dst_i < src_i {
                    let (lo, hi) = inner.tables.split_at_mut(src_i);
                    (&mut lo[dst_i], &hi[0])
                } else {
                    let (lo, hi) = inner.tables.split_at_mut(dst_i);
                    (&mut hi[0], &lo[src_i])
                };
                a.elems_mut()[dr].copy_from_slice(&b.elems()[sr]);
            }
        }
        Instr::TableInit { table, elem } => {
            *sp -= 3;
            let (d, s, n) = (stack[*sp], stack[*sp + 1], stack[*sp + 2]);
            let t = &mut inner.tables[inst.tables[table as usize] as usize];
            let seg = &inner.elems[inst.elems[elem as usize] as usize];
            let n = n & 0xffff_ffff;
            let sr = range(s & 0xffff_ffff, n, seg.len()).ok_or(TrapKind::TableOutOfBounds)?;
            let dr = range(table_index(t, d), n, t.len()).ok_or(TrapKind::TableOutOfBounds)?;
            t.elems_mut()[dr].copy_from_slice(&seg[sr]);
        }
        Instr::ElemDrop(e) => inner.elems[inst.elems[e as usize] as usize].clear(),
        // Every other instruction is executed by the dispatch loop itself.
        // The SIMD operators (none of them is on a hot scalar path).
        _ => return super::simd::exec(stack, inst, instr, sp),
    }
    Ok(())
}

//! The compile-time value stack and its register allocator: where each
//! wasm operand is. Entry `d` of the stack, once materialized, lives in
//! frame cell `d`; until then a constant, a local's current value or a
//! register stands for it, so `local.get` and `i32.const` emit nothing
//! until used and an operator's result stays in a register until an
//! operator takes it, a call or branch needs it in its cell, or the
//! registers run out (V8 Liftoff's and Winch's scheme).

use crate::masm::{IntCmpKind, OperandSize, Reg, RegImm};

/// Where an operand is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A constant (i32 values zero-extended).
    Const(u64),
    /// The current value of local `n` (spilled before the local changes).
    Local(u32),
    /// In a register the entry owns.
    Reg(Reg),
    /// A comparison not yet computed, its operands in registers the entry
    /// owns: a branch on it jumps on the flags, anything else computes it
    /// (into `lhs`).
    Cmp {
        kind: IntCmpKind,
        size: OperandSize,
        lhs: Reg,
        rhs: RegImm,
    },
    /// In its own cell (its stack position).
    Cell,
}

/// The operands of the function being compiled, and which registers are
/// taken (by an entry, or by the generator between popping an operand
/// and pushing a result).
#[derive(Debug, Default)]
pub struct ValueStack {
    entries: Vec<Value>,
    /// The most entries ever held (the frame's operand cells).
    pub max_depth: u32,
    /// Taken registers, one bit per register number.
    taken: u64,
}

impl ValueStack {
    pub fn depth(&self) -> u32 {
        self.entries.len() as u32
    }

    /// Pushes `v`; a register it names must have come from
    /// [`take_free`](Self::take_free) or a [`pop`](Self::pop).
    pub fn push(&mut self, v: Value) {
        self.entries.push(v);
        self.max_depth = self.max_depth.max(self.depth());
    }

    /// Pops the top entry with its position. A register it held stays
    /// taken until [`free`](Self::free).
    pub fn pop(&mut self) -> Option<(u32, Value)> {
        let v = self.entries.pop()?;
        Some((self.depth(), v))
    }

    /// Makes room for `depth` entries in the frame (values a call-out
    /// writes beyond the stack's current top).
    pub fn reserve(&mut self, depth: u32) {
        self.max_depth = self.max_depth.max(depth);
    }

    /// Cuts the stack to `depth` entries (freeing their registers), then
    /// pushes `cells` entries that live in their cells (a label's results,
    /// a call's results).
    pub fn reset(&mut self, depth: u32, cells: u32) {
        let dropped: Vec<Value> = self
            .entries
            .drain((depth as usize).min(self.entries.len())..)
            .collect();
        for v in dropped {
            self.release(v);
        }
        for _ in 0..cells {
            self.push(Value::Cell);
        }
    }

    /// Positions of entries not yet in their cells, with what they are;
    /// marks them as in their cells (the caller emits the moves and frees
    /// the registers).
    pub fn take_unmaterialized(&mut self, filter: impl Fn(Value) -> bool) -> Vec<(u32, Value)> {
        let mut out = Vec::new();
        for (d, v) in self.entries.iter_mut().enumerate() {
            if *v != Value::Cell && filter(*v) {
                out.push((d as u32, *v));
                *v = Value::Cell;
            }
        }
        out
    }

    /// Takes the first free register of `candidates`.
    pub fn take_free(&mut self, candidates: &[Reg]) -> Option<Reg> {
        let r = candidates
            .iter()
            .copied()
            .find(|r| self.taken & bit(*r) == 0)?;
        self.taken |= bit(r);
        Some(r)
    }

    /// Gives a register back.
    pub fn free(&mut self, r: Reg) {
        self.taken &= !bit(r);
    }

    /// Gives back the registers a popped entry held.
    pub fn release(&mut self, v: Value) {
        match v {
            Value::Reg(r) => self.free(r),
            Value::Cmp { lhs, rhs, .. } => {
                self.free(lhs);
                if let RegImm::Reg(r) = rhs {
                    self.free(r);
                }
            }
            _ => {}
        }
    }

    /// The deepest entry holding one of `candidates` (the oldest, spilled
    /// first when registers run out: it is the one needed last); marks it
    /// as in its cell, its registers still taken (the caller stores it
    /// and frees them).
    pub fn spill_oldest(&mut self, candidates: &[Reg]) -> Option<(u32, Value)> {
        self.entries
            .iter_mut()
            .enumerate()
            .find_map(|(d, v)| match *v {
                Value::Reg(r) | Value::Cmp { lhs: r, .. } if candidates.contains(&r) => {
                    Some((d as u32, std::mem::replace(v, Value::Cell)))
                }
                _ => None,
            })
    }
}

fn bit(r: Reg) -> u64 {
    1u64 << (r.0 & 63)
}

//! The compile-time value stack: where each wasm operand is. Entry `d` of
//! the stack, once materialized, lives in frame cell `d`; until then a
//! constant or a local's current value stands for it, so `local.get` and
//! `i32.const` emit nothing until used.

/// Where an operand is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A constant (i32 values zero-extended).
    Const(u64),
    /// The current value of local `n` (spilled before the local changes).
    Local(u32),
    /// In its own cell (its stack position).
    Cell,
}

/// The operands of the function being compiled.
#[derive(Debug, Default)]
pub struct ValueStack {
    entries: Vec<Value>,
    /// The most entries ever held (the frame's operand cells).
    pub max_depth: u32,
}

impl ValueStack {
    pub fn depth(&self) -> u32 {
        self.entries.len() as u32
    }

    pub fn push(&mut self, v: Value) {
        self.entries.push(v);
        self.max_depth = self.max_depth.max(self.depth());
    }

    /// Pops the top entry with its position.
    pub fn pop(&mut self) -> Option<(u32, Value)> {
        let v = self.entries.pop()?;
        Some((self.depth(), v))
    }

    /// Makes room for `depth` entries in the frame (values a call-out
    /// writes beyond the stack's current top).
    pub fn reserve(&mut self, depth: u32) {
        self.max_depth = self.max_depth.max(depth);
    }

    /// Cuts the stack to `depth` entries, then pushes `cells` entries that
    /// live in their cells (a label's results, a call's results).
    pub fn reset(&mut self, depth: u32, cells: u32) {
        self.entries.truncate(depth as usize);
        for _ in 0..cells {
            self.push(Value::Cell);
        }
    }

    /// Positions of entries not yet in their cells, with what they are;
    /// marks them as in their cells (the caller emits the moves).
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
}

//! Structured control flow: one frame per open `block`, `loop`, `if` and
//! the function body, with the label branches jump to and the stack height
//! their values go to (Wasm 3.0 §4.4.8 control instructions).

/// What kind of construct a frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The function body: branching to it returns.
    Function,
    /// `block`: branches go to the end.
    Block,
    /// `loop`: branches go to the start and carry the parameters.
    Loop,
    /// `if`, with the label of its `else` branch (bound at `else` or `end`).
    If,
}

/// An open control frame.
#[derive(Clone, Copy, Debug)]
pub struct ControlFrame<L> {
    pub kind: FrameKind,
    /// Where branches to this frame go.
    pub label: L,
    /// An `if`'s else branch; the `end` of a `loop` (fallthrough target).
    pub other: L,
    /// Operand depth below the frame's parameters.
    pub height: u32,
    pub params: u32,
    pub results: u32,
    /// Opened in unreachable code: nothing inside is compiled.
    pub dead: bool,
    /// An `if` whose `else` was seen.
    pub else_seen: bool,
}

impl<L> ControlFrame<L> {
    /// Values a branch to this frame carries.
    pub fn branch_arity(&self) -> u32 {
        if self.kind == FrameKind::Loop {
            self.params
        } else {
            self.results
        }
    }
}

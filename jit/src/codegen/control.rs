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
    /// `try_table`: a block whose exceptions go to its catch clauses.
    TryTable,
    /// Legacy `try`, before its first `catch`.
    LegacyTry,
    /// Legacy `try`, in a `catch`/`catch_all` body.
    LegacyCatch,
}

/// An open control frame.
#[derive(Clone, Copy, Debug)]
pub struct ControlFrame<L> {
    pub kind: FrameKind,
    /// Where branches to this frame go.
    pub label: L,
    /// An `if`'s else branch; the `end` of a `loop` (fallthrough target);
    /// a legacy `try`'s next catch clause test.
    pub other: L,
    /// Where an exception raised by code directly inside this frame goes:
    /// the innermost handler (a `try_table`'s or `try`'s pad), else the
    /// function's exception exit.
    pub catch_path: L,
    /// A `try_table`'s or `try`'s own handler entry.
    pub pad: L,
    /// A `try_table`'s clause list (index into the function's lists); a
    /// legacy `try`'s hidden local holding the caught exnref (`rethrow`).
    pub extra: u32,
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

//! Errors: compile errors, link errors, traps with wasm backtraces, uncaught
//! exceptions and resource limits. Nothing in the runtime panics on input a
//! module or a host controls; every failure is one of these values.

use std::fmt;

use crate::values::Exn;

/// Why a module failed to compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// The bytes are not a well-formed module (binary or text).
    Malformed,
    /// The module is well formed but fails validation.
    Invalid,
    /// The module is valid but uses a feature wrun does not implement yet.
    Unsupported,
}

/// A module that could not be compiled, with the byte offset of the problem.
#[derive(Clone, Debug)]
pub struct CompileError {
    /// What kind of failure.
    pub kind: CompileErrorKind,
    /// Human-readable message.
    pub message: String,
    /// Byte offset in the binary, when known.
    pub offset: Option<u64>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            CompileErrorKind::Malformed => "malformed module",
            CompileErrorKind::Invalid => "invalid module",
            CompileErrorKind::Unsupported => "unsupported",
        };
        match self.offset {
            Some(off) => write!(f, "{kind}: {} at offset {off:#x}", self.message),
            None => write!(f, "{kind}: {}", self.message),
        }
    }
}

/// The reason execution trapped. `Display` gives the message the official
/// test suites expect (Wasm 3.0 reference interpreter wording).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapKind {
    /// `unreachable` was executed.
    Unreachable,
    /// A load, store or bulk memory operation went out of bounds.
    MemoryOutOfBounds,
    /// A table access or bulk table operation went out of bounds.
    TableOutOfBounds,
    /// `call_indirect` with an index beyond the table.
    UndefinedElement,
    /// `call_indirect` through a null entry.
    UninitializedElement,
    /// `call_indirect` whose callee has the wrong signature.
    IndirectCallTypeMismatch,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Signed division overflow or a float-to-int conversion out of range.
    IntegerOverflow,
    /// Float-to-int conversion of NaN.
    InvalidConversionToInteger,
    /// The call depth or value stack limit was reached.
    StackExhausted,
    /// `call_ref` or `return_call_ref` on null.
    NullFunctionReference,
    /// `ref.as_non_null` or another null check failed.
    NullReference,
    /// `throw_ref` on null.
    NullExceptionReference,
    /// A cast failed (GC).
    CastFailure,
    /// The store ran out of fuel.
    OutOfFuel,
    /// The engine's epoch reached the store's deadline (an interrupt).
    Interrupted,
    /// A host function asked to trap.
    Host,
}

impl TrapKind {
    /// The suite's wording of this trap.
    pub fn message(self) -> &'static str {
        match self {
            TrapKind::Unreachable => "unreachable",
            TrapKind::MemoryOutOfBounds => "out of bounds memory access",
            TrapKind::TableOutOfBounds => "out of bounds table access",
            TrapKind::UndefinedElement => "undefined element",
            TrapKind::UninitializedElement => "uninitialized element",
            TrapKind::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapKind::IntegerDivideByZero => "integer divide by zero",
            TrapKind::IntegerOverflow => "integer overflow",
            TrapKind::InvalidConversionToInteger => "invalid conversion to integer",
            TrapKind::StackExhausted => "call stack exhausted",
            TrapKind::NullFunctionReference => "null function reference",
            TrapKind::NullReference => "null reference",
            TrapKind::NullExceptionReference => "null exception reference",
            TrapKind::CastFailure => "cast failure",
            TrapKind::OutOfFuel => "all fuel consumed",
            TrapKind::Interrupted => "interrupted",
            TrapKind::Host => "host trap",
        }
    }
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// One wasm frame of a trap's backtrace, innermost first.
#[derive(Clone, Debug)]
pub struct FrameInfo {
    /// The module's name from its name section, if any.
    pub module_name: Option<String>,
    /// The function's index in its module.
    pub func_index: u32,
    /// The function's name from the name section, if any.
    pub func_name: Option<String>,
    /// Offset of the executing instruction in the module binary.
    pub module_offset: Option<u64>,
}

impl fmt::Display for FrameInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let module = self.module_name.as_deref().unwrap_or("<module>");
        match &self.func_name {
            Some(name) => write!(f, "{module}!{name}")?,
            None => write!(f, "{module}!<func {}>", self.func_index)?,
        }
        if let Some(off) = self.module_offset {
            write!(f, " @ {off:#x}")?;
        }
        Ok(())
    }
}

/// A trap: why, plus where in wasm it happened.
#[derive(Clone, Debug)]
pub struct Trap {
    kind: TrapKind,
    message: Option<String>,
    backtrace: Vec<FrameInfo>,
}

impl Trap {
    /// A trap of the given kind with no backtrace yet.
    pub fn new(kind: TrapKind) -> Trap {
        Trap {
            kind,
            message: None,
            backtrace: Vec::new(),
        }
    }

    /// A trap raised by a host function, with its own message.
    pub fn host(message: impl Into<String>) -> Trap {
        Trap {
            kind: TrapKind::Host,
            message: Some(message.into()),
            backtrace: Vec::new(),
        }
    }

    /// Why execution trapped.
    pub fn kind(&self) -> TrapKind {
        self.kind
    }

    /// The wasm frames active at the trap, innermost first.
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }

    pub(crate) fn set_backtrace(&mut self, frames: Vec<FrameInfo>) {
        if self.backtrace.is_empty() {
            self.backtrace = frames;
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{}: {m}", self.kind)?,
            None => write!(f, "{}", self.kind)?,
        }
        if !self.backtrace.is_empty() {
            f.write_str("\nwasm backtrace:")?;
            for (i, frame) in self.backtrace.iter().enumerate() {
                write!(f, "\n  {i}: {frame}")?;
            }
        }
        Ok(())
    }
}

/// Every error the runtime reports.
#[derive(Clone, Debug)]
pub enum Error {
    /// The module could not be decoded, validated or is unsupported.
    Compile(CompileError),
    /// An import could not be satisfied.
    Link(String),
    /// Execution trapped (also during instantiation: segments, start function).
    Trap(Trap),
    /// A wasm exception escaped to the host.
    Exception(Exn),
    /// A configured resource limit was exceeded (memory ceiling, …).
    Limit(String),
    /// A host-side usage error (wrong argument types, foreign store, …).
    Usage(String),
    /// A host function ended the program with an exit status (WASI
    /// `proc_exit`); it unwinds every wasm frame like a trap but is not one.
    Exit(i32),
}

impl Error {
    /// The trap, if this error is one.
    pub fn as_trap(&self) -> Option<&Trap> {
        match self {
            Error::Trap(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }
}

impl From<Trap> for Error {
    fn from(t: Trap) -> Error {
        Error::Trap(t)
    }
}

impl From<TrapKind> for Error {
    fn from(k: TrapKind) -> Error {
        Error::Trap(Trap::new(k))
    }
}

impl From<CompileError> for Error {
    fn from(e: CompileError) -> Error {
        Error::Compile(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Compile(e) => write!(f, "{e}"),
            Error::Link(m) => write!(f, "link error: {m}"),
            Error::Trap(t) => write!(f, "trap: {t}"),
            Error::Exception(e) => write!(f, "uncaught wasm exception (tag #{})", e.tag().index),
            Error::Limit(m) => write!(f, "limit exceeded: {m}"),
            Error::Usage(m) => write!(f, "{m}"),
            Error::Exit(code) => write!(f, "exited with status {code}"),
        }
    }
}

impl std::error::Error for Error {}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Reading module files (binary or text) and `wrun validate`. Every error
//! names the file and, where there is one, the byte offset or line:column.

use std::path::Path;

use wrun_runtime::{CompileErrorKind, Engine, Error, Module};

use crate::{Failure, exit};

/// The largest module file `wrun` reads (binary or text). The biggest
/// real-world modules are tens of MiB; a stream without end (`/dev/zero`, a
/// pipe) stops here instead of filling the host's memory.
pub const MAX_MODULE_FILE_BYTES: u64 = 256 << 20;

/// Reads at most [`MAX_MODULE_FILE_BYTES`] of `path`. A file that starts
/// with a NUL byte but not the `\0asm` magic is neither a binary nor a text
/// module, and is refused after its first four bytes.
fn read_capped(path: &Path) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let cannot =
        |e: std::io::Error| Failure::error(format!("cannot read `{}`: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(cannot)?;
    let too_large = || {
        Failure::error(format!(
            "`{}` is larger than {MAX_MODULE_FILE_BYTES} bytes, the most wrun reads as a module",
            path.display()
        ))
    };
    if file
        .metadata()
        .is_ok_and(|m| m.len() > MAX_MODULE_FILE_BYTES)
    {
        return Err(too_large());
    }
    let mut reader = file.take(MAX_MODULE_FILE_BYTES + 1);
    let mut bytes = Vec::new();
    (&mut reader)
        .take(4)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.first() == Some(&0) && bytes != b"\0asm" {
        return Err(Failure::error(format!(
            "`{}` is not a WebAssembly module (no `\\0asm` magic, and not text)",
            path.display()
        )));
    }
    reader.read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_MODULE_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Reads `path` and returns the module's binary form, converting `.wat`
/// text (anything not starting with the `\0asm` magic) on the way.
pub fn read_binary(path: &Path) -> Result<Vec<u8>, Failure> {
    let bytes = read_capped(path)?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    wat::Parser::new()
        .parse_bytes(Some(path), &bytes)
        .map(|binary| binary.into_owned())
        .map_err(|e| Failure::error(one_line_text_error(path, &e.to_string())))
}

/// `wat` renders an error as the message, then `--> file:line:col` and a
/// source snippet; the CLI reports `file:line:col: message` on one line.
fn one_line_text_error(path: &Path, rendered: &str) -> String {
    let mut lines = rendered.lines();
    let message = lines
        .next()
        .unwrap_or("cannot parse the text format")
        .trim();
    let location = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("-->"))
        .map(str::trim);
    match location {
        Some(loc) => format!("{loc}: malformed text module: {message}"),
        None => format!("{}: malformed text module: {message}", path.display()),
    }
}

/// Compiles the module in `path` for `engine`.
pub fn compile(engine: &Engine, path: &Path) -> Result<Module, Failure> {
    let binary = read_binary(path)?;
    Module::from_binary(engine, &binary).map_err(|e| file_error(path, &e))
}

/// An error about the module in `path`, with the right exit code. A
/// program that exits (WASI `proc_exit`) ends silently with its status.
pub fn file_error(path: &Path, e: &Error) -> Failure {
    let code = match e {
        Error::Exit(status) => {
            return Failure {
                message: String::new(),
                code: *status,
            };
        }
        Error::Trap(_) | Error::Exception(_) => exit::TRAP,
        _ => exit::ERROR,
    };
    Failure {
        message: format!("{}: {e}", path.display()),
        code,
    }
}

/// `wrun validate FILE`: prints `FILE: valid` or fails with the error.
pub fn validate(path: &Path) -> Result<i32, Failure> {
    let binary = read_binary(path)?;
    let engine = Engine::default();
    Module::validate(&engine, &binary).map_err(|e| file_error(path, &e))?;
    // Valid modules may still use a proposal the interpreter lacks; say so,
    // since `wrun run` would refuse them.
    match Module::from_binary(&engine, &binary) {
        Err(Error::Compile(c)) if c.kind == CompileErrorKind::Unsupported => {
            println!(
                "{}: valid (but wrun cannot run it yet: {})",
                path.display(),
                c.message
            );
        }
        _ => println!("{}: valid", path.display()),
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error() {
        let path = Path::new("m.wasm");
        let exit = file_error(path, &Error::Exit(3));
        assert_eq!((exit.code, exit.message.as_str()), (3, ""));
        let trap = file_error(path, &Error::Trap(wrun_runtime::Trap::host("x")));
        assert_eq!(trap.code, exit::TRAP);
        let link = file_error(path, &Error::Link("unknown import".into()));
        assert_eq!(link.code, exit::ERROR);
        assert!(
            link.message.starts_with("m.wasm: link error"),
            "{}",
            link.message
        );
    }

    #[test]
    fn text_errors_become_one_line() {
        let rendered = "expected `(`\n     --> m.wat:3:5\n      |\n    3 | oops\n      |     ^";
        assert_eq!(
            one_line_text_error(Path::new("m.wat"), rendered),
            "m.wat:3:5: malformed text module: expected `(`"
        );
        assert_eq!(
            one_line_text_error(Path::new("m.wat"), "input bytes aren't valid utf-8"),
            "m.wat: malformed text module: input bytes aren't valid utf-8"
        );
    }
}

//! The PC's command line, shared by `x86emu` and `emu.wasm`:
//!
//! ```text
//! (--boot-sector FILE | --flat FILE | --kernel FILE | --demo)
//!     [--initrd FILE] [--append STR] [--boot32]      (--kernel only)
//!     [--mem MiB] [--max-instructions N]
//!     [--disk IMAGE [--disk-writable]] [--vga-dump]
//! ```
//! Arguments are bytes (WASI and Unix hand over bytes, not UTF-8).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The PC forms of the command line, one per line.
const USAGE_FORMS: [&str; 2] = [
    "(--boot-sector FILE | --flat FILE | --demo) [--mem MiB] [--max-instructions N]",
    "--kernel FILE [--initrd FILE] [--append STR] [--boot32] [--mem MiB] [--max-instructions N]",
];

/// The usage lines of the PC forms for program `name`, each line after
/// the first indented by `indent` (to continue a `usage: ` line).
pub fn usage_lines(name: &str, indent: &str) -> String {
    let mut text = String::new();
    for (i, form) in USAGE_FORMS.iter().enumerate() {
        if i > 0 {
            text.push('\n');
            text.push_str(indent);
        }
        text.push_str(name);
        text.push(' ');
        text.push_str(form);
    }
    text.push('\n');
    text.push_str(indent);
    text.push_str("(every PC form also takes [--disk IMAGE [--disk-writable]] [--vga-dump])");
    text
}

/// What to put in the PC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PcImage {
    /// A 512-byte boot sector at 0x7C00, real mode.
    BootSector(Vec<u8>),
    /// A flat binary at 1 MiB, 32-bit protected mode.
    Flat(Vec<u8>),
    /// A Linux bzImage or ELF vmlinux.
    Linux(Vec<u8>),
    /// The self-test guest built into the emulator (`boot::demo`).
    Demo,
}

/// A parsed PC command line; file names are still unread paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcArgs {
    /// The guest.
    pub image: PcImage,
    /// `--initrd`.
    pub initrd: Option<Vec<u8>>,
    /// `--append`: the kernel command line.
    pub append: String,
    /// `--boot32`: enter a kernel in 32-bit mode.
    pub boot32: bool,
    /// `--mem`, in MiB.
    pub mem_mib: u64,
    /// `--max-instructions`.
    pub max_instructions: u64,
    /// `--disk`.
    pub disk: Option<Vec<u8>>,
    /// `--disk-writable`.
    pub disk_writable: bool,
    /// `--vga-dump`.
    pub vga_dump: bool,
}

/// A command line the PC cannot start from, naming the flag at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const IMAGE_FLAGS: [&[u8]; 4] = [b"--boot-sector", b"--flat", b"--kernel", b"--demo"];

/// Whether `args` (without the program name) ask for a PC rather than
/// Linux user mode: a PC guest is named before any `--user` (whose
/// program's own arguments may look like flags), whatever flags such as
/// `--mem` come first.
pub fn is_pc_command(args: &[Vec<u8>]) -> bool {
    args.iter()
        .take_while(|a| a.as_slice() != b"--user")
        .any(|a| IMAGE_FLAGS.contains(&a.as_slice()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn number(flag: &str, value: Option<&Vec<u8>>) -> Result<u64, ArgError> {
    let value = value.ok_or_else(|| ArgError(alloc::format!("{flag} needs a number")))?;
    core::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ArgError(alloc::format!("{flag} {}: not a number", text(value))))
}

/// Parses the PC flags (without the program name).
pub fn parse(args: &[Vec<u8>]) -> Result<PcArgs, ArgError> {
    let mut parsed = PcArgs {
        image: PcImage::Demo,
        initrd: None,
        append: String::new(),
        boot32: false,
        mem_mib: crate::boot::layout::DEFAULT_RAM >> 20,
        max_instructions: u64::MAX,
        disk: None,
        disk_writable: false,
        vga_dump: false,
    };
    let mut image = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = text(flag);
        let mut path = || {
            rest.next()
                .cloned()
                .ok_or_else(|| ArgError(alloc::format!("{name} needs a file name")))
        };
        let new_image = match flag.as_slice() {
            b"--boot-sector" => Some(PcImage::BootSector(path()?)),
            b"--flat" => Some(PcImage::Flat(path()?)),
            b"--kernel" => Some(PcImage::Linux(path()?)),
            b"--demo" => Some(PcImage::Demo),
            _ => None,
        };
        if let Some(new_image) = new_image {
            if image.is_some() {
                return Err(ArgError(alloc::format!("{name}: only one guest per run")));
            }
            image = Some(new_image);
            continue;
        }
        match flag.as_slice() {
            b"--initrd" => parsed.initrd = Some(path()?),
            b"--disk" => parsed.disk = Some(path()?),
            b"--append" => {
                let value = path()?;
                parsed.append = String::from_utf8(value)
                    .map_err(|_| ArgError(String::from("--append: not UTF-8 text")))?;
            }
            b"--boot32" => parsed.boot32 = true,
            b"--disk-writable" => parsed.disk_writable = true,
            b"--vga-dump" => parsed.vga_dump = true,
            b"--mem" => parsed.mem_mib = number("--mem", rest.next())?,
            b"--max-instructions" => {
                parsed.max_instructions = number("--max-instructions", rest.next())?;
            }
            _ => return Err(ArgError(alloc::format!("unknown flag {name}"))),
        }
    }
    parsed.image = image.ok_or_else(|| {
        ArgError(String::from(
            "no guest: give --boot-sector, --flat, --kernel or --demo",
        ))
    })?;
    let is_linux = matches!(parsed.image, PcImage::Linux(_));
    if !is_linux && (parsed.initrd.is_some() || !parsed.append.is_empty() || parsed.boot32) {
        return Err(ArgError(String::from(
            "--initrd, --append and --boot32 go with --kernel only",
        )));
    }
    if parsed.disk_writable && parsed.disk.is_none() {
        return Err(ArgError(String::from("--disk-writable needs --disk IMAGE")));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_kernel_command_line() {
        let p = parse(&args(&[
            "--kernel",
            "vmlinux",
            "--initrd",
            "i.gz",
            "--append",
            "console=ttyS0",
            "--mem",
            "256",
        ]))
        .unwrap();
        assert_eq!(p.image, PcImage::Linux(b"vmlinux".to_vec()));
        assert_eq!(p.initrd.as_deref(), Some(&b"i.gz"[..]));
        assert_eq!(p.append, "console=ttyS0");
        assert_eq!(p.mem_mib, 256);
        assert!(is_pc_command(&args(&["--demo"])));
        assert!(!is_pc_command(&args(&["--user", "--kernel"])));
        assert!(!is_pc_command(&args(&[
            "--mem", "64", "--user", "prog", "--flat"
        ])));
        assert!(is_pc_command(&args(&[
            "--mem", "64", "--kernel", "bzImage"
        ])));
    }

    #[test]
    fn bad_command_lines_name_the_problem() {
        let err = |list: &[&str]| parse(&args(list)).unwrap_err().0;
        assert_eq!(err(&["--flat"]), "--flat needs a file name");
        assert_eq!(err(&["--flat", "f", "--mem", "x"]), "--mem x: not a number");
        assert_eq!(err(&["--flat", "f", "--frob"]), "unknown flag --frob");
        assert_eq!(
            err(&["--flat", "f", "--initrd", "i"]),
            "--initrd, --append and --boot32 go with --kernel only"
        );
        assert_eq!(
            err(&["--demo", "--flat", "f"]),
            "--flat: only one guest per run"
        );
        assert_eq!(
            err(&["--mem", "64"]),
            "no guest: give --boot-sector, --flat, --kernel or --demo"
        );
    }
}

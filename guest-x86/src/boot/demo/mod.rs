//! The self-test guest built into the emulator (`--demo`, and `emu.wasm`
//! run without arguments): a disk image whose boot sector loads its second
//! stage over ATA PIO, walks real → protected → long mode, prints a banner
//! and one line per check on COM1 and powers off through the isa-debug-exit
//! port. Source: `demo.asm`; the bytes (`image.rs`) are generated from it
//! by `scripts/demo-guest.py`, and the test below holds them equal.

mod image;

use alloc::boxed::Box;

use super::flat::{LoadError, load_boot_sector};
use super::layout::BOOT_SECTOR_SIZE;
use crate::devices::ide::{Ide, MemoryStorage};
use crate::pc::Pc;

/// The whole disk image (boot sector first).
pub const IMAGE: &[u8] = &image::IMAGE;

/// Puts the image in `pc` as its ATA disk and boots its first sector.
pub fn load(pc: &mut Pc) -> Result<(), LoadError> {
    pc.mem.bus.ide = Ide::new(Some(Box::new(MemoryStorage(IMAGE.to_vec()))));
    load_boot_sector(pc, &IMAGE[..BOOT_SECTOR_SIZE])
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// `image.rs` is `demo.asm` assembled: a missing nasm fails with the
    /// command that installs it.
    #[test]
    fn the_image_is_demo_asm_assembled() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/boot/demo");
        let out = std::env::temp_dir().join(format!("guest-x86-demo-{}.bin", std::process::id()));
        let status = std::process::Command::new("nasm")
            .args(["-f", "bin"])
            .arg(dir.join("demo.asm"))
            .arg("-o")
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("cannot run nasm ({e}): apt-get install -y nasm"));
        assert!(status.success(), "nasm failed on demo.asm");
        let assembled = std::fs::read(&out).expect("nasm's output");
        let _ = std::fs::remove_file(&out);
        assert!(
            assembled == IMAGE,
            "image.rs is stale: run python3 scripts/demo-guest.py"
        );
    }
}

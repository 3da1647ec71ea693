//! The self-test guest built into the emulator (`--demo`, and `emu.wasm`
//! run without arguments).

use alloc::vec::Vec;

/// The guest's boot sector.
pub fn image() -> Vec<u8> {
    Vec::new()
}

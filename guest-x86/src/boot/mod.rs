//! Putting a guest into the PC: the fixed addresses (`layout`) and the
//! loaders for a boot sector and a flat binary.

pub mod flat;
pub mod layout;

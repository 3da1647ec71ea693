//! Putting a guest into the PC: the fixed addresses (`layout`) and the
//! loaders for a boot sector, a flat binary and a Linux kernel.

pub mod demo;
pub mod firmware;
pub mod flat;
pub mod layout;
pub mod linux;

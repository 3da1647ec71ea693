//! guest-x86: an x86_64 PC emulator written in `no_std` + `alloc` Rust.
//!
//! The same core builds natively (fast tests, the `x86emu` binary) and for
//! `wasm64-unknown-unknown`. `cpu` holds the processor, `mmu` the bounded
//! guest memory and the page walker, `devices` the bus and the PC's
//! devices, `boot` the fixed layout and loaders, `pc` the machine that ties
//! them together, `user` the Linux user-mode layer (ELF loader + syscalls).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod boot;
pub mod cpu;
pub mod devices;
pub mod launch;
pub mod mmu;
pub mod pc;
pub mod user;
pub mod wasi_host;

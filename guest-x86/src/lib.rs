//! guest-x86: an x86_64 PC emulator written in `no_std` + `alloc` Rust.
//!
//! The same core builds natively (fast tests, the `x86emu` binary) and for
//! `wasm64-unknown-unknown`. `cpu` holds the processor, `mmu` the bounded
//! guest memory, `user` the Linux user-mode layer (ELF loader + syscalls).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod cpu;
pub mod mmu;
pub mod user;
pub mod wasi_host;

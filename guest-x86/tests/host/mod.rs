//! The host CPU the oracle tests compare against. Where AMD and Intel
//! CPUs differ the emulator follows AMD (`src/cpu/cpuid.rs` reports
//! `AuthenticAMD`), so on another vendor's host the oracle tests compare
//! what the SDM specifies and name, count and print what they could not
//! compare bit for bit.

#![allow(dead_code)]

/// The host's CPUID vendor string (`AuthenticAMD`, `GenuineIntel`, …).
pub fn vendor() -> String {
    let r = core::arch::x86_64::__cpuid(0);
    let bytes: Vec<u8> = [r.ebx, r.edx, r.ecx]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether the host is the vendor the emulator models.
pub fn is_amd() -> bool {
    vendor() == "AuthenticAMD"
}

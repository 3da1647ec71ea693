//! CPUID (SDM Vol.2A CPUID): reports exactly the features the emulator
//! implements. Every bit set here must be backed by an implementation.

/// Leaf 1 ECX feature bits.
pub mod leaf1_ecx {
    /// SSE3.
    pub const SSE3: u32 = 1 << 0;
    /// SSSE3.
    pub const SSSE3: u32 = 1 << 9;
    /// CMPXCHG16B.
    pub const CX16: u32 = 1 << 13;
    /// SSE4.1.
    pub const SSE4_1: u32 = 1 << 19;
    /// SSE4.2.
    pub const SSE4_2: u32 = 1 << 20;
    /// MOVBE.
    pub const MOVBE: u32 = 1 << 22;
    /// POPCNT.
    pub const POPCNT: u32 = 1 << 23;
}

/// Leaf 1 EDX feature bits.
pub mod leaf1_edx {
    /// x87 FPU on chip.
    pub const FPU: u32 = 1 << 0;
    /// 4 MiB pages with CR4.PSE.
    pub const PSE: u32 = 1 << 3;
    /// Time-stamp counter.
    pub const TSC: u32 = 1 << 4;
    /// RDMSR/WRMSR.
    pub const MSR: u32 = 1 << 5;
    /// PAE paging.
    pub const PAE: u32 = 1 << 6;
    /// CMPXCHG8B.
    pub const CX8: u32 = 1 << 8;
    /// SYSENTER/SYSEXIT.
    pub const SEP: u32 = 1 << 11;
    /// Global pages (CR4.PGE).
    pub const PGE: u32 = 1 << 13;
    /// CMOVcc.
    pub const CMOV: u32 = 1 << 15;
    /// IA32_PAT.
    pub const PAT: u32 = 1 << 16;
    /// 36-bit physical addresses in 4 MiB pages.
    pub const PSE36: u32 = 1 << 17;
    /// CLFLUSH.
    pub const CLFSH: u32 = 1 << 19;
    /// MMX.
    pub const MMX: u32 = 1 << 23;
    /// FXSAVE/FXRSTOR.
    pub const FXSR: u32 = 1 << 24;
    /// SSE.
    pub const SSE: u32 = 1 << 25;
    /// SSE2.
    pub const SSE2: u32 = 1 << 26;
    /// An enabled local APIC (`devices/apic.rs`).
    pub const APIC: u32 = 1 << 9;
}

/// The feature set this build implements, as (leaf 1 ECX, leaf 1 EDX).
pub fn implemented_features() -> (u32, u32) {
    use leaf1_ecx as c;
    use leaf1_edx as d;
    let ecx = c::SSE3 | c::SSSE3 | c::CX16 | c::SSE4_1 | c::SSE4_2 | c::MOVBE | c::POPCNT;
    // The FPU bit: the x87 unit, transcendental functions included
    // (cpu/x87.rs lists anything it lacks).
    // The system features (PSE … PSE36) are those of the PC mode (`mmu/paging.rs`,
    // `cpu/msr.rs`, `cpu/syscall.rs`); the APIC bit depends on the machine
    // (see `cpuid`).
    let edx = d::FPU
        | d::PSE
        | d::TSC
        | d::MSR
        | d::PAE
        | d::CX8
        | d::SEP
        | d::PGE
        | d::CMOV
        | d::PAT
        | d::PSE36
        | d::CLFSH
        | d::MMX
        | d::FXSR
        | d::SSE
        | d::SSE2;
    (ecx, edx)
}

/// Extended leaf 0x8000_0001 ECX: LAHF/SAHF in 64-bit mode (bit 0), LZCNT (bit 5).
const EXT_ECX_LAHF_LM: u32 = 1 << 0;
const EXT_ECX_ABM: u32 = 1 << 5;
/// Extended leaf 0x8000_0001 EDX: SYSCALL (11), NX (20), 1 GiB pages (26), LM (29).
const EXT_EDX: u32 = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 29);
/// Extended leaf 0x8000_0008 EAX: linear (15:8) and physical (7:0) address widths.
const ADDRESS_SIZES: u32 = (48 << 8) | crate::mmu::paging::MAX_PHYS_BITS;

/// The emulator follows AMD where vendors differ (16-bit near branches with
/// a 0x66 prefix in 64-bit mode, BSF/BSR of zero keep the destination), as
/// its differential oracle is an AMD host, so it says so.
const VENDOR: &[u8; 12] = b"AuthenticAMD";
const BRAND: &[u8; 48] = b"wrun guest-x86 virtual CPU\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

fn le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Returns (EAX, EBX, ECX, EDX) for a leaf and sub-leaf; `local_apic`
/// says whether the machine has an enabled local APIC (the PC does, Linux
/// user mode has none).
pub fn cpuid(leaf: u32, _subleaf: u32, local_apic: bool) -> (u32, u32, u32, u32) {
    match leaf {
        0 => (7, le(&VENDOR[0..4]), le(&VENDOR[8..12]), le(&VENDOR[4..8])),
        1 => {
            let (ecx, mut edx) = implemented_features();
            if local_apic {
                edx |= leaf1_edx::APIC;
            }
            // Family 0Fh (AMD's 64-bit family, K8), model 6Bh, stepping 1:
            // the identity of QEMU's qemu64 CPU. Family 6 on an AMD vendor
            // is a K7 Athlon, whose quirks Linux applies (i386 kernels poke
            // the K7-only CLK_CTL MSR). AMD CPUID Spec. §2 (Fn0000_0001_EAX):
            // extended model 6 in bits 19:16, family 0Fh in 11:8, model Bh
            // in 7:4. CLFLUSH line 8*8 bytes; one logical CPU.
            (0x0006_0fb1, (8 << 8) | (1 << 16), ecx, edx)
        }
        0x8000_0000 => (0x8000_0008, 0, 0, 0),
        0x8000_0001 => (0, 0, EXT_ECX_LAHF_LM | EXT_ECX_ABM, EXT_EDX),
        0x8000_0002..=0x8000_0004 => {
            let base = ((leaf - 0x8000_0002) * 16) as usize;
            let b = &BRAND[base..base + 16];
            (le(&b[0..4]), le(&b[4..8]), le(&b[8..12]), le(&b[12..16]))
        }
        0x8000_0008 => (ADDRESS_SIZES, 0, 0, 0),
        _ => (0, 0, 0, 0),
    }
}

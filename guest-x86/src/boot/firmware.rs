//! The tables a PC BIOS leaves in its ROM for the operating system to find
//! the interrupt controllers: the MP floating pointer and MP configuration
//! table (Intel MultiProcessor Specification 1.4, ch.4) for kernels built
//! with MP-table parsing (the project's small kernel), and the ACPI RSDP,
//! RSDT and MADT (ACPI 6.4 §5.2.5, §5.2.7, §5.2.12) for kernels that look
//! there (distribution kernels). Both describe the same machine: one
//! processor whose local APIC has ID 0, one I/O APIC whose pins carry the
//! ISA interrupts (IRQ 0 on pin 2), LINT0 as ExtINT and LINT1 as NMI.
//! There is no FADT or DSDT: the kernel finds no ACPI hardware and runs
//! without ACPI power management.

use alloc::vec::Vec;

use super::layout::{self, firmware as at, irq};
use crate::mmu::ram::Ram;

/// OEM identifiers written in the tables.
const OEM_ID: &[u8; 6] = b"WRUN  ";
const OEM_TABLE_ID: &[u8; 8] = b"GUESTX86";
/// Version register values the tables announce (`devices/apic.rs`, `devices/ioapic.rs`).
const LOCAL_APIC_VERSION: u8 = 0x14;
const IO_APIC_VERSION: u8 = 0x11;
/// The processor's local APIC ID.
const BSP_APIC_ID: u8 = 0;
/// ISA interrupts with no I/O APIC pin of their own: IRQ 2 is the 8259
/// cascade (the PIT's IRQ 0 takes pin 2 instead).
const ISA_IRQS: u8 = 16;

/// Makes the bytes of `table` sum to zero by setting the byte at `at`.
fn set_checksum(table: &mut [u8], at: usize) {
    table[at] = 0;
    let sum = table.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    table[at] = sum.wrapping_neg();
}

fn push16(t: &mut Vec<u8>, v: u16) {
    t.extend_from_slice(&v.to_le_bytes());
}
fn push32(t: &mut Vec<u8>, v: u32) {
    t.extend_from_slice(&v.to_le_bytes());
}

/// The I/O APIC pin of ISA interrupt `irq` (None for the cascade).
fn isa_pin(irq_line: u8) -> Option<u8> {
    match irq_line {
        irq::PIT => Some(irq::PIT_IO_APIC_PIN),
        irq::CASCADE => None,
        n => Some(n),
    }
}

/// MP spec 1.4 §4.3: configuration table entry types.
mod mp_entry {
    pub const PROCESSOR: u8 = 0;
    pub const BUS: u8 = 1;
    pub const IO_APIC: u8 = 2;
    pub const IO_INTERRUPT: u8 = 3;
    pub const LOCAL_INTERRUPT: u8 = 4;
}
/// MP spec 1.4 Table 4-8: interrupt types.
mod mp_interrupt {
    pub const INT: u8 = 0;
    pub const NMI: u8 = 1;
    pub const EXTINT: u8 = 3;
}
/// Local interrupt entries address every local APIC.
const MP_ALL_LOCAL_APICS: u8 = 0xff;
const MP_SPEC_REVISION: u8 = 4;
/// Processor flags (MP spec Table 4-5): enabled, bootstrap processor.
const MP_CPU_ENABLED_BSP: u8 = 0b11;

/// The MP configuration table (MP spec 1.4 §4.2, §4.3).
fn mp_configuration_table() -> Vec<u8> {
    let mut entries = Vec::new();
    let mut count = 0u16;
    // Processor: signature and feature flags as CPUID leaf 1 reports them.
    let (signature, _, _, features) = crate::cpu::cpuid::cpuid(1, 0, true);
    entries.extend_from_slice(&[mp_entry::PROCESSOR, BSP_APIC_ID, LOCAL_APIC_VERSION]);
    entries.push(MP_CPU_ENABLED_BSP);
    push32(&mut entries, signature);
    push32(&mut entries, features);
    entries.extend_from_slice(&[0; 8]);
    count += 1;
    entries.extend_from_slice(&[mp_entry::BUS, 0]);
    entries.extend_from_slice(b"ISA   ");
    count += 1;
    entries.extend_from_slice(&[
        mp_entry::IO_APIC,
        layout::IO_APIC_ID,
        IO_APIC_VERSION,
        1, // enabled
    ]);
    push32(&mut entries, layout::IO_APIC_BASE as u32);
    count += 1;
    // ISA interrupts, polarity and trigger "conform to the bus" (flags 0).
    for line in 0..ISA_IRQS {
        let Some(pin) = isa_pin(line) else { continue };
        entries.extend_from_slice(&[mp_entry::IO_INTERRUPT, mp_interrupt::INT, 0, 0]);
        entries.extend_from_slice(&[0, line, layout::IO_APIC_ID, pin]);
        count += 1;
    }
    for (kind, lint) in [(mp_interrupt::EXTINT, 0), (mp_interrupt::NMI, 1)] {
        entries.extend_from_slice(&[mp_entry::LOCAL_INTERRUPT, kind, 0, 0]);
        entries.extend_from_slice(&[0, 0, MP_ALL_LOCAL_APICS, lint]);
        count += 1;
    }

    let mut table = Vec::new();
    table.extend_from_slice(b"PCMP");
    push16(&mut table, (MP_HEADER_SIZE + entries.len()) as u16);
    table.extend_from_slice(&[MP_SPEC_REVISION, 0]);
    table.extend_from_slice(b"WRUN    ");
    table.extend_from_slice(b"GUEST-X86 PC");
    push32(&mut table, 0); // no OEM table
    push16(&mut table, 0);
    push16(&mut table, count);
    push32(&mut table, layout::LOCAL_APIC_BASE as u32);
    push16(&mut table, 0); // no extended entries
    table.extend_from_slice(&[0, 0]);
    debug_assert_eq!(table.len(), MP_HEADER_SIZE);
    table.extend_from_slice(&entries);
    set_checksum(&mut table, MP_CHECKSUM);
    table
}
const MP_HEADER_SIZE: usize = 44;
const MP_CHECKSUM: usize = 7;

/// The MP floating pointer structure (MP spec 1.4 §4.1): 16 bytes, no
/// default configuration (feature byte 1 = 0), virtual-wire mode (no IMCR).
fn mp_floating_pointer() -> [u8; 16] {
    let mut p = [0u8; 16];
    p[..4].copy_from_slice(b"_MP_");
    p[4..8].copy_from_slice(&(at::MP_CONFIGURATION_TABLE as u32).to_le_bytes());
    p[8] = 1; // length in 16-byte paragraphs
    p[9] = MP_SPEC_REVISION;
    set_checksum(&mut p, 10);
    p
}

/// ACPI 6.4 §5.2.6: the 36-byte header of a system description table.
fn acpi_table(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(signature);
    push32(&mut t, (ACPI_HEADER_SIZE + body.len()) as u32);
    t.extend_from_slice(&[revision, 0]);
    t.extend_from_slice(OEM_ID);
    t.extend_from_slice(OEM_TABLE_ID);
    push32(&mut t, 1); // OEM revision
    t.extend_from_slice(b"WRUN"); // creator ID
    push32(&mut t, 1); // creator revision
    t.extend_from_slice(body);
    set_checksum(&mut t, ACPI_CHECKSUM);
    t
}
const ACPI_HEADER_SIZE: usize = 36;
const ACPI_CHECKSUM: usize = 9;

/// MADT interrupt controller structure types (ACPI 6.4 §5.2.12).
mod madt {
    pub const LOCAL_APIC: u8 = 0;
    pub const IO_APIC: u8 = 1;
    pub const SOURCE_OVERRIDE: u8 = 2;
    pub const LOCAL_APIC_NMI: u8 = 4;
    /// MADT flags: PCAT_COMPAT (the machine also has dual 8259s).
    pub const PCAT_COMPAT: u32 = 1;
    /// Local APIC flags: enabled.
    pub const ENABLED: u32 = 1;
    /// Local APIC NMI: every processor.
    pub const ALL_PROCESSORS: u8 = 0xff;
    pub const REVISION: u8 = 1;
}

/// The MADT ("APIC").
fn madt() -> Vec<u8> {
    let mut b = Vec::new();
    push32(&mut b, layout::LOCAL_APIC_BASE as u32);
    push32(&mut b, madt::PCAT_COMPAT);
    b.extend_from_slice(&[madt::LOCAL_APIC, 8, 0, BSP_APIC_ID]);
    push32(&mut b, madt::ENABLED);
    b.extend_from_slice(&[madt::IO_APIC, 12, layout::IO_APIC_ID, 0]);
    push32(&mut b, layout::IO_APIC_BASE as u32);
    push32(&mut b, 0); // global system interrupt base
    // ISA IRQ 0 → GSI 2, conforming polarity and trigger (flags 0).
    b.extend_from_slice(&[madt::SOURCE_OVERRIDE, 10, 0, irq::PIT]);
    push32(&mut b, irq::PIT_IO_APIC_PIN as u32);
    push16(&mut b, 0);
    b.extend_from_slice(&[madt::LOCAL_APIC_NMI, 6, madt::ALL_PROCESSORS]);
    push16(&mut b, 0);
    b.push(1); // LINT1
    acpi_table(b"APIC", madt::REVISION, &b)
}

/// The RSDP, ACPI 1.0 form (ACPI 6.4 §5.2.5.3): 20 bytes pointing at the RSDT.
fn rsdp() -> [u8; 20] {
    let mut p = [0u8; 20];
    p[..8].copy_from_slice(b"RSD PTR ");
    p[9..15].copy_from_slice(OEM_ID);
    p[15] = 0; // revision 0: ACPI 1.0, no XSDT
    p[16..20].copy_from_slice(&(at::ACPI_RSDT as u32).to_le_bytes());
    set_checksum(&mut p, 8);
    p
}

/// Writes every table into the BIOS area of `ram` (which holds at least
/// 2 MiB, so the area is always backed).
pub fn install(ram: &mut Ram) {
    let _ = ram.load(at::MP_FLOATING_POINTER, &mp_floating_pointer());
    let _ = ram.load(at::MP_CONFIGURATION_TABLE, &mp_configuration_table());
    let _ = ram.load(at::ACPI_RSDP, &rsdp());
    let rsdt = acpi_table(b"RSDT", 1, &(at::ACPI_MADT as u32).to_le_bytes());
    let _ = ram.load(at::ACPI_RSDT, &rsdt);
    let _ = ram.load(at::ACPI_MADT, &madt());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums_to_zero(b: &[u8]) -> bool {
        b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0
    }

    #[test]
    fn tables_have_valid_checksums_and_fit_their_slots() {
        let mp = mp_configuration_table();
        assert!(sums_to_zero(&mp) && sums_to_zero(&mp_floating_pointer()));
        assert!(sums_to_zero(&rsdp()) && sums_to_zero(&madt()));
        // 1 processor, 1 bus, 1 I/O APIC, 15 ISA interrupts, 2 local ones.
        assert_eq!(u16::from_le_bytes([mp[34], mp[35]]), 20);
        assert!(at::MP_CONFIGURATION_TABLE + mp.len() as u64 <= at::ACPI_RSDP);
        assert!(at::ACPI_MADT + madt().len() as u64 <= at::END);
    }
}

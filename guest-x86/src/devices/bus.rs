//! The bus: how the processor reaches devices. Port I/O (IN/OUT/INS/OUTS)
//! and physical MMIO (addresses outside RAM, the VGA window, APIC pages)
//! both go through one `Bus`.

/// Port I/O and MMIO. `size` is 1, 2 or 4 bytes for ports and 1, 2, 4 or 8
/// for MMIO. A read nobody answers returns all ones (an open bus); a write
/// nobody answers is dropped.
pub trait Bus {
    /// IN from `port`.
    fn port_read(&mut self, port: u16, size: u8) -> u32;
    /// OUT to `port`.
    fn port_write(&mut self, port: u16, size: u8, value: u32);
    /// A physical read outside RAM.
    fn mmio_read(&mut self, addr: u64, size: u8) -> u64;
    /// A physical write outside RAM.
    fn mmio_write(&mut self, addr: u64, size: u8, value: u64);
    /// The processor's local APIC, if the machine has one: CR8, the
    /// IA32_APIC_BASE MSR and CPUID's APIC bit reach it through here.
    fn local_apic(&mut self) -> Option<&mut crate::devices::apic::LocalApic> {
        None
    }
    /// The virtual time before each instruction; timers read it when the
    /// guest accesses them.
    #[inline]
    fn set_clock(&mut self, _now: u64) {}
    /// An access since the machine last looked may have changed an
    /// interrupt line or asked the machine to stop: the CPU returns to the
    /// machine before the next instruction.
    #[inline]
    fn wants_attention(&self) -> bool {
        false
    }
}

/// A bus with nothing on it: every read is all ones, every write lost.
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenBus;

/// All ones of `size` bytes (what an unanswered read returns).
pub fn open_bus_value(size: u8) -> u64 {
    crate::cpu::state::size_mask(size)
}

impl Bus for OpenBus {
    fn port_read(&mut self, _port: u16, size: u8) -> u32 {
        open_bus_value(size) as u32
    }
    fn port_write(&mut self, _port: u16, _size: u8, _value: u32) {}
    fn mmio_read(&mut self, _addr: u64, size: u8) -> u64 {
        open_bus_value(size)
    }
    fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) {}
}

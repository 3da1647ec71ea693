//! The PC's devices, each a small module, and `PcBus`, which routes port
//! I/O and MMIO to them. Unclaimed ports and addresses read as all ones.

pub mod apic;
pub mod bus;
pub mod i8042;
pub mod ide;
pub mod ioapic;
pub mod pic;
pub mod pit;
pub mod rtc;
pub mod uart;
pub mod vga;

use alloc::vec::Vec;

use crate::boot::layout::{self, irq, port};
use bus::{Bus, open_bus_value};

/// Why the guest asked the machine to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineRequest {
    /// A write of `value` to the isa-debug-exit port.
    DebugExit(u32),
    /// A reset through the i8042 or port 0x92.
    Reset,
}

/// All devices of the PC behind one bus.
#[derive(Debug)]
pub struct PcBus {
    /// The virtual time in nanoseconds, set by the machine before each
    /// instruction (timers read it).
    pub now: u64,
    /// Bytes written to the 0xE9 debug console.
    pub debug_console: Vec<u8>,
    /// The interrupt controllers.
    pub pic: pic::Pic,
    /// The interval timer (and port 0x61).
    pub pit: pit::Pit,
    /// COM1.
    pub com1: uart::Uart,
    /// Keyboard controller and port 0x92.
    pub i8042: i8042::I8042,
    /// CMOS and real-time clock.
    pub rtc: rtc::Rtc,
    /// The processor's local APIC.
    pub lapic: apic::LocalApic,
    /// The I/O APIC.
    pub ioapic: ioapic::IoApic,
    /// The primary ATA channel (its disk, if any).
    pub ide: ide::Ide,
    /// The VGA adapter (text mode).
    pub vga: vga::Vga,
    /// PCI configuration address register (0xCF8).
    pci_address: u32,
    /// Set when the guest asks to stop (checked between instructions).
    pub request: Option<MachineRequest>,
    /// Set by every port or MMIO access and every local APIC access (CR8,
    /// the APIC base MSR): the machine re-evaluates interrupt lines only
    /// after one of these or when a timer is due, not between every pair
    /// of instructions. Cleared by [`PcBus::update_interrupts`].
    pub touched: bool,
    /// COM1's interrupt line as last seen (IRQ 4 is raised on its rising edge).
    com1_line: bool,
    /// The ATA channel's interrupt line as last seen (IRQ 14).
    ide_line: bool,
}

impl Default for PcBus {
    fn default() -> Self {
        PcBus {
            now: 0,
            debug_console: Vec::new(),
            pic: pic::Pic::default(),
            pit: pit::Pit::default(),
            com1: uart::Uart::default(),
            i8042: i8042::I8042::default(),
            rtc: rtc::Rtc::default(),
            lapic: apic::LocalApic::new(),
            ioapic: ioapic::IoApic::new(layout::IO_APIC_ID),
            ide: ide::Ide::default(),
            vga: vga::Vga::new(),
            pci_address: 0,
            request: None,
            touched: true,
            com1_line: false,
            ide_line: false,
        }
    }
}

impl PcBus {
    /// Propagates device interrupt lines to the PIC and the I/O APIC and
    /// fires due timers.
    pub fn update_interrupts(&mut self) {
        self.touched = false;
        if self.pit.irq0_due(self.now) {
            self.pic.pulse(irq::PIT);
            self.ioapic
                .pulse(irq::PIT_IO_APIC_PIN as usize, &mut self.lapic);
        }
        let line = self.com1.irq_line();
        if line != self.com1_line {
            self.com1_line = line;
            self.set_isa_irq(irq::COM1, line);
        }
        let line = self.ide.irq_line();
        if line != self.ide_line {
            self.ide_line = line;
            self.set_isa_irq(irq::ATA_PRIMARY, line);
        }
        self.lapic.update_timer(self.now);
        if !self.lapic.eoi_broadcasts.is_empty() {
            for vector in core::mem::take(&mut self.lapic.eoi_broadcasts) {
                self.ioapic.end_of_interrupt(vector, &mut self.lapic);
            }
        }
    }

    /// Drives ISA interrupt line `line` on the 8259s and on the I/O APIC
    /// pin of the same number.
    fn set_isa_irq(&mut self, line: u8, high: bool) {
        self.pic.set_irq(line, high);
        self.ioapic.set_pin(line as usize, high, &mut self.lapic);
    }

    /// True if an interrupt would be delivered to a CPU with IF set: a
    /// vector the local APIC accepted, or the 8259's through LINT0.
    pub fn interrupt_pending(&mut self) -> bool {
        self.lapic.has_pending() || (self.lapic.passes_extint() && self.pic.has_pending())
    }

    /// The INTA cycle: the vector to deliver, the local APIC's first.
    pub fn acknowledge_interrupt(&mut self) -> Option<u8> {
        if let Some(vector) = self.lapic.acknowledge() {
            return Some(vector);
        }
        if self.lapic.passes_extint() {
            return self.pic.acknowledge();
        }
        None
    }

    /// Virtual time when a timer next changes an interrupt line (PIT or
    /// APIC timer, even one whose APIC is disabled): until then, and
    /// without bus accesses, the lines stay as they are.
    pub fn next_timer_event(&self) -> Option<u64> {
        match (self.pit.next_deadline(), self.lapic.timer_next_fire()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Virtual time of the next timer interrupt (PIT or APIC timer), for
    /// HLT to skip ahead to.
    pub fn next_deadline(&self) -> Option<u64> {
        match (self.pit.next_deadline(), self.lapic.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn read_byte(&mut self, p: u16) -> u8 {
        match p {
            0x20 | 0x21 | 0xa0 | 0xa1 => self.pic.read(p),
            0x40..=0x43 | port::SYSTEM_CONTROL_B => self.pit.read(p, self.now),
            port::RTC_INDEX | port::RTC_DATA => self.rtc.read(p, self.now),
            port::I8042_DATA => self.i8042.read_data(),
            port::I8042_COMMAND => self.i8042.read_status(),
            port::SYSTEM_CONTROL_A => self.i8042.read_control_a(),
            port::COM1..=0x3ff => self.com1.read(p - port::COM1),
            port::ATA_PRIMARY_CONTROL => self.ide.read_alternate_status(),
            p if vga::Vga::claims(p) => self.vga.read(p, self.now),
            // Bochs/QEMU: reading the debug console port returns 0xE9.
            port::DEBUG_CONSOLE => 0xe9,
            _ => 0xff,
        }
    }

    fn write_byte(&mut self, p: u16, v: u8) {
        match p {
            0x20 | 0x21 | 0xa0 | 0xa1 => self.pic.write(p, v),
            0x40..=0x43 | port::SYSTEM_CONTROL_B => self.pit.write(p, v, self.now),
            port::RTC_INDEX | port::RTC_DATA => self.rtc.write(p, v),
            port::I8042_DATA => self.i8042.write_data(v),
            port::I8042_COMMAND => self.i8042.write_command(v),
            port::SYSTEM_CONTROL_A => self.i8042.write_control_a(v),
            port::COM1..=0x3ff => self.com1.write(p - port::COM1, v),
            port::ATA_PRIMARY_CONTROL => self.ide.write_control(v),
            p if vga::Vga::claims(p) => self.vga.write(p, v),
            port::DEBUG_CONSOLE => self.debug_console.push(v),
            // POST codes and I/O delays: sinks.
            port::POST_CODE | port::DELAY => {}
            _ => {}
        }
        if self.i8042.reset_requested {
            self.i8042.reset_requested = false;
            self.request.get_or_insert(MachineRequest::Reset);
        }
    }
}

impl Bus for PcBus {
    #[inline]
    fn set_clock(&mut self, now: u64) {
        self.now = now;
    }

    #[inline]
    fn wants_attention(&self) -> bool {
        self.touched
    }

    fn port_read(&mut self, p: u16, size: u8) -> u32 {
        self.touched = true;
        if p == port::PCI_CONFIG_ADDRESS && size == 4 {
            return self.pci_address;
        }
        if (port::PCI_CONFIG_DATA..port::PCI_CONFIG_DATA + 4).contains(&p) {
            // No device answers on any bus/device/function.
            return open_bus_value(size) as u32;
        }
        // The ATA data port moves 16 (or 32) bits per access.
        if let Some(offset) = ata_offset(p) {
            return self.ide.read(offset, size);
        }
        // Wider accesses to byte-wide devices read consecutive ports.
        let mut v = 0u32;
        for i in 0..size as u16 {
            v |= (self.read_byte(p.wrapping_add(i)) as u32) << (8 * i);
        }
        v
    }

    fn port_write(&mut self, p: u16, size: u8, value: u32) {
        self.touched = true;
        if p == port::PCI_CONFIG_ADDRESS && size == 4 {
            self.pci_address = value & 0x8fff_fffc;
            return;
        }
        if (port::PCI_CONFIG_DATA..port::PCI_CONFIG_DATA + 4).contains(&p) {
            return;
        }
        if p == port::DEBUG_EXIT {
            self.request.get_or_insert(MachineRequest::DebugExit(value));
            return;
        }
        if let Some(offset) = ata_offset(p) {
            self.ide.write(offset, size, value);
            return;
        }
        for i in 0..size as u16 {
            self.write_byte(p.wrapping_add(i), (value >> (8 * i)) as u8);
        }
    }

    fn mmio_read(&mut self, addr: u64, size: u8) -> u64 {
        self.touched = true;
        if vga::Vga::decodes(addr) {
            return self.vga.mmio_read(addr, size);
        }
        if self.lapic.decodes(addr) {
            return self.lapic.mmio_read(addr, size, self.now);
        }
        if let Some(offset) = io_apic_offset(addr) {
            return self.ioapic.mmio_read(offset, size);
        }
        open_bus_value(size)
    }

    fn mmio_write(&mut self, addr: u64, size: u8, value: u64) {
        self.touched = true;
        if vga::Vga::decodes(addr) {
            self.vga.mmio_write(addr, size, value);
        } else if self.lapic.decodes(addr) {
            self.lapic.mmio_write(addr, size, value, self.now);
        } else if let Some(offset) = io_apic_offset(addr) {
            self.ioapic.mmio_write(offset, size, value, &mut self.lapic);
        }
    }

    fn local_apic(&mut self) -> Option<&mut apic::LocalApic> {
        self.touched = true;
        Some(&mut self.lapic)
    }
}

/// Offset of port `p` in the ATA command block (0x1F0–0x1F7), if it is there.
fn ata_offset(p: u16) -> Option<u16> {
    let offset = p.wrapping_sub(port::ATA_PRIMARY);
    (offset < port::ATA_COMMAND_BLOCK_PORTS).then_some(offset)
}

/// Offset of `addr` in the I/O APIC's register window, if it is there.
fn io_apic_offset(addr: u64) -> Option<u64> {
    let offset = addr.wrapping_sub(layout::IO_APIC_BASE);
    (offset < ioapic::window::SIZE).then_some(offset)
}

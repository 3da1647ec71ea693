//! The PC's devices, each a small module, and `PcBus`, which routes port
//! I/O and MMIO to them. Unclaimed ports and addresses read as all ones.

pub mod bus;
pub mod i8042;
pub mod pic;
pub mod pit;
pub mod rtc;
pub mod uart;

use alloc::vec::Vec;

use crate::boot::layout::port;
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
#[derive(Debug, Default)]
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
    /// PCI configuration address register (0xCF8).
    pci_address: u32,
    /// Set when the guest asks to stop (checked between instructions).
    pub request: Option<MachineRequest>,
    /// COM1's interrupt line as last seen (IRQ 4 is raised on its rising edge).
    com1_line: bool,
}

impl PcBus {
    /// Propagates device interrupt lines to the PIC and fires due timers.
    pub fn update_interrupts(&mut self) {
        if self.pit.irq0_due(self.now) {
            self.pic.pulse(crate::boot::layout::irq::PIT);
        }
        let line = self.com1.irq_line();
        if line != self.com1_line {
            self.com1_line = line;
            self.pic.set_irq(crate::boot::layout::irq::COM1, line);
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
    fn port_read(&mut self, p: u16, size: u8) -> u32 {
        if p == port::PCI_CONFIG_ADDRESS && size == 4 {
            return self.pci_address;
        }
        if (port::PCI_CONFIG_DATA..port::PCI_CONFIG_DATA + 4).contains(&p) {
            // No device answers on any bus/device/function.
            return open_bus_value(size) as u32;
        }
        // Wider accesses to byte-wide devices read consecutive ports.
        let mut v = 0u32;
        for i in 0..size as u16 {
            v |= (self.read_byte(p.wrapping_add(i)) as u32) << (8 * i);
        }
        v
    }

    fn port_write(&mut self, p: u16, size: u8, value: u32) {
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
        for i in 0..size as u16 {
            self.write_byte(p.wrapping_add(i), (value >> (8 * i)) as u8);
        }
    }

    fn mmio_read(&mut self, _addr: u64, size: u8) -> u64 {
        open_bus_value(size)
    }

    fn mmio_write(&mut self, _addr: u64, _size: u8, _value: u64) {}
}

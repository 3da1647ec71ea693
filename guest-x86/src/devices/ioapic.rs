//! The I/O APIC (Intel 82093AA datasheet): 24 input pins, each with a
//! 64-bit redirection entry that turns a line into a message for the local
//! APIC. Registers are reached indirectly: IOREGSEL at the base selects,
//! IOWIN at base + 0x10 reads and writes. ISA interrupts arrive on the pin
//! of the same number except IRQ 0 (the PIT), which the MP table and the
//! MADT route to pin 2, as on PC chipsets.

use super::apic::{LocalApic, delivery};

/// Number of input pins (redirection entries).
pub const PINS: usize = 24;

/// Register window offsets from the base (82093AA §3.0).
pub mod window {
    /// I/O register select (which register IOWIN shows).
    pub const IOREGSEL: u64 = 0x00;
    /// I/O window: the selected register.
    pub const IOWIN: u64 = 0x10;
    /// Size of the MMIO window this device decodes.
    pub const SIZE: u64 = 0x20;
}

/// Indirect register indices (82093AA §3.2).
mod index {
    pub const ID: u32 = 0x00;
    pub const VERSION: u32 = 0x01;
    pub const ARBITRATION: u32 = 0x02;
    /// First redirection entry (two 32-bit registers each).
    pub const REDIRECTION: u32 = 0x10;
}

/// Version 0x11 with the highest redirection entry index in bits 23:16.
const VERSION: u32 = 0x11 | ((PINS as u32 - 1) << 16);

/// Redirection entry fields (82093AA §3.2.4).
mod entry {
    pub const VECTOR: u64 = 0xff;
    pub const DELIVERY_MODE_SHIFT: u32 = 8;
    pub const LOGICAL: u64 = 1 << 11;
    pub const ACTIVE_LOW: u64 = 1 << 13;
    pub const REMOTE_IRR: u64 = 1 << 14;
    pub const LEVEL: u64 = 1 << 15;
    pub const MASKED: u64 = 1 << 16;
    pub const DESTINATION_SHIFT: u32 = 56;
    /// Bits software may write (delivery status and remote IRR are read-only).
    pub const WRITABLE: u64 = 0xff00_0000_0001_afff;
}

/// The I/O APIC.
#[derive(Clone, Debug)]
pub struct IoApic {
    id: u32,
    select: u32,
    redirection: [u64; PINS],
    /// Input line levels.
    levels: u32,
}

impl IoApic {
    /// An I/O APIC with APIC ID `id`, every pin masked.
    pub fn new(id: u8) -> IoApic {
        IoApic {
            id: (id as u32) << 24,
            select: 0,
            redirection: [entry::MASKED; PINS],
            levels: 0,
        }
    }

    fn asserted(&self, pin: usize) -> bool {
        let high = self.levels & (1 << pin) != 0;
        high != (self.redirection[pin] & entry::ACTIVE_LOW != 0)
    }

    /// Sends pin `pin`'s message to the local APIC if its entry allows.
    fn deliver(&mut self, pin: usize, apic: &mut LocalApic) {
        let e = self.redirection[pin];
        if e & entry::MASKED != 0 {
            return;
        }
        let level = e & entry::LEVEL != 0;
        if level && e & entry::REMOTE_IRR != 0 {
            return; // the previous one is still in service
        }
        let destination = (e >> entry::DESTINATION_SHIFT) as u8;
        if !apic.is_destination(destination, e & entry::LOGICAL != 0) {
            return;
        }
        match ((e >> entry::DELIVERY_MODE_SHIFT) & 7) as u32 {
            delivery::FIXED | delivery::LOWEST_PRIORITY => {
                apic.accept((e & entry::VECTOR) as u8, level);
                if level {
                    self.redirection[pin] |= entry::REMOTE_IRR;
                }
            }
            // NMI, SMI, INIT and ExtINT through the I/O APIC are not
            // modelled (the 8259 reaches the CPU through LINT0).
            _ => {}
        }
    }

    /// Drives input `pin` high or low: an edge-triggered entry sends on the
    /// asserting edge, a level-triggered one while asserted.
    pub fn set_pin(&mut self, pin: usize, high: bool, apic: &mut LocalApic) {
        if pin >= PINS {
            return;
        }
        let was = self.asserted(pin);
        if high {
            self.levels |= 1 << pin;
        } else {
            self.levels &= !(1 << pin);
        }
        let now = self.asserted(pin);
        let level = self.redirection[pin] & entry::LEVEL != 0;
        if now && (!was || level) {
            self.deliver(pin, apic);
        }
    }

    /// Pulses `pin`: one edge from an edge-triggered source.
    pub fn pulse(&mut self, pin: usize, apic: &mut LocalApic) {
        self.set_pin(pin, true, apic);
        self.set_pin(pin, false, apic);
    }

    /// The local APIC's EOI for a level-triggered `vector`: Remote IRR
    /// clears and a still-asserted line sends again (82093AA §3.2.4).
    pub fn end_of_interrupt(&mut self, vector: u8, apic: &mut LocalApic) {
        for pin in 0..PINS {
            let e = self.redirection[pin];
            if e & entry::REMOTE_IRR != 0 && (e & entry::VECTOR) as u8 == vector {
                self.redirection[pin] &= !entry::REMOTE_IRR;
                if self.asserted(pin) {
                    self.deliver(pin, apic);
                }
            }
        }
    }

    fn read_register(&self) -> u32 {
        match self.select {
            index::ID | index::ARBITRATION => self.id,
            index::VERSION => VERSION,
            i if (index::REDIRECTION..index::REDIRECTION + 2 * PINS as u32).contains(&i) => {
                let e = self.redirection[((i - index::REDIRECTION) / 2) as usize];
                if i & 1 == 0 {
                    e as u32
                } else {
                    (e >> 32) as u32
                }
            }
            // Reserved registers read 0.
            _ => 0,
        }
    }

    fn write_register(&mut self, value: u32, apic: &mut LocalApic) {
        match self.select {
            index::ID => self.id = value & 0x0f00_0000,
            i if (index::REDIRECTION..index::REDIRECTION + 2 * PINS as u32).contains(&i) => {
                let pin = ((i - index::REDIRECTION) / 2) as usize;
                let old = self.redirection[pin];
                let merged = if i & 1 == 0 {
                    (old & !0xffff_ffff) | value as u64
                } else {
                    (old & 0xffff_ffff) | ((value as u64) << 32)
                };
                self.redirection[pin] = (merged & entry::WRITABLE) | (old & entry::REMOTE_IRR);
                // Unmasking a level-triggered entry whose line is asserted sends.
                let e = self.redirection[pin];
                if e & entry::LEVEL != 0 && e & entry::MASKED == 0 && self.asserted(pin) {
                    self.deliver(pin, apic);
                }
            }
            // Version, arbitration and reserved registers are read-only.
            _ => {}
        }
    }

    /// An MMIO read at `offset` from the base (any width; registers are 32 bits).
    pub fn mmio_read(&self, offset: u64, size: u8) -> u64 {
        let value = match offset & !3 {
            window::IOREGSEL => self.select,
            window::IOWIN => self.read_register(),
            _ => return 0,
        };
        (value as u64 >> ((offset & 3) * 8)) & crate::cpu::state::size_mask(size)
    }

    /// An MMIO write at `offset`: IOREGSEL takes its low byte at any width,
    /// IOWIN only whole aligned 32-bit writes (others are dropped).
    pub fn mmio_write(&mut self, offset: u64, size: u8, value: u64, apic: &mut LocalApic) {
        match offset {
            window::IOREGSEL => self.select = value as u32 & 0xff,
            window::IOWIN if size >= 4 => self.write_register(value as u32, apic),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::layout::LOCAL_APIC_BASE;
    use crate::devices::apic::reg;

    fn program(io: &mut IoApic, pin: u32, value: u64, apic: &mut LocalApic) {
        io.mmio_write(0, 4, (index::REDIRECTION + 2 * pin) as u64, apic);
        io.mmio_write(window::IOWIN, 4, value & 0xffff_ffff, apic);
        io.mmio_write(0, 4, (index::REDIRECTION + 2 * pin + 1) as u64, apic);
        io.mmio_write(window::IOWIN, 4, value >> 32, apic);
    }

    #[test]
    fn edge_and_level_pins_reach_the_local_apic() {
        let mut apic = LocalApic::new();
        apic.mmio_write(LOCAL_APIC_BASE + reg::SVR, 4, 0x1ff, 0);
        let mut io = IoApic::new(1);
        io.mmio_write(0, 1, index::VERSION as u64, &mut apic);
        assert_eq!(io.mmio_read(window::IOWIN, 4), 0x17_0011);
        // Pin 2, edge, vector 0x30, physical destination 0.
        program(&mut io, 2, 0x30, &mut apic);
        io.pulse(2, &mut apic);
        assert_eq!(apic.acknowledge(), Some(0x30));
        apic.mmio_write(LOCAL_APIC_BASE + reg::EOI, 4, 0, 0);
        // Pin 4, level: Remote IRR holds it until the EOI; the line still
        // high then sends again.
        program(&mut io, 4, 0x41 | entry::LEVEL, &mut apic);
        io.set_pin(4, true, &mut apic);
        assert_eq!(apic.acknowledge(), Some(0x41));
        io.set_pin(4, true, &mut apic);
        assert!(!apic.has_pending());
        apic.mmio_write(LOCAL_APIC_BASE + reg::EOI, 4, 0, 0);
        for v in core::mem::take(&mut apic.eoi_broadcasts) {
            io.end_of_interrupt(v, &mut apic);
        }
        assert_eq!(apic.acknowledge(), Some(0x41));
        // Masked pins and pins out of range send nothing.
        program(&mut io, 5, 0x50 | entry::MASKED, &mut apic);
        io.pulse(5, &mut apic);
        io.pulse(99, &mut apic);
        io.mmio_write(0, 4, 0xff, &mut apic);
        io.mmio_write(window::IOWIN, 2, 0xffff, &mut apic);
        assert_eq!(io.mmio_read(window::IOWIN, 4), 0);
        assert!(!apic.has_pending());
    }
}

//! The i8259A programmable interrupt controller pair (master on ports
//! 0x20/0x21, slave on 0xA0/0xA1 cascaded into master IRQ 2): ICW1–ICW4
//! initialisation, the mask register, IRR/ISR with fixed priority, OCW2
//! end-of-interrupt and OCW3 register reads. Edge-triggered inputs.

/// One 8259A.
#[derive(Clone, Debug)]
pub struct Chip {
    /// Interrupt request register.
    irr: u8,
    /// In-service register.
    isr: u8,
    /// Interrupt mask register (power-on: everything masked).
    imr: u8,
    /// Vector of IRQ 0 (ICW2).
    vector_base: u8,
    /// Input levels last seen, for edge detection.
    levels: u8,
    /// Next initialisation word expected (0 = initialised).
    init_step: u8,
    needs_icw4: bool,
    auto_eoi: bool,
    /// OCW3: reads of the command port return the ISR (else the IRR).
    read_isr: bool,
}

impl Default for Chip {
    fn default() -> Self {
        Chip {
            irr: 0,
            isr: 0,
            imr: 0xff,
            vector_base: 0,
            levels: 0,
            init_step: 0,
            needs_icw4: false,
            auto_eoi: false,
            read_isr: false,
        }
    }
}

impl Chip {
    fn set_level(&mut self, line: u8, high: bool) {
        let bit = 1 << line;
        if high && self.levels & bit == 0 {
            self.irr |= bit;
        }
        if high {
            self.levels |= bit;
        } else {
            self.levels &= !bit;
        }
    }

    /// Highest-priority unmasked request above everything in service.
    fn pending_line(&self) -> Option<u8> {
        let requests = self.irr & !self.imr;
        for line in 0..8 {
            if self.isr & (1 << line) != 0 {
                return None;
            }
            if requests & (1 << line) != 0 {
                return Some(line);
            }
        }
        None
    }

    fn acknowledge(&mut self, line: u8) -> u8 {
        self.irr &= !(1 << line);
        if !self.auto_eoi {
            self.isr |= 1 << line;
        }
        self.vector_base | line
    }

    fn write_command(&mut self, value: u8) {
        if value & 0x10 != 0 {
            // ICW1: restart initialisation.
            self.init_step = 2;
            self.needs_icw4 = value & 1 != 0;
            self.imr = 0;
            self.isr = 0;
            self.irr = 0;
            self.read_isr = false;
        } else if value & 0x08 != 0 {
            // OCW3: register select for reads.
            if value & 2 != 0 {
                self.read_isr = value & 1 != 0;
            }
        } else {
            // OCW2: non-specific (0x20) or specific (0x60 | line) EOI.
            match value >> 5 {
                1 => {
                    if let Some(line) = (0..8).find(|l| self.isr & (1 << l) != 0) {
                        self.isr &= !(1 << line);
                    }
                }
                3 => self.isr &= !(1 << (value & 7)),
                _ => {}
            }
        }
    }

    fn write_data(&mut self, value: u8) {
        match self.init_step {
            2 => {
                self.vector_base = value & 0xf8;
                self.init_step = 3;
            }
            3 => self.init_step = if self.needs_icw4 { 4 } else { 0 },
            4 => {
                self.auto_eoi = value & 2 != 0;
                self.init_step = 0;
            }
            _ => self.imr = value,
        }
    }

    fn read_command(&self) -> u8 {
        if self.read_isr { self.isr } else { self.irr }
    }
}

/// Master and slave.
#[derive(Clone, Debug, Default)]
pub struct Pic {
    /// Master (IRQ 0–7).
    pub master: Chip,
    /// Slave (IRQ 8–15).
    pub slave: Chip,
}

impl Pic {
    /// Drives input `irq` (0–15) high or low; a rising edge requests it.
    pub fn set_irq(&mut self, irq: u8, high: bool) {
        if irq < 8 {
            self.master.set_level(irq, high);
        } else {
            self.slave.set_level(irq & 7, high);
        }
    }

    /// Pulses `irq`: a request from an edge-triggered source.
    pub fn pulse(&mut self, irq: u8) {
        self.set_irq(irq, false);
        self.set_irq(irq, true);
        self.set_irq(irq, false);
    }

    fn cascade_level(&mut self) {
        let slave_wants = self.slave.pending_line().is_some();
        self.master
            .set_level(crate::boot::layout::irq::CASCADE, slave_wants);
    }

    /// True if an interrupt would be delivered to a CPU with IF set.
    pub fn has_pending(&mut self) -> bool {
        self.cascade_level();
        self.master.pending_line().is_some()
    }

    /// The INTA cycle: the vector of the highest-priority request.
    pub fn acknowledge(&mut self) -> Option<u8> {
        self.cascade_level();
        let line = self.master.pending_line()?;
        if line == crate::boot::layout::irq::CASCADE {
            let vector = self.slave.pending_line().map(|l| self.slave.acknowledge(l));
            self.master.acknowledge(line);
            // The slave's request is consumed; the cascade input drops.
            self.master.levels &= !(1 << line);
            return vector;
        }
        Some(self.master.acknowledge(line))
    }

    /// Port read (0x20/0x21/0xA0/0xA1).
    pub fn read(&mut self, port: u16) -> u8 {
        let chip = if port & 0x80 != 0 {
            &self.slave
        } else {
            &self.master
        };
        if port & 1 == 0 {
            chip.read_command()
        } else {
            chip.imr
        }
    }

    /// Port write.
    pub fn write(&mut self, port: u16, value: u8) {
        let chip = if port & 0x80 != 0 {
            &mut self.slave
        } else {
            &mut self.master
        };
        if port & 1 == 0 {
            chip.write_command(value);
        } else {
            chip.write_data(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialise_mask_acknowledge_and_eoi() {
        let mut pic = Pic::default();
        for (port, v) in [(0x20, 0x11), (0x21, 0x20), (0x21, 4), (0x21, 1)] {
            pic.write(port, v);
        }
        for (port, v) in [(0xa0, 0x11), (0xa1, 0x28), (0xa1, 2), (0xa1, 1)] {
            pic.write(port, v);
        }
        pic.write(0x21, 0xfe); // only IRQ 0
        pic.pulse(1);
        assert!(!pic.has_pending());
        pic.pulse(0);
        assert_eq!(pic.acknowledge(), Some(0x20));
        pic.pulse(0);
        assert!(!pic.has_pending(), "IRQ 0 in service blocks itself");
        pic.write(0x20, 0x20);
        assert_eq!(pic.acknowledge(), Some(0x20));
        // A slave line through the cascade.
        pic.write(0x20, 0x20);
        pic.write(0x21, 0xfb);
        pic.write(0xa1, 0xfe);
        pic.pulse(8);
        assert_eq!(pic.acknowledge(), Some(0x28));
    }
}

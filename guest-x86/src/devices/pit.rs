//! The i8254 programmable interval timer: three 16-bit counters at
//! 1.193182 MHz on ports 0x40–0x43, channel 0 driving IRQ 0 and channel 2
//! gated by port 0x61 (how Linux calibrates the TSC). Time comes from the
//! PC's virtual clock in nanoseconds.

/// Input clock of the counters.
pub const PIT_HZ: u64 = 1_193_182;

/// Nanoseconds to PIT ticks.
fn ticks(ns: u64) -> u64 {
    ((ns as u128 * PIT_HZ as u128) / 1_000_000_000) as u64
}

/// PIT ticks to nanoseconds (rounded up so a deadline is never early).
fn nanos(ticks: u64) -> u64 {
    ((ticks as u128 * 1_000_000_000).div_ceil(PIT_HZ as u128)) as u64
}

#[derive(Clone, Debug, Default)]
struct Channel {
    /// Operating mode 0–5 (6/7 alias 2/3).
    mode: u8,
    /// Read/write access: 1 LSB, 2 MSB, 3 LSB then MSB.
    access: u8,
    /// Reload value (0 means 65536).
    reload: u32,
    /// Virtual time the count was (re)started.
    start: u64,
    /// A reload is written and counting.
    armed: bool,
    /// The next write is the MSB (access mode 3).
    write_msb: bool,
    /// The next read is the MSB (access mode 3).
    read_msb: bool,
    /// Latched count, if a latch command was given.
    latch: Option<u16>,
    /// LSB written so far in access mode 3.
    pending_lsb: u8,
    /// Gate input (channels 0 and 1 are always gated on).
    gate: bool,
}

impl Channel {
    fn period(&self) -> u64 {
        if self.reload == 0 {
            65536
        } else {
            self.reload as u64
        }
    }

    fn elapsed(&self, now: u64) -> u64 {
        ticks(now.saturating_sub(self.start))
    }

    fn count(&self, now: u64) -> u16 {
        if !self.armed || !self.gate {
            return self.reload as u16;
        }
        let e = self.elapsed(now);
        match self.mode {
            2 | 3 => (self.period() - e % self.period()) as u16,
            _ => (self.period().wrapping_sub(e)) as u16,
        }
    }

    /// OUT pin: mode 0 goes high at terminal count; periodic modes are
    /// high for the first half of the period (mode 3's square wave).
    fn output(&self, now: u64) -> bool {
        if !self.armed {
            return true;
        }
        let e = self.elapsed(now);
        match self.mode {
            0 | 1 => e >= self.period(),
            _ => e % self.period() < self.period() / 2,
        }
    }
}

/// The three channels and the port 0x61 speaker/gate bits.
#[derive(Clone, Debug)]
pub struct Pit {
    channels: [Channel; 3],
    /// Port 0x61 bits 0 (channel 2 gate) and 1 (speaker data).
    control_b: u8,
    /// Next virtual time channel 0 raises IRQ 0, if it will.
    next_irq0: Option<u64>,
}

impl Default for Pit {
    fn default() -> Self {
        let mut channels: [Channel; 3] = Default::default();
        channels[0].gate = true;
        channels[1].gate = true;
        Pit {
            channels,
            control_b: 0,
            next_irq0: None,
        }
    }
}

impl Pit {
    /// The virtual time of the next IRQ 0, for HLT to skip ahead to.
    pub fn next_deadline(&self) -> Option<u64> {
        self.next_irq0
    }

    /// True (once per period) when IRQ 0 is due at `now`.
    pub fn irq0_due(&mut self, now: u64) -> bool {
        match self.next_irq0 {
            Some(t) if now >= t => {
                let c = &self.channels[0];
                self.next_irq0 = match c.mode {
                    2 | 3 => {
                        // Coalesce missed periods: the next edge after `now`.
                        let period_ns = nanos(c.period()).max(1);
                        let behind = (now - t) / period_ns + 1;
                        Some(t + behind * period_ns)
                    }
                    _ => None,
                };
                true
            }
            _ => false,
        }
    }

    fn rearm_irq0(&mut self) {
        let c = &self.channels[0];
        self.next_irq0 = c.armed.then(|| c.start + nanos(c.period()));
    }

    /// Port read: 0x40–0x42 counters, 0x61 control B.
    pub fn read(&mut self, port: u16, now: u64) -> u8 {
        if port == crate::boot::layout::port::SYSTEM_CONTROL_B {
            let out2 = self.channels[2].output(now);
            // Bit 4 toggles with the DRAM refresh (every 15.085 µs).
            let refresh = (now / 15_085) & 1 == 1;
            return self.control_b | (u8::from(refresh) << 4) | (u8::from(out2) << 5);
        }
        let Some(c) = self.channels.get_mut((port & 3) as usize) else {
            return 0xff;
        };
        let value = c.latch.unwrap_or_else(|| c.count(now));
        let byte = match c.access {
            1 => value as u8,
            2 => (value >> 8) as u8,
            _ => {
                let msb = c.read_msb;
                c.read_msb = !msb;
                if msb { (value >> 8) as u8 } else { value as u8 }
            }
        };
        if c.access != 3 || !c.read_msb {
            c.latch = None;
        }
        byte
    }

    /// Port write: counters, the mode/command register 0x43, control B.
    pub fn write(&mut self, port: u16, value: u8, now: u64) {
        if port == crate::boot::layout::port::SYSTEM_CONTROL_B {
            let gate_rises = value & 1 != 0 && self.control_b & 1 == 0;
            self.control_b = value & 3;
            let c = &mut self.channels[2];
            c.gate = value & 1 != 0;
            if gate_rises {
                c.start = now;
            }
            return;
        }
        if port & 3 == 3 {
            let index = (value >> 6) as usize;
            let Some(c) = self.channels.get_mut(index) else {
                return; // read-back command: not implemented
            };
            let access = (value >> 4) & 3;
            if access == 0 {
                c.latch = Some(c.count(now));
                c.read_msb = false;
                return;
            }
            c.access = access;
            c.mode = match (value >> 1) & 7 {
                6 => 2,
                7 => 3,
                m => m,
            };
            c.armed = false;
            c.write_msb = false;
            c.read_msb = false;
            if index == 0 {
                self.next_irq0 = None;
            }
            return;
        }
        let index = (port & 3) as usize;
        let c = &mut self.channels[index];
        let complete = match c.access {
            1 => {
                c.reload = value as u32;
                true
            }
            2 => {
                c.reload = (value as u32) << 8;
                true
            }
            _ => {
                if c.write_msb {
                    c.reload = c.pending_lsb as u32 | ((value as u32) << 8);
                } else {
                    c.pending_lsb = value;
                }
                c.write_msb = !c.write_msb;
                !c.write_msb
            }
        };
        if complete {
            c.armed = true;
            c.start = now;
            if index == 0 {
                self.rearm_irq0();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_channel_0_and_gated_channel_2() {
        let mut pit = Pit::default();
        pit.write(0x43, 0x34, 0); // ch0, LSB+MSB, mode 2
        pit.write(0x40, 0x9c, 0);
        pit.write(0x40, 0x2e, 0); // 11932 ticks ≈ 10 ms
        let t = pit.next_deadline().unwrap();
        assert!((9_999_000..=10_001_000).contains(&t));
        assert!(!pit.irq0_due(t - 1) && pit.irq0_due(t));
        assert!(pit.next_deadline().unwrap() > t);
        // Channel 2, mode 0, counted only once the gate is up.
        pit.write(0x43, 0xb0, 0);
        pit.write(0x42, 0xff, 0);
        pit.write(0x42, 0xff, 0);
        pit.write(0x61, 1, 0);
        assert_eq!(pit.read(0x61, 1000) & 0x20, 0);
        pit.write(0x43, 0x80, 1_000_000); // latch ch2
        let low = pit.read(0x42, 1_000_000) as u16;
        let high = pit.read(0x42, 1_000_000) as u16;
        assert_eq!(0xffff - (low | high << 8), 1193);
        assert_ne!(pit.read(0x61, 60_000_000) & 0x20, 0);
    }
}

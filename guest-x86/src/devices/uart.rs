//! A 16550A UART (COM1 at 0x3F8, IRQ 4): the console. Transmitted bytes go
//! to an output buffer the host drains; received bytes come from a queue
//! the host fills. Divisor latch, FIFO control, modem loopback (the Linux
//! 8250 driver's probe), scratch register, and the RX-data and THR-empty
//! interrupts.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

const IER_RX: u8 = 1 << 0;
const IER_THRE: u8 = 1 << 1;
const LCR_DLAB: u8 = 1 << 7;
const MCR_LOOPBACK: u8 = 1 << 4;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;
const LSR_TX_EMPTY: u8 = 1 << 6;
const IIR_NONE: u8 = 1;
const IIR_THRE: u8 = 2;
const IIR_RX: u8 = 4;
const IIR_FIFO: u8 = 0xc0;

/// The UART.
#[derive(Clone, Debug, Default)]
pub struct Uart {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scratch: u8,
    divisor: u16,
    fifo_enabled: bool,
    /// THR-empty interrupt condition, cleared by reading IIR or writing THR.
    thre_pending: bool,
    rx: VecDeque<u8>,
    /// Bytes the guest transmitted, for the host to print.
    pub output: Vec<u8>,
}

impl Uart {
    /// Host input for the guest.
    pub fn receive(&mut self, bytes: &[u8]) {
        self.rx.extend(bytes);
    }

    /// The interrupt line (level).
    pub fn irq_line(&self) -> bool {
        self.interrupt_id() != IIR_NONE
    }

    fn interrupt_id(&self) -> u8 {
        if self.ier & IER_RX != 0 && !self.rx.is_empty() {
            IIR_RX
        } else if self.ier & IER_THRE != 0 && self.thre_pending {
            IIR_THRE
        } else {
            IIR_NONE
        }
    }

    /// Register read at offset 0–7.
    pub fn read(&mut self, offset: u16) -> u8 {
        match offset {
            0 if self.lcr & LCR_DLAB != 0 => self.divisor as u8,
            0 => self.rx.pop_front().unwrap_or(0),
            1 if self.lcr & LCR_DLAB != 0 => (self.divisor >> 8) as u8,
            1 => self.ier,
            2 => {
                let id = self.interrupt_id();
                if id == IIR_THRE {
                    self.thre_pending = false;
                }
                id | if self.fifo_enabled { IIR_FIFO } else { 0 }
            }
            3 => self.lcr,
            4 => self.mcr,
            5 => {
                let ready = if self.rx.is_empty() {
                    0
                } else {
                    LSR_DATA_READY
                };
                LSR_THR_EMPTY | LSR_TX_EMPTY | ready
            }
            6 => {
                if self.mcr & MCR_LOOPBACK != 0 {
                    // Loopback: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD.
                    let m = self.mcr;
                    ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)
                } else {
                    0xb0 // DCD, DSR, CTS: a terminal is attached
                }
            }
            _ => self.scratch,
        }
    }

    /// Register write at offset 0–7.
    pub fn write(&mut self, offset: u16, value: u8) {
        match offset {
            0 if self.lcr & LCR_DLAB != 0 => self.divisor = (self.divisor & 0xff00) | value as u16,
            0 => {
                if self.mcr & MCR_LOOPBACK != 0 {
                    self.rx.push_back(value);
                } else {
                    self.output.push(value);
                }
                // Transmission is instantaneous: THR is empty again.
                self.thre_pending = true;
            }
            1 if self.lcr & LCR_DLAB != 0 => {
                self.divisor = (self.divisor & 0xff) | ((value as u16) << 8)
            }
            1 => {
                if value & IER_THRE != 0 && self.ier & IER_THRE == 0 {
                    self.thre_pending = true;
                }
                self.ier = value & 0x0f;
            }
            2 => {
                self.fifo_enabled = value & 1 != 0;
                if value & 2 != 0 {
                    self.rx.clear();
                }
            }
            3 => self.lcr = value,
            4 => self.mcr = value & 0x1f,
            7 => self.scratch = value,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transmit_loopback_and_probe_registers() {
        let mut u = Uart::default();
        u.write(7, 0xa5);
        assert_eq!(u.read(7), 0xa5);
        u.write(0, b'x');
        assert_eq!(u.output, b"x");
        u.write(4, 0x1a); // loopback with RTS and OUT2
        assert_eq!(u.read(6) & 0xf0, 0x90);
        u.write(0, b'y');
        assert_eq!(u.read(5) & LSR_DATA_READY, 1);
        u.write(1, IER_RX);
        assert!(u.irq_line());
        assert_eq!(u.read(0), b'y');
        assert!(!u.irq_line());
        u.write(2, 1);
        assert_eq!(u.read(2), IIR_FIFO | IIR_NONE);
    }
}

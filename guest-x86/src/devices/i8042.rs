//! The i8042 keyboard controller (ports 0x60/0x64) and system control
//! port A (0x92): enough for a kernel to probe them and to reset the
//! machine (command 0xFE, or port 0x92 bit 0). No keyboard is attached.

use alloc::collections::VecDeque;

/// Status: output buffer full.
const STATUS_OUTPUT_FULL: u8 = 1 << 0;
/// Status: system flag (self-test passed).
const STATUS_SYSTEM: u8 = 1 << 2;

/// The controller and port 0x92.
#[derive(Clone, Debug, Default)]
pub struct I8042 {
    command_byte: u8,
    /// The next data-port write is the command byte (after command 0x60).
    writing_command_byte: bool,
    output: VecDeque<u8>,
    /// Port 0x92 value (bit 1: A20, reported as enabled).
    control_a: u8,
    /// The guest asked for a reset.
    pub reset_requested: bool,
}

impl I8042 {
    /// Data port 0x60 read.
    pub fn read_data(&mut self) -> u8 {
        self.output.pop_front().unwrap_or(0)
    }

    /// Status port 0x64 read.
    pub fn read_status(&self) -> u8 {
        STATUS_SYSTEM
            | if self.output.is_empty() {
                0
            } else {
                STATUS_OUTPUT_FULL
            }
    }

    /// Data port 0x60 write.
    pub fn write_data(&mut self, value: u8) {
        if core::mem::take(&mut self.writing_command_byte) {
            self.command_byte = value;
        }
    }

    /// Command port 0x64 write.
    pub fn write_command(&mut self, value: u8) {
        match value {
            0x20 => self.output.push_back(self.command_byte),
            0x60 => self.writing_command_byte = true,
            0xaa => self.output.push_back(0x55), // controller self-test passed
            0xab => self.output.push_back(0x00), // keyboard interface test passed
            0xfe => self.reset_requested = true,
            _ => {}
        }
    }

    /// Port 0x92 read: A20 always on.
    pub fn read_control_a(&self) -> u8 {
        self.control_a | 2
    }

    /// Port 0x92 write: bit 0 resets the machine.
    pub fn write_control_a(&mut self, value: u8) {
        if value & 1 != 0 {
            self.reset_requested = true;
        }
        self.control_a = value & !1;
    }
}

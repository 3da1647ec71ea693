//! The i8042 keyboard controller (ports 0x60/0x64) and system control
//! port A (0x92): enough for a kernel to probe them and to reset the
//! machine (command 0xFE, or port 0x92 bit 0). No keyboard is attached.

use alloc::collections::VecDeque;

/// Status: output buffer full.
const STATUS_OUTPUT_FULL: u8 = 1 << 0;
/// Status: system flag (self-test passed).
const STATUS_SYSTEM: u8 = 1 << 2;
/// Status: keyboard not inhibited (the keylock switch is open).
const STATUS_NOT_INHIBITED: u8 = 1 << 4;
/// Status: the byte in the output buffer came from the auxiliary port.
const STATUS_AUX_DATA: u8 = 1 << 5;
/// Command: the next data byte comes back as if the auxiliary device had
/// sent it (Linux's I8042_CMD_AUX_LOOP probe; without an answer the kernel
/// busy-waits 0.5 s of guest time twice before giving up on the port).
const COMMAND_WRITE_AUX_OUTPUT: u8 = 0xd3;

/// The controller and port 0x92.
#[derive(Clone, Debug, Default)]
pub struct I8042 {
    command_byte: u8,
    /// The next data-port write is the command byte (after command 0x60).
    writing_command_byte: bool,
    /// The next data-port write is echoed as auxiliary data (after 0xD3).
    echoing_aux: bool,
    /// Bytes for the data port, each marked true when from the aux port.
    output: VecDeque<(u8, bool)>,
    /// Port 0x92 value (bit 1: A20, reported as enabled).
    control_a: u8,
    /// The guest asked for a reset.
    pub reset_requested: bool,
}

impl I8042 {
    /// Data port 0x60 read.
    pub fn read_data(&mut self) -> u8 {
        self.output.pop_front().map_or(0, |(byte, _)| byte)
    }

    /// Status port 0x64 read.
    pub fn read_status(&self) -> u8 {
        STATUS_SYSTEM
            | STATUS_NOT_INHIBITED
            | match self.output.front() {
                None => 0,
                Some((_, false)) => STATUS_OUTPUT_FULL,
                Some((_, true)) => STATUS_OUTPUT_FULL | STATUS_AUX_DATA,
            }
    }

    /// Data port 0x60 write.
    pub fn write_data(&mut self, value: u8) {
        if core::mem::take(&mut self.writing_command_byte) {
            self.command_byte = value;
        } else if core::mem::take(&mut self.echoing_aux) {
            self.output.push_back((value, true));
        }
    }

    /// Command port 0x64 write.
    pub fn write_command(&mut self, value: u8) {
        match value {
            0x20 => self.output.push_back((self.command_byte, false)),
            0x60 => self.writing_command_byte = true,
            0xaa => self.output.push_back((0x55, false)), // controller self-test passed
            0xab => self.output.push_back((0x00, false)), // keyboard interface test passed
            COMMAND_WRITE_AUX_OUTPUT => self.echoing_aux = true,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_loopback_echoes_the_byte_as_aux_data() {
        let mut c = I8042::default();
        assert_eq!(c.read_status() & STATUS_NOT_INHIBITED, STATUS_NOT_INHIBITED);
        c.write_command(COMMAND_WRITE_AUX_OUTPUT);
        c.write_data(0x5a);
        assert_eq!(
            c.read_status() & (STATUS_OUTPUT_FULL | STATUS_AUX_DATA),
            STATUS_OUTPUT_FULL | STATUS_AUX_DATA
        );
        assert_eq!(c.read_data(), 0x5a);
        assert_eq!(c.read_status() & STATUS_OUTPUT_FULL, 0);
        c.write_command(0x20);
        assert_eq!(c.read_status() & STATUS_AUX_DATA, 0);
    }
}

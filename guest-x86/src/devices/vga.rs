//! VGA in text mode, as a BIOS leaves mode 3 (80×25, 16 colours): the
//! 128 KiB memory window 0xA0000–0xBFFFF (the text page at 0xB8000, two
//! bytes a cell: character, attribute), the CRT controller at 0x3D4/0x3D5
//! (cursor shape and location, display start), the attribute controller
//! at 0x3C0/0x3C1 with its index/data flip-flop reset by reading input
//! status 1 (0x3DA), the sequencer (0x3C4/0x3C5), the graphics controller
//! (0x3CE/0x3CF), miscellaneous output (0x3C2 write, 0x3CC read) and the
//! DAC palette (0x3C7–0x3C9). Registers hold what is written; only text
//! mode is rendered (`screen_text`). IBM VGA Technical Reference, ch. 4.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::boot::layout::{self, port};

/// Columns and rows of mode 3.
pub const COLUMNS: usize = 80;
/// Rows of mode 3.
pub const ROWS: usize = 25;
/// Offset of the colour text page in the window (0xB8000).
const TEXT_OFFSET: usize = (layout::VGA_TEXT_BUFFER - layout::VGA_WINDOW_START) as usize;

/// CRTC register indices (IBM VGA ref. "CRT Controller Registers").
mod crtc {
    pub const CURSOR_START: usize = 0x0a;
    pub const CURSOR_END: usize = 0x0b;
    pub const START_HIGH: usize = 0x0c;
    pub const START_LOW: usize = 0x0d;
    pub const CURSOR_HIGH: usize = 0x0e;
    pub const CURSOR_LOW: usize = 0x0f;
    /// Registers 0x00–0x18.
    pub const COUNT: usize = 0x19;
    /// Mode 3's CRTC values, as a BIOS programs them.
    pub const MODE3: [u8; COUNT] = [
        0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00,
        0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
    ];
}

/// Attribute controller registers 0x00–0x14 (palette, mode, overscan,
/// plane enable, panning, colour select) and mode 3's values.
const ATTRIBUTE_COUNT: usize = 0x15;
const ATTRIBUTE_MODE3: [u8; ATTRIBUTE_COUNT] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
    0x0c, 0x00, 0x0f, 0x08, 0x00,
];
/// Sequencer registers 0–4 and graphics controller registers 0–8 in mode 3.
const SEQUENCER_MODE3: [u8; 5] = [0x03, 0x00, 0x03, 0x00, 0x02];
const GRAPHICS_MODE3: [u8; 9] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];
/// Miscellaneous output in mode 3: colour I/O at 0x3Dx, RAM enabled,
/// 25 MHz clock, sync polarities for 400 lines.
const MISC_OUTPUT_MODE3: u8 = 0x67;
/// Input status 1: display disabled (bit 0) and vertical retrace (bit 3),
/// both toggling on the virtual clock (a 70 Hz frame).
const STATUS_DISPLAY_DISABLED: u8 = 1 << 0;
const STATUS_VERTICAL_RETRACE: u8 = 1 << 3;
const FRAME_NS: u64 = 1_000_000_000 / 70;
/// Part of a frame spent in vertical retrace (about 1/28).
const RETRACE_NS: u64 = FRAME_NS / 28;
/// Attribute index register: bits 4:0 select, bit 5 is the palette
/// address source (display enabled), kept as written.
const ATTRIBUTE_INDEX_BITS: u8 = 0x3f;
const ATTRIBUTE_SELECT: u8 = 0x1f;
/// DAC: 256 entries of red, green, blue.
const DAC_ENTRIES: usize = 256;

/// The VGA adapter.
#[derive(Clone, Debug)]
pub struct Vga {
    memory: Vec<u8>,
    crtc_index: u8,
    crtc: [u8; crtc::COUNT],
    attribute_index: u8,
    /// The attribute port's next write is data (not an index).
    attribute_data_next: bool,
    attribute: [u8; ATTRIBUTE_COUNT],
    sequencer_index: u8,
    sequencer: [u8; 5],
    graphics_index: u8,
    graphics: [u8; 9],
    misc_output: u8,
    dac_write_index: u8,
    dac_read_index: u8,
    /// Which of red, green, blue the next DAC data access is.
    dac_component: usize,
    dac: Vec<[u8; 3]>,
}

impl Default for Vga {
    fn default() -> Self {
        Vga::new()
    }
}

impl Vga {
    /// The adapter in mode 3 with a blank page (spaces, light grey on black).
    pub fn new() -> Vga {
        let mut memory = vec![0u8; (layout::VGA_WINDOW_END - layout::VGA_WINDOW_START) as usize];
        for cell in memory[TEXT_OFFSET..TEXT_OFFSET + COLUMNS * ROWS * 2].chunks_exact_mut(2) {
            cell.copy_from_slice(&[b' ', 0x07]);
        }
        Vga {
            memory,
            crtc_index: 0,
            crtc: crtc::MODE3,
            attribute_index: 0,
            attribute_data_next: false,
            attribute: ATTRIBUTE_MODE3,
            sequencer_index: 0,
            sequencer: SEQUENCER_MODE3,
            graphics_index: 0,
            graphics: GRAPHICS_MODE3,
            misc_output: MISC_OUTPUT_MODE3,
            dac_write_index: 0,
            dac_read_index: 0,
            dac_component: 0,
            dac: vec![[0; 3]; DAC_ENTRIES],
        }
    }

    /// True if `addr` is in the memory window.
    pub fn decodes(addr: u64) -> bool {
        (layout::VGA_WINDOW_START..layout::VGA_WINDOW_END).contains(&addr)
    }

    /// A read of `size` bytes in the window (bytes past its end read 0xFF).
    pub fn mmio_read(&self, addr: u64, size: u8) -> u64 {
        let at = (addr - layout::VGA_WINDOW_START) as usize;
        let mut v = 0u64;
        for i in 0..size as usize {
            let b = self.memory.get(at + i).copied().unwrap_or(0xff);
            v |= (b as u64) << (8 * i);
        }
        v
    }

    /// A write of `size` bytes in the window.
    pub fn mmio_write(&mut self, addr: u64, size: u8, value: u64) {
        let at = (addr - layout::VGA_WINDOW_START) as usize;
        for i in 0..size as usize {
            if let Some(b) = self.memory.get_mut(at + i) {
                *b = (value >> (8 * i)) as u8;
            }
        }
    }

    /// True for the ports this adapter answers (0x3C0–0x3CF, 0x3D4/0x3D5, 0x3DA).
    pub fn claims(p: u16) -> bool {
        matches!(p, port::VGA_ATTRIBUTE..=port::VGA_GRAPHICS_DATA)
            || matches!(
                p,
                port::VGA_CRTC_INDEX | port::VGA_CRTC_DATA | port::VGA_INPUT_STATUS_1
            )
    }

    /// Port read.
    pub fn read(&mut self, p: u16, now: u64) -> u8 {
        match p {
            port::VGA_ATTRIBUTE => self.attribute_index,
            port::VGA_ATTRIBUTE_READ => {
                let i = (self.attribute_index & ATTRIBUTE_SELECT) as usize;
                self.attribute.get(i).copied().unwrap_or(0)
            }
            // Input status 0: no switch sense, no interrupt pending.
            port::VGA_MISC_WRITE => 0,
            port::VGA_SEQUENCER_INDEX => self.sequencer_index,
            port::VGA_SEQUENCER_DATA => indexed(&self.sequencer, self.sequencer_index),
            port::VGA_DAC_MASK => 0xff,
            port::VGA_DAC_READ_INDEX => self.dac_read_index,
            port::VGA_DAC_WRITE_INDEX => self.dac_write_index,
            port::VGA_DAC_DATA => {
                let v = self.dac[self.dac_read_index as usize][self.dac_component];
                if self.advance_dac_component() {
                    self.dac_read_index = self.dac_read_index.wrapping_add(1);
                }
                v
            }
            port::VGA_MISC_READ => self.misc_output,
            port::VGA_GRAPHICS_INDEX => self.graphics_index,
            port::VGA_GRAPHICS_DATA => indexed(&self.graphics, self.graphics_index),
            port::VGA_CRTC_INDEX => self.crtc_index,
            port::VGA_CRTC_DATA => indexed(&self.crtc, self.crtc_index),
            port::VGA_INPUT_STATUS_1 => {
                // Reading input status 1 resets the attribute flip-flop.
                self.attribute_data_next = false;
                if now % FRAME_NS < RETRACE_NS {
                    STATUS_VERTICAL_RETRACE | STATUS_DISPLAY_DISABLED
                } else if (now / 32_000) & 1 == 1 {
                    // Horizontal blanking, roughly every scan line.
                    STATUS_DISPLAY_DISABLED
                } else {
                    0
                }
            }
            _ => 0xff,
        }
    }

    fn advance_dac_component(&mut self) -> bool {
        self.dac_component = (self.dac_component + 1) % 3;
        self.dac_component == 0
    }

    /// Port write.
    pub fn write(&mut self, p: u16, v: u8) {
        match p {
            port::VGA_ATTRIBUTE => {
                if self.attribute_data_next {
                    let i = (self.attribute_index & ATTRIBUTE_SELECT) as usize;
                    if let Some(r) = self.attribute.get_mut(i) {
                        *r = v;
                    }
                } else {
                    self.attribute_index = v & ATTRIBUTE_INDEX_BITS;
                }
                self.attribute_data_next = !self.attribute_data_next;
            }
            port::VGA_MISC_WRITE => self.misc_output = v,
            port::VGA_SEQUENCER_INDEX => self.sequencer_index = v,
            port::VGA_SEQUENCER_DATA => set_indexed(&mut self.sequencer, self.sequencer_index, v),
            port::VGA_DAC_READ_INDEX => {
                self.dac_read_index = v;
                self.dac_component = 0;
            }
            port::VGA_DAC_WRITE_INDEX => {
                self.dac_write_index = v;
                self.dac_component = 0;
            }
            port::VGA_DAC_DATA => {
                self.dac[self.dac_write_index as usize][self.dac_component] = v & 0x3f;
                if self.advance_dac_component() {
                    self.dac_write_index = self.dac_write_index.wrapping_add(1);
                }
            }
            port::VGA_GRAPHICS_INDEX => self.graphics_index = v,
            port::VGA_GRAPHICS_DATA => set_indexed(&mut self.graphics, self.graphics_index, v),
            port::VGA_CRTC_INDEX => self.crtc_index = v,
            port::VGA_CRTC_DATA => set_indexed(&mut self.crtc, self.crtc_index, v),
            _ => {}
        }
    }

    /// The cursor's cell (row, column) and whether it is shown (CRTC 0x0A
    /// bit 5 hides it), relative to the display start.
    pub fn cursor(&self) -> (usize, usize, bool) {
        let location =
            u16::from_be_bytes([self.crtc[crtc::CURSOR_HIGH], self.crtc[crtc::CURSOR_LOW]])
                as usize;
        let cell = location.saturating_sub(self.display_start());
        let hidden = self.crtc[crtc::CURSOR_START] & 0x20 != 0
            || self.crtc[crtc::CURSOR_START] & 0x1f > self.crtc[crtc::CURSOR_END] & 0x1f;
        (cell / COLUMNS, cell % COLUMNS, !hidden)
    }

    fn display_start(&self) -> usize {
        u16::from_be_bytes([self.crtc[crtc::START_HIGH], self.crtc[crtc::START_LOW]]) as usize
    }

    /// The 80×25 cells (character, attribute) from the display start.
    pub fn screen_cells(&self) -> Vec<[u8; 2]> {
        (0..COLUMNS * ROWS)
            .map(|cell| {
                // The text page wraps within its 32 KiB.
                let at = TEXT_OFFSET + ((self.display_start() + cell) * 2) % 0x8000;
                [self.memory[at], self.memory[at + 1]]
            })
            .collect()
    }

    /// The screen as text (see [`render`]).
    pub fn screen_text(&self) -> String {
        let page: Vec<u8> = self.screen_cells().concat();
        render(&page)
    }
}

/// A text page (cells of character, attribute; 80 a row) as text: one
/// line a row, printable ASCII kept, NUL as a blank, other characters as
/// '.', trailing blanks trimmed.
pub fn render(page: &[u8]) -> String {
    let mut out = String::new();
    for row in page.chunks_exact(COLUMNS * 2) {
        let line: String = row
            .chunks_exact(2)
            .map(|c| match c[0] {
                0 => ' ',
                b @ 0x20..=0x7e => b as char,
                _ => '.',
            })
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn indexed(regs: &[u8], index: u8) -> u8 {
    regs.get(index as usize).copied().unwrap_or(0xff)
}

fn set_indexed(regs: &mut [u8], index: u8, v: u8) {
    if let Some(r) = regs.get_mut(index as usize) {
        *r = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_page_cursor_and_flip_flop() {
        let mut vga = Vga::new();
        vga.mmio_write(layout::VGA_TEXT_BUFFER, 2, 0x1f48);
        vga.mmio_write(layout::VGA_TEXT_BUFFER + 2, 1, b'i' as u64);
        vga.mmio_write(layout::VGA_WINDOW_END - 1, 8, u64::MAX);
        assert!(vga.screen_text().starts_with("Hi\n"));
        assert_eq!(vga.screen_cells()[0], [b'H', 0x1f]);
        vga.write(port::VGA_CRTC_INDEX, crtc::CURSOR_LOW as u8);
        vga.write(port::VGA_CRTC_DATA, 81);
        assert_eq!(vga.cursor(), (1, 1, true));
        vga.write(port::VGA_CRTC_INDEX, 0xff);
        vga.write(port::VGA_CRTC_DATA, 1);
        assert_eq!(vga.read(port::VGA_CRTC_DATA, 0), 0xff);
        // Attribute controller: index, data, and the 0x3DA reset.
        vga.write(port::VGA_ATTRIBUTE, 0x10);
        vga.write(port::VGA_ATTRIBUTE, 0x08);
        vga.write(port::VGA_ATTRIBUTE, 0x12);
        vga.read(port::VGA_INPUT_STATUS_1, 0);
        vga.write(port::VGA_ATTRIBUTE, 0x10);
        assert_eq!(vga.read(port::VGA_ATTRIBUTE_READ, 0), 0x08);
    }
}

//! ATA/IDE disk on the primary channel, PIO only (ATA/ATAPI-6, T13
//! 1410D): command block ports 0x1F0–0x1F7, control block 0x3F6, IRQ 14.
//! One drive (the master); the slave is absent and reads as 0. Commands:
//! IDENTIFY DEVICE, READ/WRITE SECTORS (LBA28 or CHS) and their EXT forms
//! (LBA48), READ VERIFY, FLUSH CACHE, SET FEATURES, INITIALIZE DEVICE
//! PARAMETERS and SET MULTIPLE MODE as no-ops; anything else is aborted.
//! The sectors live behind [`Storage`], so the native binary decides
//! whether writes reach a file or stay in memory.

use alloc::boxed::Box;
use alloc::vec::Vec;

/// Bytes in a sector.
pub const SECTOR: usize = 512;

/// Where the disk's sectors live.
pub trait Storage {
    /// Number of sectors.
    fn sectors(&self) -> u64;
    /// Reads sector `lba`; false on an I/O error.
    fn read(&mut self, lba: u64, buf: &mut [u8; SECTOR]) -> bool;
    /// Writes sector `lba`; false on an I/O error.
    fn write(&mut self, lba: u64, data: &[u8; SECTOR]) -> bool;
}

/// A disk image held in memory (writes change the copy only).
pub struct MemoryStorage(pub Vec<u8>);

impl Storage for MemoryStorage {
    fn sectors(&self) -> u64 {
        (self.0.len() / SECTOR) as u64
    }
    fn read(&mut self, lba: u64, buf: &mut [u8; SECTOR]) -> bool {
        let at = lba as usize * SECTOR;
        match self.0.get(at..at + SECTOR) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
    fn write(&mut self, lba: u64, data: &[u8; SECTOR]) -> bool {
        let at = lba as usize * SECTOR;
        match self.0.get_mut(at..at + SECTOR) {
            Some(s) => {
                s.copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}

/// A disk image file as the host reaches it: whole sectors at byte
/// offsets; false on an I/O error or a short transfer.
pub trait ImageFile {
    /// Reads `buf.len()` bytes at `offset`.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> bool;
    /// Writes `data` at `offset`.
    fn write_at(&mut self, data: &[u8], offset: u64) -> bool;
}

/// A disk image file behind the ATA disk (`--disk`). Read-only unless
/// writable: then the guest's writes land in the file; otherwise they are
/// kept in memory, sector by sector, over the unchanged file.
pub struct ImageDisk<F> {
    file: F,
    sectors: u64,
    writable: bool,
    overlay: alloc::collections::BTreeMap<u64, Box<[u8; SECTOR]>>,
}

impl<F: ImageFile> ImageDisk<F> {
    /// A disk over `file` of `bytes` bytes (whole sectors only).
    pub fn new(file: F, bytes: u64, writable: bool) -> Result<ImageDisk<F>, &'static str> {
        let sectors = bytes / SECTOR as u64;
        if sectors == 0 {
            return Err("the image holds no whole 512-byte sector");
        }
        Ok(ImageDisk {
            file,
            sectors,
            writable,
            overlay: Default::default(),
        })
    }
}

impl<F: ImageFile> Storage for ImageDisk<F> {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, lba: u64, buf: &mut [u8; SECTOR]) -> bool {
        if let Some(sector) = self.overlay.get(&lba) {
            buf.copy_from_slice(&sector[..]);
            return true;
        }
        lba < self.sectors && self.file.read_at(buf, lba * SECTOR as u64)
    }

    fn write(&mut self, lba: u64, data: &[u8; SECTOR]) -> bool {
        if lba >= self.sectors {
            return false;
        }
        if self.writable {
            return self.file.write_at(data, lba * SECTOR as u64);
        }
        self.overlay.insert(lba, Box::new(*data));
        true
    }
}

/// Command block register offsets from 0x1F0 (ATA-6 §7).
mod reg {
    pub const DATA: u16 = 0;
    pub const ERROR_FEATURES: u16 = 1;
    pub const SECTOR_COUNT: u16 = 2;
    pub const LBA_LOW: u16 = 3;
    pub const LBA_MID: u16 = 4;
    pub const LBA_HIGH: u16 = 5;
    pub const DEVICE: u16 = 6;
    pub const STATUS_COMMAND: u16 = 7;
}

/// Status register bits (ATA-6 §7.15).
mod status {
    pub const ERR: u8 = 1 << 0;
    pub const DRQ: u8 = 1 << 3;
    pub const DSC: u8 = 1 << 4;
    pub const DRDY: u8 = 1 << 6;
}

/// Error register: command aborted.
const ERROR_ABORTED: u8 = 1 << 2;
/// Error register: uncorrectable data error (the storage failed).
const ERROR_UNCORRECTABLE: u8 = 1 << 6;
/// Device register: drive 1 selected.
const DEVICE_SLAVE: u8 = 1 << 4;
/// Device register: LBA addressing.
const DEVICE_LBA: u8 = 1 << 6;
/// Device register bits that always read as 1 (obsolete bits 7 and 5).
const DEVICE_OBSOLETE_ONES: u8 = 0xa0;
/// Device control register (0x3F6): interrupts disabled, software reset.
const CONTROL_NIEN: u8 = 1 << 1;
const CONTROL_SRST: u8 = 1 << 2;

/// ATA commands (ATA-6 §8).
mod command {
    pub const READ_SECTORS: u8 = 0x20;
    pub const READ_SECTORS_NO_RETRY: u8 = 0x21;
    pub const READ_SECTORS_EXT: u8 = 0x24;
    pub const WRITE_SECTORS: u8 = 0x30;
    pub const WRITE_SECTORS_NO_RETRY: u8 = 0x31;
    pub const WRITE_SECTORS_EXT: u8 = 0x34;
    pub const READ_VERIFY: u8 = 0x40;
    pub const READ_VERIFY_EXT: u8 = 0x42;
    pub const INITIALIZE_DEVICE_PARAMETERS: u8 = 0x91;
    pub const SET_MULTIPLE_MODE: u8 = 0xc6;
    pub const FLUSH_CACHE: u8 = 0xe7;
    pub const FLUSH_CACHE_EXT: u8 = 0xea;
    pub const IDENTIFY_DEVICE: u8 = 0xec;
    pub const SET_FEATURES: u8 = 0xef;
}

/// The CHS geometry announced in IDENTIFY (the usual 16 heads × 63
/// sectors translation) and used for CHS-addressed commands.
const HEADS: u64 = 16;
const SECTORS_PER_TRACK: u64 = 63;
const MAX_CYLINDERS: u64 = 16383;
/// Highest LBA28 sector count IDENTIFY words 60–61 can hold.
const LBA28_LIMIT: u64 = 0x0fff_ffff;

/// What the data port is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transfer {
    Idle,
    /// The host reads `buffer`; `remaining` sectors after this one.
    ToHost {
        next_lba: u64,
        remaining: u64,
    },
    /// The host fills `buffer` for sector `lba`, then `remaining` more.
    FromHost {
        lba: u64,
        remaining: u64,
    },
}

/// A "previous content" pair of registers: LBA48 commands read the value
/// written before the latest one as the high-order byte (ATA-6 §6.20).
#[derive(Clone, Copy, Debug, Default)]
struct Fifo2 {
    current: u8,
    previous: u8,
}

impl Fifo2 {
    fn write(&mut self, v: u8) {
        self.previous = self.current;
        self.current = v;
    }
}

/// The primary IDE channel with one disk.
pub struct Ide {
    storage: Option<Box<dyn Storage + Send>>,
    features: u8,
    sector_count: Fifo2,
    lba_low: Fifo2,
    lba_mid: Fifo2,
    lba_high: Fifo2,
    device: u8,
    status: u8,
    error: u8,
    control: u8,
    buffer: [u8; SECTOR],
    position: usize,
    transfer: Transfer,
    /// INTRQ (IRQ 14): set when a block is ready or a command ends,
    /// cleared by reading the status register.
    irq_pending: bool,
}

impl core::fmt::Debug for Ide {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ide")
            .field("sectors", &self.storage.as_ref().map(|s| s.sectors()))
            .field("status", &self.status)
            .field("transfer", &self.transfer)
            .finish()
    }
}

impl Default for Ide {
    fn default() -> Self {
        Ide::new(None)
    }
}

impl Ide {
    /// The channel with `storage` as its master drive (or no drive).
    pub fn new(storage: Option<Box<dyn Storage + Send>>) -> Ide {
        Ide {
            storage,
            features: 0,
            sector_count: Fifo2::default(),
            lba_low: Fifo2::default(),
            lba_mid: Fifo2::default(),
            lba_high: Fifo2::default(),
            device: DEVICE_OBSOLETE_ONES,
            status: status::DRDY | status::DSC,
            error: 1, // diagnostic code: no error
            control: 0,
            buffer: [0; SECTOR],
            position: 0,
            transfer: Transfer::Idle,
            irq_pending: false,
        }
    }

    /// True if a drive answers at the selected position.
    fn selected_present(&self) -> bool {
        self.storage.is_some() && self.device & DEVICE_SLAVE == 0
    }

    /// IRQ 14's level.
    pub fn irq_line(&self) -> bool {
        self.irq_pending && self.control & CONTROL_NIEN == 0
    }

    fn interrupt(&mut self) {
        self.irq_pending = true;
    }

    fn abort(&mut self, error: u8) {
        self.error = error;
        self.status = status::DRDY | status::DSC | status::ERR;
        self.transfer = Transfer::Idle;
        self.interrupt();
    }

    fn complete(&mut self) {
        self.error = 0;
        self.status = status::DRDY | status::DSC;
        self.transfer = Transfer::Idle;
        self.interrupt();
    }

    /// The addressed sector and count for a command (ATA-6 §6.20: count 0
    /// means 256, or 65536 for EXT commands).
    fn address(&self, ext: bool) -> (u64, u64) {
        let b = |f: Fifo2, previous: bool| (if previous { f.previous } else { f.current }) as u64;
        if ext {
            let lba = b(self.lba_low, false)
                | b(self.lba_mid, false) << 8
                | b(self.lba_high, false) << 16
                | b(self.lba_low, true) << 24
                | b(self.lba_mid, true) << 32
                | b(self.lba_high, true) << 40;
            let count = b(self.sector_count, false) | b(self.sector_count, true) << 8;
            return (lba, if count == 0 { 65536 } else { count });
        }
        let count = match b(self.sector_count, false) {
            0 => 256,
            n => n,
        };
        let lba = if self.device & DEVICE_LBA != 0 {
            b(self.lba_low, false)
                | b(self.lba_mid, false) << 8
                | b(self.lba_high, false) << 16
                | ((self.device & 0xf) as u64) << 24
        } else {
            // CHS: sector numbers start at 1; sector 0 is invalid.
            let cylinder = b(self.lba_mid, false) | b(self.lba_high, false) << 8;
            let head = (self.device & 0xf) as u64;
            let sector = b(self.lba_low, false);
            if sector == 0 {
                return (u64::MAX, count);
            }
            (cylinder * HEADS + head) * SECTORS_PER_TRACK + sector - 1
        };
        (lba, count)
    }

    fn in_range(&self, lba: u64, count: u64) -> bool {
        let sectors = self.storage.as_ref().map_or(0, |s| s.sectors());
        lba.checked_add(count).is_some_and(|end| end <= sectors)
    }

    /// Loads sector `lba` into the buffer for the host to read.
    fn start_read_block(&mut self, lba: u64, remaining: u64) {
        let Some(storage) = self.storage.as_mut() else {
            return self.abort(ERROR_ABORTED);
        };
        if !storage.read(lba, &mut self.buffer) {
            return self.abort(ERROR_UNCORRECTABLE);
        }
        self.position = 0;
        self.transfer = Transfer::ToHost {
            next_lba: lba + 1,
            remaining,
        };
        self.status = status::DRDY | status::DSC | status::DRQ;
        self.interrupt();
    }

    fn execute(&mut self, cmd: u8) {
        use command::*;
        if !self.selected_present() {
            return; // no drive: commands to it are ignored
        }
        self.error = 0;
        match cmd {
            IDENTIFY_DEVICE => {
                self.buffer = self.identify();
                self.position = 0;
                self.transfer = Transfer::ToHost {
                    next_lba: 0,
                    remaining: 0,
                };
                self.status = status::DRDY | status::DSC | status::DRQ;
                self.interrupt();
            }
            READ_SECTORS | READ_SECTORS_NO_RETRY | READ_SECTORS_EXT => {
                let (lba, count) = self.address(cmd == READ_SECTORS_EXT);
                if !self.in_range(lba, count) {
                    return self.abort(ERROR_ABORTED);
                }
                self.start_read_block(lba, count - 1);
            }
            WRITE_SECTORS | WRITE_SECTORS_NO_RETRY | WRITE_SECTORS_EXT => {
                let (lba, count) = self.address(cmd == WRITE_SECTORS_EXT);
                if !self.in_range(lba, count) {
                    return self.abort(ERROR_ABORTED);
                }
                // ATA-6 §9.7: the first block is requested without an interrupt.
                self.position = 0;
                self.transfer = Transfer::FromHost {
                    lba,
                    remaining: count - 1,
                };
                self.status = status::DRDY | status::DSC | status::DRQ;
            }
            READ_VERIFY | READ_VERIFY_EXT => {
                let (lba, count) = self.address(cmd == READ_VERIFY_EXT);
                if self.in_range(lba, count) {
                    self.complete();
                } else {
                    self.abort(ERROR_ABORTED);
                }
            }
            FLUSH_CACHE
            | FLUSH_CACHE_EXT
            | SET_FEATURES
            | INITIALIZE_DEVICE_PARAMETERS
            | SET_MULTIPLE_MODE => self.complete(),
            _ => self.abort(ERROR_ABORTED),
        }
    }

    /// IDENTIFY DEVICE data (ATA-6 §8.15, Table 16); strings are stored
    /// with the two bytes of each word swapped.
    fn identify(&self) -> [u8; SECTOR] {
        let sectors = self.storage.as_ref().map_or(0, |s| s.sectors());
        let mut words = [0u16; SECTOR / 2];
        let cylinders = (sectors / (HEADS * SECTORS_PER_TRACK)).clamp(1, MAX_CYLINDERS);
        let lba28 = sectors.min(LBA28_LIMIT);
        let chs_capacity = cylinders * HEADS * SECTORS_PER_TRACK;
        let mut put_string = |first: usize, words_len: usize, text: &[u8]| {
            for i in 0..words_len {
                let hi = *text.get(2 * i).unwrap_or(&b' ');
                let lo = *text.get(2 * i + 1).unwrap_or(&b' ');
                words[first + i] = (hi as u16) << 8 | lo as u16;
            }
        };
        put_string(10, 10, b"WRUN0001");
        put_string(23, 4, b"1.0");
        put_string(27, 20, b"wrun guest-x86 ATA disk");
        words[0] = 0x0040; // fixed device, not removable
        words[1] = cylinders as u16;
        words[3] = HEADS as u16;
        words[6] = SECTORS_PER_TRACK as u16;
        words[47] = 0x8000; // READ/WRITE MULTIPLE: none
        words[49] = 1 << 9; // LBA supported (no DMA)
        words[53] = 1; // words 54–58 valid
        words[54] = cylinders as u16;
        words[55] = HEADS as u16;
        words[56] = SECTORS_PER_TRACK as u16;
        words[57] = chs_capacity as u16;
        words[58] = (chs_capacity >> 16) as u16;
        words[60] = lba28 as u16;
        words[61] = (lba28 >> 16) as u16;
        words[80] = 0x7e; // ATA-1 … ATA-6
        // Words 83/86: command sets supported/enabled: FLUSH CACHE EXT (13),
        // FLUSH CACHE (12), 48-bit addresses (10); bit 14 of 83, 84 and 87
        // marks the words valid.
        let command_sets = 1 << 13 | 1 << 12 | 1 << 10;
        words[83] = 1 << 14 | command_sets;
        words[84] = 1 << 14;
        words[86] = command_sets;
        words[87] = 1 << 14;
        for i in 0..4 {
            words[100 + i] = (sectors >> (16 * i)) as u16;
        }
        let mut out = [0u8; SECTOR];
        for (i, w) in words.iter().enumerate() {
            out[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Moves the next 1, 2 or 4 bytes out of the sector buffer.
    fn read_data(&mut self, size: u8) -> u32 {
        let Transfer::ToHost {
            next_lba,
            remaining,
        } = self.transfer
        else {
            return 0;
        };
        let mut value = 0u32;
        for i in 0..size as usize {
            if self.position < SECTOR {
                value |= (self.buffer[self.position] as u32) << (8 * i);
                self.position += 1;
            }
        }
        if self.position == SECTOR {
            if remaining > 0 {
                self.start_read_block(next_lba, remaining - 1);
            } else {
                self.status = status::DRDY | status::DSC;
                self.transfer = Transfer::Idle;
            }
        }
        value
    }

    /// Moves 1, 2 or 4 bytes into the sector buffer; a full buffer is written.
    fn write_data(&mut self, size: u8, value: u32) {
        let Transfer::FromHost { lba, remaining } = self.transfer else {
            return;
        };
        for i in 0..size as usize {
            if self.position < SECTOR {
                self.buffer[self.position] = (value >> (8 * i)) as u8;
                self.position += 1;
            }
        }
        if self.position < SECTOR {
            return;
        }
        let written = match self.storage.as_mut() {
            Some(s) => s.write(lba, &self.buffer),
            None => false,
        };
        if !written {
            return self.abort(ERROR_UNCORRECTABLE);
        }
        if remaining > 0 {
            self.position = 0;
            self.transfer = Transfer::FromHost {
                lba: lba + 1,
                remaining: remaining - 1,
            };
            self.status = status::DRDY | status::DSC | status::DRQ;
            self.interrupt();
        } else {
            self.complete();
        }
    }

    fn read_status(&self) -> u8 {
        if self.selected_present() {
            self.status
        } else {
            0 // no drive: the bus reads 0
        }
    }

    /// IN from the command block (`offset` 0–7 from 0x1F0).
    pub fn read(&mut self, offset: u16, size: u8) -> u32 {
        if offset == reg::DATA {
            return if self.selected_present() {
                self.read_data(size)
            } else {
                0
            };
        }
        match offset {
            reg::ERROR_FEATURES => self.error as u32,
            reg::SECTOR_COUNT => self.sector_count.current as u32,
            reg::LBA_LOW => self.lba_low.current as u32,
            reg::LBA_MID => self.lba_mid.current as u32,
            reg::LBA_HIGH => self.lba_high.current as u32,
            reg::DEVICE => self.device as u32,
            reg::STATUS_COMMAND => {
                // Reading the status register acknowledges INTRQ.
                self.irq_pending = false;
                self.read_status() as u32
            }
            _ => 0xff,
        }
    }

    /// OUT to the command block.
    pub fn write(&mut self, offset: u16, size: u8, value: u32) {
        let byte = value as u8;
        match offset {
            reg::DATA if self.selected_present() => self.write_data(size, value),
            reg::ERROR_FEATURES => self.features = byte,
            reg::SECTOR_COUNT => self.sector_count.write(byte),
            reg::LBA_LOW => self.lba_low.write(byte),
            reg::LBA_MID => self.lba_mid.write(byte),
            reg::LBA_HIGH => self.lba_high.write(byte),
            reg::DEVICE => self.device = byte | DEVICE_OBSOLETE_ONES,
            reg::STATUS_COMMAND => self.execute(byte),
            _ => {}
        }
    }

    /// IN from 0x3F6: the alternate status (does not acknowledge INTRQ).
    pub fn read_alternate_status(&self) -> u8 {
        self.read_status()
    }

    /// OUT to 0x3F6: the device control register; SRST resets the drive.
    pub fn write_control(&mut self, value: u8) {
        if value & CONTROL_SRST != 0 && self.control & CONTROL_SRST == 0 {
            let storage = self.storage.take();
            *self = Ide::new(storage);
        }
        self.control = value & (CONTROL_NIEN | CONTROL_SRST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn disk(sectors: usize) -> Ide {
        let mut image = vec![0u8; sectors * SECTOR];
        for (i, b) in image.iter_mut().enumerate() {
            *b = (i / SECTOR) as u8 ^ (i as u8);
        }
        Ide::new(Some(Box::new(MemoryStorage(image))))
    }

    fn select_lba28(ide: &mut Ide, lba: u32, count: u8) {
        ide.write(reg::SECTOR_COUNT, 1, count as u32);
        ide.write(reg::LBA_LOW, 1, lba);
        ide.write(reg::LBA_MID, 1, lba >> 8);
        ide.write(reg::LBA_HIGH, 1, lba >> 16);
        ide.write(reg::DEVICE, 1, 0x40 | (lba >> 24 & 0xf));
    }

    #[test]
    fn read_write_identify_and_bad_commands() {
        let mut ide = disk(8);
        select_lba28(&mut ide, 3, 2);
        ide.write(reg::STATUS_COMMAND, 1, command::READ_SECTORS as u32);
        assert!(ide.irq_line());
        let first = ide.read(reg::DATA, 2);
        // Byte i of sector s holds s ^ i.
        assert_eq!(first, 3 | ((3 ^ 1) << 8));
        for _ in 1..256 + 256 {
            ide.read(reg::DATA, 2);
        }
        assert_eq!(ide.read(reg::STATUS_COMMAND, 1) as u8 & status::DRQ, 0);
        // Write sector 7, read it back.
        select_lba28(&mut ide, 7, 1);
        ide.write(reg::STATUS_COMMAND, 1, command::WRITE_SECTORS as u32);
        for i in 0..128 {
            ide.write(reg::DATA, 4, 0x0101_0101 * i);
        }
        assert_eq!(
            ide.read(reg::STATUS_COMMAND, 1) as u8,
            status::DRDY | status::DSC
        );
        select_lba28(&mut ide, 7, 1);
        ide.write(reg::STATUS_COMMAND, 1, command::READ_SECTORS as u32);
        ide.read(reg::DATA, 4);
        assert_eq!(ide.read(reg::DATA, 4), 0x0101_0101);
        // Past the end, an unknown command, the absent slave.
        select_lba28(&mut ide, 7, 2);
        ide.write(reg::STATUS_COMMAND, 1, command::READ_SECTORS as u32);
        assert_eq!(
            ide.read(reg::STATUS_COMMAND, 1) as u8 & status::ERR,
            status::ERR
        );
        ide.write(reg::STATUS_COMMAND, 1, 0xff);
        assert_eq!(ide.read(reg::ERROR_FEATURES, 1) as u8, ERROR_ABORTED);
        ide.write(reg::DEVICE, 1, DEVICE_SLAVE as u32);
        assert_eq!(ide.read(reg::STATUS_COMMAND, 1), 0);
        ide.write(reg::DEVICE, 1, 0);
        ide.write(reg::STATUS_COMMAND, 1, command::IDENTIFY_DEVICE as u32);
        let mut id = [0u16; 256];
        for w in id.iter_mut() {
            *w = ide.read(reg::DATA, 2) as u16;
        }
        assert_eq!((id[60], id[61], id[100]), (8, 0, 8));
        assert_eq!(id[49] & (1 << 9), 1 << 9);
        // Data port reads with nothing to transfer.
        assert_eq!(ide.read(reg::DATA, 4), 0);
    }
}

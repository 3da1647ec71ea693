//! The MC146818 CMOS real-time clock on ports 0x70 (register index; bit 7
//! masks NMI) and 0x71 (data): the time of day from the PC's virtual clock
//! plus a start time, status registers A–D, and the memory-size bytes a
//! PC BIOS leaves in CMOS RAM. The periodic, alarm and update interrupts
//! are not implemented (status C reads 0).

/// Registers with a meaning (the rest is plain CMOS RAM).
mod reg {
    pub const SECONDS: u8 = 0x00;
    pub const MINUTES: u8 = 0x02;
    pub const HOURS: u8 = 0x04;
    pub const DAY_OF_WEEK: u8 = 0x06;
    pub const DAY_OF_MONTH: u8 = 0x07;
    pub const MONTH: u8 = 0x08;
    pub const YEAR: u8 = 0x09;
    pub const STATUS_A: u8 = 0x0a;
    pub const STATUS_B: u8 = 0x0b;
    pub const STATUS_C: u8 = 0x0c;
    pub const STATUS_D: u8 = 0x0d;
    pub const BASE_MEMORY_KB: u8 = 0x15;
    pub const EXTENDED_MEMORY_KB: u8 = 0x17;
    pub const EXTENDED_MEMORY_KB_COPY: u8 = 0x30;
    pub const MEMORY_ABOVE_16M_64K: u8 = 0x34;
    pub const CENTURY: u8 = 0x32;
}

/// Status A: update in progress (the last 244 µs of each second).
const UIP: u8 = 0x80;
/// Status A after a BIOS: 32.768 kHz time base, 1024 Hz rate.
const STATUS_A_DEFAULT: u8 = 0x26;
/// Status B: 24-hour mode (bit 1); bit 2 would select binary over BCD.
const STATUS_B_24H: u8 = 0x02;
const STATUS_B_BINARY: u8 = 0x04;
/// Status D: the CMOS battery is good.
const STATUS_D_VALID: u8 = 0x80;

/// The clock and its 128 bytes of CMOS RAM.
#[derive(Clone, Debug)]
pub struct Rtc {
    index: u8,
    ram: [u8; 128],
    /// Unix time at virtual time 0.
    start_seconds: u64,
}

impl Default for Rtc {
    fn default() -> Self {
        Rtc::new(0, 0)
    }
}

/// A civil date and time (proleptic Gregorian, UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    /// Full year.
    pub year: u64,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 1 (Sunday) – 7, as the RTC counts.
    pub weekday: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
}

/// Unix seconds to a civil date (days since 1970-01-01 counted in 400-year
/// eras of 146,097 days, with March as the first month of the year).
pub fn civil(unix_seconds: u64) -> DateTime {
    let days = unix_seconds / 86_400;
    let rem = unix_seconds % 86_400;
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u8;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u8;
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    DateTime {
        year,
        month,
        day,
        // 1970-01-01 was a Thursday (5 when Sunday is 1).
        weekday: ((days + 4) % 7 + 1) as u8,
        hour: (rem / 3600) as u8,
        minute: (rem / 60 % 60) as u8,
        second: (rem % 60) as u8,
    }
}

fn bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

impl Rtc {
    /// A clock reading `start_seconds` (Unix time) at virtual time 0, with
    /// the memory-size bytes for `ram_bytes` of RAM.
    pub fn new(start_seconds: u64, ram_bytes: u64) -> Rtc {
        let mut ram = [0u8; 128];
        ram[reg::STATUS_A as usize] = STATUS_A_DEFAULT;
        ram[reg::STATUS_B as usize] = STATUS_B_24H;
        ram[reg::STATUS_D as usize] = STATUS_D_VALID;
        let mut put16 = |at: u8, v: u64| {
            let v = v.min(0xffff) as u16;
            ram[at as usize..at as usize + 2].copy_from_slice(&v.to_le_bytes());
        };
        put16(reg::BASE_MEMORY_KB, 640);
        let extended_kb = ram_bytes.saturating_sub(1 << 20) / 1024;
        put16(reg::EXTENDED_MEMORY_KB, extended_kb);
        put16(reg::EXTENDED_MEMORY_KB_COPY, extended_kb);
        put16(
            reg::MEMORY_ABOVE_16M_64K,
            ram_bytes.saturating_sub(16 << 20) / 65_536,
        );
        Rtc {
            index: 0,
            ram,
            start_seconds,
        }
    }

    fn time_register(&self, index: u8, now_ns: u64) -> Option<u8> {
        let t = civil(self.start_seconds + now_ns / 1_000_000_000);
        let binary = self.ram[reg::STATUS_B as usize] & STATUS_B_BINARY != 0;
        let encode = |v: u8| if binary { v } else { bcd(v) };
        Some(match index {
            reg::SECONDS => encode(t.second),
            reg::MINUTES => encode(t.minute),
            reg::HOURS if self.ram[reg::STATUS_B as usize] & STATUS_B_24H != 0 => encode(t.hour),
            reg::HOURS => {
                // 12-hour mode: 12, 1 … 11 with bit 7 for PM.
                let h12 = if t.hour.is_multiple_of(12) {
                    12
                } else {
                    t.hour % 12
                };
                encode(h12) | if t.hour >= 12 { 0x80 } else { 0 }
            }
            reg::DAY_OF_WEEK => encode(t.weekday),
            reg::DAY_OF_MONTH => encode(t.day),
            reg::MONTH => encode(t.month),
            reg::YEAR => encode((t.year % 100) as u8),
            reg::CENTURY => encode((t.year / 100 % 100) as u8),
            reg::STATUS_A => {
                let in_update = now_ns % 1_000_000_000 >= 1_000_000_000 - 244_000;
                self.ram[reg::STATUS_A as usize] | if in_update { UIP } else { 0 }
            }
            reg::STATUS_C => 0,
            _ => return None,
        })
    }

    /// Port read (0x71 returns the selected register).
    pub fn read(&mut self, port: u16, now_ns: u64) -> u8 {
        if port & 1 == 0 {
            return 0xff;
        }
        let index = self.index & 0x7f;
        self.time_register(index, now_ns)
            .unwrap_or(self.ram[index as usize])
    }

    /// Port write: 0x70 selects a register, 0x71 writes it (time writes
    /// are ignored: the clock follows the virtual clock).
    pub fn write(&mut self, port: u16, value: u8) {
        if port & 1 == 0 {
            self.index = value;
            return;
        }
        let index = self.index & 0x7f;
        match index {
            reg::SECONDS..=reg::YEAR | reg::CENTURY | reg::STATUS_C | reg::STATUS_D => {}
            reg::STATUS_A => self.ram[index as usize] = value & 0x7f,
            _ => self.ram[index as usize] = value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let epoch = civil(0);
        assert_eq!(
            (epoch.year, epoch.month, epoch.day, epoch.weekday),
            (1970, 1, 1, 5)
        );
        // 2000-02-29 00:00:00, a Tuesday.
        let leap = civil(951_782_400);
        assert_eq!(
            (leap.year, leap.month, leap.day, leap.weekday),
            (2000, 2, 29, 3)
        );
        let t = civil(951_782_400 + 23 * 3600 + 59 * 60 + 58);
        assert_eq!((t.hour, t.minute, t.second), (23, 59, 58));
    }

    #[test]
    fn registers_in_bcd_and_binary_and_memory_size() {
        let mut rtc = Rtc::new(951_782_400, 128 << 20);
        let mut get = |index: u8, now: u64| {
            rtc.write(0x70, 0x80 | index);
            rtc.read(0x71, now)
        };
        assert_eq!(get(reg::YEAR, 0), 0x00);
        assert_eq!(get(reg::CENTURY, 0), 0x20);
        assert_eq!(get(reg::MONTH, 0), 0x02);
        assert_eq!(get(reg::DAY_OF_MONTH, 0), 0x29);
        assert_eq!(get(reg::SECONDS, 12_000_000_000), 0x12);
        assert_eq!(get(reg::STATUS_A, 999_900_000) & UIP, UIP);
        assert_eq!(get(reg::STATUS_D, 0), STATUS_D_VALID);
        // Extended memory in KiB saturates at 0xFFFF; above 16 MiB in 64 KiB units.
        assert_eq!(get(0x17, 0) as u32 | (get(0x18, 0) as u32) << 8, 0xffff);
        assert_eq!(get(0x34, 0) as u32 | (get(0x35, 0) as u32) << 8, 112 * 16);
        rtc.write(0x70, reg::STATUS_B);
        rtc.write(0x71, STATUS_B_24H | STATUS_B_BINARY);
        rtc.write(0x70, reg::DAY_OF_MONTH);
        assert_eq!(rtc.read(0x71, 0), 29);
    }
}

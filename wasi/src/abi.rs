//! The two WASI ABIs: wasm32 (pointers and `size` are `i32`) and wasm64
//! (pointers and `size` are `i64`, following wasi-libc's wasm64 build where
//! `__wasi_size_t` is `size_t`). Every call reads its arguments and the
//! guest's structures through [`GuestMemory`], which knows the width, so each
//! call is written once.

use wrun_runtime::ValType;

use crate::types::Errno;

/// The most buffers one vectored call takes (Linux's `IOV_MAX`).
pub const IOV_MAX: u64 = 1024;

/// The longest path, terminating NUL included (Linux's `PATH_MAX`).
pub const PATH_MAX: usize = 4096;

/// The address width of the guest's memory 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryWidth {
    /// A 32-bit memory: 4-byte pointers and sizes.
    W32,
    /// A 64-bit memory (memory64): 8-byte pointers and sizes.
    W64,
}

impl MemoryWidth {
    /// Bytes in a pointer or a `size`.
    pub fn pointer_bytes(self) -> u64 {
        match self {
            MemoryWidth::W32 => 4,
            MemoryWidth::W64 => 8,
        }
    }

    /// The wasm type of a pointer or `size` argument.
    pub fn valtype(self) -> ValType {
        match self {
            MemoryWidth::W32 => ValType::I32,
            MemoryWidth::W64 => ValType::I64,
        }
    }
}

/// A guest's linear memory seen through one ABI. Every access is bounds
/// checked: a pointer outside the memory is `EFAULT`, never a panic.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
    width: MemoryWidth,
}

impl<'a> GuestMemory<'a> {
    /// Wraps a memory's bytes.
    pub fn new(bytes: &'a mut [u8], width: MemoryWidth) -> GuestMemory<'a> {
        GuestMemory { bytes, width }
    }

    /// The ABI width.
    pub fn width(&self) -> MemoryWidth {
        self.width
    }

    /// `ptr + delta`, the address of a field or element; wrapping past the
    /// end of the address space is `EFAULT`.
    pub fn offset(ptr: u64, delta: u64) -> Result<u64, Errno> {
        ptr.checked_add(delta).ok_or(Errno::FAULT)
    }

    fn range(&self, ptr: u64, len: u64) -> Result<std::ops::Range<usize>, Errno> {
        let end = ptr.checked_add(len).ok_or(Errno::FAULT)?;
        if end > self.bytes.len() as u64 {
            return Err(Errno::FAULT);
        }
        // Both fit in usize: they are at most the memory's length.
        Ok(ptr as usize..end as usize)
    }

    /// `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u64, len: u64) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, mutably.
    pub fn slice_mut(&mut self, ptr: u64, len: u64) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u64, data: &[u8]) -> Result<(), Errno> {
        self.slice_mut(ptr, data.len() as u64)?
            .copy_from_slice(data);
        Ok(())
    }

    fn read_array<const N: usize>(&self, ptr: u64) -> Result<[u8; N], Errno> {
        let mut out = [0; N];
        out.copy_from_slice(self.slice(ptr, N as u64)?);
        Ok(out)
    }

    /// A little-endian `u16` at `ptr`.
    pub fn read_u16(&self, ptr: u64) -> Result<u16, Errno> {
        self.read_array(ptr).map(u16::from_le_bytes)
    }

    /// A little-endian `u32` at `ptr`.
    pub fn read_u32(&self, ptr: u64) -> Result<u32, Errno> {
        self.read_array(ptr).map(u32::from_le_bytes)
    }

    /// A little-endian `u64` at `ptr`.
    pub fn read_u64(&self, ptr: u64) -> Result<u64, Errno> {
        self.read_array(ptr).map(u64::from_le_bytes)
    }

    /// A byte at `ptr`.
    pub fn read_u8(&self, ptr: u64) -> Result<u8, Errno> {
        self.read_array(ptr).map(u8::from_le_bytes)
    }

    /// Writes a byte.
    pub fn write_u8(&mut self, ptr: u64, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }

    /// Writes a little-endian `u16`.
    pub fn write_u16(&mut self, ptr: u64, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    pub fn write_u32(&mut self, ptr: u64, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    pub fn write_u64(&mut self, ptr: u64, v: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A pointer or `size` at `ptr`: 4 or 8 bytes by width.
    pub fn read_size(&self, ptr: u64) -> Result<u64, Errno> {
        match self.width {
            MemoryWidth::W32 => self.read_u32(ptr).map(u64::from),
            MemoryWidth::W64 => self.read_u64(ptr),
        }
    }

    /// Writes a pointer or `size`: 4 or 8 bytes by width. A value that does
    /// not fit a 32-bit `size` is `EOVERFLOW`.
    pub fn write_size(&mut self, ptr: u64, v: u64) -> Result<(), Errno> {
        match self.width {
            MemoryWidth::W32 => self.write_u32(ptr, u32::try_from(v).map_err(|_| Errno::OVERFLOW)?),
            MemoryWidth::W64 => self.write_u64(ptr, v),
        }
    }

    /// The `(buf, buf_len)` pairs of an `iovec`/`ciovec` array: two
    /// pointer-sized fields each (8 bytes on wasm32, 16 on wasm64). Every
    /// buffer is checked to lie inside the memory.
    pub fn iovecs(&self, ptr: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
        // More buffers than the host takes in one readv/writev: EINVAL, as
        // there, and no allocation sized by the guest.
        if count > IOV_MAX {
            return Err(Errno::INVAL);
        }
        let field = self.width.pointer_bytes();
        let total = count.checked_mul(2 * field).ok_or(Errno::FAULT)?;
        self.range(ptr, total)?;
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = ptr + i * 2 * field;
            let buf = self.read_size(at)?;
            let len = self.read_size(at + field)?;
            self.range(buf, len)?;
            out.push((buf, len));
        }
        Ok(out)
    }

    /// The bytes of a guest path, copied out; longer than the host's
    /// `PATH_MAX` is `ENAMETOOLONG`.
    pub fn path(&self, ptr: u64, len: u64) -> Result<Vec<u8>, Errno> {
        let bytes = self.slice(ptr, len)?;
        if bytes.len() >= PATH_MAX {
            return Err(Errno::NAMETOOLONG);
        }
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_efault() {
        let mut bytes = vec![0u8; 16];
        let mut mem = GuestMemory::new(&mut bytes, MemoryWidth::W32);
        assert_eq!(mem.read_u32(13), Err(Errno::FAULT));
        assert_eq!(mem.write_u64(u64::MAX - 2, 1), Err(Errno::FAULT));
        assert_eq!(mem.slice(16, 0).map(<[u8]>::len), Ok(0));
        assert!(mem.write_u32(12, 7).is_ok());
    }

    #[test]
    fn sizes_follow_the_width() {
        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut bytes, MemoryWidth::W32);
        assert_eq!(mem.write_size(0, 1 << 32), Err(Errno::OVERFLOW));
        mem.write_size(0, 0x1234).unwrap();
        assert_eq!(mem.read_u64(0), Ok(0x1234));
        let mut mem = GuestMemory::new(&mut bytes, MemoryWidth::W64);
        mem.write_size(0, 1 << 40).unwrap();
        assert_eq!(mem.read_size(0), Ok(1 << 40));
    }

    #[test]
    fn iovecs_are_pointer_sized_pairs() {
        let mut bytes = vec![0u8; 64];
        let mut mem = GuestMemory::new(&mut bytes, MemoryWidth::W64);
        mem.write_u64(0, 32).unwrap();
        mem.write_u64(8, 4).unwrap();
        mem.write_u64(16, 40).unwrap();
        mem.write_u64(24, 24).unwrap();
        assert_eq!(mem.iovecs(0, 2), Ok(vec![(32, 4), (40, 24)]));
        mem.write_u64(24, 25).unwrap();
        assert_eq!(mem.iovecs(0, 2), Err(Errno::FAULT));
        assert_eq!(mem.iovecs(0, IOV_MAX + 1), Err(Errno::INVAL));
        let mut mem = GuestMemory::new(&mut bytes, MemoryWidth::W32);
        mem.write_u32(0, 8).unwrap();
        mem.write_u32(4, 2).unwrap();
        assert_eq!(mem.iovecs(0, 1), Ok(vec![(8, 2)]));
    }
}

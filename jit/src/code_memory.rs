//! Executable memory, never writable and executable at once (W^X): code is
//! copied into a fresh read-write mapping, which is then made read-execute
//! for the rest of its life. On aarch64 the instruction cache is not
//! coherent with data writes (ARM ARM B2.4.4): the copied range is cleaned
//! to the point of unification and invalidated (`dc cvau`, `ic ivau`,
//! `dsb ish`, `isb`, through `dynasmrt::cache_control`) before it runs.

use region::{Allocation, Protection};

/// Finished machine code, read-execute only.
pub struct CodeMemory {
    alloc: Allocation,
    len: usize,
}

// SAFETY: the mapping is immutable (read-execute) once built; sharing or
// moving it between threads cannot race.
unsafe impl Send for CodeMemory {}
// SAFETY: as above.
unsafe impl Sync for CodeMemory {}

impl CodeMemory {
    /// Copies `code` into new memory and seals it read-execute.
    pub fn new(code: &[u8]) -> Result<CodeMemory, String> {
        let mut alloc = region::alloc(code.len().max(1), Protection::READ_WRITE)
            .map_err(|e| format!("cannot map {} bytes for code: {e}", code.len()))?;
        let dst = alloc.as_mut_ptr::<u8>();
        // SAFETY: the allocation is at least `code.len()` bytes, read-write,
        // and does not overlap `code`.
        unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), dst, code.len()) };
        // SAFETY: the range was just written and is not aliased mutably.
        let written = unsafe { std::slice::from_raw_parts(dst.cast_const(), code.len()) };
        // A no-op on x86_64, whose caches are coherent.
        dynasmrt::cache_control::synchronize_icache(written);
        // SAFETY: the range is the allocation itself; nothing holds a
        // reference into it.
        unsafe { region::protect(dst, alloc.len(), Protection::READ_EXECUTE) }
            .map_err(|e| format!("cannot make code executable: {e}"))?;
        // Discards instructions this thread may have fetched early (isb).
        dynasmrt::cache_control::prepare_for_execution(written);
        Ok(CodeMemory {
            alloc,
            len: code.len(),
        })
    }

    /// The address of byte `offset` of the code.
    pub fn address(&self, offset: usize) -> Option<*const u8> {
        (offset < self.len).then(|| self.alloc.as_ptr::<u8>().wrapping_add(offset))
    }

    /// The code's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no code.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn code_is_executable_and_not_writable() {
        // mov eax, 42; ret
        let code = CodeMemory::new(&[0xb8, 42, 0, 0, 0, 0xc3]).unwrap();
        let entry = code.address(0).unwrap();
        let region = region::query(entry).unwrap();
        assert_eq!(region.protection(), Protection::READ_EXECUTE);
        // SAFETY: the bytes are a complete sysv64 function returning 42.
        let f: extern "sysv64" fn() -> u32 = unsafe { std::mem::transmute(entry) };
        assert_eq!(f(), 42);
        assert!(code.address(6).is_none());
    }

    #[test]
    #[cfg(target_arch = "aarch64")]
    fn code_is_executable_and_not_writable() {
        // mov w0, #42; ret (ARM ARM C6.2.x MOVZ, RET)
        let words: [u32; 2] = [0x5280_0540, 0xd65f_03c0];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let code = CodeMemory::new(&bytes).unwrap();
        let entry = code.address(0).unwrap();
        let region = region::query(entry).unwrap();
        assert_eq!(region.protection(), Protection::READ_EXECUTE);
        // SAFETY: the bytes are a complete AAPCS64 function returning 42.
        let f: extern "C" fn() -> u32 = unsafe { std::mem::transmute(entry) };
        assert_eq!(f(), 42);
        assert!(code.address(8).is_none());
    }
}

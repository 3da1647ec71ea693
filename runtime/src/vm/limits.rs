//! The per-store resource budget: one byte count shared by every linear
//! memory and table a store holds (wasmtime's `ResourceLimiter` is the
//! model). Creating or growing a memory or table charges it first; a charge
//! beyond the budget fails, so a module cannot make the host commit more
//! than the embedder allowed however many memories and tables it declares.

/// Bytes a table element costs against the budget.
pub(crate) const TABLE_ELEMENT_BYTES: u64 = std::mem::size_of::<crate::values::RawVal>() as u64;

/// What a store may still commit to memories and tables.
#[derive(Debug)]
pub(crate) struct StoreBudget {
    limit: u64,
    used: u64,
}

impl StoreBudget {
    pub fn new(limit: u64) -> StoreBudget {
        StoreBudget { limit, used: 0 }
    }

    /// The whole budget in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes charged so far.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Charges `bytes` if they fit in what is left.
    pub fn try_charge(&mut self, bytes: u64) -> bool {
        match self.used.checked_add(bytes) {
            Some(total) if total <= self.limit => {
                self.used = total;
                true
            }
            _ => false,
        }
    }

    /// Gives back a charge whose allocation then failed.
    pub fn refund(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    /// The error for a charge of `bytes` for `what` that did not fit.
    pub fn exceeded(&self, what: &str, bytes: u64) -> crate::Error {
        crate::Error::Limit(format!(
            "{what} needs {bytes} bytes, but the store's memory budget of {} bytes has {} left \
             (raise it with Config::store_memory_budget or `wrun --memory-budget`)",
            self.limit,
            self.limit.saturating_sub(self.used)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit() {
        let mut b = StoreBudget::new(100);
        assert!(b.try_charge(60));
        assert!(!b.try_charge(41));
        assert!(b.try_charge(40));
        assert!(!b.try_charge(u64::MAX));
        b.refund(30);
        assert_eq!(b.used(), 70);
    }
}

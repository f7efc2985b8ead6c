//! How much memory the machine can give, and refusing work that needs more
//! before allocating any of it: a model of `--hidden 1000000`, or a model
//! file whose configuration claims a hidden size of 2^32, is a one-line
//! [`Error::Memory`] giving the figure, not an abort of the process.
//!
//! Estimates are in `f64` bytes, so no size product can wrap around: a
//! configuration whose parameter count overflows every integer type still
//! gets a figure (shown in scientific notation).

use crate::{Error, Result};

/// Work needing less than this is never checked (no file is read).
const SMALL: f64 = 64.0 * 1024.0 * 1024.0;

/// The ceiling assumed where the available memory cannot be read (no
/// `/proc/meminfo`): 1 TiB, more than any machine the tool runs on has, so
/// only sizes that cannot be real are refused there.
const FALLBACK: u64 = 1 << 40;

/// The bytes the process can still allocate: `RNN_MEMORY_LIMIT` (bytes) when
/// set, else the smallest of Linux's `MemAvailable` (`/proc/meminfo`) and the
/// room left under a cgroup v2 limit (`/sys/fs/cgroup/memory.max` less
/// `memory.current`); 1 TiB where none of these can be read.
///
/// ```
/// assert!(rnn::memory::available_bytes() > 0);
/// ```
pub fn available_bytes() -> u64 {
    if let Some(v) = std::env::var("RNN_MEMORY_LIMIT")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        return v;
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| mem_available(&s));
    let read = |f: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{f}"))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let cgroup = match (read("memory.max"), read("memory.current")) {
        (Some(max), Some(cur)) => Some(max.saturating_sub(cur)),
        _ => None,
    };
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => FALLBACK,
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next()?.parse().ok()?;
    let scale = match parts.next() {
        Some("kB") | Some("KB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    n.checked_mul(scale)
}

/// A byte count for a person: `512 B`, `3.2 MB`, `16.0 TB` (powers of
/// 1000), and scientific notation past exabytes.
///
/// ```
/// use rnn::memory::human_bytes;
/// assert_eq!(human_bytes(1536.0), "1.5 kB");
/// assert_eq!(human_bytes(4.0e12), "4.0 TB");
/// assert_eq!(human_bytes(7.4e25), "7.4e25 bytes");
/// ```
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if !bytes.is_finite() || bytes >= 1e21 {
        return format!("{bytes:.1e} bytes");
    }
    if bytes < 1000.0 {
        return format!("{bytes:.0} B");
    }
    let mut v = bytes;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

/// When work estimated to need `bytes` does not fit in what the machine has
/// available ([`available_bytes`]): both figures for a person, the need
/// first. Work under 64 MiB always fits (no file is read).
///
/// ```
/// assert_eq!(rnn::memory::shortfall(4096.0), None);
/// let (need, _available) = rnn::memory::shortfall(4.0e18).unwrap();
/// assert_eq!(need, "4.0 EB");
/// ```
pub fn shortfall(bytes: f64) -> Option<(String, String)> {
    if bytes < SMALL {
        return None;
    }
    let available = available_bytes();
    if bytes.is_finite() && bytes <= available as f64 {
        return None;
    }
    Some((human_bytes(bytes), human_bytes(available as f64)))
}

/// Refuses work estimated to need `bytes` when the machine has less
/// available ([`shortfall`]): an [`Error::Memory`] naming `what` (built
/// only then) with both figures.
///
/// ```
/// use rnn::memory::ensure_fits;
/// assert!(ensure_fits(|| "a tiny model".into(), 4096.0).is_ok());
/// let e = ensure_fits(|| "--hidden 1000000".into(), 4.0e18).unwrap_err();
/// assert!(e.to_string().starts_with("--hidden 1000000: needs about 4.0 EB of memory"), "{e}");
/// ```
pub fn ensure_fits(what: impl FnOnce() -> String, bytes: f64) -> Result<()> {
    match shortfall(bytes) {
        None => Ok(()),
        Some((need, available)) => Err(Error::Memory {
            what: what(),
            need,
            available,
        }),
    }
}

/// A buffer of `n` copies of `value`, allocated fallibly as
/// [`try_with_capacity`] does.
///
/// ```
/// let v = rnn::memory::try_filled(|| "buffer".into(), 3, 0.5f32).unwrap();
/// assert_eq!(v, vec![0.5; 3]);
/// assert!(rnn::memory::try_filled(|| "huge".into(), usize::MAX / 2, 0u64).is_err());
/// ```
pub fn try_filled<T: Clone>(what: impl FnOnce() -> String, n: usize, value: T) -> Result<Vec<T>> {
    let mut v = try_with_capacity(what, n)?;
    v.resize(n, value);
    Ok(v)
}

/// An empty buffer with room for `n` values, reserved fallibly (nothing
/// written): an [`Error::Memory`] naming `what` when the `n` values need
/// more than the machine has available ([`shortfall`]; the allocator may
/// promise memory it cannot give, and filling the buffer would then end
/// the process), or when the allocator refuses.
///
/// ```
/// let v: Vec<u8> = rnn::memory::try_with_capacity(|| "buffer".into(), 10).unwrap();
/// assert!(v.is_empty() && v.capacity() >= 10);
/// assert!(rnn::memory::try_with_capacity::<u64>(|| "huge".into(), usize::MAX / 2).is_err());
/// ```
pub fn try_with_capacity<T>(what: impl FnOnce() -> String, n: usize) -> Result<Vec<T>> {
    let bytes = n as f64 * std::mem::size_of::<T>() as f64;
    if let Some((need, available)) = shortfall(bytes) {
        return Err(Error::Memory {
            what: what(),
            need,
            available,
        });
    }
    let mut v = Vec::new();
    if v.try_reserve_exact(n).is_err() {
        return Err(Error::Memory {
            what: what(),
            need: human_bytes(bytes),
            available: human_bytes(available_bytes() as f64),
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available_in_kilobytes() {
        let text = "MemTotal:       24684092 kB\nMemFree:  100 kB\nMemAvailable:   23555572 kB\n";
        assert_eq!(mem_available(text), Some(23_555_572 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(mem_available("MemAvailable: x kB\n"), None);
    }

    #[test]
    fn figures_for_a_person() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1.0e9), "1.0 GB");
        assert_eq!(human_bytes(22.5e9), "22.5 GB");
        assert_eq!(human_bytes(f64::INFINITY), "inf bytes");
    }
}

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

/// The bytes the process can still allocate: `RNN_MEMORY_LIMIT` when set
/// (and readable: [`limit_setting`]), else the smallest of Linux's
/// `MemAvailable` (`/proc/meminfo`), the room left under a cgroup v2 limit
/// (`/sys/fs/cgroup/memory.max` less `memory.current`) and the room left
/// under the process's address-space limit (`ulimit -v`: the soft "Max
/// address space" of `/proc/self/limits` less `VmSize` of
/// `/proc/self/status`); 1 TiB where none of these can be read.
///
/// ```
/// assert!(rnn::memory::available_bytes() > 0);
/// ```
pub fn available_bytes() -> u64 {
    if let Ok(Some(v)) = limit_setting() {
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
    // under `ulimit -v` an allocation past the limit fails however much
    // memory the machine has: a training of 16 GB estimated under a limit
    // of 8 GB aborted writing its checkpoint (the CLI sweep of session 55)
    let address = match (
        std::fs::read_to_string("/proc/self/limits").ok(),
        std::fs::read_to_string("/proc/self/status").ok(),
    ) {
        (Some(limits), Some(status)) => address_space_room(&limits, &status),
        _ => None,
    };
    [meminfo, cgroup, address]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(FALLBACK)
}

/// `RNN_MEMORY_LIMIT` read: `None` when it is not set, an error naming it
/// when it is set to something other than a byte count (a number, `8e9`,
/// or one with a unit: `8GB`, `8 GiB`, `500MB`, `kB`/`MB`/`GB`/`TB` in
/// powers of 1000, `KiB`/`MiB`/`GiB`/`TiB` in powers of 1024). An
/// unreadable value was ignored without a word, and the work it was meant
/// to bound ran unbounded.
///
/// ```
/// use rnn::memory::parse_byte_count;
/// assert_eq!(parse_byte_count("8000000000"), Some(8_000_000_000));
/// assert_eq!(parse_byte_count("8e9"), Some(8_000_000_000));
/// assert_eq!(parse_byte_count(" 1.5 GiB "), Some(3 << 29));
/// assert_eq!(parse_byte_count("-5"), None);
/// ```
pub fn limit_setting() -> Result<Option<u64>> {
    let Some(raw) = std::env::var_os("RNN_MEMORY_LIMIT") else {
        return Ok(None);
    };
    let text = raw.to_string_lossy();
    match parse_byte_count(&text) {
        Some(v) => Ok(Some(v)),
        None => Err(Error::Argument {
            arg: "RNN_MEMORY_LIMIT".into(),
            expected: "a byte count such as 8000000000, 8e9, 8GB or 8GiB".into(),
            got: format!("{text:?}"),
        }),
    }
}

/// A byte count as [`limit_setting`] reads it, or `None`.
pub fn parse_byte_count(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let v: f64 = number.trim().parse().ok()?;
    let bytes = v * scale;
    // u64::MAX as f64 rounds up to 2^64, which does not fit
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then(|| bytes.round() as u64)
}

/// The room left under the soft address-space limit of a
/// `/proc/self/limits` text, given the `VmSize` of a `/proc/self/status`
/// text: `None` when unlimited or unreadable.
fn address_space_room(limits: &str, status: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line["Max address space".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?; // "unlimited" does not parse
    let size = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let mut parts = size["VmSize:".len()..].split_whitespace();
    let kb: u64 = parts.next()?.parse().ok()?;
    if parts.next() != Some("kB") {
        return None;
    }
    Some(soft.saturating_sub(kb.saturating_mul(1024)))
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
    limit_setting()?;
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
    limit_setting()?;
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

    /// `ulimit -v 8000000` (KiB) is 8,192,000,000 bytes; a process of
    /// 1,000,000 kB of `VmSize` has 8,192,000,000 - 1,024,000,000 left.
    #[test]
    fn reads_the_room_under_an_address_space_limit() {
        let head =
            "Limit                     Soft Limit           Hard Limit           Units     \n";
        let limited = format!(
            "{head}Max stack size            8388608              unlimited            bytes     \n\
             Max address space         8192000000           8192000000           bytes     \n"
        );
        let status = "Name:\trnn\nVmPeak:\t 2000000 kB\nVmSize:\t 1000000 kB\n";
        assert_eq!(
            address_space_room(&limited, status),
            Some(8_192_000_000 - 1_024_000_000)
        );
        let unlimited = format!(
            "{head}Max address space         unlimited            unlimited            bytes     \n"
        );
        assert_eq!(address_space_room(&unlimited, status), None);
        // a process already past its limit has no room, not a wrapped figure
        assert_eq!(
            address_space_room(&limited, "VmSize:\t 9000000 kB\n"),
            Some(0)
        );
        assert_eq!(address_space_room(&limited, "VmSize:\t 9000000 MB\n"), None);
    }

    #[test]
    fn byte_counts_with_and_without_units() {
        assert_eq!(parse_byte_count("1000000000"), Some(1_000_000_000));
        assert_eq!(parse_byte_count("1e9"), Some(1_000_000_000));
        assert_eq!(parse_byte_count("1GB"), Some(1_000_000_000));
        assert_eq!(parse_byte_count("2 MiB"), Some(2 << 20));
        assert_eq!(parse_byte_count(" 100000000 "), Some(100_000_000));
        assert_eq!(parse_byte_count("0"), Some(0));
        for bad in [
            "abc", "-5", "nan", "inf", "1e300", "", "GB", "8 GiBs", "1.5.2",
        ] {
            assert_eq!(parse_byte_count(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn figures_for_a_person() {
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1.0e9), "1.0 GB");
        assert_eq!(human_bytes(22.5e9), "22.5 GB");
        assert_eq!(human_bytes(f64::INFINITY), "inf bytes");
    }
}

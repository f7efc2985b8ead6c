//! The CPU's cache sizes, as the kernels' choices need them.

/// The bytes of one core's level-2 cache: read once from Linux's
/// `/sys/devices/system/cpu/cpu0/cache` (the unified or data cache of level
/// 2), else 1 MiB (the smallest of the machines measured with more than
/// 512 KiB, and a size no layer choice depends on to the byte).
///
/// ```
/// assert!(rnn::kernels::l2_bytes() >= 64 << 10);
/// ```
pub fn l2_bytes() -> usize {
    static L2: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *L2.get_or_init(|| read_l2().filter(|&b| b >= 64 << 10).unwrap_or(1 << 20))
}

/// The level-2 size from sysfs, when it can be read.
fn read_l2() -> Option<usize> {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let read = |f: &str| std::fs::read_to_string(entry.path().join(f)).ok();
        let level = read("level").map(|s| s.trim().to_string());
        let kind = read("type").map(|s| s.trim().to_string());
        if level.as_deref() == Some("2") && kind.as_deref() != Some("Instruction") {
            return parse_size(read("size")?.trim());
        }
    }
    None
}

/// A sysfs cache size (`2048K`, `1M`, `512`) in bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, scale) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 1 << 10),
        b'M' | b'm' => (&s[..s.len() - 1], 1 << 20),
        b'G' | b'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits.parse::<usize>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sysfs_sizes_are_read_in_bytes() {
        assert_eq!(parse_size("2048K"), Some(2 << 20));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("12Q"), None);
    }
}

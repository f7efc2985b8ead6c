//! Helpers shared by the library's test files (each file uses some of them).
#![allow(dead_code)]

use rnn::Float;

/// The largest `|a - b| / max(1, |b|)` over two equally long slices (the
/// relative error, absolute below 1).
pub fn max_rel<T: Float>(a: &[T], b: &[T]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.f64() - y.f64()).abs() / y.f64().abs().max(1.0))
        .fold(0.0, f64::max)
}

/// A safetensors file's bytes with the JSON held in metadata value `key`
/// edited by `edit`, its checksums made to fit (`rnn::io::reseal`), so the
/// checks of the values behind them run.
pub fn edit_metadata(
    bytes: &[u8],
    key: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut h: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(h["__metadata__"][key].as_str().unwrap()).unwrap();
    edit(&mut v);
    h["__metadata__"][key] = v.to_string().into();
    let header = serde_json::to_vec(&h).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&bytes[8 + n..]);
    rnn::io::reseal(&out).unwrap()
}

/// A text of about 6,000 characters: words of a small vocabulary in an
/// order drawn by a linear congruential generator from `seed`.
pub fn words(seed: usize) -> rnn::tasks::lm::Corpus {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran ",
    ];
    let (mut s, mut k) = (String::new(), seed);
    while s.len() < 6000 {
        k = k.wrapping_mul(1103515245).wrapping_add(12345) % 2147483648;
        s.push_str(words[k % words.len()]);
    }
    rnn::tasks::lm::Corpus::new("words.txt", s)
}

/// The thread count held by one test: `rnn::kernels::set_threads` is
/// process-wide and the tests of a file run side by side, so a test that
/// compares one thread's bits with two threads' saw another test's count
/// change under it (CI, `a_reused_inference_gives_the_bits_of_a_fresh_one_
/// across_split_calls`: a batch split in one call and not in the other, one
/// ulp apart). Every test of a file that sets the count takes this first and
/// keeps it to its end; dropped, it sets one thread again.
pub struct ThreadsHeld(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

/// Waits for the other tests of this binary to give the thread count back,
/// then holds it (one thread set) until the returned guard is dropped.
pub fn threads_held() -> ThreadsHeld {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // a test that failed while holding it poisoned it: the count is still ours
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    rnn::kernels::set_threads(1);
    ThreadsHeld(guard)
}

impl Drop for ThreadsHeld {
    fn drop(&mut self) {
        rnn::kernels::set_threads(1);
    }
}

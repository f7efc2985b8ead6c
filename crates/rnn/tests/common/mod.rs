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

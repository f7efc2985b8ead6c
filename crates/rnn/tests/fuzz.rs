//! Fuzzing every parser of user files with mutated inputs: model files
//! (safetensors: header, metadata, tensor bytes; then the language-model,
//! tagger and forecaster loaders on top), CoNLL, plain text for tagging,
//! CSV series and PyTorch `.pt` archives. Each must return `Ok` or an
//! `rnn::Error`, never panic, abort or hang.
//!
//! cargo-fuzz needs a nightly toolchain and a separate crate; this harness
//! runs on stable inside `cargo test`: a seeded mutator (bit flips,
//! interesting bytes and numbers, deletions, duplications, splices) over
//! valid seed inputs. Model files are also mutated structurally (header JSON
//! edited, checksum recomputed) so the loaders past the checksum are reached.
//!
//! - `cargo test --release -p rnn --test fuzz` runs a short pass (CI);
//! - `RNN_FUZZ_ITERS=250000 cargo test --release -p rnn --test fuzz -- --ignored --nocapture`
//!   runs 250,000 inputs per target (1.25 million in all).
//!
//! A panicking input is written to `$TMPDIR/rnn-fuzz-crash-<target>.bin`.

use rnn::io::model_file::ModelFile;
use rnn::io::TensorFile;
use rnn::tasks::forecast::{Fill, Series, Table, TimeColumn};
use rnn::tasks::lm::{Corpus, LanguageModel, LmData, Vocab};
use rnn::tasks::tag::data::{parse_conll, parse_plain};
use rnn::tasks::tag::{Sentence, Tagger, TaggerOptions};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// xorshift64*: a small deterministic generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1e308",
    b"-1e308",
    b"NaN",
    b"inf",
    b"-inf",
    b"1e-320",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"9223372036854775807",
    b"\"",
    b",",
    b"\t",
    b"\n",
    b"\r\n",
    b" ",
    b"\"\"",
    b"{}",
    b"[]",
    b"null",
    b"\xff\xfe",
    b"\xc3",
    b"\xe2\x82",
    b"\0",
    b"B-",
    b"I-",
    b"O",
];

/// One random mutation of `data`, in place.
fn mutate(data: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>]) {
    let n = data.len();
    match rng.below(9) {
        0 if n > 0 => {
            let i = rng.below(n);
            data[i] ^= 1 << rng.below(8);
        }
        1 if n > 0 => {
            let i = rng.below(n);
            data[i] = [0u8, 0xff, 0x7f, 0x80, b'9', b'-', b'.', b'e'][rng.below(8)];
        }
        2 if n > 0 => {
            let (i, len) = (rng.below(n), 1 + rng.below(16));
            data.drain(i..(i + len).min(n));
        }
        3 => {
            let i = rng.below(n + 1);
            let s = INTERESTING[rng.below(INTERESTING.len())];
            data.splice(i..i, s.iter().copied());
        }
        4 if n > 0 => {
            // duplicate a chunk (repeated lines, columns, tensors)
            let (i, len) = (rng.below(n), 1 + rng.below(64));
            let chunk: Vec<u8> = data[i..(i + len).min(n)].to_vec();
            let j = rng.below(n + 1);
            data.splice(j..j, chunk);
        }
        5 if n > 0 => {
            // replace a run of digits with an interesting number
            let i = rng.below(n);
            if let Some(start) = (i..n).find(|&k| data[k].is_ascii_digit()) {
                let end = (start..n).find(|&k| !data[k].is_ascii_digit()).unwrap_or(n);
                let s = INTERESTING[rng.below(11)];
                data.splice(start..end, s.iter().copied());
            }
        }
        6 if !corpus.is_empty() => {
            // splice with another seed
            let other = &corpus[rng.below(corpus.len())];
            if !other.is_empty() {
                let (a, b) = (rng.below(n + 1), rng.below(other.len()));
                data.truncate(a);
                data.extend_from_slice(&other[b..]);
            }
        }
        7 if n > 0 => data.truncate(rng.below(n)),
        _ => {
            let i = rng.below(n + 1);
            data.insert(i, rng.next() as u8);
        }
    }
}

/// A safetensors file's header JSON and tensor bytes.
fn split_safetensors(bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let n = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header = bytes.get(8..8usize.checked_add(n)?)?.to_vec();
    Some((header, bytes[8 + n..].to_vec()))
}

/// A safetensors file from a header (its `checksum` set to that of `data`
/// when it has one) and tensor bytes.
fn join_safetensors(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut header = header.to_vec();
    if let Ok(mut h) = serde_json::from_slice::<serde_json::Value>(&header) {
        let sum: String = Sha256::digest(data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(m) = h.get_mut("__metadata__").and_then(|m| m.as_object_mut()) {
            m.insert("checksum".into(), format!("sha256:{sum}").into());
            header = serde_json::to_vec(&h).unwrap();
        }
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// Mutates a model file: half the time its raw bytes, else its header
/// (metadata values: configs, vocabularies) or tensor bytes with the
/// checksum recomputed so the loaders behind it are reached.
fn mutate_model(bytes: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>]) {
    if rng.below(2) == 0 {
        return mutate(bytes, rng, corpus);
    }
    let Some((mut header, mut data)) = split_safetensors(bytes) else {
        return mutate(bytes, rng, corpus);
    };
    if rng.below(4) == 0 {
        mutate(&mut data, rng, &[]);
    } else if let Ok(mut h) = serde_json::from_slice::<serde_json::Value>(&header) {
        // edit inside a metadata value (a JSON string holding JSON)
        let meta = h.get_mut("__metadata__").and_then(|m| m.as_object_mut());
        if let Some(m) = meta.filter(|m| !m.is_empty()) {
            let keys: Vec<String> = m.keys().cloned().collect();
            let k = &keys[rng.below(keys.len())];
            let mut v = m[k].as_str().unwrap_or("").as_bytes().to_vec();
            for _ in 0..1 + rng.below(3) {
                mutate(&mut v, rng, &[]);
            }
            m.insert(k.clone(), String::from_utf8_lossy(&v).into_owned().into());
        } else {
            mutate(&mut header, rng, &[]);
        }
        header = serde_json::to_vec(&h).unwrap();
    } else {
        mutate(&mut header, rng, &[]);
    }
    *bytes = join_safetensors(&header, &data);
}

/// Loads a model file's bytes the way every command does, then as each
/// task's model (whatever its task metadata says).
fn load_model(bytes: &[u8]) -> bool {
    let dir = Path::new("fuzz-model");
    let Ok(f) = TensorFile::from_bytes(dir.join("model.safetensors"), bytes.to_vec()) else {
        return false;
    };
    let Ok(mf) = ModelFile::from_tensor_file(f) else {
        return false;
    };
    if let Ok(lm) = LanguageModel::from_file(mf.clone(), dir) {
        let _ = lm.evaluate("ab", "text");
    }
    let _ = rnn::tasks::forecast::ForecastMeta::from_file(&mf, dir);
    if let Ok(t) = Tagger::from_model_file(dir, mf) {
        let _ = t.tag(&["a", "B"]);
    }
    true
}

fn seeds_model() -> Vec<Vec<u8>> {
    let tmp = std::env::temp_dir().join(format!("rnn-fuzz-seeds-{}", std::process::id()));
    let mut out = Vec::new();
    // a language model
    let text = Corpus::new("t.txt", "the cat sat on the mat. ".repeat(20));
    let lm_cfg = rnn::tasks::lm::TrainConfig {
        hidden: 4,
        seq_len: 4,
        batch: 2,
        eval_every: 2,
        ..Default::default()
    };
    let lm_dir = tmp.join("lm");
    rnn::tasks::lm::Trainer::new(lm_cfg, &text, &lm_dir)
        .unwrap()
        .fit(rnn::tasks::Budget::Steps(2), &mut ())
        .unwrap();
    out.push(std::fs::read(lm_dir.join("model.safetensors")).unwrap());
    out.push(std::fs::read(lm_dir.join("train_state.safetensors")).unwrap());
    // a tagger
    let s = |w: &str, t: &str| Sentence {
        tokens: w.split(' ').map(String::from).collect(),
        tags: t.split(' ').map(String::from).collect(),
        line: 1,
    };
    let train = vec![
        s("I like apple", "O O B-fruit"),
        s("The Apple is", "O B-corp O"),
    ];
    let mut opts = TaggerOptions::default();
    opts.rnn.hidden_size = 4;
    opts.word_dim = 4;
    let tagger = Tagger::new(&train, &opts, 1).unwrap();
    let tag_dir = tmp.join("tag");
    tagger.save(&tag_dir, Default::default()).unwrap();
    out.push(std::fs::read(tag_dir.join("model.safetensors")).unwrap());
    // a forecaster
    let values: Vec<f64> = (0..40).map(|i| (i as f64 * 0.5).sin()).collect();
    let mut cfg = rnn::tasks::forecast::TrainConfig::new("v", 4, 4);
    cfg.hidden = 4;
    let fc_dir = tmp.join("fc");
    rnn::tasks::forecast::Trainer::from_series(cfg, Series::from_values("s", values), &fc_dir)
        .unwrap()
        .fit(rnn::tasks::Budget::Epochs(1), &mut ())
        .unwrap();
    out.push(std::fs::read(fc_dir.join("model.safetensors")).unwrap());
    std::fs::remove_dir_all(&tmp).unwrap();
    out
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(name)
}

/// The targets: a name, the seed inputs, the mutator and what runs on an input.
type Target = (
    &'static str,
    Vec<Vec<u8>>,
    fn(&mut Vec<u8>, &mut Rng, &[Vec<u8>]),
    fn(&[u8]) -> bool,
);

fn targets() -> Vec<Target> {
    let conll = b"EU\tNNP\tB-ORG\nrejects\tVBZ\tO\nGerman\tJJ\tB-MISC\n\nPeter\tNNP\tB-PER\nBlackburn\tNNP\tI-PER\n".to_vec();
    let csv = b"month,passengers,temp\n1949-01,112,3.5\n1949-02,118,\"4.0\"\n1949-03,132,7\n1949-04,129,\n1949-05,121,12\n".to_vec();
    let text = "Call me Ishmael. Some years ago\u{2014}never mind how long precisely\u{2014}\n"
        .as_bytes()
        .to_vec();
    let pts: Vec<Vec<u8>> = ["elman_relu_2layer.pt", "gru_1layer.pt"]
        .iter()
        .filter_map(|f| std::fs::read(fixture(f)).ok())
        .collect();
    assert!(!pts.is_empty(), "the .pt fixtures are missing");
    vec![
        ("model", seeds_model(), mutate_model, load_model),
        ("conll", vec![conll], mutate, |b| {
            let text = String::from_utf8_lossy(b);
            let p = Path::new("fuzz.conll");
            if let Ok(s) = parse_conll(p, &text, true) {
                if !s.is_empty() {
                    let mut opts = TaggerOptions::default();
                    opts.rnn.hidden_size = 2;
                    (opts.word_dim, opts.affix_dim, opts.shape_dim) = (2, 2, 2);
                    if let Ok(t) = Tagger::new(&s, &opts, 0) {
                        let _ = t.tag(&["x"]);
                    }
                }
            }
            parse_conll(p, &text, false).is_ok()
        }),
        ("text", vec![text.clone()], mutate, |b| {
            let Ok(s) = std::str::from_utf8(b) else {
                return false;
            };
            let p = Path::new("fuzz.txt");
            let _ = parse_plain(p, s);
            let v = Vocab::from_text(s);
            let _ = v.encode(s, "text");
            LmData::new(s, p, 0.1, 4, 2).is_ok()
        }),
        ("csv", vec![csv], mutate, |b| {
            let text = String::from_utf8_lossy(b);
            let Ok(t) = Table::parse(Path::new("fuzz.csv"), &text) else {
                return false;
            };
            for fill in [Fill::None, Fill::Linear] {
                let _ = Series::from_table(
                    &t,
                    "passengers",
                    &["temp".to_string()],
                    &TimeColumn::Auto,
                    fill,
                );
            }
            true
        }),
        ("pt", pts, mutate, |b| {
            rnn::interop::pickle::read_pt_bytes(Path::new("fuzz.pt"), b).is_ok()
        }),
    ]
}

/// Runs `iters` mutated inputs through every target; returns the count.
fn fuzz(iters: u64, seed: u64) -> u64 {
    let mut total = 0;
    for (name, corpus, mutator, run) in targets() {
        let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
        let (mut pool, mut accepted) = (corpus.clone(), 0u64);
        for i in 0..iters {
            let mut input = pool[rng.below(pool.len())].clone();
            for _ in 0..1 + rng.below(4) {
                mutator(&mut input, &mut rng, &corpus);
            }
            let ok = std::panic::catch_unwind(|| run(&input));
            accepted += u64::from(matches!(ok, Ok(true)));
            if ok.is_err() {
                let path = std::env::temp_dir().join(format!("rnn-fuzz-crash-{name}.bin"));
                std::fs::write(&path, &input).unwrap();
                panic!("{name}: input {i} panicked; written to {}", path.display());
            }
            // keep a few mutants around so mutations stack up
            if i % 64 == 0 && pool.len() < 64 {
                pool.push(input);
            }
            total += 1;
        }
        eprintln!("fuzz {name}: {iters} inputs, {accepted} accepted by the parser, no panic");
    }
    total
}

#[test]
fn parsers_never_panic_on_mutated_files() {
    assert_eq!(fuzz(1500, 1), 5 * 1500);
}

#[test]
#[ignore = "long: RNN_FUZZ_ITERS inputs per target (default 250,000)"]
fn parsers_never_panic_long() {
    let iters = std::env::var("RNN_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(250_000);
    let seed = std::env::var("RNN_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let n = fuzz(iters, seed);
    eprintln!("fuzz: {n} executions in all, no panic");
}

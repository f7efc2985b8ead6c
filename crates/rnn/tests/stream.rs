//! `Stream`: feeding a sequence in chunks (of any sizes, one step at a time
//! included) gives the outputs and final state of one forward pass over the
//! whole sequence, for every cell, stacked layers, ids and dense inputs, one
//! and several streams; bad input is an error; a saved state comes back
//! only for its own model.

use rand::SeedableRng;
use rnn::nn::cell::{Activation, CellKind};
use rnn::nn::loss::OutputKind;
use rnn::{Batch, Error, Input, Model, ModelConfig, State, Stream};
mod common;
use common::max_rel;

const CELLS: [CellKind; 5] = [
    CellKind::Elman {
        activation: Activation::Tanh,
    },
    CellKind::Elman {
        activation: Activation::Relu,
    },
    CellKind::Elman {
        activation: Activation::Sigmoid,
    },
    CellKind::Lstm,
    CellKind::Gru,
];

/// Ways to cut T = 13 steps into chunks.
const SPLITS: [&[usize]; 4] = [&[13], &[1; 13], &[4, 1, 5, 3], &[2, 6, 1, 1, 3]];
const T: usize = 13;
const I: usize = 5;

fn model(cell: CellKind, layers: usize, seed: u64) -> Model<f64> {
    let config = ModelConfig {
        cell,
        num_layers: layers,
        ..ModelConfig::elman(I, 6, 4)
    };
    Model::new(config, seed).expect("valid config")
}

/// Inputs `[T, B]` ids and `[T, B, I]` dense values, deterministic.
fn inputs(batch: usize) -> (Vec<usize>, Vec<f64>) {
    let ids = (0..T * batch).map(|r| (r * 7 + 2) % I).collect();
    let dense = (0..T * batch * I)
        .map(|k| ((k * 37 % 23) as f64 / 11.0 - 1.0) * 0.9)
        .collect();
    (ids, dense)
}

/// Some non-zero initial state `[L, B, H]` for `model`.
fn some_state(model: &Model<f64>, batch: usize) -> State<f64> {
    let mut s = model.zero_state(batch);
    for (k, v) in s.h.iter_mut().enumerate() {
        *v = ((k * 13 % 7) as f64 - 3.0) / 5.0;
    }
    for (k, v) in s.c.iter_mut().enumerate() {
        *v = ((k * 5 % 9) as f64 - 4.0) / 3.0;
    }
    s
}

#[test]
fn chunks_equal_one_call_over_their_concatenation() {
    let mut cases = 0;
    for (ci, cell) in CELLS.into_iter().enumerate() {
        for layers in [1, 2] {
            let m = model(cell, layers, 10 + ci as u64);
            let o = m.config.output_size;
            for batch in [1, 3] {
                let (ids, dense) = inputs(batch);
                let row = batch * I; // dense values per step
                for dense_input in [false, true] {
                    for from_state in [false, true] {
                        let x = if dense_input {
                            Input::Dense(&dense)
                        } else {
                            Input::Ids(&ids)
                        };
                        let s0 = some_state(&m, batch);
                        // one forward pass over all T steps (the training path)
                        let mut whole = Batch::new(x, T, batch);
                        if from_state {
                            whole = whole.with_state(&s0);
                        }
                        let fwd = m.forward(whole).unwrap();
                        let want_state = m.final_state(&fwd);
                        for split in SPLITS {
                            let mut s = Stream::batched(&m, batch).unwrap();
                            if from_state {
                                s = s.with_state(s0.clone()).unwrap();
                            }
                            let mut got = Vec::new();
                            let mut t0 = 0;
                            for &n in split {
                                let out = if dense_input {
                                    let chunk = &dense[t0 * row..(t0 + n) * row];
                                    if n == 1 {
                                        s.step(Input::Dense(chunk)).unwrap()
                                    } else {
                                        s.feed(Input::Dense(chunk)).unwrap()
                                    }
                                } else {
                                    let chunk = &ids[t0 * batch..(t0 + n) * batch];
                                    if n == 1 {
                                        s.step(Input::Ids(chunk)).unwrap()
                                    } else {
                                        s.feed(Input::Ids(chunk)).unwrap()
                                    }
                                };
                                assert_eq!(out.len(), n * batch * o, "[T, B, O]");
                                got.extend_from_slice(out);
                                t0 += n;
                            }
                            let what = format!(
                                "{} L={layers} B={batch} dense={dense_input} h0={from_state} split={split:?}",
                                cell.name()
                            );
                            assert!(max_rel(&got, &fwd.logits) < 1e-12, "logits {what}");
                            assert!(max_rel(&s.state().h, &want_state.h) < 1e-12, "h {what}");
                            assert!(max_rel(&s.state().c, &want_state.c) < 1e-12, "c {what}");
                            // the readout of the carried state is the last step's logits
                            let last = &fwd.logits[(T - 1) * batch * o..];
                            assert!(max_rel(s.logits(), last) < 1e-12, "last {what}");
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 5 * 2 * 2 * 2 * 2 * SPLITS.len());
}

#[test]
fn streams_of_different_lengths_carry_on_from_their_own_last_step() {
    // three streams fed two padded chunks: stream b reads the first
    // lengths[b] steps of each chunk; each must equal a forward pass over
    // its own valid steps only
    let lens = [[3, 1, 4], [2, 4, 1]];
    for cell in [CellKind::Lstm, CellKind::Gru, CELLS[0]] {
        let m = model(cell, 2, 5);
        let (b, o, h) = (3, m.config.output_size, m.config.hidden_size);
        let ids: Vec<Vec<usize>> = (0..2)
            .map(|c| (0..4 * b).map(|r| (r * 3 + c + 1) % I).collect())
            .collect();
        let mut s = Stream::batched(&m, b).unwrap();
        let mut outs = Vec::new();
        for (chunk, l) in ids.iter().zip(&lens) {
            outs.push(s.feed_with_lengths(Input::Ids(chunk), l).unwrap().to_vec());
        }
        for stream in 0..b {
            let own: Vec<usize> = (0..2)
                .flat_map(|c| (0..lens[c][stream]).map(move |t| (c, t)))
                .map(|(c, t)| ids[c][t * b + stream])
                .collect();
            let fwd = m
                .forward(Batch::new(Input::Ids(&own), own.len(), 1))
                .unwrap();
            let mut got = Vec::new();
            for (c, out) in outs.iter().enumerate() {
                for t in 0..4 {
                    let row = &out[(t * b + stream) * o..(t * b + stream + 1) * o];
                    if t < lens[c][stream] {
                        got.extend_from_slice(row);
                    } else {
                        assert!(row.iter().all(|&v| v == 0.0), "padding is zero");
                    }
                }
            }
            assert!(max_rel(&got, &fwd.logits) < 1e-12, "{}", cell.name());
            let want = m.final_state(&fwd);
            for k in 0..2 {
                let hs = &s.state().h[(k * b + stream) * h..(k * b + stream + 1) * h];
                assert!(max_rel(hs, &want.h[k * h..(k + 1) * h]) < 1e-12);
            }
            let last = &fwd.logits[(own.len() - 1) * o..];
            assert!(max_rel(&s.logits()[stream * o..(stream + 1) * o], last) < 1e-12);
        }
    }
}

#[test]
fn reset_and_readout_of_the_zero_state() {
    let m = model(CellKind::Gru, 2, 1);
    let mut s = Stream::batched(&m, 2).unwrap();
    let bias = m.param("head.bias").unwrap().to_vec();
    // o = V 0 + c = c for every stream
    assert_eq!(s.logits(), [bias.clone(), bias.clone()].concat());
    s.feed(Input::Ids(&[1, 2, 3, 4])).unwrap();
    assert!(s.state().h.iter().any(|&v| v != 0.0));
    s.reset();
    assert_eq!(s.state(), &m.zero_state(2));
    assert_eq!(s.logits(), [bias.clone(), bias].concat());
    // probabilities: softmax of each row
    s.step(Input::Ids(&[0, 3])).unwrap();
    let p = s.probabilities().unwrap();
    let o = m.config.output_size;
    for (prow, lrow) in p.chunks(o).zip(s.logits().chunks(o)) {
        let z: f64 = lrow.iter().map(|v| v.exp()).sum();
        for (pi, li) in prow.iter().zip(lrow) {
            assert!((pi - li.exp() / z).abs() < 1e-15);
        }
    }
}

#[test]
fn generate_feeds_its_draws_and_repeats_with_the_seed() {
    let m = Model::<f64>::new(
        ModelConfig {
            cell: CellKind::Lstm,
            ..ModelConfig::elman(I, 8, I)
        },
        4,
    )
    .unwrap();
    let start = [2, 0, 4];
    let run = |seed: u64| {
        let mut s = Stream::new(&m).unwrap();
        s.feed(Input::Ids(&start)).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let drawn = s.generate(20, 0.8, &mut rng).unwrap();
        (drawn, s.state().clone())
    };
    let (a, state_a) = run(3);
    let (b, _) = run(3);
    assert_eq!(a, b, "same seed, same draws");
    assert_eq!(a.len(), 20);
    assert!(state_a.h.iter().any(|&v| v != 0.0), "the stream moved on");
    assert!(a.iter().all(|&id| id < I));
    // the state after generating is the state after feeding the draws
    let mut fed = Stream::new(&m).unwrap();
    fed.feed(Input::Ids(&[&start[..], &a[..]].concat()))
        .unwrap();
    assert!(max_rel(&fed.state().h, &state_a.h) < 1e-12);
    assert!(max_rel(&fed.state().c, &state_a.c) < 1e-12);
    // a very low temperature picks the most likely class
    let mut s = Stream::new(&m).unwrap();
    s.feed(Input::Ids(&start)).unwrap();
    let l = s.logits().to_vec();
    let argmax = (0..I).max_by(|&i, &j| l[i].total_cmp(&l[j])).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    assert_eq!(s.generate(1, 1e-6, &mut rng).unwrap(), [argmax]);
    // more steps than memory can hold: an error naming them, not an abort,
    // and the stream where it was
    let before = s.state().h.clone();
    err_mentions(
        s.generate(usize::MAX / 2, 1.0, &mut rng),
        "steps of 1 stream(s)",
    );
    err_mentions(s.generate(1 << 50, 1.0, &mut rng), "1125899906842624 steps");
    assert_eq!(s.state().h, before);
}

/// The error's message, which must mention `needle`.
fn err_mentions<V: std::fmt::Debug>(r: rnn::Result<V>, needle: &str) {
    let e = r.expect_err(needle).to_string();
    assert!(e.contains(needle), "{e:?} should mention {needle:?}");
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let m = model(CellKind::Lstm, 2, 2);
    let bi = Model::<f64>::new(
        ModelConfig {
            bidirectional: true,
            ..m.config.clone()
        },
        0,
    )
    .unwrap();
    err_mentions(Stream::new(&bi), "\"bidirectional\":true");
    err_mentions(Stream::batched(&m, 0), "at least 1");
    let mut broken = m.clone();
    broken.params.pop();
    err_mentions(Stream::new(&broken), "model parameters");

    let mut s = Stream::batched(&m, 2).unwrap();
    err_mentions(s.step(Input::Ids(&[1])), "[B] = [2]");
    err_mentions(s.step(Input::Ids(&[1, 5])), "< I = 5");
    err_mentions(s.step(Input::Dense(&[0.0; 9])), "[B, I] = [2, 5]");
    err_mentions(s.feed(Input::Ids(&[])), "T >= 1");
    err_mentions(s.feed(Input::Ids(&[0, 1, 2])), "[T, B] = [T, 2]");
    err_mentions(s.feed(Input::Dense(&[0.0; 15])), "[T, B, I] = [T, 2, 5]");
    err_mentions(s.feed(Input::Ids(&[0, 1, 2, 7])), "step 1, stream 1");
    let ids = [0, 1, 2, 3];
    err_mentions(s.feed_with_lengths(Input::Ids(&ids), &[1]), "lengths");
    err_mentions(s.feed_with_lengths(Input::Ids(&ids), &[0, 2]), "in 1..=2");
    err_mentions(s.feed_with_lengths(Input::Ids(&ids), &[1, 3]), "in 1..=2");
    // a failed call leaves the stream as it was
    assert_eq!(s.state(), &m.zero_state(2));

    let good = some_state(&m, 2);
    let mut short = good.clone();
    short.h.pop();
    err_mentions(s.clone().with_state(short), "[L, B, H] = [2, 2, 6]");
    let no_c = State {
        c: Vec::new(),
        ..good.clone()
    };
    err_mentions(s.clone().with_state(no_c), "'c'");
    let mut nan = good.clone();
    nan.c[3] = f64::NAN;
    err_mentions(
        s.clone().with_state(nan),
        "state.c[3]: expected a finite value, got NaN",
    );
    let gru = model(CellKind::Gru, 2, 2);
    err_mentions(
        Stream::batched(&gru, 2).unwrap().with_state(good.clone()),
        "no c",
    );
    assert!(s.set_state(good).is_ok());

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    err_mentions(s.generate(3, 1.0, &mut rng), "O = 4 and I = 5");
    let lm = Model::<f64>::new(ModelConfig::elman(4, 3, 4), 0).unwrap();
    let mut s = Stream::new(&lm).unwrap();
    err_mentions(s.generate(3, 0.0, &mut rng), "temperature");
    err_mentions(s.generate(3, f64::NAN, &mut rng), "temperature");
    let reg = Model::<f64>::new(
        ModelConfig {
            output: OutputKind::Identity,
            ..ModelConfig::elman(4, 3, 4)
        },
        0,
    )
    .unwrap();
    let s = Stream::new(&reg).unwrap();
    err_mentions(s.probabilities(), "softmax");
}

#[test]
fn a_saved_state_comes_back_for_its_own_model_only() {
    let dir = std::env::temp_dir().join(format!("rnn-stream-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.safetensors");
    let m = model(CellKind::Lstm, 2, 8);
    let mut s = Stream::batched(&m, 3).unwrap();
    s.feed(Input::Ids(&[0, 1, 2, 3, 4, 0])).unwrap();
    s.save(&path).unwrap();

    let back = Stream::load(&m, &path).unwrap();
    assert_eq!(back.batch(), 3);
    assert_eq!(back.state(), s.state(), "f64 state saved exactly");
    // the loaded stream's readout is the last logits of the original
    assert!(max_rel(back.logits(), s.logits()) < 1e-12);
    let (opened, from_file) = Stream::open(&m, &path).unwrap();
    assert!(from_file && opened.state() == s.state());
    // and it carries on as the original does
    let (mut a, mut b) = (s.clone(), back);
    let next = [4, 4, 1];
    assert_eq!(
        a.step(Input::Ids(&next)).unwrap(),
        b.step(Input::Ids(&next)).unwrap()
    );

    // another model: other weights, or another config
    let other_weights = model(CellKind::Lstm, 2, 9);
    err_mentions(Stream::load(&other_weights, &path), "model_hash");
    let other_config = model(CellKind::Gru, 2, 8);
    // in a few words (both configs as JSON made a line of 400 characters)
    let e = Stream::load(&other_config, &path)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("the state of another model (lstm, ") && e.contains("not of this one (gru, "),
        "{e}"
    );
    assert!(e.len() < 250, "{e}");

    // a missing file opens as one stream from zeros; a corrupt one is an error
    let missing = dir.join("none.safetensors");
    let (fresh, from_file) = Stream::open(&m, &missing).unwrap();
    assert!(!from_file);
    assert_eq!(fresh.batch(), 1);
    assert_eq!(fresh.state(), &m.zero_state(1));
    assert!(matches!(Stream::load(&m, &missing), Err(Error::Io { .. })));
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(matches!(
        Stream::open(&m, &path),
        Err(Error::Corrupt { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_hash_names_the_weights() {
    let a = model(CellKind::Gru, 1, 1);
    let mut b = a.clone();
    assert_eq!(
        rnn::nn::stream::model_hash(&a),
        rnn::nn::stream::model_hash(&b)
    );
    b.params[7] += 1e-9;
    assert_ne!(
        rnn::nn::stream::model_hash(&a),
        rnn::nn::stream::model_hash(&b)
    );
    let h = rnn::nn::stream::model_hash(&a);
    assert!(h.starts_with("fnv1a64:") && h.len() == 8 + 16, "{h}");
}

/// A step refused for a NaN or infinite input names the input and leaves
/// the stream as it was: the next valid steps give the outputs and state of
/// a stream that never saw the bad call.
#[test]
fn a_refused_nan_step_leaves_the_stream_as_it_was() {
    for cell in CELLS {
        let m = model(cell, 2, 4);
        let (_, dense) = inputs(2);
        let (first, rest) = dense.split_at(2 * I); // one step [B = 2, I], then the others
        let mut clean = Stream::batched(&m, 2).unwrap();
        clean.step(Input::Dense(first)).unwrap();
        let want = clean.feed(Input::Dense(rest)).unwrap().to_vec();
        let mut s = Stream::batched(&m, 2).unwrap();
        s.step(Input::Dense(first)).unwrap();
        let before = s.state().clone();
        for bad in [f64::NAN, f64::INFINITY] {
            let mut x = rest[..2 * I].to_vec();
            x[I + 1] = bad;
            let e = s.step(Input::Dense(&x)).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("x[{}]: expected a finite value, got {bad:?}", I + 1)
            );
            let mut chunk = rest.to_vec();
            chunk[3 * I] = bad;
            err_mentions(s.feed(Input::Dense(&chunk)), &format!("x[{}]", 3 * I));
            assert_eq!(s.state(), &before, "{cell:?}: state unchanged");
        }
        let got = s.feed(Input::Dense(rest)).unwrap().to_vec();
        assert_eq!(got, want, "{cell:?}");
        assert_eq!(s.state(), clean.state());
    }
}

//! Scoring a language model on a text: mean cross-entropy per character.

use crate::nn::layer::Input;
use crate::nn::loss::log_sum_exp;
use crate::nn::model::infer::Inference;
use crate::nn::model::{Batch, Model, State};
use crate::{Error, Result};

/// Parallel streams of an evaluation (`rnn eval`, validation during training).
pub const EVAL_STREAMS: usize = 32;
/// Characters per window of an evaluation (the state is carried across windows).
pub const EVAL_WINDOW: usize = 256;

/// A language model's figures on a text.
///
/// ```
/// use rnn::tasks::lm::Evaluation;
/// let e = Evaluation { loss_nats: std::f64::consts::LN_2, chars: 10 };
/// assert!((e.bits_per_char() - 1.0).abs() < 1e-12);
/// assert!((e.perplexity() - 2.0).abs() < 1e-12);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy, nats/char.
    pub loss_nats: f64,
    /// Characters predicted.
    pub chars: usize,
}

impl Evaluation {
    /// The loss in bits per character.
    pub fn bits_per_char(&self) -> f64 {
        self.loss_nats / std::f64::consts::LN_2
    }

    /// The perplexity `exp(loss)`.
    pub fn perplexity(&self) -> f64 {
        self.loss_nats.exp()
    }
}

/// Fewest predicted characters per stream: a text shorter than twice this is
/// read as one stream, exactly as a single pass over it would.
pub const EVAL_MIN_SEGMENT: usize = 1024;

/// Mean cross-entropy in nats per predicted character of `model` over `ids`:
/// every character after the first is scored once, predicted from all the
/// text before it. For speed the text is cut into at most `streams`
/// contiguous segments of at least [`EVAL_MIN_SEGMENT`] characters run in
/// parallel, the state carried across windows of `window` characters; each
/// segment but the first starts from the state of a pass over the `window`
/// characters before it (scored by the segment before; exact for a model
/// whose state forgets within `window` steps), and the characters
/// left over by the cut continue the last segment. Returns
/// `(total nats, characters)`; an id the model does not take is an error
/// naming it.
pub fn evaluate(
    model: &Model<f32>,
    ids: &[usize],
    streams: usize,
    window: usize,
) -> Result<(f64, usize)> {
    evaluate_sample(model, ids, streams, window, None)
}

/// [`evaluate`] on at most `max_chars` of the characters of `ids` (`None`:
/// all of them, as [`evaluate`]): a text with more to predict is scored on
/// evenly spread parts of it, part `s` of `b` the `max_chars / b`
/// characters from `s / b` of the way in, each scored as one pass over the
/// text would score it (warmed on the `window` characters before it, as
/// [`evaluate`]'s segments are), `b` = `streams` or fewer so that each part
/// holds at least [`EVAL_MIN_SEGMENT`]. What a training's validation runs
/// on a long held-out text (`TrainConfig::val_chars`), so that evaluating
/// does not cost more than the steps between evaluations. Returns `(total
/// nats, characters scored)`; `max_chars` 0 is an error naming it.
///
/// Shapes: `ids` `[N]`, scored by streams of `[window, b]` ids.
pub fn evaluate_sample(
    model: &Model<f32>,
    ids: &[usize],
    streams: usize,
    window: usize,
    max_chars: Option<usize>,
) -> Result<(f64, usize)> {
    evaluate_sample_with(model, ids, streams, window, max_chars, &mut |_, _| {})
}

/// [`evaluate_sample`], calling `done(scored, total)` after each window of
/// characters is scored (`total`: the characters it will score in all), so
/// that a long evaluation can show how far it is (`rnn eval` of a large text).
pub fn evaluate_sample_with(
    model: &Model<f32>,
    ids: &[usize],
    streams: usize,
    window: usize,
    max_chars: Option<usize>,
    done: &mut dyn FnMut(usize, usize),
) -> Result<(f64, usize)> {
    if max_chars == Some(0) {
        return Err(Error::argument("max_chars", "at least 1 (or None: all)", 0));
    }
    let c = &model.config;
    if c.output != crate::nn::loss::OutputKind::Softmax || c.bidirectional {
        return Err(Error::argument(
            "model",
            "a unidirectional model with a softmax output (a language model)",
            format!(
                "a {} model with {} output",
                if c.bidirectional {
                    "bidirectional"
                } else {
                    "unidirectional"
                },
                format!("{:?}", c.output).to_lowercase()
            ),
        ));
    }
    if streams == 0 || window == 0 {
        let (what, v) = if streams == 0 {
            ("streams", streams)
        } else {
            ("window", window)
        };
        return Err(Error::argument(what, "at least 1", v));
    }
    // the inputs are checked (`< I`) by `infer`; the targets are the ids
    // after the first
    let o = c.output_size;
    if let Some(j) = ids.iter().skip(1).position(|&id| id >= o) {
        return Err(Error::argument(
            format!("ids[{}]", j + 1),
            format!("a class id < O = {o} (the model's output size)"),
            ids[j + 1],
        ));
    }
    if ids.len() < 2 {
        return Ok((0.0, 0));
    }
    let n = ids.len() - 1; // characters to predict
    let window = window.max(1);
    // b parts of seg characters each, part s from stride * s: the whole
    // text cut (stride = seg, the tail continuing the last part), or a
    // sample of it spread evenly (stride >= seg, no tail)
    let (b, seg, stride, tail) = match max_chars.filter(|&m| m < n) {
        None => {
            let b = (n / EVAL_MIN_SEGMENT).clamp(1, streams.max(1));
            (b, n / b, n / b, true)
        }
        Some(m) => {
            let b = (m / EVAL_MIN_SEGMENT).clamp(1, streams.max(1));
            (b, m / b, n / b, false)
        }
    };
    let total = if tail { n } else { b * seg };
    let mut state = model.zero_state(b); // [L, B, H]
    let mut inf = Inference::new(); // forward only, buffers reused per window
    let mut score = Score::default();
    if b > 1 {
        // warm-up: stream s > 0 reads the `w` characters before its part,
        // so it starts from (nearly) the state one pass over the text reaches there
        let w = window.min(seg);
        let x = time_major(b, w, |s, j| {
            if s == 0 {
                ids[j]
            } else {
                ids[s * stride - w + j]
            }
        });
        run(model, &x, w, b, &mut state, &mut inf)?;
        // stream 0 starts the text, from the zero state
        let h = model.config.hidden_size;
        for block in [&mut state.h, &mut state.c] {
            for layer in block.chunks_mut(b * h) {
                layer[..h].fill(0.0);
            }
        }
    }
    let mut pos = 0;
    while pos < seg {
        let t = window.min(seg - pos);
        let x = time_major(b, t, |s, j| ids[s * stride + pos + j]);
        run(model, &x, t, b, &mut state, &mut inf)?;
        score.add(&inf.logits, model.config.output_size, t, b, |s, j| {
            ids[s * stride + pos + j + 1]
        });
        pos += t;
        done(score.count, total);
    }
    // the tail the cut left over continues the last stream
    let mut pos = b * seg;
    if tail && pos < n {
        let mut state = state.batch_part(b, model.config.hidden_size, b - 1, b);
        while pos < n {
            let t = window.min(n - pos);
            run(model, &ids[pos..pos + t], t, 1, &mut state, &mut inf)?;
            score.add(&inf.logits, model.config.output_size, t, 1, |_, j| {
                ids[pos + j + 1]
            });
            pos += t;
            done(score.count, total);
        }
    }
    if !score.total.is_finite() {
        return Err(Error::NonFinite {
            model: "the model".into(),
            what: "the loss".into(),
            value: score.total.to_string(),
        });
    }
    Ok((score.total, score.count))
}

/// `[T, B]` ids, `at(s, j)` the id of stream `s` at step `j`.
fn time_major(b: usize, t: usize, at: impl Fn(usize, usize) -> usize) -> Vec<usize> {
    (0..t * b).map(|k| at(k % b, k / b)).collect()
}

/// Runs `x` (`[T, B]` ids) from `state`, leaving the logits in `inf` and the
/// final state in `state`. The streams split across the threads.
fn run(
    model: &Model<f32>,
    x: &[usize],
    t: usize,
    b: usize,
    state: &mut State<f32>,
    inf: &mut Inference<f32>,
) -> Result<()> {
    model.infer(
        Batch::new(Input::Ids(x), t, b)
            .with_state(state)
            .split_across_threads(),
        inf,
    )?;
    std::mem::swap(state, &mut inf.state); // carried to the next window
                                           // a state that overflowed (a relu network's units past f32's range) is
                                           // the model blowing up, though this window's logits may still be
                                           // finite: said as such, not as the next window's bad input `state.h`
    if let Some(v) = state.h.iter().chain(&state.c).find(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            model: "the model".into(),
            what: format!("the hidden state after {t} characters"),
            value: v.to_string(),
        });
    }
    Ok(())
}

/// Running sum of `-log p(target)`.
#[derive(Default)]
struct Score {
    total: f64,
    count: usize,
}

impl Score {
    /// Adds the `[T, B]` rows of `logits` (`[T*B, V]`), `target(s, j)` the
    /// id stream `s` should predict at step `j`.
    fn add(
        &mut self,
        logits: &[f32],
        v: usize,
        t: usize,
        b: usize,
        target: impl Fn(usize, usize) -> usize,
    ) {
        for j in 0..t {
            for s in 0..b {
                let row = &logits[(j * b + s) * v..(j * b + s + 1) * v];
                self.total += (log_sum_exp(row) - row[target(s, j)]) as f64; // -log p(y)
                self.count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CellKind, ModelConfig};

    /// A two-layer LSTM over 7 symbols (both `h` and `c`, two state blocks).
    fn model() -> Model<f32> {
        let cfg = ModelConfig {
            cell: CellKind::Lstm,
            num_layers: 2,
            ..ModelConfig::elman(7, 12, 7)
        };
        Model::new(cfg, 3).unwrap()
    }

    /// A text with structure the state can carry: a period-5 pattern with noise.
    fn text(n: usize) -> Vec<usize> {
        let mut r: u64 = 11;
        (0..n)
            .map(|i| {
                r = r
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if (r >> 60) < 3 {
                    (r >> 33) as usize % 7
                } else {
                    i % 5
                }
            })
            .collect()
    }

    #[test]
    fn every_character_is_scored_once_whatever_the_cut() {
        let m = model();
        // short (one stream), exactly cut, cut with a tail, long with a tail
        for n in [
            2,
            3,
            600,
            2 * EVAL_MIN_SEGMENT + 1,
            2 * EVAL_MIN_SEGMENT + 8,
            40_003,
        ] {
            let ids = text(n);
            let (_, count) = evaluate(&m, &ids, EVAL_STREAMS, EVAL_WINDOW).unwrap();
            assert_eq!(count, n - 1, "n = {n}");
        }
    }

    #[test]
    fn a_short_text_is_scored_as_one_pass_over_it() {
        // fewer than 2 * EVAL_MIN_SEGMENT characters: one stream, so the
        // streams asked for change nothing, bit for bit
        let m = model();
        let ids = text(2 * EVAL_MIN_SEGMENT);
        let one = evaluate(&m, &ids, 1, EVAL_WINDOW).unwrap();
        assert_eq!(evaluate(&m, &ids, EVAL_STREAMS, EVAL_WINDOW).unwrap(), one);
        // the window only cuts the pass: the same loss up to rounding
        let (whole, _) = evaluate(&m, &ids, 1, ids.len()).unwrap();
        assert!(
            (whole - one.0).abs() < 1e-9 * whole.abs().max(1.0) + 1e-3,
            "{whole} vs {}",
            one.0
        );
    }

    /// Models whose state remembers ~20 steps and whose readout leans on it
    /// hard, so a stream started cold (or from the wrong state) scores
    /// differently: a 2-layer Elman with `W_hh = 0.9 I`, and the LSTM above
    /// with forget gates held open (`f` near `sigmoid(2) = 0.88`).
    fn models_with_memory() -> Vec<Model<f32>> {
        let mut elman = Model::new(
            ModelConfig {
                num_layers: 2,
                ..ModelConfig::elman(7, 12, 7)
            },
            5,
        )
        .unwrap();
        let mut lstm = model();
        for l in 0..2 {
            let whh = elman.param_mut(&format!("rnn.weight_hh_l{l}")).unwrap(); // [H, H]
            whh.fill(0.0);
            for k in 0..12 {
                whh[k * 12 + k] = 0.9;
            }
            elman
                .param_mut(&format!("rnn.weight_ih_l{l}"))
                .unwrap()
                .iter_mut()
                .for_each(|w| *w *= 3.0);
            // gates i, f, g, o: rows H..2H of bias_ih are the forget gate's
            lstm.param_mut(&format!("rnn.bias_ih_l{l}")).unwrap()[12..24].fill(2.0);
        }
        for m in [&mut elman, &mut lstm] {
            m.param_mut("head.weight")
                .unwrap()
                .iter_mut()
                .for_each(|w| *w *= 5.0);
        }
        vec![elman, lstm]
    }

    #[test]
    fn streams_give_the_loss_of_one_pass_over_the_text() {
        // 40,003 characters: 32 streams of 1,250 and a tail of 2; with each
        // stream warmed on the 256 characters before it, the mean loss is that
        // of one pass; without the warm-up 31 streams would start cold.
        let ids = text(40_003);
        for m in models_with_memory() {
            let (one, n1) = evaluate(&m, &ids, 1, EVAL_WINDOW).unwrap();
            let (many, n2) = evaluate(&m, &ids, EVAL_STREAMS, EVAL_WINDOW).unwrap();
            assert_eq!(n1, n2);
            let (a, b) = (one / n1 as f64, many / n2 as f64);
            assert!(
                (a - b).abs() < 1e-6,
                "{:?}: one pass {a}, streams {b}",
                m.config.cell
            );
        }
    }

    #[test]
    fn a_sample_as_large_as_the_text_is_the_whole_evaluation() {
        // max_chars at or past the characters to predict: bit for bit the
        // evaluation of all of them
        let m = model();
        for n in [600, 40_003] {
            let ids = text(n);
            let all = evaluate(&m, &ids, EVAL_STREAMS, EVAL_WINDOW).unwrap();
            for cap in [n - 1, n, 10 * n] {
                let got = evaluate_sample(&m, &ids, EVAL_STREAMS, EVAL_WINDOW, Some(cap));
                assert_eq!(got.unwrap(), all, "n = {n}, cap = {cap}");
            }
        }
        let e = evaluate_sample(&m, &text(10), EVAL_STREAMS, EVAL_WINDOW, Some(0));
        assert!(e.unwrap_err().to_string().contains("max_chars"));
    }

    #[test]
    fn a_sample_scores_evenly_spread_parts_as_one_pass_would() {
        // 40,003 characters (40,002 to predict), at most 8,192 scored: 8
        // parts of 1,024 (8,192 / 1,024 = 8 streams of EVAL_MIN_SEGMENT),
        // part s predicting characters 5,000 s + 1 ..= 5,000 s + 1,024
        // (stride 40,002 / 8 = 5,000). One pass over a prefix ids[..=k]
        // scores characters 1..=k, so a part's nats are P(end) - P(start):
        // the sample's mean must be the mean of those one-pass losses.
        let ids = text(40_003);
        let (b, seg, stride) = (8, 1024, 5000);
        for m in models_with_memory() {
            let pass = |k: usize| evaluate(&m, &ids[..=k], 1, EVAL_WINDOW).unwrap().0;
            let want: f64 = (0..b)
                .map(|s| pass(s * stride + seg) - if s == 0 { 0.0 } else { pass(s * stride) })
                .sum();
            let (got, count) =
                evaluate_sample(&m, &ids, EVAL_STREAMS, EVAL_WINDOW, Some(8192)).unwrap();
            assert_eq!(count, b * seg);
            let (a, c) = (want / count as f64, got / count as f64);
            assert!(
                (a - c).abs() < 1e-5,
                "{:?}: one pass {a}, sample {c}",
                m.config.cell
            );
            // and not the first 8,192 characters' loss (the parts are spread)
            let first = pass(8192) / 8192.0;
            assert!((first - c).abs() > 1e-4, "{first} vs {c}");
        }
    }

    #[test]
    fn progress_counts_up_to_the_characters_scored() {
        // the whole text (cut with a tail) and a sample of it: each call
        // says more characters scored than the last, the last all of them
        let m = model();
        let ids = text(40_003);
        for cap in [None, Some(8192)] {
            let mut calls = Vec::new();
            let (_, count) =
                evaluate_sample_with(&m, &ids, EVAL_STREAMS, EVAL_WINDOW, cap, &mut |d, t| {
                    calls.push((d, t))
                })
                .unwrap();
            assert!(
                calls.windows(2).all(|w| w[0].0 < w[1].0),
                "{cap:?}: {calls:?}"
            );
            assert!(calls.iter().all(|&(_, t)| t == count));
            assert_eq!(calls.last(), Some(&(count, count)));
            assert!(calls.len() > 2);
        }
    }
}

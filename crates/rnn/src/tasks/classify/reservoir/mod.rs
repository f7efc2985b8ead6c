//! The reservoir candidate: an echo-state network, the mission's Elman cell
//! with random recurrent weights that are never trained and a linear readout
//! fitted in closed form.
//!
//! For each sequence the reservoir runs the leaky Elman update over its
//! steps, once forwards and once over the steps reversed,
//!
//! ```text
//! s_t = (1 - a) s_{t-1} + a tanh(U x_t + W s_{t-1} + b)      s_0 = 0
//! ```
//!
//! (`U` `[N, I]` uniform in `±input_scale`, `W` `[N, N]` sparse Gaussian scaled
//! to the spectral radius `rho`, `b` `[N]` uniform in `±0.1`, `a` the leak),
//! and its features are the last state, the mean, the maximum, the minimum
//! and the standard deviation of the states over the valid steps, for both
//! directions: `10 N` values ([`Reservoir::features`]; models saved before
//! the spread was read have `6 N`, without the minimum and deviation). A
//! ridge regression of the one-hot classes on the standardised features
//! gives the readout ([`Readout::fit`]); its penalty is chosen by
//! leave-one-out accuracy, computed in closed form from one
//! eigendecomposition, and a softmax temperature fitted on the
//! leave-one-out scores turns its outputs into probabilities.
//!
//! Only the readout learns, so a reservoir cannot overfit the way a trained
//! network does on a few dozen sequences, and it costs seconds. The trainer
//! draws reservoirs for each setting of [`ReservoirConfig::grid`] (leak,
//! input scale, and whether the changes `x_t - x_{t-1}` are read too) and
//! keeps the setting whose readouts have the best leave-one-out score; their
//! probabilities are averaged with the networks' ([`super::Trainer::fit`]).

mod products;
mod readout;

pub use readout::{readout_score, Readout};

use super::batch::Encoded;
use crate::kernels::Float;
use crate::{Error, Model, ModelConfig, Result};
use faer::Mat;
use products::InputProducts;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How the reservoir is drawn ([`ReservoirConfig::default`]: the values the
/// trainer uses).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReservoirConfig {
    /// `N`: reservoir units.
    pub units: usize,
    /// Spectral radius of `W` (largest eigenvalue modulus).
    pub spectral_radius: f64,
    /// `a` of the leaky update, in (0, 1].
    pub leak: f64,
    /// `U`'s entries are uniform in `±input_scale`.
    pub input_scale: f64,
    /// Share of `W`'s entries that are not zero.
    pub density: f64,
    /// Whether the reservoir also reads each step's change, `x_t -
    /// x_{t-1}`, beside `x_t` (`U` is then `[N, 2 I]`).
    #[serde(default)]
    pub differences: bool,
    /// Whether the features also hold the minimum and the standard
    /// deviation of the states (`10 N` features instead of `6 N`; files
    /// saved without this field were trained without them).
    #[serde(default)]
    pub spread: bool,
}

impl Default for ReservoirConfig {
    fn default() -> Self {
        ReservoirConfig {
            units: 300,
            spectral_radius: 0.9,
            leak: 0.3,
            input_scale: 0.5,
            density: 0.1,
            differences: false,
            spread: true,
        }
    }
}

impl ReservoirConfig {
    /// Most steps a reservoir reads per sequence: longer training sequences
    /// group `ceil(frames / MAX_STEPS)` frames per step.
    pub const MAX_STEPS: usize = 1024;

    /// Features per sequence: last, mean and max of the states (and with
    /// [`ReservoirConfig::spread`] their min and standard deviation), both
    /// ways.
    pub fn features(&self) -> usize {
        feature_count(self.spread, self.units)
    }

    /// Inputs per step of a reservoir reading `values` per step: `values`,
    /// or twice that with [`ReservoirConfig::differences`] (each value and
    /// its change).
    pub fn input_width(&self, values: usize) -> usize {
        if self.differences {
            2 * values
        } else {
            values
        }
    }

    /// Leaks of [`ReservoirConfig::grid`]: the default, slow, none.
    pub const LEAKS: [f64; 3] = [0.3, 0.1, 1.0];
    /// Input scales of [`ReservoirConfig::grid`]: the default, nearly
    /// linear, saturating.
    pub const INPUT_SCALES: [f64; 3] = [0.5, 0.1, 1.5];

    /// The settings the trainer chooses from by leave-one-out score: each
    /// of [`ReservoirConfig::LEAKS`] and [`ReservoirConfig::INPUT_SCALES`],
    /// without and with the differences, this config's other fields kept
    /// (18 configs; this config's own leak and scale first when they are in
    /// the grid).
    pub fn grid(&self) -> Vec<ReservoirConfig> {
        self.grid_of(&Self::LEAKS, &Self::INPUT_SCALES, &[false, true])
    }

    /// The settings of each of `leaks`, `input_scales` and `differences`
    /// (differences outermost, then leaks), this config's other fields kept.
    pub fn grid_of(
        &self,
        leaks: &[f64],
        input_scales: &[f64],
        differences: &[bool],
    ) -> Vec<ReservoirConfig> {
        let mut out = Vec::new();
        for &differences in differences {
            for &leak in leaks {
                for &input_scale in input_scales {
                    out.push(ReservoirConfig {
                        leak,
                        input_scale,
                        differences,
                        ..*self
                    });
                }
            }
        }
        out
    }
}

/// A drawn reservoir, stored as the weights of a one-layer Elman [`Model`]
/// (`rnn.weight_ih_l0` = `U`, `rnn.weight_hh_l0` = `W`, `rnn.bias_ih_l0` =
/// `b`, the other tensors zero) so a model file holds it as it holds a
/// network.
#[derive(Clone, Debug)]
pub struct Reservoir {
    /// `[N, I]`.
    pub w_ih: Vec<f32>,
    /// `[N, N]`.
    pub w_hh: Vec<f32>,
    /// `[N]`.
    pub bias: Vec<f32>,
    /// `a`.
    pub leak: f32,
    /// Inputs per step: `I`, or `2 I` with the differences.
    pub width: usize,
    /// Whether it reads the differences `x_t - x_{t-1}` beside `x_t`.
    pub differences: bool,
    /// Whether its features hold the min and standard deviation of the
    /// states besides their last value, mean and max.
    pub spread: bool,
    /// `N`.
    pub units: usize,
}

impl Reservoir {
    /// Draws the reservoir of `cfg` for data of `width` values per step
    /// with `seed`.
    ///
    /// ```
    /// use rnn::tasks::classify::{Reservoir, ReservoirConfig};
    /// let cfg = ReservoirConfig { units: 40, ..ReservoirConfig::default() };
    /// let r = Reservoir::random(&cfg, 3, 7)?;
    /// assert_eq!((r.w_ih.len(), r.w_hh.len(), r.bias.len()), (40 * 3, 40 * 40, 40));
    /// let d = Reservoir::random(&ReservoirConfig { differences: true, ..cfg }, 3, 7)?;
    /// assert_eq!((d.width, d.data_width()), (6, 3));
    /// assert!((r.spectral_radius()? - 0.9).abs() < 1e-4);
    /// # Ok::<(), rnn::Error>(())
    /// ```
    pub fn random(cfg: &ReservoirConfig, width: usize, seed: u64) -> Result<Reservoir> {
        if cfg.units == 0 {
            return Err(no_units(0, width));
        }
        Reservoir::from_draw(&RecurrentDraw::new(cfg, seed)?, cfg, width)
    }

    /// The reservoir of `cfg` for data of `width` values per step, its `W`
    /// from `draw` (what [`Reservoir::random`] gives with the draw's seed):
    /// the settings of a grid share one draw per seed, and so one
    /// eigendecomposition.
    pub(crate) fn from_draw(
        draw: &RecurrentDraw,
        cfg: &ReservoirConfig,
        width: usize,
    ) -> Result<Reservoir> {
        let n = cfg.units;
        let width = cfg.input_width(width);
        if n == 0 || width == 0 {
            return Err(no_units(n, width));
        }
        if (draw.units, draw.density, draw.spectral_radius) != (n, cfg.density, cfg.spectral_radius)
        {
            return Err(Error::Config(format!(
                "a reservoir of {n} units, density {} and spectral radius {} cannot use a recurrent draw of {} units, density {} and radius {}",
                cfg.density, cfg.spectral_radius, draw.units, draw.density, draw.spectral_radius
            )));
        }
        let mut rng = draw.rng.clone();
        let mut uniform = |scale: f64| (2.0 * rng.random::<f64>() - 1.0) * scale;
        let w_ih = (0..n * width)
            .map(|_| uniform(cfg.input_scale) as f32)
            .collect();
        let bias = (0..n).map(|_| uniform(0.1) as f32).collect();
        Ok(Reservoir {
            w_ih,
            w_hh: draw.w_hh.clone(),
            bias,
            leak: cfg.leak as f32,
            width,
            differences: cfg.differences,
            spread: cfg.spread,
            units: n,
        })
    }

    /// The largest eigenvalue modulus of `W`.
    pub fn spectral_radius(&self) -> Result<f64> {
        let w: Vec<f64> = self.w_hh.iter().map(|&v| f64::from(v)).collect();
        spectral_radius(&w, self.units)
    }

    /// The reservoir as a one-layer Elman model with `classes` outputs (the
    /// head zero: the class comes from the [`Readout`]).
    pub fn to_model(&self, classes: usize) -> Result<Model<f32>> {
        let mut m = Model::<f32>::zeros(ModelConfig::elman(self.width, self.units, classes))?;
        for (name, src) in [
            ("rnn.weight_ih_l0", &self.w_ih),
            ("rnn.weight_hh_l0", &self.w_hh),
            ("rnn.bias_ih_l0", &self.bias),
        ] {
            let range = m
                .entry(name)
                .map(|e| e.range())
                .ok_or_else(|| Error::Config(format!("the reservoir model has no {name}")))?;
            m.params[range].copy_from_slice(src);
        }
        Ok(m)
    }

    /// The reservoir stored in `m` by [`Reservoir::to_model`], with the
    /// leak, the differences and the spread of `cfg`.
    pub fn from_model(m: &Model<f32>, cfg: &ReservoirConfig) -> Result<Reservoir> {
        let get = |name: &str| {
            m.param(name)
                .map(<[f32]>::to_vec)
                .ok_or_else(|| Error::Config(format!("a reservoir needs the tensor {name}")))
        };
        Ok(Reservoir {
            w_ih: get("rnn.weight_ih_l0")?,
            w_hh: get("rnn.weight_hh_l0")?,
            bias: get("rnn.bias_ih_l0")?,
            leak: cfg.leak as f32,
            width: m.config.input_size,
            differences: cfg.differences,
            spread: cfg.spread,
            units: m.config.hidden_size,
        })
    }

    /// Values per step of the data this reservoir reads: `width`, or half
    /// of it when it also reads the differences.
    pub fn data_width(&self) -> usize {
        if self.differences {
            self.width / 2
        } else {
            self.width
        }
    }

    /// The features of sequences `idx` of `enc`, `[idx.len(), F]` (`F` =
    /// [`ReservoirConfig::features`], `10 N` or `6 N`): per direction
    /// (forwards, then the steps reversed) the last state, the mean and the
    /// maximum of the states over the sequence's steps, then (with
    /// [`Reservoir::spread`]) their minimum and standard deviation.
    ///
    /// The sequences run in batches of [`Reservoir::BATCH`] of similar
    /// lengths, so that each step is one product `[B, N] x [N, N]` over the
    /// sequences still running (a batch sorted by length, longest first,
    /// shrinks from the end), batches in parallel.
    pub fn features(&self, enc: &Encoded, idx: &[usize]) -> Result<Vec<f64>> {
        self.features_in_blocks(enc, idx, Self::PRODUCT_BLOCK)
    }

    /// [`Reservoir::features`] with the input products of sequences over
    /// `block` steps computed `block` steps at a time.
    fn features_in_blocks(&self, enc: &Encoded, idx: &[usize], block: usize) -> Result<Vec<f64>> {
        if enc.width != self.data_width() {
            return Err(Error::Config(format!(
                "the reservoir reads {} values per step, the data give {}",
                self.data_width(),
                enc.width
            )));
        }
        let f = feature_count(self.spread, self.units);
        // positions in idx, longest sequence first
        let mut order: Vec<usize> = (0..idx.len()).collect();
        order.sort_by_key(|&j| std::cmp::Reverse(enc.steps[idx[j]]));
        let batches: Vec<Vec<(usize, Vec<f64>)>> = order
            .par_chunks(Self::BATCH)
            .map(|chunk| {
                crate::kernels::sequential(|| {
                    let seqs: Vec<usize> = chunk.iter().map(|&j| idx[j]).collect();
                    // the input products: once for both directions, but
                    // for long sequences a block at a time
                    let mut pre: Vec<InputProducts> = seqs
                        .iter()
                        .map(|&q| InputProducts::new(self, enc, q, block))
                        .collect();
                    let len: Vec<usize> = seqs.iter().map(|&q| enc.steps[q]).collect();
                    let mut rows = vec![Vec::with_capacity(f); chunk.len()];
                    for reverse in [false, true] {
                        let parts = self.run(enc, &mut pre, &len, reverse);
                        for (row, part) in rows.iter_mut().zip(parts) {
                            row.extend(part);
                        }
                    }
                    chunk.iter().copied().zip(rows).collect()
                })
            })
            .collect();
        let mut out = vec![0f64; idx.len() * f];
        for (j, row) in batches.into_iter().flatten() {
            out[j * f..(j + 1) * f].copy_from_slice(&row);
        }
        Ok(out)
    }

    /// Sequences per batch of [`Reservoir::features`].
    pub const BATCH: usize = 32;

    /// One direction over sequences of lengths `len`, longest first, whose
    /// input products are `pre` ([`Reservoir::input_products`]): per
    /// sequence `[last, mean, max]`, `3 N` values, and with the spread
    /// `[.., min, std]`, `5 N`.
    fn run(
        &self,
        enc: &Encoded,
        pre: &mut [InputProducts],
        len: &[usize],
        reverse: bool,
    ) -> Vec<Vec<f64>> {
        let n = self.units;
        let b = len.len();
        let a = self.leak;
        let mut s = vec![0f32; b * n]; // s_{t-1}, [B, N]
        let mut z = vec![0f32; b * n]; // W s_{t-1}, [B, N]
        let mut th = vec![0f32; n]; // tanh(U x_t + W s_{t-1} + b), [N]

        // sums of s_t and of s_t^2, max and min of s_t over the steps: [B, N] each
        let mut sum = vec![0f64; b * n];
        let mut sq = vec![0f64; b * n];
        let mut max = vec![f64::NEG_INFINITY; b * n];
        let mut min = vec![f64::INFINITY; b * n];
        let mut active = b;
        for k in 0..len.first().copied().unwrap_or(0) {
            // the sequences still running are a prefix (longest first)
            while active > 0 && len[active - 1] <= k {
                active -= 1;
            }
            // z = s_{t-1} W^T: [active, N]
            crate::kernels::gemm(
                active,
                n,
                n,
                &s[..active * n],
                false,
                &self.w_hh,
                true,
                &mut z[..active * n],
                false,
            );
            for j in 0..active {
                let t = if reverse { len[j] - 1 - k } else { k };
                let r = j * n..(j + 1) * n;
                // th = tanh((U x_t + b) + W s_{t-1}) (vectorised f32 tanh, within 6 ulp)
                let (pre_t, z_j) = (pre[j].row(self, enc, t, reverse), &z[r.clone()]);
                if !f32::tanh_row(pre_t, z_j, &mut th) {
                    for ((h, p), q) in th.iter_mut().zip(pre_t).zip(z_j) {
                        *h = (p + q).tanh_fast();
                    }
                }
                // s_t = (1 - a) s_{t-1} + a th
                for (si, &hi) in s[r.clone()].iter_mut().zip(&th) {
                    *si = (1.0 - a) * *si + a * hi;
                }
                let st = s[r.clone()].iter().map(|&v| f64::from(v));
                for ((((v, sm), q), mx), mn) in st
                    .zip(&mut sum[r.clone()])
                    .zip(&mut sq[r.clone()])
                    .zip(&mut max[r.clone()])
                    .zip(&mut min[r])
                {
                    *sm += v;
                    *q += v * v;
                    *mx = mx.max(v);
                    *mn = mn.min(v);
                }
            }
        }
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        (0..b)
            .map(|j| {
                let r = j * n..(j + 1) * n;
                let inv = 1.0 / len[j].max(1) as f64;
                let mut out: Vec<f64> = s[r.clone()].iter().map(|&v| f64::from(v)).collect();
                out.extend(sum[r.clone()].iter().map(|v| v * inv));
                out.extend(max[r.clone()].iter().map(|&v| finite(v)));
                if self.spread {
                    out.extend(min[r.clone()].iter().map(|&v| finite(v)));
                    // std = sqrt(E[s^2] - E[s]^2)
                    out.extend(
                        sum[r.clone()]
                            .iter()
                            .zip(&sq[r])
                            .map(|(sm, q)| (q * inv - (sm * inv) * (sm * inv)).max(0.0).sqrt()),
                    );
                }
                out
            })
            .collect()
    }
}

/// Features per sequence of a reservoir of `units` units, both ways: last,
/// mean and max of each unit's states, and with the `spread` min and
/// standard deviation too (`10 N`, else `6 N`).
fn feature_count(spread: bool, units: usize) -> usize {
    let summaries = if spread { 5 } else { 3 };
    summaries * 2 * units
}

/// The error of a reservoir without units or inputs.
fn no_units(n: usize, width: usize) -> Error {
    Error::Config(format!(
        "a reservoir needs units and inputs, got {n} units of {width} inputs"
    ))
}

/// What a reservoir's seed fixes before its inputs are drawn: `W` `[N, N]`,
/// sparse Gaussian scaled to the spectral radius, and the generator after
/// it (the input weights and bias come next). It depends on the units, the
/// density and the radius only, so every setting of
/// [`ReservoirConfig::grid`] shares it.
#[derive(Clone, Debug)]
pub(crate) struct RecurrentDraw {
    /// `[N, N]`.
    w_hh: Vec<f32>,
    rng: rand_chacha::ChaCha8Rng,
    units: usize,
    density: f64,
    spectral_radius: f64,
}

impl RecurrentDraw {
    /// Draws `W` for the units, density and spectral radius of `cfg` with
    /// `seed`.
    pub(crate) fn new(cfg: &ReservoirConfig, seed: u64) -> Result<RecurrentDraw> {
        let n = cfg.units;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7e5e_4701);
        let mut w: Vec<f64> = (0..n * n)
            .map(|_| {
                if rng.random::<f64>() < cfg.density {
                    super::augment::standard_normal(&mut rng)
                } else {
                    0.0
                }
            })
            .collect();
        let rho = spectral_radius(&w, n)?;
        if rho > 0.0 {
            w.iter_mut().for_each(|v| *v *= cfg.spectral_radius / rho);
        }
        Ok(RecurrentDraw {
            w_hh: w.iter().map(|&v| v as f32).collect(),
            rng,
            units: n,
            density: cfg.density,
            spectral_radius: cfg.spectral_radius,
        })
    }
}

/// The largest eigenvalue modulus of the row-major `[n, n]` matrix `w`.
fn spectral_radius(w: &[f64], n: usize) -> Result<f64> {
    let m = Mat::<f64>::from_fn(n, n, |i, j| w[i * n + j]);
    let ev = m
        .eigenvalues()
        .map_err(|e| Error::Config(format!("the reservoir's eigenvalues: {e:?}")))?;
    Ok(ev
        .iter()
        .map(|z| (z.re * z.re + z.im * z.im).sqrt())
        .fold(0.0, f64::max))
}

/// A fixed pseudo-random number in [-1, 1) from `i`, for the tests.
#[cfg(test)]
fn noise(i: usize) -> f64 {
    let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::classify::{Dataset, Fill, Norm, Normaliser};

    /// The features of `res` over the one-value series 1, 2.
    fn features_of_one_and_two(res: &Reservoir) -> Vec<f64> {
        let d =
            Dataset::parse_ts(std::path::Path::new("t.ts"), "1,2:a\n", Fill::Linear, None).unwrap();
        let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 1).unwrap();
        res.features(&enc, &[0]).unwrap()
    }

    /// `got` is one unit's [last, mean, max] over the states `fwd`, then
    /// over `rev` (the steps reversed), to 1e-6; with 10 values, [last,
    /// mean, max, min, std] (the std of two values is half their distance).
    fn assert_last_mean_max(got: &[f64], fwd: [f64; 2], rev: [f64; 2]) {
        let spread = got.len() == 10;
        let want: Vec<f64> = [fwd, rev]
            .iter()
            .flat_map(|[a, b]| {
                let mut v = vec![*b, (a + b) / 2.0, a.max(*b)];
                if spread {
                    v.extend([a.min(*b), (a - b).abs() / 2.0]);
                }
                v
            })
            .collect();
        assert_eq!(got.len(), want.len());
        assert!(got.len() == 6 || spread, "{} features", got.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn every_setting_drawn_from_a_shared_draw_is_the_one_drawn_alone() {
        let base = ReservoirConfig {
            units: 25,
            ..ReservoirConfig::default()
        };
        let draw = RecurrentDraw::new(&base, 9).unwrap();
        for cfg in base.grid() {
            let shared = Reservoir::from_draw(&draw, &cfg, 3).unwrap();
            let alone = Reservoir::random(&cfg, 3, 9).unwrap();
            assert_eq!(
                (shared.w_ih, shared.w_hh, shared.bias, shared.width),
                (alone.w_ih, alone.w_hh, alone.bias, alone.width)
            );
        }
        // a draw of other units is refused, not reused
        let other = ReservoirConfig { units: 26, ..base };
        assert!(Reservoir::from_draw(&draw, &other, 3).is_err());
    }

    #[test]
    fn the_leaky_update_and_its_features_by_hand() {
        // one unit: U = 0.5, W = 0.2, b = 0.1, a = 0.5; inputs 1 then 2
        //   forwards:  s1 = 0.5 tanh(0.5 + 0.1)             = 0.5 tanh(0.6)
        //              s2 = 0.5 s1 + 0.5 tanh(1.0 + 0.2 s1 + 0.1)
        //   reversed:  r1 = 0.5 tanh(1.0 + 0.1)             = 0.5 tanh(1.1)
        //              r2 = 0.5 r1 + 0.5 tanh(0.5 + 0.2 r1 + 0.1)
        // features: [last, mean, max, min, std] forwards, then reversed
        let res = Reservoir {
            w_ih: vec![0.5],
            w_hh: vec![0.2],
            bias: vec![0.1],
            leak: 0.5,
            width: 1,
            differences: false,
            spread: true,
            units: 1,
        };
        let got = features_of_one_and_two(&res);
        let s1 = 0.5 * 0.6f64.tanh();
        let s2 = 0.5 * s1 + 0.5 * (1.1 + 0.2 * s1).tanh();
        let r1 = 0.5 * 1.1f64.tanh();
        let r2 = 0.5 * r1 + 0.5 * (0.6 + 0.2 * r1).tanh();
        assert_last_mean_max(&got, [s1, s2], [r1, r2]);
        // the model form keeps the weights
        let cfg = ReservoirConfig {
            leak: 0.5,
            ..ReservoirConfig::default()
        };
        let back = Reservoir::from_model(&res.to_model(2).unwrap(), &cfg).unwrap();
        assert_eq!(
            (back.w_ih, back.w_hh, back.bias),
            (res.w_ih, res.w_hh, res.bias)
        );
    }

    #[test]
    fn the_differences_are_read_beside_the_values_by_hand() {
        // one unit reading [x_t, x_t - x_{t-1}] (x_{-1} = x_0): U = [0.5, -1],
        // W = 0.2, b = 0.1, a = 0.5; inputs 1 then 2, so changes 0 then 1
        //   forwards:  s1 = 0.5 tanh(0.5 - 0 + 0.1)                = 0.5 tanh(0.6)
        //              s2 = 0.5 s1 + 0.5 tanh(1.0 - 1 + 0.2 s1 + 0.1)
        //   reversed (step 2 first, its change still 1):
        //              r1 = 0.5 tanh(1.0 - 1 + 0.1)                = 0.5 tanh(0.1)
        //              r2 = 0.5 r1 + 0.5 tanh(0.5 - 0 + 0.2 r1 + 0.1)
        let res = Reservoir {
            w_ih: vec![0.5, -1.0],
            w_hh: vec![0.2],
            bias: vec![0.1],
            leak: 0.5,
            width: 2,
            differences: true,
            spread: false,
            units: 1,
        };
        let got = features_of_one_and_two(&res);
        let s1 = 0.5 * 0.6f64.tanh();
        let s2 = 0.5 * s1 + 0.5 * (0.1 + 0.2 * s1).tanh();
        let r1 = 0.5 * 0.1f64.tanh();
        let r2 = 0.5 * r1 + 0.5 * (0.6 + 0.2 * r1).tanh();
        assert_last_mean_max(&got, [s1, s2], [r1, r2]);
        // data of two values per step do not fit a reservoir reading one
        let two = Dataset::parse_ts(
            std::path::Path::new("t.ts"),
            "1,2:1,2:a\n",
            Fill::Linear,
            None,
        )
        .unwrap();
        let enc2 = Encoded::new(&two, &Normaliser::fit(Norm::None, &two), 1).unwrap();
        assert!(res.features(&enc2, &[0]).is_err());
    }

    #[test]
    fn batches_of_sequences_give_each_sequence_its_own_features() {
        // 70 sequences of 1 to 69 steps (more than one batch, lengths out of
        // order): the features of all at once are those of each alone
        let text: String = (0..70)
            .map(|i| {
                let steps = 1 + (37 * i + 11) % 69;
                let v: Vec<String> = (0..steps)
                    .map(|t| format!("{:.3}", noise(100 * i + t)))
                    .collect();
                format!("{}:c{}\n", v.join(","), i % 3)
            })
            .collect();
        let d = Dataset::parse_ts(std::path::Path::new("t.ts"), &text, Fill::Linear, None).unwrap();
        let enc = Encoded::new(&d, &Normaliser::fit(Norm::None, &d), 1).unwrap();
        for (differences, spread) in [(false, true), (true, true), (false, false)] {
            let cfg = ReservoirConfig {
                units: 30,
                differences,
                spread,
                ..ReservoirConfig::default()
            };
            let res = Reservoir::random(&cfg, 1, 5).unwrap();
            let idx: Vec<usize> = (0..70).rev().collect();
            let all = res.features(&enc, &idx).unwrap();
            let f = if spread { 300 } else { 180 };
            assert_eq!(cfg.features(), f);
            assert_eq!(all.len(), 70 * f);
            for (row, &i) in all.chunks_exact(f).zip(&idx) {
                let alone = res.features(&enc, &[i]).unwrap();
                for (a, b) in row.iter().zip(&alone) {
                    assert!((a - b).abs() < 1e-5, "sequence {i}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn configs_saved_before_the_spread_keep_six_summaries_per_unit() {
        // the fourteenth and fifteenth sessions' files have no `spread`
        // (nor, the fourteenth's, `differences`): their readouts read 6 N
        let old: ReservoirConfig = serde_json::from_str(
            r#"{"units":10,"spectral_radius":0.9,"leak":0.3,"input_scale":0.5,"density":0.1}"#,
        )
        .unwrap();
        assert!(!old.spread && !old.differences);
        assert_eq!(old.features(), 60);
        // a new config reads the spread: 5 summaries per unit, both ways
        let new = ReservoirConfig::default();
        assert!(new.spread);
        assert_eq!(new.features(), 3000);
        let back: ReservoirConfig =
            serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
    }

    #[test]
    fn the_grid_has_every_setting_once_the_default_first() {
        let base = ReservoirConfig::default();
        let grid = base.grid();
        assert_eq!(grid.len(), 18);
        assert_eq!(grid[0], base);
        for (i, a) in grid.iter().enumerate() {
            assert_eq!((a.units, a.spectral_radius, a.density), (300, 0.9, 0.1));
            for b in &grid[i + 1..] {
                assert!(
                    (a.leak, a.input_scale, a.differences)
                        != (b.leak, b.input_scale, b.differences)
                );
            }
        }
        let one = base.grid_of(&[0.5], &[0.2], &[true]);
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].leak, one[0].input_scale, one[0].differences),
            (0.5, 0.2, true)
        );
    }

    #[test]
    fn the_drawn_reservoir_has_the_asked_spectral_radius_and_depends_on_the_seed() {
        let cfg = ReservoirConfig {
            units: 60,
            ..ReservoirConfig::default()
        };
        let a = Reservoir::random(&cfg, 2, 1).unwrap();
        assert!((a.spectral_radius().unwrap() - 0.9).abs() < 1e-4);
        assert!(a.w_ih.iter().all(|v| v.abs() <= 0.5));
        let nonzero = a.w_hh.iter().filter(|v| **v != 0.0).count() as f64 / 3600.0;
        assert!((0.06..0.14).contains(&nonzero), "{nonzero}");
        let b = Reservoir::random(&cfg, 2, 2).unwrap();
        assert_ne!(a.w_hh, b.w_hh);
        assert_eq!(Reservoir::random(&cfg, 2, 1).unwrap().w_hh, a.w_hh);
        assert!(Reservoir::random(&ReservoirConfig { units: 0, ..cfg }, 2, 1).is_err());
    }
}

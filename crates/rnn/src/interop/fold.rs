//! Folds: linear maps of a PyTorch module that `rnn` runs as part of the
//! weights next to them, exactly (one product of the file's tensors, in
//! f64, rounded once to f32).
//!
//! - An `nn.Embedding` `Emb` `[V, I]` before the first layer: a lookup of
//!   row `v` then `W_ih` is `W_ih Emb^T` `[G*H, V]` times the one-hot of `v`.
//! - An LSTM's projection (`nn.LSTM(..., proj_size=P)`, `weight_hr_l{k}`
//!   `W_hr` `[P, H]`): PyTorch's cell is
//!
//!   ```text
//!   gates_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh     W_hh [4H, P]
//!   c_t = f * c_{t-1} + i * g,   m_t = o * tanh(c_t)     [B, H]
//!   h_t = W_hr m_t                                        [B, P]
//!   ```
//!
//!   so with `m` as the state, `W_hh h_{t-1} = (W_hh W_hr) m_{t-1}`: a plain
//!   LSTM of `H` units whose recurrent weights are `W_hh W_hr` `[4H, H]`,
//!   whose next layer reads `m` through `W_ih` times the block-diagonal of
//!   the directions' `W_hr` (`[4H, D*P]` -> `[4H, D*H]`), and so does the
//!   head (`[O, D*P]` -> `[O, D*H]`). `rnn infer` gives PyTorch's outputs
//!   back: `output` and `h_n` are `W_hr m` ([`Projection::project`]), and a
//!   given `h0` becomes the `m0` of least norm with `W_hr m0 = h0`
//!   ([`Projection::lift`]), which gives the same `W_hh h0`.

use crate::interop::import::{parse_param, NamedTensor, NAMES_KEY, UNFOLDED_PREFIX};
use crate::io::model_file::{ModelFile, MODEL_FILE};
use crate::{Error, Result};
use std::collections::BTreeMap;

/// Metadata key of an imported LSTM with a projection: JSON
/// `{"proj_size": P, "weight_hr": [names, layer by layer, forward then reverse]}`.
pub const PROJECTION_KEY: &str = "pytorch_projection";

/// `A B^T` (`b_transposed`) or `A B` for `A` `[m, k]` and `B` (`[n, k]` or
/// `[k, n]`), in f64: `[m, n]`, handed to `put` by blocks of 64 rows (first
/// row, rows) so that a large product need not be held in f64 whole (a
/// word-level vocabulary makes an embedding's fold hundreds of MB).
pub(crate) fn product_rows(
    a: &[f64],
    (m, k): (usize, usize),
    b: &[f64],
    n: usize,
    b_transposed: bool,
    mut put: impl FnMut(usize, &[f64]),
) {
    const ROWS: usize = 64;
    let mut block = vec![0f64; ROWS.min(m) * n];
    for first in (0..m).step_by(ROWS) {
        let rows = ROWS.min(m - first);
        let block = &mut block[..rows * n];
        let a = &a[first * k..][..rows * k];
        crate::kernels::gemm(rows, n, k, a, false, b, b_transposed, block, false);
        put(first, block);
    }
}

/// [`product_rows`] collected: `[m, n]`.
fn product(a: &[f64], m: usize, k: usize, b: &[f64], n: usize, b_transposed: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity(m * n);
    product_rows(a, (m, k), b, n, b_transposed, |_, rows| {
        out.extend_from_slice(rows)
    });
    out
}

fn bad(what: &str, reason: String) -> Error {
    Error::Data {
        path: what.into(),
        reason,
    }
}

/// The projections found in a state_dict, before the fold.
#[derive(Debug)]
pub(crate) struct Found<'a> {
    /// `P`.
    pub size: usize,
    /// `D`.
    dirs: usize,
    /// `W_hr` `[P, H]` by `(layer, reverse)`.
    w_hr: BTreeMap<(usize, bool), &'a NamedTensor>,
}

/// `(layer, reverse)` of `weight_hr_l{k}[_reverse]`.
fn hr_index(rest: &str) -> Option<(usize, bool)> {
    parse_param(rest)
        .filter(|p| p.0 == "weight_hr")
        .map(|p| (p.1, p.2))
}

/// `(kind, layer, reverse)` of `weight_ih_l{k}` / `weight_hh_l{k}` (with `_reverse`).
fn weight_index(rest: &str) -> Option<(&'static str, usize, bool)> {
    parse_param(rest).filter(|p| p.0.starts_with("weight_") && p.0 != "weight_hr")
}

impl<'a> Found<'a> {
    /// The projections `{prefix}weight_hr_l{k}[_reverse]` of the recurrent
    /// module, checked against its other weights (`what` names the file):
    /// `None` without any.
    pub fn find(tensors: &'a [NamedTensor], prefix: &str, what: &str) -> Result<Option<Self>> {
        let mut w_hr = BTreeMap::new();
        for t in tensors {
            if let Some(key) = t.name.strip_prefix(prefix).and_then(hr_index) {
                w_hr.insert(key, t);
            }
        }
        let Some(first) = w_hr.values().next().copied() else {
            return Ok(None);
        };
        let (size, hidden) = match first.shape.as_slice() {
            &[p, h] if p > 0 && p < h => (p, h),
            other => {
                return Err(bad(
                    what,
                    format!(
                        "'{}' has shape {other:?}, expected an LSTM projection [P, H] with 0 < P < H (nn.LSTM's proj_size < hidden_size)",
                        first.name
                    ),
                ))
            }
        };
        if let Some((t, i)) = w_hr
            .values()
            .find_map(|t| Some((t, t.data.iter().position(|v| !v.is_finite())?)))
        {
            return Err(bad(
                what,
                format!("tensor '{}' element {i} is {}", t.name, t.data[i]),
            ));
        }
        let dirs = if w_hr.keys().any(|k| k.1) { 2 } else { 1 };
        // every layer and direction with recurrent weights has its
        // projection, of one shape, and reads the projected state
        let mut seen = 0;
        for t in tensors {
            let Some((kind, k, rev)) = t.name.strip_prefix(prefix).and_then(weight_index) else {
                continue;
            };
            let want = match kind {
                "weight_hh" => {
                    seen += 1;
                    let Some(hr) = w_hr.get(&(k, rev)) else {
                        return Err(bad(
                            what,
                            format!(
                                "'{}' has a projection ('{}') but '{}' has none: an LSTM with proj_size projects every layer and direction",
                                first.name, t.name, t.name.replace("weight_hh", "weight_hr")
                            ),
                        ));
                    };
                    if hr.shape != [size, hidden] {
                        return Err(bad(
                            what,
                            format!(
                                "'{}' has shape {:?}, expected [{size}, {hidden}] as '{}'",
                                hr.name, hr.shape, first.name
                            ),
                        ));
                    }
                    vec![4 * hidden, size]
                }
                _ if k == 0 => continue,
                _ => vec![4 * hidden, dirs * size],
            };
            if t.shape != want {
                return Err(bad(
                    what,
                    format!(
                        "'{}' has shape {:?}, expected {want:?} for an LSTM of {hidden} hidden units projected to {size} ('{}' is [{size}, {hidden}])",
                        t.name, t.shape, first.name
                    ),
                ));
            }
        }
        if seen != w_hr.len() {
            let extra = w_hr.values().find(|t| {
                !tensors
                    .iter()
                    .any(|u| u.name == t.name.replace("weight_hr", "weight_hh"))
            });
            return Err(bad(
                what,
                format!(
                    "'{}' projects a layer that has no recurrent weights",
                    extra.map_or(first.name.as_str(), |t| t.name.as_str())
                ),
            ));
        }
        Ok(Some(Found { size, dirs, w_hr }))
    }

    /// `w` `[rows, D*P]` read through the block-diagonal of layer `k`'s
    /// projections: `[rows, D*H]`, block `d` being `w[:, dP..(d+1)P] W_hr(k, d)`.
    pub fn fold_columns(&self, w: &[f64], rows: usize, k: usize) -> Vec<f64> {
        let p = self.size;
        let h = self.w_hr.values().next().map_or(0, |t| t.shape[1]);
        let d = self.dirs;
        let mut out = vec![0f64; rows * d * h];
        for dir in 0..d {
            let Some(hr) = self.w_hr.get(&(k, dir == 1)) else {
                continue;
            };
            let block: Vec<f64> = w
                .chunks_exact(d * p)
                .flat_map(|r| r[dir * p..][..p].iter().copied())
                .collect();
            let prod = product(&block, rows, p, &hr.data, h, false);
            for (o, s) in out.chunks_exact_mut(d * h).zip(prod.chunks_exact(h)) {
                o[dir * h..][..h].copy_from_slice(s);
            }
        }
        out
    }

    /// The state_dict with the projections folded in (module `prefix`):
    /// `weight_hh_l{k}` `[4H, P]` -> `W_hh W_hr` `[4H, H]`, `weight_ih_l{k}`
    /// for `k >= 1` `[4H, D*P]` -> `[4H, D*H]`, the projections left out;
    /// the head is folded by the import ([`Found::fold_columns`]), which
    /// knows which tensor it is. Also the names of the tensors replaced.
    pub fn fold(&self, tensors: &[NamedTensor], prefix: &str) -> (Vec<NamedTensor>, Vec<String>) {
        let (p, h) = (
            self.size,
            self.w_hr.values().next().map_or(0, |t| t.shape[1]),
        );
        let mut out = Vec::with_capacity(tensors.len());
        let mut replaced = Vec::new();
        for t in tensors {
            let rest = t.name.strip_prefix(prefix);
            if rest.and_then(hr_index).is_some() {
                replaced.push(t.name.clone());
                continue;
            }
            let folded = match rest.and_then(weight_index) {
                Some(("weight_hh", k, rev)) => {
                    let hr = self.w_hr[&(k, rev)];
                    Some((product(&t.data, 4 * h, p, &hr.data, h, false), h))
                }
                Some((_, k, _)) if k > 0 => {
                    Some((self.fold_columns(&t.data, 4 * h, k - 1), self.dirs * h))
                }
                _ => None,
            };
            match folded {
                Some((data, cols)) => {
                    replaced.push(t.name.clone());
                    out.push(NamedTensor {
                        name: t.name.clone(),
                        shape: vec![4 * h, cols],
                        data,
                    });
                }
                None => out.push(t.clone()),
            }
        }
        (out, replaced)
    }

    /// The projections' names, layer by layer, forward then reverse (the
    /// order of `h_n`).
    pub fn names(&self) -> Vec<String> {
        self.w_hr.values().map(|t| t.name.clone()).collect()
    }
}

/// Whether an imported model reads token ids through a folded
/// `nn.Embedding`: the fold keeps the file's first-layer input weights,
/// which a projection's fold never replaces.
pub(crate) fn folded_embedding(mf: &ModelFile) -> bool {
    let kept = |n: &str| mf.extra.contains_key(&format!("{UNFOLDED_PREFIX}{n}"));
    if !mf.meta.contains_key(PROJECTION_KEY) {
        return mf.extra.keys().any(|k| k.starts_with(UNFOLDED_PREFIX));
    }
    mf.meta
        .get(NAMES_KEY)
        .and_then(|s| serde_json::from_str::<BTreeMap<String, String>>(s).ok())
        .and_then(|m| m.get("rnn.weight_ih_l0").cloned())
        .is_some_and(|n| kept(&n))
}

/// The projections of an imported model, for [`crate::interop::InferInput::run_file`].
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// `P`: the size of `h`.
    pub size: usize,
    /// `H`: the size of the cell state `c` (and of `m`).
    pub hidden: usize,
    /// Per layer and direction (`k*D + d`), `W_hr` `[P, H]`.
    pub w_hr: Vec<Vec<f32>>,
}

impl Projection {
    /// The projections of `mf` (`None` for a model without): from its
    /// metadata [`PROJECTION_KEY`] and the file's tensors the import kept.
    pub fn of(mf: &ModelFile) -> Result<Option<Self>> {
        let Some(raw) = mf.meta.get(PROJECTION_KEY) else {
            return Ok(None);
        };
        let cfg = &mf.model.config;
        let bad_meta = |why: String| Error::Metadata {
            path: MODEL_FILE.into(),
            key: PROJECTION_KEY.into(),
            value: raw.clone(),
            expected: why,
        };
        #[derive(serde::Deserialize)]
        struct Meta {
            proj_size: usize,
            weight_hr: Vec<String>,
        }
        let m: Meta = serde_json::from_str(raw).map_err(|e| {
            bad_meta(format!(
                "{{\"proj_size\": P, \"weight_hr\": [names]}} ({e})"
            ))
        })?;
        let h = cfg.hidden_size;
        let ld = cfg.num_layers * cfg.directions();
        if m.proj_size == 0 || m.proj_size >= h || m.weight_hr.len() != ld {
            return Err(bad_meta(format!(
                "proj_size in 1..{h} and {ld} names (layers x directions)"
            )));
        }
        let mut w_hr = Vec::with_capacity(ld);
        for name in &m.weight_hr {
            match mf.extra.get(&format!("{UNFOLDED_PREFIX}{name}")) {
                Some((shape, data)) if *shape == [m.proj_size, h] => w_hr.push(data.clone()),
                got => {
                    return Err(bad_meta(format!(
                        "a tensor '{UNFOLDED_PREFIX}{name}' of shape [{}, {h}] (found {})",
                        m.proj_size,
                        got.map_or("none".to_string(), |t| format!("shape {:?}", t.0))
                    )))
                }
            }
        }
        Ok(Some(Projection {
            size: m.proj_size,
            hidden: h,
            w_hr,
        }))
    }

    /// `h = W_hr m` for rows of `m`: `m` `[rows, D*H]` (direction `d`'s
    /// block projected by `w_hr[first + d]`) -> `[rows, D*P]`.
    pub fn project(&self, m: &[f32], dirs: usize, first: usize) -> Vec<f32> {
        let (p, h) = (self.size, self.hidden);
        let mut out = Vec::with_capacity(m.len() / h * p);
        for row in m.chunks_exact(dirs * h) {
            for d in 0..dirs {
                let (w, x) = (&self.w_hr[first + d], &row[d * h..][..h]);
                out.extend(w.chunks_exact(h).map(|wr| {
                    wr.iter()
                        .zip(x)
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum::<f64>() as f32
                }));
            }
        }
        out
    }

    /// The states `m0` `[L*D, B, H]` of least norm with `W_hr m0 = h0` for
    /// `h0` `[L*D, B, P]`: `m0 = W_hr^T (W_hr W_hr^T)^-1 h0` (Cholesky, f64),
    /// so `(W_hh W_hr) m0 = W_hh h0`. An error when a `W_hr` has rank below
    /// `P` (no such `m0` for every `h0`).
    pub fn lift(&self, h0: &[f32], batch: usize) -> Result<Vec<f32>> {
        let (p, h) = (self.size, self.hidden);
        let mut out = Vec::with_capacity(self.w_hr.len() * batch * h);
        for (idx, w) in self.w_hr.iter().enumerate() {
            let w: Vec<f64> = w.iter().map(|&v| v as f64).collect();
            // G = W W^T [P, P], then its Cholesky factor L (G = L L^T)
            let g = product(&w, p, h, &w, p, true);
            let mut l = vec![0f64; p * p];
            for i in 0..p {
                for j in 0..=i {
                    let s = g[i * p + j] - (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum::<f64>();
                    if i == j {
                        if s <= 1e-12 * g[i * p + i].abs().max(f64::MIN_POSITIVE) {
                            return Err(Error::argument(
                                "h0",
                                "a state the projections can carry (each W_hr of full rank proj_size; or no h0: zeros)",
                                format!("the W_hr of layer and direction {idx} of rank below {p}"),
                            ));
                        }
                        l[i * p + i] = s.sqrt();
                    } else {
                        l[i * p + j] = s / l[j * p + j];
                    }
                }
            }
            for hb in h0[idx * batch * p..][..batch * p].chunks_exact(p) {
                // L z = h0, L^T y = z, m0 = W^T y
                let mut y: Vec<f64> = hb.iter().map(|&v| v as f64).collect();
                for i in 0..p {
                    y[i] = (y[i] - (0..i).map(|k| l[i * p + k] * y[k]).sum::<f64>()) / l[i * p + i];
                }
                for i in (0..p).rev() {
                    y[i] = (y[i] - (i + 1..p).map(|k| l[k * p + i] * y[k]).sum::<f64>())
                        / l[i * p + i];
                }
                out.extend((0..h).map(|c| (0..p).map(|r| w[r * h + c] * y[r]).sum::<f64>() as f32));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand case: W_hr = [[1, 0, 0], [0, 2, 0]] (P = 2, H = 3). The
    /// least-norm m0 with W_hr m0 = (3, 4) is (3, 2, 0), and projecting it
    /// gives (3, 4) back.
    #[test]
    fn lift_then_project_is_the_identity_and_least_norm() {
        let p = Projection {
            size: 2,
            hidden: 3,
            w_hr: vec![vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0]],
        };
        let m0 = p.lift(&[3.0, 4.0], 1).unwrap();
        assert_eq!(m0, [3.0, 2.0, 0.0]);
        assert_eq!(p.project(&m0, 1, 0), [3.0, 4.0]);
        // rank 1: refused, naming the cause
        let flat = Projection {
            w_hr: vec![vec![1.0, 2.0, 3.0, 2.0, 4.0, 6.0]],
            ..p
        };
        let e = flat.lift(&[1.0, 1.0], 1).unwrap_err().to_string();
        assert!(e.starts_with("h0: ") && e.contains("rank below 2"), "{e}");
    }

    #[test]
    fn names_of_projections_and_weights_parse() {
        assert_eq!(hr_index("weight_hr_l1_reverse"), Some((1, true)));
        assert_eq!(hr_index("weight_hr_l"), None);
        assert_eq!(weight_index("weight_hh_l2"), Some(("weight_hh", 2, false)));
        assert_eq!(
            weight_index("weight_ih_l0_reverse"),
            Some(("weight_ih", 0, true))
        );
        assert_eq!(weight_index("bias_ih_l0"), None);
    }
}

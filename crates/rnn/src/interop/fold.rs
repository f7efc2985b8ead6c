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

use crate::interop::import::{parse_param, NamedTensor, HAS_HEAD_KEY, NAMES_KEY, UNFOLDED_PREFIX};
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

/// `A B` for f32 `A` `[m, k]` (`m` from its length) and `B` `[k, n]`,
/// in f64, rounded to f32: `[m, n]`.
pub(crate) fn product_rows_f32(a: &[f32], k: usize, b: &[f32], n: usize) -> Vec<f32> {
    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let m = a.len() / k.max(1);
    product(&wide(a), m, k, &wide(b), n, false)
        .into_iter()
        .map(|v| v as f32)
        .collect()
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
    /// `H`.
    hidden: usize,
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
        // a projection of a layer or direction that has no recurrent weights
        let hh_of = |t: &NamedTensor| t.name.replacen("weight_hr", "weight_hh", 1);
        if let Some(stray) = w_hr
            .values()
            .find(|t| !tensors.iter().any(|u| u.name == hh_of(t)))
        {
            return Err(bad(
                what,
                format!(
                    "'{}' projects a layer or direction that has no recurrent weights (no '{}')",
                    stray.name,
                    hh_of(stray)
                ),
            ));
        }
        let dirs = match tensors.iter().any(|t| {
            t.name
                .strip_prefix(prefix)
                .and_then(weight_index)
                .is_some_and(|w| w.2)
        }) {
            true => 2,
            false => 1,
        };
        // every layer and direction with recurrent weights has its
        // projection, of one shape, and reads the projected state
        for t in tensors {
            let Some((kind, k, rev)) = t.name.strip_prefix(prefix).and_then(weight_index) else {
                continue;
            };
            let want = match kind {
                "weight_hh" => {
                    let Some(hr) = w_hr.get(&(k, rev)) else {
                        return Err(bad(
                            what,
                            format!(
                                "no projection '{}' for '{}', though '{}' is one: an LSTM with proj_size projects every layer and direction (a float tensor; integer tensors are left out as buffers)",
                                t.name.replacen("weight_hh", "weight_hr", 1), t.name, first.name
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
        Ok(Some(Found {
            size,
            hidden,
            dirs,
            w_hr,
        }))
    }

    /// `w` `[rows, D*P]` read through the block-diagonal of layer `k`'s
    /// projections: `[rows, D*H]`, block `d` being `w[:, dP..(d+1)P] W_hr(k, d)`.
    pub fn fold_columns(&self, w: &[f64], rows: usize, k: usize) -> Vec<f64> {
        let p = self.size;
        let h = self.hidden;
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
        let (p, h) = (self.size, self.hidden);
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

/// The file's own tensors of an LSTM imported with a projection, which
/// `rnn infer` runs layer by layer ([`crate::interop::InferInput::run_file`]):
/// the folded model in the file computes the same outputs from a zero
/// state, but a given `h0` enters PyTorch's first step as `W_hh h0`, which
/// the folded weights `W_hh W_hr` can only reach through an `m0` with
/// `W_hr m0 = h0` (none when `W_hr` has rank below `P`, and amplifying
/// rounding when it is near that).
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    /// `P`: the size of `h`.
    pub size: usize,
    /// `H`: the size of the cell state `c` (and of `m = o * tanh(c)`).
    pub hidden: usize,
    /// Per layer and direction (`k*D + d`), `W_hr` `[P, H]`.
    pub w_hr: Vec<Vec<f32>>,
    /// Per layer and direction, the file's `W_hh` `[4H, P]`.
    pub w_hh: Vec<Vec<f32>>,
    /// Per layer and direction, the file's `W_ih` `[4H, I_k]` (`I_0` the
    /// input's or the embedding's width, `I_k = D*P` above).
    pub w_ih: Vec<Vec<f32>>,
    /// The file's `nn.Embedding` `[V, I]`, when it had one.
    pub embedding: Option<Vec<f32>>,
    /// The file's head weight `[O, D*P]`, when it had a head.
    pub head: Option<Vec<f32>>,
}

impl Projection {
    /// The projections of `mf` (`None` for a model without): from its
    /// metadata [`PROJECTION_KEY`] and the file's tensors the import kept.
    pub fn of(mf: &ModelFile) -> Result<Option<Self>> {
        let Some(raw) = mf.meta.get(PROJECTION_KEY) else {
            return Ok(None);
        };
        let cfg = &mf.model.config;
        let bad_meta = |key: &str, value: &str, why: String| Error::Metadata {
            path: MODEL_FILE.into(),
            key: key.into(),
            value: value.into(),
            expected: why,
        };
        #[derive(serde::Deserialize)]
        struct Meta {
            proj_size: usize,
            weight_hr: Vec<String>,
            #[serde(default)]
            embedding: Option<String>,
        }
        let m: Meta = serde_json::from_str(raw).map_err(|e| {
            bad_meta(
                PROJECTION_KEY,
                raw,
                format!("{{\"proj_size\": P, \"weight_hr\": [names]}} ({e})"),
            )
        })?;
        let names: BTreeMap<String, String> = mf
            .meta
            .get(NAMES_KEY)
            .and_then(|s| serde_json::from_str(s).ok())
            .ok_or_else(|| {
                bad_meta(
                    NAMES_KEY,
                    mf.meta.get(NAMES_KEY).map_or("", |s| s),
                    "a JSON object of names".into(),
                )
            })?;
        let (h, dirs) = (cfg.hidden_size, cfg.directions());
        let (p, ld) = (m.proj_size, cfg.num_layers * dirs);
        if p == 0 || p >= h || m.weight_hr.len() != ld {
            return Err(bad_meta(
                PROJECTION_KEY,
                raw,
                format!("proj_size in 1..{h} and {ld} names (layers x directions)"),
            ));
        }
        // a tensor the import kept, by its name in the file, of `shape`
        let kept = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            match mf.extra.get(&format!("{UNFOLDED_PREFIX}{name}")) {
                Some((s, data)) if s == shape => Ok(data.clone()),
                got => Err(bad_meta(
                    PROJECTION_KEY,
                    raw,
                    format!(
                        "a tensor '{UNFOLDED_PREFIX}{name}' of shape {shape:?} (found {})",
                        got.map_or("none".to_string(), |t| format!("shape {:?}", t.0))
                    ),
                )),
            }
        };
        // the file's tensor that stands for our parameter `ours`: kept when
        // a fold replaced it, else the model's own
        let theirs = |ours: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let name = names
                .get(ours)
                .ok_or_else(|| bad_meta(NAMES_KEY, "", format!("a name for '{ours}'")))?;
            if mf.extra.contains_key(&format!("{UNFOLDED_PREFIX}{name}")) {
                return kept(name, shape);
            }
            match mf.model.param(ours) {
                Some(v) if v.len() == shape.iter().product::<usize>() => Ok(v.to_vec()),
                _ => Err(bad_meta(
                    NAMES_KEY,
                    "",
                    format!("a parameter '{ours}' of shape {shape:?}"),
                )),
            }
        };
        let embedding = match &m.embedding {
            Some(name) => {
                let (shape, _) = mf
                    .extra
                    .get(&format!("{UNFOLDED_PREFIX}{name}"))
                    .ok_or_else(|| {
                        bad_meta(
                            PROJECTION_KEY,
                            raw,
                            format!("a tensor '{UNFOLDED_PREFIX}{name}'"),
                        )
                    })?;
                let width = shape.get(1).copied().unwrap_or(0);
                Some((width, kept(name, &[cfg.input_size, width])?))
            }
            None => None,
        };
        let (mut w_hr, mut w_hh, mut w_ih) = (Vec::new(), Vec::new(), Vec::new());
        for k in 0..cfg.num_layers {
            let input = match (k, &embedding) {
                (0, Some((i, _))) => *i,
                (0, None) => cfg.input_size,
                _ => dirs * p,
            };
            for d in 0..dirs {
                let sfx = if d == 1 { "_reverse" } else { "" };
                w_hr.push(kept(&m.weight_hr[k * dirs + d], &[p, h])?);
                w_hh.push(theirs(&format!("rnn.weight_hh_l{k}{sfx}"), &[4 * h, p])?);
                w_ih.push(theirs(
                    &format!("rnn.weight_ih_l{k}{sfx}"),
                    &[4 * h, input],
                )?);
            }
        }
        let head = match mf.meta.get(HAS_HEAD_KEY).map(String::as_str) {
            Some("false") => None,
            _ => Some(theirs("head.weight", &[cfg.output_size, dirs * p])?),
        };
        Ok(Some(Projection {
            size: p,
            hidden: h,
            w_hr,
            w_hh,
            w_ih,
            embedding: embedding.map(|e| e.1),
            head,
        }))
    }

    /// `P` of an LSTM imported with a projection (`None` without), from
    /// the metadata alone: what [`crate::interop::InferInput::read_for`]
    /// checks `h0` against, without copying the file's tensors
    /// ([`Projection::of`] checks the rest when the model runs).
    pub fn size_of(mf: &ModelFile) -> Option<usize> {
        let raw = mf.meta.get(PROJECTION_KEY)?;
        serde_json::from_str::<serde_json::Value>(raw).ok()?["proj_size"]
            .as_u64()
            .and_then(|p| usize::try_from(p).ok())
    }

    /// `h = W_hr m` for rows of `m`: `m` `[rows, D*H]` (direction `d`'s
    /// block projected by `w_hr[first + d]`) -> `[rows, D*P]`, in f64.
    ///
    /// # Errors
    ///
    /// `dirs` or `hidden` 0, `w_hr[first..first + dirs]` missing or not
    /// `[P, H]`, or `m` not whole rows (the fields are public: each of
    /// these panicked before the library sweep of session 53).
    pub fn project(&self, m: &[f32], dirs: usize, first: usize) -> crate::Result<Vec<f32>> {
        let (p, h) = (self.size, self.hidden);
        let wrong = |arg: &str, expected: String, got: String| {
            Err(crate::Error::Argument {
                arg: arg.into(),
                expected,
                got,
            })
        };
        if h == 0 || dirs == 0 {
            return wrong(
                "dirs, hidden",
                "both at least 1".into(),
                format!("{dirs}, {h}"),
            );
        }
        let last = first.saturating_add(dirs);
        if last > self.w_hr.len() {
            let want = format!("at most {} (the weight_hr tensors held)", self.w_hr.len());
            return wrong("first + dirs", want, last.to_string());
        }
        if let Some(k) = (first..last).find(|&k| self.w_hr[k].len() != p.saturating_mul(h)) {
            let want = format!("[{p}, {h}] ({} values)", p.saturating_mul(h));
            return wrong(
                &format!("w_hr[{k}]"),
                want,
                format!("{} values", self.w_hr[k].len()),
            );
        }
        let width = dirs.saturating_mul(h);
        if !m.len().is_multiple_of(width) {
            let want = format!("whole rows of {width} ({dirs} x {h})");
            return wrong("m", want, format!("{} values", m.len()));
        }
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
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand case: W_hr = [[1, 0, 0], [0, 2, 0]] (P = 2, H = 3), two
    /// directions: row (1, 1, 1 | 0, 1, 0) projects to (1, 2 | 0, 2).
    #[test]
    fn each_direction_is_projected_by_its_own_w_hr() {
        let w = vec![1.0, 0.0, 0.0, 0.0, 2.0, 0.0];
        let p = Projection {
            size: 2,
            hidden: 3,
            w_hr: vec![w.clone(), w],
            w_hh: Vec::new(),
            w_ih: Vec::new(),
            embedding: None,
            head: None,
        };
        assert_eq!(
            p.project(&[1.0, 1.0, 1.0, 0.0, 1.0, 0.0], 2, 0).unwrap(),
            [1.0, 2.0, 0.0, 2.0]
        );
        // what a caller can set wrong through the public fields or the
        // arguments is an error naming it (each panicked before)
        let err = |q: &Projection, m: &[f32], dirs, first| {
            q.project(m, dirs, first).unwrap_err().to_string()
        };
        let row = [0.0; 6];
        assert_eq!(
            err(&p, &row, 0, 0),
            "dirs, hidden: expected both at least 1, got 0, 3"
        );
        assert_eq!(
            err(&p, &row, 2, 1),
            "first + dirs: expected at most 2 (the weight_hr tensors held), got 3"
        );
        assert_eq!(
            err(&p, &row[..5], 2, 0),
            "m: expected whole rows of 6 (2 x 3), got 5 values"
        );
        let mut q = p.clone();
        q.hidden = 0;
        assert_eq!(
            err(&q, &row, 2, 0),
            "dirs, hidden: expected both at least 1, got 2, 0"
        );
        q.hidden = 2;
        assert_eq!(
            err(&q, &row, 2, 0),
            "w_hr[0]: expected [2, 2] (4 values), got 6 values"
        );
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

//! `rnn infer` of an LSTM imported with a projection (`proj_size`), layer
//! by layer with PyTorch's own arithmetic for the state it is given.
//!
//! Each layer runs as a one-layer LSTM of `H` units on `m = o * tanh(c)`
//! (recurrent weights `W_hh W_hr`, as the model file holds them), from a
//! zero `m0` and the given `c0`; the given `h0` enters the first step of each
//! direction as PyTorch's `W_hh h0`, through input columns that carry `h0`
//! at that step only:
//!
//! ```text
//! x'_t = [x_t ; [t = 0] h0_fwd ; [t = len-1] h0_rev]   [B, I_k + D*P]
//! W'_ih = [W_ih | W_hh (own direction's block) | 0]     [4H, I_k + D*P]
//! h_t = W_hr m_t                                        [B, P] per direction
//! ```
//!
//! so no `m0` with `W_hr m0 = h0` is needed (there is none when `W_hr` has
//! rank below `P`, and near that one amplifies rounding). The layer's `h`
//! is the next layer's input; the head reads the top layer's.

use crate::interop::fold::Projection;
use crate::interop::{InferInput, InferOutput};
use crate::nn::cell::CellKind;
use crate::nn::layer::Input;
use crate::{Batch, Model, ModelConfig, Result, State};

/// Runs `model` (the folded LSTM of an import with projection `p`) on
/// `input` as PyTorch would; `with_head`: also the logits.
pub(crate) fn run(
    input: &InferInput,
    model: &Model<f32>,
    p: &Projection,
    with_head: bool,
) -> Result<InferOutput> {
    let cfg = &model.config;
    let (t_len, b) = (input.steps, input.batch);
    let (h, pz, dirs) = (cfg.hidden_size, p.size, cfg.directions());
    let lengths: Vec<usize> = input.lengths.clone().unwrap_or_else(|| vec![t_len; b]);
    // inputs read for another model (InferInput::read gives h0 H wide;
    // read_for, P wide) are refused, not read at the wrong places
    let ld = cfg.num_layers * dirs;
    if let Some(s) = &input.state {
        if s.h.len() != ld * b * pz || s.c.len() != ld * b * h {
            return Err(crate::Error::argument(
                "input.state",
                format!(
                    "h0 [{ld}, {b}, {pz}] and c0 [{ld}, {b}, {h}] (read by InferInput::read_for)"
                ),
                format!("{} and {} values", s.h.len(), s.c.len()),
            ));
        }
    }
    let i = cfg.input_size;
    let given = match input.ids.is_empty() {
        true => input.x.len() == t_len * b * i,
        false => input.ids.len() == t_len * b && input.ids.iter().all(|&id| id < i),
    };
    if !given || lengths.len() != b || lengths.iter().any(|&l| l == 0 || l > t_len) {
        return Err(crate::Error::argument(
            "input",
            format!("x [{t_len}, {b}, {i}] (or ids [{t_len}, {b}] below {i}) and {b} lengths in 1..={t_len}"),
            format!("{} values and {} lengths", input.x.len().max(input.ids.len()), lengths.len()),
        ));
    }
    // the first layer's input: x, or the embedding's rows for the ids
    let mut x: Vec<f32> = match &p.embedding {
        Some(emb) if !input.ids.is_empty() => {
            let width = emb.len() / cfg.input_size.max(1);
            input
                .ids
                .iter()
                .flat_map(|&id| emb[id * width..][..width].iter().copied())
                .collect()
        }
        // dense rows over the embedding's V tokens (one-hot, or any mix)
        Some(emb) => {
            let (v, width) = (cfg.input_size, emb.len() / cfg.input_size.max(1));
            crate::interop::fold::product_rows_f32(&input.x, v, emb, width)
        }
        // ids without an embedding: one-hot rows of the I inputs, as Input::Ids
        None if !input.ids.is_empty() => {
            let i = cfg.input_size;
            let mut x = vec![0f32; input.ids.len() * i];
            for (row, &id) in input.ids.iter().enumerate() {
                x[row * i + id] = 1.0;
            }
            x
        }
        None => input.x.clone(),
    };
    let mut h_n = vec![0f32; cfg.num_layers * dirs * b * pz];
    let mut c_n = vec![0f32; cfg.num_layers * dirs * b * h];
    for k in 0..cfg.num_layers {
        let width = x.len() / (t_len * b).max(1);
        // with a state: D*P more input columns carrying h0 at each
        // direction's first step
        let extra = if input.state.is_some() { dirs * pz } else { 0 };
        let mut layer = Model::<f32>::zeros(ModelConfig {
            cell: CellKind::Lstm,
            input_size: width + extra,
            hidden_size: h,
            num_layers: 1,
            bidirectional: dirs == 2,
            output_size: 1,
            output: cfg.output,
            bias_hh: cfg.bias_hh,
        })?;
        for d in 0..dirs {
            let (idx, sfx) = (k * dirs + d, if d == 1 { "_reverse" } else { "" });
            // W'_ih = [W_ih | W_hh in this direction's block | 0]
            let (w_ih, w_hh) = (&p.w_ih[idx], &p.w_hh[idx]);
            let wide: Vec<f32> = (0..4 * h)
                .flat_map(|r| {
                    let own = &w_ih[r * width..][..width];
                    let state = (0..extra).map(move |c| match c / pz == d {
                        true => w_hh[r * pz + c % pz],
                        false => 0.0,
                    });
                    own.iter().copied().chain(state)
                })
                .collect();
            let mut set = |ours: String, theirs: String, values: Option<&[f32]>| {
                let src = values.or_else(|| model.param(&theirs)).map(<[f32]>::to_vec);
                if let (Some(dst), Some(src)) = (layer.param_mut(&ours), src) {
                    dst.copy_from_slice(&src);
                }
            };
            set(format!("rnn.weight_ih_l0{sfx}"), String::new(), Some(&wide));
            for kind in ["weight_hh", "bias_ih", "bias_hh"] {
                set(
                    format!("rnn.{kind}_l0{sfx}"),
                    format!("rnn.{kind}_l{k}{sfx}"),
                    None,
                );
            }
        }
        let mut xin = vec![0f32; t_len * b * (width + extra)];
        for (r, row) in xin.chunks_exact_mut(width + extra).enumerate() {
            row[..width].copy_from_slice(&x[r * width..][..width]);
        }
        let state = input.state.as_ref().map(|s| {
            for (bb, &len) in lengths.iter().enumerate() {
                for d in 0..dirs {
                    // each direction's first step: 0 forward, len - 1 reverse
                    let t = if d == 0 { 0 } else { len - 1 };
                    let src = &s.h[((k * dirs + d) * b + bb) * pz..][..pz];
                    xin[(t * b + bb) * (width + extra) + width + d * pz..][..pz]
                        .copy_from_slice(src);
                }
            }
            State {
                h: vec![0.0; dirs * b * h],
                c: s.c[k * dirs * b * h..][..dirs * b * h].to_vec(),
            }
        });
        let mut batch = Batch::new(Input::Dense(&xin), t_len, b).with_lengths(&lengths);
        if let Some(s) = &state {
            batch = batch.with_state(s);
        }
        let fwd = layer.forward(batch)?;
        // h_t = W_hr m_t: the next layer's input (zero past each length, as m is)
        x = p.project(layer.output_of(&fwd, 0), dirs, k * dirs)?;
        let last = layer.final_state(&fwd);
        for d in 0..dirs {
            let idx = k * dirs + d;
            let m_n = &last.h[d * b * h..][..b * h];
            h_n[idx * b * pz..][..b * pz].copy_from_slice(&p.project(m_n, 1, idx)?);
        }
        c_n[k * dirs * b * h..][..dirs * b * h].copy_from_slice(&last.c);
    }
    crate::error::finite_outputs(&x, |k| format!("output {k}"))?;
    // o_t = V h_t + c, zero past each length
    let logits = match (&p.head, with_head) {
        (Some(v), true) => {
            let o = cfg.output_size;
            let bias = model.param("head.bias").unwrap_or(&[]);
            let mut out = vec![0f32; t_len * b * o];
            for (r, (row, hr)) in out
                .chunks_exact_mut(o)
                .zip(x.chunks_exact(dirs * pz))
                .enumerate()
            {
                if r / b >= lengths[r % b] {
                    continue;
                }
                for (j, (dst, vj)) in row.iter_mut().zip(v.chunks_exact(dirs * pz)).enumerate() {
                    let dot: f64 = vj.iter().zip(hr).map(|(&a, &c)| a as f64 * c as f64).sum();
                    *dst = (dot + bias.get(j).copied().unwrap_or(0.0) as f64) as f32;
                }
            }
            crate::error::finite_outputs(&out, |k| format!("logit {k}"))?;
            Some(out)
        }
        _ => None,
    };
    Ok(InferOutput {
        output: x,
        state: State { h: h_n, c: c_n },
        logits,
    })
}

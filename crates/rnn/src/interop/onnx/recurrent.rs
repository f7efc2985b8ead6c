//! One ONNX `RNN`/`GRU`/`LSTM` node per layer, its weights converted from
//! PyTorch's layout, and the Transpose + Reshape that turn its `Y`
//! `[T, D, B, H]` into the next layer's input `[T, B, D*H]`.

use super::graph::{Attr, Graph};
use crate::nn::cell::{Activation, CellKind};
use crate::{Error, Model, Result};

/// ONNX's gate blocks in terms of PyTorch's: ONNX block `j` is PyTorch block
/// `order[j]`. LSTM: PyTorch i, f, g, o -> ONNX i, o, f, c; GRU: PyTorch r,
/// z, n -> ONNX z, r, h.
pub(super) fn gate_order(cell: CellKind) -> &'static [usize] {
    match cell {
        CellKind::Lstm => &[0, 3, 1, 2],
        CellKind::Gru => &[1, 0, 2],
        CellKind::Elman { .. } => &[0],
    }
}

/// The rows of `src` `[G*H, cols]` with its `H`-row gate blocks in ONNX's order.
pub(super) fn reorder(src: &[f32], cell: CellKind, h: usize, cols: usize) -> Vec<f32> {
    let block = h * cols;
    gate_order(cell)
        .iter()
        .flat_map(|&b| &src[b * block..(b + 1) * block])
        .copied()
        .collect()
}

fn param<'a>(model: &'a Model<f32>, name: &str) -> Result<&'a [f32]> {
    model.param(name).ok_or_else(|| {
        Error::argument(
            "model",
            format!("a parameter tensor '{name}'"),
            "a model without it",
        )
    })
}

/// ONNX's name of an Elman activation (`activations` attribute of `RNN`).
fn onnx_activation(a: Activation) -> &'static str {
    match a {
        Activation::Tanh => "Tanh",
        Activation::Relu => "Relu",
        Activation::Sigmoid => "Sigmoid",
    }
}

/// The names of one layer's graph values.
pub(super) struct LayerOut {
    /// The layer's output `[T, B, D*H]`.
    pub y: String,
    /// Final hidden state `[D, B, H]`.
    pub h: String,
    /// Final cell state `[D, B, H]` (LSTM).
    pub c: Option<String>,
}

/// Where a layer reads from: its input `[T, B, I_k]`, the `int32` sequence
/// lengths `[B]` and the whole initial state `[L*D, B, H]`.
pub(super) struct LayerIn<'a> {
    pub x: &'a str,
    pub seq_lens: &'a str,
    pub h0: &'a str,
    pub c0: Option<&'a str>,
}

/// Adds layer `k` of `model`: weights `W` `[D, G*H, I_k]`, `R` `[D, G*H, H]`,
/// `B` `[D, 2*G*H]` (`[W_b, R_b]`, zeros for a missing `bias_hh`), its slice
/// of the initial states, the recurrent node, and the reshape of its output.
pub(super) fn layer(
    g: &mut Graph,
    model: &Model<f32>,
    k: usize,
    inp: &LayerIn,
) -> Result<LayerOut> {
    let cfg = &model.config;
    let (h, nd, cell) = (cfg.hidden_size, cfg.directions(), cfg.cell);
    let gh = cell.gates() * h;
    let in_k = if k == 0 { cfg.input_size } else { nd * h };
    let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
    for d in 0..nd {
        let sfx = if d == 1 { "_reverse" } else { "" };
        w.extend(reorder(
            param(model, &format!("rnn.weight_ih_l{k}{sfx}"))?,
            cell,
            h,
            in_k,
        ));
        r.extend(reorder(
            param(model, &format!("rnn.weight_hh_l{k}{sfx}"))?,
            cell,
            h,
            h,
        ));
        b.extend(reorder(
            param(model, &format!("rnn.bias_ih_l{k}{sfx}"))?,
            cell,
            h,
            1,
        ));
        match model.param(&format!("rnn.bias_hh_l{k}{sfx}")) {
            Some(bh) => b.extend(reorder(bh, cell, h, 1)),
            None => b.extend(std::iter::repeat_n(0.0, gh)),
        }
    }
    let p = format!("l{k}");
    let w = g.f32(&format!("{p}.W"), &[nd, gh, in_k], &w);
    let r = g.f32(&format!("{p}.R"), &[nd, gh, h], &r);
    let b = g.f32(&format!("{p}.B"), &[nd, 2 * gh], &b);

    // this layer's rows of h0/c0 [L*D, B, H]: [k*D, (k+1)*D)
    let (h0, c0) = if cfg.num_layers == 1 {
        (inp.h0.to_string(), inp.c0.map(str::to_string))
    } else {
        let lo = g.i64(&format!("{p}.state_lo"), &[1], &[(k * nd) as i64]);
        let hi = g.i64(&format!("{p}.state_hi"), &[1], &[((k + 1) * nd) as i64]);
        let axis = g.i64(&format!("{p}.state_axis"), &[1], &[0]);
        let mut slice = |src: &str, name: String| {
            g.node("Slice", &[src, &lo, &hi, &axis], &[&name], vec![]);
            name
        };
        let h0 = slice(inp.h0, format!("{p}.h0"));
        let c0 = inp.c0.map(|c| slice(c, format!("{p}.c0")));
        (h0, c0)
    };

    let (y, yh, yc) = (format!("{p}.Y"), format!("{p}.Y_h"), format!("{p}.Y_c"));
    let direction = if nd == 2 { "bidirectional" } else { "forward" };
    let mut attrs = vec![
        ("hidden_size", Attr::Int(h as i64)),
        ("direction", Attr::Str(direction)),
    ];
    let mut inputs = vec![inp.x, &w, &r, &b, inp.seq_lens, &h0];
    let mut outputs = vec![y.as_str(), yh.as_str()];
    let op = match cell {
        CellKind::Lstm => {
            inputs.push(c0.as_deref().unwrap_or(""));
            outputs.push(&yc);
            "LSTM"
        }
        CellKind::Gru => {
            // PyTorch applies r to (W_hn h + b_hn): ONNX's linear_before_reset
            attrs.push(("linear_before_reset", Attr::Int(1)));
            "GRU"
        }
        CellKind::Elman { activation } => {
            let a = onnx_activation(activation);
            attrs.push(("activations", Attr::Strs(vec![a; nd])));
            "RNN"
        }
    };
    g.node(op, &inputs, &outputs, attrs);

    // Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]
    let yt = format!("{p}.Y_t");
    g.node(
        "Transpose",
        &[&y],
        &[&yt],
        vec![("perm", Attr::Ints(vec![0, 2, 1, 3]))],
    );
    let shape = g.i64(&format!("{p}.out_shape"), &[3], &[0, 0, -1]);
    let out = format!("{p}.out");
    g.node("Reshape", &[&yt, &shape], &[&out], vec![]);
    Ok(LayerOut {
        y: out,
        h: yh,
        c: cell.has_memory().then_some(yc),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lstm_and_gru_blocks_move_to_onnx_order() {
        // 4 blocks of H = 1 row, 2 columns: PyTorch i, f, g, o
        let src = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5];
        assert_eq!(
            reorder(&src, CellKind::Lstm, 1, 2),
            [1.0, 1.5, 4.0, 4.5, 2.0, 2.5, 3.0, 3.5] // i, o, f, g(=c)
        );
        // GRU, H = 2, biases: r = [1, 2], z = [3, 4], n = [5, 6] -> z, r, n
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(
            reorder(&b, CellKind::Gru, 2, 1),
            [3.0, 4.0, 1.0, 2.0, 5.0, 6.0]
        );
        let e = CellKind::Elman {
            activation: Activation::Relu,
        };
        assert_eq!(reorder(&b, e, 6, 1), b);
    }
}

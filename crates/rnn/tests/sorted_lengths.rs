//! A layer run on a batch of sequences of different lengths (unsorted, with
//! ties and an empty sequence, an initial state and a final-state gradient)
//! gives exactly what each sequence gives run alone (f64, 1e-12): outputs,
//! final states, BPTT caches, parameter gradients and the gradients of the
//! initial state, for every cell, in both directions. The variable-length
//! loops run only the sequences still running at each step, in order of
//! decreasing length; this pins them to the plain loop.

use rnn::nn::cell::{Activation, CellKind};
use rnn::nn::layer::{Input, LayerGrads, LayerParams, Recurrent};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

fn assert_close(what: &str, a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(close(*x, *y), "{what}[{k}]: {x} vs {y}");
    }
}

/// A deterministic pattern in [-1, 1].
fn pattern(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|k| ((k * 13 + seed * 7 + 1) as f64 * 0.618).sin())
        .collect()
}

fn check(cell: CellKind, reverse: bool) {
    let (ni, h) = (3, 4);
    let layer = Recurrent {
        cell,
        input_size: ni,
        hidden: h,
        reverse,
    };
    let gw = cell.gates() * h;
    let mem = cell.has_memory();
    let w_ih = pattern(gw * ni, 1);
    let w_hh: Vec<f64> = pattern(gw * h, 2).iter().map(|v| 0.5 * v).collect();
    let (b_ih, b_hh) = (pattern(gw, 3), pattern(gw, 4));
    let p = LayerParams {
        w_ih: &w_ih,
        w_hh: &w_hh,
        b_ih: &b_ih,
        b_hh: Some(&b_hh),
    };
    let lengths = [3usize, 6, 0, 6, 1, 4];
    let (steps, batch) = (6, lengths.len());
    let bh = batch * h;
    // padding holds garbage: it must change nothing
    let mut x = vec![1e3; steps * batch * ni]; // [T, B, I]
    let mut dh_out = vec![-7e2; steps * bh]; // [T, B, H]
    let xs = pattern(steps * batch * ni, 5);
    let ds = pattern(steps * bh, 6);
    for (b, &len) in lengths.iter().enumerate() {
        for t in 0..len {
            let (r, ri) = ((t * batch + b) * h, (t * batch + b) * ni);
            x[ri..ri + ni].copy_from_slice(&xs[ri..ri + ni]);
            dh_out[r..r + h].copy_from_slice(&ds[r..r + h]);
        }
    }
    let (h0, c0) = (pattern(bh, 7), pattern(bh, 8));
    let (dh_n, dc_n) = (pattern(bh, 9), pattern(bh, 10));
    let c0 = mem.then_some(c0.as_slice());
    let dc_n = mem.then_some(dc_n.as_slice());
    let n_params = |v: &[f64]| v.len();
    let zeros = |v: &[f64]| vec![0.0; n_params(v)];
    let (mut gw_ih, mut gw_hh, mut gb_ih, mut gb_hh) =
        (zeros(&w_ih), zeros(&w_hh), zeros(&b_ih), zeros(&b_hh));
    let cache = layer.forward(
        &p,
        Input::Dense(&x),
        steps,
        batch,
        Some(&h0),
        c0,
        Some(&lengths),
    );
    let mut dx = vec![0.0; x.len()];
    let (dh0, dc0) = layer.backward(
        &p,
        &cache,
        Input::Dense(&x),
        steps,
        batch,
        Some(&lengths),
        &dh_out,
        Some(&dh_n),
        dc_n,
        &mut LayerGrads {
            w_ih: &mut gw_ih,
            w_hh: &mut gw_hh,
            b_ih: &mut gb_ih,
            b_hh: Some(&mut gb_hh),
        },
        Some(&mut dx),
    );
    let (mut ow_ih, mut ow_hh, mut ob_ih, mut ob_hh) =
        (zeros(&w_ih), zeros(&w_hh), zeros(&b_ih), zeros(&b_hh));
    let cw = cell.cache_width() * h;
    for (b, &len) in lengths.iter().enumerate() {
        let row = |v: &[f64], w: usize, t: usize| v[(t * batch + b) * w..][..w].to_vec();
        let hb = &h0[b * h..(b + 1) * h];
        let cb = c0.map(|c| &c[b * h..(b + 1) * h]);
        let dhb = &dh_n[b * h..(b + 1) * h];
        let dcb = dc_n.map(|c| &c[b * h..(b + 1) * h]);
        if len == 0 {
            // nothing runs: the state and its gradient pass through
            assert_close("h_n (empty)", &cache.h_n[b * h..(b + 1) * h], hb);
            assert_close("dh0 (empty)", &dh0[b * h..(b + 1) * h], dhb);
            if let (Some(cb), Some(dcb)) = (cb, dcb) {
                assert_close("c_n (empty)", &cache.c_n[b * h..(b + 1) * h], cb);
                assert_close("dc0 (empty)", &dc0[b * h..(b + 1) * h], dcb);
            }
            continue;
        }
        let xb: Vec<f64> = (0..len).flat_map(|t| row(&x, ni, t)).collect();
        let db: Vec<f64> = (0..len).flat_map(|t| row(&dh_out, h, t)).collect();
        let one = layer.forward(&p, Input::Dense(&xb), len, 1, Some(hb), cb, None);
        let mut dx1 = vec![0.0; xb.len()];
        let (dh1, dc1) = layer.backward(
            &p,
            &one,
            Input::Dense(&xb),
            len,
            1,
            None,
            &db,
            Some(dhb),
            dcb,
            &mut LayerGrads {
                w_ih: &mut ow_ih,
                w_hh: &mut ow_hh,
                b_ih: &mut ob_ih,
                b_hh: Some(&mut ob_hh),
            },
            Some(&mut dx1),
        );
        let tag = format!("{cell:?} reverse={reverse} b={b}");
        // s_0 kept as given (BPTT reads it at the sequence's first step)
        assert_close(&format!("{tag} h0"), &cache.h0[b * h..(b + 1) * h], hb);
        assert_close(&format!("{tag} h0 alone"), &one.h0, hb);
        for t in 0..steps {
            let at = |v: &[f64], w: usize| v[t * w..(t + 1) * w].to_vec();
            if t < len {
                assert_close(
                    &format!("{tag} h t={t}"),
                    &row(&cache.h, h, t),
                    &at(&one.h, h),
                );
                let g = row(&cache.gates, cw, t);
                assert_close(&format!("{tag} gates t={t}"), &g, &at(&one.gates, cw));
                if mem {
                    let cp = row(&cache.c_prev, h, t);
                    assert_close(&format!("{tag} c_prev t={t}"), &cp, &at(&one.c_prev, h));
                }
                assert_close(&format!("{tag} dx t={t}"), &row(&dx, ni, t), &at(&dx1, ni));
            } else {
                assert!(
                    row(&cache.h, h, t).iter().all(|&v| v == 0.0),
                    "{tag} h at padding"
                );
                assert!(
                    row(&dx, ni, t).iter().all(|&v| v == 0.0),
                    "{tag} dx at padding"
                );
            }
        }
        assert_close(
            &format!("{tag} h_n"),
            &cache.h_n[b * h..(b + 1) * h],
            &one.h_n,
        );
        assert_close(&format!("{tag} dh0"), &dh0[b * h..(b + 1) * h], &dh1);
        if mem {
            assert_close(
                &format!("{tag} c_n"),
                &cache.c_n[b * h..(b + 1) * h],
                &one.c_n,
            );
            assert_close(&format!("{tag} dc0"), &dc0[b * h..(b + 1) * h], &dc1);
        }
    }
    let tag = format!("{cell:?} reverse={reverse}");
    assert_close(&format!("{tag} dW_ih"), &gw_ih, &ow_ih);
    assert_close(&format!("{tag} dW_hh"), &gw_hh, &ow_hh);
    assert_close(&format!("{tag} db_ih"), &gb_ih, &ob_ih);
    assert_close(&format!("{tag} db_hh"), &gb_hh, &ob_hh);
    assert!(
        gw_hh.iter().any(|g| g.abs() > 1e-3),
        "{tag}: gradients vanish"
    );
}

#[test]
fn variable_lengths_equal_each_sequence_alone() {
    for cell in [
        CellKind::Elman {
            activation: Activation::Tanh,
        },
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for reverse in [false, true] {
            check(cell, reverse);
        }
    }
}

//! What the HTML pages of `rnn visualize` share (a language model's,
//! [`super::lm`], and a tagger's, [`super::tag`]): escaping, the
//! correlation of a unit with a feature, and the activations table the
//! pages' unit picker reads.

/// Text escaped for HTML (element content and quoted attributes).
/// The script both pages colour by with a chosen hidden unit: element
/// `prefix + t` gets unit `j`'s activation at position `t` of `acts` (red
/// positive, blue negative, scaled by the largest magnitude but at least 1),
/// and `#range` says the range.
pub(crate) const COLOUR_BY_UNIT_JS: &str = r#"function colourByUnit(prefix, j) {
  let lo = 0, hi = 0;
  for (let t = 0; t < acts.length; t++) { lo = Math.min(lo, acts[t][j]); hi = Math.max(hi, acts[t][j]); }
  const scale = Math.max(Math.abs(lo), Math.abs(hi), 1);
  for (let t = 0; t < acts.length; t++) {
    const v = acts[t][j] / scale, a = Math.min(1, Math.abs(v)).toFixed(2);
    document.getElementById(prefix + t).style.background = v >= 0 ? `rgba(220,40,40,${a})` : `rgba(40,80,220,${a})`;
  }
  document.getElementById("range").textContent = `activation from ${(lo / 100).toFixed(2)} to ${(hi / 100).toFixed(2)}`;
}"#;

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Pearson correlation (0 when either side is constant).
pub(crate) fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        0.0
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// The activations `[N, W]` (`rows` of `width` units) as a JavaScript array
/// of arrays, each value in hundredths, clamped to +-9.99.
pub(crate) fn activations_js(rows: &[f32], width: usize) -> String {
    let mut acts = String::from("[");
    for (t, row) in rows.chunks(width.max(1)).enumerate() {
        let row: Vec<String> = row
            .iter()
            .map(|v| format!("{}", (v.clamp(-9.99, 9.99) * 100.0).round() as i32))
            .collect();
        acts += &format!("{}[{}]", if t > 0 { "," } else { "" }, row.join(","));
    }
    acts.push(']');
    acts
}

/// The units (of `width`, each unit `j`'s activations given by `unit(j)`)
/// most correlated with `feature`, strongest first: `(j, r)` for the first
/// `k`.
pub(crate) fn top_units(
    width: usize,
    unit: impl Fn(usize) -> Vec<f64>,
    feature: &[f64],
    k: usize,
) -> Vec<(usize, f64)> {
    let mut r: Vec<(usize, f64)> = (0..width)
        .map(|j| (j, correlation(&unit(j), feature)))
        .collect();
    r.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    r.truncate(k);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_and_escaping() {
        assert!((correlation(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((correlation(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(correlation(&[1.0, 1.0], &[0.0, 1.0]), 0.0);
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
        assert_eq!(
            activations_js(&[0.5, -20.0, 0.014, 1.0], 2),
            "[[50,-999],[1,100]]"
        );
        let unit = |j: usize| {
            if j == 1 {
                vec![0.0, 1.0, 2.0]
            } else {
                vec![1.0, 0.0, 1.0]
            }
        };
        assert_eq!(top_units(2, unit, &[0.0, 2.0, 4.0], 1)[0].0, 1);
    }
}

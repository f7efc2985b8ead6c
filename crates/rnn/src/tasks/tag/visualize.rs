//! A tagger over a text, as one self-contained HTML page (no network, no
//! external script): every token coloured by its predicted tag (`B-X` and
//! `I-X` share the colour of the entity type `X`; `O` is left plain), the
//! tag probabilities on hover, and a picker that colours the tokens by one
//! hidden unit of the last layer instead, with the units most correlated
//! with each predicted tag as a starting point.

use super::data::Sentence;
use super::encode::Encoded;
use super::tagger::Tagger;
use crate::nn::layer::Input;
use crate::nn::model::Batch;
use crate::tasks::view::{activations_js, escape, top_units, COLOUR_BY_UNIT_JS};
use crate::{Error, Result};

/// At most this many tokens are shown (the first sentences' ones).
pub const VIEW_TOKENS: usize = 3000;

/// Sentences per forward pass while building the page.
const CHUNK: usize = 32;

/// Background colours of entity types, in the order types first appear in
/// the tag set.
const PALETTE: [&str; 10] = [
    "#ffb3b3", "#b3d9ff", "#b3ffb3", "#ffe0a3", "#e0b3ff", "#a3fff0", "#ffb3e6", "#d9d9a3",
    "#c2c2ff", "#ffcc99",
];

/// The entity type of a tag: `X` for `B-X`, `I-X` (and `E-X`, `S-X`), the
/// tag itself otherwise; `None` for `O`.
fn kind(tag: &str) -> Option<&str> {
    if tag == "O" {
        return None;
    }
    Some(
        ["B-", "I-", "E-", "S-"]
            .iter()
            .find_map(|p| tag.strip_prefix(p))
            .unwrap_or(tag),
    )
}

impl Tagger {
    /// The HTML page of this tagger over `sentences` (their first
    /// [`VIEW_TOKENS`] tokens); `what` names them in errors and in the
    /// page's title.
    ///
    /// ```
    /// use rnn::tasks::tag::{Sentence, Tagger, TaggerOptions};
    /// let s = |w: &str, t: &str| Sentence {
    ///     tokens: w.split(' ').map(String::from).collect(),
    ///     tags: t.split(' ').map(String::from).collect(),
    ///     line: 1,
    /// };
    /// let train = vec![s("I like <apple>", "O O B-fruit"), s("The Apple", "O B-corp")];
    /// let tagger = Tagger::new(&train, &TaggerOptions::default(), 7).unwrap();
    /// let html = tagger.visualize(&train, "sample").unwrap();
    /// assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script src"));
    /// assert_eq!(html.matches("<span id=\"w").count(), 5); // one span per token
    /// assert!(html.contains("&lt;apple&gt;</span>"));
    /// ```
    ///
    /// # Errors
    ///
    /// No tokens in `sentences`.
    pub fn visualize(&self, sentences: &[Sentence], what: &str) -> Result<String> {
        // the first sentences, up to VIEW_TOKENS tokens
        let mut shown = Vec::new();
        let mut left = VIEW_TOKENS;
        for s in sentences.iter().filter(|s| !s.is_empty()) {
            if left == 0 {
                break;
            }
            let n = s.len().min(left);
            left -= n;
            shown.push(Sentence {
                tokens: s.tokens[..n].to_vec(),
                tags: Vec::new(),
                line: s.line,
            });
        }
        if shown.is_empty() {
            return Err(Error::argument(what, "some tokens", "none"));
        }
        let enc: Vec<Encoded> = shown.iter().map(|s| self.encode(s)).collect();
        let pred = self.predict_own(&enc, CHUNK);
        let probs = self.probabilities_own(&enc, CHUNK);
        let cfg = &self.model.config;
        let width = cfg.directions() * cfg.hidden_size;
        // the last layer's output at every token, sentence by sentence [N, W]
        let mut top = Vec::new();
        for chunk in enc.chunks(CHUNK) {
            let refs: Vec<&Encoded> = chunk.iter().collect();
            let (x, steps, lengths, _) = self.inputs(&refs, None, None, false);
            let fwd = self
                .model
                .forward(Batch::new(Input::Dense(&x), steps, refs.len()).with_lengths(&lengths))?;
            let out = self.model.output_of(&fwd, cfg.num_layers - 1); // [T, B, W]
            for (b, e) in chunk.iter().enumerate() {
                for t in 0..e.len {
                    let r = t * refs.len() + b;
                    top.extend_from_slice(&out[r * width..(r + 1) * width]);
                }
            }
        }
        let tokens = top.len() / width.max(1);
        let tags = &self.spec.tags;
        let o = tags.len();
        let flat_pred: Vec<usize> = pred.iter().flatten().copied().collect();
        // colours: one per entity type, in tag-set order
        let mut kinds: Vec<&str> = Vec::new();
        for k in tags.iter().filter_map(|t| kind(t)) {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let colour = |tag: usize| {
            kind(&tags[tag])
                .and_then(|k| kinds.iter().position(|&x| x == k))
                .map(|i| PALETTE[i % PALETTE.len()])
        };
        let styles: String = (0..o)
            .filter_map(|j| Some(format!(".t{j} {{ background: {}; }}\n", colour(j)?)))
            .collect();
        let legend: Vec<String> = (0..o)
            .map(|j| format!("<span class=\"t{j}\">{}</span>", escape(&tags[j])))
            .collect();
        // the units most correlated with each predicted tag
        let unit =
            |j: usize| -> Vec<f64> { (0..tokens).map(|t| f64::from(top[t * width + j])).collect() };
        let mut listed = String::new();
        for (j, tag) in tags.iter().enumerate() {
            let f: Vec<f64> = flat_pred
                .iter()
                .map(|&p| f64::from(u8::from(p == j)))
                .collect();
            if f.iter().all(|&v| v == f[0]) {
                continue; // never or always predicted here
            }
            let best: Vec<String> = top_units(width, unit, &f, 3)
                .iter()
                .map(|(u, r)| format!("<a href=\"#\" onclick=\"pick({u});return false\">unit {u}</a> (r = {r:+.2})"))
                .collect();
            listed += &format!("<li>{}: {}</li>\n", escape(tag), best.join(", "));
        }
        if listed.is_empty() {
            listed = "<li>none: every token here has the same predicted tag</li>\n".into();
        }
        // one span per token: its predicted tag, the probabilities as the tooltip
        let mut body = String::new();
        let mut i = 0;
        for (s, (tags_s, p)) in shown.iter().zip(pred.iter().zip(&probs)) {
            body += "<p>";
            for (t, token) in s.tokens.iter().enumerate() {
                let row = &p[t * o..(t + 1) * o];
                let mut order: Vec<usize> = (0..o).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                let tips: Vec<String> = order
                    .iter()
                    .take(5)
                    .map(|&k| format!("{} {:.1}%", escape(&tags[k]), 100.0 * f64::from(row[k])))
                    .collect();
                let tag = escape(&tags[tags_s[t]]);
                let label = if kind(&tags[tags_s[t]]).is_some() {
                    format!("<sub>{tag}</sub>")
                } else {
                    String::new()
                };
                body += &format!(
                    "<span id=\"w{i}\" class=\"t{}\" data-tag=\"{tag}\" title=\"{}\">{}{label}</span> ",
                    tags_s[t],
                    tips.join(", "),
                    escape(token)
                );
                i += 1;
            }
            body += "</p>\n";
        }
        let options: String = (0..width)
            .map(|j| format!("<option value=\"{j}\">unit {j}</option>"))
            .collect();
        Ok(format!(
            r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rnn: tags over {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
#text {{ line-height: 2; border: 1px solid #ccc; padding: 0.8em; }}
#text p {{ margin: 0.3em 0; }}
#text span, #legend span {{ padding: 1px 2px; border-radius: 3px; }}
sub {{ font-size: 60%; color: #444; }}
{styles}</style></head><body>
<h1>Tags over {title}</h1>
<p>{cell} tagger, {layers} layer(s), {dirs}, {width} units in the last layer; {sentences} sentence(s), {tokens} tokens.
Each token is coloured by its predicted tag; hover a token for the tag probabilities.</p>
<p id="legend">Tags: {legend}</p>
<p><label>Colour by: <select id="unit" onchange="pick(+this.value)"><option value="-1">predicted tag</option>{options}</select></label> <span id="range"></span></p>
<p>Units most correlated with each predicted tag (red: positive, blue: negative):</p>
<ul>
{listed}</ul>
<div id="text">{body}</div>
<script>
const acts = {acts};
{colour}
function pick(j) {{
  document.getElementById("unit").value = j;
  if (j < 0) {{
    for (let t = 0; t < acts.length; t++) document.getElementById("w" + t).style.background = "";
    document.getElementById("range").textContent = "";
    return;
  }}
  colourByUnit("w", j);
}}
const h = location.hash.slice(1); // view.html#12 opens unit 12
pick(h === "" ? -1 : Number(h));
</script>
</body></html>
"#,
            colour = COLOUR_BY_UNIT_JS,
            title = escape(what),
            cell = cfg.cell.name(),
            layers = cfg.num_layers,
            dirs = if cfg.bidirectional {
                "bidirectional"
            } else {
                "unidirectional"
            },
            sentences = shown.len(),
            legend = legend.join(" "),
            acts = activations_js(&top, width),
        ))
    }
}

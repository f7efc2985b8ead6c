//! A language model's hidden units over a text, as one self-contained HTML
//! page (no network, no external script): every character coloured by the
//! chosen unit's activation, a unit picker, the five likeliest next
//! characters on hover, and the units most correlated with simple features
//! of the text as a starting point.

use super::model::LanguageModel;
use crate::nn::layer::Input;
use crate::nn::loss::softmax;
use crate::nn::model::Batch;
use crate::tasks::view::{activations_js, escape, top_units, COLOUR_BY_UNIT_JS};
use crate::{Error, Result};

/// At most this many characters of the text are shown (the first ones).
pub const VIEW_CHARS: usize = 4000;

/// The simple features units are correlated with: a name and its value at
/// each character (given the text so far).
fn features(chars: &[char]) -> Vec<(&'static str, Vec<f64>)> {
    let (mut quoted, mut col) = (false, 0usize);
    let (mut in_quotes, mut line_pos, mut in_word, mut after_vowel) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, &c) in chars.iter().enumerate() {
        if c == '"' {
            quoted = !quoted;
        }
        in_quotes.push(f64::from(u8::from(quoted)));
        line_pos.push(col as f64);
        col = if c == '\n' { 0 } else { col + 1 };
        in_word.push(f64::from(u8::from(c.is_alphanumeric())));
        let prev = i.checked_sub(1).map(|j| chars[j].to_ascii_lowercase());
        after_vowel.push(f64::from(u8::from(
            prev.is_some_and(|p| "aeiou".contains(p)),
        )));
    }
    vec![
        ("inside quotes", in_quotes),
        ("position in the line", line_pos),
        ("inside a word", in_word),
        ("after a vowel", after_vowel),
    ]
}

impl LanguageModel {
    /// The HTML page of this model's last layer over the first
    /// [`VIEW_CHARS`] characters of `text` (`what` names it in errors and in
    /// the page's title).
    ///
    /// ```
    /// use rnn::tasks::lm::{LanguageModel, Vocab};
    /// use rnn::{Model, ModelConfig};
    /// let lm = LanguageModel::new(Model::new(ModelConfig::elman(4, 6, 4), 0).unwrap(),
    ///     Vocab::from_text("ab \"")).unwrap();
    /// let html = lm.visualize("ab \"ba\" ab", "sample").unwrap();
    /// assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script src"));
    /// assert_eq!(html.matches("<span id=\"c").count(), 10); // one span per character
    /// ```
    ///
    /// # Errors
    ///
    /// An empty text, or characters outside the vocabulary.
    pub fn visualize(&self, text: &str, what: &str) -> Result<String> {
        let chars: Vec<char> = text.chars().take(VIEW_CHARS).collect();
        if chars.is_empty() {
            return Err(Error::argument(what, "a non-empty text", "an empty one"));
        }
        let shown: String = chars.iter().collect();
        let ids = self.vocab.encode(&shown, what)?;
        let cfg = &self.model.config;
        let n = ids.len();
        let fwd = self.model.forward(Batch::new(Input::Ids(&ids), n, 1))?;
        let width = cfg.directions() * cfg.hidden_size;
        let top = self.model.output_of(&fwd, cfg.num_layers - 1); // [T, 1, D*H]

        // activations per unit, quantised to 1/100 for the page
        let unit =
            |j: usize| -> Vec<f64> { (0..n).map(|t| f64::from(top[t * width + j])).collect() };
        let acts = activations_js(&top[..n * width], width);
        // the units most correlated with each feature, strongest first
        let feats = features(&chars);
        let mut listed = String::new();
        for (name, f) in &feats {
            if f.iter().all(|&v| v == f[0]) {
                listed += &format!(
                    "<li>{}: the same everywhere in this text</li>\n",
                    escape(name)
                );
                continue;
            }
            let best: Vec<String> = top_units(width, unit, f, 3)
                .iter()
                .map(|(j, c)| format!("<a href=\"#\" onclick=\"pick({j});return false\">unit {j}</a> (r = {c:+.2})"))
                .collect();
            listed += &format!("<li>{}: {}</li>\n", escape(name), best.join(", "));
        }
        // one span per character, its top-5 next characters as the tooltip
        let o = cfg.output_size;
        let mut spans = String::new();
        for (t, c) in chars.iter().enumerate() {
            let p = softmax(&fwd.logits[t * o..(t + 1) * o], o);
            let mut order: Vec<usize> = (0..o).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            let tips: Vec<String> = order
                .iter()
                .take(5)
                .map(|&k| {
                    let ch = self.vocab.decode(&[k]);
                    let shown = match ch.as_str() {
                        "\n" => "\\n".to_string(),
                        " " => "space".to_string(),
                        s => s.to_string(),
                    };
                    format!("{} {:.1}%", escape(&shown), 100.0 * f64::from(p[k]))
                })
                .collect();
            let body = if *c == '\n' {
                "\u{21b5}\n".to_string()
            } else {
                escape(&c.to_string())
            };
            spans += &format!(
                "<span id=\"c{t}\" title=\"next: {}\">{body}</span>",
                tips.join(", ")
            );
        }
        let options: String = (0..width)
            .map(|j| format!("<option value=\"{j}\">unit {j}</option>"))
            .collect();
        Ok(format!(
            r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>rnn: hidden units over {title}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
#text {{ font-family: monospace; white-space: pre-wrap; line-height: 1.6; border: 1px solid #ccc; padding: 0.8em; }}
#text span {{ padding: 1px 0; }}
</style></head><body>
<h1>Hidden units over {title}</h1>
<p>{cell} model, {layers} layer(s), {width} units in the last layer; {n} characters. Red: the unit is positive,
blue: negative (darker is larger). Hover a character for the five likeliest next characters.</p>
<p><label>Unit: <select id="unit" onchange="pick(+this.value)">{options}</select></label> <span id="range"></span></p>
<p>Units most correlated with simple features of the text:</p>
<ul>
{listed}</ul>
<div id="text">{spans}</div>
<script>
const acts = {acts};
{colour}
function pick(j) {{
  document.getElementById("unit").value = j;
  colourByUnit("c", j);
}}
pick(Number(location.hash.slice(1)) || 0); // view.html#12 opens unit 12
</script>
</body></html>
"#,
            colour = COLOUR_BY_UNIT_JS,
            title = escape(what),
            cell = cfg.cell.name(),
            layers = cfg.num_layers,
        ))
    }
}

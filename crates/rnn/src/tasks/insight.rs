//! Looking inside a trained model, whatever its task: the gradient flow
//! (`rnn diagnose`) and the hidden units over a text (`rnn visualize`) of
//! the model in a directory, dispatched on the task its model file names.
//! Language models ([`super::lm`]) and taggers ([`super::tag`]) have both,
//! forecasters ([`super::forecast`]) and sequence classifiers
//! ([`super::classify`]) the gradient flow; any other model is an error
//! saying so. (This module uses those tasks; no task uses it.)

use super::classify::Classifier;
use super::forecast::Forecaster;
use super::lm::{Corpus, LanguageModel};
use super::tag::data::{parse_untagged_with, read_conll, read_input, InputFormat};
use super::tag::Tagger;
use super::tag::Tokenizer;
use crate::io::model_file::{write_text, ModelFile, Task, MODEL_FILE};
use crate::nn::flow::Flow;
use crate::{Error, Result};
use std::path::Path;

/// The error for a model this module cannot look inside: `task`, where the
/// command needs one of `wanted`.
/// A task's name quoted, with its article: `a 'lm'`, `an 'imported'`.
pub(crate) fn a_task(task: &str) -> String {
    match task.starts_with(['a', 'e', 'i', 'o', 'u']) {
        true => format!("an '{task}'"),
        false => format!("a '{task}'"),
    }
}

fn unsupported(dir: &Path, task: Task, wanted: &[Task]) -> Error {
    let names: Vec<String> = wanted.iter().map(|t| format!("'{t}'")).collect();
    let task = a_task(&task.to_string());
    let (last, rest) = names
        .split_last()
        .map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
    Error::Data {
        path: dir.join(MODEL_FILE),
        reason: format!(
            "holds {task} model, but this command needs a {} or {last} model",
            rest.join(", ")
        ),
    }
}

/// The gradient flow of the model in `dir` on the data in `data`: a
/// language model's on a text ([`LanguageModel::diagnose`]), a tagger's on
/// a tagged CoNLL file ([`Tagger::diagnose`]), a forecaster's on a series
/// CSV file ([`Forecaster::diagnose`]), a sequence classifier's on a
/// labelled `.ts` or long CSV file ([`Classifier::diagnose`]); of an
/// ensemble, the first network's.
///
/// # Errors
///
/// A model of another kind, or a file that cannot be read or does not suit
/// the model.
pub fn diagnose(dir: &Path, data: &Path) -> Result<Flow> {
    let mf = ModelFile::load(dir)?;
    let what = data.display().to_string();
    match mf.task {
        Task::Lm => LanguageModel::from_file(mf, dir)?.diagnose(&Corpus::read(data)?.text, &what),
        Task::Tag => Tagger::from_model_file(dir, mf)?.diagnose(&read_conll(data)?, &what),
        Task::Forecast => {
            let fc = Forecaster::load(dir)?;
            fc.diagnose(&fc.read_series(data)?, &what)
        }
        Task::Classify => {
            let cl = Classifier::load(dir)?;
            cl.diagnose(&cl.read(data)?, &what)
        }
        t => Err(unsupported(
            dir,
            t,
            &[Task::Lm, Task::Tag, Task::Forecast, Task::Classify],
        )),
    }
}

/// The HTML page of the model in `dir` over the text in `text`: a language
/// model's hidden units over its characters ([`LanguageModel::visualize`]),
/// or a tagger's tags over its sentences ([`Tagger::visualize`]; CoNLL
/// columns when a line has a tab, else one sentence per line, split as
/// `rnn tag` splits it: [`Tokenizer::Vocabulary`]).
///
/// # Errors
///
/// Another task's model, or a text that cannot be read or does not suit
/// the model.
pub fn visualize(dir: &Path, text: &Path) -> Result<String> {
    Ok(page(dir, text)?.1)
}

/// [`visualize`]'s page and the task of the model it shows.
fn page(dir: &Path, text: &Path) -> Result<(Task, String)> {
    let mf = ModelFile::load(dir)?;
    let what = text.display().to_string();
    let task = mf.task;
    let html = match mf.task {
        Task::Lm => LanguageModel::from_file(mf, dir)?.visualize(&Corpus::read(text)?.text, &what),
        Task::Tag => {
            let tagger = Tagger::from_model_file(dir, mf)?;
            let (path, raw) = read_input(Some(text))?;
            let format = InputFormat::Auto.resolve(&raw);
            let known = |w: &str| tagger.knows_word(w);
            let sentences = parse_untagged_with(&path, &raw, format, Tokenizer::Vocabulary, known)?;
            tagger.visualize(&sentences, &what)
        }
        t => Err(unsupported(dir, t, &[Task::Lm, Task::Tag])),
    }?;
    Ok((task, html))
}

/// What [`write_view`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The task of the model shown (a language model or a tagger).
    pub task: Task,
    /// The page's size in bytes.
    pub bytes: usize,
}

/// Writes [`visualize`]'s page to `out`; an existing `out` is an error
/// unless `replace`.
///
/// ```no_run
/// use std::path::Path;
/// rnn::tasks::insight::write_view(Path::new("runs/ner"), Path::new("news.txt"), Path::new("view.html"), false)?;
/// # Ok::<(), rnn::Error>(())
/// ```
///
/// # Errors
///
/// As [`visualize`], `out` existing without `replace`, or writing it fails.
pub fn write_view(dir: &Path, text: &Path, out: &Path, replace: bool) -> Result<Written> {
    let model = crate::io::model_inputs(dir);
    let mut inputs: Vec<&Path> = model.iter().map(|p| p.as_path()).collect();
    inputs.push(text);
    crate::io::refuse_output(out, replace, &inputs)?;
    let (task, html) = page(dir, text)?;
    write_text(out, &html)?;
    Ok(Written {
        task,
        bytes: html.len(),
    })
}

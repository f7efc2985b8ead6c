//! Numbers as spreadsheets and other countries write them: a decimal comma
//! (`25,01`, R's `write.csv2`), groups of thousands (`1.234,56` in much of
//! Europe, `"1,234.56"` in the US and the UK). A column of a table is read
//! with one style, chosen from its cells; the cells are rewritten as Rust
//! reads numbers (`1234.56`), so everything after the table sees plain
//! numbers.

use crate::tasks::fill::is_missing;

/// How a column writes its numbers: the character between groups of three
/// digits (none when no cell groups them) and the one before the decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Style {
    group: u8,
    decimal: u8,
}

/// `1.234,56` and `25,01`.
const COMMA_DECIMAL: Style = Style {
    group: b'.',
    decimal: b',',
};

/// `1,234.56`.
const POINT_DECIMAL: Style = Style {
    group: b',',
    decimal: b'.',
};

/// `cell` read in `style`, written back as Rust reads numbers: a sign, the
/// integer part (digits, or 1-3 digits then groups of exactly 3 after each
/// `style.group`, or after a no-break space, as French spreadsheets group
/// them: `102 580,00`), then optionally `style.decimal` and digits, then
/// optionally an exponent. `None` when the cell is not such a number.
fn read_in(cell: &str, style: Style) -> Option<String> {
    let spaced;
    let cell = if cell.contains(['\u{a0}', '\u{202f}']) {
        spaced = cell.replace(['\u{a0}', '\u{202f}'], &(style.group as char).to_string());
        spaced.as_str()
    } else {
        cell
    };
    let b = cell.as_bytes();
    let mut out = String::with_capacity(cell.len());
    let mut i = 0;
    if let Some(&s @ (b'-' | b'+')) = b.first() {
        out.push(s as char);
        i = 1;
    }
    let digits_from = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    // the integer part: a first run of digits, then groups of three
    let first = digits_from(i);
    if first == 0 {
        return None;
    }
    out.push_str(&cell[i..i + first]);
    i += first;
    let mut grouped = false;
    while i < b.len() && b[i] == style.group {
        let run = digits_from(i + 1);
        if run != 3 || (!grouped && first > 3) {
            return None;
        }
        out.push_str(&cell[i + 1..i + 4]);
        (i, grouped) = (i + 4, true);
    }
    if i < b.len() && b[i] == style.decimal {
        let run = digits_from(i + 1);
        if run == 0 {
            return None;
        }
        out.push('.');
        out.push_str(&cell[i + 1..i + 1 + run]);
        i += 1 + run;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        out.push_str(&cell[i..]); // checked by the parse below
        i = b.len();
    }
    (i == b.len() && out.parse::<f64>().is_ok_and(f64::is_finite)).then_some(out)
}

/// One value as a file separated by `delimiter` writes it (typed or piped
/// to `rnn step`): a plain number, else a finite number in the first style
/// of such a file that reads it (with `;` or a tab between fields, `43,2`
/// is 43.2 and `1.234,5` is 1234.5). `None` when it is neither.
///
/// ```
/// use rnn::tasks::forecast::read_value;
/// assert_eq!(read_value("43.2", b','), Some(43.2));
/// assert_eq!(read_value("43,2", b';'), Some(43.2));
/// assert_eq!(read_value("1.234,5", b';'), Some(1234.5));
/// assert_eq!(read_value("43,2", b','), None); // a comma separates values there
/// assert_eq!(read_value("4x", b';'), None);
/// ```
pub fn read_value(cell: &str, delimiter: u8) -> Option<f64> {
    if let Ok(v) = cell.parse::<f64>() {
        return Some(v);
    }
    styles(delimiter)
        .iter()
        .find_map(|&s| read_in(cell, s))
        .and_then(|plain| plain.parse().ok())
}

/// Whether `cell` is a number in one of the styles a file separated by
/// `delimiter` may write (for the check of a first line without a header).
pub(super) fn is_styled_number(cell: &str, delimiter: u8) -> bool {
    styles(delimiter)
        .iter()
        .any(|&s| read_in(cell, s).is_some())
}

/// The styles a file separated by `delimiter` may write, first the one
/// taken when a column reads in both: with `,` between fields a comma in a
/// number was quoted and groups thousands; with `;` or a tab it is the
/// decimal comma of the countries that separate fields so, unless the
/// column's cells only read as US groups (`1,234.5`).
fn styles(delimiter: u8) -> &'static [Style] {
    if delimiter == b',' {
        &[POINT_DECIMAL]
    } else {
        &[COMMA_DECIMAL, POINT_DECIMAL]
    }
}

/// Rewrites every column of `rows` whose cells are gaps or numbers in one
/// style, at least one of them not a plain number, with plain numbers.
/// Columns of text, or of numbers in mixed styles, stay as they are (a
/// later "not a number" error names the cell). Returns the columns of a
/// `,`-separated file whose numbers with a comma are all one group of
/// three digits after at most three (`"100,250"`: a thousand groups, or a
/// decimal comma with three decimals), each with its first such cell.
pub(super) fn plain_numbers(rows: &mut [Vec<String>], delimiter: u8) -> Vec<(usize, String)> {
    let mut ambiguous = Vec::new();
    let width = rows.first().map_or(0, Vec::len);
    for j in 0..width {
        let cells = || {
            rows.iter()
                .map(|r| r[j].as_str())
                .filter(|c| !is_missing(c))
        };
        if cells().all(|c| c.parse::<f64>().is_ok()) {
            continue;
        }
        // the column read in each style in turn, kept in the first that
        // reads every cell (gaps stay as written)
        let read = |style: Style| -> Option<Vec<Option<String>>> {
            rows.iter()
                .map(|r| {
                    let c = r[j].as_str();
                    if is_missing(c) {
                        Some(None)
                    } else {
                        read_in(c, style).map(Some)
                    }
                })
                .collect()
        };
        let Some(plain) = styles(delimiter).iter().find_map(|&s| read(s)) else {
            continue;
        };
        if delimiter == b',' {
            let one_group = |c: &str| {
                let c = c.trim().trim_start_matches(['-', '+']);
                matches!(c.split_once(','), Some((a, b)) if (1..=3).contains(&a.len())
                    && b.len() == 3
                    && a.bytes().chain(b.bytes()).all(|x| x.is_ascii_digit()))
            };
            let commas: Vec<&str> = rows
                .iter()
                .map(|r| r[j].as_str())
                .filter(|c| c.contains(','))
                .collect();
            if !commas.is_empty() && commas.iter().all(|c| one_group(c)) {
                ambiguous.push((j, commas[0].trim().to_string()));
            }
        }
        for (r, p) in rows.iter_mut().zip(plain) {
            if let Some(p) = p {
                r[j] = p;
            }
        }
    }
    ambiguous
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(cells: &[&str], delimiter: u8) -> Vec<String> {
        let mut rows: Vec<Vec<String>> = cells.iter().map(|c| vec![c.to_string()]).collect();
        let _ = plain_numbers(&mut rows, delimiter);
        rows.into_iter().map(|mut r| r.remove(0)).collect()
    }

    #[test]
    fn the_styles_of_a_number() {
        let r = |c: &str, s| read_in(c, s);
        assert_eq!(
            r("1.234.567,89", COMMA_DECIMAL).as_deref(),
            Some("1234567.89")
        );
        assert_eq!(r("-0,5", COMMA_DECIMAL).as_deref(), Some("-0.5"));
        assert_eq!(r("1,5e3", COMMA_DECIMAL).as_deref(), Some("1.5e3"));
        assert_eq!(r("+12,345.6", POINT_DECIMAL).as_deref(), Some("+12345.6"));
        assert_eq!(r("7", POINT_DECIMAL).as_deref(), Some("7"));
        // French groups: a no-break space (U+00A0) or a narrow one (U+202F)
        assert_eq!(
            r("102\u{a0}580,5", COMMA_DECIMAL).as_deref(),
            Some("102580.5")
        );
        assert_eq!(
            r("-1\u{202f}234\u{202f}567", COMMA_DECIMAL).as_deref(),
            Some("-1234567")
        );
        // a group of two
        assert_eq!(r("12\u{a0}34,5", COMMA_DECIMAL), None);
        // groups of other than three digits, a group after four digits,
        // nothing before or after a separator, two decimal separators
        for bad in [
            "1.23,4",
            "1234.567,8",
            ",5",
            "5,",
            "1,2,3",
            "1.2.3",
            "1,5e",
            "x",
        ] {
            assert_eq!(r(bad, COMMA_DECIMAL), None, "{bad}");
        }
        assert_eq!(r("1,2", POINT_DECIMAL), None);
    }

    #[test]
    fn a_column_is_read_in_one_style() {
        // R's write.csv2 and European spreadsheets, gaps kept
        assert_eq!(
            column(&["25,01", "NA", "1.000,5", "-3"], b';'),
            ["25.01", "NA", "1000.5", "-3"]
        );
        // a tab file of US groups: the decimal comma does not read "1,234.5"
        assert_eq!(column(&["1,234.5", "999.0"], b'\t'), ["1234.5", "999.0"]);
        // a comma file: a comma in a number was quoted and groups thousands
        assert_eq!(column(&["1,234", "56"], b','), ["1234", "56"]);
        // plain numbers are left as written ("1.000" is one, not a thousand)
        assert_eq!(column(&["1.000", "2.5"], b';'), ["1.000", "2.5"]);
        // text, pairs, mixed styles: unchanged
        assert_eq!(column(&["1,2", "a"], b';'), ["1,2", "a"]);
        assert_eq!(column(&["1,2"], b','), ["1,2"]);
        assert_eq!(column(&["1,5", "2.5"], b';'), ["1,5", "2.5"]);
    }
}

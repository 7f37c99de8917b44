//! What a client command prints: for people, for `--json` and for `--quiet`.

use std::fmt::Write as _;

use serde_json::Value;

/// What a command prints, in each mode.
#[derive(Debug, Default)]
pub struct Output {
    /// `--json`: the server's answer.
    pub json: Value,
    /// Default: lines for people, ending in a newline.
    pub human: String,
    /// `--quiet`: the one value worth capturing.
    pub quiet: String,
    /// Said on stderr in every mode.
    pub warnings: Vec<String>,
}

impl Output {
    /// A list: a table for people (or `empty` when there are no rows), the first column
    /// (the ids) one per line for `--quiet`, and the server's answer for `--json`.
    pub(super) fn listing(
        json: Value,
        headers: &[&str],
        rows: &[Vec<String>],
        empty: &str,
    ) -> Output {
        Output {
            human: if rows.is_empty() {
                format!("{empty}\n")
            } else {
                table(headers, rows)
            },
            quiet: rows
                .iter()
                .filter_map(|r| r.first().cloned())
                .collect::<Vec<_>>()
                .join("\n"),
            json,
            warnings: Vec::new(),
        }
    }
}

/// Lines of columns padded to the widest cell.
pub(super) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let text: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

/// `Name:version`, as the CLI names an API.
pub(super) fn handle_of(name: &str, version: &str) -> String {
    format!("{name}:{version}")
}

/// A JSON object of `pairs`, for the `--json` answer of commands whose server answer is
/// empty (a delete) or several answers put together.
pub(super) fn object<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let t = table(
            &["ID", "NAME"],
            &[
                vec!["1".into(), "Observer".into()],
                vec!["22".into(), "X".into()],
            ],
        );
        assert_eq!(t, "ID  NAME\n1   Observer\n22  X\n");
    }
}

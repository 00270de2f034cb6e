//! The part of YAML a Well `stats.yaml` uses: nested block mappings whose
//! leaves are numbers or lists of numbers (block lists, as `yaml.dump`
//! writes them, `- - a` for nested ones, or flow lists `[a, b]`), with
//! comments. Anything else is refused with the line it is on.
use std::fmt;

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// A number.
    Number(f64),
    /// A list.
    List(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The numbers of a number or of nested lists, row-major.
    pub(super) fn numbers(&self) -> Option<Vec<f64>> {
        match self {
            Node::Number(v) => Some(vec![*v]),
            Node::List(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(item.numbers()?);
                }
                Some(out)
            }
            Node::Map(_) => None,
        }
    }
}

/// Why the text is not the YAML subset read here.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct YamlError {
    /// 1-based line number.
    pub(super) line: usize,
    /// What is wrong.
    pub(super) reason: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// One meaningful line: its number, indentation and text.
#[derive(Debug, Clone)]
struct Line {
    number: usize,
    indent: usize,
    text: String,
}

/// Parses `text` into its top-level value (an empty document is an empty map).
pub(super) fn parse(text: &str) -> Result<Node, YamlError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let content = raw.split(" #").next().unwrap_or("").trim_end();
        let trimmed = content.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        if content.starts_with('\t') {
            return Err(YamlError {
                line: i + 1,
                reason: "tabs are not allowed for indentation".into(),
            });
        }
        lines.push(Line {
            number: i + 1,
            indent: content.len() - trimmed.len(),
            text: trimmed.to_string(),
        });
    }
    if lines.is_empty() {
        return Ok(Node::Map(Vec::new()));
    }
    let mut parser = Parser { lines, pos: 0 };
    let node = parser.block(parser.lines[0].indent)?;
    match parser.lines.get(parser.pos) {
        Some(line) => Err(YamlError {
            line: line.number,
            reason: "unexpected indentation".into(),
        }),
        None => Ok(node),
    }
}

struct Parser {
    lines: Vec<Line>,
    pos: usize,
}

fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

impl Parser {
    fn block(&mut self, indent: usize) -> Result<Node, YamlError> {
        if is_item(&self.lines[self.pos].text) {
            self.list(indent)
        } else {
            self.map(indent)
        }
    }

    fn map(&mut self, indent: usize) -> Result<Node, YamlError> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(line) = self.lines.get(self.pos).cloned() {
            if line.indent != indent || is_item(&line.text) {
                break;
            }
            let (key, rest) = split_key(&line)?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(YamlError {
                    line: line.number,
                    reason: format!("`{key}` appears twice"),
                });
            }
            self.pos += 1;
            let value = if rest.is_empty() {
                match self.lines.get(self.pos) {
                    Some(next)
                        if next.indent > indent
                            || (next.indent == indent && is_item(&next.text)) =>
                    {
                        let at = next.indent;
                        self.block(at)?
                    }
                    _ => {
                        return Err(YamlError {
                            line: line.number,
                            reason: format!("`{key}` has no value"),
                        })
                    }
                }
            } else {
                scalar_or_flow(&rest, line.number)?
            };
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }

    fn list(&mut self, indent: usize) -> Result<Node, YamlError> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.pos).cloned() {
            if line.indent != indent || !is_item(&line.text) {
                break;
            }
            let rest = line.text[1..].trim_start();
            if rest.is_empty() {
                self.pos += 1;
                match self.lines.get(self.pos) {
                    Some(next) if next.indent > indent => {
                        let at = next.indent;
                        items.push(self.block(at)?);
                    }
                    _ => {
                        return Err(YamlError {
                            line: line.number,
                            reason: "a list item has no value".into(),
                        })
                    }
                }
            } else if is_item(rest) {
                // `- - a`: the inner list starts where its dash stands.
                let inner = indent + (line.text.len() - rest.len());
                self.lines[self.pos] = Line {
                    number: line.number,
                    indent: inner,
                    text: rest.to_string(),
                };
                items.push(self.list(inner)?);
            } else {
                self.pos += 1;
                items.push(scalar_or_flow(rest, line.number)?);
            }
        }
        Ok(Node::List(items))
    }
}

/// `key: rest` (rest may be empty); keys may be quoted.
fn split_key(line: &Line) -> Result<(String, String), YamlError> {
    let (key, rest) = match line.text.split_once(": ") {
        Some((k, r)) => (k, r.trim()),
        None => match line.text.strip_suffix(':') {
            Some(k) => (k, ""),
            None => {
                return Err(YamlError {
                    line: line.number,
                    reason: format!("expected `key: value`, found `{}`", line.text),
                })
            }
        },
    };
    let key = key.trim();
    let unquoted = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| key.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(key);
    Ok((unquoted.to_string(), rest.to_string()))
}

/// A number or a flow list `[a, [b, c]]`.
fn scalar_or_flow(text: &str, line: usize) -> Result<Node, YamlError> {
    let text = text.trim();
    if text.starts_with('[') {
        let mut chars = text.char_indices().peekable();
        let node = flow(text, &mut chars, line)?;
        if let Some((_, c)) = chars.find(|(_, c)| !c.is_whitespace()) {
            return Err(YamlError {
                line,
                reason: format!("unexpected `{c}` after a list"),
            });
        }
        return Ok(node);
    }
    number(text, line)
}

fn number(text: &str, line: usize) -> Result<Node, YamlError> {
    let lowered = text.to_ascii_lowercase();
    let value = match lowered.as_str() {
        ".nan" => Some(f64::NAN),
        ".inf" | "+.inf" => Some(f64::INFINITY),
        "-.inf" => Some(f64::NEG_INFINITY),
        _ => text.parse::<f64>().ok(),
    };
    value.map(Node::Number).ok_or_else(|| YamlError {
        line,
        reason: format!("`{text}` is not a number"),
    })
}

fn flow(
    text: &str,
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
    line: usize,
) -> Result<Node, YamlError> {
    // The caller saw `[`.
    chars.next();
    let mut items = Vec::new();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.peek().copied() {
            Some((_, ']')) => {
                chars.next();
                return Ok(Node::List(items));
            }
            Some((_, '[')) => items.push(flow(text, chars, line)?),
            Some((start, _)) => {
                let mut end = start;
                while let Some((i, c)) = chars.peek().copied() {
                    if c == ',' || c == ']' {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                items.push(number(text[start..end].trim(), line)?);
            }
            None => {
                return Err(YamlError {
                    line,
                    reason: "a `[` list is not closed".into(),
                })
            }
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.next() {
            Some((_, ',')) => {}
            Some((_, ']')) => return Ok(Node::List(items)),
            _ => {
                return Err(YamlError {
                    line,
                    reason: "expected `,` or `]` in a list".into(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(node: &'a Node, key: &str) -> &'a Node {
        match node {
            Node::Map(entries) => &entries.iter().find(|(k, _)| k == key).unwrap().1,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn reads_what_yaml_dump_writes_for_the_well() {
        let text = "mean:\n  C:\n  - - 1.9611E+03\n    - -2.7848E-01\n  - - -2.7848E-01\n    - 9.8888E+00\n  c_zz: 5.5936E-01 # comment\n  velocity:\n  - 9.9804E-01\n  - -2.0371E-08\nstd:\n  c_zz: 2.1646E-01\n  velocity: [0.5, 1e-3]\n";
        let doc = parse(text).unwrap();
        let mean = get(&doc, "mean");
        assert_eq!(
            get(mean, "C").numbers().unwrap(),
            vec![1961.1, -0.27848, -0.27848, 9.8888]
        );
        assert_eq!(get(mean, "c_zz").numbers().unwrap(), vec![0.55936]);
        assert_eq!(
            get(mean, "velocity").numbers().unwrap(),
            vec![0.99804, -2.0371e-8]
        );
        let std = get(&doc, "std");
        assert_eq!(get(std, "velocity").numbers().unwrap(), vec![0.5, 1e-3]);
        assert_eq!(
            parse("a: [[1, 2], [3]]").unwrap(),
            Node::Map(vec![(
                "a".into(),
                Node::List(vec![
                    Node::List(vec![Node::Number(1.0), Node::Number(2.0)]),
                    Node::List(vec![Node::Number(3.0)]),
                ])
            )])
        );
    }

    #[test]
    fn malformed_text_names_its_line() {
        let cases = [
            ("mean:\n  rho: abc\n", 2),
            ("mean:\n  rho: 1\n  rho: 2\n", 3),
            ("mean:\nstd: 1\n", 1),
            ("mean:\n  rho: [1, 2\n", 2),
            ("mean:\n  rho: 1\n   p: 2\n", 3),
            ("just text\n", 1),
        ];
        for (text, line) in cases {
            let err = parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
        }
    }
}

//! Short descriptions of terms for error messages: `atom value`,
//! `tuple {bump,5}`, `integer 300`; long terms are cut with `...`.

use std::fmt::Write;

use crate::term::Term;

/// The longest rendering kept in a message, in bytes.
const BUDGET: usize = 60;

/// `kind rendering`, e.g. `atom value`, `tuple {bump,5}`.
pub(crate) fn describe(term: &Term) -> String {
    let kind = match term {
        Term::Atom(_) => "atom",
        Term::Int(_) | Term::BigInt(_) => "integer",
        Term::Float(_) => "float",
        Term::Binary(_) => "binary",
        Term::BitString(_) => "bitstring",
        Term::List(l) if l.is_empty() => return "empty list []".into(),
        Term::List(_) => "list",
        Term::ImproperList(..) => "improper list",
        Term::Tuple(_) => "tuple",
        Term::Map(_) => "map",
        Term::Pid(_) => "pid",
        Term::Port(_) => "port",
        Term::Reference(_) => "reference",
        Term::Fun(_) => "fun",
    };
    let mut out = String::new();
    render(term, &mut out);
    if out.len() > BUDGET {
        let mut cut = BUDGET;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str("...");
    }
    format!("{kind} {out}")
}

fn render(term: &Term, out: &mut String) {
    // Stop early on huge terms: the caller truncates anyway.
    if out.len() > BUDGET {
        return;
    }
    let _ = match term {
        Term::Atom(a) => write!(out, "{a}"),
        Term::Int(i) => write!(out, "{i}"),
        Term::BigInt(n) => write!(out, "{n}"),
        Term::Float(f) => write!(out, "{f:?}"),
        Term::Binary(b) => match std::str::from_utf8(b) {
            Ok(s) if s.chars().all(|c| !c.is_control()) => write!(out, "<<{s:?}>>"),
            _ => {
                out.push_str("<<");
                for (i, byte) in b.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{byte}");
                    if out.len() > BUDGET {
                        break;
                    }
                }
                out.push_str(">>");
                Ok(())
            }
        },
        Term::BitString(b) => write!(out, "<<...:{}>>", b.bit_len()),
        Term::List(items) => {
            sequence('[', items, None, ']', out);
            Ok(())
        }
        Term::ImproperList(items, tail) => {
            sequence('[', items, Some(tail), ']', out);
            Ok(())
        }
        Term::Tuple(items) => {
            sequence('{', items, None, '}', out);
            Ok(())
        }
        Term::Map(m) => {
            out.push_str("#{");
            for (i, (k, v)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(k, out);
                out.push_str(" => ");
                render(v, out);
                if out.len() > BUDGET {
                    break;
                }
            }
            out.push('}');
            Ok(())
        }
        Term::Pid(p) => write!(out, "<{}.{}.{}>", p.node, p.id, p.serial),
        Term::Port(p) => write!(out, "#Port<{}.{}>", p.node, p.id),
        Term::Reference(r) => write!(out, "#Ref<{}.{:?}>", r.node, r.ids),
        Term::Fun(f) => write!(out, "#Fun<{} bytes>", f.bytes.len()),
    };
}

fn sequence(open: char, items: &[Term], tail: Option<&Term>, close: char, out: &mut String) {
    out.push(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        render(item, out);
        if out.len() > BUDGET {
            break;
        }
    }
    if let Some(tail) = tail {
        out.push('|');
        render(tail, out);
    }
    out.push(close);
}

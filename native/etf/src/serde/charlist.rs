//! [`Charlist`]: a string that travels as an Erlang charlist, `"abc"` = `[97,98,99]`.

use std::fmt;
use std::ops::Deref;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// A `String` that serializes as a list of code points (an Erlang string,
/// as `io_lib:format/2` and most of `stdlib` return them), where a plain
/// `String` serializes as a UTF-8 binary.
///
/// | Erlang               | Rust                                   |
/// |----------------------|----------------------------------------|
/// | `"héllo"` (a list)   | `Charlist("héllo".into())`             |
/// | `<<"héllo"/utf8>>`   | `String::from("héllo")`                |
///
/// It deserializes from anything a `String` does (binary, charlist or atom).
///
/// ```
/// use etf::serde::Charlist;
/// use etf::Term;
/// let t = etf::to_term(&Charlist::from("ab")).unwrap();
/// assert_eq!(t, Term::List(vec![Term::Int(97), Term::Int(98)]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Charlist(pub String);

impl Serialize for Charlist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.chars().count()))?;
        for c in self.0.chars() {
            seq.serialize_element(&u32::from(c))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Charlist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Charlist, D::Error> {
        String::deserialize(d).map(Charlist)
    }
}

impl Deref for Charlist {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for Charlist {
    fn from(s: String) -> Charlist {
        Charlist(s)
    }
}

impl From<&str> for Charlist {
    fn from(s: &str) -> Charlist {
        Charlist(s.to_owned())
    }
}

impl From<Charlist> for String {
    fn from(c: Charlist) -> String {
        c.0
    }
}

impl fmt::Display for Charlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

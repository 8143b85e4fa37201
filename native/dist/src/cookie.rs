//! The magic cookie: the shared secret of the handshake.
//!
//! | Erlang                             | Rust                                    |
//! |------------------------------------|-----------------------------------------|
//! | `erl -setcookie secret`            | `Cookie::new("secret")`                 |
//! | `erl` without `-setcookie`         | `Cookie::from_home()?` (`~/.erlang.cookie`) |
//! | `erlang:get_cookie()`              | `cookie.as_str()`                       |
//!
//! As `erl` does, [`Cookie::from_home`] reads `$HOME/.erlang.cookie`, taking
//! the first line with surrounding whitespace removed. (`erl` creates the file
//! with a random cookie when it is missing; so do we, readable by the owner only.)
//!
//! ```
//! let c = dist::cookie::Cookie::new("secret");
//! assert_eq!(c.as_str(), "secret");
//! assert_eq!(format!("{c:?}"), "Cookie(<hidden>)");
//! ```

use std::fmt;
use std::path::PathBuf;

/// A distribution cookie. Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie(String);

/// Why the cookie could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// `$HOME` is not set.
    #[error("HOME is not set: cannot find ~/.erlang.cookie")]
    NoHome,
    /// Reading or creating the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The cookie file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file holds no cookie.
    #[error("{0}: empty cookie file")]
    Empty(PathBuf),
}

impl Cookie {
    /// A cookie from its text.
    pub fn new(text: impl Into<String>) -> Cookie {
        Cookie(text.into())
    }

    /// The cookie text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bytes digested in the handshake: `atom_to_list(Cookie)` as an
    /// iolist, i.e. one byte per Latin-1 character (UTF-8 beyond that).
    pub(crate) fn digest_bytes(&self) -> Vec<u8> {
        if self.0.chars().all(|c| (c as u32) < 256) {
            self.0.chars().map(|c| c as u32 as u8).collect()
        } else {
            self.0.as_bytes().to_vec()
        }
    }

    /// `~/.erlang.cookie`, as `erl` reads it; created with a random cookie
    /// (mode 0400) when missing, as `erl` does.
    pub fn from_home() -> Result<Cookie, CookieError> {
        let home = std::env::var_os("HOME").ok_or(CookieError::NoHome)?;
        let path = PathBuf::from(home).join(".erlang.cookie");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let cookie = text.lines().next().unwrap_or("").trim();
                if cookie.is_empty() {
                    Err(CookieError::Empty(path))
                } else {
                    Ok(Cookie::new(cookie))
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let cookie = random_cookie();
                write_private(&path, &cookie).map_err(|source| CookieError::Io { path, source })?;
                Ok(Cookie::new(cookie))
            }
            Err(source) => Err(CookieError::Io { path, source }),
        }
    }
}

/// Twenty upper-case letters, like `erl`'s generated cookies.
fn random_cookie() -> String {
    (0..20)
        .map(|_| (b'A' + (rand::random::<u32>() % 26) as u8) as char)
        .collect()
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o400);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cookie(<hidden>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_cookies_digest_one_byte_per_character() {
        assert_eq!(Cookie::new("é").digest_bytes(), vec![0xe9]);
        assert_eq!(Cookie::new("abc").digest_bytes(), b"abc".to_vec());
    }

    #[test]
    fn generated_cookies_are_twenty_capitals() {
        let c = random_cookie();
        assert_eq!(c.len(), 20);
        assert!(c.bytes().all(|b| b.is_ascii_uppercase()));
    }
}

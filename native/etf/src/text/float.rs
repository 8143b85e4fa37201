//! Floats as OTP 25 prints them: `float_to_list(F, [short])`, which
//! `io_lib` uses for `~w` and `~p`.
//!
//! The digits are the shortest that read back to the same float, as Ryū
//! picks them (the `ryu` crate is the same algorithm as OTP's copy; unlike
//! Rust's `{:e}` it breaks ties to even: `900719925474099.2`, not `.3`). Whether they are laid
//! out fixed (`123.5`, `0.001`) or scientific (`1.0e-5`) follows OTP's
//! `erts/emulator/ryu/to_chars.h`: with `M` the digits as an integer, `n`
//! their count and `E` the exponent such that the value is `M * 10^E`,
//! fixed is used when `lower <= E <= upper`, where
//!
//! - `n == 1`: `lower = -4`, `upper = 2` (`0.0001`, `100.0`, `1.0e3`);
//! - otherwise `lower = -(n + 2)` and `upper = 2` if the scientific
//!   exponent `E + n - 1` is at least 10, else `upper = 1`;
//!
//! except that integers at or beyond 2^53 print scientific
//! (`9.007199254740992e15`). Both forms always carry a `.` and a digit
//! after it, so the text reads back as a float in Erlang.

use std::fmt;

/// Writes `x` as Erlang's `io_lib:format("~w", [X])` does.
///
/// Erlang has no NaN or infinities; should a [`Term::Float`](crate::Term)
/// hold one, it prints as Rust does (`NaN`, `inf`), which no Erlang reads.
pub(crate) fn write_float(f: &mut impl fmt::Write, x: f64) -> fmt::Result {
    if !x.is_finite() {
        return write!(f, "{x}");
    }
    let (digits, sci_exp) = shortest_digits(x.abs());
    let n = digits.len() as i64;
    let m: u64 = digits.parse().unwrap_or(0);
    // The value is M * 10^E.
    let e = sci_exp - (n - 1);
    let (lower, upper) = if n == 1 {
        (-4, 2)
    } else if sci_exp >= 10 {
        (-(n + 2), 2)
    } else {
        (-(n + 2), 1)
    };
    let beyond_2_53 =
        (m >= 1 << 53 && e == 0) || (m > (1 << 52) / 5 && e == 1) || (m > (1 << 51) / 25 && e == 2);
    if x.is_sign_negative() {
        f.write_char('-')?;
    }
    if (lower..=upper).contains(&e) && !beyond_2_53 {
        f.write_str(&fixed_form(&digits, sci_exp + 1))
    } else {
        f.write_str(&scientific_form(&digits, sci_exp))
    }
}

/// Ryū's shortest digits of `x` (no leading or trailing zeros; `"0"` for
/// zero) and the exponent of the first one: `1234.5` is `("12345", 3)`.
fn shortest_digits(x: f64) -> (String, i64) {
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(x);
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let trimmed = all.trim_start_matches('0');
    // The value is 0.ALL * 10^(len(int) + exp); every leading zero dropped
    // moves the point one place left.
    let point = int.len() as i64 + exp - (all.len() - trimmed.len()) as i64;
    let digits = trimmed.trim_end_matches('0');
    if digits.is_empty() {
        ("0".to_owned(), 0)
    } else {
        (digits.to_owned(), point - 1)
    }
}

/// `digits` with the decimal point after `point` of them (`point` may be
/// negative or beyond the digits).
fn fixed_form(digits: &str, point: i64) -> String {
    let len = digits.len() as i64;
    if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= len {
        format!("{digits}{}.0", "0".repeat((point - len) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    }
}

fn scientific_form(digits: &str, exp: i64) -> String {
    let (first, rest) = digits.split_at(1.min(digits.len()));
    let rest = if rest.is_empty() { "0" } else { rest };
    format!("{first}.{rest}e{exp}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(x: f64) -> String {
        let mut s = String::new();
        write_float(&mut s, x).unwrap();
        s
    }

    #[test]
    fn floats_print_as_otp_25_short_form() {
        // Each pair was printed by `io:format("~w", [X])` on OTP 25.
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1.0e100, "1.0e100"),
            (1.0e-10, "1.0e-10"),
            (5.0e-324, "5.0e-324"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (123456789.0, "123456789.0"),
            (1.0e15, "1.0e15"),
            (1000.0, "1.0e3"),
            (100.0, "100.0"),
            (12345.0, "12345.0"),
            (12345678900.0, "12345678900.0"),
            (1234567890.0, "1234567890.0"),
            (123450.0, "123450.0"),
            (1.234e5, "1.234e5"),
            (0.00012, "1.2e-4"),
            (0.0001, "0.0001"),
            (0.0012345, "0.0012345"),
            (0.00005, "5.0e-5"),
            (1.7976931348623157e308, "1.7976931348623157e308"),
            (9007199254740992.0, "9.007199254740992e15"),
            (123456789012345680.0, "1.2345678901234568e17"),
            (-2.5, "-2.5"),
            (900719925474099.2, "900719925474099.2"),
            (0.3, "0.3"),
            (1.5e-7, "1.5e-7"),
        ];
        for (x, want) in cases {
            assert_eq!(show(x), want, "printing {x:?}");
        }
    }
}

//! Byte-level scanning helpers shared by the typed header views (RFC 3261 §25.1).
//!
//! Header values are kept as received, folded lines included; these helpers treat
//! `CRLF 1*WSP` as linear white space (RFC 3261 §7.3.1), so the typed views never need an
//! unfolded copy.

/// SP or HTAB.
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 3261 §25.1 `token` characters, as a lookup table.
const TOKEN_CHARS: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// RFC 3261 §25.1 `token` characters.
#[inline]
pub(crate) fn is_token_char(b: u8) -> bool {
    TOKEN_CHARS[usize::from(b)]
}

/// Skips LWS (`[*WSP CRLF] 1*WSP`) starting at `i`; returns the first index past it.
pub(crate) fn skip_lws(s: &[u8], mut i: usize) -> usize {
    loop {
        match s.get(i) {
            Some(b) if is_wsp(*b) => i += 1,
            Some(b'\r')
                if s.get(i + 1) == Some(&b'\n') && s.get(i + 2).is_some_and(|b| is_wsp(*b)) =>
            {
                i += 3
            }
            _ => return i,
        }
    }
}

/// Index past a run of token characters starting at `i` (equal to `i` when there is none).
pub(crate) fn token_end(s: &[u8], i: usize) -> usize {
    let mut j = i;
    while s.get(j).is_some_and(|b| is_token_char(*b)) {
        j += 1;
    }
    j
}

/// `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|b| is_token_char(*b))
}

/// Parses a quoted-string whose opening `"` is at `i`; returns the index past the closing
/// quote, or `None` when it is unterminated (RFC 3261 §25.1 `quoted-string`, `quoted-pair`).
pub(crate) fn quoted_string_end(s: &[u8], i: usize) -> Option<usize> {
    if s.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match s.get(j)? {
            b'"' => return Some(j + 1),
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            b'\\' => {
                let next = *s.get(j + 1)?;
                if next == b'\r' || next == b'\n' || next > 0x7f {
                    return None;
                }
                j += 2;
            }
            _ => j += 1,
        }
    }
}

/// Trims leading and trailing LWS (folded line breaks included).
pub(crate) fn trim_lws(s: &[u8]) -> &[u8] {
    let is_ws = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | b'\n');
    let start = s.iter().position(|b| !is_ws(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(b)).map_or(start, |e| e + 1);
    &s[start..end]
}

/// Splits a header value on the commas that separate its values (RFC 3261 §7.3.1), ignoring
/// commas inside quoted strings and `<…>`. Empty items are an error (`a,,b`).
pub(crate) fn split_commas(s: &[u8]) -> Option<Vec<&[u8]>> {
    let mut items = Vec::new();
    let (mut start, mut i, mut in_angle) = (0, 0, false);
    while i < s.len() {
        match s[i] {
            b'"' => {
                i = quoted_string_end(s, i)?;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                items.push(non_empty(trim_lws(&s[start..i]))?);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    items.push(non_empty(trim_lws(&s[start..]))?);
    Some(items)
}

fn non_empty(s: &[u8]) -> Option<&[u8]> {
    (!s.is_empty()).then_some(s)
}

/// Characters allowed in a `gen-value` that is not a quoted string: token characters plus
/// the host characters of IPv6 references (RFC 3261 §25.1 `gen-value = token / host`).
fn is_gen_value_char(b: u8) -> bool {
    is_token_char(b) || matches!(b, b':' | b'[' | b']')
}

/// Parses a decimal number of at most `max` without sign; `None` when empty, non-digit or
/// too large (RFC 4475 §3.1.2.4 overlarge scalars).
pub(crate) fn parse_u64_max(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for b in s {
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (v <= max).then_some(v)
}

/// One `;name[=value]` parameter as received (value without surrounding LWS; quoted values
/// keep their quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'s> {
    /// Parameter name as received.
    pub name: &'s [u8],
    /// Parameter value as received, `None` for a flag parameter.
    pub value: Option<&'s [u8]>,
}

/// The parameters of a header value or URI, in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'s>(pub Vec<Param<'s>>);

impl<'s> Params<'s> {
    /// The parameter named `name` (case-insensitive): `Some(None)` for a flag.
    pub fn get(&self, name: &str) -> Option<Option<&'s [u8]>> {
        self.0
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
            .map(|p| p.value)
    }

    /// The value of parameter `name`, with the quotes of a quoted string removed.
    pub fn value(&self, name: &str) -> Option<&'s [u8]> {
        self.get(name).flatten().map(unquote)
    }

    /// Whether parameter `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Removes the surrounding quotes of a quoted string (escapes are kept).
pub(crate) fn unquote(v: &[u8]) -> &[u8] {
    if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Parses header parameters `*( SEMI generic-param )` from `i` to the end of `s`
/// (RFC 3261 §25.1 `generic-param`); LWS around `;` and `=` is allowed.
pub(crate) fn parse_header_params(s: &[u8], i: usize) -> Option<Params<'_>> {
    let mut params = Vec::new();
    let mut i = skip_lws(s, i);
    while i < s.len() {
        if s[i] != b';' {
            return None;
        }
        i = skip_lws(s, i + 1);
        let name_end = token_end(s, i);
        if name_end == i {
            return None;
        }
        let name = &s[i..name_end];
        i = skip_lws(s, name_end);
        let mut value = None;
        if s.get(i) == Some(&b'=') {
            i = skip_lws(s, i + 1);
            let end = if s.get(i) == Some(&b'"') {
                quoted_string_end(s, i)?
            } else {
                let mut j = i;
                while s.get(j).is_some_and(|b| is_gen_value_char(*b)) {
                    j += 1;
                }
                j
            };
            if end == i {
                return None;
            }
            value = Some(&s[i..end]);
            i = skip_lws(s, end);
        }
        params.push(Param { name, value });
    }
    Some(Params(params))
}

/// Decodes `%HH` escapes (RFC 3261 §25.1 `escaped`); an escaped NUL stays a NUL byte, so the
/// length never shrinks below the number of escapes (RFC 4475 §3.1.1.4).
pub fn unescape(s: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !s.contains(&b'%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            if let (Some(h), Some(l)) = (s.get(i + 1).and_then(hex), s.get(i + 2).and_then(hex)) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

/// The value of one hex digit.
pub(crate) fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lws_includes_folds() {
        assert_eq!(skip_lws(b"  \r\n  x", 0), 6);
        assert_eq!(skip_lws(b"\r\nx", 0), 0);
    }

    #[test]
    fn commas_respect_quotes_and_angles() {
        let v = split_commas(b"\"a,b\" <sip:x;a=1,2>, c").unwrap();
        assert_eq!(v, vec![&b"\"a,b\" <sip:x;a=1,2>"[..], b"c"]);
        assert!(split_commas(b"a,,b").is_none());
    }

    #[test]
    fn params_with_lws() {
        let p = parse_header_params(b" ;   tag    = 1918 ; lr", 0).unwrap();
        assert_eq!(p.value("tag"), Some(&b"1918"[..]));
        assert!(p.contains("LR"));
        assert!(parse_header_params(b";;", 0).is_none());
    }

    #[test]
    fn unescape_keeps_nulls() {
        assert_eq!(&*unescape(b"null-%00-null"), b"null-\0-null");
        assert_eq!(&*unescape(b"%ZZ"), b"%ZZ");
    }

    #[test]
    fn overlarge_numbers_rejected() {
        assert_eq!(parse_u64_max(b"0009", u64::from(u32::MAX)), Some(9));
        assert_eq!(
            parse_u64_max(b"36893488147419103232", u64::from(u32::MAX)),
            None
        );
        assert_eq!(parse_u64_max(b"-1", 10), None);
    }
}

//! A value in a URL's user information (`http://{{ user }}:{{ password }}@host/`) is
//! percent-encoded, so a `@`, `/` or `#` in a password can neither move the request to another
//! host nor cut the URL short; in its path, a `?`, `#` or space is, so a value cannot cut the
//! path short either. Elsewhere a value goes as it is: a whole URL, a host.

use super::{OPEN, Refused};

/// Replace every marker in `url` with its value, encoded where it is user information.
pub fn splice(url: &str, values: &[String]) -> Result<String, Refused> {
    // The user information: from after `scheme://` to the authority's last `@`.
    let authority = url.find("://").map(|at| {
        let start = at + 3;
        let end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |e| start + e);
        start..end
    });
    let userinfo = authority
        .clone()
        .and_then(|a| url[a.clone()].rfind('@').map(|at| a.start..a.start + at));
    // The path: from the authority's end to the template's own `?` or `#`.
    let path = authority.map(|a| {
        let end = url[a.end..]
            .find(['?', '#'])
            .map_or(url.len(), |e| a.end + e);
        a.end..end
    });
    let mut out = String::with_capacity(url.len() + values.iter().map(String::len).sum::<usize>());
    let mut rest = url;
    let mut offset = 0;
    while let Some(open) = rest.find(OPEN) {
        let (next, _, value) = super::marked(rest, open, values)?;
        out.push_str(&rest[..open]);
        if userinfo
            .as_ref()
            .is_some_and(|u| u.contains(&(offset + open)))
        {
            out.push_str(&encode(value));
        } else if path.as_ref().is_some_and(|p| p.contains(&(offset + open))) {
            for c in value.chars() {
                if c == '?' || c == '#' || c.is_whitespace() || c.is_control() {
                    let mut buf = [0; 4];
                    out.push_str(&encode(c.encode_utf8(&mut buf)));
                } else {
                    out.push(c);
                }
            }
        } else {
            out.push_str(value);
        }
        offset += next;
        rest = &rest[next..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every byte but RFC 3986's unreserved characters, as `%XX`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL without its user information, and the `Authorization: Basic` value that carries it
/// (decoded: a server compares the password, not its encoding).
pub fn basic_auth(url: &str) -> (String, Option<String>) {
    let Some(at) = url.find("://") else {
        return (url.to_string(), None);
    };
    let start = at + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |e| start + e);
    let Some(user_end) = url[start..end].rfind('@').map(|a| start + a) else {
        return (url.to_string(), None);
    };
    let (user, password) = url[start..user_end]
        .split_once(':')
        .unwrap_or((&url[start..user_end], ""));
    let pair = format!("{}:{}", decode(user), decode(password));
    (
        format!("{}{}", &url[..start], &url[user_end + 1..]),
        Some(format!(
            "Basic {}",
            data_encoding::BASE64.encode(pair.as_bytes())
        )),
    )
}

/// `%XX` back to its byte; anything else as it is.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quote::marker;

    #[test]
    fn a_value_in_the_user_information_is_encoded() {
        let url = format!("http://u:{}@127.0.0.1:9090/{}", marker(0), marker(1));
        let values = ["pa@127.0.0.2:1/x#".to_string(), "p/q".to_string()];
        assert_eq!(
            splice(&url, &values).unwrap(),
            "http://u:pa%40127.0.0.2%3A1%2Fx%23@127.0.0.1:9090/p/q"
        );
        let path = format!("http://h/{}/api", marker(0));
        assert_eq!(
            splice(&path, &["x?y#z w".to_string()]).unwrap(),
            "http://h/x%3Fy%23z%20w/api"
        );
        let (bare, auth) = basic_auth("http://u:pa%40b%2F@127.0.0.1:9090/p");
        assert_eq!(bare, "http://127.0.0.1:9090/p");
        assert_eq!(
            auth.unwrap(),
            format!("Basic {}", data_encoding::BASE64.encode(b"u:pa@b/"))
        );
        let whole = marker(0);
        assert_eq!(
            splice(&whole, &["http://a:b@h/".to_string()]).unwrap(),
            "http://a:b@h/"
        );
    }
}

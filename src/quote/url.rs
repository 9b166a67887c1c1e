//! A value in a URL's user information (`http://{{ user }}:{{ password }}@host/`) is
//! percent-encoded, so a `@`, `/` or `#` in a password can neither move the request to another
//! host nor cut the URL short. Elsewhere a value goes as it is: a whole URL, a host, a path
//! the playbook builds from its vars.

use super::{CLOSE, OPEN, Refused};

/// Replace every marker in `url` with its value, encoded where it is user information.
pub fn splice(url: &str, values: &[String]) -> Result<String, Refused> {
    // The user information: from after `scheme://` to the authority's last `@`.
    let userinfo = url.find("://").and_then(|at| {
        let start = at + 3;
        let end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |e| start + e);
        url[start..end].rfind('@').map(|a| start..start + a)
    });
    let mut out = String::with_capacity(url.len() + values.iter().map(String::len).sum::<usize>());
    let mut rest = url;
    let mut offset = 0;
    while let Some(open) = rest.find(OPEN) {
        let close = rest[open..]
            .find(CLOSE)
            .map(|c| open + c)
            .ok_or_else(|| Refused {
                index: None,
                why: "an unclosed value marker".into(),
                hint: String::new(),
            })?;
        let index: usize = rest[open + OPEN.len_utf8()..close]
            .parse()
            .map_err(|_| Refused {
                index: None,
                why: "a value marker with no index".into(),
                hint: String::new(),
            })?;
        let value = values.get(index).ok_or_else(|| Refused {
            index: Some(index),
            why: "a value marker with no value".into(),
            hint: String::new(),
        })?;
        out.push_str(&rest[..open]);
        if userinfo
            .as_ref()
            .is_some_and(|u| u.contains(&(offset + open)))
        {
            out.push_str(&encode(value));
        } else {
            out.push_str(value);
        }
        let next = close + CLOSE.len_utf8();
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
        let whole = marker(0);
        assert_eq!(
            splice(&whole, &["http://a:b@h/".to_string()]).unwrap(),
            "http://a:b@h/"
        );
    }
}

use std::io::Read;
use std::time::Duration;

/// The most of a body read to look for `body_contains`: a health page, not a download.
const BODY_LIMIT: u64 = 1 << 20;

pub fn get(
    url: &str,
    timeout: Duration,
    want: Option<u16>,
    contains: Option<&str>,
) -> Result<String, super::Unhealthy> {
    let agent = crate::http::agent(timeout, true);
    let mut resp = crate::http::to(url, |u| agent.get(u))
        .call()
        .map_err(|e| describe(&e, timeout))?;
    let status = resp.status();
    let seen = format!("HTTP {}", status.as_u16());
    let ok_status = match want {
        Some(w) => status.as_u16() == w,
        None => status.is_success(),
    };
    if !ok_status {
        let expected = want.map_or("2xx".to_string(), |w| w.to_string());
        return Err(format!("{seen}, expected {expected}").into());
    }
    if let Some(needle) = contains {
        let mut body = String::new();
        resp.body_mut()
            .as_reader()
            .take(BODY_LIMIT)
            .read_to_string(&mut body)
            .map_err(|e| format!("{seen}, but reading the body failed: {e}"))?;
        if !body.contains(needle) {
            return Err(format!("{seen}, but the body does not contain {needle:?}").into());
        }
        return Ok(format!("{seen}, body contains {needle:?}"));
    }
    Ok(seen)
}

fn describe(e: &ureq::Error, timeout: Duration) -> String {
    match e {
        ureq::Error::Timeout(_) => {
            format!("no answer within {}", humantime::format_duration(timeout))
        }
        ureq::Error::Io(io) => crate::sys::describe_io(io),
        other => other.to_string(),
    }
}

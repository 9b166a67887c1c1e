//! What every HTTP request tend makes to a server the playbook names shares (a probe, an alert,
//! a Prometheus query): one time limit for the whole exchange, every answer read rather than a
//! 4xx or 5xx taken as an error (its status and text are what the operator is told), tend's
//! name as the user agent, and a URL's user and password sent as Basic auth, decoded.

use std::time::Duration;

/// An agent that gives up after `timeout` in all, and follows redirects only when `follow`.
pub fn agent(timeout: Duration, follow: bool) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("tend/", env!("CARGO_PKG_VERSION")));
    let config = if follow {
        config
    } else {
        config.max_redirects(0)
    };
    config.build().into()
}

/// `url` without its user and password, and `request(that URL)` with them as Basic auth (the
/// URL carries them percent-encoded).
pub fn to<B>(
    url: &str,
    request: impl FnOnce(&str) -> ureq::RequestBuilder<B>,
) -> ureq::RequestBuilder<B> {
    let (bare, auth) = crate::quote::url::basic_auth(url);
    let r = request(&bare);
    match auth {
        Some(auth) => r.header("Authorization", auth),
        None => r,
    }
}

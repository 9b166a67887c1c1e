//! Prometheus's HTTP API: an instant query and what it answered, or why it did not (with
//! Prometheus's own error text), for an analysis and for the `prometheus` check.

use std::io::Read;
use std::time::Duration;

/// The most of an answer read: a query meant for a threshold returns a few series, not a dump.
const BODY_LIMIT: u64 = 4 << 20;

/// What an instant query returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    Scalar(f64),
    /// One value a series, each with its labels as PromQL writes them (`{host="web1"}`).
    Vector(Vec<(String, f64)>),
}

impl Sample {
    /// The one number of a scalar or of a one-series vector.
    pub fn number(&self) -> Option<f64> {
        match self {
            Sample::Scalar(v) => Some(*v),
            Sample::Vector(v) if v.len() == 1 => Some(v[0].1),
            Sample::Vector(_) => None,
        }
    }

    /// As a condition sees it: a number, or the list of the series' values.
    pub fn values(&self) -> Vec<f64> {
        match self {
            Sample::Scalar(v) => vec![*v],
            Sample::Vector(v) => v.iter().map(|(_, x)| *x).collect(),
        }
    }
}

/// The base URL as written, without a trailing `/`: `http://prometheus:9090`, or one with a
/// path prefix (`http://host/prometheus`).
fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Evaluate `promql` at this instant. POSTed as a form, as Prometheus takes it: a query over a
/// large fleet's names is longer than a URL may be. A redirect is not followed: the answer must
/// come from the Prometheus the playbook names.
pub fn query(url: &str, promql: &str, timeout: Duration) -> Result<Sample, Unanswered> {
    let agent = crate::http::agent(timeout, false);
    let shown = crate::redact::userinfo(url);
    let mut resp = crate::http::to(url, |u| agent.post(&format!("{}/api/v1/query", base(u))))
        .send_form([("query", promql)])
        .map_err(|e| {
            let why = match &e {
                ureq::Error::Timeout(_) => {
                    format!("no answer within {}", humantime::format_duration(timeout))
                }
                ureq::Error::Io(io) => crate::sys::describe_io(io),
                other => other.to_string(),
            };
            Unanswered(format!("cannot query Prometheus at {shown}: {why}"))
        })?;
    let status = resp.status().as_u16();
    if (300..400).contains(&status) {
        return Err(Unanswered(format!(
            "Prometheus at {shown}: HTTP {status}, a redirect, not followed: give the address it answers at"
        )));
    }
    let mut body = String::new();
    let read = resp
        .body_mut()
        .as_reader()
        .take(BODY_LIMIT + 1)
        .read_to_string(&mut body)
        .map_err(|e| format!("Prometheus at {shown}: HTTP {status}, unreadable answer: {e}"))?;
    if read as u64 > BODY_LIMIT {
        return Err(Unanswered(format!(
            "Prometheus at {shown}: an answer larger than {} MiB; narrow the query (sum by, topk)",
            BODY_LIMIT >> 20
        )));
    }
    answer(status, &body).map_err(|why| Unanswered(format!("Prometheus at {shown}: {why}")))
}

/// Read Prometheus's JSON answer (`status`, `data.resultType`, `data.result`; or `errorType`
/// and `error` on a failure).
fn answer(status: u16, body: &str) -> Result<Sample, Unanswered> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|_| {
        let first: String = body
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect();
        format!(
            "HTTP {status}, and the answer is not Prometheus's JSON ({})",
            if first.is_empty() { "empty" } else { &first }
        )
    })?;
    if v["status"] != "success" || !(200..300).contains(&status) {
        let kind = v["errorType"].as_str().unwrap_or("error");
        let text: String = v["error"]
            .as_str()
            .unwrap_or("no error text")
            .chars()
            .take(500)
            .collect();
        return Err(format!("HTTP {status}, {kind}: {text}").into());
    }
    let data = &v["data"];
    let number = |pair: &serde_json::Value| -> Result<f64, Unanswered> {
        let text = pair[1].as_str().ok_or("a sample without a value")?;
        text.parse::<f64>()
            .map_err(|_| format!("a sample value '{text}' is not a number").into())
    };
    match data["resultType"].as_str() {
        Some("scalar") => Ok(Sample::Scalar(number(&data["result"])?)),
        Some("vector") => {
            let series = data["result"].as_array().ok_or("a vector without results")?;
            series
                .iter()
                .map(|s| Ok((labels(&s["metric"]), number(&s["value"])?)))
                .collect::<Result<_, Unanswered>>()
                .map(Sample::Vector)
        }
        Some("matrix") => Err(
            "the query returns a range vector (`x[5m]`); a threshold needs one value a series: wrap it, as in rate(x[5m]) or avg_over_time(x[5m])".into(),
        ),
        Some(other) => Err(format!("the query returns a {other}, not a number").into()),
        None => Err("an answer without a resultType".into()),
    }
}

/// `up{instance="a",job="b"}`: the series as PromQL writes it (its name, then its labels; `{}`
/// for a series with neither).
fn labels(metric: &serde_json::Value) -> String {
    let Some(map) = metric.as_object() else {
        return "{}".into();
    };
    let name = map.get("__name__").and_then(|v| v.as_str()).unwrap_or("");
    let pairs: Vec<String> = map
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or_default()))
        .collect();
    if pairs.is_empty() && !name.is_empty() {
        return name.to_string();
    }
    format!("{name}{{{}}}", pairs.join(","))
}

/// The values of a series' labels, for a short name: `web1,500`.
pub fn label_values(series: &str) -> String {
    let inner = series
        .split_once('{')
        .map_or("", |(_, rest)| rest.trim_end_matches('}'));
    inner
        .split("\",")
        .filter_map(|pair| Some(pair.split_once('=')?.1.trim_matches('"').to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The Prometheus page that graphs `promql`: where an alert about it links. Without the URL's
/// user and password (a link to click, not to log in with), and with a secret in the query
/// masked before it is encoded (encoded, the mask would not find it).
pub fn graph_url(url: &str, promql: &str) -> String {
    let (bare, _) = crate::quote::url::basic_auth(url);
    format!(
        "{}/graph?g0.expr={}&g0.tab=0&g0.range_input=1h",
        base(&bare),
        crate::quote::url::encode(&crate::redact::redact(promql))
    )
}

crate::reason::reason! {
    /// Why a query has no answer: Prometheus unreachable, or its own error text.
    pub struct Unanswered;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_prometheus_writes_them() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"host":"web1"},"value":[1700000000.1,"0.25"]}]}}"#;
        let s = answer(200, vector).unwrap();
        assert_eq!(s.number(), Some(0.25));
        assert_eq!(s, Sample::Vector(vec![("{host=\"web1\"}".into(), 0.25)]));
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(answer(200, empty).unwrap().values().is_empty());
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}"#;
        assert!(answer(200, scalar).unwrap().number().unwrap().is_nan());
        let bad = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"}"#;
        assert_eq!(
            answer(400, bad).unwrap_err().0,
            "HTTP 400, bad_data: 1:5: parse error: unclosed left parenthesis"
        );
        assert!(
            answer(502, "Bad Gateway\n")
                .unwrap_err()
                .0
                .contains("Bad Gateway")
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(answer(200, matrix).unwrap_err().0.contains("range vector"));
    }

    #[test]
    fn the_graph_link_carries_the_query() {
        assert_eq!(
            graph_url("http://127.0.0.1:9090/", "up{job=\"x\"} > 0"),
            "http://127.0.0.1:9090/graph?g0.expr=up%7Bjob%3D%22x%22%7D%20%3E%200&g0.tab=0&g0.range_input=1h"
        );
        assert!(
            graph_url("http://u:pw@prom:9090/p", "up").starts_with("http://prom:9090/p/graph?")
        );
    }
}

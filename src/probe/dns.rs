//! Real DNS queries (hickory-proto messages over UDP, TCP when the answer is truncated). Every
//! way a server can fail is a named outcome: a SERVFAIL or an NXDOMAIN is not "up".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

/// What to ask and what a healthy answer holds.
#[derive(Debug, Clone)]
pub struct Question {
    pub name: String,
    pub rtype: String,
    /// Records that must all be in the answer (IPs for A/AAAA, names or text otherwise); empty:
    /// any answer of the type.
    pub expect: Vec<String>,
}

/// How one query ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Healthy(Vec<String>),
    Timeout,
    ServFail,
    Refused,
    NxDomain,
    /// NOERROR, but not the expected records (or none).
    Wrong(Vec<String>),
    /// Could not send, a malformed reply, any other RCODE.
    Error(String),
}

impl Answer {
    pub fn healthy(&self) -> bool {
        matches!(self, Answer::Healthy(_))
    }

    /// The outcome's name, for output and for the state file.
    pub fn describe(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "no records".to_string()
            } else {
                v.join(", ")
            }
        };
        match self {
            Answer::Healthy(v) => format!("answered {}", list(v)),
            Answer::Timeout => "timeout".into(),
            Answer::ServFail => "SERVFAIL".into(),
            Answer::Refused => "REFUSED".into(),
            Answer::NxDomain => "NXDOMAIN".into(),
            Answer::Wrong(v) => format!("wrong answer: {}", list(v)),
            Answer::Error(e) => e.clone(),
        }
    }
}

/// Checks a record type name, as `validate` does.
pub fn record_type(name: &str) -> Result<RecordType, crate::playbook::Invalid> {
    let t = RecordType::from_str(&name.to_ascii_uppercase())
        .map_err(|_| format!("unknown record type '{name}'"))?;
    match t {
        RecordType::A
        | RecordType::AAAA
        | RecordType::CNAME
        | RecordType::MX
        | RecordType::NS
        | RecordType::PTR
        | RecordType::SOA
        | RecordType::SRV
        | RecordType::TXT => Ok(t),
        _ => Err(format!(
            "record type '{name}' is not probed; use A, AAAA, CNAME, MX, NS, PTR, SOA, SRV or TXT"
        )
        .into()),
    }
}

/// `10.0.0.53` or `10.0.0.53:5353` or `[::1]:53`.
pub fn server_address(s: &str) -> Result<SocketAddr, crate::playbook::Invalid> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(
        format!("'{s}' is not an IP address with an optional port, like 10.0.0.53 or 10.0.0.53:53")
            .into(),
    )
}

/// Ask `server` once; `timeout` bounds the whole exchange, TCP fallback included.
pub fn ask(server: SocketAddr, q: &Question, timeout: Duration) -> Answer {
    let deadline = Instant::now() + timeout;
    let rtype = match record_type(&q.rtype) {
        Ok(t) => t,
        Err(e) => return Answer::Error(e.0),
    };
    let name = match Name::from_str(&q.name) {
        Ok(n) => n,
        Err(e) => return Answer::Error(format!("bad name '{}': {e}", q.name)),
    };
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(name, rtype));
    let id = msg.metadata.id;
    let bytes = match msg.to_vec() {
        Ok(b) => b,
        Err(e) => return Answer::Error(format!("cannot build the query: {e}")),
    };
    let reply = match udp(server, &bytes, id, deadline) {
        Ok(r) if r.metadata.truncation => match tcp(server, &bytes, id, deadline) {
            Ok(r) => r,
            Err(a) => return a,
        },
        Ok(r) => r,
        Err(a) => return a,
    };
    judge(&reply, rtype, &q.expect)
}

fn left(deadline: Instant) -> Option<Duration> {
    let d = deadline.saturating_duration_since(Instant::now());
    (d > Duration::from_millis(1)).then_some(d)
}

fn io_error(e: &std::io::Error) -> Answer {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Answer::Timeout,
        _ => Answer::Error(crate::sys::describe_io(e)),
    }
}

fn udp(server: SocketAddr, bytes: &[u8], id: u16, deadline: Instant) -> Result<Message, Answer> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(local).map_err(|e| io_error(&e))?;
    sock.connect(server).map_err(|e| io_error(&e))?;
    sock.send(bytes).map_err(|e| io_error(&e))?;
    let mut buf = [0u8; 4096];
    loop {
        let Some(wait) = left(deadline) else {
            return Err(Answer::Timeout);
        };
        sock.set_read_timeout(Some(wait))
            .map_err(|e| io_error(&e))?;
        let n = sock.recv(&mut buf).map_err(|e| io_error(&e))?;
        // A stray or spoofed datagram does not end the wait for the real answer.
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == id => return Ok(m),
            _ => continue,
        }
    }
}

fn tcp(server: SocketAddr, bytes: &[u8], id: u16, deadline: Instant) -> Result<Message, Answer> {
    let wait = left(deadline).ok_or(Answer::Timeout)?;
    let mut s = TcpStream::connect_timeout(&server, wait).map_err(|e| io_error(&e))?;
    let wait = left(deadline).ok_or(Answer::Timeout)?;
    s.set_read_timeout(Some(wait)).map_err(|e| io_error(&e))?;
    s.set_write_timeout(Some(wait)).map_err(|e| io_error(&e))?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).map_err(|e| io_error(&e))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(|e| io_error(&e))?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).map_err(|e| io_error(&e))?;
    match Message::from_vec(&buf) {
        Ok(m) if m.metadata.id == id => Ok(m),
        Ok(_) => Err(Answer::Error("a TCP answer to another query".into())),
        Err(e) => Err(Answer::Error(format!("malformed answer: {e}"))),
    }
}

fn show(data: &RData) -> String {
    match data {
        RData::A(a) => a.to_string(),
        RData::AAAA(a) => a.to_string(),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}

fn same(want: &str, got: &str) -> bool {
    if let (Ok(a), Ok(b)) = (
        want.parse::<std::net::IpAddr>(),
        got.parse::<std::net::IpAddr>(),
    ) {
        return a == b;
    }
    want.trim_end_matches('.').eq_ignore_ascii_case(got)
}

fn judge(reply: &Message, rtype: RecordType, expect: &[String]) -> Answer {
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::ServFail => return Answer::ServFail,
        ResponseCode::Refused => return Answer::Refused,
        ResponseCode::NXDomain => return Answer::NxDomain,
        other => return Answer::Error(format!("answer code {other}")),
    }
    let got: Vec<String> = reply
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .map(|r| show(&r.data))
        .collect();
    let ok = if expect.is_empty() {
        !got.is_empty()
    } else {
        expect.iter().all(|w| got.iter().any(|g| same(w, g)))
    };
    if ok {
        Answer::Healthy(got)
    } else {
        Answer::Wrong(got)
    }
}

/// A round: up to `attempts` queries, each within `timeout`; healthy on the first good answer,
/// else the last outcome.
pub fn round(server: SocketAddr, q: &Question, attempts: u32, timeout: Duration) -> Answer {
    let mut last = Answer::Timeout;
    for _ in 0..attempts.max(1) {
        last = ask(server, q, timeout);
        if last.healthy() {
            break;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::A;

    fn reply(code: ResponseCode, ips: &[&str]) -> Message {
        let mut m = Message::response(7, hickory_proto::op::OpCode::Query);
        m.metadata.response_code = code;
        for ip in ips {
            m.answers.push(Record::from_rdata(
                Name::from_str("shop.plant.").unwrap(),
                60,
                RData::A(A(ip.parse().unwrap())),
            ));
        }
        m
    }

    #[test]
    fn every_failure_has_its_name_and_none_is_healthy() {
        let want = vec!["10.1.0.10".to_string()];
        let j = |code, ips: &[&str]| judge(&reply(code, ips), RecordType::A, &want);
        assert!(j(ResponseCode::NoError, &["10.1.0.10", "10.1.0.11"]).healthy());
        assert_eq!(j(ResponseCode::ServFail, &[]), Answer::ServFail);
        assert_eq!(j(ResponseCode::Refused, &[]), Answer::Refused);
        assert_eq!(j(ResponseCode::NXDomain, &[]), Answer::NxDomain);
        assert_eq!(
            j(ResponseCode::NoError, &["10.9.9.9"]),
            Answer::Wrong(vec!["10.9.9.9".into()])
        );
        assert_eq!(j(ResponseCode::NoError, &[]), Answer::Wrong(vec![]));
        assert!(
            judge(
                &reply(ResponseCode::NoError, &["1.2.3.4"]),
                RecordType::A,
                &[]
            )
            .healthy()
        );
    }

    #[test]
    fn addresses_and_types_are_checked() {
        assert_eq!(server_address("10.0.0.53").unwrap().port(), 53);
        assert_eq!(server_address("10.0.0.53:5353").unwrap().port(), 5353);
        assert!(server_address("[::1]:53").is_ok());
        assert!(server_address("dns1.internal").is_err());
        assert!(server_address("10.0.0.300").is_err());
        assert!(record_type("aaaa").is_ok());
        assert!(record_type("AXFR").is_err());
        assert!(record_type("BOGUS").is_err());
    }
}

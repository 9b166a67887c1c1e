//! A real HTTP/1.1 server on a loopback port: answers every request with a fixed status and
//! body, and keeps what it received so webhook tests can read it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

pub struct HttpServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    pub fn start(status: u16, body: &'static str) -> HttpServer {
        HttpServer::answering(vec![status], body)
    }

    /// As `start`, the nth request answered with `statuses[n]` (the last one from then on).
    pub fn answering(statuses: Vec<u16>, body: &'static str) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(vec![]));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body_in = vec![0; len];
                let _ = reader.read_exact(&mut body_in);
                seen.lock()
                    .unwrap()
                    .push(format!("{head}\r\n{}", String::from_utf8_lossy(&body_in)));
                let n = seen.lock().unwrap().len() - 1;
                let status = statuses[n.min(statuses.len() - 1)];
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        HttpServer { port, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// A real HTTP/1.1 server for the files of a directory (artifacts): GET /NAME answers the file
/// or 404. Counts the requests, so a test can tell a download from a cache hit.
pub struct FileServer {
    pub port: u16,
    pub hits: Arc<Mutex<usize>>,
}

impl FileServer {
    pub fn start(dir: std::path::PathBuf) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                *counter.lock().unwrap() += 1;
                let name = first.split_whitespace().nth(1).unwrap_or("/");
                let head = |status: &str, len: usize| {
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    )
                };
                match std::fs::read(dir.join(name.trim_start_matches('/'))) {
                    Ok(bytes) => {
                        let _ = stream.write_all(head("200 OK", bytes.len()).as_bytes());
                        let _ = stream.write_all(&bytes);
                    }
                    Err(_) => {
                        let _ = stream.write_all(head("404 Not Found", 0).as_bytes());
                    }
                }
            }
        });
        FileServer { port, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0): the body of a 200, else the status line or why
/// nothing answered.
pub fn get(port: u16, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(body.to_string())
    } else {
        Err(head.lines().next().unwrap_or_default().to_string())
    }
}

/// A PagerDuty Events API v2 receiver that checks every event against the documented schema
/// (`pagerduty.py`, with python3-jsonschema) and keeps the valid ones.
pub struct PagerDuty {
    pub port: u16,
    store: std::path::PathBuf,
    child: std::process::Child,
}

impl PagerDuty {
    pub fn start(dir: &std::path::Path) -> PagerDuty {
        assert!(
            std::process::Command::new("/usr/bin/python3")
                .args(["-c", "import jsonschema"])
                .status()
                .is_ok_and(|s| s.success()),
            "python3-jsonschema is missing: install the Debian package (scripts/test does)"
        );
        let port = super::free_port();
        let store = dir.join(format!("pagerduty-{port}"));
        let harness = super::repo_root().join("tests/harness");
        let child = std::process::Command::new("/usr/bin/python3")
            .arg(harness.join("pagerduty.py"))
            .arg(port.to_string())
            .arg(&store)
            .arg(harness.join("pagerduty-events-v2.schema.json"))
            .spawn()
            .expect("start the PagerDuty receiver");
        super::wait_for(
            "the PagerDuty receiver to listen",
            std::time::Duration::from_secs(20),
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        PagerDuty { port, store, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v2/enqueue", self.port)
    }

    /// The valid events received, in order.
    pub fn events(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<_> = std::fs::read_dir(&self.store)
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for PagerDuty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use std::io::Write;

use super::{Record, Sink};

/// One JSON object per line, the same records the journal stores.
pub struct Json;

impl Sink for Json {
    fn record(&self, record: &Record) {
        if let Ok(mut line) = serde_json::to_string(record) {
            line.push('\n');
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

//! NDJSON: one JSON object a line, keys as the CSV headers.

use std::io::BufRead;

use serde_json::Value;

use super::record::{Field, RawRecord};
use super::{read_line, InputError, RecordResult};

/// Streams the lines of an NDJSON input as records.
pub(super) struct NdjsonRecords {
    reader: Box<dyn BufRead + Send>,
    line: u64,
    buf: Vec<u8>,
}

impl NdjsonRecords {
    pub(super) fn new(reader: Box<dyn BufRead + Send>) -> Self {
        NdjsonRecords {
            reader,
            line: 0,
            buf: Vec::new(),
        }
    }
}

impl Iterator for NdjsonRecords {
    type Item = RecordResult;

    fn next(&mut self) -> Option<RecordResult> {
        loop {
            self.line += 1;
            let line = self.line;
            let err = |reason: String| InputError {
                line,
                domain: None,
                id: None,
                reason,
            };
            match read_line(self.reader.as_mut(), &mut self.buf) {
                Ok(None) => return None,
                Ok(Some(())) => {}
                Err(e) => return Some(Err(err(format!("cannot read the input: {e}")))),
            }
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Some(Err(err("the line is not valid UTF-8".to_owned())));
            };
            let text = text.trim_start_matches('\u{feff}').trim();
            if text.is_empty() {
                continue;
            }
            return Some(parse_object(text, line));
        }
    }
}

fn parse_object(text: &str, line: u64) -> RecordResult {
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return Err(InputError {
                line,
                domain: None,
                id: None,
                reason: "the line is JSON but not an object; write {\"domain\": \"example.cn\", …}"
                    .to_owned(),
            })
        }
        Err(e) => {
            return Err(InputError {
                line,
                domain: None,
                id: None,
                reason: format!("the line is not valid JSON: {e}"),
            })
        }
    };
    let mut raw = RawRecord::default();
    let mut problem = None;
    for (key, value) in object {
        let Some(field) = Field::from_header(&key) else {
            continue;
        };
        if field == Field::Id {
            // Passed through untouched, whatever its JSON type.
            raw.id = Some(value);
            continue;
        }
        match value {
            Value::Null => {}
            Value::String(s) => raw.set(field, &s),
            Value::Number(n) => raw.set(field, &n.to_string()),
            // Lists (ips, hosts, approvals) may be JSON arrays of strings.
            Value::Array(items)
                if matches!(field, Field::Ips | Field::Hosts | Field::Approvals) =>
            {
                let joined: Vec<String> = items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect();
                raw.set(field, &joined.join(" "));
            }
            other => problem = Some(format!("field {key:?} has an unexpected value {other}")),
        }
    }
    match problem {
        Some(reason) => Err(InputError {
            line,
            domain: raw.domain,
            id: raw.id,
            reason,
        }),
        None => raw.validate(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<RecordResult> {
        NdjsonRecords::new(Box::new(std::io::Cursor::new(text.as_bytes().to_vec()))).collect()
    }

    #[test]
    fn reads_objects_and_keeps_id_type() {
        let rows = read("{\"domain\":\"a.cn\",\"id\":42,\"ips\":[\"1.2.3.4\",\"10.0.0.0/8\"]}\n\n{\"域名\":\"b.cn\",\"id\":\"x\"}\n");
        let a = rows[0].as_ref().unwrap();
        assert_eq!(a.id, Some(serde_json::json!(42)));
        assert_eq!(a.ips.len(), 2);
        let b = rows[1].as_ref().unwrap();
        assert_eq!(b.line, 3);
        assert_eq!(b.id, Some(serde_json::json!("x")));
    }

    #[test]
    fn subject_type_and_approvals_as_a_list() {
        let rows = read("{\"domain\":\"a.cn\",\"subject_type\":\"个人\",\"approvals\":[\"网络游戏\",\"news\"]}\n{\"domain\":\"b.cn\",\"主办单位性质\":\"外星人\"}\n");
        let a = rows[0].as_ref().unwrap();
        assert_eq!(a.subject_type, Some(crate::filing::SubjectType::Individual));
        assert_eq!(
            a.approvals,
            [
                crate::filing::Topic::OnlineGames,
                crate::filing::Topic::News
            ]
        );
        let b = rows[1].as_ref().unwrap_err();
        assert!(b.reason.contains("个人 (individual)"), "{}", b.reason);
    }

    #[test]
    fn broken_lines_are_reported_and_reading_goes_on() {
        let rows = read("{\"domain\":\"a.cn\"\n[1,2]\n{\"domain\":\"c.cn\"}\n");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_ref().unwrap_err().line, 1);
        assert!(rows[1]
            .as_ref()
            .unwrap_err()
            .reason
            .contains("not an object"));
        assert_eq!(rows[2].as_ref().unwrap().domain, "c.cn");
    }
}

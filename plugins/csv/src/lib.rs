//! `--format csv` for `mws members list` and `mws proxy-tokens list`.
//!
//! The CLI sends the rows exactly as `--json` would print them (so
//! timestamps are already formatted in the user's time zone, and the columns
//! are the `--json` keys in their order); this plugin only lays them out as
//! RFC 4180 CSV: a header row, CRLF line ends, and fields containing a comma,
//! a double quote, CR or LF enclosed in double quotes with inner quotes
//! doubled. `null` is an empty field, booleans are `true`/`false`. Text is
//! UTF-8 as is (no byte-order mark).

use serde_json::{Map, Value};

/// The columns of each known table, used when there are no rows to take
/// them from (an empty list still gets its header).
fn known_columns(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "members" => Some(&["name", "email", "role", "user_id", "joined", "last_active"]),
        "tokens" => Some(&["name", "token_id", "created_at", "created_by", "scoped"]),
        _ => None,
    }
}

fn field(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => other.to_string(),
    }
}

/// One RFC 4180 field.
fn quote(text: &str, out: &mut String) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn line(fields: impl IntoIterator<Item = String>, out: &mut String) {
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote(&f, out);
    }
    out.push_str("\r\n");
}

/// Renders `{"kind": …, "rows": [ {…}, … ]}` as CSV.
pub fn to_csv(input: &[u8]) -> Result<String, String> {
    let doc: Value =
        serde_json::from_slice(input).map_err(|e| format!("input is not valid JSON: {e}"))?;
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let rows = doc
        .get("rows")
        .and_then(Value::as_array)
        .ok_or("input has no \"rows\" array")?;
    let rows: Vec<&Map<String, Value>> = rows
        .iter()
        .map(|r| r.as_object().ok_or("every row must be a JSON object"))
        .collect::<Result<_, _>>()?;
    let mut columns: Vec<String> = match (rows.first(), known_columns(kind)) {
        (Some(first), _) => first.keys().cloned().collect(),
        (None, Some(known)) => known.iter().map(|c| c.to_string()).collect(),
        (None, None) => Vec::new(),
    };
    for row in &rows {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let mut out = String::new();
    if columns.is_empty() {
        return Ok(out);
    }
    line(columns.iter().cloned(), &mut out);
    for row in rows {
        line(columns.iter().map(|c| field(row.get(c))), &mut out);
    }
    Ok(out)
}

fn render(format: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    match format {
        "csv" => to_csv(input).map(String::into_bytes),
        other => Err(format!("unknown format '{other}'")),
    }
}

mws_plugin_api::export_plugin! {
    name: "csv",
    version: env!("CARGO_PKG_VERSION"),
    formats: "csv",
    events: "",
    render: Some(render),
    on_event: None,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        let input = r#"{"kind":"tokens","rows":[
            {"name":"a,b","token_id":"wk-1","created_at":null,"created_by":"say \"hi\"","scoped":true},
            {"name":"line\nbreak","token_id":"wk-2","created_at":"2024-01-01 00:00:00+00:00","created_by":"Zoë 日本","scoped":false}
        ]}"#;
        assert_eq!(
            to_csv(input.as_bytes()).unwrap(),
            "name,token_id,created_at,created_by,scoped\r\n\
             \"a,b\",wk-1,,\"say \"\"hi\"\"\",true\r\n\
             \"line\nbreak\",wk-2,2024-01-01 00:00:00+00:00,Zoë 日本,false\r\n"
        );
    }

    #[test]
    fn empty_lists_keep_their_header() {
        assert_eq!(
            to_csv(br#"{"kind":"members","rows":[]}"#).unwrap(),
            "name,email,role,user_id,joined,last_active\r\n"
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(to_csv(b"not json").unwrap_err().contains("not valid JSON"));
        assert!(to_csv(b"{}").unwrap_err().contains("rows"));
        assert!(to_csv(br#"{"rows":[1]}"#).unwrap_err().contains("object"));
    }
}

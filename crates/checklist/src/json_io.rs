//! The checklist as JSON: the form the service stores and serves.
//!
//! Written canonically (serde_json's pretty form, keys in declaration order, a trailing
//! newline), so the same checklist is always the same bytes and a stored copy can be hashed
//! and compared. Read through a `serde_json::Value` walked by hand, so that every refusal names
//! the JSON path of the value at fault.

use serde_json::{Map, Value};

use crate::catalogue::{CATALOGUE_LEN, CATALOGUE_VERSION, RequirementId};
use crate::error::{ChecklistError, Location, Problem, cap};
use crate::model::{Assembler, Checklist, EvidenceLink, Item, MAX_LINKS, Status, check_size};

/// The checklist as canonical JSON (pretty, trailing newline).
pub fn to_json(checklist: &Checklist) -> String {
    // A Checklist holds only strings, enums and vectors; serialising it cannot fail.
    let mut json = serde_json::to_string_pretty(checklist).unwrap_or_default();
    json.push('\n');
    json
}

/// The JSON Schema of the checklist file (pretty, trailing newline).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Checklist);
    let mut json = serde_json::to_string_pretty(&schema).unwrap_or_default();
    json.push('\n');
    json
}

/// A checklist from JSON, checked; items may come in any order and are put in catalogue order.
pub fn from_json(text: &str) -> Result<Checklist, ChecklistError> {
    check_size(text.len())?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let message = cap(&e.to_string());
        ChecklistError::new(
            Location::JsonText {
                line: e.line(),
                column: e.column(),
            },
            Problem::Syntax {
                format: "JSON",
                message,
            },
        )
    })?;
    from_value(&value)
}

/// A checklist from an already parsed JSON value (a request body), checked like [`from_json`].
pub fn from_value(value: &Value) -> Result<Checklist, ChecklistError> {
    let root = object(
        value,
        "$",
        &["catalogue_version", "items"],
        "\"catalogue_version\" and \"items\"",
    )?;
    let version = string(field(root, "$", "catalogue_version")?, "$.catalogue_version")?;
    if version != CATALOGUE_VERSION {
        return Err(ChecklistError::new(
            path("$.catalogue_version"),
            Problem::CatalogueVersion { found: cap(version) },
        ));
    }
    let items = match field(root, "$", "items")? {
        Value::Array(items) => items,
        _ => {
            return Err(ChecklistError::new(
                path("$.items"),
                Problem::WrongType {
                    expected: "an array of items",
                },
            ));
        }
    };
    if items.len() > CATALOGUE_LEN {
        return Err(ChecklistError::new(
            path("$.items"),
            Problem::TooManyItems {
                expected: CATALOGUE_LEN,
            },
        ));
    }
    let mut assembler = Assembler::new();
    for (i, value) in items.iter().enumerate() {
        let at = format!("$.items[{i}]");
        let item = item(value, &at)?;
        assembler.add(item, path(&format!("{at}.requirement")))?;
    }
    assembler.finish()
}

fn item(value: &Value, at: &str) -> Result<Item, ChecklistError> {
    let obj = object(
        value,
        at,
        &["requirement", "status", "answer", "evidence"],
        "\"requirement\", \"status\", \"answer\" and \"evidence\"",
    )?;
    let key = |k: &str| format!("{at}.{k}");
    let id = string(field(obj, at, "requirement")?, &key("requirement"))?;
    let requirement = RequirementId::parse(id).map_err(|p| ChecklistError::new(path(&key("requirement")), p))?;
    let status = string(field(obj, at, "status")?, &key("status"))?;
    let status = Status::parse(status).map_err(|p| ChecklistError::new(path(&key("status")), p))?;
    let answer = string(field(obj, at, "answer")?, &key("answer"))?;
    let links = match field(obj, at, "evidence")? {
        Value::Array(links) => links,
        _ => {
            return Err(ChecklistError::new(
                path(&key("evidence")),
                Problem::WrongType {
                    expected: "an array of evidence links",
                },
            ));
        }
    };
    if links.len() > MAX_LINKS {
        return Err(ChecklistError::new(
            path(&key("evidence")),
            Problem::TooManyLinks { count: links.len() },
        ));
    }
    let mut evidence = Vec::with_capacity(links.len());
    for (j, link) in links.iter().enumerate() {
        let at = format!("{at}.evidence[{j}]");
        let link = EvidenceLink::parse(string(link, &at)?).map_err(|p| ChecklistError::new(path(&at), p))?;
        evidence.push(link);
    }
    let item = Item::new(requirement, status, answer, evidence).map_err(|e| {
        let field = match e.at {
            Location::Item { field, .. } => field,
            _ => "answer",
        };
        ChecklistError::new(path(&key(field)), e.problem)
    })?;
    Ok(item)
}

fn path(p: &str) -> Location {
    Location::Json { path: p.to_owned() }
}

fn object<'a>(
    value: &'a Value,
    at: &str,
    keys: &[&str],
    expected: &'static str,
) -> Result<&'a Map<String, Value>, ChecklistError> {
    let Value::Object(obj) = value else {
        return Err(ChecklistError::new(
            path(at),
            Problem::WrongType { expected: "an object" },
        ));
    };
    if let Some(unknown) = obj.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ChecklistError::new(
            path(at),
            Problem::UnknownKey {
                found: cap(unknown),
                expected,
            },
        ));
    }
    Ok(obj)
}

fn field<'a>(obj: &'a Map<String, Value>, at: &str, key: &'static str) -> Result<&'a Value, ChecklistError> {
    obj.get(key)
        .ok_or_else(|| ChecklistError::new(path(at), Problem::MissingKey { key }))
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str, ChecklistError> {
    value
        .as_str()
        .ok_or_else(|| ChecklistError::new(path(at), Problem::WrongType { expected: "a string" }))
}

//! CSV as people write it: `,` `;` tab or `|` between fields, and a decimal comma where the
//! locale has one (pandas' `to_csv(sep=';', decimal=',')`, a Danish Excel export).
//!
//! Reading stays columnar and streaming: arrow-csv parses batches against a schema. Columns of
//! decimal-comma numbers are parsed as text and converted one batch at a time, so the file is
//! never rewritten or held whole.

use arrow::array::{Array, ArrayRef, Float32Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use std::io::{self, Read};
use std::sync::Arc;

/// How to read a CSV file; the defaults detect the delimiter and take `.` as the decimal mark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter; `None`: detected from the header and the lines after it.
    pub delimiter: Option<u8>,
    /// Numbers are written with a decimal comma (`0,731`); needs a delimiter other than `,`.
    pub decimal_comma: bool,
}

/// The delimiters detected or accepted, with their names for messages and flags.
pub const DELIMITERS: [(u8, &str); 4] = [(b',', ","), (b';', ";"), (b'\t', "\\t"), (b'|', "|")];

/// Reads a `--csv-delimiter` value: `,` `;` `|`, or a tab (`\t`, `tab`, or the character).
pub fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "\t" | "\\t" | "tab" => Ok(b'\t'),
        other => Err(format!("{other:?} is not a delimiter this reads; use , ; \\t or |")),
    }
}

fn name(delimiter: u8) -> &'static str {
    DELIMITERS.iter().find(|(d, _)| *d == delimiter).map_or("?", |(_, n)| n)
}

/// Bytes from the start of a file that delimiter detection looks at.
pub(crate) const HEAD_BYTES: usize = 64 << 10;

/// Lines after the header that must split like it.
const CHECKED_LINES: usize = 20;

/// Field counts of the complete records in `head` split at `delimiter`, quotes respected
/// (a quoted delimiter or newline is part of the field). The last record counts only if
/// `complete` (the head is the whole file); otherwise it may be cut short.
fn field_counts(head: &[u8], delimiter: u8, max: usize) -> Vec<usize> {
    let mut counts = Vec::new();
    let (mut fields, mut quoted, mut empty) = (1, false, true);
    // As the CSV reader has it (RFC 4180): a quote opens a quoted field only at the field's
    // start (`5" screen` is text with a quote in it), and `""` inside one is a quote.
    let (mut at_start, mut just_closed) = (true, false);
    for &b in head {
        if counts.len() == max {
            break;
        }
        let closed = std::mem::take(&mut just_closed);
        match b {
            b'"' if quoted => {
                quoted = false;
                just_closed = true;
            }
            b'"' if at_start || closed => {
                quoted = true;
                at_start = false;
                empty = false;
            }
            _ if quoted => {}
            b'\n' => {
                if !empty {
                    counts.push(fields);
                }
                (fields, empty, at_start) = (1, true, true);
            }
            b'\r' => {}
            _ if b == delimiter => {
                fields += 1;
                empty = false;
                at_start = true;
            }
            _ => {
                empty = false;
                at_start = false;
            }
        }
    }
    counts
}

/// The delimiter of a CSV file whose first bytes are `head`: of `, ; \t |`, the one that
/// splits the header into the most fields (at least two) and the lines after it into as many.
/// Two that split alike are ambiguous, and the caller must say which.
pub(crate) fn detect_delimiter(head: &[u8], complete: bool) -> Result<u8, String> {
    let mut head = head;
    if !complete {
        // Only whole lines: the last one may be cut.
        head = match head.iter().rposition(|&b| b == b'\n') {
            Some(i) => &head[..=i],
            None => {
                return Err(format!(
                    "its header line is longer than {HEAD_BYTES} bytes, so its delimiter cannot be \
                     detected; give --csv-delimiter"
                ));
            }
        };
    }
    let mut best: Vec<(u8, usize)> = Vec::new();
    for (d, _) in DELIMITERS {
        let mut counts = field_counts(head, d, CHECKED_LINES + 1);
        if complete && !head.ends_with(b"\n") {
            // The whole file, its last line unterminated: count it too.
            let mut terminated = head.to_vec();
            terminated.push(b'\n');
            counts = field_counts(&terminated, d, CHECKED_LINES + 1);
        }
        let Some((&header, rest)) = counts.split_first() else {
            return Err("it is empty: no header line".into());
        };
        if header >= 2 && rest.iter().all(|&c| c == header) {
            match best.first() {
                Some(&(_, n)) if n > header => {}
                Some(&(_, n)) if n == header => best.push((d, header)),
                _ => best = vec![(d, header)],
            }
        }
    }
    match best.as_slice() {
        [(d, _)] => Ok(*d),
        [] => Err(format!(
            "its delimiter cannot be detected: none of , ; \\t | splits the header into two or more \
             fields and the next {CHECKED_LINES} lines into as many; give --csv-delimiter"
        )),
        several => Err(format!(
            "its delimiter is ambiguous: {} each split the header and the next lines into {} fields; \
             give --csv-delimiter",
            several
                .iter()
                .map(|(d, _)| format!("{:?}", name(*d)))
                .collect::<Vec<_>>()
                .join(" and "),
            several[0].1
        )),
    }
}

/// The UTF-8 byte order mark Excel's "CSV UTF-8" starts a file with.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// `r` without a leading byte order mark, which would otherwise be part of the first column's
/// name.
fn without_bom(mut r: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut first = Vec::with_capacity(3);
    (&mut r).take(3).read_to_end(&mut first)?;
    if first == BOM {
        Ok(r)
    } else {
        Ok(Box::new(io::Cursor::new(first).chain(r)))
    }
}

/// The delimiter to read with: the stated one, or the detected one; refuses a decimal comma
/// with a comma delimiter, which cannot be told apart.
pub(crate) fn delimiter(options: &CsvOptions, head: &[u8], complete: bool) -> Result<u8, String> {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    let d = match options.delimiter {
        Some(d) => d,
        None => detect_delimiter(head, complete)?,
    };
    if options.decimal_comma && d == b',' {
        return Err(
            "--decimal-comma needs a delimiter other than \",\" (a decimal comma and a comma between \
             fields cannot be told apart); write the file with sep=';' or give --csv-delimiter"
                .into(),
        );
    }
    Ok(d)
}

/// An opener of the file's (decompressed) bytes from the start: detection, the header and the
/// rows each read from the start again rather than buffering.
pub(crate) type Opener<'a> = &'a dyn Fn() -> io::Result<Box<dyn Read + Send>>;

fn format(delimiter: u8) -> arrow::csv::reader::Format {
    arrow::csv::reader::Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
}

/// The column names of the header line.
pub(crate) fn header(open: Opener, delimiter: u8) -> Result<Vec<String>, String> {
    let (schema, _) = format(delimiter)
        .infer_schema(open().and_then(without_bom).map_err(|e| e.to_string())?, Some(0))
        .map_err(|e| format!("its header: {e}"))?;
    Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
}

/// Records sampled to infer the types of a CSV without a schema.
const INFER_RECORDS: usize = 10_000;

/// The types of a CSV's columns as arrow-csv infers them from its first records; with a
/// decimal comma, a text column whose sampled values are all decimal-comma numbers (one at
/// least with a comma) is a float column.
pub(crate) fn infer(open: Opener, delimiter: u8, decimal_comma: bool) -> Result<Schema, String> {
    let (inferred, _) = format(delimiter)
        .infer_schema(
            open().and_then(without_bom).map_err(|e| e.to_string())?,
            Some(INFER_RECORDS),
        )
        .map_err(|e| format!("inferring its column types: {e}"))?;
    if !decimal_comma {
        return Ok(inferred);
    }
    let text: Vec<usize> = (0..inferred.fields().len())
        .filter(|&i| inferred.field(i).data_type() == &DataType::Utf8)
        .collect();
    if text.is_empty() {
        return Ok(inferred);
    }
    let all_text = Schema::new(
        inferred
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let sample = arrow::csv::ReaderBuilder::new(Arc::new(all_text))
        .with_format(format(delimiter))
        .with_projection(text.clone())
        .with_batch_size(INFER_RECORDS)
        .build(open().and_then(without_bom).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?
        .next()
        .transpose()
        .map_err(|e| format!("inferring its column types: {e}"))?;
    let mut fields: Vec<Field> = inferred.fields().iter().map(|f| f.as_ref().clone()).collect();
    if let Some(sample) = sample {
        for (j, &i) in text.iter().enumerate() {
            let Some(values) = sample.column(j).as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            let values: Vec<&str> = values.iter().flatten().filter(|v| !v.is_empty()).collect();
            if values.iter().any(|v| v.contains(',')) && values.iter().all(|v| is_comma_number(v)) {
                fields[i] = Field::new(fields[i].name(), DataType::Float64, true);
            }
        }
    }
    Ok(Schema::new_with_metadata(fields, inferred.metadata().clone()))
}

/// `[+-]digits[,digits][e[+-]digits]` with digits on at least one side of the comma.
fn is_comma_number(v: &str) -> bool {
    let v = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (mantissa, exponent) = match v.find(['e', 'E']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = mantissa.split_once(',').unwrap_or((mantissa, ""));
    let mantissa_ok = !(int.is_empty() && frac.is_empty()) && digits(int) && digits(frac);
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// Streams the rows of a CSV whose columns are `schema` (the types the batches should have,
/// in header order), only the columns at `projection` if given, in batches of `batch_rows`.
/// With `decimal_comma`, float columns are parsed as text and converted per batch. Returns the
/// schema of the batches and the batches.
pub(crate) fn read(
    open: Opener,
    schema: &SchemaRef,
    projection: Option<Vec<usize>>,
    delimiter: u8,
    decimal_comma: bool,
    batch_rows: usize,
) -> Result<(SchemaRef, Batches), String> {
    let is_float = |t: &DataType| matches!(t, DataType::Float64 | DataType::Float32);
    let read_schema = Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| {
                if decimal_comma && is_float(f.data_type()) {
                    Field::new(f.name(), DataType::Utf8, f.is_nullable())
                } else {
                    f.as_ref().clone()
                }
            })
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    );
    let columns: Vec<usize> = projection
        .clone()
        .unwrap_or_else(|| (0..schema.fields().len()).collect());
    let out_schema = Arc::new(schema.project(&columns).map_err(|e| e.to_string())?);
    let mut builder = arrow::csv::ReaderBuilder::new(Arc::new(read_schema))
        .with_format(format(delimiter))
        .with_batch_size(batch_rows.max(1));
    if let Some(p) = projection {
        builder = builder.with_projection(p);
    }
    let reader = builder
        .build(open().and_then(without_bom).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if !decimal_comma || !out_schema.fields().iter().any(|f| is_float(f.data_type())) {
        return Ok((out_schema, Box::new(reader)));
    }
    let target = out_schema.clone();
    let batches = reader.map(move |batch| {
        let batch = batch?;
        let columns = batch
            .columns()
            .iter()
            .zip(target.fields())
            .map(|(c, f)| match f.data_type() {
                t if is_float(t) => comma_floats(c, t, f.name()),
                _ => Ok(c.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(target.clone(), columns)
    });
    Ok((out_schema, Box::new(batches)))
}

/// Text of decimal-comma numbers (`0,731`, `-1,5e-3`) as floats; empty text is null.
fn comma_floats(column: &ArrayRef, to: &DataType, name: &str) -> Result<ArrayRef, ArrowError> {
    let text = column
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| ArrowError::CastError(format!("column {name:?} was not read as text")))?;
    let mut buf = String::new();
    let mut parse = |v: &str| -> Result<f64, ArrowError> {
        buf.clear();
        buf.extend(v.chars().map(|c| if c == ',' { '.' } else { c }));
        if v.contains('.') || !is_comma_number(v) {
            return Err(ArrowError::ParseError(format!(
                "column {name:?}: {v:?} is not a number with a decimal comma"
            )));
        }
        buf.parse::<f64>()
            .map_err(|e| ArrowError::ParseError(format!("column {name:?}: {v:?}: {e}")))
    };
    let values = (0..text.len()).map(|i| {
        if text.is_null(i) || text.value(i).is_empty() {
            Ok(None)
        } else {
            parse(text.value(i)).map(Some)
        }
    });
    Ok(if to == &DataType::Float32 {
        Arc::new(
            values
                .map(|v| v.map(|v| v.map(|v| v as f32)))
                .collect::<Result<Float32Array, _>>()?,
        )
    } else {
        Arc::new(values.collect::<Result<Float64Array, _>>()?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_one_that_splits_header_and_lines_alike_into_the_most_fields() {
        assert_eq!(detect_delimiter(b"a,b,c\n1,2,3\n4,5,6\n", true), Ok(b','));
        // Decimal commas split the lines unlike the header: `;` it is.
        assert_eq!(detect_delimiter(b"a;b;c\n0,5;1;x\n1,25;2;y\n", true), Ok(b';'));
        assert_eq!(detect_delimiter(b"a\tb\n1\t2", true), Ok(b'\t'));
        assert_eq!(detect_delimiter(b"a|b|c\n1|2|3\n", true), Ok(b'|'));
        // A quoted delimiter or newline is part of its field.
        assert_eq!(
            detect_delimiter(b"name;note\n\"x;y\";\"a,b\nc\"\nz;w\n", true),
            Ok(b';')
        );
        // More fields wins when both split consistently.
        assert_eq!(detect_delimiter(b"a,b;c,d\n1,2;3,4\n", true), Ok(b','));
        // A cut last line in a head is not held against a delimiter.
        assert_eq!(detect_delimiter(b"a;b\n1;2\n3", false), Ok(b';'));
        // A quote inside an unquoted field is text (`5" screen`), not the start of a quoted
        // field that would swallow the rest of the file; `""` inside a quoted field is a quote.
        assert_eq!(
            detect_delimiter(b"item;size;n\nTV 5\" screen;5;1\nradio;3\" x;2\nlamp;1;3\n", true),
            Ok(b';')
        );
        assert_eq!(
            detect_delimiter(b"item;n\n\"a \"\"b\"\" c; d\";1\nx;2\n", true),
            Ok(b';')
        );
    }

    #[test]
    fn an_ambiguous_or_undetectable_delimiter_asks_for_the_flag() {
        let e = detect_delimiter(b"a,b;c\n1,2;3\n", true).expect_err("ambiguous");
        assert!(e.contains("ambiguous") && e.contains("--csv-delimiter"), "{e}");
        assert!(e.contains("\",\"") && e.contains("\";\""), "{e}");
        let e = detect_delimiter(b"a;b\n1;2;3\n", true).expect_err("inconsistent");
        assert!(e.contains("cannot be detected") && e.contains("--csv-delimiter"), "{e}");
        let e = detect_delimiter(b"only\n1\n", true).expect_err("one column");
        assert!(e.contains("--csv-delimiter"), "{e}");
        let e = detect_delimiter(&[b'a'; 100], false).expect_err("no line end");
        assert!(e.contains("longer than"), "{e}");
    }

    #[test]
    fn a_decimal_comma_with_a_comma_delimiter_is_refused() {
        let both = CsvOptions {
            delimiter: Some(b','),
            decimal_comma: true,
        };
        let e = delimiter(&both, b"a,b\n", true).expect_err("refused");
        assert!(e.contains("--decimal-comma") && e.contains("sep=';'"), "{e}");
        let detected = CsvOptions {
            delimiter: None,
            decimal_comma: true,
        };
        assert!(delimiter(&detected, b"a,b\n1,2\n", true).is_err());
        assert_eq!(delimiter(&detected, b"a;b\n1,5;2\n", true), Ok(b';'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert!(parse_delimiter(":").is_err());
    }

    #[test]
    fn decimal_comma_columns_are_inferred_and_parsed_exactly_per_batch() {
        let text = "x;p;s;n\n1;0,1;a;3\n2;1e-5;b;4\n3;-2,5E+3;c;\n4;0,30000000000000004;d;7\n";
        let bytes = bytes::Bytes::from(text);
        let open = || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(io::Cursor::new(bytes.clone()))) };
        let schema = Arc::new(infer(&open, b';', true).expect("infer"));
        let types: Vec<&DataType> = schema.fields().iter().map(|f| f.data_type()).collect();
        assert_eq!(
            types,
            [&DataType::Int64, &DataType::Float64, &DataType::Utf8, &DataType::Int64]
        );
        let (out, batches) = read(&open, &schema, Some(vec![1, 3]), b';', true, 3).expect("read");
        assert_eq!(out.fields().len(), 2);
        let batches: Vec<RecordBatch> = batches.collect::<Result<_, _>>().expect("batches");
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [3, 1]);
        let p: Vec<f64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Float64Array>()
                    .expect("f64")
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(p, [0.1, 1e-5, -2500.0, 0.30000000000000004]);
        assert!(batches[0].column(1).is_null(2));
        // A byte order mark is not part of the first column's name.
        let bom = bytes::Bytes::from("\u{feff}a;b\n1;2\n");
        let open = || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(io::Cursor::new(bom.clone()))) };
        assert_eq!(header(&open, b';').expect("header"), ["a", "b"]);
        let bad = bytes::Bytes::from("p;q\n0,5;1\n0.5;2\n");
        let open = || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(io::Cursor::new(bad.clone()))) };
        let schema = Arc::new(Schema::new(vec![
            Field::new("p", DataType::Float64, false),
            Field::new("q", DataType::Int64, false),
        ]));
        let (_, mut batches) = read(&open, &schema, None, b';', true, 10).expect("read");
        let e = batches.next().expect("a batch").expect_err("0.5 with --decimal-comma");
        assert!(e.to_string().contains("\"0.5\""), "{e}");
    }
}

//! Renders a run record to an HTML file.
//!
//! `cargo run --example render -- RECORD.json da|en OUT.html [RUN_ID] [REQUESTED_BY] [CASE]`

use htmlreport::{Lang, Meta, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: render RECORD.json da|en OUT.html [RUN_ID] [REQUESTED_BY] [CASE]".into());
    }
    let record = evaluate::RunRecord::from_json(&std::fs::read(&args[0])?)?;
    let lang: Lang = args[1].parse()?;
    let meta = Meta {
        run_id: args.get(3).cloned(),
        requested_by: args.get(4).cloned(),
        case_name: args.get(5).cloned(),
    };
    let html = render(&record, lang, &meta);
    std::fs::write(&args[2], &html)?;
    eprintln!("{} bytes to {}", html.len(), args[2]);
    Ok(())
}

//! `sandkasse doctor`: the ONNX Runtime found and the isolation layers this kernel supports.

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let runtime = match inference::locate_runtime() {
        Ok(path) => match inference::load_runtime(&path) {
            Ok(version) => serde_json::json!({"found": true, "path": path.display().to_string(), "version": version}),
            Err(e) => serde_json::json!({"found": false, "path": path.display().to_string(), "error": e.to_string()}),
        },
        Err(e) => serde_json::json!({"found": false, "error": e.to_string()}),
    };
    let layers = inference::probe_isolation();
    let ok = runtime["found"] == true && layers.iter().all(|l| l.active);
    if args.json {
        let v = serde_json::json!({"onnxruntime": runtime, "isolation": layers, "ok": ok});
        super::print(&(serde_json::to_string_pretty(&v)? + "\n"))?;
    } else {
        let mut s = String::new();
        match runtime["found"].as_bool() {
            Some(true) => {
                s += &format!(
                    "ONNX Runtime  {} at {}\n",
                    runtime["version"].as_str().unwrap_or("?"),
                    runtime["path"].as_str().unwrap_or("?")
                )
            }
            _ => s += &format!("ONNX Runtime  missing: {}\n", runtime["error"].as_str().unwrap_or("?")),
        }
        s += "isolation layers:\n";
        for l in &layers {
            s += &format!(
                "  {:<22} {:<11} {}\n",
                l.layer,
                if l.active { "supported" } else { "UNAVAILABLE" },
                l.detail
            );
        }
        super::print(&s)?;
    }
    if !ok {
        let missing: Vec<&str> = layers.iter().filter(|l| !l.active).map(|l| l.layer.as_str()).collect();
        if missing.is_empty() {
            anyhow::bail!("ONNX Runtime is missing (see above)");
        }
        anyhow::bail!(
            "isolation layers unavailable: {}{}; workers will be refused unless the service is started with \
             --allow-missing-isolation naming the layers to do without",
            missing.join(", "),
            if runtime["found"] == true {
                ""
            } else {
                ", and ONNX Runtime is missing"
            }
        );
    }
    Ok(())
}

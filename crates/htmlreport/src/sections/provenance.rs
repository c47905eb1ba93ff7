//! Where the run came from: model, manifest, dataset, versions, method, isolation.

use super::Doc;
use super::labels::counterfactual_name;
use crate::Lang;
use crate::fmt::{DASH, E, TEXT_CHARS, esc, name, user};
use fairness::{Correction, Scheme};
use inference::{ClassValue, Output};
use std::fmt::Write;
use synth::{BiasConfig, Direction, Split};

impl Doc<'_> {
    pub(super) fn provenance(&mut self) {
        let l = self.l;
        let rec = self.rec;
        let p = &rec.provenance;
        let _ = write!(
            self.out,
            "<section id=\"provenance\"><h2>{}</h2><table class=\"kv keep\"><tbody>",
            self.t("Oprindelse", "Provenance")
        );
        let meta = self.meta;
        if let Some(s) = &meta.run_id {
            self.kv(self.t("Kørsels-id", "Run id"), &name(s));
        }
        if let Some(s) = &meta.requested_by {
            self.kv(self.t("Udført af / bestilt af", "Run by / requested by"), &name(s));
        }
        if let Some(s) = &meta.case_name {
            self.kv(self.t("Sag", "Case"), &name(s));
        }
        self.kv(self.t("Startet", "Started"), &esc(&p.started));
        let mut model = format!("<strong>{}</strong>", name(&self.model_name()));
        let _ = write!(model, " <code>{}</code>", name(&p.model_file));
        let _ = write!(model, "<br/>SHA-256 <code class=\"hash\">{}</code>", E(&p.model_sha256));
        self.kv(self.t("Model", "Model"), &model);
        self.kv(
            self.t("Leverandørens beskrivelse", "Vendor's description"),
            &user(&p.manifest.description, TEXT_CHARS),
        );
        self.kv(
            self.t("Manifest", "Manifest"),
            &format!("SHA-256 <code class=\"hash\">{}</code>", E(&p.manifest_sha256)),
        );
        let class = |c: &ClassValue| match c {
            ClassValue::Int(i) => i.to_string(),
            ClassValue::Text(s) => s.clone(),
        };
        let output: Vec<String> = match &p.manifest.output {
            Output::Binary(o) => vec![
                format!(
                    "{} {}",
                    self.t("beslutningstærskel", "decision threshold"),
                    E(&l.plain(o.threshold))
                ),
                format!(
                    "{} {}",
                    self.t("positiv klasse", "positive class"),
                    E(&class(&o.positive_class))
                ),
                match &o.label {
                    Some(label) => format!("label <code>{}</code>", name(label)),
                    None => self
                        .t(
                            "ingen label-output: klassen følger sandsynligheden og tærsklen",
                            "no label output: the class follows the probability and the threshold",
                        )
                        .to_owned(),
                },
                format!("probability <code>{}</code>", name(&o.probability)),
            ],
            Output::Regression(r) => vec![
                self.t("regression: et tal pr. borger", "regression: a number per citizen")
                    .to_owned(),
                format!("value <code>{}</code>", name(&r.value)),
            ],
            Output::Multiclass(m) => {
                let classes: Vec<String> = m.classes.iter().map(|c| name(&class(c))).collect();
                let mut v = vec![format!(
                    "{}: {}",
                    self.t("flere klasser", "multi-class"),
                    classes.join(", ")
                )];
                match (&m.label, &m.probability) {
                    (Some(label), _) => v.push(format!("label <code>{}</code>", name(label))),
                    (None, Some(p)) => v.push(format!(
                        "probability <code>{}</code> ({})",
                        name(p),
                        self.t("den mest sandsynlige klasse", "the most probable class")
                    )),
                    (None, None) => {}
                }
                v
            }
        };
        self.kv(self.t("Modellens output", "Model output"), &output.join("; "));
        let i = &rec.inspection;
        let opsets: Vec<String> = i.opsets.iter().map(|(k, v)| format!("{} {v}", E(k))).collect();
        let operators: Vec<String> = i.operators.iter().map(|(k, v)| format!("{} ×{v}", E(k))).collect();
        let inspection = [
            format!("{} {}", self.t("lavet med", "produced by"), name(&i.producer)),
            format!("{} {}", l.count(i.file_bytes as f64), self.t("byte", "bytes")),
            format!("{} {}", l.count(i.parameters as f64), self.t("parametre", "parameters")),
            format!("{} {}", l.count(i.nodes as f64), self.t("knuder", "nodes")),
            format!("opsets: {}", opsets.join(", ")),
            format!("{}: {}", self.t("operatorer", "operators"), operators.join(", ")),
        ];
        self.kv(
            self.t("Inspektion af modellen", "Model inspection"),
            &inspection.join("; "),
        );
        if !i.warnings.is_empty() {
            let warnings: Vec<String> = i.warnings.iter().map(|w| user(w, TEXT_CHARS)).collect();
            self.kv(
                self.t("Advarsler om manifestet", "Manifest warnings"),
                &warnings.join("<br>"),
            );
        }
        let d = &p.dataset;
        let mut ds = Vec::new();
        if let Some(f) = &p.dataset_file {
            ds.push(format!("{} <code>{}</code>", self.t("fil", "file"), name(f)));
        }
        ds.push(format!(
            "{} <strong>{}</strong>",
            self.t("scenarie", "scenario"),
            name(&d.scenario)
        ));
        ds.push(format!("{} {}", l.count(d.rows as f64), self.t("borgere", "citizens")));
        ds.push(format!(
            "{} {}",
            l.count(p.dataset_rows as f64),
            self.t("rækker scoret (med tvillinger)", "rows scored (twins included)")
        ));
        ds.push(format!("{} {}", self.t("frø", "seed"), d.seed));
        ds.push(format!("{} {}", self.t("del", "split"), split_name(d.split)));
        ds.push(format!(
            "{} {}",
            self.t("referencedato", "reference date"),
            E(&d.reference_date)
        ));
        let cf = match d.counterfactual {
            Some(c) => self.attr_label(counterfactual_name(c)),
            None => self.t("ingen", "none").to_owned(),
        };
        ds.push(format!(
            "{} {}",
            self.t("kontrafaktisk tvilling", "counterfactual twin"),
            E(&cf)
        ));
        self.kv(self.t("Datasæt", "Dataset"), &ds.join("; "));
        let bias = self.bias_knobs(&d.bias);
        self.kv(self.t("Indbygget skævhed", "Bias knobs"), &bias);
        self.kv(
            self.t("Datasæt, SHA-256", "Dataset SHA-256"),
            &format!("<code class=\"hash\">{}</code>", E(&p.dataset_sha256)),
        );
        let versions = [
            (self.t("generator", "generator"), &p.generator_version),
            ("sandkasse", &p.sandbox_version),
            ("ONNX Runtime", &p.onnxruntime_version),
        ]
        .iter()
        .map(|(k, v)| format!("{} {}", E(k), E(v)))
        .collect::<Vec<_>>()
        .join("; ");
        self.kv(self.t("Versioner", "Versions"), &versions);
        let Some(c) = self.rep.map(|r| &r.config) else {
            let method = self.task_method();
            self.kv(self.t("Metode", "Method"), &method);
            self.w("</tbody></table>");
            self.isolation_table();
            return;
        };
        let scheme = match c.bootstrap_scheme {
            Scheme::Stratified => self.t("inden for krydsceller", "within intersection cells"),
            Scheme::Rows => self.t("over alle rækker", "over all rows"),
        };
        let correction = match c.correction {
            Correction::Holm => "Holm",
            Correction::BenjaminiHochberg => "Benjamini–Hochberg",
        };
        let b = c.bootstrap as f64;
        let method = match l {
            Lang::Da => format!(
                "{} intervaller ({}; Wilson hvor der ikke er bootstrap); bootstrap med {} gentagelser {scheme}, frø {}; grupper under {} rækker markeres og sammenlignes ikke; korrektion for multipel testning: {correction}",
                self.confidence(),
                if b > 0.0 {
                    "percentil-bootstrap"
                } else {
                    "ingen bootstrap"
                },
                l.count(b),
                c.seed,
                l.count(self.min_group_size()),
            ),
            Lang::En => format!(
                "{} intervals ({}; Wilson where there is no bootstrap); bootstrap with {} resamples {scheme}, seed {}; groups under {} rows are flagged and not compared; multiple-testing correction: {correction}",
                self.confidence(),
                if b > 0.0 {
                    "percentile bootstrap"
                } else {
                    "no bootstrap"
                },
                l.count(b),
                c.seed,
                l.count(self.min_group_size()),
            ),
        };
        self.kv(self.t("Metode", "Method"), &method);
        self.w("</tbody></table>");
        self.isolation_table();
    }

    /// The workers' isolation layers and what the operator allowed to be missing; ends the section.
    fn isolation_table(&mut self) {
        let l = self.l;
        let p = &self.rec.provenance;
        let layers = &p.isolation;
        if !layers.is_empty() {
            let active = layers.iter().filter(|x| x.active).count();
            let _ = write!(
                self.out,
                "<h3>{}</h3><p>{}</p><table class=\"keep\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                self.t("Isolation af modellen", "Isolation of the model"),
                E(&match l {
                    Lang::Da => format!(
                        "Modellen kørte i separate arbejdsprocesser. {active} af {} isolationslag var aktive.",
                        layers.len()
                    ),
                    Lang::En => format!(
                        "The model ran in separate worker processes. {active} of {} isolation layers were active.",
                        layers.len()
                    ),
                }),
                self.t("Lag", "Layer"),
                self.t("Status", "Status"),
                self.t("Detaljer", "Detail")
            );
            for x in layers {
                let status = if x.active {
                    format!("<span class=\"ok\">✓ {}</span>", self.t("aktivt", "active"))
                } else {
                    format!(
                        "<span class=\"bad\">✗ {}</span>",
                        self.t("ikke tilgængeligt", "unavailable")
                    )
                };
                let _ = write!(
                    self.out,
                    "<tr><td><code>{}</code></td><td class=\"status\">{status}</td><td class=\"detail\">{}</td></tr>",
                    E(&x.layer),
                    E(&x.detail)
                );
            }
            self.w("</tbody></table>");
        }
        if let Some(allowed) = &p.isolation_allowed_missing {
            // Absent in records from before the option: nothing is claimed for them.
            self.isolation_allowance(allowed);
        }
        self.w("</section>");
    }

    /// The dataset's bias knobs, each as `name = value`, in the order of their names (the
    /// order the record's JSON lists them in). Destructured, so a knob added to the generator
    /// does not build until it is shown here: a reader must see every knob that shaped the data.
    fn bias_knobs(&self, bias: &BiasConfig) -> String {
        let l = self.l;
        let BiasConfig {
            label_rate,
            label_group,
            label_direction,
            representation_factor,
            representation_group,
            measurement_sd,
            measurement_group,
            measurement_feature,
            proxy_strength,
        } = bias;
        let direction = match label_direction {
            Direction::Down => "down",
            Direction::Up => "up",
        };
        [
            ("label_direction", direction.to_owned()),
            ("label_group", label_group.spec().to_owned()),
            ("label_rate", l.plain(*label_rate)),
            (
                "measurement_feature",
                measurement_feature.clone().unwrap_or_else(|| DASH.to_owned()),
            ),
            ("measurement_group", measurement_group.spec().to_owned()),
            ("measurement_sd", l.plain(*measurement_sd)),
            ("proxy_strength", l.plain(*proxy_strength)),
            ("representation_factor", l.plain(*representation_factor)),
            ("representation_group", representation_group.spec().to_owned()),
        ]
        .iter()
        .map(|(k, v)| format!("<code>{}</code> = {}", E(k), E(v)))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The operator's choice to run without some isolation layers (`--allow-missing-isolation`),
    /// from `provenance.isolation_allowed_missing`.
    fn isolation_allowance(&mut self, allowed: &[String]) {
        if allowed.is_empty() {
            let _ = write!(
                self.out,
                "<p class=\"note\" id=\"isolation-allowed\">{}</p>",
                self.t(
                    "Operatøren tillod ikke, at noget isolationslag manglede.",
                    "The operator allowed no isolation layer to be missing."
                )
            );
        } else {
            let _ = write!(
                self.out,
                "<p class=\"bad\" id=\"isolation-allowed\">{} <code>{}</code> (--allow-missing-isolation)</p>",
                self.t(
                    "Operatøren tillod arbejdsprocesserne at køre uden:",
                    "The operator allowed the workers to run without:"
                ),
                E(&allowed.join(", "))
            );
        }
    }
}

/// The split's name, as the dataset and the command line write it.
fn split_name(s: Split) -> &'static str {
    match s {
        Split::All => "all",
        Split::Train => "train",
        Split::Test => "test",
    }
}

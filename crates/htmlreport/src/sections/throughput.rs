//! Throughput: rows, workers, latency, memory, timings, and the workers' events.

use super::Doc;
use crate::fmt::{E, TEXT_CHARS, esc, user};
use std::fmt::Write;

impl Doc<'_> {
    pub(super) fn throughput(&mut self) {
        let l = self.l;
        let _ = write!(
            self.out,
            "<section id=\"throughput\"><h2>{}</h2>",
            self.t("Gennemløb", "Throughput")
        );
        let t = &self.rec.throughput;
        self.w("<table class=\"kv keep\"><tbody>");
        let secs = |x: f64| format!("{} s", l.dec(x, 2));
        let ms = |x: f64| format!("{} ms", l.dec(x, 1));
        let rows: Vec<(&str, String)> = vec![
            (self.t("Rækker scoret", "Rows scored"), l.count(t.rows as f64)),
            (self.t("Arbejdsprocesser", "Workers"), l.count(t.workers as f64)),
            (
                self.t("Rækker pr. batch", "Rows per batch"),
                l.count(t.batch_rows as f64),
            ),
            (
                self.t("Rækker pr. sekund", "Rows per second"),
                l.count(t.rows_per_second.round()),
            ),
            (
                self.t("Batch-latens p50 / p95 / p99", "Batch latency p50 / p95 / p99"),
                format!(
                    "{} / {} / {}",
                    ms(t.batch_latency_ms_p50),
                    ms(t.batch_latency_ms_p95),
                    ms(t.batch_latency_ms_p99)
                ),
            ),
            (
                self.t("Største hukommelsesforbrug i en arbejdsproces", "Worker peak memory"),
                t.worker_peak_memory_bytes.map_or_else(
                    || self.t("ikke målt", "not measured").to_owned(),
                    |b| format!("{} MiB", l.dec(b as f64 / 1_048_576.0, 1)),
                ),
            ),
            (
                self.t("Opstart og indlæsning af model", "Start-up and model load"),
                secs(t.load_seconds),
            ),
            (
                self.t("Generering og scoring", "Generating and scoring"),
                secs(t.score_seconds),
            ),
            (
                self.t("Beregning af rapport", "Building the report"),
                secs(t.metrics_seconds),
            ),
            (self.t("I alt", "Total"), secs(t.total_seconds)),
        ];
        for (k, v) in rows {
            self.kv(k, &esc(&v));
        }
        self.w("</tbody></table>");
        let events = &self.rec.worker_events;
        if events.is_empty() {
            let _ = write!(
                self.out,
                "<p>{}</p>",
                self.t(
                    "Ingen arbejdsprocesser gik ned, hang eller løb tør for hukommelse.",
                    "No worker crashed, hung or ran out of memory."
                )
            );
        } else {
            let _ = write!(
                self.out,
                "<table class=\"keep\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
                self.t("Hændelser i arbejdsprocesserne", "Worker events"),
                self.t("Arbejdsproces", "Worker"),
                self.t("Årsag", "Cause"),
                self.t("Detaljer", "Detail"),
                self.t("Erstattet", "Replaced")
            );
            for e in events {
                let replaced = if e.respawned {
                    self.t("ja", "yes")
                } else {
                    self.t("nej", "no")
                };
                let _ = write!(
                    self.out,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td class=\"detail\">{}</td><td>{}</td></tr>",
                    e.worker,
                    E(e.cause.as_str()),
                    user(&e.detail, TEXT_CHARS),
                    E(replaced)
                );
            }
            self.w("</tbody></table>");
        }
        self.w("</section>");
    }
}

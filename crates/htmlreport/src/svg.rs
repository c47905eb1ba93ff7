//! Hand-written inline SVG charts. Every string goes through [`E`]; every chart has a visible
//! title, axis labels and ticks, a legend, and `role="img"` with `<title>` and `<desc>`.

use crate::Lang;
use crate::fmt::{E, clip};
use std::fmt::Write;

/// Okabe–Ito, colour-blind safe; yellow last as it is faint on white. Series also differ by
/// marker shape and dash pattern, so colour is never the only cue.
pub(crate) const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];
const DASHES: [&str; 4] = ["", "7 3", "2 3", "9 3 2 3"];
const W: f64 = 720.0;
const CHAR_W: f64 = 6.4;

pub(crate) fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn dash(i: usize) -> &'static str {
    DASHES[i % DASHES.len()]
}

/// A marker of one of five shapes, centred on (x, y).
fn marker(out: &mut String, shape: usize, x: f64, y: f64, color: &str) {
    let _ = match shape % 5 {
        0 => write!(
            out,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{color}" stroke="#fff" stroke-width="0.8"/>"##
        ),
        1 => write!(
            out,
            r##"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{color}" stroke="#fff" stroke-width="0.8"/>"##,
            x - 3.5,
            y - 3.5
        ),
        2 => write!(
            out,
            r##"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{color}" stroke="#fff" stroke-width="0.8"/>"##,
            y - 5.0,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        3 => write!(
            out,
            r##"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{color}" stroke="#fff" stroke-width="0.8"/>"##,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        _ => write!(
            out,
            r##"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{color}" stroke-width="2.2"/>"##,
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
    };
}

/// An axis over `[min, max]`, ticks as percentages or decimals.
pub(crate) struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub pct: bool,
}

impl Axis {
    pub(crate) fn unit(label: &str, pct: bool) -> Self {
        Self {
            label: label.to_owned(),
            min: 0.0,
            max: 1.0,
            pct,
        }
    }

    fn step(&self) -> f64 {
        let span = (self.max - self.min).max(1e-9);
        let raw = span / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        [1.0, 2.0, 2.5, 5.0, 10.0]
            .into_iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw * 0.999)
            .unwrap_or(span)
    }

    fn ticks(&self) -> Vec<f64> {
        let step = self.step();
        let first = (self.min / step).ceil() as i64;
        let last = (self.max / step + 1e-9).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }

    fn label_of(&self, v: f64, lang: Lang) -> String {
        let step = self.step() * if self.pct { 100.0 } else { 1.0 };
        let mut d = 0;
        while d < 4 && ((step * 10f64.powi(d as i32)).fract()).abs() > 1e-6 {
            d += 1;
        }
        if self.pct { lang.pct(v, d) } else { lang.dec(v, d) }
    }
}

/// A rounded-up upper bound for an axis of rates starting at 0 (never past 1).
pub(crate) fn nice_max(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    nice_upper(x).min(1.0).max(x.min(1.0))
}

/// A rounded-up upper bound for an axis of any positive quantity (hours, counts); 1 for none.
pub(crate) fn nice_upper(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(x.log10().floor());
    let m = [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .find(|m| m * mag >= x * 1.0001)
        .unwrap_or(10.0);
    m * mag
}

fn open(out: &mut String, id: &str, title: &str, desc: &str, h: f64) {
    let _ = write!(
        out,
        r##"<figure class="chart"><svg class="chart" role="img" aria-labelledby="{id}-t {id}-d" viewBox="0 0 {W} {h:.0}" width="{W}" height="{h:.0}"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc><rect x="0" y="0" width="{W}" height="{h:.0}" fill="#fff"/><text x="8" y="20" class="ct">{}</text>"##,
        E(title),
        E(desc),
        E(title)
    );
}

fn close(out: &mut String) {
    out.push_str("</svg></figure>");
}

/// One legend entry: a colour with a marker shape and/or a line sample.
struct Key<'a> {
    color: &'a str,
    shape: Option<usize>,
    dash: Option<&'a str>,
    text: String,
}

/// Draws keys downwards from (x, y), one a line; returns the height used.
fn legend_column(out: &mut String, keys: &[Key<'_>], x: f64, y: f64, max_chars: usize) -> f64 {
    for (k, key) in keys.iter().enumerate() {
        let cy = y + 18.0 * k as f64 + 9.0;
        legend_sample(out, key, x, cy);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="lg">{}</text>"##,
            x + 30.0,
            cy + 4.0,
            E(&clip(&key.text, max_chars))
        );
    }
    18.0 * keys.len() as f64
}

fn legend_sample(out: &mut String, key: &Key<'_>, x: f64, cy: f64) {
    if let Some(d) = key.dash {
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{d}"/>"##,
            x + 24.0,
            key.color
        );
    }
    if let Some(s) = key.shape {
        marker(out, s, x + 12.0, cy, key.color);
    }
}

/// Draws keys side by side from (x, y), wrapping at `width`; returns the height used.
fn legend_row(out: &mut String, keys: &[Key<'_>], x: f64, y: f64, width: f64) -> f64 {
    let (mut cx, mut cy) = (x, y + 9.0);
    for key in keys {
        let w = 36.0 + CHAR_W * key.text.chars().count() as f64;
        if cx > x && cx + w > x + width {
            cx = x;
            cy += 18.0;
        }
        legend_sample(out, key, cx, cy);
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="lg">{}</text>"##,
            cx + 30.0,
            cy + 4.0,
            E(&key.text)
        );
        cx += w + 12.0;
    }
    cy + 9.0 - y
}

fn row_height(keys: &[Key<'_>], width: f64) -> f64 {
    let mut s = String::new();
    legend_row(&mut s, keys, 0.0, 0.0, width)
}

/// A line of a line chart.
pub(crate) struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Mark every point (else about eight markers along the line).
    pub every_point: bool,
}

pub(crate) struct LineChart {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    /// A dashed grey diagonal y = x with its legend text.
    pub diagonal: Option<String>,
    /// A vertical line at x with its legend text.
    pub vline: Option<(f64, String)>,
}

pub(crate) fn line_chart(c: &LineChart, lang: Lang) -> String {
    let (ml, mt, pw, ph): (f64, f64, f64, f64) = (64.0, 40.0, 360.0, 300.0);
    let mut keys: Vec<Key<'_>> = c
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| Key {
            color: color(i),
            shape: Some(i),
            dash: Some(dash(i)),
            text: s.name.clone(),
        })
        .collect();
    if let Some(t) = &c.diagonal {
        keys.push(Key {
            color: "#888",
            shape: None,
            dash: Some("4 4"),
            text: t.clone(),
        });
    }
    if let Some((_, t)) = &c.vline {
        keys.push(Key {
            color: "#444",
            shape: None,
            dash: Some("1 3"),
            text: t.clone(),
        });
    }
    let h = (mt + ph + 56.0).max(mt + 18.0 * keys.len() as f64 + 16.0);
    let sx = |v: f64| ml + (v.clamp(c.x.min, c.x.max) - c.x.min) / (c.x.max - c.x.min) * pw;
    let sy = |v: f64| mt + ph - (v.clamp(c.y.min, c.y.max) - c.y.min) / (c.y.max - c.y.min) * ph;
    let mut out = String::new();
    open(&mut out, &c.id, &c.title, &c.desc, h);
    axes(&mut out, &c.x, &c.y, (ml, mt, pw, ph), lang);
    if c.diagonal.is_some() {
        let lo = c.x.min.max(c.y.min);
        let hi = c.x.max.min(c.y.max);
        let _ = write!(
            out,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-width="1.2" stroke-dasharray="4 4"/>"##,
            sx(lo),
            sy(lo),
            sx(hi),
            sy(hi)
        );
    }
    if let Some((v, _)) = &c.vline {
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{mt:.1}" x2="{x:.1}" y2="{:.1}" stroke="#444" stroke-width="1.2" stroke-dasharray="1 3"/>"##,
            mt + ph,
            x = sx(*v)
        );
    }
    for (i, s) in c.series.iter().enumerate() {
        if s.points.is_empty() {
            continue;
        }
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let d = dash(i);
        let _ = write!(
            out,
            r##"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8" stroke-dasharray="{d}" stroke-linejoin="round"/>"##,
            pts.join(" "),
            color(i)
        );
        let every = if s.every_point { 1 } else { (s.points.len() / 8).max(1) };
        // Offset the sparse markers per series so they do not sit on top of each other.
        let offset = if every > 1 { (i * 3) % every } else { 0 };
        for (k, &(x, y)) in s.points.iter().enumerate() {
            if k % every == offset {
                marker(&mut out, i, sx(x), sy(y), color(i));
            }
        }
    }
    legend_column(&mut out, &keys, ml + pw + 24.0, mt, 40);
    close(&mut out);
    out
}

/// Grid, axes, ticks and axis labels of a plot area (x, y, width, height).
fn axes(out: &mut String, x: &Axis, y: &Axis, (ml, mt, pw, ph): (f64, f64, f64, f64), lang: Lang) {
    let _ = write!(
        out,
        r##"<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999" stroke-width="1"/>"##
    );
    for v in x.ticks() {
        let px = ml + (v - x.min) / (x.max - x.min) * pw;
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{mt:.1}" x2="{px:.1}" y2="{:.1}" stroke="#e2e2e2"/><line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#666"/><text x="{px:.1}" y="{:.1}" class="tk" text-anchor="middle">{}</text>"##,
            mt + ph,
            mt + ph,
            mt + ph + 5.0,
            mt + ph + 18.0,
            E(&x.label_of(v, lang))
        );
    }
    for v in y.ticks() {
        let py = mt + ph - (v - y.min) / (y.max - y.min) * ph;
        let _ = write!(
            out,
            r##"<line x1="{ml:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e2e2e2"/><line x1="{:.1}" y1="{py:.1}" x2="{ml:.1}" y2="{py:.1}" stroke="#666"/><text x="{:.1}" y="{:.1}" class="tk" text-anchor="end">{}</text>"##,
            ml + pw,
            ml - 5.0,
            ml - 8.0,
            py + 4.0,
            E(&y.label_of(v, lang))
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" class="al" text-anchor="middle">{}</text><text x="16" y="{:.1}" class="al" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"##,
        ml + pw / 2.0,
        mt + ph + 40.0,
        E(&x.label),
        mt + ph / 2.0,
        mt + ph / 2.0,
        E(&y.label)
    );
}

/// A value with its interval, if any.
pub(crate) type Point = (f64, Option<(f64, f64)>);

/// One row of a dot (or bar) chart: a value with an optional interval per metric.
pub(crate) struct DotRow {
    pub label: String,
    /// Shown after the label, e.g. "small".
    pub note: String,
    pub values: Vec<Option<Point>>,
}

pub(crate) struct DotChart {
    pub id: String,
    pub title: String,
    pub desc: String,
    pub x: Axis,
    pub metrics: Vec<String>,
    pub rows: Vec<DotRow>,
    /// Bars from zero instead of dots.
    pub bars: bool,
    /// Legend text of the interval whiskers.
    pub interval_key: String,
    /// Text for a row without a value.
    pub missing: String,
}

pub(crate) fn dot_chart(c: &DotChart, lang: Lang) -> String {
    let label = |r: &DotRow| {
        if r.note.is_empty() {
            clip(&r.label, 40)
        } else {
            format!("{} ({})", clip(&r.label, 40), r.note)
        }
    };
    let longest = c.rows.iter().map(|r| label(r).chars().count()).max().unwrap_or(0);
    let ml = (CHAR_W * longest as f64 + 16.0).clamp(90.0, 320.0);
    let (mr, mt) = (24.0, 34.0);
    let pw = W - ml - mr;
    let mut keys: Vec<Key<'_>> = c
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| Key {
            color: color(i),
            shape: if c.bars { None } else { Some(i) },
            dash: if c.bars { Some("") } else { None },
            text: m.clone(),
        })
        .collect();
    keys.push(Key {
        color: "#333",
        shape: None,
        dash: Some(""),
        text: c.interval_key.clone(),
    });
    let lh = row_height(&keys, W - 16.0);
    let pt = mt + lh + 8.0;
    let m = c.metrics.len().max(1) as f64;
    let rh = (13.0 * m + 9.0).max(22.0);
    let ph = rh * c.rows.len().max(1) as f64;
    let h = pt + ph + 50.0;
    let sx = |v: f64| ml + (v.clamp(c.x.min, c.x.max) - c.x.min) / (c.x.max - c.x.min) * pw;
    let mut out = String::new();
    open(&mut out, &c.id, &c.title, &c.desc, h);
    legend_row(&mut out, &keys, 8.0, mt, W - 16.0);
    for (r, row) in c.rows.iter().enumerate() {
        let top = pt + rh * r as f64;
        if r % 2 == 1 {
            let _ = write!(
                out,
                r##"<rect x="{ml:.1}" y="{top:.1}" width="{pw:.1}" height="{rh:.1}" fill="#f2f2f2"/>"##
            );
        }
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" class="tk" text-anchor="end">{}</text>"##,
            ml - 8.0,
            top + rh / 2.0 + 4.0,
            E(&label(row))
        );
    }
    // Grid and axis over the row bands.
    let _ = write!(
        out,
        r##"<rect x="{ml:.1}" y="{pt:.1}" width="{pw:.1}" height="{ph:.1}" fill="none" stroke="#999"/>"##
    );
    for v in c.x.ticks() {
        let px = sx(v);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{pt:.1}" x2="{px:.1}" y2="{:.1}" stroke="#dcdcdc"/><line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#666"/><text x="{px:.1}" y="{:.1}" class="tk" text-anchor="middle">{}</text>"##,
            pt + ph,
            pt + ph,
            pt + ph + 5.0,
            pt + ph + 18.0,
            E(&c.x.label_of(v, lang))
        );
    }
    // An axis spanning zero gets a line at zero, for values that diverge from it.
    let base = 0f64.clamp(c.x.min, c.x.max);
    if c.x.min < 0.0 && c.x.max > 0.0 {
        let _ = write!(
            out,
            r##"<line x1="{z:.1}" y1="{pt:.1}" x2="{z:.1}" y2="{:.1}" stroke="#333" stroke-width="1.2"/>"##,
            pt + ph,
            z = sx(0.0)
        );
    }
    let _ = write!(
        out,
        r##"<text x="{:.1}" y="{:.1}" class="al" text-anchor="middle">{}</text>"##,
        ml + pw / 2.0,
        pt + ph + 40.0,
        E(&c.x.label)
    );
    for (r, row) in c.rows.iter().enumerate() {
        let top = pt + rh * r as f64;
        let inner = 13.0 * m;
        let first = top + (rh - inner) / 2.0 + 6.5;
        let mut any = false;
        for (j, v) in row.values.iter().enumerate() {
            let Some((v, ci)) = *v else { continue };
            if !v.is_finite() {
                continue;
            }
            any = true;
            let cy = first + 13.0 * j as f64;
            let col = color(j);
            if c.bars {
                // From zero (or the axis' end nearest it), leftwards for a negative value.
                let (a, b) = (sx(base), sx(v));
                let _ = write!(
                    out,
                    r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="9" fill="{col}" fill-opacity="0.55" stroke="{col}"/>"##,
                    a.min(b),
                    cy - 4.5,
                    (b - a).abs().max(0.5)
                );
            }
            if let Some((lo, hi)) = ci.filter(|(lo, hi)| lo.is_finite() && hi.is_finite()) {
                let _ = write!(
                    out,
                    r##"<path d="M{a:.1} {:.1}V{:.1}M{a:.1} {cy:.1}H{b:.1}M{b:.1} {:.1}V{:.1}" stroke="#333" stroke-width="1.2" fill="none"/>"##,
                    cy - 4.0,
                    cy + 4.0,
                    cy - 4.0,
                    cy + 4.0,
                    a = sx(lo),
                    b = sx(hi)
                );
            }
            if !c.bars {
                marker(&mut out, j, sx(v), cy, col);
            }
        }
        if !any {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{:.1}" class="tk" fill="#555">{}</text>"##,
                ml + 6.0,
                top + rh / 2.0 + 4.0,
                E(&c.missing)
            );
        }
    }
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_of_unit_axis() {
        let a = Axis::unit("x", true);
        assert_eq!(a.ticks().len(), 6);
        assert_eq!(a.label_of(0.4, Lang::Da), "40\u{a0}%");
        let b = Axis {
            label: String::new(),
            min: 0.0,
            max: 0.25,
            pct: false,
        };
        assert_eq!(b.ticks(), vec![0.0, 0.05, 0.1, 0.15000000000000002, 0.2, 0.25]);
        assert_eq!(b.label_of(0.05, Lang::En), "0.05");
    }

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0.204), 0.25);
        assert_eq!(nice_max(0.9), 1.0);
        assert_eq!(nice_max(0.0), 1.0);
    }
}

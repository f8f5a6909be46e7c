//! `compare`'s HTML report: one self-contained file for a browser offline. Its content
//! security policy allows no fetch at all (styles inline, charts inline SVG), and every
//! figure is the one the JSON holds, rounded and suppressed the same way.

use std::fmt::Write;

use rapha_sandbox::disclosure;

use super::report::Report;
use super::results::Curve;
use super::{Analysis, Cell};

/// Width of a chart's plotting area, in pixels.
const PLOT: f64 = 300.0;
/// Height of one candidate's row in a chart.
const ROW: f64 = 22.0;
/// Room for the candidates' labels, left of the plot.
const LABELS: f64 = 140.0;

/// The report as an HTML document.
pub fn render(report: &Report<'_>) -> String {
    let mut html = String::from(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
        "<title>rapha-host compare</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}",
        "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{background:#f4f4f4}svg{display:block;margin:.5em 0}</style>\n",
        "</head><body>\n<h1>Comparison of candidates</h1>\n",
    ));
    let _ = writeln!(
        html,
        "<p>plan {} · baseline <b>{}</b> · 95 % intervals from {} bootstrap resamples (seed {}) clustered by {}</p>",
        escape(report.plan),
        escape(report.baseline.unwrap_or("-")),
        report.resampling.resamples,
        report.resampling.seed,
        escape(report.unit.unwrap_or("record")),
    );
    for analysis in report.analyses {
        section(&mut html, analysis);
    }
    if !report.curves.is_empty() {
        html.push_str("<section><h2>Training loss</h2>\n<p>as each run exported it beside its adapter: training loss per logged step (blue), validation loss per evaluation (red)</p>\n");
        for curve in report.curves {
            loss_chart(&mut html, curve);
        }
        html.push_str("</section>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// One plugin and dataset (or subgroup): the cells' table, a chart per metric, the differences.
fn section(html: &mut String, analysis: &Analysis) {
    let slice = analysis.slice.as_ref().map_or_else(String::new, |(label, value)| format!(" · {label} = {value}"));
    let _ = writeln!(html, "<section><h2>{} · {}{}</h2>", escape(&analysis.plugin), escape(&analysis.dataset), escape(&slice));
    html.push_str("<table class=\"cells\"><tr><th>metric</th><th>candidate</th><th>mean</th><th>low</th><th>high</th><th>n</th></tr>\n");
    for (m, metric) in analysis.metrics.iter().enumerate() {
        for (candidate, cells) in &analysis.candidates {
            if let Some(cell) = &cells[m] {
                let key = format!("{candidate}/{metric}");
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td>{}{}{}<td>{}</td></tr>",
                    escape(metric),
                    escape(candidate),
                    figure("value", &key, disclosure::cell(cell.n, cell.estimate.value)),
                    figure("low", &key, disclosure::cell(cell.n, cell.estimate.low)),
                    figure("high", &key, disclosure::cell(cell.n, cell.estimate.high)),
                    disclosure::Count::of(cell.n as u64),
                );
            }
        }
    }
    html.push_str("</table>\n");
    for (m, metric) in analysis.metrics.iter().enumerate() {
        let cells: Vec<(&str, &Cell)> = analysis.candidates.iter().filter_map(|(c, cells)| Some((c.as_str(), cells[m].as_ref()?))).collect();
        chart(html, metric, &cells);
    }
    html.push_str("<table class=\"differences\"><tr><th>candidate − baseline</th><th>metric</th><th>difference</th><th>low</th><th>high</th><th>test</th><th>p</th><th>Holm</th></tr>\n");
    for d in &analysis.differences {
        let key = format!("{}/{}", d.candidate, d.metric);
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td>{}{}{}<td>{}</td>{}{}</tr>",
            escape(&d.candidate),
            escape(&d.metric),
            figure("difference", &key, disclosure::cell(d.n, d.difference.value)),
            figure("difference-low", &key, disclosure::cell(d.n, d.difference.low)),
            figure("difference-high", &key, disclosure::cell(d.n, d.difference.high)),
            d.test,
            figure("p", &key, disclosure::cell(d.n, d.p)),
            figure("p-holm", &key, disclosure::cell(d.n, d.p_holm)),
        );
    }
    html.push_str("</table></section>\n");
}

/// A table cell holding a figure, tagged with what it is, or `<11` when it may not be shown.
fn figure(class: &str, key: &str, value: Option<f64>) -> String {
    let text = value.map_or_else(|| "&lt;11".to_owned(), disclosure::display);
    format!("<td class=\"{class}\" data-key=\"{}\">{text}</td>", escape(key))
}

/// One metric's means as bars with their intervals as whiskers, on a scale from 0 to the
/// largest upper end (at least 1). Cells that may not be shown are left out.
fn chart(html: &mut String, metric: &str, cells: &[(&str, &Cell)]) {
    let bars: Vec<(&str, f64, f64, f64)> = cells
        .iter()
        .filter_map(|(c, cell)| Some((*c, disclosure::cell(cell.n, cell.estimate.value)?, disclosure::cell(cell.n, cell.estimate.low)?, disclosure::cell(cell.n, cell.estimate.high)?)))
        .collect();
    if bars.is_empty() {
        return;
    }
    let top = bars.iter().map(|b| b.3).fold(1.0f64, f64::max);
    let low_end = bars.iter().map(|b| b.2).fold(0.0f64, f64::min);
    let x = |v: f64| LABELS + PLOT * (v - low_end) / (top - low_end);
    let height = ROW * bars.len() as f64 + 24.0;
    let _ = writeln!(html, "<svg width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"{}\">", LABELS + PLOT + 60.0, escape(metric));
    let _ = writeln!(html, "<text x=\"0\" y=\"14\" font-weight=\"bold\">{}</text>", escape(metric));
    for (i, (candidate, value, low, high)) in bars.iter().enumerate() {
        let y = 22.0 + ROW * i as f64;
        let _ = writeln!(
            html,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{}\" y=\"{}\" width=\"{:.1}\" height=\"{}\" fill=\"#7aa6d6\"/>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#222\"/><text x=\"{:.1}\" y=\"{}\">{}</text>",
            y + 14.0,
            escape(candidate),
            x(0.0),
            y + 3.0,
            (x(*value) - x(0.0)).max(0.0),
            ROW - 6.0,
            x(*low),
            x(*high),
            y + ROW / 2.0,
            y + ROW / 2.0,
            x(*high) + 4.0,
            y + 14.0,
            disclosure::display(*value),
        );
    }
    html.push_str("</svg>\n");
}

/// Size of a loss chart's plotting area, in pixels, and its margin for the axis labels.
const CURVE: (f64, f64) = (420.0, 160.0);
const CURVE_MARGIN: f64 = 48.0;

/// One candidate's training and validation loss as lines over steps, each point also in
/// `data-points` (`step:loss` pairs, the JSON's numbers) so the figure can be checked.
fn loss_chart(html: &mut String, curve: &Curve) {
    let points = || curve.train.iter().chain(&curve.eval);
    let (Some(first), Some(last)) = (points().map(|p| p.0).min(), points().map(|p| p.0).max()) else {
        return;
    };
    let top = points().map(|p| p.1).fold(0.0f64, f64::max).max(f64::MIN_POSITIVE);
    let span = (last - first).max(1) as f64;
    let x = |step: u64| CURVE_MARGIN + CURVE.0 * (step - first) as f64 / span;
    let y = |loss: f64| 34.0 + CURVE.1 * (1.0 - loss / top);
    let (width, height) = (CURVE.0 + 2.0 * CURVE_MARGIN, CURVE.1 + 60.0);
    let _ = writeln!(html, "<svg width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"training loss of {}\">", escape(&curve.candidate));
    let _ = writeln!(html, "<text x=\"0\" y=\"14\" font-weight=\"bold\">{}</text>", escape(&curve.candidate));
    let _ = writeln!(
        html,
        "<text x=\"0\" y=\"{:.1}\">{}</text><text x=\"0\" y=\"{:.1}\">0</text><text x=\"{:.1}\" y=\"{:.1}\">step {first}</text><text x=\"{:.1}\" y=\"{:.1}\">step {last}</text>",
        y(top) + 4.0,
        disclosure::display(top),
        y(0.0),
        x(first),
        height - 6.0,
        x(last) - 40.0,
        height - 6.0,
    );
    for (class, colour, line) in [("train", "#1f77b4", &curve.train), ("eval", "#d62728", &curve.eval)] {
        let drawn: Vec<String> = line.iter().map(|&(step, loss)| format!("{:.1},{:.1}", x(step), y(loss))).collect();
        let data: Vec<String> = line.iter().map(|(step, loss)| format!("{step}:{loss}")).collect();
        let _ = writeln!(
            html,
            "<polyline class=\"{class}\" data-candidate=\"{}\" data-points=\"{}\" points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
            escape(&curve.candidate),
            data.join(" "),
            drawn.join(" "),
        );
    }
    html.push_str("</svg>\n");
}

/// `text` safe inside HTML text and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

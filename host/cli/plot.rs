//! The loss curve: training loss per step and evaluation loss per evaluation, one
//! SVG chart in the work folder (plotters' SVG backend, which writes text as SVG
//! `<text>` elements and so needs no font files).

use std::ops::Range;
use std::path::Path;

use anyhow::{Context, bail};
use plotters::prelude::*;

use crate::atomic;

/// Chart size in pixels.
const SIZE: (u32, u32) = (900, 540);
const TRAIN_COLOUR: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const EVAL_COLOUR: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// Training loss per step and evaluation loss per evaluation step, on one chart with a legend,
/// axes labelled "step" and "loss". Written atomically (temp file in the same folder, then rename).
/// Errors name the path. An empty `train` gives an error, not an empty chart.
///
/// Points whose loss is not finite are left out: one diverged step would otherwise
/// stretch the scale until the rest of the curve is flat. A `train` with no finite
/// loss at all is an error.
pub fn loss_curve(path: &Path, train: &[(u64, f64)], eval: &[(u64, f64)]) -> anyhow::Result<()> {
    let train = finite(train);
    let eval = finite(eval);
    if train.is_empty() {
        bail!(
            "cannot plot the loss curve `{}`: expected at least one finite training loss, found none",
            path.display()
        );
    }
    let svg = render(&train, &eval).with_context(|| format!("cannot plot the loss curve `{}`", path.display()))?;
    atomic::write(path, svg.as_bytes()).with_context(|| format!("cannot write the loss curve `{}`", path.display()))
}

fn finite(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    points.iter().copied().filter(|(_, loss)| loss.is_finite()).collect()
}

fn render(train: &[(u64, f64)], eval: &[(u64, f64)]) -> anyhow::Result<String> {
    let all = || train.iter().chain(eval);
    let steps = padded_steps(all().map(|&(step, _)| step));
    let losses = padded_losses(all().map(|&(_, loss)| loss));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("training and evaluation loss", ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(steps, losses)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .y_label_formatter(&|loss| format!("{loss:.3}"))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(train.iter().copied(), TRAIN_COLOUR.stroke_width(2)))
            .map_err(plot_error)?
            .label("training")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], TRAIN_COLOUR.stroke_width(2)));
        if !eval.is_empty() {
            chart
                .draw_series(LineSeries::new(eval.iter().copied(), EVAL_COLOUR.stroke_width(2)).point_size(3))
                .map_err(plot_error)?
                .label("evaluation")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], EVAL_COLOUR.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The step axis, widened to one step when all points share a step.
fn padded_steps(steps: impl Iterator<Item = u64>) -> Range<u64> {
    let (low, high) = steps.fold((u64::MAX, u64::MIN), |(low, high), step| {
        (low.min(step), high.max(step))
    });
    if high > low {
        low..high
    } else {
        low..low.saturating_add(1)
    }
}

/// The loss axis with 5 % room above and below, and a unit of room when flat.
fn padded_losses(losses: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), loss| {
        (low.min(loss), high.max(loss))
    });
    let pad = if high > low { (high - low) * 0.05 } else { 0.5 };
    (low - pad)..(high + pad)
}

/// plotters' drawing errors borrow the backend; keep only their text.
fn plot_error<E: std::error::Error>(error: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {error}")
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    /// The content of every `<text>` element, trimmed.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .map(|element| {
                let content = &element[element.find('>').expect("text tag is closed") + 1..];
                content[..content.find("</text>").expect("text element is closed")].trim()
            })
            .collect()
    }

    fn polylines(svg: &str) -> Vec<&str> {
        svg.match_indices("<polyline")
            .map(|(start, _)| {
                let end = start + svg[start..].find("/>").expect("polyline is closed");
                &svg[start..end]
            })
            .collect()
    }

    fn points(polyline: &str) -> usize {
        let start = polyline.find("points=\"").expect("polyline has points") + "points=\"".len();
        let end = start + polyline[start..].find('"').expect("points are quoted");
        polyline[start..end].split_whitespace().count()
    }

    fn in_colour<'a>(lines: &[&'a str], colour: RGBColor) -> Vec<&'a str> {
        let hex = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
        lines
            .iter()
            .copied()
            .filter(|line| line.to_uppercase().contains(&hex))
            .collect()
    }

    #[test]
    fn writes_one_line_per_series_with_a_legend_and_axis_labels() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("loss.svg");
        let train: Vec<(u64, f64)> = (1..=20).map(|step| (step, 2.0 / step as f64)).collect();
        let eval = [(5, 0.9), (10, 0.6), (15, 0.5), (20, 0.45)];
        loss_curve(&path, &train, &eval).expect("plot");

        let svg = fs::read_to_string(&path).expect("read the chart");
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            svg.matches("<text").count(),
            svg.matches("</text>").count(),
            "unbalanced text elements"
        );
        let labels = texts(&svg);
        for label in ["training and evaluation loss", "step", "loss", "training", "evaluation"] {
            assert!(labels.contains(&label), "no text `{label}` in {labels:?}");
        }

        let lines = polylines(&svg);
        // Each series: its curve plus its legend swatch (two points).
        let train_lines = in_colour(&lines, TRAIN_COLOUR);
        let eval_lines = in_colour(&lines, EVAL_COLOUR);
        let mut train_points: Vec<usize> = train_lines.iter().map(|line| points(line)).collect();
        let mut eval_points: Vec<usize> = eval_lines.iter().map(|line| points(line)).collect();
        train_points.sort();
        eval_points.sort();
        assert_eq!(train_points, [2, 20], "training polylines: {train_lines:?}");
        assert_eq!(eval_points, [2, 4], "evaluation polylines: {eval_lines:?}");

        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(leftovers, ["loss.svg"], "only the chart is left in the folder");
    }

    #[test]
    fn without_evaluations_draws_only_the_training_line() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("loss.svg");
        loss_curve(&path, &[(1, 1.0)], &[]).expect("plot a single point");
        let svg = fs::read_to_string(&path).expect("read the chart");
        assert!(!texts(&svg).contains(&"evaluation"), "{svg}");
        assert!(in_colour(&polylines(&svg), EVAL_COLOUR).is_empty());
        assert_eq!(in_colour(&polylines(&svg), TRAIN_COLOUR).len(), 2);
    }

    #[test]
    fn empty_training_losses_are_an_error_naming_the_path() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("loss.svg");
        let error = loss_curve(&path, &[(1, f64::NAN)], &[(1, 1.0)]).expect_err("nothing to plot");
        assert_eq!(
            format!("{error:#}"),
            format!(
                "cannot plot the loss curve `{}`: expected at least one finite training loss, found none",
                path.display()
            )
        );
        assert!(!path.exists());
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("absent").join("loss.svg");
        let error = loss_curve(&path, &[(1, 1.0), (2, 0.5)], &[]).expect_err("no folder");
        let message = format!("{error:#}");
        assert!(
            message.starts_with(&format!("cannot write the loss curve `{}`", path.display())),
            "{message}"
        );
    }

    #[test]
    fn replaces_an_existing_chart() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("loss.svg");
        fs::write(&path, "old").expect("write");
        loss_curve(&path, &[(1, 1.0), (2, 0.5)], &[]).expect("plot");
        assert!(fs::read_to_string(&path).expect("read").starts_with("<svg"));
    }
}

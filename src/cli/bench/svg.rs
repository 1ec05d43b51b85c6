//! `--svg`: the bench's pictures, written by hand. One histogram per phase (both environments
//! on the same buckets when there is a baseline), the cold starts' init durations, and a
//! timeline of the measured invocations: each a column stacking lambda-sim's share, the
//! runtime's duration and the extensions' overhead after the response.

use std::fmt::Write as _;

use super::stats::{Buckets, P99, percentile};
use super::{Arm, BenchOptions, PHASE_INIT, Sample, fmt_us};

// Coordinates are integers in tenths of a pixel (the viewBox is ten times the size shown):
// fine enough for columns narrower than a pixel, and no float formatting in the binary.

/// The picture's width, in tenths of a pixel.
const WIDTH: i64 = 9600;
/// Left and right margins.
const MARGIN: i64 = 240;
/// A histogram panel's height.
const PANEL_HEIGHT: i64 = 1700;
/// The gap between panels.
const GAP: i64 = 240;
/// A timeline's plot height.
const TIMELINE_HEIGHT: i64 = 2000;
/// The cold starts' plot width, left of each timeline.
const INIT_WIDTH: i64 = 1200;
/// Buckets per histogram.
const BUCKETS: usize = 24;
/// At most this many columns in a timeline: past it, every k-th invocation is drawn.
const MAX_COLUMNS: usize = 2000;

/// The fills: the first environment's, the baseline's, and the timeline's segments.
const STYLE: &str = "text{font:120px sans-serif;fill:#222}.t{font-size:150px;font-weight:bold}\
.s{fill:#555}.r{text-anchor:end}.ax{stroke:#999;stroke-width:10}.g{stroke:#e4e4e4;stroke-width:10}\
.a{fill:#3b6fb6}.b{fill:#e08a2e;fill-opacity:.75}.sim{fill:#8fbf5a}.rt{fill:#3b6fb6}\
.ext{fill:#d9534f}.init{fill:#7a5aa6}.clip{fill:#000}";

/// The whole picture.
pub(crate) fn render(arms: &[Arm], options: &BenchOptions) -> String {
    let mut body = String::new();
    let mut y = 300;
    let title = format!(
        "lambda-sim bench: {} invocations after {} warm-up, {} cold starts",
        options.invocations,
        options.warmup,
        options.cold_starts.max(1)
    );
    text(&mut body, MARGIN, y, "t", &title);
    y += 200;
    for (i, arm) in arms.iter().enumerate() {
        let class = ["a", "b"][i.min(1)];
        rect(&mut body, class, MARGIN, y - 100, 100, 100);
        let extensions = match arm.extensions.is_empty() {
            true => "no extensions".to_string(),
            false => format!("extensions: {}", arm.extensions.join(", ")),
        };
        let what = format!("{}: {} ({extensions})", arm.label, arm.command.join(" "));
        text(&mut body, MARGIN + 160, y, "s", &what);
        y += 160;
    }
    y += 100;

    // Histograms, two to a row: every phase of the first environment, and the baseline's same
    // phase on the same buckets.
    let phases = arms.first().map(Arm::phases).unwrap_or_default();
    let others: Vec<_> = arms.iter().skip(1).map(Arm::phases).collect();
    let panel_width = (WIDTH - 2 * MARGIN - GAP) / 2;
    let mut column = 0;
    for phase in &phases {
        let mut series = vec![phase.sorted.as_slice()];
        for other in &others {
            if let Some(p) = other.iter().find(|p| p.name == phase.name) {
                series.push(p.sorted.as_slice());
            }
        }
        let Some(buckets) = Buckets::spanning(&series, BUCKETS) else {
            continue;
        };
        let x = MARGIN + column * (panel_width + GAP);
        histogram(&mut body, x, y, panel_width, &phase.name, &buckets, &series);
        column += 1;
        if column == 2 {
            column = 0;
            y += PANEL_HEIGHT + GAP;
        }
    }
    if column != 0 {
        y += PANEL_HEIGHT + GAP;
    }
    for arm in arms {
        y = timeline(&mut body, y, arm) + GAP;
    }

    let mut svg = String::with_capacity(body.len() + 600);
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" \
         viewBox=\"0 0 {WIDTH} {y}\">\n<style>{STYLE}</style>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n{body}</svg>\n",
        WIDTH / 10,
        y / 10,
    );
    svg
}

/// One histogram panel at `(x, y)`: the series side by side in each bucket, and one more slot
/// on the right for the samples above the range.
fn histogram(
    out: &mut String,
    x: i64,
    y: i64,
    width: i64,
    title: &str,
    buckets: &Buckets,
    series: &[&[u64]],
) {
    let counts: Vec<_> = series.iter().map(|s| buckets.count(s)).collect();
    let fullest = counts
        .iter()
        .flat_map(|c| c.counts.iter().copied().chain([c.above]))
        .max()
        .unwrap_or(1)
        .max(1) as i64;
    let n: Vec<String> = series.iter().map(|s| format!("n={}", s.len())).collect();
    text(out, x, y + 120, "", &format!("{title} ({})", n.join(" / ")));
    text(
        out,
        x + width,
        y + 120,
        "s r",
        &format!("tallest: {fullest}"),
    );
    let (top, bottom) = (y + 220, y + PANEL_HEIGHT - 220);
    let slots = buckets.count as i64 + 1;
    let slot = width / slots;
    let bar = slot * 9 / 10 / series.len() as i64;
    for (k, c) in counts.iter().enumerate() {
        let class = ["a", "b"][k.min(1)];
        for (i, &count) in c.counts.iter().chain([&c.above]).enumerate() {
            if count == 0 {
                continue;
            }
            let h = (count as i64 * (bottom - top) / fullest).max(10);
            let bx = x + i as i64 * slot + k as i64 * bar;
            let range = if i < buckets.count {
                let (from, to) = buckets.bounds(i);
                format!("{} to {}", fmt_us(from as i64), fmt_us(to as i64))
            } else {
                format!("{} and above", fmt_us(buckets.end() as i64))
            };
            let _ = writeln!(
                out,
                "<rect class=\"{class}\" x=\"{bx}\" y=\"{}\" width=\"{bar}\" height=\"{h}\"><title>{range}: {count}</title></rect>",
                bottom - h,
            );
        }
    }
    line(out, "ax", x, bottom, x + width, bottom);
    let mid = buckets.count / 2;
    let ticks = [
        (0, fmt_us(buckets.lo as i64)),
        (mid, fmt_us(buckets.bounds(mid).0 as i64)),
        (buckets.count, format!("≥{}", fmt_us(buckets.end() as i64))),
    ];
    for (i, label) in ticks {
        // The last label ends at the range's end, clear of the next panel.
        let class = if i == buckets.count { "s r" } else { "s" };
        text(out, x + i as i64 * slot, bottom + 140, class, &label);
    }
}

/// A timeline of `arm`'s invocations at `y`, its cold starts to the left on their own scale (an
/// init lasts as long as thousands of invocations); returns the bottom.
fn timeline(out: &mut String, y: i64, arm: &Arm) -> i64 {
    let (top, bottom) = (y + 440, y + 440 + TIMELINE_HEIGHT);
    let title = format!("{}: each invocation, in order", arm.label);
    text(out, MARGIN, y + 120, "", &title);
    legend(out, MARGIN, y + 280);

    let init_max = arm.inits.iter().copied().max().unwrap_or(0).max(1);
    let slot = INIT_WIDTH / arm.inits.len().max(1) as i64;
    for (i, &init) in arm.inits.iter().enumerate() {
        let h = (init as i64 * TIMELINE_HEIGHT / init_max as i64).max(10);
        let x = MARGIN + i as i64 * slot + slot / 10;
        let _ = writeln!(
            out,
            "<rect class=\"init\" x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{h}\"><title>cold start {}: init {}</title></rect>",
            bottom - h,
            slot * 8 / 10,
            i + 1,
            fmt_us(init as i64),
        );
    }
    line(out, "ax", MARGIN, bottom, MARGIN + INIT_WIDTH, bottom);
    text(out, MARGIN, bottom + 140, "s", PHASE_INIT);
    text(out, MARGIN, top - 40, "s", &fmt_us(init_max as i64));

    let left = MARGIN + INIT_WIDTH + 700;
    let width = WIDTH - MARGIN - left;
    let stride = arm.samples.len().div_ceil(MAX_COLUMNS).max(1);
    let drawn: Vec<&Sample> = arm.samples.iter().step_by(stride).collect();
    // The scale: the 99th percentile of the columns, so that one outlier does not flatten the
    // rest; a taller column is cut, with a black cap.
    let mut totals: Vec<u64> = drawn.iter().map(|s| stacked(s)).collect();
    super::stats::sort(&mut totals);
    let scale = (percentile(&totals, P99).unwrap_or(1).max(1) * 11 / 10).max(1) as i64;
    for k in 1..=4 {
        let gy = bottom - TIMELINE_HEIGHT * k / 4;
        line(out, "g", left, gy, left + width, gy);
        text(out, left - 60, gy + 40, "s r", &fmt_us(scale * k / 4));
    }
    let n = drawn.len().max(1) as i64;
    for (i, sample) in drawn.iter().enumerate() {
        // Each column spans [x, next): no gaps or overlaps, whatever the rounding.
        let x = left + i as i64 * width / n;
        let w = (left + (i as i64 + 1) * width / n - x).max(1);
        let segments = [
            ("sim", sample.outside().unwrap_or(0)),
            ("rt", sample.runtime.unwrap_or(0)),
            ("ext", sample.overhead()),
        ];
        let mut base = 0;
        for (class, us) in segments {
            let h = (us as i64 * TIMELINE_HEIGHT / scale).min(TIMELINE_HEIGHT - base);
            if h > 0 {
                rect(out, class, x, bottom - base - h, w, h);
            }
            base += h;
        }
        if stacked(sample) as i64 > scale {
            rect(out, "clip", x, top, w, 20);
        }
    }
    line(out, "ax", left, bottom, left + width, bottom);
    let what = match stride {
        1 => format!("invocations 1 to {}", arm.samples.len()),
        k => format!("one in {k} of {} invocations", arm.samples.len()),
    };
    text(out, left, bottom + 140, "s", &what);
    bottom + 200
}

/// The timeline's key.
fn legend(out: &mut String, x: i64, y: i64) {
    let keys = [
        ("sim", "outside the runtime"),
        ("rt", "runtime duration"),
        ("ext", "extensions after the response"),
        ("init", "init (cold starts, own scale)"),
    ];
    let mut at = x;
    for (class, label) in keys {
        rect(out, class, at, y - 90, 100, 100);
        text(out, at + 140, y, "s", label);
        at += 240 + 70 * label.len() as i64;
    }
}

/// A column's height: what the invocation occupied the environment for.
fn stacked(s: &Sample) -> u64 {
    s.outside().unwrap_or(0) + s.runtime.unwrap_or(0) + s.overhead()
}

fn rect(out: &mut String, class: &str, x: i64, y: i64, w: i64, h: i64) {
    let _ = writeln!(
        out,
        "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"/>"
    );
}

fn text(out: &mut String, x: i64, y: i64, class: &str, content: &str) {
    let _ = write!(out, "<text x=\"{x}\" y=\"{y}\"");
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    let _ = writeln!(out, ">{}</text>", escape(content));
}

fn line(out: &mut String, class: &str, x1: i64, y1: i64, x2: i64, y2: i64) {
    let _ = writeln!(
        out,
        "<line class=\"{class}\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"/>"
    );
}

/// Text for XML character data and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters other than tab and newline are not allowed in XML 1.0.
            c if c.is_control() && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

//! `--svg`: the bench's pictures, written by hand. With a baseline, first the differences, each
//! phase's median difference drawn with its 95 % interval; then one histogram per phase (both
//! environments on the same buckets, with counts on the y axis and each one's p50 and p99
//! marked); then a timeline of each environment's measured invocations, both on one scale: each
//! a column stacking the time outside the runtime, the runtime's duration and the extensions'
//! overhead after the response, beside its cold starts. A legend names every mark.

use std::fmt::Write as _;

use super::stats::{Buckets, Interval, P50, P99, percentile};
use super::{Arm, BenchOptions, PHASE_INIT, Sample, compare, fmt_us};

// Coordinates are integers in tenths of a pixel (the viewBox is ten times the size shown):
// fine enough for columns narrower than a pixel, and no float formatting in the binary.

/// The picture's width, in tenths of a pixel.
const WIDTH: i64 = 9600;
/// Left and right margins.
const MARGIN: i64 = 240;
/// A histogram panel's height.
const PANEL_HEIGHT: i64 = 1900;
/// Room left of a histogram for its count axis.
const AXIS: i64 = 420;
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
/// A row of the differences.
const DIFF_ROW: i64 = 230;

/// The fills and strokes: each environment's (`a`, `b`) and its marks, the timeline's segments,
/// the differences.
const STYLE: &str = "text{font:120px sans-serif;fill:#222}.t{font-size:150px;font-weight:bold}\
.h{font-size:135px;font-weight:bold}.s{fill:#555}.r{text-anchor:end}.m{text-anchor:middle}\
.ax{stroke:#999;stroke-width:10}.g{stroke:#e4e4e4;stroke-width:10}\
.a{fill:#3b6fb6}.b{fill:#e08a2e;fill-opacity:.75}\
.pa{stroke:#13315c;stroke-width:14}.pb{stroke:#8a4500;stroke-width:14}.p99{stroke-dasharray:50 30}\
.sim{fill:#8fbf5a}.rt{fill:#7d8a96}.ext{fill:#d9534f}.init{fill:#7a5aa6}.clip{fill:#000}\
.zero{stroke:#555;stroke-width:10;stroke-dasharray:30 30}.iv{fill:#13315c}.in{fill:#aaa}";

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
        rect(&mut body, ["a", "b"][i.min(1)], MARGIN, y - 100, 100, 100);
        let extensions = match arm.extensions.is_empty() {
            true => "no extensions".to_string(),
            false => format!("extensions: {}", arm.extensions.join(", ")),
        };
        let what = format!("{}: {} ({extensions})", arm.label, arm.command.join(" "));
        text(&mut body, MARGIN + 160, y, "s", &what);
        y += 160;
    }
    y = legend(&mut body, y + 60, arms.len());

    if let [a, b] = arms {
        y = differences(&mut body, y + GAP, a, b);
    }

    // Histograms, two to a row: every phase of the first environment, and the other's same
    // phase on the same buckets.
    y += GAP;
    text(&mut body, MARGIN, y, "h", "Each phase's distribution");
    y += 100;
    let phases = arms.first().map(Arm::phases).unwrap_or_default();
    let others: Vec<_> = arms.iter().skip(1).map(Arm::phases).collect();
    let panel_width = (WIDTH - 2 * MARGIN - GAP) / 2;
    let mut column = 0;
    for phase in &phases {
        let mut series = vec![phase.sorted.as_slice()];
        for other in &others {
            if let Some(p) = other.iter().find(|p| p.key == phase.key) {
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
    // One scale for every timeline, so that their heights compare.
    let scale = arms.iter().map(timeline_scale).max().unwrap_or(1).max(1);
    let init_scale = arms
        .iter()
        .flat_map(|a| a.inits.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1) as i64;
    for (i, arm) in arms.iter().enumerate() {
        y = timeline(&mut body, y, arm, ["a", "b"][i.min(1)], scale, init_scale) + GAP;
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

/// The key to every mark in the picture, at `y`; returns the bottom.
fn legend(out: &mut String, y: i64, arms: usize) -> i64 {
    let mut at = MARGIN;
    let mut key = |out: &mut String, draw: &dyn Fn(&mut String, i64), label: &str| {
        draw(out, at);
        text(out, at + 170, y + 100, "s", label);
        at += 320 + 66 * label.chars().count() as i64;
    };
    key(
        out,
        &|out, x| line(out, "pa", x + 65, y, x + 65, y + 120),
        "p50",
    );
    key(
        out,
        &|out, x| line(out, "pa p99", x + 65, y, x + 65, y + 120),
        "p99 (dashed)",
    );
    if arms == 2 {
        key(
            out,
            &|out, x| {
                rect(out, "iv", x, y + 40, 130, 40);
                circle(out, "iv", x + 65, y + 60, 45);
            },
            "median difference, 95% interval",
        );
    }
    key(
        out,
        &|out, x| rect(out, "sim", x, y, 120, 120),
        "outside the runtime",
    );
    key(out, &|out, x| rect(out, "rt", x, y, 120, 120), "runtime");
    key(
        out,
        &|out, x| rect(out, "ext", x, y, 120, 120),
        "extensions after the response",
    );
    let y2 = y + 200;
    let mut at2 = MARGIN;
    let mut key2 = |out: &mut String, class: &str, h: i64, label: &str| {
        rect(out, class, at2, y2 + 120 - h, 120, h);
        text(out, at2 + 170, y2 + 100, "s", label);
        at2 += 320 + 66 * label.chars().count() as i64;
    };
    key2(out, "init", 120, "init of a cold start");
    key2(
        out,
        "clip",
        30,
        "top of a column cut at the scale (taller than 1.1 x p99)",
    );
    y2 + 220
}

/// With a baseline: each compared phase's median difference, its 95 % bootstrap interval
/// drawn around it on the row's own scale, zero dashed; returns the bottom.
fn differences(out: &mut String, y: i64, a: &Arm, b: &Arm) -> i64 {
    let title = format!(
        "Difference, {} - {}: medians, 95% bootstrap intervals (each row on its own scale)",
        a.label, b.label
    );
    text(out, MARGIN, y, "h", &title);
    let (left, right) = (MARGIN + 2400, WIDTH - MARGIN - 3600);
    let zero = (left + right) / 2;
    let mut row = y + 120;
    for d in compare(a, b) {
        let m: &Interval = &d.median;
        let reach = [m.lo, m.hi, m.estimate]
            .iter()
            .map(|v| v.abs())
            .fold(0.0, f64::max)
            .max(1.0)
            * 1.15;
        let at = |v: f64| zero + ((v / reach) * (right - zero) as f64) as i64;
        let mid = row + DIFF_ROW / 2;
        text(out, MARGIN, mid + 40, "", d.phase.label);
        line(out, "g", left, mid, right, mid);
        line(out, "zero", zero, row + 20, zero, row + DIFF_ROW - 20);
        let class = if m.excludes_zero() { "iv" } else { "in" };
        let (x1, x2) = (at(m.lo), at(m.hi));
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"{x1}\" y=\"{}\" width=\"{}\" height=\"40\"><title>{}: {} [{}, {}]</title></rect>",
            mid - 20,
            (x2 - x1).max(10),
            escape(d.phase.label),
            signed(m.estimate),
            signed(m.lo),
            signed(m.hi),
        );
        circle(out, class, at(m.estimate), mid, 45);
        let verdict = if m.excludes_zero() {
            "a real difference"
        } else {
            "within the noise"
        };
        let said = format!(
            "{} [{}, {}] {verdict}",
            signed(m.estimate),
            signed(m.lo),
            signed(m.hi)
        );
        text(out, right + 150, mid + 40, "s", &said);
        row += DIFF_ROW;
    }
    text(out, zero, row + 100, "s m", "0");
    row + 160
}

/// One histogram panel at `(x, y)`: counts up the axis on the left, the series side by side in
/// each bucket, one more slot on the right for the samples above the range, and each series'
/// p50 and p99.
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
    let heading = format!("{title} ({}): samples per bucket", n.join(" / "));
    text(out, x, y + 120, "", &heading);
    let (top, bottom) = (y + 260, y + PANEL_HEIGHT - 260);
    let plot = x + AXIS;
    let plot_width = width - AXIS;
    // The count axis: 0, half and the tallest bucket, with grid lines.
    let mut ticks = vec![0, fullest / 2, fullest];
    ticks.dedup();
    for count in ticks {
        let label = count.to_string();
        let gy = bottom - count * (bottom - top) / fullest;
        if count > 0 {
            line(out, "g", plot, gy, plot + plot_width, gy);
        }
        text(out, plot - 50, gy + 40, "s r", &label);
    }
    line(out, "ax", plot, top, plot, bottom);
    let slots = buckets.count as i64 + 1;
    let slot = plot_width / slots;
    let bar = slot * 9 / 10 / series.len() as i64;
    for (k, c) in counts.iter().enumerate() {
        let class = ["a", "b"][k.min(1)];
        for (i, &count) in c.counts.iter().chain([&c.above]).enumerate() {
            if count == 0 {
                continue;
            }
            let h = (count as i64 * (bottom - top) / fullest).max(10);
            let bx = plot + i as i64 * slot + k as i64 * bar;
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
    // Each series' p50 and p99, where they fall on the buckets' scale (p99 past the range sits
    // on the last slot's edge).
    let span = buckets.end().saturating_sub(buckets.lo).max(1) as i64;
    let range_width = slot * buckets.count as i64;
    for (k, s) in series.iter().enumerate() {
        let class = ["pa", "pb"][k.min(1)];
        for (p, dashed, name) in [(P50, "", "p50"), (P99, " p99", "p99")] {
            let Some(v) = percentile(s, p) else {
                continue;
            };
            let offset =
                (v.saturating_sub(buckets.lo) as i64 * range_width / span).min(range_width);
            let px = plot + offset;
            let _ = writeln!(
                out,
                "<line class=\"{class}{dashed}\" x1=\"{px}\" y1=\"{top}\" x2=\"{px}\" y2=\"{bottom}\"><title>{name}: {}</title></line>",
                fmt_us(v as i64)
            );
        }
    }
    line(out, "ax", plot, bottom, plot + plot_width, bottom);
    let mid = buckets.count / 2;
    let ticks = [
        (0, fmt_us(buckets.lo as i64)),
        (mid, fmt_us(buckets.bounds(mid).0 as i64)),
        (buckets.count, format!("≥{}", fmt_us(buckets.end() as i64))),
    ];
    for (i, label) in ticks {
        let tx = plot + i as i64 * slot;
        line(out, "ax", tx, bottom, tx, bottom + 40);
        // The last label ends at the range's end, clear of the next panel.
        let class = if i == buckets.count { "s r" } else { "s" };
        text(out, tx, bottom + 160, class, &label);
    }
}

/// The height a timeline's scale reaches for `arm`: 1.1 x the 99th percentile of its columns,
/// so that one outlier does not flatten the rest.
fn timeline_scale(arm: &Arm) -> i64 {
    let mut totals: Vec<u64> = drawn(arm).iter().map(|s| stacked(s)).collect();
    super::stats::sort(&mut totals);
    (percentile(&totals, P99).unwrap_or(1).max(1) * 11 / 10) as i64
}

/// The invocations a timeline draws: every one, or every k-th past `MAX_COLUMNS`.
fn drawn(arm: &Arm) -> Vec<&Sample> {
    let stride = arm.samples.len().div_ceil(MAX_COLUMNS).max(1);
    arm.samples.iter().step_by(stride).collect()
}

/// A timeline of `arm`'s invocations at `y` on `scale` (µs at the top), its cold starts to the
/// left on `init_scale` (an init lasts as long as thousands of invocations); returns the bottom.
fn timeline(out: &mut String, y: i64, arm: &Arm, class: &str, scale: i64, init_scale: i64) -> i64 {
    let (top, bottom) = (y + 300, y + 300 + TIMELINE_HEIGHT);
    rect(out, class, MARGIN, y + 20, 100, 100);
    let title = format!(
        "{}: each invocation, in order (the same scale for every environment)",
        arm.label
    );
    text(out, MARGIN + 160, y + 120, "h", &title);

    let slot = INIT_WIDTH / arm.inits.len().max(1) as i64;
    for (i, &init) in arm.inits.iter().enumerate() {
        let h = (init as i64 * TIMELINE_HEIGHT / init_scale).max(10);
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
    text(out, MARGIN, bottom + 140, "s", PHASE_INIT.label);
    text(out, MARGIN, top - 40, "s", &fmt_us(init_scale));

    let left = MARGIN + INIT_WIDTH + 700;
    let width = WIDTH - MARGIN - left;
    let drawn = drawn(arm);
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
    line(out, "ax", left, top, left, bottom);
    line(out, "ax", left, bottom, left + width, bottom);
    let what = match arm.samples.len().div_ceil(MAX_COLUMNS).max(1) {
        1 => format!("invocations 1 to {}", arm.samples.len()),
        k => format!("one in {k} of {} invocations", arm.samples.len()),
    };
    text(out, left, bottom + 140, "s", &what);
    bottom + 200
}

/// A column's height: what the invocation occupied the environment for.
fn stacked(s: &Sample) -> u64 {
    s.outside().unwrap_or(0) + s.runtime.unwrap_or(0) + s.overhead()
}

/// A signed duration, in the unit that reads best: `+3.09 ms`, `-7 µs`.
fn signed(us: f64) -> String {
    let v = us.round() as i64;
    if v > 0 {
        format!("+{}", fmt_us(v))
    } else {
        fmt_us(v)
    }
}

// The shapes are written from dozens of places: kept out of line, they cost the binary 4 KB
// less than inlined.

#[inline(never)]
fn rect(out: &mut String, class: &str, x: i64, y: i64, w: i64, h: i64) {
    let _ = writeln!(
        out,
        "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"/>"
    );
}

#[inline(never)]
fn circle(out: &mut String, class: &str, x: i64, y: i64, r: i64) {
    let _ = writeln!(
        out,
        "<circle class=\"{class}\" cx=\"{x}\" cy=\"{y}\" r=\"{r}\"/>"
    );
}

#[inline(never)]
fn text(out: &mut String, x: i64, y: i64, class: &str, content: &str) {
    let _ = write!(out, "<text x=\"{x}\" y=\"{y}\"");
    if !class.is_empty() {
        let _ = write!(out, " class=\"{class}\"");
    }
    let _ = writeln!(out, ">{}</text>", escape(content));
}

#[inline(never)]
fn line(out: &mut String, class: &str, x1: i64, y1: i64, x2: i64, y2: i64) {
    let _ = writeln!(
        out,
        "<line class=\"{class}\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"/>"
    );
}

/// Text for XML character data and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Byte by byte: every byte these replace is ASCII, so the rest stays UTF-8 as it was.
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let with = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            // C0 controls other than tab and newline are not allowed in XML 1.0.
            0..=0x1f if b != b'\t' && b != b'\n' => "\u{FFFD}",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        out.push_str(with);
        from = i + 1;
    }
    out.push_str(&s[from..]);
    out
}

//! `lambda-sim bench`'s statistics and renderers on fixed samples.

use super::stats::{
    Buckets, Counts, P50, P90, P99, RESAMPLES, Summary, mean_difference, median_difference,
    percentile, sort,
};
use super::*;

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

#[test]
fn percentiles_are_nearest_rank() {
    let ten: Vec<u64> = (1..=10).collect();
    assert_eq!(percentile(&ten, P50), Some(5));
    assert_eq!(percentile(&ten, P90), Some(9));
    assert_eq!(percentile(&ten, P99), Some(10));
    assert_eq!(percentile(&ten, 1000), Some(10));
    assert_eq!(percentile(&ten, 0), Some(1));
    let thousand: Vec<u64> = (1..=1000).collect();
    assert_eq!(percentile(&thousand, P50), Some(500));
    assert_eq!(percentile(&thousand, P90), Some(900));
    assert_eq!(percentile(&thousand, P99), Some(990));
    // 99 % of 101 samples is 99.99: the 100th.
    let hundred_one: Vec<u64> = (1..=101).collect();
    assert_eq!(percentile(&hundred_one, P99), Some(100));
    assert_eq!(percentile(&[7], P50), Some(7));
    assert_eq!(percentile(&[7], P99), Some(7));
    assert_eq!(percentile(&[], P50), None);
}

#[test]
fn a_summary_of_fixed_samples() {
    let s = Summary::of(&[10, 20, 30, 40, 1000]).unwrap();
    assert_eq!(
        (s.n, s.min, s.p50, s.p90, s.p99, s.max),
        (5, 10, 30, 1000, 1000, 1000)
    );
    assert_eq!(s.mean, 220.0);
    assert_eq!(Summary::of(&[]), None);
}

#[test]
fn buckets_span_the_smallest_sample_to_the_99th_percentile() {
    // 0..=99 and one outlier: p99 of 101 samples is the 100th, 99.
    let mut samples: Vec<u64> = (0..100).collect();
    samples.push(10_000);
    let b = Buckets::spanning(&[&samples], 10).unwrap();
    assert_eq!(
        b,
        Buckets {
            lo: 0,
            width: 10,
            count: 10
        }
    );
    assert_eq!(b.bounds(3), (30, 40));
    assert_eq!(b.end(), 100);
    assert_eq!(
        b.count(&samples),
        Counts {
            counts: vec![10; 10],
            above: 1
        }
    );
}

#[test]
fn buckets_round_their_width_up_and_never_outnumber_the_values() {
    // 1000..=1016: 17 values in at most 5 buckets of width 4 (the last one covers 1016..1020).
    let samples: Vec<u64> = (1000..=1016).collect();
    let b = Buckets::spanning(&[&samples], 5).unwrap();
    assert_eq!((b.lo, b.width, b.count), (1000, 4, 5));
    assert_eq!(b.count(&samples).counts, vec![4, 4, 4, 4, 1]);
    // One distinct value: one bucket, one wide.
    let same = Buckets::spanning(&[&[5, 5, 5]], 10).unwrap();
    assert_eq!((same.lo, same.width, same.count), (5, 1, 1));
    assert_eq!(same.count(&[5, 5, 5]).counts, vec![3]);
    // Three distinct values: three buckets at most.
    let three = Buckets::spanning(&[&[1, 2, 3]], 10).unwrap();
    assert_eq!(three.count, 3);
    assert_eq!(Buckets::spanning(&[&[]], 10), None);
}

#[test]
fn shared_buckets_cover_both_series() {
    let a: Vec<u64> = (100..200).collect();
    let b: Vec<u64> = (150..300).collect();
    let buckets = Buckets::spanning(&[&a, &b], 20).unwrap();
    assert_eq!(buckets.lo, 100);
    // b's p99 (of 150 samples: the 149th, 298) is the top.
    assert!(buckets.end() > 298);
    assert_eq!(buckets.count(&a).counts.iter().sum::<u64>(), 100);
    assert_eq!(buckets.count(&b).counts.iter().sum::<u64>(), 150);
}

#[test]
fn welch_interval_matches_scipy() {
    // scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95):
    // (-6.887741643736975, 0.887741643736975), df 5.88.
    let i = mean_difference(&[1, 2, 3, 4, 5], &[2, 4, 6, 8, 10]).unwrap();
    assert_eq!(i.estimate, -3.0);
    assert!((i.lo - -6.887741643736975).abs() < 0.005, "{i:?}");
    assert!((i.hi - 0.887741643736975).abs() < 0.005, "{i:?}");
    assert!(!i.excludes_zero());
    // Larger samples, df 70.1: (2.8709528533385043, 9.789047146661492).
    let a: Vec<u64> = (0..50).map(|i| 100 + (i * 37) % 23).collect();
    let b: Vec<u64> = (0..40).map(|i| 90 + (i * 11) % 31).collect();
    let i = mean_difference(&a, &b).unwrap();
    assert!((i.estimate - 6.33).abs() < 1e-9);
    assert!((i.lo - 2.8709528533385043).abs() < 0.005, "{i:?}");
    assert!((i.hi - 9.789047146661492).abs() < 0.005, "{i:?}");
    assert!(i.excludes_zero());
    // Too few samples for a variance.
    assert_eq!(mean_difference(&[1], &[1, 2]), None);
    // No variance: the interval is the point.
    let i = mean_difference(&[5, 5, 5], &[3, 3]).unwrap();
    assert_eq!((i.estimate, i.lo, i.hi), (2.0, 2.0, 2.0));
}

#[test]
fn the_median_bootstrap_on_fixed_samples() {
    // Constant samples: every resample has the same median.
    let i = median_difference(&[5; 100], &[3; 100], RESAMPLES, 1).unwrap();
    assert_eq!((i.estimate, i.lo, i.hi), (2.0, 2.0, 2.0));
    // Well apart: the interval holds the difference of the medians and is narrow.
    let a: Vec<u64> = (1000..1101).collect();
    let b: Vec<u64> = (0..101).collect();
    let i = median_difference(&a, &b, RESAMPLES, 1).unwrap();
    assert_eq!(i.estimate, 1000.0);
    assert!(i.lo <= 1000.0 && i.hi >= 1000.0, "{i:?}");
    assert!(i.lo >= 980.0 && i.hi <= 1020.0, "{i:?}");
    assert!(i.excludes_zero());
    // The same samples and seed, the same interval; the sides swapped, the interval mirrored.
    assert_eq!(median_difference(&a, &b, RESAMPLES, 1), Some(i));
    let m = median_difference(&b, &a, RESAMPLES, 1).unwrap();
    assert_eq!(m.estimate, -1000.0);
    assert!(m.hi < 0.0 && m.lo >= -1020.0);
    // One distribution twice: no difference.
    let i = median_difference(&b, &b, RESAMPLES, 7).unwrap();
    assert_eq!(i.estimate, 0.0);
    assert!(i.lo < 0.0 && i.hi > 0.0, "{i:?}");
    assert!(!i.excludes_zero());
    assert_eq!(median_difference(&[], &b, RESAMPLES, 1), None);
}

#[test]
fn the_heapsort_sorts() {
    let mut state = 0x1234_5678_u64;
    for n in [0, 1, 2, 3, 10, 257, 1000] {
        let mut v: Vec<u64> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state % 100
            })
            .collect();
        let expected = sorted(v.clone());
        sort(&mut v);
        assert_eq!(v, expected, "n = {n}");
    }
    let mut extremes = vec![u64::MAX, 0, 1 << 63, 1];
    sort(&mut extremes);
    assert_eq!(extremes, vec![0, 1, 1 << 63, u64::MAX]);
}

#[test]
fn microseconds_read_in_the_best_unit() {
    let cases = [
        (0, "0 µs"),
        (999, "999 µs"),
        (1_000, "1.00 ms"),
        (1_234, "1.23 ms"),
        (1_235, "1.24 ms"),
        (9_994, "9.99 ms"),
        (9_995, "10.0 ms"),
        (31_249, "31.2 ms"),
        (99_949, "99.9 ms"),
        (99_950, "100 ms"),
        (999_499, "999 ms"),
        (999_500, "1.00 s"),
        (2_504_999, "2.50 s"),
        (-1_500, "-1.50 ms"),
        (-7, "-7 µs"),
    ];
    for (us, text) in cases {
        assert_eq!(fmt_us(us), text, "{us}");
    }
    assert_eq!(fmt_signed(12.4), "+12 µs");
    assert_eq!(fmt_signed(-0.4), "+0 µs");
    assert_eq!(fmt_signed(-3.0), "-3 µs");
}

#[test]
fn a_text_histogram() {
    let buckets = Buckets {
        lo: 100,
        width: 50,
        count: 3,
    };
    let counts = Counts {
        counts: vec![2, 8, 0],
        above: 1,
    };
    let mut out = String::new();
    histogram(&mut out, &buckets, &counts);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    let bar = |n: usize| format!("|{}{} ", "█".repeat(n), " ".repeat(40 - n));
    assert_eq!(lines[0], format!("     100 µs ..    150 µs {}2", bar(10)));
    assert_eq!(lines[1], format!("     150 µs ..    200 µs {}8", bar(40)));
    assert_eq!(lines[2], format!("     200 µs ..    250 µs {}0", bar(0)));
    // Above the range: a sliver at least, aligned with the rest.
    assert_eq!(lines[3], format!("     250 µs and up       {}1", bar(5)));
}

fn sample(i: u64, round_trip: u64, runtime: u64, overheads: &[(&str, u64)]) -> Sample {
    Sample {
        request_id: format!("id-{i}"),
        round_trip,
        cycle: round_trip + overheads.iter().map(|(_, us)| us).max().unwrap_or(&0),
        received: i * 1000,
        runtime: Some(runtime),
        duration: Some(runtime + overheads.iter().map(|(_, us)| *us).max().unwrap_or(0)),
        overheads: overheads
            .iter()
            .map(|(n, us)| (n.to_string(), *us))
            .collect(),
        cpu: Some(20 + i),
        failure: None,
        environment: Some((i % 2) as usize),
    }
}

fn arm_with(label: &str, samples: Vec<Sample>, inits: Vec<u64>) -> Arm {
    Arm {
        label: label.into(),
        command: vec!["./bootstrap".into()],
        extensions: vec!["a".into(), "b".into()],
        inits,
        samples,
        failures: Vec::new(),
        invokers: 1,
        ..Arm::default()
    }
}

#[test]
fn phases_leave_failures_out_and_total_several_extensions() {
    let mut samples: Vec<Sample> = (0..4)
        .map(|i| sample(i, 200 + i, 100 + i, &[("a", 10 * i), ("b", 5)]))
        .collect();
    samples[3].failure = Some("Sandbox.Timedout".into());
    let arm = arm_with("function", samples, vec![3000, 4000]);
    let phases = arm.phases();
    let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            PHASE_INIT.label,
            PHASE_ROUND_TRIP.label,
            PHASE_RUNTIME.label,
            PHASE_DURATION.label,
            "overhead: a",
            "overhead: b",
            PHASE_OVERHEAD.label,
            PHASE_OUTSIDE.label,
            PHASE_CPU.label
        ]
    );
    // Stable keys, for --json.
    let keys: Vec<&str> = phases.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "init",
            "round_trip",
            "runtime",
            "duration",
            "overhead.a",
            "overhead.b",
            "overhead.all",
            "outside_runtime",
            "lambda_sim_cpu"
        ]
    );
    let values = |key: &str| {
        phases
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.sorted.clone())
            .unwrap()
    };
    assert_eq!(values(PHASE_INIT.key), [3000, 4000]);
    assert_eq!(values(PHASE_ROUND_TRIP.key), [200, 201, 202]);
    assert_eq!(values("overhead.a"), [0, 10, 20]);
    // The slowest extension, each time.
    assert_eq!(values(PHASE_OVERHEAD.key), [5, 10, 20]);
    assert_eq!(values(PHASE_OUTSIDE.key), [100, 100, 100]);
    assert_eq!(values(PHASE_CPU.key), [20, 21, 22]);
    assert_eq!(
        arm.all_failures(),
        ["invocation 4 (id-3): Sandbox.Timedout"]
    );
    // Without extensions, no overhead at all.
    let none = arm_with("f", vec![sample(0, 200, 100, &[])], vec![]);
    assert!(!none.phases().iter().any(|p| p.name.starts_with("overhead")));
    // With one extension, its own row and no "all extensions" repeating it.
    let mut one = arm_with("f", vec![sample(0, 200, 100, &[("a", 7)])], vec![]);
    one.extensions = vec!["a".into()];
    let keys: Vec<String> = one.phases().into_iter().map(|p| p.key).collect();
    assert!(keys.contains(&"overhead.a".to_string()), "{keys:?}");
    assert!(!keys.contains(&"overhead.all".to_string()), "{keys:?}");
}

#[test]
fn cpu_time_is_charged_from_one_block_to_the_next() {
    // One after the other: the block's one invocation gets the time since its submit.
    let mut arm = Arm {
        samples: vec![Sample::default()],
        ..Arm::default()
    };
    charge_cpu(&mut arm, false, Some(1_000), Some(1_250));
    assert_eq!(arm.samples[0].cpu, Some(250));
    charge_cpu(&mut arm, false, Some(1_000), None);
    assert_eq!(arm.samples[0].cpu, None);
    // No reading at the start: nothing to charge.
    arm.samples[0].cpu = Some(7);
    charge_cpu(&mut arm, false, None, Some(1_250));
    assert_eq!(arm.samples[0].cpu, Some(7));
    // Under parallel load, the blocks add up on the arm, and the samples keep none.
    let mut arm = Arm {
        samples: vec![Sample::default()],
        ..Arm::default()
    };
    charge_cpu(&mut arm, true, None, Some(100));
    charge_cpu(&mut arm, true, Some(100), Some(400));
    charge_cpu(&mut arm, true, Some(500), Some(600));
    assert_eq!((arm.cpu, arm.samples[0].cpu), (Some(400), None));
}

#[test]
fn under_parallel_load_the_report_has_a_row_per_environment() {
    // Two environments: even invocations in the first, odd in the second (see `sample`).
    let samples = (0..6)
        .map(|i| sample(i, 200 + 100 * (i % 2), 100, &[("a", 1000 + 1000 * (i % 2))]))
        .collect();
    let mut arm = arm_with("function", samples, vec![3000, 5000]);
    arm.extensions = vec!["a".into()];
    arm.init_environments = vec![1, 0];
    (arm.invokers, arm.parallel, arm.wall, arm.cpu) = (2, true, 2_000, Some(120));
    let out = report(&[arm], &BenchOptions::default());
    assert!(out.contains("; 2 invokers at once\n"), "{out}");
    // Six invocations in 2 ms of blocks; 120 µs of CPU over six.
    assert!(
        out.contains(
            "  throughput: 3000 invocations/s (2 invokers at once, each until complete)\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("  lambda-sim CPU: 20 µs per invocation\n"),
        "{out}"
    );
    let row = |name: &str| {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("  {name} ")))
            .unwrap_or_else(|| panic!("no {name}:\n{out}"));
        line.split_whitespace()
            .skip(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(row("env 1"), "3 5.00 ms 200 µs 200 µs 1.00 ms 1.00 ms");
    assert_eq!(row("env 2"), "3 3.00 ms 300 µs 300 µs 2.00 ms 2.00 ms");
    assert!(!out.contains("env 3"), "{out}");
}

#[test]
fn comparing_arms_reports_each_shared_phase() {
    let a = arm_with(
        "with extensions",
        (0..50)
            .map(|i| sample(i, 300 + i % 3, 100, &[("a", 2000)]))
            .collect(),
        vec![5000, 5100, 5200],
    );
    let b = arm_with(
        "baseline",
        (0..50).map(|i| sample(i, 200 + i % 3, 100, &[])).collect(),
        vec![3000, 3100, 3200],
    );
    let diffs = compare(&a, &b);
    let phases: Vec<PhaseId> = diffs.iter().map(|d| d.phase).collect();
    assert_eq!(phases, COMPARED);
    let of = |phase: PhaseId| diffs.iter().find(|d| d.phase == phase).unwrap();
    assert_eq!(of(PHASE_INIT).median.estimate, 2000.0);
    assert_eq!(of(PHASE_ROUND_TRIP).median.estimate, 100.0);
    assert!(of(PHASE_ROUND_TRIP).median.excludes_zero());
    assert_eq!(of(PHASE_DURATION).median.estimate, 2000.0);
    // The runtime took the same time in both: no difference, and none claimed.
    let runtime = of(PHASE_RUNTIME);
    assert_eq!(runtime.median.estimate, 0.0);
    assert!(!runtime.median.excludes_zero());

    let text = report(&[a, b], &BenchOptions::default());
    assert!(
        text.contains("difference, with extensions - baseline"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(PHASE_ROUND_TRIP.label) && l.contains("median"))
        .unwrap();
    assert!(
        line.contains("+100 µs") && line.ends_with("a real difference"),
        "{line}"
    );
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(PHASE_RUNTIME.label) && l.contains("median"))
        .unwrap();
    assert!(line.ends_with("within the noise"), "{line}");
}

#[test]
fn the_report_lists_failures() {
    let mut arm = arm_with("function", vec![sample(0, 200, 100, &[])], vec![1000]);
    arm.samples[0].failure = Some("Runtime.ExitError".into());
    arm.failures
        .push("cold start 2 (id-x): no init duration".into());
    let text = report(&[arm], &BenchOptions::default());
    let failed = text.split("FAILED: 2 invocations\n").nth(1).unwrap();
    assert_eq!(
        failed,
        "  function: cold start 2 (id-x): no init duration\n  function: invocation 1 (id-0): Runtime.ExitError\n"
    );
}

#[test]
fn json_holds_every_sample_and_the_summary() {
    let mut a = arm_with(
        "with \"quoted\" extensions",
        (0..30)
            .map(|i| sample(i, 300 + i, 100, &[("a", 2000 + i)]))
            .collect(),
        vec![5000],
    );
    a.samples[4].failure = Some("Function.Unhandled".into());
    a.samples[5].runtime = None;
    let b = arm_with(
        "baseline",
        (0..30).map(|i| sample(i, 200 + i, 100, &[])).collect(),
        vec![3000],
    );
    let text = to_json(
        &[a, b],
        &BenchOptions::default(),
        Duration::from_millis(1234),
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["elapsed_ms"], 1234);
    assert_eq!(doc["invocations"], 1000);
    let arm = &doc["arms"][0];
    assert_eq!(arm["label"], "with \"quoted\" extensions");
    assert_eq!(arm["samples"].as_array().unwrap().len(), 30);
    let s = &arm["samples"][3];
    assert_eq!(s["request_id"], "id-3");
    assert_eq!(s["round_trip_us"], 303);
    assert_eq!(s["runtime_us"], 100);
    assert_eq!(s["outside_us"], 203);
    assert_eq!(s["overhead_us"]["a"], 2003);
    assert_eq!(s["cpu_us"], 23);
    assert_eq!(s["failure"], serde_json::Value::Null);
    assert_eq!(arm["samples"][4]["failure"], "Function.Unhandled");
    assert_eq!(arm["samples"][5]["runtime_us"], serde_json::Value::Null);
    assert_eq!(arm["init_us"], serde_json::json!([5000]));
    assert_eq!(arm["failures"].as_array().unwrap().len(), 1);
    // 28 successful invocations with a runtime duration (one failed, one never released).
    assert_eq!(doc["schema"], JSON_SCHEMA);
    assert_eq!(arm["summary_us"]["runtime"]["n"], 28);
    assert_eq!(arm["summary_us"]["runtime"]["label"], "runtime duration");
    assert_eq!(arm["summary_us"]["round_trip"]["min"], 300);
    assert_eq!(arm["summary_us"]["overhead.a"]["label"], "overhead: a");
    let diffs = doc["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), COMPARED.len());
    assert_eq!(diffs[0]["phase"], "init");
    assert_eq!(diffs[0]["label"], "init (cold start)");
    assert_eq!(diffs[0]["median_us"]["estimate"], 2000);
    // One init a side: no variance, no Welch interval.
    assert_eq!(diffs[0]["mean_us"], serde_json::Value::Null);
    assert_eq!(diffs[1]["significant"], true);
}

#[test]
fn the_svg_is_well_formed_and_draws_every_invocation() {
    let a = arm_with(
        "with <extensions> & more",
        (0..300)
            .map(|i| sample(i, 300 + i, 100, &[("a", 2000)]))
            .collect(),
        vec![5000, 6000],
    );
    let b = arm_with(
        "baseline",
        (0..300).map(|i| sample(i, 200, 100, &[])).collect(),
        vec![3000, 3500],
    );
    let picture = svg::render(&[a, b], &BenchOptions::default());
    let doc = roxmltree::Document::parse(&picture).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let class = |c: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some(c))
            .count()
    };
    // Each invocation's column: outside the runtime and runtime for both; the extension's
    // overhead only with extensions; the legend draws one of each too.
    assert_eq!(class("rt"), 300 + 300 + 1);
    assert_eq!(class("ext"), 300 + 1);
    // The cold starts, and their legend's key.
    assert_eq!(class("init"), 2 + 2 + 1);
    // Every compared phase's difference: an interval and its estimate (and the legend's).
    let circles = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .count();
    assert_eq!(circles, COMPARED.len() + 1);
    // Each histogram marks each series' p50 and p99 (dashed); the legend shows both marks.
    let lines = |c: &str| {
        doc.descendants()
            .filter(|n| n.has_tag_name("line") && n.attribute("class") == Some(c))
            .count()
    };
    let panels = a_phases_with_samples(&doc);
    assert_eq!(lines("pa"), panels + 1, "p50 of the first environment");
    assert_eq!(lines("pa p99"), panels + 1, "its p99");
    assert_eq!(
        lines("pb"),
        panels - 1,
        "the baseline's, but for its extensions' phase"
    );
    // One scale for both timelines: their top ticks read the same.
    let ticks: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text") && n.attribute("class") == Some("s r"))
        .filter_map(|n| n.text())
        .collect();
    let timed: Vec<&&str> = ticks
        .iter()
        .filter(|t| !t.starts_with('≥') && (t.ends_with("µs") || t.ends_with("ms")))
        .collect();
    // Four grid lines a timeline; the baseline's are the first's, though its columns are a
    // tenth as tall.
    assert_eq!(timed.len(), 8, "{timed:?}");
    assert_eq!(timed[..4], timed[4..], "{timed:?}");
    // The label was escaped, and is read back whole.
    assert!(
        doc.descendants()
            .any(|n| n.text() == Some("with <extensions> & more: ./bootstrap (extensions: a, b)"))
    );
    // Histograms for the first arm's phases, each with a title naming the samples' range.
    let titled = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .count();
    assert!(titled > 20);
}

#[test]
fn long_runs_draw_every_kth_invocation() {
    let arm = arm_with(
        "function",
        (0..5000).map(|i| sample(i, 300, 100, &[])).collect(),
        vec![5000],
    );
    let picture = svg::render(&[arm], &BenchOptions::default());
    let doc = roxmltree::Document::parse(&picture).unwrap();
    let columns = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("rt"))
        .count();
    // 5000 in at most 2000 columns: every 3rd, 1667 of them (and the legend's key).
    assert_eq!(columns, 1667 + 1);
    assert!(picture.contains("one in 3 of 5000 invocations"));
}

#[test]
fn xml_escaping() {
    assert_eq!(
        svg::escape("a<b>&\"c\"\u{1}\td"),
        "a&lt;b&gt;&amp;&quot;c&quot;\u{FFFD}\td"
    );
}

/// How many histogram panels a picture has: one heading each.
fn a_phases_with_samples(doc: &roxmltree::Document<'_>) -> usize {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter(|n| n.text().is_some_and(|t| t.ends_with("samples per bucket")))
        .count()
}

//! `lambda-sim bench` end to end: the binary, a scripted runtime and a slow extension as real
//! processes. Times are checked only as bounds the sleep given to the extension forces (a lower
//! bound) and a generous upper one, never as tight wall-clock limits.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{python_extension, python_runtime};

const BIN: &str = env!("CARGO_BIN_EXE_lambda-sim");

/// How long the extension sleeps after each INVOKE.
const SLEEP_US: u64 = 20_000;

fn bench(args: &[&str], command: &[String]) -> Output {
    Command::new(BIN)
        .arg("bench")
        .args(args)
        .arg("--")
        .args(command)
        // No extensions from this machine's /opt/extensions.
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .expect("run lambda-sim bench")
}

fn slow_extension() -> String {
    let words = python_extension("slow", &["slow", &(SLEEP_US / 1000).to_string()]);
    format!("slow={}", words.join(" "))
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lambda-sim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read_json(path: &PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("--json does not parse: {e}\n{text}"))
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not a whole number: {v}"))
}

#[test]
fn the_extensions_overhead_brackets_its_sleep() {
    let (json, svg) = (temp("slow.json"), temp("slow.svg"));
    let ext = slow_extension();
    let out = bench(
        &[
            "-n",
            "30",
            "--warmup",
            "2",
            "--cold-starts",
            "2",
            "--extension",
            &ext,
            "--json",
            json.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--histograms",
        ],
        &python_runtime("echo"),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let doc = read_json(&json);
    let arm = &doc["arms"][0];
    assert_eq!(arm["extensions"], serde_json::json!(["slow"]));
    let samples = arm["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 30);
    for s in samples {
        assert_eq!(s["failure"], serde_json::Value::Null, "{s}");
        // The extension got its INVOKE when the runtime did and slept before its next call:
        // from the release to the extension's return is at least the sleep.
        let (runtime, overhead) = (u(&s["runtime_us"]), u(&s["overhead_us"]["slow"]));
        assert!(runtime + overhead >= SLEEP_US, "{s}");
        assert!(u(&s["duration_us"]) >= SLEEP_US, "{s}");
        assert!(u(&s["cycle_us"]) >= u(&s["round_trip_us"]), "{s}");
    }
    assert_eq!(doc["schema"], 1);
    let summary = &arm["summary_us"]["overhead.slow"];
    assert_eq!(summary["label"], "overhead: slow");
    assert_eq!(u(&summary["n"]), 30);
    let p50 = u(&summary["p50"]);
    // The runtime answers echo in well under the sleep; a second is a generous ceiling.
    assert!(
        (SLEEP_US / 2..SLEEP_US + 1_000_000).contains(&p50),
        "{summary}"
    );
    assert!(u(&summary["p50"]) <= u(&summary["p99"]));
    assert_eq!(arm["init_us"].as_array().unwrap().len(), 2);
    assert!(u(&arm["summary_us"]["lambda_sim_cpu"]["p50"]) > 0);
    // One extension: its row, and no "all extensions" row repeating it.
    assert!(arm["summary_us"].get("overhead.all").is_none(), "{arm}");
    assert!(!stdout.contains("overhead: all extensions"), "{stdout}");

    // The text report: a table row for the extension and a histogram of it.
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("overhead: slow ") && l.contains("ms"))
        .unwrap_or_else(|| panic!("no overhead row:\n{stdout}"));
    assert!(row.split_whitespace().nth(2) == Some("30"), "{row}");
    assert!(
        stdout.contains("overhead: slow (function), n=30\n"),
        "{stdout}"
    );
    // Progress on stderr, as lines when it is not a terminal.
    assert!(
        stderr.contains("lambda-sim bench: invocations 30/30"),
        "{stderr}"
    );

    let picture = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&picture).unwrap();
    let extension_columns = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("ext"))
        .count();
    // A column segment per invocation, and the legend's key.
    assert_eq!(extension_columns, 30 + 1);
}

#[test]
fn a_baseline_shows_the_extension_as_a_real_difference() {
    let json = temp("baseline.json");
    let ext = slow_extension();
    let out = bench(
        &[
            "-n",
            "20",
            "--warmup",
            "1",
            "--cold-starts",
            "2",
            "--extension",
            &ext,
            "--baseline",
            "--json",
            json.to_str().unwrap(),
        ],
        &python_runtime("echo"),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let doc = read_json(&json);
    let arms = doc["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2);
    assert_eq!(arms[1]["label"], "baseline");
    assert_eq!(arms[1]["extensions"], serde_json::json!([]));
    assert_eq!(arms[1]["samples"].as_array().unwrap().len(), 20);
    let duration = doc["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["phase"] == "duration")
        .unwrap();
    // With the extension, each invocation lasts its sleep longer, give or take the runtime.
    let median = &duration["median_us"];
    assert!(median["lo"].as_i64().unwrap() > 0, "{duration}");
    let estimate = median["estimate"].as_i64().unwrap();
    let bounds = (SLEEP_US / 2) as i64..(SLEEP_US + 1_000_000) as i64;
    assert!(bounds.contains(&estimate), "{duration}");
    assert_eq!(duration["significant"], true);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("duration (REPORT)") && l.contains("median"))
        .unwrap_or_else(|| panic!("no difference line:\n{stdout}"));
    assert!(line.ends_with("a real difference"), "{line}");
    // Without --histograms: the summary and the differences only.
    assert!(!stdout.contains("█"), "{stdout}");
    // Progress counts what the command line asked for, not invocations times environments.
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("lambda-sim bench: invocations 20/20"),
        "{stderr}"
    );
    assert!(!stderr.contains("/40"), "{stderr}");
    assert!(stderr.contains("cold starts 2/2"), "{stderr}");
}

#[test]
fn under_parallel_load_each_environment_gets_its_row_and_its_cold_starts() {
    let json = temp("parallel.json");
    let ext = slow_extension();
    let out = bench(
        &[
            "-n",
            "30",
            "--warmup",
            "3",
            "--cold-starts",
            "2",
            "--concurrency",
            "3",
            "--extension",
            &ext,
            "--baseline",
            "--json",
            json.to_str().unwrap(),
        ],
        &python_runtime("echo"),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let doc = read_json(&json);
    for arm in doc["arms"].as_array().unwrap() {
        // Three invokers by default, one per environment.
        assert_eq!(u(&arm["invokers"]), 3, "{arm}");
        let samples = arm["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 30);
        let mut used = [0; 3];
        for s in samples {
            assert_eq!(s["failure"], serde_json::Value::Null, "{s}");
            used[u(&s["environment"]) as usize] += 1;
            // lambda-sim's CPU is per arm under load, not per invocation.
            assert_eq!(s["cpu_us"], serde_json::Value::Null, "{s}");
        }
        assert!(used.iter().all(|&n| n > 0), "{used:?}");
        // Each cold start sent three at once, and each started its own environment.
        let mut inits: Vec<u64> = arm["init_environments"]
            .as_array()
            .unwrap()
            .iter()
            .map(u)
            .collect();
        inits.sort_unstable();
        assert_eq!(inits, [0, 0, 1, 1, 2, 2], "{arm}");
        assert_eq!(arm["init_us"].as_array().unwrap().len(), 6);
        assert!(u(&arm["cpu_us"]) > 0, "{arm}");
        // The invocations overlapped: the blocks took less time than the invocations did one
        // after the other. With the extension's 20 ms each, three at a time take about a third.
        let cycles: u64 = samples.iter().map(|s| u(&s["cycle_us"])).sum();
        assert!(u(&arm["wall_us"]) * 3 < cycles * 2, "{arm}");
    }
    let with = &doc["arms"][0];
    for s in with["samples"].as_array().unwrap() {
        // Every environment ran its own extension after each of its invocations.
        assert!(
            u(&s["runtime_us"]) + u(&s["overhead_us"]["slow"]) >= SLEEP_US,
            "{s}"
        );
    }
    assert!(stdout.contains("; 3 invokers at once;"), "{stdout}");
    assert!(
        stdout.contains("(3 invokers at once, each until complete)"),
        "{stdout}"
    );
    for env in ["env 1", "env 2", "env 3"] {
        let row = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(env))
            .unwrap_or_else(|| panic!("no {env} row:\n{stdout}"));
        // Its invocations, an init, p50 and p99, and the extension's overhead: in ms.
        assert!(
            row.split_whitespace().filter(|w| *w == "ms").count() >= 3,
            "{row}"
        );
    }
    assert!(stderr.contains("invocations 30/30"), "{stderr}");
    assert!(stderr.contains("cold starts 2/2"), "{stderr}");
}

#[test]
fn managed_instances_run_m_invocations_at_once_in_one_environment() {
    let json = temp("managed.json");
    let out = bench(
        &[
            "-n",
            "40",
            "--warmup",
            "0",
            "--cold-starts",
            "1",
            "--max-concurrency",
            "4",
            "--payload",
            r#"{"action":"sleep","seconds":0.02}"#,
            "--json",
            json.to_str().unwrap(),
        ],
        &common::workers_runtime(),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let doc = read_json(&json);
    let arm = &doc["arms"][0];
    assert_eq!(u(&arm["invokers"]), 4, "{arm}");
    let samples = arm["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 40);
    for s in samples {
        assert_eq!(s["failure"], serde_json::Value::Null, "{s}");
        assert_eq!(u(&s["environment"]), 0, "{s}");
        assert!(u(&s["runtime_us"]) >= 20_000, "{s}");
    }
    // The environment initialised at start-up: no on-demand init to measure.
    assert_eq!(arm["init_us"], serde_json::json!([]), "{arm}");
    // Four at a time in the one environment: the 20 ms sleeps overlapped.
    let cycles: u64 = samples.iter().map(|s| u(&s["cycle_us"])).sum();
    assert!(u(&arm["wall_us"]) * 2 < cycles, "{arm}");
    assert!(stdout.contains("  env 1 "), "{stdout}");
    assert!(!stdout.contains("  env 2 "), "{stdout}");
}

#[test]
fn failed_invocations_are_listed_and_exit_1() {
    let out = bench(
        &[
            "-n",
            "3",
            "--warmup",
            "0",
            "--cold-starts",
            "1",
            "--payload",
            r#"{"action":"error"}"#,
        ],
        &python_runtime("echo"),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // The cold start's invocation failed too: four in all, each with its error type.
    let failed: Vec<&str> = stdout
        .split("FAILED: 4 invocations\n")
        .nth(1)
        .unwrap_or_else(|| panic!("{stdout}"))
        .lines()
        .collect();
    assert_eq!(failed.len(), 4, "{stdout}");
    assert!(
        failed[0].starts_with("  function: cold start 1 ("),
        "{stdout}"
    );
    for (i, line) in failed[1..].iter().enumerate() {
        assert!(
            line.starts_with(&format!("  function: invocation {} (", i + 1)),
            "{line}"
        );
        // The error type the runtime posted in its body.
        assert!(line.ends_with("): Boom"), "{line}");
    }
}

#[test]
fn with_demo_it_measures_the_demo() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "--demo",
            "-n",
            "5",
            "--warmup",
            "0",
            "--cold-starts",
            "1",
        ])
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("measuring the built-in demo"), "{stderr}");
    // The demo's extension works 3 ms after each invocation.
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("overhead: demo-extension"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let p50 = row.split_whitespace().nth(3).unwrap();
    let unit = row.split_whitespace().nth(4).unwrap();
    assert_eq!(unit, "ms", "{row}");
    assert!(p50.parse::<f64>().unwrap() >= 2.0, "{row}");
}

#[test]
fn bad_bench_flags_exit_2() {
    for args in [
        &["bench", "-n", "0"][..],
        &["bench", "--baseline", "--compare", "./x"],
        &["bench", "--eager-init", "--", "true"],
        &["bench", "--cold-starts", "zero"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = Command::new(BIN)
        .args(["bench", "--compare", "/nonexistent/bootstrap", "--", "true"])
        .output()
        .unwrap();
    // It cannot run: exit 2, as for every reason it cannot.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--compare"));
    // Options but no bootstrap: exit 2, not the demo measured in its place.
    let out = Command::new(BIN)
        .args(["bench", "-n", "5"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no bootstrap given"));
}

/// Chromium, wherever it is installed.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// `--svg` renders in a real browser: headless Chromium lays the picture out inside a page,
/// and a script there counts the shapes that came out with an area and the labels that came
/// out with a width. `.ci/run` installs Chromium and sets LAMBDA_SIM_REQUIRE_CHROMIUM, so
/// there this test cannot skip.
#[test]
fn the_svg_renders_in_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("LAMBDA_SIM_REQUIRE_CHROMIUM").is_none(),
            "Chromium is required here and is not on PATH"
        );
        eprintln!("skipped: no Chromium on PATH");
        return;
    };
    let svg = temp("render.svg");
    let out = Command::new(BIN)
        .args([
            "bench",
            "--demo",
            "-n",
            "20",
            "--warmup",
            "0",
            "--cold-starts",
            "2",
        ])
        .args(["--baseline", "--svg", svg.to_str().unwrap()])
        .env("LAMBDA_EXTENSIONS_DIR", "/nonexistent/lambda-sim-tests")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let picture = std::fs::read_to_string(&svg).unwrap();
    let inline = picture
        .split_once("?>")
        .map_or(picture.as_str(), |(_, svg)| svg);
    let page = format!(
        "<!doctype html><html><head><title>not rendered</title></head><body>{inline}<script>\n\
         const svg = document.querySelector('svg');\n\
         const box = svg.getBoundingClientRect();\n\
         const rects = [...svg.querySelectorAll('rect')];\n\
         const drawn = rects.filter(r => {{ const b = r.getBoundingClientRect(); \
             return b.width > 0 && b.height > 0; }}).length;\n\
         const texts = [...svg.querySelectorAll('text')];\n\
         const laid = texts.filter(t => t.getComputedTextLength() > 0).length;\n\
         document.title = ['rendered', Math.round(box.width), Math.round(box.height), \
             drawn, rects.length, laid, texts.length].join(' ');\n\
         </script></body></html>"
    );
    let html = temp("render.html");
    std::fs::write(&html, page).unwrap();
    let profile = temp("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or_else(|| panic!("no title in Chromium's DOM: {}", text(&out.stderr)));
    let numbers: Vec<u64> = match title.strip_prefix("rendered ") {
        Some(rest) => rest.split(' ').map(|n| n.parse().unwrap()).collect(),
        None => panic!("the page's script did not run: {title}"),
    };
    let [width, height, drawn, rects, laid, texts] = numbers[..] else {
        panic!("{title}");
    };
    // Laid out at its own size: 960 wide, taller than one screen with two timelines.
    eprintln!("{title}");
    assert_eq!(width, 960, "{title}");
    assert!(height > 800, "{title}");
    // Every shape has an area (the background, bars, 40 columns' segments, keys) ...
    assert!(rects > 100, "{title}");
    assert_eq!(drawn, rects, "{title}");
    // ... and every label was set in a font.
    assert!(texts > 20, "{title}");
    assert_eq!(laid, texts, "{title}");
}

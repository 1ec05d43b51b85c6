//! The batcher on a virtual clock: each trigger, one batch in flight, retries, send timeouts,
//! drops, framing.

use super::*;

const MS: u64 = 1_000;

fn at(ms: u64) -> Micros {
    Micros(ms * MS)
}

fn small() -> Buffering {
    Buffering {
        max_items: 1_000,
        max_bytes: 262_144,
        timeout_ms: 100,
    }
}

/// For tests that do not look at drops.
fn no_report(_: Dropped, _: &mut Vec<u8>) {}

fn record(n: usize) -> Vec<u8> {
    format!(r#"{{"n":{n}}}"#).into_bytes()
}

#[test]
fn a_batch_goes_timeout_ms_after_its_first_record() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    assert_eq!(b.poll_timeout(), None);
    b.push(at(0), record(1));
    b.push(at(40), record(2));
    assert_eq!(b.poll_timeout(), Some(at(100)));
    assert_eq!(b.poll_batch(at(99), &mut no_report), None);
    let batch = b.poll_batch(at(100), &mut no_report).unwrap();
    assert_eq!(batch.records, 2);
    assert_eq!(batch.body, br#"[{"n":1},{"n":2}]"#);
    assert!(b.in_flight());
    b.handle_sent(at(101), true);
    assert!(b.is_empty());
    assert_eq!(b.poll_timeout(), None);
}

#[test]
fn a_batch_goes_at_max_items_and_holds_no_more() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    for n in 0..999 {
        b.push(at(0), record(n));
    }
    assert_eq!(b.poll_batch(at(0), &mut no_report), None, "999 of 1000");
    b.push(at(0), record(999));
    b.push(at(0), record(1000));
    let batch = b.poll_batch(at(0), &mut no_report).unwrap();
    assert_eq!(batch.records, 1_000);
    b.handle_sent(at(1), true);
    assert_eq!(b.len(), 1, "the 1001st waits for the next batch");
    // It arrived at 0 ms: its own timeout counts from then.
    assert_eq!(b.poll_timeout(), Some(at(100)));
}

#[test]
fn a_batch_goes_at_max_bytes_with_the_record_that_crosses_it() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    let big = vec![b'1'; 100_000];
    b.push(at(0), big.clone());
    b.push(at(0), big.clone());
    assert_eq!(
        b.poll_batch(at(0), &mut no_report),
        None,
        "200 000 of 262 144 bytes"
    );
    b.push(at(0), big.clone());
    b.push(at(0), big.clone());
    let batch = b.poll_batch(at(0), &mut no_report).unwrap();
    assert_eq!(
        batch.records, 3,
        "300 000 bytes: over the limit by less than one record"
    );
    assert_eq!(batch.body.len(), 300_000 + 2 + 2);
}

#[test]
fn one_batch_in_flight_and_a_failure_is_retried_with_backoff() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    b.push(at(0), record(1));
    let first = b.poll_batch(at(100), &mut no_report).unwrap();
    b.push(at(110), record(2));
    assert_eq!(
        b.poll_batch(at(500), &mut no_report),
        None,
        "one batch in flight"
    );
    b.handle_sent(at(120), false);
    assert_eq!(b.poll_timeout(), Some(at(170)), "first backoff: 50 ms");
    assert_eq!(b.poll_batch(at(169), &mut no_report), None);
    let retry = b.poll_batch(at(170), &mut no_report).unwrap();
    assert_eq!(retry.records, 2, "the failed record, then the new one");
    assert!(retry.body.starts_with(&first.body[..first.body.len() - 1]));
    b.handle_sent(at(180), false);
    assert_eq!(b.poll_timeout(), Some(at(280)), "then 100 ms");
    let again = b.poll_batch(at(280), &mut no_report).unwrap();
    assert_eq!(again, retry);
    b.handle_sent(at(281), true);
    assert!(b.is_empty());
    // Success resets the backoff.
    b.push(at(300), record(3));
    b.poll_batch(at(400), &mut no_report).unwrap();
    b.handle_sent(at(401), false);
    assert_eq!(b.poll_timeout(), Some(at(451)));
}

#[test]
fn backoff_stops_growing_at_its_maximum() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    b.push(at(0), record(1));
    let mut now = at(100);
    let mut waits = Vec::new();
    for _ in 0..12 {
        b.poll_batch(now, &mut no_report).unwrap();
        b.handle_sent(now, false);
        let next = b.poll_timeout().unwrap();
        waits.push(next.since(now).as_millis());
        now = next;
    }
    assert_eq!(&waits[..4], [50, 100, 200, 400]);
    assert!(waits.iter().all(|w| *w <= 5_000));
    assert_eq!(waits.last(), Some(&5_000));
}

#[test]
fn an_unanswered_batch_fails_after_the_send_timeout() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    b.push(at(0), record(1));
    b.poll_batch(at(100), &mut no_report).unwrap();
    assert_eq!(b.poll_timeout(), Some(at(5_100)));
    assert!(!b.handle_timeout(at(5_099)));
    assert!(
        b.handle_timeout(at(5_100)),
        "the caller closes the connection"
    );
    assert!(!b.in_flight());
    assert_eq!(b.poll_timeout(), Some(at(5_150)));
    assert_eq!(b.poll_batch(at(5_150), &mut no_report).unwrap().records, 1);
}

/// Renders a drop notice as `{"dropped":N}`, as the hub's `platform.logsDropped` stands.
fn notice(d: Dropped, out: &mut Vec<u8>) {
    out.extend_from_slice(format!(r#"{{"dropped":{},"bytes":{}}}"#, d.records, d.bytes).as_bytes());
}

#[test]
fn a_subscriber_that_falls_behind_loses_its_oldest_records_not_the_batch_in_flight() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    for n in 0..1_000 {
        b.push(at(0), record(n));
    }
    let sending = b.poll_batch(at(0), &mut notice).unwrap();
    assert_eq!(sending.records, 1_000);
    // The buffer holds two batches' worth: 2 000 records with the ones in flight.
    for n in 1_000..2_000 {
        b.push(at(1), record(n));
    }
    assert_eq!(b.dropped(), Dropped::default());
    for n in 2_000..2_005 {
        b.push(at(2), record(n));
    }
    assert_eq!(b.len(), 2_000);
    let lost: u64 = (1_000..1_005).map(|n| record(n).len() as u64).sum();
    assert_eq!(
        b.dropped(),
        Dropped {
            records: 5,
            bytes: lost
        },
        "records 1000-1004, the oldest not in flight"
    );
    // The batch in flight is untouched: its answer removes exactly it.
    b.handle_sent(at(3), true);
    assert_eq!(b.len(), 1_000);
    // The next batch opens with the notice, then the oldest record left.
    let next = b.poll_batch(at(3), &mut notice).unwrap();
    let expected = format!(r#"[{{"dropped":5,"bytes":{lost}}},{{"n":1005}},"#);
    assert!(
        next.body.starts_with(expected.as_bytes()),
        "{:?}",
        &next.body[..40]
    );
    assert_eq!(next.records, 1_000, "the notice counts towards maxItems");
    // If that batch fails, the news goes out again with the retry; once through, it is done.
    b.handle_sent(at(4), false);
    assert_eq!(b.dropped().records, 5);
    let retry = b.poll_batch(at(54), &mut notice).unwrap();
    assert!(retry.body.starts_with(br#"[{"dropped":5,"#));
    b.handle_sent(at(55), true);
    assert_eq!(b.dropped(), Dropped::default());
    assert_eq!(b.len(), 1, "999 queued records went with the notice");
    let last = b.poll_batch(at(200), &mut notice).unwrap();
    assert_eq!(last.body, br#"[{"n":2004}]"#);
}

#[test]
fn a_byte_bound_drops_too_but_keeps_the_newest() {
    let mut b = Batcher::new(small(), Framing::JsonArray);
    let huge = vec![b'x'; 600_000];
    b.push(at(0), huge.clone());
    b.push(at(0), huge);
    // 1 200 000 bytes over a 524 288 bound: the older record goes, the newest stays alone.
    assert_eq!(b.len(), 1);
    assert_eq!(
        b.dropped(),
        Dropped {
            records: 1,
            bytes: 600_000
        }
    );
}

#[test]
fn tcp_batches_are_newline_delimited() {
    let mut b = Batcher::new(small(), Framing::Ndjson);
    b.push(at(0), record(1));
    b.push(at(0), record(2));
    b.flush();
    assert_eq!(b.poll_timeout(), Some(Micros::ZERO), "due at once");
    let batch = b.poll_batch(at(0), &mut no_report).unwrap();
    assert_eq!(batch.body, b"{\"n\":1}\n{\"n\":2}\n");
}

#[test]
fn a_flush_sends_everything_without_waiting() {
    let mut b = Batcher::new(
        Buffering {
            timeout_ms: 30_000,
            ..small()
        },
        Framing::JsonArray,
    );
    for n in 0..1_500 {
        b.push(at(0), record(n));
    }
    b.flush();
    assert_eq!(b.poll_batch(at(0), &mut no_report).unwrap().records, 1_000);
    b.handle_sent(at(1), true);
    assert_eq!(
        b.poll_batch(at(1), &mut no_report).unwrap().records,
        500,
        "still flushing"
    );
    b.handle_sent(at(2), true);
    assert!(b.is_empty());
    b.push(at(3), record(9));
    assert_eq!(
        b.poll_batch(at(3), &mut no_report),
        None,
        "the flush is over"
    );
}

#[test]
fn defaults_are_awss() {
    let d = Buffering::default();
    assert_eq!(
        (d.max_items, d.max_bytes, d.timeout_ms),
        (10_000, 262_144, 1_000)
    );
}

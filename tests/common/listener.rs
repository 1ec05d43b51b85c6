//! A telemetry subscriber's listener, in the test: it parses every batch and answers as told.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

/// How the test's listener answers each batch, in turn (the last one repeats).
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Ok,
    Status500,
    /// Holds the answer until the test sends on the release channel.
    Hold,
    /// Writes part of a response head, then closes the connection.
    HalfHead,
}

pub struct Listener {
    pub port: u16,
    /// Every batch received, parsed, in order.
    pub batches: mpsc::Receiver<Vec<serde_json::Value>>,
    pub release: mpsc::Sender<()>,
}

pub fn listener(answers: Vec<Answer>) -> Listener {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let (tx, batches) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    thread::spawn(move || {
        let mut n = 0;
        for stream in socket.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            // Keep-alive: several batches per connection.
            loop {
                let mut length = 0;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                assert!(line.starts_with("POST /telemetry HTTP/1.1"), "{line}");
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let events: Vec<serde_json::Value> = serde_json::from_slice(&body)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
                let answer = answers[n.min(answers.len() - 1)];
                n += 1;
                if tx.send(events).is_err() {
                    return;
                }
                let status = match answer {
                    Answer::HalfHead => {
                        let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Le");
                        break;
                    }
                    Answer::Ok => "200 OK",
                    Answer::Status500 => "500 Internal Server Error",
                    Answer::Hold => {
                        let _ = released.recv();
                        "200 OK"
                    }
                };
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    Listener {
        port,
        batches,
        release,
    }
}

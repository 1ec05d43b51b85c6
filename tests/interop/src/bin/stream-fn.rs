//! A streaming function written with the official `lambda_runtime` crate
//! (`lambda_runtime::streaming::Response`), run as the bootstrap under lambda-sim. It streams
//! the event's "pieces" with a short pause between them; with "fail", a stream error follows.

use std::time::Duration;

use lambda_runtime::streaming::Response;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

type Piece = Result<String, Error>;

async fn handler(
    event: LambdaEvent<Value>,
) -> Result<Response<tokio_stream::wrappers::ReceiverStream<Piece>>, Error> {
    let pieces: Vec<String> = event.payload["pieces"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let fail = event.payload["fail"].as_bool().unwrap_or(false);
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(4);
    tokio::spawn(async move {
        for piece in pieces {
            if tx.send(Ok(piece)).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if fail {
            let _ = tx.send(Err("the stream broke".into())).await;
        }
    });
    Ok(Response::from(tokio_stream::wrappers::ReceiverStream::new(
        rx,
    )))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}

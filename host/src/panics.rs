//! Panics in spawned tasks become failures: [`catch`] runs a future and turns a panic inside it into
//! `Err(message)`, so the code that spawned it can log it and record the affected job, execution or
//! service as failed instead of leaving it waiting for a task that is gone. Knows nothing of what the
//! future does.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// Runs `fut` to completion; a panic inside it is `Err` with the panic's message.
pub async fn catch<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    // Unwind safety: the callers give up on whatever state the future held and record a failure.
    AssertUnwindSafe(fut).catch_unwind().await.map_err(message)
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn message(payload: Box<dyn Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => match payload.downcast::<&'static str>() {
            Ok(s) => (*s).to_string(),
            Err(_) => "a panic without a message".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_an_error_with_its_message_and_the_task_ends() {
        let ok = catch(async { 7 }).await;
        assert_eq!(ok, Ok(7));
        let overflow = catch(async {
            let start = tokio::time::Instant::now();
            // What a start period near u64::MAX once did to a job's task.
            let far = std::time::Duration::from_secs(std::hint::black_box(u64::MAX - 5));
            start + far
        })
        .await;
        let err = overflow.unwrap_err();
        assert!(err.contains("overflow"), "{err}");
        let formatted = catch(async { panic!("job {} broke", 3) }).await;
        assert_eq!(formatted, Err::<(), _>("job 3 broke".into()));
        // A spawned task that panics ends with the panic as its result, never hangs its waiter.
        let joined = tokio::spawn(catch(async { panic!("in a task") })).await;
        assert_eq!(joined.unwrap(), Err::<(), _>("in a task".into()));
    }
}

//! Progress on long work, on stderr and only when stderr is a terminal: a script piping the
//! output sees nothing extra, a person at a terminal sees the work move.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` units (or a counter when the total is unknown), hidden off a terminal.
pub fn bar(total: Option<u64>, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(&format!(
                "{{bar:40}} {{human_pos}}/{{human_len}} {unit} · {{elapsed}} · {{eta}} left"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template(&format!(
                "{{spinner}} {{human_pos}} {unit} · {{elapsed}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A measurement of a fixed length: the seconds tick by until the guard is dropped.
pub struct Ticker {
    bar: ProgressBar,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub fn timed(seconds: u64, what: &str) -> Ticker {
    let bar = bar(Some(seconds), "s");
    bar.set_message(what.to_owned());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thread = (!bar.is_hidden()).then(|| {
        let (bar, stop) = (bar.clone(), stop.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                bar.set_position(started.elapsed().as_secs().min(seconds));
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    });
    Ticker { bar, stop, thread }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

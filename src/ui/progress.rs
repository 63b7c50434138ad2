//! Live per-instance progress lines (indicatif), used only on a terminal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// One spinner line per instance.
pub(crate) struct Progress {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Empty progress display.
    pub(crate) fn new() -> Progress {
        Progress {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the message of `instance`'s line, creating it when needed.
    pub(crate) fn set(&self, instance: &str, message: &str) {
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(instance.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new_spinner());
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {prefix}: {wide_msg} [{elapsed}]")
            {
                b.set_style(style);
            }
            b.set_prefix(instance.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(message.to_string());
    }

    /// Removes `instance`'s line.
    pub(crate) fn done(&self, instance: &str) {
        if let Ok(mut bars) = self.bars.lock()
            && let Some(b) = bars.remove(instance)
        {
            b.finish_and_clear();
        }
    }

    /// Prints a line above the progress lines.
    pub(crate) fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    /// Removes every line.
    pub(crate) fn clear(&self) {
        if let Ok(mut bars) = self.bars.lock() {
            for (_, b) in bars.drain() {
                b.finish_and_clear();
            }
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

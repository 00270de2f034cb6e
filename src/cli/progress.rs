//! indicatif progress bars for long commands.
use fno::rundir::EpochRecord;
use fno::train::trainer::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A training bar: loss, learning rate and samples/s per batch; one
/// printed line per epoch.
pub struct TrainBar {
    bar: ProgressBar,
    quiet: bool,
}

impl TrainBar {
    /// A bar on stderr; `quiet` hides the bar and keeps the epoch lines off.
    pub fn new(quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0)
        };
        bar.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} batches {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar, quiet }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for TrainBar {
    fn start(&mut self, params: usize, first_epoch: usize, epochs: usize, batches: usize) {
        if !self.quiet {
            eprintln!("model: {params} trainable parameters; epochs {first_epoch}..{epochs}, {batches} batches each");
        }
        self.bar
            .set_length(((epochs - first_epoch.min(epochs)) * batches) as u64);
    }

    fn batch(&mut self, loss: f64, lr: f64, samples_per_s: f64) {
        self.bar.inc(1);
        self.bar.set_message(format!(
            "loss {loss:.4e}  lr {lr:.2e}  {samples_per_s:.1} samples/s"
        ));
    }

    fn warning(&mut self, message: &str) {
        // Printed even when quiet, as warnings are.
        self.bar.suspend(|| eprintln!("warning: {message}"));
    }

    fn no_checkpoint(&mut self) {
        // Printed even when quiet: a restart script should see that the
        // run began again.
        self.bar.suspend(|| {
            eprintln!(
                "--resume: the run has no committed checkpoint yet; training starts from the beginning"
            );
        });
    }

    fn epoch(&mut self, r: &EpochRecord) {
        if !self.quiet {
            self.bar.println(format!(
                "epoch {:>4}  train {:.4e}  test {:.4e}  test rel-L2 {:.4e}  lr {:.2e}  {:.1} s",
                r.epoch, r.train_loss, r.test_loss, r.test_rel_l2, r.lr, r.wall_s
            ));
        }
    }
}

/// A progress bar counting samples generated or predicted (hidden when
/// `quiet`).
pub fn sample_bar(samples: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(samples);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} samples  {elapsed} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

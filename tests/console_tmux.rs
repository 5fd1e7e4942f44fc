//! The real binary in a real terminal: `pooltop demo` in tmux at 80x24, keys sent, the screen
//! read back, and a clean exit with the terminal restored. Every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs (CI installs it in .ci/run)");
        String::from_utf8_lossy(&output.stdout).to_string()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "console"])
    }

    fn wait_for(&self, text: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < limit,
                "\"{text}\" did not appear within {limit:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

#[test]
fn demo_opens_the_console_and_quits_cleanly_at_80x24() {
    let state = tempfile::tempdir().unwrap();
    let tmux = Tmux {
        socket: format!("pooltop-test-{}", std::process::id()),
    };
    let command = format!(
        "XDG_STATE_HOME={} XDG_CONFIG_HOME={} {} demo --scenario stuck-rollout; echo EXIT=$?; sleep 30",
        state.path().display(),
        state.path().display(),
        env!("CARGO_BIN_EXE_pooltop")
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "console",
        "-x",
        "80",
        "-y",
        "24",
        &command,
    ]);
    let home = tmux.wait_for("node pools", Duration::from_secs(90));
    assert!(home.contains("SIMULATED CLUSTER"), "{home}");
    tmux.wait_for("● live", Duration::from_secs(60));

    tmux.run(&["send-keys", "-t", "console", "r"]);
    tmux.wait_for("nodes not done", Duration::from_secs(10));
    tmux.wait_for("Init:ImagePullBackOff", Duration::from_secs(30));

    tmux.run(&["send-keys", "-t", "console", "?"]);
    tmux.wait_for("any key closes", Duration::from_secs(10));
    tmux.run(&["send-keys", "-t", "console", "x"]);

    tmux.run(&["resize-window", "-t", "console", "-x", "120", "-y", "40"]);
    tmux.run(&["send-keys", "-t", "console", "q"]);
    let after = tmux.wait_for("EXIT=0", Duration::from_secs(20));
    // The alternate screen is gone: the console's frame is no longer on the screen.
    assert!(!after.contains("nodes not done"), "{after}");
}

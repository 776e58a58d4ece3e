//! Reload on file change: the TLS files, the CRLs, the register and the config file (for its
//! `[maintenance]`) are looked at every
//! `[reload] watch_seconds`; a change is reloaded once it has stayed the same for one more
//! look, so a file written in several steps (or a Kubernetes Secret's symlink swap) is read
//! whole. Polling, not inotify: it sees through symlinks to whatever the path names now, on
//! any file system, at the cost of one `stat` per file per interval.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::app::AppState;

/// What a path looks like now: enough to notice a rewrite or a replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Look(Vec<Option<(SystemTime, u64, u64)>>);

/// Looks at every path (following symlinks); a missing file is a state of its own.
pub fn look(paths: &[PathBuf]) -> Look {
    use std::os::unix::fs::MetadataExt;
    Look(
        paths
            .iter()
            .map(|p| {
                std::fs::metadata(p).ok().map(|m| {
                    (
                        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        m.len(),
                        m.ino(),
                    )
                })
            })
            .collect(),
    )
}

/// The debounce: says when a change has settled.
#[derive(Debug)]
pub struct Settle {
    in_force: Look,
    pending: Option<Look>,
}

impl Settle {
    /// Starts from what is in force.
    pub fn new(in_force: Look) -> Settle {
        Settle {
            in_force,
            pending: None,
        }
    }

    /// Takes a new look; true when the files differ from what is in force and have not
    /// changed since the previous look (then they count as in force).
    pub fn settled(&mut self, now: Look) -> bool {
        if now == self.in_force {
            self.pending = None;
            return false;
        }
        if self.pending.as_ref() == Some(&now) {
            self.in_force = now;
            self.pending = None;
            return true;
        }
        self.pending = Some(now);
        false
    }
}

/// The files a reload reads.
pub fn watched(state: &AppState) -> Vec<PathBuf> {
    let tls = &state.config.tls;
    let mut paths = vec![tls.cert.clone(), tls.key.clone(), tls.client_ca.clone()];
    paths.extend(tls.crls.iter().cloned());
    paths.push(state.config.register.clone());
    // The config file itself, for `[maintenance]` (announced planned outages).
    paths.extend(state.config.source.iter().cloned());
    paths
}

/// Reloads whenever the watched files change (and settle), until the task is aborted.
pub async fn reload_on_change(state: Arc<AppState>, every: Duration) {
    let paths = watched(&state);
    let look_now = {
        let paths = paths.clone();
        move || {
            let paths = paths.clone();
            async move {
                tokio::task::spawn_blocking(move || look(&paths))
                    .await
                    .unwrap_or(Look(Vec::new()))
            }
        }
    };
    let mut settle = Settle::new(look_now().await);
    loop {
        tokio::time::sleep(every).await;
        if settle.settled(look_now().await) {
            tracing::info!("watched files changed; reloading");
            let s = state.clone();
            let _ = tokio::task::spawn_blocking(move || s.reload()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_counts_once_it_has_settled() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.pem");
        std::fs::write(&a, "one").expect("write");
        let paths = vec![a.clone(), dir.path().join("missing.toml")];
        let mut s = Settle::new(look(&paths));
        assert!(!s.settled(look(&paths)), "nothing changed");
        std::fs::write(&a, "two, longer").expect("write");
        assert!(!s.settled(look(&paths)), "changed: wait one more look");
        assert!(s.settled(look(&paths)), "the same again: settled");
        assert!(!s.settled(look(&paths)), "and in force now");
        // Written in two steps: the first step is never taken on its own.
        std::fs::write(&a, "three").expect("write");
        assert!(!s.settled(look(&paths)));
        std::fs::write(&a, "three, finished").expect("write");
        assert!(!s.settled(look(&paths)), "changed again: wait");
        assert!(s.settled(look(&paths)));
        // Replaced by rename (new inode), and a file appearing, both count.
        let tmp = dir.path().join("a.tmp");
        std::fs::write(&tmp, "three, finished").expect("write");
        std::fs::rename(&tmp, &a).expect("rename");
        assert!(!s.settled(look(&paths)));
        assert!(s.settled(look(&paths)));
        std::fs::write(dir.path().join("missing.toml"), "x").expect("write");
        assert!(!s.settled(look(&paths)));
        assert!(s.settled(look(&paths)));
    }
}

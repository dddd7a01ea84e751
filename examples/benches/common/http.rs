//! What the HTTP benchmarks share: servers as child processes of the
//! benchmark binary, and the load loop.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Round, cpu_ns};

/// This benchmark binary run again as a server, with `env` telling it
/// what to be; it prints its URL on its first line.
pub(crate) struct ServerProcess {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl ServerProcess {
    pub(crate) fn start(env: &[(&str, &str)]) -> Self {
        Self::start_with(None, env)
    }

    /// [`start`](Self::start), run by `wrapper` (`taskset -c 1`, say).
    pub(crate) fn start_with(wrapper: Option<&[&str]>, env: &[(&str, &str)]) -> Self {
        let exe = std::env::current_exe().unwrap();
        let mut command = match wrapper {
            Some([program, args @ ..]) => {
                let mut c = Command::new(program);
                c.args(args).arg(exe);
                c
            }
            _ => Command::new(exe),
        };
        let mut child = command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        Self {
            child,
            url: url.trim().to_owned(),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `requests` calls from `concurrency` workers, after a warm-up of ten
/// per worker; `call(id)` makes one request and returns its latency.
pub(crate) async fn load<F, Fut>(
    server: &ServerProcess,
    concurrency: usize,
    requests: usize,
    call: F,
) -> Round
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Duration> + Send + 'static,
{
    load_watching(server, None, concurrency, requests, call)
        .await
        .0
}

/// [`load`], also reading the CPU of `also` (a server behind `server`)
/// over the measured requests: its CPU per request.
pub(crate) async fn load_watching<F, Fut>(
    server: &ServerProcess,
    also: Option<&ServerProcess>,
    concurrency: usize,
    requests: usize,
    call: F,
) -> (Round, Option<Duration>)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Duration> + Send + 'static,
{
    for id in 0..concurrency * 10 {
        call(id).await;
    }
    let per_worker = requests / concurrency;
    let also_before = also.and_then(|a| cpu_ns(a.child.id()));
    let cpu_before = cpu_ns(server.child.id());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let calls: Vec<_> = (0..per_worker)
            .map(|i| call(1000 + w * per_worker + i))
            .collect();
        workers.spawn(async move {
            let mut latencies = Vec::with_capacity(calls.len());
            for c in calls {
                latencies.push(c.await);
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(done) = workers.join_next().await {
        latencies.extend(done.unwrap());
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_ns(server.child.id());
    let also_cpu = also_before
        .zip(also.and_then(|a| cpu_ns(a.child.id())))
        .map(|(b, a)| Duration::from_nanos((a - b) / latencies.len() as u64));
    (
        Round::new(latencies, elapsed, cpu_before, cpu_after),
        also_cpu,
    )
}

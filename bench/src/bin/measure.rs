//! `measure CMD ARGS...`: runs CMD and prints its resource usage on stderr as the last line,
//! `measure: {"rc":0,"user_s":..,"sys_s":..,"maxrss_kb":..}` (native only).
//!
//! bench.py launches every timed contender through this small process rather than directly:
//! Linux carries a process's peak RSS across `exec`, so a child forked from the Python driver
//! would report at least the driver's own RSS; forked from here, the floor is this
//! launcher's (about 2 MiB).

#[cfg(target_os = "wasi")]
fn main() {
    roundtrip_bench::unsupported("measure", "native only");
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    use std::process::Command;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: measure CMD [ARGS...]");
        std::process::exit(2);
    }
    let child = match Command::new(&args[0]).args(&args[1..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("measure: cannot run {}: {e}", args[0]);
            std::process::exit(127);
        }
    };
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain wait4 on our own child with valid out-pointers.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    if r < 0 {
        eprintln!("measure: wait4: {}", std::io::Error::last_os_error());
        std::process::exit(125);
    }
    let rc = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    eprintln!(
        "measure: {{\"rc\":{rc},\"user_s\":{:.6},\"sys_s\":{:.6},\"maxrss_kb\":{}}}",
        secs(ru.ru_utime),
        secs(ru.ru_stime),
        ru.ru_maxrss
    );
    std::process::exit(rc);
}

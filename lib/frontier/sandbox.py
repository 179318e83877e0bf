"""Run a submitted notebook's code in an operating-system sandbox and bring back plain text.

Used by ``frontier.exercises grade`` (exercise sets, see ``exercises/README.md``). A submission
is arbitrary code; nothing here tries to recognise bad code. Instead:

- :func:`bwrap_command` builds a bubblewrap (``bwrap``) command line: new mount, PID, network,
  IPC, UTS, cgroup and user namespaces (uid/gid 65534 inside, no capabilities), a clean
  environment, ``--die-with-parent``, ``--new-session``; the filesystem is an empty root with,
  read-only, ``/usr`` (and the ``/bin``, ``/lib*`` links), the Python installation and its venv
  and the ``frontier`` package, plus the read-only job file; writable are only two small tmpfs
  (the working folder ``/submission`` and ``/tmp``), so nothing is written to the host's disk.
  No other submission, no autograder bundle, no solution, no ``build/``, no grades, no home.
- :func:`run` starts it with resource limits (address space, file size, processes, output
  bytes, wall time), reads the sandbox's output through pipes with a byte cap, and kills the
  whole sandbox (its PID namespace dies with it) at the end. Every wait is bounded.
- Inside, :func:`main` (``python -m frontier.sandbox JOB``) runs the cells with IPython (so
  magics and ``!cmd`` behave as in Jupyter), then runs each test example's *source* against the
  notebook's namespace and reports what it printed. It never sees the expected outputs: the
  grader compares them outside. Everything it reports goes out as JSON lines on file
  descriptor of its own (a pipe); the grader treats those lines as untrusted text.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_UID = 65534  # "nobody" inside the user namespace
SCRATCH = "/submission"  # the submission's writable directory, inside the sandbox
JOB = "/job/job.json"  # what to run (cells and test sources), read-only inside
MAX_EXAMPLE_OUTPUT = 20_000  # characters kept of what one test example printed


@dataclass
class Limits:
    """Per-submission limits; hitting one ends the run with that status."""

    seconds: float = 300.0
    memory_mb: int = 4096  # address space per process (TensorFlow reserves ~1.5 GB of it)
    file_mb: int = 64  # largest file the submission may write
    processes: int = 64  # processes alive at once in the sandbox
    disk_mb: int = 512  # the scratch folder and /tmp: each a tmpfs of this size (memory)
    output_kb: int = 1024  # bytes of stdout/stderr, and of results, read from the sandbox


@dataclass
class Run:
    """What came out of one sandbox run (all of it untrusted, already size-capped)."""

    exit_code: int | None
    limit: str | None  # "time limit", "output limit", "process limit" or None
    records: list[dict] = field(default_factory=list)  # the JSON lines of the result pipe
    output: str = ""  # stdout + stderr, capped
    seconds: float = 0.0


class SandboxUnavailable(RuntimeError):
    """No OS sandbox can be made on this machine."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` (saying why and what to do) unless bwrap works here."""
    why = None
    if not sys.platform.startswith("linux"):
        why = (f"this is {sys.platform}: bubblewrap needs Linux. Grade on a Linux machine "
               "(or a Linux VM/container)")
    elif bwrap_path() is None:
        why = ("bubblewrap is not installed: `sudo apt-get install bubblewrap` (Debian/Ubuntu), "
               "`sudo dnf install bubblewrap` (Fedora)")
    else:
        try:
            probe = subprocess.run([bwrap_path(), *_NAMESPACE_FLAGS, "--ro-bind", "/", "/",
                                    "true"], capture_output=True, text=True, timeout=30)
            if probe.returncode != 0:
                why = (f"bubblewrap cannot create namespaces here ({probe.stderr.strip()}): "
                       "allow unprivileged user namespaces (`sysctl -w "
                       "kernel.unprivileged_userns_clone=1`, or on Ubuntu 24.04 "
                       "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), or grade "
                       "as root")
        except (OSError, subprocess.SubprocessError) as err:
            why = f"bubblewrap failed to start: {err}"
    if why:
        raise SandboxUnavailable(why)


_NAMESPACE_FLAGS = ["--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
                    "--cap-drop", "ALL", "--die-with-parent", "--new-session",
                    "--hostname", "sandbox", "--clearenv"]


def _python_mounts() -> list[Path]:
    """Directories the sandboxed Python needs, read-only: the interpreter's installation, the
    venv, and the folder holding the ``frontier`` package (``lib/``, not the repository)."""
    import frontier

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(frontier.__file__).resolve().parents[1]}
    return sorted(p for p in paths if not str(p).startswith("/usr/"))


def bwrap_command(scratch: Path, job: Path, *, disk_mb: int = Limits.disk_mb,
                  trust: bool = False) -> list[str]:
    """The command that runs ``python -m frontier.sandbox`` on ``job``. Its only writable
    places are two size-capped tmpfs (``/submission``, its working folder, and ``/tmp``), so it
    writes nothing to the host's disk. ``trust``: no sandbox at all (the instructor's explicit
    choice); then ``scratch`` is the working folder."""
    python = str(Path(sys.prefix).resolve() / "bin" / "python")
    lib = str(Path(__file__).resolve().parents[1])
    env = {"HOME": SCRATCH, "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": lib,
           "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
           "IPYTHONDIR": f"{SCRATCH}/.ipython", "MPLCONFIGDIR": f"{SCRATCH}/.mpl",
           "FRONTIER_DATA": f"{SCRATCH}/data", "LANG": "C.UTF-8"}
    if trust:
        env.update(HOME=str(scratch), IPYTHONDIR=str(scratch / ".ipython"),
                   MPLCONFIGDIR=str(scratch / ".mpl"), FRONTIER_DATA=str(scratch / "data"))
        return ["env", "-i", *[f"{k}={v}" for k, v in env.items()],
                python, "-m", "frontier.sandbox", str(job)]
    cmd = [bwrap_path() or "bwrap", *_NAMESPACE_FLAGS]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / top
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), f"/{top}"]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), f"/{top}"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for etc in ("ld.so.cache", "ld.so.conf", "localtime", "nsswitch.conf"):
        cmd += ["--ro-bind-try", f"/etc/{etc}", f"/etc/{etc}"]
    size = str(disk_mb * 2**20)
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", size, "--tmpfs", "/tmp",
            "--size", size, "--tmpfs", SCRATCH, "--ro-bind", str(job), JOB]
    for path in _python_mounts():  # after /tmp, in case Python lives under it
        cmd += ["--ro-bind", str(path), str(path)]
    cmd += ["--chdir", SCRATCH]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--", python, "-m", "frontier.sandbox", JOB]


def _set_limits(limits: Limits) -> None:
    """In the child before exec: resource limits that the sandboxed processes inherit. (The
    process count is watched from outside: RLIMIT_NPROC counts all of a user's processes, and
    the kernel does not apply it to root.)"""
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _descendants(pid: int) -> int:
    """How many processes descend from ``pid`` (through /proc/*/task/*/children)."""
    count, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
                count += len(kids)
                todo += kids
        except (OSError, ValueError):
            continue
    return count


class _CappedReader(threading.Thread):
    """Reads a pipe to its end, keeping at most ``cap`` bytes; ``over`` once it had more."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.cap, self.data, self.over = fd, cap, bytearray(), False

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                room = self.cap - len(self.data)
                self.data += chunk[:max(room, 0)]
                if len(chunk) > room:
                    self.over = True
        except OSError:
            pass
        finally:
            os.close(self.fd)


def run(job: dict, workdir: Path, limits: Limits, *, trust: bool = False) -> Run:
    """Run ``job`` (``{"cells": [...], "tests": {...}}``) in a fresh sandbox.

    Never raises for what the submission does; returns what came out, capped and unparsed
    beyond JSON lines (the caller validates). ``workdir``: an empty private folder for the job
    file (read-only inside) and, with ``trust``, the notebook's working folder.
    """
    job_file = workdir / "job.json"
    job_file.write_text(json.dumps(job))
    scratch = workdir / "scratch"
    scratch.mkdir()
    cmd = bwrap_command(scratch, job_file, disk_mb=limits.disk_mb, trust=trust)
    out_r, out_w = os.pipe()
    res_r, res_w = os.pipe()
    cmd.append(str(res_w))  # the runner reports on this descriptor, inherited through bwrap
    cap = limits.output_kb * 1024
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                pass_fds=(res_w,), preexec_fn=lambda: _set_limits(limits),
                                start_new_session=True, cwd=scratch if trust else "/")
    finally:
        os.close(out_w)
        os.close(res_w)
    readers = [_CappedReader(out_r, cap), _CappedReader(res_r, cap)]
    for reader in readers:
        reader.start()
    limit = None
    while proc.poll() is None:
        elapsed = time.monotonic() - start
        if elapsed > limits.seconds:
            limit = "time limit"
        elif any(r.over for r in readers):
            limit = "output limit"
        elif _descendants(proc.pid) > limits.processes + 2:  # + bwrap's own init and python
            limit = "process limit"
        if limit:
            break
        time.sleep(0.1)
    _kill(proc)
    for reader in readers:
        reader.join(timeout=5)  # the pipes close when the sandbox's last process is gone
    if limit is None and any(r.over for r in readers):
        limit = "output limit"
    records = []
    for line in bytes(readers[1].data).decode("utf-8", "replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return Run(proc.returncode if limit is None else None, limit, records,
               bytes(readers[0].data).decode("utf-8", "replace"), time.monotonic() - start)


def _kill(proc: subprocess.Popen) -> None:
    """Kill the sandbox: its process group, then wait (bounded). bwrap's PID namespace takes
    every process the submission started with it; ``--die-with-parent`` covers the rest."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# -- inside the sandbox -----------------------------------------------------------------------
def _emit(stream, record: dict) -> None:
    stream.write(json.dumps(record) + "\n")
    stream.flush()


def _run_example(source: str, namespace: dict) -> dict:
    """Run one doctest example's source as doctest does (``single`` mode: a bare expression
    prints its repr); return what it printed and the exception line if it raised."""
    import io
    import traceback

    buffer = io.StringIO()

    def show(value: object) -> None:
        if value is not None:
            buffer.write(repr(value) + "\n")

    saved = sys.stdout, sys.displayhook  # stdout only, like doctest: warnings are no answer
    sys.stdout, sys.displayhook = buffer, show
    exc = None
    try:
        exec(compile(source, "<test>", "single"), namespace)  # noqa: S102 (runs in the sandbox)
    except BaseException as err:  # noqa: BLE001 (what the test raised is part of its result)
        if isinstance(err, (KeyboardInterrupt, SystemExit)):
            raise
        exc = "".join(traceback.format_exception_only(type(err), err))
    finally:
        sys.stdout, sys.displayhook = saved
    return {"out": buffer.getvalue()[:MAX_EXAMPLE_OUTPUT], "exc": exc and exc[:2000]}


def main(job_path: str, fd: str) -> int:
    """Inside the sandbox: run the cells, then every test example; report on ``fd``."""
    results = os.fdopen(int(fd), "w", encoding="utf-8")
    job = json.loads(Path(job_path).read_text())
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    for index, source in enumerate(job["cells"], 1):
        outcome = shell.run_cell(source, store_history=False)
        error = outcome.error_before_exec or outcome.error_in_exec
        _emit(results, {"cell": index, "error": f"{type(error).__name__}: {error}"[:300]
                        if error is not None else None})
        if isinstance(error, MemoryError):
            _emit(results, {"limit": "memory limit", "cell": index})
            break
    sys.stdout.flush()
    namespace = shell.user_ns
    for question, cases in job["tests"].items():
        for case, examples in enumerate(cases):
            got = [_run_example(source, namespace) for source in examples]
            _emit(results, {"question": question, "case": case, "got": got})
    _emit(results, {"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))

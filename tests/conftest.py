"""What the test files share: the `medcnn-tl` runner, one built wheel, and the markers.

- `cli_command()` / the `cli_argv` fixture: the command line that starts `medcnn-tl` as a user starts it (the console
  script installed beside this Python, else on PATH; as a last resort `python -c` through `medcnn_tl.cli.main`).
- `run_cli(*args)` / the `cli` fixture: run `medcnn-tl ARGS` in a child process and return its `CompletedProcess`
  (`returncode`, `stdout`, `stderr`), with `MPLBACKEND=Agg` and a timeout, so no test waits forever.
- `one_error_line(r, *words)`: a user's mistake ends as exit code 1 and one `medcnn-tl ...: ... Fix: ...` line.
- the `wheel` fixture: `pip wheel` of this checkout, built once per run and shared by the test processes (packaging,
  install cell).
- markers (registered in `pyproject.toml`): `slow` tests are left out unless asked for (`pytest -m slow`, or
  `pytest -m ""` for everything); `browser` tests drive Debian's Chromium.
"""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def cli_command() -> list:
    "The argv prefix that runs `medcnn-tl`: the console script of this Python's environment, else the one on PATH."
    beside = Path(sys.executable).parent/'medcnn-tl'
    exe = str(beside) if beside.exists() else shutil.which('medcnn-tl')
    return [exe] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main(sys.argv[1:]))']

def run_cli(*args, timeout: float = 900, env: dict = None, cwd=None) -> subprocess.CompletedProcess:
    "Run `medcnn-tl ARGS` as a user does from a shell; `env` adds to this process's environment."
    env = {'MPLBACKEND': 'Agg', **os.environ, **(env or {})}
    return subprocess.run(cli_command() + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)

def one_error_line(r, *words) -> bool:
    "True when `r` (a `run_cli` result) failed the way a user's mistake must: exit 1, no traceback, one line with a fix and `words`."
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    return (r.returncode == 1 and 'Traceback' not in r.stderr and len(lines) == 1 and lines[0].startswith('medcnn-tl ')
            and 'Fix:' in lines[0] and all(w in lines[0] for w in words))

@pytest.fixture(scope='session')
def cli_argv() -> list:
    "The command line prefix that starts `medcnn-tl` (for tests that wrap it, e.g. with a memory cap or as a server)."
    return cli_command()

@pytest.fixture(scope='session')
def cli():
    "`cli('train', 'data.npz', '--epochs', '1')` runs the console script and returns its `CompletedProcess`."
    return run_cli

@pytest.fixture(scope='session')
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built once for the whole run (`pip wheel --no-deps --no-build-isolation`): the pytest-xdist
    workers share one build, the first to ask builds it under a file lock."""
    from filelock import FileLock   # a dependency of torch
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base   # the run's folder, common to its workers
    out = shared/'medcnn_wheel'
    with FileLock(str(shared/'medcnn_wheel.lock')):
        if not list(out.glob('medcnn_tl-*.whl')):
            r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(out), str(ROOT)],
                               capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob('medcnn_tl-*.whl')
    return whl

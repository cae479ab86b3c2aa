"""The course as a whole: every lesson teachable (header, questionnaire, exercises, Colab), clean copies current,
the Colab install cell working, and every lesson executed by the README's test command.

What a lesson in `nbs/lessons/` must have (`test_lesson_structure`):
1. first cell: Markdown with an H1 title (`# ...`) and a `> ` subtitle line;
2. in its first four cells, a Markdown cell with the Colab badge linking to the lesson itself:
   `https://colab.research.google.com/github/medcnn-tl/medcnn_tl/blob/main/nbs/lessons/<file name>`;
3. in its first four cells, a Markdown cell with `**Objectives.**`, `**Duration.**`, `**Review sections.**` and
   `**Prerequisites.**`;
4. its first code cell exactly `INSTALL_CELL` below (copy it from any lesson);
5. Markdown headings `## What to remember`, `## Questionnaire` (a numbered list of at least 8 questions in that
   cell) and `## Exercises`, in that order, after the lesson's content;
6. at least one exercise cell (a code cell whose first line starts with `# Exercise`), and its solutions in
   `nbs/lessons/solutions/<same file name>`;
7. its clean copy in `nbs/lessons/clean/` current (`python tools/make_clean.py`).

Each lesson is executed once per CI run, by `nbdev-test` (the README's test command runs every cell of every lesson and
of its solutions but the answer keys' `slow` ones); `test_nbdev_test_runs_every_lesson` checks that nothing takes a lesson out of that run.
`test_lesson_executes` (marked `slow`: `pytest -m slow tests/test_lessons.py`) runs each lesson and answer key (with its
`slow` cells) once more, in a real
Jupyter kernel through nbclient as Jupyter, Voila and `jupyter nbconvert --execute` do, and fails when it takes longer
than `MEDCNN_LESSON_TIMEOUT` seconds (default 600) instead of hanging: run it before teaching, or after changing the
kernel-side stack (ipykernel, pyzmq, nbclient). `MEDCNN_LESSON_RUNS` (default 1) repeats it, to catch a rare hang.
"""
import ast, json, os, re, subprocess, sys, tempfile, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT/'nbs'/'lessons'
sys.path.insert(0, str(ROOT/'tools'))
import make_clean

COLAB = 'https://colab.research.google.com/github/medcnn-tl/medcnn_tl/blob/main/nbs/lessons/'
INSTALL_CELL = """# Colab or a fresh Python: install medcnn_tl first. Where it is already installed this does nothing.
import importlib.util, subprocess, sys
if importlib.util.find_spec('medcnn_tl') is None:
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'medcnn-tl @ git+https://github.com/medcnn-tl/medcnn_tl.git'], check=True)"""
RUNS = int(os.environ.get('MEDCNN_LESSON_RUNS', 1))
TIMEOUT = int(os.environ.get('MEDCNN_LESSON_TIMEOUT', 600))
lessons = make_clean.lessons()

def cells(nb_path):
    "The cells of `nb_path`, each with its source as one string."
    nb = json.loads(Path(nb_path).read_text())
    return [dict(c, source=''.join(c['source'])) for c in nb['cells']]

def heading_index(cs, title):
    "Index of the first Markdown cell that starts with the heading `title` (or -1)."
    return next((i for i, c in enumerate(cs) if c['cell_type'] == 'markdown' and c['source'].lstrip().startswith(title)), -1)

def test_there_are_lessons():
    names = [p.name for p in lessons]
    assert len(names) >= 5 and {'01_cnn_building_blocks.ipynb', '08_literature.ipynb', '09_3d.ipynb'} <= set(names), names

@pytest.mark.parametrize('lesson', lessons, ids=lambda p: p.stem)
def test_lesson_structure(lesson):
    cs = cells(lesson)
    problems = []
    first = cs[0]['source'] if cs else ''
    if not (cs and cs[0]['cell_type'] == 'markdown' and first.startswith('# ') and re.search(r'^> \S', first, re.M)):
        problems.append("the first cell is not Markdown with an H1 title and a '> ' subtitle line")
    top = [c['source'] for c in cs[:4] if c['cell_type'] == 'markdown']
    if not any(f'({COLAB}{lesson.name})' in s and 'colab-badge.svg' in s for s in top):
        problems.append(f"no Colab badge linking to {COLAB}{lesson.name} in the first four cells")
    labels = ['**Objectives.**', '**Duration.**', '**Review sections.**', '**Prerequisites.**']
    if not any(all(l in s for l in labels) for s in top):
        problems.append(f"no header cell with {', '.join(labels)} in the first four cells")
    code = [c for c in cs if c['cell_type'] == 'code']
    if not code or code[0]['source'].strip() != INSTALL_CELL:
        problems.append("the first code cell is not the install cell (copy INSTALL_CELL from tests/test_lessons.py)")
    at = [heading_index(cs, h) for h in ('## What to remember', '## Questionnaire', '## Exercises')]
    if -1 in at or at != sorted(at):
        problems.append(f"headings '## What to remember', '## Questionnaire', '## Exercises' missing or out of order (cells {at})")
    if at[1] >= 0:
        n_questions = len(re.findall(r'^\d+\.\s+\S', cs[at[1]]['source'], re.M))
        if n_questions < 8: problems.append(f"the questionnaire has {n_questions} numbered questions; it needs at least 8")
    if not any(make_clean.is_exercise(c) for c in cs):
        problems.append("no exercise cell (a code cell starting with '# Exercise')")
    if not (LESSONS/'solutions'/lesson.name).exists():
        problems.append(f"no solutions notebook nbs/lessons/solutions/{lesson.name}")
    assert not problems, f"{lesson.name}:\n  " + "\n  ".join(problems)

def test_clean_copies_are_current():
    problems = make_clean.check()
    assert not problems, "\n".join(problems) + "\nFix: python tools/make_clean.py"

def test_clean_copy_empties_exercises_and_keeps_prose():
    lesson = LESSONS/'01_cnn_building_blocks.ipynb'
    clean = cells(LESSONS/'clean'/lesson.name)
    original = cells(lesson)
    md = lambda cs: [c['source'] for c in cs if c['cell_type'] == 'markdown']
    assert set(md(original)) - set(md(clean)) <= {s for s in md(original) if COLAB in s}   # only the badge changes
    exercises = [c for c in clean if make_clean.is_exercise(c)]
    assert exercises and all(len(c['source'].splitlines()) == 1 for c in exercises)
    assert all(not c['outputs'] and c['execution_count'] is None for c in clean if c['cell_type'] == 'code')
    assert any(f'{COLAB}clean/{lesson.name}' in s for s in md(clean))

def test_install_cell_does_nothing_when_installed():
    calls = []
    fake_subprocess = type('fake', (), {'run': staticmethod(lambda *a, **k: calls.append(a))})
    src = INSTALL_CELL.replace('import importlib.util, subprocess, sys', 'import importlib.util, sys')
    exec(compile(src, 'install-cell', 'exec'), {'subprocess': fake_subprocess})
    assert calls == [], "medcnn_tl is importable here, so the cell must not run pip"

def _install_args():
    "The pip arguments of the install cell, read from its code (not typed again here)."
    call = next(n for n in ast.walk(ast.parse(INSTALL_CELL)) if isinstance(n, ast.Call) and getattr(n.func, 'attr', '') == 'run')
    return [ast.literal_eval(e) if isinstance(e, ast.Constant) else None for e in call.args[0].elts]

def test_install_cell_command_installs_the_package(wheel, tmp_path):
    """The cell's pip command, pointed at this checkout's wheel (`wheel`, built once from the checkout as pip builds
    the cell's git URL) instead of GitHub, installs a package that has the samples."""
    args = _install_args()
    assert args[:3] == [None, '-m', 'pip'] and args[3] == 'install'
    requirement = args[-1]
    name, url = [s.strip() for s in requirement.split('@', 1)]
    assert name == 'medcnn-tl' and url.startswith('git+https://github.com/medcnn-tl/medcnn_tl')
    local = f"{name} @ {wheel.as_uri()}"           # the same requirement form, from the local checkout's wheel
    target = tmp_path/'site'
    cmd = [sys.executable] + args[1:-1] + [local, '--no-deps', '--target', str(target)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (target/'medcnn_tl'/'ops.py').exists()
    assert (target/'medcnn_tl'/'data_samples'/'chest_phantom_28.npz').exists(), "the lessons' samples must travel with the package"
    r = subprocess.run([sys.executable, '-c', 'import medcnn_tl; print(medcnn_tl.__file__)'], capture_output=True, text=True,
                       env={**os.environ, 'PYTHONPATH': str(target)}, cwd=tmp_path)
    assert str(target) in r.stdout, r.stdout + r.stderr

def _skip_flags() -> set:
    "The cell flags that the README's test command (`... && nbdev-test ... && ...`) skips: `tst_flags` less its `--flags`."
    import shlex, tomllib
    skip = set(tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev'].get('tst_flags', '').split())
    line = next(l for l in (ROOT/'README.md').read_text().splitlines() if 'pip install' in l and 'nbdev-test' in l)
    words = shlex.split(line)
    words = words[words.index('nbdev-test') + 1:]
    words = words[:words.index('&&')] if '&&' in words else words
    forced = words[words.index('--flags') + 1:] if '--flags' in words else []
    forced = forced[:next((i for i, w in enumerate(forced) if w.startswith('-')), len(forced))]
    return skip - {f for w in forced for f in w.split()}

@pytest.mark.parametrize('folder', ['.', 'solutions'])
def test_nbdev_test_runs_every_lesson(folder):
    """The one execution of each lesson (and solutions notebook) in CI is the README's `nbdev-test`: no `.notest` file
    beside them, no `skip_exec` front matter, and no lesson cell flagged with a flag that command skips. In an answer key
    (solutions), only the answer of an exercise may be flagged `slow` (a longer experiment, run by `nbdev-test --flags
    slow` and by `test_lesson_executes`): never its setup cells, and at least one code cell of each key runs in CI."""
    where = LESSONS/folder
    assert not (where/'.notest').exists(), f"nbs/lessons/{folder}/.notest takes these notebooks out of nbdev-test: nothing else runs them in CI"
    skipped, problems = _skip_flags(), []
    for nb in sorted(where.glob('*.ipynb')):
        cs = cells(nb)
        if cs and re.search(r'^\s*-?\s*skip_exec:\s*true', cs[0]['source'], re.M | re.I): problems.append(f"{nb.name}: skip_exec front matter")
        code = [c for c in cs if c['cell_type'] == 'code']
        flagged = [set(re.findall(r'^#\|\s*(\w+)\s*$', c['source'], re.M)) & skipped for c in code]
        for i, flags in enumerate(flagged):
            allowed = folder == 'solutions' and flags == {'slow'} and i > 0
            if flags and not allowed: problems.append(f"{nb.name} code cell {i}: flagged {sorted(flags)}, which the README's nbdev-test skips")
        if code and all(flagged): problems.append(f"{nb.name}: no code cell runs in CI")
    assert not problems, "\n".join(problems)

def execute(nb_path: Path, out: Path = None) -> float:
    """Execute `nb_path` in a fresh kernel with nbclient from its own folder; returns the seconds it took.

    nbclient waits for each reply with `socket.poll(timeout)` on pyzmq's asyncio sockets. Their wake-ups are
    edge-triggered: when one is lost (seen in about one run in three of lesson 01, on the cell that displays a widget
    and floods IOPub with comm messages), the reply already sits in the socket but nothing wakes the poll, which only
    finds it when its timeout fires: the run then sits on an idle kernel for the whole cell timeout and exits 0.
    Polling in 1-second slices bounds a lost wake-up to 1 second."""
    import nbformat
    from queue import Empty
    from nbclient import NotebookClient

    def sliced(get_msg):
        async def get_msg_sliced(timeout=None):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
                try: return await get_msg(timeout=left)
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline: raise
        return get_msg_sliced

    class SlicedPollClient(NotebookClient):
        async def async_start_new_kernel_client(self):
            kc = await super().async_start_new_kernel_client()
            for channel in (kc.shell_channel, kc.iopub_channel): channel.get_msg = sliced(channel.get_msg)
            return kc

    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:   # `#| eval: false` cells are shown, not run, as nbdev-test and Quarto do
        if c.cell_type == 'code' and re.match(r'\s*#\|\s*eval:\s*false', c.source):
            c.metadata.setdefault('tags', []).append('skip-execution')   # nbclient's skip_cells_with_tag
    t = time.time()
    SlicedPollClient(nb, timeout=TIMEOUT, kernel_name='python3', resources={'metadata': {'path': str(nb_path.parent)}}).execute()
    if out: nbformat.write(nb, out)
    return time.time() - t

@pytest.mark.slow
@pytest.mark.parametrize('lesson', lessons + sorted((LESSONS/'solutions').glob('*.ipynb')),
                         ids=lambda p: p.stem if p.parent == LESSONS else f'solutions/{p.stem}')
def test_lesson_executes(lesson):
    "Each lesson runs top to bottom in a real kernel, `RUNS` times, each run inside `TIMEOUT` seconds."
    times = []
    for run in range(RUNS):
        t = time.time()
        try:
            r = subprocess.run([sys.executable, __file__, str(lesson)], capture_output=True, text=True, timeout=TIMEOUT + 60,
                               env={**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})
        except subprocess.TimeoutExpired:
            pytest.fail(f"{lesson.name}: run {run + 1} did not finish in {TIMEOUT + 60} s (a hung kernel or client)")
        assert r.returncode == 0, f"{lesson.name}, run {run + 1}:\n{r.stderr[-4000:]}"
        times.append(time.time() - t)
    print(f"{lesson.name}: " + ", ".join(f"{s:.0f} s" for s in times))

if __name__ == '__main__':   # used by test_lesson_executes: execute one notebook in this process's own kernel client
    print(f"{execute(Path(sys.argv[1]).resolve()):.1f}")

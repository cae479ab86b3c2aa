"""Build the documentation site's inputs and render every notebook, without Quarto.

Quarto cannot be installed everywhere (its pip package downloads a binary), so CI proves the docs pipeline with
what runs offline:
1. every library notebook and dashboard in `nbs/` executed (execnb, as nbdev-test does, in its own folder) into `_exec_nbs/`, so
   the docs show real outputs (the notebooks are committed without them); lessons render as committed (CI executes them
   three times elsewhere); `--no-execute` skips this and uses `nbs/` as it is;
2. nbdev's own pre-processing, exactly what `nbdev-proc-nbs` does minus its Quarto download: refresh `nbs/nbdev.yml`,
   rebuild `_modidx.py`, write `nbs/sidebar.yml`, and process every notebook into `_proc/` (show_doc, hidden cells,
   directives resolved);
3. a real render: every processed notebook converted to HTML by nbconvert into `_docs/`.
With Quarto installed, `nbdev-docs` builds the full site from the same notebooks instead.

Usage: python tools/build_docs.py [--no-execute] [--workers N]
"""
import argparse, json, os, re, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def to_html(nb: Path, dest: Path) -> tuple:
    "Convert `nb` to HTML in `dest` with nbconvert (stored outputs, no execution); returns (nb, seconds, error or None)."
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, '-m', 'nbconvert', '--to', 'html', str(nb), '--output-dir', str(dest)]
    # in a virtual environment nbconvert's templates may sit under the base interpreter's share/jupyter
    jupyter_path = os.pathsep.join(filter(None, [os.environ.get('JUPYTER_PATH'), str(Path(sys.base_prefix)/'share'/'jupyter')]))
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=nb.parent, env={**os.environ, 'JUPYTER_PATH': jupyter_path})
    return nb, time.time() - t, None if r.returncode == 0 else r.stderr[-3000:]

def execute_one(nb: Path):
    "Execute `nb` in place, in this process, from its own folder, with execnb (the engine of nbdev-test and nbdev's docs)."
    from fastcore.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.chdir(nb.parent)
    d = read_nb(nb)
    def skip(cell):   # nbdev's `eval: false` (network) cells, and the closing `nbdev_export()`, which would rewrite the library
        src = cell.source or ''
        return 'nbdev_export()' in src or bool(re.search(r'^#\|\s*eval:\s*false', src, re.M | re.I))
    CaptureShell().run_all(d, exc_stop=True, preproc=skip, cell_timeout=900)
    write_nb(d, nb)

def _notest(nb: Path) -> bool:
    "A notebook in a folder holding `.notest` (the lessons' clean exercise copies): not executed, as nbdev-test skips it."
    return any((d/'.notest').exists() for d in nb.parents)

def execute_all(nbs_path: Path, out: Path, workers: int) -> list:
    "Copy `nbs_path` to `out` (a sibling, so relative paths still hold) and execute every notebook there in place."
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(nbs_path, out, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    # lessons and their solutions are executed three times already in CI (nbdev-test, and twice by tests/test_lessons.py):
    # here they render as committed; the library notebooks are executed so their pages show real outputs
    nbs = sorted(nb for nb in out.rglob('*.ipynb') if not _notest(nb) and 'lessons' not in nb.relative_to(out).parts)
    def run(nb):   # one process per notebook, as nbdev-test does: no state shared between notebooks
        t = time.time()
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), '--execute-one', str(nb)], capture_output=True, text=True,
                           env={**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})
        return nb, time.time() - t, None if r.returncode == 0 else r.stderr[-3000:]
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(run, nbs))

def preprocess(root: Path, path: Path) -> Path:
    "nbdev's docs pre-processing of the notebooks in `path` into `_proc/` (nbdev-proc-nbs without the Quarto install)."
    os.chdir(root)
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    cfg = get_config()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    _only_docs_cells()
    return proc_nbs(path, n_workers=0, force=True)

def _only_docs_cells():
    """Make nbdev's docs step run only what `show_doc` needs: exported cells, `show_doc` cells and cells of imports alone.
    nbdev also runs any cell that contains an import somewhere, so a test cell with an import inside fails there on
    names the skipped cells define. Those cells' outputs come from the executed copy (`execute_all`) instead."""
    import ast, nbdev.processors as P
    if getattr(P._do_eval, 'medcnn_docs', False): return
    original = P._do_eval
    def do_eval(cell):
        if not original(cell): return None
        trees = cell.parsed_()
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or P._show_docs(trees): return True
        return all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees) or None
    do_eval.medcnn_docs = True
    P._do_eval = do_eval

_CELL_KEYS = {'cell_type', 'id', 'metadata', 'source', 'outputs', 'execution_count', 'attachments'}

def to_standard_nbformat(nb: Path):
    "Make a processed notebook plain nbformat: drop what nbdev adds for Quarto (`has_sd`, front matter, timing records)."
    d = json.loads(nb.read_text())
    # the YAML front matter nbdev writes as a raw cell is for Quarto; nbconvert would print it as text
    d['cells'] = [c for c in d.get('cells', []) if not (c['cell_type'] == 'raw' and ''.join(c['source']).startswith('---'))]
    for cell in d['cells']:
        for k in set(cell) - _CELL_KEYS: del cell[k]
        cell.get('metadata', {}).pop('execution', None)   # timing records, partly rewritten by nbdev as numbers
    nb.write_text(json.dumps(d, indent=1, ensure_ascii=False))

def render(nb: Path, proc: Path, out: Path) -> tuple:
    "Render one processed notebook to HTML (its stored outputs, no execution)."
    to_standard_nbformat(nb)
    return to_html(nb, out/nb.relative_to(proc).parent)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--no-execute', action='store_true', help='render stored outputs only (fast)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--execute-one', type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.execute_one: return execute_one(args.execute_one.resolve())
    root = Path(__file__).resolve().parent.parent
    source = root/'nbs'
    results = []
    if not args.no_execute:
        results = execute_all(source, root/'_exec_nbs', args.workers)
        source = root/'_exec_nbs'
    proc = preprocess(root, source)
    out = root/'_docs'
    nbs = sorted(p for p in proc.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    if not nbs: sys.exit("build_docs: no processed notebooks found in _proc/. Fix: run from a clone with nbs/")
    with ThreadPoolExecutor(args.workers) as ex:
        results += list(ex.map(lambda nb: render(nb, proc, out), nbs))
    failed = [(nb, err) for nb, _, err in results if err]
    for nb, secs, err in results: print(f"{'FAILED' if err else 'ok    '} {secs:6.1f}s  {nb.relative_to(root)}")
    for nb, err in failed: print(f"\n--- {nb.relative_to(root)} ---\n{err}")
    html = list(out.rglob('*.html'))
    print(f"build_docs: {len(html)} HTML pages in {out}, {len(failed)} failed")
    sys.exit(1 if failed or len(html) < len(nbs) else 0)

if __name__ == '__main__': main()

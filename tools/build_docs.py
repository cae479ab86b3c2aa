"""Build the documentation site's inputs and render every notebook, without Quarto.

Quarto cannot be installed everywhere (its pip package downloads a binary), so CI proves the docs pipeline with
what runs offline:
1. nbdev's own pre-processing, exactly what `nbdev-proc-nbs` does minus its Quarto download: refresh `nbs/nbdev.yml`,
   rebuild `_modidx.py`, write `nbs/sidebar.yml`, and process every notebook into `_proc/` (show_doc, hidden cells,
   directives resolved);
2. a real render: every processed notebook executed and converted to HTML by nbconvert into `_docs/`.
With Quarto installed, `nbdev-docs` builds the full site from the same `_proc/` folder instead.

Usage: python tools/build_docs.py [--no-execute] [--workers N]
"""
import argparse, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

def preprocess(root: Path) -> Path:
    "nbdev's docs pre-processing into `_proc/` (nbdev-proc-nbs without the Quarto install step)."
    os.chdir(root)
    from nbdev.config import get_config
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
    from nbdev.serve import proc_nbs
    import nbdev.doclinks
    cfg = get_config()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    return proc_nbs(cfg.nbs_path, n_workers=0)

def render(nb: Path, proc: Path, out: Path, execute: bool) -> tuple:
    "Render one processed notebook to HTML with nbconvert; returns (notebook, seconds, error or None)."
    dest = out/nb.relative_to(proc).parent
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, '-m', 'nbconvert', '--to', 'html', '--output-dir', str(dest), str(nb),
           '--ExecutePreprocessor.timeout=900']
    if execute: cmd.append('--execute')
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=nb.parent, env={**os.environ, 'MPLBACKEND': 'Agg'})
    return nb, time.time() - t, None if r.returncode == 0 else r.stderr[-3000:]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--no-execute', action='store_true', help='render stored outputs only (fast)')
    ap.add_argument('--workers', type=int, default=2)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    proc = preprocess(root)
    out = root/'_docs'
    nbs = sorted(p for p in proc.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
    if not nbs: sys.exit("build_docs: no processed notebooks found in _proc/. Fix: run from a clone with nbs/")
    with ThreadPoolExecutor(args.workers) as ex:
        results = list(ex.map(lambda nb: render(nb, proc, out, not args.no_execute), nbs))
    failed = [(nb, err) for nb, _, err in results if err]
    for nb, secs, err in results: print(f"{'FAILED' if err else 'ok    '} {secs:6.1f}s  {nb.relative_to(proc)}")
    for nb, err in failed: print(f"\n--- {nb.relative_to(proc)} ---\n{err}")
    html = list(out.rglob('*.html'))
    print(f"build_docs: {len(html)} HTML pages in {out}, {len(failed)} failed")
    sys.exit(1 if failed or len(html) < len(nbs) else 0)

if __name__ == '__main__': main()

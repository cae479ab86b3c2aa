"""Build the documentation site into `_docs/` without Quarto, from the committed notebooks.

Needs nothing beyond `pip install -e .` (nbdev, nbconvert and execnb come with it; the `dev` extra is not needed:
test-only imports such as `hypothesis` are skipped when they are not installed).

Quarto cannot be installed everywhere (its pip package downloads a binary), so this renders the site with what
runs offline, resolving Quarto's cell options the way Quarto does:
1. (without `--no-execute`) every library notebook and dashboard executed (execnb, as nbdev-test does) into
   `_exec_nbs/`, so their pages show outputs; lessons render as committed. CI runs `--no-execute`: the library
   notebooks were executed once already by nbdev-test, and the lessons are committed with their outputs.
2. nbdev's own pre-processing, what `nbdev-proc-nbs` does minus its Quarto download: refresh `nbs/nbdev.yml`,
   rebuild `_modidx.py`, write `nbs/sidebar.yml`, and process every notebook into `_proc/` (`show_doc` cells added
   and executed for the exported names, hidden cells dropped, titles moved to front matter). Only what `show_doc`
   needs runs (exported cells, `show_doc` cells, cells of imports alone): no whole library notebook is executed.
3. a render: every processed notebook to an HTML page with nbconvert, inside one layout: page title and subtitle
   from the notebook's `# H1` and `> subtitle`, a sidebar linking every page (home, lessons, solutions, dashboards,
   library), no prompts, `echo`/`output`/`eval`/`include: false` resolved, no `#|` line left, images embedded,
   links between notebooks pointing at the local pages. The lessons' clean exercise copies are not pages.
4. a check of every page: no `#|` directive, no `In [ ]:` prompt, every page reachable from the sidebar.
With Quarto installed, `nbdev-docs` builds the Quarto site from the same notebooks instead (`nbs/_quarto.yml`).

Usage: python tools/build_docs.py [--no-execute] [--workers N] [--out DIR]
"""
import argparse, ast, html, json, os, posixpath, re, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_URL = 'https://github.com/medcnn-tl/medcnn_tl'   # overwritten from nbs/nbdev.yml when it names one

# ---------------------------------------------------------------------------------------------------- 1. execute
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
    "Copy `nbs_path` to `out` (a sibling, so relative paths still hold) and execute the library notebooks and dashboards there."
    if out.exists(): shutil.rmtree(out)
    shutil.copytree(nbs_path, out, ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    nbs = sorted(nb for nb in out.rglob('*.ipynb') if not _notest(nb) and 'lessons' not in nb.relative_to(out).parts)
    def run(nb):   # one process per notebook, as nbdev-test does: no state shared between notebooks
        t = time.time()
        r = subprocess.run([sys.executable, str(Path(__file__).resolve()), '--execute-one', str(nb)], capture_output=True, text=True,
                           env={**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})
        return nb, time.time() - t, None if r.returncode == 0 else r.stderr[-3000:]
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(run, nbs))

# ------------------------------------------------------------------------------------------------- 2. nbdev's step
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
    _plain_signatures()
    return proc_nbs(path, n_workers=0, force=True)

def _importable(trees) -> bool:
    "Whether every module imported by `trees` (a cell of imports alone) imports here."
    import importlib
    mods = [a.name for t in trees if isinstance(t, ast.Import) for a in t.names]
    mods += [t.module for t in trees if isinstance(t, ast.ImportFrom) and t.module and not t.level]
    for m in mods:
        try: importlib.import_module(m)
        except Exception: return False   # not installed, or broken without an optional package (fastai.distributed needs accelerate)
    return True

def _only_docs_cells():
    """Make nbdev's docs step run only what `show_doc` needs: exported cells, `show_doc` cells and cells of imports alone.
    nbdev also runs any cell that contains an import somewhere, so a test cell with an import inside fails there on
    names the skipped cells define. A cell of imports of a package that is not installed (a test-only package of the
    `dev` extra, such as `hypothesis`) is skipped too: exported code never needs it, and the build needs no extra."""
    import nbdev.processors as P
    if getattr(P._do_eval, 'medcnn_docs', False): return
    original = P._do_eval
    def do_eval(cell):
        import warnings
        with warnings.catch_warnings():   # nbdev's "cells containing imports and other code" notice: such cells do not run here
            warnings.simplefilter('ignore')
            if not original(cell): return None
        trees = cell.parsed_()
        if cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'} or P._show_docs(trees): return True
        return (all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees) and _importable(trees)) or None
    do_eval.medcnn_docs = True
    P._do_eval = do_eval

def _plain_signatures():
    """`show_doc` signatures as written: fastcore gives an unannotated parameter the type of its default, so
    `window=None` reads `window:NoneType=None` and `k=3` reads `k:int=3`. Show the annotation only where the code has one."""
    import fastcore.docments as D
    def _get_full(p, docs, eval_str=False):
        return D.AttrDict(docment=docs.get(p.name), anno=p.annotation, default=p.default, kind=p.kind)
    D._get_full = _get_full

# ---------------------------------------------------------------------------------------------------- 3. render
_DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def _front_matter(cells) -> dict:
    "The YAML front matter nbdev writes as the first raw cell (title, description, output-file), or {}."
    import yaml
    for c in cells:
        src = ''.join(c.get('source', ''))
        if c['cell_type'] == 'raw' and src.lstrip().startswith('---'):
            return yaml.safe_load(src.strip().strip('-')) or {}
    return {}

def quarto_cells(cells) -> list:
    """Resolve Quarto's cell options as Quarto does and remove every `#|` line: `include: false` drops the cell,
    `echo: false` keeps the output only, `output: false` the code only, `eval: false` shows the code without output;
    raw cells (front matter) and nbdev's generated-file warning go; an empty code cell without output goes."""
    out = []
    for c in cells:
        src = ''.join(c.get('source', ''))
        if c['cell_type'] == 'raw' or src.startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
        if c['cell_type'] != 'code':
            out.append(c); continue
        lines, opts = src.splitlines(), {}
        while lines and (m := _DIRECTIVE.match(lines[0])):
            opts[m.group(1).lower()] = m.group(2).strip('\'"').lower(); lines.pop(0)
        lines = [l for l in lines if not _DIRECTIVE.match(l)]
        if opts.get('include') == 'false': continue
        c = {**c, 'source': '\n'.join(lines).strip('\n'), 'metadata': {k: v for k, v in c.get('metadata', {}).items() if k != 'execution'}}
        if opts.get('echo') == 'false' or not c['source'].strip(): c['metadata']['transient'] = {'remove_source': True}
        if opts.get('output') == 'false' or opts.get('eval') == 'false': c['outputs'] = []
        if not c['source'].strip() and not c.get('outputs'): continue
        for o in c.get('outputs', []):   # show_doc's markdown: Quarto's link attributes become HTML
            md = o.get('data', {}).get('text/markdown')
            if md is not None: o['data']['text/markdown'] = _quarto_md(''.join(md))
        out.append(c)
    return out

def _quarto_md(md: str) -> str:
    "Markdown with Quarto's `[text](url){attrs}` links made HTML (nbdev's `show_doc` source link), dead `#LNone` anchors dropped."
    def link(m):
        url = m.group(2).replace('#LNone', '')
        return f'<a class="source-link" href="{html.escape(url)}" target="_blank">{html.escape(m.group(1))}</a>'
    return re.sub(r'\[([^\]]+)\]\(([^)\s]+)\)\{[^}]*\}', link, md)

class Page:
    "One page of the site: the processed notebook `nb` (under `proc`), its title, subtitle, and where its HTML goes."
    def __init__(self, nb: Path, proc: Path):
        self.nb, self.rel = nb, nb.relative_to(proc)
        self.data = json.loads(nb.read_text())
        fm = _front_matter(self.data.get('cells', []))
        self.title = str(fm.get('title') or self.rel.stem)
        self.description = str(fm.get('description') or '')
        name = fm.get('output-file') or self.rel.with_suffix('.html').name
        self.html = (self.rel.parent/name).as_posix()             # site-relative, as Quarto names it
        folder = self.rel.parts[0] if len(self.rel.parts) > 1 else ''
        self.section = {'lessons': 'Lessons', 'dashboards': 'Dashboards'}.get(folder, 'Library')
        if self.rel.parts[:2] == ('lessons', 'solutions'): self.section = 'Solutions'
        if self.rel.as_posix() == 'index.ipynb': self.section = 'Home'

SECTIONS = ['Home', 'Lessons', 'Solutions', 'Dashboards', 'Library']

def _rel(target: str, page: 'Page') -> str:
    "The relative URL from `page` to the site path `target`."
    return posixpath.relpath(target, posixpath.dirname(page.html) or '.')

def _inline(text: str) -> str:
    "`text` as HTML, with its `code` spans as code (titles such as 'The `medcnn-tl` command')."
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(text))

def _root(page: 'Page') -> str:
    "The relative URL from `page` to the site's root folder ('' or '../' ...)."
    r = posixpath.relpath('.', posixpath.dirname(page.html) or '.')
    return '' if r == '.' else r + '/'

def sidebar(pages: list, here: 'Page') -> str:
    "The sidebar: every page, by section, the current one marked."
    parts = []
    for sec in SECTIONS:
        items = [p for p in pages if p.section == sec]
        if not items: continue
        lis = ''.join(f'<li><a href="{_rel(p.html, here)}"{" class=active" if p is here else ""}>{_inline(p.title)}</a></li>'
                      for p in items)
        parts.append(f'<div class="sidebar-section"><h2>{sec}</h2><ul>{lis}</ul></div>')
    return ''.join(parts)

def rewrite_links(body: str, page: 'Page', by_source: dict, site_url: str) -> str:
    """Point links at the site's own pages: a relative `x.ipynb` link, a GitHub link to a notebook under `nbs/` and a
    link to the published site become relative links to the local page; a relative link to another file of the
    repository becomes its GitHub address; backticked notebook paths (`nbs/00_core.ipynb`) become links."""
    src_dir = posixpath.dirname(page.rel.as_posix())
    blob = f'{REPO_URL}/blob/main/'
    def local(nbs_path, frag=''):   # a path relative to nbs/ -> relative URL of its page, or None
        p = by_source.get(posixpath.normpath(nbs_path))
        return _rel(p.html, page) + frag if p else None
    def href(m):
        url = m.group(2)
        path, frag = (url.split('#', 1) + [''])[:2]
        frag = '#' + frag if frag else ''
        new = None
        if url.startswith(blob + 'nbs/') and path.endswith('.ipynb'): new = local(path[len(blob) + 4:], frag)
        elif site_url and url.startswith(site_url):
            target = path[len(site_url):].lstrip('/') or 'index.html'
            if any(p.html == target for p in by_source.values()): new = _rel(target, page) + frag
        elif not re.match(r'^[a-z][\w+.-]*:|^#|^/', url) and path:
            full = posixpath.normpath(posixpath.join(src_dir, path))
            if path.endswith('.ipynb'): new = local(full, frag)
            repo_path = posixpath.normpath(posixpath.join('nbs', full))
            if new is None and not repo_path.startswith('..'): new = blob + repo_path + frag   # another file of the repository
        return f'{m.group(1)}="{html.escape(new)}"' if new else m.group(0)
    body = re.sub(r'(href)="([^"]+)"', href, body)
    def code(m):
        p = by_source.get(m.group(1)[len('nbs/'):])
        return f'<a href="{_rel(p.html, page)}">{m.group(0)}</a>' if p else m.group(0)
    return re.sub(r'(?<!">)<code>(nbs/[\w/.-]+\.ipynb)</code>', code, body)

SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{plain_title} – {site}</title>
<meta name="description" content="{description}">
<link rel="stylesheet" href="{root}site.css">
<link rel="stylesheet" href="{root}styles.css">
<script>window.MathJax = {{tex: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true}}}};</script>
<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>
</head>
<body>
<header class="navbar"><a class="brand" href="{root}index.html">{site}</a><span class="tagline">{tagline}</span>
<a class="repo" href="{repo}">GitHub</a></header>
<div class="layout">
<nav class="sidebar" aria-label="pages">{sidebar}</nav>
<main class="content">
<header class="page-header"><h1 class="title">{title}</h1>{subtitle}</header>
{body}
</main>
</div>
</body>
</html>
"""

SITE_CSS = """
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.55; color: #212529; }
.navbar { position: sticky; top: 0; z-index: 10; display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1.2rem;
          background: #2780e3; color: white; }
.navbar a { color: white; text-decoration: none; } .navbar .brand { font-weight: 600; font-size: 1.2rem; }
.navbar .tagline { opacity: .85; font-size: .9rem; flex: 1; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.layout { display: flex; align-items: flex-start; }
.sidebar { position: sticky; top: 3rem; flex: 0 0 17rem; max-height: calc(100vh - 3rem); overflow-y: auto; padding: 1rem;
           border-right: 1px solid #dee2e6; font-size: .9rem; box-sizing: border-box; }
.sidebar h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: #6c757d; margin: 1rem 0 .3rem; }
.sidebar ul { list-style: none; margin: 0; padding: 0; } .sidebar li { margin: .15rem 0; }
.sidebar a { color: #343a40; text-decoration: none; } .sidebar a:hover { color: #2780e3; }
.sidebar a.active { color: #2780e3; font-weight: 600; }
.content { flex: 1; min-width: 0; max-width: 60rem; padding: 1rem 2rem 4rem; }
.page-header { margin-bottom: 1.5rem; } .page-header h1 { margin-bottom: .3rem; }
.page-header .description { font-size: 1.2rem; font-style: italic; opacity: .75; margin-top: 0; }
a { color: #2780e3; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; display: block; overflow-x: auto; }
th, td { border-bottom: 1px solid #dee2e6; padding: .25rem .6rem; text-align: left; vertical-align: top; }
code { font-size: .88em; background: #f6f8fa; padding: 0 .2em; border-radius: 3px; }
pre { background: #f6f8fa; padding: .6rem .8rem; overflow-x: auto; border-radius: 4px; font-size: .85rem; line-height: 1.4; }
pre code { background: none; padding: 0; }
.cell { margin: .8rem 0; } .input_area pre, .highlight pre { margin: 0; }
.text_cell_render .highlight, .text_cell_render > pre { margin: .8rem 0; }   /* consecutive code blocks stay apart */
a.anchor-link { margin-left: .3em; opacity: 0; text-decoration: none; font-size: .8em; } :hover > a.anchor-link { opacity: .5; }
.output_area .output_markdown pre { border-left: none; background: #f6f8fa; margin-left: 0; }
.output_area pre { background: none; border-left: 2px solid lightsalmon; margin: .2rem 0 0 .8rem; }
.output_stderr pre { background: #fff5f5; }
.output_area img { max-width: 100%; height: auto; }
.output_markdown h3 { margin-top: 1.8rem; font-family: ui-monospace, monospace; }
a.source-link { float: right; font-size: smaller; }
@media (max-width: 60rem) { .layout { display: block; } .sidebar { position: static; max-height: none; border-right: none; } }
"""

def render_page(page: 'Page', pages: list, by_source: dict, out: Path, site: dict) -> tuple:
    "Render `page` to its HTML file in `out`; returns (page, seconds, error or None)."
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor   # noqa: F401 (nbconvert present: checked in main)
    t = time.time()
    try:
        d = dict(page.data); d['cells'] = quarto_cells(d.get('cells', []))
        d['metadata'] = {k: v for k, v in d.get('metadata', {}).items() if k in ('kernelspec', 'language_info')}
        nb = nbformat.reads(json.dumps(d), as_version=4)
        ex = HTMLExporter(template_name='basic', exclude_input_prompt=True, exclude_output_prompt=True)
        ex.log.setLevel('ERROR')   # its notice on images without alternative text: they get one below
        body, _ = ex.from_notebook_node(nb)
        body = rewrite_links(body, page, by_source, site['url'])
        body = re.sub(r'<img (?![^>]*\balt=)', '<img alt="Figure" ', body)   # a figure without alternative text
        sub = f'<p class="description">{_inline(page.description)}</p>' if page.description else ''
        doc = SHELL.format(title=_inline(page.title), plain_title=html.escape(page.title.replace('`', '')), site=html.escape(site['title']), description=html.escape(page.description.replace('`', '')),
                           tagline=html.escape(site['description']), repo=REPO_URL, root=_root(page),
                           sidebar=sidebar(pages, page), subtitle=sub, body=body)
        dest = out/page.html
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(doc)
        return page, time.time() - t, None
    except Exception as e:
        import traceback
        return page, time.time() - t, traceback.format_exc()[-3000:]

def _site_config(nbs_path: Path) -> dict:
    "Title, description and address of the site, from `nbs/nbdev.yml` (nbdev writes it from pyproject's [tool.nbdev])."
    import yaml
    global REPO_URL
    cfg = yaml.safe_load((nbs_path/'nbdev.yml').read_text()) if (nbs_path/'nbdev.yml').exists() else {}
    w = cfg.get('website', {}) or {}
    REPO_URL = (w.get('repo-url') or REPO_URL).rstrip('/')
    return dict(title=w.get('title', 'medcnn_tl'), description=w.get('description', ''), url=(w.get('site-url') or '').rstrip('/') + '/')

def site_pages(proc: Path) -> list:
    "Every page of the site: the processed notebooks, without the lessons' clean exercise copies; home first."
    nbs = sorted(p for p in proc.rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and 'clean' not in p.relative_to(proc).parts)
    pages = [Page(nb, proc) for nb in nbs]
    return sorted(pages, key=lambda p: (SECTIONS.index(p.section), p.rel.as_posix()))

# ----------------------------------------------------------------------------------------------------- 4. check
def check_site(out: Path, pages: list) -> list:
    "Problems on the built pages: a `#|` directive or an `In [..]:` prompt in the text, a page the sidebar does not link."
    problems = []
    for p in pages:
        f = out/p.html
        if not f.exists(): problems.append(f'{p.html}: not written'); continue
        text = re.sub(r'<[^>]+>', '', re.sub(r'<(script|style)\b.*?</\1>', '', f.read_text(), flags=re.S))
        text = html.unescape(text)
        if '#|' in text: problems.append(f'{p.html}: a raw "#|" directive shows: ...{text[max(0, text.index("#|") - 60):text.index("#|") + 60]!r}...')
        if m := re.search(r'(In|Out)\s*\[[\d ]*\]:', text): problems.append(f'{p.html}: a prompt shows: {m.group(0)!r}')
    return problems

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--no-execute', action='store_true', help='render stored outputs only (fast; what CI runs)')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', type=Path, help='where to write the site (default: _docs/ in the repository)')
    ap.add_argument('--execute-one', type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.execute_one: return execute_one(args.execute_one.resolve())
    missing = [m for m in ('nbdev', 'nbconvert', 'execnb', 'yaml') if not _can_import(m)]
    if missing:
        sys.exit(f"build_docs: {', '.join(missing)} not installed. Fix: pip install -e . (the docs need no extra beyond it)")
    root = Path(__file__).resolve().parent.parent
    out = (args.out or root/'_docs').resolve()
    source = root/'nbs'
    t0, results = time.time(), []
    if not args.no_execute:
        results = [(nb.relative_to(root), s, e) for nb, s, e in execute_all(source, root/'_exec_nbs', args.workers)]
        source = root/'_exec_nbs'
    proc = preprocess(root, source)
    print(f"build_docs: nbdev's pre-processing done in {time.time() - t0:.0f}s")
    pages = site_pages(proc)
    if not pages: sys.exit("build_docs: no processed notebooks found in _proc/. Fix: run from a clone with nbs/")
    site = _site_config(root/'nbs')
    by_source = {p.rel.as_posix(): p for p in pages}
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    from pygments.formatters import HtmlFormatter
    (out/'site.css').write_text(SITE_CSS + HtmlFormatter(style='default').get_style_defs('.highlight'))
    if (root/'nbs'/'styles.css').exists(): shutil.copy(root/'nbs'/'styles.css', out/'styles.css')
    with ThreadPoolExecutor(args.workers) as ex:
        rendered = list(ex.map(lambda p: render_page(p, pages, by_source, out, site), pages))
    results += [(Path('_proc')/p.rel, s, e) for p, s, e in rendered]
    failed = [(nb, err) for nb, _, err in results if err]
    for nb, secs, err in results: print(f"{'FAILED' if err else 'ok    '} {secs:6.1f}s  {nb}")
    for nb, err in failed: print(f"\n--- {nb} ---\n{err}")
    problems = check_site(out, pages)
    for p in problems: print('PROBLEM', p)
    print(f"build_docs: {len(list(out.rglob('*.html')))} HTML pages in {out} in {time.time() - t0:.0f}s, "
          f"{len(failed)} failed, {len(problems)} problems; open {out/'index.html'}")
    # exit without the interpreter's teardown: freeing what nbdev's show_doc step imported (torch, fastai, an IPython
    # shell) took over a minute on a loaded 2-core machine, after the site was written
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(1 if failed or problems else 0)

def _can_import(m: str) -> bool:
    import importlib.util
    try: return importlib.util.find_spec(m) is not None
    except (ImportError, ValueError): return False

if __name__ == '__main__': main()

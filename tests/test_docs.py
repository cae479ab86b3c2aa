"""The docs site (`tools/build_docs.py`): Quarto's cell options resolved, no prompts, titles from the notebooks, a
sidebar of every page, lessons with their figures, readable `show_doc` signatures; checked in Chromium.

`test_site` builds the whole site into a temporary folder (about a minute and a half on 2 cores); where the site
is already built from the same tree, point `MEDCNN_DOCS_SITE` at it to check that one instead.
"""
import base64, io, json, os, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import build_docs   # noqa: E402

CHROMIUM = next((p for p in (os.environ.get('CHROMIUM'), shutil.which('chromium'), '/usr/bin/chromium') if p and Path(p).exists()), None)

@pytest.fixture(scope='module')
def browser():
    sync_api = pytest.importorskip('playwright.sync_api', reason='playwright is not installed (pip install -e ".[dev]")')
    if CHROMIUM is None: pytest.skip('no Chromium found (apt-get install chromium, or set CHROMIUM to its path)')
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu'])
        yield b
        b.close()

def open_page(browser, path: Path):
    "A Chromium tab on the local file `path`, with every network request refused (the site must read offline)."
    tab = browser.new_page()
    tab.route(re.compile(r'^https?://'), lambda route: route.abort())
    tab.goto(path.as_uri(), wait_until='load')
    return tab

def decoded_images(tab) -> list:
    "naturalWidth of every <img> on the page that decoded (0 for one that did not)."
    return tab.eval_on_selector_all('img', 'els => els.map(e => e.complete ? e.naturalWidth : 0)')

# -------------------------------------------------------------------------------- the renderer, on a tiny notebook
def _png() -> str:
    "A 40×30 PNG drawn by matplotlib, base64 (as a notebook stores a figure)."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(0.4, 0.3), dpi=100); plt.plot([0, 1], [1, 0])
    buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()

def _text(html: str) -> str:
    "The text of an HTML page, tags and scripts removed."
    import html as h
    return h.unescape(re.sub(r'<[^>]+>', '', re.sub(r'<(script|style)\b.*?</\1>', '', html, flags=re.S)))

def _code(src, outputs=()): return dict(cell_type='code', metadata={}, execution_count=3, source=src, outputs=list(outputs))
def _stream(text): return dict(output_type='stream', name='stdout', text=text)

@pytest.fixture(scope='module')
def tiny_site(tmp_path_factory):
    "A processed notebook as nbdev leaves it (front matter, directives, stored outputs) rendered by build_docs into a folder."
    proc, out = tmp_path_factory.mktemp('proc'), tmp_path_factory.mktemp('site')
    png = _png()
    cells = [dict(cell_type='raw', metadata={}, source='---\ntitle: "A tiny `lesson`"\ndescription: The subtitle\noutput-file: tiny.html\n---\n'),
             dict(cell_type='markdown', metadata={}, source='Some prose, and [the other page](02_other.ipynb).'),
             _code('#| echo: false\nSOURCE_OF_A_FIGURE = 1', [dict(output_type='display_data', metadata={},
                   data={'image/png': png, 'text/plain': '<Figure size 40x30>'})]),
             _code('#| output: false\nprint("hidden output")', [_stream('OUTPUT_THAT_MUST_NOT_SHOW\n')]),
             _code('#| eval: false\nnot_run()', [_stream('STALE_OUTPUT\n')]),
             _code('#| include: false\nINCLUDE_FALSE_SOURCE', [_stream('INCLUDE_FALSE_OUTPUT\n')]),
             _code('#| slow\nx = 41 + 1\nx', [dict(output_type='execute_result', execution_count=7, metadata={}, data={'text/plain': '42'})])]
    for i, c in enumerate(cells): c['id'] = f'cell{i}'
    nb = dict(cells=cells, metadata={}, nbformat=4, nbformat_minor=5)
    (proc/'lessons').mkdir()
    (proc/'lessons'/'01_tiny.ipynb').write_text(json.dumps(nb))
    (proc/'lessons'/'02_other.ipynb').write_text(json.dumps({**nb, 'cells': [dict(cell_type='raw', metadata={},
                                                 source='---\ntitle: Other\noutput-file: other.html\n---\n', id='a'), dict(cell_type='markdown', metadata={}, source='x', id='b')]}))
    pages = build_docs.site_pages(proc)
    by_source = {p.rel.as_posix(): p for p in pages}
    site = dict(title='medcnn_tl', description='d', url='https://example.org/site/')
    for p in pages:
        _, _, err = build_docs.render_page(p, pages, by_source, out, site)
        assert err is None, err
    return out, pages

def test_tiny_page_resolves_quarto_options(tiny_site):
    out, pages = tiny_site
    html = (out/'lessons'/'tiny.html').read_text()
    text = _text(html)
    assert 'data:image/png;base64,' in html                          # echo: false keeps the figure ...
    assert 'SOURCE_OF_A_FIGURE' not in text                          # ... and drops its code
    assert 'print("hidden output")' in text and 'OUTPUT_THAT_MUST_NOT_SHOW' not in text   # output: false: code only
    assert 'not_run()' in text and 'STALE_OUTPUT' not in text        # eval: false: code, no output
    assert 'INCLUDE_FALSE' not in text                               # include: false: nothing
    assert 'x = 41 + 1' in text and '\n42\n' in text                 # a plain cell: code and result
    assert '#|' not in text and not re.search(r'(In|Out)\s*\[', text)
    assert re.search(r'<h1 class="title">A tiny <code>lesson</code></h1>', html) and 'The subtitle' in html
    assert '<title>A tiny lesson – medcnn_tl</title>' in html
    assert 'href="other.html"' in html                               # a link to a notebook goes to its page
    assert build_docs.check_site(out, pages) == []

def test_tiny_page_figure_decodes(browser, tiny_site):
    out, _ = tiny_site
    tab = open_page(browser, out/'lessons'/'tiny.html')
    assert 40 in decoded_images(tab)                                 # the stored PNG decoded, at its own width
    text = tab.inner_text('body')
    assert 'Other' in tab.inner_text('nav.sidebar') and '#|' not in text

def test_check_site_finds_directives_and_prompts(tmp_path):
    "The build's own check fails on what it must catch (a raw directive, a prompt), so a clean report means something."
    class P: html, section = 'a.html', 'Lessons'
    (tmp_path/'a.html').write_text('<main><pre>#| echo: false\nx</pre><div>In&nbsp;[3]:</div></main>')
    problems = build_docs.check_site(tmp_path, [P()])
    assert len(problems) == 2 and '#|' in problems[0] and 'prompt' in problems[1]

def test_plain_signatures():
    "`window=None` reads as written, not `window:NoneType=None`; real annotations stay."
    pytest.importorskip('nbdev')
    build_docs._plain_signatures()
    from nbdev.showdoc import show_doc
    from medcnn_tl.dicom import get_window
    md = show_doc(get_window)._repr_markdown_()
    assert 'NoneType' not in md and re.search(r'\bwindow=None\b', md) and 'image:DicomImage=None' in md

# ------------------------------------------------------------------------------------------------ the whole site
def _h1(nb: Path) -> str:
    "The notebook's title: the first markdown cell's `# ` line (what a reader of the notebook sees)."
    for c in json.loads(nb.read_text())['cells']:
        if c['cell_type'] == 'markdown' and (m := re.match(r'#\s+(.+)', ''.join(c['source']).strip())): return m.group(1).strip()
    return nb.stem

def _pngs(nb: Path) -> int:
    "How many stored PNG figures of `nb` a page must show: those of cells not hidden and not `output`/`include: false`."
    n = 0
    for c in json.loads(nb.read_text())['cells']:
        if re.search(r'^#\|\s*(hide\b|output:\s*false|include:\s*false|eval:\s*false)', ''.join(c['source']), re.M): continue
        n += sum('image/png' in o.get('data', {}) for o in c.get('outputs', []))
    return n

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site built from this tree by `python tools/build_docs.py --no-execute` (or the one MEDCNN_DOCS_SITE names)."
    if os.environ.get('MEDCNN_DOCS_SITE'): return Path(os.environ['MEDCNN_DOCS_SITE']).resolve()
    out = tmp_path_factory.mktemp('docs')/'_docs'
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py'), '--no-execute', '--out', str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return out

def test_site_pages_clean_titled_and_linked(browser, site):
    htmls = sorted(site.rglob('*.html'))
    sources = [nb for nb in sorted((ROOT/'nbs').rglob('*.ipynb')) if 'clean' not in nb.parts and '.ipynb_checkpoints' not in nb.parts]
    assert len(htmls) == len(sources)                     # one page per notebook, the clean exercise copies excepted
    tab = open_page(browser, site/'index.html')
    sidebar = tab.inner_text('nav.sidebar')
    missing = [nb.relative_to(ROOT).as_posix() for nb in sources if _h1(nb).replace('`', '') not in sidebar]
    assert missing == [], f'not in the sidebar under their titles: {missing}'
    links = tab.eval_on_selector_all('main a[href]', 'els => els.map(e => e.getAttribute("href"))')
    assert any(l.startswith('lessons/') and l.endswith('.html') for l in links), 'the index links to no lesson page'
    for f in htmls:                                       # what a reader sees: no directive, no prompt, a title
        tab.goto(f.as_uri(), wait_until='domcontentloaded')
        text = tab.inner_text('body')
        assert '#|' not in text and not re.search(r'In\s*\[\s*\d*\s*\]:', text), f
        assert tab.inner_text('h1.title').strip(), f
    tab.close()

def test_site_library_page_shows_signatures(browser, site):
    tab = open_page(browser, site/'dicom.html')
    text = tab.inner_text('main')
    assert 'def read_dicom(' in text and 'NoneType' not in text
    assert tab.inner_text('h1.title') == _h1(ROOT/'nbs'/'03_dicom.ipynb')
    tab.close()

def test_site_lessons_show_their_figures(browser, site):
    lessons = sorted((ROOT/'nbs'/'lessons').glob('*.ipynb'))
    with_figures = [nb for nb in lessons if _pngs(nb)]
    if not with_figures: pytest.skip('no lesson in nbs/lessons/ is committed with a figure yet (issue 20: lessons executed)')
    titled = {m.group(1): f for f in (site/'lessons').glob('*.html')            # each lesson page by its title
              if (m := re.search(r'<h1 class="title">(.*?)</h1>', f.read_text()))}
    for nb in with_figures:
        title = re.sub(r'`([^`]+)`', r'<code>\1</code>', _h1(nb))
        assert title in titled, f'{nb.name}: no page titled {title!r}'
        tab = open_page(browser, titled[title])
        widths = decoded_images(tab)
        decoded = [w for w in widths if w > 0]
        assert len(decoded) >= _pngs(nb), f'{nb.name}: {_pngs(nb)} stored figures, {len(decoded)} decoded images ({widths})'
        tab.close()

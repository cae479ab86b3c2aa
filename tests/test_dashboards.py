"""The dashboards in a real browser (Debian's Chromium driven by Playwright), served the way a teacher serves them:
`medcnn-tl dashboard NAME` (token, Host check, capped kernels, nothing fetched from the internet).

Each dashboard renders with no error output, each control changes what is shown, an upload round-trips; the server
refuses requests without the token or with a foreign Host header, holds at most its cap of kernels after 4 reloads and 12 simultaneous visitors,
and leaves no process behind when stopped.
"""
import io, os, re, shutil, signal, socket, subprocess, sys, time, urllib.request, urllib.error
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed (apt-get install chromium)")
playwright = pytest.importorskip('playwright.sync_api')
SHOTS = Path(os.environ.get('MEDCNN_TL_SHOTS', '/tmp'))   # where the layout checks leave their screenshots, to look at
BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--disable-quic']

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def descendants(pid):
    from medcnn_tl.serve import descendants
    return descendants(pid)

def cmdline(pid):
    try: return Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode()
    except OSError: return ''

def kernels_of(pid):
    return [p for p in descendants(pid) if 'ipykernel' in cmdline(p)]

class Server:
    "`medcnn-tl dashboard NAME` running in the background: its `url` (with the token), `port`, process and log."
    def __init__(self, name, tmp_path, *extra):
        # a kernel per visitor unless a test asks for spares (`--preheat N`): spare kernels running the notebook in the
        # background would slow every other test on a 2-core machine
        extra = extra if any(str(e).startswith('--preheat') for e in extra) else (*extra, '--preheat', '0')
        self.port = free_port()
        self.log_path = tmp_path/f'dashboard-{name}.log'
        self.log = open(self.log_path, 'w')
        exe = shutil.which('medcnn-tl')
        cmd = ([exe] if exe else [sys.executable, '-m', 'medcnn_tl.cli']) + ['dashboard', name, '--no-browser', '--port', str(self.port), *extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})
        for _ in range(600):
            m = re.search(r'is ready: (http://\S+)', self.log_path.read_text())
            if m: self.url = m.group(1).replace('localhost', '127.0.0.1'); break
            if self.proc.poll() is not None: break
            time.sleep(0.5)
        else: pass
        if not getattr(self, 'url', None): pytest.fail(f"the dashboard server did not start:\n{self.log_path.read_text()[-3000:]}")
        self.token = self.url.split('token=')[1]
    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try: self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait()
        self.log.close()
        return self.proc.returncode

@pytest.fixture
def serve(tmp_path):
    servers = []
    def start(name, *extra):
        s = Server(name, tmp_path, *extra); servers.append(s); return s
    yield start
    for s in servers:
        tree = descendants(s.proc.pid)
        s.stop()
        for pid in tree:
            try: os.kill(pid, signal.SIGKILL)
            except OSError: pass

@pytest.fixture
def page():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        pg = browser.new_page(viewport=dict(width=1400, height=1100))
        pg.requests = []
        pg.on('request', lambda r: pg.requests.append(r.url))
        yield pg
        browser.close()

def get(url, host=None):
    "Status code of a GET of `url` (redirects not followed), optionally with a forged Host header."
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k): return None
    req = urllib.request.Request(url, headers={'Host': host} if host else {})
    try: return urllib.request.build_opener(NoRedirect).open(req, timeout=300).status
    except urllib.error.HTTPError as e: return e.code

def open_dashboard(page, server, ready_text):
    "Load the dashboard and wait until `ready_text` shows; fail with the end of the server log otherwise."
    try:
        page.goto(server.url, wait_until='commit', timeout=120_000)
        page.get_by_text(ready_text, exact=False).first.wait_for(timeout=180_000)   # the first visitor, no reload (see serve.WholePages)
    except playwright.Error as e:
        pytest.fail(f"{server.url} did not show {ready_text!r}: {e}\n--- server log ---\n{server.log_path.read_text()[-3000:]}")

def no_errors_and_nothing_fetched_outside(page):
    "No error output in the page, and every request went to this computer."
    text = page.inner_text('body')
    assert 'Traceback' not in text and 'Error' not in re.sub(r'MedcnnError', '', text), text[:2000]
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
    outside = [u for u in page.requests if not re.match(r'(http|ws)://(127\.0\.0\.1|localhost)[:/]|data:|blob:', u)]
    assert outside == [], outside

def wait_text(page, text, timeout=120_000):
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=text, timeout=timeout)

def img_srcs(page):
    return page.eval_on_selector_all('img', 'els => els.map(e => e.src.length + ":" + e.src.slice(-40))')

def wait_redraw(page, before, timeout=120_000):
    page.wait_for_function("(old) => { const s = [...document.querySelectorAll('img')].map(e => e.src.length + ':' + e.src.slice(-40));"
                           " return s.length > 0 && JSON.stringify(s) !== JSON.stringify(old); }", arg=before, timeout=timeout)

def upload(page, path):
    "Choose `path` in the upload button's file dialog (ipywidgets keeps its file input out of the page)."
    with page.expect_file_chooser(timeout=60_000) as chooser: page.locator('.widget-upload').first.click()
    chooser.value.set_files(str(path))

def slider(page, label):
    return page.locator('.widget-slider', has_text=label).locator('.noUi-handle, .slider-handle, [role=slider]').first

def select(page, label):
    return page.locator('.widget-dropdown', has_text=label).locator('select').first


LAYOUT_JS = """() => {
  const shown = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
  const name = e => (e.innerText || e.src || '').slice(0, 60);
  const clipped = [...document.querySelectorAll('.widget-label, .widget-label-basic, .widget-readout, .widget-html-content, .widget-checkbox label, label, button')]
      .filter(shown).filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'auto' && getComputedStyle(e).overflowX !== 'scroll')
      .map(e => [name(e), e.scrollWidth, e.clientWidth]);
  const labels = [...document.querySelectorAll('.widget-label, .widget-readout, .widget-checkbox label')].filter(shown)
      .filter(e => e.innerText.trim());
  const overlaps = [];
  labels.forEach((a, i) => labels.slice(i + 1).forEach(b => {
      const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(r.right, q.right) - Math.max(r.left, q.left), h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      if (w > 1 && h > 1 && !a.contains(b) && !b.contains(a)) overlaps.push([name(a), name(b)]); }));
  const stretched = [...document.querySelectorAll('img')].filter(shown).filter(e => e.naturalWidth > 0)
      .map(e => { const r = e.getBoundingClientRect(); return [name(e), e.naturalWidth / e.naturalHeight, r.width / r.height]; })
      .filter(([n, a, b]) => Math.abs(a - b) / a > 0.02);
  const wider = [...document.querySelectorAll('.widget-html-content, .widget-label, img')].filter(shown)
      .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(name);
  return {clipped, overlaps, stretched, wider};
}"""

def layout_problems(page, shot=None):
    "What a projector at 1280 px would show wrong: clipped text, overlapping labels, stretched images, content past the right edge."
    if shot: page.screenshot(path=str(shot), full_page=True)
    found = page.evaluate(LAYOUT_JS)
    return {k: v for k, v in found.items() if v}

def at_projector_width(page):
    page.set_viewport_size(dict(width=1280, height=900))

# ---------------------------------------------------------------- the server
def test_server_prints_one_usable_link_and_refuses_requests_without_the_token_or_with_a_foreign_host(serve):
    s = serve('ct_windowing')
    links = re.findall(r'https?://\S+', s.log_path.read_text())
    assert links == [s.url.replace('127.0.0.1', 'localhost')], links   # Voila's masked '?token=...' link is not printed
    base = f'http://127.0.0.1:{s.port}/'
    assert kernels_of(s.proc.pid) == []                               # no kernel until a visitor with the token asks
    assert get(base) in (302, 403)                                   # no token: sent to the login page, no dashboard
    assert get(base + '?token=wrong') in (302, 403)
    assert get(base + f'?token={s.token}', host='evil.example') == 403   # DNS rebinding: a foreign Host header
    assert get(base + f'?token={s.token}', host=f'evil.example:{s.port}') == 403
    assert get(base + 'voila/files/ct_windowing.ipynb?token=' + s.token) in (403, 404)   # serves dashboards, not files
    time.sleep(1)
    assert kernels_of(s.proc.pid) == []                               # none of these started a kernel

def get_page(url, timeout=300):
    "(status code, body) of a GET of `url`."
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r: return r.status, r.read().decode(errors='replace')
    except urllib.error.HTTPError as e: return e.code, e.read().decode(errors='replace')

def test_reloads_leave_at_most_the_cap_of_kernels_and_stopping_leaves_no_process(serve):
    s = serve('ct_windowing', '--max-kernels', '2')
    most, codes = 0, []
    for _ in range(4):          # a reload: the page is read to its end (Voila streams it while the kernel runs), then asked for again
        code, body = get_page(f'http://127.0.0.1:{s.port}/?token={s.token}')
        codes.append(code if body.rstrip().endswith('</html>') else f'{code}, cut short')
        most = max(most, len(kernels_of(s.proc.pid)))
    assert codes == [200] * 4, codes        # the third and fourth wait (grace_seconds) for a page left behind to be freed
    assert 1 <= most <= 2, most
    tree = descendants(s.proc.pid)
    assert any('voila' in cmdline(p) for p in tree)
    assert s.stop(signal.SIGINT) == 0                                 # Ctrl-C
    time.sleep(1)
    alive = [p for p in tree if Path(f'/proc/{p}').exists() and 'Z' not in Path(f'/proc/{p}/stat').read_text().split(')')[-1].split()[:1]]
    assert alive == [], [cmdline(p) for p in alive]

def test_concurrent_loads_never_exceed_the_cap(serve):
    "12 visitors open the link at the same moment: the kernel count never passes the cap, the others get a page that says why."
    import threading
    from concurrent.futures import ThreadPoolExecutor
    s = serve('ct_windowing', '--max-kernels', '3', '--preheat', '2')   # as a teacher serves it: two spares start with the server
    url = f'http://127.0.0.1:{s.port}/?token={s.token}'
    counts, done = [], threading.Event()
    def watch():
        while not done.is_set() and len(counts) < 3000: counts.append(len(kernels_of(s.proc.pid))); time.sleep(0.1)
    watcher = threading.Thread(target=watch); watcher.start()
    try:
        with ThreadPoolExecutor(12) as pool: results = list(pool.map(lambda _: get_page(url), range(12)))
        time.sleep(3)                                                  # the pool's refill after the last load
    finally: done.set(); watcher.join()
    codes = [c for c, _ in results]
    assert max(counts) <= 3, max(counts)
    assert codes.count(200) >= 1 and set(codes) <= {200, 503}, codes
    assert all('This dashboard is full' in body for c, body in results if c == 503)
    assert len(kernels_of(s.proc.pid)) <= 3

def test_a_foreign_host_binding_warns(tmp_path):
    from medcnn_tl import cli
    r = subprocess.run([sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main(sys.argv[1:]))',
                        'dashboard', 'no_such_dashboard', '--host', '0.0.0.0'], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "no dashboard called 'no_such_dashboard'" in r.stderr
    assert cli.voila_config('0.0.0.0')['Voila']['tornado_settings']['allow_remote_access'] is True

# ---------------------------------------------------------------- each dashboard in the browser
def test_conv_explorer_every_control_changes_what_is_shown(serve, page):
    s = serve('conv_explorer', '--preheat', '2')                           # the default: two spare kernels, their page run
    at_projector_width(page)
    open_dashboard(page, s, 'output height')
    for _ in range(120):                                                   # the visitor's kernel plus two spares: the cap of 3
        if len(kernels_of(s.proc.pid)) == 3: break
        time.sleep(0.5)
    assert len(kernels_of(s.proc.pid)) == 3
    assert layout_problems(page, SHOTS/'conv_explorer.png') == {}
    assert '⌊(128 + 2·0 − 3)/1⌋ + 1 = 126' in page.inner_text('body')     # 128-px retina, 3×3 kernel, stride 1
    before = img_srcs(page)
    h = slider(page, 'stride'); h.focus(); h.press('ArrowRight')              # stride 1 -> 2
    wait_text(page, '/2⌋ + 1 = 63'); wait_redraw(page, before)
    before = img_srcs(page)
    select(page, 'pooling').select_option('max 2×2')
    wait_text(page, 'max 2×2 pooling (stride 2): ⌊(63 − 2)/2⌋ + 1 = 31'); wait_redraw(page, before)
    before = img_srcs(page)
    select(page, 'activation').select_option('ReLU')
    wait_text(page, 'activation ReLU'); wait_redraw(page, before)
    before = img_srcs(page)
    select(page, 'image').select_option('CT (abdomen slice, HU)')
    wait_text(page, 'CT (abdomen slice, HU) (96, 96)'); wait_redraw(page, before)
    before = img_srcs(page)
    page.locator('.widget-select-multiple select').first.select_option(['blur (box)', 'edge (Sobel y)', 'sharpen'])
    wait_text(page, '3 feature map(s)'); wait_redraw(page, before)
    no_errors_and_nothing_fetched_outside(page)

def stopped_by_sigterm(s):
    "SIGTERM (what a service manager or `kill` sends) ends the server with exit code 0, its kernels with it, and frees its port."
    tree = descendants(s.proc.pid)
    assert kernels_of(s.proc.pid)
    assert s.stop(signal.SIGTERM) == 0
    time.sleep(1)
    assert [p for p in tree if Path(f'/proc/{p}').exists() and 'Z' not in Path(f'/proc/{p}/stat').read_text().split(')')[-1].split()[:1]] == []
    with pytest.raises(OSError): socket.create_connection(('127.0.0.1', s.port), timeout=2)

def test_ct_windowing_scrolls_reads_values_and_shows_rgb_and_sigterm_stops_it(serve, page):
    s = serve('ct_windowing')
    at_projector_width(page)
    open_dashboard(page, s, 'slice 6 of 10')
    text = page.inner_text('body')
    assert 'HU' in text and 'value at (row 48, col 48)' in text
    before = img_srcs(page)
    h = slider(page, 'slice'); h.focus(); h.press('ArrowLeft')
    wait_text(page, 'slice 5 of 10'); wait_redraw(page, before)
    before = img_srcs(page)
    h = slider(page, 'pixel row'); h.focus(); h.press('ArrowLeft')
    wait_text(page, 'value at (row 47, col 48)'); wait_redraw(page, before)
    before = img_srcs(page)
    select(page, 'preset').select_option('lung')
    page.wait_for_function("() => [...document.querySelectorAll('.widget-readout')].some(e => e.innerText.trim().startsWith('1500'))",
                           timeout=120_000)
    wait_redraw(page, before)
    before = img_srcs(page)
    page.locator('.widget-checkbox', has_text='RGB').locator('input').first.check()
    wait_text(page, 'RGB view: R lung, G abdomen, B bone'); wait_redraw(page, before)
    assert layout_problems(page, SHOTS/'ct_windowing.png') == {}
    no_errors_and_nothing_fetched_outside(page)
    stopped_by_sigterm(s)                                                # with a page open and its kernel running

def test_architectures_compares_two_networks_and_plots_the_scatter(serve, page):
    import torchvision
    s = serve('architectures')
    at_projector_width(page)
    open_dashboard(page, s, '11,689,512')                                   # ResNet-18 on the left
    wait_text(page, '7,978,856')                                           # DenseNet-121 on the right
    wait_text(page, 'Accuracy vs computation')
    page.wait_for_function("() => [...document.querySelectorAll('img')].filter(i => i.naturalWidth > 0).length >= 3", timeout=120_000)
    assert layout_problems(page, SHOTS/'architectures.png') == {}
    n_vgg = sum(p.numel() for p in torchvision.models.vgg16(weights=None).parameters())
    before = img_srcs(page)
    page.locator('.widget-dropdown select').nth(1).select_option('vgg16')
    wait_text(page, f'{n_vgg:,}'); wait_redraw(page, before)
    before = img_srcs(page)
    page.locator('.widget-dropdown select').nth(0).select_option('alexnet')
    wait_text(page, '61,100,840'); wait_redraw(page, before)
    no_errors_and_nothing_fetched_outside(page)

def planted_dicom(tmp_path):
    "A DICOM file with a planted name, MRN and birth date (pydicom's CT test file, rewritten)."
    import pydicom
    from medcnn_tl.core import samples_path
    ds = pydicom.dcmread(samples_path('dicom')/'CT_small.dcm')
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = 'Plantedname^Zelda', 'MRN55501234', '19420317'
    path = tmp_path/'Plantedname_Zelda_MRN55501234.dcm'
    ds.save_as(path)
    return path

def test_model_lab_predicts_explains_and_round_trips_an_upload(serve, page, tmp_path):
    s = serve('model_lab')
    at_projector_width(page)
    open_dashboard(page, s, 'prediction:')
    wait_text(page, 'sensitivity')
    assert layout_problems(page, SHOTS/'model_lab.png') == {}
    first = page.inner_text('body')
    assert re.search(r'P\(malignant\) = \d\.\d\d', first)
    before = img_srcs(page)
    select(page, 'image').select_option(index=4)                          # another sample: truly malignant
    page.wait_for_function("(old) => document.body.innerText.match(/P\\(malignant\\) = [0-9.]+/)[0] !== old",
                           arg=re.search(r'P\(malignant\) = [0-9.]+', first).group(0), timeout=120_000)
    wait_redraw(page, before)
    op = re.search(r'at threshold [0-9.]+: sensitivity', page.inner_text('body')).group(0)
    h = slider(page, 'threshold'); h.focus()
    for _ in range(10): h.press('ArrowLeft')
    page.wait_for_function("(old) => !document.body.innerText.includes(old)", arg=op, timeout=120_000)
    before = img_srcs(page)
    select(page, 'method').select_option('gradcam++')
    wait_redraw(page, before)                                             # the map is drawn again, with Grad-CAM++
    # upload a PNG: it becomes the shown image, and the prediction is for it
    from PIL import Image
    import numpy as np
    png = tmp_path/'my_xray.png'
    Image.fromarray((np.random.default_rng(0).random((120, 100)) * 255).astype('uint8')).save(png)
    before = img_srcs(page)
    upload(page, png)
    wait_text(page, 'uploaded image received (image, 120×100)'); wait_redraw(page, before)
    # upload a DICOM with planted identifiers: read, windowed, and nothing identifying shown
    before = img_srcs(page)
    upload(page, planted_dicom(tmp_path))
    wait_text(page, 'uploaded image received (DICOM CT, 128×128)'); wait_redraw(page, before)
    text = page.content()
    for planted in ('Plantedname', 'Zelda', 'MRN55501234', '19420317', '1942-03-17'): assert planted not in text, planted
    no_errors_and_nothing_fetched_outside(page)
    log = s.log_path.read_text()
    for planted in ('Plantedname', 'Zelda', 'MRN55501234', '19420317'): assert planted not in log, planted

def test_strategy_selector_shows_the_map_follows_its_sliders_and_trains_live(serve, page):
    "The shipped map at load (no training), the recommendation following the similarity slider as `recommend` says, the title once, and one live run."
    from medcnn_tl.selector import recommend
    s = serve('strategy_selector')
    at_projector_width(page)
    open_dashboard(page, s, 'Which transfer-learning strategy?')
    recommendation = lambda: page.locator('.medcnn-recommendation').inner_text()
    wait_text(page, 'Recommended:', timeout=300_000)
    page.wait_for_function("() => { const i = document.querySelector('img.medcnn-map'); return i && i.naturalWidth > 200; }", timeout=120_000)
    page.wait_for_function("() => [...document.querySelectorAll('img')].filter(i => i.naturalWidth > 0).length >= 2", timeout=120_000)
    assert layout_problems(page, SHOTS/'strategy_selector.png') == {}
    page.locator('img').nth(1).screenshot(path=str(SHOTS/'strategy_selector_diagram.png'))   # the layer-group diagram, to look at
    body = page.inner_text('body')
    assert body.count('Which transfer-learning strategy?') == 1                 # the dashboard's title; the widget adds none
    assert 'python tools/build_strategy_map.py' in body and 'paired seeds' in body   # the map's caption: protocol and command
    assert 'learning rate' in body and 'trained_fraction' not in body           # the settings as a table, not k=v
    first = recommend(300, 0.5).strategy                                         # the sliders start at 300 images, similarity 0.5
    assert f"Recommended: {first}" in recommendation()
    presses = next(k for k in range(1, 11) if recommend(300, round(0.5 - 0.05*k, 2)).strategy != first)
    expected = recommend(300, round(0.5 - 0.05*presses, 2))
    h = slider(page, 'similarity'); h.focus()
    for _ in range(presses): h.press('ArrowLeft')
    page.wait_for_function("(t) => document.querySelector('.medcnn-recommendation').innerText.includes(t)",
                           arg=f"Recommended: {expected.strategy}", timeout=120_000)
    assert expected.category in recommendation()
    # a live run: the cheapest, frozen_base on 50 images
    select(page, 'strategy').select_option('frozen_base')
    select(page, 'training images').select_option(label='50')
    button = page.locator('button', has_text='Train').first
    page.evaluate("""() => { window.statusSeen = []; const el = document.querySelector('.medcnn-status');
        const train = [...document.querySelectorAll('button')].find(b => b.innerText.includes('Train'));
        new MutationObserver(() => window.statusSeen.push([el.innerText, train.disabled]))
            .observe(el, {childList: true, subtree: true, characterData: true}); }""")   # the run can be over in a second
    button.click()
    page.wait_for_function("() => document.querySelector('.medcnn-results').innerText.includes('frozen_base, 50 images')"
                           " || document.querySelector('.medcnn-status').innerText.includes('could not')", timeout=600_000)
    assert 'frozen_base, 50 images' in page.locator('.medcnn-results').inner_text(), page.locator('.medcnn-status').inner_text()
    seen = page.evaluate("() => window.statusSeen")
    assert any(text.startswith('training frozen_base on 50 images') and disabled for text, disabled in seen), seen
    status = page.locator('.medcnn-status').inner_text()
    assert 'training' not in status and 'test AUC' in status, status      # the result replaces "training ..."
    assert not button.is_disabled()
    no_errors_and_nothing_fetched_outside(page)

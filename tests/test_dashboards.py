"""Voila dashboards in a real browser (Debian's Chromium driven by Playwright): they render and react to a slider."""
import os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium not installed (apt-get install chromium)")
playwright = pytest.importorskip('playwright.sync_api')
BROWSER_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                '--disable-sync', '--no-first-run', '--disable-quic']

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

class Dashboard(str):
    "The URL of a running Voila dashboard, with its server log at hand."
    def __new__(cls, url, log): o = super().__new__(cls, url); o.log = log; return o

def open_dashboard(page, dashboard, ready_text, tries=2):
    "Load `dashboard` and wait until `ready_text` shows; one retry, then fail with the end of Voila's log."
    for attempt in range(tries):
        try:
            page.goto(dashboard, wait_until='commit', timeout=120_000)
            page.get_by_text(ready_text, exact=False).first.wait_for(timeout=180_000)
            return
        except playwright.Error as e: err = e
    pytest.fail(f"{dashboard} did not show {ready_text!r}: {err}\n--- voila log ---\n{dashboard.log.read_text()[-3000:]}")

@pytest.fixture
def voila(tmp_path):
    "Start Voila on a dashboard notebook; yields its URL; stops it afterwards."
    procs = []
    def start(name):
        port = free_port()
        log = open(tmp_path/f'voila-{name}.log', 'w')
        p = subprocess.Popen([sys.executable, '-m', 'voila', str(ROOT/'nbs'/'dashboards'/f'{name}.ipynb'), '--no-browser',
                              f'--port={port}', '--Voila.ip=127.0.0.1'], stdout=log, stderr=subprocess.STDOUT,
                             env={**os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'})
        procs.append(p)
        for _ in range(240):                      # wait for the port only: a GET of the page would run the notebook
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=1): break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f"Voila did not start: {(tmp_path/f'voila-{name}.log').read_text()[-2000:]}")
        return Dashboard(f'http://127.0.0.1:{port}/', tmp_path/f'voila-{name}.log')
    yield start
    for p in procs: p.terminate(); p.wait(timeout=30)

@pytest.fixture
def page():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        pg = browser.new_page(viewport=dict(width=1280, height=1000))
        yield pg
        browser.close()

def test_conv_explorer_renders_and_reacts(voila, page):
    open_dashboard(page, voila('conv_explorer'), 'output height')
    formula = page.get_by_text('output height', exact=False).first
    assert '/1⌋ + 1 = 126' in formula.inner_text()            # 128-px retina, 3×3 kernel, stride 1
    assert page.locator('.jupyter-widgets img, .output_png img, img').count() >= 1   # the figure is drawn
    stride = page.locator('.widget-slider', has_text='stride').locator('.noUi-handle, .slider-handle, [role=slider]').first
    stride.focus(); stride.press('ArrowRight')                   # stride 1 -> 2
    page.wait_for_function("() => document.body.innerText.includes('/2⌋ + 1 = 63')", timeout=60_000)

def test_architecture_explorer_follows_the_dropdown(voila, page):
    import torchvision
    open_dashboard(page, voila('architectures'), '11,689,512')     # ResNet-18 shown first
    n_densenet = sum(p.numel() for p in torchvision.models.densenet121(weights=None).parameters())
    page.locator('.widget-dropdown select').first.select_option('densenet121')
    page.get_by_text(f'{n_densenet:,}', exact=False).first.wait_for(timeout=60_000)

def test_ct_windowing_preset_moves_the_sliders_and_redraws(voila, page):
    open_dashboard(page, voila('ct_windowing'), 'preset')
    width = page.locator('.widget-slider', has_text='width').locator('.widget-readout').first
    width.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelectorAll('img').length > 0", timeout=180_000)
    before = page.locator('img').first.get_attribute('src')
    assert float(width.inner_text()) == 400                        # the abdomen window it starts with
    page.locator('.widget-dropdown select').first.select_option('lung')
    page.wait_for_function("() => [...document.querySelectorAll('.widget-readout')].some(e => e.innerText.trim().startsWith('1500'))",
                           timeout=60_000)
    page.wait_for_function("(old) => document.querySelector('img') && document.querySelector('img').src !== old", arg=before,
                           timeout=60_000)                          # the image was redrawn with the new window

def test_strategy_selector_recommends_and_trains_live(voila, page):
    open_dashboard(page, voila('strategy_selector'), 'Which transfer-learning strategy?')
    page.wait_for_function("() => document.body.innerText.includes('frozen_base')", timeout=180_000)  # 300 images, similarity 0.5
    handle = page.locator('.widget-slider', has_text='similarity').locator('.noUi-handle, [role=slider]').first
    handle.focus(); handle.press('ArrowLeft')                         # 0.50 -> 0.45: "different" from ImageNet
    page.wait_for_function("() => document.body.innerText.includes('finetune_some')", timeout=60_000)
    page.get_by_role('button', name='run it').click()                 # trains one epoch on the embedded chest samples
    page.locator('table', has_text='finetune_some').first.wait_for(timeout=400_000)
    assert 'auc' in page.locator('table', has_text='finetune_some').first.inner_text().lower()

"""Time to first render and kernel memory of each dashboard, served as a teacher serves it (`medcnn-tl dashboard NAME`) and
opened in Chromium (Playwright). Writes benchmarks/results/dashboards.json.

    python benchmarks/dashboards.py                       # every dashboard, once each; a few minutes on 2 cores
    python benchmarks/dashboards.py conv_explorer model_lab

time to first render: from the page request until the dashboard's own text is on screen (the kernel has started,
imported the library and run the notebook). Kernel memory: resident set size (RSS) of the dashboard's kernel process,
read from /proc right after the first render and again after 20 s idle. Linux only (it reads /proc).
"""
import json, os, re, shutil, signal, socket, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'benchmarks'/'results'/'dashboards.json'
READY = {'conv_explorer': 'output height', 'ct_windowing': 'slice 6 of 10', 'architectures': 'Accuracy vs computation',
         'model_lab': 'sensitivity', 'strategy_selector': 'Which transfer-learning strategy?'}
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def rss_mb(pid):
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return round(int(line.split()[1]) / 1024, 1)

def measure(name, page):
    from medcnn_tl.serve import descendants
    port = free_port()
    exe = shutil.which('medcnn-tl')
    cmd = ([exe] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main(sys.argv[1:]))']) + \
          ['dashboard', name, '--no-browser', '--port', str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in proc.stdout:
            m = re.search(r'is ready: (http://\S+)', line)
            if m: url = m.group(1); break
        if url is None: raise SystemExit(f"{name}: the server did not start")
        t = time.perf_counter()
        page.goto(url, wait_until='commit', timeout=600_000)
        page.get_by_text(READY.get(name, name), exact=False).first.wait_for(timeout=600_000)
        first_render = time.perf_counter() - t
        kernels = [p for p in descendants(proc.pid) if b'ipykernel' in Path(f'/proc/{p}/cmdline').read_bytes()]
        rss = [rss_mb(p) for p in kernels]
        time.sleep(20)
        rss_idle = [rss_mb(p) for p in kernels if Path(f'/proc/{p}').exists()]
        return {'first_render_s': round(first_render, 1), 'kernels': len(kernels), 'kernel_rss_mb': rss, 'kernel_rss_mb_after_20s': rss_idle}
    finally:
        proc.send_signal(signal.SIGTERM); proc.wait(timeout=120)

def main(names):
    from playwright.sync_api import sync_playwright
    load_before = os.getloadavg()
    res = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=['--no-sandbox', '--disable-gpu'])
        for name in names:
            page = browser.new_page(viewport=dict(width=1400, height=1100))
            res[name] = measure(name, page)
            page.close()
            print(f"{name:<18} first render {res[name]['first_render_s']:5.1f} s, kernel RSS {res[name]['kernel_rss_mb']} MB", flush=True)
        browser.close()
    old = json.loads(OUT.read_text())['dashboards'] if OUT.exists() else {}
    out = {'dashboards': {**old, **res}, 'cpu_count': os.cpu_count(), 'load_average_before': load_before,
           'load_average_after': os.getloadavg(), 'when': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + '\n')
    print(f"wrote {OUT}")

if __name__ == '__main__':
    from medcnn_tl.serve import list_dashboards
    main(sys.argv[1:] or list_dashboards())

"""Time to first render and kernel memory of each dashboard, served as a teacher serves it (`medcnn-tl dashboard NAME`) and
opened in Chromium (Playwright). Writes benchmarks/results/dashboards.json.

    python benchmarks/dashboards.py                       # every dashboard, once each; a few minutes on 2 cores
    python benchmarks/dashboards.py conv_explorer model_lab
    python benchmarks/dashboards.py model_lab conv_explorer --preheat 2 --up-for 30 --visitors 3 --repeat 3
                                                          # issue 22's target: widgets within 3 s on a server up 30 s,
                                                          # for the first and the next visitor (written under "visits")

time to first render: from the page request until the dashboard's own text is on screen (the kernel has started,
imported the library and run the notebook). Kernel memory: resident set size (RSS) of the dashboard's kernel process,
read from /proc right after the first render and again after 20 s idle. Linux only (it reads /proc).
With `--visitors N` each visitor opens the page in a new tab after the one before has rendered (a student arriving
after another), `--up-for S` waits S seconds between "server ready" and the first visitor, `--preheat N` serves with
`medcnn-tl dashboard --preheat N` (N spare kernels; without it, `--preheat 0`: what a cold kernel costs); the JSON also counts the cells whose lost reply the server mended (its log), and
a page not rendered after 120 s as hung (`pages_hung_120s`; the next visitors of that server are then not measured).
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

def measure(name, browser, preheat=False, up_for=0.0, visitors=1, memory=True, page_timeout=600):
    import threading
    from medcnn_tl.serve import descendants
    port = free_port()
    exe = shutil.which('medcnn-tl')
    cmd = ([exe] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main(sys.argv[1:]))']) + \
          ['dashboard', name, '--no-browser', '--port', str(port), '--preheat', str(preheat)]   # 0: a cold kernel per page
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, pages = [], []
    try:
        url = None
        for line in proc.stdout:
            log.append(line)
            m = re.search(r'is ready: (http://\S+)', line)
            if m: url = m.group(1); break
        if url is None: raise SystemExit(f"{name}: the server did not start:\n{''.join(log)[-2000:]}")
        threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True).start()   # keep the pipe drained
        time.sleep(up_for)
        renders = []
        for _ in range(visitors):
            page = browser.new_page(viewport=dict(width=1400, height=1100)); pages.append(page)
            t = time.perf_counter()
            try:
                page.goto(url, wait_until='commit', timeout=600_000)
                page.get_by_text(READY.get(name, name), exact=False).first.wait_for(timeout=page_timeout * 1000)
                renders.append(round(time.perf_counter() - t, 1))
            except Exception as e:                      # a page that never renders is a result, not a crash
                if 'Timeout' not in type(e).__name__: raise
                renders.append(None); break
        out = {'first_render_s': renders[0], 'render_s': renders, 'hung': renders.count(None)}
        kernels = [p for p in descendants(proc.pid) if b'ipykernel' in Path(f'/proc/{p}/cmdline').read_bytes()]
        out.update(kernels=len(kernels), kernel_rss_mb=[rss_mb(p) for p in kernels])
        if memory and None not in renders:
            time.sleep(20)
            out['kernel_rss_mb_after_20s'] = [rss_mb(p) for p in kernels if Path(f'/proc/{p}').exists()]
        out['mended_replies'] = sum('its reply never came' in l for l in log)
        return out
    finally:
        for page in pages: page.close()
        proc.send_signal(signal.SIGTERM); proc.wait(timeout=120)

def main(names, preheat=False, up_for=0.0, visitors=1, repeat=1):
    from playwright.sync_api import sync_playwright
    load_before = os.getloadavg()
    res, plain = {}, not (preheat or up_for or visitors > 1 or repeat > 1)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=['--no-sandbox', '--disable-gpu'])
        for name in names:
            runs = [measure(name, browser, preheat, up_for, visitors, memory=plain, page_timeout=600 if plain else 120) for _ in range(repeat)]
            done = [t for r in runs for t in r['render_s'] if t is not None]
            res[name] = runs[0] if plain else {'runs': runs, 'pages_hung_120s': sum(r['hung'] for r in runs),
                                              'render_s_max': max(done) if done else None}
            print(f"{name:<18} renders {[r['render_s'] for r in runs]} s, kernel RSS {runs[0]['kernel_rss_mb']} MB, "
                  f"mended replies {[r['mended_replies'] for r in runs]}", flush=True)
        browser.close()
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    if plain: old['dashboards'] = {**old.get('dashboards', {}), **res}
    else:
        label = f"{f'preheat {preheat}' if preheat else 'no preheat'}, first visitor {up_for:g} s after the server is ready, {visitors} visitor(s) one after another"
        old.setdefault('visits', {})[label] = {**res, 'command': 'python benchmarks/dashboards.py ' + ' '.join(sys.argv[1:]),
                                               'when': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                                               'load_average_before': load_before, 'load_average_after': os.getloadavg()}
    if plain: old.update(cpu_count=os.cpu_count(), load_average_before=load_before, load_average_after=os.getloadavg(),
                         when=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(old, indent=1) + '\n')
    print(f"wrote {OUT}")

if __name__ == '__main__':
    import argparse
    from medcnn_tl.serve import list_dashboards
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('names', nargs='*', help='dashboards (default: all)')
    ap.add_argument('--preheat', type=int, nargs='?', const=1, default=0, metavar='N', help='serve with --preheat N (spare kernels)')
    ap.add_argument('--up-for', type=float, default=0, help='seconds between "server ready" and the first visitor')
    ap.add_argument('--visitors', type=int, default=1, help='visitors one after another, each in a new tab')
    ap.add_argument('--repeat', type=int, default=1, help='servers started per dashboard')
    a = ap.parse_args()
    main(a.names or list_dashboards(), a.preheat, a.up_for, a.visitors, a.repeat)

"""How long `medcnn-tl` takes before it answers: `--help`, `recommend`, `inspect` of a small DICOM file, of a folder of
images and of a MedMNIST .npz (target < 1.5 s on 2 cores), plus the heavy modules each one imported. Writes benchmarks/results/cli_startup.json.

    python benchmarks/cli_startup.py            # 7 runs of each command (median, min, max); about a minute

Wall time depends on what else the machine does: the load average before and after is written with the numbers.
Each command runs in a fresh interpreter, as from a shell; the first run of each is a warm-up (file cache) and is
not counted.
"""
import json, os, platform, shutil, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'benchmarks'/'results'/'cli_startup.json'
DICOM = ROOT/'data_samples'/'dicom'/'CT_small.dcm'
COMMANDS = {'--help': ['--help'], 'recommend': ['recommend', '--n-images', '300', '--similarity', '0.5'],
            'inspect DICOM file': ['inspect', str(DICOM)],
            'inspect image folder': ['inspect', str(ROOT/'data_samples'/'chest_phantom')],
            'inspect MedMNIST .npz': ['inspect', str(ROOT/'data_samples'/'chest_phantom_28.npz')]}
HEAVY = ('torch', 'fastai', 'timm', 'sklearn', 'jupyter_server', 'ipywidgets', 'matplotlib')
PROBE = ("import sys, contextlib, io\nfrom medcnn_tl.cli import main\n"
         "with contextlib.redirect_stdout(io.StringIO()):\n    try: main(sys.argv[1:])\n    except SystemExit: pass\n"
         f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")

def timed(argv, runs):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *argv] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main())', *argv]
    times = []
    for i in range(runs + 1):
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0: raise SystemExit(f"{' '.join(argv)} failed: {r.stderr}")
        if i: times.append(time.perf_counter() - t)
    return times

def main(runs=7):
    load_before = os.getloadavg()
    rows = {}
    for name, argv in COMMANDS.items():
        t = timed(argv, runs)
        heavy = subprocess.run([sys.executable, '-c', PROBE, *argv], capture_output=True, text=True).stdout.strip()
        rows[name] = {'median_s': round(statistics.median(t), 3), 'min_s': round(min(t), 3), 'max_s': round(max(t), 3),
                      'target_s': 1.5, 'meets_target': statistics.median(t) < 1.5, 'heavy_modules_imported': heavy.split(',') if heavy else []}
        print(f"{name:<20} median {rows[name]['median_s']:.2f} s (min {rows[name]['min_s']:.2f}, max {rows[name]['max_s']:.2f}); "
              f"imports {rows[name]['heavy_modules_imported'] or 'no heavy module'}")
    res = {'commands': rows, 'runs': runs, 'cpu_count': os.cpu_count(), 'load_average_before': load_before,
           'load_average_after': os.getloadavg(), 'python': platform.python_version(), 'machine': platform.machine(),
           'when': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1) + '\n')
    print(f"wrote {OUT}")
    return res

if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)

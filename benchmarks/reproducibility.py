"""Two training runs with one seed give the same metrics on CPU (to 1e-6): `train_source` twice, compared.

Usage: python benchmarks/reproducibility.py [DATA] [--strategy train_entire] [--size 32] [--epochs 2]
DATA defaults to the embedded `chest_phantom_28.npz`. Writes benchmarks/results/reproducibility.json.
"""
import argparse, json, tempfile, time
from pathlib import Path
import numpy as np, torch

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('data', nargs='?', default=None); p.add_argument('--strategy', default='train_entire')
    p.add_argument('--size', type=int, default=32); p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--seed', type=int, default=42); p.add_argument('--threads', type=int, default=None)
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'reproducibility.json'))
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from medcnn_tl.core import samples_path
    from medcnn_tl.lab import train_source
    data = a.data or samples_path('chest_phantom_28.npz')
    runs = []
    for i in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            r = train_source(data, strategy=a.strategy, size=a.size, epochs=a.epochs, seed=a.seed, out=tmp, verbose=False)
            sd = torch.load(Path(r['run_dir'])/'model.pth')
            runs.append((r, sd, time.perf_counter()-t0))
    diffs = {}
    for split in ('valid', 'test'):
        if split in runs[0][0]:
            diffs[split] = {k: abs(runs[0][0][split][k] - runs[1][0][split][k]) for k, v in runs[0][0][split].items()
                            if isinstance(v, float)}
    wdiff = max(float((runs[0][1][k].float() - runs[1][1][k].float()).abs().max()) for k in runs[0][1])
    worst = max(v for d in diffs.values() for v in d.values())
    res = dict(benchmark='reproducibility', data=str(Path(str(data)).name), strategy=a.strategy, size=a.size, epochs=a.epochs,
               seed=a.seed, max_metric_abs_diff=worst, max_weight_abs_diff=wdiff, equal_to_1e6=worst <= 1e-6,
               metric_abs_diffs=diffs, run_seconds=[round(r[2], 1) for r in runs], threads=torch.get_num_threads(),
               metrics_run1=runs[0][0].get('test', runs[0][0]['valid']))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"max |metric difference| = {worst:.2e}, max |weight difference| = {wdiff:.2e} -> {a.out}")

if __name__ == '__main__': main()

"""How long should one member of `medcnn-tl train` train? Epochs against AUC on a split that no choice sees.

Usage:
  python benchmarks/heldout_epochs.py DATA.npz [--epochs 4 12] [--seeds 0 1 2] [--workers 2]
         [--out benchmarks/results/heldout_epochs.json]

Each run is `train_source(DATA, folds=1, epochs=E, seed=S, strategy='train_entire')`: one network of the default
recipe (efficientnet_lite0, ImageNet weights, 64 px, one-cycle, flips) trained on the file's official **train** split
and scored, with the mirror-image average, on its official **val** split, which neither the recipe nor this script
ever tunes on. Runs are paired: every epoch count uses the same seeds, so the seed's draw of augmentation and order
cancels in the differences. The JSON has every run, per epoch count the mean AUC with a 95 % t-interval over seeds,
the paired difference of each count to the shortest with its t-interval, and the AUC of the seeds' ensemble (mean
probability) with a bootstrap interval over images. Workers run in parallel with one torch thread each.
"""
import argparse, json, os, platform, statistics, tempfile, time, math
from pathlib import Path
from multiprocessing import get_context
import numpy as np

def one(args):
    data, epochs, seed, out = args
    import torch; torch.set_num_threads(1)
    import pandas as pd
    from medcnn_tl.train import train_source
    t = time.perf_counter()
    r = train_source(data, strategy='train_entire', folds=1, epochs=epochs, seed=seed, minutes=None, out=out, verbose=False, threads=1)
    p = pd.read_csv(Path(r['run_dir'])/'valid_predictions.csv')
    return dict(epochs=epochs, seed=seed, auc=r['valid']['auc'], balanced_accuracy=r['valid']['balanced_accuracy'],
                seconds=round(time.perf_counter() - t, 1), label=p['label'].tolist(), prob=p.iloc[:, -1].round(5).tolist())

def tint(xs):
    "The 95 % Student-t interval of the mean of `xs` (`medcnn_tl.lab.mean_interval`); None for fewer than two."
    if len(xs) < 2: return None
    from medcnn_tl.lab import mean_interval
    m, h = mean_interval(xs); return [m - h, m + h]

def boot_auc(y, p, n=2000, seed=0):
    from sklearn.metrics import roc_auc_score
    rng = np.random.RandomState(seed); y, p = np.asarray(y), np.asarray(p); out = []
    for _ in range(n):
        i = rng.randint(0, len(y), len(y))
        if len(np.unique(y[i])) == 2: out.append(roc_auc_score(y[i], p[i]))
    return [float(np.percentile(out, 2.5)), float(np.percentile(out, 97.5))]

def summarise(runs):
    from sklearn.metrics import roc_auc_score
    E = sorted({r['epochs'] for r in runs}); S = sorted({r['seed'] for r in runs})
    by = {(r['epochs'], r['seed']): r for r in runs}
    summ = {}
    for e in E:
        rs = [by[e, s] for s in S if (e, s) in by]
        aucs = [r['auc'] for r in rs]
        ens = np.mean([r['prob'] for r in rs], 0); y = rs[0]['label']
        summ[str(e)] = dict(seeds=[r['seed'] for r in rs], auc_mean=statistics.mean(aucs), auc_ci95=tint(aucs),
                            seconds_mean=statistics.mean(r['seconds'] for r in rs),
                            ensemble_auc=float(roc_auc_score(y, ens)), ensemble_auc_ci95_bootstrap=boot_auc(y, ens))
        common = [s for s in S if (e, s) in by and (E[0], s) in by]
        if e != E[0] and common:
            d = [by[e, s]['auc'] - by[E[0], s]['auc'] for s in common]
            summ[str(e)][f'minus_{E[0]}_epochs'] = dict(seeds=common, mean=statistics.mean(d), ci95=tint(d))
    return summ

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('data'); ap.add_argument('--epochs', type=int, nargs='+', default=[4, 12])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2]); ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--out', default='benchmarks/results/heldout_epochs.json'); a = ap.parse_args()
    jobs = [(a.data, e, s, tempfile.mkdtemp()) for s in a.seeds for e in a.epochs]
    runs, t0 = [], time.time()
    with get_context('spawn').Pool(a.workers) as pool:
        for r in pool.imap_unordered(one, jobs):
            runs.append(r); print(f"epochs {r['epochs']:>3} seed {r['seed']}: AUC {r['auc']:.4f} ({r['seconds']:.0f} s)", flush=True)
            res = dict(benchmark='heldout_epochs', data=Path(a.data).name, command='python benchmarks/heldout_epochs.py ' + ' '.join(os.sys.argv[1:]),
                       protocol="train_source(DATA, strategy='train_entire', folds=1, epochs=E, seed=S): trained on the official train split, "
                                "scored (mirror-image average) on the official val split; paired seeds; one torch thread per run",
                       summary=summarise(runs), runs=[{k: v for k, v in r.items() if k not in ('label', 'prob')} for r in runs],
                       cpus=os.cpu_count(), workers=a.workers, python=platform.python_version(),
                       date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), wall_seconds=round(time.time() - t0))
            Path(a.out).write_text(json.dumps(res, indent=1))
            Path(a.out).with_suffix('.probs.json').write_text(json.dumps(runs))

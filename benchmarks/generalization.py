#!/usr/bin/env python
"""Generalization lab and class-imbalance comparison, measured: writes benchmarks/results/generalization*.json/csv.

Usage: python benchmarks/generalization.py [--part lab|imbalance|all] [--seeds 3] [--epochs 5] [--size 32] [--threads 1]

Data: `medcnn_tl.interpret.lesion_phantoms` (X-ray-like images, a lesion present or not, known masks), 300 images
(150 train / 60 valid / 90 test), so every run is fast on a CPU and the answer is known.
"""
import argparse, json, platform, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
OUT = Path(__file__).resolve().parent/'results'
ORDER = ['baseline', 'no pretraining', 'augmentation: none', 'dropout 0 (head)', 'weight decay 0.1', 'early stopping',
         'batch norm frozen', 'augmentation: strong', 'augmentation: light, no flip']

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--part', default='all', choices=['lab', 'imbalance', 'all'])
    ap.add_argument('--seeds', type=int, default=3); ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--size', type=int, default=32); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--n', type=int, default=300); ap.add_argument('--bs', type=int, default=32); ap.add_argument('--settings', nargs='*', default=None)
    ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import warnings; warnings.filterwarnings('ignore')
    from medcnn_tl.lab import generalization_lab, generalization_table, summarize, compare_imbalance, imbalanced_subsample
    from medcnn_tl.interpret import phantom_source
    from medcnn_tl.data import get_dls, get_test_dl
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    src = phantom_source(a.n, a.size, seed=0, contrast=0.8)
    meta = dict(data=f'lesion_phantoms n={a.n} size={a.size} contrast=0.8 (150/60/90 train/valid/test)', bs=a.bs, arch='efficientnet_lite0',
                epochs=a.epochs, seeds=a.seeds, threads=a.threads, torch=torch.__version__, python=platform.python_version(),
                machine=platform.machine(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                command='python benchmarks/generalization.py ' + ' '.join(argv if argv is not None else sys.argv[1:]))
    if a.part in ('lab', 'all'):
        t0 = time.perf_counter()
        parts = []
        for name in (a.settings or ORDER):            # one setting at a time, results written after each: a partial run still counts
            parts.append(generalization_lab(src, settings=[name], seeds=a.seeds, epochs=a.epochs, size=a.size, bs=a.bs, verbose=False))
            curves = pd.concat(parts, ignore_index=True)
            curves.to_csv(out/'generalization_curves.csv', index=False)
            table = generalization_table(curves)
            table.to_csv(out/'generalization_table.csv', index=False)
            (out/'generalization.json').write_text(json.dumps(dict(**meta, seconds=round(time.perf_counter()-t0),
                                                                   table=table.to_dict('records')), indent=1))
            print(f"{name}: done ({time.perf_counter()-t0:.0f} s)", flush=True)
        print(table[[c for c in table.columns if not c.endswith(('_mean', '_ci'))]].to_string(index=False))
    if a.part in ('imbalance', 'all'):
        t0 = time.perf_counter()
        imb = imbalanced_subsample(src, 'lesion', keep=0.2, seed=0)
        dls = get_dls(imb, size=a.size, bs=a.bs, seed=0, show_progress=False)
        test_dl = get_test_dl(imb, dls)
        parts = []
        for s in range(a.seeds):                       # one seed at a time, results written after each
            parts.append(compare_imbalance(dls, epochs=a.epochs, seeds=[s], test_dl=test_dl))
            df = pd.concat(parts, ignore_index=True)
            df.to_csv(out/'imbalance_runs.csv', index=False)
            table = summarize(df, 'method', ['balanced_accuracy', 'sensitivity', 'specificity', 'auc'])
            table.to_csv(out/'imbalance_table.csv', index=False)
            (out/'imbalance.json').write_text(json.dumps(dict(**meta, seconds=round(time.perf_counter()-t0),
                                                              train_counts={k: int(v) for k, v in imb[imb.split == 'train'].label.value_counts().items()},
                                                              table=table.to_dict('records')), indent=1))
            print(f"seed {s}: done ({time.perf_counter()-t0:.0f} s)", flush=True)
        print(table[[c for c in table.columns if not c.endswith(('_mean', '_ci'))]].to_string(index=False))

if __name__ == '__main__': main()

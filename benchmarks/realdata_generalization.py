#!/usr/bin/env python
"""Lesson 05's overfitting lab on real chest X-rays (PneumoniaMNIST): writes benchmarks/results/realdata_generalization.json.

The same protocol as the lesson's phantom run: few training images and many epochs, so that the network overfits;
the baseline has every regulariser off and each remedy is switched on alone, over several seeds, paired by seed.

Usage: nice python benchmarks/realdata_generalization.py [--data PATH.npz] [--n-train 60] [--epochs 12] [--seeds 3]

Data: a MedMNIST `.npz` with `train_images`/`train_labels` (and optionally `val_*`); by default
`/work/shared/data/pneumoniamnist_trainval.npz`. Get it with `medcnn_tl.data.download_medmnist('pneumoniamnist')`
(or `medcnn-tl download pneumoniamnist`). The images are pooled and a stratified draw of `--n-train` training,
`--n-valid` validation and `--n-test` test images is written to a temporary `.npz` (fixed `--draw-seed`).
A few CPU minutes at the defaults (one thread).
"""
import argparse, json, platform, sys, tempfile, time
from pathlib import Path
import numpy as np, torch

OUT = Path(__file__).resolve().parent/'results'
DEFAULT_DATA = Path('/work/shared/data/pneumoniamnist_trainval.npz')
OFF = dict(augment='none', ps=0.0, wd=0.0)
SETTINGS = {   # the lesson's settings: every regulariser off, then one remedy at a time
    'baseline': OFF,
    '+ augmentation (light, no flip)': {**OFF, 'augment': 'light, no flip'},
    '+ dropout 0.5 (head)': {**OFF, 'ps': 0.5},
    '+ weight decay 0.1': {**OFF, 'wd': 0.1},
    '+ early stopping': {**OFF, 'early_stop': True},
}

def draw(data:Path, n_train, n_valid, n_test, seed)->tuple:
    "A stratified draw of train/valid/test images from the pooled `.npz`; returns the arrays and the pool size."
    z = np.load(data)
    x = np.concatenate([z[k] for k in ('train_images', 'val_images') if k in z.files])
    y = np.concatenate([z[k] for k in ('train_labels', 'val_labels') if k in z.files]).reshape(-1)
    rng, parts = np.random.default_rng(seed), {}
    idx = {c: rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)}
    start = {c: 0 for c in idx}
    for name, n in (('train', n_train), ('val', n_valid), ('test', n_test)):
        take = []
        for c in idx:
            k = int(round(n * len(idx[c]) / len(y))); take.append(idx[c][start[c]:start[c] + k]); start[c] += k
        take = rng.permutation(np.concatenate(take))
        parts[f'{name}_images'], parts[f'{name}_labels'] = x[take], y[take].reshape(-1, 1)
    return parts, len(y)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=str(DEFAULT_DATA))
    ap.add_argument('--n-train', type=int, default=60); ap.add_argument('--n-valid', type=int, default=40)
    ap.add_argument('--n-test', type=int, default=200); ap.add_argument('--draw-seed', type=int, default=0)
    ap.add_argument('--epochs', type=int, default=12); ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--size', type=int, default=32); ap.add_argument('--bs', type=int, default=16)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--out', default=str(OUT/'realdata_generalization.json'))
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not data.exists():
        sys.exit(f"{data}: not found. Download PneumoniaMNIST with medcnn_tl.data.download_medmnist('pneumoniamnist') "
                 "and pass its path with --data.")
    torch.set_num_threads(a.threads)
    from medcnn_tl.lab import generalization_lab, generalization_table
    parts, pool = draw(data, a.n_train, a.n_valid, a.n_test, a.draw_seed)
    tmp = Path(tempfile.mkdtemp())/f'{data.stem.split("_")[0]}_draw.npz'
    np.savez(tmp, **parts)
    t0 = time.perf_counter()
    curves = generalization_lab(tmp, settings=SETTINGS, seeds=a.seeds, epochs=a.epochs, size=a.size, bs=a.bs, verbose=False)
    secs = time.perf_counter() - t0
    table = generalization_table(curves)
    runs = curves.groupby(['setting', 'seed'], sort=False).tail(1)[['setting', 'seed', 'epochs_run', 'best_epoch', 'final_train_accuracy',
                                                                     'final_test_accuracy', 'final_test_auc']]
    res = dict(benchmark='realdata_generalization', data=f'{data.name}: pool of {pool} images, stratified draw (seed {a.draw_seed}) of '
               f'{a.n_train} train / {a.n_valid} valid / {a.n_test} test', size=a.size, bs=a.bs, epochs=a.epochs, seeds=a.seeds,
               arch='efficientnet_lite0 (ImageNet weights)', settings=SETTINGS,
               train_positive_share=float(parts['train_labels'].mean()), seconds=round(secs), threads=a.threads,
               torch=torch.__version__, python=platform.python_version(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
               command='nice python benchmarks/realdata_generalization.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
               note='CPU, shared machine; regenerate with the command above',
               table=json.loads(table.to_json(orient='records')), runs=json.loads(runs.to_json(orient='records')),
               curves=json.loads(curves[['setting', 'seed', 'epoch', 'train_loss', 'valid_loss', 'train_accuracy', 'valid_accuracy',
                                         'test_accuracy']].round(4).to_json(orient='records')))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    print(table[['setting', 'runs', 'final_train_accuracy', 'final_test_accuracy', 'gap', 'final_test_auc', 'test_auc_vs_baseline']].to_string())
    print(f'{secs:.0f} s -> {a.out}')

if __name__ == '__main__': main()

#!/usr/bin/env python
"""Lesson 04's "traditional ML vs transfer learning" comparison on real chest X-rays (PneumoniaMNIST):
writes benchmarks/results/realdata_transfer.json.

Hand-made HOG features + logistic regression against frozen ImageNet EfficientNet-Lite0 features + the same
logistic regression (the lesson's Table 2 cell), at several training-set sizes and over several random draws,
scored by test AUC on the same held-out images.

Usage: nice python benchmarks/realdata_transfer.py [--data PATH.npz] [--sizes 50 200 800] [--draws 3] [--n-test 1000]

Data: a MedMNIST `.npz` with `train_images`/`train_labels` (and optionally `val_*`); by default
`/work/shared/data/pneumoniamnist_trainval.npz`. Get it with `medcnn_tl.data.download_medmnist('pneumoniamnist')`
(or `medcnn-tl download pneumoniamnist`). The images are pooled; a fixed stratified test set of `--n-test` images is
drawn once, and each draw takes its training images from the rest. A few CPU minutes at the defaults.
"""
import argparse, json, platform, sys, time
from pathlib import Path
import numpy as np, torch

OUT = Path(__file__).resolve().parent/'results'
DEFAULT_DATA = Path('/work/shared/data/pneumoniamnist_trainval.npz')
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])   # ImageNet statistics

def cnn_features(body, x, size, bs=256):
    "Frozen-body features (global average pool) of uint8 gray images `x`, resized to `size`, as 3 ImageNet-normalised channels."
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), bs):
            t = torch.as_tensor(x[i:i+bs], dtype=torch.float32)[:, None] / 255.
            t = torch.nn.functional.interpolate(t, size=(size, size), mode='bilinear', align_corners=False).repeat(1, 3, 1, 1)
            t = (t - torch.tensor(MEAN, dtype=torch.float32)[None, :, None, None]) / torch.tensor(STD, dtype=torch.float32)[None, :, None, None]
            out.append(body(t).mean((2, 3)).numpy())
    return np.concatenate(out)

def hog_features(x):
    from skimage.feature import hog
    return np.stack([hog(im, orientations=9, pixels_per_cell=(7, 7), cells_per_block=(2, 2)) for im in x])

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=str(DEFAULT_DATA))
    ap.add_argument('--sizes', type=int, nargs='+', default=[50, 200, 800]); ap.add_argument('--draws', type=int, default=3)
    ap.add_argument('--n-test', type=int, default=1000); ap.add_argument('--image-size', type=int, default=64)
    ap.add_argument('--threads', type=int, default=1); ap.add_argument('--out', default=str(OUT/'realdata_transfer.json'))
    a = ap.parse_args(argv)
    data = Path(a.data)
    if not data.exists():
        sys.exit(f"{data}: not found. Download PneumoniaMNIST with medcnn_tl.data.download_medmnist('pneumoniamnist') "
                 "and pass its path with --data.")
    torch.set_num_threads(a.threads)
    from sklearn.metrics import roc_auc_score
    from medcnn_tl.transfer import create_body, sklearn_classifier
    from medcnn_tl.lab import mean_interval
    t0 = time.perf_counter()
    z = np.load(data)
    x = np.concatenate([z[k] for k in ('train_images', 'val_images') if k in z.files])
    y = np.concatenate([z[k] for k in ('train_labels', 'val_labels') if k in z.files]).reshape(-1).astype(int)
    rng = np.random.default_rng(0)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:int(round(a.n_test * (y == c).mean()))] for c in (0, 1)])
    rest = np.setdiff1d(np.arange(len(y)), test)
    draws = {(n, d): np.random.default_rng(1000 * n + d).choice(rest, n, replace=False) for n in a.sizes for d in range(a.draws)}
    used = np.unique(np.concatenate([test, *draws.values()]))
    body = create_body('efficientnet_lite0', 'imagenet', n_in=3).eval()
    feats = {'traditional: HOG + logistic regression': dict(zip(used, hog_features(x[used]))),
             'transfer: frozen EfficientNet-Lite0 + logistic regression': dict(zip(used, cnn_features(body, x[used], a.image_size)))}
    rows = []
    for (n, d), tr in draws.items():
        for name, f in feats.items():
            clf = sklearn_classifier('logreg').fit(np.stack([f[i] for i in tr]), y[tr])
            p = clf.predict_proba(np.stack([f[i] for i in test]))[:, 1]
            rows.append(dict(approach=name, n_train=n, draw=d, test_auc=round(float(roc_auc_score(y[test], p)), 4)))
    table = []
    for name in feats:
        for n in a.sizes:
            m, h = mean_interval([r['test_auc'] for r in rows if r['approach'] == name and r['n_train'] == n])
            table.append(dict(approach=name, n_train=n, draws=a.draws, test_auc_mean=round(m, 4), test_auc_ci=round(h, 4)))
    res = dict(benchmark='realdata_transfer', data=f'{data.name}: pool of {len(y)} images (28×28, pneumonia share {y.mean():.2f}); '
               f'fixed stratified test set of {len(test)} images; training draws from the rest', image_size=a.image_size,
               sizes=a.sizes, draws=a.draws, seconds=round(time.perf_counter() - t0), threads=a.threads, torch=torch.__version__,
               python=platform.python_version(), date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
               command='nice python benchmarks/realdata_transfer.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
               note='CPU, shared machine; interval: 95% t interval over draws', table=table, runs=rows)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    for r in table: print(r)
    print(f"{res['seconds']} s -> {a.out}")

if __name__ == '__main__': main()

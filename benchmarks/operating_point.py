"""Which threshold rule survives a held-out "other" set: evidence for the operating point of `medcnn-tl train` (issue 23).

Usage:
  nice -n 10 python benchmarks/operating_point.py /path/pneumoniamnist_trainval.npz /path/breastmnist_trainval.npz
         [--size 64] [--boot 2000] [--out benchmarks/results/operating_point.json]

Cheap by design (about a minute per set on 2 CPU cores): the model is a logistic regression on frozen ImageNet
EfficientNet-Lite0 features at `--size` px (the `frozen_base` + sklearn path of `medcnn_tl.transfer`), not the
fine-tuned ensemble of `train`, so the numbers say how the *rules* behave, not how good `train` is. Per data set:
- the model is trained on the official **train** split only; its 5-fold out-of-fold probabilities on train are what
  each rule sees to choose its threshold (as `train_source` chooses on its out-of-fold predictions);
- the model refit on all of train predicts the official **val** split, which no choice saw: the "other" set;
- the "other" set is scored as it is, re-weighted to another prevalence (PneumoniaMNIST's official test is 62.5 %
  pneumonia against 74 % in train+val: bootstrap resamples drawn per class at that prevalence), and with its
  intensities shifted (gamma 0.8 and 1.25 on the raw pixels: another scanner / exposure), the shift we cannot see;
- rules: `argmax` (0.5 on the probability), `balanced` (sensitivity = specificity out-of-fold), `youden` (max J
  out-of-fold), `prevalence` (predict the out-of-fold share of positives: the threshold at that quantile);
- accuracy, balanced accuracy, sensitivity, specificity with 95 % percentile bootstrap intervals, and the paired
  bootstrap difference of each rule against `balanced`.
"""
import argparse, json, os, platform, time
from pathlib import Path
import numpy as np, torch
import torch.nn.functional as F
from sklearn.model_selection import StratifiedKFold
from sklearn import metrics as skm

RULES = ('argmax', 'balanced', 'youden', 'prevalence')

def features(body, images, size, gamma=1.0, bs=256):
    "Global-average-pooled features of grey `images` (N, H, W uint8): resized bilinearly to `size`, grey -> RGB, ImageNet-normalised."
    from medcnn_tl.data import IMAGENET_STATS
    mean, std = (torch.tensor(s)[None, :, None, None] for s in IMAGENET_STATS)
    out = []
    with torch.no_grad():
        for i in range(0, len(images), bs):
            x = torch.tensor(images[i:i+bs]).float().div(255).pow(gamma)[:, None]
            x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False).expand(-1, 3, -1, -1)
            out.append(body((x - mean)/std).mean((2, 3)))
    return torch.cat(out).numpy()

def threshold(rule, y, p):
    "The threshold `rule` picks on out-of-fold labels `y` and probabilities `p` (predict 1 when p >= t)."
    from medcnn_tl.interpret import choose_threshold
    if rule == 'argmax': return 0.5
    if rule in ('balanced', 'youden'): return choose_threshold(y, p, rule=rule)
    return float(np.quantile(p, 1 - y.mean()))   # 'prevalence': as many predicted positives as true ones

def scores(y, pred):
    tp, tn = ((pred == 1) & (y == 1)).sum(), ((pred == 0) & (y == 0)).sum()
    sens, spec = tp/max((y == 1).sum(), 1), tn/max((y == 0).sum(), 1)
    return dict(accuracy=(tp + tn)/len(y), balanced_accuracy=(sens + spec)/2, sensitivity=sens, specificity=spec)

def evaluate(y, p, thrs, prevalence, boot, seed):
    "Point estimates (at `prevalence`, by re-weighting) and paired percentile bootstrap intervals for every rule."
    rng = np.random.RandomState(seed)
    i1, i0 = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n = len(y); n1 = int(round(prevalence*n)) if prevalence is not None else len(i1)
    def sample(r):
        return np.concatenate([r.choice(i1, n1), r.choice(i0, n - n1)]) if r is not None else \
               (np.concatenate([i1, i0]) if prevalence is None else None)
    res = {}
    # point estimate: accuracy at a prevalence = prevalence * sens + (1 - prevalence) * spec
    for rule, t in thrs.items():
        s = scores(y, (p >= t).astype(int))
        if prevalence is not None: s['accuracy'] = prevalence*s['sensitivity'] + (1 - prevalence)*s['specificity']
        res[rule] = dict(threshold=t, **{k: float(v) for k, v in s.items()})
    draws = {rule: [] for rule in thrs}
    for _ in range(boot):
        ix = sample(rng)
        for rule, t in thrs.items(): draws[rule].append(scores(y[ix], (p[ix] >= t).astype(int)))
    for rule in thrs:
        for k in ('accuracy', 'balanced_accuracy', 'sensitivity', 'specificity'):
            v = np.array([d[k] for d in draws[rule]])
            res[rule][k + '_ci95'] = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
            if rule != 'balanced':
                dv = v - np.array([d[k] for d in draws['balanced']])
                res[rule][k + '_minus_balanced'] = [float(dv.mean()), float(np.percentile(dv, 2.5)), float(np.percentile(dv, 97.5))]
    return res

def one_set(path, size, boot, seed=0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from medcnn_tl.transfer import create_body
    t0 = time.perf_counter()
    z = np.load(path)
    Xt, yt = z['train_images'], z['train_labels'].ravel().astype(int)
    Xv, yv = z['val_images'], z['val_labels'].ravel().astype(int)
    torch.manual_seed(seed)
    body = create_body('efficientnet_lite0', 'imagenet', 3).eval()
    Ft = features(body, Xt, size)
    clf = lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=3000))
    oof = np.zeros(len(yt))
    for tr, va in StratifiedKFold(5, shuffle=True, random_state=seed).split(Ft, yt):
        oof[va] = clf().fit(Ft[tr], yt[tr]).predict_proba(Ft[va])[:, 1]
    thrs = {rule: threshold(rule, yt, oof) for rule in RULES}
    full = clf().fit(Ft, yt)
    out = dict(data=Path(path).name, n_train=len(yt), n_val=len(yv), train_prevalence=float(yt.mean()),
               val_prevalence=float(yv.mean()), oof_auc=float(skm.roc_auc_score(yt, oof)),
               oof_at_each_threshold={rule: {k: float(v) for k, v in scores(yt, (oof >= t).astype(int)).items()} | dict(threshold=t)
                                      for rule, t in thrs.items()}, scenarios={})
    for name, gamma, prev in [('val as it is', 1.0, None), ('val at prevalence 0.625 (PneumoniaMNIST test)', 1.0, 0.625),
                              ('val at prevalence 0.5', 1.0, 0.5), ('val, gamma 0.8 (brighter)', 0.8, None),
                              ('val, gamma 1.25 (darker)', 1.25, None)]:
        pv = full.predict_proba(features(body, Xv, size, gamma))[:, 1]
        out['scenarios'][name] = dict(auc=float(skm.roc_auc_score(yv, pv)), prevalence=prev if prev is not None else float(yv.mean()),
                                      rules=evaluate(yv, pv, thrs, prev, boot, seed))
    out['seconds'] = round(time.perf_counter() - t0, 1)
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('data', nargs='+'); ap.add_argument('--size', type=int, default=64); ap.add_argument('--boot', type=int, default=2000)
    ap.add_argument('--out', default='benchmarks/results/operating_point.json')
    a = ap.parse_args()
    torch.set_num_threads(2)
    sets = [one_set(p, a.size, a.boot) for p in a.data]
    for s in sets:
        print(f"\n{s['data']}: out-of-fold AUC {s['oof_auc']:.3f}; thresholds " + ', '.join(f"{r} {v['threshold']:.3f}" for r, v in s['oof_at_each_threshold'].items()))
        for name, sc in s['scenarios'].items():
            print(f"  {name} (AUC {sc['auc']:.3f}, prevalence {sc['prevalence']:.3f})")
            for rule, r in sc['rules'].items():
                print(f"    {rule:10s} acc {r['accuracy']:.3f} [{r['accuracy_ci95'][0]:.3f}, {r['accuracy_ci95'][1]:.3f}]  "
                      f"bal {r['balanced_accuracy']:.3f} [{r['balanced_accuracy_ci95'][0]:.3f}, {r['balanced_accuracy_ci95'][1]:.3f}]  "
                      f"sens {r['sensitivity']:.3f} spec {r['specificity']:.3f}"
                      + (f"  acc-bal {r['accuracy_minus_balanced'][0]:+.3f} [{r['accuracy_minus_balanced'][1]:+.3f}, {r['accuracy_minus_balanced'][2]:+.3f}]"
                         if 'accuracy_minus_balanced' in r else ''))
    Path(a.out).write_text(json.dumps(dict(benchmark='operating_point', size=a.size, boot=a.boot, sets=sets, model=
        'logistic regression (C=0.05) on frozen ImageNet efficientnet_lite0 features (global average pool), not the train ensemble',
        torch=torch.__version__, python=platform.python_version(), cpus=os.cpu_count(), loadavg=list(os.getloadavg()),
        note='thresholds chosen on 5-fold out-of-fold probabilities of the official train split; scored on the official val '
             'split (never seen), re-weighted by per-class bootstrap to other prevalences or with gamma-shifted pixels; '
             'intervals: 95 % percentile bootstrap; *_minus_balanced: paired bootstrap mean and 95 % interval'), indent=1))
    print(f"wrote {a.out}")

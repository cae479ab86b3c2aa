"""Cross-validated estimates, with intervals, from the run folders of `medcnn-tl train`; paired comparisons of runs.

Usage:
  python benchmarks/recipe_cv.py RUN_DIR [RUN_DIR ...] [--names A B ...] [--prevalence P] [--boot 2000]
         [--out benchmarks/results/recipe_cv.json]

For each run folder (written by `medcnn-tl train DATA`): the out-of-fold (cross-validated) AUC, and accuracy,
sensitivity, specificity and balanced accuracy at the run's own threshold (`metrics.json`, chosen by its rule on those
same out-of-fold predictions) and at the argmax, each with a 95 % bootstrap interval over images (`--boot` resamples,
stratified by class). `--prevalence P` adds the accuracy the run's sensitivity and specificity would give where a
share P of the images is positive (a change of prevalence is the one shift that can be computed without the shifted
data: accuracy = P*sensitivity + (1-P)*specificity). When a run has a test split, its test metrics are copied too.
When a run cross-fitted more than once (`--repeats`), each repeat's out-of-fold AUC is given, and the paired
bootstrap difference of the mean over repeats to repeat 0 alone. When several runs hold out the same images (same
data, same seed, so repeat 0 cuts the same folds), the paired bootstrap difference of each run's AUC to the first's.
"""
import argparse, json, time
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score

KEYS = ('accuracy', 'sensitivity', 'specificity', 'balanced_accuracy')

def point(y, p, t, prevalence=None):
    "AUC, and the metrics at threshold `t` and at the argmax (`medcnn_tl.interpret.report_metrics`); with `prevalence`, the accuracy there."
    from medcnn_tl.interpret import report_metrics
    r = report_metrics(y, np.c_[1 - p, p], t)
    out = dict(auc=r['auc'], **{f'{k}_at_threshold': r[k] for k in KEYS}, **{f'{k}_at_argmax': r[f'{k}_argmax'] for k in KEYS})
    if prevalence is not None:
        out[f'accuracy_at_threshold_prevalence_{prevalence}'] = prevalence*r['sensitivity'] + (1 - prevalence)*r['specificity']
    return out

def boot_ix(y, n, seed=0):
    rng = np.random.RandomState(seed); pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    for _ in range(n): yield np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])

def ci(xs): return [round(float(np.percentile(xs, 2.5)), 4), round(float(np.percentile(xs, 97.5)), 4)]

def one_run(d, boot, prevalence):
    d = Path(d); m = json.loads((d/'metrics.json').read_text()); c = json.loads((d/'config.json').read_text())
    v = pd.read_csv(d/'valid_predictions.csv'); pos = c['vocab'][-1]
    y, p = v['label'].to_numpy(), v[f'prob_{pos}'].to_numpy(); t = m['valid']['threshold']
    est, bs = point(y, p, t, prevalence), {}
    for i in boot_ix(y, boot):
        for k, x in point(y[i], p[i], t, prevalence).items(): bs.setdefault(k, []).append(x)
    out = dict(run=d.name, data=c['data'], n=len(y), positive=pos, prevalence=float((y == 1).mean()), threshold=t,
               threshold_rule=m.get('threshold_rule'), members=m['members'], folds=m['folds'], repeats=m.get('repeats', 1),
               epochs=c['epochs'], epochs_wanted=c.get('epochs_wanted'), size=c['size'], seconds=c.get('member_seconds'),
               cv={k: dict(estimate=round(float(x), 4), ci95=ci(bs[k])) for k, x in est.items()},
               test=m.get('test'))
    reps = sorted(col for col in v.columns if col.startswith('repeat') and col.endswith(f'_prob_{pos}'))
    if reps:
        out['repeat_auc'] = {col.split('_')[0]: round(roc_auc_score(y[v[col].notna()], v[col].dropna()), 4) for col in reps}
        ok = v[reps[0]].notna().to_numpy(); r0 = v[reps[0]].to_numpy()
        diffs = [roc_auc_score(y[i], p[i]) - roc_auc_score(y[i], r0[i]) for i in boot_ix(y[ok], boot) for i in [np.flatnonzero(ok)[i]]]
        out['mean_of_repeats_minus_repeat0_auc'] = dict(estimate=round(roc_auc_score(y[ok], p[ok]) - roc_auc_score(y[ok], r0[ok]), 4), ci95=ci(diffs))
    return out, y, p

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('runs', nargs='+'); ap.add_argument('--names', nargs='*')
    ap.add_argument('--prevalence', type=float); ap.add_argument('--boot', type=int, default=2000)
    ap.add_argument('--out', default='benchmarks/results/recipe_cv.json'); a = ap.parse_args()
    names = a.names or [Path(r).name for r in a.runs]
    res, ys, ps = {}, [], []
    for n, r in zip(names, a.runs):
        o, y, p = one_run(r, a.boot, a.prevalence); res[n] = o; ys.append(y); ps.append(p)
    pairs = {}
    for n, y, p in zip(names[1:], ys[1:], ps[1:]):
        if len(y) == len(ys[0]) and (y == ys[0]).all():
            d = [roc_auc_score(y[i], p[i]) - roc_auc_score(y[i], ps[0][i]) for i in boot_ix(y, a.boot)]
            pairs[f'{n} minus {names[0]}'] = dict(auc=round(roc_auc_score(y, p) - roc_auc_score(y, ps[0]), 4), ci95=ci(d))
    out = dict(benchmark='recipe_cv', command='python benchmarks/recipe_cv.py ' + ' '.join(__import__('sys').argv[1:]),
               note='cv = out-of-fold predictions of each run (each image predicted by members that never trained on it); 95 % '
                    'intervals: stratified bootstrap over images; paired: the same images resampled for both runs',
               runs=res, paired_auc_differences=pairs, date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))
    Path(a.out).write_text(json.dumps(out, indent=1, default=float)); print(json.dumps(out, indent=1, default=float)[:4000])

#!/usr/bin/env python
"""Domain pretraining measured (issue 21): ImageNet vs domain-pretrained (SimSiam) vs random initialisation, on real data.

Writes benchmarks/results/pretrain_transfer.csv (one row per fine-tuning run; resumable: rows already there are skipped)
and benchmarks/results/pretrain_transfer.json (per data x size: each init's mean test AUC, and the paired differences
domain - imagenet, domain - scratch and domain - cross with 95% t intervals over seeds; the selector's arm).

Usage: nice -n 10 python benchmarks/pretrain_transfer.py [--seeds 5] [--pretrain-minutes 4] [--size 32] [--work DIR]

Protocol. For each data set (PneumoniaMNIST, BreastMNIST; train+val files only) a fixed stratified test set is drawn
once and never used for pretraining or training. SimSiam pretraining (`medcnn_tl.pretrain.pretrain`, from the ImageNet
weights) runs on the unlabeled remaining images of each data set; then, for each labelled size n and seed, the same
n images (stratified draw from the remainder, split 80/20 into train/valid) are fine-tuned from: ImageNet weights
(`train_entire`), the same-domain pretrained weights (`train_entire`), the other data set's pretrained weights
(cross-domain, `train_entire`) and random weights (`scratch`, the toolkit's recipe from random weights), all with
`medical_learner` and scored by `interpret.evaluate` on the test set. Where `medcnn_tl.selector.recommend` (given the
measured similarity of the data set's non-test images and n) picks another strategy than `train_entire` (e.g.
`finetune_some`), that strategy is also fine-tuned from the ImageNet and the same-domain weights on the same draws (the
JSON's `selector_arm`). One CPU thread; the pretrained weights are cached in --work (not committed).
"""
import argparse, csv, json, platform, sys, time
from pathlib import Path
import numpy as np, torch

OUT = Path(__file__).resolve().parent/'results'
DATA = {'pneumoniamnist': Path('/work/shared/data/pneumoniamnist_trainval.npz'),
        'breastmnist': Path('/work/shared/data/breastmnist_trainval.npz')}
FIELDS = ['init', 'pretrain_data', 'data', 'n_train', 'seed', 'strategy', 'auc', 'acc', 'epochs', 'seconds', 'device']

def load(path):
    z = np.load(path)
    x = np.concatenate([z[k] for k in ('train_images', 'val_images') if k in z.files])
    y = np.concatenate([z[k] for k in ('train_labels', 'val_labels') if k in z.files]).reshape(-1).astype(int)
    return x, y

def split(y, n_test, seed=0):
    "A fixed stratified test set and the rest."
    rng = np.random.default_rng(seed)
    test = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:int(round(n_test*(y == c).mean()))] for c in (0, 1)]))
    return test, np.setdiff1d(np.arange(len(y)), test)

def draw(y, rest, n, seed):
    "A stratified draw of `n` labelled images from `rest` (the same for every init: paired)."
    rng = np.random.default_rng(10_000 + 97*n + seed)
    if n >= len(rest): return rng.permutation(rest)
    per = {c: int(round(n*(y[rest] == c).mean())) for c in (0, 1)}
    return rng.permutation(np.concatenate([rng.choice(rest[y[rest] == c], per[c], replace=False) for c in (0, 1)]))

def fine_tune_epochs(n): return int(np.clip(round(1500/max(n, 1)), 3, 12))   # about the same number of images seen (CPU budget)

def run_one(x, y, idx, test, size, init, weights, seed, epochs, strategy='train_entire'):
    from medcnn_tl.data import tensor_dls, imagenet_normalize
    from medcnn_tl.learner import medical_learner
    from medcnn_tl.interpret import evaluate
    from medcnn_tl.pretrain import unlabeled_images
    prep = lambda ii: imagenet_normalize(unlabeled_images(x[ii], size).expand(-1, 3, -1, -1), 3)
    n_val = max(4, int(round(0.2*len(idx))))
    tr, va = idx[n_val:], idx[:n_val]
    dls = tensor_dls(prep(tr), torch.as_tensor(y[tr]), valid=(prep(va), torch.as_tensor(y[va])), bs=32, seed=seed, device='cpu')
    test_dl = tensor_dls(prep(test), torch.as_tensor(y[test]), valid=(prep(test), torch.as_tensor(y[test])), bs=128, device='cpu').valid
    strategy = 'scratch' if init == 'scratch' else strategy
    learn = medical_learner(dls, 'efficientnet_lite0', strategy, weights=weights, seed=seed, device='cpu')
    learn.fit_strategy(epochs, progress=False)
    m = evaluate(learn, test_dl)['test']
    return strategy, m['auc'], m['accuracy']

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=5); ap.add_argument('--size', type=int, default=32)
    ap.add_argument('--pretrain-minutes', type=float, default=4.0); ap.add_argument('--pretrain-epochs', type=int, default=30)
    ap.add_argument('--sizes-pneumoniamnist', type=int, nargs='+', default=[50, 200, 800])
    ap.add_argument('--sizes-breastmnist', type=int, nargs='+', default=[50, 150, 400])
    ap.add_argument('--n-test', type=int, nargs=2, default=[600, 200], metavar=('PNEUMONIA', 'BREAST'))
    ap.add_argument('--inits', nargs='+', default=['imagenet', 'domain', 'cross', 'scratch'])
    ap.add_argument('--selector-inits', nargs='+', default=['imagenet', 'domain'],
                    help="the starts also fine-tuned with the strategy `recommend` picks for the cell (where it is not train_entire)")
    ap.add_argument('--work', default='/tmp/medcnn_pretrain_bench'); ap.add_argument('--summary-only', action='store_true')
    ap.add_argument('--pretrain-only', action='store_true', help='pretrain (the --only data sets) and stop: run one process per data set, then fine-tune')
    ap.add_argument('--previous', default=None, help="the JSON of a run with a shorter pretraining on the same draws: its paired "
                    "domain - ImageNet differences are kept beside this run's (what a longer pretraining changed)")
    ap.add_argument('--results', default=str(OUT), help='folder of the CSV and JSON')
    ap.add_argument('--only', nargs='+', default=None, help='fine-tune on these data sets only (e.g. two processes, then merge the CSVs)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.results); out.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, work = out/'pretrain_transfer.csv', out/'pretrain_transfer.json', Path(a.work)
    sets = {name: load(p) for name, p in DATA.items() if p.exists()}
    if len(sets) < 2: sys.exit(f"needs both {list(DATA.values())}")
    tests = {name: split(y, n)
             for (name, (x, y)), n in zip(sets.items(), a.n_test)}
    pre = {}
    from medcnn_tl.pretrain import pretrain
    pre_path = work/'pretraining.json'
    pre_rec = json.loads(pre_path.read_text()) if pre_path.exists() else {}
    for name, (x, y) in sets.items():   # unlabeled pretraining on everything but the test images
        f = work/f'efficientnet_lite0_simsiam_{name}.pth'
        if not f.exists() and not a.summary_only and (a.only is None or name in a.only):
            print(f"pretraining on {name} ({len(tests[name][1])} unlabeled images, <= {a.pretrain_minutes} min)", flush=True)
            r = pretrain(x[tests[name][1]], out=work, start='imagenet', epochs=a.pretrain_epochs, minutes=a.pretrain_minutes,
                         size=a.size, bs=64, seed=0, name=f.stem, progress=False, device='cpu')
            rec = dict(r.config); rec['data'] = dict(rec['data'], name=f'{name}_trainval.npz minus the test images')
            pre_rec = json.loads(pre_path.read_text()) if pre_path.exists() else {}   # another process may have added its own
            pre_rec[name] = rec; pre_path.write_text(json.dumps(pre_rec, indent=1))
            print(f"  {rec['epochs_done']} epochs in {rec['seconds']} s; losses {rec['losses']}", flush=True)
        pre[name] = f
    if a.pretrain_only: return
    pre_rec = json.loads(pre_path.read_text()) if pre_path.exists() else pre_rec
    missing = [str(f) for f in pre.values() if not f.exists()]
    if missing and not a.summary_only and ({'domain', 'cross'} & set(a.inits + a.selector_inits)):
        sys.exit(f"pretrained weights missing: {missing}; run the pretraining first (--pretrain-only, one process per data set with --only)")
    done = set()
    if csv_path.exists():
        with open(csv_path) as fh:
            for r in csv.DictReader(fh): done.add((r['init'], r['strategy'], r['data'], int(r['n_train']), int(r['seed'])))
    sizes = {'pneumoniamnist': a.sizes_pneumoniamnist, 'breastmnist': a.sizes_breastmnist}
    other = {'pneumoniamnist': 'breastmnist', 'breastmnist': 'pneumoniamnist'}
    chosen = selector_choices(sets, tests, sizes, work) if a.selector_inits else {}
    arms = lambda d, n: ([(i, 'scratch' if i == 'scratch' else 'train_entire') for i in a.inits] +
                         [(i, chosen[d][str(n)]) for i in a.selector_inits if chosen and chosen[d][str(n)] not in ('train_entire', 'scratch')])
    jobs = [(d, n, s, i, st) for d in sets for n in sizes[d] for s in range(a.seeds) for i, st in arms(d, n)
            if (i, st, d, n, s) not in done and (a.only is None or d in a.only)]
    print(f"{len(jobs)} fine-tuning runs to do ({len(done)} done)", flush=True)
    new = not csv_path.exists()
    with open(csv_path, 'a', newline='') as fh:
        w = csv.DictWriter(fh, FIELDS)
        if new: w.writeheader()
        for k, (d, n, s, init, st) in enumerate([] if a.summary_only else jobs):
            x, y = sets[d]; test, rest = tests[d]
            idx = draw(y, rest, n, s)
            pdata = {'imagenet': 'imagenet', 'scratch': '', 'domain': d, 'cross': other[d]}[init]
            weights = {'imagenet': 'imagenet', 'scratch': 'none'}.get(init) or str(pre[pdata])
            t0 = time.perf_counter(); ep = fine_tune_epochs(len(idx))
            strategy, auc, acc = run_one(x, y, idx, test, a.size, init, weights, s, ep, st)
            row = dict(init=init, pretrain_data=pdata, data=d, n_train=n, seed=s, strategy=strategy, auc=round(auc, 4),
                       acc=round(acc, 4), epochs=ep, seconds=round(time.perf_counter() - t0, 1), device='cpu (1 thread, shared)')
            w.writerow(row); fh.flush()
            print(f"[{k+1}/{len(jobs)}] {d} n={n} seed={s} {init} {strategy}: AUC {auc:.3f} ({row['seconds']} s)", flush=True)
    summarize(csv_path, json_path, pre_rec, a, {d: (len(tests[d][0]), len(tests[d][1])) for d in sets}, chosen)

def selector_choices(sets, tests, sizes, work):
    "What `recommend` picks for each data set and labelled size, from the measured similarity of its non-test images (cached in `work`)."
    from medcnn_tl.selector import recommend
    from medcnn_tl.transfer import domain_similarity
    f = work/'selector_choices.json'
    got = json.loads(f.read_text()) if f.exists() else {}
    for d, (x, y) in sets.items():
        if d in got and all(str(n) in got[d] for n in sizes[d]): continue
        sim = float(domain_similarity(x[tests[d][1]], max_images=500, seed=0).similarity)
        got[d] = {'similarity': round(sim, 4), **{str(n): recommend(int(n), sim).strategy for n in sizes[d]}}
    work.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(got, indent=1))
    return got

def paired(a, b):
    "Mean and 95% t interval of the paired differences a - b over seeds, with a verdict."
    from medcnn_tl.lab import mean_interval
    diff = (a - b).dropna()
    m, h = mean_interval(diff)
    return dict(mean=round(m, 4), ci95=[round(m - h, 4), round(m + h, 4)], n_pairs=int(len(diff)),
                verdict='cannot decide (fewer than 3 paired seeds)' if len(diff) < 3 else 'better' if m - h > 0
                        else 'worse' if m + h < 0 else 'cannot decide (interval covers 0)')

def shorter(path):
    "The pretraining record and the per-cell domain - ImageNet / domain - cross differences of an earlier, shorter run (or None)."
    if not path: return None
    prev = json.loads(Path(path).read_text())
    keep = ('auc_domain', 'auc_cross', 'domain_minus_imagenet', 'domain_minus_cross', 'domain_minus_scratch')
    return dict(pretraining={d: {k: r.get(k) for k in ('epochs_done', 'steps', 'minutes', 'seconds', 'losses')} for d, r in prev.get('pretraining', {}).items()},
                cells=[{'data': c['data'], 'n_train': c['n_train'], **{k: c[k] for k in keep if k in c},
                        **({'selector_arm_domain_minus_imagenet': c['selector_arm']['domain_minus_imagenet']}
                           if 'domain_minus_imagenet' in c.get('selector_arm', {}) else {})} for c in prev['cells']],
                date=prev.get('date'), command=prev.get('command'))

def summarize(csv_path, json_path, pre_rec, a, counts, chosen=None):
    import pandas as pd
    from medcnn_tl.lab import mean_interval
    df = pd.read_csv(csv_path)
    cells = []
    for (d, n), g_all in df.groupby(['data', 'n_train']):
        g = g_all[g_all.strategy.isin(['train_entire', 'scratch'])]
        piv = g.pivot_table(index='seed', columns='init', values='auc')
        cell = dict(data=d, n_train=int(n), seeds=int(len(piv)))
        for i in piv.columns:
            m, h = mean_interval(piv[i]); cell[f'auc_{i}'] = [round(m, 4), round(h, 4)]
        for other in ('imagenet', 'scratch', 'cross'):
            if 'domain' in piv and other in piv:
                diff = (piv['domain'] - piv[other]).dropna()
                m, h = mean_interval(diff)
                cell[f'domain_minus_{other}'] = dict(mean=round(m, 4), ci95=[round(m - h, 4), round(m + h, 4)], n_pairs=int(len(diff)),
                    verdict='cannot decide (fewer than 3 paired seeds)' if len(diff) < 3 else 'domain better' if m - h > 0
                            else 'domain worse' if m + h < 0 else 'cannot decide (interval covers 0)')
        sel = sorted(set(g_all.strategy) - {'train_entire', 'scratch'})
        if sel:   # the selector's strategy for this cell, fine-tuned from the same starts on the same draws
            s = sel[0]
            ps = g_all[g_all.strategy == s].pivot_table(index='seed', columns='init', values='auc')
            arm = dict(strategy=s)
            for i in ps.columns:
                m, h = mean_interval(ps[i]); arm[f'auc_{i}'] = [round(m, 4), round(h, 4)]
                if i in piv: arm[f'{s}_minus_train_entire_{i}'] = paired(ps[i], piv[i])
            if 'domain' in ps and 'imagenet' in ps: arm['domain_minus_imagenet'] = paired(ps['domain'], ps['imagenet'])
            cell['selector_arm'] = arm
        cells.append(cell)
    verdicts = {}
    for d in df['data'].unique():
        cs = [c for c in cells if c['data'] == d and 'domain_minus_imagenet' in c]
        v = [(c['n_train'], c['domain_minus_imagenet']['verdict']) for c in cs]
        verdicts[d] = '; '.join(f"n={n}: {t} than ImageNet" if not t.startswith('cannot') else f"n={n}: {t}" for n, t in v)
    res = dict(benchmark='pretrain_transfer', date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
               protocol=dict(
                   data={d: f'{d}_trainval.npz (train+val only): {nt} fixed stratified test images, never pretrained or trained on; '
                            f'{nr} others for unlabeled pretraining and labelled draws' for d, (nt, nr) in counts.items()},
                   pretraining=f"SimSiam from the ImageNet EfficientNet-Lite0 weights, on the unlabeled non-test images, {a.size} px, "
                               f"batch 64, AdamW 1e-3 cosine, at most {a.pretrain_epochs} epochs or {a.pretrain_minutes} CPU minutes",
                   fine_tuning=f"medical_learner at {a.size} px: train_entire from ImageNet / domain{' / cross-domain' if 'cross' in set(df.init) else ''} weights, the scratch "
                               f"recipe from random weights; epochs = clip(1500/n, 3, 12); 80/20 train/valid of the n labelled images; "
                               f"the same images for every init (paired); test AUC from interpret.evaluate"
                               + ("; where `recommend` (from the measured similarity, selector_choices) picks another strategy than "
                                  "train_entire for the cell, that strategy too, from " + ' and '.join(a.selector_inits) + " weights on the same draws"
                                  if chosen else ''),
                   seeds=a.seeds, threads=1, inits=sorted(set(df.init)),
                   budget='CPU, 1 thread, a machine shared with other jobs: small images (32 px) and minutes of pretraining',
                   longer_run=("On a GPU: pretrain for hundreds of epochs at 64-128 px (SimSiam's gains grow with pretraining length; "
                               "minutes on a CPU are far from the paper's 100-800 epochs), fine-tune longer, more seeds (narrower "
                               "intervals). A null result here says 'not at this "
                               "budget', not 'never'.")),
               unlabelled_images={d: nr for d, (nt, nr) in counts.items()}, test_images={d: nt for d, (nt, nr) in counts.items()},
               pretraining=pre_rec, cells=cells, verdict=verdicts,
               verdict_cross={d: '; '.join(f"n={c['n_train']}: same-domain {c['domain_minus_cross']['verdict'].replace('domain ', '')} than the other data set's pretraining"
                                          if not c['domain_minus_cross']['verdict'].startswith('cannot') else f"n={c['n_train']}: {c['domain_minus_cross']['verdict']}"
                                          for c in cells if c['data'] == d and 'domain_minus_cross' in c) for d in df['data'].unique()},
               verdict_selector={d: '; '.join(f"n={c['n_train']}: {c['selector_arm']['strategy']} " + ', '.join(
                                     f"from {i} {v['verdict'].replace('better', 'better than').replace('worse', 'worse than')}{' train_entire' if not v['verdict'].startswith('cannot') else ''}"
                                     for i in ('imagenet', 'domain') for k, v in c['selector_arm'].items() if k == f"{c['selector_arm']['strategy']}_minus_train_entire_{i}")
                                     for c in cells if c['data'] == d and 'selector_arm' in c) for d in df['data'].unique()},
               selector_choices=chosen or {},
               shorter_pretraining=shorter(a.previous),
               torch=torch.__version__, python=platform.python_version(),
               command='nice -n 10 python benchmarks/pretrain_transfer.py ' + ' '.join(sys.argv[1:]))
    json_path.write_text(json.dumps(res, indent=1))
    for c in cells: print(c)
    print(json.dumps(verdicts, indent=1))

if __name__ == '__main__': main()

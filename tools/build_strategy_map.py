"""Measure the strategy lab's size x similarity map and write `medcnn_tl/strategy_map.json`, the evidence `recommend()`
and the strategy-selector dashboard stand on, with every run in `medcnn_tl/strategy_map_runs.csv` beside it (issue 19).

    python tools/build_strategy_map.py                          # the whole planned grid (resumable: finished runs are skipped)
    nice -n 10 python tools/build_strategy_map.py --workers 2 --sizes 50 200   # only these sizes, two processes
    python tools/build_strategy_map.py --summary                # only rewrite the JSON from the table

Protocol (written into the JSON's `protocol`): every run is `medcnn_tl.lab.lab_run`, i.e. `medical_learner` (the recipe
of `medcnn-tl train`: its augmentation, learning rates, mixed precision on a GPU) on images upscaled to `IMAGE_SIZE` px,
trained until the validation AUC has not improved for `PATIENCE` epochs (at most `MAX_EPOCHS`; the best epoch's weights
kept); `SEEDS` paired seeds: a seed draws one training subset and one validation set that every strategy uses, and
every run of a data set is scored on the same test images (a MedMNIST set's `val` split; 1,000 of Fashion-MNIST's `t10k`
images), never drawn from.
A cell is decided by `medcnn_tl.lab.paired_decision` (paired t-intervals of each strategy's difference to the best).
Runs go to parallel processes on this machine (`medcnn_tl.scale.parallel_map`) and to the GPU when there is one.
"""
import argparse, json, os, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT/'medcnn_tl'/'strategy_map.json'        # read by medcnn_tl.selector.load_strategy_map
RUNS = ROOT/'medcnn_tl'/'strategy_map_runs.csv'       # one row per run (ships beside the JSON)
COMMAND = 'python tools/build_strategy_map.py'
IMAGE_SIZE, SEEDS, MAX_EPOCHS, PATIENCE, BS, ARCH = 64, 5, 30, 5, 16, 'efficientnet_lite0'
STRATEGY_NAMES = ('scratch', 'train_entire', 'freeze_some', 'finetune_some', 'frozen_base')
DATA_DIR = Path(os.environ.get('MEDCNN_DATA', ROOT.parent/'shared'/'data'))
DATA_SETS = {   # name -> file (in DATA_DIR) or loader, about, pool (images the draws come from), the planned sizes (None: all of the pool)
    'pneumoniamnist': dict(file='pneumoniamnist_trainval.npz', sizes=(50, 200, 1000, 2000, None), pool=4707,
                           about="PneumoniaMNIST (MedMNIST v2, paediatric chest X-rays, 28 px grey, upscaled): its train split "
                                 "(4,707 images) is the pool, its val split (524) the test set; the official test split is not used"),
    'breastmnist': dict(file='breastmnist_trainval.npz', sizes=(50, 200, None), pool=546,
                        about="BreastMNIST (MedMNIST v2, breast ultrasound, 28 px grey, upscaled): its train split (546 images) "
                              "is the pool, its val split (78) the test set; the official test split is not used"),
    'fashionmnist': dict(loader='fashion_pair', classes=(2, 4), sizes=(50, 200, 1000), pool=6000,
                         about="Fashion-MNIST (Zalando product photographs, 70,000 distinct items, 28 px grey, upscaled): "
                               "pullover (0) vs coat (1), a pair it often confuses; 6,000 of its train split's 12,000 such images "
                               "are the pool, 1,000 of its t10k split's 2,000 the test set (both drawn with seed 0). "
                               "Photographs of objects, not scenes: the low end of the similarity axis, not ImageNet-like photos. "
                               "Offline: `apt install dataset-fashion-mnist` (Debian) or $FASHION_MNIST = a folder with its four .gz files"),
    'fashionmnist_shoes': dict(loader='fashion_pair', classes=(7, 9), sizes=(50, 200, 1000), pool=6000,
                               about="Fashion-MNIST's footwear: sneaker (0) vs ankle boot (1), drawn as for 'fashionmnist' "
                                     "(6,000 of the train split's 12,000 such images are the pool, 1,000 of t10k's 2,000 the test "
                                     "set, seed 0). A second task from the same photographs, not a second source: it extends the "
                                     "similarity axis downwards. Offline: as 'fashionmnist'"),
}
# Fashion-MNIST's four IDX files: Debian's dataset-fashion-mnist package puts them here
FASHION_DIR = Path(os.environ.get('FASHION_MNIST', '/usr/share/datasets/fashion-mnist'))

def read_idx(path):
    "An IDX file (MNIST's format, gzipped or not) as a numpy array: magic 0x0000 type ndim, ndim big-endian sizes, then the data."
    import gzip
    raw = (gzip.open if str(path).endswith('.gz') else open)(path, 'rb').read()
    if len(raw) < 4 or raw[:2] != b'\0\0' or raw[2] != 0x08: raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    nd = raw[3]; shape = tuple(int.from_bytes(raw[4 + 4*i:8 + 4*i], 'big') for i in range(nd))
    if len(raw) - 4 - 4*nd != int(np.prod(shape)): raise ValueError(f"{path}: {len(raw) - 4 - 4*nd} bytes of data for shape {shape}")
    return np.frombuffer(raw, np.uint8, offset=4 + 4*nd).reshape(shape)

def fashion_pair(folder=None, classes=(2, 4), pool=6000, n_test=1000, seed=0):
    "Fashion-MNIST's two `classes` (default: pullover vs coat) as (x, y, x_test, y_test), y = 1 for the second; None when the files are not there."
    folder = Path(folder or FASHION_DIR)
    files = {k: folder/f'{k}-ubyte.gz' for k in ('train-images-idx3', 'train-labels-idx1', 't10k-images-idx3', 't10k-labels-idx1')}
    if not all(f.exists() for f in files.values()): return None
    rng = np.random.default_rng(seed)
    def part(split, n):
        x, y = read_idx(files[f'{split}-images-idx3']), read_idx(files[f'{split}-labels-idx1'])
        keep = np.flatnonzero(np.isin(y, classes))
        keep = np.sort(rng.choice(keep, min(n, len(keep)), replace=False))
        return x[keep], (y[keep] == classes[1]).astype(np.int64)
    return (*part('train', pool), *part('t10k', n_test))

# seconds per training image and epoch of a run at 64 px on one CPU thread, when no run is measured yet (the JSON's estimate
# of what remains uses the measured runs instead)
CPU_SECONDS_PER_IMAGE_EPOCH = 0.01
GPU_SPEEDUP = 40


def load(name:str):
    "The `LabData` of data set `name` at `IMAGE_SIZE` px, named `name`; None when its files are not on this machine."
    from medcnn_tl.lab import lab_data
    spec = DATA_SETS[name]
    if 'loader' in spec:
        arrays = globals()[spec['loader']](classes=spec['classes'])
        return None if arrays is None else lab_data((name, *arrays), IMAGE_SIZE)
    path = DATA_DIR/spec['file']
    if not path.exists(): return None
    d = lab_data(path, IMAGE_SIZE); d.name = name
    return d

def where(name:str)->str:
    "Where data set `name` is read from (for the message when it is missing)."
    spec = DATA_SETS[name]
    return (f"{FASHION_DIR} (apt install dataset-fashion-mnist, or set $FASHION_MNIST)" if 'loader' in spec
            else f"{DATA_DIR/spec['file']} (set $MEDCNN_DATA to its folder)")


def measure(names, sizes=None, seeds=SEEDS, workers=1, device=None, runs=RUNS, max_epochs=MAX_EPOCHS, strategies=STRATEGY_NAMES, first_seed=0):
    "Run the grid of `names` (planned sizes, or `sizes`) x strategies x `seeds` (first_seed, first_seed+1, ...), appending to `RUNS`; size-major so that small cells finish first."
    from medcnn_tl.lab import run_lab
    from medcnn_tl.transfer import domain_similarity
    data = {n: load(n) for n in names}
    for n, d in data.items():
        if d is None: print(f"skipping {n}: not found at {where(n)}")
    data = {n: d for n, d in data.items() if d is not None}
    runs = Path(runs)
    old = pd.read_csv(runs) if runs.exists() else pd.DataFrame(columns=['data', 'similarity'])
    sims = {}
    for n, d in data.items():
        prev = old[old.data == n].similarity.dropna()
        sims[n] = float(prev.iloc[0]) if len(prev) else round(domain_similarity(d.x, seed=0).similarity, 4)
    planned = sorted({s for n in data for s in (sizes or DATA_SETS[n]['sizes'])}, key=lambda s: float('inf') if s is None else s)
    t0 = time.time()
    for sz in planned:
        for n, d in data.items():
            if sz not in (sizes or DATA_SETS[n]['sizes']): continue
            print(f"{n}, {sz or 'all'} training images: {len(strategies)} strategies x {seeds} seeds", flush=True)
            run_lab(d, sizes=(sz,), seeds=list(range(first_seed, first_seed + seeds)), strategies=strategies, out=runs, size=IMAGE_SIZE, device=device,
                    similarity=sims[n], workers=workers, max_epochs=max_epochs, patience=PATIENCE, bs=BS, arch=ARCH)
    print(f"wall time {time.time() - t0:.0f} s")


def _json_safe(v):
    if isinstance(v, dict): return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [_json_safe(x) for x in v]
    if isinstance(v, (np.integer,)): return int(v)
    if isinstance(v, (np.floating, float)): return None if v != v else round(float(v), 4)
    if isinstance(v, np.bool_): return bool(v)
    return v


def self_check(check_runs, cells):
    """Cells measured again with *other* seeds (`check_runs`, the table of a run with `--first-seed`) against the decided
    `cells`: is each strategy's new mean AUC inside the shipped 95 % interval of its mean, and is the new best strategy
    one the shipped cell advises (or ties with)?"""
    from medcnn_tl.lab import paired_decision
    new = pd.read_csv(check_runs)
    out = []
    for (dname, sz), g in new.groupby(['data', new['size'].astype(str)]):
        c = next((c for c in cells if c['data'] == dname and str(c['size']) == sz and c['status'] == 'measured'), None)
        if c is None: continue
        dec = paired_decision(g).iloc[0]
        rows = {s: dict(shipped=[m, round(m - h, 4), round(m + h, 4)], rerun=round(float(g[g.strategy == s].test_auc.mean()), 4))
                for s, (m, h) in c['means'].items() if s in set(g.strategy)}
        for r in rows.values(): r['inside'] = bool(r['shipped'][1] <= r['rerun'] <= r['shipped'][2])
        advised = [c['best']] + list(c['tied_with'])
        out.append(dict(data=dname, size=sz, seeds=sorted(int(x) for x in g.seed.unique()), strategies=rows,
                        inside=f"{sum(r['inside'] for r in rows.values())} of {len(rows)}",
                        shipped_advice=c['advice'], rerun_best=dec['best'], rerun_advice=dec['advice'],
                        best_agrees=bool(dec['best'] in advised)))
    return out


def summary(runs=RUNS, out=SHIPPED, old_protocol=None, check=None, seeds=SEEDS):
    """Decide every planned cell from the runs (`paired_decision`) and write the JSON the selector reads; returns it.
    A cell is decided only when every strategy has run on each of `seeds` paired seeds: a grid stopped half-way leaves its
    cell 'partly measured' (no advice, not in `summary`, its missing runs in `remaining`) instead of a decision on fewer seeds."""
    from medcnn_tl.lab import paired_decision, lab_summary, lab_split_sizes
    df = pd.read_csv(runs) if Path(runs).exists() else pd.DataFrame(columns=['data', 'size', 'strategy', 'seed', 'test_auc'])
    planned = [(n, 'all' if s is None else str(s)) for n, v in DATA_SETS.items() for s in v['sizes']]
    dec = paired_decision(df, cells=planned)
    sims = df.groupby('data').similarity.first().to_dict() if len(df) else {}
    in_cell = lambda c: (df.data == c['data']) & (df['size'].astype(str) == str(c['size'])) if len(df) else []
    cells = []
    for r in dec.to_dict('records'):
        g = df[in_cell(r)] if len(df) else df
        if r['similarity'] != r['similarity']: r['similarity'] = sims.get(r['data'])
        r['n_train'] = int(r['n_train']) if r['n_train'] is not None and r['n_train'] == r['n_train'] else None
        if len(g):
            r.update(n_test=int(g.n_test.median()), image_size=int(g.image_size.iloc[0]),
                     epochs={s: [int(e.min()), round(float(e.mean()), 1), int(e.max())] for s, e in g.groupby('strategy').epochs},
                     seconds=round(float(g.seconds.sum() + g.get('setup_seconds', 0).sum()), 1))
            if r['seeds'] < seeds:   # an interrupted grid: no decision on fewer seeds than the protocol's
                r.update(status='partly measured', best=None, tied_with=[], excluded=[], intervals={}, gives_advice=False,
                         advice=f"not decided yet: {r['seeds']} of {seeds} paired seeds complete ({len(g)} of "
                                f"{seeds*len(STRATEGY_NAMES)} runs)")
        cells.append(r)
    todo = [c for c in cells if c['status'] != 'measured']
    partial = {(c['data'], str(c['size'])) for c in cells if c['status'] == 'partly measured'}
    decided = df[[(d, str(z)) not in partial for d, z in zip(df.data, df['size'])]] if len(df) else df

    def predicted(c, strategy):
        "Seconds of a run of `strategy` in cell `c` from the other cells: its median seconds per image and epoch x its mean epochs on the largest."
        n = c['n_train'] or lab_split_sizes(DATA_SETS[c['data']]['pool'], None if c['size'] == 'all' else int(c['size']))[0]
        if not len(df): return n*15*CPU_SECONDS_PER_IMAGE_EPOCH
        s = df[(df.strategy == strategy) & ~in_cell(c)]
        s = (s if len(s) else df)[lambda t: t.n_train >= t.n_train.max()/2]
        return n*float((s.seconds/(s.n_train*s.epochs)).median())*float(s.epochs.mean())
    def run_seconds(c, strategy):
        """Seconds one missing run of `strategy` in cell `c` may take: the mean of that strategy's runs in the cell when it has
        some; else `predicted`, scaled by how much slower or faster than predicted the cell's own runs were (a larger pool or
        another machine changes the cost per image)."""
        if not len(df): return predicted(c, strategy)
        own = df[in_cell(c)]
        if (own.strategy == strategy).any(): return float(own[own.strategy == strategy].seconds.mean())
        ratio = [float(g.seconds.mean())/predicted(c, st) for st, g in own.groupby('strategy')]
        return predicted(c, strategy)*(float(np.mean(ratio)) if ratio else 1.0)
    missing = {f"{c['data']} {c['size']}": [(st, k) for st in STRATEGY_NAMES for k in range(seeds)
                                             if not (len(df) and ((df[in_cell(c)].strategy == st) & (df[in_cell(c)].seed == k)).any())]
               for c in todo}
    est = sum(run_seconds(c, st) for c in todo for st, _ in missing[f"{c['data']} {c['size']}"])
    res = dict(
        command=COMMAND, table='medcnn_tl/strategy_map_runs.csv', rows=len(df),
        devices=sorted(df.device.dropna().unique().tolist()) if len(df) else [],
        cpu_seconds_of_runs=round(float(df.seconds.sum() + df.get('setup_seconds', pd.Series(0.0)).sum()), 1) if len(df) else 0.0,
        protocol=dict(engine='medcnn_tl.learner.medical_learner (the recipe of `medcnn-tl train`; via medcnn_tl.lab.lab_run)',
                      image_size=IMAGE_SIZE, arch=ARCH, batch_size=BS, max_epochs=MAX_EPOCHS, patience=PATIENCE, seeds=seeds,
                      paired=True,
                      pairing='each seed draws one training subset and one validation set (lab_split) that every strategy uses; '
                              'every run of a data set is scored on the same test images, disjoint from every draw',
                      stopping='early stopping on validation AUC: stop after `patience` epochs without a better one, keep the '
                               'best epoch\'s weights, at most `max_epochs` (each run records the epochs it used)',
                      frozen_layers='outputs of frozen layers computed once per draw, without augmentation (lab_run cache=True)',
                      decision='paired_decision: best mean test AUC; each other strategy\'s paired difference to it over seeds, '
                               '95% Student-t interval; tied when the interval includes 0; advice when at most one ties',
                      sizes={n: ['all' if s is None else s for s in v['sizes']] for n, v in DATA_SETS.items()},
                      strategies=list(STRATEGY_NAMES)),
        data_sets={n: dict(about=v['about'], domain_similarity=sims.get(n)) for n, v in DATA_SETS.items()},
        natural_images='Fashion-MNIST (photographs of 70,000 distinct products, Debian package dataset-fashion-mnist) gives the '
                       'two non-medical data sets (pullover vs coat, sneaker vs ankle boot: two tasks, one source), at the low '
                       'end of the similarity axis; no set of ImageNet-like photographs of many '
                       'source pictures is available offline on the measuring machine (scikit-image has a handful of photos; '
                       'CIFAR and ImageNet samples are downloads), so the similar half of the axis (0.5 and above) is not measured',
        cells=[_json_safe(c) for c in cells],
        summary=[_json_safe(r) for r in lab_summary(decided).round(4).to_dict('records')] if len(decided) else [],
        remaining=dict(cells=[f"{c['data']} {c['size']}" for c in todo],
                       runs_left={k: len(v) for k, v in missing.items()},
                       hours_on_2_cpu_cores=round(est/3600/2, 1), hours_on_one_gpu=round(est/3600/GPU_SPEEDUP, 2),
                       note='rough: each missing run costs what its strategy cost in the cell\'s runs so far, else its median '
                            'seconds per training image and epoch times its mean epochs on the largest cells measured here, scaled '
                            'by how far the cell\'s own runs were from that (one thread per run, on a shared 2-core machine), two runs at a '
                            f'time; a GPU runs such small networks about {GPU_SPEEDUP}x faster (an estimate, not measured here)'))
    if old_protocol is None and out.exists():
        prev = json.loads(out.read_text())
        old_protocol = prev.get('old_protocol') or ({k: prev[k] for k in ('command', 'protocol', 'data_sets', 'cells') if k in prev}
                                                   if prev.get('protocol', {}).get('image_size') == 20 else None)
    if old_protocol: res['old_protocol'] = old_protocol
    if check is None and out.exists(): check = json.loads(out.read_text()).get('self_check')   # kept when the JSON is rewritten
    elif check is not None:
        check = dict(command=f'{COMMAND} --first-seed {SEEDS} --runs CHECK.csv --data ... --sizes ... ; {COMMAND} --summary --check CHECK.csv',
                     about='cells measured again with new seeds, against the shipped intervals', cells=self_check(check, cells))
    if check: res['self_check'] = check
    Path(out).write_text(json.dumps(res, indent=1, default=str) + '\n')
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--summary', action='store_true', help='only rewrite the JSON from the table')
    ap.add_argument('--data', nargs='+', default=list(DATA_SETS), choices=list(DATA_SETS))
    ap.add_argument('--sizes', nargs='+', default=None, help="training-set sizes (e.g. 50 200 all; default: each data set's planned sizes)")
    ap.add_argument('--seeds', type=int, default=SEEDS, help='paired seeds per cell (default: %(default)s); a cell is decided only when every strategy has run on all of them')
    ap.add_argument('--workers', type=int, default=1, help='processes on this machine (one torch thread each)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads of this process when --workers 1')
    ap.add_argument('--device', default=None, help="'cpu', 'cuda', ... (default: the GPU when there is one)")
    ap.add_argument('--runs', default=str(RUNS), help='the per-run table (default: %(default)s)')
    ap.add_argument('--json', default=str(SHIPPED), help='the map written (default: %(default)s)')
    ap.add_argument('--max-epochs', type=int, default=MAX_EPOCHS, help='epoch cap (default: %(default)s; smaller only for a smoke test)')
    ap.add_argument('--strategies', nargs='+', default=list(STRATEGY_NAMES))
    ap.add_argument('--first-seed', type=int, default=0, help='seeds first-seed, first-seed+1, ... (a self-check uses new ones, into another --runs table)')
    ap.add_argument('--check', default=None, help='with --summary: a table of cells re-run with new seeds, compared with the shipped intervals (self_check in the JSON)')
    a = ap.parse_args(argv)
    if not a.summary:
        torch.set_num_threads(a.threads)
        sizes = None if a.sizes is None else [None if s == 'all' else int(s) for s in a.sizes]
        measure(a.data, sizes, a.seeds, a.workers, a.device, a.runs, a.max_epochs, a.strategies, a.first_seed)
    res = summary(a.runs, Path(a.json), check=a.check, seeds=a.seeds)
    for c in (res.get('self_check') or {}).get('cells', []):
        print(f"self-check {c['data']} {c['size']} seeds {c['seeds']}: {c['inside']} means inside the shipped intervals; "
              f"re-run best {c['rerun_best']} ({'agrees' if c['best_agrees'] else 'disagrees'} with: {c['shipped_advice']})")
    for c in res['cells']:
        print(f"{c['data']:>15} {str(c['size']):>5}  seeds {c['seeds']}  {c['advice']}")
    print(f"wrote {a.json} and {a.runs}")


if __name__ == '__main__':
    sys.exit(main())

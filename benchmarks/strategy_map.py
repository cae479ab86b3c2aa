"""The strategy lab's size x similarity map, measured: `scratch` and the four strategies on three data sets spread along the
similarity axis, four training-set sizes, three seeds (issue 9).

    python benchmarks/strategy_map.py            # resumable: appends to benchmarks/results/strategy_map.csv, skips finished runs
    python benchmarks/strategy_map.py --summary  # only rewrite medcnn_tl/strategy_map.json (winners per cell) from the table

Data sets (images at 20 px, so that the 180 runs fit in a CPU budget; 40 optimiser steps of 16 images per run):
- `skimage_photos`: random crops of scikit-image's colour photographs; class 1 = a living subject (astronaut, chelsea
  the cat), class 0 = objects (coffee, rocket, motorcycle); 3600 crops, 20 % held out as the test set.
- `retina_ihc`: random crops of scikit-image's fundus photograph and immunohistochemistry slide; class 1 = more
  structure than the median crop of its source (retina: vessels by a Sato ridge filter; IHC: DAB stain); 3600 crops.
- `pneumoniamnist`: PneumoniaMNIST train (pool) and val (test) from ../shared/data/pneumoniamnist_trainval.npz
  (or $PNEUMONIAMNIST): not in the repository.
"""
import argparse, json, os, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image

OUT = Path(__file__).parent/'results'
SIZES, SEEDS, IMAGE_SIZE, STEPS, BS = (50, 200, 1000, None), 3, 20, 40, 16

def _crops(img, n, size, rng, scale=(0.1, 0.5)):
    H, W = img.shape[:2]; out = []
    for _ in range(n):
        s = int(min(H, W)*np.sqrt(rng.uniform(*scale)))
        y, x = rng.integers(0, H-s+1), rng.integers(0, W-s+1)
        c = img[y:y+s, x:x+s]
        if rng.random() < 0.5: c = c[:, ::-1]
        out.append(np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((size, size), Image.BILINEAR)))
    return np.stack(out)

def natural_patches(n=3600, size=IMAGE_SIZE, seed=0):
    import skimage.data as d
    rng = np.random.default_rng(seed)
    living, objects = [d.astronaut(), d.chelsea()], [d.coffee(), d.rocket(), d.stereo_motorcycle()[0]]
    xs, ys = [], []
    for label, group in ((1, living), (0, objects)):
        per = n//2//len(group)
        for img in group: xs.append(_crops(img, per, size, rng)); ys += [label]*per
    x, y = np.concatenate(xs), np.array(ys); p = rng.permutation(len(y))
    return x[p], y[p]

def colour_medical_patches(n=3600, size=IMAGE_SIZE, seed=0):
    import skimage.data as d
    from skimage.color import rgb2hed
    from skimage.filters import sato
    rng = np.random.default_rng(seed)
    ret = np.asarray(Image.fromarray(d.retina()).resize((512, 512), Image.BILINEAR)); ihc = d.immunohistochemistry()
    ret_map = sato(ret[..., 1].astype(float)/255, sigmas=[1, 2], black_ridges=True)
    fov = np.hypot(*np.mgrid[-256:256, -256:256]) < 230
    xs, ys = [], []
    for img, smap, mask in ((ret, ret_map, fov), (ihc, rgb2hed(ihc)[..., 2], None)):
        H, cs, scores = img.shape[0], [], []
        while len(cs) < n//2:
            s = int(H*np.sqrt(rng.uniform(0.01, 0.06)))
            y0, x0 = rng.integers(0, H-s+1), rng.integers(0, H-s+1)
            if mask is not None and not mask[y0:y0+s, x0:x0+s].all(): continue
            c = img[y0:y0+s, x0:x0+s]
            if rng.random() < 0.5: c = c[:, ::-1]
            cs.append(np.asarray(Image.fromarray(np.ascontiguousarray(c)).resize((size, size), Image.BILINEAR)))
            scores.append(smap[y0:y0+s, x0:x0+s].mean())
        scores = np.array(scores); xs.append(np.stack(cs)); ys.append((scores > np.median(scores)).astype(int))
    x, y = np.concatenate(xs), np.concatenate(ys); p = rng.permutation(len(y))
    return x[p], y[p]

DATA_SETS = {
    'skimage_photos': "random crops of scikit-image's colour photographs; class 1 = a living subject (astronaut, cat), 0 = objects",
    'retina_ihc': "random crops of scikit-image's fundus photograph and immunohistochemistry slide; class 1 = more vessels / DAB stain than the median crop",
    'pneumoniamnist_trainval': "PneumoniaMNIST (MedMNIST v2): its train split as the pool, its val split as the test set"}

def datasets():
    from medcnn_tl.lab import lab_data
    pn = Path(os.environ.get('PNEUMONIAMNIST', Path(__file__).resolve().parents[2]/'shared'/'data'/'pneumoniamnist_trainval.npz'))
    sets = {}
    if pn.exists(): sets['pneumoniamnist'] = lab_data(pn, IMAGE_SIZE)
    else: print(f"skipping PneumoniaMNIST: {pn} not found (set $PNEUMONIAMNIST)")
    sets['skimage_photos'] = lab_data(('skimage_photos', *natural_patches()), IMAGE_SIZE)
    sets['retina_ihc'] = lab_data(('retina_ihc', *colour_medical_patches()), IMAGE_SIZE)
    return sets

SHIPPED = Path(__file__).resolve().parent.parent/'medcnn_tl'/'strategy_map.json'   # read by medcnn_tl.selector (MEASURED_CELLS)

def summary(csv=OUT/'strategy_map.csv'):
    """Winners per (data set, size) from the table, written to medcnn_tl/strategy_map.json, the file the selector and the
    strategy selector dashboard read (`medcnn_tl.selector.load_strategy_map`)."""
    from medcnn_tl.lab import lab_summary
    df = pd.read_csv(csv)
    sm = lab_summary(df)
    cells = sm.drop_duplicates(['data', 'size'])[['data', 'similarity', 'size', 'winner', 'tied_with']]
    per = df.groupby(['data', 'size']).agg(seeds=('seed', 'nunique'), n_train=('n_train', 'median'), n_test=('n_test', 'median')).reset_index()
    cells = cells.merge(per.astype({'size': str}), on=['data', 'size'], how='left')
    cells['n_train'] = cells['n_train'].astype(int); cells['n_test'] = cells['n_test'].astype(int)
    res = dict(command='python benchmarks/strategy_map.py', table='benchmarks/results/strategy_map.csv', rows=len(df),
               devices=sorted(df.device.unique()),
               wall_seconds_of_runs=round(float(df.seconds.sum() + df.get('setup_seconds', pd.Series(0)).sum()), 1),
               protocol=dict(image_size=IMAGE_SIZE, steps=STEPS, batch_size=BS, patience=2, eval_every=STEPS//4, arch=str(df.arch.iloc[0]),
                             budget='the same number of optimiser steps for every strategy, early stopping on validation AUC',
                             winner='best mean test AUC; tie when its 95% interval overlaps another strategy\'s (t interval over seeds)'),
               data_sets=DATA_SETS,
               cells=cells.to_dict('records'),
               summary=sm.round(4).to_dict('records'))
    SHIPPED.write_text(json.dumps(res, indent=1, default=str) + '\n')
    return sm

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--summary', action='store_true'); ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    if not a.summary:
        torch.set_num_threads(a.threads)
        from medcnn_tl.lab import run_lab
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = OUT/'_strategy_map_run'; tmp.mkdir(exist_ok=True)
        if (OUT/'strategy_map.csv').exists(): (tmp/'lab_results.csv').write_bytes((OUT/'strategy_map.csv').read_bytes())
        t0 = time.time()
        for name, d in datasets().items():
            run_lab(d, SIZES, SEEDS, out=tmp, size=IMAGE_SIZE, device='cpu' if not torch.cuda.is_available() else 'cuda',
                    steps=STEPS, bs=BS)
            (OUT/'strategy_map.csv').write_bytes((tmp/'lab_results.csv').read_bytes())
        print(f"wall time {time.time()-t0:.0f} s")
    print(summary().to_string())

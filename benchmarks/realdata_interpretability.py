"""Lesson 06's sanity checks for Grad-CAM on real chest X-rays (PneumoniaMNIST), beside the lesson's phantom run.

Usage:
  python benchmarks/realdata_interpretability.py [--data /work/shared/data/pneumoniamnist_trainval.npz]
         [--n-train 600] [--size 48] [--epochs 3] [--seed 0] [--out benchmarks/results/realdata_interpretability.json]

The data: a MedMNIST `.npz` (get one with `medcnn_tl.data.download_medmnist('pneumoniamnist')`; a file holding
only `train_*` and `val_*` arrays works too). A stratified draw of `--n-train` training images is taken from
`train_*`; the `val_*` images are split in two halves (stratified): validation and a held-out test split. The
lesson's recipe then runs unchanged: EfficientNet-Lite0 (ImageNet), `train_entire`, `--epochs` epochs at `--size`
px; test metrics; cascading model randomisation (Adebayo et al.) on the test images with pneumonia; and the same
network trained on shuffled labels. Real images have no lesion masks, so no localisation score is possible here:
only the two randomisation checks. The JSON holds numbers only, no images.
"""
import argparse, json, platform, tempfile, time
from pathlib import Path
import numpy as np, torch

def split(z, n_train, seed):
    "Stratified draw of `n_train` training images; `val_*` halved (stratified) into validation and test."
    rng = np.random.RandomState(seed)
    def strat(y, n):
        out = []
        for c in np.unique(y):
            ic = np.flatnonzero(y == c); out += list(rng.choice(ic, int(round(n*len(ic)/len(y))), replace=False))
        return np.array(sorted(out))
    ytr, yva = z['train_labels'].reshape(-1), z['val_labels'].reshape(-1)
    tr = strat(ytr, min(n_train, len(ytr)))
    va = strat(yva, len(yva)//2); te = np.setdiff1d(np.arange(len(yva)), va)
    return dict(train_images=z['train_images'][tr], train_labels=z['train_labels'][tr],
                val_images=z['val_images'][va], val_labels=z['val_labels'][va],
                test_images=z['val_images'][te], test_labels=z['val_labels'][te])

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='/work/shared/data/pneumoniamnist_trainval.npz')
    ap.add_argument('--n-train', type=int, default=600); ap.add_argument('--size', type=int, default=48)
    ap.add_argument('--epochs', type=int, default=3); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='benchmarks/results/realdata_interpretability.json')
    a = ap.parse_args()
    from medcnn_tl.data import get_dls, get_test_dl
    from medcnn_tl.learner import medical_learner
    from medcnn_tl.interpret import MedicalInterpretation, cascading_randomization, shuffled_labels, gradcam, map_similarity
    torch.set_num_threads(1); t0 = time.time()
    z = np.load(a.data); d = split(z, a.n_train, a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp)/'draw.npz'; np.savez(f, **d)
        dls = get_dls(f, size=a.size, bs=16, seed=a.seed, show_progress=False, label_names=['normal', 'pneumonia'])
        test_dl = get_test_dl(f, dls, show_progress=False)
        learn = medical_learner(dls, 'efficientnet_lite0', 'train_entire', seed=a.seed).fit_strategy(a.epochs, progress=False)
        m = MedicalInterpretation.from_learner(learn, test_dl).metrics()
        xt, yt = [torch.cat(t).as_subclass(torch.Tensor) for t in zip(*[(x, y) for x, y in test_dl])]
        pos = (yt == list(dls.vocab).index('pneumonia')).nonzero().ravel()
        casc = cascading_randomization(learn, xt[pos[:12]])
        learn_rand = medical_learner(shuffled_labels(dls, seed=a.seed), 'efficientnet_lite0', 'train_entire', seed=a.seed).fit_strategy(a.epochs, progress=False)
        rand_auc = MedicalInterpretation.from_learner(learn_rand, test_dl).metrics()['auc']
        sim = map_similarity(gradcam(learn, xt[pos], target_class='pneumonia'), gradcam(learn_rand, xt[pos], target_class='pneumonia'))
    out = dict(benchmark='realdata_interpretability', data=Path(a.data).name,
               split=f"train {len(d['train_labels'])} (stratified draw of train_*), valid {len(d['val_labels'])} and test {len(d['test_labels'])} (val_* halved, stratified)",
               n_test=int(len(yt)), n_test_pneumonia=int(len(pos)), size=a.size, epochs=a.epochs, seed=a.seed, arch='efficientnet_lite0', strategy='train_entire',
               command='python benchmarks/realdata_interpretability.py ' + ' '.join(f'--{k.replace("_", "-")} {v}' for k, v in vars(a).items() if k not in ('out',)),
               test={k: float(m[k]) for k in ('auc', 'accuracy', 'sensitivity', 'specificity')},
               cascade=[dict(randomized=r.randomized, rank_correlation=float(r.rank_correlation), ssim=float(r.ssim)) for r in casc.itertuples()],
               shuffled_labels=dict(test_auc=float(rand_auc), rank_correlation=float(sim.rank_correlation.mean()), ssim=float(sim.ssim.mean())),
               torch=torch.__version__, python=platform.python_version(), threads=1, seconds=round(time.time() - t0),
               date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
               source='PneumoniaMNIST (MedMNIST v2, Yang et al. 2023, CC BY 4.0), from Kermany et al. 2018')
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ('test', 'shuffled_labels', 'seconds')}, indent=1))

if __name__ == '__main__': main()

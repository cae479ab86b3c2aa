"""Train the small model that the model-lab dashboard ships with, and write it to data_samples/models/.

The model is the review's fourth strategy, `frozen_base`, in its smallest form: EfficientNet-Lite0's ImageNet body
(frozen; its weights come from the offline package at load time, so they are not stored again) followed by global
average pooling and one linear layer trained on the embedded `chest_phantom` training split. Only that linear layer
(1280 x 2 weights), the data settings and the measured metrics are written: a file of a few kilobytes. Because the
classifier is linear on pooled feature maps, its Grad-CAM equals the class activation map (CAM) of Zhou et al. 2016.

    python tools/make_model_lab_model.py            # about a minute on 2 CPU cores
    python tools/make_model_lab_model.py --check    # train again into a temporary file and compare the metrics

The threshold is chosen on the validation split (Youden's J); AUCs come from sklearn on the validation and test splits.
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch, torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'data_samples'/'models'/'chest_phantom_frozen_base.pth'
ARCH, SIZE, SEED = 'efficientnet_lite0', 160, 0

def features(body, dl):
    "Pooled body features and labels of every image of `dl` (no augmentation, in order)."
    xs, ys = [], []
    with torch.no_grad():
        for xb, yb in dl:
            f = body(torch.as_tensor(xb).as_subclass(torch.Tensor).float())
            xs.append(f.mean((2, 3))); ys.append(torch.as_tensor(yb).as_subclass(torch.Tensor).view(-1))
    return torch.cat(xs), torch.cat(ys)

def fit_linear(x, y, n_classes, weight_decay, seed=SEED):
    "A linear classifier on standardised features `x`, full-batch L-BFGS on cross-entropy + L2 (logistic regression)."
    torch.manual_seed(seed)
    lin = nn.Linear(x.shape[1], n_classes)
    nn.init.zeros_(lin.weight); nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=200, line_search_fn='strong_wolfe')
    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lin(x), y) + weight_decay * lin.weight.pow(2).sum()
        loss.backward(); return loss
    opt.step(closure)
    return lin

def main(out=OUT):
    from sklearn.metrics import roc_auc_score, roc_curve
    from medcnn_tl.core import samples_path, set_seed
    from medcnn_tl.data import get_dls, get_test_dl
    from medcnn_tl.transfer import create_body
    torch.set_num_threads(2); set_seed(SEED)
    t0 = time.perf_counter()
    src = samples_path('chest_phantom')
    dls = get_dls(src, size=SIZE, bs=32, augment=False, seed=SEED, show_progress=False)
    test_dl = get_test_dl(src, dls)
    body = create_body(ARCH, 'imagenet', 3).eval()
    train = dls.train.new(shuffle=False, drop_last=False)
    (xtr, ytr), (xva, yva), (xte, yte) = (features(body, d) for d in (train, dls.valid, test_dl))
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    z = lambda x: (x - mean) / std
    vocab = [str(v) for v in dls.vocab]
    pos = len(vocab) - 1
    best = None
    for wd in (1e-3, 3e-3, 1e-2, 3e-2, 1e-1):                      # choose the L2 strength on the validation AUC
        lin = fit_linear(z(xtr), ytr, len(vocab), wd)
        auc = roc_auc_score(yva.numpy() == pos, lin(z(xva)).softmax(1)[:, pos].detach().numpy())
        if best is None or auc > best[0]: best = (auc, wd, lin)
    auc_valid, wd, lin = best
    # fold the standardisation into the linear layer: W (x - m)/s + b = (W/s) x + (b - W m/s)
    head = nn.Linear(xtr.shape[1], len(vocab))
    with torch.no_grad():
        head.weight.copy_(lin.weight / std); head.bias.copy_(lin.bias - (lin.weight * mean / std).sum(1))
    pv = head(xva).softmax(1)[:, pos].detach().numpy(); pt = head(xte).softmax(1)[:, pos].detach().numpy()
    fpr, tpr, thr = roc_curve(yva.numpy() == pos, pv)
    threshold = float(np.clip(thr[np.argmax(tpr - fpr)], 0, 1))
    yt = yte.numpy() == pos
    sens = float(((pt >= threshold) & yt).sum() / yt.sum()); spec = float(((pt < threshold) & ~yt).sum() / (~yt).sum())
    metrics = {'valid_auc': round(float(roc_auc_score(yva.numpy() == pos, pv)), 4),
               'test_auc': round(float(roc_auc_score(yt, pt)), 4),
               'test_sensitivity': round(sens, 4), 'test_specificity': round(spec, 4),
               'n_train': len(ytr), 'n_valid': len(yva), 'n_test': len(yte)}
    meta = {'arch': ARCH, 'size': SIZE, 'n_in': 3, 'vocab': vocab, 'positive': vocab[pos], 'threshold': threshold,
            'normalize': 'imagenet', 'strategy': 'frozen_base (ImageNet body frozen, linear classifier on pooled features)',
            'trained_on': 'data_samples/chest_phantom, train split; threshold and L2 strength chosen on the valid split',
            'weight_decay': wd, 'seed': SEED, 'metrics': metrics, 'made_by': 'tools/make_model_lab_model.py'}
    out = Path(out); out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({'head': {k: v.clone() for k, v in head.state_dict().items()}, 'meta': json.dumps(meta)}, out)
    print(json.dumps(meta, indent=1)); print(f"wrote {out} ({out.stat().st_size / 1024:.1f} KB) in {time.perf_counter() - t0:.0f} s")
    return meta

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--check', action='store_true', help='train into a temporary file and compare the metrics with the shipped file')
    a = p.parse_args()
    if not a.check: main(); sys.exit(0)
    with tempfile.TemporaryDirectory() as d:
        new = main(Path(d)/'m.pth')['metrics']
    old = json.loads(torch.load(OUT, weights_only=True)['meta'])['metrics']
    same = all(abs(new[k] - old[k]) < 1e-3 for k in old)
    print('same metrics as the shipped model' if same else f'DIFFERENT: shipped {old}, new {new}'); sys.exit(0 if same else 1)

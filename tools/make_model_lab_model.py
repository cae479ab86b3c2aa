"""Train the small model that the model-lab dashboard ships with, and write it to data_samples/models/.

The model is the review's fourth strategy, `frozen_base`, in its smallest form: EfficientNet-Lite0's ImageNet body
(frozen; its weights come from the offline package at load time, so they are not stored again) followed by global
average pooling and one linear layer trained on the embedded `chest_phantom` training split. Only that linear layer
(1280 x 2 weights), the data settings and the measured metrics are written: a file of a few kilobytes. Because the
classifier is linear on pooled feature maps, its Grad-CAM equals the class activation map (CAM) of Zhou et al. 2016.

    python tools/make_model_lab_model.py            # about a minute on 2 CPU cores
    python tools/make_model_lab_model.py --check    # train again into a temporary file and compare the metrics

Everything is the library's: `extract_features` (pooled features of the frozen body), `sklearn_classifier('logreg')`
(standardise + logistic regression, its L2 strength chosen on the validation AUC), `choose_threshold(rule='youden')` on
the validation split and `medical_metrics` (sklearn) on the validation and test splits. The standardisation and the
regression are then folded into one linear layer, the form `load_lab_model` reads.
"""
import argparse, json, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch, torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT/'data_samples'/'models'/'chest_phantom_frozen_base.pth'
ARCH, SIZE, SEED = 'efficientnet_lite0', 160, 0
C_GRID = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)            # inverse L2 strengths tried for the logistic regression

def main(out=OUT):
    "Fit the shipped model through the library (features, classifier, threshold and metrics are the library's own) and save it."
    from medcnn_tl.core import samples_path, set_seed
    from medcnn_tl.data import get_dls, get_test_dl, plain_train_dl
    from medcnn_tl.transfer import create_body, extract_features, sklearn_classifier
    from medcnn_tl.interpret import choose_threshold, medical_metrics
    torch.set_num_threads(2); set_seed(SEED)
    t0 = time.perf_counter()
    src = samples_path('chest_phantom')
    dls = get_dls(src, size=SIZE, bs=32, augment=False, seed=SEED, show_progress=False)
    test_dl = get_test_dl(src, dls)
    body = create_body(ARCH, 'imagenet', 3).eval()
    (xtr, ytr), (xva, yva), (xte, yte) = (extract_features(body, d) for d in (plain_train_dl(dls), dls.valid, test_dl))
    vocab = [str(v) for v in dls.vocab]
    pos = len(vocab) - 1
    fits = []
    for c in C_GRID:                                  # the L2 strength (1/C) chosen on the validation AUC
        pipe = sklearn_classifier('logreg', seed=SEED).set_params(logisticregression__C=c).fit(xtr, ytr)
        fits.append((medical_metrics(yva, pipe.predict_proba(xva))['auc'], c, pipe))
    auc_valid, c, pipe = max(fits, key=lambda f: f[0])
    # fold the standardisation into one linear layer on pooled features: class 1's logit w.(x - m)/s + b, class 0's 0
    scaler, lr = pipe.named_steps['standardscaler'], pipe.named_steps['logisticregression']
    w, m, sd = (torch.tensor(a, dtype=torch.float32) for a in (lr.coef_[0], scaler.mean_, scaler.scale_))
    head = nn.Linear(len(w), 2)
    with torch.no_grad():
        head.weight.zero_(); head.bias.zero_()
        head.weight[1] = w / sd; head.bias[1] = float(lr.intercept_[0]) - (w * m / sd).sum()
    probs = lambda x: head(torch.as_tensor(x)).softmax(1).detach().numpy()
    pv, pt = probs(xva), probs(xte)
    assert np.allclose(pv, pipe.predict_proba(xva), atol=1e-4), "the folded layer must predict what the pipeline predicts"
    threshold = choose_threshold(yva, pv, rule='youden')
    mt = medical_metrics(yte, pt, threshold=threshold)
    metrics = {'valid_auc': round(medical_metrics(yva, pv)['auc'], 4), 'test_auc': round(mt['auc'], 4),
               'test_sensitivity': round(mt['sensitivity'], 4), 'test_specificity': round(mt['specificity'], 4),
               'n_train': len(ytr), 'n_valid': len(yva), 'n_test': len(yte)}
    meta = {'arch': ARCH, 'size': SIZE, 'n_in': 3, 'vocab': vocab, 'positive': vocab[pos], 'threshold': threshold,
            'normalize': 'imagenet', 'strategy': 'frozen_base (ImageNet body frozen, linear classifier on pooled features)',
            'trained_on': 'data_samples/chest_phantom, train split; threshold and L2 strength chosen on the valid split',
            'C': c, 'seed': SEED, 'metrics': metrics, 'made_by': 'tools/make_model_lab_model.py'}
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

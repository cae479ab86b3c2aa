"""The benchmark scripts run in their CI-sized form and write what they promise (numbers are measured elsewhere)."""
import json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def test_accelerators_quick(tmp_path):
    out = tmp_path/'acc.json'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'accelerators.py'), '--quick', '--threads', '1', '--out', str(out)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res['quick'] and res['results'], res
    cpu = res['results'][0]
    assert cpu['device'] == 'cpu' and 'cores' in cpu['device_name']
    for side in ('fastai', 'plain'):
        d = cpu[side]
        assert d['precision'] == 'fp32' and d['channels_last'] is False          # CPU: no mixed precision, NCHW
        assert len(d['train_img_s']) == res['epochs'] and all(v > 0 for v in d['train_img_s'])
        assert d['median_infer_img_s'] > 0 and len(d['auc_per_epoch']) == res['epochs']
        assert all(0 <= v <= 1 for v in d['auc_per_epoch'])
    # the protocol, worked out by hand for --quick: training speed is the median over epochs 2.. (epoch 1 is the warm-up),
    # so with 2 epochs it is the second epoch's number; inference is the median of 3 interleaved runs, the middle one
    assert res['epochs'] == 2
    fa, pl = cpu['fastai'], cpu['plain']
    assert len(fa['infer_img_s']) == len(pl['infer_img_s']) == 3
    assert cpu['ratio_train'] == pytest.approx(fa['train_img_s'][1]/pl['train_img_s'][1], rel=1e-9)
    assert cpu['ratio_infer'] == pytest.approx(sorted(fa['infer_img_s'])[1]/sorted(pl['infer_img_s'])[1], rel=1e-9)

def test_device_check_cpu(tmp_path):
    "benchmarks/device_check.py on a machine without a GPU: everything on the CPU, in float32, NCHW, and it trains."
    import os
    out = tmp_path/'dc.json'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'device_check.py'), '--out', str(out)], capture_output=True, text=True,
                       timeout=600, cwd=ROOT, env=dict(os.environ, MEDCNN_TL_DEVICE='cpu', OMP_NUM_THREADS='1'))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    res = json.loads(out.read_text())
    assert res['picked'] == 'cpu' and res['all_ok'] and res['expected_precision'] == 'fp32'
    row = res['rows'][0]
    assert (row['entry'], row['dls_device'], row['batch_device'], row['model_device']) == ('tensor_dls', 'cpu', 'cpu', 'cpu')
    assert row['precision'] == 'fp32' and row['channels_last'] is False and row['weights_changed'] and row['last_loss'] > 0

def _bench_module(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT/'benchmarks'/f'{name}.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m

def test_small_heldout_draw_is_a_stratified_partition():
    "Each draw of benchmarks/small_heldout.py: train, val and test are disjoint, cover the pool, and keep the class shares."
    import numpy as np
    draw = _bench_module('small_heldout').draw
    n_tr, n_va = 300, 60
    ids = np.arange(n_tr + n_va)
    imgs = np.zeros((len(ids), 4, 4), np.uint8); imgs[:, 0, 0], imgs[:, 0, 1] = ids // 256, ids % 256   # each image carries its id
    y = (np.random.default_rng(0).random(len(ids)) < 0.3).astype(int)[:, None]
    z = dict(train_images=imgs[:n_tr], train_labels=y[:n_tr], val_images=imgs[n_tr:], val_labels=y[n_tr:])
    d = draw(z, 100, 20, seed=3)
    got = {s: d[f'{s}_images'][:, 0, 0].astype(int)*256 + d[f'{s}_images'][:, 0, 1] for s in ('train', 'val', 'test')}
    assert (len(got['train']), len(got['val']), len(got['test'])) == (100, 20, len(ids) - 120)
    assert not (set(got['train']) & set(got['val'])) and not (set(got['train'] ) & set(got['test'])) and not (set(got['val']) & set(got['test']))
    assert set(got['train']) | set(got['val']) | set(got['test']) == set(ids)
    for s in ('train', 'val', 'test'): assert (d[f'{s}_labels'][:, 0] == y[got[s], 0]).all()   # labels travel with their images
    assert abs(d['train_labels'].mean() - y.mean()) <= 1/100 + 1e-9
    assert draw(z, 100, 20, seed=3)['train_images'].tobytes() == d['train_images'].tobytes()   # same seed, same draw

def test_batch_pipeline_runs(tmp_path):
    "benchmarks/batch_pipeline.py times both augmentation pipelines on the CPU and writes them."
    out = tmp_path/'bp.json'
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'batch_pipeline.py'), '--batches', '2', '--bs', '8', '--size', '32',
                        '--devices', 'cpu', '--out', str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    row = json.loads(out.read_text())['results'][0]
    assert row['device'] == 'cpu' and row['fastai_aug_transforms_ms_per_batch'] > 0 and row['batch_augment_ms_per_batch'] > 0

def test_recipe_cv_metrics_and_bootstrap_match_sklearn():
    "benchmarks/recipe_cv.py: its operating-point metrics are sklearn's, and each bootstrap resample keeps the class counts."
    import numpy as np
    from sklearn import metrics as skm
    m = _bench_module('recipe_cv')
    rng = np.random.RandomState(0); y = rng.randint(0, 2, 300); p = np.clip(0.3*y + 0.7*rng.rand(300), 0, 1)
    r, pred = m.point(y, p, 0.45, prevalence=0.25), (p >= 0.45).astype(int)
    assert r['auc'] == pytest.approx(skm.roc_auc_score(y, p))
    assert r['accuracy_at_threshold'] == pytest.approx(skm.accuracy_score(y, pred))
    sens, spec = skm.recall_score(y, pred), skm.recall_score(y, pred, pos_label=0)
    assert (r['sensitivity_at_threshold'], r['specificity_at_threshold']) == pytest.approx((sens, spec))
    assert r['balanced_accuracy_at_argmax'] == pytest.approx(skm.balanced_accuracy_score(y, p >= 0.5))
    assert r['accuracy_at_threshold_prevalence_0.25'] == pytest.approx(0.25*sens + 0.75*spec)   # a quarter positive
    for ix in m.boot_ix(y, 3):
        assert len(ix) == len(y) and (y[ix] == 1).sum() == (y == 1).sum()

def test_heldout_epochs_summary_pairs_seeds():
    "benchmarks/heldout_epochs.py: the paired difference is over the seeds both epoch counts have, with a t-interval (hand-computed)."
    import numpy as np
    m = _bench_module('heldout_epochs')
    y = [0, 0, 1, 1]
    runs = [dict(epochs=e, seed=s, auc=a, seconds=1.0, label=y, prob=[0.1, 0.4, 0.35, 0.8])
            for e, s, a in [(4, 0, 0.90), (4, 1, 0.92), (4, 2, 0.91), (12, 0, 0.93), (12, 1, 0.94)]]
    s = m.summarise(runs)
    d = s['12']['minus_4_epochs']
    assert d['seeds'] == [0, 1] and d['mean'] == pytest.approx(0.025)
    half = 12.706204736174707*np.std([0.03, 0.02], ddof=1)/np.sqrt(2)    # t(0.975, 1 df)
    assert d['ci95'] == pytest.approx([0.025 - half, 0.025 + half])
    assert s['4']['ensemble_auc'] == pytest.approx(0.75)                  # 0.35 < 0.4: one of four pairs out of order

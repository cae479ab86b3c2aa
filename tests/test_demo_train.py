"""`medcnn-tl demo`, `train` and `recommend` end to end, as a user runs them from a shell (small settings, CPU)."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

ENV = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1'), 'MPLBACKEND': 'Agg'}

def run(*args, timeout=900):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV)

def one_error_line(r):
    lines = [l for l in r.stderr.splitlines() if 'error' in l.lower()]
    return r.returncode == 1 and 'Traceback' not in r.stderr and len(lines) == 1 and 'Fix:' in lines[0]

def stripes_npz(path, n=80, size=28, with_test=False):
    "A MedMNIST-style .npz of the library's synthetic stripes (`toy_images`), 8-bit grey, no test split unless `with_test`."
    from medcnn_tl.data import toy_images
    x, y = toy_images(n, size, n_in=1)
    img = ((x[:, 0] - x.min())/(x.max() - x.min())*255).round().byte().numpy()
    y = y.numpy()
    k = int(n*0.75)
    arrays = dict(train_images=img[:k], train_labels=y[:k, None], val_images=img[k:], val_labels=y[k:, None])
    if with_test: arrays.update(test_images=img[k:], test_labels=y[k:, None])
    np.savez(path, **arrays)
    return path

KEYS = {'auc', 'accuracy', 'balanced_accuracy', 'sensitivity', 'specificity', 'f1', 'threshold'}

def test_recommend_prints_the_strategy():
    r = run('recommend', '--n-images', '300', '--similarity', '0.9')
    assert r.returncode == 0 and 'frozen_base' in r.stdout and 'Why:' in r.stdout
    r = run('recommend', '--n-images', '20000', '--similarity', '0.1')
    assert r.returncode == 0 and 'train_entire' in r.stdout

def test_recommend_bad_similarity_is_one_line():
    r = run('recommend', '--n-images', '300', '--similarity', '1.5')
    assert one_error_line(r) and 'similarity' in r.stderr

def test_train_npz_without_test_split(tmp_path):
    npz = stripes_npz(tmp_path/'stripes.npz')
    r = run('train', str(npz), '--size', '32', '--epochs', '1', '--out', str(tmp_path/'runs'))
    assert r.returncode == 0, r.stderr[-2000:]
    found = list((tmp_path/'runs').glob('*/metrics.json'))
    assert len(found) == 1
    m = json.loads(found[0].read_text())
    assert 'valid' in m and 'test' not in m and KEYS <= set(m['valid'])   # no test split: no test metrics
    assert m['members'] >= 1 and m['held_out'] > 0                       # the ensemble says what it held out
    run_dir = found[0].parent
    for f in ('config.json', 'history.csv', 'valid_plots.png', 'model.pth'): assert (run_dir/f).exists(), f

def test_train_npz_with_test_split_and_strategy(tmp_path):
    npz = stripes_npz(tmp_path/'stripes_t.npz', with_test=True)
    r = run('train', str(npz), '--strategy', 'frozen_base', '--size', '32', '--epochs', '1', '--out', str(tmp_path/'runs'))
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads(next((tmp_path/'runs').glob('*frozen_base*/metrics.json')).read_text())
    assert {'valid', 'test'} <= set(m) and KEYS <= set(m['test'])
    assert m['test']['threshold'] == m['valid']['threshold']   # the threshold is chosen on valid, never on test

def test_train_missing_data_is_one_line(tmp_path):
    r = run('train', str(tmp_path/'nope.npz'), '--out', str(tmp_path/'runs'))
    assert one_error_line(r)

def test_demo_writes_a_report(tmp_path):
    out = tmp_path/'demo'
    r = run('demo', '--epochs', '1', '--out', str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    for s in ('scratch', 'train_entire', 'freeze_some', 'finetune_some', 'frozen_base'): assert s in r.stdout
    assert 'selector recommends' in r.stdout and ('agree' in r.stdout or 'contradict' in r.stdout)
    for f in ('report.md', 'report.html', 'results.csv', 'auc_by_strategy.png', 'strategies.png'): assert (out/f).exists(), f
    assert (out/'runs'/'scratch'/'metrics.json').exists()

"""The strategy lab end to end, as a user runs it: `medcnn-tl lab DATA ...` on the embedded samples.

The smallest grid that can fail, in two calls into one folder (8 runs): every default strategy once
(`--sizes 20 --seeds 1`), then one strategy over two sizes and two seeds, which must reuse the run the first call
already made (resumable: a finished run is never repeated) and add the other three. The full grid of earlier CI (2 sizes x 3 seeds x 5 strategies,
30 runs) is `slow`: `pytest -m slow tests/test_lab.py`.
"""
import numpy as np
import pandas as pd
import pytest
from medcnn_tl.core import samples_path

DATA = samples_path('chest_phantom_28.npz')
STRATEGIES = {'scratch', 'train_entire', 'freeze_some', 'finetune_some', 'frozen_base'}   # the lab's five, typed by hand

def test_counts():
    "The sample's test split, counted here with numpy: 28 positive and 28 negative images (the metric checks rely on it)."
    y = np.load(DATA)['test_labels'].ravel()
    assert (len(y), int((y == 1).sum()), int((y == 0).sum())) == (56, 28, 28)

def check_metrics_are_on_the_test_split(df):
    """AUC and balanced accuracy computed on the 56 test images (28 + 28): an AUC is a count of ordered (positive,
    negative) pairs, ties counting one half, over 28*28 pairs, so 2*784*AUC is a whole number; a balanced accuracy is
    (TP/28 + TN/28)/2, so 56*balanced accuracy is one. A metric computed on another split, or on a subsample, fails."""
    pairs = 2*28*28*df.test_auc.to_numpy()
    assert np.allclose(pairs, pairs.round(), atol=1e-4) and df.test_auc.between(0, 1).all(), df.test_auc.tolist()
    hits = 56*df.test_balanced_accuracy.to_numpy()
    assert np.allclose(hits, hits.round(), atol=1e-4) and df.test_balanced_accuracy.between(0, 1).all(), df.test_balanced_accuracy.tolist()

def check_rows(df):
    assert (df.n_test == 56).all()                                       # the sample's own test split, never trained on
    assert df.similarity.nunique() == 1 and 0 <= df.similarity.iloc[0] <= 1
    assert {'data', 'similarity', 'size', 'strategy', 'seed', 'seconds', 'device'} <= set(df.columns)
    assert not df.duplicated(['data', 'size', 'strategy', 'seed']).any()
    check_metrics_are_on_the_test_split(df)

def test_lab_help(cli):
    r = cli('lab', '--help')
    assert r.returncode == 0 and '--sizes' in r.stdout and '--seeds' in r.stdout and '--strategies' in r.stdout

@pytest.fixture(scope='module')
def lab_folder(cli, tmp_path_factory):
    "Two `medcnn-tl lab` calls into one folder: the five strategies at 20 images, then frozen_base at 20 and 40, seeds 0 and 1."
    out = tmp_path_factory.mktemp('lab')
    common = ('--size', '16', '--out', out, '--threads', '1')
    first = cli('lab', DATA, '--sizes', '20', '--seeds', '1', *common, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = pd.read_csv(out/'lab_results.csv')
    second = cli('lab', DATA, '--sizes', '20', '40', '--seeds', '2', '--strategies', 'frozen_base', *common, timeout=1200)
    assert second.returncode == 0, second.stderr[-3000:]
    return dict(out=out, after_first=after_first, df=pd.read_csv(out/'lab_results.csv'))

def test_every_default_strategy_runs(lab_folder):
    df = lab_folder['after_first']
    assert len(df) == 5 and set(df.strategy) == STRATEGIES                # no --strategies: all five, one row each
    assert (df['size'].astype(str) == '20').all() and (df.n_train == 20).all() and (df.seed == 0).all()
    check_rows(df)

def test_sizes_times_seeds_and_resumed(lab_folder):
    df, first = lab_folder['df'], lab_folder['after_first']
    fb = df[df.strategy == 'frozen_base']
    got = sorted(zip(fb['size'].astype(int), fb.seed))
    assert got == [(20, 0), (20, 1), (40, 0), (40, 1)]                  # sizes x seeds, each once
    assert len(df) == 5 + 3                                              # the (20, frozen_base, 0) run was reused, not repeated
    keys = ['size', 'strategy', 'seed', 'test_auc', 'test_balanced_accuracy']
    assert df.iloc[:5][keys].astype(str).equals(first[keys].astype(str))  # the first call's rows are untouched
    assert (fb.n_train == fb['size'].astype(int)).all()
    check_rows(df)

@pytest.mark.slow
def test_lab_full_grid(cli, tmp_path):
    "The grid of earlier CI: 2 sizes x 3 seeds x the five strategies, 30 runs."
    r = cli('lab', DATA, '--sizes', '50', '200', '--seeds', '3', '--size', '16', '--out', tmp_path, '--threads', '1', timeout=3600)
    assert r.returncode == 0, r.stderr[-3000:]
    df = pd.read_csv(tmp_path/'lab_results.csv')
    assert len(df) == 2*3*5 and set(df.strategy) == STRATEGIES
    assert sorted(df['size'].astype(str).unique()) == ['200', '50'] and sorted(df.seed.unique()) == [0, 1, 2]
    assert (df[df['size'].astype(str) == '50'].n_train == 50).all()
    check_rows(df)

def test_map_tool_two_workers_tiny_grid(tmp_path):
    """tools/build_strategy_map.py on a tiny grid in two worker processes: the runs table, the JSON's decision of the
    measured cell (checked against SciPy's paired t-test), the planned cells marked 'not yet measured', a rerun that adds nothing,
    and a table with a run missing left 'partly measured' (no advice) rather than decided on fewer seeds."""
    import json, os, subprocess, sys
    from pathlib import Path
    from scipy.stats import ttest_rel
    d = np.load(DATA)   # the embedded 28-px phantoms, laid out as a MedMNIST train+val file under the tool's file name
    np.savez(tmp_path/'pneumoniamnist_trainval.npz', train_images=d['train_images'], train_labels=d['train_labels'],
             val_images=d['test_images'], val_labels=d['test_labels'])
    root = Path(__file__).resolve().parent.parent
    argv = [sys.executable, str(root/'tools'/'build_strategy_map.py'), '--data', 'pneumoniamnist', '--sizes', '20', '--seeds', '2',
            '--workers', '2', '--max-epochs', '1', '--strategies', 'frozen_base', 'finetune_some',
            '--runs', str(tmp_path/'runs.csv'), '--json', str(tmp_path/'map.json')]
    env = {**os.environ, 'MEDCNN_DATA': str(tmp_path), 'MPLBACKEND': 'Agg'}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_csv(tmp_path/'runs.csv')
    assert len(runs) == 4 and sorted(zip(runs.strategy, runs.seed)) == [('finetune_some', 0), ('finetune_some', 1), ('frozen_base', 0), ('frozen_base', 1)]
    assert (runs.image_size == 64).all() and runs.test_set.nunique() == 1 and (runs.epochs <= 1).all() and runs.seconds.notna().all()
    m = json.loads((tmp_path/'map.json').read_text())
    assert m['protocol']['image_size'] == 64 and m['protocol']['paired'] is True and 'medical_learner' in m['protocol']['engine']
    cell = next(c for c in m['cells'] if c['data'] == 'pneumoniamnist' and c['size'] == '20')
    w = runs.pivot(index='seed', columns='strategy', values='test_auc')
    assert cell['status'] == 'measured' and cell['seeds'] == 2 and cell['best'] == w.mean().idxmax()
    other = next(s for s in w if s != cell['best'])
    ci = ttest_rel(w[other], w[cell['best']]).confidence_interval(0.95)
    if np.isfinite(ci.low): assert np.allclose(cell['intervals'][other][1:], [ci.low, ci.high], atol=2e-4)
    assert {c['status'] for c in m['cells'] if c['data'] == 'breastmnist'} == {'not yet measured'}   # no file for it here
    assert 'breastmnist 50' in m['remaining']['cells']
    again = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
    assert again.returncode == 0 and len(pd.read_csv(tmp_path/'runs.csv')) == 4                  # resumable: nothing repeated
    # a grid stopped half-way (seed 1 of finetune_some missing): undecided, not a decision on the one complete seed
    runs[~((runs.strategy == 'finetune_some') & (runs.seed == 1))].to_csv(tmp_path/'partial.csv', index=False)
    import importlib.util   # the tool's summary in this process (no second torch start-up)
    spec = importlib.util.spec_from_file_location('bsm', root/'tools'/'build_strategy_map.py')
    bsm = importlib.util.module_from_spec(spec); spec.loader.exec_module(bsm)
    bsm.summary(tmp_path/'partial.csv', tmp_path/'partial.json', seeds=2)
    pm = json.loads((tmp_path/'partial.json').read_text())                                      # the file the selector reads
    cell = next(c for c in pm['cells'] if c['data'] == 'pneumoniamnist' and c['size'] == '20')
    assert (cell['status'], cell['seeds'], cell['gives_advice'], cell['best']) == ('partly measured', 1, False, None)
    assert cell['advice'].startswith('not decided yet: 1 of 2 paired seeds') and not any(str(s['size']) == '20' for s in pm['summary'])
    assert pm['remaining']['runs_left']['pneumoniamnist 20'] == 5*2 - 3 and 'pneumoniamnist 20' in pm['remaining']['cells']
    # the self-check: seed 1's runs, as if re-run, against each strategy's shipped interval (t-interval of the mean, by scipy)
    from scipy.stats import t as student_t
    runs[runs.seed == 1].to_csv(tmp_path/'check.csv', index=False)
    r = subprocess.run(argv[:2] + ['--summary', '--seeds', '2', '--check', str(tmp_path/'check.csv'), '--runs', str(tmp_path/'runs.csv'),
                                   '--json', str(tmp_path/'map.json')], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and 'self-check pneumoniamnist 20 seeds [1]' in r.stdout, r.stderr[-2000:]
    sc = json.loads((tmp_path/'map.json').read_text())['self_check']['cells'][0]
    for s in w:
        half = student_t.ppf(0.975, 1)*w[s].std(ddof=1)/np.sqrt(2)
        assert np.allclose(sc['strategies'][s]['shipped'][1:], [w[s].mean() - half, w[s].mean() + half], atol=2e-4)
        assert sc['strategies'][s]['rerun'] == pytest.approx(w.loc[1, s], abs=1e-4)
        assert sc['strategies'][s]['inside'] == bool(abs(w.loc[1, s] - w[s].mean()) <= half + 1e-4)

def test_map_tool_reads_fashion_mnist_idx_files(tmp_path):
    """The map's non-medical data set: Fashion-MNIST's gzipped IDX files (written here byte by byte, as the format's spec
    lays them out) read back exactly; the pair's pool and test set hold only pullovers (2) and coats (4), coats labelled 1;
    a file that is not IDX is refused in a message that names it; a folder without the files gives None (the grid skips it);
    the second pair (sneakers vs ankle boots) loads through the tool's `load` with its own classes."""
    import gzip, importlib.util, struct
    from pathlib import Path
    spec = importlib.util.spec_from_file_location('bsm', Path(__file__).resolve().parent.parent/'tools'/'build_strategy_map.py')
    bsm = importlib.util.module_from_spec(spec); spec.loader.exec_module(bsm)
    rng = np.random.default_rng(1)
    def write(name, a):
        with gzip.open(tmp_path/f'{name}-ubyte.gz', 'wb') as f: f.write(bytes([0, 0, 8, a.ndim]) + b''.join(struct.pack('>I', n) for n in a.shape) + a.tobytes())
    for split, n in (('train', 60), ('t10k', 40)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8); y = np.arange(n, dtype=np.uint8) % 10
        write(f'{split}-images-idx3', x); write(f'{split}-labels-idx1', y)
        if split == 'train': xtr, ytr = x, y
    assert np.array_equal(bsm.read_idx(tmp_path/'train-images-idx3-ubyte.gz'), xtr)
    x, y, xt, yt = bsm.fashion_pair(tmp_path, pool=10, n_test=6)
    assert x.shape == (10, 28, 28) and xt.shape == (6, 28, 28) and set(y) <= {0, 1} and set(yt) <= {0, 1}
    want = {xtr[i].tobytes(): int(ytr[i] == 4) for i in np.flatnonzero(np.isin(ytr, (2, 4)))}   # the 12 pullovers and coats
    assert all(want[a.tobytes()] == b for a, b in zip(x, y))
    (tmp_path/'bad-ubyte').write_bytes(b'GIF89a....')
    with pytest.raises(ValueError, match='bad-ubyte: not an IDX file'): bsm.read_idx(tmp_path/'bad-ubyte')
    assert bsm.fashion_pair(tmp_path/'nowhere') is None
    # the second pair, sneakers (7) vs ankle boots (9), through the tool's own loader: 6 + 6 of the 60 train images, boots = 1
    bsm.FASHION_DIR = tmp_path
    d = bsm.load('fashionmnist_shoes')
    assert d.name == 'fashionmnist_shoes' and len(d.y) == 12 and int(d.y.sum()) == 6 and len(d.y_test) == 8 and int(d.y_test.sum()) == 4

def test_lab_on_twelve_images_is_one_clear_line(cli, tmp_path):
    "A pool too small for the lab's draws ends before any training, in one line that says what is missing and what to do."
    from conftest import one_error_line
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (16, 28, 28), dtype=np.uint8); y = np.array([0, 0] + [1]*10 + [0, 1, 0, 1])
    np.savez(tmp_path/'twelve.npz', train_images=x[:12], train_labels=y[:12, None], val_images=x[12:], val_labels=y[12:, None])
    r = cli('lab', tmp_path/'twelve.npz', '--out', tmp_path/'lab', timeout=300)
    assert one_error_line(r, 'the pool has 12 images (0: 2, 1: 10)', 'at least 34 images'), r.stderr
    assert not (tmp_path/'lab'/'lab_results.csv').exists()

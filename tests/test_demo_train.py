"""`medcnn-tl demo`, `train` and `recommend` end to end, as a user runs them from a shell (small settings, CPU).

Each command that trains runs once, in a module fixture, and several tests read what it wrote. The library's own
behaviours around these runs (no test metrics without a test split, cross-fitting, the time budget, the report's
text) are tested in the notebooks that define `train_source` and `run_demo`; here: the console script, its exit code
and output, and the files a user gets. Metric checks are hand-counted: on n1 positive and n0 negative test images an
AUC is a count of pairs over n1*n0 (ties count one half), so 2*n1*n0*AUC is a whole number.
"""
import json
import numpy as np
import pandas as pd
import pytest
from conftest import one_error_line
from medcnn_tl.core import samples_path

KEYS = {'auc', 'accuracy', 'balanced_accuracy', 'sensitivity', 'specificity', 'f1', 'threshold'}
ONE_THREAD = {'OMP_NUM_THREADS': '1'}   # torch on one thread: steady on a shared 2-core machine (as before)
STRATEGIES = ('scratch', 'train_entire', 'freeze_some', 'finetune_some', 'frozen_base')

def whole(x, atol=1e-4) -> bool:
    x = np.asarray(x, dtype=float)
    return bool(np.allclose(x, x.round(), atol=atol))

def stripes_npz(path, n=80, size=28):
    "A MedMNIST-style .npz of the library's synthetic stripes (`toy_images`), 8-bit grey; its test split is the val split."
    from medcnn_tl.data import toy_images
    x, y = toy_images(n, size, n_in=1)
    img = ((x[:, 0] - x.min())/(x.max() - x.min())*255).round().byte().numpy()
    y = y.numpy()
    k = int(n*0.75)
    np.savez(path, train_images=img[:k], train_labels=y[:k, None], val_images=img[k:], val_labels=y[k:, None],
             test_images=img[k:], test_labels=y[k:, None])
    return path

def test_recommend_prints_the_strategy(cli):
    r = cli('recommend', '--n-images', '300', '--similarity', '0.9')
    assert r.returncode == 0 and 'frozen_base' in r.stdout and 'Why:' in r.stdout
    r = cli('recommend', '--n-images', '20000', '--similarity', '0.1')
    assert r.returncode == 0 and 'train_entire' in r.stdout

def test_recommend_bad_similarity_is_one_line(cli):
    r = cli('recommend', '--n-images', '300', '--similarity', '1.5')
    assert one_error_line(r, 'similarity'), r.stderr

def test_train_missing_data_is_one_line(cli, tmp_path):
    r = cli('train', tmp_path/'nope.npz', '--out', tmp_path/'runs')
    assert one_error_line(r, 'nope.npz'), r.stderr

# ---- one `medcnn-tl train` run --------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def train_run(cli, tmp_path_factory):
    "`medcnn-tl train stripes.npz --strategy frozen_base --folds 2 --epochs 1 --size 32`: the run folder, its files and the labels."
    tmp = tmp_path_factory.mktemp('train')
    npz = stripes_npz(tmp/'stripes.npz')
    r = cli('train', npz, '--strategy', 'frozen_base', '--folds', '2', '--size', '32', '--epochs', '1', '--out', tmp/'runs', env=ONE_THREAD)
    assert r.returncode == 0, r.stderr[-3000:]
    found = list((tmp/'runs').glob('*/metrics.json'))
    assert len(found) == 1, found
    run = found[0].parent
    return dict(r=r, run=run, metrics=json.loads(found[0].read_text()), config=json.loads((run/'config.json').read_text()),
                y_test=np.load(npz)['test_labels'].ravel(), n_pool=len(np.load(npz)['train_labels']) + len(np.load(npz)['val_labels']))

def test_train_writes_the_run_folder(train_run):
    run = train_run['run']
    assert 'frozen_base' in run.name                                              # --strategy reached the run
    for f in ('config.json', 'history.csv', 'valid_plots.png', 'test_plots.png', 'model.pth', 'model_1.pth'): assert (run/f).exists(), f
    assert str(run) in train_run['r'].stdout                                       # the user is told where it went
    cfg = train_run['config']
    assert (cfg['strategy'], cfg['size'], cfg['epochs'], cfg['folds']) == ('frozen_base', 32, 1, 2)
    assert len(pd.read_csv(run/'history.csv')) >= 2                                # one epoch per member, two members

def test_train_metrics_valid_and_test(train_run):
    m, y = train_run['metrics'], train_run['y_test']
    assert {'valid', 'test'} <= set(m) and KEYS <= set(m['valid']) and KEYS <= set(m['test'])
    assert m['test']['threshold'] == m['valid']['threshold']                        # the threshold is chosen on valid, never on test
    assert (m['members'], m['folds'], m['held_out']) == (2, 2, train_run['n_pool'])  # cross-fitting: every pooled image held out once
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())                              # counted here from the file
    assert m['test']['n'] == len(y) == n1 + n0 and m['valid']['n'] == train_run['n_pool']
    assert 0 <= m['test']['auc'] <= 1 and whole(2*n1*n0*m['test']['auc']), m['test']      # an AUC over these 20 test images
    assert whole(m['test']['sensitivity']*n1) and whole(m['test']['specificity']*n0), m['test']

# ---- one `medcnn-tl demo` run ---------------------------------------------------------------------------------------
@pytest.fixture(scope='module')
def demo_run(cli, tmp_path_factory):
    "`medcnn-tl demo --epochs 1 --size 32`: its output folder and stdout."
    out = tmp_path_factory.mktemp('demo')/'report'
    r = cli('demo', '--epochs', '1', '--size', '32', '--out', out, env=ONE_THREAD, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    return dict(r=r, out=out)

def test_demo_prints_the_table_and_the_verdict(demo_run):
    out = demo_run['r'].stdout
    for s in STRATEGIES: assert s in out
    assert 'selector recommends' in out and any(w in out for w in ('agree', 'contradict', 'no measurable difference'))
    assert str(demo_run['out']/'report.html') in out

def test_demo_writes_the_report(demo_run):
    out = demo_run['out']
    for f in ('report.md', 'report.html', 'results.csv', 'auc_by_strategy.png', 'strategies.png'): assert (out/f).exists(), f
    for s in STRATEGIES: assert (out/'runs'/s/'metrics.json').exists(), s

def test_demo_aucs_are_over_the_test_images(demo_run):
    "The demo's test split is the chest phantom's `test/` folder: its images counted here, per class folder."
    test = samples_path('chest_phantom')/'test'
    counts = sorted(len(list(d.glob('*.png'))) for d in test.iterdir() if d.is_dir())
    assert len(counts) == 2 and min(counts) > 0
    n1, n0 = counts
    df = pd.read_csv(demo_run['out']/'results.csv')
    assert set(STRATEGIES) <= set(df.strategy)
    assert df.auc.between(0, 1).all() and whole(2*n1*n0*df.auc), df.auc.tolist()
    scratch = json.loads((demo_run['out']/'runs'/'scratch'/'metrics.json').read_text())
    assert abs(df.set_index('strategy').loc['scratch', 'auc'] - scratch['test']['auc']) < 1e-9   # the table reports the run's own file

def test_demo_report_tells_the_truth(demo_run):
    """The report a user opens (moved here from 08_lab's slow cells, so that CI checks it on its one demo run): the data
    named as synthetic, each number explained, every strategy with its row and section, each AUC with its Hanley-McNeil
    95 % interval from the test set's class counts, captions that match the figures, intervals on one line."""
    from medcnn_tl.interpret import auc_standard_error   # checked against a hand count in 07_interpret
    out = demo_run['out']
    md, html = (out/'report.md').read_text(), (out/'report.html').read_text()
    df = pd.read_csv(out/'results.csv')
    assert df.strategy.tolist() == [*STRATEGIES, 'frozen_base+logreg']
    assert 'synthetic' in md and all(f"**{k}**" in md for k in ('AUC', 'sensitivity', 'specificity', 'domain similarity', 'transferability'))
    n1, n0 = sorted(len(list(d.glob('*.png'))) for d in (samples_path('chest_phantom')/'test').iterdir() if d.is_dir())
    for s, a in zip(df.strategy, df.auc):
        se = auc_standard_error(a, n1, n0)
        assert f"| {s} | " in md and f"{a:.3f} [{max(0, a - 1.96*se):.3f}, {min(1, a + 1.96*se):.3f}]" in md, s
        assert f"## {s}" in md and (out/'runs'/s/'test_plots.png').exists(), s     # every row has its section
    assert '<table>' in html and 'k=' not in md
    assert 'histogram' not in md and 'white-space:nowrap' in html

"""The `medcnn-tl` console script: end to end as a user runs it, and its parser (arguments reach the library functions).

The end-to-end runs of `lab`, `sweep`, `train` and `demo` belong to the tests of the functions they call; here the
functions are replaced by recorders, so these tests check only what the command line does: parse, check, pass on.
"""
import json, shutil, subprocess, sys, types
import pytest
import medcnn_tl
from medcnn_tl import cli

def run(*args, timeout=600):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

def test_console_script_is_installed():
    assert shutil.which('medcnn-tl'), "pip install -e . should put medcnn-tl on PATH"

def test_version_and_help():
    r = run('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'medcnn-tl {medcnn_tl.__version__}'
    r = run('--help')
    assert r.returncode == 0
    for cmd in ('demo', 'train', 'recommend', 'inspect', 'dashboard', 'lab', 'sweep'): assert cmd in r.stdout

def test_bad_subcommand_arguments_are_one_usage_error():
    r = run('recommend', '--n-images', 'many', '--similarity', '0.5')
    assert r.returncode == 2 and "expected a whole number" in r.stderr and 'Traceback' not in r.stderr
    r = run('recommend', '--n-images', '300')                          # no similarity and no DATA to measure it from
    assert r.returncode == 1 and 'give --n-images and --similarity, or DATA' in r.stderr and 'Traceback' not in r.stderr

def test_recommend_help_says_how_to_get_the_similarity():
    r = run('recommend', '--help')
    assert r.returncode == 0 and 'domain_similarity' in r.stdout and 'DATA' in r.stdout

def test_recommend_measures_a_data_set_when_given_one():
    import re
    from medcnn_tl.core import samples_path
    from medcnn_tl.selector import recommend
    from medcnn_tl.data import read_source
    csv = samples_path('chest_phantom')/'labels.csv'
    r = run('recommend', str(csv))
    assert r.returncode == 0 and r.stderr.strip() == '', r.stderr[-2000:]
    n = int((read_source(csv).split == 'train').sum())                  # the training images, counted independently
    sim = float(re.search(r'domain similarity (\d\.\d+)', r.stdout).group(1))
    assert f"{n} training images" in r.stdout and f"Recommended strategy: {recommend(n, sim).strategy}" in r.stdout

def test_recommend_answers_what_the_selector_says():
    from medcnn_tl.selector import recommend
    r = run('recommend', '--n-images', '300', '--similarity', '0.2')
    assert r.returncode == 0 and f"Recommended strategy: {recommend(300, 0.2).strategy}" in r.stdout

def imported_after(*argv):
    "The heavy modules present in `sys.modules` after `medcnn-tl ARGV` ran in a fresh interpreter."
    code = ("import sys, contextlib, io\nfrom medcnn_tl.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try: main(sys.argv[1:])\n    except SystemExit: pass\n"
            "print(','.join(m for m in ('torch', 'fastai', 'timm', 'jupyter_server', 'ipywidgets') if m in sys.modules))")
    r = subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return set(filter(None, r.stdout.strip().split(',')))

def test_help_imports_no_heavy_module():
    assert imported_after('--help') == set()
    assert imported_after('dashboard', '--help') == set()

def test_inspect_of_a_dicom_file_imports_no_heavy_module():
    from medcnn_tl.core import samples_path
    assert imported_after('inspect', str(samples_path('dicom')/'CT_small.dcm')) == set()

def test_recommend_imports_no_heavy_module():
    assert imported_after('recommend', '--n-images', '300', '--similarity', '0.5') == set()

# ---- arguments reach the library functions (the functions are replaced by recorders) ----
@pytest.fixture
def recorder(monkeypatch):
    "Install fake `medcnn_tl.lab`, `medcnn_tl.train` and `medcnn_tl.scale` modules whose functions record their arguments."
    calls = []
    def fake(name):
        def f(data=None, **kwargs):
            calls.append((name, data, kwargs)); return {}
        f.__name__ = name
        return f
    lab, train = types.ModuleType('medcnn_tl.lab'), types.ModuleType('medcnn_tl.train')
    scale = types.ModuleType('medcnn_tl.scale')
    for n in ('run_lab', 'run_demo'): setattr(lab, n, fake(n))
    train.train_source = fake('train_source')
    for n in ('sweep', 'train_distributed'): setattr(scale, n, fake(n))
    def run_demo(out=None, size=None, epochs=None, seed=None, device=None):   # a fixed signature: an unknown option is refused
        calls.append(('run_demo', None, {k: v for k, v in dict(out=out, size=size, epochs=epochs, seed=seed, device=device).items()
                                         if v is not None}))
    lab.run_demo = run_demo
    monkeypatch.setitem(sys.modules, 'medcnn_tl.lab', lab)
    monkeypatch.setitem(sys.modules, 'medcnn_tl.train', train)
    monkeypatch.setitem(sys.modules, 'medcnn_tl.scale', scale)
    return calls

def test_lab_arguments_reach_run_lab(recorder):
    assert cli.main(['lab', 'scans/', '--sizes', '50', '200', 'all', '--seeds', '2', '--strategies', 'frozen_base', 'scratch',
                     '--out', 'labdir', '--device', 'cpu', '--size', '32', '--weights', 'simsiam.pth']) == 0
    assert recorder == [('run_lab', 'scans/', dict(sizes=(50, 200, None), seeds=2, strategies=['frozen_base', 'scratch'],
                                                    out='labdir', size=32, device='cpu', weights='simsiam.pth'))]

def test_defaults_are_the_functions_own(recorder):
    "Options left out are not passed at all, so the library's defaults (one place) apply."
    assert cli.main(['lab', 'scans/']) == 0 and recorder[-1] == ('run_lab', 'scans/', {})
    assert cli.main(['train', 'scans/']) == 0 and recorder[-1] == ('train_source', 'scans/', {})

def test_sweep_arguments_reach_sweep(recorder):
    assert cli.main(['sweep', 'scans/', '--trials', '7', '--storage', 'sqlite:///s.db', '--seed', '0']) == 0
    assert recorder == [('sweep', 'scans/', dict(n_trials=7, storage='sqlite:///s.db', seed=0))]

def test_train_arguments_reach_train_source_or_train_distributed(recorder):
    assert cli.main(['train', 'scans/', '--device', 'cuda:1', '--minutes', '2.5', '--strategy', 'freeze_some', '--epochs', '3',
                     '--seed', '0', '--out', 'runs2']) == 0
    assert recorder[-1] == ('train_source', 'scans/', dict(strategy='freeze_some', epochs=3, out='runs2', seed=0, device='cuda:1', minutes=2.5))
    assert cli.main(['train', 'scans/', '--gpus', '2', '--arch', 'resnet18']) == 0
    assert recorder[-1] == ('train_distributed', 'scans/', dict(arch='resnet18', gpus=2))
    assert cli.main(['train', 'scans/', '--gpus', '1']) == 0 and recorder[-1][0] == 'train_source'
    assert cli.main(['train', 'scans/', '--folds', '1', '--no-tta']) == 0
    assert recorder[-1] == ('train_source', 'scans/', dict(folds=1, tta=False))
    assert cli.main(['train', 'scans/', '--compile']) == 0 and recorder[-1] == ('train_source', 'scans/', dict(compile=True))

def test_demo_arguments_reach_run_demo(recorder):
    assert cli.main(['demo', '--device', 'cpu', '--epochs', '2', '--seed', '0']) == 0
    assert recorder == [('run_demo', None, dict(device='cpu', epochs=2, seed=0))]

def test_an_option_the_function_does_not_take_is_one_clear_error(recorder, capsys):
    with pytest.raises(SystemExit) as e: cli.main(['demo', '--minutes', '3'])      # argparse: demo has no --minutes
    assert e.value.code == 2
    fake = sys.modules['medcnn_tl.lab']
    fake.run_demo = lambda out=None: None                                     # a function without `seed`
    assert cli.main(['demo', '--seed', '3']) == 1
    err = capsys.readouterr().err
    assert 'medcnn-tl demo: error:' in err and '--seed' in err and 'Traceback' not in err

def test_strategy_choices_come_from_the_selector(recorder, capsys):
    from medcnn_tl.selector import STRATEGIES
    with pytest.raises(SystemExit) as e: cli.main(['train', 'scans/', '--strategy', 'freeze_everything'])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in STRATEGIES)

def test_bad_numbers_are_refused_before_anything_runs(recorder, capsys):
    for argv in (['lab', 'x', '--sizes', '0'], ['lab', 'x', '--seeds', 'two'], ['sweep', 'x', '--trials', '-1'],
                 ['train', 'x', '--gpus', '0'], ['dashboard', 'conv_explorer', '--max-kernels', '0']):
        with pytest.raises(SystemExit) as e: cli.main(argv)
        assert e.value.code == 2, argv
    assert recorder == []

def test_dashboard_arguments_reach_the_server(monkeypatch, capsys):
    seen = {}
    from medcnn_tl import serve
    monkeypatch.setattr(serve, 'serve_dashboard', lambda *a, **k: seen.update(args=a, kwargs=k) or 0)
    assert cli.main(['dashboard', 'model_lab', '--host', '0.0.0.0', '--port', '9001', '--no-browser', '--max-kernels', '2',
                     '--cull-idle', '120']) == 0
    assert seen == dict(args=('model_lab', '0.0.0.0', 9001), kwargs=dict(open_browser=False, max_kernels=2, cull_idle=120, preheat=2))
    for n in (0, 1, 3): assert cli.main(['dashboard', 'model_lab', '--preheat', str(n)]) == 0 and seen['kwargs']['preheat'] == n
    with pytest.raises(SystemExit): cli.main(['dashboard', 'model_lab', '--preheat', '-1'])
    assert 'expected a whole number ≥ 0, got -1' in capsys.readouterr().err
    assert cli.main(['dashboard']) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in ('conv_explorer', 'ct_windowing', 'architectures', 'model_lab'))
    lines = {l.split()[0]: l for l in out.splitlines() if l.startswith('  ')}   # one line per dashboard, with what it shows
    assert 'Hounsfield' in lines['ct_windowing'] and 'Grad-CAM' in lines['model_lab'], out

def test_voila_configuration_is_safe():
    assert cli.voila_config is __import__('medcnn_tl.serve').serve.voila_config   # moved to serve, still reachable from cli
    cfg = cli.voila_config('127.0.0.1', 8866, max_kernels=2, cull_idle=300)
    v = cfg['Voila']
    assert v['ip'] == '127.0.0.1' and len(v['token']) >= 24 and v['tornado_settings']['allow_remote_access'] is False
    assert cfg['VoilaConfiguration']['file_allowlist'] == []
    assert cfg['MappingKernelManager']['cull_idle_timeout'] == 300 and cfg['CappedKernelManager']['max_kernels'] == 2
    assert cli.voila_config('0.0.0.0')['Voila']['tornado_settings']['allow_remote_access'] is True   # the token guards it
    assert cli.voila_config()['Voila']['token'] != cli.voila_config()['Voila']['token']
    assert [cli.is_local_host(h) for h in ('127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0', '192.168.1.5', 'example.org')] == \
           [True, True, True, True, False, False, False]

def test_lab_prints_its_table_and_writes_the_map_figure(tmp_path):
    "A tiny grid end to end (two strategies, two paired seeds, two epochs): the table per cell, the advice, the figure and where both are."
    import numpy as np, pandas as pd
    rng = np.random.default_rng(0)
    def images(n):
        y = np.arange(n) % 2
        x = rng.integers(0, 90, (n, 28, 28)).astype(np.uint8)
        x[y == 1, 8:20, 8:20] += 150                          # class 1: a bright square, easy to learn
        return x, y[:, None]
    (xtr, ytr), (xva, yva) = images(40), images(20)
    np.savez(tmp_path/'tiny.npz', train_images=xtr, train_labels=ytr, val_images=xva, val_labels=yva)
    out = tmp_path/'labout'
    r = run('lab', str(tmp_path/'tiny.npz'), '--sizes', '20', '--seeds', '2', '--strategies', 'frozen_base', 'finetune_some',
            '--size', '32', '--max-epochs', '2', '--out', str(out), '--device', 'cpu')
    assert r.returncode == 0, r.stderr[-3000:]
    runs = pd.read_csv(out/'lab_results.csv')
    assert len(runs) == 4 and sorted(runs.seed.unique()) == [0, 1]
    assert (out/'lab_map.png').exists() and f"Map figure: {out/'lab_map.png'}" in r.stdout and str(out/'lab_results.csv') in r.stdout
    import re
    assert re.search(r"tiny \(similarity 0\.\d+\), 20 training images, 2 paired seed\(s\): (use|no advice)", r.stdout), r.stdout
    for s, g in runs.groupby('strategy'):                  # each strategy's mean test AUC, as printed, from the table by pandas
        line = next(l for l in r.stdout.splitlines() if l.strip().startswith(s))
        assert f"{g.test_auc.mean():.3f} ±" in line, (s, line)
    best = runs.groupby('strategy').test_auc.mean().idxmax()
    assert any(l.strip().startswith(best) and 'best' in l for l in r.stdout.splitlines())

def test_pretrain_then_train_from_the_weights(cli, tmp_path):
    "Issue 21's done-when: `pretrain DATA --epochs 1 --out DIR` writes weights that `train DATA --weights FILE` trains from."
    import torch
    from medcnn_tl.core import samples_path
    from medcnn_tl.transfer import load_tensors, create_body
    data = samples_path('chest_phantom_28.npz')
    r = cli('pretrain', data, '--epochs', '1', '--size', '16', '--max-images', '64', '--out', tmp_path/'w', '--threads', '1')
    assert r.returncode == 0, r.stderr[-2000:]
    (f,) = (tmp_path/'w').glob('*.pth')
    assert str(f) in r.stdout and '--weights' in r.stdout                 # says where, and how to use it
    rec = json.loads(f.with_suffix('.json').read_text())
    assert (rec['epochs_done'], rec['data']['n_images'], rec['size'], rec['start']) == (1, 64, 16, 'imagenet')
    sd, ref = load_tensors(f), create_body('efficientnet_lite0', 'imagenet', 3).net.state_dict()
    assert set(sd) == set(ref) and any(not torch.equal(sd[k], ref[k]) for k in ref if ref[k].is_floating_point())
    r = cli('train', data, '--weights', f, '--epochs', '1', '--folds', '1', '--size', '32', '--out', tmp_path/'runs', '--threads', '1')
    assert r.returncode == 0, r.stderr[-2000:]
    (cfg,) = (tmp_path/'runs').glob('*/config.json')
    assert json.loads(cfg.read_text())['weights'] == str(f)

def test_pretrain_options_reach_the_function(monkeypatch):
    import medcnn_tl.pretrain as pt
    seen = {}
    class R:
        path, sidecar = 'w/x.pth', type('S', (), {'name': 'x.json'})()
        config = dict(epochs_done=2, method='simsiam', data=dict(n_images=10), seconds=1.0)
    monkeypatch.setattr(pt, 'pretrain', lambda **kw: seen.update(kw) or R())
    assert cli.main(['pretrain', 'scans/', '--epochs', '2', '--minutes', '1.5', '--size', '48', '--from', 'scratch', '--out', 'w', '--seed', '3']) == 0
    assert seen == dict(source='scans/', start='scratch', epochs=2, minutes=1.5, size=48, out='w', seed=3)

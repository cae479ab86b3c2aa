"""Distributed training (2 CPU processes, gloo) and a local Optuna sweep, on the embedded samples (issue 12).

Each test takes about a minute on two CPU cores; they need the `[scale]` extra (accelerate, optuna, optuna-integration),
which the `dev` extra includes.
"""
import json
import numpy as np
import pytest
from medcnn_tl.core import samples_path, MedcnnError

pytest.importorskip('accelerate'); pytest.importorskip('optuna'); pytest.importorskip('optuna_integration')
DATA = samples_path('chest_phantom')

def test_two_process_training_writes_the_single_process_metrics(tmp_path):
    from sklearn.metrics import roc_auc_score
    import torch
    from medcnn_tl.transfer import transfer_model
    from medcnn_tl.scale import train_distributed
    from medcnn_tl.data import get_dls
    from medcnn_tl.interpret import METRIC_COLUMNS
    res = train_distributed(DATA, gpus=2, strategy='train_entire', epochs=1, size=32, bs=16, out=tmp_path, threads=1,
                            verbose=False, folds=1, tta=False)      # one network on the given split, as a single-process run
    run = tmp_path/'chest_phantom_train_entire_efficientnet_lite0'
    assert res['run_dir'] == str(run)
    metrics = json.loads((run/'metrics.json').read_text())
    assert {'valid', 'test'} <= set(metrics)                               # the same sections as a single-process run
    assert all(set(METRIC_COLUMNS) <= set(metrics[s]) for s in ('valid', 'test'))
    cfg = json.loads((run/'config.json').read_text())
    assert cfg['processes'] == 2
    hist = (run/'history.csv').read_text().splitlines()
    assert len(hist) >= 2 and 'nan' not in hist[1]                         # a finite training loss: steps were taken
    # the model it wrote gives, on the validation split, the AUC that sklearn computes from its predictions
    model = transfer_model(cfg['arch'], cfg['n_classes'], weights='none', n_in=cfg['n_in'])
    model.load_state_dict(torch.load(run/'model.pth', map_location='cpu')); model.eval()
    dls = get_dls(DATA, size=32, bs=16, seed=42, show_progress=False, device='cpu')
    with torch.no_grad():
        pairs = [(model(xb.as_subclass(torch.Tensor)).softmax(1)[:, 1], yb.as_subclass(torch.Tensor)) for xb, yb in dls.valid]
    probs, y = torch.cat([p for p, _ in pairs]).numpy(), torch.cat([y for _, y in pairs]).numpy()
    assert abs(roc_auc_score(y, probs) - metrics['valid']['auc']) < 1e-4

def test_local_two_trial_sweep_and_a_second_worker_on_the_same_storage(tmp_path):
    import optuna
    from medcnn_tl.scale import sweep
    space = dict(size=(32,), epochs=(1, 1), strategy=('train_entire', 'freeze_some'))
    df = sweep(DATA, n_trials=2, out=tmp_path, space=space, bs=16, verbose=False)
    assert len(df) == 2 and set(df.state) == {'COMPLETE'}
    assert {'trial', 'strategy', 'lr', 'size', 'epochs', 'auc', 'accuracy', 'sensitivity', 'specificity'} <= set(df.columns)
    assert df.lr.between(1e-4, 1e-2).all() and set(df.strategy) <= set(space['strategy'])
    # a second worker joins the same study through the shared storage: trials add up
    df2 = sweep(DATA, n_trials=1, out=tmp_path, space=space, bs=16, verbose=False)
    study = optuna.load_study(study_name='medcnn-chest_phantom', storage=f"sqlite:///{tmp_path/'sweep.db'}")
    assert len(study.trials) == 3 == len(df2)
    done = [t for t in study.trials if t.state.name == 'COMPLETE']     # the third may be pruned by the median pruner
    assert len(done) >= 2 and set(df2.state) <= {'COMPLETE', 'PRUNED'}
    assert np.allclose(sorted(t.value for t in done), sorted(df2[df2.state == 'COMPLETE'].auc))
    # the pruner watches what the study maximises: after the one epoch, the reported number is the validation AUC
    # (a loss reported to a maximising study would make the pruner stop the best trials)
    for t in done: assert abs(t.intermediate_values[max(t.intermediate_values)] - t.value) < 1e-3, (t.intermediate_values, t.value)
    best = json.loads((tmp_path/'best.json').read_text())
    assert best['auc'] == df2[df2.state == 'COMPLETE'].auc.max()

def test_bad_arguments_are_one_clear_error():
    from medcnn_tl.scale import train_distributed, sweep
    for call in (lambda: train_distributed(DATA, gpus=0), lambda: sweep(DATA, n_trials=0), lambda: sweep(DATA, storage='nosuch://x', n_trials=1)):
        with pytest.raises(MedcnnError) as e: call()
        assert '\n' not in str(e.value)

"""The strategy lab end to end, as a user runs it: `medcnn-tl lab DATA --sizes 50 200 --seeds 3` on the embedded samples."""
import shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from medcnn_tl.core import samples_path

def run(*args, timeout=1800):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

def test_lab_help():
    r = run('lab', '--help')
    assert r.returncode == 0 and '--sizes' in r.stdout and '--seeds' in r.stdout

def test_lab_end_to_end(tmp_path):
    data = samples_path('chest_phantom_28.npz')
    args = ('lab', str(data), '--sizes', '50', '200', '--seeds', '3', '--size', '16', '--out', str(tmp_path), '--threads', '1')
    r = run(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    df = pd.read_csv(tmp_path/'lab_results.csv')
    assert len(df) == 2*3*5                                              # sizes x seeds x strategies, one row per run
    assert set(df.strategy) == {'scratch', 'train_entire', 'freeze_some', 'finetune_some', 'frozen_base'}
    assert sorted(df['size'].astype(str).unique()) == ['200', '50'] and sorted(df.seed.unique()) == [0, 1, 2]
    assert (df.n_test == 56).all()                                       # the sample's own test split, never trained on
    assert df.test_auc.between(0, 1).all() and df.test_balanced_accuracy.between(0, 1).all()
    assert df.similarity.nunique() == 1 and 0 <= df.similarity.iloc[0] <= 1
    assert {'data', 'similarity', 'size', 'strategy', 'seed', 'seconds', 'device'} <= set(df.columns)
    assert (df[df['size'].astype(str) == '50'].n_train == 50).all()
    r2 = run(*args)                                                      # resumable: nothing left to run
    assert r2.returncode == 0 and len(pd.read_csv(tmp_path/'lab_results.csv')) == len(df)

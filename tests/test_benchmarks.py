"""The benchmark scripts run in their CI-sized form and write what they promise (numbers are measured elsewhere)."""
import json, subprocess, sys
from pathlib import Path

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
    assert abs(cpu['ratio_train'] - cpu['fastai']['median_train_img_s']/cpu['plain']['median_train_img_s']) < 1e-9
    assert abs(cpu['ratio_infer'] - cpu['fastai']['median_infer_img_s']/cpu['plain']['median_infer_img_s']) < 1e-9

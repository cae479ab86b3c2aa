"""Where data and models land, and in which precision: `tensor_dls`, `get_dls` and `medical_learner` against `pick_device()`.

Usage: python benchmarks/device_check.py [NPZ] [--out benchmarks/results/device_check.json]

On whatever machine it runs (a CPU, a CUDA GPU, an Apple GPU), it records for each entry point the device that
`pick_device()` chose, the device of the DataLoaders and of a batch they deliver, the device of the model's weights,
the precision and memory layout `medical_learner` picked, and whether one short epoch trains (loss finite, weights
changed). Each check is compared with `pick_device()` and the JSON says `ok` per row; the script exits 1 if any fails.
"""
import argparse, json, os, platform, sys
from pathlib import Path
import torch

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('npz', nargs='?', default=None, help='a MedMNIST-style .npz for get_dls (default: the synthetic stripes only)')
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'device_check.json'))
    a = p.parse_args(argv)
    from medcnn_tl.core import pick_device, device_name, amp_dtype, channels_last_default
    from medcnn_tl.data import tensor_dls, toy_images, get_dls
    from medcnn_tl.learner import medical_learner, train_plain, predict_plain
    from medcnn_tl.transfer import transfer_model, apply_strategy
    choice = pick_device(); dev = choice.device
    want_prec = 'fp32' if amp_dtype(dev) is None else str(amp_dtype(dev)).replace('torch.', '')
    rows = []
    def same(d): return torch.device(d).type == dev.type
    def check(name, dls):
        xb, yb = dls.train.one_batch()
        learn = medical_learner(dls, 'efficientnet_lite0', 'train_entire', seed=0)
        w0 = next(learn.model.parameters()).detach().clone()
        with learn.no_bar(), learn.no_logging(): learn.fit_strategy(1)
        w1 = next(learn.model.parameters()).detach()
        loss = float(learn.recorder.losses[-1]) if learn.recorder.losses else float('nan')
        r = dict(entry=name, dls_device=str(dls.device), batch_device=str(xb.device), label_device=str(yb.device),
                 model_device=str(w1.device), precision=learn.config['precision'], channels_last=learn.config['channels_last'],
                 last_loss=loss, weights_changed=bool((w1 - w0.to(w1.device)).abs().max() > 0))
        r['ok'] = (same(r['dls_device']) and same(r['batch_device']) and same(r['model_device']) and r['precision'] == want_prec
                   and r['channels_last'] == channels_last_default(dev) and r['weights_changed'] and loss == loss)
        rows.append(r); print(json.dumps(r), flush=True)
    x, y = toy_images(192, 32)
    check('tensor_dls', tensor_dls(x, y, bs=32))
    if a.npz: check('get_dls(npz)', get_dls(a.npz, size=32, bs=32, show_progress=False))
    # the plain PyTorch loop of the library (the path a TPU takes) on the same device
    dls = tensor_dls(x, y, bs=32)
    m = transfer_model('efficientnet_lite0', 2); apply_strategy(m, 'train_entire')
    train_plain(m, dls, 1, 1e-3, device=dev, progress=False)
    pr, yy = predict_plain(m, dls.valid, device=dev)
    r = dict(entry='train_plain/predict_plain', model_device=str(next(m.parameters()).device), n_pred=int(len(pr)))
    r['ok'] = same(r['model_device']) and len(pr) == len(yy); rows.append(r); print(json.dumps(r))
    res = dict(benchmark='device_check', picked=str(dev), why=choice.reason,
               device_name=device_name(dev), expected_precision=want_prec, rows=rows, all_ok=all(r['ok'] for r in rows),
               torch=torch.__version__, python=platform.python_version(), cuda=torch.version.cuda)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"all ok: {res['all_ok']} -> {a.out}")
    return 0 if res['all_ok'] else 1

if __name__ == '__main__': sys.exit(main())

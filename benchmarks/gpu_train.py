"""Time the default `medcnn-tl train` of PneumoniaMNIST on a CUDA GPU (the GPU recipe of issue 23) and write JSON.

Usage (on a machine with a GPU; prepared, not yet run: no GPU was lent when it was written):
  python benchmarks/gpu_train.py PATH/pneumoniamnist_trainval.npz [--compare] [--compile] [--minutes 13]
         [--out benchmarks/results/gpu/gpu_train.json]
  (or, with the wheels and data that benchmarks/gpu_checks.sh expects: STEPS=gpu_train bash benchmarks/gpu_checks.sh)

What it runs: `train_source(PATH, device='cuda')` with every other default, exactly what `medcnn-tl train PATH`
does on a GPU: `medcnn_tl.learner.device_recipe` gives batch 256 (5,231 pooled images), the learning rate times
sqrt(256/32), bf16 autocast (compute capability 8.0+), channels-last, images and labels kept on the GPU. Recorded:
the GPU's name, the recipe, the wall time of the whole call (loading, 5 members, evaluation, plots), each member's
seconds, and the out-of-fold metrics (AUC with its interval, accuracy at the balanced threshold and at argmax).
The target of issue 23: the whole default train within 60 s on an H100-class GPU, with no loss of accuracy against
the CPU recipe. `--compare` also runs the CPU recipe's batch size (32, the strategy's own learning rate) on the same
GPU, so the two out-of-fold AUCs can be compared on one machine; `--compile` adds a run with `torch.compile`.
The first CUDA call of a process pays for CUDA/cuDNN initialisation: a one-epoch warm-up on 64 images runs first
and is reported apart.
"""
import argparse, json, os, platform, sys, tempfile, time
from pathlib import Path
import numpy as np, torch

def one(npz, tmp, **kw):
    from medcnn_tl.train import train_source
    t0 = time.perf_counter()
    r = train_source(npz, out=tmp, device='cuda', verbose=False, **kw)
    wall = time.perf_counter() - t0
    cfg = json.loads((Path(r['run_dir'])/'config.json').read_text())
    v = r['valid']
    return dict(settings=kw, wall_seconds=round(wall, 1), member_seconds=cfg['member_seconds'], members=r['members'],
                budget_stopped=r['budget_stopped'], device_recipe=cfg['device_recipe'], bs=cfg['bs'], lr=cfg['lr'],
                epochs=cfg['epochs'], precision=cfg['precision'],
                valid={k: v.get(k) for k in ('auc', 'auc_ci95', 'accuracy', 'accuracy_argmax', 'balanced_accuracy',
                                             'sensitivity', 'specificity', 'threshold', 'n')})

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('npz'); p.add_argument('--out', default='benchmarks/results/gpu/gpu_train.json')
    p.add_argument('--compare', action='store_true', help='also run the CPU recipe batch size (32) on the GPU')
    p.add_argument('--compile', action='store_true', help='also run with torch.compile')
    p.add_argument('--minutes', type=float, default=None, help='time budget (default: the recipe default)')
    a = p.parse_args()
    if not torch.cuda.is_available(): sys.exit("no CUDA GPU here: this script measures the GPU recipe")
    from medcnn_tl.core import device_name
    extra = {} if a.minutes is None else dict(minutes=a.minutes)
    out = dict(benchmark='gpu_train', data=Path(a.npz).name, device_name=device_name('cuda'),
               capability=list(torch.cuda.get_device_capability(0)), torch=torch.__version__, cuda=torch.version.cuda,
               python=platform.python_version(), cpus=os.cpu_count(), target='whole default train <= 60 s, AUC not below the CPU recipe', runs={})
    with tempfile.TemporaryDirectory() as tmp:
        z = np.load(a.npz); small = Path(tmp)/'warmup.npz'
        np.savez(small, train_images=z['train_images'][:48], train_labels=z['train_labels'][:48],
                 val_images=z['val_images'][:16], val_labels=z['val_labels'][:16])
        t0 = time.perf_counter(); one(small, tmp, epochs=1, folds=2); out['warmup_seconds'] = round(time.perf_counter() - t0, 1)
        runs = [('default', {})] + ([('cpu_recipe_batch_32', dict(bs=32))] if a.compare else []) + \
               ([('compile', dict(compile=True))] if a.compile else [])
        for name, kw in runs:
            out['runs'][name] = one(a.npz, tmp, **kw, **extra)
            print(name, json.dumps(out['runs'][name]), flush=True)
            Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {a.out}")

if __name__ == '__main__': main()

"""Train with `train_source`'s DEFAULTS on a MedMNIST-style .npz and write the valid (and test, if any) metrics + wall time.

Usage: python benchmarks/medmnist_train.py PATH.npz [--out benchmarks/results/medmnist_train_<name>.json] [--threads N] [--device D]

Everything not given is chosen by `medcnn_tl.lab.train_source` exactly as `medcnn-tl train PATH.npz` would: the
cross-fitted ensemble (train + val pooled, `TRAIN_FOLDS` folds, one member per fold within the `TRAIN_MINUTES`
budget), EfficientNet-Lite0 `train_entire`, image size `TRAIN_SIZE`, mirror-image test-time augmentation, the
threshold where sensitivity = specificity, seed 42. `valid` in the JSON is the out-of-fold score (k-fold
cross-validation over train + val, every image held out once; `auc_ci95` is its Hanley-McNeil interval).
The target (issue 10) on PneumoniaMNIST: test AUC > 0.962 and accuracy > 0.884 within 15 min on 2 CPU cores, measured
by the maintainers on the official test split. Tune on the train/val file only.
"""
import argparse, json, os, platform, sys, tempfile, time
from pathlib import Path
import torch

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('npz'); p.add_argument('--out', default=None)
    p.add_argument('--threads', type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument('--epochs', type=int, default=None, help='override the default (for tuning only)')
    p.add_argument('--size', type=int, default=None, help='override the default (for tuning only)')
    p.add_argument('--strategy', default=None, help='override the default (for tuning only)')
    p.add_argument('--minutes', type=float, default=None, help='override the time budget (for tuning only)')
    p.add_argument('--folds', type=int, default=None, help='override the number of folds/members (for tuning only)')
    p.add_argument('--device', default=None, help="cpu, cuda, mps (default: pick_device()'s choice, as `medcnn-tl train`)")
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    from medcnn_tl.lab import train_source
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        kw = {k: v for k, v in dict(minutes=a.minutes, folds=a.folds, device=a.device).items() if v is not None}
        res = train_source(a.npz, out=tmp, epochs=a.epochs, size=a.size, strategy=a.strategy, **kw)
    wall = time.perf_counter() - t0
    name = Path(a.npz).stem
    out = Path(a.out or Path(__file__).parent/'results'/f'medmnist_train_{name}.json')
    overrides = {k: v for k, v in dict(epochs=a.epochs, size=a.size, strategy=a.strategy, minutes=a.minutes,
                                       folds=a.folds).items() if v is not None}
    from medcnn_tl.core import pick_device, device_name
    dev = pick_device(a.device).device
    rec = dict(benchmark='medmnist_train', data=name, defaults=not overrides, overrides=overrides,
               device=str(dev), device_name=device_name(dev),
               strategy=res['strategy'], arch=res['arch'], wall_seconds=round(wall, 1),
               valid=res['valid'], test=res.get('test'), members=res.get('members'), folds=res.get('folds'),
               held_out=res.get('held_out'), budget_stopped=res.get('budget_stopped'),
               threads=torch.get_num_threads(), cpus=os.cpu_count(),
               loadavg_at_end=os.getloadavg(), torch=torch.__version__, python=platform.python_version(),
               note='wall_seconds on this device; on a CPU the machine may be shared with other processes (see loadavg)')
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(rec, indent=2))
    print(f"{name}: valid AUC {res['valid']['auc']:.4f} ACC {res['valid']['accuracy']:.4f} in {wall/60:.1f} min -> {out}")

if __name__ == '__main__': main()

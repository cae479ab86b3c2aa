"""Cost of the training batch pipeline of `get_dls`: fastai's `aug_transforms` against `BatchAugment`, per batch, on each device.

Usage: python benchmarks/batch_pipeline.py [NPZ] [--size 64] [--bs 32] [--batches 60] [--devices cpu,cuda]
       [--out benchmarks/results/batch_pipeline.json]

Both pipelines get the same batches (uint8 images cut from memory on the device) and do the same work: gray to RGB,
to float, the default augmentation (flip, rotation up to 10 degrees, zoom up to 1.1, brightness and contrast 0.2,
zero padding), ImageNet normalisation. Only the augmentation differs: fastai's transforms on its `TensorImage`
subclass, or `medcnn_tl.data.BatchAugment` in plain tensor ops. Timed: iterating the training DataLoader (no model),
waiting for the device at the end; median over 3 interleaved repetitions. On a GPU the difference is the per-batch
Python dispatch and the host-device synchronisations (fastai's `_grid_sample` calls `.item()` on every batch).
"""
import argparse, json, os, platform, statistics, time
from pathlib import Path
import torch

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('npz', nargs='?', default=None, help='a MedMNIST-style .npz (default: the chest phantom samples)')
    p.add_argument('--size', type=int, default=64); p.add_argument('--bs', type=int, default=32)
    p.add_argument('--batches', type=int, default=60); p.add_argument('--devices', default=None)
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'batch_pipeline.json'))
    a = p.parse_args(argv)
    from fastai.vision.augment import aug_transforms
    from fastai.data.transforms import Pipeline
    from medcnn_tl.core import pick_device, device_name, samples_path
    from medcnn_tl.data import get_dls, batch_tfms
    devs = [torch.device('cpu')] + ([pick_device().device] if pick_device().device.type != 'cpu' else [])
    if a.devices: devs = [pick_device(d).device for d in a.devices.split(',')]
    rows = []
    for dev in devs:
        dls = get_dls(a.npz or samples_path('chest_phantom'), size=a.size, bs=a.bs, show_progress=False, device=dev)
        dl = dls.train
        ours = dl.after_batch
        tf = [t for t in ours.fs if type(t).__name__ != 'BatchAugment']
        kw = dict(do_flip=True, max_rotate=10., max_zoom=1.1, max_lighting=0.2, max_warp=0., p_affine=0.75, pad_mode='zeros')
        theirs = Pipeline(tf[:2] + aug_transforms(**kw) + tf[2:], split_idx=0)
        n_b = min(a.batches, len(dl))
        def run(pipe):
            dl.after_batch = pipe
            if dev.type == 'cuda': torch.cuda.synchronize()
            t = time.perf_counter(); k = 0
            for b in dl:
                k += 1
                if k >= n_b: break
            if dev.type == 'cuda': torch.cuda.synchronize()
            return 1000*(time.perf_counter() - t)/k
        run(theirs); run(ours)            # warm-up
        fa, me = [], []
        for _ in range(3): fa.append(run(theirs)); me.append(run(ours))
        dl.after_batch = ours
        r = dict(device=str(dev), device_name=device_name(dev), fastai_aug_transforms_ms_per_batch=statistics.median(fa),
                 batch_augment_ms_per_batch=statistics.median(me), speedup=statistics.median(fa)/statistics.median(me),
                 runs_fastai=fa, runs_batch_augment=me, batches=n_b)
        rows.append(r)
        print(f"{dev} ({r['device_name']}): fastai aug_transforms {r['fastai_aug_transforms_ms_per_batch']:.1f} ms/batch, "
              f"BatchAugment {r['batch_augment_ms_per_batch']:.1f} ms/batch ({r['speedup']:.1f}x)", flush=True)
    res = dict(benchmark='batch_pipeline', data=Path(a.npz).name if a.npz else 'chest_phantom samples', size=a.size, bs=a.bs,
               results=rows, torch=torch.__version__, python=platform.python_version(), threads=torch.get_num_threads(),
               cpus=os.cpu_count(), loadavg=os.getloadavg())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"-> {a.out}")
    return res

if __name__ == '__main__': main()

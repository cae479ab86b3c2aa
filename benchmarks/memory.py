"""Peak memory and images/s of `get_dls` on a generated folder of small PNGs, streamed vs in memory (issue 12).

    python benchmarks/memory.py                 # 50,000 and 5,000 images (generated once under /tmp), both ways
    python benchmarks/memory.py --sizes 5000    # one size only

Each measurement runs in a fresh process: build the DataLoaders (`in_memory=False`, 2 workers; or `in_memory=True`),
then one full pass over the training batches (no model, no augmentation: the data pipeline alone). Peak memory is the
process's peak resident set size (`ru_maxrss`) minus its size after the imports, plus the peak of its worker processes
(`RUSAGE_CHILDREN`; workers are forked, so this counts shared pages again: an upper bound). Writes
benchmarks/results/memory.json.
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(os.environ.get('MEDCNN_BENCH_DIR', '/tmp/medcnn_memory_bench'))

def make_folder(n:int, px:int=64)->Path:
    "A class-folder data set of `n` gray PNGs (`px` x `px`), made once; two classes, one image per patient."
    import numpy as np
    from PIL import Image
    d = ROOT/f'pngs_{n}'
    if (d/'.done').exists(): return d
    rng = np.random.default_rng(0)
    for c in ('a', 'b'): (d/c).mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 256, (16, px, px), dtype=np.uint8)
    for i in range(n):
        Image.fromarray(np.roll(base[i % 16], i % px, axis=i % 2)).save(d/('a' if i % 2 else 'b')/f'img_{i:06d}.png', compress_level=1)
    (d/'.done').write_text(str(n))
    return d

def child(folder:str, mode:str, size:int, bs:int, workers:int)->dict:
    import warnings; warnings.simplefilter('ignore')
    import torch; torch.set_num_threads(1)
    from medcnn_tl.data import get_dls
    import sklearn.model_selection, fastprogress.fastprogress, PIL.PngImagePlugin   # imported on first use: count them in the baseline
    mb = lambda r: r.ru_maxrss / 1024   # Linux: kilobytes
    base = mb(resource.getrusage(resource.RUSAGE_SELF))
    t0 = time.perf_counter()
    dls = get_dls(folder, size=size, bs=bs, augment=False, in_memory=(mode == 'in_memory'), show_progress=False,
                  num_workers=0 if mode == 'in_memory' else workers)
    t_build = time.perf_counter() - t0
    n, t1 = 0, time.perf_counter()
    for xb, yb in dls.train: n += len(xb)
    t_epoch = time.perf_counter() - t1
    peak = mb(resource.getrusage(resource.RUSAGE_SELF)); kids = mb(resource.getrusage(resource.RUSAGE_CHILDREN))
    return dict(mode=mode, images=len(dls.source_df), train_images_seen=n, size=size, bs=bs, workers=0 if mode == 'in_memory' else workers,
                rss_after_imports_mb=round(base), peak_rss_mb=round(peak), peak_above_imports_mb=round(peak - base),
                worker_peak_rss_mb=round(kids) if mode != 'in_memory' else 0, build_s=round(t_build, 1), epoch_s=round(t_epoch, 1),
                images_per_s_epoch=round(n / t_epoch), images_per_s_build_plus_epoch=round(n / (t_build + t_epoch)))

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--sizes', type=int, nargs='+', default=[50_000, 5_000])
    p.add_argument('--size', type=int, default=64); p.add_argument('--bs', type=int, default=64); p.add_argument('--workers', type=int, default=2)
    p.add_argument('--child', nargs=2, metavar=('FOLDER', 'MODE'))
    a = p.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], a.size, a.bs, a.workers))); return
    rows = []
    for n in a.sizes:
        folder = make_folder(n)
        for mode in ('streamed', 'in_memory'):
            out = subprocess.run([sys.executable, __file__, '--child', str(folder), mode, '--size', str(a.size), '--bs', str(a.bs),
                                  '--workers', str(a.workers)], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    res = Path(__file__).parent/'results'/'memory.json'
    res.parent.mkdir(exist_ok=True)
    res.write_text(json.dumps(dict(machine=f"{os.cpu_count()} CPUs, shared", command='python benchmarks/memory.py', runs=rows), indent=1))
    print('wrote', res)

if __name__ == '__main__': main()

"""Inference time per image of every architecture in `medcnn_tl.archs`, at 224×224, on this machine.

Writes benchmarks/results/arch_inference.json: per architecture the input size, parameters, multiply-adds
(from `medcnn_tl.archs.summary`) and the median / min / mean wall time of one forward pass (eval mode,
`torch.inference_mode`, random weights: the time does not depend on the weight values).

    python benchmarks/arch_inference.py                      # all architectures, CPU
    python benchmarks/arch_inference.py --archs resnet18 vgg16 --batch-size 8 --threads 2
    python benchmarks/arch_inference.py --device cuda --out benchmarks/results/arch_inference_cuda.json
"""
from __future__ import annotations
import argparse, datetime, json, os, platform, statistics, sys, time
from pathlib import Path

import torch
from medcnn_tl.archs import ARCHITECTURES, SmallCNN, build_arch, summary

OUT = Path(__file__).parent / 'results' / 'arch_inference.json'

def input_size_for(name:str, size:int)->tuple:
    "(C, H, W) used for `name`: `size`×`size`, except LeNet-5, which only takes 32×32."
    info = ARCHITECTURES[name]
    return info.input_size if name == 'lenet5' else (info.input_size[0], size, size)

def build(name:str, size:int, device:str)->torch.nn.Module:
    if name == 'small_cnn': return SmallCNN(in_channels=1, image_size=size).to(device)
    return build_arch(name, device)

def cpu_name()->str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    except OSError: pass
    return platform.processor() or platform.machine()

def sync(device:str):
    if device.startswith('cuda'): torch.cuda.synchronize()

def time_model(model, x, device:str, repeats:int, warmup:int, min_seconds:float)->list[float]:
    "Wall time (s) of `repeats` (or more, up to `min_seconds` in total) forward passes after `warmup` ones."
    times = []
    with torch.inference_mode():
        for _ in range(warmup): model(x); sync(device)
        while len(times) < repeats or (sum(times) < min_seconds and len(times) < 20 * repeats):
            t0 = time.perf_counter(); model(x); sync(device); times.append(time.perf_counter() - t0)
    return times

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--archs', nargs='*', default=list(ARCHITECTURES), help='names from medcnn_tl.archs.ARCHITECTURES')
    p.add_argument('--size', type=int, default=224, help='input height = width (LeNet-5 always uses 32)')
    p.add_argument('--batch-size', type=int, default=1)
    p.add_argument('--repeats', type=int, default=5, help='timed forward passes at least (more for fast models)')
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--min-seconds', type=float, default=1.0, help='keep timing fast models until this much time')
    p.add_argument('--threads', type=int, default=1,
                   help='torch CPU threads; 1 by default: on a shared machine more threads mostly measure contention')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', type=Path, default=OUT)
    a = p.parse_args(argv)
    unknown = [n for n in a.archs if n not in ARCHITECTURES]
    if unknown: p.error(f"unknown architecture(s) {unknown}; choose from {list(ARCHITECTURES)}")
    torch.manual_seed(0)
    if a.threads: torch.set_num_threads(a.threads)
    results = []
    for name in a.archs:
        size = input_size_for(name, a.size)
        model = build(name, a.size, a.device).eval()
        s = summary(model, size)
        x = torch.randn(a.batch_size, *size, device=a.device)
        times = time_model(model, x, a.device, a.repeats, a.warmup, a.min_seconds)
        per_image = [t / a.batch_size * 1000 for t in times]
        r = dict(name=name, input_size=list(size), params=s.total_params, mult_adds=s.total_mult_adds,
                 gmult_adds=round(s.total_mult_adds / 1e9, 4), repeats=len(times),
                 ms_per_image_median=round(statistics.median(per_image), 3), ms_per_image_min=round(min(per_image), 3),
                 ms_per_image_mean=round(statistics.mean(per_image), 3),
                 ms_per_image_stdev=round(statistics.stdev(per_image), 3) if len(per_image) > 1 else 0.0)
        results.append(r)
        print(f"{name:14s} {str(tuple(size)):15s} {s.total_params:>12,} params {r['gmult_adds']:8.3f} G  "
              f"{r['ms_per_image_median']:9.1f} ms/image (median of {len(times)}, min {r['ms_per_image_min']:.1f})",
              flush=True)
        del model
    record = dict(
        benchmark='arch_inference', created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        command='python ' + ' '.join([Path(sys.argv[0]).as_posix()] + (argv if argv is not None else sys.argv[1:])),
        machine=dict(platform=platform.platform(), processor=cpu_name(),
                     cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), torch=torch.__version__,
                     python=platform.python_version(), device=a.device,
                     device_name=torch.cuda.get_device_name() if a.device.startswith('cuda') else 'cpu'),
        settings=dict(threads=torch.get_num_threads(), size=a.size, batch_size=a.batch_size, repeats_at_least=a.repeats, warmup=a.warmup,
                      min_seconds=a.min_seconds, mode='eval + torch.inference_mode, float32, random weights'),
        note=('Wall-clock time of one forward pass divided by the batch size; median over the repeats listed per '
              'model, and the minimum (the run least disturbed by other jobs). Measured on a shared machine (2 CPU '
              'cores shared with other jobs at the time, hence one torch thread by default), so the numbers are '
              'noisy: compare orders of magnitude and ratios, not single milliseconds. LeNet-5 runs at its '
              'native 32x32 gray input; small_cnn is built for 224x224 gray input; every other model takes 3x224x224.'),
        results=results)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(record, indent=2) + '\n')
    print(f'wrote {a.out}')
    return record

if __name__ == '__main__': main()

"""Training throughput through `medical_learner` vs a plain PyTorch loop (same model, batch size, image size, data).

Usage: python benchmarks/learner_overhead.py [--size 64] [--bs 32] [--n 512] [--reps 3] [--threads N] [--out benchmarks/results/learner_overhead.json]

Both sides train EfficientNet-Lite0 (`train_entire`, ImageNet weights, fastai head, AdamW) on the same in-memory
tensors for one epoch per repetition, interleaved A/B/A/B so that load from other processes hits both alike. Only the
training phase is timed (fastai: from `before_train` to `after_train` of each epoch, i.e. batches from `tensor_dls`,
forward, loss, backward, optimiser step and callbacks; plain loop: a torch `DataLoader` over a `TensorDataset`, the
same model step). The reported number is images per second; the ratio is median(fastai) / median(plain).
It also counts the PyTorch operations each side dispatches per training step (torch.profiler).
Threads default to torch's choice (the target, >= 0.9, holds there, not only with one thread).
"""
import argparse, json, platform, statistics, time, os
from pathlib import Path
import torch, torch.nn as nn
from fastai.callback.core import Callback
from medcnn_tl.core import set_seed
from medcnn_tl.transfer import transfer_model, apply_strategy
from medcnn_tl.data import tensor_dls, toy_images
from medcnn_tl.learner import medical_learner

class TrainTimer(Callback):
    "Record the wall time of each training phase."
    order = 100
    def before_train(self): self.t0 = time.perf_counter()
    def after_train(self): self.times.append(time.perf_counter() - self.t0)

def plain_epoch(model, opt, x, y, bs, gen):
    "One epoch of the textbook PyTorch loop over shuffled in-memory tensors through a torch DataLoader."
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=bs, shuffle=True, drop_last=True,
                                     generator=gen)
    model.train(); loss_fn = nn.CrossEntropyLoss(); n = 0
    t0 = time.perf_counter()
    for xb, yb in dl:
        loss = loss_fn(model(xb), yb)
        loss.backward(); opt.step(); opt.zero_grad()
        n += len(yb)
    return n, time.perf_counter() - t0

def aten_ops_per_step(learn, model, opt, xt, yt, bs, steps=3):
    "PyTorch operations dispatched per training step (torch.profiler, CPU): medical_learner's step and the plain loop's."
    from torch.profiler import profile, ProfilerActivity
    from fastai.callback.core import CancelFitException
    class Stop(Callback):
        order = 100
        def after_batch(self):
            self.k = getattr(self, 'k', 0) + 1
            if self.k >= steps: raise CancelFitException()
    def count(fn):
        with profile(activities=[ProfilerActivity.CPU]) as prof: fn()
        return sum(e.count for e in prof.key_averages() if e.key.startswith('aten::'))/steps
    def fa():
        with learn.no_bar(), learn.no_logging(): learn.fit(1, cbs=[Stop()])
    def pl():
        loss_fn = nn.CrossEntropyLoss()
        for i in range(steps):
            loss = loss_fn(model(xt[i*bs:(i+1)*bs]), yt[i*bs:(i+1)*bs]); loss.backward(); opt.step(); opt.zero_grad()
    return count(fa), count(pl)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--size', type=int, default=64); p.add_argument('--bs', type=int, default=32)
    p.add_argument('--n', type=int, default=512); p.add_argument('--reps', type=int, default=3)
    p.add_argument('--threads', type=int, default=None, help='torch threads (default: torch\'s choice)')
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'learner_overhead.json'))
    a = p.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    x, y = toy_images(a.n + a.n//4, a.size)
    dls = tensor_dls(x, y, valid_pct=0.2, bs=a.bs, device='cpu')
    xt, yt = dls.train_ds.x, dls.train_ds.y
    n_train = (len(yt)//a.bs)*a.bs

    learn = medical_learner(dls, strategy='train_entire', seed=0, device='cpu')
    timer = TrainTimer(); timer.times = []
    learn.add_cb(timer)
    set_seed(0)
    model = transfer_model('efficientnet_lite0', 2); apply_strategy(model, 'train_entire')
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    # warm-up both (first-call kernel setup)
    with learn.no_bar(), learn.no_logging(): learn.fit_strategy(1)
    plain_epoch(model, opt, xt, yt, a.bs, gen)
    fa, pl = [], []
    for r in range(a.reps):
        with learn.no_bar(), learn.no_logging(): learn.fit_strategy(1)
        fa.append(n_train / timer.times[-1])
        n, t = plain_epoch(model, opt, xt, yt, a.bs, gen)
        pl.append(n / t)
        print(f"rep {r}: medical_learner {fa[-1]:.1f} img/s, plain loop {pl[-1]:.1f} img/s")
    ops_fa, ops_pl = aten_ops_per_step(learn, model, opt, xt, yt, a.bs)
    print(f"aten operations per training step: medical_learner {ops_fa:.0f}, plain loop {ops_pl:.0f}")
    res = dict(benchmark='learner_overhead', size=a.size, bs=a.bs, n_train=n_train, reps=a.reps,
               aten_ops_per_step_medical_learner=ops_fa, aten_ops_per_step_plain=ops_pl,
               aten_ops_note='operations PyTorch dispatches per training step (torch.profiler, CPU, float32, single-tensor '
                             'AdamW on the CPU): on a GPU each is at least one kernel launch, so where the GPU work per step is '
                             'small (small images, small batches) their count, not the GPU, sets the speed',
               medical_learner_img_s=fa, plain_loop_img_s=pl,
               median_medical_learner_img_s=statistics.median(fa), median_plain_img_s=statistics.median(pl),
               ratio=statistics.median(fa)/statistics.median(pl), target_ratio=0.9,
               torch=torch.__version__, threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(),
               cpus=os.cpu_count(), loadavg=os.getloadavg(),
               note="machine shared with other processes while measured (see loadavg); A/B interleaved to share the noise")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"ratio medical_learner / plain = {res['ratio']:.3f} (target >= 0.9) -> {a.out}")

if __name__ == '__main__': main()

"""Training and inference images/s and time to a target validation AUC, on the CPU and any accelerator present:
`medical_learner` (fastai) against a plain PyTorch loop with the same precision and memory layout.

Usage:
  python benchmarks/accelerators.py --data pneumoniamnist.npz [--size 64] [--bs 64] [--n-train 2000] [--epochs 3]
         [--target-auc 0.95] [--devices cpu,cuda] [--precision auto|fp32|bf16|fp16] [--channels-last true|false]
         [--threads N] [--out benchmarks/results/accelerators.json]
  python benchmarks/accelerators.py --quick        # CI-sized: synthetic stripes, 32 px, one epoch (under a minute on a CPU)

Both sides train EfficientNet-Lite0 (`train_entire`, ImageNet weights, fastai head, AdamW, one-cycle) from the same
in-memory tensors (train and validation splits of the `.npz`, enlarged to `--size` px, 3 channels, ImageNet-normalised).
The plain loop is the textbook one: data already on the device, a random permutation per epoch, `model(x)`, loss,
backward, step; with `torch.autocast` (bf16 on CUDA GPUs of compute capability 8.0+, fp16 + `GradScaler` on older ones,
float32 on CPU/MPS) and channels-last on CUDA, i.e. what `medical_learner` does by default on that device.
A few warm-up steps run first, so that neither side pays the device's start-up. Measured per device:
- training images/s: median over epochs 2.. of the training phase only (epoch 1 is the warm-up: cuDNN autotuning, allocations);
- inference images/s over every image (train + valid; median of 3, interleaved): fastai's `get_preds` and the library's
  `predict_plain` (what `train_source` and the lab use) on the learner's model, against the plain loop;
- time to the target validation AUC: wall time of training plus the per-epoch evaluation until the validation AUC
  first reaches `--target-auc` (null if it never does within `--epochs`).
On an XLA device (TPU) fastai does not run; the plain side uses the library's `train_plain`/`predict_plain`.
The JSON says which device (its name), precision, threads and load; numbers from different machines are not comparable.
"""
import argparse, json, os, platform, statistics, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn as nn

def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)
    elif dev.type == 'mps': torch.mps.synchronize()
    elif dev.type == 'xla':
        from medcnn_tl.learner import xla_sync; xla_sync()

def load_data(a):
    "Train/valid tensors: from the .npz (enlarged to `size`, 3 channels, ImageNet-normalised) or synthetic stripes (`--quick`)."
    from medcnn_tl.data import toy_images
    if a.quick or not a.data:
        x, y = toy_images(a.n_train + a.n_train//2 if a.n_train else 192, a.size, seed=0)
        n = len(y)*2//3
        return x[:n], y[:n], x[n:], y[n:], 'synthetic stripes (medcnn_tl.data.toy_images)'
    z = np.load(a.data)
    def prep(im, lab, n=None):
        if n: rng = np.random.RandomState(0); keep = np.sort(rng.choice(len(im), min(n, len(im)), replace=False)); im, lab = im[keep], lab[keep]
        t = torch.tensor(im).float().div(255)
        if t.ndim == 3: t = t[:, None]
        elif t.shape[-1] in (1, 3): t = t.permute(0, 3, 1, 2)
        t = nn.functional.interpolate(t, size=(a.size, a.size), mode='bilinear', align_corners=False)
        if t.shape[1] == 1: t = t.repeat(1, 3, 1, 1)
        mean, std = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return (t - mean)/std, torch.tensor(lab).long().view(-1)
    xt, yt = prep(z['train_images'], z['train_labels'], a.n_train)
    xv, yv = prep(z['val_images'], z['val_labels'])
    return xt, yt, xv, yv, Path(a.data).name

def auc(y, p):
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float('nan')

def run_fastai(dev, xt, yt, xv, yv, a):
    from fastai.callback.core import Callback
    from medcnn_tl.data import tensor_dls
    from medcnn_tl.learner import medical_learner
    dls = tensor_dls(xt, yt, valid=(xv, yv), bs=a.bs, device=dev)
    learn = medical_learner(dls, 'efficientnet_lite0', 'train_entire', seed=0, device=dev, precision=a.precision,
                            channels_last=a.channels_last)
    log = dict(train_s=[], epoch_end=[], auc=[])
    class Clock(Callback):
        order = 100
        def before_fit(self): self.t0 = time.perf_counter()
        def before_train(self): _sync(dev); self.tt = time.perf_counter()
        def after_train(self): _sync(dev); log['train_s'].append(time.perf_counter() - self.tt)
        def after_epoch(self):
            log['epoch_end'].append(time.perf_counter() - self.t0); log['auc'].append(float(self.recorder.values[-1][-1]))
    clock = Clock(); learn.add_cb(clock)
    learn.fit_strategy(a.epochs, progress=False)
    learn.remove_cb(clock)                      # get_preds below runs epoch events too
    n = (len(yt)//a.bs)*a.bs
    return learn, dict(train_img_s=[n/s for s in log['train_s']], auc_per_epoch=log['auc'], elapsed_per_epoch=log['epoch_end'],
                       precision=learn.config['precision'], channels_last=learn.config['channels_last'])

def run_plain(dev, xt, yt, xv, yv, a):
    from medcnn_tl.core import set_seed
    from medcnn_tl.transfer import transfer_model, apply_strategy
    set_seed(0)
    amp, cl = settings(dev, a)
    model = transfer_model('efficientnet_lite0', 2); apply_strategy(model, 'train_entire')
    model.to(dev)
    if cl: model.to(memory_format=torch.channels_last)
    X, Y, XV = xt.to(dev), yt.to(dev), xv.to(dev)
    if cl: X, XV = X.contiguous(memory_format=torch.channels_last), XV.contiguous(memory_format=torch.channels_last)
    steps = len(yt)//a.bs
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=a.epochs*steps)
    scaler = torch.amp.GradScaler('cuda', enabled=amp == torch.float16)
    ac = lambda: torch.autocast(dev.type, dtype=amp) if amp is not None else torch.autocast('cpu', enabled=False)
    g = torch.Generator().manual_seed(0)
    log = dict(train_s=[], epoch_end=[], auc=[])
    t0 = time.perf_counter()
    for ep in range(a.epochs):
        model.train(); _sync(dev); tt = time.perf_counter()
        perm = torch.randperm(len(yt), generator=g)
        for i in range(steps):
            ix = perm[i*a.bs:(i+1)*a.bs].to(dev)
            with ac(): loss = nn.functional.cross_entropy(model(X[ix]), Y[ix])
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True); sched.step()
            if dev.type == 'xla': _sync(dev)
        _sync(dev); log['train_s'].append(time.perf_counter() - tt)
        p = predict(model, XV, a.bs*2, amp, dev)
        log['auc'].append(auc(yv.numpy(), p[:, 1])); log['epoch_end'].append(time.perf_counter() - t0)
    return model, dict(train_img_s=[steps*a.bs/s for s in log['train_s']], auc_per_epoch=log['auc'],
                       elapsed_per_epoch=log['epoch_end'], precision='fp32' if amp is None else str(amp).replace('torch.', ''),
                       channels_last=cl)

@torch.no_grad()
def predict(model, XV, bs, amp, dev):
    model.eval(); out = []
    for i in range(0, len(XV), bs):
        with torch.autocast(dev.type, dtype=amp) if amp is not None else torch.autocast('cpu', enabled=False):
            out.append(model(XV[i:i+bs]).float().softmax(1))
        if dev.type == 'xla': _sync(dev)
    return torch.cat(out).cpu().numpy()

def settings(dev, a):
    "The autocast dtype (`None`: float32) and channels-last flag that `medical_learner` uses on `dev` with `--precision`/`--channels-last`."
    from medcnn_tl.core import channels_last_default
    from medcnn_tl.learner import amp_for
    return amp_for(a.precision, dev), channels_last_default(dev) if a.channels_last is None else a.channels_last

def warmup(dev, xt, yt, a, steps=5):
    "A few training steps of a throwaway model with the benchmark's shapes and settings, so that neither side pays the device's start-up (CUDA context, cuDNN, kernel loading)."
    from medcnn_tl.transfer import transfer_model, apply_strategy
    amp, cl = settings(dev, a)
    m = transfer_model('efficientnet_lite0', 2); apply_strategy(m, 'train_entire'); m.to(dev)
    if cl: m.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    x, y = xt[:a.bs].to(dev), yt[:a.bs].to(dev)
    if cl: x = x.contiguous(memory_format=torch.channels_last)
    for _ in range(steps):
        with torch.autocast(dev.type, dtype=amp) if amp is not None else torch.autocast('cpu', enabled=False):
            loss = nn.functional.cross_entropy(m(x), y)
        loss.backward(); opt.step(); opt.zero_grad()
    _sync(dev)

def time_to(auc_per_epoch, elapsed, target):
    return next((round(t, 2) for v, t in zip(auc_per_epoch, elapsed) if v >= target), None)

def bench_device(dev, data, a):
    from medcnn_tl.core import device_name
    xt, yt, xv, yv = data
    row = dict(device=str(dev), device_name=device_name(dev))
    if dev.type == 'xla':
        from medcnn_tl.data import tensor_dls
        from medcnn_tl.learner import train_plain, predict_plain
        from medcnn_tl.transfer import transfer_model, apply_strategy
        dls = tensor_dls(xt, yt, valid=(xv, yv), bs=a.bs, device='cpu')
        model = transfer_model('efficientnet_lite0', 2); apply_strategy(model, 'train_entire')
        times, aucs, t0, el = [], [], time.perf_counter(), []
        for ep in range(a.epochs):
            tt = time.perf_counter(); train_plain(model, dls, 1, 2e-3, device=dev, progress=False); _sync(dev)
            times.append((len(yt)//a.bs)*a.bs/(time.perf_counter() - tt))
            p, y = predict_plain(model, dls.valid, device=dev); aucs.append(auc(y, p[:, 1])); el.append(time.perf_counter() - t0)
        row.update(fastai=None, note='fastai does not run on XLA: medical_learner falls back to the CPU; plain = medcnn_tl.learner.train_plain '
                   '(one epoch per call, so the one-cycle schedule restarts each epoch)',
                   plain=dict(train_img_s=times, auc_per_epoch=aucs, elapsed_per_epoch=el, precision='fp32 (TPU matmuls in bf16)'))
        row['plain']['median_train_img_s'] = statistics.median(times[1:] or times)
        row['plain']['time_to_target_s'] = time_to(aucs, el, a.target_auc)
        return row
    warmup(dev, xt, yt, a)
    learn, fa = run_fastai(dev, xt, yt, xv, yv, a)
    model, pl = run_plain(dev, xt, yt, xv, yv, a)
    # inference, interleaved, over every image (train + valid, so that fixed per-call costs do not dominate):
    # fastai's get_preds, the library's predict_plain on the learner's model, and the plain loop
    from medcnn_tl.data import tensor_dls
    from medcnn_tl.learner import predict_plain
    xa, ya = torch.cat([xt, xv]), torch.cat([yt, yv])
    idl = tensor_dls(xt[:a.bs], yt[:a.bs], valid=(xa, ya), bs=a.bs, device=dev).valid
    amp, cl = settings(dev, a); XA = xa.to(dev)
    if cl: XA = XA.contiguous(memory_format=torch.channels_last)
    fi, li, pi = [], [], []
    for r in range(3):
        _sync(dev); t = time.perf_counter()
        with learn.no_bar(): learn.get_preds(dl=idl)
        _sync(dev); fi.append(len(ya)/(time.perf_counter() - t))
        _sync(dev); t = time.perf_counter(); predict_plain(learn.model, idl, precision=a.precision); _sync(dev); li.append(len(ya)/(time.perf_counter() - t))
        _sync(dev); t = time.perf_counter(); predict(model, XA, a.bs*2, amp, dev); _sync(dev); pi.append(len(ya)/(time.perf_counter() - t))
    fa['predict_plain_infer_img_s'] = li; fa['median_predict_plain_infer_img_s'] = statistics.median(li)
    for d, inf in ((fa, fi), (pl, pi)):
        d['median_train_img_s'] = statistics.median(d['train_img_s'][1:] or d['train_img_s'])
        d['infer_img_s'] = inf; d['median_infer_img_s'] = statistics.median(inf)
        d['time_to_target_s'] = time_to(d['auc_per_epoch'], d['elapsed_per_epoch'], a.target_auc)
    row.update(fastai=fa, plain=pl, ratio_train=fa['median_train_img_s']/pl['median_train_img_s'],
               ratio_infer=fa['median_infer_img_s']/pl['median_infer_img_s'],
               ratio_infer_predict_plain=fa['median_predict_plain_infer_img_s']/pl['median_infer_img_s'], n_infer=len(ya))
    return row

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default=None, help='a MedMNIST-style .npz (train_/val_ images and labels); default: synthetic')
    p.add_argument('--size', type=int, default=64); p.add_argument('--bs', type=int, default=64)
    p.add_argument('--n-train', type=int, default=None, help='use this many training images (random, seed 0)')
    p.add_argument('--epochs', type=int, default=3); p.add_argument('--target-auc', type=float, default=0.95)
    p.add_argument('--devices', default=None, help="comma-separated, e.g. 'cpu,cuda' (default: cpu and pick_device()'s)")
    p.add_argument('--threads', type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument('--precision', default='auto', choices=['auto', 'fp32', 'bf16', 'fp16'],
                   help="both sides (default auto: bf16/fp16 mixed precision on CUDA, fp32 elsewhere)")
    p.add_argument('--channels-last', default=None, type=lambda v: v.lower() in ('1', 'true', 'yes', 'on'),
                   help='true/false for both sides (default: on CUDA only)')
    p.add_argument('--quick', action='store_true', help='CI-sized run: synthetic data, 32 px, 2 epochs of 128 images')
    p.add_argument('--out', default=str(Path(__file__).parent/'results'/'accelerators.json'))
    a = p.parse_args(argv)
    if a.quick: a.size, a.bs, a.epochs, a.n_train, a.target_auc = 32, 32, 2, 128, 0.8
    if a.threads: torch.set_num_threads(a.threads)
    from medcnn_tl.core import pick_device
    devs = [torch.device('cpu')]
    picked = pick_device().device
    if picked.type != 'cpu': devs.append(picked)
    if a.devices: devs = [pick_device(d).device for d in a.devices.split(',')]
    xt, yt, xv, yv, name = load_data(a)
    rows = []
    for dev in devs:
        print(f"--- {dev}: {len(yt)} training / {len(yv)} validation images at {a.size} px, batch {a.bs}, {a.epochs} epochs", flush=True)
        r = bench_device(dev, (xt, yt, xv, yv), a); rows.append(r)
        for side in ('fastai', 'plain'):
            d = r.get(side)
            if d: print(f"  {side:6s} train {d['median_train_img_s']:8.1f} img/s  infer {d.get('median_infer_img_s', float('nan')):8.1f} img/s  "
                        f"AUC by epoch {np.round(d['auc_per_epoch'], 3).tolist()}  time to AUC {a.target_auc}: {d['time_to_target_s']} s", flush=True)
        if 'ratio_train' in r: print(f"  ratio medical_learner / plain: train {r['ratio_train']:.3f}, inference: fastai get_preds "
                                     f"{r['ratio_infer']:.3f}, predict_plain {r['ratio_infer_predict_plain']:.3f} ({r['n_infer']} images)")
    res = dict(benchmark='accelerators', data=name, size=a.size, bs=a.bs, precision_arg=a.precision, channels_last_arg=a.channels_last, n_train=len(yt), n_valid=len(yv), epochs=a.epochs,
               target_auc=a.target_auc, quick=a.quick, results=rows, torch=torch.__version__, python=platform.python_version(),
               threads=torch.get_num_threads(), cpus=os.cpu_count(), loadavg=os.getloadavg(),
               note='ratio = medical_learner / plain loop with the same precision and memory layout on that device; '
                    'a shared machine makes CPU numbers noisy (see loadavg)')
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"-> {a.out}")
    return res

if __name__ == '__main__': main()

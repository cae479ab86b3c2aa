"""The identifier rule: no DICOM identifier (name, ID, birth date) appears in any output by default.

Planted identifiers (an MRN, a name, a birth date per patient) are written into real DICOM files (pydicom's CT and MR
test files, rewritten into class folders); then every output is searched for them: `medcnn-tl inspect` on the folder
and on one file, `medcnn-tl train` on the folder (stdout, stderr and every file it writes, text or binary), and the
model lab's upload path (everything it displays). `--show-identifying` is the one way to see them, and it does.
"""
import json, re, shutil, subprocess, sys
from pathlib import Path
import pytest
import pydicom
from medcnn_tl.core import samples_path

def planted(i):
    "The identifiers planted in patient `i`'s files, and the forms in which a leak could appear."
    name, mrn, birth = f'Zzplanted^Patient{i:02d}', f'MRN{7731000 + i}', f'1942{(i % 12) + 1:02d}{(i % 27) + 1:02d}'
    return dict(name=name, mrn=mrn, birth=birth), [name, f'Patient{i:02d}', 'Zzplanted', mrn, birth, f'{birth[:4]}-{birth[4:6]}-{birth[6:]}']

@pytest.fixture(scope='module')
def planted_folder(tmp_path_factory):
    "Two class folders of DICOM files, 6 patients each, 2 images per patient, every patient with planted identifiers."
    root = tmp_path_factory.mktemp('phi')/'scans'
    sources = {'lesion': samples_path('dicom')/'CT_small.dcm', 'normal': samples_path('dicom')/'MR_small.dcm'}
    forms, k = [], 0
    for label, src in sources.items():
        (root/label).mkdir(parents=True)
        for p in range(6):
            ids, f = planted(k); forms += f
            for j in range(2):
                ds = pydicom.dcmread(src)
                ds.PatientName, ds.PatientID, ds.PatientBirthDate = ids['name'], ids['mrn'], ids['birth']
                ds.OtherPatientIDs = ids['mrn'] + 'X'
                ds.InstanceNumber = j + 1
                ds.SOPInstanceUID = pydicom.uid.generate_uid()
                ds.save_as(root/label/f'img_{k:02d}_{j}.dcm')
            k += 1
    return root, sorted(set(forms))

def cli(*args, cwd=None, timeout=1200):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main(sys.argv[1:]))', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)

def leaks(text, forms):
    return [f for f in forms if f.lower() in text.lower()]

def test_the_planted_files_really_hold_the_identifiers(planted_folder):
    root, forms = planted_folder
    ds = pydicom.dcmread(next((root/'lesion').glob('*.dcm')))
    assert str(ds.PatientID) in forms and str(ds.PatientBirthDate) in forms
    r = cli('inspect', str(next((root/'lesion').glob('*.dcm'))), '--show-identifying')    # the opt-in shows them: the search works
    assert r.returncode == 0 and leaks(r.stdout, forms)

def test_inspect_of_the_folder_and_of_a_file_shows_no_identifier(planted_folder):
    root, forms = planted_folder
    for target in (root, next((root/'normal').glob('*.dcm'))):
        r = cli('inspect', str(target))
        assert leaks(r.stdout + r.stderr, forms) == [], (target, r.stdout + r.stderr)

def test_train_writes_and_prints_no_identifier(planted_folder, tmp_path):
    root, forms = planted_folder
    out = tmp_path/'runs'
    r = cli('train', str(root), '--epochs', '1', '--size', '32', '--threads', '1', '--out', str(out), '--strategy', 'frozen_base',
            cwd=tmp_path)
    assert leaks(r.stdout + r.stderr, forms) == [], r.stdout + r.stderr
    written = [p for p in tmp_path.rglob('*') if p.is_file()]
    for p in written:
        data = p.read_bytes()
        bad = [f for f in forms if f.encode() in data or f.lower().encode() in data.lower()]
        assert bad == [], (p, bad)
        assert leaks(str(p.relative_to(tmp_path)), forms) == [], p

def test_model_lab_upload_keeps_and_shows_no_identifier(planted_folder):
    pytest.importorskip('ipywidgets')
    from medcnn_tl.widgets import image_from_upload, model_lab
    root, forms = planted_folder
    path = next((root/'lesion').glob('*.dcm'))
    data = path.read_bytes()
    img = image_from_upload('Zzplanted_Patient00_MRN7731000.dcm', data)
    assert leaks(repr({k: v for k, v in img.items() if k != 'values'}), forms) == []
    lab = model_lab()
    lab.controls['upload'].value = ({'name': 'Zzplanted_Patient00_MRN7731000.dcm', 'type': 'application/dicom', 'size': len(data),
                                     'content': memoryview(data), 'last_modified': __import__('datetime').datetime.now()},)
    assert 'uploaded image received' in lab.message.value
    assert lab.controls['upload'].value == ()                     # the file (and its name) is dropped from the widget
    shown = json.dumps([w.get_state() for w in _all_widgets(lab)], default=str)
    assert leaks(shown, forms) == []

def _all_widgets(w):
    yield w
    for c in getattr(w, 'children', ()): yield from _all_widgets(c)

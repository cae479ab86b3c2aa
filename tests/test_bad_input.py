"""Bad input never escapes as anything but a `MedcnnError` (fuzzed with hypothesis).

The notebooks test the named cases of issue 3 (zero-byte, text named .dcm, truncated, no pixel data, RGBA/16-bit PNG,
decompression bomb, empty folder, one class, missing files, blank labels, leakage, all of pydicom's test files).
Here we throw random damage at the readers: random bytes, random truncations and random byte flips of real files.
"""
from pathlib import Path
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from medcnn_tl.core import MedcnnError, samples_path
from medcnn_tl.dicom import read_dicom, dicom_meta
from medcnn_tl.data import load_image, inspect_path, read_source

DICOMS = ['dicom/CT_small.dcm', 'dicom/MR_small.dcm', 'dicom/MR_small_jp2klossless.dcm', 'dicom/cr_chest_mono1.dcm',
          'dicom/SC_rgb_rle_2frame.dcm', 'ct_phantom/PH000/slice_03.dcm']
PNGS = ['images/retina_microaneurysms.png', 'chest_phantom/train/benign/P002_v0.png']
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

def only_medcnn_errors(fn, *args, **kw):
    "Call `fn`; success or `MedcnnError` are fine, anything else fails the test."
    try: fn(*args, **kw)
    except MedcnnError as e: assert str(e).strip() and '\n' not in str(e).strip().splitlines()[0]

@FUZZ
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(['.dcm', '.png', '.jpg', '']))
def test_random_bytes(tmp_path, data, suffix):
    f = tmp_path/f'junk{suffix}'; f.write_bytes(data)
    only_medcnn_errors(load_image, f)
    only_medcnn_errors(inspect_path, f)
    if suffix == '.dcm': only_medcnn_errors(read_dicom, f); only_medcnn_errors(dicom_meta, f)

@FUZZ
@given(name=st.sampled_from(DICOMS + PNGS), cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8))
def test_damaged_real_files(tmp_path, name, cut, flips):
    data = bytearray(samples_path(name).read_bytes())
    for where, byte in flips: data[int(where * (len(data) - 1))] = byte
    data = bytes(data[:max(1, int(len(data) * cut))]) if cut < 1 else bytes(data)
    f = tmp_path/Path(name).name; f.write_bytes(data)
    only_medcnn_errors(load_image, f)
    if f.suffix == '.dcm': only_medcnn_errors(read_dicom, f)

@FUZZ
@given(text=st.text(max_size=300))
def test_random_csv(tmp_path, text):
    f = tmp_path/'labels.csv'; f.write_text(text)
    only_medcnn_errors(read_source, f)

@pytest.mark.parametrize('name', ['chest_phantom', 'chest_phantom_28.npz', 'ct_phantom', 'ct_phantom/labels.csv', 'dicom/CT_small.dcm',
                                  'dicom/MR_small.dcm', 'dicom/rtdose.dcm', 'dicom/examples_rgb_color.dcm', 'images/histology_ihc.png'])
def test_inspect_every_sample(name):
    assert len(inspect_path(samples_path(name)).splitlines()) >= 3

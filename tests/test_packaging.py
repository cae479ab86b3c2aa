"""Packaging from a clean install: the wheel carries the library, the embedded samples, the dashboards and the
console script, and works outside the clone. The wheel is built once per session (`wheel` in conftest.py)."""
import subprocess, sys, zipfile, os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.name for p in (ROOT/'medcnn_tl').glob('*.py')}
    for m in modules: assert f'medcnn_tl/{m}' in names, m
    samples = [p.relative_to(ROOT/'data_samples').as_posix() for p in (ROOT/'data_samples').rglob('*') if p.is_file()]
    for s in samples: assert f'medcnn_tl/data_samples/{s}' in names, s
    for d in (ROOT/'nbs'/'dashboards').glob('*.ipynb'): assert f'medcnn_tl/dashboards/{d.name}' in names, d.name
    assert 'medcnn_tl/strategy_map.json' in names   # the measured map the selector stands on
    entry = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'medcnn-tl = medcnn_tl.cli:main' in zipfile.ZipFile(wheel).read(entry).decode()
    assert not any(n.startswith(('nbs/', 'tests/', 'benchmarks/')) for n in names)

def test_installed_wheel_works_outside_the_clone(wheel, tmp_path):
    site = tmp_path/'site'
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target', str(site), str(wheel)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    code = ("import medcnn_tl, medcnn_tl.core as c, medcnn_tl.cli as cli, medcnn_tl.selector as s; "
            "print(medcnn_tl.__file__); print(c.samples_path()); print(cli.dashboards_dir()); print(len(s.load_strategy_map()['cells']))")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, 'PYTHONPATH': str(site)})
    assert r.returncode == 0, r.stderr[-3000:]
    pkg, samples, dashboards, n_cells = r.stdout.split()
    assert int(n_cells) > 0   # the shipped map is found from the installed package
    assert pkg.startswith(str(site)) and samples.startswith(str(site)) and dashboards.startswith(str(site))
    assert (Path(samples)/'README.md').exists() and list(Path(dashboards).glob('*.ipynb'))

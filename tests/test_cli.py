"""The `medcnn-tl` console script, end to end, as a user runs it from a shell."""
import shutil, subprocess, sys
import pytest
import medcnn_tl

def run(*args, timeout=600):
    exe = shutil.which('medcnn-tl')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from medcnn_tl.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

def test_console_script_is_installed():
    assert shutil.which('medcnn-tl'), "pip install -e . should put medcnn-tl on PATH"

def test_version_and_help():
    r = run('--version')
    assert r.returncode == 0 and r.stdout.strip() == f'medcnn-tl {medcnn_tl.__version__}'
    r = run('--help')
    assert r.returncode == 0
    for cmd in ('demo', 'train', 'recommend', 'inspect', 'dashboard'): assert cmd in r.stdout

def test_bad_subcommand_arguments_are_one_usage_error():
    r = run('recommend', '--n-images', 'many', '--similarity', '0.5')
    assert r.returncode == 2 and 'invalid int value' in r.stderr and 'Traceback' not in r.stderr

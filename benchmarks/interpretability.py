#!/usr/bin/env python
"""Sanity checks of Grad-CAM, measured: localisation vs chance, cascading model randomisation, label randomisation.

Usage: python benchmarks/interpretability.py [--seeds 3] [--size 48] [--epochs 3] [--threads 1]
Writes benchmarks/results/interpretability.json (per seed and mean ± 95% interval).

Data: `medcnn_tl.interpret.phantom_source` (300 X-ray-like images, 150 train / 60 valid / 90 test, half with a round
lesion whose mask is known). Model: EfficientNet-Lite0 (ImageNet weights), every layer trained (`train_entire`).
"""
import argparse, json, platform, sys, time
from pathlib import Path
import numpy as np, pandas as pd, torch
OUT = Path(__file__).resolve().parent/'results'

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=3); ap.add_argument('--size', type=int, default=48)
    ap.add_argument('--epochs', type=int, default=3); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--out', default=str(OUT))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    import warnings; warnings.filterwarnings('ignore')
    from medcnn_tl.data import get_dls, get_test_dl
    from medcnn_tl.learner import medical_learner
    from medcnn_tl.interpret import (phantom_source, phantom_masks, gradcam, occlusion, localization_score, cascading_randomization,
                                     shuffled_labels, map_similarity, MedicalInterpretation)
    from medcnn_tl.lab import summarize
    src = phantom_source(300, a.size, seed=0)
    rows, t0 = [], time.perf_counter()
    for seed in range(a.seeds):
        dls = get_dls(src, size=a.size, bs=16, seed=seed, show_progress=False)
        test_dl = get_test_dl(src, dls)
        xt, yt = [torch.cat(t).as_subclass(torch.Tensor) for t in zip(*[(x, y) for x, y in test_dl])]
        pos = (yt == 1).nonzero().ravel(); masks = phantom_masks(dls, 'test')[pos.numpy()]
        learn = medical_learner(dls, 'efficientnet_lite0', 'train_entire', seed=seed).fit_strategy(a.epochs, progress=False)
        auc = MedicalInterpretation.from_learner(learn, test_dl).metrics()['auc']
        r = dict(seed=seed, test_auc=auc)
        for m in ('gradcam', 'gradcam++'):
            s = localization_score(gradcam(learn, xt[pos], method=m, target_class='lesion'), masks)
            r.update({f'{m}_energy_inside': s.energy_inside.mean(), f'{m}_ratio': s.ratio.mean(), f'{m}_peak_inside': s.peak_inside.mean()})
        s = localization_score(np.stack([np.clip(occlusion(learn, xt[i], target_class='lesion'), 0, None) for i in pos]), masks)
        r.update(chance=s.chance.mean(), occlusion_energy_inside=s.energy_inside.mean(), occlusion_ratio=s.ratio.mean(),
                 occlusion_peak_inside=s.peak_inside.mean())
        casc = cascading_randomization(learn, xt[pos[:16]], seed=seed)
        r.update(rank_corr_head_randomized=casc.rank_correlation.iloc[1], rank_corr_all_randomized=casc.rank_correlation.iloc[-1],
                 ssim_all_randomized=casc.ssim.iloc[-1], cascade=casc[['randomized', 'rank_correlation', 'ssim']].to_dict('records'))
        rand = medical_learner(shuffled_labels(dls, seed), 'efficientnet_lite0', 'train_entire', seed=seed).fit_strategy(a.epochs, progress=False)
        cam_real, cam_rand = gradcam(learn, xt[pos], target_class='lesion'), gradcam(rand, xt[pos], target_class='lesion')
        sim = map_similarity(cam_real, cam_rand)
        r.update(shuffled_labels_test_auc=MedicalInterpretation.from_learner(rand, test_dl).metrics()['auc'],
                 shuffled_labels_rank_corr=sim.rank_correlation.mean(), shuffled_labels_ssim=sim.ssim.mean(),
                 shuffled_labels_energy_inside=localization_score(cam_rand, masks).energy_inside.mean())
        rows.append(r)
        df = pd.DataFrame(rows)
        cols = [c for c in df.columns if c not in ('seed', 'cascade')]
        summ = summarize(df.assign(all='all'), 'all', cols).iloc[0]
        out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
        (out/'interpretability.json').write_text(json.dumps(dict(
            data=f'phantom_source(300, {a.size}, seed=0): 150/60/90 train/valid/test', arch='efficientnet_lite0', strategy='train_entire',
            epochs=a.epochs, seeds=len(rows), threads=a.threads, torch=torch.__version__, python=platform.python_version(),
            date=time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), seconds=round(time.perf_counter() - t0),
            command='python benchmarks/interpretability.py ' + ' '.join(argv if argv is not None else sys.argv[1:]),
            summary={c: summ[c] for c in cols}, runs=rows), indent=1, default=float))
        print(f"seed {seed} done ({time.perf_counter()-t0:.0f} s)", flush=True)
    print(json.dumps({c: summ[c] for c in cols}, indent=1))

if __name__ == '__main__': main()

"""The published-build envelope over the issue-7 sweep: min and max of RAM/VRAM, CPU cores per GPU and installed PSU /
sustained load over every passing option, per form factor (rack / tower+workstation), with the build at each end.

    python benchmarks/envelope_sweep.py
"""

from sizing import catalog as cat
from sizing.recommend.envelope import ratios
from sizing.scenarios import recommend
from sizing.specs import RecommendRequest

c = cat.load()
SWEEP = [
    dict(model="7b"),
    dict(model="14b"),
    dict(model="32b", form_factor="tower"),
    dict(model="7b", form_factor="rack"),
    dict(model="70b", precision="fp8"),
    dict(model="70b", precision="bf16"),
    dict(model="qwen3-235b-a22b", precision="fp8"),
    dict(model="deepseek-r1", precision="fp8"),
]
acc = {}
for kw in SWEEP:
    r = recommend(c, RecommendRequest(**kw))
    for o in r.options:
        form = "rack" if o.build.chassis.form_factor == "rack" else "tower/ws"
        for k, v in ratios(o.build, o.power.sustained_w).items():
            acc.setdefault((form, k), []).append((v, o.build.gpu.id, o.build.n_gpus, o.build.chassis.id))
for k, v in sorted(acc.items()):
    lo, hi = min(v), max(v)
    print(k, round(lo[0], 2), lo[1:], round(hi[0], 2), hi[1:], len(v))

"""Engine versions (data/engine_mechanics.csv): `--engine llama.cpp@b3000` takes that release's defaults, a bare
name the newest release's."""

from __future__ import annotations

import pytest
from cli_run import run_main

from sizing import scenarios
from sizing.specs import RecommendRequest, Request, SizingError

BOX = dict(model="llama-3-70b", precision="q4_k_m", context=4096, gpus_allowed=("rtx-4090",), max_gpus=2)


def test_current_llama_cpp_has_flash_attention_on(catalog):
    """PR #15434 (first tag b6325, 2025-08-30): -fa auto is the default; before it flash attention was off."""
    now = catalog.engine("llama.cpp")
    assert now.version == "b6325" and not now.attn_scores_materialized
    assert catalog.engine("llama.cpp@b6325").attn_scores_materialized is False
    assert catalog.engine("llama.cpp@b6324").attn_scores_materialized is True
    assert catalog.engine("llama.cpp@b3000").version == "b3000"


def test_multi_gpu_default_moved_from_row_to_layer_split_in_early_2024(catalog):
    assert catalog.engine("llama.cpp@b1500").split == "tensor"  # row split shards the matrices
    assert catalog.engine("llama.cpp@b3000").split == "layer"


def test_a_bare_name_and_the_default_engine_agree(catalog):
    assert catalog.default_engine("gguf") == catalog.engine("llama.cpp")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("llama.cpp@", "names no version"),
        ("llama.cpp@b0", "older than any release"),
        ("ktransformers@1.0", "no releases"),
    ],
)
def test_bad_versions_say_how_to_fix(catalog, name, says):
    with pytest.raises(SizingError, match=says):
        catalog.engine(name)


def test_dual_rtx_4090_llama3_70b_q4_k_m_box(catalog):
    """The box people run: Llama-3-70B Q4_K_M over 2 x RTX 4090 at a 4,096-token context. With flash attention on
    (current llama.cpp) three users fit and the box passes; the 2024 build (b3000) materialises the score matrix and
    at three users passes only with layers left in RAM. At the default four users the f16 cache needs 23.4 GiB of
    the 22.8 GiB usable: only builds that leave layers in RAM pass, and with the 8-bit cache the two cards hold it
    all."""
    now = scenarios.recommend(catalog, RecommendRequest(**BOX, engine="llama.cpp", users=3))
    assert any(o.build.gpu.id == "rtx-4090" and o.build.n_gpus == 2 for o in now.options)
    old = scenarios.recommend(catalog, RecommendRequest(**BOX, engine="llama.cpp@b3000", users=3))
    # no build holds it all on the GPUs; what passes keeps some layers in host RAM (llama.cpp -ngl below all)
    assert all(o.estimate.host is not None and o.estimate.host.host_bytes > 0 for o in old.options)
    one = scenarios.recommend(catalog, RecommendRequest(**BOX, engine="llama.cpp", users=1))
    assert one.options
    four = scenarios.recommend(catalog, RecommendRequest(**BOX, engine="llama.cpp"))
    in_ram = [o for o in four.options if o.estimate.host is not None and o.estimate.host.host_bytes > 0]
    assert in_ram == list(four.options)  # at four users only a layer split with RAM holds the f16 cache
    assert four.options or any("--kv-precision q8_0" in way for way in four.ways_out)
    q8 = scenarios.recommend(catalog, RecommendRequest(**BOX, engine="llama.cpp", kv_precision="q8_0"))
    assert any(o.build.n_gpus == 2 and (o.estimate.host is None or not o.estimate.host.host_bytes) for o in q8.options)


def test_version_shows_in_json(capsys):
    import json

    code, out, _ = run_main(
        ["estimate", "--model", "llama-3-8b", "--precision", "q4_k_m", "--engine", "llama.cpp@b3000", "--json"], capsys
    )
    assert code == 0 and json.loads(out)["assumptions"]["engine_version"] == "b3000"
    code, _, err = run_main(["estimate", "--model", "llama-3-8b", "--engine", "llama.cpp@b0"], capsys)
    assert code == 2 and "older than any release" in err


def test_estimate_older_release_needs_more_memory(catalog):
    req = Request(model="llama-3-8b", precision="q4_k_m", prompt_tokens=4000)
    old = scenarios.run(catalog, req.model_copy(update={"engine": "llama.cpp@b3000"}))
    now = scenarios.run(catalog, req.model_copy(update={"engine": "llama.cpp"}))
    assert old.memory.per_gpu_bytes > now.memory.per_gpu_bytes

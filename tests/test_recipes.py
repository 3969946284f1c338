"""Mixed per-tensor quantisation recipes (data/quant_recipes.csv, sizing/specs/recipe.py, sizing/estimate/recipes.py):
file sizes of published mixes, decode bytes from the active tensors, the hybrid split and the properties that must
hold whatever the recipe."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sizing.catalog import load
from sizing.estimate import placement, recipes, shapes
from sizing.scenarios import run
from sizing.specs import HybridSetup, Request, SizingError
from sizing.units import GIB


# unsloth.ai/blog/deepseekr1-dynamic quant table: disk sizes of the DeepSeek-R1 dynamic quants. The sizes are GiB
# (2^30): llama.cpp prints file sizes in GiB, and the shared measurement notes quote "UD-Q2_K_XL, 212 GiB"
# (/work/shared/reference/measured_hybrid.md, ubergarm/r1-ktransformers-guide).
def setup(catalog, offload: str) -> HybridSetup:
    return HybridSetup(offload=offload, gpu_layers=0, cpu_eff=catalog.cpu_efficiency("llama.cpp"))


# ud-iq2_xxs's down_proj type was read so as to meet its size (data/quant_recipes.csv notes): that case is weaker.
PUBLISHED_GIB = {"ud-iq1_s": 131, "ud-iq2_xxs": 183, "ud-q2_k_xl": 212}


@pytest.mark.parametrize(("recipe", "gib"), PUBLISHED_GIB.items())
def test_unsloth_r1_file_size_within_3_percent(catalog, recipe, gib):
    got = shapes.model_file_bytes(catalog.model("deepseek-r1"), catalog.precision(recipe))
    assert got == pytest.approx(gib * GIB, rel=0.03)


def test_unsloth_r1_iq1_m_within_5_percent(catalog):
    # Published 158 GiB. The recipe as the blog states it (IQ1_M gate/up, IQ2_XXS down, the 4/6-bit rest of the
    # IQ1_S row) comes to 151.7 GiB, 4% short: the blog does not say which non-expert tensors this variant raises,
    # so the wider tolerance is stated here rather than a guessed type.
    got = shapes.model_file_bytes(catalog.model("deepseek-r1"), catalog.precision("ud-iq1_m"))
    assert got == pytest.approx(158 * GIB, rel=0.05)


def test_ik_iq1_s_r4_v3_file_size_within_1_percent(catalog):
    # huggingface.co/sokann/DeepSeek-V3-0324-GGUF README: "The file size is 132998282944 bytes, or 123.864 GiB"
    got = shapes.model_file_bytes(catalog.model("deepseek-v3"), catalog.precision("ik-iq1_s_r4"))
    assert got == pytest.approx(132_998_282_944, rel=0.01)


# ggml-org/llama.cpp tools/quantize/README.md @311c2c9, Llama-3.1-8B bits/weight table (whole file over 8.03B params):
# the mixes llama-quant.cpp builds, rebuilt tensor class by tensor class from the shape
@pytest.mark.parametrize(("recipe", "bpw"), [("q4_k_m-mix", 4.8944), ("q2_k-mix", 3.1593)])
def test_llama_cpp_mix_rebuilds_the_published_llama_3_1_8b_bpw(catalog, recipe, bpw):
    model = catalog.model("llama-3.1-8b")
    got = shapes.model_file_bytes(model, catalog.precision(recipe)) * 8 / model.n_params
    assert got == pytest.approx(bpw, rel=0.005)


def test_llama_cpp_q4_k_m_mix_of_deepseek_r1_is_404_gb(catalog):
    # ollama's deepseek-r1:671b tag is the Q4_K_M GGUF, listed at 404 GB (ollama/ollama issue #8911, PR #8780 review)
    got = shapes.model_file_bytes(catalog.model("deepseek-r1"), catalog.precision("q4_k_m-mix"))
    assert got == pytest.approx(404e9, rel=0.01)


def test_use_more_bits_picks_half_of_deepseeks_61_layers():
    # llama-quant.cpp use_more_bits over 61 layers: 0-6, 53-60 and every third of 7-52 (9, 12, ..., 51)
    from sizing.specs.recipe import use_more_bits

    picked = [i for i in range(61) if use_more_bits(i, 61)]
    assert picked == [*range(7), *range(9, 52, 3), *range(53, 61)]


def test_classes_cover_every_block_parameter(catalog):
    # the attention classes add up to ModelSpec's per-layer count (MLA with and without q_lora_rank, GQA with bias)
    for model_id in ("deepseek-r1", "deepseek-v3.2", "llama-3.1-8b", "qwen2.5-7b"):
        model = catalog.model(model_id)
        assert sum(recipes.attention_classes(model).values()) == model.attn_params_per_layer


def test_a_uniform_recipe_equals_the_plain_precision(catalog):
    # a recipe that puts every class at Q8_0 gives the same bytes as the one-number q8_0 row (no regression path)
    q8 = catalog.precision("q8_0")
    uniform = catalog.precision("ud-iq1_s").recipe
    rows = tuple(r.model_copy(update={"bits_per_weight": 8.5}) for r in uniform.rows)
    flat = q8.model_copy(update={"recipe": uniform.model_copy(update={"rows": rows})})
    for model_id in ("deepseek-r1", "llama-3.1-8b"):
        model = catalog.model(model_id)
        assert shapes.weight_bytes(model, flat) == pytest.approx(shapes.weight_bytes(model, q8), rel=1e-12)
        assert shapes.decode_weight_bytes(model, flat, 1) == pytest.approx(
            shapes.decode_weight_bytes(model, q8, 1), rel=1e-12
        )


def test_decode_reads_the_active_tensors_at_their_bits(catalog):
    # batch 1: 8 routed experts per MoE layer at the routed bits, the shared expert, attention, the dense layers and
    # the head; never the other 248 experts
    model, p = catalog.model("deepseek-r1"), catalog.precision("ud-iq1_s")
    bits = recipes.component_bits(model, p.recipe)
    all_experts = recipes.block_bytes(model, p.recipe, 256)
    active = shapes.decode_weight_bytes(model, p, 1)
    unread = model.n_moe_layers * (256 - 8) * model.expert_params * bits.routed / 8
    head = model.vocab_size * model.hidden_size * bits.head / 8
    assert active == pytest.approx(all_experts - unread + head, rel=1e-9)


def test_experts_offload_puts_the_routed_recipe_bytes_in_ram(catalog):
    model, p = catalog.model("deepseek-r1"), catalog.precision("ud-q2_k_xl")
    bits = recipes.component_bits(model, p.recipe)
    gpu, host = placement.stored_bytes(model, p, setup(catalog, "experts"))
    routed = model.n_moe_layers * 256 * model.expert_params * bits.routed / 8
    embed = model.embed_params * bits.embed / 8
    assert host == pytest.approx(routed + embed, rel=1e-9)
    assert gpu + host == pytest.approx(shapes.model_file_bytes(model, p), rel=1e-9)
    # the routed experts at (2 x Q2_K + the down's Q3_K first 3 / Q2_K rest) / 3, not the 4-6 bits of the rest
    assert bits.routed == pytest.approx((2 * 2.625 + (3 * 3.4375 + 55 * 2.625) / 58) / 3)


def test_recipe_speed_follows_the_recipe(catalog):
    base = dict(model="deepseek-r1", engine="llama.cpp", gpu="rtx-4090", cpu="epyc-9374f", n_dimms=4)
    base |= dict(memory="ddr5-4800-rdimm-64gb", offload="experts", prompt_tokens=512, new_tokens=128)
    # 4 of 12 channels: the host side reads at 153.6 GB/s, so the larger routed experts bound the step
    small = run(catalog, Request(**base, precision="ud-iq1_s"))
    big = run(catalog, Request(**base, precision="ud-q2_k_xl"))
    assert big.host is not None and big.host.decode_bound == "host_memory"
    assert small.speed.decode_tokens_per_s > big.speed.decode_tokens_per_s
    assert small.host.host_bytes < big.host.host_bytes


def test_unknown_recipe_is_one_line_with_suggestions(catalog):
    with pytest.raises(SizingError, match=r"^unknown precision 'ud-iq1s'; closest: ud-iq1_s"):
        catalog.precision("ud-iq1s")


def test_recipe_without_default_row_fails_to_load(tmp_path):
    import shutil

    from sizing.catalog.csvfile import CatalogError
    from sizing.catalog.tables import default_data_dir

    data = tmp_path / "data"
    shutil.copytree(default_data_dir(), data)
    path = data / "quant_recipes.csv"
    lines = path.read_text().splitlines()
    kept = [line for line in lines if not (line.startswith("ik-iq1_s_r4,") and ",default," in line)]
    assert len(kept) == len(lines) - 1
    path.write_text("\n".join(kept) + "\n")
    with pytest.raises(CatalogError, match="recipe 'ik-iq1_s_r4' has no 'default' row"):
        load(data)


CLASSES = ["token_embd", "output", "attn", "attn_kv_b", "dense_down", "shexp", "exps_gate_up", "exps_down"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    recipe=st.sampled_from(["ud-iq1_s", "ud-q2_k_xl", "ik-iq1_s_r4", "q4_k_m-mix"]),
    tensor_class=st.sampled_from(CLASSES),
    extra_bits=st.floats(0.1, 8.0),
    batch=st.integers(1, 64),
)
def test_more_bits_on_any_class_never_shrink_the_weights_or_the_decode_reads(
    catalog, recipe, tensor_class, extra_bits, batch
):
    model = catalog.model("deepseek-r1")
    p = catalog.precision(recipe)
    more = raised(p, tensor_class, extra_bits)
    assert shapes.model_file_bytes(model, more) >= shapes.model_file_bytes(model, p) * (1 - 1e-12)
    assert shapes.decode_weight_bytes(model, more, batch) >= shapes.decode_weight_bytes(model, p, batch) * (1 - 1e-12)
    for offload in ("experts", "cpu", "none"):
        g0, h0 = placement.shares(model, setup(catalog, offload), shapes.experts_touched(model, batch))
        assert g0.bytes(model, more) >= g0.bytes(model, p) * (1 - 1e-12)
        assert h0.bytes(model, more) >= h0.bytes(model, p) * (1 - 1e-12)


def raised(p, tensor_class: str, extra_bits: float):
    """The precision with every row of one class replaced by a plain row above the class's highest bits."""
    own = [r.bits_per_weight for r in p.recipe.rows if r.tensor_class == tensor_class]
    top = max([*own, p.recipe.plain(tensor_class).bits_per_weight])
    row = p.recipe.rows[0].model_copy(
        update={"tensor_class": tensor_class, "bits_per_weight": top + extra_bits, "first_n_layers": None}
    )
    kept = tuple(r for r in p.recipe.rows if r.tensor_class != tensor_class)
    return p.model_copy(update={"recipe": p.recipe.model_copy(update={"rows": (*kept, row)})})


@pytest.mark.parametrize("offload", ["experts", "cpu", "layers"])
@pytest.mark.parametrize("tensor_class", CLASSES)
def test_more_bits_on_any_class_never_speed_up_a_hybrid_run(catalog, offload, tensor_class):
    from sizing.estimate import hybrid

    base = dict(model="deepseek-r1", engine="llama.cpp", gpu="rtx-4090", cpu="epyc-9374f", n_dimms=4)
    base |= dict(offload=offload, prompt_tokens=256, new_tokens=64, precision="ud-q2_k_xl")
    if offload == "layers":
        base |= dict(gpu_layers=5)
    e = run(catalog, Request(**base))
    x = e.execution.model_copy(update={"precision": raised(e.execution.precision, tensor_class, 2.0)})
    slower, _, _ = hybrid.speed(e.model, x, e.system, e.efficiency)
    assert slower.decode_tokens_per_s <= e.speed.decode_tokens_per_s * (1 + 1e-12)
    assert slower.prefill_tokens_per_s <= e.speed.prefill_tokens_per_s * (1 + 1e-12)


def test_r4_recipe_needs_ik_llama_cpp(catalog):
    # GGML_TYPE_IQ1_S_R4 and GGML_TYPE_IQ4_KS exist in ik_llama.cpp's ggml.h, not in mainline ggml
    p = catalog.precision("ik-iq1_s_r4")
    assert p.recipe is not None and p.recipe.engines == ("ik_llama.cpp",)
    base = dict(model="deepseek-v3", precision="ik-iq1_s_r4", gpu="rtx-4090", cpu="epyc-9374f", offload="experts")
    assert run(catalog, Request(**base)).execution.engine.id == "ik_llama.cpp"  # the recipe picks its engine
    with pytest.raises(SizingError, match=r"cannot load ik-iq1_s_r4 .*; use --engine ik_llama.cpp$"):
        run(catalog, Request(**base, engine="llama.cpp"))


def test_cli_estimate_takes_a_recipe_and_refuses_an_unknown_one(capsys):
    args = ["estimate", "--model", "deepseek-r1", "--gpu", "h100-sxm", "--precision"]
    code, out, _ = run_main([*args, "ud-iq1_s"], capsys)
    assert code == 0
    assert "ud-iq1_s (per-tensor recipe, 1.5625-6.5625 bits/weight by tensor class)" in out  # f32 norms left out
    code, _, err = run_main([*args, "ud-iq1"], capsys)
    assert code == 2
    assert err.strip() == "error: unknown precision 'ud-iq1'; closest: ud-iq1_s, ud-iq1_m, ud-iq2_xxs, ud-q2_k_xl"


@pytest.mark.parametrize("gpu_layers", [0, 3, 30, 61])
@pytest.mark.parametrize("recipe", ["ud-iq1_s", "q4_k_m-mix"])
def test_a_layer_split_keeps_every_recipe_byte_on_one_side(catalog, recipe, gpu_layers):
    model, p = catalog.model("deepseek-r1"), catalog.precision(recipe)
    split = HybridSetup(offload="layers", gpu_layers=gpu_layers, cpu_eff=catalog.cpu_efficiency("llama.cpp"))
    gpu, host = placement.stored_bytes(model, p, split)
    assert gpu + host == pytest.approx(shapes.model_file_bytes(model, p), rel=1e-9)
    assert (gpu == 0) == (gpu_layers == 0)

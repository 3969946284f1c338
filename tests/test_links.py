"""Link latencies (issue 9): the fitted small-message model (data/links.csv) against the published all-reduce times it
was fitted on (data/links_measured.csv), its ordering and growth, and how Links and collectives use it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sizing import catalog as cat
from sizing.estimate.comm import allreduce_s, alltoall_s, hops_s
from sizing.specs import SizingError, System
from sizing.specs.system import LINK_LATENCY_FALLBACK, gpu_link, node_link

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import fit_links  # noqa: E402

# The fit's error on each measured row. 35% is the tolerance; the widest row is the DGX Spark pair at
# -33% (two 2-node network rows, 19.9 us over InfiniBand HDR and 35.2 us over 200 Gb/s RoCE, share one n).
TOLERANCE = 0.35


def test_every_measured_row_loads_with_a_source(catalog):
    rows = catalog.link_measurements
    assert len(rows) >= 8
    sources = {r.source.split()[0] for r in rows}  # the URL each source opens with
    assert len(sources) >= 4
    for r in rows:
        assert r.source.startswith("https://github.com/"), r.id
        assert str(r.message_bytes) in r.source or r.id.startswith("marin"), r.id  # the quoted row names its size
    assert {r.link_kind for r in rows} >= {"nvlink", "host", "network"}


@pytest.mark.parametrize("row_id", [r.id for r in cat.load().link_measurements])
def test_fitted_latency_reproduces_each_measured_row(catalog, row_id):
    """The fitted base + 2(n-1) x per_hop is within TOLERANCE of each published time (links_measured.csv sources)."""
    row = next(r for r in catalog.link_measurements if r.id == row_id)
    got = catalog.links[row.link_kind].allreduce_latency_s(row.n_gpus)
    assert got == pytest.approx(row.time_s, rel=TOLERANCE)


def test_pinned_rows():
    """Two published points pinned directly (the fit must keep them): 8 x RTX 4090 through host memory, ring,
    42.14 us at 8 B (NVIDIA/nccl#1530); 2 x RTX 4090 over SHM, 8.49 us (tinygrad/open-gpu-kernel-modules#45)."""
    links = cat.load().links
    assert links["host"].allreduce_latency_s(8) == pytest.approx(42.14e-6, rel=0.10)
    assert links["host"].allreduce_latency_s(2) == pytest.approx(8.49e-6, rel=0.10)


def test_every_kind_has_a_row_and_thin_kinds_are_unconfirmed(catalog):
    assert set(catalog.links) == {"nvlink", "fabric", "p2p", "host", "network"}
    for kind, lat in catalog.links.items():
        assert lat.source
        if lat.n_rows < 2:
            assert set(lat.unconfirmed) == {"base_us", "per_hop_us"}, kind
            assert "DERIVED" in lat.notes, kind
        assert lat.n_rows == sum(r.link_kind == kind for r in catalog.link_measurements)


def test_table_is_what_the_fit_writes(catalog):
    """data/links.csv is benchmarks/fit_links.py's output on data/links_measured.csv (to its 3 decimals)."""
    for fitted in fit_links.fit_all(list(catalog.link_measurements)):
        table = catalog.links[fitted.id]
        assert table.base_s == pytest.approx(fitted.base_s, abs=1e-9)
        assert table.hop_s == pytest.approx(fitted.hop_s, abs=1e-9)
        assert table.unconfirmed == fitted.unconfirmed


def test_fallback_is_a_copy_of_the_table(catalog):
    for kind, (base, hop) in LINK_LATENCY_FALLBACK.items():
        assert catalog.links[kind].base_s == pytest.approx(base, abs=1e-12)
        assert catalog.links[kind].hop_s == pytest.approx(hop, abs=1e-12)


@given(st.integers(min_value=2, max_value=64))
def test_latency_grows_with_n_and_nvlink_beats_p2p_beats_host(n):
    links = cat.load().links
    for lat in links.values():
        assert lat.allreduce_latency_s(n + 1) > lat.allreduce_latency_s(n)
    nv, p2p, host = (links[k].allreduce_latency_s(n) for k in ("nvlink", "p2p", "host"))
    assert nv < p2p < host


@pytest.mark.parametrize("gpu_id", ["rtx-4090", "l40s", "h100-sxm"])
@pytest.mark.parametrize("n", [2, 4, 8])
def test_links_carry_the_table_into_allreduce(catalog, gpu_id, n):
    """An 8-byte all-reduce over a Link made from the table is the table's latency (the bandwidth term is ~0)."""
    link = gpu_link(catalog.gpu(gpu_id), n, latencies=catalog.links)
    expected = catalog.links[link.kind].allreduce_latency_s(n)
    assert allreduce_s(link, n, 8) == pytest.approx(expected, rel=1e-3)
    assert System.of(catalog.gpu(gpu_id), n, latencies=catalog.links).gpu_link == link
    assert allreduce_s(System.of(catalog.gpu(gpu_id), n).gpu_link, n, 8) == pytest.approx(expected, rel=1e-3)


def test_a_users_table_overrides_the_fallback(catalog):
    slow = {k: v.model_copy(update={"base_s": 1e-3}) for k, v in catalog.links.items()}
    link = gpu_link(catalog.gpu("rtx-4090"), 4, latencies=slow)
    assert allreduce_s(link, 4, 8) == pytest.approx(1e-3 + 6 * catalog.links["host"].hop_s, rel=1e-3)
    assert node_link(None, slow).latency_s == pytest.approx(1e-3 + catalog.links["network"].hop_s)


def test_point_to_point_and_all_to_all_step_counts(catalog):
    """A send is one step (base + per_hop); an all-to-all's pairwise exchange n-1 steps."""
    link = gpu_link(catalog.gpu("h100-sxm"), 8, latencies=catalog.links)
    lat = catalog.links["nvlink"]
    assert hops_s(link, 3, 0.0) == pytest.approx(3 * (lat.base_s + lat.hop_s))
    assert alltoall_s(link, 8, 0.0) == pytest.approx(lat.base_s + 7 * lat.hop_s)
    assert allreduce_s(link, 1, 1e9) == 0.0 and alltoall_s(link, 1, 1e9) == 0.0


def test_no_table_uses_the_fallback(catalog):
    for bare, table in (
        (gpu_link(catalog.gpu("h100-sxm"), 8), gpu_link(catalog.gpu("h100-sxm"), 8, latencies=catalog.links)),
        (gpu_link(catalog.gpu("rtx-4090"), 4), gpu_link(catalog.gpu("rtx-4090"), 4, latencies=catalog.links)),
        (node_link(None), node_link(None, catalog.links)),
    ):
        assert bare.kind == table.kind
        assert bare.latency_s == pytest.approx(table.latency_s, rel=1e-9)
        assert bare.hop_s == pytest.approx(table.hop_s, rel=1e-9)


@pytest.mark.parametrize(
    ("file", "row", "column"),
    [
        ("links.csv", "NVLink,2.9,1.2,2,,fitted,", "kind"),  # vocabulary is lower case
        ("links.csv", "nvlink,0,1.2,2,,fitted,", "base_us"),  # a collective always costs something
        ("links.csv", "nvlink,2.9,-1,2,,fitted,", "per_hop_us"),
        ("links_measured.csv", "x,pcie,rtx-4090,2,8,8.49,,https://example.org,", "link_kind"),
        ("links_measured.csv", "x,host,rtx-4090,2,8,8.49,,,", "source"),
    ],
)
def test_a_bad_row_is_one_error_naming_file_row_and_column(tmp_path, file, row, column):
    data = tmp_path / "data"
    shutil.copytree(cat.default_data_dir(), data)
    header = (data / file).read_text().splitlines()[0]
    (data / file).write_text(f"{header}\n{row}\n")
    with pytest.raises(SizingError) as err:
        cat.load(data)
    message = str(err.value)
    assert file in message and "row 2" in message and column in message, message


def test_the_catalogs_table_reaches_estimate_and_recommend(catalog):
    """A user's --data links.csv is what the library entry points use: with a 1 ms base on every link, tensor
    parallel over 4 x RTX 4090 decodes slower in `estimate` and in every 4-GPU `recommend` option."""
    from sizing import scenarios
    from sizing.specs import RecommendRequest, Request

    slow = catalog.model_copy(
        update={"links": {k: v.model_copy(update={"base_s": 1e-3}) for k, v in catalog.links.items()}}
    )
    req = Request(model="7b", gpu="rtx-4090", n_gpus=4)
    fast_e, slow_e = scenarios.run(catalog, req), scenarios.run(slow, req)
    assert slow_e.speed.decode_tokens_per_s < 0.5 * fast_e.speed.decode_tokens_per_s

    def four(cat_) -> float:
        r = scenarios.recommend(cat_, RecommendRequest(model="7b", gpus_allowed=("rtx-4090",)))
        return max(o.estimate.speed.decode_tokens_per_s for o in r.options if o.build.n_gpus == 4)

    assert four(slow) < 0.6 * four(catalog)

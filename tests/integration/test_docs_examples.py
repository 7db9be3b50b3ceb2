"""The docs' examples stay true: every manifest in a ```yaml block validates
beside the demo mesh, every mesh-proxy configuration block parses (and a
complete one passes --check), every `meshctl SUBCOMMAND` the docs name
exists, and the flag table in docs/operations.md lists exactly the flags
mesh-proxy has."""
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, ROOT

MESHCTL = BUILD / "bin" / "meshctl"
PROXY = BUILD / "bin" / "mesh-proxy"
DOCS = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]


def yaml_blocks():
    for path in DOCS:
        text = path.read_text()
        for match in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            line = text.count("\n", 0, match.start()) + 2
            yield pytest.param(match.group(1), id=f"{path.relative_to(ROOT)}:{line}")


MANIFESTS = [b for b in yaml_blocks() if "apiVersion:" in b.values[0]]
PROXY_CONFIGS = [b for b in yaml_blocks() if re.search(r"^(listeners|clusters):", b.values[0], re.M)]


def test_the_docs_have_examples_of_both_kinds():
    assert len(MANIFESTS) >= 2 and len(PROXY_CONFIGS) >= 3, (MANIFESTS, PROXY_CONFIGS)


@pytest.mark.parametrize("block", MANIFESTS)
def test_manifest_examples_validate_beside_the_demo(block, tmp_path):
    mesh = tmp_path / "mesh"
    shutil.copytree(ROOT / "deploy" / "examples" / "demo", mesh)
    (mesh / "docs-example.yaml").write_text(block)
    result = subprocess.run([str(MESHCTL), "validate", "-f", str(mesh)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("block", PROXY_CONFIGS)
def test_proxy_config_examples_parse_and_complete_ones_check(block, tmp_path):
    config = tmp_path / "proxy.yaml"
    config.write_text(block)
    parsed = subprocess.run([str(PROXY), "--compile-config", str(config)], capture_output=True,
                            timeout=30)
    assert parsed.returncode == 0, parsed.stderr.decode()
    complete = all(re.search(rf"^{key}:", block, re.M)
                   for key in ("listeners", "route_tables", "clusters"))
    if complete:
        checked = subprocess.run([str(PROXY), "--check", "--config", str(config)],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_meshctl_subcommand_the_docs_name_exists():
    named = set()
    for path in DOCS:
        named |= set(re.findall(r"`meshctl ([a-z][a-z-]+)", path.read_text()))
    assert {"up", "validate", "status"} <= named, named
    # `meshctl NAME --help` answers 0 whatever NAME is (CLI11 prints the
    # top-level help): read the subcommands `meshctl --help` lists instead.
    listed = subprocess.run([str(MESHCTL), "--help"], capture_output=True, text=True, timeout=10)
    subcommands = set(re.findall(r"^  ([a-z][a-z-]+)  ", listed.stdout, re.M))
    assert {"status", "stat", "tap"} <= subcommands, listed.stdout
    assert named <= subcommands, sorted(named - subcommands)


def test_the_operations_flag_table_lists_exactly_mesh_proxys_flags():
    text = (ROOT / "docs" / "operations.md").read_text()
    table = re.search(r"\| flag \| meaning \|\n\|---\|---\|\n((?:\|.*\|\n)+)", text)
    assert table, "the flag table is missing or broken (a blank line inside it ends it)"
    documented = set()
    for row in table.group(1).splitlines():
        documented |= set(re.findall(r"`(--[a-z-]+)", row.split("|")[1]))
    help_text = subprocess.run([str(PROXY), "--help"], capture_output=True, text=True,
                               timeout=10)
    flags = set(re.findall(r"^\s+(--[a-z-]+)", help_text.stdout + help_text.stderr, re.M))
    assert flags and documented == flags, (sorted(flags - documented), sorted(documented - flags))

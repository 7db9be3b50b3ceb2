"""The Dockerfiles in deploy/docker install every Debian package whose
shared libraries the binaries they copy actually link (ldd + dpkg -S), so an
image cannot be built that fails to start for a missing library. (No Docker
engine here: the images themselves are not built in tests.)"""
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

# In debian:12-slim already.
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


def packages_linked(binary):
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    packages = set()
    for path in re.findall(r"=> (/\S+)", out):
        for candidate in (path, "/usr" + path):
            found = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if found.returncode == 0:
                packages.add(found.stdout.split(":")[0])
                break
        else:
            raise AssertionError(f"{binary}: {path} is not from a Debian package")
    return packages


def installed_by(dockerfile):
    text = dockerfile.read_text().replace("\\\n", " ")  # one line per instruction
    install = re.search(r"apt-get install([^&\n]*)", text)
    return set(install.group(1).split()) - {"-y", "--no-install-recommends"}


@pytest.mark.parametrize("image,binaries", [
    ("mesh-controlplane", ["mesh-controlplane", "meshctl", "mesh-injector"]),
    ("mesh-proxy", ["mesh-proxy"]),
    ("mesh-init", ["mesh-init"]),
])
def test_dockerfile_installs_what_the_binaries_link(image, binaries):
    dockerfile = ROOT / "deploy" / "docker" / f"{image}.Dockerfile"
    installed = installed_by(dockerfile)
    for binary in binaries:
        assert f"build/bin/{binary}" in dockerfile.read_text()
        missing = packages_linked(BUILD / "bin" / binary) - BASE - installed
        assert not missing, f"{dockerfile.name} lacks {sorted(missing)} for {binary}"

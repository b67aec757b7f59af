"""Releases: one version everywhere, the metadata users look for, and a release workflow that
builds and tests every wheel the project promises (the workflow cannot run here, so its matrix is
checked instead).
"""

import importlib.metadata
import re
from pathlib import Path

import yaml

import ngcodec

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"

# (job, target, platform tag) of every abi3 wheel: Linux glibc and musl, macOS, Windows.
ABI3_WHEELS = {
    ("linux", "x86_64", "manylinux2014"),
    ("linux", "aarch64", "manylinux2014"),
    ("linux", "x86_64", "musllinux_1_2"),
    ("linux", "aarch64", "musllinux_1_2"),
    ("macos", "x86_64", None),
    ("macos", "aarch64", None),
    ("windows", "x64", None),
}


def cargo_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.MULTILINE)
    assert match, "Cargo.toml has no package version"
    return match.group(1)


def python_versions() -> list[tuple[int, int]]:
    """The CPython versions the installed package's classifiers name, oldest first."""
    classifiers = importlib.metadata.metadata("ngcodec").get_all("Classifier") or []
    found = (re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c) for c in classifiers)
    return sorted((3, int(m.group(1))) for m in found if m)


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def platforms(job: dict) -> list[dict]:
    return job["strategy"]["matrix"]["platform"]


def build_args(job: dict) -> list[str]:
    """The arguments of the job's wheel build: maturin's own command or maturin-action's."""
    for step in job["steps"]:
        if step.get("run", "").startswith("maturin build"):
            return step["run"].split()[2:]
        if step.get("uses", "").startswith("PyO3/maturin-action"):
            return step["with"]["args"].split()
    raise AssertionError("no wheel build in the job")


def step_using(job: dict, action: str) -> dict:
    (step,) = [s for s in job["steps"] if s.get("uses", "").startswith(action)]
    return step


def artifacts(job: dict) -> list[str]:
    """The names of the artifacts a build job uploads, one per matrix entry."""
    name = step_using(job, "actions/upload-artifact")["with"]["name"]
    if name == "${{ matrix.platform.wheels }}":
        return [platform["wheels"] for platform in platforms(job)]
    return [name]


def test_one_version_everywhere():
    version = cargo_version()
    assert ngcodec.__version__ == version
    assert importlib.metadata.version("ngcodec") == version


def test_the_changelog_opens_with_this_version():
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings and headings[0] == ngcodec.__version__


def test_the_installed_metadata_has_the_license_and_the_python_versions():
    metadata = importlib.metadata.metadata("ngcodec")
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    shipped = [f.name for f in importlib.metadata.files("ngcodec") or [] if "licenses" in f.parts]
    assert shipped == ["LICENSE"]
    versions = python_versions()
    assert metadata["Requires-Python"] == f">=3.{versions[0][1]}"
    assert versions == [(3, minor) for minor in range(versions[0][1], versions[-1][1] + 1)]
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: Free Threading :: 3 - Stable" in classifiers


def test_release_runs_on_version_tags_and_by_hand():
    triggers = workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"] == {"tags": ["v*"]}
    assert "workflow_dispatch" in triggers


def test_abi3_wheels_for_every_platform():
    jobs = workflow()["jobs"]
    built = {
        (name, platform["target"], platform.get("compatibility"))
        for name in ("linux", "macos", "windows")
        for platform in platforms(jobs[name])
    }
    assert built == ABI3_WHEELS
    for name in ("linux", "macos", "windows"):
        args = build_args(jobs[name])
        assert "--release" in args
        # One abi3 wheel per platform: no per-interpreter builds.
        assert not {"--interpreter", "-i", "--find-interpreter"} & set(args)
    # Linux wheels are built as .ci/run builds them: zig links against the oldest glibc or musl.
    linux = " ".join(build_args(jobs["linux"]))
    assert "--zig" in linux and "--compatibility ${{ matrix.platform.compatibility }}" in linux
    assert re.search(r'^pyo3 = .*"abi3-py310"', (ROOT / "Cargo.toml").read_text(), re.MULTILINE)


def test_abi3_wheels_are_tested_on_the_oldest_and_newest_python():
    jobs = workflow()["jobs"]
    test = jobs["test-abi3"]
    oldest, newest = python_versions()[0], python_versions()[-1]
    assert test["strategy"]["matrix"]["python"] == [f"3.{oldest[1]}", f"3.{newest[1]}"]
    built = {name for job in ("linux", "macos", "windows") for name in artifacts(jobs[job])}
    tested = {platform["wheels"] for platform in platforms(test)}
    assert tested == {name for name in built if "musllinux" not in name}
    commands = " ".join(step.get("run", "") for step in test["steps"])
    assert "[test]" in commands and "pytest" in commands
    # pytest runs from tests/, where the source tree's python/ is not importable.
    assert any(
        step.get("working-directory") == "tests" and "pytest" in step.get("run", "")
        for step in test["steps"]
    )


def test_musllinux_wheels_are_smoke_tested_on_alpine():
    linux = workflow()["jobs"]["linux"]
    (smoke,) = [step for step in linux["steps"] if "alpine" in step.get("run", "")]
    assert "musllinux" in smoke["if"]
    assert "ngcodec convert --sample" in smoke["run"]


def test_free_threaded_wheels_run_the_thread_stress_tests_with_the_gil_off():
    job = workflow()["jobs"]["free-threaded"]
    runners = {platform["runner"] for platform in platforms(job)}
    assert {"ubuntu-22.04", "ubuntu-24.04-arm", "macos-14", "windows-latest"} <= runners
    assert step_using(job, "actions/setup-python")["with"]["python-version"] == "3.14t"
    args = " ".join(build_args(job))
    assert "--interpreter python" in args  # the 3.14t that setup-python installed
    zig = {platform["runner"]: platform["zig"] for platform in platforms(job)}
    assert zig["ubuntu-22.04"] == zig["ubuntu-24.04-arm"] == "--zig --compatibility manylinux2014"
    (gil_check,) = [s for s in job["steps"] if "_is_gil_enabled" in s.get("run", "")]
    assert "PYTHON_GIL" not in gil_check.get("env", {})  # the module alone must keep it off
    (stress,) = [s for s in job["steps"] if s.get("env", {}).get("PYTHON_GIL") == "0"]
    named = [word for word in stress["run"].split() if word.endswith(".py")]
    assert "test_free_threading.py" in named
    assert all((ROOT / "tests" / name).is_file() for name in named)


def test_the_sdist_is_built_and_a_wheel_is_built_from_it():
    job = workflow()["jobs"]["sdist"]
    assert step_using(job, "PyO3/maturin-action")["with"]["command"] == "sdist"
    assert any(
        "pip wheel" in step.get("run", "") and ".tar.gz" in step["run"] for step in job["steps"]
    )


def test_publishing_is_trusted_and_waits_for_every_build_and_test():
    jobs = workflow()["jobs"]
    publish = jobs["publish"]
    assert "refs/tags/v" in publish["if"]
    assert set(publish["needs"]) == set(jobs) - {"publish"}
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    assert step_using(publish, "pypa/gh-action-pypi-publish")
    assert "secrets." not in WORKFLOW.read_text()  # no stored token
    download = step_using(publish, "actions/download-artifact")["with"]
    assert download["pattern"] == "wheels-*" and download["merge-multiple"] is True
    uploaded = [
        name
        for job in ("linux", "macos", "windows", "free-threaded", "sdist")
        for name in artifacts(jobs[job])
    ]
    assert len(set(uploaded)) == len(uploaded) == 7 + 4 + 1
    assert all(name.startswith("wheels-") for name in uploaded)

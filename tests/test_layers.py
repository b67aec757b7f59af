"""The package's layers: each module imports only from its own layer or the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import ngcodec

PACKAGE = Path(ngcodec.__file__).parent

# Lowest first. A module belongs to the layer of the longest prefix that names it.
LAYERS: list[tuple[str, ...]] = [
    (
        "ngcodec._native",
        "ngcodec.codec_base",
        "ngcodec.image_codecs",
        "ngcodec.chunk_encoding",
        "ngcodec.chunk_batch",
        "ngcodec.downsampling",
        "ngcodec.jxl_codec",
        "ngcodec.compresso_codec",
    ),
    ("ngcodec.sources", "ngcodec.sample"),
    ("ngcodec.precomputed.store",),
    ("ngcodec.precomputed.format", "ngcodec.precomputed.parallel"),
    ("ngcodec.precomputed.sharded", "ngcodec.precomputed.batched"),
    ("ngcodec.precomputed.volume",),
    ("ngcodec.precomputed.pipeline",),
    ("ngcodec.serve",),
    ("ngcodec.volume", "ngcodec.distributed", "ngcodec.cli", "ngcodec.__main__", "ngcodec"),
]


def layer_of(module: str) -> int:
    best, rank = "", -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, index
    assert rank >= 0, f"{module} is in no layer"
    return rank


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(path: Path) -> set[str]:
    all_modules = {*modules(), "ngcodec._native"}  # the extension module is no .py file
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # from a package, the modules named; from a module, the module itself
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & all_modules
            names.update(submodules or {node.module})
    return {name for name in names if name in all_modules}


def test_every_module_imports_only_its_layer_or_lower():
    upward = [
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in imported(path)
        if layer_of(target) > layer_of(name)
    ]
    assert not upward


def test_there_is_no_circle_of_imports():
    graph = {name: imported(path) - {name} for name, path in modules().items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail, name))
        if name in done:
            return
        for target in graph[name]:
            # A package importing its own modules (re-exports) is not a circle.
            if target in graph and not target.startswith(name + "."):
                visit(target, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_no_module_is_over_500_lines():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert not long

"""Every plugin under ``plugins/`` has the one shape the template gives it (house style 17).

A plugin is ``plugins/agent-sdk-<name>/`` with a hatchling ``pyproject.toml`` (distribution
``agent-sdk-<name>``, a bounded dependency on ``agent-sdk``, exactly one ``agent_sdk`` entry
point named ``<name>`` targeting ``agent_sdk_<name_with_underscores>.hooks``), a ``README.md``,
``src/agent_sdk_<module>/`` with ``__init__.py``, ``hooks.py`` and ``py.typed``, and tests.

The checks run on every plugin directory *and* on the template rendered into a temporary
directory, so the parametrized test never runs on zero cases, and a broken template fails here
before anyone copies it.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import agent_sdk

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
TEMPLATE = PLUGINS / "_template"
DIST_PREFIX = "agent-sdk-"
PLUGIN_DIRS = sorted(p for p in PLUGINS.glob(f"{DIST_PREFIX}*") if p.is_dir())

# Top-level imports a hooks module may make besides the standard library, agent_sdk and its
# own package: the kernel's own dependencies, already imported by the kernel at start-up.
LIGHT_THIRD_PARTY = frozenset({"pluggy", "pydantic", "attrs", "structlog"})


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_plugin_template_render", TEMPLATE / "render.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_render()


# --- the checker ---------------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """``(line, module)`` of imports executed when the module is imported.

    Function bodies and ``if TYPE_CHECKING:`` blocks do not run at import; class bodies,
    ``try`` blocks and other branches do.
    """
    found: list[tuple[int, str]] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module and node.module != "__future__":
                    found.append((node.lineno, node.module))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
            else:
                for field in ("body", "orelse", "finalbody"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        visit(children)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return found


def _heavy_imports(package_dir: Path, package: str) -> list[str]:
    """Import-time imports reachable from ``hooks.py`` that are not light, as messages."""
    problems: list[str] = []
    seen: set[Path] = set()
    pending = [package_dir / "hooks.py"]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in _import_time_imports(tree):
            root = module.split(".")[0]
            if root == package:
                parts = module.split(".")[1:]
                candidate = package_dir.joinpath(*parts)
                pending += [candidate.with_suffix(".py"), candidate / "__init__.py"]
            elif (
                root in sys.stdlib_module_names or root == "agent_sdk" or root in LIGHT_THIRD_PARTY
            ):
                continue
            else:
                rel = path.relative_to(package_dir.parent.parent)
                problems.append(
                    f"{rel}:{line} imports {module!r} when the entry point loads; import it "
                    "inside the component that uses it (hooks must stay light, house style 8)"
                )
    return problems


def layout_problems(plugin_dir: Path) -> list[str]:
    """Everything wrong with the shape of *plugin_dir*, one message per problem."""
    problems: list[str] = []
    dir_name = plugin_dir.name
    if not dir_name.startswith(DIST_PREFIX):
        return [f"{dir_name}: plugin directories are named {DIST_PREFIX}<name>"]
    name = dir_name.removeprefix(DIST_PREFIX)
    try:
        _, module = render.normalize(name)
    except ValueError as exc:
        return [f"{dir_name}: {exc}"]
    package = f"agent_sdk_{module}"

    pyproject_path = plugin_dir / "pyproject.toml"
    try:
        pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"{dir_name}/pyproject.toml: cannot be read: {exc}"]
    project = pyproject.get("project", {})

    if project.get("name") != dir_name:
        problems.append(
            f"{dir_name}/pyproject.toml: [project] name is {project.get('name')!r}, "
            f"expected {dir_name!r} (the directory name)"
        )
    backend = pyproject.get("build-system", {}).get("build-backend")
    if backend != "hatchling.build":
        problems.append(
            f"{dir_name}/pyproject.toml: build-backend is {backend!r}, expected 'hatchling.build'"
        )

    kernel_reqs = []
    for raw in project.get("dependencies", []):
        try:
            req = Requirement(raw)
        except InvalidRequirement as exc:
            problems.append(f"{dir_name}/pyproject.toml: invalid dependency {raw!r}: {exc}")
            continue
        if canonicalize_name(req.name) == "agent-sdk":
            kernel_reqs.append(req)
    if len(kernel_reqs) != 1:
        problems.append(
            f"{dir_name}/pyproject.toml: expected exactly one dependency on agent-sdk "
            f'(like "agent-sdk>=0.1,<1"), found {len(kernel_reqs)}'
        )
    else:
        spec = kernel_reqs[0].specifier
        operators = {s.operator for s in spec}
        if ">=" not in operators or "<" not in operators:
            problems.append(
                f"{dir_name}/pyproject.toml: the agent-sdk dependency {str(kernel_reqs[0])!r} "
                "needs a lower and an upper bound, e.g. agent-sdk>=0.1,<1"
            )
        elif not spec.contains(Version(agent_sdk.__version__), prereleases=True):
            problems.append(
                f"{dir_name}/pyproject.toml: {str(kernel_reqs[0])!r} excludes the kernel in "
                f"this repository ({agent_sdk.__version__})"
            )

    entry_points = project.get("entry-points", {})
    group = entry_points.get("agent_sdk", {})
    expected_target = f"{package}.hooks"
    if group != {name: expected_target}:
        problems.append(
            f"{dir_name}/pyproject.toml: [project.entry-points.agent_sdk] is {group!r}, "
            f"expected exactly {{{name!r}: {expected_target!r}}}"
        )
    for other in ("agent-sdk", "agent_sdk_plugins", "agentsdk"):
        if other in entry_points:
            problems.append(
                f"{dir_name}/pyproject.toml: entry-point group {other!r} is not read; use agent_sdk"
            )

    wheel = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    packages = wheel.get("wheel", {}).get("packages")
    if packages != [f"src/{package}"]:
        problems.append(
            f"{dir_name}/pyproject.toml: [tool.hatch.build.targets.wheel] packages is "
            f"{packages!r}, expected ['src/{package}']"
        )

    readme = plugin_dir / "README.md"
    if not readme.is_file() or not readme.read_text(encoding="utf-8").strip():
        problems.append(f"{dir_name}/README.md: missing or empty (it is the plugin's docs page)")
    elif not re.search(r"^# \S", readme.read_text(encoding="utf-8"), re.MULTILINE):
        problems.append(f"{dir_name}/README.md: needs a '# ' title (the docs page title)")

    package_dir = plugin_dir / "src" / package
    for filename in ("__init__.py", "hooks.py", "py.typed"):
        if not (package_dir / filename).is_file():
            problems.append(f"{dir_name}/src/{package}/{filename}: missing")
    if (package_dir / "hooks.py").is_file():
        problems += _heavy_imports(package_dir, package)

    tests = sorted((plugin_dir / "tests").glob("**/test_*.py"))
    if not tests:
        problems.append(f"{dir_name}/tests/: no test_*.py files")
    return problems


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture(params=["_template", *(p.name for p in PLUGIN_DIRS)])
def plugin_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Each plugin directory, plus the template rendered as ``agent-sdk-my-thing``."""
    if request.param == "_template":
        dest = tmp_path / "agent-sdk-my-thing"
        render.render(dest, "my-thing")
        return dest
    return PLUGINS / request.param


def test_plugin_has_the_template_layout(plugin_dir: Path) -> None:
    problems = layout_problems(plugin_dir)
    assert not problems, "plugin layout problems:\n  " + "\n  ".join(problems)


def test_rendered_template_keeps_no_placeholder(tmp_path: Path) -> None:
    files = render.render(tmp_path / "agent-sdk-my-thing", "my-thing")
    leftovers = [
        str(f.relative_to(tmp_path))
        for f in files
        if "NAME" in str(f.relative_to(tmp_path)) or "NAME" in f.read_text(encoding="utf-8")
    ]
    assert files
    assert not leftovers, f"placeholder NAME left in {leftovers}"


def test_template_uses_the_placeholder_only_as_a_whole_word() -> None:
    # "FILENAME" or "RENAME" in the template would be mangled by rendering.
    offenders = []
    for path in sorted(TEMPLATE.rglob("*")):
        if path.is_file() and path.name not in render.NOT_COPIED and path.suffix != ".pyc":
            text = path.read_text(encoding="utf-8")
            whole_words = re.findall(r"(?<![A-Za-z])NAME(?![A-Za-z])", text)
            if text.count("NAME") != len(whole_words):
                offenders.append(str(path.relative_to(TEMPLATE)))
    assert not offenders, f"NAME appears inside another word in {offenders}"


def test_layout_check_reports_a_broken_plugin(tmp_path: Path) -> None:
    dest = tmp_path / "agent-sdk-broken"
    render.render(dest, "broken")
    (dest / "src" / "agent_sdk_broken" / "py.typed").unlink()
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace('"agent-sdk>=0.1,<1"', '"agent-sdk"')
    text = text.replace('broken = "agent_sdk_broken.hooks"', 'other = "agent_sdk_broken.plugin"')
    pyproject.write_text(text)
    hooks = dest / "src" / "agent_sdk_broken" / "hooks.py"
    hooks.write_text("import requests\n" + hooks.read_text())

    problems = "\n".join(layout_problems(dest))

    assert "py.typed: missing" in problems
    assert "needs a lower and an upper bound" in problems
    assert "expected exactly {'broken': 'agent_sdk_broken.hooks'}" in problems
    assert "imports 'requests' when the entry point loads" in problems


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite", ("sqlite", "sqlite")),
        ("my-thing", ("my-thing", "my_thing")),
        ("agent-sdk-x2", ("x2", "x2")),
    ],
)
def test_plugin_names_map_to_import_names(given: str, expected: tuple[str, str]) -> None:
    assert render.normalize(given) == expected


@pytest.mark.parametrize("bad", ["", "My", "my_thing", "-x", "x-", "a--b", "1x", "disabled"])
def test_invalid_plugin_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="plugin name"):
        render.normalize(bad)


def _tox_plugin_lists() -> dict[str, set[str]]:
    """The ``agent-sdk-{...}`` lists of tox.ini: in ``env_list`` and in the section name."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini", encoding="utf-8")
    found: dict[str, set[str]] = {}
    for where, text in [("[tox] env_list", parser.get("tox", "env_list", fallback=""))] + [
        (f"[{section}]", section) for section in parser.sections()
    ]:
        for match in render.TOX_PLUGIN_LIST_RE.finditer(text):
            found[where] = {n.strip() for n in match.group(1).split(",") if n.strip()}
    return found


def test_every_plugin_has_its_own_tox_environment() -> None:
    lists = _tox_plugin_lists()
    assert "[tox] env_list" in lists, "tox.ini env_list has no agent-sdk-{...} entry"
    assert any(k.startswith("[testenv:") for k in lists), "tox.ini has no [testenv:agent-sdk-{...}]"
    names = {p.name.removeprefix(DIST_PREFIX) for p in PLUGIN_DIRS}
    for where, listed in lists.items():
        assert listed == names, (
            f"tox.ini {where} lists plugins {sorted(listed)} but plugins/ holds {sorted(names)}; "
            "list each plugin directory (python plugins/_template/render.py adds new ones)"
        )


def test_register_in_tox_adds_a_plugin_to_every_list(tmp_path: Path) -> None:
    tox_ini = tmp_path / "tox.ini"
    tox_ini.write_text(
        "[tox]\nenv_list = lint, agent-sdk-{sqlite}, py311\n[testenv:agent-sdk-{sqlite}]\n"
    )

    assert render.register_in_tox(tox_ini, "my-thing")
    assert not render.register_in_tox(tox_ini, "my-thing")
    assert tox_ini.read_text().count("agent-sdk-{my-thing,sqlite}") == 2

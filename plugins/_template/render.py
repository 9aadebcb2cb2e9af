"""Create a new plugin from this template: ``nox -s new_plugin -- NAME``.

Also runnable directly (no nox needed)::

    python plugins/_template/render.py my-thing

Copies ``plugins/_template/`` to ``plugins/agent-sdk-<name>/`` and replaces the placeholder
``NAME``: in file contents, ``agent_sdk_NAME`` becomes the import name (dashes turned into
underscores, e.g. ``agent_sdk_my_thing``) and every other ``NAME`` the plugin name as given
(``my-thing``: the distribution suffix, entry-point name and ``[plugins.<name>]`` key); in
paths, ``NAME`` becomes the import form. It then adds the plugin to the per-plugin test
environments in ``tox.ini`` (``agent-sdk-{...}``). ``noxfile.py`` finds plugins by globbing.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

PLACEHOLDER = "NAME"
TEMPLATE_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEMPLATE_DIR.parent.parent
DIST_PREFIX = "agent-sdk-"
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED = frozenset({"disabled"})  # a key of the [plugins] table itself
NOT_COPIED = frozenset({"conftest.py", "render.py", "__pycache__"})
TOX_PLUGIN_LIST_RE = re.compile(r"agent-sdk-\{([^}]*)\}")


def normalize(name: str) -> tuple[str, str]:
    """Return ``(plugin name, import name)`` for *name* (``agent-sdk-`` prefix optional).

    Raises:
        ValueError: the name is not lower-case ``[a-z0-9]`` words joined by single dashes,
            or is reserved.
    """
    plugin = name.strip().removeprefix(DIST_PREFIX)
    if not NAME_RE.match(plugin) or len(plugin) > 50:
        raise ValueError(
            f"plugin name {plugin!r} must be lower-case letters and digits, words joined by "
            "single dashes, starting with a letter (e.g. 'sqlite' or 'my-thing')"
        )
    if plugin in RESERVED:
        raise ValueError(f"plugin name {plugin!r} is reserved")
    return plugin, plugin.replace("-", "_")


def render_text(text: str, plugin: str, module: str) -> str:
    """Replace the placeholder in file contents."""
    return text.replace(f"agent_sdk_{PLACEHOLDER}", f"agent_sdk_{module}").replace(
        PLACEHOLDER, plugin
    )


def render(dest: Path, name: str, template: Path = TEMPLATE_DIR) -> list[Path]:
    """Render the template into *dest* (which must not exist); return the files written."""
    plugin, module = normalize(name)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists")
    written = []
    for source in sorted(template.rglob("*")):
        rel = source.relative_to(template)
        if source.is_dir() or NOT_COPIED.intersection(rel.parts) or source.suffix == ".pyc":
            continue
        target = dest / Path(*(part.replace(PLACEHOLDER, module) for part in rel.parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            shutil.copyfile(source, target)
        else:
            target.write_text(render_text(text, plugin, module), encoding="utf-8")
        written.append(target)
    return written


def register_in_tox(tox_ini: Path, name: str) -> bool:
    """Add *name* to every ``agent-sdk-{a,b}`` list in *tox_ini*; ``True`` if it changed."""
    plugin, _ = normalize(name)
    text = tox_ini.read_text(encoding="utf-8")

    def add(match: re.Match[str]) -> str:
        names = {n.strip() for n in match.group(1).split(",") if n.strip()} | {plugin}
        return "agent-sdk-{" + ",".join(sorted(names)) + "}"

    new = TOX_PLUGIN_LIST_RE.sub(add, text)
    if new != text:
        tox_ini.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="plugin name, e.g. 'my-thing' (makes agent-sdk-my-thing)")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    args = parser.parse_args(argv)
    try:
        plugin, module = normalize(args.name)
        dest = args.root / "plugins" / f"{DIST_PREFIX}{plugin}"
        files = render(dest, plugin)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tox_ini = args.root / "tox.ini"
    if tox_ini.is_file() and register_in_tox(tox_ini, plugin):
        print(f"added {plugin} to the per-plugin environments in {tox_ini}")
    print(f"created {dest} ({len(files)} files): package agent_sdk_{module}, entry point {plugin}")
    print(f"next: python -m pip install -e {dest} && tox -e {DIST_PREFIX}{plugin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

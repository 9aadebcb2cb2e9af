"""Static checks for a Python code base, run inside the agent-sdk sandbox by the code-audit example.

Standard library only (it runs under the sandbox's bare interpreter). Three modes, each printing
one JSON document (``report`` prints Markdown):

* ``audit.py inventory ROOT [--batches N]``: modules, sizes, functions, and N batches of
  modules balanced by size (the parallel branches of the workflow);
* ``audit.py check ROOT --batch I --of N``: the findings for batch I;
* ``audit.py report`` (JSON on stdin: inventory, checks, reviews, run): the Markdown report.

Rules (id, severity): ``complexity`` (cyclomatic complexity > 10 medium, > 20 high),
``long-function`` (> 60 lines medium, > 120 high), ``bare-except`` (high), ``swallowed-exception``
(``except Exception: pass``, medium), ``eval-exec`` (high), ``shell-true`` (``subprocess`` call
with ``shell=True`` or ``os.system``, high), ``unbounded-cache`` (``functools.cache`` or
``lru_cache(maxsize=None)``, medium), ``unbounded-collection`` (a module-level list/dict/set that
functions add to but nothing ever removes from, medium), ``missing-docstring`` (public module,
class or function without one, low).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

SEVERITIES = ("high", "medium", "low")
BRANCHES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.With,
    ast.AsyncWith,
    ast.IfExp,
    ast.comprehension,
    ast.Assert,
    ast.Match,
)
ADDERS = {"append", "add", "extend", "update", "insert", "setdefault", "appendleft"}
REMOVERS = {"pop", "popitem", "remove", "discard", "clear", "popleft"}
MAX_FILE_BYTES = 2_000_000


def modules(root: Path) -> list[Path]:
    """Python files under *root* (no symlinks followed, tests and hidden dirs skipped), sorted."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(p.startswith(".") or p in {"__pycache__"} for p in rel.parts):
            continue
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            continue
        found.append(path)
    return found


def parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (SyntaxError, ValueError):
        return None


def complexity(node: ast.AST) -> int:
    """McCabe-style cyclomatic complexity: 1 + branches + boolean operators."""
    score = 1
    for child in ast.walk(node):
        if isinstance(child, BRANCHES):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
    return score


def functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def inventory(root: Path, batches: int) -> dict[str, Any]:
    """Modules with sizes and functions, plus *batches* groups balanced by bytes."""
    items = []
    for path in modules(root):
        tree = parse(path)
        text = path.read_bytes()
        funcs = []
        if tree is not None:
            for fn in functions(tree):
                length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
                funcs.append(
                    {
                        "name": fn.name,
                        "line": fn.lineno,
                        "lines": length,
                        "complexity": complexity(fn),
                    }
                )
        items.append(
            {
                "path": str(path.relative_to(root)),
                "bytes": len(text),
                "lines": text.count(b"\n") + 1,
                "functions": funcs,
                "parsed": tree is not None,
            }
        )
    groups: list[list[str]] = [[] for _ in range(max(batches, 1))]
    sizes = [0] * len(groups)
    for item in sorted(items, key=lambda m: -m["bytes"]):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(item["path"])
        sizes[smallest] += item["bytes"]
    return {
        "root": str(root),
        "modules": items,
        "totals": {
            "modules": len(items),
            "lines": sum(m["lines"] for m in items),
            "functions": sum(len(m["functions"]) for m in items),
        },
        "batches": [sorted(g) for g in groups],
    }


def _call_name(node: ast.Call) -> str:
    func = node.func
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def check_module(rel: str, tree: ast.Module) -> list[dict[str, Any]]:
    """Every finding in one parsed module."""
    found: list[dict[str, Any]] = []

    def add(line: int, rule: str, severity: str, message: str) -> None:
        found.append(
            {"module": rel, "line": line, "rule": rule, "severity": severity, "message": message}
        )

    public_module = not Path(rel).name.startswith("_") or Path(rel).name == "__init__.py"
    if public_module and ast.get_docstring(tree) is None and tree.body:
        add(1, "missing-docstring", "low", "module has no docstring")
    for node in ast.walk(tree):
        is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        if is_def and not node.name.startswith("_") and ast.get_docstring(node) is None:
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            add(
                node.lineno,
                "missing-docstring",
                "low",
                f"public {kind} {node.name}() has no docstring",
            )
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            score = complexity(node)
            if score > 10:
                add(
                    node.lineno,
                    "complexity",
                    "high" if score > 20 else "medium",
                    f"{node.name}() has cyclomatic complexity {score}",
                )
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > 60:
                add(
                    node.lineno,
                    "long-function",
                    "high" if length > 120 else "medium",
                    f"{node.name}() is {length} lines long",
                )
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                name = ast.unparse(target)
                unbounded = name.endswith("cache") and not name.endswith("lru_cache")
                if isinstance(deco, ast.Call) and name.endswith("lru_cache"):
                    for kw in deco.keywords:
                        if (
                            kw.arg == "maxsize"
                            and isinstance(kw.value, ast.Constant)
                            and kw.value.value is None
                        ):
                            unbounded = True
                if unbounded:
                    add(
                        node.lineno,
                        "unbounded-cache",
                        "medium",
                        f"{node.name}() is cached without a size bound ({name})",
                    )
        if isinstance(node, ast.ExceptHandler):
            if node.type is None:
                add(
                    node.lineno,
                    "bare-except",
                    "high",
                    "bare `except:` also catches KeyboardInterrupt and SystemExit",
                )
            elif (
                isinstance(node.type, ast.Name)
                and node.type.id in {"Exception", "BaseException"}
                and len(node.body) == 1
                and isinstance(node.body[0], ast.Pass)
            ):
                add(
                    node.lineno,
                    "swallowed-exception",
                    "medium",
                    f"`except {node.type.id}: pass` hides every error",
                )
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if name in {"eval", "exec"}:
                add(node.lineno, "eval-exec", "high", f"{name}() runs arbitrary code")
            elif name == "os.system":
                add(node.lineno, "shell-true", "high", "os.system() runs a shell command")
            elif name.startswith("subprocess.") and any(
                kw.arg == "shell" and isinstance(kw.value, ast.Constant) and kw.value.value is True
                for kw in node.keywords
            ):
                add(node.lineno, "shell-true", "high", f"{name}(..., shell=True) invokes a shell")
    found.extend(unbounded_collections(rel, tree))
    return found


def unbounded_collections(rel: str, tree: ast.Module) -> list[dict[str, Any]]:
    """Module-level list/dict/set that functions add to and nothing removes from."""
    candidates: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            is_collection = isinstance(value, ast.List | ast.Dict | ast.Set) or (
                isinstance(value, ast.Call)
                and _call_name(value)
                in {"list", "dict", "set", "defaultdict", "collections.defaultdict", "OrderedDict"}
            )
            for target in targets:
                if is_collection and isinstance(target, ast.Name):
                    candidates[target.id] = stmt.lineno
    added: set[str] = set()
    removed: set[str] = set()
    for fn in functions(tree):
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
            ):
                owner, method = node.func.value.id, node.func.attr
                if owner in candidates:
                    if method in ADDERS:
                        added.add(owner)
                    elif method in REMOVERS:
                        removed.add(owner)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in candidates
                    ):
                        added.add(target.value.id)
            elif isinstance(node, ast.Delete):
                for target in node.targets:
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        removed.add(target.value.id)
    return [
        {
            "module": rel,
            "line": candidates[name],
            "rule": "unbounded-collection",
            "severity": "medium",
            "message": f"module-level {name} grows in functions and is never trimmed",
        }
        for name in sorted(added - removed)
    ]


def check(root: Path, batch: int, of: int) -> dict[str, Any]:
    """Findings for batch *batch* of *of* (same batching as ``inventory``)."""
    plan = inventory(root, of)["batches"]
    if not 0 <= batch < len(plan):
        raise SystemExit(f"--batch must be in 0..{len(plan) - 1}")
    findings: list[dict[str, Any]] = []
    unparsed = []
    for rel in plan[batch]:
        tree = parse(root / rel)
        if tree is None:
            unparsed.append(rel)
            continue
        findings.extend(check_module(rel, tree))
    counts = Counter(f["severity"] for f in findings)
    return {
        "digest": digest(plan[batch], findings),
        "batch": batch,
        "modules": plan[batch],
        "unparsed": unparsed,
        "findings": findings,
        "counts": {s: counts.get(s, 0) for s in SEVERITIES},
    }


def digest(batch: list[str], findings: list[dict[str, Any]], limit: int = 12) -> str:
    """A few lines a small model can read: the batch's modules and its worst findings."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    worst = sorted(findings, key=lambda f: (rank[f["severity"]], f["module"], f["line"]))[:limit]
    lines = [f"Modules: {', '.join(batch) or 'none'}.", f"{len(findings)} findings."]
    lines += [f"- {f['severity']}: {f['module']}:{f['line']} {f['message']}" for f in worst]
    return "\n".join(lines)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def report(data: dict[str, Any]) -> str:
    """The Markdown report: summary, severity counts, findings per module, model notes, run."""
    inv = data.get("inventory") or {}
    checks = data.get("checks") or []
    reviews = data.get("reviews") or {}
    run = data.get("run") or {}
    findings = [f for c in checks for f in c.get("findings", [])]
    counts = Counter(f["severity"] for f in findings)
    lines = [f"# Code audit: {inv.get('root', '?')}", ""]
    totals = inv.get("totals", {})
    lines += [
        f"{totals.get('modules', 0)} modules, {totals.get('lines', 0)} lines, "
        f"{totals.get('functions', 0)} functions; {len(findings)} findings.",
        "",
    ]
    lines += ["## Severity counts", "", "| severity | findings |", "|---|---|"]
    lines += [f"| {s} | {counts.get(s, 0)} |" for s in SEVERITIES]
    lines += [
        "",
        "## Findings per module",
        "",
        "| module | high | medium | low | rules |",
        "|---|---|---|---|---|",
    ]
    per_module: dict[str, Counter[str]] = {}
    rules: dict[str, Counter[str]] = {}
    for f in findings:
        per_module.setdefault(f["module"], Counter())[f["severity"]] += 1
        rules.setdefault(f["module"], Counter())[f["rule"]] += 1
    for module in sorted(
        per_module, key=lambda m: (-per_module[m]["high"], -per_module[m]["medium"], m)
    ):
        c = per_module[module]
        top = ", ".join(f"{r} ({n})" for r, n in rules[module].most_common(3))
        lines.append(
            f"| {_cell(module)} | {c['high']} | {c['medium']} | {c['low']} | {_cell(top)} |"
        )
    worst = [f for f in findings if f["severity"] == "high"][:20]
    if worst:
        lines += ["", "## High-severity findings", ""]
        lines += [f"- `{f['module']}:{f['line']}` {f['rule']}: {f['message']}" for f in worst]
    lines += ["", "## Model review notes", ""]
    if reviews:
        for area, notes in sorted(reviews.items()):
            text = notes if isinstance(notes, str) else json.dumps(notes)
            lines += [f"### {area}", "", text.strip() or "(no notes)", ""]
    else:
        lines += ["(no model review)", ""]
    usage = run.get("usage") or {}
    lines += [
        "## Run",
        "",
        f"- run id: `{run.get('id', '?')}` (workflow {run.get('workflow', '?')})",
        f"- tokens: {usage.get('input_tokens', 0)} in / {usage.get('output_tokens', 0)} out",
        f"- tool calls: {run.get('tool_calls', 0)}",
        "",
        "| task | status | attempt | duration (s) |",
        "|---|---|---|---|",
    ]
    for task_id, info in sorted((run.get("tasks") or {}).items()):
        status, attempt, duration = info.get("status"), info.get("attempt"), info.get("duration_s")
        shown = f"{duration:.2f}" if isinstance(duration, int | float) else "-"
        lines.append(f"| {task_id} | {status} | {attempt} | {shown} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    inv = sub.add_parser("inventory")
    inv.add_argument("root", type=Path)
    inv.add_argument("--batches", type=int, default=4)
    chk = sub.add_parser("check")
    chk.add_argument("root", type=Path)
    chk.add_argument("--batch", type=int, required=True)
    chk.add_argument("--of", type=int, required=True)
    sub.add_parser("report")
    args = parser.parse_args(argv)
    if args.mode == "inventory":
        print(json.dumps(inventory(args.root, args.batches)))
    elif args.mode == "check":
        print(json.dumps(check(args.root, args.batch, args.of)))
    else:
        sys.stdout.write(report(json.load(sys.stdin)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

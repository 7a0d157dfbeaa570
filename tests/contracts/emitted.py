"""The socket event names the server's code can emit, read from its source.

Server events are plain names passed to ``session.emit``, ``emit_to_room(_sync)``,
``emit_many_to_room``,
``emit_to_user(_sync)`` or declared as ``events.on(..., error_event=...)``; this
module finds every such call and resolves its name: a literal, a module constant
(also through ``from x import NAME`` or ``module.NAME``), or a parameter of the
enclosing function, resolved at that function's call sites in the same module.
Whatever it cannot resolve is reported, so a new way of emitting is noticed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# callable name -> index of the event argument
EMITTERS = {"emit": 0, "emit_to_room": 1, "emit_to_room_sync": 1, "emit_many_to_room": 1,
            "emit_to_user": 1, "emit_to_user_sync": 1}  # fmt: skip
NOT_APPS = {"tests", "bench", "examples", "docs", "deploy", "bin", "var"}


@dataclass
class Found:
    names: dict[str, set[str]] = field(default_factory=dict)  # event -> where
    unresolved: list[str] = field(default_factory=list)


def emitted_events(root: Path) -> Found:
    modules = _modules(root)
    found = Found()
    for name, path in modules.items():
        _Scanner(name, path, modules, found).scan()
    return found


def _modules(root: Path) -> dict[str, Path]:
    modules = {}
    for package in sorted(root.iterdir()):
        if package.name in NOT_APPS or not (package / "__init__.py").is_file():
            continue
        for path in package.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(p for p in parts if p != "__init__")] = path
    return modules


class _Module:
    def __init__(self, name: str, path: Path) -> None:
        self.name, self.path = name, path
        self.tree = ast.parse(path.read_text(), str(path))
        self.constants: dict[str, str] = {}
        self.imports: dict[str, tuple[str, str | None]] = {}  # alias -> (module, name)
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
                if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
                    if isinstance(value.value, str):
                        self.constants[target.id] = value.value
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (alias.name, None)


class _Scanner(ast.NodeVisitor):
    def __init__(self, name: str, path: Path, paths: dict[str, Path], found: Found) -> None:
        self.paths, self.found = paths, found
        self.cache: dict[str, _Module] = {}
        self.module = self.load(name)
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def load(self, name: str) -> _Module | None:
        if name not in self.cache and name in self.paths:
            self.cache[name] = _Module(name, self.paths[name])
        return self.cache.get(name)

    def scan(self) -> None:
        self.visit(self.module.tree)

    def visit_FunctionDef(self, node) -> None:  # noqa: N802 (ast's naming)
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        func = node.func
        callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if callee in EMITTERS:
            self.emitted(node, EMITTERS[callee], "event")
        elif callee == "on":
            for keyword in node.keywords:
                if keyword.arg == "error_event":
                    self.record(keyword.value, node)
        self.generic_visit(node)

    def emitted(self, call: ast.Call, index: int, keyword: str) -> None:
        argument = _argument(call, index, keyword)
        if argument is not None:
            self.record(argument, call)

    def record(self, expr: ast.expr, at: ast.AST) -> None:
        where = f"{self.module.name}:{at.lineno}"
        names = self.resolve(expr)
        if names is None:
            self.found.unresolved.append(f"{where} {ast.unparse(expr)}")
        for name in names or ():
            self.found.names.setdefault(name, set()).add(where)

    def resolve(self, expr: ast.expr) -> set[str] | None:
        if isinstance(expr, ast.Constant):
            return set() if expr.value is None else {expr.value}
        if isinstance(expr, ast.Name):
            for function in reversed(self.functions):  # closures see their outer parameters
                if expr.id in _parameters(function):
                    return self.resolve_parameter(function, expr.id)
            value = self.constant(self.module, expr.id)
            return None if value is None else {value}
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            module, name = self.module.imports.get(expr.value.id, (None, None))
            target = self.load(f"{module}.{name}" if name else module) if module else None
            value = target.constants.get(expr.attr) if target else None
            return None if value is None else {value}
        return None

    def constant(self, module: _Module, name: str) -> str | None:
        if name in module.constants:
            return module.constants[name]
        source, original = module.imports.get(name, (None, None))
        target = self.load(source) if source else None
        return target.constants.get(original) if target and original else None

    def resolve_parameter(self, function, parameter: str) -> set[str] | None:
        """The values the module's own calls of ``function`` pass for ``parameter``."""
        index = _parameters(function).index(parameter)
        names: set[str] = set()
        outer = self.functions
        self.functions = []  # call sites' arguments are resolved in their own scope
        try:
            for call in ast.walk(self.module.tree):
                if isinstance(call, ast.Call) and getattr(call.func, "id", None) == function.name:
                    argument = _argument(call, index, parameter)
                    resolved = set() if argument is None else self.resolve(argument)
                    if resolved is None:
                        return None
                    names |= resolved
        finally:
            self.functions = outer
        return names


def _parameters(function) -> list[str]:
    return [
        a.arg for a in function.args.posonlyargs + function.args.args + function.args.kwonlyargs
    ]


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    for item in call.keywords:
        if item.arg == keyword:
            return item.value
    if index < len(call.args) and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return None

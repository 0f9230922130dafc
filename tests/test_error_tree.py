"""Every error lamina raises is a `lamina.errors.LaminaError` subclass.

The test reads every module of `src/lamina` with `ast` and resolves each `raise X(...)`,
`raise X` and `raise name` (a local bound to `factory(...)`) to the classes it can raise: a
class directly, or through the `return` statements of a factory function (for a method
called on a local object, `obj.make_error(...)`, every lamina method of that name). A bare
`raise` re-raises the error being handled and is not checked.
"""
import ast
import builtins
import functools
import importlib
import inspect
import pathlib
import textwrap

import lamina
from lamina import errors
from lamina.errors import LaminaError

SRC = pathlib.Path(lamina.__file__).parent


class Unresolved(Exception):
    """The raised expression is not one this test can follow to a class."""


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield path, ".".join(parts)


@functools.cache
def _methods():
    """name -> the functions defined under that name in lamina's classes."""
    found = {}
    for _, module_name in _modules():
        module = importlib.import_module(module_name)
        for cls in vars(module).values():
            if inspect.isclass(cls) and cls.__module__ == module_name:
                for name, member in vars(cls).items():
                    if inspect.isfunction(member):
                        found.setdefault(name, []).append(member)
    return found


def _lookup(expr, namespace):
    """The object a dotted name (`Error`, `errors.Error`) names in `namespace`, or None."""
    if isinstance(expr, ast.Name):
        if expr.id in namespace:
            return namespace[expr.id]
        return getattr(builtins, expr.id, None)
    if isinstance(expr, ast.Attribute):
        owner = _lookup(expr.value, namespace)
        return getattr(owner, expr.attr, None) if owner is not None else None
    return None


def _assigned(name, function):
    """The values assigned to the local `name` inside `function` (an ast node)."""
    if function is None:
        return []
    return [node.value for node in ast.walk(function) if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)]


def _factory_classes(function, seen):
    """The classes a factory function's `return` statements build (None returns skipped)."""
    if function in seen:
        return []
    seen.add(function)
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    namespace = vars(inspect.getmodule(function))
    classes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            classes += _raised_classes(node.value, namespace, tree.body[0], seen)
    if not classes:
        raise Unresolved(f"factory {function.__qualname__} returns no exception")
    return classes


def _is_none(expr):
    return isinstance(expr, ast.Constant) and expr.value is None


def _raised_classes(expr, namespace, function, seen):
    """The exception classes `raise expr` can raise."""
    if isinstance(expr, ast.IfExp):  # `Error(...) if ... else None` in a factory
        return [cls for branch in (expr.body, expr.orelse) if not _is_none(branch)
                for cls in _raised_classes(branch, namespace, function, seen)]
    target = expr.func if isinstance(expr, ast.Call) else expr
    obj = _lookup(target, namespace)
    if inspect.isclass(obj):
        return [obj]
    if inspect.isfunction(obj) and isinstance(expr, ast.Call):
        return _factory_classes(obj, seen)
    if obj is None and isinstance(target, ast.Attribute) and isinstance(expr, ast.Call):
        methods = _methods().get(target.attr)
        if methods:
            return [cls for method in methods for cls in _factory_classes(method, seen)]
    if obj is None and isinstance(target, ast.Name) and not isinstance(expr, ast.Call):
        values = _assigned(target.id, function)
        if values:
            return [cls for value in values
                    for cls in _raised_classes(value, namespace, function, seen)]
    raise Unresolved(f"cannot resolve `{ast.unparse(expr)}`")


def _raises(tree):
    """(raise node, enclosing function node or None) for every `raise` with an exception."""
    def walk(node, function):
        for child in ast.iter_child_nodes(node):
            is_function = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            inner = child if is_function else function
            if isinstance(child, ast.Raise) and child.exc is not None:
                yield child, function
            yield from walk(child, inner)

    yield from walk(tree, None)


def offenders():
    """'file:line: what' for every raise that is not a LaminaError subclass."""
    found = []
    for path, module_name in _modules():
        namespace = vars(importlib.import_module(module_name))
        where = path.relative_to(SRC.parent.parent)
        for node, function in _raises(ast.parse(path.read_text(), str(path))):
            try:
                classes = _raised_classes(node.exc, namespace, function, set())
            except Unresolved as err:
                found.append(f"{where}:{node.lineno}: {err}")
                continue
            for cls in classes:
                if not (issubclass(cls, BaseException) and issubclass(cls, LaminaError)):
                    found.append(f"{where}:{node.lineno}: raises {cls.__module__}."
                                 f"{cls.__qualname__}, not a LaminaError subclass")
    return found


def test_every_raise_is_a_lamina_error():
    found = offenders()
    assert not found, (
        f"{len(found)} raise statement(s) in src/lamina raise a class that is not a "
        "lamina.errors.LaminaError subclass. Raise a class of lamina.errors that keeps the "
        "builtin base callers catch (ConfigurationError is a ValueError, LayerNotFoundError "
        "a KeyError, ...):\n" + "\n".join(found))


def test_the_checker_sees_builtin_errors_factories_and_locals():
    source = textwrap.dedent("""
        def f(flag):
            if flag:
                raise ValueError("x")
            error = make()
            raise error
    """)
    namespace = {"make": lambda: KeyError("k"), "ValueError": ValueError}
    tree = ast.parse(source)
    classes = []
    for node, function in _raises(tree):
        try:
            classes += _raised_classes(node.exc, namespace, function, set())
        except Unresolved:
            classes.append(None)
    # the lambda factory has no `return` statement to follow: reported, not passed
    assert classes == [ValueError, None]


def test_converted_errors_keep_the_builtin_protocols():
    assert not hasattr(lamina.mixed_precision, "no_such_name")  # __getattr__: AttributeError
    assert not hasattr(lamina.saving, "no_such_name")
    inp = lamina.Input((2,))
    model = lamina.Model(inp, lamina.layers.Dense(1, name="head")(inp), name="net")
    try:
        model.explain().why("nope/kernel")
    except KeyError as err:  # a lookup protocol: still a KeyError, printed as written
        assert isinstance(err, errors.LayerNotFoundError)
        assert str(err).startswith("Model 'net' has no weight 'nope/kernel'")
    else:
        raise AssertionError("explain().why of an unknown weight did not raise")
    for cls, base in [(errors.ArgumentTypeError, TypeError),
                      (errors.AbstractMethodError, NotImplementedError),
                      (errors.UsageError, RuntimeError),
                      (errors.LayerCycleError, RecursionError),
                      (errors.NotARegularFileError, OSError),
                      (errors.UntrackedVariableError, RuntimeError)]:
        assert issubclass(cls, errors.LaminaError) and issubclass(cls, base), cls

"""Size budgets for `src/lamina`: lines per module and per function.

    python tools/size_report.py            # report; exit 1 if a budget is exceeded
    python tools/size_report.py --top 15   # also list the largest modules and functions

Lines are physical lines of the file or of the function's definition (decorators, docstring
and body included). Small modules with one concept each, and functions that fit on a screen,
keep the code readable; a change that outgrows a budget splits the module or the function.
"""
import argparse
import ast
import sys
from pathlib import Path

MODULE_BUDGET = 400
FUNCTION_BUDGET = 60
SRC = Path(__file__).resolve().parents[1] / "src" / "lamina"


def measure(root=SRC):
    """(modules, functions): lists of (lines, name) for every module and function under root."""
    modules, functions = [], []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(root.parent))
        modules.append((len(text.splitlines()), name))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                functions.append((node.end_lineno - first + 1,
                                  f"{name}:{node.lineno} {node.name}"))
    return modules, functions


def over_budget(modules, functions, module_budget=MODULE_BUDGET,
                function_budget=FUNCTION_BUDGET):
    """Lines describing every module and function over its budget."""
    return ([f"module {name}: {lines} lines (budget {module_budget})"
             for lines, name in modules if lines > module_budget]
            + [f"function {name}: {lines} lines (budget {function_budget})"
               for lines, name in functions if lines > function_budget])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=0, help="list the N largest of each")
    args = parser.parse_args(argv)
    modules, functions = measure()
    total = sum(lines for lines, _ in modules)
    print(f"src/lamina: {len(modules)} modules, {total} lines, {len(functions)} functions; "
          f"budgets {MODULE_BUDGET} lines a module, {FUNCTION_BUDGET} a function")
    for title, rows in (("modules", modules), ("functions", functions)):
        if args.top:
            print(f"largest {title}:")
            for lines, name in sorted(rows, reverse=True)[: args.top]:
                print(f"  {lines:5d}  {name}")
    failures = over_budget(modules, functions)
    for line in failures:
        print("over budget:", line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

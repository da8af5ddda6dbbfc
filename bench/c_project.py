"""A small C project for workload benchmarks: N modules, each including the usual libc
headers and doing a little work, linked into one program by a Makefile (`make -j2`).

    python bench/c_project.py DIR [--modules N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

HEADERS = ("stdio.h", "stdlib.h", "string.h", "math.h", "time.h", "errno.h", "unistd.h",
           "sys/types.h", "sys/stat.h", "fcntl.h")


def module(i: int) -> str:
    """One translation unit: a record type, a comparator and a function that sorts."""
    includes = "".join(f"#include <{h}>\n" for h in HEADERS)
    return f"""{includes}
struct item{i} {{ int id; double weight; char label[32]; }};

static int by_weight{i}(const void *a, const void *b)
{{
    const struct item{i} *x = a, *y = b;
    return (x->weight > y->weight) - (x->weight < y->weight);
}}

double module{i}(int n)
{{
    struct item{i} *items = calloc((size_t)n, sizeof *items);
    double total = 0;
    if (!items)
        return -1;
    for (int k = 0; k < n; k++) {{
        items[k].id = k;
        items[k].weight = sin(k * {i + 1}.0) * 1000.0;
        snprintf(items[k].label, sizeof items[k].label, "item-%d-%d", {i}, k);
    }}
    qsort(items, (size_t)n, sizeof *items, by_weight{i});
    for (int k = 0; k < n; k++)
        total += items[k].weight * (double)strlen(items[k].label);
    free(items);
    return total;
}}
"""


def write_project(root: Path, modules: int = 40) -> Path:
    """Write the sources and Makefile under `root`; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(modules):
        (root / f"module{i}.c").write_text(module(i))
    decls = "".join(f"double module{i}(int n);\n" for i in range(modules))
    calls = "".join(f"    total += module{i}(100);\n" for i in range(modules))
    (root / "main.c").write_text(
        f"#include <stdio.h>\n{decls}\nint main(void)\n{{\n    double total = 0;\n{calls}"
        f"    printf(\"%f\\n\", total);\n    return 0;\n}}\n")
    objs = " ".join(f"module{i}.o" for i in range(modules))
    (root / "Makefile").write_text(
        "CFLAGS = -O2 -g -Wall\n\n"
        f"program: main.o {objs}\n\t$(CC) -o $@ $^ -lm\n\n"
        "%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n"
        "clean:\n\trm -f *.o program\n")
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--modules", type=int, default=40)
    args = ap.parse_args()
    write_project(args.dir, args.modules)


if __name__ == "__main__":
    main()

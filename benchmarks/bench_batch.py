"""Benchmark: ``cvm batch`` against the plain way, and against the floor.

Three runs of the per-customer report on the same synthetic study of 40
customers (``tools.synthetic.write_random_study(n_customers=40,
n_elements=6, seed=0)``), one run each:

1. **plain**: a shell loop of the ``papermill`` CLI, one customer after the
   other (``papermill 06_customer_report.ipynb out/C.ipynb -p study S -p
   customer_id C -p interactive False``), notebooks only, no HTML;
2. **batch**: :func:`cvm_kit.runs.run_batch` with 2 workers (notebook and
   HTML per customer, ``force=True``), in a fresh Python process as
   ``cvm batch`` runs;
3. **floor**: the same runner, run the same way, on a notebook that only imports what the
   customer report imports (its parameters cell, then every module its
   cells import, found by running them in an in-process kernel; nothing
   computed or shown).

Targets: batch at least 2x faster than plain; batch per notebook within
1.3x of the floor per notebook.

Usage::

    python benchmarks/bench_batch.py [--customers 40] [--workers 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _study(base: Path, n: int) -> Path:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tools/ lives at the repository root
    try:
        from tools.synthetic import write_random_study
    except ImportError:  # pragma: no cover - tools/ is absent (an installed copy of the benchmarks)
        write_random_study = None
    out = base / "study"
    if write_random_study is not None:
        return Path(write_random_study(out, n_customers=n, n_elements=6, seed=0))
    import cvm_kit

    shutil.copytree(cvm_kit.example_path(), out)
    return out


def _report_imports(study: Path, customer: str) -> list[str]:
    """Every module the customer report imports, found by running its code in an IPython shell.

    The modules present in a bare shell are left out (the kernel has them
    before any cell runs); what remains is what the report's cells import,
    directly or not (cvm_kit, pandas, matplotlib, PIL ...).
    """
    import nbformat

    from cvm_kit.runs import CUSTOMER_NOTEBOOK, template_path

    nb = nbformat.read(template_path(CUSTOMER_NOTEBOOK), as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    cells.insert(1, f"study = {str(study)!r}\ncustomer_id = {customer!r}\ninteractive = False")
    code = ("import json, sys\nfrom ipykernel.inprocess.manager import InProcessKernelManager\n"
            "km = InProcessKernelManager(); km.start_kernel(); shell = km.kernel.shell\n"
            "before = set(sys.modules)\n"
            f"for src in {cells!r}:\n    assert shell.run_cell(src).success, src\n"
            "print('MODULES=' + json.dumps(sorted(m for m in set(sys.modules) - before)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"running the report's code failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("MODULES=")][-1]
    return json.loads(line[len("MODULES="):])


def _floor_notebook(path: Path, modules: list[str]) -> Path:
    """The report's parameters cell, then one cell importing every module the report imports."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from cvm_kit.runs import CUSTOMER_NOTEBOOK, template_path

    report = nbformat.read(template_path(CUSTOMER_NOTEBOOK), as_version=4)
    params = report.cells[0]
    src = ("%matplotlib inline\nimport importlib\n"
           f"for _name in {modules!r}:\n"
           "    try:\n        importlib.import_module(_name)\n"
           "    except Exception:  # a module that only imports inside its package\n        pass\n")
    nb = new_notebook(cells=[new_code_cell(params.source, metadata={"tags": ["parameters"]}),
                             new_code_cell(src)])
    nb.metadata = report.metadata
    nbformat.write(nb, path)
    return path


def _plain(study: Path, ids: list[str], out: Path) -> float:
    import nbformat

    from cvm_kit.runs import CUSTOMER_NOTEBOOK, load_template, template_path

    out.mkdir(parents=True, exist_ok=True)
    # papermill's CLI reads .ipynb: the text source converted once, as a papermill user would
    tpl = out / f"{CUSTOMER_NOTEBOOK}.ipynb"
    nbformat.write(load_template(template_path(CUSTOMER_NOTEBOOK)), tpl)
    ids_file = out / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    script = (f"while read -r c; do {shlex.quote(str(VENV_BIN / 'papermill'))} --no-progress-bar --log-level ERROR "
              f"{shlex.quote(str(tpl))} {shlex.quote(str(out))}/\"$c\".ipynb -p study {shlex.quote(str(study))} "
              f"-p customer_id \"$c\" -p interactive False || exit 1; done < {shlex.quote(str(ids_file))}")
    t0 = time.perf_counter()
    subprocess.run(["bash", "-c", script], check=True, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


_RUNNER = """import json, sys
from cvm_kit.runs import run_batch

if __name__ == "__main__":
    kw = json.loads(sys.argv[1])
    r = run_batch(**kw)
    print("RESULT=" + json.dumps({"failed": [x.name for x in r.failed], "summary": r.summary(),
                                  "worker_s": [x.seconds for x in r.runs]}))
"""


def _batch(runner: Path, **kw) -> tuple[float, dict]:
    """One ``run_batch`` in a fresh Python process (as ``cvm batch`` would run): wall time and outcome."""
    kw = {k: (str(v) if isinstance(v, Path) else v) for k, v in kw.items()}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, str(runner), json.dumps(kw)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT=")]
    if out.returncode or not lines:
        raise RuntimeError(f"run_batch failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return wall, json.loads(lines[-1][len("RESULT="):])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    args = ap.parse_args(argv)

    from cvm_kit.study import load_study

    base = Path(tempfile.mkdtemp(prefix="bench_batch."))
    try:
        study = _study(base, args.customers)
        ids = [str(c) for c in load_study(study).customers["customer_id"]][: args.customers]
        n = len(ids)
        modules = _report_imports(study, ids[0])
        floor_tpl = _floor_notebook(base / "floor.ipynb", modules)
        print(f"study {study} ({n} customers); the report imports {len(modules)} modules "
              f"({sum(m.startswith('cvm_kit') for m in modules)} of cvm_kit)", flush=True)

        plain = _plain(study, ids, base / "plain")
        print(f"plain papermill loop: {plain:.1f} s ({plain / n:.2f} s per notebook)", flush=True)

        runner = base / "runner.py"
        runner.write_text(_RUNNER)
        common = {"study": study, "customers": ids, "workers": args.workers, "force": True, "progress": False}
        t_batch, batch = _batch(runner, out_dir=base / "batch", **common)
        t_floor, floor = _batch(runner, out_dir=base / "floor", template=floor_tpl, **common)
        for name, r in (("batch", batch), ("floor", floor)):
            if r["failed"]:
                print(f"{name}: {r['summary']}", file=sys.stderr)
                return 1
        batch_worker, floor_worker = sum(batch["worker_s"]) / n, sum(floor["worker_s"]) / n
        print(f"cvm batch, {args.workers} workers: {t_batch:.1f} s ({t_batch / n:.2f} s per notebook, "
              f"{batch_worker:.2f} s per notebook in a worker)", flush=True)
        print(f"floor (imports only), same runner: {t_floor:.1f} s ({t_floor / n:.2f} s per notebook, "
              f"{floor_worker:.2f} s per notebook in a worker)", flush=True)

        figures = {
            "customers": n, "workers": args.workers, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()[0],
            "plain_s": plain, "batch_s": t_batch, "floor_s": t_floor,
            "speedup_vs_plain": plain / t_batch, "batch_vs_floor": t_batch / t_floor,
            "plain_per_nb_s": plain / n, "batch_per_nb_s": t_batch / n, "floor_per_nb_s": t_floor / n,
            "batch_worker_per_nb_s": batch_worker, "floor_worker_per_nb_s": floor_worker,
            "batch_vs_floor_in_worker": batch_worker / floor_worker,
        }
        print(f"speed-up over the plain way: {figures['speedup_vs_plain']:.2f}x (target >= 2x)")
        print(f"per notebook against the floor: {figures['batch_vs_floor']:.2f}x (target <= 1.3x; "
              f"{figures['batch_vs_floor_in_worker']:.2f}x of the time inside the workers)")
        print(f"(load average during the run: {figures['load_average']:.1f} on {os.cpu_count()} CPUs)")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1))
        return 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

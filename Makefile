# Two commands do all the set-up on a fresh machine (as root):
#   make demos   every demo of the seed's README, asserted, with its negative control
#   make test    the whole test suite, privileged tests and notebooks included
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup setup-engines demos test unit notebooks course bench soak clean
setup: $(VENV)/.installed

# the engines, the reference runtimes and Go: for the test suite only (`make demos` stays quick)
setup-engines: setup
	bash scripts/setup-system --engines

$(VENV)/.installed: pyproject.toml scripts/setup-system
	bash scripts/setup-system
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --config-settings editable_mode=compat -e '.[test]'
	$(PY) -m moby_dick.launcher  # pip's console scripts, replaced by -I -S launchers (moby_dick/launcher.py)
	$(PY) -m compileall -q -o 0 -o 2 moby_dick  # the launchers run -OO: their .opt-2.pyc files too
	touch $@

demos: setup
	$(PY) -m moby_dick.demos all

test: setup-engines
	$(PY) -m pytest --run-privileged -n auto

unit: setup
	$(PY) -m pytest -n auto

notebooks: setup-engines
	$(PY) -m pytest --run-privileged tests/notebooks

# the course as a static site in build/course/ (every notebook executed: run as root)
course: setup
	$(PY) -m moby_dick.course_site build/course

# 1,000 starts of five shapes, 4 at a time, half SIGKILLed at random moments; then zero leftovers
soak: setup-engines
	$(PY) -m moby_dick.testing.stress --runs 1000 --parallel 4

bench: setup
	bash scripts/setup-system runc crun bubblewrap busybox-static
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info build

# Vigil: `make run` starts the agent, `make test` runs the whole suite.
# Both set up what they need on a fresh Debian 12 machine (as root), idempotently.

VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
PYTHON  ?= python3
APT_PKGS := clang llvm libbpf-dev bpftool openssh-server python3.11-venv debootstrap systemd
BPF_DIR := src/vigil/sensors/ebpf

.PHONY: run test setup apt venv bpf bench deb deb-apt emulate emulate-apt clean

run: setup bpf
	$(VENV)/bin/vigil run $(ARGS)

# On this machine (and in CI) BPF and the shared data must be there: their skips fail.
VIGIL_REQUIRE ?= bpf,shared

test: setup bpf
	VIGIL_REQUIRE=$(VIGIL_REQUIRE) $(PY) -m pytest -q $(PYTEST_ARGS)

setup: apt venv

# Install the Debian packages that are missing (needs root; skipped when all are there).
apt:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip >/dev/null 2>&1 || true
	$(PIP) install -q -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# The CO-RE BPF object; rebuilt when the C source changes (see sensors/ebpf/Makefile).
bpf:
	@if [ -f $(BPF_DIR)/Makefile ]; then $(MAKE) -s -C $(BPF_DIR); fi

# The Debian package (docs/install.md): Vigil in its own venv under /opt/vigil, built
# with Debian's python3.11 from pinned PyPI wheels, archived with dpkg-deb into dist/.
DEB_APT_PKGS := python3.11-venv dpkg
DEB_OUT  ?= dist
DEB_WORK ?= build/deb
deb: bpf deb-apt
	/usr/bin/python3.11 packaging/build_deb.py --out $(DEB_OUT) --work $(DEB_WORK)

deb-apt:
	@$(MAKE) -s apt APT_PKGS="$(DEB_APT_PKGS)"

# The emulation suite (emulation/, docs/emulation.md): the agent with its default
# configuration against attack scenarios and benign look-alikes; writes docs/detection.md.
# EMULATE_ARGS="--only 'exec-*'" runs some scenarios, "--list" lists them.
emulate: setup bpf emulate-apt
	PYTHONPATH=emulation $(PY) -m emulate $(EMULATE_ARGS)

# command:package pairs the scenarios use; a package is installed only when its command is
# missing (node and npm may come from elsewhere than Debian)
EMUL_NEEDS := ar:binutils socat:socat nc:netcat-openbsd ncat:ncat nmap:nmap perl:perl at:at atd:at \
	sudo:sudo crontab:cron logrotate:logrotate insmod:kmod sshd:openssh-server \
	ssh:openssh-client ip:iproute2 curl:curl wget:wget gcc:gcc make:make git:git \
	node:nodejs npm:npm gdb:gdb setcap:libcap2-bin xxd:xxd zip:zip openssl:openssl \
	bpftool:bpftool clang:clang dpkg-deb:dpkg

emulate-apt:
	@missing=""; for pair in $(EMUL_NEEDS); do c=$${pair%%:*}; p=$${pair#*:}; \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$c >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; missing=$$(echo $$missing | tr ' ' '\n' | sort -u | tr '\n' ' '); \
	if [ -n "$${missing% }" ]; then \
	  echo "installing for the emulation suite: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

bench: setup bpf
	$(PY) bench/rules_engine.py

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info

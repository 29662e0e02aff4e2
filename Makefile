# The two commands: `make run` and `make test` (see README.md). Both install what they need on a
# fresh Debian 12 machine: system packages with apt (as root, or through sudo) and a virtualenv.

SHELL := /bin/bash
PYTHON ?= /usr/bin/python3
VENV := .venv
BIN := $(VENV)/bin
VAR := $(CURDIR)/var
export MADOGUCHI_CONFIG ?= $(VAR)/madoguchi.toml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# System packages: what the appliance runs on (IPAmj Mincho and Symbola print what IPAex Gothic lacks),
# and what the tests add (Debian's chromium for the browser tests, poppler-utils to read printed PDFs,
# npm for axe-core unless a node install has one).
APT_RUN := python3 python3-venv ca-certificates kamailio fonts-ipaexfont fonts-ipamj-mincho fonts-symbola
APT_TEST := $(APT_RUN) sip-tester chromium poppler-utils nginx-light $(shell command -v npm >/dev/null 2>&1 || echo npm)
AXE := tests/browser/node_modules/axe-core/axe.min.js

.PHONY: run test bench lint clean-demo install

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

$(BIN)/madoguchi: pyproject.toml constraints.txt
	$(call apt_install,$(APT_TEST))
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	@# Silero VAD's model file only: the package's torch dependency (5 GB) is never used.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt silero-vad
	touch $@

# Bare metal: the appliance's system packages and virtualenv, without the test tools (README: systemd).
install:
	$(call apt_install,$(APT_RUN))
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e .
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt silero-vad

# Initialise a demo city under ./var (once), then start every long-running process that exists.
run: $(BIN)/madoguchi
	$(call apt_install,$(APT_RUN))
	@mkdir -p $(VAR)
	@[ -f $(MADOGUCHI_CONFIG) ] || printf '%s\n' 'data_dir = "$(VAR)/data"' 'key_dir = "$(VAR)/keys"' \
	  'backup_dir = "$(VAR)/backups"' 'escalation_groups = "市民課マイナンバー担当=mynumber@demo-city.example.lg.jp"' \
	  'city_name = "デモ市"' 'smtp_host = "127.0.0.1"' 'smtp_port = 1025' 'smtp_security = "none"' \
	  'mail_from = "yoyaku@demo-city.example.lg.jp"' 'sms_gateway = "http-json"' \
	  'sms_url = "http://127.0.0.1:1026/sms"' > $(MADOGUCHI_CONFIG)
	@[ -f $(VAR)/data/madoguchi.db ] || $(BIN)/madoguchi init
	@$(BIN)/madoguchi db migrate
	@$(BIN)/madoguchi models setup
	@$(BIN)/madoguchi demo
	@$(BIN)/madoguchi check
	@mkdir -p $(VAR)/run
	@echo
	@echo "madoguchi demo city is running (Ctrl-C stops it). Configuration: $(MADOGUCHI_CONFIG)"
	@echo "  public booking site:  http://127.0.0.1:8080/"
	@echo "  staff admin site:     http://127.0.0.1:8081/  (login admin: the one-time password printed by"
	@echo "                        madoguchi init the first time; a new one: madoguchi user reset admin)"
	@echo "  citizens' mail/SMS:   kept by the demo's mail catcher: madoguchi mailcatcher list / show N"
	@echo "  demo phone lines:     sip:0586000001@127.0.0.1:5060 books by voice or keys (G.711);"
	@echo "                        sip:0586000009@127.0.0.1:5060 reads back what it heard"
	@echo "  key-press IVR lines:   sip:0725998128@, 0725998129@, 0725998169@ (和泉市-like 国保),"
	@echo "                        sip:0462000001@127.0.0.1:5060 (座間市-like, keys only; see README)"
	@echo "  administer it:        MADOGUCHI_CONFIG=$(MADOGUCHI_CONFIG) $(BIN)/madoguchi --help"
	@echo "  process logs:         $(VAR)/run/"
	APPLIANCE_RUN_DIR=$(VAR)/run APPLIANCE_BIN=$(CURDIR)/$(BIN) $(BIN)/supervisord -c docker/supervisord.demo.conf

$(AXE): tests/browser/package-lock.json
	$(call apt_install,$(APT_TEST))
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
	touch $@

test: $(BIN)/madoguchi $(AXE)
	$(call apt_install,$(APT_TEST))
	$(BIN)/pytest

bench: $(BIN)/madoguchi
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(BIN)/madoguchi
	$(BIN)/ruff check .

clean-demo:
	rm -rf $(VAR)

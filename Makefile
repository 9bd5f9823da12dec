# Passerelle — two commands: `make run` and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
PHOME   ?= var
DOMAIN  ?= ocam.test
APT_PKGS := gnupg swaks mutt tmux

.PHONY: run serve test system-deps clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Debian packages the hub and its tests call (gpg, swaks, the PostgreSQL server, RabbitMQ, mutt driven in tmux
# for the partner kit's test, and prometheus for promtool, which checks the metrics exposition); installed only
# when missing. Debian's packages do not start the servers: the tests start their own on loopback ports.
system-deps:
	@missing=""; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	command -v gpg-agent >/dev/null 2>&1 || missing="$$missing gpg-agent"; \
	command -v swaks >/dev/null 2>&1 || missing="$$missing swaks"; \
	command -v mutt >/dev/null 2>&1 || missing="$$missing mutt"; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/lib/rabbitmq/bin/rabbitmq-server || missing="$$missing rabbitmq-server"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The demo: a temporary hub, simulated partners over real SMTP, the dashboard in front (q quits).
run: $(VENV)/.installed system-deps
	$(VENV)/bin/passerelle demo

# A real hub on ./var (or PHOME), initialised on first use with its director (DIRECTOR, DIRECTOR_EMAIL and
# DIRECTOR_KEY, the director's public key file: the first member, under whose signature the others are registered).
serve: $(VENV)/.installed system-deps
	@test -f $(PHOME)/passerelle.toml || $(VENV)/bin/passerelle init --home $(PHOME) --domain $(DOMAIN) \
	  --director "$(DIRECTOR)" --director-email "$(DIRECTOR_EMAIL)" --director-key "$(DIRECTOR_KEY)"
	$(VENV)/bin/passerelle serve --home $(PHOME)

# The whole suite on the embedded default (SQLite, in-process transport), then the store and hub suites
# (intake, deadlines, evaluations, embargo, ...) again on PostgreSQL + RabbitMQ: servers the fixtures
# start on loopback ports. pytest exits 5 when no test ran: that fails too.
test: $(VENV)/.installed system-deps
	$(PY) -m pytest
	PASSERELLE_TEST_STORE=postgresql PASSERELLE_TEST_TRANSPORT=amqp $(PY) -m pytest tests/store tests/hub

clean:
	rm -rf $(VENV) .pytest_cache

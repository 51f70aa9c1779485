# Outreach: two commands for a newcomer.
#   make demo   install, migrate, seed the demo and run web + worker + beat + a local mail sink
#   make test   install and run the whole test suite (services it cannot find are skipped, and
#               listed; CI runs with CI=true, where a missing service fails instead)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install demo test lint check bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py rundemo --seed

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

check: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null
	OUTREACH_PROFILE=production SECRET_KEY=check-deploy-$$(date +%s)-0123456789abcdefghijklmnopqrstuvwxyz \
	  ALLOWED_HOSTS=outreach.example.org DATABASE_URL=postgres://u@127.0.0.1/outreach \
	  REDIS_URL=redis://127.0.0.1:6379/0 CELERY_BROKER_URL=redis://127.0.0.1:6379/1 \
	  OUTREACH_PSEUDONYM_KEYS=2026-01:$$($(PY) -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"),assignment:$$($(PY) -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())") \
	  OUTREACH_FIELD_ENCRYPTION_KEYS=k0001:$$($(PY) -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())") \
	  OUTREACH_BLIND_INDEX_KEYS=k0001:$$($(PY) -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())") \
	  $(PY) manage.py check --deploy --fail-level WARNING

bench: install
	@for script in bench/*.py; do case $$script in bench/_*) ;; *) echo "== $$script"; $(PY) $$script;; esac; done

clean:
	rm -rf var/broker var/cache var/static

# Two commands: `make run` (the embedded default, demo data) and `make test` (the whole suite).
# Both work on a fresh machine with only Python 3.11: they create .venv and install first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
export FLASK_APP := app
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install translations migrate demo lint clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# Compile the message catalogues (Indonesian and English) from the reviewed .po files.
translations: install
	$(BIN)/pybabel compile --statistics -d slrt/translations
	$(BIN)/pybabel compile --statistics -D admin -d admin_views/translations
	$(BIN)/pybabel compile --statistics -D wtforms -d admin_views/translations
	$(BIN)/pybabel compile --statistics -D flask_security -d slrt/translations

migrate: install translations
	$(BIN)/flask db upgrade

demo: migrate
	$(BIN)/flask slrt seed-demo --if-empty

run: demo
	@echo
	@echo "SLRT back office: http://127.0.0.1:$(PORT)/"
	@$(BIN)/flask slrt demo-logins
	@$(BIN)/flask slrt demo-sms
	@echo "(web app, Celery worker and beat are starting; Ctrl-C stops all three)"
	@echo
	$(BIN)/honcho start --no-colour --port $(PORT) -f Procfile

test: install translations
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache

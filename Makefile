# Dealerflow — `make run` sets up everything and runs the product; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench lint install translations vendor migrate seed worker clean

$(BIN)/activate: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(BIN)/activate

install: $(BIN)/activate translations vendor

# Front-end packages from npm (committed package-lock.json), copied into app/static/vendor.
SWAGGER_DIST := node_modules/swagger-ui-dist
BPMNJS_DIST := node_modules/bpmn-js/dist
VENDOR_STAMP := app/static/vendor/.npm-installed
vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p app/static/vendor/swagger-ui app/static/vendor/bpmn-js
	cp $(SWAGGER_DIST)/swagger-ui.css $(SWAGGER_DIST)/swagger-ui-bundle.js \
	   $(SWAGGER_DIST)/swagger-ui-standalone-preset.js app/static/vendor/swagger-ui/
	cp $(BPMNJS_DIST)/bpmn-modeler.production.min.js \
	   $(BPMNJS_DIST)/bpmn-navigated-viewer.production.min.js app/static/vendor/bpmn-js/
	cp -r $(BPMNJS_DIST)/assets/. app/static/vendor/bpmn-js/
	cp node_modules/camunda-bpmn-moddle/resources/camunda.json app/static/vendor/bpmn-js/
	touch $@

translations: $(BIN)/activate
	@if [ -d app/translations ]; then $(BIN)/pybabel compile -d app/translations; fi

migrate: install
	$(BIN)/flask db upgrade

run: migrate
	$(BIN)/flask processes deploy
	$(BIN)/flask demo seed
	@echo "Dealerflow on http://$(HOST):$(PORT)  (users: admin, applicant, mgr_east, finance, director … password: demo)"
	$(BIN)/flask erp-sim & ERPSIM=$$!; \
	DEALERFLOW_DEV=1 $(BIN)/flask worker & WORKER=$$!; \
	  trap 'kill $$WORKER $$ERPSIM 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/gunicorn --bind $(HOST):$(PORT) --workers 2 --access-logfile - wsgi:app

# SQLite always; PostgreSQL as well when DEALERFLOW_TEST_DATABASE_URL is set (CI sets it).
test: install
	DEALERFLOW_TEST_DATABASE_URL= $(BIN)/pytest tests
	@if [ -n "$$DEALERFLOW_TEST_DATABASE_URL" ]; then \
	  echo "== again on PostgreSQL =="; $(BIN)/pytest tests -m "not browser"; fi

bench: install
	$(BIN)/python bench/run_all.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) instance/*.db node_modules app/static/vendor

# The two commands of the README; both work without make too: python3 deploy/dev.py run|test
.PHONY: run test serve
run:
	python3 deploy/dev.py run

test:
	python3 deploy/dev.py test $(ARGS)

serve:
	python3 deploy/dev.py serve $(ARGS)

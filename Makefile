# The two commands of the README. Both run scripts/setup.sh first; it is
# idempotent and only installs or rebuilds what is missing or changed.
.PHONY: run test setup bench clean

# Runs a sandbox from the bundled image on the strongest backend available,
# saying which backend and isolation it used.
run: setup
	./build/bin/krunbox --verbose run -- uname -a

# The whole test suite (see scripts/test.sh); fails on any failure.
test: setup
	scripts/test.sh

setup:
	scripts/setup.sh

bench: setup
	scripts/bench.sh

clean:
	rm -rf build build-san

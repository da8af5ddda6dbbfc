#!/bin/bash
# vigil-emulation: benign
# technique: T1027.004 Obfuscated Files or Information: Compile After Delivery
# tactic: defense-evasion
# what: an ordinary C build: a three-file project with a Makefile is built with
#   `make -j2` (gcc, as, ld, many short processes writing objects and an executable),
#   its test binary runs, `make install DESTDIR=...` copies it with install -m 755, and
#   `make clean` deletes the objects.
# report: nothing: compilers writing and running their own outputs in a work tree.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need make gcc

emul_tmpdir
cd "$EMUL_DIR"
mkdir -p src
for n in 1 2 3; do
    printf 'int part%s(int x) { return x * %s; }\n' "$n" "$n" >"src/part$n.c"
done
cat >src/main.c <<'C'
#include <stdio.h>
int part1(int), part2(int), part3(int);
int main(void) { printf("%d\n", part1(1) + part2(2) + part3(3)); return 0; }
C
cat >Makefile <<'MK'
OBJS := src/main.o src/part1.o src/part2.o src/part3.o
app: $(OBJS)
	$(CC) -o $@ $(OBJS)
test: app
	./app | grep -q 14
install: app
	install -D -m 755 app $(DESTDIR)/usr/local/bin/app
clean:
	rm -f app $(OBJS)
MK
make -s -j2 app
make -s test
make -s install DESTDIR="$EMUL_DIR/stage"
make -s clean
echo built

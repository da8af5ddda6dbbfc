#!/bin/bash
# vigil-emulation: benign
# technique: T1105 Ingress Tool Transfer; T1059.004 Command and Scripting Interpreter: Unix Shell
# tactic: command-and-control, execution
# what: building software from a source release: curl downloads hello-1.0.tar.gz from a
#   local web server, tar extracts it, `sh ./configure --prefix=...` probes the compiler
#   and writes config.h, make builds, `make install` into a staging prefix, and the
#   installed program runs.
# report: nothing: a downloaded source tree built and installed by its own build scripts.
# expect: none
. "${EMUL_LIB:-$(dirname "$0")/../lib}/common.sh"
emul_need curl make gcc

emul_tmpdir
mkdir -p "$EMUL_DIR/www/hello-1.0" "$EMUL_DIR/build"
cd "$EMUL_DIR/www/hello-1.0"
cat >configure <<'SH'
#!/bin/sh
prefix=/usr/local
for a in "$@"; do case $a in --prefix=*) prefix=${a#--prefix=} ;; esac; done
printf 'checking for cc... '; command -v cc || exit 1
echo 'int main(void){return 0;}' >conftest.c && cc conftest.c -o conftest && ./conftest && rm -f conftest conftest.c
echo '#define GREETING "hello 1.0"' >config.h
printf 'PREFIX=%s\n' "$prefix" >config.mk
echo 'configure: done'
SH
printf '#include <stdio.h>\n#include "config.h"\nint main(void){puts(GREETING);return 0;}\n' >hello.c
printf 'include config.mk\nhello: hello.c config.h\n\tcc -o hello hello.c\ninstall: hello\n\tinstall -D -m 755 hello $(PREFIX)/bin/hello\n' >Makefile
cd ..
tar czf hello-1.0.tar.gz hello-1.0
emul_server http --dir "$EMUL_DIR/www"
cd "$EMUL_DIR/build"
curl -s -O "http://127.0.0.1:$EMUL_PORT/hello-1.0.tar.gz"
tar xzf hello-1.0.tar.gz
cd hello-1.0
sh ./configure --prefix="$EMUL_DIR/stage"
make -s
make -s install
"$EMUL_DIR/stage/bin/hello"

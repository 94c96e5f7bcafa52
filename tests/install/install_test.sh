#!/usr/bin/env bash
# Installs the build tree into a temporary prefix that is on no linker path,
# then builds a program for every component against it, both ways docs/install.md
# shows, and runs each with no LD_LIBRARY_PATH:
#   find_package(baton REQUIRED COMPONENTS <c>) + baton::<c>, with every
#     dependency that <c> does not need hidden from CMake;
#   cc prog.c $(pkg-config --cflags --libs baton-<c>), with no other .pc
#     visible unless <c> needs one.
# Then docs/install.md's own lines as written (my_service with baton::nng and
# baton::auto), the static twins through CMake, and what find_package says
# when a component cannot be used.
set -euo pipefail
build=${BATON_BUILD_DIR:?}
src=${BATON_SOURCE_DIR:?}
cc=${CC:-cc}
consumer=$src/tests/install/consumer
unset LD_LIBRARY_PATH
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/opt/baton
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(ls "$prefix"/lib*/libbaton.so)")
mkdir -p "$tmp/run" "$tmp/no-pc"
passed=0
fail() {
	echo "FAIL: $*"
	exit 1
}
run() { # run <program> <component>: prints "baton <version> <component> ok"
	(cd "$tmp/run" && "$1") >"$tmp/out" 2>&1 || fail "$1: $(cat "$tmp/out")"
	grep -q "^baton 0\.[0-9.]* $2 ok" "$tmp/out" || fail "$1 printed: $(cat "$tmp/out")"
}

# What a user of each shared library needs besides baton (the contract).
components=(sdk nng http console jaeger_json otlp_http remote_sampling auto)
declare -A needs=([nng]=nng [http]=CURL)
declare -A pc_needs=([http]=libcurl)

# Every installed component is tested here.
installed=$(cd "$libdir/cmake/baton" && ls baton-*-targets.cmake | sed 's/^baton-//; s/-targets.cmake$//; /_static$/d' | sort | tr '\n' ' ')
expected=$(printf '%s\n' "${components[@]}" | sort | tr '\n' ' ')
[ "$installed" = "$expected" ] || fail "installed components '$installed', tested '$expected'"

echo "== find_package(baton COMPONENTS <c>), baton::<c>"
for c in "${components[@]}"; do
	hide=()
	for dep in nng CURL ZLIB; do
		[ "${needs[$c]:-}" = "$dep" ] || hide+=("-DCMAKE_DISABLE_FIND_PACKAGE_$dep=ON")
	done
	PKG_CONFIG_LIBDIR=$tmp/no-pc PKG_CONFIG_PATH= \
		cmake -S "$consumer" -B "$tmp/cm-$c" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_C_COMPILER="$cc" -DBATON_COMPONENTS="$c" "${hide[@]}" \
		>"$tmp/log" 2>&1 || fail "configure $c: $(cat "$tmp/log")"
	cmake --build "$tmp/cm-$c" >"$tmp/log" 2>&1 || fail "build $c: $(cat "$tmp/log")"
	run "$tmp/cm-$c/consumer_$c" "$c"
	echo "   $c"
	passed=$((passed + 1))
done

echo "== cc prog.c \$(pkg-config --cflags --libs baton-<c>)"
sys_pc=$(pkg-config --variable pc_path pkg-config)
for c in "${components[@]}"; do
	pc=baton-${c//_/-}
	[ "$c" = sdk ] && pc=baton
	dirs=$libdir/pkgconfig
	[ -z "${pc_needs[$c]:-}" ] || dirs=$dirs:$sys_pc
	flags=$(PKG_CONFIG_LIBDIR=$dirs PKG_CONFIG_PATH= pkg-config --cflags --libs "$pc") ||
		fail "pkg-config $pc"
	# shellcheck disable=SC2086
	"$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_$c" "$consumer/$c.c" $flags ||
		fail "cc $c.c $flags"
	run "$tmp/pc_$c" "$c"
	echo "   $pc"
	passed=$((passed + 1))
done

echo "== docs/install.md's lines, as written: my_service with baton::nng and baton::auto"
PKG_CONFIG_LIBDIR=$tmp/no-pc PKG_CONFIG_PATH= \
	cmake -S "$consumer" -B "$tmp/cm-readme" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DBATON_README_SERVICE=ON \
	-DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON \
	>"$tmp/log" 2>&1 || fail "configure my_service: $(cat "$tmp/log")"
cmake --build "$tmp/cm-readme" >"$tmp/log" 2>&1 || fail "build my_service: $(cat "$tmp/log")"
run "$tmp/cm-readme/my_service" my_service
cp "$consumer/my_service.c" "$tmp/my_service.c"
(
	cd "$tmp"
	export PKG_CONFIG_PATH=$libdir/pkgconfig
	# shellcheck disable=SC2046
	"$cc" my_service.c $(pkg-config --cflags --libs baton-nng baton-auto)
) || fail "docs/install.md's pkg-config line"
run "$tmp/a.out" my_service
passed=$((passed + 2))

echo "== find_package(baton COMPONENTS <c>_static), baton::<c>_static"
statics=("${components[@]/%/_static}")
cmake -S "$consumer" -B "$tmp/cm-static" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DBATON_COMPONENTS="$(
		IFS=';'
		echo "${statics[*]}"
	)" >"$tmp/log" 2>&1 || fail "configure static: $(cat "$tmp/log")"
cmake --build "$tmp/cm-static" >"$tmp/log" 2>&1 || fail "build static: $(cat "$tmp/log")"
for c in "${statics[@]}"; do
	readelf -d "$tmp/cm-static/consumer_$c" | grep -q 'libbaton' &&
		fail "consumer_$c needs a shared baton library"
	run "$tmp/cm-static/consumer_$c" "${c%_static}"
	passed=$((passed + 1))
done

echo "== find_package says why a component cannot be used"
expect_refusal() { # expect_refusal <text> <cmake args...>
	local want=$1
	shift
	if cmake -S "$consumer" -B "$tmp/cm-refused" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_C_COMPILER="$cc" "$@" >"$tmp/log" 2>&1; then
		fail "configure with $* succeeded"
	fi
	# (CMake wraps the message: compare with the lines joined)
	tr -s ' \n' '  ' <"$tmp/log" | grep -q "$want" || fail "no '$want' in: $(cat "$tmp/log")"
	rm -rf "$tmp/cm-refused"
	passed=$((passed + 1))
}
expect_refusal "component nng cannot be used: it needs nng.*libnng-dev" \
	-DBATON_COMPONENTS=nng -DCMAKE_DISABLE_FIND_PACKAGE_nng=ON
expect_refusal "component auto_static cannot be used: it links baton::otlp_http_static" \
	-DBATON_COMPONENTS=auto_static -DCMAKE_DISABLE_FIND_PACKAGE_CURL=ON
expect_refusal "component grpc cannot be used: there is no such component" \
	-DBATON_COMPONENTS=grpc

echo "$passed passed, 0 failed: install consumers (find_package and pkg-config)"

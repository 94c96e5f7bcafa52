#!/usr/bin/env bash
# The public headers from C and C++:
# - each header compiles alone as C11 and as C++17 and C++20, with
#   -pedantic-errors -Wall -Wextra -Werror;
# - the initialiser macros are constant expressions in C11 (c_macros.c);
# - a C++ program (cxx_api.cpp) uses the API against an installed baton and
#   runs: spans, attributes, BATON_SPAN_NONE, BATON_KV_*, an exporter.
set -euo pipefail
src=${BATON_SOURCE_DIR:?}
build=${BATON_BUILD_DIR:?}
cc=${CC:-cc}
cxx=${CXX:-c++}
here=$src/tests/headers
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
strict=(-pedantic-errors -Wall -Wextra -Werror -I"$src/include")
passed=0 failed=0
check() { # check <what> <command...>
	local what=$1
	shift
	if "$@" >"$tmp/log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $what"
		sed 's/^/    /' "$tmp/log" | head -20
	fi
}

for h in "$src"/include/baton/*.h; do
	name=$(basename "$h")
	printf '#include <baton/%s>\n' "$name" >"$tmp/$name.c"
	cp "$tmp/$name.c" "$tmp/$name.cpp"
	check "$name as C11" "$cc" -std=c11 "${strict[@]}" -fsyntax-only "$tmp/$name.c"
	for std in c++17 c++20; do
		check "$name as $std" "$cxx" -std=$std "${strict[@]}" -fsyntax-only "$tmp/$name.cpp"
	done
done
check "c_macros.c as C11" "$cc" -std=c11 "${strict[@]}" -c -o "$tmp/c_macros.o" "$here/c_macros.c"

# The C++ program links an installed baton (as a C++ user's would), built
# with the sanitizers of this build, if any.
san=$(sed -n 's/^BATON_SANITIZER:[A-Z]*=//p' "$build/CMakeCache.txt")
sanflags=()
[ -z "$san" ] || sanflags=(-fsanitize="$san" -fno-sanitize-recover=all)
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
for std in c++17 c++20; do
	# shellcheck disable=SC2046
	check "cxx_api.cpp as $std" "$cxx" -std=$std "${strict[@]}" "${sanflags[@]}" \
		-o "$tmp/cxx_api_$std" "$here/cxx_api.cpp" $(pkg-config --cflags --libs baton)
	if [ -x "$tmp/cxx_api_$std" ]; then
		check "cxx_api ($std) runs" "$tmp/cxx_api_$std"
	fi
done

echo "$passed passed, $failed failed: public headers from C11, C++17 and C++20"
[ "$failed" -eq 0 ]

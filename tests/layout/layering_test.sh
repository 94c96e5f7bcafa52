#!/usr/bin/env bash
# The floor plan, checked: every shared library exports only baton_
# symbols and defines none the core defines; no component includes another
# component's private headers; inside the core each layer includes only
# the layers below it (util < wire < sampling < trace < processor <
# message); the core links none of the optional libraries.
set -u
src=${BATON_SOURCE_DIR:?}
build=${BATON_BUILD_DIR:?}
fail=0
bad() { echo "FAIL: $*"; fail=1; }

core=$(find "$build" -name 'libbaton.so' -not -path '*/install*' | head -1)
[ -n "$core" ] || { echo "FAIL: no libbaton.so under $build"; exit 1; }
nm -D --defined-only "$core" | awk '{print $3}' | sort >"$build/core.syms"
nlibs=0
for lib in $(find "$build" -name 'libbaton*.so' -not -path '*/install*'); do
	nlibs=$((nlibs + 1))
	other=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^baton_' | grep -v '^_')
	[ -z "$other" ] || bad "$(basename "$lib") exports non-baton symbols: $(echo $other | head -c 300)"
	if [ "$lib" != "$core" ]; then
		dup=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort | comm -12 - "$build/core.syms")
		[ -z "$dup" ] || bad "$(basename "$lib") defines what libbaton.so defines: $dup"
	fi
done
[ "$nlibs" -ge 1 ] || bad "no libraries found"

# Private headers stay in their component: "x_int.h", "cs.h", "jj.h" and
# the core's folders are not included from another component.
cd "$src" || exit 1
for comp in transports/nng transports/http samplers/jaeger_remote exporters/console \
	exporters/jaeger_json exporters/otlp_http auto; do
	[ -d "$comp" ] || continue
	hits=$(grep -n '#include "\(trace\|sampling\|wire\|processor\|message\)/' "$comp"/*.[ch] 2>/dev/null)
	[ -z "$hits" ] || bad "$comp reaches into the core's private headers: $hits"
	for h in "$comp"/*.h; do
		[ -e "$h" ] || continue
		name=$(basename "$h")
		users=$(grep -ln "#include \"$name\"" transports/*/*.[ch] samplers/*/*.[ch] \
			exporters/*/*.[ch] auto/*.[ch] sdk/*/*.[ch] 2>/dev/null | grep -v "^$comp/")
		[ -z "$users" ] || bad "$h is private to $comp but included by: $users"
	done
done

# Inside the core, each layer sees only the layers below it.
rank() {
	case $1 in
	util) echo 0 ;; wire) echo 1 ;; sampling) echo 2 ;; trace) echo 3 ;;
	processor) echo 4 ;; message) echo 5 ;; *) echo 9 ;;
	esac
}
for f in sdk/*/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	[ "$layer" = cmake ] && continue
	mine=$(rank "$layer")
	for inc in $(grep -o '#include "[a-z]*/' "$f" | sed 's/#include "//; s#/##'); do
		theirs=$(rank "$inc")
		[ "$theirs" -le "$mine" ] || bad "$f ($layer) includes the $inc layer above it"
	done
	if [ "$layer" = util ] && grep -q '#include "[a-z]*/' "$f"; then
		bad "$f: the utility layer includes another layer"
	fi
done

# The core links none of the optional libraries.
if ldd "$core" | grep -E 'libnng|libcurl|libprotobuf|libz\.|libjansson'; then
	bad "libbaton.so links an optional library"
fi

[ "$fail" = 0 ] && echo "layering: $nlibs libraries, all checks passed"
exit $fail
